// Spec check: the request bodies the emulator accepts and the response bodies it produces for
// Pipedrive (v1 + v2), Zoho CRM v8 and Clio v4 validate against the vendors' OpenAPI files in
// shared/specs (`SHARED` in www/world/browser.mjs: CALLTRAIL_SHARED, beside the repo, or /work/shared).
//
// OpenAPI 3.0 is not JSON Schema; the conversions and relaxations applied here, and why:
//  - `nullable: true` becomes a type union with "null" (OpenAPI 3.0 keyword, unknown to Ajv).
//  - boolean exclusiveMinimum/exclusiveMaximum (draft-4 style) become numeric ones.
//  - R1 Pipedrive POST /callLogs start_time/end_time: the schema says `format: date-time` but the
//    description (and the API) use "YYYY-MM-DD HH:MM:SS" UTC, which is not RFC 3339. The format is
//    dropped for these two properties; the emulator itself checks the documented form.
//  - R2 Zoho: `oneOf` becomes `anyOf`. The alternatives (Response_Wrapper, API_Exception, ...) are
//    objects with no required members, so every body matches several and oneOf could never pass.
//  - R3 Zoho: refs to files not in the copy (users.json, tags.json, attachments.json, ...) are
//    stubbed with {} (accept anything).
//  - R4 Zoho notes.json Note: one schema serves requests and responses and lists server-side fields
//    (id, Created_Time, $editable, ...) as required; for request bodies `required` is dropped.
//  - R5 Zoho insert/update: the spec lists only a "200" response; Zoho answers 201 (insert), 207
//    (mixed) and 400 (all failed) with the same body shape, so those are validated against "200".
//  - R7 Pipedrive v2 additional_data.next_cursor: typed string, but its description says it is
//    null at the end of the data; made nullable.
//  - R6 Clio POST /notes.json: the schema requires both `contact` and `matter`; a Contact note has
//    only `contact` (a Matter note only `matter`), so `required` there becomes ["type"].

import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { boot } from './helpers.mjs';
import { SHARED } from '../../www/world/browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const require = createRequire(path.join(repoRoot, 'package.json'));
const Ajv = require('ajv');
const addFormats = require('ajv-formats');
const YAML = require('yaml');

const shared = SHARED;
const specsDir = path.join(shared, 'specs');
if (!fs.existsSync(specsDir)) {
  throw new Error(`spec check: ${specsDir} not found. Set CALLTRAIL_SHARED, or put the shared/ folder beside the repository (X/<clone> + X/shared) or at /work/shared.`);
}

// ---------- loading and converting the specs ----------
function convert(node, { zoho = false } = {}) {
  if (Array.isArray(node)) return node.map((n) => convert(n, { zoho }));
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref' && typeof v === 'string' && !v.startsWith('#')) return {}; // R3
    if (zoho && k === 'oneOf') { out.anyOf = convert(v, { zoho }); continue; } // R2
    out[k] = convert(v, { zoho });
  }
  if (out.nullable === true) {
    if (out.type) out.type = Array.isArray(out.type) ? [...out.type, 'null'] : [out.type, 'null'];
    if (out.enum) out.enum = [...out.enum, null];
    delete out.nullable;
  }
  for (const [ex, lim] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']]) {
    if (out[ex] === true) { out[ex] = out[lim]; delete out[lim]; } else if (out[ex] === false) delete out[ex];
  }
  return out;
}

const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
const docs = {};
function load(id, file, opts) {
  const text = fs.readFileSync(path.join(specsDir, file), 'utf8');
  const doc = convert(file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text), opts);
  docs[id] = doc;
  return doc;
}
const pd1 = load('pd1', 'pipedrive/openapi.yaml');
load('pd2', 'pipedrive/openapi-v2.yaml');
load('zrec', 'zoho/v8.0/record.json', { zoho: true });
const znotes = load('znotes', 'zoho/v8.0/notes.json', { zoho: true });
const clio = load('clio', 'clio/openapi.json');

// R1
for (const p of ['start_time', 'end_time']) delete pd1.paths['/callLogs'].post.requestBody.content['application/json'].schema.properties[p].format;
(function relaxResp(s) { // the same properties inside the response's allOf
  for (const op of [pd1.paths['/callLogs'].post.responses['200'], pd1.paths['/callLogs/{id}'].get.responses['200']]) {
    const data = op.content['application/json'].schema.properties.data;
    for (const part of data.allOf) if (part.properties?.start_time) { delete part.properties.start_time.format; delete part.properties.end_time.format; }
  }
  const list = pd1.paths['/callLogs'].get.responses['200'].content['application/json'].schema.properties.data.items;
  for (const part of list.allOf) if (part.properties?.start_time) { delete part.properties.start_time.format; delete part.properties.end_time.format; }
})();
// R4: a request-only copy of the Note schema without `required`.
znotes.components.schemas.Note_Request = { ...znotes.components.schemas.Note };
delete znotes.components.schemas.Note_Request.required;
znotes.paths['/crm/v8/Notes'].post.requestBody.content['application/json'].schema = { type: 'object', required: ['data'], properties: { data: { type: 'array', items: { $ref: '#/components/schemas/Note_Request' } } } };
// R7
for (const doc of [docs.pd2]) {
  (function walk(n) {
    if (!n || typeof n !== 'object') return;
    if (n.next_cursor && n.next_cursor.type === 'string') n.next_cursor.type = ['string', 'null'];
    for (const v of Object.values(n)) walk(v);
  })(doc.paths);
}
// R6
clio.paths['/notes.json'].post.requestBody.content['application/json'].schema.properties.data.required = ['type'];

for (const [id, doc] of Object.entries(docs)) { doc.$id = `spec:${id}`; ajv.addSchema(doc); }

function absolutise(node, id) {
  if (Array.isArray(node)) return node.map((n) => absolutise(n, id));
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#') ? `spec:${id}${v}` : absolutise(v, id);
  return out;
}
const cache = new Map();
function validator(id, specPath, method, which) {
  const key = `${id} ${method} ${specPath} ${which}`;
  if (cache.has(key)) return cache.get(key);
  const op = docs[id].paths[specPath]?.[method.toLowerCase()];
  if (!op) throw new Error(`spec ${id} has no ${method} ${specPath}`);
  let holder = which === 'request' ? op.requestBody : op.responses?.[which];
  let v = null;
  if (holder && holder.content) {
    const ct = Object.keys(holder.content).find((c) => c.includes('json'));
    if (ct && holder.content[ct].schema) v = ajv.compile(absolutise(holder.content[ct].schema, id));
  }
  cache.set(key, v);
  return v;
}

// ---------- exercising the emulator ----------
let t;
const checked = { request: 0, response: 0 };
const failures = [];
before(async () => { t = await boot(); });
after(async () => { await t.close(); });

/** Call the emulator and validate request and response bodies against the spec operation. */
async function exercise(id, specPath, vendor, method, urlPath, { body, headers, statusMap = {}, expect } = {}) {
  if (body !== undefined) {
    const vr = validator(id, specPath, method, 'request');
    assert.ok(vr, `${id} ${method} ${specPath} has a request schema`);
    if (!vr(body)) failures.push(`${id} ${method} ${specPath} request: ${ajv.errorsText(vr.errors)}`);
    checked.request++;
  }
  const res = await t.call(vendor, method, urlPath, { body, headers });
  if (expect) assert.equal(res.status, expect, `${vendor} ${method} ${urlPath}: ${res.text}`);
  const status = String(res.status);
  const which = statusMap[status] || status;
  const vs = validator(id, specPath, method, which);
  if (res.status < 300) assert.ok(vs, `${id} ${method} ${specPath} documents a ${which} body`);
  if (vs && res.body !== null) {
    if (!vs(res.body)) failures.push(`${id} ${method} ${specPath} response ${status}: ${ajv.errorsText(vs.errors)}\n  body: ${res.text.slice(0, 400)}`);
    checked.response++;
  }
  return res;
}

test('Pipedrive v1 + v2 bodies conform to openapi.yaml / openapi-v2.yaml', async () => {
  await t.admin('POST', '/seed', { vendor: 'pipedrive', contacts: [{ name: 'Ann Lee', phone: '+1 (212) 555-0100', email: 'ann@example.com' }] });
  const person = await exercise('pd2', '/persons', 'pipedrive', 'POST', '/api/v2/persons', { body: { name: 'New Lead - +15551234567', phones: [{ value: '+15551234567', primary: true, label: 'work' }] }, expect: 200 });
  await exercise('pd2', '/persons/{id}', 'pipedrive', 'GET', `/api/v2/persons/${person.body.data.id}`, { expect: 200 });
  await exercise('pd2', '/persons/{id}', 'pipedrive', 'PATCH', `/api/v2/persons/${person.body.data.id}`, { body: { job_title: 'Unknown caller' }, expect: 200 });
  await exercise('pd2', '/persons', 'pipedrive', 'GET', '/api/v2/persons?limit=1&sort_by=update_time&sort_direction=desc', { expect: 200 });
  await exercise('pd2', '/persons/search', 'pipedrive', 'GET', '/api/v2/persons/search?term=5550100&fields=phone', { expect: 200 });
  const act = await exercise('pd2', '/activities', 'pipedrive', 'POST', '/api/v2/activities', { body: { subject: 'Inbound call', type: 'call', person_id: 1, due_date: '2024-05-01', due_time: '10:00', duration: '00:02', done: true, note: 'calltrail:call-1', participants: [{ person_id: 1, primary: true }] }, expect: 200 });
  await exercise('pd2', '/activities/{id}', 'pipedrive', 'PATCH', `/api/v2/activities/${act.body.data.id}`, { body: { note: 'calltrail:call-1 more notes' }, expect: 200 });
  await exercise('pd2', '/activities/{id}', 'pipedrive', 'GET', `/api/v2/activities/${act.body.data.id}`, { expect: 200 });
  await exercise('pd2', '/activities', 'pipedrive', 'GET', '/api/v2/activities?person_id=1', { expect: 200 });
  const cl = await exercise('pd1', '/callLogs', 'pipedrive', 'POST', '/v1/callLogs', { body: { person_id: 1, subject: 'Call', duration: '125', outcome: 'connected', from_phone_number: '+12125550100', to_phone_number: '+15550001111', start_time: '2024-05-01 10:00:00', end_time: '2024-05-01 10:02:05', note: 'calltrail:call-2' }, expect: 200 });
  await exercise('pd1', '/callLogs', 'pipedrive', 'POST', '/v1/callLogs', { body: { to_phone_number: '+1', outcome: 'connected', start_time: '2024-05-01 10:00:00', end_time: '2024-05-01 10:00:01', duration: 'x' }, expect: 400 });
  await exercise('pd1', '/callLogs/{id}', 'pipedrive', 'GET', `/v1/callLogs/${cl.body.data.id}`, { expect: 200 });
  await exercise('pd1', '/callLogs/{id}', 'pipedrive', 'GET', '/v1/callLogs/doesnotexist', { expect: 404 });
  await exercise('pd1', '/callLogs', 'pipedrive', 'GET', '/v1/callLogs?limit=10', { expect: 200 });
  const note = await exercise('pd1', '/notes', 'pipedrive', 'POST', '/v1/notes', { body: { content: 'SMS: hello', person_id: 1 }, expect: 200 });
  await exercise('pd1', '/notes/{id}', 'pipedrive', 'PUT', `/v1/notes/${note.body.data.id}`, { body: { content: 'SMS: hello again' }, expect: 200 });
  await exercise('pd1', '/notes', 'pipedrive', 'GET', '/v1/notes?person_id=1', { expect: 200 });
  await exercise('pd1', '/activityTypes', 'pipedrive', 'POST', '/v1/activityTypes', { body: { name: 'Fax', icon_key: 'document' }, expect: 200 });
  await exercise('pd1', '/activityTypes', 'pipedrive', 'GET', '/v1/activityTypes', { expect: 200 });
  // Users: the current user (OAuth tokens are bound to one), the list, one by id, find.
  await exercise('pd1', '/users/me', 'pipedrive', 'GET', '/v1/users/me', { expect: 200 });
  await exercise('pd1', '/users', 'pipedrive', 'GET', '/v1/users', { expect: 200 });
  await exercise('pd1', '/users/{id}', 'pipedrive', 'GET', '/v1/users/1', { expect: 200 });
  await exercise('pd1', '/users/find', 'pipedrive', 'GET', '/v1/users/find?term=rep@&search_by_email=1', { expect: 200 });
  // The 401 body against the spec's unauthorized schema (documented on /users/me).
  const v401 = validator('pd1', '/users/me', 'GET', '401');
  const r401 = await t.call('pipedrive', 'GET', '/v1/callLogs', { auth: false });
  assert.equal(r401.status, 401);
  assert.ok(v401(r401.body), ajv.errorsText(v401.errors));
  assert.deepEqual(failures.filter((f) => f.startsWith('pd')), []);
});

test('Zoho v8 bodies conform to record.json / notes.json', async () => {
  const seeded = await t.admin('POST', '/seed', { vendor: 'zoho', contacts: [{ firstName: 'Ann', lastName: 'Lee', phone: '+1 (212) 555-0100' }, { type: 'Lead', lastName: 'Lo', phone: '212.555.0100', company: 'Acme' }] });
  const cid = seeded.body.created[0].id;
  const z = (p) => ({ statusMap: { 201: '200', 207: '200', 400: '200' }, ...p });
  await exercise('zrec', '/crm/v8/{module_api_name}/search', 'zoho', 'GET', '/crm/v8/Contacts/search?phone=%2B12125550100&fields=Full_Name,Phone,Mobile,Modified_Time', { expect: 200 });
  await exercise('zrec', '/crm/v8/{module_api_name}/search', 'zoho', 'GET', `/crm/v8/Leads/search?criteria=${encodeURIComponent('((Phone:equals:212.555.0100)or(Mobile:equals:212.555.0100))')}`, { expect: 200 });
  const lead = await exercise('zrec', '/crm/v8/{module_api_name}', 'zoho', 'POST', '/crm/v8/Leads', z({ body: { data: [{ Last_Name: 'New Lead - +15551234567', Phone: '+15551234567', Company: 'Unknown' }] }, expect: 201 }));
  assert.equal(lead.body.data[0].status, 'success');
  const call = await exercise('zrec', '/crm/v8/{module_api_name}', 'zoho', 'POST', '/crm/v8/Calls', z({ body: { data: [{ Subject: 'Inbound call', Call_Type: 'Inbound', Call_Start_Time: '2024-05-01T10:00:00+00:00', Call_Duration: '02:05', Who_Id: { id: cid }, Description: 'calltrail:call-3' }] }, expect: 201 }));
  await exercise('zrec', '/crm/v8/{module_api_name}', 'zoho', 'POST', '/crm/v8/Calls', z({ body: { data: [{ Subject: 'x', Call_Type: 'Inbound', Call_Start_Time: '2024-05-01T10:00:00+00:00' }] }, expect: 400 }));
  const id = call.body.data[0].details.id;
  await exercise('zrec', '/crm/v8/{module_api_name}/{id}', 'zoho', 'PUT', `/crm/v8/Calls/${id}`, z({ body: { data: [{ Description: 'calltrail:call-3 notes' }] }, expect: 200 }));
  await exercise('zrec', '/crm/v8/{module_api_name}', 'zoho', 'PUT', '/crm/v8/Calls', z({ body: { data: [{ id, Call_Result: 'Interested' }] }, expect: 200 }));
  await exercise('zrec', '/crm/v8/{module_api_name}/{id}', 'zoho', 'GET', `/crm/v8/Calls/${id}`, { expect: 200 });
  await exercise('zrec', '/crm/v8/{module_api_name}', 'zoho', 'GET', '/crm/v8/Calls?fields=Subject,Call_Start_Time,Who_Id', { expect: 200 });
  await exercise('zrec', '/crm/v8/{module_api_name}/upsert', 'zoho', 'POST', '/crm/v8/Contacts/upsert', z({ body: { data: [{ Last_Name: 'Lee', Email: 'ann@example.com' }], duplicate_check_fields: ['Email'] }, expect: 200 }));
  await exercise('zrec', '/crm/v8/{module_api_name}', 'zoho', 'POST', '/crm/v8/Tasks', z({ body: { data: [{ Subject: 'SMS from +12125550100', Due_Date: '2024-05-01', Status: 'Completed', Who_Id: { id: cid }, Description: 'hello' }] }, expect: 201 }));
  await exercise('znotes', '/crm/v8/Notes', 'zoho', 'POST', '/crm/v8/Notes', z({ body: { data: [{ Note_Title: 'SMS', Note_Content: 'hello', Parent_Id: { module: { api_name: 'Contacts' }, id: cid } }] }, expect: 201 }));
  await exercise('znotes', '/crm/v8/Notes', 'zoho', 'GET', '/crm/v8/Notes', { expect: 200 });
  assert.deepEqual(failures.filter((f) => f.startsWith('z')), []);
});

test('Clio v4 bodies conform to openapi.json', async () => {
  const c = await exercise('clio', '/contacts.json', 'clio', 'POST', '/api/v4/contacts.json?fields=id,etag,name,type,phone_numbers{id,number,name,primary},updated_at,created_at', { body: { data: { type: 'Person', name: 'New Lead - +15551234567', phone_numbers: [{ name: 'Work', number: '+15551234567', default_number: true }] } }, expect: 201 });
  const cid = c.body.data.id;
  await exercise('clio', '/contacts.json', 'clio', 'GET', '/api/v4/contacts.json?query=5551234567&fields=id,name,updated_at,created_at,phone_numbers{number,name,primary}', { expect: 200 });
  await exercise('clio', '/contacts/{id}.json', 'clio', 'GET', `/api/v4/contacts/${cid}.json?fields=id,etag,name,primary_phone_number`, { expect: 200 });
  await exercise('clio', '/contacts/{contact_id}/phone_numbers.json', 'clio', 'GET', `/api/v4/contacts/${cid}/phone_numbers.json?fields=id,number,name,primary`, { expect: 200 });
  const fields = 'fields=id,etag,subject,body,type,date,received_at,created_at,updated_at,senders,receivers,external_properties{id,name,value}';
  const comm = await exercise('clio', '/communications.json', 'clio', 'POST', `/api/v4/communications.json?${fields}`, { body: { data: { type: 'PhoneCommunication', subject: 'Inbound call from +15551234567', body: 'Duration 2:05\nRecording: https://rec.example/1.mp3', received_at: '2024-05-01T10:00:00Z', senders: [{ id: cid, type: 'Contact' }], receivers: [{ id: 345678901, type: 'User' }], external_properties: [{ name: 'calltrail_call_id', value: 'call-4' }] } }, expect: 201 });
  await exercise('clio', '/communications.json', 'clio', 'POST', '/api/v4/communications.json', { body: { data: { type: 'PhoneCommunication', subject: 'x', body: 'y', received_at: '2024-05-01T10:00:00Z', senders: [{ id: 424242, type: 'Contact' }] } }, expect: 422 });
  await exercise('clio', '/communications.json', 'clio', 'GET', `/api/v4/communications.json?external_property_name=calltrail_call_id&external_property_value=call-4&${fields}`, { expect: 200 });
  await exercise('clio', '/communications/{id}.json', 'clio', 'PATCH', `/api/v4/communications/${comm.body.data.id}.json?${fields}`, { headers: { 'if-match': comm.body.data.etag }, body: { data: { body: 'Duration 2:05\nNotes: callback' } }, expect: 200 });
  await exercise('clio', '/communications/{id}.json', 'clio', 'PATCH', `/api/v4/communications/${comm.body.data.id}.json`, { headers: { 'if-match': comm.body.data.etag }, body: { data: { body: 'stale' } }, expect: 412 });
  await exercise('clio', '/communications/{id}.json', 'clio', 'GET', `/api/v4/communications/${comm.body.data.id}.json?${fields}`, { expect: 200 });
  await exercise('clio', '/communications/{id}.json', 'clio', 'GET', '/api/v4/communications/999.json', { expect: 404 });
  await exercise('clio', '/notes.json', 'clio', 'POST', '/api/v4/notes.json?fields=id,etag,type,subject,detail,date,created_at,updated_at', { body: { data: { type: 'Contact', contact: { id: cid }, subject: 'SMS 2024-05-01', detail: 'hello', date: '2024-05-01' } }, expect: 201 });
  await exercise('clio', '/notes.json', 'clio', 'GET', `/api/v4/notes.json?contact_id=${cid}&fields=id,subject,detail`, { expect: 200 });
  await exercise('clio', '/activities.json', 'clio', 'POST', '/api/v4/activities.json?fields=id,etag,type,date,quantity,note,created_at,updated_at', { body: { data: { type: 'TimeEntry', date: '2024-05-01', quantity: 125, note: 'Call', communication: { id: comm.body.data.id } } }, expect: 201 });
  await exercise('clio', '/activities.json', 'clio', 'GET', `/api/v4/activities.json?communication_id=${comm.body.data.id}&fields=id,type,quantity`, { expect: 200 });
  const ufields = 'fields=id,etag,name,first_name,last_name,email,enabled,initials,subscription_type,account_owner,clio_connect,court_rules_default_attendee,default_calendar_id,phone_number,time_zone,roles,created_at,updated_at';
  await exercise('clio', '/users/who_am_i.json', 'clio', 'GET', `/api/v4/users/who_am_i.json?${ufields}`, { expect: 200 });
  await exercise('clio', '/users.json', 'clio', 'GET', `/api/v4/users.json?${ufields}`, { expect: 200 });
  await exercise('clio', '/users/{id}.json', 'clio', 'GET', `/api/v4/users/345678901.json?${ufields}`, { expect: 200 });
  const r401 = await exercise('clio', '/contacts.json', 'clio', 'GET', '/api/v4/contacts.json', { headers: { authorization: 'Bearer nope' }, expect: 401 });
  assert.ok(r401.body.error.message);
  assert.deepEqual(failures.filter((f) => f.startsWith('clio')), []);
});

test('spec check actually validated bodies', () => {
  assert.deepEqual(failures, []);
  assert.ok(checked.request >= 20, `validated ${checked.request} request bodies`);
  assert.ok(checked.response >= 40, `validated ${checked.response} response bodies`);
});
