// The Rust host inside the real service worker: settings imported whole or not at all, kept
// across worker restarts, and "sync now" answering when the digest run is done.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchWithExtension, stopServiceWorker, sendFromExtensionPage } from '../../www/world/browser.mjs';

let browser;
const send = (m) => sendFromExtensionPage(browser.context, m);
before(async () => { browser = await launchWithExtension(); });
after(async () => { await browser?.close(); });

const good = {
  softphone_origins: ['http://127.0.0.1:8801'],
  default_country: 'US',
  integrations: [{ id: 'hs', kind: 'hubspot', label: 'HubSpot', base_url: 'http://127.0.0.1:9/hubspot' }],
};

test('a broken settings document is refused whole and the old settings stay', async () => {
  const before = await send({ type: 'export-settings' });
  assert.equal(before.ok, true);
  for (const [json, needle] of [
    ['{"integrations": [', /not valid JSON/],
    [JSON.stringify({ ...good, digest: { period_mins: 0 } }), /digest\.period_mins/],
    [JSON.stringify({ ...good, integrations: [{ ...good.integrations[0], base_url: 'ftp://x' }] }), /base_url/],
  ]) {
    const r = await send({ type: 'import-settings', json });
    assert.equal(r.ok, false, json);
    assert.match(r.error, needle);
  }
  const after = await send({ type: 'export-settings' });
  assert.deepEqual(after.data, before.data);
});

test('imported settings reach the engine and survive a worker restart', async () => {
  const r = await send({ type: 'import-settings', json: JSON.stringify(good) });
  assert.equal(r.ok, true, JSON.stringify(r));
  await stopServiceWorker(browser.context);
  const after = await send({ type: 'export-settings' });
  assert.deepEqual(after.data.softphone_origins, good.softphone_origins);
  assert.equal(after.data.integrations[0].id, 'hs');
  assert.equal(after.data.integrations[0].conflict_rule.rule, 'ask', 'defaults filled in');
});

test('sync now answers when the digest run is done', async () => {
  const r = await send({ type: 'sync-now' });
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.data.notice, 'digest_done');
  assert.equal(r.data.sync, true);
  assert.deepEqual(r.data.logged, []);
});

test('malformed intents get a clear error, and diagnostics answer', async () => {
  const r = await send({ type: 'engine', input: { input: 'no_such_input' } }).catch((e) => ({ ok: false, error: String(e) }));
  assert.equal(r.ok, false);
  const d = await send({ type: 'diagnostics' });
  assert.equal(d.ok, true);
  assert.ok(d.data.restores >= 1);
});
