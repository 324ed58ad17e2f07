// Calltrail where reps really work (issue 13), through the paths a rep uses and the package as
// it ships: a softphone page added in Settings and allowed in Chrome, a CRM whose API the rep has
// not allowed yet, the softphone in Calltrail's side panel, an extension reloaded mid-call, and a
// worker that cannot start for half a minute. The only stand-in for a human is the click on
// Chrome's permission prompt (approvePermissionPrompt in www/world/browser.mjs).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, eventually } from '../../www/world/world.mjs';
import { EXTENSION_ID, approvePermissionPrompt, stopServiceWorker } from '../../www/world/browser.mjs';
import { answerCall, callView, hangUp, waitStatuses, NO_QUIET_HOURS, sleep } from '../../www/world/calls.mjs';

const ADA = '+12125550142';
const INTEGRATIONS = [
  { id: 'hs', kind: 'hubspot', label: 'HubSpot' },
  { id: 'sf', kind: 'salesforce', label: 'Salesforce' },
];

const worlds = [];
after(async () => { for (const w of worlds) await w.close().catch(() => {}); });

/** A world whose CRMs are reached as `localhost` (a different site from the pages' 127.0.0.1). */
async function world(opts = {}) {
  const w = await startWorld({ integrations: INTEGRATIONS, settings: { digest: NO_QUIET_HOURS }, apiHost: 'localhost', ...opts });
  worlds.push(w);
  await w.emulator.seed('hubspot', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '(212) 555-0142' }]);
  await w.emulator.seed('salesforce', [{ firstName: 'Ada', lastName: 'Lovelace', phone: '212.555.0142' }]);
  return w;
}

async function optionsPage(w) {
  const page = await w.browser.context.newPage();
  await page.goto(`chrome-extension://${EXTENSION_ID}/extension/pages/options.html`);
  await page.locator('#integrations .integ').first().waitFor();
  return page;
}

const registered = (w) => w.browser.worker.evaluate(async () => (await chrome.scripting.getRegisteredContentScripts()).flatMap((s) => s.matches));
const logsOf = async (w, id) => (await w.emulator.calls(`calltrail:call|${id}|`)).byVendor;
const panelText = (page) => page.locator('[data-calltrail="panel"] >> #ct-panel').innerText().catch(() => '');

async function call(w, { during } = {}) {
  const id = await answerCall(w, ADA);
  if (during) await during(id);
  await sleep(200);
  await hangUp(w);
  return id;
}

test('a page added in Settings gets the bridge and panel once allowed, logs a call in two CRMs, and loses them when removed', async () => {
  const w = await world();
  await w.configure({ softphone_pages: [] }, { grant: 'apis' });
  assert.deepEqual(await registered(w), [], 'nothing runs on any page before the rep adds one');
  // The rep adds the page on the options page; Chrome asks, the rep allows.
  const options = await optionsPage(w);
  await approvePermissionPrompt(w.browser.context, ['http://127.0.0.1/*']);
  await options.fill('#f-softphone_pages', w.hostOrigin);
  await options.getByRole('button', { name: 'Add page' }).click();
  await eventually(async () => (await options.locator('.page-row').innerText()).includes('Calltrail runs here'), { what: 'the page allowed' });
  await eventually(async () => (await registered(w)).includes('http://127.0.0.1/*'), { what: 'the bridge registered' });
  const page = await w.openSoftphone();
  await page.locator('[data-calltrail="panel"]').waitFor({ state: 'attached' });
  const id = await call(w);
  await waitStatuses(w, id, { hs: 'logged', sf: 'logged' });
  assert.deepEqual(await logsOf(w, id), { hubspot: 1, salesforce: 1 });
  // Removed: unregistered, and a page loaded now gets neither bridge nor panel.
  await options.bringToFront();
  await options.locator('.page-row').getByRole('button', { name: /Remove/ }).click();
  await eventually(async () => (await registered(w)).length === 0, { what: 'the bridge unregistered' });
  await page.reload();
  await page.waitForFunction(() => window.calltrailHost && window.calltrailHost.messages.length > 0);
  assert.equal(await page.locator('[data-calltrail="panel"]').count(), 0);
});

test('a CRM the rep has not allowed holds its work, shows how to allow it, logs once allowed, and holds again when revoked', async () => {
  const w = await world();
  await w.configure({}, { grant: 'pages' });
  await w.openSoftphone();
  const id = await call(w);
  // Both CRMs wait: nothing is sent to an API Chrome will not let the worker reach.
  await sleep(1500);
  assert.deepEqual(await logsOf(w, id), {});
  const view = await callView(w, id);
  assert.ok(view.slots.every((s) => s.status !== 'failed' && s.status !== 'logged'), JSON.stringify(view.slots.map((s) => s.status)));
  const options = await optionsPage(w);
  const card = options.locator('[data-integration="hs"]');
  await eventually(async () => (await card.innerText()).includes('Calltrail needs access to localhost'), { what: 'the Grant state' });
  await approvePermissionPrompt(w.browser.context, ['http://localhost/*']);
  await card.getByRole('button', { name: 'Allow localhost' }).click();
  await waitStatuses(w, id, { hs: 'logged', sf: 'logged' });
  assert.deepEqual(await logsOf(w, id), { hubspot: 1, salesforce: 1 });
  // The rep takes the access back (Chrome's site settings): held again, the next call waits.
  await options.evaluate(() => chrome.permissions.remove({ origins: ['http://localhost/*'] }));
  await eventually(async () => {
    const st = (await w.send({ type: 'state' })).data;
    return st.integrations.every((i) => i.access.granted === false);
  }, { what: 'both integrations held again' });
  const next = await call(w);
  await sleep(1500);
  assert.deepEqual(await logsOf(w, next), {});
});

test('the softphone in Calltrail\'s side panel logs a call in two CRMs with no page allowed', async () => {
  const w = await world();
  await w.configure({ softphone_pages: [], side_panel_softphone: `${w.softphoneOrigin}/` }, { grant: 'apis' });
  assert.deepEqual(await registered(w), []);
  // The side panel's page, opened in a tab (Playwright cannot drive Chrome's side panel itself).
  const panel = await w.browser.context.newPage();
  await panel.goto(`chrome-extension://${EXTENSION_ID}/extension/pages/softphone.html`);
  const frame = await eventually(async () => panel.frames().find((f) => f.url().startsWith(w.softphoneOrigin)), { what: 'the softphone frame' });
  await frame.waitForLoadState();
  const send = (cmd) => panel.evaluate((c) => document.querySelector('iframe').contentWindow.postMessage(c, '*'), cmd);
  await send({ type: 'calltrail-demo-incoming-call', phoneNumber: ADA });
  await send({ type: 'calltrail-demo-answer' });
  const id = await eventually(async () => (await w.send({ type: 'history', limit: 1 })).data?.[0]?.call.id, { what: 'the call in the history' });
  await eventually(async () => (await panel.locator('[data-calltrail="panel"] >> #ct-panel').innerText().catch(() => '')).includes('+1 (212) 555-0142'), { what: 'the panel beside the softphone' });
  await sleep(200);
  await send({ type: 'calltrail-demo-hangup' });
  await waitStatuses(w, id, { hs: 'logged', sf: 'logged' });
  assert.deepEqual(await logsOf(w, id), { hubspot: 1, salesforce: 1 });
});

test('the extension reloaded between a call\'s start and its end: logged once per CRM, the page not reloaded', async () => {
  const w = await world();
  await w.configure();
  const page = await w.openSoftphone();
  const id = await answerCall(w, ADA);
  const before = await w.browser.worker.evaluate(() => self.__calltrail.instance);
  const control = await w.browser.context.newPage();
  await control.goto(`chrome-extension://${EXTENSION_ID}/manifest.json`);
  await control.evaluate(() => chrome.runtime.reload()).catch(() => {});
  // The new version's worker, and its bridge injected into the open softphone page.
  await eventually(async () => {
    const workers = w.browser.context.serviceWorkers().filter((x) => x.url().includes(EXTENSION_ID));
    for (const wk of workers) {
      const inst = await wk.evaluate(() => self.__calltrail && self.__calltrail.instance).catch(() => null);
      if (inst && inst !== before) { w.browser.worker = wk; return true; }
    }
    return false;
  }, { what: 'the reloaded extension\'s worker' });
  await eventually(async () => (await page.locator('[data-calltrail="panel"]').count()) === 1, { what: 'the new panel in the open page' });
  await sleep(200);
  await hangUp(w);
  await waitStatuses(w, id, { hs: 'logged', sf: 'logged' });
  await sleep(1000);
  assert.deepEqual(await logsOf(w, id), { hubspot: 1, salesforce: 1 });
});

/**
 * Keeps the worker from starting: a versionchange transaction on its database, held open from
 * an extension page, so the worker's open waits behind it. Resolves with `release()`.
 */
async function holdTheDatabase(w) {
  const page = await w.browser.context.newPage();
  await page.goto(`chrome-extension://${EXTENSION_ID}/manifest.json`);
  await stopServiceWorker(w.browser.context);
  await page.evaluate(() => new Promise((resolve, reject) => {
    indexedDB.databases().then((dbs) => {
      const version = dbs.find((d) => d.name === 'calltrail').version;
      const req = indexedDB.open('calltrail', version + 1);
      req.onupgradeneeded = () => {
        const tx = req.transaction;
        window.__held = tx;
        // Keep the upgrade going: a read that asks for another read, until released.
        const store = tx.objectStore(tx.objectStoreNames[0]);
        const spin = () => { if (!window.__release) store.count().onsuccess = spin; else tx.abort(); };
        spin();
        resolve();
      };
      req.onerror = () => {};
      req.onblocked = () => reject(new Error('the database is still open somewhere'));
    });
  }));
  return { release: () => page.evaluate(() => { window.__release = true; }) };
}

test('a worker that cannot start for 30 s: the bridge keeps the events, the panel says why, and the call is logged once it starts, across a page reload', async () => {
  const w = await world();
  await w.configure();
  const page = await w.openSoftphone();
  const held = await holdTheDatabase(w);
  const started = Date.now();
  const id = await call(w);
  await eventually(async () => (await panelText(page)).includes('Calltrail is not logging'), { what: 'the panel to say Calltrail is not logging', ms: 30_000 });
  // The rep reloads the page meanwhile: what the bridge had not delivered survives it.
  await page.reload();
  await page.waitForFunction(() => window.calltrailHost && window.calltrailHost.messages.some((m) => m.data?.type === 'rc-login-status-notify'), null, { timeout: 15_000 });
  await sleep(Math.max(0, 30_000 - (Date.now() - started)));
  assert.deepEqual(await logsOf(w, id), {}, 'nothing could be logged while the worker could not start');
  await held.release();
  await waitStatuses(w, id, { hs: 'logged', sf: 'logged' }, { ms: 60_000 });
  await sleep(1000);
  assert.deepEqual(await logsOf(w, id), { hubspot: 1, salesforce: 1 });
  await eventually(async () => !(await panelText(page)).includes('Calltrail is not logging'), { what: 'the panel to clear its warning' });
});

test('a first run opens Settings on a checklist that follows the rep\'s progress', async () => {
  const w = await world();
  const guide = await eventually(async () => w.browser.context.pages().find((p) => p.url().endsWith('options.html#get-started')), { what: 'the options page opened on install' });
  await guide.locator('#checklist li').first().waitFor();
  assert.deepEqual(await guide.locator('#checklist li').evaluateAll((li) => li.map((x) => x.dataset.done)), ['false', 'false', 'false']);
  await w.configure();
  await guide.reload();
  await guide.locator('[data-integration="hs"]').waitFor();
  await guide.fill('#f-test-hs', ADA);
  await guide.locator('[data-integration="hs"]').getByRole('button', { name: 'Test connection' }).click();
  await guide.locator('[data-integration="hs"] .result.ok').filter({ hasText: '1 contact' }).waitFor();
  await guide.reload();
  await guide.locator('#checklist li').first().waitFor();
  assert.deepEqual(await guide.locator('#checklist li').evaluateAll((li) => li.map((x) => x.dataset.done)), ['true', 'true', 'true']);
});
