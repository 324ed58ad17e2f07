#!/usr/bin/env node
// CRM emulator: `node www/crm-emulator/server.mjs --port 8790` (127.0.0.1 only; --port 0 picks a free
// port). Prints one JSON line {"ready":true,"port":N,...} on stdout when listening.
// Also importable: `import { startEmulator } from './server.mjs'` for in-process tests.

import { Emulator, VENDORS, REALM_KEYS } from './lib/core.mjs';
import { pathToFileURL } from 'node:url';

export { Emulator, VENDORS, REALM_KEYS };

export async function startEmulator({ port = 0 } = {}) {
  const emu = new Emulator();
  await emu.listen(port);
  return emu;
}

function parseArgs(argv) {
  const out = { port: 8790 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') out.port = Number(argv[++i]);
    else if (a.startsWith('--port=')) out.port = Number(a.slice(7));
    else if (a === '--seed') out.seed = Number(argv[++i]);
    else if (a === '--help' || a === '-h') out.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) throw new Error('--port must be 0..65535');
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  let args;
  try { args = parseArgs(process.argv.slice(2)); } catch (e) { console.error(e.message); process.exit(2); }
  if (args.help) { console.log('usage: node www/crm-emulator/server.mjs [--port N] [--seed N]   (see www/crm-emulator/README.md)'); process.exit(0); }
  const emu = new Emulator();
  if (args.seed !== undefined) { emu.config.seed = args.seed; emu.faults.seed(args.seed); }
  try {
    await emu.listen(args.port);
  } catch (e) {
    console.error(`cannot listen on 127.0.0.1:${args.port}: ${e.message}`);
    process.exit(1);
  }
  const bases = Object.fromEntries(VENDORS.map((v) => [v, emu.baseUrl(v)]));
  const realms = Object.fromEntries(REALM_KEYS.map((v) => [v, emu.baseUrl(v)]));
  process.stdout.write(JSON.stringify({ ready: true, port: emu.port, pid: process.pid, baseUrls: bases, realms }) + '\n');
  const stop = async () => { await emu.close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
