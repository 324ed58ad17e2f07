// Launching Debian's Chromium with the built extension, and the service-worker helpers the
// browser tests and the demo share. playwright-core only: never a downloaded browser.
import { chromium } from 'playwright-core';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = path.join(ROOT, 'dist');
/**
 * The workplace's shared/ folder (vendor specs, softphone fixtures): CALLTRAIL_SHARED when set,
 * else shared/ beside the repository (X/<clone> + X/shared), else /work/shared, so a clone
 * anywhere on the machine finds it (the Rust tests look in the same places).
 */
export const SHARED = process.env.CALLTRAIL_SHARED
  || [path.join(ROOT, '..', 'shared'), '/work/shared'].find((d) => existsSync(path.join(d, 'specs')))
  || path.join(ROOT, '..', 'shared');
/** Fixed by the manifest's `key`, whatever the checkout path. */
export const EXTENSION_ID = 'bicpcknbbpfahcmagcjbcgmfjdgbeppn';

export const CHROMIUM_ARGS = [
  '--no-sandbox', // as root Chromium refuses to start without it
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking', // the machine's network is closed: keep Chromium off it
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

/**
 * Starts Chromium with dist/ loaded, unmodified, and waits for the extension's service worker.
 * The profile has Chrome's developer mode on, as every profile that loads an unpacked extension
 * does (without it Chrome disables an unpacked extension that reloads itself).
 * @returns {Promise<{context: import('playwright-core').BrowserContext, worker: import('playwright-core').Worker, close: () => Promise<void>}>}
 */
export async function launchWithExtension({ headless = true, extensionDir = DIST, userDataDir = null } = {}) {
  const ownProfile = !userDataDir;
  userDataDir ||= await mkdtemp(path.join(tmpdir(), 'calltrail-chromium-'));
  if (ownProfile) {
    await mkdir(path.join(userDataDir, 'Default'), { recursive: true });
    await writeFile(path.join(userDataDir, 'Default', 'Preferences'), JSON.stringify({ extensions: { ui: { developer_mode: true } } }));
  }
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless,
    viewport: { width: 1280, height: 800 },
    args: [...CHROMIUM_ARGS, `--disable-extensions-except=${extensionDir}`, `--load-extension=${extensionDir}`],
  });
  let [worker] = context.serviceWorkers();
  if (!worker) worker = await context.waitForEvent('serviceworker', { timeout: 15_000 });
  if (!worker.url().startsWith(`chrome-extension://${EXTENSION_ID}/`)) {
    throw new Error(`unexpected service worker ${worker.url()}: is the manifest key intact?`);
  }
  return {
    context,
    worker,
    userDataDir,
    close: async ({ keepProfile = false } = {}) => {
      await context.close();
      if (!keepProfile) await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * THE ONE STAND-IN FOR A HUMAN IN THESE TESTS: the rep's click on "Allow" in Chrome's
 * permission prompt, which no test can reach (the prompt is browser UI, and headless Chromium
 * leaves it unanswered for ever). Chrome's own extensions page pre-approves the sites through
 * its `developerPrivate` API, as a rep approving them in "Site access" would; after that the
 * extension's real `chrome.permissions.request` (the Grant button, the options page's Save)
 * resolves `true` without a prompt, and `permissions.onAdded` fires as after a click. The
 * package, its manifest and the product's own request are untouched.
 */
export async function approvePermissionPrompt(context, origins) {
  const page = await context.newPage();
  try {
    await page.goto(`chrome://extensions/?id=${EXTENSION_ID}`);
    await page.evaluate(async ([id, list]) => {
      for (const o of list) await chrome.developerPrivate.addHostPermission(id, o);
    }, [EXTENSION_ID, origins]);
  } finally {
    await page.close();
  }
}

/**
 * What the rep does to give Calltrail access to `origins`: approve the prompt (the stand-in
 * above), then the product's own request, from an extension page, as the options page's Grant
 * button makes it. Resolves with what `chrome.permissions.request` answered.
 */
export async function grantAsTheRep(context, origins) {
  await approvePermissionPrompt(context, origins);
  const page = await extensionPage(context);
  return page.evaluate((list) => chrome.permissions.request({ origins: list }), origins);
}

/** Sends a runtime message from an extension page, as the options and history pages do. */
export async function sendFromExtensionPage(context, message) {
  const page = await extensionPage(context);
  return page.evaluate((m) => chrome.runtime.sendMessage(m), message);
}

let cachedPage = null;
async function extensionPage(context) {
  if (cachedPage && !cachedPage.isClosed() && cachedPage.context() === context) return cachedPage;
  cachedPage = await context.newPage();
  await cachedPage.goto(`chrome-extension://${EXTENSION_ID}/manifest.json`);
  return cachedPage;
}

/**
 * Stops the extension's service worker through CDP (ServiceWorker.stopAllWorkers) and waits
 * until its target is really gone. Playwright reports no event for this; the same Worker handle
 * evaluates in the next instance once something wakes it.
 */
export async function stopServiceWorker(context) {
  const page = await extensionPage(context);
  const cdp = await context.newCDPSession(page);
  try {
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
    const deadline = Date.now() + 10_000;
    let again = Date.now() + 1000;
    for (;;) {
      const { targetInfos } = await cdp.send('Target.getTargets');
      const alive = targetInfos.some((t) => t.type === 'service_worker' && t.url.includes(EXTENSION_ID));
      if (!alive) return;
      if (Date.now() > deadline) throw new Error('service worker still running 10 s after stopAllWorkers');
      // An event that arrived as it stopped (a page's message, an alarm) starts a new instance
      // at once: stop that one too.
      if (Date.now() > again) {
        await cdp.send('ServiceWorker.stopAllWorkers');
        again = Date.now() + 1000;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/** Pings the worker (waking it if stopped) and returns its answer. */
export async function ping(context) {
  const reply = await sendFromExtensionPage(context, { type: 'ping' });
  if (!reply || !reply.ok) throw new Error(`ping failed: ${JSON.stringify(reply)}`);
  return reply;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
