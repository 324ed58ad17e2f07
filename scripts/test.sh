#!/usr/bin/env bash
# Runs every test layer, after installing what is missing and building dist/:
#   1. native: cargo test --workspace (unit tests of all three crates, scenarios, simulator, connectors, phone table)
#   2. wasm:   the IndexedDB store under wasm-bindgen-test in headless Chromium
#   3. node:   the CRM emulator's own tests and spec checks, then Playwright against the real
#              extension in Debian's Chromium
# Every layer runs even when an earlier one fails; the exit code says whether all passed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/build.sh
# tests/e2e/trap.test.mjs loads a test-only copy whose module can be made to trap.
bash scripts/build.sh --trap-for-tests

failed=()
layer() {
  local name=$1; shift
  printf '\n== %s: %s\n' "$name" "$*"
  if "$@"; then :; else failed+=("$name"); fi
}

layer native cargo test --locked --workspace
layer wasm env CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}" \
  cargo test --locked --target wasm32-unknown-unknown --test browser
node_suites=()
for d in tests/emulator tests/e2e; do [ -d "$d" ] && node_suites+=("$d/"); done
layer node node --test --test-reporter=spec "${node_suites[@]}"

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nFAILED layers: %s\n' "${failed[*]}"
  exit 1
fi
printf '\nall test layers passed\n'
