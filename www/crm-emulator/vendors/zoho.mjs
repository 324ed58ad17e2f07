// Zoho CRM v8 subset: modules Contacts, Leads, Calls, Tasks, Notes through the generic record
// paths (insert, get, list, update by id or data[].id, upsert, search, X-EXTERNAL), Notes paths,
// COQL, the users API and the accounts server (authorize page, token, revoke, serverinfo). One
// module instance per data centre. Base URL (api_domain): http://127.0.0.1:PORT/zoho (US),
// /zoho-eu, /zoho-in, ...; accounts servers /zoho-accounts, /zoho-accounts-eu, ...

import { zohoTime, toMs, isObj, typeName, digitsOf, stripExtension, isDate } from '../lib/util.mjs';
import { bearer } from '../lib/auth.mjs';
import { parseSelect, evaluate, sortRecords, whereFields, QueryError } from '../lib/sql.mjs';
import { authorize } from '../lib/consent.mjs';

const ZDT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/; // yyyy-MM-ddTHH:mm:ss±HH:mm
const MODULES = ['Contacts', 'Leads', 'Calls', 'Tasks', 'Notes'];
// The first digits of user ids per data centre, so that ids from two DCs never look alike.
const DC_ID = { us: '5843104', eu: '2098734', in: '6012345', au: '7012345', jp: '8012345', ca: '9012345', cn: '1012345', sa: '3012345' };
const minUser = (u) => ({ name: u.name, id: u.id, email: u.email });

const F = (type, o = {}) => ({ type, ...o });
function baseFields(m) {
  const sys = { id: F('bigint', { readOnly: true }), Owner: F('ownerlookup'), Created_Time: F('datetime', { readOnly: true }), Modified_Time: F('datetime', { readOnly: true }), Created_By: F('ownerlookup', { readOnly: true }), Modified_By: F('ownerlookup', { readOnly: true }), Tag: F('tag') };
  if (m === 'Contacts') return { ...sys, First_Name: F('text', { max: 40 }), Last_Name: F('text', { required: true, max: 80 }), Full_Name: F('text', { readOnly: true }), Email: F('email'), Phone: F('phone'), Mobile: F('phone'), Home_Phone: F('phone'), Other_Phone: F('phone'), Asst_Phone: F('phone'), Fax: F('phone'), Title: F('text'), Department: F('text'), Description: F('textarea', { max: 32000 }), Lead_Source: F('picklist', { values: ['-None-', 'Advertisement', 'Cold Call', 'Employee Referral', 'External Referral', 'Online Store', 'Partner', 'Public Relations', 'Sales Email Alias', 'Seminar Partner', 'Internal Seminar', 'Trade Show', 'Web Download', 'Web Research', 'Chat'] }), Account_Name: F('lookup', { module: ['Accounts'] }) };
  if (m === 'Leads') return { ...sys, First_Name: F('text', { max: 40 }), Last_Name: F('text', { required: true, max: 80 }), Full_Name: F('text', { readOnly: true }), Company: F('text', { max: 200 }), Email: F('email'), Phone: F('phone'), Mobile: F('phone'), Fax: F('phone'), Title: F('text'), Description: F('textarea', { max: 32000 }), Lead_Status: F('picklist', { values: ['-None-', 'Attempted to Contact', 'Contact in Future', 'Contacted', 'Junk Lead', 'Lost Lead', 'Not Contacted', 'Pre-Qualified', 'Not Qualified'] }), Lead_Source: F('picklist', { values: ['-None-', 'Advertisement', 'Cold Call', 'Web Download', 'Web Research', 'Chat', 'Trade Show'] }) };
  if (m === 'Calls') return { ...sys, Subject: F('text', { required: true, max: 255 }), Call_Type: F('picklist', { required: true, values: ['Inbound', 'Outbound', 'Missed'], immutable: true }), Call_Start_Time: F('datetime', { required: true }), Call_Duration: F('duration'), Call_Duration_in_seconds: F('integer', { readOnly: true }), Call_Purpose: F('picklist', { values: ['-None-', 'Prospecting', 'Administrative', 'Negotiation', 'Demo', 'Project', 'Desk'] }), Call_Result: F('picklist', { values: ['-None-', 'Interested', 'Not interested', 'No response', 'Busy', 'Requested more info', 'Requested call back', 'Invalid number'] }), Call_Agenda: F('text'), Outbound_Call_Status: F('picklist', { values: ['Scheduled', 'Completed', 'Overdue', 'Cancelled'] }), Call_Status: F('text', { readOnly: true }), Description: F('textarea', { max: 32000 }), Who_Id: F('lookup', { module: ['Contacts', 'Leads'] }), What_Id: F('lookup', { module: ['Accounts', 'Deals'], se: true }), $se_module: F('text'), Dialled_Number: F('phone'), Caller_ID: F('phone'), Reminder: F('text'), Billable: F('boolean'), Voice_Recording__s: F('website') };
  if (m === 'Tasks') return { ...sys, Subject: F('text', { required: true, max: 255 }), Due_Date: F('date'), Status: F('picklist', { values: ['Not Started', 'Deferred', 'In Progress', 'Completed', 'Waiting for input'] }), Priority: F('picklist', { values: ['High', 'Highest', 'Low', 'Lowest', 'Normal'] }), Description: F('textarea', { max: 32000 }), Who_Id: F('lookup', { module: ['Contacts', 'Leads'] }), What_Id: F('lookup', { module: ['Accounts', 'Deals'], se: true }), $se_module: F('text'), Closed_Time: F('datetime', { readOnly: true }) };
  return { ...sys, Note_Title: F('text', { max: 120 }), Note_Content: F('textarea', { required: true, max: 32000 }), Parent_Id: F('parent', { required: true }), se_module: F('text') };
}

export default function zoho(emu, realm = { key: 'zoho', vendor: 'zoho', dc: 'us', accounts: 'zoho-accounts' }) {
  const name = realm.key;
  let store;
  const users = () => emu.users[name];

  const zerr = (status, code, message, details = {}) => ({ status, body: { code, details, message, status: 'error' } });
  const recErr = (code, message, details) => ({ code, details, message, status: 'error' });
  const defs = (m) => store.meta.fields[m];
  const modName = (m) => MODULES.find((x) => x.toLowerCase() === String(m).toLowerCase());
  function newId() { return `5843104000000${String(store.nextId('id', 200001)).padStart(6, '0')}`; }
  function find(id) { for (const m of MODULES) { const r = store.col(m).get(id); if (r && !r._deleted) return [m, r]; } return [null, null]; }

  function validateRecord(m, rec, i, { create, existing }) {
    const d = defs(m);
    const out = {};
    const jp = (k) => `$.data[${i}].${k}`;
    if (!isObj(rec)) return { error: recErr('INVALID_DATA', 'invalid data', { expected_data_type: 'jsonobject', json_path: `$.data[${i}]` }) };
    for (const [k, v] of Object.entries(rec)) {
      if (k === 'id' && !create) continue;
      const def = d[k];
      if (!def) return { error: recErr('INVALID_DATA', 'invalid data', { api_name: k, json_path: jp(k), reason: `field ${k} does not exist in ${m}` }) };
      if (def.readOnly) return { error: recErr('INVALID_DATA', 'invalid data', { api_name: k, json_path: jp(k), reason: 'read-only field' }) };
      if (v === null) { out[k] = null; continue; }
      const expect = (t, ok) => (ok ? null : recErr('INVALID_DATA', 'invalid data', { expected_data_type: t, api_name: k, json_path: jp(k) }));
      let e = null;
      switch (def.type) {
        case 'datetime': e = expect('datetime', typeof v === 'string' && ZDT.test(v) && !Number.isNaN(Date.parse(v))); break;
        case 'date': e = expect('date', isDate(v)); break;
        case 'integer': e = expect('integer', Number.isInteger(v) || (typeof v === 'string' && /^-?\d+$/.test(v))); break;
        case 'boolean': e = expect('boolean', typeof v === 'boolean'); break;
        case 'duration': e = expect('duration', typeof v === 'string' && /^\d{1,4}:[0-5]\d$/.test(v)); break;
        case 'email': e = expect('email', typeof v === 'string' && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v)); break;
        case 'picklist': e = typeof v !== 'string' ? expect('picklist', false) : def.values.includes(v) ? null : recErr('INVALID_DATA', 'invalid data', { api_name: k, json_path: jp(k), reason: `value "${v}" is not one of ${def.values.join(', ')}` }); break;
        case 'ownerlookup': {
          e = expect('ownerlookup', isObj(v) && typeof v.id === 'string');
          if (e) break;
          // Owner must be a user of this org, and an active one.
          const u = users().get(v.id);
          if (!u) e = recErr('INVALID_DATA', 'invalid data', { api_name: k, json_path: jp(k) });
          else if (!u.active) e = recErr('INVALID_DATA', `${k} is not Active`, { user_status: 'inactive', api_name: k, json_path: jp(k) });
          break;
        }
        case 'lookup': {
          const id = isObj(v) ? v.id : v;
          if (typeof id !== 'string' || !/^\d+$/.test(id)) { e = expect('lookup', false); break; }
          if (def.se) break; // What_Id targets modules the emulator does not hold
          const [tm] = find(id);
          if (!tm || !def.module.includes(tm)) e = recErr('INVALID_DATA', 'the id given seems to be invalid', { api_name: k, json_path: jp(k), id });
          break;
        }
        case 'parent': {
          const ok = (typeof v === 'string' && /^\d+$/.test(v)) || (isObj(v) && typeof v.id === 'string' && (v.module === undefined || (isObj(v.module) && typeof v.module.api_name === 'string')));
          e = expect('lookup', ok);
          break;
        }
        default:
          e = expect(def.type === 'textarea' ? 'textarea' : 'text', typeof v === 'string');
          if (!e && def.max && v.length > def.max) e = recErr('INVALID_DATA', 'invalid data', { api_name: k, json_path: jp(k), maximum_length: def.max });
      }
      if (e) return { error: e };
      if (def.immutable && existing && existing[k] !== undefined && existing[k] !== null && existing[k] !== v) return { error: recErr('INVALID_DATA', 'invalid data', { api_name: k, json_path: jp(k), reason: `${k} cannot be changed once set` }) };
      out[k] = def.type === 'lookup' && !isObj(v) ? { id: v } : def.type === 'integer' && typeof v === 'string' ? Number(v) : def.type === 'ownerlookup' ? minUser(users().get(v.id)) : v;
    }
    const merged = { ...(existing || {}), ...out };
    if (create) {
      for (const [k, def] of Object.entries(d)) if (def.required && (merged[k] === undefined || merged[k] === null || merged[k] === '')) return { error: recErr('MANDATORY_NOT_FOUND', 'required field not found', { api_name: k, json_path: jp(k) }) };
    }
    if (m === 'Calls') {
      const needsDuration = merged.Call_Type !== 'Missed' && !(merged.Call_Type === 'Outbound' && merged.Outbound_Call_Status === 'Scheduled');
      if (needsDuration && !merged.Call_Duration) return { error: recErr('MANDATORY_NOT_FOUND', 'required field not found', { api_name: 'Call_Duration', json_path: jp('Call_Duration') }) };
    }
    if (merged.What_Id && !merged.$se_module) return { error: recErr('MANDATORY_NOT_FOUND', 'required field not found', { api_name: '$se_module', json_path: jp('$se_module') }) };
    if (m === 'Notes' && out.Parent_Id !== undefined) {
      const pid = isObj(out.Parent_Id) ? out.Parent_Id.id : out.Parent_Id;
      const [pm] = find(pid);
      const declared = isObj(out.Parent_Id) && out.Parent_Id.module ? out.Parent_Id.module.api_name : merged.se_module;
      if (!declared) return { error: recErr('MANDATORY_NOT_FOUND', 'required field not found', { api_name: 'se_module', json_path: jp('Parent_Id.module') }) };
      if (!pm || pm !== declared) return { error: recErr('INVALID_DATA', 'the id given seems to be invalid', { api_name: 'Parent_Id', json_path: jp('Parent_Id'), id: pid }) };
      out.Parent_Id = { module: { api_name: pm, id: null }, id: pid };
      delete out.se_module;
    }
    for (const [k, v] of Object.entries(out)) {
      const def = d[k];
      if (!def.unique || v === null) continue;
      for (const r of store.col(m).values()) if (!r._deleted && r !== existing && String(r[k]).toLowerCase() === String(v).toLowerCase()) return { error: recErr('DUPLICATE_DATA', 'duplicate data', { api_name: k, json_path: jp(k), duplicate_record: { id: r.id, module: { api_name: m, id: null } } }) };
    }
    return { values: out };
  }

  function computed(m, r) {
    if (m === 'Contacts' || m === 'Leads') r.Full_Name = [r.First_Name, r.Last_Name].filter(Boolean).join(' ');
    if (m === 'Calls') {
      if (r.Call_Duration) { const [a, b] = r.Call_Duration.split(':').map(Number); r.Call_Duration_in_seconds = a * 60 + b; }
      r.Call_Status = r.Call_Type === 'Missed' ? 'Missed' : r.Call_Type === 'Outbound' && r.Outbound_Call_Status === 'Scheduled' ? 'Scheduled' : 'Completed';
      for (const k of ['Who_Id']) if (r[k] && r[k].id) { const [, t] = find(r[k].id); r[k] = { name: t ? t.Full_Name || t.Subject : null, id: r[k].id }; }
    }
    if (m === 'Tasks' && r.Status === 'Completed' && !r.Closed_Time) r.Closed_Time = zohoTime(Date.now());
  }

  // Owner defaults to the user the token belongs to; Created_By/Modified_By are that user too.
  function insert(m, values, { createdMs = Date.now(), updatedMs = createdMs, id, user = users().default() } = {}) {
    const by = minUser(user);
    const r = { id: id || newId(), Owner: by, ...values, Created_By: by, Modified_By: by, Created_Time: zohoTime(createdMs), Modified_Time: zohoTime(updatedMs), _createdMs: createdMs, _updatedMs: updatedMs };
    computed(m, r);
    store.col(m).set(r.id, r);
    return r;
  }

  function render(m, r, fields) {
    const out = { id: r.id };
    const names = fields || Object.keys(r).filter((k) => !k.startsWith('_'));
    for (const k of names) if (!k.startsWith('_')) out[k] = r[k] ?? null;
    if (m === 'Notes' && !fields) { out.$attachments = []; out.$editable = true; out.$is_shared_to_client = false; out.$size = String(Buffer.byteLength(r.Note_Content || '')); out.$state = 'save'; out.$voice_note = false; out.$sharing_permission = 'full_access'; }
    return out;
  }
  const success = (r, action) => ({ code: 'SUCCESS', details: { Modified_Time: r.Modified_Time, Modified_By: { name: r.Modified_By.name, id: r.Modified_By.id }, Created_Time: r.Created_Time, id: r.id, Created_By: { name: r.Created_By.name, id: r.Created_By.id } }, message: action === 'update' ? 'record updated' : 'record added', status: 'success' });

  function moduleOr(ctx) {
    const m = modName(ctx.params.module);
    if (!m) return { error: zerr(400, 'INVALID_MODULE', 'the module name given seems to be invalid', { resource_path_index: 0 }) };
    return { m };
  }
  function dataArray(ctx) {
    const b = ctx.body;
    if (!isObj(b) || b.data === undefined) return { error: zerr(400, 'REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'data' }) };
    for (const k of Object.keys(b)) if (!['data', 'trigger', 'process', 'duplicate_check_fields', 'wf_trigger', 'lar_id', 'apply_feature_execution', 'skip_feature_execution'].includes(k)) return { error: zerr(400, 'INVALID_DATA', 'invalid data', { api_name: k, json_path: `$.${k}` }) };
    if (!Array.isArray(b.data) || !b.data.length) return { error: zerr(400, 'INVALID_DATA', 'invalid data', { expected_data_type: 'jsonarray', api_name: 'data', json_path: '$.data' }) };
    if (b.data.length > 100) return { error: zerr(400, 'LIMIT_EXCEEDED', 'Record count exceeded', { limit: 100 }) };
    if (b.trigger !== undefined && (!Array.isArray(b.trigger) || b.trigger.some((t) => !['approval', 'workflow', 'blueprint', 'pathfinder', 'orchestration'].includes(t)))) return { error: zerr(400, 'INVALID_DATA', 'invalid data', { api_name: 'trigger', json_path: '$.trigger' }) };
    return { data: b.data };
  }
  function multiStatus(results, okStatus) {
    const errs = results.filter((r) => r.status === 'error').length;
    return { status: errs === results.length ? 400 : errs ? 207 : okStatus, body: { data: results } };
  }

  function create(ctx, forced) {
    const { m, error } = forced ? { m: forced } : moduleOr(ctx);
    if (error) return error;
    const d = dataArray(ctx);
    if (d.error) return d.error;
    const results = d.data.map((rec, i) => {
      const v = validateRecord(m, rec, i, { create: true });
      if (v.error) return v.error;
      const r = insert(m, v.values, { user: ctx.user() });
      emu.stampNew(ctx, r);
      return success(r, 'insert');
    });
    return multiStatus(results, 201);
  }

  function externalField(ctx, m) {
    const h = ctx.headers['x-external'];
    if (!h) return { field: null };
    const [mod, field] = String(h).split('.');
    if (mod !== m || !defs(m)[field] || !defs(m)[field].external) return { error: zerr(400, 'INVALID_DATA', 'The value of the external field is invalid.', { api_name: field || h, json_path: 'X-EXTERNAL' }) };
    return { field };
  }
  function lookup(ctx, m, key) {
    const x = externalField(ctx, m);
    if (x.error) return x;
    if (x.field) { for (const r of store.col(m).values()) if (!r._deleted && r[x.field] === key) return { rec: r }; return { rec: null }; }
    if (!/^\d+$/.test(key)) return { error: zerr(400, 'INVALID_DATA', 'the id given seems to be invalid', { resource_path_index: 2 }) };
    const r = store.col(m).get(key);
    return { rec: r && !r._deleted ? r : null };
  }
  function getOne(ctx) {
    const { m, error } = moduleOr(ctx);
    if (error) return error;
    const l = lookup(ctx, m, ctx.params.id);
    if (l.error) return l.error;
    if (!l.rec) return { status: 204 };
    const fields = ctx.query.get('fields') ? ctx.query.get('fields').split(',') : null;
    return { status: 200, body: { data: [render(m, l.rec, fields)] } };
  }
  function applyUpdate(m, r, values, ctx) {
    Object.assign(r, values);
    if (ctx) r.Modified_By = minUser(ctx.user());
    r._updatedMs = Date.now();
    r.Modified_Time = zohoTime(r._updatedMs);
    computed(m, r);
  }
  function updateOne(ctx) {
    const { m, error } = moduleOr(ctx);
    if (error) return error;
    const d = dataArray(ctx);
    if (d.error) return d.error;
    if (d.data.length !== 1) return zerr(400, 'INVALID_DATA', 'invalid data', { api_name: 'data', json_path: '$.data', reason: 'exactly one record when the id is in the URL' });
    const l = lookup(ctx, m, ctx.params.id);
    if (l.error) return l.error;
    if (!l.rec) return { status: 400, body: { data: [recErr('INVALID_DATA', 'the id given seems to be invalid', { id: ctx.params.id })] } };
    const v = validateRecord(m, d.data[0], 0, { create: false, existing: l.rec });
    if (v.error) return { status: 400, body: { data: [v.error] } };
    applyUpdate(m, l.rec, v.values, ctx);
    return { status: 200, body: { data: [success(l.rec, 'update')] } };
  }
  function updateMany(ctx) {
    const { m, error } = moduleOr(ctx);
    if (error) return error;
    const d = dataArray(ctx);
    if (d.error) return d.error;
    const results = d.data.map((rec, i) => {
      if (!isObj(rec) || typeof rec.id !== 'string') return recErr('MANDATORY_NOT_FOUND', 'required field not found', { api_name: 'id', json_path: `$.data[${i}].id` });
      const r = store.col(m).get(rec.id);
      if (!r || r._deleted) return recErr('INVALID_DATA', 'the id given seems to be invalid', { id: rec.id, api_name: 'id', json_path: `$.data[${i}].id` });
      const v = validateRecord(m, rec, i, { create: false, existing: r });
      if (v.error) return v.error;
      applyUpdate(m, r, v.values, ctx);
      return success(r, 'update');
    });
    return multiStatus(results, 200);
  }
  function upsert(ctx) {
    const { m, error } = moduleOr(ctx);
    if (error) return error;
    const d = dataArray(ctx);
    if (d.error) return d.error;
    const dcf = ctx.body.duplicate_check_fields || Object.keys(defs(m)).filter((k) => defs(m)[k].unique || defs(m)[k].external || (['Contacts', 'Leads'].includes(m) && k === 'Email'));
    for (const k of dcf) if (!defs(m)[k]) return zerr(400, 'INVALID_DATA', 'invalid data', { api_name: k, json_path: '$.duplicate_check_fields' });
    const results = d.data.map((rec, i) => {
      const hit = isObj(rec) && [...store.col(m).values()].find((r) => !r._deleted && dcf.some((k) => rec[k] !== undefined && rec[k] !== null && String(r[k]).toLowerCase() === String(rec[k]).toLowerCase()));
      if (hit) {
        const v = validateRecord(m, rec, i, { create: false, existing: hit });
        if (v.error) return v.error;
        applyUpdate(m, hit, v.values, ctx);
        const field = dcf.find((k) => rec[k] !== undefined && String(hit[k]).toLowerCase() === String(rec[k]).toLowerCase());
        return { ...success(hit, 'update'), action: 'update', duplicate_field: field };
      }
      const v = validateRecord(m, rec, i, { create: true });
      if (v.error) return v.error;
      const r = insert(m, v.values, { user: ctx.user() });
      emu.stampNew(ctx, r);
      return { ...success(r, 'insert'), action: 'insert', duplicate_field: null };
    });
    return multiStatus(results, 200);
  }
  function pageParams(ctx, { max = 200, cap = 2000 } = {}) {
    const page = Number(ctx.query.get('page') ?? 1);
    const per = Number(ctx.query.get('per_page') ?? 200);
    if (!Number.isInteger(page) || page < 1) return { error: zerr(400, 'INVALID_DATA', 'invalid data', { param_name: 'page' }) };
    if (!Number.isInteger(per) || per < 1 || per > max) return { error: zerr(400, 'INVALID_DATA', 'invalid data', { param_name: 'per_page', maximum_length: String(max) }) };
    if (page * per > cap + per - 1 && page > 1 && (page - 1) * per >= cap) return { error: zerr(400, 'LIMIT_REACHED', 'Record count exceeded', { limit: cap }) };
    return { page, per };
  }
  function pageOut(m, recs, page, per, fields, extraInfo = {}) {
    const slice = recs.slice((page - 1) * per, page * per);
    if (!slice.length) return { status: 204 };
    return { status: 200, body: { data: slice.map((r) => render(m, r, fields)), info: { per_page: per, count: slice.length, page, sort_by: 'id', sort_order: 'desc', more_records: page * per < recs.length, ...extraInfo } } };
  }
  function list(ctx) {
    const { m, error } = moduleOr(ctx);
    if (error) return error;
    const fields = ctx.query.get('fields');
    if (!fields) return zerr(400, 'REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'fields' });
    const fl = fields.split(',');
    for (const k of fl) if (!defs(m)[k]) return zerr(400, 'INVALID_DATA', 'invalid data', { api_name: k, param_name: 'fields' });
    const p = pageParams(ctx, { cap: 2000 });
    if (p.error) return p.error;
    let recs = [...store.col(m).values()].filter((r) => !r._deleted && emu.visible(r, 'list'));
    const ims = ctx.headers['if-modified-since'];
    if (ims) { const t = Date.parse(ims); if (Number.isNaN(t)) return zerr(400, 'INVALID_DATA', 'invalid data', { param_name: 'If-Modified-Since' }); recs = recs.filter((r) => r._updatedMs >= t); if (!recs.length) return { status: 304 }; }
    if (ctx.query.get('ids')) { const s = new Set(ctx.query.get('ids').split(',')); recs = recs.filter((r) => s.has(r.id)); }
    const sortBy = ctx.query.get('sort_by') || 'id';
    const order = ctx.query.get('sort_order') || 'desc';
    if (!['id', 'Created_Time', 'Modified_Time'].includes(sortBy) || !['asc', 'desc'].includes(order)) return zerr(400, 'INVALID_DATA', 'invalid data', { param_name: 'sort_by' });
    const key = (r) => (sortBy === 'id' ? BigInt(r.id) : sortBy === 'Created_Time' ? BigInt(r._createdMs) : BigInt(r._updatedMs));
    recs.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0) * (order === 'desc' ? -1 : 1));
    return pageOut(m, recs, p.page, p.per, ['id', ...fl], { sort_by: sortBy, sort_order: order });
  }

  // ----- search -----
  function parseCriteria(s) {
    // ((A:equals:x)and(B:starts_with:y))or(C:equals:z); values escape \( \) \,
    let i = 0; let count = 0;
    function expr() {
      let left = term();
      for (;;) {
        const m = /^(and|or)/i.exec(s.slice(i));
        if (!m) return left;
        i += m[0].length;
        left = { op: m[1].toUpperCase(), a: left, b: term() };
      }
    }
    function term() {
      if (s[i] !== '(') throw new Error(`expected '(' at position ${i}`);
      i++;
      if (s[i] === '(') { const e = expr(); if (s[i] !== ')') throw new Error(`expected ')' at position ${i}`); i++; return e; }
      let buf = '';
      while (i < s.length && s[i] !== ')') { if (s[i] === '\\' && i + 1 < s.length) { buf += s[i + 1]; i += 2; continue; } buf += s[i]; i++; }
      if (s[i] !== ')') throw new Error('unbalanced parentheses');
      i++;
      const a = buf.indexOf(':'); const b = buf.indexOf(':', a + 1);
      if (a < 0 || b < 0) throw new Error(`condition "${buf}" must be field:operator:value`);
      count++;
      return { field: buf.slice(0, a), op: buf.slice(a + 1, b), value: buf.slice(b + 1) };
    }
    const e = expr();
    if (i !== s.length) throw new Error(`unexpected text at position ${i}`);
    if (count > 10) throw new Error('at most 10 criteria');
    return e;
  }
  const SEARCH_OPS = ['equals', 'not_equal', 'starts_with', 'in', 'greater_than', 'greater_equal', 'less_than', 'less_equal', 'between'];
  function critMatch(m, c, r) {
    if (c.op === 'AND') return critMatch(m, c.a, r) && critMatch(m, c.b, r);
    if (c.op === 'OR') return critMatch(m, c.a, r) || critMatch(m, c.b, r);
    let v = r[c.field];
    if (isObj(v)) v = v.id;
    const s = v === null || v === undefined ? '' : String(v).toLowerCase();
    const val = c.value.toLowerCase();
    // Zoho's search guide lets date and datetime fields take the comparison operators
    // (greater_equal, between, ...) with yyyy-MM-dd / ISO values: compare them as instants.
    const dt = ['datetime', 'date'].includes(defs(m)[c.field].type);
    const num = (x) => (dt ? Date.parse(x) : Number(x));
    switch (c.op) {
      case 'equals': return s === val;
      case 'not_equal': return s !== val;
      case 'starts_with': return s.startsWith(val);
      case 'in': return c.value.split(',').map((x) => x.toLowerCase()).includes(s);
      case 'greater_than': return v != null && num(v) > num(c.value);
      case 'greater_equal': return v != null && num(v) >= num(c.value);
      case 'less_than': return v != null && num(v) < num(c.value);
      case 'less_equal': return v != null && num(v) <= num(c.value);
      case 'between': { const [lo, hi] = c.value.split(','); return v != null && num(v) >= num(lo) && num(v) <= num(hi); }
      default: return false;
    }
  }
  function checkCrit(m, c) {
    if (c.a) return checkCrit(m, c.a) || checkCrit(m, c.b);
    if (!defs(m)[c.field]) return zerr(400, 'INVALID_QUERY', 'invalid query formed', { api_name: c.field, reason: `field ${c.field} does not exist` });
    if (!SEARCH_OPS.includes(c.op)) return zerr(400, 'INVALID_QUERY', 'invalid query formed', { api_name: c.field, operator: c.op, reason: `operator must be one of ${SEARCH_OPS.join(', ')}` });
    const t = defs(m)[c.field].type;
    if (['text', 'phone', 'email', 'textarea', 'picklist'].includes(t) && !['equals', 'not_equal', 'starts_with', 'in'].includes(c.op)) return zerr(400, 'INVALID_QUERY', 'invalid query formed', { api_name: c.field, operator: c.op });
    return null;
  }
  function search(ctx) {
    const { m, error } = moduleOr(ctx);
    if (error) return error;
    const q = ctx.query;
    const p = pageParams(ctx, { cap: 2000 });
    if (p.error) return p.error;
    let recs = [...store.col(m).values()].filter((r) => !r._deleted && emu.visible(r, 'search'));
    const phoneFields = Object.keys(defs(m)).filter((k) => defs(m)[k].type === 'phone');
    if (q.get('criteria')) {
      let c;
      try { c = parseCriteria(q.get('criteria')); } catch (e) { return zerr(400, 'INVALID_QUERY', 'invalid query formed', { reason: e.message }); }
      const bad = checkCrit(m, c);
      if (bad) return bad;
      recs = recs.filter((r) => critMatch(m, c, r));
    } else if (q.get('email')) {
      const e = q.get('email').toLowerCase();
      recs = recs.filter((r) => Object.keys(defs(m)).some((k) => defs(m)[k].type === 'email' && String(r[k] || '').toLowerCase() === e));
    } else if (q.get('phone')) {
      const d = digitsOf(stripExtension(q.get('phone')));
      if (!d) return zerr(400, 'INVALID_DATA', 'invalid data', { param_name: 'phone' });
      // Zoho documents only that `phone` searches every phone-type field, not how it compares.
      // Modelled (an assumption, README "Zoho CRM"): digits only, punctuation and extensions
      // ignored, a stored number matching when its digits end with the query's, so the national
      // number finds "+1 (212) 555-0100", "1-212-555-0100" and "(212) 555-0100" alike.
      recs = recs.filter((r) => phoneFields.some((k) => r[k] && digitsOf(stripExtension(r[k])).endsWith(d)));
    } else if (q.get('word')) {
      const w = q.get('word').toLowerCase();
      if (w.length < 2) return zerr(400, 'INVALID_QUERY', 'invalid query formed', { param_name: 'word', reason: 'at least 2 characters' });
      recs = recs.filter((r) => Object.entries(r).some(([k, v]) => !k.startsWith('_') && typeof v === 'string' && v.toLowerCase().includes(w)));
    } else {
      return zerr(400, 'REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'criteria' });
    }
    recs.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
    const fields = q.get('fields') ? ['id', ...q.get('fields').split(',')] : null;
    if (fields) for (const k of fields) if (!defs(m)[k]) return zerr(400, 'INVALID_DATA', 'invalid data', { api_name: k, param_name: 'fields' });
    return pageOut(m, recs, p.page, p.per, fields);
  }

  // ----- notes -----
  function notesCreate(ctx) { return create(ctx, 'Notes'); }
  function notesOfRecord(ctx) {
    const { m, error } = moduleOr(ctx);
    if (error) return error;
    const parent = store.col(m).get(ctx.params.id);
    if (!parent || parent._deleted) return zerr(400, 'INVALID_DATA', 'the id given seems to be invalid', { id: ctx.params.id });
    if (ctx.method === 'POST') {
      const d = dataArray(ctx);
      if (d.error) return d.error;
      ctx.body = { data: d.data.map((x) => (isObj(x) ? { ...x, Parent_Id: { module: { api_name: m }, id: parent.id } } : x)) };
      return create(ctx, 'Notes');
    }
    const recs = [...store.col('Notes').values()].filter((r) => !r._deleted && r.Parent_Id.id === parent.id && emu.visible(r, 'list'));
    const p = pageParams(ctx); if (p.error) return p.error;
    return pageOut('Notes', recs, p.page, p.per, ctx.query.get('fields') ? ['id', ...ctx.query.get('fields').split(',')] : null);
  }
  function notesList(ctx) {
    const p = pageParams(ctx); if (p.error) return p.error;
    const recs = [...store.col('Notes').values()].filter((r) => !r._deleted && emu.visible(r, 'list'));
    return pageOut('Notes', recs, p.page, p.per, ctx.query.get('fields') ? ['id', ...ctx.query.get('fields').split(',')] : null);
  }

  // ----- COQL -----
  function coql(ctx) {
    const b = ctx.body;
    if (!isObj(b) || typeof b.select_query !== 'string') return zerr(400, 'REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'select_query' });
    let q;
    try { q = parseSelect(b.select_query); } catch (e) {
      if (e instanceof QueryError) return zerr(400, 'SYNTAX_ERROR', 'Error occured while parsing the query', { clause: 'select', reason: e.message, near: b.select_query.slice(e.pos ?? 0, (e.pos ?? 0) + 10) });
      throw e;
    }
    const m = modName(q.from);
    if (!m || m === 'Notes') return zerr(400, 'INVALID_QUERY', 'invalid query formed', { reason: `module ${q.from} is not supported`, clause: 'from' });
    if (!q.where) return zerr(400, 'SYNTAX_ERROR', 'Error occured while parsing the query', { clause: 'where', reason: 'where clause is mandatory in COQL' });
    for (const k of [...q.fields, ...whereFields(q.where)]) if (!defs(m)[k.split('.')[0]]) return zerr(400, 'INVALID_QUERY', 'invalid query formed', { column_name: k, reason: 'column given seems to be invalid', clause: 'select' });
    const limit = q.limit ?? 200;
    if (limit > 2000) return zerr(400, 'LIMIT_EXCEEDED', 'Record count exceeded', { limit: 2000 });
    const get = (r, k) => { const v = r[k.split('.')[0]]; return isObj(v) ? v.id : v; };
    let recs = [...store.col(m).values()].filter((r) => !r._deleted && emu.visible(r, 'query') && evaluate(q.where, (k) => get(r, k)));
    sortRecords(recs, q.orderBy, get);
    const total = recs.length;
    recs = recs.slice(q.offset || 0, (q.offset || 0) + limit);
    if (!recs.length) return { status: 204 };
    return { status: 200, body: { data: recs.map((r) => render(m, r, ['id', ...q.fields.filter((x) => x !== 'id')])), info: { count: recs.length, more_records: (q.offset || 0) + limit < total } } };
  }

  // ---------- users (GET /crm/v8/users, /crm/v8/users/{id}) ----------
  const USER_TYPES = {
    CurrentUser: null, AllUsers: () => true, ActiveUsers: (u) => u.active, AllActiveUsers: (u) => u.active, ActiveConfirmedUsers: (u) => u.active,
    DeactiveUsers: (u) => !u.active, ConfirmedUsers: () => true, NotConfirmedUsers: () => false, DeletedUsers: () => false,
    AdminUsers: (u) => !!u.admin, ActiveConfirmedAdmins: (u) => u.active && !!u.admin,
  };
  function renderUser(u) {
    return { id: u.id, first_name: u.firstName ?? null, last_name: u.lastName ?? null, full_name: u.name, email: u.email, status: u.active ? 'active' : 'disabled', confirm: true, zuid: u.zuid ?? String(60000000 + Number(u.id.slice(-6))), role: { name: u.admin ? 'CEO' : 'Manager', id: `${DC_ID[realm.dc]}000000000861` }, profile: { name: u.admin ? 'Administrator' : 'Standard', id: `${DC_ID[realm.dc]}000000000497` }, type__s: 'Regular User', locale: 'en_US', time_format: 'hh:mm a', date_format: 'MM/dd/yyyy', created_time: zohoTime(u.createdMs), Modified_Time: zohoTime(u.createdMs), phone: u.phone ?? null, mobile: null };
  }
  function usersList(ctx) {
    const type = ctx.query.get('type') || 'AllUsers';
    if (!(type in USER_TYPES)) return zerr(400, 'INVALID_DATA', 'invalid data', { param_name: 'type', supported_values: Object.keys(USER_TYPES) });
    let list = type === 'CurrentUser' ? [ctx.user()] : users().list().filter(USER_TYPES[type]);
    if (ctx.query.get('ids')) { const ids = new Set(ctx.query.get('ids').split(',')); list = list.filter((u) => ids.has(u.id)); }
    const p = pageParams(ctx); if (p.error) return p.error;
    const slice = list.slice((p.page - 1) * p.per, p.page * p.per);
    if (!slice.length) return { status: 204 };
    return { status: 200, body: { users: slice.map(renderUser), info: { per_page: p.per, count: slice.length, page: p.page, more_records: p.page * p.per < list.length } } };
  }
  function userGet(ctx) {
    const u = users().get(ctx.params.id);
    if (!u) return zerr(400, 'INVALID_DATA', 'the id given seems to be invalid', { resource_path_index: 1 });
    return { status: 200, body: { users: [renderUser(u)] } };
  }

  // ---------- accounts server (OAuth) ----------
  // https://www.zoho.com/accounts/protocol/oauth/web-apps/authorization.html and .../multi-dc:
  // response_type=code and scope required; the code is valid for 2 minutes; access_type=offline
  // gives a refresh token "only the first time" unless prompt=consent; the redirect carries
  // location and accounts-server; the token request repeats client_secret and redirect_uri (query
  // or form); the token answer carries api_domain; refresh tokens never rotate, a user keeps at most
  // 20 (the 21st deletes the oldest) and one refresh token mints at most 10 access tokens in 10
  // minutes. Errors come back with HTTP 200 and an `error` member.
  const accountsBase = (key = name) => emu.prefixUrl(emu.realms[key].accounts);
  const ZOHO_ERRORS = {
    missing_grant_type: 'unsupported_grant_type', unsupported_grant_type: 'unsupported_grant_type',
    missing_client: 'invalid_client', unknown_client: 'invalid_client',
    missing_secret: 'invalid_client_secret', bad_secret: 'invalid_client_secret',
    missing_code: 'invalid_code', bad_code: 'invalid_code', expired_code: 'invalid_code',
    missing_redirect: 'invalid_redirect_uri', redirect_mismatch: 'invalid_redirect_uri',
    missing_verifier: 'invalid_code', bad_verifier: 'invalid_code',
    missing_refresh: 'invalid_code', bad_refresh: 'invalid_code', rotated_refresh: 'invalid_code',
  };
  function token(ctx) {
    const params = { ...Object.fromEntries(ctx.query), ...(isObj(ctx.body) ? ctx.body : {}) };
    if (params.grant_type === 'refresh_token' && params.refresh_token && ctx.tokens.liveRefresh(params.refresh_token)) {
      const limit = emu.config.zohoRefreshLimit ?? 10;
      const now = Date.now();
      const recent = (store.meta.refreshUse.get(params.refresh_token) || []).filter((t) => now - t < 10 * 60 * 1000);
      if (recent.length >= limit) return { status: 400, body: { error_description: 'You have made too many requests continuously. Please try again after some time.', error: 'Access Denied', status: 'failure' } };
      store.meta.refreshUse.set(params.refresh_token, recent); // refresh token -> times it minted an access token
    }
    const ttl = emu.config.zohoTokenTtl ?? 3600;
    const g = ctx.tokens.exchange(params, {
      secretCode: 'required', secretRefresh: 'required', pkce: 'enforce', redirectRequired: true,
      codeTtlMs: emu.codeTtlMs(120), accessTtl: ttl, rotation: emu.rotationFor(realm, 'none'), echoRefresh: false,
      issueRefresh: (c) => c.offline !== false && (c.prompt === 'consent' || !ctx.tokens.offlineGranted.has(`${c.clientId}|${c.userId}`)),
      maxRefreshPerUser: 20,
    });
    // Zoho answers token errors with HTTP 200 and an "error" member.
    if (!g.ok) return { status: 200, body: { error: ZOHO_ERRORS[g.kind] || 'invalid_request' } };
    if (params.grant_type === 'refresh_token') store.meta.refreshUse.get(params.refresh_token)?.push(Date.now());
    const body = { access_token: g.accessToken, scope: (g.scopes || ['ZohoCRM.modules.ALL', 'ZohoCRM.coql.READ', 'ZohoCRM.users.READ']).join(' '), api_domain: emu.baseUrl(name), token_type: 'Bearer', expires_in: ttl };
    if (g.refreshToken) body.refresh_token = g.refreshToken;
    return { status: 200, body };
  }
  // POST {accounts}/oauth/v2/token/revoke?token=: a refresh token takes the access tokens made
  // from it; an invalid token is a 400.
  function revoke(ctx) {
    const tok = ctx.query.get('token') || (isObj(ctx.body) ? ctx.body.token : null);
    if (!tok || !ctx.tokens.revoke(tok, { refreshCascade: 'grant', accessCascade: 'none' })) return { status: 400, body: { status: 'failure', error: 'invalid_token' } };
    return { status: 200, body: { status: 'success' } };
  }
  // GET {accounts}/oauth/serverinfo: every DC's accounts server.
  function serverinfo() {
    const locations = Object.fromEntries(Object.entries(emu.realms).filter(([, r]) => r.vendor === 'zoho').map(([k, r]) => [r.dc, accountsBase(k)]));
    return { status: 200, body: { result: 'success', locations } };
  }
  /** Sign-in: the user is looked up in this DC first, then in the others (Zoho sends the user to their own DC). */
  function findUser(ctx, ref) {
    const here = users();
    if (!ref) { const u = here.current(); return u ? { realmKey: name, user: u } : null; }
    const u = here.resolve(ref);
    if (u) return { realmKey: name, user: u };
    for (const [k, r] of Object.entries(emu.realms)) {
      if (r.vendor !== 'zoho' || k === name) continue;
      const other = emu.users[k].byEmail(ref);
      if (other) return { realmKey: k, user: other };
    }
    return null;
  }
  const consent = {
    vendorName: 'Zoho CRM', allowLabel: 'Accept', denyLabel: 'Reject', requireResponseType: true, requireScope: true, scopeSep: /[ ,+]+/,
    denyMode: 'redirect', denyParams: { error: 'access_denied' }, findUser,
    codeExtra: (q) => ({ offline: q.get('access_type') === 'offline', prompt: q.get('prompt') }),
    redirectExtra: (ctx, key) => ({ location: emu.realms[key].dc, 'accounts-server': accountsBase(key) }),
  };

  return {
    name,
    contentType: 'application/json;charset=UTF-8',
    kinds: {
      calls: [['Calls', (r) => !r._deleted]],
      messages: [['Notes', (r) => !r._deleted], ['Tasks', (r) => !r._deleted]],
      contacts: [['Contacts', (r) => !r._deleted], ['Leads', (r) => !r._deleted]],
    },
    init(s) {
      store = s;
      store.meta.fields = Object.fromEntries(MODULES.map((m) => [m, baseFields(m)]));
      store.meta.refreshUse = new Map();
      for (const m of MODULES) store.col(m);
    },
    makeUserIds: (seq) => ({ id: `${DC_ID[realm.dc]}000000${String(100000 + seq).padStart(6, '0')}` }),
    defaultUsers: () => [{ name: 'Emulator Rep', email: 'rep@example.com', admin: true }],
    ownership: (rec) => ({ owner: rec.Owner ? rec.Owner.id : null, createdBy: rec.Created_By ? rec.Created_By.id : null }),
    authenticate(ctx) {
      const h = ctx.headers.authorization;
      if (!h || !/^Zoho-oauthtoken\s+/i.test(h)) return zerr(401, 'AUTHENTICATION_FAILURE', 'Authentication failed', {});
      const c = ctx.tokens.check(bearer(ctx.headers, 'Zoho-oauthtoken'));
      if (c.state === 'ok') { ctx.auth = c; return null; }
      return this.errors.unauthorized(ctx, c.state);
    },
    decorate(ctx, out) { out.headers ||= {}; return out; },
    errors: {
      unauthorized() { return zerr(401, 'INVALID_TOKEN', 'invalid oauth token', {}); },
      rateLimited(ctx, retryAfter) {
        const out = zerr(429, 'TOO_MANY_REQUESTS', 'The number of requests you have made has exceeded the allowed limit', {});
        out.headers = {};
        if (retryAfter !== null && retryAfter !== undefined) out.headers['Retry-After'] = String(retryAfter);
        return out;
      },
      limitExceeded() { return zerr(429, 'TOO_MANY_REQUESTS', 'API credits exhausted for the rolling 24-hour window', {}); },
      serverError(ctx, status) { return zerr(status, 'INTERNAL_ERROR', 'Internal server error occurred.', {}); },
      notFound(ctx, why) { return why === 'method' ? zerr(405, 'INVALID_REQUEST_METHOD', 'The http request method type is not a valid one', {}) : zerr(404, 'INVALID_URL_PATTERN', 'Please check if the URL trying to access is a correct one', {}); },
      badJson() { return zerr(400, 'INVALID_DATA', 'invalid data', { expected_data_type: 'jsonobject' }); },
    },
    seedContact(c) {
      const m = c.type === 'Lead' ? 'Leads' : 'Contacts';
      const phones = [...(c.phones || [])];
      if (c.phone) phones.unshift(c.phone);
      const [fn, ...ln] = String(c.name || '').split(' ');
      const values = { First_Name: c.firstName ?? (c.name ? fn : null), Last_Name: c.lastName ?? (c.name ? ln.join(' ') || fn : 'Unknown'), Email: c.email ?? null, Phone: phones[0] ?? null, Mobile: c.mobile ?? phones[1] ?? null };
      if (phones[2]) values[m === 'Contacts' ? 'Home_Phone' : 'Fax'] = phones[2];
      if (m === 'Leads') values.Company = c.company ?? null;
      Object.assign(values, c.fields || {});
      const createdMs = toMs(c.createdAt);
      return insert(m, values, { createdMs, updatedMs: toMs(c.updatedAt, createdMs), id: c.id });
    },
    seedRaw(col, raw) {
      const m = modName(col);
      if (!m) throw new Error(`zoho has no module ${col}`);
      const { createdAt, updatedAt, id, ...values } = raw;
      const createdMs = toMs(createdAt);
      return insert(m, values, { createdMs, updatedMs: toMs(updatedAt, createdMs), id });
    },
    defineField(spec) {
      const m = modName(spec.object);
      if (!m) throw new Error('zoho module must be Contacts, Leads, Calls, Tasks or Notes');
      store.meta.fields[m][spec.name] = F(spec.type || 'text', { max: spec.length || 255, unique: !!spec.unique, external: !!spec.external });
      return { module: m, api_name: spec.name, ...store.meta.fields[m][spec.name] };
    },
    routes: [
      { method: 'POST', path: '/oauth/v2/token', handler: token, auth: false, kind: 'auth' },
      { method: 'POST', path: '/oauth/v2/token/revoke', handler: revoke, auth: false, kind: 'auth' },
      { method: 'GET', path: '/oauth/v2/auth', handler: (ctx) => authorize(ctx, consent), auth: false, kind: 'auth' },
      { method: 'POST', path: '/oauth/v2/auth', handler: (ctx) => authorize(ctx, consent), auth: false, kind: 'auth' },
      { method: 'GET', path: '/oauth/serverinfo', handler: serverinfo, auth: false, kind: 'auth' },
      { method: 'GET', path: '/crm/v8/users', handler: usersList },
      { method: 'GET', path: '/crm/v8/users/:id', handler: userGet },
      { method: 'POST', path: '/crm/v8/coql', handler: coql },
      { method: 'POST', path: '/crm/v8/Notes', handler: notesCreate },
      { method: 'GET', path: '/crm/v8/Notes', handler: notesList },
      { method: 'GET', path: '/crm/v8/:module/search', handler: search },
      { method: 'POST', path: '/crm/v8/:module/upsert', handler: upsert },
      { method: 'GET', path: '/crm/v8/:module', handler: list },
      { method: 'POST', path: '/crm/v8/:module', handler: (ctx) => create(ctx) },
      { method: 'PUT', path: '/crm/v8/:module', handler: updateMany },
      { method: 'GET', path: '/crm/v8/:module/:id', handler: getOne },
      { method: 'PUT', path: '/crm/v8/:module/:id', handler: updateOne },
      { method: 'GET', path: '/crm/v8/:module/:id/Notes', handler: notesOfRecord },
      { method: 'POST', path: '/crm/v8/:module/:id/Notes', handler: notesOfRecord },
    ],
  };
}
