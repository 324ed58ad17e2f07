// OAuth through the real extension for all five CRMs, the way a rep connects: the options page's
// "Connect" button runs chrome.identity.launchWebAuthFlow, the vendor's consent page opens in its
// popup, the rep signs in and allows, and the worker redeems the code with the company's client
// secret (typed on the options page, or pushed by the admin policy). Then a call is logged in
// every CRM, each record owned by the rep, and an expired token is refreshed once.
//
// The emulator's consent pages stand for the vendors' (www/crm-emulator/README.md "Authorize"):
// Salesforce is a sandbox (test.salesforce.com), Zoho the EU data centre, Clio the EU region.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, eventually } from '../../www/world/world.mjs';
import { EXTENSION_ID } from '../../www/world/browser.mjs';

const PAGES = `chrome-extension://${EXTENSION_ID}/extension/pages`;

/** Each connection: where its OAuth server is (emulator prefix), the realm its records land in. */
const CRMS = [
  { id: 'hs', kind: 'hubspot', label: 'HubSpot', auth: 'hubspot', paths: ['/oauth/authorize', '/oauth/v1/token'], realm: 'hubspot', base: 'hubspot', secret: 'page' },
  { id: 'pd', kind: 'pipedrive', label: 'Pipedrive', auth: 'pipedrive', paths: ['/oauth/authorize', '/oauth/token'], realm: 'pipedrive', base: '', secret: 'page' },
  { id: 'sf', kind: 'salesforce', label: 'Salesforce sandbox', auth: 'salesforce-test', paths: ['/services/oauth2/authorize', '/services/oauth2/token'], realm: 'salesforce-sandbox', base: '', secret: 'policy', region: 'sandbox', regionLabel: 'Sandbox' },
  { id: 'zo', kind: 'zoho', label: 'Zoho CRM EU', auth: 'zoho-accounts-eu', paths: ['/oauth/v2/auth', '/oauth/v2/token'], realm: 'zoho-eu', base: '', secret: 'policy', region: 'eu', regionLabel: 'Europe' },
  { id: 'cl', kind: 'clio', label: 'Clio EU', auth: 'clio-eu', paths: ['/oauth/authorize', '/oauth/token'], realm: 'clio-eu', base: 'clio-eu', secret: 'policy', region: 'eu', regionLabel: 'Europe' },
];

let world;
let root;
before(async () => {
  world = await startWorld({ integrations: [] });
  root = world.emulator.base;
  // Consent pages show, as at the vendors: the rep signs in and clicks Allow.
  await world.emulator.admin('POST', 'config', { autoApprove: false });
  await world.emulator.admin('POST', 'users', { vendor: 'zoho-eu', users: [{ name: 'Erika Rep', email: 'erika@example.eu' }], replace: true });
  await world.configure({
    integrations: CRMS.map((c) => ({
      id: c.id, kind: c.kind, label: c.label, region: c.region || '', base_url: c.base ? `${root}/${c.base}` : '',
      auth: {
        type: 'oauth',
        // From the page: the rep types the company's app; from the policy: left empty.
        client_id: c.secret === 'page' ? `${c.kind}-client` : '',
        auth_url: `${root}/${c.auth}${c.paths[0]}`,
        token_url: `${root}/${c.auth}${c.paths[1]}`,
        scopes: [],
      },
    })),
  });
  // The admin policy's company clients (chrome.storage.managed cannot be written from a test;
  // host.setPolicy is what its onChanged listener calls).
  const policy = { oauth_clients: Object.fromEntries(CRMS.filter((c) => c.secret === 'policy').map((c) => [c.kind, { client_id: `${c.kind}-client`, client_secret: `${c.kind}-secret`, token_url: `${root}/` }])) };
  await world.browser.worker.evaluate(async (p) => (await self.__calltrail.ready).host.setPolicy(p), policy);
  for (const c of CRMS) {
    await world.emulator.admin('POST', 'seed', { vendor: c.realm, contacts: [{ firstName: 'Grace', lastName: 'Hopper', phone: '+1 (415) 555-0199' }] });
  }
  await world.openSoftphone();
});
after(async () => { await world?.close(); });

async function options() {
  const page = await world.browser.context.newPage();
  await page.goto(`${PAGES}/options.html`);
  await page.locator('#integration-hs').waitFor();
  return page;
}

test('the company client secret typed on the options page is kept, never shown', async () => {
  const page = await options();
  for (const c of CRMS.filter((x) => x.secret === 'page')) {
    const card = page.locator(`#integration-${c.id}`);
    await card.locator(`#f-integrations-${c.id}-client_secret`).fill(`${c.kind}-secret`);
    await card.getByRole('button', { name: 'Save', exact: true }).click();
    await card.getByText('Client secret saved in this browser.').waitFor();
  }
  const seen = JSON.stringify([await world.send({ type: 'settings' }), await world.send({ type: 'state' }), await world.send({ type: 'export-settings' })]);
  for (const c of CRMS) assert.ok(!seen.includes(`${c.kind}-secret`), `${c.kind}'s secret shown`);
  const st = (await world.send({ type: 'state' })).data.integrations;
  assert.deepEqual(Object.fromEntries(st.map((i) => [i.id, i.client_secret])), { hs: 'settings', pd: 'settings', sf: 'policy', zo: 'policy', cl: 'policy' });
  await page.close();
});

test('Connect runs launchWebAuthFlow: the vendor consent page opens, the rep allows, and every CRM is connected', async () => {
  const page = await options();
  for (const c of CRMS) {
    const card = page.locator(`#integration-${c.id}`);
    // The region the rep picked is what the card shows (the emulator stands at its addresses).
    if (c.region) assert.equal(await card.locator(`#f-integrations-${c.id}-region option:checked`).innerText(), c.regionLabel, `${c.id}: region`);
    const connect = card.getByRole('button', { name: /^Connect / });
    const [popup] = await Promise.all([world.browser.context.waitForEvent('page'), connect.click()]);
    await popup.waitForLoadState('domcontentloaded');
    const url = new URL(popup.url());
    assert.equal(url.pathname, `/${c.auth}${c.paths[0]}`, `${c.id}: the authorize page`);
    if (['hubspot', 'salesforce'].includes(c.kind)) assert.equal(url.searchParams.get('code_challenge_method'), 'S256', `${c.id}: PKCE`);
    else assert.equal(url.searchParams.get('code_challenge'), null, `${c.id}: no PKCE where none is documented`);
    await popup.locator('#consent-form').waitFor();
    await popup.locator('#allow').click();
    await card.locator('.who').waitFor({ timeout: 20_000 });
    assert.match(await card.locator('.who').innerText(), /Connected as/);
  }
  const settings = (await world.send({ type: 'settings' })).data;
  assert.deepEqual([...settings.connected].sort(), CRMS.map((c) => c.id).sort());
  // The API base the vendor named: Salesforce's sandbox instance_url, Zoho's EU api_domain,
  // Pipedrive's api_domain.
  const base = (id) => settings.settings.integrations.find((i) => i.id === id).base_url;
  assert.equal(base('sf'), `${root}/salesforce-sandbox`);
  assert.equal(base('zo'), `${root}/zoho-eu`);
  assert.equal(base('pd'), `${root}/pipedrive`);
  await page.close();
});

async function callFrom(number) {
  await world.softphone({ type: 'calltrail-demo-incoming-call', phoneNumber: number });
  await world.softphone({ type: 'calltrail-demo-answer' });
  await world.softphone({ type: 'calltrail-demo-hangup' });
}

test('a call is logged in every CRM, each record owned by the rep who connected', async () => {
  // The worker may only fetch granted sites: the emulator is one (http://127.0.0.1).
  await callFrom('+14155550199');
  for (const c of CRMS) {
    const records = await eventually(async () => {
      const r = await world.emulator.records({ vendor: c.realm, kind: 'calls', contains: 'calltrail:' });
      return r.count === 1 ? r.records : null;
    }, { ms: 30_000, what: `the call logged in ${c.id}` });
    const owner = records[0].owner;
    assert.ok(owner, `${c.id}: the record has an owner`);
    assert.equal(owner.email, c.realm === 'zoho-eu' ? 'erika@example.eu' : 'rep@example.com', `${c.id}: owned by the rep`);
  }
  // Pipedrive's OAuth token went out as Bearer, never as x-api-token.
  const log = await world.emulator.admin('GET', 'requests?vendor=pipedrive');
  const api = log.requests.filter((r) => !r.path.startsWith('/oauth'));
  assert.ok(api.length > 0);
  for (const r of api) {
    assert.match(r.headers.authorization || '', /^Bearer /, `${r.method} ${r.path}`);
    assert.equal(r.headers['x-api-token'], undefined);
  }
});

test('an expired access token is refreshed once with the company secret, and the call is still logged', async () => {
  const seqBefore = (await world.emulator.admin('GET', 'requests?vendor=hubspot&limit=1')).lastSeq;
  await world.emulator.admin('POST', 'tokens/expire', { vendor: 'hubspot' });
  await callFrom('+14155550199');
  await eventually(async () => (await world.emulator.records({ vendor: 'hubspot', kind: 'calls', contains: 'calltrail:' })).count === 2, { ms: 30_000, what: 'the second call logged after a refresh' });
  const log = await world.emulator.admin('GET', `requests?vendor=hubspot&since=${seqBefore}`);
  const refreshes = log.requests.filter((r) => r.path.endsWith('/oauth/v1/token'));
  assert.equal(refreshes.length, 1, `token requests: ${refreshes.length}`);
  assert.equal(refreshes[0].status, 200);
  const seen = JSON.stringify(await world.send({ type: 'settings' }));
  assert.ok(!/access_token|refresh_token|hubspot-refresh|hubspot-secret/.test(seen), 'no token or secret in what pages can read');
});

test('disconnecting forgets the tokens; the company secret stays for the next sign-in', async () => {
  const r = await world.send({ type: 'clear-credentials', integration: 'pd' });
  assert.equal(r.ok, true);
  const st = (await world.send({ type: 'state' })).data.integrations.find((i) => i.id === 'pd');
  assert.equal(st.connected, false);
  assert.equal(st.client_secret, 'settings');
});
