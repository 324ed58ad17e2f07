#!/usr/bin/env node
// RingCentral platform emulator: `node www/ringcentral-emulator/server.mjs --port 8791`
// (127.0.0.1 only; --port 0 picks a free port). Prints one JSON line {"ready":true,"port":N,...}
// on stdout when listening; SIGTERM/SIGINT stop it with exit code 0.
// Also importable: `import { startEmulator } from './server.mjs'` for in-process tests.

import { pathToFileURL } from 'node:url';
import { Emulator } from './lib/core.mjs';

export { Emulator };

export async function startEmulator({ port = 0, seed } = {}) {
  const emu = new Emulator();
  if (seed !== undefined) { emu.config.seed = seed; emu.faults.seed(seed); }
  await emu.listen(port);
  return emu;
}

function parseArgs(argv) {
  const out = { port: 8791 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') out.port = Number(argv[++i]);
    else if (a.startsWith('--port=')) out.port = Number(a.slice(7));
    else if (a === '--seed') out.seed = Number(argv[++i]);
    else if (a.startsWith('--seed=')) out.seed = Number(a.slice(7));
    else if (a === '--help' || a === '-h') out.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) throw new Error('--port must be 0..65535');
  if (out.seed !== undefined && !Number.isInteger(out.seed)) throw new Error('--seed must be an integer');
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let args;
  try { args = parseArgs(process.argv.slice(2)); } catch (e) { console.error(e.message); process.exit(2); }
  if (args.help) {
    console.log('usage: node www/ringcentral-emulator/server.mjs [--port N] [--seed N]   (see www/ringcentral-emulator/README.md)');
    process.exit(0);
  }
  let emu;
  try {
    emu = await startEmulator({ port: args.port, seed: args.seed });
  } catch (e) {
    console.error(`cannot listen on 127.0.0.1:${args.port}: ${e.message}`);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify({ ready: true, port: emu.port, pid: process.pid, baseUrl: emu.baseUrl, adminUrl: `${emu.baseUrl}/_admin` }) + '\n');
  const stop = async () => { await emu.close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
