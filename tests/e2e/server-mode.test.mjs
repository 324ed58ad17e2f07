// Server mode (issue 16), end to end: the rep's extension names a Calltrail server that owns the
// ledger; a call taken on the demo softphone also arrives at the server by RingCentral webhook
// (the RingCentral emulator plays the same telephony session); the notes written in the panel
// reach the server through the extension's outbox; the server logs exactly one record per CRM
// with the notes; with the server stopped during a call, the notes wait in the outbox and reach
// the CRM once it is back. The CRM emulator the server logs into shows who sent every request:
// the server (no browser User-Agent), never the extension. The in-page panel shows the server's
// slots for the call on screen, with the contacts the server's call pop matched, and a pick
// there is what the server logs to.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, eventually } from '../../www/world/world.mjs';
import { answerCall, hangUp, callView, latestCallId, messageCount, NO_QUIET_HOURS } from '../../www/world/calls.mjs';
import { panelOn } from '../../www/world/panel.mjs';
import { EXTENSION_ID } from '../../www/world/browser.mjs';
import { startReady, serverBinary, freshDatabase, call, ADMIN } from './lib/server.mjs';

const ADA = '+12125550101';
const GRACE = '+12125550102';
const BOB = '62000000102'; // the RingCentral emulator's "Bob Agent"

let world;
let crm;
let rc;
let srv;
let serverUrl;
let databaseUrl;
let bin;
let panel;
const crmUrl = () => `http://127.0.0.1:${crm.port}`;

function startServer(listen) {
  return startReady(bin, [], {
    DATABASE_URL: databaseUrl, CALLTRAIL_LISTEN: listen, CALLTRAIL_SEAL_KEY: '03'.repeat(32), CALLTRAIL_ADMIN_TOKEN: ADMIN,
    CALLTRAIL_LOG: 'warn', CALLTRAIL_POOL_SIZE: '8', CALLTRAIL_LEASE_TTL_MS: '2000', CALLTRAIL_SUBSCRIPTION_CHECK_MS: '1000',
  });
}
const admin = (method, p, body) => call(method, `${serverUrl}${p}`, body, { authorization: `Bearer ${ADMIN}` });
const crmLogs = async (id) => (await call('GET', `${crmUrl()}/_admin/calls?marker=${encodeURIComponent(`calltrail:call|${id}|`)}`));
const outbox = async () => (await world.send({ type: 'state' })).data.server;

before(async () => {
  bin = serverBinary();
  databaseUrl = freshDatabase('pg-e2e', 'server_mode');
  crm = await startReady('node', ['www/crm-emulator/server.mjs', '--port', '0', '--seed', '7']);
  rc = await startReady('node', ['www/ringcentral-emulator/server.mjs', '--port', '0', '--seed', '7']);
  srv = await startServer('127.0.0.1:0');
  serverUrl = `http://127.0.0.1:${srv.port}`;
  for (const vendor of ['hubspot', 'pipedrive']) {
    await call('POST', `${crmUrl()}/_admin/seed`, { vendor, contacts: [
      { firstName: 'Ada', lastName: 'Lovelace', phone: ADA }, { firstName: 'Grace', lastName: 'Hopper', phone: GRACE },
    ] });
  }
  const health = await call('GET', `${rc.baseUrl}/_admin/health`);
  await admin('PUT', '/admin/accounts/acme', { name: 'Acme', ringcentral: { server_url: rc.baseUrl, client_id: 'rcemu-client', client_secret: 'rcemu-secret', jwt: health.defaults.jwts['62000000101'] } });
  const integration = (id, kind) => ({ id, kind, label: id, base_url: `${crmUrl()}/${kind}`, auth: { type: 'api_token' }, conflict_rule: { rule: 'last_modified' } });
  await admin('PUT', '/admin/accounts/acme/reps/bob', { telephony_user: BOB, settings: { default_country: 'US', digest: NO_QUIET_HOURS, integrations: [integration('hs', 'hubspot'), integration('pd', 'pipedrive')] } });
  await admin('PUT', '/admin/accounts/acme/reps/bob/credentials/hs', { token: 'hubspot-token' });
  await admin('PUT', '/admin/accounts/acme/reps/bob/credentials/pd', { token: 'pipedrive-token' });
  // The rep's own token, issued by the admin API: the extension never holds the admin's.
  const token = (await admin('POST', '/admin/accounts/acme/reps/bob/tokens', { label: 'chrome' })).data.token;
  await eventually(async () => (await call('GET', `${rc.baseUrl}/_admin/subscriptions`)).records.some((s) => s.status === 'Active'), { ms: 30_000, what: 'the server\'s webhook subscription' });

  // The rep's extension: no CRM of its own; the settings import names the server (the
  // options page's import), and the rep grants its host as the options page asks.
  world = await startWorld({ integrations: [], settings: { digest: NO_QUIET_HOURS } });
  await world.configure({ server: { url: serverUrl, account: 'acme', rep: 'bob', token } });
  const state = (await world.send({ type: 'state' })).data;
  assert.equal(state.wanted.server, 'http://127.0.0.1/*');
  assert.deepEqual(state.server, { queued: 0 });
  await world.openSoftphone();
  panel = await (await panelOn(world.hostPage)).ready();
});

after(async () => {
  await world?.close();
  for (const p of [srv, crm, rc]) p?.child.kill('SIGKILL');
});

/** Writes `notes` in the panel and saves them, as the rep does. */
async function writeNotes(id, notes) {
  await panel.waitForText(/On call/);
  await panel.click('[data-key="notes-open"]');
  await panel.waitFor('textarea');
  await panel.fill('textarea', notes);
  await panel.click('[data-key="notes-save"]');
  await eventually(async () => (await callView(world, id)).call.notes === notes, { what: 'the notes in the extension' });
}

/** Waits until the server logged the call once in each CRM; returns the records by vendor. */
async function loggedOnce(id) {
  const logs = await eventually(async () => {
    const v = await crmLogs(id);
    return v.byVendor.hubspot?.length >= 1 && v.byVendor.pipedrive?.length >= 1 ? v : null;
  }, { ms: 60_000, what: `call ${id} logged in HubSpot and Pipedrive` }).catch(async (e) => {
    const slots = (await admin('GET', '/admin/accounts/acme/reps/bob/slots')).data.filter((s) => s.key.includes(id));
    throw new Error(`${e.message}; the server's slots: ${JSON.stringify(slots)}`);
  });
  // Every slot of the call settled on the server: nothing more is on its way.
  await eventually(async () => {
    const slots = (await admin('GET', '/admin/accounts/acme/reps/bob/slots')).data.filter((s) => s.key.includes(id));
    return slots.length === 2 && slots.every((s) => s.state === 'logged');
  }, { ms: 30_000, what: `the server's slots of ${id} logged` });
  const again = await crmLogs(id);
  assert.equal(again.byVendor.hubspot.length, 1, 'one HubSpot record');
  assert.equal(again.byVendor.pipedrive.length, 1, 'one Pipedrive record');
  return logs.byVendor;
}

/** No request the CRMs received came from a browser: the server sent every one. */
async function onlyTheServerSentRequests() {
  const { requests } = await call('GET', `${crmUrl()}/_admin/requests?limit=100000`);
  assert.ok(requests.length > 0);
  const browsers = requests.filter((r) => /mozilla|chrome/i.test(r.headers['user-agent'] || '') || r.headers.origin);
  assert.deepEqual(browsers.map((r) => `${r.method} ${r.vendor} ${r.path}`), [], 'no CRM request from the extension');
  const { requests: local } = await world.emulator.admin('GET', 'requests');
  assert.equal(local.length, 0, 'the extension sent nothing to a CRM of its own either');
}

test('a call the webhook also brings: one record per CRM, with the panel\'s notes, sent by the server', async () => {
  const notes = 'Wants the renewal quote by Friday';
  const id = await answerCall(world, ADA);
  await writeNotes(id, notes);
  await hangUp(world);
  // Every event and intent forwarded (the outbox is empty once the server stored them).
  await eventually(async () => (await outbox()).queued === 0, { what: 'the outbox drained' });
  // RingCentral tells the server about the same call (same telephony session).
  await call('POST', `${rc.baseUrl}/_admin/calls`, { external: ADA, extensionId: BOB, outcome: 'answered', talkSeconds: 30, paceMs: 5, telephonySessionId: id.slice(3) });
  await eventually(async () => {
    const d = await call('GET', `${rc.baseUrl}/_admin/deliveries?telephonySessionId=${id.slice(3)}&kind=notification`);
    return d.deliveries.some((x) => x.outcome === 'delivered');
  }, { what: 'the webhook delivered to the server' });
  // Notes opened during the call leave it to the digest: "sync now" in the extension runs the
  // server's (forwarded like every intent).
  await eventually(async () => {
    const slots = (await admin('GET', '/admin/accounts/acme/reps/bob/slots')).data.filter((s) => s.key.includes(id));
    return slots.length === 2;
  }, { what: 'the server\'s slots of the call' });
  assert.equal((await world.send({ type: 'sync-now' })).ok, true);
  const records = await loggedOnce(id);
  for (const vendor of ['hubspot', 'pipedrive']) assert.ok(JSON.stringify(records[vendor][0]).includes(notes), `${vendor} record carries the notes`);
  await onlyTheServerSentRequests();
  // The extension's own ledger has the call, logged nowhere by it; its history page shows the
  // server's status in each CRM.
  assert.deepEqual((await callView(world, id)).slots, []);
  const page = await world.browser.context.newPage();
  await page.goto(`chrome-extension://${EXTENSION_ID}/extension/pages/history.html`);
  const row = page.locator(`tr[data-call="${id}"]`);
  await row.locator('[data-integration="server:hs"]').getByText('Logged').waitFor();
  await row.locator('[data-integration="server:pd"]').getByText('Logged').waitFor();
  await page.getByRole('columnheader', { name: 'hs (server)' }).waitFor();
  await page.close();
});

test('the server stopped during a call: the notes wait in the outbox and reach the CRM once it is back', async () => {
  const notes = 'Call back about the invoice';
  const id = await answerCall(world, GRACE);
  await eventually(async () => (await outbox()).queued === 0, { what: 'the ring and answer forwarded' });
  const port = srv.port;
  srv.child.kill('SIGKILL');
  await new Promise((r) => (srv.child.exitCode !== null ? r() : srv.child.once('exit', r)));
  await writeNotes(id, notes);
  // The panel says the server cannot be reached rather than showing nothing of its CRMs.
  await panel.waitForText(/The Calltrail server cannot be reached/);
  await hangUp(world);
  // The hang-up reached the worker (the bridge relays it) before "sync now" is pressed.
  await eventually(async () => (await callView(world, id)).call.ended_at != null, { what: 'the hang-up in the extension' });
  assert.equal((await world.send({ type: 'sync-now' })).ok, true);
  const waiting = await eventually(async () => {
    const o = await outbox();
    return o.queued >= 4 && o.error ? o : null;
  }, { what: 'the notes, the hang-up and the sync queued for the server' });
  assert.match(waiting.error, /cannot be reached/);
  const page = await world.browser.context.newPage();
  await page.goto(`chrome-extension://${EXTENSION_ID}/extension/pages/history.html`);
  await page.getByText(/Queued for the Calltrail server \(\d+\)/).waitFor();
  await page.getByText('The Calltrail server’s statuses could not be loaded').waitFor();
  await page.close();
  assert.equal((await crmLogs(id)).count, 0, 'nothing logged while the server is down');

  srv = await startServer(`127.0.0.1:${port}`);
  await eventually(async () => (await outbox()).queued === 0, { ms: 90_000, every: 500, what: 'the outbox sent once the server is back' });
  const records = await loggedOnce(id);
  for (const vendor of ['hubspot', 'pipedrive']) assert.ok(JSON.stringify(records[vendor][0]).includes(notes), `${vendor} record carries the notes`);
  await onlyTheServerSentRequests();
});

test('the server\'s unresolved queue on the unresolved page, resolved through the outbox', async () => {
  const TWINS = '+12125550177';
  await call('POST', `${crmUrl()}/_admin/seed`, { vendor: 'hubspot', contacts: [
    { firstName: 'Twin', lastName: 'One', phone: TWINS }, { firstName: 'Twin', lastName: 'Two', phone: TWINS },
  ] });
  // HubSpot on the server asks a person when several contacts share the number.
  const integration = (id, kind, rule) => ({ id, kind, label: id, base_url: `${crmUrl()}/${kind}`, auth: { type: 'api_token' }, conflict_rule: { rule } });
  await admin('PUT', '/admin/accounts/acme/reps/bob', { telephony_user: BOB, settings: { default_country: 'US', digest: NO_QUIET_HOURS,
    integrations: [integration('hs', 'hubspot', 'ask'), integration('pd', 'pipedrive', 'last_modified')] } });
  const id = await answerCall(world, TWINS);
  await hangUp(world);
  await eventually(async () => (await outbox()).queued === 0, { what: 'the call forwarded' });
  await call('POST', `${rc.baseUrl}/_admin/calls`, { external: TWINS, extensionId: BOB, outcome: 'answered', talkSeconds: 30, paceMs: 5, telephonySessionId: id.slice(3) });
  const slot = `call|${id}|hs`;
  await eventually(async () => (await admin('GET', '/admin/accounts/acme/reps/bob/unresolved')).data.some((r) => r.slot === slot),
    { ms: 60_000, what: 'the HubSpot slot unresolved on the server' });

  const page = await world.browser.context.newPage();
  await page.goto(`chrome-extension://${EXTENSION_ID}/extension/pages/unresolved.html`);
  const row = page.locator(`tr[data-slot="${slot}"]`);
  await row.getByText('hs (server)', { exact: true }).waitFor();
  await row.locator('input[type="radio"]').first().check();
  await page.locator('#log-picked').click();
  await page.getByText(/Logging picked contacts: 1 of 1 done/).waitFor();
  // The resolution went to the server through the outbox; the server logs the call in HubSpot.
  await eventually(async () => (await crmLogs(id)).byVendor.hubspot?.length === 1, { ms: 60_000, what: 'the resolved call logged in HubSpot by the server' });
  await eventually(async () => !(await admin('GET', '/admin/accounts/acme/reps/bob/unresolved')).data.some((r) => r.slot === slot), { what: 'the server\'s queue emptied' });
  await page.reload();
  await page.getByText('Nothing to resolve').waitFor();
  await page.close();
  await onlyTheServerSentRequests();
});

test('a call dismissed on the server, logged by hand from the history: the manual log goes to the server', async () => {
  const TWINS = '+12125550177'; // shared by two HubSpot contacts (the test before seeded them)
  const id = await answerCall(world, TWINS);
  await hangUp(world);
  await eventually(async () => (await outbox()).queued === 0, { what: 'the call forwarded' });
  await call('POST', `${rc.baseUrl}/_admin/calls`, { external: TWINS, extensionId: BOB, outcome: 'answered', talkSeconds: 30, paceMs: 5, telephonySessionId: id.slice(3) });
  const slot = `call|${id}|hs`;
  const queued = async () => (await admin('GET', '/admin/accounts/acme/reps/bob/unresolved')).data.some((r) => r.slot === slot);
  await eventually(queued, { ms: 60_000, what: 'the HubSpot slot unresolved on the server' });

  // Dismissed from the extension's unresolved page.
  const page = await world.browser.context.newPage();
  page.on('dialog', (d) => d.accept());
  await page.goto(`chrome-extension://${EXTENSION_ID}/extension/pages/unresolved.html`);
  const row = page.locator(`tr[data-slot="${slot}"]`);
  await row.locator('input[type="checkbox"]').check();
  await page.locator('#dismiss').click();
  await eventually(async () => !(await queued()), { what: 'the server\'s slot dismissed' });

  // Logged by hand from the history: the server's engine searches again and asks again.
  await page.goto(`chrome-extension://${EXTENSION_ID}/extension/pages/history.html`);
  await page.locator(`tr[data-call="${id}"] [data-integration="server:hs"]`).waitFor();
  await page.locator(`[data-key="log-${id}"]`).click();
  await page.locator('#m-server\\:hs').check();
  await page.locator('#manual-submit').click();
  await page.getByText(/Logging to .*hs \(server\)/).first().waitFor();
  await eventually(queued, { ms: 60_000, what: 'the forwarded manual log asks again on the server' });
  await page.close();
  await onlyTheServerSentRequests();
});

test('the panel shows the server\'s slots while the call rings; the contact picked there is the one the server logs to', async () => {
  const SHARED = '+12125550188';
  const seeded = await call('POST', `${crmUrl()}/_admin/seed`, { vendor: 'hubspot', contacts: [
    { firstName: 'Pat', lastName: 'Older', phone: SHARED }, { firstName: 'Pat', lastName: 'Newer', phone: SHARED },
  ] });
  const older = seeded.created.find((c) => JSON.stringify(c).includes('Older'));
  assert.ok(older, `Pat Older seeded: ${JSON.stringify(seeded.created)}`);
  const from = await messageCount(world);
  await world.softphone({ type: 'calltrail-demo-incoming-call', phoneNumber: SHARED });
  const id = await latestCallId(world, from);
  // While it rings: one slot per CRM of the server, with the server's call pop's matches.
  await panel.waitForText(/Ringing/);
  await panel.waitForText(/hs \(server\)[\s\S]*Pat Older/, { ms: 30_000 });
  await panel.waitForText(/pd \(server\)/);
  assert.match(await panel.text('[data-integration="server:hs"]'), /2 matches/);
  const box = await panel.evaluate((root) => {
    for (const li of root.querySelectorAll('[data-integration="server:hs"] li')) {
      if (li.innerText.includes('Pat Older')) return li.querySelector('input[type="checkbox"]')?.getAttribute('data-key');
    }
    return null;
  });
  assert.ok(box, 'Pat Older can be picked');
  assert.deepEqual(await panel.axe(), [], 'panel with the server\'s slots: no serious or critical axe violation');
  await panel.click(`[data-key="${box}"]`);
  await panel.click('[data-key="log-this"]');
  await panel.waitForText(/Picks saved/);
  await world.softphone({ type: 'calltrail-demo-answer' });
  await panel.waitForText(/On call/);
  await hangUp(world);
  // After hang-up the server's slot waits for the active-call delay: "Log now" sends it now.
  await panel.waitForText(/Log now/, { ms: 30_000 });
  await panel.click('[data-key="log-now"]');
  const logs = await eventually(async () => {
    const v = await crmLogs(id);
    return v.byVendor.hubspot?.length >= 1 ? v : null;
  }, { ms: 60_000, what: `call ${id} logged in HubSpot by the server` });
  assert.equal(logs.byVendor.hubspot.length, 1, 'one HubSpot record');
  const record = logs.byVendor.hubspot[0].id;
  const read = await call('GET', `${crmUrl()}/hubspot/crm/v3/objects/calls/${record}?associations=contacts`, undefined, { authorization: 'Bearer hubspot-token' });
  const contacts = (read.associations?.contacts?.results || []).map((a) => a.id);
  assert.deepEqual(contacts, [String(older.id)], `logged on the picked contact: ${JSON.stringify(read)}`);
  await panel.waitForText(/hs \(server\)\s*Logged/, { ms: 30_000 });
  // A manual log of it anyway (the page offers none: the core's rule says no), sent as another
  // device's page might: the server's engine refuses it, and the history says why.
  const asked = await world.send({ type: 'engine', input: { input: 'manual_log_requested', call: id, integrations: ['hs'] } });
  assert.equal(asked.ok, true, JSON.stringify(asked));
  const page = await world.browser.context.newPage();
  await page.goto(`chrome-extension://${EXTENSION_ID}/extension/pages/history.html`);
  const cell = page.locator(`tr[data-call="${id}"] [data-integration="server:hs"]`);
  await eventually(async () => {
    if (await cell.locator('[data-refused="manual_log"]').count()) return true;
    await page.reload();
    await cell.waitFor();
    return false;
  }, { ms: 30_000, what: 'the refusal on the history page' });
  assert.match(await cell.innerText(), /Your manual log was refused: already logged/);
  assert.equal(await page.locator(`[data-key="log-${id}"]`).count(), 1, 'Pipedrive (no match) may still be logged by hand');
  await page.close();
  await onlyTheServerSentRequests();
});
