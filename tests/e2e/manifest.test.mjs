// Security checks on the built package (reliability.md S1-S3): least permissions, the exact CSP,
// no remote code. They read dist/, so they check what ships, not what we meant to ship.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { DIST } from '../../www/world/browser.mjs';

const manifest = JSON.parse(await readFile(path.join(DIST, 'manifest.json'), 'utf8'));

async function* files(dir) {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else yield p;
  }
}

test('S1: least permissions; every site is optional and asked for when needed', () => {
  // alarms (the digest), storage (policy, the bridge's undelivered events), identity (OAuth),
  // scripting (the bridge on the pages the rep adds), sidePanel (the softphone beside any tab).
  assert.deepEqual([...manifest.permissions].sort(), ['alarms', 'identity', 'scripting', 'sidePanel', 'storage']);
  assert.equal(manifest.host_permissions, undefined, 'no install-time host permissions');
  assert.equal(manifest.content_scripts, undefined, 'no static content script: pages are registered when the rep adds them');
  const all = JSON.stringify(manifest);
  assert.ok(!all.includes('<all_urls>'));
  for (const p of ['tabs', 'webRequest', 'cookies', 'history']) {
    assert.ok(!manifest.permissions.includes(p), `${p} is not needed`);
  }
  // Any https site may be asked for, one at a time (a rep's softphone page, a CRM's API or custom
  // domain); plain http only for this machine.
  assert.deepEqual(manifest.optional_host_permissions, ['https://*/*', 'http://127.0.0.1/*', 'http://localhost/*']);
});

test('S2: the extension pages CSP is exactly self + wasm-unsafe-eval', () => {
  assert.equal(
    manifest.content_security_policy.extension_pages,
    "script-src 'self' 'wasm-unsafe-eval'; object-src 'self'",
  );
});

test('S3: no remote code and no eval in the package', async () => {
  for await (const f of files(DIST)) {
    if (!/\.(js|mjs|html)$/.test(f)) continue;
    const text = await readFile(f, 'utf8');
    assert.ok(!/\beval\s*\(/.test(text), `${f} calls eval`);
    assert.ok(!/new\s+Function\s*\(/.test(text), `${f} builds a Function from a string`);
    assert.ok(!/importScripts\s*\(\s*['"]https?:/.test(text), `${f} imports a remote script`);
    assert.ok(!/<script[^>]+src=["']https?:/i.test(text), `${f} loads a remote script`);
    assert.ok(!/import\s+[^;]*from\s+['"]https?:/.test(text), `${f} imports a remote module`);
  }
});

test('the manifest points at files that exist in dist/', async () => {
  const must = [
    manifest.background.service_worker,
    manifest.storage.managed_schema,
    'extension/content/softphone-bridge.js', // registered on the rep's pages
    'extension/content/panel.js',
    manifest.side_panel.default_path,
    ...manifest.web_accessible_resources.flatMap((w) => w.resources),
    ...Object.values(manifest.icons),
    manifest.options_ui.page,
    'extension/pages/history.html', // the toolbar icon opens it
  ];
  for (const rel of must) await readFile(path.join(DIST, rel));
  assert.equal(manifest.background.type, 'module');
  assert.ok(manifest.key, 'a fixed key keeps the extension id stable');
});

test('the wasm module stays under its size budget (400 KB gzipped)', async () => {
  // Issue 3's bar. Size is deterministic for a given build, so this is a budget, not a timing.
  // 400,000 bytes, the stricter reading of "400 KB" (it was 400 KiB until the engine's crate got
  // its own optimisation level and the module shed its duplicate serde code).
  const wasm = await readFile(path.join(DIST, 'extension', 'pkg', 'calltrail_bg.wasm'));
  const gz = gzipSync(wasm, { level: 9 }).length;
  assert.ok(gz < 400_000, `calltrail_bg.wasm is ${gz} bytes gzipped`);
});
