// Issue 14 through the real extension: the options page offers every time zone the browser
// knows (all of them work, since the core takes their offsets from the browser's Intl), the
// conversation day defaults to the rep's own zone and quiet hours stay on the document's zone,
// a zone the browser does not know is refused naming its field, and the repeat-caller window is
// a field of the page. The offsets themselves are checked natively (tests/native/zones.rs,
// the Berlin and Sydney DST scenarios); here, that Intl is what answers in the worker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EXTENSION_ID } from '../../www/world/browser.mjs';
import { startWorld } from '../../www/world/world.mjs';
import { NO_QUIET_HOURS } from '../../www/world/calls.mjs';

const PAGES = `chrome-extension://${EXTENSION_ID}/extension/pages`;
let world;

before(async () => {
  world = await startWorld({ integrations: [{ id: 'hs', kind: 'hubspot', label: 'HubSpot' }], settings: { digest: NO_QUIET_HOURS } });
  await world.configure();
});
after(async () => { await world?.close(); });

test('options: every browser zone offered; Berlin quiet hours, Sydney days and the window saved', async () => {
  const page = await world.browser.context.newPage();
  await page.goto(`${PAGES}/options.html`);
  const quiet = page.locator('#f-digest-quiet_time_zone');
  const day = page.locator('#f-conversation_time_zone');
  await quiet.waitFor();
  const offered = await quiet.locator('option').evaluateAll((os) => os.map((o) => o.value));
  const known = await page.evaluate(() => Intl.supportedValuesOf('timeZone'));
  for (const z of ['Europe/Berlin', 'Australia/Sydney', 'America/St_Johns', 'UTC']) assert.ok(offered.includes(z), z);
  assert.deepEqual(known.filter((z) => !offered.includes(z)), [], 'every zone the browser lists is offered');
  assert.equal(await quiet.inputValue(), 'America/New_York', "quiet hours keep the document's zone");
  assert.equal(await day.inputValue(), '', "the conversation day is the rep's own zone by default");
  const own = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  assert.match(await day.locator('option[value=""]').innerText(), new RegExp(own.replace('/', '\\/')));

  await quiet.selectOption('Europe/Berlin');
  await day.selectOption('Australia/Sydney');
  await page.fill('#f-repeat_caller_window_mins', '30');
  await page.locator('#save').click();
  await page.locator('#messages').getByText('Settings saved').waitFor();
  const user = (await world.send({ type: 'settings' })).data.user;
  assert.equal(user.digest.quiet_time_zone, 'Europe/Berlin');
  assert.equal(user.conversation_time_zone, 'Australia/Sydney');
  assert.equal(user.repeat_caller_window_mins, 30);
  await page.close();
});

test('a zone the browser does not know is refused, naming the field; the settings stay', async () => {
  const before = JSON.stringify((await world.send({ type: 'export-settings' })).data);
  const doc = { ...JSON.parse(before), digest: { ...JSON.parse(before).digest, quiet_time_zone: 'Mars/Olympus_Mons' } };
  const r = await world.send({ type: 'import-settings', json: JSON.stringify(doc) });
  assert.equal(r.ok, false);
  assert.match(JSON.stringify(r), /digest\.quiet_time_zone/);
  assert.match(JSON.stringify(r), /Mars\/Olympus_Mons is not a time zone/);
  const day = { ...JSON.parse(before), conversation_time_zone: 'Atlantis/Capital' };
  const r2 = await world.send({ type: 'import-settings', json: JSON.stringify(day) });
  assert.equal(r2.ok, false);
  assert.match(JSON.stringify(r2), /conversation_time_zone/);
  assert.equal(JSON.stringify((await world.send({ type: 'export-settings' })).data), before, 'settings unchanged');
});
