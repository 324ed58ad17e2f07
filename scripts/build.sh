#!/usr/bin/env bash
# Builds the unpacked extension into dist/ and packs dist/calltrail.zip.
#   dist/manifest.json, dist/extension/** (service worker, pages, content scripts)
#   dist/extension/pkg/calltrail.js + calltrail_bg.wasm (wasm-bindgen output, wasm-opt -Oz)
# `scripts/build.sh --trap-for-tests` builds a test-only copy into dist-trap/ instead, with the
# cargo feature that lets tests/e2e/trap.test.mjs make the module trap (never shipped).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=dist
FEATURES=()
if [ "${1:-}" = "--trap-for-tests" ]; then
  OUT=dist-trap
  FEATURES=(--features trap-for-tests)
fi

# npm's binaryen (132) must shadow any Debian wasm-opt: Debian's 108 corrupts the module.
WASM_OPT="$PWD/node_modules/.bin/wasm-opt"
[ -x "$WASM_OPT" ] || { echo "missing $WASM_OPT: run scripts/setup.sh" >&2; exit 1; }

# The commit time, not the wall clock, so the same commit builds the same bytes.
CALLTRAIL_BUILD_TIME="$(git log -1 --format=%cI 2>/dev/null || echo unknown)"
export CALLTRAIL_BUILD_TIME

cargo build --release --target wasm32-unknown-unknown --lib "${FEATURES[@]}"
rm -rf "$OUT"
mkdir -p "$OUT/extension/pkg"
# The reset-state function lets the worker start a fresh instance of the module after a trap
# (ARCHITECTURE.md, "A trapped module is replaced in place").
wasm-bindgen --target web --no-typescript --experimental-reset-state-function --out-dir "$OUT/extension/pkg" \
  target/wasm32-unknown-unknown/release/calltrail.wasm
# --low-memory-unused: Rust puts the 1 MB stack first and the data after it, so the low 1 KB is
# never addressed (only a stack already overflowed would reach it); binaryen may then fold
# address arithmetic into load and store offsets. --zero-filled-memory: the module's own memory
# starts zeroed, so zero bytes of data segments need not be stored. With --converge they save
# about 1% of the module (ARCHITECTURE.md, Decisions).
"$WASM_OPT" -Oz --low-memory-unused --zero-filled-memory --converge "$OUT/extension/pkg/calltrail_bg.wasm" -o "$OUT/extension/pkg/calltrail_bg.wasm"

cp manifest.json "$OUT/"
# Everything under extension/ ships, except files only tests read.
tar -C extension --exclude='*.test.*' -cf - . | tar -C "$OUT/extension" -xf -
[ "$OUT" = dist ] || { echo "built $OUT/ (test build, trap-for-tests)"; exit 0; }

python3 - <<'PY'
import os, zipfile
with zipfile.ZipFile('dist/calltrail.zip', 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for root, _, files in os.walk('dist'):
        for f in sorted(files):
            p = os.path.join(root, f)
            if p != 'dist/calltrail.zip':
                z.write(p, os.path.relpath(p, 'dist'))
PY
wasm=dist/extension/pkg/calltrail_bg.wasm
# Gzip as the size test and the benchmarks measure it (Node's zlib at level 9): GNU gzip -9
# reads about 5 KB less on this module, and a figure quoted from it once hid a failing budget.
gz="$(node -e "process.stdout.write(String(require('zlib').gzipSync(require('fs').readFileSync(process.argv[1]), { level: 9 }).length))" "$wasm")"
printf 'built dist/: wasm %s bytes (gzip -9 by Node zlib %s; budget 400,000), zip %s bytes\n' \
  "$(stat -c %s "$wasm")" "$gz" "$(stat -c %s dist/calltrail.zip)"
