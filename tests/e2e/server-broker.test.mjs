// Server mode's token broker (issue 16), end to end: the company registers its HubSpot OAuth
// client with the Calltrail server once (the secret sealed there); the rep's extension, in server
// mode, shows no client-secret nor token-URL field, runs chrome.identity.launchWebAuthFlow from
// the options page's Connect, and hands the code to the server's broker, which redeems it at the
// vendor with the secret. The emulator's token endpoint sees the server (no browser User-Agent,
// no Origin) exchanging with the secret, the browser never; then a call is logged with the
// brokered token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, eventually } from '../../www/world/world.mjs';
import { NO_QUIET_HOURS } from '../../www/world/calls.mjs';
import { EXTENSION_ID } from '../../www/world/browser.mjs';
import { serverWorld } from './lib/server.mjs';

const PAGES = `chrome-extension://${EXTENSION_ID}/extension/pages`;
const REDIRECT = `https://${EXTENSION_ID}.chromiumapp.org/`;

let srv;
let world;
let root;
let repToken;

before(async () => {
  srv = await serverWorld({ name: 'server_broker' });
  await srv.admin('PUT', '/admin/accounts/acme', { name: 'Acme' });
  // The server logs another integration for alice; HubSpot is logged from her browser.
  await srv.admin('PUT', '/admin/accounts/acme/reps/alice', { telephony_user: 'u-alice', settings: { default_country: 'US', digest: NO_QUIET_HOURS, integrations: [] } });
  repToken = (await srv.admin('POST', '/admin/accounts/acme/reps/alice/tokens', { label: 'chrome' })).data.token;

  world = await startWorld({ integrations: [], settings: { digest: NO_QUIET_HOURS } });
  root = world.emulator.base;
  await world.emulator.admin('POST', 'config', { autoApprove: false });
  await world.emulator.admin('POST', 'seed', { vendor: 'hubspot', contacts: [{ firstName: 'Grace', lastName: 'Hopper', phone: '+1 (415) 555-0199' }] });
  // The company's client, registered once with the server (where the secret stays).
  const client = await srv.admin('PUT', '/admin/accounts/acme/oauth/hs', {
    kind: 'hubspot', client_id: 'hubspot-client', client_secret: 'hubspot-secret', redirect_uri: REDIRECT,
    token_url: `${root}/hubspot/oauth/v1/token`, authorize_url: `${root}/hubspot/oauth/authorize`, scopes: [],
  });
  assert.equal(client.ok, true, JSON.stringify(client));
  await world.configure({
    integrations: [{
      id: 'hs', kind: 'hubspot', label: 'HubSpot', base_url: `${root}/hubspot`,
      auth: { type: 'oauth', client_id: 'hubspot-client', auth_url: `${root}/hubspot/oauth/authorize`, token_url: `${root}/hubspot/oauth/v1/token`, scopes: [] },
    }],
    server: { url: srv.url, account: 'acme', rep: 'alice', token: repToken, integrations: ['server-crm'] },
  });
  await world.openSoftphone();
});

after(async () => {
  await world?.close();
  srv?.close();
});

test('in server mode the options page asks for no client secret nor token URL, and keeps none', async () => {
  const st = (await world.send({ type: 'state' })).data.integrations.find((i) => i.id === 'hs');
  assert.equal(st.client_secret, 'server');
  assert.equal(st.asks_token_url, false, 'the server holds the vendor\'s token URL');
  const refused = await world.send({ type: 'set-credentials', integration: 'hs', client_secret: 'hubspot-secret' });
  assert.equal(refused.ok, false);
  const page = await world.browser.context.newPage();
  await page.goto(`${PAGES}/options.html`);
  const card = page.locator('#integration-hs');
  await card.waitFor();
  await card.getByText('Held by your company’s Calltrail server').waitFor();
  assert.equal(await card.locator('#f-integrations-hs-client_secret').count(), 0, 'no client-secret field');
  // The broker exchanges at the token URL registered on the server: none is asked here. The
  // authorize URL still is (this browser opens the sign-in page).
  assert.equal(await card.locator('#f-integrations-hs-token_url').count(), 0, 'no token-URL field');
  assert.equal(await card.locator('#f-integrations-hs-auth_url').count(), 1, 'the authorize URL is still asked');
  // The rep token is saved, never shown.
  assert.equal(await page.locator('#f-server-token').inputValue(), '');
  assert.match(await page.locator('#f-server-token').getAttribute('placeholder'), /kept/);
  await page.close();
});

test('Connect: launchWebAuthFlow in the browser, the code exchanged by the server with the secret', async () => {
  const since = (await world.emulator.admin('GET', 'requests?vendor=hubspot&limit=1')).lastSeq;
  const page = await world.browser.context.newPage();
  await page.goto(`${PAGES}/options.html`);
  const card = page.locator('#integration-hs');
  await card.waitFor();
  const [popup] = await Promise.all([world.browser.context.waitForEvent('page'), card.getByRole('button', { name: /^Connect / }).click()]);
  await popup.waitForLoadState('domcontentloaded');
  assert.equal(new URL(popup.url()).pathname, '/hubspot/oauth/authorize');
  await popup.locator('#consent-form').waitFor();
  await popup.locator('#allow').click();
  await card.locator('.who').waitFor({ timeout: 20_000 });
  assert.match(await card.locator('.who').innerText(), /Connected as/);
  await page.close();

  const log = await world.emulator.admin('GET', `requests?vendor=hubspot&since=${since}`);
  const tokens = log.requests.filter((r) => r.path.endsWith('/oauth/v1/token'));
  assert.equal(tokens.length, 1, 'one code exchange');
  const [exchange] = tokens;
  assert.equal(exchange.status, 200);
  assert.ok(!/mozilla|chrome/i.test(exchange.headers['user-agent'] || '') && !exchange.headers.origin, `the server, not the browser, exchanged: ${JSON.stringify(exchange.headers)}`);
  assert.ok(JSON.stringify(exchange).includes('client_secret'), 'the server authenticated the company client');
  // Nothing the pages can read carries the secret or the rep's token.
  const seen = JSON.stringify([await world.send({ type: 'settings' }), await world.send({ type: 'state' }), await world.send({ type: 'export-settings' })]);
  assert.ok(!seen.includes('hubspot-secret') && !seen.includes(repToken), 'no secret in what pages can read');
});

test('a call is then logged with the brokered token, and a refresh goes through the server too', async () => {
  const call = async () => {
    await world.softphone({ type: 'calltrail-demo-incoming-call', phoneNumber: '+14155550199' });
    await world.softphone({ type: 'calltrail-demo-answer' });
    await world.softphone({ type: 'calltrail-demo-hangup' });
  };
  await call();
  await eventually(async () => (await world.emulator.records({ vendor: 'hubspot', kind: 'calls', contains: 'calltrail:' })).count === 1, { ms: 30_000, what: 'the call logged in HubSpot' });
  const since = (await world.emulator.admin('GET', 'requests?vendor=hubspot&limit=1')).lastSeq;
  await world.emulator.admin('POST', 'tokens/expire', { vendor: 'hubspot' });
  await call();
  await eventually(async () => (await world.emulator.records({ vendor: 'hubspot', kind: 'calls', contains: 'calltrail:' })).count === 2, { ms: 30_000, what: 'the second call logged after a refresh' });
  const log = await world.emulator.admin('GET', `requests?vendor=hubspot&since=${since}`);
  const refreshes = log.requests.filter((r) => r.path.endsWith('/oauth/v1/token'));
  assert.equal(refreshes.length, 1, 'one refresh');
  assert.ok(!/mozilla|chrome/i.test(refreshes[0].headers['user-agent'] || '') && !refreshes[0].headers.origin, 'refreshed by the server');
  // The browser opened the consent page and called the API; the token endpoint, never.
  const fromBrowser = (await world.emulator.admin('GET', 'requests?vendor=hubspot')).requests.filter((r) => /mozilla|chrome/i.test(r.headers['user-agent'] || ''));
  assert.ok(fromBrowser.length > 0);
  assert.deepEqual(fromBrowser.filter((r) => r.path.endsWith('/oauth/v1/token')).map((r) => r.path), [], 'the browser never called the token endpoint');
});
