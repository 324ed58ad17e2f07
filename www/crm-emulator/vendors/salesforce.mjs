// Salesforce REST subset: sObjects Contact, Lead, Task (create, read, update, delete, describe,
// upsert/read by external id), SOQL query with paging, SOSL search and parameterizedSearch,
// Composite (subrequests in order as one call), limits,
// OAuth 2 (authorize page, token, revoke, userinfo, identity URL). One module instance per org
// (production, sandbox). Base URL (instance_url): http://127.0.0.1:PORT/salesforce

import { uuid, sfTime, toMs, isObj, typeName, digitsOf, parsePhone, stripExtension, wildcardRe, dailyCount, isDate } from '../lib/util.mjs';
import { bearer, basicCreds } from '../lib/auth.mjs';
import { parseSelect, evaluate, sortRecords, whereFields, QueryError } from '../lib/sql.mjs';
import { authorize } from '../lib/consent.mjs';

const PREFIX = { Contact: '003', Lead: '00Q', Task: '00T', User: '005', Account: '001' };
const ID_RE = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;
const API_LIMIT = 15000;

function checksum(id15) {
  const map = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
  let out = '';
  for (let i = 0; i < 3; i++) {
    let n = 0;
    for (let j = 0; j < 5; j++) if (/[A-Z]/.test(id15[i * 5 + j])) n |= 1 << j;
    out += map[n];
  }
  return id15 + out;
}

function f(type, opts = {}) { return { type, createable: true, updateable: true, nillable: true, ...opts }; }
const sys = (type) => ({ type, createable: false, updateable: false, nillable: false, system: true });

function baseFields(obj) {
  const common = {
    Id: sys('id'), IsDeleted: sys('boolean'), CreatedDate: sys('datetime'), CreatedById: sys('reference'),
    LastModifiedDate: sys('datetime'), LastModifiedById: sys('reference'), SystemModstamp: sys('datetime'),
    OwnerId: f('reference', { refTo: ['User'] }),
  };
  const phone = (o = {}) => f('phone', { length: 40, ...o });
  if (obj === 'Contact') {
    return { ...common, FirstName: f('string', { length: 40 }), LastName: f('string', { length: 80, required: true, nillable: false }), Name: sys('string'), Salutation: f('picklist', { values: ['Mr.', 'Ms.', 'Mrs.', 'Dr.', 'Prof.'] }), Title: f('string', { length: 128 }), Email: f('email', { length: 80 }), Phone: phone(), MobilePhone: phone(), HomePhone: phone(), OtherPhone: phone(), AssistantPhone: phone(), Fax: phone(), AccountId: f('reference', { refTo: ['Account'] }), Description: f('textarea', { length: 32000 }), LeadSource: f('picklist', { values: ['Web', 'Phone Inquiry', 'Partner Referral', 'Purchased List', 'Other'] }) };
  }
  if (obj === 'Lead') {
    return { ...common, FirstName: f('string', { length: 40 }), LastName: f('string', { length: 80, required: true, nillable: false }), Name: sys('string'), Company: f('string', { length: 255, required: true, nillable: false }), Title: f('string', { length: 128 }), Email: f('email', { length: 80 }), Phone: phone(), MobilePhone: phone(), Fax: phone(), Status: f('picklist', { values: ['Open - Not Contacted', 'Working - Contacted', 'Closed - Converted', 'Closed - Not Converted'], default: 'Open - Not Contacted', nillable: false }), IsConverted: sys('boolean'), Description: f('textarea', { length: 32000 }), LeadSource: f('picklist', { values: ['Web', 'Phone Inquiry', 'Partner Referral', 'Purchased List', 'Other'] }) };
  }
  return { // Task
    ...common,
    Subject: f('combobox', { length: 255 }), Status: f('picklist', { values: ['Not Started', 'In Progress', 'Completed', 'Waiting on someone else', 'Deferred'], default: 'Not Started', nillable: false, restricted: true }),
    Priority: f('picklist', { values: ['High', 'Normal', 'Low'], default: 'Normal', nillable: false, restricted: true }),
    WhoId: f('reference', { refTo: ['Contact', 'Lead'] }), WhatId: f('reference', { refTo: ['Account'] }),
    ActivityDate: f('date'), Description: f('textarea', { length: 32000 }),
    TaskSubtype: f('picklist', { values: ['Task', 'Email', 'ListEmail', 'Cadence', 'Call', 'LinkedIn'], updateable: false, restricted: true }),
    Type: f('picklist', { values: ['Call', 'Email', 'Meeting', 'Other'] }),
    CallType: f('picklist', { values: ['Inbound', 'Outbound', 'Internal'], restricted: true }),
    CallDurationInSeconds: f('int'), CallDisposition: f('string', { length: 255 }), CallObject: f('string', { length: 255 }),
    IsClosed: sys('boolean'), CompletedDateTime: sys('datetime'), IsReminderSet: f('boolean', { nillable: false, default: false }), ReminderDateTime: f('datetime'),
  };
}

export default function salesforce(emu, realm = { key: 'salesforce', vendor: 'salesforce', org: 'production', login: 'salesforce-login' }) {
  const name = realm.key;
  const sandbox = realm.org === 'sandbox';
  const ORG_ID = checksum(sandbox ? '00D8d0000000002' : '00D8d0000000001');
  let store;
  const users = () => emu.users[name];
  /** A user by a 15- or 18-character id. */
  const userById = (id) => users().list().find((u) => u.id.slice(0, 15) === String(id).slice(0, 15)) || null;
  const OBJECTS = ['Contact', 'Lead', 'Task'];

  const sfErr = (status, errorCode, message, fields) => ({ status, body: [fields ? { message, errorCode, fields } : { message, errorCode }] });
  const notFound = () => sfErr(404, 'NOT_FOUND', 'The requested resource does not exist');

  const defs = (obj) => store.meta.fields[obj];
  const canon = (obj, fieldName) => Object.keys(defs(obj)).find((k) => k.toLowerCase() === String(fieldName).toLowerCase());
  function objName(n) { return OBJECTS.find((o) => o.toLowerCase() === String(n).toLowerCase()); }

  function newId(obj) {
    const n = store.nextId(`id${obj}`);
    return checksum(`${PREFIX[obj]}8d000${String(n).padStart(7, '0')}`);
  }
  const id15 = (id) => String(id).slice(0, 15);
  function byId(obj, id) {
    for (const r of store.col(obj).values()) if (id15(r.Id) === id15(id) && !r.IsDeleted) return r;
    return null;
  }
  function anyById(id) {
    for (const o of OBJECTS) { const r = byId(o, id); if (r) return [o, r]; }
    return [null, null];
  }

  function computed(obj, r) {
    if (obj === 'Contact' || obj === 'Lead') r.Name = [r.FirstName, r.LastName].filter(Boolean).join(' ');
    if (obj === 'Task') {
      const closed = r.Status === 'Completed' || r.Status === 'Deferred';
      if (closed && !r.IsClosed) r.CompletedDateTime = sfTime(Date.now());
      if (!closed) r.CompletedDateTime = null;
      r.IsClosed = closed;
    }
  }

  /** Validate a create/update body. Returns {values} or {error}. */
  function check(obj, body, { create }) {
    if (!isObj(body)) return { error: sfErr(400, 'JSON_PARSER_ERROR', `Cannot deserialize instance of ${obj} from ${typeName(body).toUpperCase()} value at [line:1, column:1]`) };
    const d = defs(obj);
    const values = {};
    const badFields = [];
    for (const [k, v] of Object.entries(body)) {
      if (k === 'attributes') continue;
      const fname = canon(obj, k);
      if (!fname) return { error: sfErr(400, 'INVALID_FIELD', `No such column '${k}' on sobject of type ${obj}`) };
      const def = d[fname];
      if (create ? !def.createable : !def.updateable) { badFields.push(fname); continue; }
      if (v === null) {
        if (!def.nillable) return { error: sfErr(400, 'REQUIRED_FIELD_MISSING', `Required fields are missing: [${fname}]`, [fname]) };
        values[fname] = null; continue;
      }
      switch (def.type) {
        case 'int':
          if (!Number.isInteger(v)) return { error: sfErr(400, 'JSON_PARSER_ERROR', `Cannot deserialize instance of int from ${typeof v === 'string' ? 'VALUE_STRING' : typeName(v).toUpperCase()} value ${JSON.stringify(v)} or request may be missing a required field at [line:1, column:1]`) };
          break;
        case 'double':
          if (typeof v !== 'number') return { error: sfErr(400, 'JSON_PARSER_ERROR', `Cannot deserialize instance of double from ${JSON.stringify(v)}`) };
          break;
        case 'boolean':
          if (typeof v !== 'boolean') return { error: sfErr(400, 'JSON_PARSER_ERROR', `Cannot deserialize instance of boolean from ${JSON.stringify(v)}`) };
          break;
        case 'date':
          if (!isDate(v)) return { error: sfErr(400, 'JSON_PARSER_ERROR', `Cannot deserialize value of type \`java.util.Date\` from String ${JSON.stringify(v)}: expected format "yyyy-MM-dd" (field ${fname})`) };
          break;
        case 'datetime':
          if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})$/.test(v) || Number.isNaN(Date.parse(v))) return { error: sfErr(400, 'JSON_PARSER_ERROR', `Cannot deserialize value of type \`java.util.Calendar\` from ${JSON.stringify(v)} (field ${fname}); use ISO 8601 with a zone`) };
          break;
        case 'reference': {
          if (typeof v !== 'string' || !ID_RE.test(v)) return { error: sfErr(400, 'MALFORMED_ID', `${fname === 'WhoId' ? 'Name ID' : fname}: id value of incorrect type: ${v}`, [fname]) };
          if (def.refTo && def.refTo.includes('User')) {
            // OwnerId must be a User of this org (005 prefix), and an active one.
            if (!v.startsWith(PREFIX.User)) return { error: sfErr(400, 'FIELD_INTEGRITY_EXCEPTION', `Owner ID: id value of incorrect type: ${v}`, [fname]) };
            const u = userById(v);
            if (!u) return { error: sfErr(400, 'INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', [fname]) };
            if (!u.active) return { error: sfErr(400, 'INACTIVE_OWNER_OR_USER', `operation performed with inactive user [${u.id}] as owner of ${obj.toLowerCase()}`, []) };
            values[fname] = u.id;
            continue;
          }
          if (def.refTo && !def.refTo.includes('Account')) {
            const [o] = anyById(v);
            if (!o || !def.refTo.includes(o)) return { error: sfErr(400, 'INVALID_CROSS_REFERENCE_KEY', `invalid cross reference id`, [fname]) };
          }
          break;
        }
        default:
          if (typeof v !== 'string') return { error: sfErr(400, 'JSON_PARSER_ERROR', `Cannot deserialize instance of string from ${typeName(v).toUpperCase()} value ${JSON.stringify(v)} (field ${fname})`) };
          if (def.length && v.length > def.length) return { error: sfErr(400, 'STRING_TOO_LONG', `${fname}: data value too large: ${v.slice(0, 40)}... (max length=${def.length})`, [fname]) };
          if (def.type === 'picklist' && def.restricted && !def.values.includes(v)) return { error: sfErr(400, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', `${fname}: bad value for restricted picklist field: ${v}`, [fname]) };
          if (def.type === 'email' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v)) return { error: sfErr(400, 'INVALID_EMAIL_ADDRESS', `${fname}: invalid email address: ${v}`, [fname]) };
      }
      if (def.unique && v !== null) {
        for (const r of store.col(obj).values()) if (!r.IsDeleted && String(r[fname]).toLowerCase() === String(v).toLowerCase() && r !== body.__self) return { error: sfErr(400, 'DUPLICATE_VALUE', `duplicate value found: ${fname} duplicates value on record with id: ${r.Id}`, [fname]) };
      }
      values[fname] = v;
    }
    if (badFields.length) return { error: sfErr(400, 'INVALID_FIELD_FOR_INSERT_UPDATE', `Unable to create/update fields: ${badFields.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`, badFields) };
    if (create) {
      const missing = Object.entries(d).filter(([k, def]) => def.required && (values[k] === undefined || values[k] === null || values[k] === '')).map(([k]) => k);
      if (missing.length) return { error: sfErr(400, 'REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing) };
    }
    return { values };
  }

  function insert(obj, values, { createdMs = Date.now(), updatedMs = createdMs, id, userId = users().defaultId } = {}) {
    const r = {};
    for (const [k, def] of Object.entries(defs(obj))) r[k] = def.default ?? (def.type === 'boolean' ? false : null);
    Object.assign(r, values);
    r.Id = id || newId(obj);
    r.IsDeleted = false;
    // OwnerId defaults to the user the session belongs to, as Salesforce does.
    r.OwnerId ||= userId;
    r.CreatedById = r.LastModifiedById = userId;
    r.CreatedDate = sfTime(createdMs);
    r.LastModifiedDate = r.SystemModstamp = sfTime(updatedMs);
    if (obj === 'Lead') r.IsConverted = false;
    r._createdMs = createdMs;
    computed(obj, r);
    store.col(obj).set(r.Id, r);
    return r;
  }

  function render(obj, r, fields, ctx) {
    const out = { attributes: { type: obj, url: `/services/data/${ctx.params.version || 'v60.0'}/sobjects/${obj}/${r.Id}` } };
    const list = fields || Object.keys(defs(obj));
    for (const fld of list) {
      if (fld.includes('.')) {
        const [rel, sub] = fld.split('.');
        const refField = rel.toLowerCase() === 'who' ? 'WhoId' : rel.toLowerCase() === 'what' ? 'WhatId' : rel.toLowerCase() === 'owner' ? 'OwnerId' : `${rel}Id`;
        const [o, target] = anyById(r[refField] || '');
        const relName = rel[0].toUpperCase() + rel.slice(1);
        if (!target) { out[relName] = null; continue; }
        out[relName] ||= { attributes: { type: o, url: `/services/data/${ctx.params.version || 'v60.0'}/sobjects/${o}/${target.Id}` } };
        out[relName][canon(o, sub) || sub] = target[canon(o, sub)] ?? null;
        continue;
      }
      const c = canon(obj, fld);
      out[c] = r[c] ?? null;
    }
    return out;
  }

  function versionOk(ctx) { return /^v\d{2}\.0$/.test(ctx.params.version); }

  // ---------- sObject handlers ----------
  function create(ctx) {
    if (!versionOk(ctx)) return notFound();
    const obj = objName(ctx.params.sobject);
    if (!obj) return sfErr(404, 'NOT_FOUND', `The requested resource does not exist`);
    const { values, error } = check(obj, ctx.body, { create: true });
    if (error) return error;
    const r = insert(obj, values, { userId: ctx.user().id });
    emu.stampNew(ctx, r);
    return { status: 201, body: { id: r.Id, success: true, errors: [] } };
  }
  function describe(ctx) {
    const obj = objName(ctx.params.sobject);
    if (!versionOk(ctx) || !obj) return notFound();
    return { status: 200, body: { name: obj, label: obj, keyPrefix: PREFIX[obj], createable: true, updateable: true, queryable: true, searchable: true, fields: Object.entries(defs(obj)).map(([n, d]) => ({ name: n, type: d.type, length: d.length || 0, createable: d.createable, updateable: d.updateable, nillable: d.nillable, externalId: !!d.externalId, unique: !!d.unique, referenceTo: d.refTo || [], picklistValues: (d.values || []).map((v) => ({ value: v, label: v, active: true, defaultValue: d.default === v })), restrictedPicklist: !!d.restricted, custom: !!d.custom })) } };
  }
  function read(ctx) {
    const obj = objName(ctx.params.sobject);
    if (!versionOk(ctx) || !obj) return notFound();
    const r = byId(obj, ctx.params.id);
    if (!r) return notFound();
    const fields = ctx.query.get('fields') ? ctx.query.get('fields').split(',').map((s) => s.trim()) : null;
    if (fields) for (const fl of fields) if (!canon(obj, fl)) return sfErr(400, 'INVALID_FIELD', `No such column '${fl}' on sobject of type ${obj}`);
    return { status: 200, body: render(obj, r, fields, ctx) };
  }
  function applyUpdate(obj, r, values) {
    Object.assign(r, values);
    const now = Date.now();
    r.LastModifiedDate = r.SystemModstamp = sfTime(now);
    computed(obj, r);
  }
  function update(ctx) {
    const obj = objName(ctx.params.sobject);
    if (!versionOk(ctx) || !obj) return notFound();
    const r = byId(obj, ctx.params.id);
    if (!r) return notFound();
    const { values, error } = check(obj, { ...ctx.body }, { create: false });
    if (error) return error;
    applyUpdate(obj, r, values);
    return { status: 204 };
  }
  function del(ctx) {
    const obj = objName(ctx.params.sobject);
    if (!versionOk(ctx) || !obj) return notFound();
    const r = byId(obj, ctx.params.id);
    if (!r) return sfErr(404, 'ENTITY_IS_DELETED', 'entity is deleted');
    r.IsDeleted = true;
    return { status: 204 };
  }
  function extField(ctx, obj) {
    const fl = canon(obj, ctx.params.field);
    if (!fl || !(fl === 'Id' || defs(obj)[fl].externalId)) return { error: sfErr(404, 'NOT_FOUND', `Provided external ID field does not exist or is not accessible: ${ctx.params.field}`) };
    return { fl };
  }
  function byExternal(ctx) {
    const obj = objName(ctx.params.sobject);
    if (!versionOk(ctx) || !obj) return notFound();
    const { fl, error } = extField(ctx, obj);
    if (error) return error;
    const hits = [...store.col(obj).values()].filter((r) => !r.IsDeleted && (fl === 'Id' ? id15(r.Id) === id15(ctx.params.value) : String(r[fl] ?? '').toLowerCase() === ctx.params.value.toLowerCase()));
    return { hits, fl, obj };
  }
  function readExternal(ctx) {
    const x = byExternal(ctx);
    if (x.status) return x;
    if (!x.hits.length) return notFound();
    if (x.hits.length > 1) return { status: 300, body: x.hits.map((r) => `/services/data/${ctx.params.version}/sobjects/${x.obj}/${r.Id}`) };
    return { status: 200, body: render(x.obj, x.hits[0], null, ctx) };
  }
  function upsert(ctx) {
    const x = byExternal(ctx);
    if (x.status) return x;
    if (x.hits.length > 1) return { status: 300, body: x.hits.map((r) => `/services/data/${ctx.params.version}/sobjects/${x.obj}/${r.Id}`) };
    if (isObj(ctx.body) && Object.keys(ctx.body).some((k) => k.toLowerCase() === x.fl.toLowerCase()) && String(ctx.body[Object.keys(ctx.body).find((k) => k.toLowerCase() === x.fl.toLowerCase())]) !== ctx.params.value) {
      return sfErr(400, 'INVALID_FIELD', `The value of the external ID field in the body doesn't match the value in the URL: ${x.fl}`);
    }
    if (!x.hits.length) {
      if (x.fl === 'Id') return notFound();
      const { values, error } = check(x.obj, { ...ctx.body, [x.fl]: ctx.params.value }, { create: true });
      if (error) return error;
      const r = insert(x.obj, values, { userId: ctx.user().id });
      emu.stampNew(ctx, r);
      return { status: 201, body: { id: r.Id, success: true, errors: [], created: true } };
    }
    const r = x.hits[0];
    const { values, error } = check(x.obj, { ...ctx.body }, { create: false });
    if (error) return error;
    applyUpdate(x.obj, r, values);
    return { status: 200, body: { id: r.Id, success: true, errors: [], created: false } };
  }

  // ---------- SOQL ----------
  function runQuery(ctx, all) {
    if (!versionOk(ctx)) return notFound();
    const q = ctx.query.get('q');
    if (!q) return sfErr(400, 'MALFORMED_QUERY', 'A query string has to be specified');
    let parsed;
    try { parsed = parseSelect(q); } catch (e) {
      if (e instanceof QueryError) return sfErr(400, 'MALFORMED_QUERY', `\n${q}\n${' '.repeat(Math.max(0, e.pos || 0))}^\nERROR at Row:1:Column:${(e.pos || 0) + 1}\n${e.message}`);
      throw e;
    }
    const obj = objName(parsed.from);
    if (!obj) return sfErr(400, 'INVALID_TYPE', `\n${q}\nERROR at Row:1:Column:1\nsObject type '${parsed.from}' is not supported.`);
    for (const fl of [...parsed.fields, ...whereFields(parsed.where), ...parsed.orderBy.map((o) => o.field)]) {
      if (fl.includes('.')) { if (obj !== 'Task' || !['who', 'what', 'owner'].includes(fl.split('.')[0].toLowerCase())) return sfErr(400, 'INVALID_FIELD', `\n${q}\nERROR at Row:1:Column:1\nDidn't understand relationship '${fl.split('.')[0]}' in field path.`); continue; }
      if (!canon(obj, fl)) return sfErr(400, 'INVALID_FIELD', `\n${q}\nERROR at Row:1:Column:1\nNo such column '${fl}' on entity '${obj}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.`);
    }
    const get = (r, fl) => {
      if (fl.includes('.')) { const [rel, sub] = fl.split('.'); const refField = `${rel[0].toUpperCase()}${rel.slice(1).toLowerCase()}Id`; const [o, t] = anyById(r[refField] || ''); return t ? t[canon(o, sub)] : null; }
      const c = canon(obj, fl);
      const v = r[c];
      return (c === 'Id' || c.endsWith('Id')) && typeof v === 'string' ? v : v;
    };
    let recs = [...store.col(obj).values()].filter((r) => (all || !r.IsDeleted) && emu.visible(r, 'query'));
    recs = recs.filter((r) => evaluate(parsed.where, (fl) => {
      const v = get(r, fl);
      return typeof v === 'string' && /Id$/.test(fl) && ID_RE.test(v) ? v : v;
    }));
    // Ids compare by 15-char prefix as Salesforce does for 15/18 char forms.
    sortRecords(recs, parsed.orderBy, get);
    if (parsed.offset) recs = recs.slice(parsed.offset);
    if (parsed.limit !== null) recs = recs.slice(0, parsed.limit);
    if (parsed.count) return { status: 200, body: { totalSize: recs.length, done: true, records: [] } };
    const rendered = recs.map((r) => render(obj, r, parsed.fields, ctx));
    const opt = /batchSize=(\d+)/.exec(ctx.headers['sforce-query-options'] || '');
    const batch = opt ? Math.min(2000, Math.max(200, Number(opt[1]))) : 2000;
    return pageOut(ctx, rendered, 0, batch);
  }
  function pageOut(ctx, rendered, start, batch) {
    const body = { totalSize: rendered.length, done: start + batch >= rendered.length, records: rendered.slice(start, start + batch) };
    if (!body.done) {
      const loc = `01g8d${uuid().replace(/-/g, '').slice(0, 10)}`;
      store.meta.cursors.set(loc, { rendered, batch });
      body.nextRecordsUrl = `/services/data/${ctx.params.version}/query/${loc}-${start + batch}`;
    }
    return { status: 200, body };
  }
  function queryMore(ctx) {
    if (!versionOk(ctx)) return notFound();
    const m = /^(.+)-(\d+)$/.exec(ctx.params.locator);
    const c = m && store.meta.cursors.get(m[1]);
    if (!c) return sfErr(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    return pageOut(ctx, c.rendered, Number(m[2]), c.batch);
  }

  // ---------- SOSL ----------
  const RESERVED = new Set(['?', '&', '|', '!', '{', '}', '[', ']', '(', ')', '^', '~', '*', ':', '\\', '"', "'", '+', '-']);
  /** Parse the text between FIND { }: returns an expression tree over terms, or throws a message. */
  function parseTerm(raw) {
    const toks = [];
    let i = 0; let cur = '';
    const push = () => { if (cur) { toks.push({ t: 'word', v: cur }); cur = ''; } };
    while (i < raw.length) {
      const c = raw[i];
      if (c === '\\') { if (i + 1 >= raw.length) throw new Error('dangling escape'); cur += raw[i + 1]; i += 2; continue; }
      if (/\s/.test(c)) { push(); i++; continue; }
      if (c === '"') { push(); const j = raw.indexOf('"', i + 1); if (j < 0) throw new Error('unterminated phrase'); toks.push({ t: 'phrase', v: raw.slice(i + 1, j).replace(/\\(.)/g, '$1') }); i = j + 1; continue; }
      if (c === '(' || c === ')') { push(); toks.push({ t: c }); i++; continue; }
      if (c === '*' || c === '?') { cur += c; i++; continue; }
      if (RESERVED.has(c)) throw new Error(`reserved character '${c}' must be escaped with a backslash`);
      cur += c; i++;
    }
    push();
    let p = 0;
    const isOp = (w) => toks[p] && toks[p].t === 'word' && toks[p].v.toUpperCase() === w;
    function or() { let l = and(); while (isOp('OR')) { p++; l = { op: 'OR', a: l, b: and() }; } return l; }
    function and() {
      let l = prim();
      for (;;) {
        if (isOp('AND')) {
          p++;
          if (isOp('NOT')) { p++; l = { op: 'ANDNOT', a: l, b: prim() }; } else l = { op: 'AND', a: l, b: prim() };
        } else if (toks[p] && toks[p].t !== ')' && !isOp('OR')) l = { op: 'AND', a: l, b: prim() };
        else return l;
      }
    }
    function prim() {
      const t = toks[p];
      if (!t) throw new Error('search term is incomplete');
      if (t.t === '(') { p++; const e = or(); if (!toks[p] || toks[p].t !== ')') throw new Error('unbalanced parentheses'); p++; return e; }
      if (t.t === ')') throw new Error('unbalanced parentheses');
      p++;
      return { term: t.v, phrase: t.t === 'phrase' };
    }
    const tree = or();
    if (p < toks.length) throw new Error('unexpected token in search term');
    return tree;
  }
  function phoneTokens(v) {
    const main = stripExtension(v);
    const set = new Set([digitsOf(main)]);
    const ph = parsePhone(v, emu.config.defaultCountry);
    if (ph) { set.add(ph.national); set.add(ph.cc + ph.national); }
    set.delete('');
    return set;
  }
  function termMatchesField(term, value, isPhone) {
    if (value === null || value === undefined || value === '') return false;
    const t = term.term;
    if (isPhone) {
      const digitsPattern = t.replace(/[^\d*?]/g, '');
      if (digitsPattern.replace(/[*?]/g, '').length >= 2 && /^[\d\s+().\-*?/]+$/.test(t)) {
        const re = wildcardRe(digitsPattern);
        for (const tok of phoneTokens(value)) if (re.test(tok)) return true;
        return false;
      }
    }
    if (term.phrase) return String(value).toLowerCase().replace(/\s+/g, ' ').includes(t.toLowerCase().replace(/\s+/g, ' '));
    const re = wildcardRe(t);
    return String(value).split(/[^A-Za-z0-9@._'-]+|(?<=\w)[._-](?=\w)/).some((w) => re.test(w)) || re.test(String(value));
  }
  function evalTerm(tree, rec, fields, phoneFields) {
    if (tree.op === 'OR') return evalTerm(tree.a, rec, fields, phoneFields) || evalTerm(tree.b, rec, fields, phoneFields);
    if (tree.op === 'AND') return evalTerm(tree.a, rec, fields, phoneFields) && evalTerm(tree.b, rec, fields, phoneFields);
    if (tree.op === 'ANDNOT') return evalTerm(tree.a, rec, fields, phoneFields) && !evalTerm(tree.b, rec, fields, phoneFields);
    return fields.some((fl) => termMatchesField(tree, rec[fl], phoneFields.includes(fl)));
  }
  function searchFieldsFor(obj, scope) {
    const d = defs(obj);
    const by = (pred) => Object.keys(d).filter((k) => pred(d[k], k));
    if (scope === 'PHONE') return by((x) => x.type === 'phone');
    if (scope === 'EMAIL') return by((x) => x.type === 'email');
    if (scope === 'NAME') return by((x, k) => ['Name', 'FirstName', 'LastName', 'Company', 'Subject'].includes(k));
    return by((x) => ['string', 'phone', 'email', 'textarea', 'combobox', 'picklist'].includes(x.type));
  }
  function soslRun(ctx, { term, scope, returning, limit }) {
    let tree;
    try { tree = parseTerm(term); } catch (e) { return sfErr(400, 'MALFORMED_SEARCH', `No search term found or the search term is invalid: ${e.message}`); }
    if (term.replace(/[\\*?"()\s]/g, '').length < 2) return sfErr(400, 'MALFORMED_SEARCH', 'Search term must be longer than one character');
    const out = [];
    for (const spec of returning) {
      const obj = objName(spec.obj);
      if (!obj) return sfErr(400, 'INVALID_TYPE', `sObject type '${spec.obj}' is not supported.`);
      let parsed = { fields: ['Id'], where: null, orderBy: [], limit: null, offset: null };
      if (spec.inner) {
        const inner = spec.inner.trim();
        const m = /\s+(WHERE|ORDER\s+BY|LIMIT|OFFSET)\b/i.exec(inner);
        const sql = m ? `SELECT ${inner.slice(0, m.index)} FROM ${obj} ${inner.slice(m.index)}` : `SELECT ${inner} FROM ${obj}`;
        try { parsed = parseSelect(sql); } catch (e) { return sfErr(400, 'MALFORMED_SEARCH', `RETURNING ${spec.obj}(...): ${e.message}`); }
      }
      for (const fl of [...parsed.fields, ...whereFields(parsed.where)]) if (!canon(obj, fl)) return sfErr(400, 'INVALID_FIELD', `No such column '${fl}' on entity '${obj}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.`);
      const fields = searchFieldsFor(obj, scope);
      const phoneFields = searchFieldsFor(obj, 'PHONE');
      let recs = [...store.col(obj).values()].filter((r) => !r.IsDeleted && emu.visible(r, 'search') && evalTerm(tree, r, fields, phoneFields));
      recs = recs.filter((r) => evaluate(parsed.where, (fl) => r[canon(obj, fl)]));
      sortRecords(recs, parsed.orderBy, (r, fl) => r[canon(obj, fl)]);
      if (parsed.offset) recs = recs.slice(parsed.offset);
      if (parsed.limit !== null) recs = recs.slice(0, parsed.limit);
      out.push(...recs.map((r) => render(obj, r, parsed.fields, ctx)));
    }
    return { status: 200, body: { searchRecords: limit ? out.slice(0, limit) : out.slice(0, 2000) } };
  }
  function search(ctx) {
    if (!versionOk(ctx)) return notFound();
    const q = ctx.query.get('q');
    if (!q) return sfErr(400, 'MALFORMED_SEARCH', 'No search term found. The search term must be enclosed in braces.');
    const m = /^\s*FIND\s*\{/i.exec(q);
    if (!m) return sfErr(400, 'MALFORMED_SEARCH', 'No search term found. The search term must be enclosed in braces.');
    let i = m[0].length; let term = '';
    while (i < q.length && q[i] !== '}') { if (q[i] === '\\') { term += q[i] + (q[i + 1] ?? ''); i += 2; continue; } term += q[i]; i++; }
    if (q[i] !== '}') return sfErr(400, 'MALFORMED_SEARCH', 'No search term found. The search term must be enclosed in braces.');
    let rest = q.slice(i + 1).trim();
    let scope = 'ALL';
    const sm = /^IN\s+(ALL|NAME|EMAIL|PHONE|SIDEBAR)\s+FIELDS\b/i.exec(rest);
    if (sm) { scope = sm[1].toUpperCase(); rest = rest.slice(sm[0].length).trim(); } else if (/^IN\b/i.test(rest)) return sfErr(400, 'MALFORMED_SEARCH', `unexpected token: ${rest.split(/\s+/).slice(0, 3).join(' ')}; expected IN ALL|NAME|EMAIL|PHONE FIELDS`);
    let returning = [{ obj: 'Contact' }, { obj: 'Lead' }, { obj: 'Task' }];
    let limit = null;
    const rm = /^RETURNING\s+/i.exec(rest);
    if (rm) {
      rest = rest.slice(rm[0].length);
      returning = [];
      for (;;) {
        const om = /^([A-Za-z_]\w*)\s*/.exec(rest);
        if (!om) return sfErr(400, 'MALFORMED_SEARCH', `expecting an object name after RETURNING, found '${rest.slice(0, 20)}'`);
        rest = rest.slice(om[0].length);
        let inner = null;
        if (rest.startsWith('(')) {
          let depth = 0; let j = 0; let inStr = false;
          for (; j < rest.length; j++) {
            const c = rest[j];
            if (c === "'" && rest[j - 1] !== '\\') inStr = !inStr;
            if (inStr) continue;
            if (c === '(') depth++;
            if (c === ')') { depth--; if (depth === 0) break; }
          }
          if (depth !== 0) return sfErr(400, 'MALFORMED_SEARCH', 'unbalanced parentheses in RETURNING');
          inner = rest.slice(1, j);
          rest = rest.slice(j + 1).trim();
        }
        returning.push({ obj: om[1], inner });
        if (rest.startsWith(',')) { rest = rest.slice(1).trim(); continue; }
        break;
      }
    }
    const lm = /^LIMIT\s+(\d+)\s*$/i.exec(rest);
    if (lm) { limit = Number(lm[1]); rest = ''; }
    if (rest.trim()) return sfErr(400, 'MALFORMED_SEARCH', `unexpected token: '${rest.trim().split(/\s+/)[0]}'`);
    return soslRun(ctx, { term, scope, returning, limit });
  }
  function parameterized(ctx) {
    if (!versionOk(ctx)) return notFound();
    const q = ctx.query.get('q');
    if (!q) return sfErr(400, 'INVALID_SEARCH', 'parameter q is required');
    const inScope = (ctx.query.get('in') || 'ALL').toUpperCase();
    if (!['ALL', 'NAME', 'EMAIL', 'PHONE', 'SIDEBAR'].includes(inScope)) return sfErr(400, 'INVALID_SEARCH', `in must be ALL, NAME, EMAIL, PHONE or SIDEBAR`);
    const objs = ctx.query.getAll('sobject');
    const fields = ctx.query.get('fields');
    const returning = (objs.length ? objs : ['Contact', 'Lead']).map((o) => ({ obj: o, inner: fields || ctx.query.get(`${o}.fields`) || 'Id' }));
    // parameterizedSearch takes plain text: escape reserved characters for the parser.
    const term = q.replace(/[&|!{}[\]()^~:\\"'+-]/g, (c) => `\\${c}`);
    return soslRun(ctx, { term, scope: inScope, returning, limit: ctx.query.get('overallLimit') ? Number(ctx.query.get('overallLimit')) : null });
  }

  // ---------- Composite ----------
  // POST /services/data/vXX.X/composite (REST API Developer Guide, "Composite", "Composite
  // Request Body", "Composite Response Body"): `{allOrNone?, compositeRequest: [{method, url,
  // referenceId, body?, httpHeaders?}]}`, up to 25 subrequests of which at most 5 queries
  // (query, queryAll), run in order as the caller; the whole series counts as one call toward
  // the API limits (so the request log's stats count it once; each subrequest is logged as an
  // entry of its own with `parent`, outside the counts). The body is checked whole before any
  // subrequest runs: a 400 then. Otherwise 200 with `{compositeResponse: [{body, httpHeaders,
  // httpStatusCode, referenceId}]}`, one per subrequest, an error's body being the resource's
  // own `[{errorCode, message}]`. allOrNone false: every subrequest that does not depend on a
  // failed one runs and stands; true: a failure rolls everything back and the others answer 400
  // PROCESSING_HALTED. `@{referenceId.path}` in a url or body reads an earlier result; one that
  // failed or lacks the value fails the subrequest (400 PROCESSING_HALTED).
  // Faults: one matching the composite call acts on the whole call (a 5xx, a 429, a reset); one
  // matching a subrequest's method and path acts on that subrequest: its error reply inside the
  // 200 (server_error, rate_limit, unauthorized, limit_exceeded, error_body), a delay, or the
  // whole connection (reset: this subrequest and the rest never run; commit_then_drop: they all
  // run, then the reply is lost).
  const COMPOSITE_MAX = 25;
  const COMPOSITE_QUERIES = 5;
  const REF_RE = /@\{([A-Za-z][A-Za-z0-9_]*)\.([^}]+)\}/g;
  const halted = (message) => sfErr(400, 'PROCESSING_HALTED', message);
  function refValue(results, ref, path) {
    const r = results.get(ref);
    if (!r) return { error: halted(`Invalid reference specified. No value for ${ref}.${path} found in ${ref}. Provided referenceId ('${ref}') must be an earlier subrequest's.`) };
    if (r.status >= 400) return { error: halted(`Invalid reference specified. ${ref} failed, so ${ref}.${path} has no value.`) };
    let v = r.body;
    for (const part of path.split('.').flatMap((p) => p.split(/\[(\d+)\]/).filter((x) => x !== ''))) {
      v = v === null || v === undefined ? undefined : (/^\d+$/.test(part) && Array.isArray(v) ? v[Number(part)] : v[part]);
    }
    if (v === undefined || v === null) return { error: halted(`Invalid reference specified. No value for ${ref}.${path} found in ${ref}.`) };
    return { value: v };
  }
  /** `value` with every reference replaced; {error} when one cannot be. */
  function resolveRefs(value, results) {
    if (typeof value === 'string') {
      let error = null;
      const whole = /^@\{([A-Za-z][A-Za-z0-9_]*)\.([^}]+)\}$/.exec(value);
      if (whole) { const r = refValue(results, whole[1], whole[2]); return r.error ? r : { value: r.value }; }
      const out = value.replace(REF_RE, (_, ref, path) => { const r = refValue(results, ref, path); if (r.error) { error ||= r.error; return ''; } return String(r.value); });
      return error ? { error } : { value: out };
    }
    if (Array.isArray(value)) {
      const out = [];
      for (const x of value) { const r = resolveRefs(x, results); if (r.error) return r; out.push(r.value); }
      return { value: out };
    }
    if (isObj(value)) {
      const out = {};
      for (const [k, x] of Object.entries(value)) { const r = resolveRefs(x, results); if (r.error) return r; out[k] = r.value; }
      return { value: out };
    }
    return { value };
  }
  const isQuery = (url) => /^\/services\/data\/v\d{2}\.0\/query(All)?(\/|\?|$)/.test(url);
  async function compositeCall(ctx) {
    if (!versionOk(ctx)) return notFound();
    const b = ctx.body;
    if (!isObj(b) || !Array.isArray(b.compositeRequest) || !b.compositeRequest.length) return sfErr(400, 'JSON_PARSER_ERROR', 'compositeRequest: a non-empty array of subrequests is required');
    if (b.allOrNone !== undefined && typeof b.allOrNone !== 'boolean') return sfErr(400, 'JSON_PARSER_ERROR', `Cannot deserialize instance of boolean from ${JSON.stringify(b.allOrNone)} (allOrNone)`);
    const subs = b.compositeRequest;
    if (subs.length > COMPOSITE_MAX) return sfErr(400, 'INVALID_API_INPUT', `Composite requests can have at most ${COMPOSITE_MAX} subrequests; this one has ${subs.length}`);
    const seen = new Set();
    for (const [i, sub] of subs.entries()) {
      if (!isObj(sub)) return sfErr(400, 'JSON_PARSER_ERROR', `compositeRequest[${i}] is not an object`);
      if (!['GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'HEAD'].includes(sub.method)) return sfErr(400, 'INVALID_API_INPUT', `compositeRequest[${i}]: method must be GET, POST, PATCH, PUT, DELETE or HEAD`);
      if (typeof sub.url !== 'string' || !/^\/services\/data\/v\d{2}\.0\/(sobjects|query|queryAll)(\/|\?|$)/.test(sub.url)) return sfErr(400, 'INVALID_API_INPUT', `compositeRequest[${i}]: url must be an sObject, query or queryAll resource under /services/data/vXX.X/`);
      if (typeof sub.referenceId !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(sub.referenceId)) return sfErr(400, 'INVALID_API_INPUT', `compositeRequest[${i}]: referenceId must start with a letter and hold only letters, digits and underscores`);
      if (seen.has(sub.referenceId)) return sfErr(400, 'INVALID_API_INPUT', `Duplicate referenceId: ${sub.referenceId}`);
      seen.add(sub.referenceId);
    }
    if (subs.filter((x) => isQuery(x.url)).length > COMPOSITE_QUERIES) return sfErr(400, 'INVALID_API_INPUT', `Composite requests can have at most ${COMPOSITE_QUERIES} query subrequests`);
    const allOrNone = b.allOrNone === true;
    const snapshot = allOrNone ? structuredClone({ collections: store.collections, counters: store.counters }) : null;
    const results = new Map();
    const out = [];
    let failed = false;
    for (const sub of subs) {
      const entry = { seq: ++emu.seq, at: new Date().toISOString(), t: Date.now(), vendor: ctx.entry.vendor, prefix: ctx.entry.prefix, parent: ctx.entry.seq, referenceId: sub.referenceId, method: sub.method, path: sub.url.split('?')[0], query: {}, route: null, headers: {}, body: sub.body ?? null, status: null, faults: [], ms: null };
      let result;
      if (allOrNone && failed) result = halted('The transaction was rolled back since another operation in the same transaction failed.');
      else result = await runSub(ctx, sub, results, entry);
      if (result && result.connection) return result.connection; // a reset: the call's reply is lost
      entry.status = result.status ?? 200;
      out.push({ body: result.body ?? null, httpHeaders: result.headers || {}, httpStatusCode: result.status ?? 200, referenceId: sub.referenceId });
      results.set(sub.referenceId, { status: result.status ?? 200, body: result.body ?? null });
      if ((result.status ?? 200) >= 400) failed = true;
    }
    if (allOrNone && failed) {
      store.collections = snapshot.collections;
      store.counters = snapshot.counters;
      for (const r of out) if (r.httpStatusCode < 400) Object.assign(r, { body: halted('The transaction was rolled back since another operation in the same transaction failed.').body, httpStatusCode: 400 });
    }
    return { status: 200, body: { compositeResponse: out } };
  }
  /** One subrequest: its faults, references, route and handler, as the composite call's user. */
  async function runSub(ctx, sub, results, entry) {
    const started = Date.now();
    emu.log.push(entry);
    const finish = (r) => { entry.ms = Date.now() - started; return r; };
    const url = resolveRefs(sub.url, results);
    if (url.error) return finish(url.error);
    const body = resolveRefs(sub.body, results);
    if (body.error) return finish(body.error);
    const u = new URL(url.value, 'http://127.0.0.1');
    entry.path = u.pathname;
    entry.query = Object.fromEntries(u.searchParams);
    entry.body = body.value ?? null;
    const pathWithQuery = u.pathname + u.search;
    const fired = emu.faults.take(ctx.entry.vendor, sub.method, pathWithQuery);
    entry.faults = fired.map((f) => f.type);
    for (const f of fired) {
      if (f.type === 'latency') { await new Promise((r) => setTimeout(r, f.latencyMs)); continue; }
      if (f.type === 'reset') { entry.status = 'reset'; return finish({ connection: { reset: true } }); }
      if (f.type === 'commit_then_drop') { ctx.dropReply ||= f; continue; }
      if (f.type === 'rate_limit') return finish(api.errors.rateLimited(ctx, f.retryAfter));
      if (f.type === 'server_error') return finish(api.errors.serverError(ctx, f.status));
      if (f.type === 'unauthorized') return finish(api.errors.unauthorized(ctx, 'invalid'));
      if (f.type === 'expire_token') { ctx.tokens.expire(); return finish(api.errors.unauthorized(ctx, 'expired')); }
      if (f.type === 'limit_exceeded') return finish(api.errors.limitExceeded(ctx));
      if (f.type === 'error_body') return finish({ status: f.status, body: f.body });
    }
    const route = api.routes.find((r) => r.kind !== 'auth' && r.method === sub.method && r.re && r.re.test(u.pathname) && r.handler !== compositeCall);
    if (!route) return finish(notFound());
    entry.route = route.name;
    const params = {};
    const m = route.re.exec(u.pathname);
    route.names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
    const subCtx = {
      ...ctx, method: sub.method, path: u.pathname, url: u, query: u.searchParams, params, body: body.value,
      rawBody: body.value === undefined ? '' : JSON.stringify(body.value), contentType: 'application/json', bodyError: null, entry, route,
      lag: () => emu.faults.lagFor(ctx.entry.vendor, sub.method, pathWithQuery),
    };
    return finish(await route.handler(subCtx));
  }

  // ---------- misc ----------
  function versions(ctx) { return { status: 200, body: ['58.0', '59.0', '60.0', '61.0', '62.0'].map((v) => ({ label: `Emulated ${v}`, url: `/services/data/v${v}`, version: v })) }; }
  function limits() { const used = dailyCount(emu, name); return { status: 200, body: { DailyApiRequests: { Max: API_LIMIT, Remaining: Math.max(0, API_LIMIT - used) } } }; }
  // ---------- OAuth 2.0 ----------
  // Web server flow (help.salesforce.com "OAuth 2.0 Web Server Flow for Web App Integration",
  // "OAuth 2.0 Refresh Token Flow for Renewed Sessions"): client_id/client_secret in the form body
  // or an HTTP Basic header; the secret is required unless the app turns off "Require Secret for
  // Web Server Flow" / "... for Refresh Token Flow" (per client here); PKCE optional (or required
  // per client). No expires_in. A refresh token only when the scopes allow it (refresh_token /
  // offline_access, or no scope parameter: the app's own scopes). Refresh Token Rotation is a
  // per-app setting: a new refresh token on each refresh, the old one invalidated, and reusing a
  // rotated-out one revokes the current one and its access tokens.
  const SF_ERRORS = {
    missing_grant_type: ['unsupported_grant_type', 'grant type not supported'],
    unsupported_grant_type: ['unsupported_grant_type', 'grant type not supported'],
    missing_client: ['invalid_client_id', 'client identifier invalid'],
    unknown_client: ['invalid_client_id', 'client identifier invalid'],
    missing_secret: ['invalid_client', 'invalid client credentials'],
    bad_secret: ['invalid_client', 'invalid client credentials'],
    missing_code: ['invalid_grant', 'invalid authorization code'],
    bad_code: ['invalid_grant', 'invalid authorization code'],
    expired_code: ['invalid_grant', 'expired authorization code'],
    missing_redirect: ['redirect_uri_mismatch', 'redirect_uri must match configuration'],
    redirect_mismatch: ['redirect_uri_mismatch', 'redirect_uri must match configuration'],
    missing_verifier: ['invalid_grant', 'invalid code verifier'],
    bad_verifier: ['invalid_request', 'invalid code verifier'],
    missing_refresh: ['invalid_grant', 'expired access/refresh token'],
    bad_refresh: ['invalid_grant', 'expired access/refresh token'],
    rotated_refresh: ['invalid_grant', 'expired access/refresh token'],
  };
  const idBase = () => emu.prefixUrl(realm.login); // https://login.salesforce.com or https://test.salesforce.com
  const identityUrl = (userId) => `${idBase()}/id/${ORG_ID}/${userId}`;
  /** instance_url: the org's instance when issued by a login host, else the host that was asked (instance or My Domain). */
  const instanceFor = (ctx) => (ctx.prefix.role === 'auth' ? emu.baseUrl(name) : ctx.baseUrl);
  function token(ctx) {
    if (ctx.contentType !== 'application/x-www-form-urlencoded') return { status: 400, body: { error: 'invalid_request', error_description: 'Content-Type must be application/x-www-form-urlencoded' } };
    const b = { ...(ctx.body || {}) };
    const basic = basicCreds(ctx.headers);
    if (basic) {
      if (b.client_id && b.client_id !== basic.client_id) return { status: 400, body: { error: 'invalid_client', error_description: 'invalid client credentials' } };
      b.client_id = basic.client_id;
      b.client_secret = basic.client_secret;
    }
    const ttl = emu.config.salesforceSessionTtl ?? 7200;
    const g = ctx.tokens.exchange(b, {
      secretCode: 'required', secretRefresh: 'required', pkce: 'enforce', redirectRequired: true,
      codeTtlMs: emu.codeTtlMs(900), accessTtl: ttl, rotation: emu.rotationFor(realm, 'none'), echoRefresh: false, reuseRevokesGrant: true,
      issueRefresh: (c) => !c.scopes || c.scopes.some((x) => ['refresh_token', 'offline_access'].includes(x)),
    });
    if (!g.ok) { const [error, d] = SF_ERRORS[g.kind] || ['invalid_request', g.kind]; return { status: 400, body: { error, error_description: d } }; }
    const u = users().get(g.userId) || users().default();
    const body = { access_token: g.accessToken, signature: Buffer.from(uuid()).toString('base64'), scope: (g.scopes || ['api', 'refresh_token']).join(' '), instance_url: instanceFor(ctx), id: identityUrl(u.id), token_type: 'Bearer', issued_at: String(Date.now()) };
    if (g.refreshToken) body.refresh_token = g.refreshToken;
    return { status: 200, body };
  }
  // POST /services/oauth2/revoke (form `token=`; GET ?token= is the older form): a refresh token
  // takes the access tokens issued with it; an unknown token is a 400.
  function revoke(ctx) {
    const tok = ctx.method === 'GET' ? ctx.query.get('token') : ctx.body && ctx.body.token;
    if (ctx.method === 'POST' && ctx.contentType !== 'application/x-www-form-urlencoded') return { status: 400, body: { error: 'invalid_request', error_description: 'Content-Type must be application/x-www-form-urlencoded' } };
    if (!tok) return { status: 400, body: { error: 'invalid_request', error_description: 'token parameter is required' } };
    if (!ctx.tokens.revoke(tok, { refreshCascade: 'grant', accessCascade: 'none' })) return { status: 400, body: { error: 'invalid_token', error_description: 'invalid token' } };
    return { status: 200, body: null };
  }
  /** The identity service's own errors are bare codes (Missing_OAuth_Token, Bad_OAuth_Token, Wrong_Org, Bad_Id, Inactive). */
  const idErr = (status, code) => ({ status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: code });
  function identityAuth(ctx) {
    const tok = bearer(ctx.headers) || bearer(ctx.headers, 'OAuth') || ctx.query.get('oauth_token') || ctx.query.get('access_token');
    if (!tok) return { error: idErr(403, 'Missing_OAuth_Token') };
    const c = ctx.tokens.check(tok);
    if (c.state !== 'ok') return { error: idErr(403, 'Bad_OAuth_Token') };
    ctx.auth = c;
    return { c };
  }
  function urls(u) {
    const inst = emu.baseUrl(name);
    return { enterprise: `${inst}/services/Soap/c/{version}/${ORG_ID}`, metadata: `${inst}/services/Soap/m/{version}/${ORG_ID}`, partner: `${inst}/services/Soap/u/{version}/${ORG_ID}`, rest: `${inst}/services/data/v{version}/`, sobjects: `${inst}/services/data/v{version}/sobjects/`, search: `${inst}/services/data/v{version}/search/`, query: `${inst}/services/data/v{version}/query/`, recent: `${inst}/services/data/v{version}/recent/`, profile: `${inst}/${u.id}`, custom_domain: emu.baseUrl(name) };
  }
  // GET /services/oauth2/userinfo (OpenID Connect): the token's user.
  function userinfo(ctx) {
    const a = identityAuth(ctx); if (a.error) return a.error;
    const u = users().get(a.c.userId) || users().default();
    return { status: 200, body: { sub: identityUrl(u.id), user_id: u.id, organization_id: ORG_ID, preferred_username: u.username ?? u.email, nickname: u.nickname ?? String(u.email).split('@')[0], name: u.name, email: u.email, email_verified: true, given_name: u.firstName, family_name: u.lastName, zoneinfo: u.timezone ?? 'America/Los_Angeles', photos: { picture: `${emu.baseUrl(name)}/profilephoto/005/F`, thumbnail: `${emu.baseUrl(name)}/profilephoto/005/T` }, profile: `${emu.baseUrl(name)}/${u.id}`, picture: `${emu.baseUrl(name)}/profilephoto/005/F`, address: {}, is_salesforce_integration_user: false, urls: urls(u), active: u.active, user_type: 'STANDARD', language: 'en_US', locale: 'en_US', utcOffset: -28800000, updated_at: sfTime(u.createdMs), is_app_installed: true } };
  }
  // GET /id/{orgId}/{userId}: the identity URL the token response names as `id`.
  function identity(ctx) {
    const a = identityAuth(ctx); if (a.error) return a.error;
    if (String(ctx.params.orgId).slice(0, 15) !== ORG_ID.slice(0, 15)) return idErr(403, 'Wrong_Org');
    const u = userById(ctx.params.userId);
    if (!u) return idErr(404, 'Bad_Id');
    if (!u.active) return idErr(404, 'Inactive');
    return { status: 200, body: { id: identityUrl(u.id), asserted_user: String(a.c.userId) === u.id, user_id: u.id, organization_id: ORG_ID, username: u.username ?? u.email, nick_name: u.nickname ?? String(u.email).split('@')[0], display_name: u.name, email: u.email, email_verified: true, first_name: u.firstName, last_name: u.lastName, timezone: u.timezone ?? 'America/Los_Angeles', photos: { picture: `${emu.baseUrl(name)}/profilephoto/005/F`, thumbnail: `${emu.baseUrl(name)}/profilephoto/005/T` }, addr_street: null, addr_city: null, addr_state: null, addr_country: null, addr_zip: null, mobile_phone: null, mobile_phone_verified: false, is_lightning_login_user: false, status: { created_date: null, body: null }, urls: urls(u), active: u.active, user_type: 'STANDARD', language: 'en_US', locale: 'en_US', utcOffset: -28800000, last_modified_date: sfTime(u.createdMs), is_app_installed: true } };
  }
  const consent = { vendorName: 'Salesforce', allowLabel: 'Allow', denyLabel: 'Deny', requireResponseType: true, scopeSep: /[ +]+/, denyMode: 'redirect', denyParams: { error: 'access_denied', error_description: 'end-user denied authorization' } };

  const V = '/services/data/:version';
  const api = {
    name,
    contentType: 'application/json;charset=UTF-8',
    kinds: {
      calls: [['Task', (r) => !r.IsDeleted && (r.TaskSubtype === 'Call' || r.Type === 'Call')]],
      messages: [['Task', (r) => !r.IsDeleted && !(r.TaskSubtype === 'Call' || r.Type === 'Call')]],
      contacts: [['Contact', (r) => !r.IsDeleted], ['Lead', (r) => !r.IsDeleted]],
    },
    init(s) {
      store = s;
      store.meta.fields = Object.fromEntries(OBJECTS.map((o) => [o, baseFields(o)]));
      store.meta.cursors = new Map();
      for (const o of OBJECTS) store.col(o);
    },
    makeUserIds: (seq) => ({ id: checksum(`${PREFIX.User}8d${sandbox ? 1 : 0}${String(seq).padStart(9, '0')}`) }),
    defaultUsers: () => [{ name: 'Emulator Rep', email: 'rep@example.com', username: sandbox ? 'rep@example.com.uat' : 'rep@example.com' }],
    ownership: (rec) => ({ owner: rec.OwnerId ?? null, createdBy: rec.CreatedById ?? null }),
    authenticate(ctx) {
      const c = ctx.tokens.check(bearer(ctx.headers) || bearer(ctx.headers, 'OAuth'));
      if (c.state === 'ok') { ctx.auth = c; return null; }
      return this.errors.unauthorized(ctx, c.state);
    },
    decorate(ctx, out) {
      out.headers ||= {};
      if (ctx.path.startsWith('/services/data/')) out.headers['Sforce-Limit-Info'] = `api-usage=${Math.min(API_LIMIT, dailyCount(emu, name))}/${API_LIMIT}`;
      return out;
    },
    errors: {
      unauthorized() { return { status: 401, headers: { 'WWW-Authenticate': 'Token' }, body: [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }] }; },
      rateLimited(ctx, retryAfter) {
        const out = sfErr(429, 'REQUEST_LIMIT_EXCEEDED', 'ConcurrentPerOrgLongTxn Limit exceeded.');
        out.headers = {};
        if (retryAfter !== null && retryAfter !== undefined) out.headers['Retry-After'] = String(retryAfter);
        return out;
      },
      limitExceeded() { return sfErr(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'); },
      serverError(ctx, status) { return status === 503 ? sfErr(503, 'SERVER_UNAVAILABLE', 'Server temporarily unavailable') : sfErr(status, 'UNKNOWN_EXCEPTION', 'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567-89 (-1)'); },
      notFound(ctx, why) { return why === 'method' ? sfErr(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${ctx.method}' not allowed. Allowed are GET,PATCH,DELETE,HEAD`) : notFound(); },
      badJson(ctx, msg) { return sfErr(400, 'JSON_PARSER_ERROR', `Unexpected character: ${msg} at [line:1, column:1]`); },
    },
    seedContact(c) {
      const obj = c.type === 'Lead' ? 'Lead' : 'Contact';
      const phones = [...(c.phones || [])];
      if (c.phone) phones.unshift(c.phone);
      const [fn, ...ln] = String(c.name || '').split(' ');
      const values = { FirstName: c.firstName ?? (c.name ? fn : null), LastName: c.lastName ?? (c.name ? ln.join(' ') || fn : 'Unknown'), Email: c.email ?? null, Phone: phones[0] ?? null, MobilePhone: c.mobile ?? phones[1] ?? null };
      if (phones[2]) values[obj === 'Contact' ? 'HomePhone' : 'Fax'] = phones[2];
      if (obj === 'Lead') values.Company = c.company || 'Unknown';
      Object.assign(values, c.fields || {});
      const createdMs = toMs(c.createdAt);
      return insert(obj, values, { createdMs, updatedMs: toMs(c.updatedAt, createdMs), id: c.id });
    },
    seedRaw(col, raw) {
      const obj = objName(col);
      if (!obj) throw new Error(`salesforce has no sobject ${col}`);
      const { createdAt, updatedAt, Id, ...values } = raw;
      const createdMs = toMs(createdAt);
      return insert(obj, values, { createdMs, updatedMs: toMs(updatedAt, createdMs), id: Id });
    },
    defineField(spec) {
      const obj = objName(spec.object);
      if (!obj) throw new Error('salesforce object must be Contact, Lead or Task');
      const fname = spec.name.endsWith('__c') ? spec.name : `${spec.name}__c`;
      store.meta.fields[obj][fname] = f(spec.type || 'string', { length: spec.length || 255, externalId: !!spec.external, unique: !!spec.unique, custom: true });
      for (const r of store.col(obj).values()) r[fname] ??= null;
      return { object: obj, name: fname, ...store.meta.fields[obj][fname] };
    },
    routes: [
      { method: 'POST', path: '/services/oauth2/token', handler: token, auth: false, kind: 'auth' },
      { method: 'GET', path: '/services/oauth2/authorize', handler: (ctx) => authorize(ctx, consent), auth: false, kind: 'auth' },
      { method: 'POST', path: '/services/oauth2/authorize', handler: (ctx) => authorize(ctx, consent), auth: false, kind: 'auth' },
      { method: 'POST', path: '/services/oauth2/revoke', handler: revoke, auth: false, kind: 'auth' },
      { method: 'GET', path: '/services/oauth2/revoke', handler: revoke, auth: false, kind: 'auth' },
      { method: 'GET', path: '/services/oauth2/userinfo', handler: userinfo, auth: false, kind: 'auth' },
      { method: 'POST', path: '/services/oauth2/userinfo', handler: userinfo, auth: false, kind: 'auth' },
      { method: 'GET', path: '/id/:orgId/:userId', handler: identity, auth: false, kind: 'auth' },
      { method: 'GET', path: '/services/data', handler: versions, auth: false },
      { method: 'GET', path: `${V}/limits`, handler: limits },
      // The REST API guide spells these resources with a trailing slash
      // (`/services/data/vXX.X/query/?q=`, `/search/?q=`); Salesforce serves both spellings.
      { method: 'GET', path: `${V}/query`, handler: (ctx) => runQuery(ctx, false) },
      { method: 'GET', path: `${V}/query/`, handler: (ctx) => runQuery(ctx, false) },
      { method: 'GET', path: `${V}/queryAll`, handler: (ctx) => runQuery(ctx, true) },
      { method: 'GET', path: `${V}/queryAll/`, handler: (ctx) => runQuery(ctx, true) },
      { method: 'GET', path: `${V}/query/:locator`, handler: queryMore },
      { method: 'GET', path: `${V}/search`, handler: search },
      { method: 'GET', path: `${V}/search/`, handler: search },
      { method: 'GET', path: `${V}/parameterizedSearch`, handler: parameterized },
      { method: 'GET', path: `${V}/parameterizedSearch/`, handler: parameterized },
      { method: 'POST', path: `${V}/sobjects/:sobject`, handler: create },
      { method: 'GET', path: `${V}/sobjects/:sobject/describe`, handler: describe },
      { method: 'GET', path: `${V}/sobjects/:sobject/:id`, handler: read },
      { method: 'PATCH', path: `${V}/sobjects/:sobject/:id`, handler: update },
      { method: 'DELETE', path: `${V}/sobjects/:sobject/:id`, handler: del },
      { method: 'GET', path: `${V}/sobjects/:sobject/:field/:value`, handler: readExternal },
      { method: 'PATCH', path: `${V}/sobjects/:sobject/:field/:value`, handler: upsert },
      { method: 'POST', path: `${V}/composite`, handler: compositeCall },
    ],
  };
  return api;
}
