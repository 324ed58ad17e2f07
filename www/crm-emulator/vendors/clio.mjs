// Clio Manage API v4 subset: contacts (+ phone_numbers), communications (PhoneCommunication with
// external_properties, IF-MATCH etags), notes, activities, `fields=` selection, page_token paging,
// users (who_am_i, list, by id), OAuth (authorize page, token, deauthorize). One module instance
// per region. Base URL: http://127.0.0.1:PORT/clio (stands for https://app.clio.com; /clio-eu,
// /clio-ca, /clio-au for the other regions), then /api/v4/... and /oauth/...

import { isoSec, toMs, isObj, typeName, digitsOf, looksLikePhone, isRfc3339, isDate, etagOf, parseFieldSpec, recentCount } from '../lib/util.mjs';
import { bearer } from '../lib/auth.mjs';
import { authorize } from '../lib/consent.mjs';

// User ids per region start apart so that an id from one region is never a user of another.
const REGION_ID = { us: 345678900, eu: 445678900, ca: 545678900, au: 645678900 };

export default function clio(emu, realm = { key: 'clio', vendor: 'clio', region: 'us' }) {
  const name = realm.key;
  let store;
  const users = () => emu.users[name];
  const who = (u) => ({ id: Number(u.id), name: u.name });

  const cerr = (status, type, message) => ({ status, body: { error: { type, message } } });
  const badReq = (m) => cerr(400, 'BadRequest', m);
  const unproc = (m) => cerr(422, 'UnprocessableEntity', `Validation failed: ${m}`);
  const notFound = (what = 'Record') => cerr(404, 'RecordNotFound', `${what} not found`);

  function stamp(r, ms = Date.now()) {
    r.updated_at = isoSec(ms);
    r._updatedMs = ms;
    const { etag, ...rest } = r;
    r.etag = `"${etagOf(rest)}"`;
  }
  function base(col, createdMs = Date.now(), updatedMs = createdMs) {
    const id = store.nextId(col, 1000001);
    return { id, created_at: isoSec(createdMs), _createdMs: createdMs, _updatedMs: updatedMs };
  }

  // ---------- field selection ----------
  const NESTED_DEFAULT = { senders: ['id', 'type', 'name'], receivers: ['id', 'type', 'name'] };
  function pick(rec, spec) {
    const out = {};
    for (const [k, sub] of Object.entries(spec)) {
      const v = rec[k];
      if (v === undefined) continue;
      if (sub === true) {
        if (Array.isArray(v) && v.length && isObj(v[0])) out[k] = v.map((x) => Object.fromEntries((NESTED_DEFAULT[k] || ['id', 'etag']).filter((f) => x[f] !== undefined).map((f) => [f, x[f]])));
        else if (isObj(v)) out[k] = Object.fromEntries((NESTED_DEFAULT[k] || ['id', 'etag']).filter((f) => v[f] !== undefined).map((f) => [f, v[f]]));
        else out[k] = v;
      } else if (Array.isArray(v)) out[k] = v.map((x) => pick(x, sub));
      else if (isObj(v)) out[k] = pick(v, sub);
      else out[k] = v ?? null;
    }
    return out;
  }
  const KNOWN = {
    contacts: ['id', 'etag', 'name', 'first_name', 'middle_name', 'last_name', 'type', 'title', 'prefix', 'initials', 'created_at', 'updated_at', 'phone_numbers', 'email_addresses', 'primary_phone_number', 'secondary_phone_number', 'primary_email_address', 'secondary_email_address', 'is_client', 'company', 'date_of_birth'],
    communications: ['id', 'etag', 'subject', 'body', 'type', 'date', 'received_at', 'created_at', 'updated_at', 'senders', 'receivers', 'matter', 'user', 'external_properties', 'time_entries_count', 'notification_event_subscribers'],
    notes: ['id', 'etag', 'type', 'subject', 'detail', 'detail_text_type', 'date', 'created_at', 'updated_at', 'contact', 'matter', 'author', 'time_entries_count'],
    users: ['id', 'etag', 'name', 'first_name', 'last_name', 'email', 'enabled', 'initials', 'subscription_type', 'account_owner', 'clio_connect', 'court_rules_default_attendee', 'default_calendar_id', 'phone_number', 'time_zone', 'roles', 'rate', 'created_at', 'updated_at'],
    activities: ['id', 'etag', 'type', 'date', 'quantity', 'quantity_in_hours', 'price', 'total', 'note', 'created_at', 'updated_at', 'communication', 'matter', 'user', 'non_billable', 'no_charge', 'billed'],
  };
  function fieldsSpec(ctx, col) {
    const f = ctx.query.get('fields');
    if (!f) return { spec: { id: true, etag: true } };
    const spec = parseFieldSpec(f);
    for (const k of Object.keys(spec)) if (!KNOWN[col].includes(k)) return { error: badReq(`Invalid field: ${k} is not a field of ${col}`) };
    return { spec };
  }
  function show(ctx, col, rec, status = 200) {
    const f = fieldsSpec(ctx, col);
    if (f.error) return f.error;
    return { status, body: { data: pick(rec, f.spec) } };
  }
  function listOut(ctx, col, recs) {
    const f = fieldsSpec(ctx, col);
    if (f.error) return f.error;
    const limit = Number(ctx.query.get('limit') ?? 200);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) return badReq('limit must be an integer between 1 and 200');
    let off = 0;
    const tok = ctx.query.get('page_token');
    if (tok) { try { off = JSON.parse(Buffer.from(tok, 'base64url').toString()).o; } catch { off = NaN; } if (!Number.isInteger(off)) return badReq('Invalid page_token'); }
    const order = ctx.query.get('order');
    if (order) {
      const m = /^([a-z_]+)\((asc|desc)\)$/.exec(order);
      if (!m) return badReq(`Invalid order: ${order}`);
      const key = m[1] === 'date' ? 'date' : m[1];
      recs.sort((a, b) => { const x = a[key] ?? ''; const y = b[key] ?? ''; return (x < y ? -1 : x > y ? 1 : a.id - b.id) * (m[2] === 'desc' ? -1 : 1); });
    } else recs.sort((a, b) => a.id - b.id);
    const page = recs.slice(off, off + limit);
    const paging = {};
    if (off + limit < recs.length) {
      const u = new URL(`${ctx.baseUrl}${ctx.path}${ctx.url.search}`);
      u.searchParams.set('page_token', Buffer.from(JSON.stringify({ o: off + limit })).toString('base64url'));
      paging.next = u.toString();
    }
    if (off > 0) {
      const u = new URL(`${ctx.baseUrl}${ctx.path}${ctx.url.search}`);
      u.searchParams.set('page_token', Buffer.from(JSON.stringify({ o: Math.max(0, off - limit) })).toString('base64url'));
      paging.previous = u.toString();
    }
    return { status: 200, body: { data: page.map((r) => pick(r, f.spec)), meta: { paging, records: recs.length } } };
  }
  function sinceFilters(ctx, recs) {
    for (const [param, key] of [['updated_since', '_updatedMs'], ['created_since', '_createdMs']]) {
      const v = ctx.query.get(param);
      if (!v) continue;
      if (!isRfc3339(v)) return { error: badReq(`${param} must be an ISO 8601 date-time`) };
      recs = recs.filter((r) => r[key] >= Date.parse(v));
    }
    return { recs };
  }

  // ---------- body checking ----------
  function shape(body, spec, where = 'data') {
    if (!isObj(body)) return badReq(`${where} must be an object, got ${typeName(body)}`);
    for (const [k, v] of Object.entries(body)) {
      const t = spec[k];
      if (!t) return badReq(`Unknown attribute ${where}.${k}`);
      if (v === null) continue;
      if (typeof t === 'function') { const m = t(v); if (m) return badReq(`${where}.${k} ${m}`); continue; }
      const ok = t === 'integer' ? Number.isInteger(v) : t === 'array' ? Array.isArray(v) : t === 'object' ? isObj(v) : typeof v === t;
      if (!ok) return badReq(`${where}.${k} must be ${t === 'integer' ? 'an integer' : `a ${t}`}, got ${typeName(v)}`);
    }
    return null;
  }
  const ref = (v) => (isObj(v) && Number.isInteger(v.id) && Object.keys(v).every((k) => ['id'].includes(k)) ? null : 'must be {id: integer}');
  const participants = (v) => (Array.isArray(v) && v.every((p) => isObj(p) && Number.isInteger(p.id) && ['User', 'Contact'].includes(p.type) && Object.keys(p).every((k) => ['id', 'type', '_deleted'].includes(k))) ? null : 'must be an array of {id: integer, type: "User"|"Contact"}');
  const dateTime = (v) => (isRfc3339(v) ? null : 'must be an ISO 8601 date-time with a zone, e.g. 2024-01-02T15:04:05Z');
  const dateOnly = (v) => (isDate(v) ? null : 'must be a date YYYY-MM-DD');
  function unwrap(ctx) {
    const b = ctx.body;
    if (!isObj(b) || !isObj(b.data)) return { error: badReq('The request body must be {"data": {...}}') };
    const extra = Object.keys(b).filter((k) => k !== 'data');
    if (extra.length) return { error: badReq(`Unknown top-level attribute ${extra[0]}`) };
    return { d: b.data };
  }
  function checkVersion(ctx) {
    const v = ctx.headers['x-api-version'];
    if (v !== undefined && !/^4\.0\.\d+$/.test(v)) return cerr(410, 'Gone', `API version ${v} is not supported; use 4.0.x`);
    return null;
  }

  // ---------- contacts ----------
  const phoneItems = (v) => (Array.isArray(v) && v.every((p) => isObj(p) && typeof p.number === 'string' && (p.name === undefined || ['Work', 'Home', 'Mobile', 'Fax', 'Pager', 'Skype', 'Other'].includes(p.name)) && (p.default_number === undefined || typeof p.default_number === 'boolean') && Object.keys(p).every((k) => ['number', 'name', 'default_number', 'id', '_destroy'].includes(k))) ? null : 'must be an array of {number: string, name?: "Work"|"Home"|"Mobile"|"Fax"|"Pager"|"Skype"|"Other", default_number?: boolean}');
  const emailItems = (v) => (Array.isArray(v) && v.every((p) => isObj(p) && typeof p.address === 'string') ? null : 'must be an array of {address, name, default_email}');
  const contactSpec = { name: 'string', first_name: 'string', middle_name: 'string', last_name: 'string', type: (v) => (['Person', 'Company'].includes(v) ? null : 'must be "Person" or "Company"'), title: 'string', prefix: 'string', phone_numbers: phoneItems, email_addresses: emailItems, company: ref, date_of_birth: dateOnly, addresses: 'array', web_sites: 'array', instant_messengers: 'array', custom_field_values: 'array', ledes_client_id: 'string', sales_tax_number: 'string', clio_connect_email: 'string', currency: 'object', avatar: 'object', custom_field_set_associations: 'array', co_counsel_rate: 'object' };
  function applyPhones(r, list, ms) {
    r.phone_numbers = list.map((p, i) => { const pn = { id: store.nextId('phone', 5000001), etag: '', number: p.number, name: p.name || 'Work', primary: p.default_number ?? i === 0, created_at: isoSec(ms), updated_at: isoSec(ms) }; pn.etag = `"${etagOf(pn)}"`; return pn; });
    const prim = r.phone_numbers.find((p) => p.primary) || r.phone_numbers[0];
    r.primary_phone_number = prim ? prim.number : null;
    r.secondary_phone_number = r.phone_numbers.find((p) => p !== prim)?.number ?? null;
  }
  function newContact(d, createdMs = Date.now(), updatedMs = createdMs, id) {
    const r = base('contacts', createdMs, updatedMs);
    if (id) { r.id = id; store.counters.contacts = Math.max(store.counters.contacts, id); }
    const nm = d.name || [d.first_name, d.last_name].filter(Boolean).join(' ');
    Object.assign(r, { name: nm, first_name: d.first_name ?? (d.type === 'Person' ? nm.split(' ')[0] : null), last_name: d.last_name ?? (d.type === 'Person' ? nm.split(' ').slice(1).join(' ') : null), type: d.type, title: d.title ?? null, prefix: d.prefix ?? null, is_client: false, email_addresses: (d.email_addresses || []).map((e, i) => ({ id: store.nextId('email', 7000001), address: e.address, name: e.name || 'Work', primary: e.default_email ?? i === 0 })) });
    r.primary_email_address = r.email_addresses[0]?.address ?? null;
    applyPhones(r, d.phone_numbers || [], createdMs);
    stamp(r, updatedMs);
    store.col('contacts').set(r.id, r);
    return r;
  }
  function createContact(ctx) {
    const u = unwrap(ctx); if (u.error) return u.error;
    const e = shape(u.d, contactSpec); if (e) return e;
    if (!u.d.type) return unproc("Type can't be blank");
    if (!u.d.name) return unproc("Name can't be blank"); // the spec lists name and type as required
    const r = newContact(u.d);
    emu.stampNew(ctx, r);
    return show(ctx, 'contacts', r, 201);
  }
  function getContact(ctx) {
    const r = store.col('contacts').get(Number(ctx.params.id));
    if (!r || r._deleted) return notFound('Contact');
    return show(ctx, 'contacts', r);
  }
  function patchContact(ctx) {
    const r = store.col('contacts').get(Number(ctx.params.id));
    if (!r || r._deleted) return notFound('Contact');
    const pre = ifMatch(ctx, r); if (pre) return pre;
    const u = unwrap(ctx); if (u.error) return u.error;
    const e = shape(u.d, contactSpec); if (e) return e;
    const { phone_numbers: pn, ...rest } = u.d;
    Object.assign(r, rest);
    if (rest.first_name !== undefined || rest.last_name !== undefined) r.name = [r.first_name, r.last_name].filter(Boolean).join(' ');
    if (pn) applyPhones(r, pn, Date.now());
    stamp(r);
    return show(ctx, 'contacts', r);
  }
  function listContacts(ctx) {
    let recs = [...store.col('contacts').values()].filter((r) => !r._deleted && emu.visible(r, ctx.query.get('query') ? 'search' : 'list'));
    const s = sinceFilters(ctx, recs); if (s.error) return s.error; recs = s.recs;
    const type = ctx.query.get('type');
    if (type) { if (!['Person', 'Company'].includes(type)) return badReq('type must be Person or Company'); recs = recs.filter((r) => r.type === type); }
    const ids = ctx.query.getAll('ids[]').map(Number);
    if (ids.length) recs = recs.filter((r) => ids.includes(r.id));
    const q = ctx.query.get('query');
    if (q) {
      const lq = q.toLowerCase();
      const phoneLike = looksLikePhone(q);
      recs = recs.filter((r) => [r.name, r.first_name, r.last_name, r.title, ...r.email_addresses.map((e) => e.address)].some((v) => v && String(v).toLowerCase().includes(lq))
        || r.phone_numbers.some((p) => p.number.toLowerCase().includes(lq) || (phoneLike && digitsOf(p.number).includes(digitsOf(q)))));
    }
    return listOut(ctx, 'contacts', recs);
  }
  function contactPhones(ctx) {
    const r = store.col('contacts').get(Number(ctx.params.id));
    if (!r || r._deleted) return notFound('Contact');
    const f = ctx.query.get('fields') ? parseFieldSpec(ctx.query.get('fields')) : { id: true, etag: true };
    return { status: 200, body: { data: r.phone_numbers.map((p) => pick(p, f)), meta: { paging: {}, records: r.phone_numbers.length } } };
  }

  // ---------- communications ----------
  const extProps = (v) => (Array.isArray(v) && v.every((p) => isObj(p) && (p.name === undefined || typeof p.name === 'string') && (p.value === undefined || typeof p.value === 'string') && (p.id === undefined || Number.isInteger(p.id)) && (p._destroy === undefined || typeof p._destroy === 'boolean') && Object.keys(p).every((k) => ['name', 'value', 'id', '_destroy'].includes(k))) ? null : 'must be an array of {name: string, value: string}');
  const commSpec = { body: 'string', subject: 'string', type: (v) => (['PhoneCommunication', 'EmailCommunication'].includes(v) ? null : 'must be "PhoneCommunication" or "EmailCommunication"'), received_at: dateTime, matter: ref, senders: participants, receivers: participants, external_properties: extProps, notification_event_subscribers: 'array' };
  function resolveParticipants(list) {
    const out = [];
    for (const p of list || []) {
      if (p._deleted) continue;
      if (p.type === 'Contact') {
        const c = store.col('contacts').get(p.id);
        if (!c || c._deleted) return { error: unproc(`Contact ${p.id} does not exist`) };
        // Responses name the contact subtype (Person/Company), as the spec's Participant does.
        out.push({ id: c.id, type: c.type, name: c.name });
      } else {
        // A User participant must be a (enabled) user of this Clio account.
        const u = users().get(p.id);
        if (!u || !u.active) return { error: unproc(`User ${p.id} does not exist`) };
        out.push({ id: Number(u.id), type: 'User', name: u.name });
      }
    }
    return { list: out };
  }
  function applyExternal(r, list, ms, { patch }) {
    let cur = patch ? [...(r.external_properties || [])] : [];
    for (const p of list) {
      if (p.id !== undefined) {
        const i = cur.findIndex((x) => x.id === p.id);
        if (i < 0) return unproc(`external property ${p.id} does not belong to this communication`);
        if (p._destroy) { cur.splice(i, 1); continue; }
        cur[i] = { ...cur[i], ...(p.name !== undefined ? { name: p.name } : {}), ...(p.value !== undefined ? { value: p.value } : {}), updated_at: isoSec(ms) };
        continue;
      }
      if (!p.name || p.value === undefined) return unproc("External properties name and value can't be blank");
      const ep = { id: store.nextId('ext', 9000001), etag: '', name: p.name, value: p.value, created_at: isoSec(ms), updated_at: isoSec(ms) };
      ep.etag = `"${etagOf(ep)}"`;
      cur.push(ep);
    }
    if (cur.length > 5) return unproc('External properties is too long (maximum is 5 per record)');
    const names = cur.map((x) => x.name);
    if (new Set(names).size !== names.length) return unproc('External properties name has already been taken');
    r.external_properties = cur;
    return null;
  }
  function createComm(ctx) {
    const u = unwrap(ctx); if (u.error) return u.error;
    const d = u.d;
    const e = shape(d, commSpec); if (e) return e;
    for (const k of ['type', 'subject', 'body', 'received_at']) if (d[k] === undefined || d[k] === null || d[k] === '') return unproc(`${k[0].toUpperCase()}${k.slice(1).replace('_', ' ')} can't be blank`);
    if (d.matter) return unproc(`Matter ${d.matter.id} does not exist`);
    const s = resolveParticipants(d.senders); if (s.error) return s.error;
    const rc = resolveParticipants(d.receivers); if (rc.error) return rc.error;
    const now = Date.now();
    const r = base('communications', now);
    Object.assign(r, { subject: d.subject, body: d.body, type: d.type, received_at: isoSec(Date.parse(d.received_at)), date: isoSec(Date.parse(d.received_at)).slice(0, 10), senders: s.list, receivers: rc.list, matter: null, user: who(ctx.user()), time_entries_count: 0, notification_event_subscribers: [] });
    const x = applyExternal(r, d.external_properties || [], now, { patch: false }); if (x) return x;
    stamp(r, now);
    store.col('communications').set(r.id, r);
    emu.stampNew(ctx, r);
    return show(ctx, 'communications', r, 201);
  }
  function ifMatch(ctx, r) {
    const h = ctx.headers['if-match'];
    if (h !== undefined && h !== r.etag && h !== r.etag.replace(/"/g, '')) return cerr(412, 'PreconditionFailed', 'The etag in IF-MATCH does not match the current version of the record');
    return null;
  }
  function getComm(ctx) {
    const r = store.col('communications').get(Number(ctx.params.id));
    if (!r || r._deleted) return notFound('Communication');
    return show(ctx, 'communications', r);
  }
  function patchComm(ctx) {
    const r = store.col('communications').get(Number(ctx.params.id));
    if (!r || r._deleted) return notFound('Communication');
    const pre = ifMatch(ctx, r); if (pre) return pre;
    const u = unwrap(ctx); if (u.error) return u.error;
    const d = u.d;
    const e = shape(d, commSpec); if (e) return e;
    if (d.matter) return unproc(`Matter ${d.matter.id} does not exist`);
    const now = Date.now();
    if (d.senders) { const s = resolveParticipants(d.senders); if (s.error) return s.error; r.senders = s.list; }
    if (d.receivers) { const s = resolveParticipants(d.receivers); if (s.error) return s.error; r.receivers = s.list; }
    if (d.external_properties) { const x = applyExternal(r, d.external_properties, now, { patch: true }); if (x) return x; }
    for (const k of ['subject', 'body', 'type']) if (d[k] !== undefined) r[k] = d[k];
    if (d.received_at) { r.received_at = isoSec(Date.parse(d.received_at)); r.date = r.received_at.slice(0, 10); }
    stamp(r, now);
    return show(ctx, 'communications', r);
  }
  function deleteGeneric(col, what) {
    return (ctx) => {
      const r = store.col(col).get(Number(ctx.params.id));
      if (!r || r._deleted) return notFound(what);
      r._deleted = true;
      return { status: 204 };
    };
  }
  function listComms(ctx) {
    let recs = [...store.col('communications').values()].filter((r) => !r._deleted && emu.visible(r, 'list'));
    const s = sinceFilters(ctx, recs); if (s.error) return s.error; recs = s.recs;
    const q = ctx.query;
    const epn = q.get('external_property_name'); const epv = q.get('external_property_value');
    if ((epn === null) !== (epv === null)) return badReq('external_property_name and external_property_value must be given together');
    if (epn !== null) recs = recs.filter((r) => r.external_properties.some((p) => p.name === epn && p.value === epv));
    if (q.get('type')) { if (!['PhoneCommunication', 'EmailCommunication'].includes(q.get('type'))) return badReq('type must be PhoneCommunication or EmailCommunication'); recs = recs.filter((r) => r.type === q.get('type')); }
    if (q.get('contact_id')) { const c = Number(q.get('contact_id')); recs = recs.filter((r) => [...r.senders, ...r.receivers].some((p) => p.type !== 'User' && p.id === c)); }
    if (q.get('user_id')) { const uid = Number(q.get('user_id')); recs = recs.filter((r) => [...r.senders, ...r.receivers].some((p) => p.type === 'User' && p.id === uid)); }
    if (q.get('matter_id')) recs = [];
    for (const [param, fn] of [['received_since', (r, t) => Date.parse(r.received_at) >= t], ['received_before', (r, t) => Date.parse(r.received_at) < t]]) {
      const v = q.get(param);
      if (!v) continue;
      if (!isRfc3339(v)) return badReq(`${param} must be an ISO 8601 date-time`);
      recs = recs.filter((r) => fn(r, Date.parse(v)));
    }
    if (q.get('date')) recs = recs.filter((r) => r.date === q.get('date'));
    if (q.get('query')) { const lq = q.get('query').toLowerCase(); recs = recs.filter((r) => `${r.subject} ${r.body}`.toLowerCase().includes(lq)); }
    return listOut(ctx, 'communications', recs);
  }

  // ---------- notes ----------
  const noteSpec = { type: (v) => (['Contact', 'Matter'].includes(v) ? null : 'must be "Contact" or "Matter"'), subject: 'string', detail: 'string', detail_text_type: (v) => (['plain_text', 'rich_text'].includes(v) ? null : 'must be plain_text or rich_text'), date: dateOnly, contact: ref, matter: ref, notification_event_subscribers: 'array' };
  function createNote(ctx) {
    const u = unwrap(ctx); if (u.error) return u.error;
    const d = u.d;
    const e = shape(d, noteSpec); if (e) return e;
    if (!d.type) return unproc("Type can't be blank");
    if (d.type === 'Matter') return unproc(d.matter ? `Matter ${d.matter.id} does not exist` : "Matter can't be blank");
    if (!d.contact) return unproc("Contact can't be blank");
    const c = store.col('contacts').get(d.contact.id);
    if (!c || c._deleted) return unproc(`Contact ${d.contact.id} does not exist`);
    if (!d.subject && !d.detail) return unproc("Subject can't be blank");
    const now = Date.now();
    const r = base('notes', now);
    Object.assign(r, { type: 'Contact', subject: d.subject ?? null, detail: d.detail ?? '', detail_text_type: d.detail_text_type || 'plain_text', date: d.date || isoSec(now).slice(0, 10), contact: { id: c.id, name: c.name }, matter: null, author: who(ctx.user()), time_entries_count: 0 });
    stamp(r, now);
    store.col('notes').set(r.id, r);
    emu.stampNew(ctx, r);
    return show(ctx, 'notes', r, 201);
  }
  function getNote(ctx) {
    const r = store.col('notes').get(Number(ctx.params.id));
    if (!r || r._deleted) return notFound('Note');
    return show(ctx, 'notes', r);
  }
  function patchNote(ctx) {
    const r = store.col('notes').get(Number(ctx.params.id));
    if (!r || r._deleted) return notFound('Note');
    const pre = ifMatch(ctx, r); if (pre) return pre;
    const u = unwrap(ctx); if (u.error) return u.error;
    const e = shape(u.d, noteSpec); if (e) return e;
    for (const k of ['subject', 'detail', 'detail_text_type', 'date']) if (u.d[k] !== undefined) r[k] = u.d[k];
    stamp(r);
    return show(ctx, 'notes', r);
  }
  function listNotes(ctx) {
    let recs = [...store.col('notes').values()].filter((r) => !r._deleted && emu.visible(r, 'list'));
    const s = sinceFilters(ctx, recs); if (s.error) return s.error; recs = s.recs;
    if (ctx.query.get('contact_id')) recs = recs.filter((r) => r.contact && r.contact.id === Number(ctx.query.get('contact_id')));
    if (ctx.query.get('type')) recs = recs.filter((r) => r.type === ctx.query.get('type'));
    if (ctx.query.get('query')) { const lq = ctx.query.get('query').toLowerCase(); recs = recs.filter((r) => `${r.subject} ${r.detail}`.toLowerCase().includes(lq)); }
    return listOut(ctx, 'notes', recs);
  }

  // ---------- activities ----------
  const activitySpec = { type: (v) => (['TimeEntry', 'ExpenseEntry', 'HardCostEntry', 'SoftCostEntry'].includes(v) ? null : 'must be TimeEntry, ExpenseEntry, HardCostEntry or SoftCostEntry'), date: dateOnly, quantity: 'number', price: 'number', note: 'string', communication: ref, matter: ref, user: ref, non_billable: 'boolean', no_charge: 'boolean', reference: 'string', activity_description: 'object', calendar_entry: ref, contact_note: ref, matter_note: ref, task: ref, start_timer: 'boolean', tax_setting: 'string', expense_category: ref, vendor: ref, text_message_conversation: ref, client_portal: ref, utbms_expense: ref };
  function createActivity(ctx) {
    const u = unwrap(ctx); if (u.error) return u.error;
    const d = u.d;
    const e = shape(d, activitySpec); if (e) return e;
    if (!d.type) return unproc("Type can't be blank");
    if (!d.date) return unproc("Date can't be blank");
    if (d.type === 'TimeEntry' && (d.quantity === undefined || d.quantity < 0)) return unproc('Quantity must be given in seconds for a TimeEntry');
    if (d.matter) return unproc(`Matter ${d.matter.id} does not exist`);
    if (d.communication) { const c = store.col('communications').get(d.communication.id); if (!c || c._deleted) return unproc(`Communication ${d.communication.id} does not exist`); }
    let actor = ctx.user();
    if (d.user) { actor = users().get(d.user.id); if (!actor || !actor.active) return unproc(`User ${d.user.id} does not exist`); }
    const now = Date.now();
    const r = base('activities', now);
    Object.assign(r, { type: d.type, date: d.date, quantity: d.quantity ?? 0, quantity_in_hours: (d.quantity ?? 0) / 3600, price: d.price ?? 0, total: ((d.quantity ?? 0) / 3600) * (d.price ?? 0), note: d.note ?? null, communication: d.communication ? { id: d.communication.id } : null, matter: null, user: who(actor), non_billable: !!d.non_billable, no_charge: !!d.no_charge, billed: false });
    stamp(r, now);
    store.col('activities').set(r.id, r);
    if (d.communication) store.col('communications').get(d.communication.id).time_entries_count++;
    emu.stampNew(ctx, r);
    return show(ctx, 'activities', r, 201);
  }
  function getActivity(ctx) {
    const r = store.col('activities').get(Number(ctx.params.id));
    if (!r || r._deleted) return notFound('Activity');
    return show(ctx, 'activities', r);
  }
  function listActivities(ctx) {
    let recs = [...store.col('activities').values()].filter((r) => !r._deleted && emu.visible(r, 'list'));
    const s = sinceFilters(ctx, recs); if (s.error) return s.error; recs = s.recs;
    if (ctx.query.get('communication_id')) recs = recs.filter((r) => r.communication && r.communication.id === Number(ctx.query.get('communication_id')));
    if (ctx.query.get('type')) recs = recs.filter((r) => r.type === ctx.query.get('type'));
    return listOut(ctx, 'activities', recs);
  }

  // ---------- users ----------
  function renderUser(u) {
    const r = { id: Number(u.id), etag: `"${etagOf({ id: u.id, email: u.email, active: u.active })}"`, name: u.name, first_name: u.firstName ?? '', last_name: u.lastName ?? '', email: u.email, enabled: u.active, initials: String(u.name).split(' ').map((x) => x[0]).join('').toUpperCase(), subscription_type: u.subscription_type ?? 'Attorney', account_owner: u.id === users().defaultId, clio_connect: false, court_rules_default_attendee: false, default_calendar_id: Number(u.id) + 1000, phone_number: u.phone ?? undefined, time_zone: u.time_zone ?? 'Eastern Time (US & Canada)', roles: u.id === users().defaultId ? ['Administrator'] : [], created_at: isoSec(u.createdMs), updated_at: isoSec(u.createdMs) };
    return r;
  }
  // GET /api/v4/users/who_am_i.json: the token's user (only id and etag unless fields= asks).
  function whoAmI(ctx) { return show(ctx, 'users', renderUser(ctx.user())); }
  function usersList(ctx) {
    let list = users().list();
    const en = ctx.query.get('enabled');
    if (en !== null) list = list.filter((u) => u.active === (en === 'true'));
    if (ctx.query.get('name')) { const n = ctx.query.get('name').toLowerCase(); list = list.filter((u) => u.name.toLowerCase().includes(n)); }
    if (ctx.query.get('subscription_type')) list = list.filter((u) => (u.subscription_type ?? 'Attorney') === ctx.query.get('subscription_type'));
    return listOut(ctx, 'users', list.map(renderUser));
  }
  function userGet(ctx) {
    const u = users().get(ctx.params.id);
    if (!u) return notFound('User');
    return show(ctx, 'users', renderUser(u));
  }

  // ---------- OAuth ----------
  // https://docs.developers.clio.com/api-docs/authorization: client_id and client_secret in the
  // form body; the refresh answer has no refresh_token, and Manage refresh tokens "do not expire
  // and can be reused" (docs.developers.clio.com/faq); a refusal comes back as error=access_denied;
  // POST /oauth/deauthorize with the access token as Bearer ends the authorization.
  const CLIO_ERRORS = {
    missing_grant_type: ['invalid_request', 'The request is missing a required parameter: grant_type.'],
    unsupported_grant_type: ['unsupported_grant_type', 'The authorization grant type is not supported by the authorization server.'],
    missing_client: ['invalid_client', 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.'],
    unknown_client: ['invalid_client', 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.'],
    missing_secret: ['invalid_client', 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.'],
    bad_secret: ['invalid_client', 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.'],
    missing_code: ['invalid_request', 'The request is missing a required parameter: code.'],
    bad_code: ['invalid_grant', 'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.'],
    expired_code: ['invalid_grant', 'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.'],
    missing_redirect: ['invalid_grant', 'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.'],
    redirect_mismatch: ['invalid_grant', 'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.'],
    missing_verifier: ['invalid_grant', 'The code_verifier does not match the code_challenge.'],
    bad_verifier: ['invalid_grant', 'The code_verifier does not match the code_challenge.'],
    missing_refresh: ['invalid_request', 'The request is missing a required parameter: refresh_token.'],
    bad_refresh: ['invalid_grant', 'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.'],
    rotated_refresh: ['invalid_grant', 'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.'],
  };
  function token(ctx) {
    const ttl = emu.config.clioTokenTtl ?? 2592000;
    const g = ctx.tokens.exchange(isObj(ctx.body) ? ctx.body : {}, {
      secretCode: 'required', secretRefresh: 'required', pkce: 'enforce', redirectRequired: true,
      codeTtlMs: emu.codeTtlMs(600), accessTtl: ttl, rotation: emu.rotationFor(realm, 'none'), echoRefresh: false,
    });
    if (!g.ok) { const [error, d] = CLIO_ERRORS[g.kind] || ['invalid_request', g.kind]; return { status: g.kind.endsWith('client') || g.kind.endsWith('secret') ? 401 : 400, body: { error, error_description: d } }; }
    const body = { token_type: 'bearer', access_token: g.accessToken, expires_in: ttl };
    if (g.refreshToken) body.refresh_token = g.refreshToken;
    return { status: 200, body };
  }
  // POST /oauth/deauthorize: authenticated with the access token (Bearer); ends the grant that
  // token belongs to (its refresh token too). A `token` body parameter names the token to end
  // instead; it must belong to the same grant or to this user.
  function deauthorize(ctx) {
    const c = ctx.tokens.check(bearer(ctx.headers));
    if (c.state !== 'ok') return clioUnauthorized(c.state);
    const other = ctx.body && typeof ctx.body === 'object' && ctx.body.token;
    if (other && other !== c.token) {
      const t = ctx.tokens.access.get(other) || ctx.tokens.refresh.get(other);
      if (!t || String(t.userId) !== String(c.userId)) return cerr(400, 'BadRequest', 'The token to deauthorize does not belong to this user');
      ctx.tokens.revoke(other, { refreshCascade: 'grant', accessCascade: 'grant' });
    } else ctx.tokens.revokeGrant(c.grant);
    return { status: 200, body: {} };
  }
  const clioUnauthorized = (state) => cerr(401, 'Unauthorized', state === 'expired' ? 'The access token has expired' : state === 'missing' ? 'Missing Authorization: Bearer access token' : 'The access token is invalid');
  const consent = { vendorName: 'Clio', allowLabel: 'Allow Access', denyLabel: 'Deny Access', requireResponseType: true, denyMode: 'redirect', denyParams: { error: 'access_denied' } };

  const api = (fn) => (ctx) => checkVersion(ctx) || fn(ctx);
  return {
    name,
    contentType: 'application/json; charset=utf-8',
    kinds: {
      calls: [['communications', (r) => !r._deleted && r.type === 'PhoneCommunication' && !/^(sms|fax)\b/i.test(r.subject || '')]],
      messages: [['communications', (r) => !r._deleted && /^(sms|fax)\b/i.test(r.subject || '')], ['notes', (r) => !r._deleted]],
      contacts: [['contacts', (r) => !r._deleted]],
    },
    init(s) { store = s; for (const c of ['contacts', 'communications', 'notes', 'activities']) store.col(c); },
    makeUserIds: (seq) => ({ id: REGION_ID[realm.region || 'us'] + seq }),
    defaultUsers: () => [{ name: 'Emulator Rep', email: 'rep@example.com' }],
    ownership: (rec) => { const u = rec.user || rec.author || null; return { owner: u ? u.id : null, createdBy: u ? u.id : null }; },
    authenticate(ctx) {
      const c = ctx.tokens.check(bearer(ctx.headers));
      if (c.state === 'ok') { ctx.auth = c; return null; }
      return this.errors.unauthorized(ctx, c.state);
    },
    decorate(ctx, out, { fault }) {
      out.headers ||= {};
      if (ctx.path.startsWith('/api/')) {
        const limit = 50;
        const limited = fault && (fault.type === 'rate_limit' || fault.type === 'limit_exceeded');
        Object.assign(out.headers, {
          'X-RateLimit-Limit': String(limit),
          'X-RateLimit-Remaining': String(limited ? 0 : Math.max(0, limit - recentCount(emu, name, 60000))),
          'X-RateLimit-Reset': String(Math.floor(Date.now() / 1000) + (fault && fault.retryAfter != null ? fault.retryAfter : 60)),
        });
      }
      return out;
    },
    errors: {
      unauthorized(ctx, state) { return clioUnauthorized(state); },
      rateLimited(ctx, retryAfter) {
        const out = cerr(429, 'RateLimited', 'Too Many Requests');
        out.headers = {};
        if (retryAfter !== null && retryAfter !== undefined) out.headers['Retry-After'] = String(retryAfter);
        return out;
      },
      limitExceeded() { return cerr(429, 'RateLimited', 'Too Many Requests'); },
      serverError(ctx, status) { return cerr(status, status === 503 ? 'ServiceUnavailable' : 'InternalServerError', 'Something went wrong on our end'); },
      notFound(ctx, why) { return why === 'method' ? cerr(405, 'MethodNotAllowed', `${ctx.method} is not allowed on ${ctx.path}`) : cerr(404, 'RecordNotFound', `No route matches ${ctx.path}`); },
      badJson(ctx, msg) { return badReq(`The request body is not valid JSON: ${msg}`); },
    },
    seedContact(c) {
      const phones = [...(c.phones || [])];
      if (c.phone) phones.unshift(c.phone);
      if (c.mobile) phones.push(c.mobile);
      const createdMs = toMs(c.createdAt);
      return newContact({ type: c.type === 'Company' ? 'Company' : 'Person', name: c.name, first_name: c.firstName, last_name: c.lastName, phone_numbers: phones.map((n, i) => ({ number: n, name: i === 0 ? 'Work' : 'Mobile', default_number: i === 0 })), email_addresses: c.email ? [{ address: c.email }] : [] }, createdMs, toMs(c.updatedAt, createdMs), c.id);
    },
    seedRaw(col, raw) {
      if (col === 'contacts') return this.seedContact(raw);
      throw new Error('clio seeds contacts only; create communications through the API');
    },
    defineField() { throw new Error('clio has no custom fields in the emulator (use external_properties)'); },
    routes: [
      { method: 'POST', path: '/oauth/token', handler: token, auth: false, kind: 'auth' },
      { method: 'GET', path: '/oauth/authorize', handler: (ctx) => authorize(ctx, consent), auth: false, kind: 'auth' },
      { method: 'POST', path: '/oauth/authorize', handler: (ctx) => authorize(ctx, consent), auth: false, kind: 'auth' },
      { method: 'POST', path: '/oauth/deauthorize', handler: deauthorize, auth: false, kind: 'auth' },
      { method: 'GET', path: '/api/v4/users/who_am_i.json', handler: api(whoAmI) },
      { method: 'GET', path: '/api/v4/users.json', handler: api(usersList) },
      { method: 'GET', path: '/api/v4/users/:id.json', handler: api(userGet) },
      { method: 'GET', path: '/api/v4/contacts.json', handler: api(listContacts) },
      { method: 'POST', path: '/api/v4/contacts.json', handler: api(createContact) },
      { method: 'GET', path: '/api/v4/contacts/:id/phone_numbers.json', handler: api(contactPhones) },
      { method: 'GET', path: '/api/v4/contacts/:id.json', handler: api(getContact) },
      { method: 'PATCH', path: '/api/v4/contacts/:id.json', handler: api(patchContact) },
      { method: 'GET', path: '/api/v4/communications.json', handler: api(listComms) },
      { method: 'POST', path: '/api/v4/communications.json', handler: api(createComm) },
      { method: 'GET', path: '/api/v4/communications/:id.json', handler: api(getComm) },
      { method: 'PATCH', path: '/api/v4/communications/:id.json', handler: api(patchComm) },
      { method: 'DELETE', path: '/api/v4/communications/:id.json', handler: api(deleteGeneric('communications', 'Communication')) },
      { method: 'GET', path: '/api/v4/notes.json', handler: api(listNotes) },
      { method: 'POST', path: '/api/v4/notes.json', handler: api(createNote) },
      { method: 'GET', path: '/api/v4/notes/:id.json', handler: api(getNote) },
      { method: 'PATCH', path: '/api/v4/notes/:id.json', handler: api(patchNote) },
      { method: 'DELETE', path: '/api/v4/notes/:id.json', handler: api(deleteGeneric('notes', 'Note')) },
      { method: 'GET', path: '/api/v4/activities.json', handler: api(listActivities) },
      { method: 'POST', path: '/api/v4/activities.json', handler: api(createActivity) },
      { method: 'GET', path: '/api/v4/activities/:id.json', handler: api(getActivity) },
    ],
  };
}
