// Helpers for tests and the demo that play calls through the demo softphone and read back what
// the extension and the CRM emulator made of them. The call id is read from what the softphone
// itself posted (never from the extension's ledger), so a call the extension lost is still
// known to the test.
import { eventually } from './world.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The engine's id for the softphone's latest call: `rc:<telephony session id>`. */
export async function latestCallId(world, sinceIndex = 0) {
  return eventually(async () => {
    const sid = await world.hostPage.evaluate((from) => {
      const ms = window.calltrailHost.messages.slice(from);
      for (let i = ms.length - 1; i >= 0; i--) {
        const d = ms[i].data;
        if (d && d.type === 'rc-call-ring-notify' && d.call && d.call.partyData) return d.call.partyData.sessionId;
      }
      return null;
    }, sinceIndex);
    return sid ? `rc:${sid}` : null;
  }, { ms: 5000, every: 20, what: 'the softphone to post rc-call-ring-notify' });
}

/** How many messages the host page has seen so far (to find the next call's). */
export function messageCount(world) {
  return world.hostPage.evaluate(() => window.calltrailHost.messages.length);
}

/** The other party calls and the rep answers; resolves with the call id. */
export async function answerCall(world, number) {
  const from = await messageCount(world);
  await world.softphone({ type: 'calltrail-demo-incoming-call', phoneNumber: number });
  const id = await latestCallId(world, from);
  await world.softphone({ type: 'calltrail-demo-answer' });
  return id;
}

export async function hangUp(world) {
  await world.softphone({ type: 'calltrail-demo-hangup' });
}

/** A whole answered call of `talkMs`; `during(id)` runs while it is up. */
export async function call(world, number, { talkMs = 200, during } = {}) {
  const id = await answerCall(world, number);
  if (during) await during(id);
  await sleep(talkMs);
  await hangUp(world);
  return id;
}

/** The call's view (`call` intent): `{ call, notes_opened, slots }`. */
export async function callView(world, id) {
  const r = await world.send({ type: 'call', call: id });
  if (!r.ok) throw new Error(`call view of ${id}: ${r.error}`);
  return r.data;
}

/** `{ integration: status }` for one call. */
export async function statuses(world, id) {
  const v = await callView(world, id);
  return Object.fromEntries(v.slots.map((s) => [s.integration, s.status]));
}

/** Waits until every listed integration shows the wanted status for the call. */
export function waitStatuses(world, id, want, opts = {}) {
  return eventually(async () => {
    const got = await statuses(world, id);
    return Object.entries(want).every(([k, v]) => got[k] === v) ? got : null;
  }, { what: `call ${id} to be ${JSON.stringify(want)}`, ...opts });
}

/** The marker prefix of every record Calltrail creates for a call. */
export const callMarker = (id) => `calltrail:call|${id}|`;

/** Call logs in the emulator for one call, counted by vendor. */
export async function logsOf(world, id) {
  return (await world.emulator.calls(callMarker(id))).byVendor;
}

export async function engineInput(world, input) {
  return world.send({ type: 'engine', input });
}

/** A Contact as the engine takes it in `contacts_picked`. */
export function contact(id, name, { type = 'Contact', phones = [] } = {}) {
  return { id: String(id), name, record_type: type, phones, created_at: null, modified_at: null, url: null };
}

/** The text of an emulator record, whatever the vendor names its fields. */
export const recordText = (r) => JSON.stringify(r.record);

/** Creates the worker's wake alarm to fire at `when` (epoch ms), from inside the worker. */
export async function setWakeAlarm(worker, when) {
  await worker.evaluate((w) => chrome.alarms.create('calltrail-wake', { when: w }), when);
}

/** Quiet hours off: tests must not depend on the hour they run at in New York. */
export const NO_QUIET_HOURS = {
  period_mins: 60,
  lookback_mins: 240,
  quiet_start_hour: 0,
  quiet_end_hour: 0,
  quiet_time_zone: 'America/New_York',
  catch_up_max_hours: 24,
};

/**
 * Stops the extension's service worker through CDP (ServiceWorker.stopAllWorkers) while a page
 * may be waking it again at once (a softphone posting events). Resolves once the instance that
 * was running is gone: no worker target, or a worker answering with another instance id. (The
 * CDP target id survives a restart, and browser.mjs's stopServiceWorker waits for no worker at
 * all, which a busy page may never give.) Returns whether a new instance was already running.
 */
export async function stopWorkerInstance(context, worker, extensionId) {
  const page = await workerControlPage(context, extensionId);
  const cdp = await context.newCDPSession(page);
  const instance = () => Promise.race([
    worker.evaluate(() => self.__calltrail && self.__calltrail.instance).catch(() => null),
    sleep(1000).then(() => null),
  ]);
  const alive = async () => (await cdp.send('Target.getTargets')).targetInfos
    .some((t) => t.type === 'service_worker' && t.url.includes(extensionId));
  try {
    const before = await instance();
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
    const started = Date.now();
    for (;;) {
      if (!(await alive())) return false;
      if (Date.now() - started > 150) {
        const now = await instance();
        if (now && now !== before) return true;
      }
      if (Date.now() - started > 10_000) throw new Error('service worker still running 10 s after stopAllWorkers');
      await sleep(20);
    }
  } finally {
    await cdp.detach().catch(() => {});
  }
}

const controlPages = new WeakMap();
async function workerControlPage(context, extensionId) {
  let page = controlPages.get(context);
  if (!page || page.isClosed()) {
    page = await context.newPage();
    await page.goto(`chrome-extension://${extensionId}/manifest.json`);
    controlPages.set(context, page);
  }
  return page;
}
