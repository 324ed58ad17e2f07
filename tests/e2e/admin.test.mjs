// The server's admin page in Chromium: signed in with the admin token, a day of calls of three
// reps (logged, unresolved, no match, a rep without credentials), the reps' refused requests on
// their rows, resolved from the page; axe finds no serious or critical violation and every
// control takes focus from the keyboard.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../../www/world/browser.mjs';
import { axe, assertKeyboardReachable, shot } from './lib/a11y.mjs';
import { serverWorld, hubspotSettings, call, eventually, ADMIN, SECRET } from './lib/server.mjs';

let world;
let browser;
let page;

const KNOWN = '+12125550101';
const TWINS = '+12125550202';
const UNKNOWN = '+13105550303';

before(async () => {
  world = await serverWorld({ name: 'admin_page' });
  await world.admin('PUT', '/admin/accounts/acme', { name: 'Acme', webhook_secret: SECRET });
  await call('POST', `${world.crmUrl}/_admin/seed`, { vendor: 'hubspot', contacts: [
    { firstName: 'Ada', lastName: 'Known', phone: KNOWN },
    { firstName: 'Twin', lastName: 'One', phone: TWINS },
    { firstName: 'Twin', lastName: 'Two', phone: TWINS },
  ] });
  for (const [rep, user, rule, token] of [['alice', 'u1', 'last_modified', true], ['bob', 'u2', 'ask', true], ['carol', 'u3', 'last_modified', false]]) {
    await world.admin('PUT', `/admin/accounts/acme/reps/${rep}`, { telephony_user: user, settings: hubspotSettings(world.crmUrl, rule) });
    if (token) await world.admin('PUT', `/admin/accounts/acme/reps/${rep}/credentials/hs`, { token: 'hubspot-token' });
  }
  const now = Date.now();
  const c = (id, from, ago) => ({ id, direction: 'inbound', from, to: '+16505550100', started_at: now - ago, answered_at: now - ago + 5000, ended_at: now - ago + 65000 });
  await world.event('acme', 'u1', c('a-1', KNOWN, 600_000));
  await world.event('acme', 'u1', c('a-2', UNKNOWN, 500_000));
  await world.event('acme', 'u2', c('b-1', TWINS, 400_000));
  await world.event('acme', 'u3', c('c-1', KNOWN, 300_000));
  // Settled: alice's known caller logged, bob's twins waiting for a person.
  await eventually('alice logged and bob unresolved', async () => {
    const a = await world.admin('GET', '/admin/accounts/acme/reps/alice/slots');
    const b = await world.admin('GET', '/admin/accounts/acme/reps/bob/unresolved');
    return a.data.some((s) => s.state === 'logged') && b.data.length === 1;
  });
  // Two requests of the reps that their engines refuse: alice asks to log her logged call by
  // hand again, bob picks a contact that is not a candidate. The admin sees both, and why.
  const day = await world.admin('GET', `/admin/accounts/acme/calls?from=${now - 3_600_000}&to=${now + 60_000}`);
  const idOf = (rep, number) => day.data.calls.find((x) => x.rep === rep && x.number === number).call;
  const queued = (await world.admin('GET', '/admin/accounts/acme/reps/bob/unresolved')).data[0];
  for (const [rep, entry] of [
    ['alice', { id: 'adm-1', at: now, what: 'manual_log', call_id: idOf('alice', KNOWN), integrations: ['hs'] }],
    ['bob', { id: 'adm-2', at: now, what: 'resolve', resolutions: [[queued.slot, { choice: 'contacts', ids: ['no-such-contact'] }]] }],
  ]) {
    const { id, token } = (await world.admin('POST', `/admin/accounts/acme/reps/${rep}/tokens`, { label: 'refusals' })).data;
    await call('POST', `${world.url}/rep/acme/${rep}/events`, { entries: [entry] }, { authorization: `Bearer ${token}` });
    await world.admin('DELETE', `/admin/accounts/acme/reps/${rep}/tokens/${id}`);
  }
  await eventually('both requests refused', async () => {
    const v = await world.admin('GET', '/admin/accounts/acme/reps/bob/unresolved');
    const d = await world.admin('GET', `/admin/accounts/acme/calls?from=${now - 3_600_000}&to=${now + 60_000}`);
    return v.data[0]?.refused && d.data.calls.some((x) => x.rep === 'alice' && x.slots[0]?.refused);
  });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  page = await browser.newPage({ acceptDownloads: true });
});

after(async () => {
  await browser?.close();
  world?.close();
});

test('the admin page refuses a wrong token and opens with the right one', async () => {
  await page.goto(`${world.url}/admin/`);
  await page.locator('#token').waitFor();
  assert.deepEqual(await axe(page), [], 'sign-in: no serious or critical axe violation');
  await assertKeyboardReachable(page);
  // Nothing but the sign-in form is served without the token.
  const bare = await fetch(`${world.url}/admin/accounts/acme/calls`);
  assert.equal(bare.status, 401);
  await page.fill('#token', 'not-the-admin-token-at-all');
  await page.click('button[type="submit"]');
  await page.getByText('the admin token was refused').waitFor();
  await page.fill('#token', ADMIN);
  await page.click('button[type="submit"]');
  await page.waitForSelector('html[data-rows]');
  assert.equal(await page.getAttribute('html', 'data-rows'), '4');
});

test('calls per rep and CRM say logged, unlogged or unresolved, and why', async () => {
  const summary = await page.locator('#summary table').innerText();
  for (const rep of ['alice', 'bob', 'carol']) assert.match(summary, new RegExp(rep));
  await page.check('input[name="show"][value="unresolved"]', { force: true });
  let text = await page.locator('#list').textContent();
  assert.match(text, /bob/);
  assert.match(text, /Choose a contact/);
  assert.match(text, /2 contacts match/);
  assert.doesNotMatch(text, /alice/);
  await page.check('input[name="show"][value="logged"]', { force: true });
  text = await page.locator('#list').textContent();
  assert.match(text, /alice/);
  assert.match(text, /Ada Known/);
  await page.check('input[name="show"][value=""]', { force: true });
  const health = await page.locator('#health-body').innerText();
  assert.match(health, /No credentials/, 'carol has no CRM credentials');
  assert.match(health, /Signed events: on/);
  await page.getByText('Log to this contact').waitFor();
  // The reps' refused requests, on the rows where the admin looks: the server's words and when.
  const aliceRefused = page.locator('#list section', { hasText: 'alice' }).locator('[data-refused="manual_log"]');
  assert.match(await aliceRefused.innerText(), /^Refused the rep's manual log: already logged \(record .+\) · \d/);
  assert.equal(await aliceRefused.locator('time').count(), 1, 'says when');
  const bobRefused = page.locator('#queue [data-refused="resolution"]');
  assert.match(await bobRefused.innerText(), /^Refused a choice for this slot: .*not among the candidates.* · \d/);
  assert.equal(await page.locator('#list [data-refused="resolution"]').count(), 1, 'and on bob\'s call');
  assert.deepEqual(await axe(page), [], 'signed in: no serious or critical axe violation');
  await assertKeyboardReachable(page);
  await shot(page, 'server-admin');
});

test('a resolution from the page reaches the rep\'s engine, and the audit exports as CSV', async () => {
  await page.click('text=Log to this contact');
  await page.getByText('The rep\'s engine will log it shortly').waitFor();
  await eventually('bob\'s call logged', async () => {
    const b = await world.admin('GET', '/admin/accounts/acme/reps/bob/slots');
    return b.data.some((s) => s.state === 'logged');
  });
  await page.click('#refresh');
  await page.waitForFunction(() => document.querySelector('#queue')?.innerText.includes('Nothing waits for a person'));
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Download CSV')]);
  const csv = await readFile(await download.path(), 'utf8');
  const lines = csv.trim().split('\r\n');
  assert.equal(lines[0], 'time,rep,trigger,integration,call,contact,outcome,record');
  assert.ok(lines.some((l) => l.includes('"bob"') && l.includes('logged')), csv);
  assert.ok(lines.length > 4);
  for (const l of lines.slice(1)) for (const cell of l.match(/"(?:[^"]|"")*"/g)) assert.doesNotMatch(cell, /^"[=+\-@\t\r]/, 'no cell starts a formula');
});

test('a rep token issued on the page opens that rep\'s endpoints until it is revoked there', async () => {
  await page.selectOption('#token-rep', 'alice');
  await page.fill('#token-label', 'laptop');
  await page.click('text=Issue a token');
  const token = await page.locator('#token-value').inputValue();
  assert.match(token, /^ctr_[0-9a-f]{16}_[0-9a-f]{64}$/);
  const whoami = (t, rep = 'alice') => fetch(`${world.url}/rep/acme/${rep}/whoami`, { headers: { authorization: `Bearer ${t}` } }).then((r) => r.status);
  assert.equal(await whoami(token), 200);
  assert.equal(await whoami(token, 'bob'), 403, 'not bob\'s');
  await page.locator('#token-list').getByText('laptop').waitFor();
  assert.deepEqual(await axe(page), [], 'with a token shown: no serious or critical axe violation');
  await page.getByRole('button', { name: /Revoke token/ }).click();
  await page.locator('#token-list').getByText('revoked').waitFor();
  assert.equal(await whoami(token), 401, 'revoked');
  const listed = await page.locator('#token-list').innerText();
  assert.ok(!listed.includes(token.slice(21)), 'the list never shows a token');
});
