// Issue 12 through the real extension: no CRM reply stops logging, "Sync now" means now, and a
// secret goes only to the host it was issued for.
//   (a) HubSpot answers a create with a localized 400 ("Invalid token: недействителен токен
//       доступа"): that call fails in HubSpot only, and the next call is logged in both CRMs.
//   (b) Salesforce answers a create with a 500 and the marker lookup after it with a 503, so the
//       integration backs off: "Sync now" looks again and retries the create at once (Salesforce's
//       marker lookup is exact: no search lag to wait out, which HubSpot's would need, I7); while
//       the CRM asks to wait (Retry-After) the history says so, and a second press sends nothing.
//   (c) An import moves HubSpot's base_url to a second emulator: the old token never reaches it;
//       the rep reconnects and only the new token is sent there.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, startProcess, Emulator, eventually } from '../../www/world/world.mjs';
import { EXTENSION_ID } from '../../www/world/browser.mjs';
import { call, callView, logsOf, waitStatuses, NO_QUIET_HOURS } from '../../www/world/calls.mjs';

const ADA = '+12125550142';
const LOCALIZED = 'Invalid token: недействителен токен доступа';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });

async function world(integrations) {
  const w = await startWorld({ integrations, settings: { digest: NO_QUIET_HOURS } });
  cleanups.push(() => w.close());
  return w;
}

const seedAda = {
  hubspot: (e) => e.seed('hubspot', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '(212) 555-0142' }]),
  salesforce: (e) => e.seed('salesforce', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '212.555.0142' }]),
};

/** The emulator's request log for one vendor, as `{count, requests}`. */
const requests = (e, query) => e.admin('GET', `requests?${new URLSearchParams(query)}`);

test('a localized 400 on a HubSpot create fails that call there only, and the next call is logged in both CRMs', async () => {
  const w = await world([{ id: 'hs', kind: 'hubspot', label: 'HubSpot' }, { id: 'sf', kind: 'salesforce', label: 'Salesforce' }]);
  await w.configure();
  await seedAda.hubspot(w.emulator);
  await seedAda.salesforce(w.emulator);
  await w.openSoftphone();
  await w.emulator.fault({
    vendor: 'hubspot', type: 'error_body', method: 'POST', path: '^/crm/v3/objects/calls$', status: 400,
    body: { status: 'error', message: LOCALIZED, correlationId: 'c0a8f5e2', category: 'VALIDATION_ERROR' },
  });
  const first = await call(w, ADA);
  await waitStatuses(w, first, { hs: 'failed', sf: 'logged' }, { ms: 30_000 });
  const fired = await requests(w.emulator, { vendor: 'hubspot', method: 'POST', path: '^/crm/v3/objects/calls$' });
  assert.deepEqual(fired.requests.map((r) => r.status), [400], 'the create was answered with the localized error');
  const failed = (await callView(w, first)).slots.find((s) => s.integration === 'hs');
  assert.match(failed.detail, /Invalid token/, failed.detail);
  const second = await call(w, ADA);
  await waitStatuses(w, second, { hs: 'logged', sf: 'logged' }, { ms: 30_000 });
  assert.deepEqual(await logsOf(w, second), { hubspot: 1, salesforce: 1 });
  assert.deepEqual(await logsOf(w, first), { salesforce: 1 }, 'the refused create left nothing in HubSpot');
  assert.equal((await w.send({ type: 'diagnostics' })).data.traps, 0, 'the module never trapped');
});

test('"Sync now" after a 500 retries the create at once and shows why it waits on a Retry-After', async () => {
  const w = await world([{ id: 'sf', kind: 'salesforce', label: 'Salesforce' }]);
  await w.configure();
  await seedAda.salesforce(w.emulator);
  await w.openSoftphone();
  const creates = { vendor: 'salesforce', method: 'POST', path: '/sobjects/Task$' };
  const lookups = { vendor: 'salesforce', method: 'GET', path: '/query' };
  // The create answers 500 (outcome unknown), and so does the marker lookup that must come
  // before any new create: the integration backs off (15-30 s for a first failure).
  await w.emulator.fault({ vendor: 'salesforce', type: 'server_error', status: 500, method: 'POST', path: '/sobjects/Task$' });
  // The fault is for that marker lookup (`SELECT Id FROM Task`), not for the guarded create's
  // own lookup after its create (`SELECT Id, CreatedById`, crm::guard, in the same Composite
  // call: the emulator logs and faults each subrequest on its own path).
  await w.emulator.fault({ vendor: 'salesforce', type: 'server_error', status: 503, method: 'GET', path: '/query/?\\?q=SELECT(\\+|%20)Id(\\+|%20)FROM' });
  const id = await call(w, ADA);
  const lookupFailed = await eventually(async () => (await requests(w.emulator, lookups)).requests.find((r) => r.status === 503),
    { ms: 30_000, what: 'the create answered 500 and the marker lookup 503' });
  assert.deepEqual((await requests(w.emulator, creates)).requests.map((r) => r.status), [500]);
  // The next create will be asked to wait two minutes.
  await w.emulator.fault({ vendor: 'salesforce', type: 'rate_limit', retryAfter: 120, method: 'POST', path: '/sobjects/Task$' });
  const page = await w.browser.context.newPage();
  await page.goto(`chrome-extension://${EXTENSION_ID}/extension/pages/history.html`);
  await page.locator('#sync').waitFor();
  assert.equal((await requests(w.emulator, creates)).count, 1, 'no retry before "Sync now": the integration backs off');
  await page.locator('#sync').click();
  const retried = await eventually(async () => (await requests(w.emulator, creates)).requests[1], { ms: 10_000, what: 'the create retried after "Sync now"' });
  assert.equal(retried.status, 429);
  assert.ok(retried.t - lookupFailed.t < 15_000, `retried ${retried.t - lookupFailed.t} ms after the failed lookup: before the backoff could end`);
  const relooked = (await requests(w.emulator, lookups)).requests.filter((r) => r.t > lookupFailed.t && r.t <= retried.t);
  assert.ok(relooked.length >= 1 && relooked.every((r) => r.status === 200), 'the marker was looked for again first');
  // The run's answer, on the history page: the CRM's Retry-After holds the integration.
  const waiting = page.locator('[data-key="sync-waiting"]');
  await waiting.waitFor({ timeout: 15_000 });
  const text = await waiting.innerText();
  assert.match(text, /Salesforce: Retry-After 1[12]\d s/, text);
  assert.match(text, /retrying at/, text);
  // A second press honours the Retry-After: the run answers and no create is sent.
  await page.evaluate(() => document.querySelector('[data-key="sync-waiting"]').remove());
  await page.locator('#sync').click();
  await waiting.waitFor({ timeout: 15_000 });
  assert.match(await waiting.innerText(), /Retry-After \d+ s/);
  assert.equal((await requests(w.emulator, creates)).count, 2, 'nothing sent while the CRM asked to wait');
  assert.notEqual((await callView(w, id)).slots[0].status, 'logged');
  await page.close();
});

test('an import that moves base_url never sends the old token to the new host', async () => {
  const w = await world([{ id: 'hs', kind: 'hubspot', label: 'HubSpot' }]);
  await w.configure();
  const second = await startProcess('www/crm-emulator/server.mjs', ['--port', '0']);
  cleanups.push(() => second.stop());
  const other = new Emulator(second.info.port);
  await seedAda.hubspot(other);
  await seedAda.hubspot(w.emulator);
  await w.openSoftphone();
  // The token the extension holds works on the first emulator.
  const first = await call(w, ADA);
  await waitStatuses(w, first, { hs: 'logged' }, { ms: 30_000 });
  const settings = (await w.send({ type: 'export-settings' })).data;
  const moved = { ...settings, integrations: settings.integrations.map((i) => (i.id === 'hs' ? { ...i, base_url: other.url('hubspot') } : i)) };
  const imported = await w.send({ type: 'import-settings', json: JSON.stringify(moved) });
  assert.equal(imported.ok, true, imported.error);
  await w.settled();
  const hs = (await w.send({ type: 'state' })).data.integrations.find((i) => i.id === 'hs');
  assert.equal(hs.connected, false, `the stored token was dropped: ${JSON.stringify(hs)}`);
  // A call now: nothing may carry the old token to the new host.
  const id = await call(w, ADA);
  await eventually(async () => (await statuses(w, id)).hs !== undefined, { what: 'the call recorded' });
  const leaked = (r) => JSON.stringify([r.headers, r.query, r.body, r.path]).includes('hubspot-token');
  assert.equal((await requests(other, { vendor: 'hubspot' })).requests.filter(leaked).length, 0);
  // The rep reconnects with a token of the new host: the work goes there with it alone.
  await other.admin('POST', 'tokens', { vendor: 'hubspot', access_token: 'moved-host-token' });
  const c = await w.send({ type: 'set-credentials', integration: 'hs', token: 'moved-host-token' });
  assert.equal(c.ok, true, c.error);
  await w.send({ type: 'sync-now' });
  await waitStatuses(w, id, { hs: 'logged' }, { ms: 30_000 });
  const log = (await requests(other, { vendor: 'hubspot' })).requests;
  assert.ok(log.length > 0, 'the new host was reached');
  assert.deepEqual(log.filter(leaked), [], 'the old token never reached the new host');
  assert.ok(log.some((r) => JSON.stringify(r.headers).includes('moved-host-token')));
  assert.deepEqual(await logsOf({ emulator: other }, id), { hubspot: 1 });
});

async function statuses(w, id) {
  const v = await callView(w, id);
  return Object.fromEntries(v.slots.map((s) => [s.integration, s.status]));
}
