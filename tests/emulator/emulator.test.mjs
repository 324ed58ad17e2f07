// Behaviour tests of the emulator itself: auth, every fault type, search lag, commit-then-drop,
// paging, strict validation and phone search semantics. Run: node --test tests/emulator/

import test, { before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { boot } from './helpers.mjs';

let t;
before(async () => { t = await boot(); });
after(async () => { await t.close(); });
beforeEach(async () => { await t.admin('POST', '/reset'); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hsCall = (marker) => ({ properties: { hs_timestamp: '2024-05-01T10:00:00Z', hs_call_direction: 'INBOUND', hs_call_duration: '65000', hs_call_body: `marker ${marker}` } });

// ---------- CLI ----------
test('CLI: --port 0 prints one ready JSON line and serves until SIGTERM', async () => {
  const server = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'www', 'crm-emulator', 'server.mjs');
  const child = spawn(process.execPath, [server, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const line = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => { buf += d; if (buf.includes('\n')) resolve(buf.split('\n')[0]); });
    child.on('error', reject);
    setTimeout(() => reject(new Error('no ready line')), 5000);
  });
  const ready = JSON.parse(line);
  assert.equal(ready.ready, true);
  assert.ok(ready.port > 0);
  const res = await fetch(`http://127.0.0.1:${ready.port}/_admin/health`);
  assert.equal((await res.json()).ok, true);
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

// ---------- auth ----------
test('auth: each vendor answers 401 with its own error body when the token is missing or wrong', async () => {
  const cases = [
    ['hubspot', 'GET', '/crm/v3/objects/contacts', (b) => b.category === 'INVALID_AUTHENTICATION' && b.status === 'error'],
    ['pipedrive', 'GET', '/api/v2/persons', (b) => b.success === false && b.errorCode === 401 && b.error === 'unauthorized access'],
    ['salesforce', 'GET', '/services/data/v60.0/query?q=SELECT+Id+FROM+Contact', (b) => Array.isArray(b) && b[0].errorCode === 'INVALID_SESSION_ID'],
    ['zoho', 'GET', '/crm/v8/Contacts?fields=Last_Name', (b) => b.code === 'AUTHENTICATION_FAILURE' && b.status === 'error'],
    ['clio', 'GET', '/api/v4/contacts.json', (b) => b.error && b.error.type === 'Unauthorized'],
  ];
  for (const [v, m, p, ok] of cases) {
    const missing = await t.call(v, m, p, { auth: false });
    assert.equal(missing.status, 401, `${v} missing token`);
    assert.ok(ok(missing.body), `${v} body ${missing.text}`);
    const wrong = await t.call(v, m, p, { auth: false, headers: v === 'pipedrive' ? { 'x-api-token': 'nope' } : v === 'zoho' ? { authorization: 'Zoho-oauthtoken nope' } : { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401, `${v} wrong token`);
  }
  // Zoho refuses the Bearer scheme; Pipedrive takes api_token in the query too.
  assert.equal((await t.call('zoho', 'GET', '/crm/v8/Contacts?fields=Last_Name', { auth: false, headers: { authorization: 'Bearer zoho-token' } })).status, 401);
  assert.equal((await t.call('pipedrive', 'GET', '/api/v2/persons?api_token=pipedrive-token', { auth: false })).status, 200);
  assert.equal((await t.call('zoho', 'GET', '/crm/v8/Contacts?fields=Last_Name', { auth: false, headers: { authorization: 'Zoho-oauthtoken nope' } })).body.code, 'INVALID_TOKEN');
});

test('auth: tokens set through the admin API expire; refresh_token grant issues a working token', async () => {
  await t.admin('POST', '/tokens', { vendor: 'hubspot', access_token: 'short', expires_in: 0.2, replace: true });
  assert.equal((await t.call('hubspot', 'GET', '/crm/v3/objects/contacts', { auth: false, headers: { authorization: 'Bearer short' } })).status, 200);
  assert.equal((await t.call('hubspot', 'GET', '/crm/v3/objects/contacts')).status, 401, 'replace:true dropped the default token');
  await sleep(300);
  const exp = await t.call('hubspot', 'GET', '/crm/v3/objects/contacts', { auth: false, headers: { authorization: 'Bearer short' } });
  assert.equal(exp.status, 401);
  assert.equal(exp.body.category, 'EXPIRED_AUTHENTICATION');
  const tok = await t.call('hubspot', 'POST', '/oauth/v1/token', { auth: false, form: { grant_type: 'refresh_token', client_id: 'hubspot-client', client_secret: 'hubspot-secret', refresh_token: 'hubspot-refresh' } });
  assert.equal(tok.status, 200);
  assert.equal(tok.body.expires_in, 1800);
  assert.equal((await t.call('hubspot', 'GET', '/crm/v3/objects/contacts', { auth: false, headers: { authorization: `Bearer ${tok.body.access_token}` } })).status, 200);
  const badRefresh = await t.call('hubspot', 'POST', '/oauth/v1/token', { auth: false, form: { grant_type: 'refresh_token', client_id: 'hubspot-client', client_secret: 'hubspot-secret', refresh_token: 'nope' } });
  assert.equal(badRefresh.status, 400);
  assert.equal(badRefresh.body.status, 'BAD_REFRESH_TOKEN');
});

// Each vendor's own client authentication goes with the verifier (HubSpot, Zoho and Clio always
// want client_secret; Salesforce's default app too). Pipedrive documents no PKCE (its own tests
// are in oauth.test.mjs).
test('auth: authorization_code grant with PKCE checks code_verifier (the four token endpoints that take one)', async () => {
  const verifier = 'v'.repeat(50);
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const endpoints = { hubspot: '/oauth/v1/token', salesforce: '/services/oauth2/token', zoho: '/oauth/v2/token', clio: '/oauth/token' };
  for (const [v, p] of Object.entries(endpoints)) {
    const { body: { code } } = await t.admin('POST', '/oauth/codes', { vendor: v, client_id: `${v}-client`, redirect_uri: 'https://ext.example/cb', code_challenge: challenge, code_challenge_method: 'S256' });
    const wrong = await t.call(v, 'POST', p, { auth: false, form: { grant_type: 'authorization_code', client_id: `${v}-client`, client_secret: `${v}-secret`, code, redirect_uri: 'https://ext.example/cb', code_verifier: 'x'.repeat(50) } });
    assert.ok(wrong.status === 400 || (v === 'zoho' && wrong.body.error), `${v} wrong verifier: ${wrong.status} ${wrong.text}`);
    const good = await t.call(v, 'POST', p, { auth: false, form: { grant_type: 'authorization_code', client_id: `${v}-client`, client_secret: `${v}-secret`, code, redirect_uri: 'https://ext.example/cb', code_verifier: verifier } });
    assert.equal(good.status, 200, `${v}: ${good.text}`);
    assert.ok(good.body.access_token && good.body.refresh_token, `${v} tokens`);
    if (v === 'salesforce') { assert.equal(good.body.expires_in, undefined); assert.ok(good.body.instance_url.endsWith('/salesforce')); }
    if (v === 'zoho') assert.ok(good.body.api_domain.endsWith('/zoho'));
    const replay = await t.call(v, 'POST', p, { auth: false, form: { grant_type: 'authorization_code', client_id: `${v}-client`, client_secret: `${v}-secret`, code, redirect_uri: 'https://ext.example/cb', code_verifier: verifier } });
    assert.ok(replay.status === 400 || (v === 'zoho' && replay.body.error === 'invalid_code'), `${v} code reuse`);
  }
  // The authorize endpoint redirects straight back with a code and the state.
  const r = await t.call('clio', 'GET', '/oauth/authorize?client_id=clio-client&redirect_uri=https%3A%2F%2Fext.example%2Fcb&state=s1&response_type=code', { auth: false });
  assert.equal(r.status, 302);
  const loc = new URL(r.headers.get('location'));
  assert.equal(loc.searchParams.get('state'), 's1');
  assert.ok(loc.searchParams.get('code'));
});

// ---------- faults ----------
test('fault: rate_limit gives 429, Retry-After and the vendor rate-limit headers, for the next N requests only', async () => {
  const expectations = {
    hubspot: ['/crm/v3/objects/contacts', (h) => h.get('x-hubspot-ratelimit-remaining') === '0' && h.get('x-hubspot-ratelimit-max')],
    pipedrive: ['/api/v2/persons', (h) => h.get('x-ratelimit-remaining') === '0' && h.get('x-ratelimit-limit') && h.get('x-daily-requests-left')],
    salesforce: ['/services/data/v60.0/query?q=SELECT+Id+FROM+Contact', (h) => /^api-usage=\d+\/15000$/.test(h.get('sforce-limit-info'))],
    zoho: ['/crm/v8/Contacts?fields=Last_Name', () => true],
    clio: ['/api/v4/contacts.json', (h) => h.get('x-ratelimit-remaining') === '0' && h.get('x-ratelimit-reset')],
  };
  for (const [v, [p, hdr]] of Object.entries(expectations)) {
    await t.admin('POST', '/faults', { vendor: v, type: 'rate_limit', count: 2, retryAfter: 7 });
    for (let i = 0; i < 2; i++) {
      const r = await t.call(v, 'GET', p);
      assert.equal(r.status, 429, `${v} #${i}`);
      assert.equal(r.headers.get('retry-after'), '7');
      assert.ok(hdr(r.headers), `${v} headers`);
    }
    const r = await t.call(v, 'GET', p);
    assert.ok([200, 204].includes(r.status), `${v} after the fault: ${r.status}`);
  }
  const hs = await t.call('hubspot', 'GET', '/crm/v3/objects/contacts');
  assert.ok(Number(hs.headers.get('x-hubspot-ratelimit-remaining')) > 0);
});

test('fault: path pattern and method scope a fault; probability faults are reproducible with a seed', async () => {
  await t.admin('POST', '/faults', { vendor: 'hubspot', type: 'server_error', status: 503, path: '/search$', count: 5 });
  assert.equal((await t.call('hubspot', 'GET', '/crm/v3/objects/contacts')).status, 200);
  const s = await t.call('hubspot', 'POST', '/crm/v3/objects/contacts/search', { body: {} });
  assert.equal(s.status, 503);
  assert.equal(s.body.status, 'error');
  await t.admin('DELETE', '/faults');
  const run = async () => {
    await t.admin('POST', '/config', { seed: 7 });
    await t.admin('POST', '/faults', { vendor: 'clio', type: 'server_error', probability: 0.5 });
    const out = [];
    for (let i = 0; i < 12; i++) out.push((await t.call('clio', 'GET', '/api/v4/contacts.json')).status);
    await t.admin('DELETE', '/faults');
    return out;
  };
  const a = await run();
  const b = await run();
  assert.deepEqual(a, b);
  assert.ok(a.includes(500) && a.includes(200), `mixed outcomes ${a}`);
});

test('fault: latency delays the answer and still processes the request', async () => {
  await t.admin('POST', '/faults', { vendor: 'zoho', type: 'latency', latencyMs: 250, count: 1 });
  const t0 = Date.now();
  const r = await t.call('zoho', 'POST', '/crm/v8/Contacts', { body: { data: [{ Last_Name: 'Slow' }] } });
  assert.ok(Date.now() - t0 >= 240);
  assert.equal(r.status, 201);
});

test('fault: error_body answers its status and body verbatim, once, and processes nothing', async () => {
  const body = { status: 'error', message: 'Invalid token: недействителен токен доступа', category: 'VALIDATION_ERROR' };
  await t.admin('POST', '/faults', { vendor: 'hubspot', type: 'error_body', method: 'POST', path: '^/crm/v3/objects/calls$', body });
  const props = { properties: { hs_call_title: 'verbatim', hs_timestamp: '2026-01-01T00:00:00Z' } };
  const r = await t.call('hubspot', 'POST', '/crm/v3/objects/calls', { body: props });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, body);
  const again = await t.call('hubspot', 'POST', '/crm/v3/objects/calls', { body: props });
  assert.equal(again.status, 201, 'count 1 by default');
  assert.equal((await t.admin('POST', '/faults', { vendor: 'hubspot', type: 'error_body', status: 302 })).status, 400, 'only 4xx and 5xx');
});

test('fault: server_error uses the vendor error body; unauthorized and expire_token answer 401, expire_token needs a refresh', async () => {
  await t.admin('POST', '/faults', { vendor: 'salesforce', type: 'server_error', status: 500 });
  const e = await t.call('salesforce', 'GET', '/services/data/v60.0/limits');
  assert.equal(e.status, 500);
  assert.equal(e.body[0].errorCode, 'UNKNOWN_EXCEPTION');
  await t.admin('POST', '/faults', { vendor: 'pipedrive', type: 'unauthorized' });
  assert.equal((await t.call('pipedrive', 'GET', '/api/v2/persons')).status, 401);
  assert.equal((await t.call('pipedrive', 'GET', '/api/v2/persons')).status, 200, 'unauthorized leaves tokens alone');
  await t.admin('POST', '/faults', { vendor: 'clio', type: 'expire_token' });
  assert.equal((await t.call('clio', 'GET', '/api/v4/contacts.json')).status, 401);
  const still = await t.call('clio', 'GET', '/api/v4/contacts.json');
  assert.equal(still.status, 401, 'token stays expired');
  assert.match(still.body.error.message, /expired/);
  const tok = await t.call('clio', 'POST', '/oauth/token', { auth: false, form: { grant_type: 'refresh_token', client_id: 'clio-client', client_secret: 'clio-secret', refresh_token: 'clio-refresh' } });
  assert.equal(tok.body.expires_in, 2592000);
  assert.equal((await t.call('clio', 'GET', '/api/v4/contacts.json', { auth: false, headers: { authorization: `Bearer ${tok.body.access_token}` } })).status, 200);
});

test('fault: limit_exceeded is Salesforce 403 REQUEST_LIMIT_EXCEEDED', async () => {
  await t.admin('POST', '/faults', { vendor: 'salesforce', type: 'limit_exceeded' });
  const r = await t.call('salesforce', 'GET', '/services/data/v60.0/limits');
  assert.equal(r.status, 403);
  assert.equal(r.body[0].errorCode, 'REQUEST_LIMIT_EXCEEDED');
});

test('fault: reset destroys the socket before processing: nothing is committed', async () => {
  await t.admin('POST', '/faults', { vendor: 'hubspot', type: 'reset', method: 'POST' });
  await assert.rejects(t.call('hubspot', 'POST', '/crm/v3/objects/calls', { body: hsCall('R1') }));
  assert.equal((await t.admin('GET', '/calls?vendor=hubspot&marker=R1')).body.count, 0);
});

test('fault: commit_then_drop (destroy and 502) performs the write once; a marker lookup then finds exactly one record', async () => {
  // destroy: the client sees a network error, but the call exists.
  await t.admin('POST', '/faults', { vendor: 'hubspot', type: 'commit_then_drop', path: '^/crm/v3/objects/calls$', method: 'POST' });
  await assert.rejects(t.call('hubspot', 'POST', '/crm/v3/objects/calls', { body: hsCall('CTD-1') }));
  let calls = await t.admin('GET', '/calls?vendor=hubspot&marker=CTD-1');
  assert.equal(calls.body.count, 1);
  // A retry that looks for its marker first (by search) finds it and does not create another.
  const found = await t.call('hubspot', 'POST', '/crm/v3/objects/calls/search', { body: { filterGroups: [{ filters: [{ propertyName: 'hs_call_body', operator: 'CONTAINS_TOKEN', value: 'CTD-1' }] }] } });
  assert.equal(found.body.total, 1);
  calls = await t.admin('GET', '/calls?vendor=hubspot&marker=CTD-1');
  assert.equal(calls.body.count, 1);
  // 502 mode on Zoho.
  await t.admin('POST', '/faults', { vendor: 'zoho', type: 'commit_then_drop', mode: '502', method: 'POST' });
  const r = await t.call('zoho', 'POST', '/crm/v8/Calls', { body: { data: [{ Subject: 'Call CTD-2', Call_Type: 'Inbound', Call_Start_Time: '2024-05-01T10:00:00+00:00', Call_Duration: '01:05' }] } });
  assert.equal(r.status, 502);
  assert.equal((await t.admin('GET', '/calls?vendor=zoho&marker=CTD-2')).body.count, 1);
  const log = await t.admin('GET', '/requests?vendor=zoho');
  assert.match(log.body.requests.at(-1).faults.join(','), /commit_then_drop:502/);
});

test('fault: search_lag hides new records from search and list for lagMs, but GET by id sees them at once', async () => {
  await t.admin('POST', '/faults', { vendor: 'hubspot', type: 'search_lag', lagMs: 400 });
  const c = await t.call('hubspot', 'POST', '/crm/v3/objects/contacts', { body: { properties: { firstname: 'Lag', phone: '+1 212 555 0199' } } });
  assert.equal(c.status, 201);
  const search = () => t.call('hubspot', 'POST', '/crm/v3/objects/contacts/search', { body: { filterGroups: [{ filters: [{ propertyName: 'hs_searchable_calculated_phone_number', operator: 'EQ', value: '2125550199' }] }] } });
  assert.equal((await search()).body.total, 0);
  assert.equal((await t.call('hubspot', 'GET', '/crm/v3/objects/contacts')).body.results.length, 0);
  assert.equal((await t.call('hubspot', 'GET', `/crm/v3/objects/contacts/${c.body.id}`)).status, 200);
  await sleep(450);
  assert.equal((await search()).body.total, 1);
  // Salesforce: SOSL lags, SOQL (not index-based) does not.
  await t.admin('POST', '/faults', { vendor: 'salesforce', type: 'search_lag', lagMs: 400 });
  const task = await t.call('salesforce', 'POST', '/services/data/v60.0/sobjects/Task', { body: { Subject: 'Call LAG-1', TaskSubtype: 'Call', CallObject: 'LAG-1' } });
  const soql = await t.call('salesforce', 'GET', `/services/data/v60.0/query?q=${encodeURIComponent("SELECT Id FROM Task WHERE CallObject = 'LAG-1'")}`);
  assert.equal(soql.body.totalSize, 1);
  assert.equal(soql.body.records[0].Id, task.body.id);
  const sosl = await t.call('salesforce', 'GET', `/services/data/v60.0/search?q=${encodeURIComponent('FIND {LAG} RETURNING Task(Id)')}`);
  assert.equal(sosl.body.searchRecords.length, 0);
});

// ---------- request log ----------
test('request log and stats count requests per vendor and route', async () => {
  await t.call('pipedrive', 'GET', '/api/v2/persons');
  await t.call('pipedrive', 'GET', '/api/v2/persons');
  await t.call('clio', 'GET', '/api/v4/contacts.json');
  const s = await t.admin('GET', '/stats');
  assert.equal(s.body.byVendor.pipedrive.total, 2);
  assert.equal(s.body.byVendor.pipedrive.byRoute['GET /api/v2/persons'], 2);
  assert.equal(s.body.byVendor.clio.total, 1);
  const since = s.body.lastSeq;
  await t.call('clio', 'GET', '/api/v4/contacts.json');
  assert.equal((await t.admin('GET', `/stats?since=${since}`)).body.total, 1);
  const log = await t.admin('GET', '/requests?vendor=pipedrive');
  assert.equal(log.body.count, 2);
  assert.ok(log.body.requests[0].at && log.body.requests[0].status === 200);
});

// ---------- paging ----------
test('paging: HubSpot after, Pipedrive cursor and start/limit, Salesforce nextRecordsUrl, Zoho page/per_page, Clio page_token', async () => {
  const contacts = Array.from({ length: 7 }, (_, i) => ({ firstName: `P${i}`, lastName: 'Page', phone: `+1 212 555 01${String(i).padStart(2, '0')}` }));
  for (const v of ['hubspot', 'pipedrive', 'salesforce', 'zoho', 'clio']) await t.admin('POST', '/seed', { vendor: v, contacts });
  // HubSpot search
  let after; let seen = 0; let pages = 0;
  do {
    const r = await t.call('hubspot', 'POST', '/crm/v3/objects/contacts/search', { body: { filterGroups: [{ filters: [{ propertyName: 'lastname', operator: 'EQ', value: 'page' }] }], limit: 3, ...(after ? { after } : {}) } });
    assert.equal(r.body.total, 7);
    seen += r.body.results.length; pages++;
    after = r.body.paging?.next?.after;
  } while (after);
  assert.equal(seen, 7); assert.equal(pages, 3);
  // Pipedrive v2 cursor
  let cursor; seen = 0;
  do {
    const r = await t.call('pipedrive', 'GET', `/api/v2/persons?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    seen += r.body.data.length;
    cursor = r.body.additional_data.next_cursor;
  } while (cursor);
  assert.equal(seen, 7);
  const v1 = await t.call('pipedrive', 'GET', '/v1/persons?start=5&limit=3');
  assert.equal(v1.body.data.length, 2);
  assert.equal(v1.body.additional_data.pagination.more_items_in_collection, false);
  // Salesforce query paging with a batch size header
  const q = await t.call('salesforce', 'GET', `/services/data/v60.0/query?q=${encodeURIComponent('SELECT Id, Name FROM Contact ORDER BY Name')}`, { headers: { 'sforce-query-options': 'batchSize=200' } });
  assert.equal(q.body.totalSize, 7); assert.equal(q.body.done, true);
  // Zoho page/per_page + 204 past the end
  const z1 = await t.call('zoho', 'GET', '/crm/v8/Contacts?fields=Last_Name,Phone&per_page=5&page=1');
  assert.equal(z1.body.data.length, 5); assert.equal(z1.body.info.more_records, true);
  const z2 = await t.call('zoho', 'GET', '/crm/v8/Contacts?fields=Last_Name,Phone&per_page=5&page=2');
  assert.equal(z2.body.data.length, 2); assert.equal(z2.body.info.more_records, false);
  assert.equal((await t.call('zoho', 'GET', '/crm/v8/Contacts?fields=Last_Name&per_page=5&page=3')).status, 204);
  assert.equal((await t.call('zoho', 'GET', '/crm/v8/Contacts')).status, 400, 'fields is mandatory');
  // Clio page_token via meta.paging.next (an absolute URL)
  let next = `/api/v4/contacts.json?limit=3&fields=id,name`; seen = 0;
  while (next) {
    const r = await t.call('clio', 'GET', next);
    seen += r.body.data.length;
    next = r.body.meta.paging.next ? new URL(r.body.meta.paging.next).pathname.replace(/^\/clio/, '') + new URL(r.body.meta.paging.next).search : null;
  }
  assert.equal(seen, 7);
});

test('paging: Salesforce nextRecordsUrl when more than one batch', async () => {
  for (let i = 0; i < 205; i++) await t.admin('POST', '/seed', { vendor: 'salesforce', records: { Task: [{ Subject: `T${i}` }] } });
  const r = await t.call('salesforce', 'GET', `/services/data/v60.0/query?q=${encodeURIComponent('SELECT Id FROM Task')}`, { headers: { 'sforce-query-options': 'batchSize=200' } });
  assert.equal(r.body.records.length, 200);
  assert.equal(r.body.done, false);
  const more = await t.call('salesforce', 'GET', r.body.nextRecordsUrl.replace(/^\/services/, '/services'));
  assert.equal(more.body.records.length, 5);
  assert.equal(more.body.done, true);
});

// ---------- phone search semantics ----------
test('phone search: HubSpot raw EQ is exact, calculated properties hold national digits', async () => {
  await t.admin('POST', '/seed', { vendor: 'hubspot', contacts: [{ firstName: 'A', phone: '+1 (212) 555-0100' }, { firstName: 'B', mobile: '212.555.0100 x12', phone: '0044 20 7946 0958' }] });
  const s = (filters) => t.call('hubspot', 'POST', '/crm/v3/objects/contacts/search', { body: { filterGroups: filters.map((f) => ({ filters: [f] })), properties: ['phone', 'mobilephone'] } });
  assert.equal((await s([{ propertyName: 'phone', operator: 'EQ', value: '+12125550100' }])).body.total, 0, 'raw phone is compared as typed');
  assert.equal((await s([{ propertyName: 'phone', operator: 'EQ', value: '+1 (212) 555-0100' }])).body.total, 1);
  assert.equal((await s([{ propertyName: 'hs_searchable_calculated_phone_number', operator: 'EQ', value: '2125550100' }, { propertyName: 'hs_searchable_calculated_mobile_number', operator: 'EQ', value: '2125550100' }])).body.total, 2);
  assert.equal((await s([{ propertyName: 'hs_searchable_calculated_phone_number', operator: 'CONTAINS_TOKEN', value: '*2079460958' }])).body.total, 1);
  const bad = await s([{ propertyName: 'phone_number', operator: 'EQ', value: 'x' }]);
  assert.equal(bad.status, 400);
});

test('phone search: Salesforce SOSL is punctuation-tolerant and needs reserved characters escaped; Zoho phone= compares digits; Pipedrive term; Clio query', async () => {
  await t.admin('POST', '/seed', { vendor: 'salesforce', contacts: [{ firstName: 'C', lastName: 'One', phone: '(212) 555-0100' }, { type: 'Lead', lastName: 'Two', company: 'Acme', mobile: '+1 212 555 0100' }] });
  const sosl = (q) => t.call('salesforce', 'GET', `/services/data/v60.0/search?q=${encodeURIComponent(q)}`);
  assert.equal((await sosl('FIND {2125550100} IN PHONE FIELDS RETURNING Contact(Id, Name, LastModifiedDate), Lead(Id, Name)')).body.searchRecords.length, 2);
  assert.equal((await sosl('FIND {\\+12125550100} IN PHONE FIELDS RETURNING Contact(Id), Lead(Id)')).body.searchRecords.length, 2);
  assert.equal((await sosl('FIND {+12125550100} IN PHONE FIELDS RETURNING Contact(Id)')).status, 400);
  assert.equal((await sosl('FIND {2125550100} IN PHONE FIELDS RETURNING Contact(Id, Nope)')).body[0].errorCode, 'INVALID_FIELD');
  await t.admin('POST', '/seed', { vendor: 'zoho', contacts: [{ lastName: 'Z', phone: '(212) 555-0100' }, { lastName: 'Y', mobile: '212-555-0100' }, { lastName: 'X', phone: '+1 (212) 555-0100 x7' }] });
  const z = await t.call('zoho', 'GET', `/crm/v8/Contacts/search?phone=${encodeURIComponent('212 555 0100')}`);
  assert.equal(z.body.data.length, 3, 'the national number finds the stored number with its country code too (modelled: digits end with the query)');
  const withCode = await t.call('zoho', 'GET', '/crm/v8/Contacts/search?phone=12125550100');
  assert.deepEqual(withCode.body.data.map((r) => r.Last_Name), ['X'], 'a longer query does not find the shorter stored number');
  assert.equal((await t.call('zoho', 'GET', '/crm/v8/Contacts/search?phone=9999999')).status, 204);
  const crit = await t.call('zoho', 'GET', `/crm/v8/Contacts/search?criteria=${encodeURIComponent('(Phone:equals:\\(212\\) 555-0100)')}`);
  assert.equal(crit.body.data.length, 1);
  await t.admin('POST', '/seed', { vendor: 'pipedrive', contacts: [{ name: 'P Q', phone: '(212) 555-0100' }] });
  assert.equal((await t.call('pipedrive', 'GET', '/api/v2/persons/search?term=5550100&fields=phone')).body.data.items.length, 1);
  assert.equal((await t.call('pipedrive', 'GET', `/api/v2/persons/search?term=${encodeURIComponent('+12125550100')}&fields=phone&exact_match=true`)).body.data.items.length, 0);
  assert.equal((await t.call('pipedrive', 'GET', '/api/v2/persons/search?term=5&fields=phone')).status, 400);
  await t.admin('POST', '/seed', { vendor: 'clio', contacts: [{ name: 'K L', phone: '(212) 555-0100' }] });
  const cl = await t.call('clio', 'GET', '/api/v4/contacts.json?query=5550100&fields=id,name,phone_numbers{number,primary}');
  assert.equal(cl.body.data.length, 1);
  assert.deepEqual(cl.body.data[0].phone_numbers, [{ number: '(212) 555-0100', primary: true }]);
});

// ---------- strict validation ----------
test('validation: each vendor rejects unknown fields, wrong types and missing required fields with its 400 shape', async () => {
  const hs = await t.call('hubspot', 'POST', '/crm/v3/objects/calls', { body: { properties: { hs_timestamp: '2024-01-01T00:00:00Z', hs_call_durration: '5' } } });
  assert.equal(hs.status, 400); assert.equal(hs.body.category, 'VALIDATION_ERROR'); assert.match(hs.body.message, /hs_call_durration/);
  const hs2 = await t.call('hubspot', 'POST', '/crm/v3/objects/calls', { body: { properties: { hs_timestamp: 'yesterday', hs_call_direction: 'SIDEWAYS' } } });
  assert.match(hs2.body.message, /INVALID_DATETIME/); assert.match(hs2.body.message, /INVALID_OPTION/);
  const pd = await t.call('pipedrive', 'POST', '/v1/callLogs', { body: { to_phone_number: '+1', outcome: 'connected', start_time: '2024-01-01 10:00:00' } });
  assert.equal(pd.status, 400); assert.equal(pd.body.success, false); assert.match(pd.body.error, /end_time/);
  const pd2 = await t.call('pipedrive', 'POST', '/v1/callLogs', { body: { to_phone_number: '+1', outcome: 'answered', start_time: '2024-01-01 10:00:00', end_time: '2024-01-01 10:01:00' } });
  assert.match(pd2.body.error, /outcome/);
  const pd3 = await t.call('pipedrive', 'POST', '/api/v2/activities', { body: { subject: 'x', type: 'call', duration: 90 } });
  assert.equal(pd3.status, 400); assert.equal(pd3.body.code, 'ERR_SCHEMA_VALIDATION_FAILED');
  const sf = await t.call('salesforce', 'POST', '/services/data/v60.0/sobjects/Task', { body: { Subject: 'x', CallDurationInSecond: 5 } });
  assert.equal(sf.status, 400); assert.equal(sf.body[0].errorCode, 'INVALID_FIELD');
  const sf2 = await t.call('salesforce', 'POST', '/services/data/v60.0/sobjects/Task', { body: { Subject: 'x', CallType: 'Sideways' } });
  assert.equal(sf2.body[0].errorCode, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST');
  const sf3 = await t.call('salesforce', 'POST', '/services/data/v60.0/sobjects/Lead', { body: { LastName: 'x' } });
  assert.equal(sf3.body[0].errorCode, 'REQUIRED_FIELD_MISSING'); assert.deepEqual(sf3.body[0].fields, ['Company']);
  const sf4 = await t.call('salesforce', 'POST', '/services/data/v60.0/sobjects/Task', { body: { Subject: 'x', WhoId: '0038d0000009999AAA' } });
  assert.equal(sf4.body[0].errorCode, 'INVALID_CROSS_REFERENCE_KEY');
  const zo = await t.call('zoho', 'POST', '/crm/v8/Calls', { body: { data: [{ Subject: 'x', Call_Type: 'Inbound', Call_Start_Time: '2024-01-01T10:00:00+00:00' }] } });
  assert.equal(zo.status, 400); assert.equal(zo.body.data[0].code, 'MANDATORY_NOT_FOUND'); assert.equal(zo.body.data[0].details.api_name, 'Call_Duration');
  const zo2 = await t.call('zoho', 'POST', '/crm/v8/Calls', { body: { data: [{ Subject: 'x', Call_Type: 'Inbound', Call_Start_Time: '2024-01-01T10:00:00+00:00', Call_Duration: '90' }] } });
  assert.equal(zo2.body.data[0].details.expected_data_type, 'duration');
  const cl = await t.call('clio', 'POST', '/api/v4/communications.json', { body: { data: { type: 'PhoneCommunication', subject: 's', body: 'b' } } });
  assert.equal(cl.status, 422); assert.match(cl.body.error.message, /Received at/);
  const cl2 = await t.call('clio', 'POST', '/api/v4/communications.json', { body: { data: { type: 'SmsCommunication', subject: 's', body: 'b', received_at: '2024-01-01T00:00:00Z' } } });
  assert.equal(cl2.status, 400);
  const six = Array.from({ length: 6 }, (_, i) => ({ name: `k${i}`, value: 'v' }));
  const cl3 = await t.call('clio', 'POST', '/api/v4/communications.json', { body: { data: { type: 'PhoneCommunication', subject: 's', body: 'b', received_at: '2024-01-01T00:00:00Z', external_properties: six } } });
  assert.equal(cl3.status, 422); assert.match(cl3.body.error.message, /maximum is 5/);
});

// ---------- alternatives and idempotency keys ----------
test('HubSpot: unique custom property gives 409 on a duplicate, GET/PATCH ?idProperty= and batch upsert address it', async () => {
  const p = await t.call('hubspot', 'POST', '/crm/v3/properties/calls', { body: { name: 'x_external_call_id', label: 'Call id', type: 'string', fieldType: 'text', groupName: 'callinformation', hasUniqueValue: true } });
  assert.equal(p.status, 201);
  const body = { properties: { hs_timestamp: '2024-01-01T00:00:00Z', x_external_call_id: 'call-1' } };
  assert.equal((await t.call('hubspot', 'POST', '/crm/v3/objects/calls', { body })).status, 201);
  const dup = await t.call('hubspot', 'POST', '/crm/v3/objects/calls', { body });
  assert.equal(dup.status, 409); assert.equal(dup.body.category, 'CONFLICT');
  const g = await t.call('hubspot', 'GET', '/crm/v3/objects/calls/call-1?idProperty=x_external_call_id&properties=x_external_call_id');
  assert.equal(g.status, 200); assert.equal(g.body.properties.x_external_call_id, 'call-1');
  const u = await t.call('hubspot', 'PATCH', '/crm/v3/objects/calls/call-1?idProperty=x_external_call_id', { body: { properties: { hs_call_body: 'notes' } } });
  assert.equal(u.status, 200); assert.equal(u.body.properties.hs_call_body, 'notes');
  const up = await t.call('hubspot', 'POST', '/crm/v3/objects/calls/batch/upsert', { body: { inputs: [{ idProperty: 'x_external_call_id', id: 'call-1', properties: { hs_call_title: 'T' } }, { idProperty: 'x_external_call_id', id: 'call-2', properties: { hs_timestamp: '2024-01-01T00:00:00Z' } }] } });
  assert.equal(up.status, 200);
  assert.deepEqual(up.body.results.map((r) => r.new), [false, true]);
  assert.equal((await t.admin('GET', '/calls?vendor=hubspot')).body.count, 2);
});

test('Salesforce: upsert by external id creates then updates; Task TaskSubtype is create-only', async () => {
  await t.admin('POST', '/fields', { vendor: 'salesforce', object: 'Task', name: 'Calltrail_Call_Id', external: true, unique: true });
  const a = await t.call('salesforce', 'PATCH', '/services/data/v60.0/sobjects/Task/Calltrail_Call_Id__c/c-1', { body: { Subject: 'Call', TaskSubtype: 'Call', CallDurationInSeconds: 30 } });
  assert.equal(a.status, 201); assert.equal(a.body.created, true);
  const b = await t.call('salesforce', 'PATCH', '/services/data/v60.0/sobjects/Task/Calltrail_Call_Id__c/c-1', { body: { Description: 'notes' } });
  assert.equal(b.status, 200); assert.equal(b.body.created, false); assert.equal(b.body.id, a.body.id);
  const c = await t.call('salesforce', 'PATCH', `/services/data/v60.0/sobjects/Task/${a.body.id}`, { body: { TaskSubtype: 'Task' } });
  assert.equal(c.body[0].errorCode, 'INVALID_FIELD_FOR_INSERT_UPDATE');
  assert.equal((await t.call('salesforce', 'PATCH', `/services/data/v60.0/sobjects/Task/${a.body.id}`, { body: { Status: 'Completed' } })).status, 204);
  const r = await t.call('salesforce', 'GET', `/services/data/v60.0/sobjects/Task/${a.body.id}?fields=IsClosed,Calltrail_Call_Id__c`);
  assert.equal(r.body.IsClosed, true);
  assert.equal((await t.call('salesforce', 'PATCH', '/services/data/v60.0/sobjects/Task/Subject/x', { body: {} })).status, 404);
});

test('Zoho: PUT by id and by data[].id, Call_Type is immutable, Notes with Parent_Id, COQL', async () => {
  const c = await t.admin('POST', '/seed', { vendor: 'zoho', contacts: [{ lastName: 'N', phone: '2125550100' }] });
  const cid = c.body.created[0].id;
  const call = await t.call('zoho', 'POST', '/crm/v8/Calls', { body: { data: [{ Subject: 'c', Call_Type: 'Outbound', Call_Start_Time: '2024-01-01T10:00:00-05:00', Call_Duration: '02:05', Who_Id: { id: cid } }] } });
  const id = call.body.data[0].details.id;
  assert.equal((await t.call('zoho', 'PUT', `/crm/v8/Calls/${id}`, { body: { data: [{ Description: 'n' }] } })).status, 200);
  const many = await t.call('zoho', 'PUT', '/crm/v8/Calls', { body: { data: [{ id, Description: 'n2' }, { id: '1', Description: 'x' }] } });
  assert.equal(many.status, 207);
  const imm = await t.call('zoho', 'PUT', `/crm/v8/Calls/${id}`, { body: { data: [{ Call_Type: 'Inbound' }] } });
  assert.equal(imm.status, 400);
  const got = await t.call('zoho', 'GET', `/crm/v8/Calls/${id}`);
  assert.equal(got.body.data[0].Call_Duration_in_seconds, 125);
  assert.equal(got.body.data[0].Who_Id.id, cid);
  const note = await t.call('zoho', 'POST', '/crm/v8/Notes', { body: { data: [{ Note_Title: 'SMS', Note_Content: 'hello', Parent_Id: { module: { api_name: 'Contacts' }, id: cid } }] } });
  assert.equal(note.status, 201);
  const q = await t.call('zoho', 'POST', '/crm/v8/coql', { body: { select_query: `select id, Subject from Calls where Description = 'n2' limit 5` } });
  assert.equal(q.body.data.length, 1);
});

test('Pipedrive: callLogs have no update; v2 activity of type call updates with PATCH; notes need a parent', async () => {
  await t.admin('POST', '/seed', { vendor: 'pipedrive', contacts: [{ name: 'A B', phone: '+12125550100' }] });
  const cl = await t.call('pipedrive', 'POST', '/v1/callLogs', { body: { person_id: 1, to_phone_number: '+12125550100', outcome: 'connected', start_time: '2024-01-01 10:00:00', end_time: '2024-01-01 10:02:00', duration: '120', note: 'm1' } });
  assert.equal(cl.status, 200);
  assert.equal((await t.call('pipedrive', 'PUT', `/v1/callLogs/${cl.body.data.id}`, { body: {} })).status, 405);
  const a = await t.call('pipedrive', 'POST', '/api/v2/activities', { body: { subject: 'Call', type: 'call', person_id: 1, due_date: '2024-01-01', due_time: '10:00', duration: '00:02', done: true } });
  const p = await t.call('pipedrive', 'PATCH', `/api/v2/activities/${a.body.data.id}`, { body: { note: 'later notes' } });
  assert.equal(p.body.data.note, 'later notes');
  assert.equal((await t.call('pipedrive', 'POST', '/v1/notes', { body: { content: 'orphan' } })).status, 400);
  assert.equal((await t.call('pipedrive', 'POST', '/v1/notes', { body: { content: 'sms', person_id: 1 } })).status, 200);
  const types = await t.call('pipedrive', 'POST', '/v1/activityTypes', { body: { name: 'SMS', icon_key: 'bubble' } });
  assert.equal(types.body.data.key_string, 'sms');
  assert.equal((await t.call('pipedrive', 'POST', '/api/v2/activities', { body: { type: 'sms', person_id: 1 } })).status, 200);
});

test('Clio: external_properties filter finds the marker; PATCH with a stale IF-MATCH etag is 412', async () => {
  const c = await t.admin('POST', '/seed', { vendor: 'clio', contacts: [{ name: 'Ann Lee', phone: '212-555-0100' }] });
  const contactId = c.body.created[0].id;
  const cr = await t.call('clio', 'POST', '/api/v4/communications.json?fields=id,etag,external_properties{name,value}', { body: { data: { type: 'PhoneCommunication', subject: 'Call', body: 'b', received_at: '2024-01-01T10:00:00Z', senders: [{ id: contactId, type: 'Contact' }], receivers: [{ id: 345678901, type: 'User' }], external_properties: [{ name: 'call_id', value: 'X1' }] } } });
  assert.equal(cr.status, 201);
  assert.deepEqual(cr.body.data.external_properties, [{ name: 'call_id', value: 'X1' }]);
  const f = await t.call('clio', 'GET', '/api/v4/communications.json?external_property_name=call_id&external_property_value=X1&fields=id');
  assert.deepEqual(f.body.data, [{ id: cr.body.data.id }]);
  const ok = await t.call('clio', 'PATCH', `/api/v4/communications/${cr.body.data.id}.json?fields=id,etag,body`, { headers: { 'if-match': cr.body.data.etag }, body: { data: { body: 'b2' } } });
  assert.equal(ok.status, 200);
  const stale = await t.call('clio', 'PATCH', `/api/v4/communications/${cr.body.data.id}.json`, { headers: { 'if-match': cr.body.data.etag }, body: { data: { body: 'b3' } } });
  assert.equal(stale.status, 412);
  assert.equal((await t.call('clio', 'GET', '/api/v4/contacts.json', { headers: { 'x-api-version': '3.0.0' } })).status, 410);
});

// ---------- regressions found by the connectors' end-to-end tests (tests/native/emulator_e2e.rs) ----------
test('HubSpot: calls accept the calling-extension default properties (hs_call_external_id) and search by them', async () => {
  const c = await t.call('hubspot', 'POST', '/crm/v3/objects/calls', { body: { properties: { ...hsCall('x').properties, hs_call_external_id: 'calltrail:abc', hs_call_external_account_id: 'acct-1', hs_call_app_id: '123' } } });
  assert.equal(c.status, 201, c.text);
  const s = await t.call('hubspot', 'POST', '/crm/v3/objects/calls/search', { body: { filterGroups: [{ filters: [{ propertyName: 'hs_call_external_id', operator: 'EQ', value: 'calltrail:abc' }] }], properties: ['hs_call_external_id'] } });
  assert.equal(s.body.total, 1, s.text);
  assert.equal(s.body.results[0].properties.hs_call_external_id, 'calltrail:abc');
});

test('Salesforce: /query/, /search/ and /parameterizedSearch/ with the trailing slash the REST API guide uses', async () => {
  await t.admin('POST', '/seed', { vendor: 'salesforce', contacts: [{ firstName: 'C', lastName: 'One', phone: '(212) 555-0100' }] });
  const q = await t.call('salesforce', 'GET', `/services/data/v62.0/query/?q=${encodeURIComponent('SELECT Id FROM Contact')}`);
  assert.equal(q.status, 200, q.text);
  assert.equal(q.body.totalSize, 1);
  const s = await t.call('salesforce', 'GET', `/services/data/v62.0/search/?q=${encodeURIComponent('FIND {2125550100} IN PHONE FIELDS RETURNING Contact(Id)')}`);
  assert.equal(s.status, 200, s.text);
  assert.equal(s.body.searchRecords.length, 1);
  const p = await t.call('salesforce', 'GET', '/services/data/v62.0/parameterizedSearch/?q=One&sobject=Contact');
  assert.equal(p.status, 200, p.text);
});

test('HubSpot: search filters on the associations.{objectType} pseudo-property (the search docs\' association filter)', async () => {
  const seeded = await t.admin('POST', '/seed', { vendor: 'hubspot', contacts: [{ firstName: 'A', phone: '1' }, { firstName: 'B', phone: '2' }] });
  const [a, b] = seeded.body.created.map((c) => c.id);
  const comm = (to) => ({ properties: { hs_timestamp: '2024-05-01T10:00:00Z', hs_communication_channel_type: 'SMS', hs_communication_logged_from: 'CRM', hs_communication_body: `to ${to}` }, associations: [{ to: { id: to }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 81 }] }] });
  assert.equal((await t.call('hubspot', 'POST', '/crm/v3/objects/communications', { body: comm(a) })).status, 201);
  assert.equal((await t.call('hubspot', 'POST', '/crm/v3/objects/communications', { body: comm(b) })).status, 201);
  const s = (f) => t.call('hubspot', 'POST', '/crm/v3/objects/communications/search', { body: { filterGroups: [{ filters: [f] }], properties: ['hs_communication_body'] } });
  const eq = await s({ propertyName: 'associations.contact', operator: 'EQ', value: a });
  assert.equal(eq.body.total, 1, eq.text);
  assert.equal(eq.body.results[0].properties.hs_communication_body, `to ${a}`);
  assert.equal((await s({ propertyName: 'associations.contact', operator: 'IN', values: [a, b] })).body.total, 2);
  assert.equal((await s({ propertyName: 'associations.contact', operator: 'GT', value: a })).status, 400);
  assert.equal((await s({ propertyName: 'associations.nope', operator: 'EQ', value: a })).status, 400);
});

test('Zoho: criteria compare date fields as dates (Tasks Due_Date greater_equal / less_equal)', async () => {
  const seeded = await t.admin('POST', '/seed', { vendor: 'zoho', contacts: [{ lastName: 'D', phone: '1' }] });
  const who = seeded.body.created[0].id;
  for (const day of ['2026-03-06', '2026-03-08', '2026-03-10']) {
    const r = await t.call('zoho', 'POST', '/crm/v8/Tasks', { body: { data: [{ Subject: `on ${day}`, Due_Date: day, Who_Id: { id: who } }] } });
    assert.equal(r.status, 201, r.text);
  }
  const crit = `((Who_Id:equals:${who})and(Due_Date:greater_equal:2026-03-07)and(Due_Date:less_equal:2026-03-09))`;
  const s = await t.call('zoho', 'GET', `/crm/v8/Tasks/search?criteria=${encodeURIComponent(crit)}&fields=Subject,Due_Date`);
  assert.equal(s.status, 200, s.text);
  assert.deepEqual(s.body.data.map((r) => r.Subject), ['on 2026-03-08']);
});

test('admin: /delete removes a contact as a CRM delete or merge does; a second delete is 404', async () => {
  for (const vendor of ['hubspot', 'pipedrive', 'salesforce', 'zoho', 'clio']) {
    await t.admin('POST', '/seed', { vendor, contacts: [{ firstName: 'Gone', lastName: 'Soon', phone: '(415) 555-0199' }] });
    const before = (await t.admin('GET', `/records?vendor=${vendor}&kind=contacts&contains=Soon`)).body.records;
    assert.equal(before.length, 1, vendor);
    const { collection, id } = before[0];
    assert.equal((await t.admin('POST', '/delete', { vendor, collection, id })).status, 200, vendor);
    assert.equal((await t.admin('GET', `/records?vendor=${vendor}&kind=contacts&contains=Soon`)).body.records.length, 0, vendor);
    assert.equal((await t.admin('POST', '/delete', { vendor, collection, id })).status, 404, vendor);
  }
});
