#!/usr/bin/env node
// Serves the demo softphone and the demo host page on two ports of 127.0.0.1, so the host embeds
// the softphone from a different origin, as a CRM page embeds RingCentral Embeddable.
//
//   node www/serve.mjs --softphone-port 8801 --host-port 8800
//
// Port 0 picks a free port. When both listen it prints one JSON line:
//   {"ready":true,"softphone":"http://127.0.0.1:8801/","host":"http://127.0.0.1:8800/",
//    "softphoneOrigin":"http://127.0.0.1:8801","hostOrigin":"http://127.0.0.1:8800"}
// The host server also answers GET /config.json with {"softphoneUrl": …} for the host page.
// Static files only, no dependencies, loopback only; stops on SIGINT/SIGTERM.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIND = '127.0.0.1';
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

function staticHandler(root, { csp, extra = {} }) {
  return async (req, res) => {
    const send = (status, body, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'Content-Security-Policy': csp, 'X-Content-Type-Options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      return send(400, 'bad path\n');
    }
    if (Object.hasOwn(extra, pathname)) return send(200, extra[pathname](), TYPES['.json']);
    if (pathname.endsWith('/')) pathname += 'index.html';
    const file = path.join(root, pathname);
    // Nothing outside `root`: `..`, encoded or not, ends here.
    if (file !== root && !file.startsWith(root + path.sep)) return send(403, 'forbidden\n');
    const type = TYPES[path.extname(file)];
    if (!type) return send(404, 'not found\n');
    try {
      return send(200, await readFile(file), type);
    } catch {
      return send(404, 'not found\n');
    }
  };
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, BIND, () => resolve(server.address().port));
  });
}

/**
 * Starts both servers. Resolves with their URLs and a `close()`.
 * @param {{softphonePort?: number, hostPort?: number}} options
 */
export async function startServers({ softphonePort = 8801, hostPort = 8800 } = {}) {
  let softphoneUrl = null;
  const softphone = http.createServer(
    staticHandler(path.join(HERE, 'softphone'), { csp: "default-src 'self'; object-src 'none'; base-uri 'none'" }),
  );
  const sPort = await listen(softphone, softphonePort);
  const softphoneOrigin = `http://${BIND}:${sPort}`;
  softphoneUrl = `${softphoneOrigin}/`;
  const host = http.createServer(
    staticHandler(path.join(HERE, 'host'), {
      csp: `default-src 'self'; frame-src 'self' ${softphoneOrigin}; object-src 'none'; base-uri 'none'`,
      extra: { '/config.json': () => JSON.stringify({ softphoneUrl }) },
    }),
  );
  let hPort;
  try {
    hPort = await listen(host, hostPort);
  } catch (e) {
    softphone.close();
    throw e;
  }
  const hostOrigin = `http://${BIND}:${hPort}`;
  const close = () =>
    Promise.all([softphone, host].map((s) => new Promise((r) => { s.closeAllConnections?.(); s.close(() => r()); })));
  return { softphone: softphoneUrl, host: `${hostOrigin}/`, softphoneOrigin, hostOrigin, close };
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const key = { '--softphone-port': 'softphonePort', '--host-port': 'hostPort' }[flag];
    const value = Number(argv[i + 1]);
    if (!key || !Number.isInteger(value) || value < 0 || value > 65535) {
      throw new Error(`usage: node www/serve.mjs [--softphone-port N] [--host-port N] (bad argument ${flag})`);
    }
    opts[key] = value;
    i += 1;
  }
  return opts;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    const s = await startServers(parseArgs(process.argv.slice(2)));
    const { close, ...urls } = s;
    process.stdout.write(`${JSON.stringify({ ready: true, ...urls })}\n`);
    const stop = () => close().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
