// Pipedrive subset: v1 callLogs, notes, activityTypes, persons (legacy), itemSearch; v2 persons,
// persons/search and activities; v1 users (me, list, find, by id); OAuth authorize page, token and
// revoke. Base URL: http://127.0.0.1:PORT/pipedrive, then /v1/... and /api/v2/... (stands for
// https://{company}.pipedrive.com / api_domain) and /oauth/... (stands for https://oauth.pipedrive.com).

import { uuid, isoSec, pipedriveV1Time, toMs, isObj, typeName, digitsOf, looksLikePhone, isRfc3339, isDate, recentCount, dailyCount } from '../lib/util.mjs';
import { bearer, basicCreds } from '../lib/auth.mjs';
import { authorize } from '../lib/consent.mjs';

const INFO = 'Please check developers.pipedrive.com for more information about Pipedrive API.';
const OUTCOMES = ['connected', 'no_answer', 'left_message', 'left_voicemail', 'wrong_number', 'busy'];
const BUILTIN_TYPES = ['call', 'meeting', 'task', 'deadline', 'email', 'lunch'];
const V1_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

export default function pipedrive(emu, realm = { key: 'pipedrive' }) {
  const name = realm.key;
  let store;
  const users = () => emu.users[name];
  const me = (ctx) => Number(ctx.user().id);
  // owner_id / user_id on a write must name an active user of the company.
  function checkUser(ctx, field, id) {
    if (id === undefined || id === null) return null;
    const u = users().get(id);
    if (u && u.active) return null;
    return isV2(ctx) ? v2err(400, `Validation failed: ${field}: User with id ${id} does not exist or is not active`) : v1err(404, 'User not found', { error_info: 'Object was not found.' });
  }

  const v1err = (status, error, extra = {}) => ({ status, body: { success: false, error, error_info: INFO, data: null, additional_data: null, ...extra } });
  const v2err = (status, error, code = 'ERR_SCHEMA_VALIDATION_FAILED') => ({ status, body: { success: false, error, code, error_info: INFO, data: null, additional_data: null } });
  const isV2 = (ctx) => ctx.path.startsWith('/api/v2/');
  const bad = (ctx, msg) => (isV2(ctx) ? v2err(400, msg) : v1err(400, msg));
  const notFoundEntity = (ctx, what) => (isV2(ctx) ? v2err(404, `${what} not found`, 'ERR_NOT_FOUND') : v1err(404, 'Entity was not found', { error_info: 'Object was not found.' }));

  // ---------- schema checking ----------
  // Each spec: {key: type} where type is 'string'|'integer'|'boolean'|'number'|'object'|'array'|fn(v)->msg|null
  function checkShape(ctx, body, spec, required = [], where = 'body') {
    if (!isObj(body)) return bad(ctx, `Validation failed: ${where} must be a JSON object, got ${typeName(body)}`);
    for (const [k, v] of Object.entries(body)) {
      const t = spec[k];
      if (!t) return bad(ctx, `Validation failed: ${k}: Parameter '${k}' is not allowed for this request (unknown field)`);
      if (v === null) continue;
      if (typeof t === 'function') { const m = t(v); if (m) return bad(ctx, `Validation failed: ${k}: ${m}`); continue; }
      const ok = t === 'integer' ? Number.isInteger(v) : t === 'array' ? Array.isArray(v) : t === 'object' ? isObj(v) : typeof v === t;
      if (!ok) return bad(ctx, `Validation failed: ${k}: Parameter '${k}' must be ${t === 'integer' ? 'an integer' : `a ${t}`}, got ${typeName(v)}`);
    }
    for (const k of required) if (body[k] === undefined || body[k] === null || body[k] === '') return bad(ctx, `Validation failed: ${k}: Parameter '${k}' is required`);
    return null;
  }
  const itemList = (v) => (!Array.isArray(v) ? 'must be an array' : v.some((x) => !isObj(x) || typeof x.value !== 'string' || (x.primary !== undefined && typeof x.primary !== 'boolean') || (x.label !== undefined && typeof x.label !== 'string') || Object.keys(x).some((k) => !['value', 'primary', 'label'].includes(k))) ? 'items must be {value: string, primary?: boolean, label?: string}' : null);
  const timeV2 = (v) => (typeof v === 'string' && isRfc3339(v) ? null : 'must be an RFC 3339 date-time string');
  const dateStr = (v) => (isDate(v) ? null : 'must be a date YYYY-MM-DD');
  const hhmm = (v) => (typeof v === 'string' && /^([01]\d|2[0-3]):[0-5]\d$/.test(v) ? null : 'must be a time in HH:MM format');
  const durHHMM = (v) => (typeof v === 'string' && /^\d{2,}:[0-5]\d$/.test(v) ? null : 'must be a duration in HH:MM format');

  // ---------- persons ----------
  function newPerson(p, createdMs = Date.now(), updatedMs = createdMs, id) {
    const n = id ?? store.nextId('persons');
    const parts = String(p.name || '').split(' ');
    const rec = {
      id: n, name: p.name, first_name: p.first_name ?? parts[0], last_name: p.last_name ?? (parts.slice(1).join(' ') || null),
      owner_id: p.owner_id ?? 1, org_id: p.org_id ?? null, phones: p.phones || [], emails: p.emails || [],
      visible_to: p.visible_to ?? 3, label_ids: p.label_ids || [], custom_fields: p.custom_fields || {},
      notes: p.notes ?? null, job_title: p.job_title ?? null, is_deleted: false,
      _createdMs: createdMs, _updatedMs: updatedMs,
    };
    store.col('persons').set(n, rec);
    return rec;
  }
  function renderPersonV2(r) {
    const out = { id: r.id, name: r.name, first_name: r.first_name, owner_id: r.owner_id, add_time: isoSec(r._createdMs), update_time: isoSec(r._updatedMs), emails: r.emails, phones: r.phones, is_deleted: r.is_deleted, visible_to: r.visible_to, label_ids: r.label_ids, custom_fields: r.custom_fields };
    if (r.last_name) out.last_name = r.last_name;
    if (r.org_id) out.org_id = r.org_id;
    if (r.job_title) out.job_title = r.job_title;
    if (r.notes) out.notes = r.notes;
    return out;
  }
  function renderPersonV1(r) {
    return { id: r.id, name: r.name, first_name: r.first_name, last_name: r.last_name, owner_id: { id: r.owner_id, value: r.owner_id }, org_id: r.org_id, phone: r.phones.length ? r.phones : [{ value: '', primary: true }], email: r.emails.length ? r.emails : [{ value: '', primary: true }], add_time: pipedriveV1Time(r._createdMs), update_time: pipedriveV1Time(r._updatedMs), active_flag: !r.is_deleted, visible_to: String(r.visible_to), ...r.custom_fields };
  }
  const personSpecV2 = () => ({ name: 'string', owner_id: 'integer', org_id: 'integer', add_time: timeV2, emails: itemList, phones: itemList, visible_to: 'integer', label_ids: 'array', postal_address: 'object', notes: 'string', im: itemList, birthday: dateStr, job_title: 'string', marketing_status: (v) => (['no_consent', 'unsubscribed', 'subscribed', 'archived'].includes(v) ? null : 'must be one of no_consent, unsubscribed, subscribed, archived'), custom_fields: (v) => checkCustom('persons', v) });
  function checkCustom(entity, v) {
    if (!isObj(v)) return 'must be an object';
    const defs = store.meta.customFields[entity];
    for (const [k, val] of Object.entries(v)) {
      const d = defs[k];
      if (!d) return `custom field '${k}' does not exist`;
      if (val !== null && d.type === 'varchar' && typeof val !== 'string') return `custom field '${k}' must be a string`;
      if (val !== null && (d.type === 'double' || d.type === 'int') && typeof val !== 'number') return `custom field '${k}' must be a number`;
    }
    return null;
  }

  function createPersonV2(ctx) {
    const e = checkShape(ctx, ctx.body, personSpecV2(), ['name']);
    if (e) return e;
    const b = ctx.body;
    const ue = checkUser(ctx, 'owner_id', b.owner_id); if (ue) return ue;
    const r = newPerson({ ...b, owner_id: b.owner_id ?? me(ctx), phones: normPrimary(b.phones), emails: normPrimary(b.emails) }, b.add_time ? Date.parse(b.add_time) : Date.now());
    emu.stampNew(ctx, r);
    return { status: 200, body: { success: true, data: renderPersonV2(r) } };
  }
  function normPrimary(list) {
    if (!list) return [];
    return list.map((x, i) => ({ value: x.value, primary: x.primary ?? i === 0, label: x.label ?? 'work' }));
  }
  function getPerson(ctx) {
    const r = store.col('persons').get(Number(ctx.params.id));
    if (!r || r.is_deleted) return notFoundEntity(ctx, 'Person');
    return { status: 200, body: { success: true, data: isV2(ctx) ? renderPersonV2(r) : renderPersonV1(r) } };
  }
  function patchPersonV2(ctx) {
    const r = store.col('persons').get(Number(ctx.params.id));
    if (!r || r.is_deleted) return notFoundEntity(ctx, 'Person');
    const spec = personSpecV2(); delete spec.add_time;
    const e = checkShape(ctx, ctx.body, spec);
    if (e) return e;
    const ue = checkUser(ctx, 'owner_id', ctx.body.owner_id); if (ue) return ue;
    const b = { ...ctx.body };
    if (b.phones) b.phones = normPrimary(b.phones);
    if (b.emails) b.emails = normPrimary(b.emails);
    if (b.custom_fields) b.custom_fields = { ...r.custom_fields, ...b.custom_fields };
    Object.assign(r, b);
    r._updatedMs = Date.now();
    return { status: 200, body: { success: true, data: renderPersonV2(r) } };
  }
  function cursorPage(ctx, items, limitDefault = 100, max = 500) {
    const limit = ctx.query.get('limit') ? Number(ctx.query.get('limit')) : limitDefault;
    if (!Number.isInteger(limit) || limit < 1 || limit > max) return { error: v2err(400, `Validation failed: limit: Parameter 'limit' must be an integer between 1 and ${max}`) };
    let off = 0;
    const c = ctx.query.get('cursor');
    if (c) {
      try { off = JSON.parse(Buffer.from(c, 'base64url').toString()).o; } catch { off = NaN; }
      if (!Number.isInteger(off)) return { error: v2err(400, 'Validation failed: cursor: invalid cursor') };
    }
    const page = items.slice(off, off + limit);
    const more = off + limit < items.length;
    return { page, additional_data: { next_cursor: more ? Buffer.from(JSON.stringify({ o: off + limit })).toString('base64url') : null } };
  }
  function sortFilter(ctx, list, sortFields) {
    const us = ctx.query.get('updated_since'); const uu = ctx.query.get('updated_until');
    if (us && !isRfc3339(us)) return { error: v2err(400, "Validation failed: updated_since: must be RFC 3339") };
    if (uu && !isRfc3339(uu)) return { error: v2err(400, "Validation failed: updated_until: must be RFC 3339") };
    if (us) list = list.filter((r) => r._updatedMs >= Date.parse(us));
    if (uu) list = list.filter((r) => r._updatedMs < Date.parse(uu));
    const ids = ctx.query.get('ids');
    if (ids) { const set = new Set(ids.split(',').map(Number)); list = list.filter((r) => set.has(r.id)); }
    const by = ctx.query.get('sort_by') || 'id';
    const dir = ctx.query.get('sort_direction') || 'asc';
    if (!sortFields.includes(by)) return { error: v2err(400, `Validation failed: sort_by: must be one of ${sortFields.join(', ')}`) };
    if (!['asc', 'desc'].includes(dir)) return { error: v2err(400, 'Validation failed: sort_direction: must be asc or desc') };
    const key = (r) => (by === 'update_time' ? r._updatedMs : by === 'add_time' ? r._createdMs : by === 'due_date' ? String(r.due_date || '') : r.id);
    list.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.id - b.id) * (dir === 'desc' ? -1 : 1));
    return { list };
  }
  function listPersonsV2(ctx) {
    let list = [...store.col('persons').values()].filter((r) => !r.is_deleted && emu.visible(r, 'list'));
    if (ctx.query.get('owner_id')) list = list.filter((r) => r.owner_id === Number(ctx.query.get('owner_id')));
    if (ctx.query.get('org_id')) list = list.filter((r) => r.org_id === Number(ctx.query.get('org_id')));
    const s = sortFilter(ctx, list, ['id', 'update_time', 'add_time']);
    if (s.error) return s.error;
    const p = cursorPage(ctx, s.list);
    if (p.error) return p.error;
    return { status: 200, body: { success: true, data: p.page.map(renderPersonV2), additional_data: p.additional_data } };
  }

  // search semantics shared by v2 persons/search, v1 persons/search and v1 itemSearch
  function searchPersons(ctx, { v2 }) {
    const term = ctx.query.get('term');
    const exact = ['true', '1'].includes(ctx.query.get('exact_match'));
    const fieldsParam = ctx.query.get('fields');
    const allowed = ['custom_fields', 'email', 'notes', 'phone', 'name'];
    const fields = fieldsParam ? fieldsParam.split(',') : allowed;
    const mk = (m) => (v2 ? v2err(400, m) : v1err(400, m));
    if (term === null || term === undefined) return { error: mk("Validation failed: term: Parameter 'term' is required") };
    if (term.trim().length < (exact ? 1 : 2)) return { error: mk(`Validation failed: term: Search term must be at least ${exact ? 1 : 2} characters long`) };
    for (const f of fields) if (!allowed.includes(f)) return { error: mk(`Validation failed: fields: '${f}' is not one of ${allowed.join(', ')}`) };
    const t = term.trim().toLowerCase();
    const phoneLike = looksLikePhone(term);
    const match = (v, isPhone) => {
      if (v === null || v === undefined || v === '') return false;
      const s = String(v).trim().toLowerCase();
      if (exact) return s === t;
      if (s.includes(t)) return true;
      return isPhone && phoneLike && digitsOf(s).includes(digitsOf(t));
    };
    const items = [];
    for (const r of store.col('persons').values()) {
      if (r.is_deleted || !emu.visible(r, 'search')) continue;
      let hit = false;
      if (fields.includes('name') && match(r.name, false)) hit = true;
      if (fields.includes('phone') && r.phones.some((p) => match(p.value, true))) hit = true;
      if (fields.includes('email') && r.emails.some((p) => match(p.value, false))) hit = true;
      if (fields.includes('notes') && match(r.notes, false)) hit = true;
      if (fields.includes('custom_fields') && Object.values(r.custom_fields).some((x) => match(x, false))) hit = true;
      if (hit) items.push(r);
    }
    items.sort((a, b) => a.id - b.id);
    return {
      items: items.map((r) => {
        const item = { id: r.id, type: 'person', name: r.name, phones: r.phones.map((p) => p.value), emails: r.emails.map((p) => p.value), visible_to: r.visible_to, owner: { id: r.owner_id }, custom_fields: [], notes: r.notes ? [r.notes] : [] };
        if (r.org_id) item.organization = { id: r.org_id, name: `Organization ${r.org_id}` };
        return { result_score: exact ? 1 : 0.5, item };
      }),
    };
  }
  function searchPersonsV2(ctx) {
    const s = searchPersons(ctx, { v2: true });
    if (s.error) return s.error;
    const p = cursorPage(ctx, s.items, 100, 500);
    if (p.error) return p.error;
    return { status: 200, body: { success: true, data: { items: p.page }, additional_data: p.additional_data } };
  }
  function startLimit(ctx, items, def = 100, max = 500) {
    const start = Number(ctx.query.get('start') ?? 0);
    const limit = Number(ctx.query.get('limit') ?? def);
    if (!Number.isInteger(start) || start < 0) return { error: v1err(400, 'start must be a non-negative integer') };
    if (!Number.isInteger(limit) || limit < 1 || limit > max) return { error: v1err(400, `limit must be an integer between 1 and ${max}`) };
    const page = items.slice(start, start + limit);
    const more = start + limit < items.length;
    const pagination = { start, limit, more_items_in_collection: more };
    if (more) pagination.next_start = start + limit;
    return { page, pagination };
  }
  function searchPersonsV1(ctx) {
    const s = searchPersons(ctx, { v2: false });
    if (s.error) return s.error;
    const p = startLimit(ctx, s.items);
    if (p.error) return p.error;
    return { status: 200, body: { success: true, data: { items: p.page }, additional_data: { pagination: p.pagination } } };
  }
  function itemSearch(ctx) {
    const types = (ctx.query.get('item_types') || 'person').split(',');
    if (types.some((x) => !['deal', 'person', 'organization', 'product', 'lead', 'file', 'mail_attachment', 'project'].includes(x))) return v1err(400, 'item_types has an unknown type');
    const s = types.includes('person') ? searchPersons(ctx, { v2: false }) : { items: [] };
    if (s.error) return s.error;
    const p = startLimit(ctx, s.items);
    if (p.error) return p.error;
    return { status: 200, body: { success: true, data: { items: p.page, related_items: [] }, additional_data: { pagination: p.pagination } } };
  }
  function createPersonV1(ctx) {
    const phoneV1 = (v) => (typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string' || (isObj(x) && typeof x.value === 'string'))) ? null : 'must be a string or an array of {value, primary, label}');
    const e = checkShape(ctx, ctx.body, { name: 'string', owner_id: 'integer', org_id: 'integer', email: phoneV1, phone: phoneV1, visible_to: (v) => (['1', '3', '5', '7', 1, 3, 5, 7].includes(v) ? null : 'must be 1, 3, 5 or 7'), add_time: (v) => (V1_TIME.test(v) ? null : 'must be YYYY-MM-DD HH:MM:SS'), label: 'integer', marketing_status: 'string' }, ['name']);
    if (e) return e;
    const b = ctx.body;
    const ue = checkUser(ctx, 'owner_id', b.owner_id); if (ue) return ue;
    const norm = (v) => (v === undefined ? [] : (typeof v === 'string' ? [{ value: v }] : v.map((x) => (typeof x === 'string' ? { value: x } : x))));
    const r = newPerson({ ...b, owner_id: b.owner_id ?? me(ctx), phones: normPrimary(norm(b.phone)), emails: normPrimary(norm(b.email)), visible_to: b.visible_to ? Number(b.visible_to) : 3 }, b.add_time ? Date.parse(b.add_time.replace(' ', 'T') + 'Z') : Date.now());
    emu.stampNew(ctx, r);
    return { status: 201, body: { success: true, data: renderPersonV1(r) } };
  }
  function listPersonsV1(ctx) {
    const list = [...store.col('persons').values()].filter((r) => !r.is_deleted && emu.visible(r, 'list')).sort((a, b) => a.id - b.id);
    const p = startLimit(ctx, list);
    if (p.error) return p.error;
    return { status: 200, body: { success: true, data: p.page.map(renderPersonV1), additional_data: { pagination: p.pagination } } };
  }

  // ---------- activities (v2) ----------
  function typeKeys() { return [...store.col('activityTypes').values()].filter((t) => t.active_flag).map((t) => t.key_string); }
  const activitySpec = () => ({
    subject: 'string', type: (v) => (typeof v === 'string' && typeKeys().includes(v) ? null : `must be an existing activity type key (${typeKeys().join(', ')})`),
    owner_id: 'integer', deal_id: 'integer', lead_id: 'string', person_id: 'integer', org_id: 'integer', project_id: 'integer',
    due_date: dateStr, due_time: hhmm, duration: durHHMM, busy: 'boolean', done: 'boolean', location: 'object',
    participants: (v) => (Array.isArray(v) && v.every((p) => isObj(p) && Number.isInteger(p.person_id) && Object.keys(p).every((k) => ['person_id', 'primary'].includes(k))) ? null : 'must be an array of {person_id: integer, primary?: boolean}'),
    attendees: 'array', public_description: 'string', priority: 'integer', note: 'string',
  });
  function checkRefs(ctx, b) {
    const ids = [];
    if (b.person_id) ids.push(b.person_id);
    for (const p of b.participants || []) ids.push(p.person_id);
    for (const id of ids) { const r = store.col('persons').get(id); if (!r || r.is_deleted) return bad(ctx, `Validation failed: person_id: Person with id ${id} does not exist`); }
    return null;
  }
  function renderActivity(r) {
    const out = {};
    for (const [k, v] of Object.entries(r)) if (!k.startsWith('_') && v !== null && v !== undefined) out[k] = v;
    out.add_time = isoSec(r._createdMs);
    out.update_time = isoSec(r._updatedMs);
    return out;
  }
  function createActivity(ctx) {
    const e = checkShape(ctx, ctx.body, activitySpec());
    if (e) return e;
    const b = ctx.body;
    const refs = checkRefs(ctx, b); if (refs) return refs;
    const ue = checkUser(ctx, 'owner_id', b.owner_id); if (ue) return ue;
    const id = store.nextId('activities');
    const now = Date.now();
    const rec = { id, subject: b.subject ?? (b.type ? b.type[0].toUpperCase() + b.type.slice(1) : 'Call'), type: b.type ?? 'call', owner_id: b.owner_id ?? me(ctx), creator_user_id: me(ctx), is_deleted: false, done: b.done ?? false, busy: b.busy ?? false, ...b, _createdMs: now, _updatedMs: now };
    if (rec.done) rec.marked_as_done_time = isoSec(now);
    if (!rec.participants && rec.person_id) rec.participants = [{ person_id: rec.person_id, primary: true }];
    store.col('activities').set(id, rec);
    emu.stampNew(ctx, rec);
    return { status: 200, body: { success: true, data: renderActivity(rec) } };
  }
  function getActivity(ctx) {
    const r = store.col('activities').get(Number(ctx.params.id));
    if (!r || r.is_deleted) return notFoundEntity(ctx, 'Activity');
    return { status: 200, body: { success: true, data: renderActivity(r) } };
  }
  function patchActivity(ctx) {
    const r = store.col('activities').get(Number(ctx.params.id));
    if (!r || r.is_deleted) return notFoundEntity(ctx, 'Activity');
    const e = checkShape(ctx, ctx.body, activitySpec());
    if (e) return e;
    const refs = checkRefs(ctx, ctx.body); if (refs) return refs;
    const ue = checkUser(ctx, 'owner_id', ctx.body.owner_id); if (ue) return ue;
    const wasDone = r.done;
    Object.assign(r, ctx.body);
    r._updatedMs = Date.now();
    if (r.done && !wasDone) r.marked_as_done_time = isoSec(r._updatedMs);
    return { status: 200, body: { success: true, data: renderActivity(r) } };
  }
  function deleteActivity(ctx) {
    const r = store.col('activities').get(Number(ctx.params.id));
    if (!r || r.is_deleted) return notFoundEntity(ctx, 'Activity');
    r.is_deleted = true; r._updatedMs = Date.now();
    return { status: 200, body: { success: true, data: { id: r.id } } };
  }
  function listActivities(ctx) {
    let list = [...store.col('activities').values()].filter((r) => !r.is_deleted && emu.visible(r, 'list'));
    for (const k of ['person_id', 'deal_id', 'org_id', 'owner_id']) if (ctx.query.get(k)) list = list.filter((r) => r[k] === Number(ctx.query.get(k)) || (k === 'person_id' && (r.participants || []).some((p) => p.person_id === Number(ctx.query.get(k)))));
    if (ctx.query.get('done') !== null) list = list.filter((r) => r.done === ['true', '1'].includes(ctx.query.get('done')));
    const s = sortFilter(ctx, list, ['id', 'update_time', 'add_time', 'due_date']);
    if (s.error) return s.error;
    const p = cursorPage(ctx, s.list);
    if (p.error) return p.error;
    return { status: 200, body: { success: true, data: p.page.map(renderActivity), additional_data: p.additional_data } };
  }

  // ---------- activity types (v1) ----------
  function renderType(t) { const { _createdMs, ...rest } = t; return rest; }
  function listTypes() { return { status: 200, body: { success: true, data: [...store.col('activityTypes').values()].map(renderType) } }; }
  function createType(ctx) {
    const e = checkShape(ctx, ctx.body, { name: 'string', icon_key: 'string', color: (v) => (typeof v === 'string' && /^[0-9A-Fa-f]{6}$/.test(v) ? null : 'must be a 6-character hex color') }, ['name', 'icon_key']);
    if (e) return e;
    return { status: 200, body: { success: true, data: renderType(addType(ctx.body.name, ctx.body.icon_key, true, ctx.body.color)) } };
  }
  function addType(nm, icon, custom, color) {
    const id = store.nextId('activityTypes');
    const key = custom ? nm.toLowerCase().replace(/[^a-z0-9]+/g, '_') : nm.toLowerCase();
    const t = { id, name: nm, icon_key: icon, color: color ?? null, order_nr: id, key_string: key, active_flag: true, is_custom_flag: !!custom, add_time: isoSec(Date.now()), update_time: isoSec(Date.now()) };
    if (t.color === null) delete t.color;
    store.col('activityTypes').set(id, t);
    return t;
  }

  // ---------- callLogs (v1) ----------
  const callTime = (v) => (typeof v === 'string' && (V1_TIME.test(v) || isRfc3339(v)) && !Number.isNaN(Date.parse(v.replace(' ', 'T') + (V1_TIME.test(v) ? 'Z' : ''))) ? null : 'must be a UTC date-time in the format YYYY-MM-DD HH:MM:SS');
  const callLogSpec = {
    user_id: 'integer', activity_id: 'integer', subject: 'string',
    duration: (v) => (typeof v === 'string' && /^\d+$/.test(v) ? null : `must be a string holding whole seconds (e.g. "125"), got ${typeName(v)} ${JSON.stringify(v)}`),
    outcome: (v) => (OUTCOMES.includes(v) ? null : `must be one of ${OUTCOMES.join(', ')}`),
    from_phone_number: 'string', to_phone_number: 'string', start_time: callTime, end_time: callTime,
    person_id: 'integer', org_id: 'integer', deal_id: 'integer',
    lead_id: (v) => (typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v) ? null : 'must be a UUID'),
    note: 'string',
  };
  const t2ms = (v) => Date.parse(V1_TIME.test(v) ? v.replace(' ', 'T') + 'Z' : v);
  function renderCallLog(r) {
    const out = {};
    for (const [k, v] of Object.entries(r)) if (!k.startsWith('_') && v !== null && v !== undefined) out[k] = v;
    return out;
  }
  function createCallLog(ctx) {
    const e = checkShape(ctx, ctx.body, callLogSpec, ['to_phone_number', 'outcome', 'start_time', 'end_time']);
    if (e) return e;
    const b = ctx.body;
    if (b.deal_id && b.lead_id) return v1err(400, 'A call log can be associated with either a deal or a lead, but not both at once.');
    const ue = checkUser(ctx, 'user_id', b.user_id); if (ue) return ue;
    if (t2ms(b.end_time) < t2ms(b.start_time)) return v1err(400, 'end_time must not be before start_time');
    if (b.person_id) { const p = store.col('persons').get(b.person_id); if (!p || p.is_deleted) return v1err(404, 'Person not found', { error_info: 'Object was not found.' }); }
    if (b.activity_id) {
      const a = store.col('activities').get(b.activity_id);
      if (!a || a.is_deleted) return v1err(404, 'Activity not found', { error_info: 'Object was not found.' });
      if (a.type !== 'call') return v1err(400, 'The activity_id must refer to a call type activity');
    }
    const id = uuid().replace(/-/g, '');
    const rec = { id, ...b, user_id: b.user_id ?? me(ctx), has_recording: false, company_id: 1, _createdMs: Date.now() };
    store.col('callLogs').set(id, rec);
    emu.stampNew(ctx, rec);
    return { status: 200, body: { success: true, data: renderCallLog(rec) } };
  }
  function getCallLog(ctx) {
    const r = store.col('callLogs').get(ctx.params.id);
    if (!r || r._deleted) return v1err(404, 'Call log not found', { error_info: 'Object was not found.' });
    return { status: 200, body: { success: true, data: renderCallLog(r) } };
  }
  function deleteCallLog(ctx) {
    const r = store.col('callLogs').get(ctx.params.id);
    if (!r || r._deleted) return v1err(404, 'Call log not found', { error_info: 'Object was not found.' });
    r._deleted = true;
    return { status: 200, body: { success: true } };
  }
  function listCallLogs(ctx) {
    const list = [...store.col('callLogs').values()].filter((r) => !r._deleted && emu.visible(r, 'list')).sort((a, b) => a._createdMs - b._createdMs);
    const p = startLimit(ctx, list, 100, 50 * 10);
    if (p.error) return p.error;
    return { status: 200, body: { success: true, data: p.page.map(renderCallLog), additional_data: { pagination: { start: p.pagination.start, limit: p.pagination.limit, more_items_in_collection: p.pagination.more_items_in_collection } } } };
  }
  function addRecording(ctx) {
    const r = store.col('callLogs').get(ctx.params.id);
    if (!r || r._deleted) return v1err(404, 'Call log not found', { error_info: 'Object was not found.' });
    if (!ctx.contentType.startsWith('multipart/form-data')) return v1err(400, 'The recording must be uploaded as multipart/form-data with a "file" part');
    if (!/name="file"/.test(ctx.rawBody)) return v1err(400, 'Missing "file" part');
    r.has_recording = true;
    return { status: 200, body: { success: true } };
  }

  // ---------- notes (v1) ----------
  const flag = (v) => ([0, 1].includes(v) ? null : 'must be 0 or 1');
  const noteSpec = { content: 'string', lead_id: callLogSpec.lead_id, deal_id: 'integer', person_id: 'integer', org_id: 'integer', project_id: 'integer', task_id: 'integer', user_id: 'integer', add_time: (v) => (V1_TIME.test(v) ? null : 'must be YYYY-MM-DD HH:MM:SS'), pinned_to_lead_flag: flag, pinned_to_deal_flag: flag, pinned_to_organization_flag: flag, pinned_to_person_flag: flag, pinned_to_project_flag: flag, pinned_to_task_flag: flag };
  function renderNote(r, ctx) {
    const u = users().get(r.user_id) || users().default();
    const out = { id: r.id, active_flag: !r._deleted, add_time: pipedriveV1Time(r._createdMs), update_time: pipedriveV1Time(r._updatedMs), content: r.content, user_id: r.user_id, last_update_user_id: r.user_id, pinned_to_deal_flag: !!r.pinned_to_deal_flag, pinned_to_organization_flag: !!r.pinned_to_organization_flag, pinned_to_person_flag: !!r.pinned_to_person_flag, pinned_to_project_flag: !!r.pinned_to_project_flag, pinned_to_task_flag: !!r.pinned_to_task_flag, user: { email: u.email, icon_url: '', is_you: ctx ? String(ctx.user().id) === String(u.id) : true, name: u.name } };
    for (const k of ['person_id', 'deal_id', 'org_id', 'lead_id', 'project_id', 'task_id']) if (r[k] != null) out[k] = r[k];
    if (r.person_id) { const p = store.col('persons').get(r.person_id); if (p) out.person = { name: p.name }; }
    return out;
  }
  function createNote(ctx) {
    const e = checkShape(ctx, ctx.body, noteSpec, ['content']);
    if (e) return e;
    const b = ctx.body;
    if (!['person_id', 'deal_id', 'org_id', 'lead_id', 'project_id'].some((k) => b[k] != null)) return v1err(400, 'The note must be attached to a deal, person, organization, lead or project (deal_id, person_id, org_id, lead_id or project_id).');
    if (b.person_id) { const p = store.col('persons').get(b.person_id); if (!p || p.is_deleted) return v1err(404, 'Person not found', { error_info: 'Object was not found.' }); }
    const ue = checkUser(ctx, 'user_id', b.user_id); if (ue) return ue;
    const id = store.nextId('notes');
    const created = b.add_time ? Date.parse(b.add_time.replace(' ', 'T') + 'Z') : Date.now();
    const rec = { id, ...b, user_id: b.user_id ?? me(ctx), _createdMs: created, _updatedMs: Date.now() };
    store.col('notes').set(id, rec);
    emu.stampNew(ctx, rec);
    return { status: 200, body: { success: true, data: renderNote(rec, ctx) } };
  }
  function getNote(ctx) {
    const r = store.col('notes').get(Number(ctx.params.id));
    if (!r || r._deleted) return notFoundEntity(ctx, 'Note');
    return { status: 200, body: { success: true, data: renderNote(r, ctx) } };
  }
  function updateNote(ctx) {
    const r = store.col('notes').get(Number(ctx.params.id));
    if (!r || r._deleted) return notFoundEntity(ctx, 'Note');
    const e = checkShape(ctx, ctx.body, noteSpec);
    if (e) return e;
    const ue = checkUser(ctx, 'user_id', ctx.body.user_id); if (ue) return ue;
    Object.assign(r, ctx.body);
    r._updatedMs = Date.now();
    return { status: 200, body: { success: true, data: renderNote(r, ctx) } };
  }
  function deleteNote(ctx) {
    const r = store.col('notes').get(Number(ctx.params.id));
    if (!r || r._deleted) return notFoundEntity(ctx, 'Note');
    r._deleted = true;
    return { status: 200, body: { success: true, data: true } };
  }
  function listNotes(ctx) {
    let list = [...store.col('notes').values()].filter((r) => !r._deleted && emu.visible(r, 'list'));
    for (const k of ['person_id', 'deal_id', 'org_id', 'user_id']) if (ctx.query.get(k)) list = list.filter((r) => r[k] === Number(ctx.query.get(k)));
    if (ctx.query.get('lead_id')) list = list.filter((r) => r.lead_id === ctx.query.get('lead_id'));
    const us = ctx.query.get('updated_since');
    if (us) list = list.filter((r) => r._updatedMs >= Date.parse(us.includes('T') ? us : us.replace(' ', 'T') + 'Z'));
    list.sort((a, b) => a.id - b.id);
    const p = startLimit(ctx, list);
    if (p.error) return p.error;
    return { status: 200, body: { success: true, data: p.page.map((r) => renderNote(r, ctx)), additional_data: { pagination: p.pagination } } };
  }

  // ---------- users (v1) ----------
  const companyDomain = () => emu.config.pipedriveCompanyDomain ?? 'emulator';
  function renderUser(u, ctx) {
    return {
      id: Number(u.id), name: u.name, default_currency: u.default_currency ?? 'USD', locale: u.locale ?? 'en_US', lang: 1, email: u.email, phone: u.phone ?? null,
      activated: u.active, last_login: pipedriveV1Time(Date.now()), created: pipedriveV1Time(u.createdMs), modified: pipedriveV1Time(u.createdMs),
      has_created_company: u.id === users().defaultId, access: [{ app: 'sales', admin: u.admin ?? u.id === users().defaultId, permission_set_id: '00000000-0000-4000-8000-000000000001' }],
      active_flag: u.active, timezone_name: u.timezone_name ?? 'UTC', timezone_offset: '+00:00', role_id: 1, icon_url: null,
      is_you: String(ctx.user().id) === u.id, is_deleted: false,
    };
  }
  // GET /v1/users/me: the token's user with the company it belongs to.
  function usersMe(ctx) {
    return { status: 200, body: { success: true, data: { ...renderUser(ctx.user(), ctx), company_id: emu.config.pipedriveCompanyId ?? 7654321, company_name: emu.config.pipedriveCompanyName ?? 'Emulator Company', company_domain: companyDomain(), company_country: 'US', company_industry: emu.config.pipedriveCompanyIndustry ?? 'IT Services', language: { language_code: 'en', country_code: 'US' } } } };
  }
  function usersList(ctx) { return { status: 200, body: { success: true, data: users().list().map((u) => renderUser(u, ctx)) } }; }
  function userGet(ctx) {
    const u = /^\d+$/.test(ctx.params.id) ? users().get(ctx.params.id) : null;
    if (!u) return v1err(404, 'User not found', { error_info: 'Object was not found.' });
    return { status: 200, body: { success: true, data: renderUser(u, ctx) } };
  }
  function usersFind(ctx) {
    const term = ctx.query.get('term');
    if (!term) return v1err(400, "Validation failed: term: Parameter 'term' is required");
    const byEmail = ['1', 'true'].includes(ctx.query.get('search_by_email'));
    const t = term.toLowerCase();
    const hits = users().list().filter((u) => String(byEmail ? u.email : u.name).toLowerCase().includes(t));
    return { status: 200, body: { success: true, data: hits.length ? hits.map((u) => renderUser(u, ctx)) : null } };
  }

  // ---------- OAuth (oauth.pipedrive.com) ----------
  // https://pipedrive.readme.io/docs/marketplace-oauth-authorization and .../marketplace-oauth-and-api-proxy-status-codes:
  // form-encoded; client authenticated by HTTP Basic base64(client_id:client_secret) (the body
  // pair is accepted too, "not recommended"); codes live 5 minutes; the refresh answer carries
  // "the same refresh token ... with the expiry window extended by 60 days"; no PKCE documented.
  const perr = (error, message, status = 400) => ({ status, body: { success: false, message, error, error_description: message } });
  const PD_ERRORS = {
    missing_grant_type: ['invalid_request', 'Missing parameter: `grant_type`'],
    unsupported_grant_type: ['unsupported_grant_type', 'Unsupported grant type: `grant_type` is invalid'],
    missing_client: ['invalid_client', 'Invalid client: cannot retrieve client credentials'],
    missing_secret: ['invalid_client', 'Invalid client: cannot retrieve client credentials'],
    unknown_client: ['invalid_client', 'Invalid client: client is invalid'],
    bad_secret: ['invalid_client', 'Invalid client: client is invalid'],
    missing_code: ['invalid_grant', 'Invalid grant: `authorization_code` is invalid'],
    bad_code: ['invalid_grant', 'Invalid grant: `authorization_code` is invalid'],
    expired_code: ['invalid_grant', 'Invalid grant: `authorization_code` has expired'],
    missing_redirect: ['invalid_request', 'Invalid request: `redirect_uri` is not a valid URI'],
    redirect_mismatch: ['invalid_request', 'Invalid request: `redirect_uri` is invalid'],
    missing_refresh: ['invalid_grant', 'Invalid grant: `refresh_token` is invalid'],
    bad_refresh: ['invalid_grant', 'Invalid grant: `refresh_token` is invalid'],
    rotated_refresh: ['invalid_grant', 'Invalid grant: `refresh_token` is invalid'],
  };
  /** Client credentials: Basic header first, else the body pair; null when neither is complete. */
  function clientCreds(ctx) {
    const basic = basicCreds(ctx.headers);
    if (basic) return basic;
    const b = ctx.body || {};
    return b.client_id && b.client_secret ? { client_id: b.client_id, client_secret: b.client_secret } : null;
  }
  function token(ctx) {
    if (ctx.contentType !== 'application/x-www-form-urlencoded') return perr('invalid_request', 'Invalid request: content must be `application/x-www-form-urlencoded`');
    const b = ctx.body || {};
    const creds = clientCreds(ctx);
    if (!creds) return perr('invalid_client', 'Invalid client: cannot retrieve client credentials');
    if (b.grant_type === 'authorization_code' && b.redirect_uri !== undefined) {
      try { new URL(b.redirect_uri); } catch { return perr('invalid_request', 'Invalid request: `redirect_uri` is not a valid URI'); }
    }
    const ttl = emu.config.pipedriveTokenTtl ?? 3599;
    const g = ctx.tokens.exchange({ ...b, ...creds }, {
      secretCode: 'required', secretRefresh: 'required', pkce: 'ignore', redirectRequired: true,
      codeTtlMs: emu.codeTtlMs(300), accessTtl: ttl, rotation: emu.rotationFor(realm, 'none'), echoRefresh: true,
    });
    if (!g.ok) { const [e, m] = PD_ERRORS[g.kind] || ['invalid_request', g.kind]; return perr(e, m); }
    return { status: 200, body: { access_token: g.accessToken, token_type: 'Bearer', refresh_token: g.refreshToken, scope: (g.scopes || ['base', 'contacts:full', 'activities:full', 'phone-integration', 'users:read']).join(','), expires_in: ttl, api_domain: emu.baseUrl(name) } };
  }
  // POST /oauth/revoke (RFC 7009; https://pipedrive.readme.io/docs/app-uninstallation): Basic auth;
  // a refresh token takes all OAuth data with it (the app is uninstalled), an access token only
  // itself; an unknown token still answers 200.
  function revoke(ctx) {
    if (ctx.contentType !== 'application/x-www-form-urlencoded') return perr('invalid_request', 'Invalid request: content must be `application/x-www-form-urlencoded`');
    const basic = basicCreds(ctx.headers);
    if (!basic) return perr('invalid_client', 'Invalid client: cannot retrieve client credentials', 401);
    const client = ctx.tokens.clients.get(basic.client_id);
    if (!client || client.secret !== basic.client_secret) return perr('invalid_client', 'Invalid client: client is invalid', 401);
    const b = ctx.body || {};
    if (!b.token) return perr('invalid_request', 'Missing parameter: `token`');
    ctx.tokens.revoke(b.token, { refreshCascade: 'grant', accessCascade: 'none', hint: b.token_type_hint });
    return { status: 200, body: null };
  }
  // "Allow and install" / "Cancel"; a refusal comes back as error=user_denied.
  const consent = { vendorName: 'Pipedrive', allowLabel: 'Allow and install', denyLabel: 'Cancel', denyMode: 'redirect', denyParams: { error: 'user_denied' } };

  return {
    name,
    contentType: 'application/json',
    kinds: {
      calls: [['callLogs', (r) => !r._deleted], ['activities', (r) => !r.is_deleted && r.type === 'call']],
      messages: [['notes', (r) => !r._deleted], ['activities', (r) => !r.is_deleted && r.type !== 'call']],
      contacts: [['persons', (r) => !r.is_deleted]],
    },
    init(s) {
      store = s;
      store.meta.customFields = { persons: {}, activities: {} };
      for (const c of ['persons', 'activities', 'callLogs', 'notes', 'activityTypes']) store.col(c);
      const icons = { call: 'call', meeting: 'meeting', task: 'task', deadline: 'deadline', email: 'email', lunch: 'lunch' };
      for (const t of BUILTIN_TYPES) addType(t[0].toUpperCase() + t.slice(1), icons[t], false);
    },
    makeUserIds: (seq) => ({ id: seq }),
    defaultUsers: () => [{ name: 'Emulator Rep', email: 'rep@example.com' }],
    ownership: (rec) => ({ owner: rec.owner_id ?? rec.user_id ?? null, createdBy: rec.creator_user_id ?? rec.user_id ?? rec.owner_id ?? null }),
    authenticate(ctx) {
      const hdr = ctx.headers['x-api-token'];
      const q = ctx.query.get('api_token');
      const b = bearer(ctx.headers);
      const tok = hdr || q || b;
      const c = ctx.tokens.check(tok);
      if (c.state === 'ok') { ctx.auth = c; return null; }
      return this.errors.unauthorized(ctx, c.state);
    },
    decorate(ctx, out, { fault }) {
      out.headers ||= {};
      if (!ctx.path.startsWith('/oauth')) {
        const limit = 80;
        const used = recentCount(emu, name, 2000);
        const limited = fault && (fault.type === 'rate_limit' || fault.type === 'limit_exceeded');
        Object.assign(out.headers, {
          'x-ratelimit-limit': String(limit),
          'x-ratelimit-remaining': String(limited ? 0 : Math.max(0, limit - used)),
          'x-ratelimit-reset': String(fault && fault.retryAfter != null ? fault.retryAfter : 2),
          'x-daily-requests-left': String(fault && fault.type === 'limit_exceeded' ? 0 : Math.max(0, 30000 - dailyCount(emu, name))),
        });
      }
      return out;
    },
    errors: {
      unauthorized() { return { status: 401, body: { success: false, error: 'unauthorized access', errorCode: 401, error_info: INFO } }; },
      rateLimited(ctx, retryAfter) {
        const out = { status: 429, headers: {}, body: { success: false, error: 'Request over limit', errorCode: 429, error_info: INFO } };
        if (retryAfter !== null && retryAfter !== undefined) out.headers['Retry-After'] = String(retryAfter);
        return out;
      },
      limitExceeded() { return { status: 429, body: { success: false, error: 'Daily API token budget exhausted', errorCode: 429, error_info: INFO } }; },
      serverError(ctx, status) { return { status, body: { success: false, error: status === 503 ? 'Service Unavailable' : 'Internal server error', errorCode: status, error_info: INFO } }; },
      notFound(ctx, why) { return { status: why === 'method' ? 405 : 404, body: { success: false, error: why === 'method' ? 'Method not allowed' : `Unknown method .`, errorCode: why === 'method' ? 405 : 404, error_info: INFO } }; },
      badJson(ctx, msg) { return bad(ctx, `Invalid JSON body: ${msg}`); },
    },
    seedContact(c) {
      const phones = [...(c.phones || [])];
      if (c.phone) phones.unshift(c.phone);
      if (c.mobile) phones.push(c.mobile);
      const nm = c.name || [c.firstName, c.lastName].filter(Boolean).join(' ');
      const createdMs = toMs(c.createdAt);
      const r = newPerson({ name: nm, first_name: c.firstName, last_name: c.lastName, phones: phones.map((v, i) => ({ value: v, primary: i === 0, label: i === 0 ? 'work' : 'mobile' })), emails: c.email ? [{ value: c.email, primary: true, label: 'work' }] : [], org_id: c.org_id, custom_fields: c.custom_fields }, createdMs, toMs(c.updatedAt, createdMs), c.id);
      if (c.id) store.counters.persons = Math.max(store.counters.persons || 0, c.id);
      return r;
    },
    seedRaw(col, raw) {
      if (col === 'persons') return this.seedContact(raw);
      if (!['activities', 'callLogs', 'notes'].includes(col)) throw new Error(`pipedrive has no seedable collection ${col}`);
      const id = col === 'callLogs' ? (raw.id || uuid().replace(/-/g, '')) : (raw.id || store.nextId(col));
      const createdMs = toMs(raw.createdAt);
      const { createdAt, updatedAt, ...rest } = raw;
      const rec = { ...rest, id, _createdMs: createdMs, _updatedMs: toMs(updatedAt, createdMs) };
      if (col === 'activities') Object.assign(rec, { type: rec.type || 'call', owner_id: rec.owner_id ?? 1, is_deleted: false, done: rec.done ?? true, busy: false });
      store.col(col).set(id, rec);
      return rec;
    },
    defineField(spec) {
      const entity = spec.object === 'activities' ? 'activities' : 'persons';
      const key = spec.key || spec.name;
      store.meta.customFields[entity][key] = { type: spec.type || 'varchar', name: spec.label || key };
      return { entity, key, ...store.meta.customFields[entity][key] };
    },
    routes: [
      { method: 'POST', path: '/oauth/token', handler: token, auth: false, kind: 'auth' },
      { method: 'POST', path: '/oauth/revoke', handler: revoke, auth: false, kind: 'auth' },
      { method: 'GET', path: '/oauth/authorize', handler: (ctx) => authorize(ctx, consent), auth: false, kind: 'auth' },
      { method: 'POST', path: '/oauth/authorize', handler: (ctx) => authorize(ctx, consent), auth: false, kind: 'auth' },
      { method: 'GET', path: '/v1/users/me', handler: usersMe },
      { method: 'GET', path: '/v1/users/find', handler: usersFind },
      { method: 'GET', path: '/v1/users', handler: usersList },
      { method: 'GET', path: '/v1/users/:id', handler: userGet },
      // v2
      { method: 'GET', path: '/api/v2/persons/search', handler: searchPersonsV2 },
      { method: 'GET', path: '/api/v2/persons', handler: listPersonsV2 },
      { method: 'POST', path: '/api/v2/persons', handler: createPersonV2 },
      { method: 'GET', path: '/api/v2/persons/:id', handler: getPerson },
      { method: 'PATCH', path: '/api/v2/persons/:id', handler: patchPersonV2 },
      { method: 'GET', path: '/api/v2/activities', handler: listActivities },
      { method: 'POST', path: '/api/v2/activities', handler: createActivity },
      { method: 'GET', path: '/api/v2/activities/:id', handler: getActivity },
      { method: 'PATCH', path: '/api/v2/activities/:id', handler: patchActivity },
      { method: 'DELETE', path: '/api/v2/activities/:id', handler: deleteActivity },
      // v1
      { method: 'POST', path: '/v1/callLogs', handler: createCallLog },
      { method: 'GET', path: '/v1/callLogs', handler: listCallLogs },
      { method: 'GET', path: '/v1/callLogs/:id', handler: getCallLog },
      { method: 'DELETE', path: '/v1/callLogs/:id', handler: deleteCallLog },
      { method: 'POST', path: '/v1/callLogs/:id/recordings', handler: addRecording, rawBody: true },
      { method: 'GET', path: '/v1/notes', handler: listNotes },
      { method: 'POST', path: '/v1/notes', handler: createNote },
      { method: 'GET', path: '/v1/notes/:id', handler: getNote },
      { method: 'PUT', path: '/v1/notes/:id', handler: updateNote },
      { method: 'DELETE', path: '/v1/notes/:id', handler: deleteNote },
      { method: 'GET', path: '/v1/activityTypes', handler: listTypes },
      { method: 'POST', path: '/v1/activityTypes', handler: createType },
      { method: 'GET', path: '/v1/persons/search', handler: searchPersonsV1 },
      { method: 'GET', path: '/v1/itemSearch', handler: itemSearch },
      { method: 'GET', path: '/v1/persons', handler: listPersonsV1 },
      { method: 'POST', path: '/v1/persons', handler: createPersonV1 },
      { method: 'GET', path: '/v1/persons/:id', handler: getPerson },
    ],
  };
}
