// Test helpers: start an in-process emulator on a free port, call vendors and the admin API.

import { startEmulator } from '../../www/crm-emulator/server.mjs';

export const TOKENS = {
  hubspot: { authorization: 'Bearer hubspot-token' },
  pipedrive: { 'x-api-token': 'pipedrive-token' },
  salesforce: { authorization: 'Bearer salesforce-token' },
  zoho: { authorization: 'Zoho-oauthtoken zoho-token' },
  clio: { authorization: 'Bearer clio-token' },
};

export async function boot() {
  const emu = await startEmulator({ port: 0 });
  const base = `http://127.0.0.1:${emu.port}`;
  async function call(vendor, method, path, { body, headers, auth = true, form, raw } = {}) {
    const h = { ...(auth ? TOKENS[vendor] : {}), ...(headers || {}) };
    let payload;
    if (form) { payload = new URLSearchParams(form).toString(); h['content-type'] = 'application/x-www-form-urlencoded'; }
    else if (raw !== undefined) payload = raw;
    else if (body !== undefined) { payload = JSON.stringify(body); h['content-type'] = 'application/json'; }
    const res = await fetch(`${base}/${vendor}${path}`, { method, headers: h, body: payload, redirect: 'manual' });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    return { status: res.status, headers: res.headers, body: json, text };
  }
  async function admin(method, path, body) {
    const res = await fetch(`${base}/_admin${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json() };
  }
  return { emu, base, call, admin, close: () => emu.close() };
}
