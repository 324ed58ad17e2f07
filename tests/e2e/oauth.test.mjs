// OAuth through the real worker against the emulator's authorization server: the code flow with
// PKCE (the worker builds the authorize URL and redeems the code), then an access token that
// expires is refreshed once and the call is still logged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startWorld, eventually } from '../../www/world/world.mjs';
import { EXTENSION_ID } from '../../www/world/browser.mjs';

let world;
before(async () => {
  world = await startWorld({ integrations: [] });
  const hs = world.emulator.url('hubspot');
  await world.configure({
    integrations: [{
      id: 'hs', kind: 'hubspot', label: 'HubSpot', base_url: hs,
      auth: { type: 'oauth', client_id: 'hubspot-client', auth_url: `${hs}/oauth/authorize`, token_url: `${hs}/oauth/v1/token`, scopes: ['crm.objects.contacts.read'] },
    }],
  });
  await world.emulator.seed('hubspot', [{ firstName: 'Grace', lastName: 'Hopper', phone: '+1 (415) 555-0199' }]);
  await world.openSoftphone();
});
after(async () => { await world?.close(); });

const redirectUri = `https://${EXTENSION_ID}.chromiumapp.org/`;

test('connecting with OAuth: PKCE code flow redeemed by the worker', async () => {
  const state = randomBytes(16).toString('hex');
  const verifier = randomBytes(48).toString('base64url');
  const start = await world.send({ type: 'oauth-start', integration: 'hs', state, verifier, redirect_uri: redirectUri });
  assert.equal(start.ok, true, JSON.stringify(start));
  const url = new URL(start.data.url);
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(!start.data.url.includes(verifier), 'the verifier never leaves the worker in the URL');
  // What launchWebAuthFlow would do: follow the authorize URL to the redirect.
  const res = await fetch(url, { redirect: 'manual' });
  const location = res.headers.get('location');
  assert.ok(location?.startsWith(redirectUri), `redirected to ${location}`);
  const wrongState = await world.send({ type: 'oauth-finish', integration: 'hs', redirect_url: location, state: 'forged', verifier, redirect_uri: redirectUri });
  assert.equal(wrongState.ok, false, 'a redirect with another state is refused');
  const finish = await world.send({ type: 'oauth-finish', integration: 'hs', redirect_url: location, state, verifier, redirect_uri: redirectUri });
  assert.equal(finish.ok, true, JSON.stringify(finish));
  const settings = await world.send({ type: 'settings' });
  assert.ok(settings.data.connected.includes('hs'));
});

async function callFrom(number) {
  await world.softphone({ type: 'calltrail-demo-incoming-call', phoneNumber: number });
  await world.softphone({ type: 'calltrail-demo-answer' });
  await world.softphone({ type: 'calltrail-demo-hangup' });
}

test('an expired access token is refreshed once and the call is still logged', async () => {
  await callFrom('+14155550199');
  await eventually(async () => (await world.emulator.calls('calltrail:')).count === 1, { what: 'the first call logged' });
  const seqBefore = (await world.emulator.admin('GET', 'requests?vendor=hubspot&limit=1')).lastSeq;
  await world.emulator.admin('POST', 'tokens/expire', { vendor: 'hubspot' });
  await callFrom('+14155550199');
  await eventually(async () => (await world.emulator.calls('calltrail:')).count === 2, { what: 'the second call logged after a refresh' });
  const log = await world.emulator.admin('GET', `requests?vendor=hubspot&since=${seqBefore}`);
  const refreshes = log.requests.filter((r) => r.path.endsWith('/oauth/v1/token'));
  assert.equal(refreshes.length, 1, `token requests: ${JSON.stringify(refreshes.map((r) => r.body))}`);
  const secrets = JSON.stringify(await world.send({ type: 'settings' }));
  assert.ok(!/access_token|refresh_token|hubspot-refresh/.test(secrets), 'no token in what pages can read');
});
