// HubSpot CRM v3/v4 subset: objects (contacts, calls, communications, notes) with properties and
// associations, search with filterGroups, the properties API, batch read/create/update/upsert,
// OAuth v1 (authorize page, token, token metadata, refresh-token delete) and the Owners API.
// Base URL: http://127.0.0.1:PORT/hubspot (stands for https://api.hubapi.com and app.hubspot.com).

import { uuid, isoMs, toMs, parsePhone, digitsOf, isObj, typeName, wildcardRe, recentCount, dailyCount } from '../lib/util.mjs';
import { bearer } from '../lib/auth.mjs';
import { authorize } from '../lib/consent.mjs';

const OBJECT_ALIASES = { contacts: 'contacts', contact: 'contacts', '0-1': 'contacts', calls: 'calls', call: 'calls', '0-48': 'calls', communications: 'communications', communication: 'communications', '0-18': 'communications', notes: 'notes', note: 'notes', '0-46': 'notes' };
const ENGAGEMENTS = new Set(['calls', 'communications', 'notes']);

const CALL_STATUS = ['BUSY', 'CALLING_CRM_USER', 'CANCELED', 'COMPLETED', 'CONNECTING', 'FAILED', 'IN_PROGRESS', 'MISSED', 'NO_ANSWER', 'QUEUED', 'RINGING'];

function baseProps(objectType) {
  const ro = { readOnly: true };
  const common = {
    hs_object_id: { type: 'number', ...ro },
    hs_createdate: { type: 'datetime', ...ro },
    hs_lastmodifieddate: { type: 'datetime', ...ro },
    hubspot_owner_id: { type: 'string' },
  };
  if (objectType === 'contacts') {
    return {
      ...common,
      createdate: { type: 'datetime', ...ro },
      lastmodifieddate: { type: 'datetime', ...ro },
      firstname: { type: 'string' }, lastname: { type: 'string' }, email: { type: 'string' },
      phone: { type: 'string' }, mobilephone: { type: 'string' }, fax: { type: 'string' },
      company: { type: 'string' }, jobtitle: { type: 'string' }, website: { type: 'string' },
      address: { type: 'string' }, city: { type: 'string' }, state: { type: 'string' }, zip: { type: 'string' }, country: { type: 'string' },
      lifecyclestage: { type: 'enumeration', options: ['subscriber', 'lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer', 'evangelist', 'other'] },
      hs_lead_status: { type: 'enumeration', options: ['NEW', 'OPEN', 'IN_PROGRESS', 'OPEN_DEAL', 'UNQUALIFIED', 'ATTEMPTED_TO_CONTACT', 'CONNECTED', 'BAD_TIMING'] },
      hs_searchable_calculated_phone_number: { type: 'string', ...ro },
      hs_searchable_calculated_mobile_number: { type: 'string', ...ro },
      hs_searchable_calculated_international_phone_number: { type: 'string', ...ro },
      hs_searchable_calculated_international_mobile_number: { type: 'string', ...ro },
    };
  }
  if (objectType === 'calls') {
    return {
      ...common,
      hs_timestamp: { type: 'datetime', required: true },
      hs_call_body: { type: 'string' }, hs_call_title: { type: 'string' },
      hs_call_direction: { type: 'enumeration', options: ['INBOUND', 'OUTBOUND'] },
      hs_call_disposition: { type: 'string' },
      hs_call_duration: { type: 'number' },
      hs_call_from_number: { type: 'string' }, hs_call_to_number: { type: 'string' },
      hs_call_recording_url: { type: 'string', https: true },
      hs_call_status: { type: 'enumeration', options: CALL_STATUS },
      hs_call_callee_object_id: { type: 'number' },
      hs_call_callee_object_type: { type: 'enumeration', options: ['CONTACT', 'COMPANY'] },
      // Default call properties of the calling-extension docs ("Recordings and transcriptions":
      // POST /crm/v3/objects/calls with hs_call_external_id, the calling app's own id of the call).
      hs_call_external_id: { type: 'string' },
      hs_call_external_account_id: { type: 'string' },
      hs_call_app_id: { type: 'string' },
      hs_activity_type: { type: 'string' },
      hs_attachment_ids: { type: 'string' },
    };
  }
  if (objectType === 'communications') {
    return {
      ...common,
      hs_timestamp: { type: 'datetime', required: true },
      hs_communication_channel_type: { type: 'enumeration', options: ['SMS', 'WHATS_APP', 'LINKEDIN_MESSAGE'] },
      hs_communication_logged_from: { type: 'enumeration', options: ['CRM'] },
      hs_communication_body: { type: 'string' },
    };
  }
  return { // notes
    ...common,
    hs_timestamp: { type: 'datetime', required: true },
    hs_note_body: { type: 'string' },
    hs_attachment_ids: { type: 'string' },
  };
}

// Association type ids (HUBSPOT_DEFINED) between the object types the emulator holds.
const ASSOC_TYPES = {
  'calls>contacts': 194, 'contacts>calls': 193,
  'communications>contacts': 81, 'contacts>communications': 82,
  'notes>contacts': 202, 'contacts>notes': 201,
};
const ASSOC_LABEL = { 194: 'call_to_contact', 193: 'contact_to_call', 81: 'communication_to_contact', 82: 'contact_to_communication', 202: 'note_to_contact', 201: 'contact_to_note' };
const ASSOC_BY_ID = Object.fromEntries(Object.entries(ASSOC_TYPES).map(([k, v]) => [v, k.split('>')]));

const OPERATORS = new Set(['EQ', 'NEQ', 'LT', 'LTE', 'GT', 'GTE', 'BETWEEN', 'IN', 'NOT_IN', 'HAS_PROPERTY', 'NOT_HAS_PROPERTY', 'CONTAINS_TOKEN', 'NOT_CONTAINS_TOKEN']);
const SEARCH_DEFAULTS = { contacts: ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'] };
const DEFAULT_QUERY_PROPS = { contacts: ['firstname', 'lastname', 'email', 'phone', 'mobilephone', 'company', 'hs_searchable_calculated_phone_number', 'hs_searchable_calculated_mobile_number'], calls: ['hs_call_title', 'hs_call_body'], communications: ['hs_communication_body'], notes: ['hs_note_body'] };

export default function hubspot(emu, realm = { key: 'hubspot' }) {
  const name = realm.key;
  let store;
  const users = () => emu.users[name];
  const cid = () => uuid();

  const err = (status, category, message, extra = {}) => ({ status, body: { status: 'error', message, correlationId: cid(), category, ...extra } });
  const validation = (message, extra) => err(400, 'VALIDATION_ERROR', message, extra);

  function propDefs(objectType) { return store.meta.props[objectType]; }

  function objType(ctx) {
    const t = OBJECT_ALIASES[ctx.params.objectType];
    if (!t) return { error: err(400, 'VALIDATION_ERROR', `Unable to infer object type from: ${ctx.params.objectType}`) };
    return { t };
  }

  // ---------- value handling ----------
  function normaliseValue(def, name, v) {
    // returns [stringValue|null, errorDetail|null]
    if (v === null) return [null, null];
    if (!['string', 'number', 'boolean'].includes(typeof v)) {
      return [null, { isValid: false, message: `${JSON.stringify(v)} was not a valid value for property ${name}: expected a string, number or boolean but got ${typeName(v)}`, error: 'INVALID_PROPERTY_VALUE', name }];
    }
    const s = String(v);
    if (s === '') return ['', null];
    switch (def.type) {
      case 'number':
        if (!/^-?\d+(\.\d+)?$/.test(s)) return [null, { isValid: false, message: `${s} was not a valid number.`, error: 'INVALID_INTEGER', name }];
        return [s, null];
      case 'datetime': {
        let ms;
        if (/^\d+$/.test(s)) ms = Number(s);
        else if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s)) ms = Date.parse(s);
        if (ms === undefined || Number.isNaN(ms)) return [null, { isValid: false, message: `${s} was not a valid long or ISO 8601 datetime.`, error: 'INVALID_DATETIME', name }];
        return [new Date(ms).toISOString(), null];
      }
      case 'bool':
        if (!['true', 'false'].includes(s.toLowerCase())) return [null, { isValid: false, message: `${s} was not a valid boolean.`, error: 'INVALID_BOOLEAN', name }];
        return [s.toLowerCase(), null];
      case 'enumeration':
        if (!def.options.includes(s)) return [null, { isValid: false, message: `${s} was not one of the allowed options: [${def.options.join(', ')}]`, error: 'INVALID_OPTION', name }];
        return [s, null];
      default:
        if (def.https && !/^https:\/\//i.test(s)) return [null, { isValid: false, message: `${s} is not a valid HTTPS URL (recording URLs must be HTTPS)`, error: 'INVALID_URL', name }];
        return [s, null];
    }
  }

  function propertyErrors(list) {
    return validation(`Property values were not valid: ${JSON.stringify(list.map((e) => ({ ...e, localizedErrorMessage: e.message })))}`, {
      errors: list.map((e) => ({ message: e.message, code: e.error, context: { propertyName: [e.name] } })),
    });
  }

  /** Validate and normalise a properties object. Returns {props} or {error}. */
  function checkProps(objectType, properties, { create, selfId } = {}) {
    if (!isObj(properties)) return { error: validation(`Invalid input JSON: "properties" must be an object, got ${typeName(properties)}`) };
    const defs = propDefs(objectType);
    const out = {};
    const problems = [];
    for (const [k, v] of Object.entries(properties)) {
      const def = defs[k];
      if (!def) { problems.push({ isValid: false, message: `Property "${k}" does not exist`, error: 'PROPERTY_DOESNT_EXIST', name: k }); continue; }
      if (def.readOnly) { problems.push({ isValid: false, message: `Property "${k}" is read-only`, error: 'READ_ONLY_VALUE', name: k }); continue; }
      const [val, e] = normaliseValue(def, k, v);
      if (e) { problems.push(e); continue; }
      // hubspot_owner_id must name an owner of the account (GET /crm/v3/owners); archived
      // (deactivated) owners cannot be assigned either.
      if (k === 'hubspot_owner_id' && val !== null && val !== '') {
        const owner = users().get(val);
        if (!owner || !owner.active) { problems.push({ isValid: false, message: `${val} is not a valid owner id`, error: 'INVALID_OWNER_ID', name: k }); continue; }
      }
      out[k] = val;
    }
    if (create) {
      for (const [k, def] of Object.entries(defs)) {
        if (def.required && (out[k] === undefined || out[k] === null || out[k] === '')) {
          problems.push({ isValid: false, message: `Property "${k}" is required`, error: 'REQUIRED_PROPERTY', name: k });
        }
      }
    }
    if (problems.length) return { error: propertyErrors(problems) };
    // unique values
    for (const [k, val] of Object.entries(out)) {
      if (!defs[k].unique || val === null || val === '') continue;
      for (const r of store.col(objectType).values()) {
        if (r.id !== selfId && !r.archived && r.properties[k] === val) {
          return { error: err(409, 'CONFLICT', `A ${objectType.replace(/s$/, '')} with the value ${val} for the unique property ${k} already exists. Existing ID: ${r.id}`, { context: { existingId: [r.id] } }) };
        }
      }
    }
    return { props: out };
  }

  function recompute(rec) {
    if (rec.type !== 'contacts') return;
    const p = rec.properties;
    const c = p.country && p.country.length === 2 ? p.country : emu.config.defaultCountry;
    for (const [src, dst] of [['phone', 'phone_number'], ['mobilephone', 'mobile_number']]) {
      const parsed = p[src] ? parsePhone(p[src], c) : null;
      p[`hs_searchable_calculated_${dst}`] = parsed ? parsed.national : null;
      p[`hs_searchable_calculated_international_${dst}`] = parsed ? `+${parsed.cc}${parsed.national}` : null;
    }
  }

  function touch(rec, ms = Date.now()) {
    rec._updatedMs = ms;
    const iso = isoMs(ms);
    rec.properties.hs_lastmodifieddate = iso;
    if (rec.type === 'contacts') rec.properties.lastmodifieddate = iso;
  }

  function newRecord(objectType, props, { createdMs = Date.now(), updatedMs = createdMs, id } = {}) {
    const n = id ? Number(id) : store.nextId('object', 1001);
    if (id && n >= (store.counters.object ?? 0)) store.counters.object = n;
    const rec = { id: String(n), type: objectType, properties: { ...props }, archived: false, _createdMs: createdMs, _updatedMs: updatedMs, _assoc: [] };
    const c = isoMs(createdMs);
    rec.properties.hs_object_id = rec.id;
    rec.properties.hs_createdate = c;
    if (objectType === 'contacts') rec.properties.createdate = c;
    touch(rec, updatedMs);
    recompute(rec);
    store.col(objectType).set(rec.id, rec);
    return rec;
  }

  function render(rec, propNames, { assocTypes, all = false } = {}) {
    const properties = {};
    const names = all ? Object.keys(rec.properties) : propNames;
    for (const n of names) properties[n] = rec.properties[n] ?? null;
    const out = { id: rec.id, properties, createdAt: isoMs(rec._createdMs), updatedAt: isoMs(rec._updatedMs), archived: rec.archived };
    if (rec.archived) out.archivedAt = isoMs(rec._updatedMs);
    if (assocTypes && assocTypes.length) {
      out.associations = {};
      for (const to of assocTypes) {
        const tt = OBJECT_ALIASES[to] || to;
        const list = rec._assoc.filter((a) => a.toType === tt);
        if (list.length) out.associations[tt] = { results: list.map((a) => ({ id: a.toId, type: ASSOC_LABEL[a.typeId] || String(a.typeId) })) };
      }
    }
    return out;
  }

  function requestedProps(objectType, q, { forCreate } = {}) {
    const list = [];
    for (const v of q.getAll('properties')) list.push(...v.split(',').filter(Boolean));
    const base = objectType === 'contacts' ? ['createdate', 'hs_object_id', 'lastmodifieddate'] : ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'];
    if (forCreate) return null;
    if (!list.length) return objectType === 'contacts' ? ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'] : base;
    return [...new Set([...list, ...base])];
  }

  function addAssociation(from, toType, toId, typeId) {
    if (from._assoc.some((a) => a.toType === toType && a.toId === toId)) return;
    from._assoc.push({ toType, toId, typeId });
    const to = store.col(toType).get(toId);
    const back = ASSOC_TYPES[`${toType}>${from.type}`];
    if (to && back && !to._assoc.some((a) => a.toType === from.type && a.toId === from.id)) to._assoc.push({ toType: from.type, toId: from.id, typeId: back });
  }

  function checkAssociations(objectType, assocs) {
    if (assocs === undefined) return { list: [] };
    if (!Array.isArray(assocs)) return { error: validation(`Invalid input JSON: "associations" must be an array`) };
    const list = [];
    for (const [i, a] of assocs.entries()) {
      if (!isObj(a) || !isObj(a.to) || a.to.id === undefined || !Array.isArray(a.types) || !a.types.length) {
        return { error: validation(`associations[${i}] must be {to:{id}, types:[{associationCategory, associationTypeId}]}`) };
      }
      for (const t of a.types) {
        if (!isObj(t) || !['HUBSPOT_DEFINED', 'USER_DEFINED', 'INTEGRATOR_DEFINED'].includes(t.associationCategory) || !Number.isInteger(t.associationTypeId)) {
          return { error: validation(`associations[${i}].types[] needs associationCategory (HUBSPOT_DEFINED|USER_DEFINED|INTEGRATOR_DEFINED) and an integer associationTypeId`) };
        }
        const pair = ASSOC_BY_ID[t.associationTypeId];
        if (t.associationCategory !== 'HUBSPOT_DEFINED' || !pair || pair[0] !== objectType) {
          return { error: err(400, 'VALIDATION_ERROR', `associationTypeId ${t.associationTypeId} (${t.associationCategory}) is not a valid association type from ${objectType}`, { subCategory: 'INVALID_ASSOCIATION_TYPE' }) };
        }
        const toId = String(a.to.id);
        const target = store.col(pair[1]).get(toId);
        if (!target || target.archived) {
          return { error: err(400, 'VALIDATION_ERROR', `One or more associations are invalid: ${pair[1]} ${toId} does not exist`, { subCategory: 'INVALID_ASSOCIATION', context: { toObjectId: [toId] } }) };
        }
        list.push({ toType: pair[1], toId, typeId: t.associationTypeId });
      }
    }
    return { list };
  }

  function findByIdProperty(objectType, idProperty, value) {
    if (!idProperty || idProperty === 'hs_object_id') { const r = store.col(objectType).get(String(value)); return r && !r.archived ? { rec: r } : { rec: null }; }
    const def = propDefs(objectType)[idProperty];
    if (!def) return { error: validation(`Property "${idProperty}" does not exist`) };
    if (!def.unique && idProperty !== 'email') return { error: validation(`Property "${idProperty}" is not a unique identifier property (hasUniqueValue is false)`) };
    for (const r of store.col(objectType).values()) if (!r.archived && String(r.properties[idProperty]).toLowerCase() === String(value).toLowerCase()) return { rec: r };
    return { rec: null };
  }

  const notFound = (id) => err(404, 'OBJECT_NOT_FOUND', 'Object not found.  objectId are usually numeric.', { context: { id: [String(id)] } });

  // ---------- handlers ----------
  function create(ctx) {
    const { t, error } = objType(ctx);
    if (error) return error;
    const b = ctx.body;
    if (!isObj(b)) return validation('Invalid input JSON: expected an object with "properties"');
    for (const k of Object.keys(b)) if (!['properties', 'associations', 'objectWriteTraceId'].includes(k)) return validation(`Invalid input JSON on line 1: Unrecognized field "${k}" (known: properties, associations, objectWriteTraceId)`);
    const r = doCreate(ctx, t, b);
    if (r.error) return r.error;
    return { status: 201, body: render(r.rec, null, { all: true }) };
  }

  function doCreate(ctx, t, input) {
    const { props, error } = checkProps(t, input.properties ?? {}, { create: true });
    if (error) return { error };
    const a = checkAssociations(t, input.associations);
    if (a.error) return { error: a.error };
    const rec = newRecord(t, props);
    // HubSpot leaves hubspot_owner_id empty when the request gives none; the token's user is
    // only recorded as the creator.
    rec._createdBy = ctx.user() ? ctx.user().id : null;
    emu.stampNew(ctx, rec);
    for (const x of a.list) addAssociation(rec, x.toType, x.toId, x.typeId);
    return { rec };
  }

  function read(ctx) {
    const { t, error } = objType(ctx);
    if (error) return error;
    const f = findByIdProperty(t, ctx.query.get('idProperty'), ctx.params.id);
    if (f.error) return f.error;
    if (!f.rec) return notFound(ctx.params.id);
    const assoc = (ctx.query.get('associations') || '').split(',').filter(Boolean);
    return { status: 200, body: render(f.rec, requestedProps(t, ctx.query), { assocTypes: assoc }) };
  }

  function doUpdate(ctx, t, rec, properties) {
    const { props, error } = checkProps(t, properties, { selfId: rec.id });
    if (error) return { error };
    Object.assign(rec.properties, props);
    touch(rec);
    recompute(rec);
    return { rec };
  }

  function update(ctx) {
    const { t, error } = objType(ctx);
    if (error) return error;
    const b = ctx.body;
    if (!isObj(b) || !isObj(b.properties)) return validation('Invalid input JSON: expected {"properties": {...}}');
    for (const k of Object.keys(b)) if (!['properties', 'objectWriteTraceId'].includes(k)) return validation(`Invalid input JSON on line 1: Unrecognized field "${k}"`);
    const f = findByIdProperty(t, ctx.query.get('idProperty'), ctx.params.id);
    if (f.error) return f.error;
    if (!f.rec) return notFound(ctx.params.id);
    const r = doUpdate(ctx, t, f.rec, b.properties);
    if (r.error) return r.error;
    return { status: 200, body: render(r.rec, null, { all: true }) };
  }

  function archive(ctx) {
    const { t, error } = objType(ctx);
    if (error) return error;
    const rec = store.col(t).get(ctx.params.id);
    if (rec && !rec.archived) { rec.archived = true; touch(rec); }
    return { status: 204 };
  }

  function list(ctx) {
    const { t, error } = objType(ctx);
    if (error) return error;
    const limit = Number(ctx.query.get('limit') ?? 10);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return validation('limit must be an integer between 1 and 100');
    const after = ctx.query.get('after');
    const archived = ctx.query.get('archived') === 'true';
    const all = [...store.col(t).values()].filter((r) => r.archived === archived && emu.visible(r, 'list')).sort((a, b) => Number(a.id) - Number(b.id));
    const start = after ? all.findIndex((r) => Number(r.id) > Number(after)) : 0;
    const page = start < 0 ? [] : all.slice(start, start + limit);
    const assoc = (ctx.query.get('associations') || '').split(',').filter(Boolean);
    const body = { results: page.map((r) => render(r, requestedProps(t, ctx.query), { assocTypes: assoc })) };
    if (start >= 0 && start + limit < all.length) {
      const next = page[page.length - 1].id;
      body.paging = { next: { after: next, link: `${ctx.baseUrl}/crm/v3/objects/${t}?after=${next}&limit=${limit}` } };
    }
    return { status: 200, body };
  }

  // ----- search -----
  function cmpValue(def, v) {
    if (!def) return v;
    if (def.type === 'number') return Number(v);
    if (def.type === 'datetime') return /^\d+$/.test(String(v)) ? Number(v) : Date.parse(v);
    return String(v).toLowerCase();
  }

  function tokenMatch(stored, pattern) {
    if (stored === null || stored === undefined || stored === '') return false;
    const p = String(pattern).toLowerCase();
    const sv = String(stored).toLowerCase();
    const bare = p.replace(/\*/g, '');
    if (/[^a-z0-9_]/.test(bare)) return wildcardRe(`*${p}*`).test(sv) && (p.includes('*') || sv.includes(bare));
    const re = wildcardRe(p);
    return sv.split(/[^a-z0-9_]+/).filter(Boolean).some((tok) => re.test(tok));
  }

  // The search docs' pseudo-property `associations.{objectType}` ("search through associations",
  // e.g. {propertyName: "associations.contact", operator: "EQ", value: "123"}) filters on the ids
  // of associated records.
  const ASSOC_OPERATORS = new Set(['EQ', 'NEQ', 'IN', 'NOT_IN', 'HAS_PROPERTY', 'NOT_HAS_PROPERTY']);
  function assocPseudo(propertyName) {
    const m = /^associations\.(.+)$/.exec(propertyName);
    return m ? OBJECT_ALIASES[m[1]] || null : null;
  }
  function assocMatch(toType, rec, f) {
    const ids = rec._assoc.filter((a) => a.toType === toType).map((a) => String(a.toId));
    switch (f.operator) {
      case 'HAS_PROPERTY': return ids.length > 0;
      case 'NOT_HAS_PROPERTY': return ids.length === 0;
      case 'EQ': return ids.includes(String(f.value));
      case 'NEQ': return !ids.includes(String(f.value));
      case 'IN': return f.values.some((v) => ids.includes(String(v)));
      case 'NOT_IN': return !f.values.some((v) => ids.includes(String(v)));
      default: return false;
    }
  }

  function filterMatch(def, rec, f) {
    const assocTo = assocPseudo(f.propertyName);
    if (assocTo) return assocMatch(assocTo, rec, f);
    const raw = rec.properties[f.propertyName];
    const has = raw !== null && raw !== undefined && raw !== '';
    switch (f.operator) {
      case 'HAS_PROPERTY': return has;
      case 'NOT_HAS_PROPERTY': return !has;
      case 'CONTAINS_TOKEN': return tokenMatch(raw, f.value);
      case 'NOT_CONTAINS_TOKEN': return !tokenMatch(raw, f.value);
      case 'IN': return has && f.values.some((v) => cmpValue(def, v) === cmpValue(def, raw));
      case 'NOT_IN': return !has || !f.values.some((v) => cmpValue(def, v) === cmpValue(def, raw));
      case 'EQ': return has && cmpValue(def, raw) === cmpValue(def, f.value);
      case 'NEQ': return !has || cmpValue(def, raw) !== cmpValue(def, f.value);
      default: {
        if (!has) return false;
        const a = cmpValue(def, raw);
        const b = cmpValue(def, f.value);
        if (f.operator === 'LT') return a < b;
        if (f.operator === 'LTE') return a <= b;
        if (f.operator === 'GT') return a > b;
        if (f.operator === 'GTE') return a >= b;
        if (f.operator === 'BETWEEN') return a >= b && a <= cmpValue(def, f.highValue);
        return false;
      }
    }
  }

  function search(ctx) {
    const { t, error } = objType(ctx);
    if (error) return error;
    const b = ctx.body ?? {};
    if (!isObj(b)) return validation('Invalid input JSON: expected an object');
    for (const k of Object.keys(b)) if (!['filterGroups', 'sorts', 'query', 'properties', 'limit', 'after'].includes(k)) return validation(`Invalid input JSON on line 1: Unrecognized field "${k}" (known: filterGroups, sorts, query, properties, limit, after)`);
    const defs = propDefs(t);
    const groups = b.filterGroups ?? [];
    if (!Array.isArray(groups)) return validation('filterGroups must be an array');
    if (groups.length > 5) return validation(`Too many filter groups: ${groups.length}; at most 5 filterGroups are allowed`, { subCategory: 'TOO_MANY_FILTER_GROUPS' });
    let total = 0;
    for (const [gi, g] of groups.entries()) {
      if (!isObj(g) || !Array.isArray(g.filters)) return validation(`filterGroups[${gi}] must be {"filters": [...]}`);
      if (g.filters.length > 6) return validation(`filterGroups[${gi}] has ${g.filters.length} filters; at most 6 per group`, { subCategory: 'TOO_MANY_FILTERS' });
      total += g.filters.length;
      for (const [fi, f] of g.filters.entries()) {
        const where = `filterGroups[${gi}].filters[${fi}]`;
        if (!isObj(f)) return validation(`${where} must be an object`);
        for (const k of Object.keys(f)) if (!['propertyName', 'operator', 'value', 'values', 'highValue'].includes(k)) return validation(`${where}: Unrecognized field "${k}"`);
        if (typeof f.propertyName !== 'string') return validation(`${where}.propertyName is required`);
        const assocTo = assocPseudo(f.propertyName);
        if (!defs[f.propertyName] && !assocTo) return validation(`${where}: property "${f.propertyName}" does not exist on ${t}`);
        if (assocTo && !ASSOC_OPERATORS.has(f.operator)) return validation(`${where}: operator ${f.operator} cannot be used on ${f.propertyName}; one of ${[...ASSOC_OPERATORS].join(', ')}`);
        if (!OPERATORS.has(f.operator)) return validation(`${where}.operator "${f.operator}" is not one of ${[...OPERATORS].join(', ')}`);
        if (['IN', 'NOT_IN'].includes(f.operator)) {
          if (!Array.isArray(f.values) || !f.values.length) return validation(`${where}: operator ${f.operator} needs a non-empty "values" array`);
        } else if (!['HAS_PROPERTY', 'NOT_HAS_PROPERTY'].includes(f.operator)) {
          if (f.value === undefined || f.value === null || isObj(f.value) || Array.isArray(f.value)) return validation(`${where}: operator ${f.operator} needs a scalar "value"`);
          if (f.operator === 'BETWEEN' && (f.highValue === undefined || f.highValue === null)) return validation(`${where}: BETWEEN needs "highValue"`);
        }
      }
    }
    if (total > 18) return validation(`Too many filters: ${total}; at most 18 filters across all groups`, { subCategory: 'TOO_MANY_FILTERS' });
    const limit = b.limit ?? 10;
    if (!Number.isInteger(limit) || limit < 0 || limit > 200) return validation('limit must be an integer between 0 and 200');
    const after = b.after === undefined ? 0 : Number(b.after);
    if (!Number.isInteger(after) || after < 0) return validation('after must be a numeric string offset taken from paging.next.after');
    if (b.query !== undefined && (typeof b.query !== 'string' || b.query.length > 3000)) return validation('query must be a string of at most 3000 characters');
    if (b.properties !== undefined && (!Array.isArray(b.properties) || b.properties.some((p) => typeof p !== 'string'))) return validation('properties must be an array of property names');
    const sorts = b.sorts ?? [];
    if (!Array.isArray(sorts)) return validation('sorts must be an array');
    if (sorts.length > 1) return validation('At most one sort is allowed');
    let sort = null;
    if (sorts.length) {
      const s = sorts[0];
      if (typeof s === 'string') sort = { propertyName: s.replace(/^-/, ''), direction: s.startsWith('-') ? 'DESCENDING' : 'ASCENDING' };
      else if (isObj(s) && typeof s.propertyName === 'string' && (s.direction === undefined || ['ASCENDING', 'DESCENDING'].includes(s.direction))) sort = { propertyName: s.propertyName, direction: s.direction || 'ASCENDING' };
      else return validation('sorts[0] must be {"propertyName", "direction": "ASCENDING"|"DESCENDING"} or "propertyName" / "-propertyName"');
      if (!defs[sort.propertyName]) return validation(`sort property "${sort.propertyName}" does not exist on ${t}`);
    }

    let recs = [...store.col(t).values()].filter((r) => !r.archived && emu.visible(r, 'search'));
    if (groups.length) recs = recs.filter((r) => groups.some((g) => g.filters.every((f) => filterMatch(defs[f.propertyName], r, f))));
    if (b.query) {
      const words = b.query.toLowerCase().split(/\s+/).filter(Boolean);
      const props = DEFAULT_QUERY_PROPS[t];
      recs = recs.filter((r) => words.every((w) => props.some((p) => {
        const v = r.properties[p];
        if (!v) return false;
        const lv = String(v).toLowerCase();
        if (lv.split(/[^a-z0-9@._+-]+/).some((tok) => tok.startsWith(w))) return true;
        const dw = digitsOf(w);
        return dw.length >= 3 && /^[\d+()\-. ]+$/.test(w) && digitsOf(v).includes(dw);
      })));
    }
    if (sort) {
      const def = defs[sort.propertyName];
      const dir = sort.direction === 'DESCENDING' ? -1 : 1;
      recs.sort((a, c) => {
        const x = a.properties[sort.propertyName]; const y = c.properties[sort.propertyName];
        if (x == null && y == null) return Number(a.id) - Number(c.id);
        if (x == null) return 1;
        if (y == null) return -1;
        const cx = cmpValue(def, x); const cy = cmpValue(def, y);
        return (cx < cy ? -1 : cx > cy ? 1 : Number(a.id) - Number(c.id)) * dir;
      });
    } else recs.sort((a, c) => Number(a.id) - Number(c.id));
    if (after >= 10000) return validation('Search results are limited to 10,000 records; narrow the filters', { subCategory: 'SEARCH_LIMIT' });
    const page = recs.slice(after, after + limit);
    const names = b.properties && b.properties.length
      ? [...new Set([...b.properties, ...(t === 'contacts' ? ['createdate', 'lastmodifieddate', 'hs_object_id'] : ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'])])]
      : (SEARCH_DEFAULTS[t] || ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id']);
    const body = { total: recs.length, results: page.map((r) => render(r, names)) };
    if (after + limit < recs.length && after + limit < 10000) body.paging = { next: { after: String(after + limit) } };
    return { status: 200, body };
  }

  // ----- batch -----
  function batchInputs(ctx) {
    const b = ctx.body;
    if (!isObj(b) || !Array.isArray(b.inputs)) return { error: validation('Invalid input JSON: expected {"inputs": [...]}') };
    if (b.inputs.length > 100) return { error: validation('Batch inputs are limited to 100') };
    return { b };
  }
  const batchOut = (results, status = 200) => ({ status, body: { status: 'COMPLETE', results, startedAt: isoMs(Date.now()), completedAt: isoMs(Date.now()) } });

  function batchRead(ctx) {
    const { t, error } = objType(ctx); if (error) return error;
    const { b, error: e2 } = batchInputs(ctx); if (e2) return e2;
    const names = b.properties?.length ? [...new Set([...b.properties, 'hs_object_id'])] : requestedProps(t, new URLSearchParams());
    const results = []; const errors = [];
    for (const inp of b.inputs) {
      const f = findByIdProperty(t, b.idProperty, inp.id);
      if (f.error) return f.error;
      if (f.rec) results.push(render(f.rec, names)); else errors.push(inp.id);
    }
    if (errors.length) return { status: 207, body: { status: 'COMPLETE', results, numErrors: 1, errors: [{ status: 'error', category: 'OBJECT_NOT_FOUND', message: 'Could not get some objects, they may be deleted or not exist.', context: { ids: errors.map(String) } }], startedAt: isoMs(Date.now()), completedAt: isoMs(Date.now()) } };
    return batchOut(results);
  }

  function batchCreate(ctx) {
    const { t, error } = objType(ctx); if (error) return error;
    const { b, error: e2 } = batchInputs(ctx); if (e2) return e2;
    // Validate all first: HubSpot rejects the whole batch on a validation error.
    for (const inp of b.inputs) {
      const c = checkProps(t, inp.properties ?? {}, { create: true }); if (c.error) return c.error;
      const a = checkAssociations(t, inp.associations); if (a.error) return a.error;
    }
    const results = b.inputs.map((inp) => render(doCreate(ctx, t, inp).rec, null, { all: true }));
    return batchOut(results, 201);
  }

  function batchUpdate(ctx) {
    const { t, error } = objType(ctx); if (error) return error;
    const { b, error: e2 } = batchInputs(ctx); if (e2) return e2;
    const results = [];
    for (const inp of b.inputs) {
      const f = findByIdProperty(t, inp.idProperty, inp.id);
      if (f.error) return f.error;
      if (!f.rec) return notFound(inp.id);
      const r = doUpdate(ctx, t, f.rec, inp.properties ?? {});
      if (r.error) return r.error;
      results.push(render(r.rec, null, { all: true }));
    }
    return batchOut(results);
  }

  function batchUpsert(ctx) {
    const { t, error } = objType(ctx); if (error) return error;
    const { b, error: e2 } = batchInputs(ctx); if (e2) return e2;
    const results = [];
    for (const [i, inp] of b.inputs.entries()) {
      if (!inp.idProperty || inp.id === undefined) return validation(`inputs[${i}] needs "idProperty" (a unique property) and "id"`);
      const def = propDefs(t)[inp.idProperty];
      if (!def || !(def.unique || inp.idProperty === 'email')) return validation(`inputs[${i}].idProperty "${inp.idProperty}" is not a unique-value property of ${t}`);
      const f = findByIdProperty(t, inp.idProperty, inp.id);
      if (f.error) return f.error;
      if (f.rec) {
        const r = doUpdate(ctx, t, f.rec, inp.properties ?? {});
        if (r.error) return r.error;
        results.push({ ...render(r.rec, null, { all: true }), new: false });
      } else {
        const r = doCreate(ctx, t, { properties: { ...(inp.properties ?? {}), [inp.idProperty]: inp.id } });
        if (r.error) return r.error;
        results.push({ ...render(r.rec, null, { all: true }), new: true });
      }
    }
    return batchOut(results);
  }

  // ----- associations -----
  function v4List(ctx) {
    const { t, error } = objType(ctx); if (error) return error;
    const rec = store.col(t).get(ctx.params.id);
    if (!rec || rec.archived) return notFound(ctx.params.id);
    const to = OBJECT_ALIASES[ctx.params.toObjectType] || ctx.params.toObjectType;
    const results = rec._assoc.filter((a) => a.toType === to).map((a) => ({ toObjectId: Number(a.toId), associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: a.typeId, label: null }] }));
    return { status: 200, body: { results } };
  }
  function v4Default(ctx) {
    const { t, error } = objType(ctx); if (error) return error;
    const rec = store.col(t).get(ctx.params.id);
    if (!rec || rec.archived) return notFound(ctx.params.id);
    const to = OBJECT_ALIASES[ctx.params.toObjectType];
    const typeId = ASSOC_TYPES[`${t}>${to}`];
    if (!typeId) return validation(`No default association from ${t} to ${ctx.params.toObjectType}`);
    const target = store.col(to).get(ctx.params.toId);
    if (!target || target.archived) return err(400, 'VALIDATION_ERROR', `${to} ${ctx.params.toId} does not exist`, { subCategory: 'INVALID_ASSOCIATION' });
    addAssociation(rec, to, target.id, typeId);
    touch(rec);
    return { status: 200, body: { status: 'COMPLETE', results: [{ from: { id: rec.id }, to: { id: target.id }, associationSpec: { associationCategory: 'HUBSPOT_DEFINED', associationTypeId: typeId } }], startedAt: isoMs(Date.now()), completedAt: isoMs(Date.now()) } };
  }
  function v3Associate(ctx) {
    const { t, error } = objType(ctx); if (error) return error;
    const rec = store.col(t).get(ctx.params.id);
    if (!rec || rec.archived) return notFound(ctx.params.id);
    const to = OBJECT_ALIASES[ctx.params.toObjectType];
    const typeId = Number(ctx.params.assocType) || ASSOC_TYPES[`${t}>${to}`];
    const pair = ASSOC_BY_ID[typeId];
    if (!to || !pair || pair[0] !== t || pair[1] !== to) return validation(`association type ${ctx.params.assocType} is not valid from ${t} to ${ctx.params.toObjectType}`);
    const target = store.col(to).get(ctx.params.toId);
    if (!target || target.archived) return err(400, 'VALIDATION_ERROR', `${to} ${ctx.params.toId} does not exist`, { subCategory: 'INVALID_ASSOCIATION' });
    addAssociation(rec, to, target.id, typeId);
    touch(rec);
    return { status: 200, body: render(rec, requestedProps(t, new URLSearchParams()), { assocTypes: [to] }) };
  }
  function labels(ctx) {
    const from = OBJECT_ALIASES[ctx.params.from]; const to = OBJECT_ALIASES[ctx.params.to];
    const id = ASSOC_TYPES[`${from}>${to}`];
    return { status: 200, body: { results: id ? [{ category: 'HUBSPOT_DEFINED', typeId: id, label: null }] : [] } };
  }

  // ----- properties API -----
  function renderPropDef(objectType, name, d) {
    return { name, label: d.label || name, type: d.type === 'string' ? 'string' : d.type, fieldType: d.fieldType || (d.type === 'enumeration' ? 'select' : d.type === 'number' ? 'number' : d.type === 'datetime' ? 'date' : 'text'), groupName: d.groupName || `${objectType.replace(/s$/, '')}information`, hasUniqueValue: !!d.unique, calculated: !!d.readOnly, hidden: false, formField: false, options: (d.options || []).map((o, i) => ({ label: o, value: o, displayOrder: i, hidden: false })), modificationMetadata: { readOnlyValue: !!d.readOnly, readOnlyDefinition: !d.custom, archivable: !!d.custom }, createdAt: isoMs(d.createdMs || 0), updatedAt: isoMs(d.createdMs || 0), archived: false };
  }
  function defineProp(objectType, body, ctxStatus = true) {
    if (!isObj(body)) return validation('Invalid input JSON');
    const allowed = ['name', 'label', 'type', 'fieldType', 'groupName', 'hasUniqueValue', 'options', 'description', 'displayOrder', 'hidden', 'formField', 'calculationFormula', 'externalOptions', 'referencedObjectType'];
    for (const k of Object.keys(body)) if (!allowed.includes(k)) return validation(`Invalid input JSON: Unrecognized field "${k}"`);
    for (const k of ['name', 'label', 'type', 'fieldType', 'groupName']) if (typeof body[k] !== 'string') return validation(`"${k}" is required`);
    if (!/^[a-z][a-z0-9_]*$/.test(body.name)) return validation(`Property name "${body.name}" must be lower-case letters, digits and underscores`);
    const types = ['string', 'number', 'date', 'datetime', 'enumeration', 'bool', 'phone_number'];
    if (!types.includes(body.type)) return validation(`type must be one of ${types.join(', ')}`);
    const defs = propDefs(objectType);
    if (defs[body.name]) return err(409, 'OBJECT_ALREADY_EXISTS', `A property named '${body.name}' already exists.`);
    defs[body.name] = { type: body.type === 'phone_number' || body.type === 'date' ? (body.type === 'date' ? 'datetime' : 'string') : body.type, options: (body.options || []).map((o) => o.value), unique: !!body.hasUniqueValue, custom: true, label: body.label, fieldType: body.fieldType, groupName: body.groupName, createdMs: Date.now() };
    return { status: 201, body: renderPropDef(objectType, body.name, defs[body.name]) };
  }
  function propCreate(ctx) {
    const t = OBJECT_ALIASES[ctx.params.objectType];
    if (!t) return validation(`Unable to infer object type from: ${ctx.params.objectType}`);
    return defineProp(t, ctx.body);
  }
  function propGet(ctx) {
    const t = OBJECT_ALIASES[ctx.params.objectType];
    if (!t) return validation(`Unable to infer object type from: ${ctx.params.objectType}`);
    const d = propDefs(t)[ctx.params.propertyName];
    if (!d) return err(404, 'OBJECT_NOT_FOUND', `Unable to find property ${ctx.params.propertyName} for object type ${t}`);
    return { status: 200, body: renderPropDef(t, ctx.params.propertyName, d) };
  }
  function propList(ctx) {
    const t = OBJECT_ALIASES[ctx.params.objectType];
    if (!t) return validation(`Unable to infer object type from: ${ctx.params.objectType}`);
    return { status: 200, body: { results: Object.entries(propDefs(t)).map(([n, d]) => renderPropDef(t, n, d)) } };
  }

  // ----- OAuth -----
  // Token endpoint (legacy v1, https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/guide):
  // form-encoded body; client_id AND client_secret in the body for both grants; redirect_uri
  // repeated for the code grant; code_verifier checked when the code was issued with a challenge
  // (it never replaces the secret). Refresh tokens do not rotate: the same one comes back.
  const OAUTH_ERRORS = {
    missing_grant_type: ['BAD_GRANT_TYPE', 'missing or unknown grant_type'],
    unsupported_grant_type: ['BAD_GRANT_TYPE', 'missing or unknown grant_type'],
    missing_client: ['BAD_CLIENT_ID', 'missing or invalid client id'],
    unknown_client: ['BAD_CLIENT_ID', 'missing or invalid client id'],
    missing_secret: ['BAD_CLIENT_SECRET', 'missing or invalid client secret'],
    bad_secret: ['BAD_CLIENT_SECRET', 'missing or invalid client secret'],
    missing_code: ['BAD_AUTH_CODE', 'missing or unknown auth code'],
    bad_code: ['BAD_AUTH_CODE', 'missing or unknown auth code'],
    expired_code: ['BAD_AUTH_CODE', 'missing or unknown auth code'],
    missing_redirect: ['BAD_REDIRECT_URI', 'redirect_uri does not match initial auth code URI'],
    redirect_mismatch: ['BAD_REDIRECT_URI', 'redirect_uri does not match initial auth code URI'],
    missing_verifier: ['BAD_AUTH_CODE', 'missing or invalid code_verifier'],
    bad_verifier: ['BAD_AUTH_CODE', 'missing or invalid code_verifier'],
    missing_refresh: ['BAD_REFRESH_TOKEN', 'missing or invalid refresh token'],
    bad_refresh: ['BAD_REFRESH_TOKEN', 'missing or invalid refresh token'],
    rotated_refresh: ['BAD_REFRESH_TOKEN', 'missing or invalid refresh token'],
  };
  function token(ctx) {
    if (ctx.contentType !== 'application/x-www-form-urlencoded') return { status: 400, body: { status: 'BAD_REQUEST', message: 'Content-Type must be application/x-www-form-urlencoded', correlationId: cid() } };
    const ttl = emu.config.hubspotTokenTtl ?? 1800;
    const g = ctx.tokens.exchange(ctx.body || {}, {
      secretCode: 'required', secretRefresh: 'required', pkce: 'enforce', redirectRequired: true,
      codeTtlMs: emu.codeTtlMs(), accessTtl: ttl, rotation: emu.rotationFor(realm, 'none'), echoRefresh: true,
    });
    if (!g.ok) {
      const [status, message] = OAUTH_ERRORS[g.kind] || ['BAD_REQUEST', g.kind];
      return { status: 400, body: { status, message, correlationId: cid() } };
    }
    return { status: 200, body: { token_type: 'bearer', refresh_token: g.refreshToken, access_token: g.accessToken, expires_in: ttl } };
  }
  const hubDomain = () => emu.config.hubspotHubDomain ?? 'emulator.hubspot.test';
  const hubId = () => emu.config.hubspotHubId ?? 1234567;
  // GET /oauth/v1/access-tokens/{token}: the token's user (email), user_id, hub_id, scopes.
  function tokenInfo(ctx) {
    const t = ctx.tokens.access.get(ctx.params.token);
    if (!t || t.revoked || ctx.tokens.grantRevoked(t.grant)) return err(404, 'OBJECT_NOT_FOUND', 'Token not found');
    const u = users().get(t.userId) || users().default();
    return { status: 200, body: { token: ctx.params.token, user: u.email, hub_domain: hubDomain(), hub_id: hubId(), app_id: emu.config.hubspotAppId ?? 1, expires_in: t.expiresAt ? Math.max(0, Math.round((t.expiresAt - Date.now()) / 1000)) : 1800, user_id: u.userId, token_type: 'access', scopes: t.scopes || ['oauth', 'crm.objects.contacts.read', 'crm.objects.contacts.write'], is_private_distribution: false } };
  }
  // GET /oauth/v1/refresh-tokens/{token}
  function refreshInfo(ctx) {
    const r = ctx.tokens.liveRefresh(ctx.params.token);
    if (!r) return err(404, 'OBJECT_NOT_FOUND', 'Refresh token not found');
    const u = users().get(r.userId) || users().default();
    return { status: 200, body: { token: ctx.params.token, user: u.email, hub_domain: hubDomain(), scopes: r.scopes || ['oauth', 'crm.objects.contacts.read', 'crm.objects.contacts.write'], hub_id: hubId(), client_id: r.clientId, user_id: u.userId, token_type: 'refresh' } };
  }
  // DELETE /oauth/v1/refresh-tokens/{token}: deletes the refresh token only; "access tokens
  // generated with the refresh token will not be affected" (the docs' own words). 204, no body.
  function refreshDelete(ctx) {
    if (!ctx.tokens.liveRefresh(ctx.params.token)) return err(404, 'OBJECT_NOT_FOUND', 'Refresh token not found');
    ctx.tokens.revoke(ctx.params.token, { refreshCascade: 'none', hint: 'refresh_token' });
    return { status: 204 };
  }
  // app.hubspot.com/oauth/authorize: scope is required; a refused install sends nothing back
  // ("If the user doesn't grant access, no request will be sent"), so Deny shows a page.
  const consent = { vendorName: 'HubSpot', allowLabel: 'Connect app', denyLabel: 'Cancel', requireScope: true, scopeSep: /[ +]+/, denyMode: 'page' };

  // ----- owners (GET /crm/v3/owners, /crm/v3/owners/{ownerId}) -----
  function renderOwner(u) {
    return { id: u.id, email: u.email, type: 'PERSON', firstName: u.firstName ?? '', lastName: u.lastName ?? '', userId: u.active ? u.userId : null, userIdIncludingInactive: u.userId, createdAt: isoMs(u.createdMs), updatedAt: isoMs(u.createdMs), archived: !u.active, teams: [] };
  }
  function ownersList(ctx) {
    const q = ctx.query;
    const limit = Number(q.get('limit') ?? 100);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) return validation('limit must be an integer between 1 and 500');
    const archived = q.get('archived') === 'true';
    let list = users().list().filter((u) => u.active !== archived).sort((a, b) => Number(a.id) - Number(b.id) || (a.id < b.id ? -1 : 1));
    if (q.get('email')) list = list.filter((u) => String(u.email).toLowerCase() === q.get('email').toLowerCase());
    const after = q.get('after') ? Number(q.get('after')) : 0;
    if (!Number.isInteger(after) || after < 0) return validation('after must be the paging.next.after value of a previous page');
    const page = list.slice(after, after + limit);
    const body = { results: page.map(renderOwner) };
    if (after + limit < list.length) body.paging = { next: { after: String(after + limit), link: `${ctx.baseUrl}/crm/v3/owners/?after=${after + limit}&limit=${limit}` } };
    return { status: 200, body };
  }
  function ownerGet(ctx) {
    const idProperty = ctx.query.get('idProperty') || 'id';
    if (!['id', 'userId'].includes(idProperty)) return validation(`idProperty must be id or userId, got ${idProperty}`);
    const archived = ctx.query.get('archived') === 'true';
    const u = users().list().find((x) => String(idProperty === 'id' ? x.id : x.userId) === ctx.params.ownerId);
    if (!u || u.active === archived) return err(404, 'OBJECT_NOT_FOUND', `No owner found with ${idProperty} ${ctx.params.ownerId}`);
    return { status: 200, body: renderOwner(u) };
  }

  return {
    name,
    contentType: 'application/json;charset=utf-8',
    kinds: {
      calls: [['calls', () => true]],
      messages: [['communications', () => true], ['notes', () => true]],
      contacts: [['contacts', () => true]],
    },
    init(s) {
      store = s;
      store.meta.props = Object.fromEntries(['contacts', 'calls', 'communications', 'notes'].map((t) => [t, baseProps(t)]));
      for (const t of ['contacts', 'calls', 'communications', 'notes']) store.col(t);
    },
    makeUserIds: (seq, input) => ({ id: String(61000000 + seq), userId: input.userId ?? 9000000 + seq }),
    defaultUsers: () => [{ name: 'Emulator Rep', email: 'rep@example.com' }],
    ownership: (rec) => ({ owner: rec.properties.hubspot_owner_id || null, createdBy: rec._createdBy ?? null }),
    authenticate(ctx) {
      const tok = bearer(ctx.headers);
      const c = ctx.tokens.check(tok);
      if (c.state === 'ok') { ctx.auth = c; return null; }
      return this.errors.unauthorized(ctx, c.state, c.expiredMs);
    },
    decorate(ctx, out, { fault }) {
      out.headers ||= {};
      const isSearch = /\/search$/.test(ctx.path);
      if (!isSearch && !ctx.path.startsWith('/oauth')) {
        const used = recentCount(emu, name, 10000);
        const max = 110;
        const limited = fault && fault.type === 'rate_limit';
        Object.assign(out.headers, {
          'X-HubSpot-RateLimit-Daily': '250000',
          'X-HubSpot-RateLimit-Daily-Remaining': String(fault && fault.type === 'limit_exceeded' ? 0 : Math.max(0, 250000 - dailyCount(emu, name))),
          'X-HubSpot-RateLimit-Interval-Milliseconds': '10000',
          'X-HubSpot-RateLimit-Max': String(max),
          'X-HubSpot-RateLimit-Remaining': String(limited ? 0 : Math.max(0, max - used)),
          'X-HubSpot-RateLimit-Secondly': '11',
          'X-HubSpot-RateLimit-Secondly-Remaining': String(limited ? 0 : Math.max(0, 11 - recentCount(emu, name, 1000))),
        });
      }
      return out;
    },
    errors: {
      unauthorized(ctx, state, expiredMs) {
        if (state === 'expired') return err(401, 'EXPIRED_AUTHENTICATION', `The OAuth token used to make this call expired ${Math.max(1, Math.round((expiredMs || 60000) / 60000))} minute(s) ago.`, { context: {}, links: { 'refresh-token': 'https://developers.hubspot.com/docs/api/oauth/refresh-access-token' } });
        if (state === 'missing') return err(401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview');
        return err(401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview', { context: {} });
      },
      rateLimited(ctx, retryAfter) {
        const search = /\/search$/.test(ctx.path);
        const out = { status: 429, headers: {}, body: { status: 'error', message: search ? 'You have reached your secondly limit.' : 'You have reached your ten_secondly_rolling limit.', errorType: 'RATE_LIMIT', correlationId: cid(), policyName: search ? 'SECONDLY' : 'TEN_SECONDLY_ROLLING', groupName: 'publicapi:private-app:1234567' } };
        if (retryAfter !== null && retryAfter !== undefined) out.headers['Retry-After'] = String(retryAfter);
        return out;
      },
      limitExceeded() { return { status: 429, body: { status: 'error', message: 'You have reached your daily limit.', errorType: 'RATE_LIMIT', correlationId: cid(), policyName: 'DAILY', groupName: 'publicapi:private-app:1234567' } }; },
      serverError(ctx, status) { return err(status, status === 502 || status === 504 ? 'GATEWAY_ERROR' : 'INTERNAL_ERROR', status === 503 ? 'Service unavailable. Please try again.' : 'An internal error occurred.'); },
      notFound(ctx, why) { return err(why === 'method' ? 405 : 404, 'OBJECT_NOT_FOUND', why === 'method' ? `Method ${ctx.method} not allowed on ${ctx.path}` : `Resource not found: ${ctx.path}`); },
      badJson(ctx, msg) { return validation(`Invalid input JSON on line 1: ${msg}`); },
    },
    seedContact(c) {
      const props = {};
      if (c.firstName !== undefined) props.firstname = c.firstName;
      if (c.lastName !== undefined) props.lastname = c.lastName;
      if (c.name && c.firstName === undefined && c.lastName === undefined) { const [f, ...l] = String(c.name).split(' '); props.firstname = f; props.lastname = l.join(' '); }
      if (c.email) props.email = c.email;
      const phones = [...(c.phones || [])];
      if (c.phone) phones.unshift(c.phone);
      if (phones[0]) props.phone = phones[0];
      if (c.mobile || phones[1]) props.mobilephone = c.mobile || phones[1];
      if (c.company) props.company = c.company;
      if (c.country) props.country = c.country;
      Object.assign(props, c.properties || {});
      const createdMs = toMs(c.createdAt);
      return newRecord('contacts', props, { createdMs, updatedMs: toMs(c.updatedAt, createdMs), id: c.id });
    },
    seedRaw(col, raw) {
      const t = OBJECT_ALIASES[col];
      if (!t) throw new Error(`hubspot has no collection ${col}`);
      const createdMs = toMs(raw.createdAt);
      const rec = newRecord(t, raw.properties || {}, { createdMs, updatedMs: toMs(raw.updatedAt, createdMs), id: raw.id });
      for (const a of raw.associations || []) addAssociation(rec, OBJECT_ALIASES[a.toType] || 'contacts', String(a.toId), a.typeId || ASSOC_TYPES[`${t}>${OBJECT_ALIASES[a.toType] || 'contacts'}`]);
      return rec;
    },
    defineField(spec) {
      const t = OBJECT_ALIASES[spec.object];
      if (!t) throw new Error(`hubspot object must be one of contacts, calls, communications, notes`);
      const r = defineProp(t, { name: spec.name, label: spec.label || spec.name, type: spec.type || 'string', fieldType: spec.fieldType || 'text', groupName: spec.groupName || 'calltrail', hasUniqueValue: !!spec.unique, options: spec.options });
      if (r.status >= 400) throw new Error(r.body.message);
      return r.body;
    },
    routes: [
      { method: 'POST', path: '/oauth/v1/token', handler: token, auth: false, kind: 'auth' },
      { method: 'GET', path: '/oauth/v1/access-tokens/:token', handler: tokenInfo, auth: false, kind: 'auth' },
      { method: 'GET', path: '/oauth/v1/refresh-tokens/:token', handler: refreshInfo, auth: false, kind: 'auth' },
      { method: 'DELETE', path: '/oauth/v1/refresh-tokens/:token', handler: refreshDelete, auth: false, kind: 'auth' },
      { method: 'GET', path: '/oauth/authorize', handler: (ctx) => authorize(ctx, consent), auth: false, kind: 'auth' },
      { method: 'POST', path: '/oauth/authorize', handler: (ctx) => authorize(ctx, consent), auth: false, kind: 'auth', rawBody: true },
      { method: 'GET', path: '/crm/v3/owners', handler: ownersList },
      { method: 'GET', path: '/crm/v3/owners/', handler: ownersList },
      { method: 'GET', path: '/crm/v3/owners/:ownerId', handler: ownerGet },
      { method: 'POST', path: '/crm/v3/objects/:objectType/search', handler: search },
      { method: 'POST', path: '/crm/v3/objects/:objectType/batch/read', handler: batchRead },
      { method: 'POST', path: '/crm/v3/objects/:objectType/batch/create', handler: batchCreate },
      { method: 'POST', path: '/crm/v3/objects/:objectType/batch/update', handler: batchUpdate },
      { method: 'POST', path: '/crm/v3/objects/:objectType/batch/upsert', handler: batchUpsert },
      { method: 'GET', path: '/crm/v3/objects/:objectType', handler: list },
      { method: 'POST', path: '/crm/v3/objects/:objectType', handler: create },
      { method: 'GET', path: '/crm/v3/objects/:objectType/:id', handler: read },
      { method: 'PATCH', path: '/crm/v3/objects/:objectType/:id', handler: update },
      { method: 'DELETE', path: '/crm/v3/objects/:objectType/:id', handler: archive },
      { method: 'PUT', path: '/crm/v3/objects/:objectType/:id/associations/:toObjectType/:toId/:assocType', handler: v3Associate },
      { method: 'GET', path: '/crm/v4/objects/:objectType/:id/associations/:toObjectType', handler: v4List },
      { method: 'PUT', path: '/crm/v4/objects/:objectType/:id/associations/default/:toObjectType/:toId', handler: v4Default },
      { method: 'GET', path: '/crm/v4/associations/:from/:to/labels', handler: labels },
      { method: 'GET', path: '/crm/v3/properties/:objectType', handler: propList },
      { method: 'POST', path: '/crm/v3/properties/:objectType', handler: propCreate },
      { method: 'GET', path: '/crm/v3/properties/:objectType/:propertyName', handler: propGet },
    ],
  };
}
