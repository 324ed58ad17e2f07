// OAuth, users and owners in the emulator, vendor by vendor: the consent page (Allow/Deny), the
// code exchange with right and wrong client authentication, PKCE, refresh with and without
// rotation (and reuse of an old refresh token), revoke, the current-user endpoints, owner fields
// validated on create, and data-centre / region / org separation. Run: node --test tests/emulator/

import test, { before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { boot } from './helpers.mjs';

let t;
before(async () => { t = await boot(); });
after(async () => { await t.close(); });
beforeEach(async () => { await t.admin('POST', '/reset'); });

const CB = 'https://ext.example/cb';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const basic = (id, secret) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });
const bearer = (tok) => ({ authorization: `Bearer ${tok}` });
const pkce = (verifier = 'pkce-verifier-'.padEnd(50, 'x')) => ({ verifier, challenge: createHash('sha256').update(verifier).digest('base64url') });
const qs = (o) => new URLSearchParams(o).toString();
const unesc = (s) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** GET an authorize URL; returns the response (302 with autoApprove, the page otherwise). */
const authorizeGet = (prefix, path, params) => t.call(prefix, 'GET', `${path}?${qs(params)}`, { auth: false });

/** Submit the consent page's form the way a browser would: its action, hidden fields, the chosen button. */
async function submitConsent(page, decision, login) {
  const action = unesc(/<form method="post" action="([^"]+)"/.exec(page.text)[1]);
  const form = {};
  for (const m of page.text.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) form[unesc(m[1])] = unesc(m[2]);
  if (login) form.login = login;
  form.decision = decision;
  const res = await fetch(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: qs(form), redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const loc = (r) => new URL(r.headers.get('location'));

/** Run authorize (autoApprove) and return the code from the redirect. */
async function codeVia(prefix, path, params) {
  const r = await authorizeGet(prefix, path, params);
  assert.equal(r.status, 302, `authorize ${prefix}${path}: ${r.status} ${r.text}`);
  return loc(r).searchParams.get('code');
}

// ---------- consent page ----------
const VENDOR_AUTH = {
  hubspot: { prefix: 'hubspot', path: '/oauth/authorize', title: /HubSpot/, params: { client_id: 'hubspot-client', redirect_uri: CB, scope: 'oauth crm.objects.contacts.read', state: 'st-1' }, deny: 'page' },
  pipedrive: { prefix: 'pipedrive', path: '/oauth/authorize', title: /Pipedrive/, params: { client_id: 'pipedrive-client', redirect_uri: CB, state: 'st-1' }, deny: 'user_denied' },
  salesforce: { prefix: 'salesforce-login', path: '/services/oauth2/authorize', title: /Salesforce/, params: { response_type: 'code', client_id: 'salesforce-client', redirect_uri: CB, scope: 'api refresh_token', state: 'st-1' }, deny: 'access_denied' },
  zoho: { prefix: 'zoho-accounts', path: '/oauth/v2/auth', title: /Zoho/, params: { response_type: 'code', client_id: 'zoho-client', redirect_uri: CB, scope: 'ZohoCRM.modules.ALL,ZohoCRM.users.READ', access_type: 'offline', state: 'st-1' }, deny: 'access_denied' },
  clio: { prefix: 'clio', path: '/oauth/authorize', title: /Clio/, params: { response_type: 'code', client_id: 'clio-client', redirect_uri: CB, state: 'st-1' }, deny: 'access_denied' },
};

test('consent page: every vendor shows an HTML page naming the app and scopes; Allow redirects with code and state (plus Zoho location/accounts-server), Deny as the vendor does', async () => {
  await t.admin('POST', '/config', { autoApprove: false });
  for (const [v, a] of Object.entries(VENDOR_AUTH)) {
    const page = await authorizeGet(a.prefix, a.path, a.params);
    assert.equal(page.status, 200, `${v} page: ${page.text}`);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    const title = /<title>([^<]*)<\/title>/.exec(page.text)[1];
    assert.match(title, a.title, `${v} title`);
    assert.ok(page.text.includes(`id="client-id">${a.params.client_id}<`), `${v} shows the client id`);
    assert.match(page.text, /<button type="submit" id="allow" name="decision" value="allow" aria-label="Allow">/);
    assert.match(page.text, /<button type="submit" id="deny" name="decision" value="deny" aria-label="Deny">/);
    if (a.params.scope) for (const s of a.params.scope.split(/[ ,]/)) assert.ok(page.text.includes(`<li>${s}</li>`), `${v} lists scope ${s}`);

    const allow = await submitConsent(page, 'allow');
    assert.equal(allow.status, 302, `${v} allow: ${allow.text}`);
    const u = loc(allow);
    assert.equal(u.origin + u.pathname, CB);
    assert.ok(u.searchParams.get('code'), `${v} code`);
    assert.equal(u.searchParams.get('state'), 'st-1');
    const keys = [...u.searchParams.keys()].sort();
    if (v === 'zoho') {
      assert.deepEqual(keys, ['accounts-server', 'code', 'location', 'state']);
      assert.equal(u.searchParams.get('location'), 'us');
      assert.ok(u.searchParams.get('accounts-server').endsWith('/zoho-accounts'));
    } else assert.deepEqual(keys, ['code', 'state'], `${v}: nothing but code and state`);

    const deny = await submitConsent(page, 'deny');
    if (a.deny === 'page') {
      assert.equal(deny.status, 200, 'HubSpot sends nothing back on a refusal');
      assert.equal(deny.headers.get('location'), null);
    } else {
      assert.equal(deny.status, 302, `${v} deny`);
      const d = loc(deny);
      assert.equal(d.searchParams.get('error'), a.deny, `${v} deny error`);
      assert.equal(d.searchParams.get('state'), 'st-1');
      assert.equal(d.searchParams.get('code'), null);
    }
  }
});

test('authorize: an unknown client_id or an unregistered redirect_uri is an error page (no redirect); autoApprove (the default) redirects at once', async () => {
  for (const [v, a] of Object.entries(VENDOR_AUTH)) {
    const bad = await authorizeGet(a.prefix, a.path, { ...a.params, client_id: 'nobody' });
    assert.equal(bad.status, 400, `${v} unknown client`);
    assert.equal(bad.headers.get('location'), null);
    assert.match(bad.text, /data-error="unknown_client"/);
    await t.admin('POST', '/oauth/clients', { vendor: a.prefix === 'salesforce-login' ? 'salesforce' : v, client_id: 'reg-client', client_secret: 'reg-secret', redirect_uris: ['https://registered.example/cb'] });
    const mismatch = await authorizeGet(a.prefix, a.path, { ...a.params, client_id: 'reg-client', redirect_uri: 'https://evil.example/cb' });
    assert.equal(mismatch.status, 400, `${v} redirect mismatch`);
    assert.equal(mismatch.headers.get('location'), null);
    assert.match(mismatch.text, /data-error="redirect_mismatch"/);
    const auto = await authorizeGet(a.prefix, a.path, a.params);
    assert.equal(auto.status, 302, `${v} autoApprove`);
    assert.ok(loc(auto).searchParams.get('code'));
  }
  // Salesforce, Zoho and Clio want response_type=code; a wrong one goes back as an OAuth error.
  const rt = await authorizeGet('salesforce-login', '/services/oauth2/authorize', { ...VENDOR_AUTH.salesforce.params, response_type: 'token' });
  assert.equal(loc(rt).searchParams.get('error'), 'unsupported_response_type');
  // HubSpot requires scope.
  assert.equal((await authorizeGet('hubspot', '/oauth/authorize', { client_id: 'hubspot-client', redirect_uri: CB })).status, 400);
});

test('consent page: the user who clicks Allow (the login select, login_hint, or the admin current user) owns the tokens', async () => {
  await t.admin('POST', '/users', { vendor: 'hubspot', users: [{ name: 'Ada Lovelace', email: 'ada@example.com' }, { name: 'Alan Turing', email: 'alan@example.com' }] });
  await t.admin('POST', '/config', { autoApprove: false });
  const page = await authorizeGet('hubspot', '/oauth/authorize', { ...VENDOR_AUTH.hubspot.params, login_hint: 'alan@example.com' });
  assert.match(page.text, /<option value="alan@example.com" selected>/);
  const allow = await submitConsent(page, 'allow', 'ada@example.com');
  const code = loc(allow).searchParams.get('code');
  const tok = await t.call('hubspot', 'POST', '/oauth/v1/token', { auth: false, form: { grant_type: 'authorization_code', client_id: 'hubspot-client', client_secret: 'hubspot-secret', redirect_uri: CB, code } });
  assert.equal(tok.status, 200, tok.text);
  const info = await t.call('hubspot', 'GET', `/oauth/v1/access-tokens/${tok.body.access_token}`, { auth: false });
  assert.equal(info.body.user, 'ada@example.com');
  // autoApprove signs in as the admin-set current user.
  await t.admin('POST', '/config', { autoApprove: true });
  await t.admin('POST', '/users/current', { vendor: 'hubspot', user: 'alan@example.com' });
  const code2 = await codeVia('hubspot', '/oauth/authorize', VENDOR_AUTH.hubspot.params);
  const tok2 = await t.call('hubspot', 'POST', '/oauth/v1/token', { auth: false, form: { grant_type: 'authorization_code', client_id: 'hubspot-client', client_secret: 'hubspot-secret', redirect_uri: CB, code: code2 } });
  const info2 = await t.call('hubspot', 'GET', `/oauth/v1/access-tokens/${tok2.body.access_token}`, { auth: false });
  assert.equal(info2.body.user, 'alan@example.com');
  // An inactive user cannot sign in.
  await t.admin('POST', '/users', { vendor: 'hubspot', users: [{ name: 'Gone', email: 'gone@example.com', active: false }] });
  const gone = await authorizeGet('hubspot', '/oauth/authorize', { ...VENDOR_AUTH.hubspot.params, login_hint: 'gone@example.com' });
  assert.equal(gone.status, 400);
});

// ---------- HubSpot ----------
const hsToken = (form) => t.call('hubspot', 'POST', '/oauth/v1/token', { auth: false, form });

test('HubSpot: code and refresh grants need client_id AND client_secret in the body; redirect_uri must match; PKCE checked on top of the secret', async () => {
  const code = await codeVia('hubspot', '/oauth/authorize', VENDOR_AUTH.hubspot.params);
  const base = { grant_type: 'authorization_code', client_id: 'hubspot-client', redirect_uri: CB, code };
  const noSecret = await hsToken(base);
  assert.equal(noSecret.status, 400);
  assert.equal(noSecret.body.status, 'BAD_CLIENT_SECRET');
  assert.equal((await hsToken({ ...base, client_secret: 'wrong' })).body.status, 'BAD_CLIENT_SECRET');
  assert.equal((await hsToken({ ...base, client_id: 'nobody', client_secret: 'hubspot-secret' })).body.status, 'BAD_CLIENT_ID');
  assert.equal((await hsToken({ ...base, client_secret: 'hubspot-secret', redirect_uri: 'https://other.example/cb' })).body.status, 'BAD_REDIRECT_URI');
  // A Basic header is not how HubSpot takes the secret.
  const viaBasic = await t.call('hubspot', 'POST', '/oauth/v1/token', { auth: false, headers: basic('hubspot-client', 'hubspot-secret'), form: base });
  assert.equal(viaBasic.body.status, 'BAD_CLIENT_SECRET');
  const ok = await hsToken({ ...base, client_secret: 'hubspot-secret' });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.token_type, 'bearer');
  assert.equal(ok.body.expires_in, 1800);
  assert.ok(ok.body.refresh_token);
  assert.equal((await hsToken({ ...base, client_secret: 'hubspot-secret' })).body.status, 'BAD_AUTH_CODE', 'codes are one-shot');

  const { verifier, challenge } = pkce();
  const pcode = await codeVia('hubspot', '/oauth/authorize', { ...VENDOR_AUTH.hubspot.params, code_challenge: challenge, code_challenge_method: 'S256' });
  const pbase = { grant_type: 'authorization_code', client_id: 'hubspot-client', redirect_uri: CB, code: pcode };
  assert.equal((await hsToken({ ...pbase, code_verifier: verifier })).body.status, 'BAD_CLIENT_SECRET', 'a verifier does not replace the secret');
  assert.equal((await hsToken({ ...pbase, client_secret: 'hubspot-secret' })).body.status, 'BAD_AUTH_CODE', 'the verifier is required once a challenge was sent');
  assert.equal((await hsToken({ ...pbase, client_secret: 'hubspot-secret', code_verifier: verifier })).status, 200);

  const refreshNoSecret = await hsToken({ grant_type: 'refresh_token', client_id: 'hubspot-client', refresh_token: ok.body.refresh_token });
  assert.equal(refreshNoSecret.body.status, 'BAD_CLIENT_SECRET');
});

test('HubSpot: refresh tokens do not rotate (the same one comes back and keeps working); DELETE refresh-tokens revokes it but not the access tokens', async () => {
  const r1 = await hsToken({ grant_type: 'refresh_token', client_id: 'hubspot-client', client_secret: 'hubspot-secret', refresh_token: 'hubspot-refresh' });
  assert.equal(r1.status, 200);
  assert.equal(r1.body.refresh_token, 'hubspot-refresh');
  const r2 = await hsToken({ grant_type: 'refresh_token', client_id: 'hubspot-client', client_secret: 'hubspot-secret', refresh_token: 'hubspot-refresh' });
  assert.equal(r2.status, 200, 'the old refresh token still works');
  const meta = await t.call('hubspot', 'GET', '/oauth/v1/refresh-tokens/hubspot-refresh', { auth: false });
  assert.equal(meta.body.token_type, 'refresh');
  assert.equal(meta.body.client_id, 'hubspot-client');
  const del = await t.call('hubspot', 'DELETE', '/oauth/v1/refresh-tokens/hubspot-refresh', { auth: false });
  assert.equal(del.status, 204);
  assert.equal((await hsToken({ grant_type: 'refresh_token', client_id: 'hubspot-client', client_secret: 'hubspot-secret', refresh_token: 'hubspot-refresh' })).body.status, 'BAD_REFRESH_TOKEN');
  assert.equal((await t.call('hubspot', 'GET', '/crm/v3/objects/contacts', { auth: false, headers: bearer(r2.body.access_token) })).status, 200, 'access tokens from it still work');
  assert.equal((await t.call('hubspot', 'DELETE', '/oauth/v1/refresh-tokens/hubspot-refresh', { auth: false })).status, 404);
  // The rotation switch makes HubSpot rotate (for testing a client's bookkeeping).
  await t.admin('POST', '/tokens', { vendor: 'hubspot', refresh_token: 'rt-x' });
  await t.admin('POST', '/config', { refreshRotation: { hubspot: 'rotate-invalidate' } });
  const rot = await hsToken({ grant_type: 'refresh_token', client_id: 'hubspot-client', client_secret: 'hubspot-secret', refresh_token: 'rt-x' });
  assert.notEqual(rot.body.refresh_token, 'rt-x');
  assert.equal((await hsToken({ grant_type: 'refresh_token', client_id: 'hubspot-client', client_secret: 'hubspot-secret', refresh_token: 'rt-x' })).body.status, 'BAD_REFRESH_TOKEN');
});

test('HubSpot: access-token metadata names the user; owners list/filter by email/lookup by userId; hubspot_owner_id must be an owner', async () => {
  const seeded = await t.admin('POST', '/users', { vendor: 'hubspot', users: [{ name: 'Ada Lovelace', email: 'ada@example.com' }, { name: 'Old Timer', email: 'old@example.com', active: false }] });
  const [ada, old] = seeded.body.users;
  await t.admin('POST', '/tokens', { vendor: 'hubspot', access_token: 'ada-token', user: 'ada@example.com', scopes: ['oauth', 'crm.objects.contacts.write'] });
  const info = await t.call('hubspot', 'GET', '/oauth/v1/access-tokens/ada-token', { auth: false });
  assert.equal(info.status, 200);
  assert.equal(info.body.user, 'ada@example.com');
  assert.equal(info.body.user_id, ada.userId);
  assert.equal(info.body.hub_id, 1234567);
  assert.deepEqual(info.body.scopes, ['oauth', 'crm.objects.contacts.write']);
  assert.equal((await t.call('hubspot', 'GET', '/oauth/v1/access-tokens/nope', { auth: false })).status, 404);

  const all = await t.call('hubspot', 'GET', '/crm/v3/owners');
  assert.equal(all.body.results.length, 2, 'active owners only');
  const byEmail = await t.call('hubspot', 'GET', '/crm/v3/owners/?email=ADA@example.com');
  assert.equal(byEmail.body.results.length, 1);
  assert.equal(byEmail.body.results[0].id, ada.id);
  assert.equal(byEmail.body.results[0].userId, ada.userId);
  assert.equal((await t.call('hubspot', 'GET', `/crm/v3/owners/${ada.userId}?idProperty=userId`)).body.id, ada.id);
  assert.equal((await t.call('hubspot', 'GET', `/crm/v3/owners/${old.id}`)).status, 404);
  assert.equal((await t.call('hubspot', 'GET', `/crm/v3/owners/${old.id}?archived=true`)).body.archived, true);

  const call = (props) => t.call('hubspot', 'POST', '/crm/v3/objects/calls', { auth: false, headers: bearer('ada-token'), body: { properties: { hs_timestamp: '2024-05-01T10:00:00Z', hs_call_body: 'b', ...props } } });
  for (const bad of ['999', old.id]) {
    const r = await call({ hubspot_owner_id: bad });
    assert.equal(r.status, 400, `owner ${bad}`);
    assert.equal(r.body.category, 'VALIDATION_ERROR');
    assert.equal(r.body.errors[0].code, 'INVALID_OWNER_ID');
  }
  const given = await call({ hubspot_owner_id: ada.id });
  assert.equal(given.status, 201);
  const none = await call({});
  assert.equal(none.status, 201);
  assert.equal(none.body.properties.hubspot_owner_id, undefined, 'HubSpot assigns no owner by itself');
  const recs = (await t.admin('GET', '/records?vendor=hubspot&collection=calls')).body.records;
  assert.equal(recs.find((r) => r.id === given.body.id).owner.email, 'ada@example.com');
  const n = recs.find((r) => r.id === none.body.id);
  assert.equal(n.owner, null);
  assert.equal(n.createdBy.email, 'ada@example.com');
  // contacts and notes too, and on update.
  assert.equal((await t.call('hubspot', 'POST', '/crm/v3/objects/contacts', { body: { properties: { firstname: 'X', hubspot_owner_id: '42' } } })).status, 400);
  const c = await t.call('hubspot', 'POST', '/crm/v3/objects/contacts', { body: { properties: { firstname: 'X' } } });
  assert.equal((await t.call('hubspot', 'PATCH', `/crm/v3/objects/contacts/${c.body.id}`, { body: { properties: { hubspot_owner_id: '42' } } })).status, 400);
});

// ---------- Pipedrive ----------
const pdToken = (form, headers = basic('pipedrive-client', 'pipedrive-secret')) => t.call('pipedrive', 'POST', '/oauth/token', { auth: false, headers, form });

test('Pipedrive: /oauth/token takes HTTP Basic client credentials (the body pair as documented fallback); errors as documented; the code lives 5 minutes', async () => {
  const code = await codeVia('pipedrive', '/oauth/authorize', VENDOR_AUTH.pipedrive.params);
  const form = { grant_type: 'authorization_code', code, redirect_uri: CB };
  const none = await pdToken(form, {});
  assert.equal(none.status, 400);
  assert.equal(none.body.error, 'invalid_client');
  assert.equal(none.body.message, 'Invalid client: cannot retrieve client credentials');
  const idOnly = await pdToken({ ...form, client_id: 'pipedrive-client' }, {});
  assert.equal(idOnly.body.message, 'Invalid client: cannot retrieve client credentials');
  assert.equal((await pdToken(form, basic('pipedrive-client', 'wrong'))).body.message, 'Invalid client: client is invalid');
  assert.equal((await pdToken({ ...form, redirect_uri: 'https://other.example/cb' })).body.message, 'Invalid request: `redirect_uri` is invalid');
  assert.equal((await pdToken({ grant_type: 'authorization_code', code })).body.message, 'Invalid request: `redirect_uri` is not a valid URI');
  assert.equal((await pdToken({ ...form, grant_type: 'password' })).body.message, 'Unsupported grant type: `grant_type` is invalid');
  const json = await t.call('pipedrive', 'POST', '/oauth/token', { auth: false, headers: basic('pipedrive-client', 'pipedrive-secret'), body: form });
  assert.match(json.body.message, /content must be `application\/x-www-form-urlencoded`/);
  const ok = await pdToken(form);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.token_type, 'Bearer');
  assert.equal(ok.body.expires_in, 3599);
  assert.ok(ok.body.api_domain.endsWith('/pipedrive'));
  assert.equal((await pdToken(form)).body.message, 'Invalid grant: `authorization_code` is invalid');
  // The body pair works too ("not recommended").
  const code2 = await codeVia('pipedrive', '/oauth/authorize', VENDOR_AUTH.pipedrive.params);
  assert.equal((await pdToken({ grant_type: 'authorization_code', code: code2, redirect_uri: CB, client_id: 'pipedrive-client', client_secret: 'pipedrive-secret' }, {})).status, 200);
  // Expiry.
  await t.admin('POST', '/config', { codeTtl: 0.05 });
  const code3 = await codeVia('pipedrive', '/oauth/authorize', VENDOR_AUTH.pipedrive.params);
  await sleep(120);
  assert.equal((await pdToken({ grant_type: 'authorization_code', code: code3, redirect_uri: CB })).body.message, 'Invalid grant: `authorization_code` has expired');
});

test('Pipedrive: the refresh answer carries the same refresh token, which keeps working; revoke an access token (refresh survives) or the refresh token (everything goes)', async () => {
  const code = await codeVia('pipedrive', '/oauth/authorize', VENDOR_AUTH.pipedrive.params);
  const tok = (await pdToken({ grant_type: 'authorization_code', code, redirect_uri: CB })).body;
  const r1 = await pdToken({ grant_type: 'refresh_token', refresh_token: tok.refresh_token });
  assert.equal(r1.status, 200);
  assert.equal(r1.body.refresh_token, tok.refresh_token, 'the same refresh token comes back');
  assert.equal((await pdToken({ grant_type: 'refresh_token', refresh_token: tok.refresh_token })).status, 200, 'and keeps working');
  assert.equal((await pdToken({ grant_type: 'refresh_token', refresh_token: tok.refresh_token }, {})).body.error, 'invalid_client', 'refresh needs the client too');

  const revoke = (form, headers = basic('pipedrive-client', 'pipedrive-secret')) => t.call('pipedrive', 'POST', '/oauth/revoke', { auth: false, headers, form });
  assert.equal((await revoke({ token: r1.body.access_token }, {})).status, 401, 'revoke needs Basic auth');
  assert.equal((await revoke({ token: r1.body.access_token, token_type_hint: 'access_token' })).status, 200);
  assert.equal((await t.call('pipedrive', 'GET', '/v1/users/me', { auth: false, headers: bearer(r1.body.access_token) })).status, 401);
  assert.equal((await t.call('pipedrive', 'GET', '/v1/users/me', { auth: false, headers: bearer(tok.access_token) })).status, 200, 'other access tokens live on');
  const r2 = await pdToken({ grant_type: 'refresh_token', refresh_token: tok.refresh_token });
  assert.equal(r2.status, 200, 'the refresh token survived');
  assert.equal((await revoke({ token: tok.refresh_token })).status, 200);
  assert.equal((await pdToken({ grant_type: 'refresh_token', refresh_token: tok.refresh_token })).body.message, 'Invalid grant: `refresh_token` is invalid');
  for (const at of [tok.access_token, r2.body.access_token]) assert.equal((await t.call('pipedrive', 'GET', '/v1/users/me', { auth: false, headers: bearer(at) })).status, 401, 'all OAuth data removed');
  assert.equal((await revoke({ token: 'never-issued' })).status, 200, 'RFC 7009: unknown tokens answer 200');
});

test('Pipedrive: /v1/users/me is the consenting user; owner_id / user_id must be a user; records default to the token user', async () => {
  const made = (await t.admin('POST', '/users', { vendor: 'pipedrive', users: [{ name: 'Grace Hopper', email: 'grace@example.com' }, { name: 'Ex Employee', email: 'ex@example.com', active: false }] })).body.users;
  const grace = made[0];
  const code = await codeVia('pipedrive', '/oauth/authorize', { ...VENDOR_AUTH.pipedrive.params, login_hint: 'grace@example.com' });
  const at = (await pdToken({ grant_type: 'authorization_code', code, redirect_uri: CB })).body.access_token;
  const me = await t.call('pipedrive', 'GET', '/v1/users/me', { auth: false, headers: bearer(at) });
  assert.equal(me.body.data.id, Number(grace.id));
  assert.equal(me.body.data.email, 'grace@example.com');
  assert.equal(me.body.data.is_you, true);
  assert.ok(me.body.data.company_domain);
  const list = await t.call('pipedrive', 'GET', '/v1/users', { auth: false, headers: bearer(at) });
  assert.equal(list.body.data.length, 3);
  assert.equal((await t.call('pipedrive', 'GET', '/v1/users/find?term=grace@&search_by_email=1')).body.data[0].id, Number(grace.id));
  assert.equal((await t.call('pipedrive', 'GET', '/v1/users/999')).status, 404);

  const h = { auth: false, headers: bearer(at) };
  const p = await t.call('pipedrive', 'POST', '/api/v2/persons', { ...h, body: { name: 'Caller' } });
  assert.equal(p.body.data.owner_id, Number(grace.id), 'owner defaults to the token user');
  assert.equal((await t.call('pipedrive', 'POST', '/api/v2/persons', { ...h, body: { name: 'X', owner_id: 999 } })).status, 400);
  assert.equal((await t.call('pipedrive', 'POST', '/api/v2/activities', { ...h, body: { type: 'call', owner_id: Number(made[1].id) } })).status, 400, 'inactive user');
  const act = await t.call('pipedrive', 'POST', '/api/v2/activities', { ...h, body: { type: 'call', person_id: p.body.data.id } });
  assert.equal(act.body.data.owner_id, Number(grace.id));
  assert.equal(act.body.data.creator_user_id, Number(grace.id));
  const logBody = { to_phone_number: '+15551230000', outcome: 'connected', start_time: '2024-05-01 10:00:00', end_time: '2024-05-01 10:01:00' };
  const badLog = await t.call('pipedrive', 'POST', '/v1/callLogs', { ...h, body: { ...logBody, user_id: 999 } });
  assert.equal(badLog.status, 404);
  assert.equal(badLog.body.error, 'User not found');
  const log = await t.call('pipedrive', 'POST', '/v1/callLogs', { ...h, body: logBody });
  assert.equal(log.body.data.user_id, Number(grace.id));
  assert.equal((await t.call('pipedrive', 'POST', '/v1/notes', { ...h, body: { content: 'n', person_id: p.body.data.id, user_id: 999 } })).status, 404);
  const recs = (await t.admin('GET', '/records?vendor=pipedrive&collection=callLogs')).body.records;
  assert.equal(recs[0].owner.email, 'grace@example.com');
});

// ---------- Salesforce ----------
const sfToken = (prefix, form, headers = {}) => t.call(prefix, 'POST', '/services/oauth2/token', { auth: false, headers, form });
const SF = VENDOR_AUTH.salesforce.params;

test('Salesforce: login.salesforce.com takes the secret in the body or a Basic header; wrong/missing secret, unknown client, redirect mismatch, PKCE errors as documented', async () => {
  const exchange = async (extra = {}, headers = {}, params = SF, prefix = 'salesforce-login') => {
    const code = await codeVia(prefix, '/services/oauth2/authorize', params);
    return sfToken(prefix, { grant_type: 'authorization_code', client_id: 'salesforce-client', redirect_uri: CB, code, ...extra }, headers);
  };
  const ok = await exchange({ client_secret: 'salesforce-secret' });
  assert.equal(ok.status, 200, ok.text);
  assert.ok(ok.body.instance_url.endsWith('/salesforce'), ok.body.instance_url);
  assert.match(ok.body.id, /\/salesforce-login\/id\/00D\w{15}\/005\w{15}$/);
  assert.equal(ok.body.token_type, 'Bearer');
  assert.equal(ok.body.expires_in, undefined);
  assert.ok(ok.body.refresh_token && ok.body.signature && ok.body.issued_at);
  assert.equal((await exchange({}, basic('salesforce-client', 'salesforce-secret'))).status, 200, 'Basic works too');
  const noSecret = await exchange();
  assert.deepEqual(noSecret.body, { error: 'invalid_client', error_description: 'invalid client credentials' });
  assert.equal((await exchange({ client_secret: 'wrong' })).body.error, 'invalid_client');
  assert.equal((await exchange({ client_secret: 'salesforce-secret', client_id: 'nobody' })).body.error, 'invalid_client_id');
  assert.equal((await exchange({ client_secret: 'salesforce-secret', redirect_uri: 'https://other.example/cb' })).body.error, 'redirect_uri_mismatch');
  // No refresh token unless the scopes allow one.
  const noRefresh = await exchange({ client_secret: 'salesforce-secret' }, {}, { ...SF, scope: 'api' });
  assert.equal(noRefresh.body.refresh_token, undefined);

  // A public app (Require Secret for Web Server Flow off) proves itself with PKCE.
  await t.admin('POST', '/oauth/clients', { vendor: 'salesforce', client_id: 'public-app', client_secret: 'unused', require_secret: false, require_pkce: true });
  const { verifier, challenge } = pkce();
  const noChallenge = await authorizeGet('salesforce-login', '/services/oauth2/authorize', { ...SF, client_id: 'public-app' });
  assert.equal(loc(noChallenge).searchParams.get('error'), 'invalid_request', 'Require PKCE: no challenge, no code');
  const pcode = await codeVia('salesforce-login', '/services/oauth2/authorize', { ...SF, client_id: 'public-app', code_challenge: challenge, code_challenge_method: 'S256' });
  const pform = { grant_type: 'authorization_code', client_id: 'public-app', redirect_uri: CB, code: pcode };
  assert.deepEqual((await sfToken('salesforce-login', pform)).body, { error: 'invalid_grant', error_description: 'invalid code verifier' });
  assert.equal((await sfToken('salesforce-login', { ...pform, code_verifier: 'w'.repeat(50) })).body.error, 'invalid_request');
  const pub = await sfToken('salesforce-login', { ...pform, code_verifier: verifier });
  assert.equal(pub.status, 200, pub.text);
  // ... and refreshes without a secret when "Require Secret for Refresh Token Flow" is off too.
  assert.equal((await sfToken('salesforce-login', { grant_type: 'refresh_token', client_id: 'public-app', refresh_token: pub.body.refresh_token })).status, 200);
  assert.equal((await sfToken('salesforce-login', { grant_type: 'refresh_token', client_id: 'salesforce-client', refresh_token: 'salesforce-refresh' })).body.error, 'invalid_client', 'the default app still wants its secret');
});

test('Salesforce: no rotation by default (no refresh_token in the answer, the old one keeps working); with Refresh Token Rotation the old one is refused and its reuse revokes the current grant', async () => {
  const form = { grant_type: 'refresh_token', client_id: 'salesforce-client', client_secret: 'salesforce-secret', refresh_token: 'salesforce-refresh' };
  const r1 = await sfToken('salesforce', form);
  assert.equal(r1.status, 200);
  assert.equal(r1.body.refresh_token, undefined);
  assert.equal((await sfToken('salesforce', form)).status, 200);

  await t.admin('POST', '/oauth/clients', { vendor: 'salesforce', client_id: 'rtr-app', client_secret: 'rtr-secret', refresh_token_rotation: true });
  const code = await codeVia('salesforce-login', '/services/oauth2/authorize', { ...SF, client_id: 'rtr-app' });
  const first = (await sfToken('salesforce-login', { grant_type: 'authorization_code', client_id: 'rtr-app', client_secret: 'rtr-secret', redirect_uri: CB, code })).body;
  const rform = (rt) => ({ grant_type: 'refresh_token', client_id: 'rtr-app', client_secret: 'rtr-secret', refresh_token: rt });
  const second = await sfToken('salesforce-login', rform(first.refresh_token));
  assert.equal(second.status, 200);
  assert.ok(second.body.refresh_token && second.body.refresh_token !== first.refresh_token, 'a new refresh token');
  const data = (at) => t.call('salesforce', 'GET', '/services/data/v60.0/limits', { auth: false, headers: bearer(at) });
  assert.equal((await data(second.body.access_token)).status, 200);
  const reuse = await sfToken('salesforce-login', rform(first.refresh_token));
  assert.deepEqual(reuse.body, { error: 'invalid_grant', error_description: 'expired access/refresh token' });
  assert.equal((await sfToken('salesforce-login', rform(second.body.refresh_token))).body.error, 'invalid_grant', 'reuse revoked the current refresh token');
  assert.equal((await data(second.body.access_token)).status, 401, '... and its access tokens');
  // The org-wide admin switch does the same for every app.
  await t.admin('POST', '/config', { refreshRotation: { salesforce: 'rotate-invalidate' } });
  const a = await sfToken('salesforce', form);
  assert.ok(a.body.refresh_token);
  assert.equal((await sfToken('salesforce', form)).body.error, 'invalid_grant');
});

test('Salesforce: revoke, userinfo and the identity URL', async () => {
  const made = (await t.admin('POST', '/users', { vendor: 'salesforce', users: [{ name: 'Marie Curie', email: 'marie@example.com' }] })).body.users[0];
  const code = await codeVia('salesforce-login', '/services/oauth2/authorize', { ...SF, login_hint: 'marie@example.com' });
  const tok = (await sfToken('salesforce-login', { grant_type: 'authorization_code', client_id: 'salesforce-client', client_secret: 'salesforce-secret', redirect_uri: CB, code })).body;
  const ui = await t.call('salesforce-login', 'GET', '/services/oauth2/userinfo', { auth: false, headers: bearer(tok.access_token) });
  assert.equal(ui.status, 200);
  assert.equal(ui.body.user_id, made.id);
  assert.equal(ui.body.email, 'marie@example.com');
  assert.equal(ui.body.sub, tok.id);
  assert.ok(ui.body.organization_id.startsWith('00D'));
  const id = await fetch(tok.id, { headers: bearer(tok.access_token) }).then((r) => r.json());
  assert.equal(id.user_id, made.id);
  assert.equal(id.asserted_user, true);
  assert.ok(id.urls.rest.includes('/salesforce/services/data/'));
  assert.equal((await t.call('salesforce', 'GET', '/services/oauth2/userinfo', { auth: false, headers: bearer('nope') })).text, 'Bad_OAuth_Token');
  const other = tok.id.replace(/\/id\/00D\w+\//, '/id/00D8d0000000009AAA/');
  assert.equal((await fetch(other, { headers: bearer(tok.access_token) })).status, 403);

  const revoke = (token) => t.call('salesforce-login', 'POST', '/services/oauth2/revoke', { auth: false, form: { token } });
  assert.equal((await revoke('never-issued')).status, 400);
  const second = (await sfToken('salesforce-login', { grant_type: 'refresh_token', client_id: 'salesforce-client', client_secret: 'salesforce-secret', refresh_token: tok.refresh_token })).body;
  assert.equal((await revoke(tok.refresh_token)).status, 200);
  for (const at of [tok.access_token, second.access_token]) {
    const r = await t.call('salesforce', 'GET', '/services/data/v60.0/limits', { auth: false, headers: bearer(at) });
    assert.equal(r.status, 401);
    assert.equal(r.body[0].errorCode, 'INVALID_SESSION_ID');
  }
  assert.equal((await sfToken('salesforce-login', { grant_type: 'refresh_token', client_id: 'salesforce-client', client_secret: 'salesforce-secret', refresh_token: tok.refresh_token })).body.error, 'invalid_grant');
});

test('Salesforce: sandbox (test.salesforce.com) and production are separate orgs; My Domain hosts serve their org and become instance_url', async () => {
  const sbCode = await codeVia('salesforce-test', '/services/oauth2/authorize', SF);
  const wrongHost = await sfToken('salesforce-login', { grant_type: 'authorization_code', client_id: 'salesforce-client', client_secret: 'salesforce-secret', redirect_uri: CB, code: sbCode });
  assert.equal(wrongHost.body.error, 'invalid_grant', 'a sandbox code means nothing to login.salesforce.com');
  const sb = (await sfToken('salesforce-test', { grant_type: 'authorization_code', client_id: 'salesforce-client', client_secret: 'salesforce-secret', redirect_uri: CB, code: sbCode })).body;
  assert.ok(sb.instance_url.endsWith('/salesforce-sandbox'), sb.instance_url);
  assert.match(sb.id, /\/salesforce-test\/id\//);
  const limits = (prefix, at) => t.call(prefix, 'GET', '/services/data/v60.0/limits', { auth: false, headers: bearer(at) });
  assert.equal((await limits('salesforce-sandbox', sb.access_token)).status, 200);
  assert.equal((await limits('salesforce', sb.access_token)).status, 401, 'a sandbox token is refused by production');
  assert.equal((await limits('salesforce-sandbox', 'salesforce-token')).status, 401, 'a production token is refused by the sandbox');
  assert.equal((await t.call('salesforce-login', 'GET', '/services/data/v60.0/limits', { auth: false, headers: bearer('salesforce-token') })).status, 404, 'the login host serves no data API');

  const mdCode = await codeVia('salesforce-mydomain/acme', '/services/oauth2/authorize', SF);
  const md = (await sfToken('salesforce-mydomain/acme', { grant_type: 'authorization_code', client_id: 'salesforce-client', client_secret: 'salesforce-secret', redirect_uri: CB, code: mdCode })).body;
  assert.ok(md.instance_url.endsWith('/salesforce-mydomain/acme'), md.instance_url);
  assert.equal((await limits('salesforce-mydomain/acme', md.access_token)).status, 200);
  assert.equal((await limits('salesforce', md.access_token)).status, 200, 'the same org as /salesforce');
  assert.equal((await limits('salesforce-mydomain/acme--uat', md.access_token)).status, 401, 'a --name My Domain is a sandbox');
  assert.equal((await limits('salesforce-mydomain/acme--uat', 'salesforce-sandbox-token')).status, 200);
});

test('Salesforce: OwnerId must be an active User of the org; without one the record belongs to the session user', async () => {
  const made = (await t.admin('POST', '/users', { vendor: 'salesforce', users: [{ name: 'Marie Curie', email: 'marie@example.com' }, { name: 'Left', email: 'left@example.com', active: false }] })).body.users;
  await t.admin('POST', '/tokens', { vendor: 'salesforce', access_token: 'marie-token', user: 'marie@example.com' });
  const task = (fields) => t.call('salesforce', 'POST', '/services/data/v60.0/sobjects/Task', { auth: false, headers: bearer('marie-token'), body: { Subject: 'Call', ...fields } });
  const unknown = await task({ OwnerId: '005000000000000AAA' });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body[0].errorCode, 'INVALID_CROSS_REFERENCE_KEY');
  assert.equal((await task({ OwnerId: '003000000000000AAA' })).body[0].errorCode, 'FIELD_INTEGRITY_EXCEPTION');
  assert.equal((await task({ OwnerId: made[1].id })).body[0].errorCode, 'INACTIVE_OWNER_OR_USER');
  assert.equal((await task({ OwnerId: 'bad' })).body[0].errorCode, 'MALFORMED_ID');
  const mine = await task({});
  const read = await t.call('salesforce', 'GET', `/services/data/v60.0/sobjects/Task/${mine.body.id}?fields=OwnerId,CreatedById`);
  assert.equal(read.body.OwnerId, made[0].id);
  assert.equal(read.body.CreatedById, made[0].id);
  const theirs = await task({ OwnerId: (await t.admin('GET', '/users?vendor=salesforce')).body.default });
  assert.equal(theirs.status, 201);
  assert.equal((await t.call('salesforce', 'POST', '/services/data/v60.0/sobjects/Contact', { body: { LastName: 'X', OwnerId: '005000000000000AAA' } })).status, 400);
  const rec = (await t.admin('GET', '/records?vendor=salesforce&collection=Task')).body.records.find((r) => r.id === mine.body.id);
  assert.equal(rec.owner.email, 'marie@example.com');
});

// ---------- Zoho ----------
const ZP = VENDOR_AUTH.zoho.params;
const zToken = (prefix, params) => t.call(prefix, 'POST', `/oauth/v2/token?${qs(params)}`, { auth: false });
const zcode = (prefix, extra = {}) => codeVia(prefix, '/oauth/v2/auth', { ...ZP, ...extra });
const zExchange = (prefix, code, extra = {}) => zToken(prefix, { grant_type: 'authorization_code', client_id: 'zoho-client', client_secret: 'zoho-secret', redirect_uri: CB, code, ...extra });
const zAuth = (tok) => ({ authorization: `Zoho-oauthtoken ${tok}` });

test('Zoho: every data centre has its accounts server and api_domain; the redirect names location and accounts-server; tokens work only in their own DC', async () => {
  const dcs = ['us', 'eu', 'in', 'au', 'jp', 'ca', 'cn', 'sa'];
  const info = await t.call('zoho-accounts', 'GET', '/oauth/serverinfo', { auth: false });
  assert.deepEqual(Object.keys(info.body.locations).sort(), [...dcs].sort());
  for (const dc of dcs) {
    const accounts = dc === 'us' ? 'zoho-accounts' : `zoho-accounts-${dc}`;
    const api = dc === 'us' ? 'zoho' : `zoho-${dc}`;
    const r = await authorizeGet(accounts, '/oauth/v2/auth', ZP);
    const u = loc(r);
    assert.equal(u.searchParams.get('location'), dc);
    assert.ok(u.searchParams.get('accounts-server').endsWith(`/${accounts}`));
    assert.equal(info.body.locations[dc], u.searchParams.get('accounts-server'));
    const tok = await zExchange(accounts, u.searchParams.get('code'));
    assert.equal(tok.status, 200);
    assert.ok(tok.body.api_domain.endsWith(`/${api}`), `${dc}: ${tok.body.api_domain}`);
    assert.ok(tok.body.refresh_token);
    const me = await t.call(api, 'GET', '/crm/v8/users?type=CurrentUser', { auth: false, headers: zAuth(tok.body.access_token) });
    assert.equal(me.status, 200, `${dc} CurrentUser`);
    const elsewhere = dc === 'eu' ? 'zoho' : 'zoho-eu';
    const refused = await t.call(elsewhere, 'GET', '/crm/v8/users?type=CurrentUser', { auth: false, headers: zAuth(tok.body.access_token) });
    assert.equal(refused.status, 401, `${dc} token refused by ${elsewhere}`);
    assert.equal(refused.body.code, 'INVALID_TOKEN');
  }
  // API hosts serve no OAuth, accounts hosts no CRM API.
  assert.equal((await t.call('zoho-eu', 'POST', '/oauth/v2/token', { auth: false })).status, 404);
  assert.equal((await t.call('zoho-accounts-eu', 'GET', '/crm/v8/users', { auth: false, headers: zAuth('zoho-eu-token') })).status, 404);
  assert.equal((await t.call('zoho-eu', 'GET', '/crm/v8/users?type=CurrentUser', { auth: false, headers: zAuth('zoho-eu-token') })).status, 200);
});

test('Zoho: a user of another DC signing in at accounts.zoho.com is sent back with that DC; its code only redeems at that DC', async () => {
  await t.admin('POST', '/users', { vendor: 'zoho-eu', users: [{ name: 'Hans Euro', email: 'hans@example.eu' }] });
  const r = await authorizeGet('zoho-accounts', '/oauth/v2/auth', { ...ZP, login_hint: 'hans@example.eu' });
  const u = loc(r);
  assert.equal(u.searchParams.get('location'), 'eu');
  assert.ok(u.searchParams.get('accounts-server').endsWith('/zoho-accounts-eu'));
  const code = u.searchParams.get('code');
  const wrong = await zExchange('zoho-accounts', code);
  assert.equal(wrong.status, 200, 'Zoho answers token errors with 200');
  assert.equal(wrong.body.error, 'invalid_code');
  const ok = await zExchange('zoho-accounts-eu', code);
  assert.ok(ok.body.api_domain.endsWith('/zoho-eu'));
  const me = await t.call('zoho-eu', 'GET', '/crm/v8/users?type=CurrentUser', { auth: false, headers: zAuth(ok.body.access_token) });
  assert.equal(me.body.users[0].email, 'hans@example.eu');
});

test('Zoho: client_secret and redirect_uri are required; access_type=offline gives a refresh token only the first time unless prompt=consent; refresh tokens never rotate; revoke', async () => {
  const code = await zcode('zoho-accounts');
  assert.equal((await zToken('zoho-accounts', { grant_type: 'authorization_code', client_id: 'zoho-client', redirect_uri: CB, code })).body.error, 'invalid_client_secret');
  assert.equal((await zExchange('zoho-accounts', code, { client_secret: 'nope' })).body.error, 'invalid_client_secret');
  assert.equal((await zExchange('zoho-accounts', code, { client_id: 'nobody' })).body.error, 'invalid_client');
  assert.equal((await zExchange('zoho-accounts', code, { redirect_uri: 'https://other.example/cb' })).body.error, 'invalid_redirect_uri');
  const first = (await zExchange('zoho-accounts', code)).body;
  assert.ok(first.refresh_token, 'offline: a refresh token the first time');
  const again = (await zExchange('zoho-accounts', await zcode('zoho-accounts'))).body;
  assert.equal(again.refresh_token, undefined, 'not a second time');
  assert.ok((await zExchange('zoho-accounts', await zcode('zoho-accounts', { prompt: 'consent' }))).body.refresh_token, 'prompt=consent gives another');
  assert.equal((await zExchange('zoho-accounts', await zcode('zoho-accounts', { access_type: 'online' }))).body.refresh_token, undefined, 'online: none');
  // Form body works as well as the query.
  const form = await t.call('zoho-accounts', 'POST', '/oauth/v2/token', { auth: false, form: { grant_type: 'refresh_token', client_id: 'zoho-client', client_secret: 'zoho-secret', refresh_token: first.refresh_token } });
  assert.equal(form.status, 200);
  assert.equal(form.body.refresh_token, undefined, 'no rotation');
  assert.ok(form.body.api_domain.endsWith('/zoho'));
  const r2 = (await zToken('zoho-accounts', { grant_type: 'refresh_token', client_id: 'zoho-client', client_secret: 'zoho-secret', refresh_token: first.refresh_token })).body;
  assert.ok(r2.access_token, 'the same refresh token keeps working');
  assert.equal((await zToken('zoho-accounts', { grant_type: 'refresh_token', client_id: 'zoho-client', refresh_token: first.refresh_token })).body.error, 'invalid_client_secret');

  const revoke = (token) => t.call('zoho-accounts', 'POST', `/oauth/v2/token/revoke?token=${encodeURIComponent(token)}`, { auth: false });
  assert.equal((await revoke('never-issued')).status, 400);
  const rv = await revoke(first.refresh_token);
  assert.deepEqual(rv.body, { status: 'success' });
  for (const at of [first.access_token, form.body.access_token, r2.access_token]) assert.equal((await t.call('zoho', 'GET', '/crm/v8/users?type=CurrentUser', { auth: false, headers: zAuth(at) })).status, 401);
  assert.equal((await zToken('zoho-accounts', { grant_type: 'refresh_token', client_id: 'zoho-client', client_secret: 'zoho-secret', refresh_token: first.refresh_token })).body.error, 'invalid_code');
});

test('Zoho: one refresh token mints at most 10 access tokens in 10 minutes', async () => {
  await t.admin('POST', '/config', { zohoRefreshLimit: 3 });
  const form = { grant_type: 'refresh_token', client_id: 'zoho-client', client_secret: 'zoho-secret', refresh_token: 'zoho-refresh' };
  for (let i = 0; i < 3; i++) assert.ok((await zToken('zoho', form)).body.access_token);
  const over = await zToken('zoho', form);
  assert.equal(over.status, 400);
  assert.equal(over.body.error, 'Access Denied');
});

test('Zoho: users API (CurrentUser, ActiveUsers); Owner must be an active user; records default to the token user', async () => {
  const made = (await t.admin('POST', '/users', { vendor: 'zoho', users: [{ name: 'Ana Zoho', email: 'ana@example.com' }, { name: 'Off Line', email: 'off@example.com', active: false }] })).body.users;
  await t.admin('POST', '/tokens', { vendor: 'zoho', access_token: 'ana-token', user: 'ana@example.com' });
  const h = { auth: false, headers: zAuth('ana-token') };
  const me = await t.call('zoho', 'GET', '/crm/v8/users?type=CurrentUser', h);
  assert.equal(me.body.users[0].id, made[0].id);
  assert.equal(me.body.users[0].status, 'active');
  assert.equal((await t.call('zoho', 'GET', '/crm/v8/users?type=ActiveUsers', h)).body.users.length, 2);
  assert.equal((await t.call('zoho', 'GET', '/crm/v8/users?type=DeactiveUsers', h)).body.users[0].email, 'off@example.com');
  assert.equal((await t.call('zoho', 'GET', '/crm/v8/users?type=Nope', h)).status, 400);

  const call = (extra) => t.call('zoho', 'POST', '/crm/v8/Calls', { ...h, body: { data: [{ Subject: 'Call', Call_Type: 'Inbound', Call_Start_Time: '2024-05-01T10:00:00+00:00', Call_Duration: '01:00', ...extra }] } });
  const unknown = await call({ Owner: { id: '5843104000000999999' } });
  assert.equal(unknown.status, 400);
  assert.deepEqual(unknown.body.data[0], { code: 'INVALID_DATA', details: { api_name: 'Owner', json_path: '$.data[0].Owner' }, message: 'invalid data', status: 'error' });
  const inactive = await call({ Owner: { id: made[1].id } });
  assert.equal(inactive.body.data[0].details.user_status, 'inactive');
  const mine = await call({});
  assert.equal(mine.status, 201);
  assert.equal(mine.body.data[0].details.Created_By.id, made[0].id);
  const rec = await t.call('zoho', 'GET', `/crm/v8/Calls/${mine.body.data[0].details.id}`, h);
  assert.equal(rec.body.data[0].Owner.id, made[0].id);
  assert.equal(rec.body.data[0].Owner.email, 'ana@example.com');
  const given = await call({ Owner: { id: (await t.admin('GET', '/users?vendor=zoho')).body.default } });
  assert.equal(given.status, 201);
  const recs = (await t.admin('GET', '/records?vendor=zoho&collection=Calls')).body.records;
  assert.equal(recs.find((r) => r.id === mine.body.data[0].details.id).owner.email, 'ana@example.com');
  assert.equal(recs.find((r) => r.id === given.body.data[0].details.id).owner.email, 'rep@example.com');
});

// ---------- Clio ----------
const CP = VENDOR_AUTH.clio.params;
const clioToken = (prefix, form, headers = {}) => t.call(prefix, 'POST', '/oauth/token', { auth: false, headers, form });

test('Clio: client_id and client_secret in the body; refresh answers no refresh token and the old one stays reusable; deauthorize ends the grant', async () => {
  const code = await codeVia('clio', '/oauth/authorize', CP);
  const form = { grant_type: 'authorization_code', client_id: 'clio-client', redirect_uri: CB, code };
  const viaBasic = await clioToken('clio', form, basic('clio-client', 'clio-secret'));
  assert.equal(viaBasic.body.error, 'invalid_client', 'Clio takes the secret in the body');
  assert.equal((await clioToken('clio', { ...form, client_secret: 'clio-secret', redirect_uri: 'https://other.example/cb' })).body.error, 'invalid_grant');
  const tok = await clioToken('clio', { ...form, client_secret: 'clio-secret' });
  assert.equal(tok.status, 200, tok.text);
  assert.equal(tok.body.expires_in, 2592000);
  const rform = { grant_type: 'refresh_token', client_id: 'clio-client', client_secret: 'clio-secret', refresh_token: tok.body.refresh_token };
  const r1 = await clioToken('clio', rform);
  assert.equal(r1.status, 200);
  assert.equal(r1.body.refresh_token, undefined);
  assert.equal((await clioToken('clio', rform)).status, 200, 'refresh tokens are reusable');

  assert.equal((await t.call('clio', 'POST', '/oauth/deauthorize', { auth: false })).status, 401, 'deauthorize needs the Bearer token');
  const d = await t.call('clio', 'POST', '/oauth/deauthorize', { auth: false, headers: bearer(tok.body.access_token) });
  assert.equal(d.status, 200);
  for (const at of [tok.body.access_token, r1.body.access_token]) assert.equal((await t.call('clio', 'GET', '/api/v4/users/who_am_i.json', { auth: false, headers: bearer(at) })).status, 401);
  assert.equal((await clioToken('clio', rform)).body.error, 'invalid_grant');
});

test('Clio: regions are separate (a token from one is refused by another); who_am_i is the consenting user; User participants must exist', async () => {
  const made = (await t.admin('POST', '/users', { vendor: 'clio-eu', users: [{ name: 'Eva Europa', email: 'eva@example.eu' }] })).body.users[0];
  await t.admin('POST', '/config', { autoApprove: false });
  const page = await authorizeGet('clio-eu', '/oauth/authorize', CP);
  assert.match(page.text, /Allow Access/);
  const allow = await submitConsent(page, 'allow', 'eva@example.eu');
  const code = loc(allow).searchParams.get('code');
  assert.equal((await clioToken('clio', { grant_type: 'authorization_code', client_id: 'clio-client', client_secret: 'clio-secret', redirect_uri: CB, code })).body.error, 'invalid_grant', 'a code from EU means nothing to US');
  const tok = (await clioToken('clio-eu', { grant_type: 'authorization_code', client_id: 'clio-client', client_secret: 'clio-secret', redirect_uri: CB, code })).body;
  const who = await t.call('clio-eu', 'GET', '/api/v4/users/who_am_i.json?fields=id,name,email,enabled', { auth: false, headers: bearer(tok.access_token) });
  assert.deepEqual(who.body.data, { id: Number(made.id), name: 'Eva Europa', email: 'eva@example.eu', enabled: true });
  assert.deepEqual(Object.keys((await t.call('clio-eu', 'GET', '/api/v4/users/who_am_i.json', { auth: false, headers: bearer(tok.access_token) })).body.data).sort(), ['etag', 'id']);
  assert.equal((await t.call('clio', 'GET', '/api/v4/users/who_am_i.json', { auth: false, headers: bearer(tok.access_token) })).status, 401, 'refused by the US region');
  assert.equal((await t.call('clio-au', 'GET', '/api/v4/contacts.json', { auth: false, headers: bearer('clio-token') })).status, 401, 'the US default token is refused in AU');
  assert.equal((await t.call('clio-au', 'GET', '/api/v4/contacts.json', { auth: false, headers: bearer('clio-au-token') })).status, 200);

  const h = { auth: false, headers: bearer(tok.access_token) };
  const contact = (await t.call('clio-eu', 'POST', '/api/v4/contacts.json', { ...h, body: { data: { type: 'Person', name: 'Caller One' } } })).body.data.id;
  const comm = (receivers) => t.call('clio-eu', 'POST', '/api/v4/communications.json?fields=id,user,receivers', { ...h, body: { data: { type: 'PhoneCommunication', subject: 'Call', body: 'b', received_at: '2024-05-01T10:00:00Z', senders: [{ id: contact, type: 'Contact' }], receivers } } });
  const bad = await comm([{ id: 345678901, type: 'User' }]);
  assert.equal(bad.status, 422, 'the US default user is no user of the EU account');
  assert.equal(bad.body.error.type, 'UnprocessableEntity');
  const ok = await comm([{ id: Number(made.id), type: 'User' }]);
  assert.equal(ok.status, 201);
  assert.deepEqual(ok.body.data.user, { id: Number(made.id) });
  const list = await t.call('clio-eu', 'GET', '/api/v4/users.json?fields=id,email', h);
  assert.equal(list.body.data.length, 2);
  const rec = (await t.admin('GET', '/records?vendor=clio-eu&collection=communications')).body.records[0];
  assert.equal(rec.owner.email, 'eva@example.eu');
});

// ---------- admin ----------
test('admin: users per realm, current user, tokens bound to a user, unknown users refused', async () => {
  const r = await t.admin('POST', '/users', { vendor: 'salesforce-sandbox', users: [{ name: 'Sandy Box', email: 'sandy@example.com' }], current: 'sandy@example.com' });
  assert.equal(r.status, 200);
  assert.equal(r.body.current.email, 'sandy@example.com');
  assert.match(r.body.users[0].id, /^005\w{15}$/);
  const got = await t.admin('GET', '/users?vendor=salesforce-sandbox');
  assert.equal(got.body.users.length, 2);
  assert.equal((await t.admin('POST', '/tokens', { vendor: 'zoho', access_token: 'x', user: 'nobody@example.com' })).status, 400);
  assert.equal((await t.admin('POST', '/users', { vendor: 'zoho', users: [{ name: 'Dup', email: 'rep@example.com' }] })).status, 400, 'emails are unique per realm');
  // Deactivating a user (PATCH /_admin/users/{id or email}) makes it unusable as an owner.
  const hsUser = (await t.admin('POST', '/users', { vendor: 'hubspot', users: [{ name: 'Temp', email: 'temp@example.com' }] })).body.users[0];
  assert.equal((await t.admin('PATCH', '/users/temp@example.com', { vendor: 'hubspot', active: false })).body.user.active, false);
  const r2 = await t.call('hubspot', 'POST', '/crm/v3/objects/notes', { body: { properties: { hs_timestamp: '2024-05-01T10:00:00Z', hs_note_body: 'n', hubspot_owner_id: hsUser.id } } });
  assert.equal(r2.status, 400);
  const h = await t.admin('GET', '/health');
  assert.equal(h.body.prefixes['zoho-accounts-eu'].realm, 'zoho-eu');
  assert.equal(h.body.prefixes['salesforce-test'].role, 'auth');
  // Reset brings back one default user per realm.
  await t.admin('POST', '/reset');
  assert.equal((await t.admin('GET', '/users?vendor=salesforce-sandbox')).body.users.length, 1);
});
