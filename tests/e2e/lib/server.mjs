// Calltrail's server for the browser tests and benchmarks: PostgreSQL (scripts/postgres.sh, a
// cluster in target/<dir>, a fresh database per world), the CRM emulator and the server binary
// as child processes killed on exit, an admin client and signed generic events.
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createHmac } from 'node:crypto';
import path from 'node:path';
import { ROOT } from '../../../www/world/browser.mjs';

export const ADMIN = 'admin-token-for-browser-tests-0123';
export const SECRET = 'generic-secret-for-browser-tests-0123';
const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });
// Stopped from outside (Ctrl-C, a timeout): exit, so the handler above stops the children.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

/** Starts `cmd` and resolves with its JSON ready line and the child. */
export function startReady(cmd, args, env = {}) {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', process.env.CALLTRAIL_TEST_LOGS ? 'inherit' : 'ignore'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (l) => { try { const v = JSON.parse(l); if (v.ready) resolve({ ...v, child }); } catch { /* a log line */ } });
    child.on('exit', (code) => reject(new Error(`${cmd} exited (${code}) before it was ready`)));
  });
}

/** The server binary: `CALLTRAIL_SERVER_BIN`, or a debug build made now (quick when fresh). */
export function serverBinary() {
  if (process.env.CALLTRAIL_SERVER_BIN) return process.env.CALLTRAIL_SERVER_BIN;
  execFileSync('cargo', ['build', '-q', '-p', 'calltrail-server'], { cwd: ROOT, stdio: 'inherit' });
  return path.join(ROOT, 'target', 'debug', 'calltrail-server');
}

/** A fresh database on the cluster in target/`dir`; its URL. */
export function freshDatabase(dir, name) {
  const out = execFileSync('bash', [path.join(ROOT, 'scripts/postgres.sh'), 'start', path.join(ROOT, 'target', dir)], { encoding: 'utf8' });
  const url = /export DATABASE_URL=(\S+)/.exec(out)?.[1];
  if (!url) throw new Error(`postgres.sh printed no DATABASE_URL: ${out}`);
  const base = url.replace(/\/[^/]*$/, '');
  const db = `${name}_${process.pid}_${Date.now()}`;
  execFileSync('psql', [`${base}/postgres`, '-qc', `CREATE DATABASE ${db}`]);
  return `${base}/${db}`;
}

export async function call(method, url, body, headers = {}) {
  const r = await fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)) });
  const t = await r.text();
  if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${t}`);
  try { return JSON.parse(t); } catch { return t; }
}

/**
 * A world: the CRM emulator and one server on a fresh database. `admin(method, path, body)`
 * calls the admin API; `event(user, call)` posts a signed generic `call.ended`.
 */
export async function serverWorld({ dir = 'pg-e2e', name = 'e2e', env = {} } = {}) {
  const bin = serverBinary();
  const databaseUrl = freshDatabase(dir, name);
  const crm = await startReady('node', ['www/crm-emulator/server.mjs', '--port', '0', '--seed', '7']);
  const crmUrl = `http://127.0.0.1:${crm.port}`;
  const server = await startReady(bin, [], {
    DATABASE_URL: databaseUrl, CALLTRAIL_LISTEN: '127.0.0.1:0', CALLTRAIL_SEAL_KEY: '03'.repeat(32), CALLTRAIL_ADMIN_TOKEN: ADMIN,
    CALLTRAIL_LOG: 'warn', CALLTRAIL_POOL_SIZE: '8', ...env,
  });
  const url = `http://127.0.0.1:${server.port}`;
  const auth = { authorization: `Bearer ${ADMIN}` };
  const admin = (method, p, body) => call(method, `${url}${p}`, body, auth);
  const event = (account, user, c) => {
    const body = JSON.stringify({ calltrail: 1, event: 'call.ended', user, call: c });
    const ts = Math.floor(Date.now() / 1000);
    const sig = 'sha256=' + createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex');
    return call('POST', `${url}/webhooks/generic/${account}`, body, { 'x-calltrail-timestamp': String(ts), 'x-calltrail-signature': sig });
  };
  const close = () => { server.child.kill('SIGKILL'); crm.child.kill('SIGKILL'); };
  return { url, crmUrl, databaseUrl, admin, event, close };
}

/** Settings for a rep with one HubSpot integration on the emulator. */
export function hubspotSettings(crmUrl, rule = 'last_modified') {
  return { default_country: 'US', integrations: [{ id: 'hs', kind: 'hubspot', label: 'HubSpot', base_url: `${crmUrl}/hubspot`, auth: { type: 'api_token' }, conflict_rule: { rule } }] };
}

/** Polls `f` until it returns a truthy value, at most `ms`. */
export async function eventually(what, f, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}
