// A whole world for end-to-end tests and the demo: the CRM emulator, the demo softphone and its
// host page (on two origins), and Chromium with the extension, configured to log into the
// emulator. Everything is local (127.0.0.1) and started by the test itself.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT, launchWithExtension, sendFromExtensionPage, grantAsTheRep } from './browser.mjs';

/** Starts `node <script> <args>` and resolves with the JSON ready line it prints. */
export function startProcess(script, args = []) {
  const child = spawn(process.execPath, [path.join(ROOT, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (chunk) => {
      buf += chunk;
      const line = buf.split('\n').find((l) => l.trim().startsWith('{') && l.includes('"ready"'));
      if (line) {
        child.stdout.off('data', onData);
        child.stdout.resume(); // keep draining so the child never blocks on a full pipe
        resolve({ child, info: JSON.parse(line), stop: () => stop(child) });
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
    child.once('error', reject);
  });
}

function stop(child) {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

/** The emulator's admin API. */
export class Emulator {
  /** `apiHost`: the host name the extension is given for the CRMs' APIs (the emulator listens on
   *  127.0.0.1; `localhost` reaches it too, as a different site for the browser's permissions). */
  constructor(port, { apiHost = '127.0.0.1' } = {}) {
    this.base = `http://127.0.0.1:${port}`;
    this.apiBase = `http://${apiHost}:${port}`;
  }
  url(vendor) {
    return `${this.apiBase}/${vendor}`;
  }
  async admin(method, p, body) {
    const res = await fetch(`${this.base}/_admin/${p}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`emulator ${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
  seed(vendor, contacts) {
    return this.admin('POST', 'seed', { vendor, contacts });
  }
  fault(spec) {
    return this.admin('POST', 'faults', spec);
  }
  clearFaults() {
    return this.admin('DELETE', 'faults');
  }
  /** Call logs whose record contains `marker`: `{count, byVendor: {vendor: n}, records}`. */
  calls(marker) {
    return this.#counted('calls', marker);
  }
  messages(marker) {
    return this.#counted('messages', marker);
  }
  contacts(marker) {
    return this.#counted('contacts', marker);
  }
  async #counted(kind, marker) {
    const r = await this.admin('GET', `${kind}${marker ? `?marker=${encodeURIComponent(marker)}` : ''}`);
    const byVendor = Object.fromEntries(Object.entries(r.byVendor).map(([v, recs]) => [v, recs.length]).filter(([, n]) => n > 0));
    return { count: r.count, byVendor, records: r.byVendor };
  }
  records(query) {
    return this.admin('GET', `records?${new URLSearchParams(query)}`);
  }
  stats(query = {}) {
    return this.admin('GET', `stats?${new URLSearchParams(query)}`);
  }
}

/**
 * Starts everything. `integrations` are settings entries without base_url (filled with the
 * emulator's); every integration gets the emulator's default token for its vendor.
 */
export async function startWorld({ integrations, settings = {}, headless = true, extensionDir, apiHost } = {}) {
  const emulatorProc = await startProcess('www/crm-emulator/server.mjs', ['--port', '0']);
  const www = await startProcess('www/serve.mjs', ['--softphone-port', '0', '--host-port', '0']);
  const emulator = new Emulator(emulatorProc.info.port, { apiHost });
  const browser = await launchWithExtension({ headless, ...(extensionDir ? { extensionDir } : {}) });
  const send = (m) => sendFromExtensionPage(browser.context, m);
  const world = {
    emulator,
    browser,
    send,
    softphoneOrigin: www.info.softphoneOrigin,
    hostOrigin: www.info.hostOrigin,
    hostPage: null,
    /**
     * Configures the extension as a rep does: the settings document (the demo softphone's host
     * page among the softphone pages, every integration pointed at the emulator), an API token
     * per integration, then access to this machine's sites granted as the rep grants it (the
     * emulator's API and the host page are both http://127.0.0.1 unless `apiHost` said
     * otherwise). `grant`: `true` every site the extension asks for, `'pages'` or `'apis'` only
     * those, `false` none (the test grants them).
     */
    async configure(extra = {}, { grant = true } = {}) {
      const doc = {
        softphone_origins: [www.info.softphoneOrigin],
        softphone_pages: [www.info.hostOrigin],
        default_country: 'US',
        integrations: (integrations || []).map((i) => ({ base_url: emulator.url(i.kind), ...i })),
        ...settings,
        ...extra,
      };
      const r = await send({ type: 'import-settings', json: JSON.stringify(doc) });
      if (!r.ok) throw new Error(`settings refused: ${r.error}`);
      for (const i of doc.integrations) {
        if (i.auth?.type === 'oauth') continue; // connected through the OAuth flow instead
        const c = await send({ type: 'set-credentials', integration: i.id, token: `${i.kind}-token` });
        if (!c.ok) throw new Error(`credentials refused: ${c.error}`);
      }
      if (grant) {
        const { wanted } = (await send({ type: 'state' })).data;
        const origins = [
          ...(grant === 'apis' ? [] : wanted.pages),
          ...(grant === 'pages' ? [] : wanted.integrations.flatMap((i) => i.patterns)),
          ...(grant === 'pages' || !wanted.server ? [] : [wanted.server]),
        ];
        if (origins.length) await world.grant([...new Set(origins)]);
      }
      return doc;
    },
    /** Grants `origins` as the rep does, then waits until the worker acted on it. */
    async grant(origins) {
      const granted = await grantAsTheRep(browser.context, origins);
      if (!granted) throw new Error(`the permission request for ${origins} was not granted`);
      await world.settled();
    },
    /**
     * Waits until the worker is in step with the browser: every integration's access reported
     * as the browser has it, and the bridge registered on exactly the granted softphone pages.
     */
    async settled() {
      await eventually(async () => {
        const st = await send({ type: 'state' });
        if (!st.ok) return false;
        const registered = await browser.worker.evaluate(async () => (await chrome.scripting.getRegisteredContentScripts()).flatMap((s) => s.matches));
        for (const i of st.data.integrations) {
          const has = await browser.worker.evaluate((o) => chrome.permissions.contains({ origins: o }), i.access.patterns);
          if (i.access.granted !== has) return false;
        }
        for (const p of st.data.wanted.pages) {
          const has = await browser.worker.evaluate((o) => chrome.permissions.contains({ origins: [o] }), p);
          if (has !== registered.includes(p)) return false;
        }
        return true;
      }, { what: 'the worker to act on the browser\'s grants' });
    },
    /**
     * Opens the host page embedding the demo softphone; `protocol` picks one of its vendor
     * protocols (www/softphone/protocols.js) instead of RingCentral Embeddable's.
     */
    async openSoftphone({ protocol } = {}) {
      const page = await browser.context.newPage();
      const url = `${www.info.softphoneOrigin}/${protocol ? `?protocol=${protocol}` : ''}`;
      await page.goto(`${www.info.hostOrigin}/?softphone=${encodeURIComponent(url)}`);
      if (protocol) {
        await page.frameLocator('#rc-widget-adapter-frame').locator(`#protocol:text-is("${protocol}")`).waitFor({ timeout: 15_000 });
      } else {
        await page.waitForFunction(() => window.calltrailHost && window.calltrailHost.messages.some((m) => m.data?.type === 'rc-login-status-notify'), null, { timeout: 15_000 });
      }
      world.hostPage = page;
      return page;
    },
    /** Sends a command to the softphone through the host page, as a CRM page would. */
    async softphone(cmd) {
      await world.hostPage.evaluate((c) => window.calltrailHost.send(c), cmd);
    },
    async close() {
      await browser.close().catch(() => {});
      await Promise.all([emulatorProc.stop(), www.stop()]);
    },
  };
  return world;
}

/** Polls `fn` until it returns a truthy value or `ms` pass. */
export async function eventually(fn, { ms = 15_000, every = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
