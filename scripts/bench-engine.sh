#!/usr/bin/env bash
# Engine benchmarks, native and wasm in one run (issue 3). Prints Markdown tables.
#   scripts/bench-engine.sh [iterations]
# 1. native: `cargo bench --bench engine` (bench profile), figures also written as JSON;
# 2. wasm: the same `engine::bench::run` built for wasm32 (release profile, as shipped, plus
#    the `bench` feature's export), wasm-bindgen --target nodejs, timed in Node with
#    performance.now(); prints native vs wasm medians and the ratio; then the same module timed
#    in Debian's Chromium, the extension's runtime (scripts/bench-engine-chromium.mjs);
#    then native and wasm alternated over ROUNDS rounds (default 5), medians over the rounds;
# 3. size: the shipped module (no bench feature) after wasm-opt -Oz, gzip -9, and what share of
#    its code the engine and the other parts of the crate and its dependencies take (twiggy).
set -euo pipefail
cd "$(dirname "$0")/.."
iterations="${1:-15}"
out=target/bench-wasm
mkdir -p "$out"

cargo bench --bench engine -- --iterations "$iterations" --json "$out/native.json" >"$out/native.md"

cargo build --release --target wasm32-unknown-unknown --lib --features bench
wasm-bindgen --target nodejs --no-typescript --out-dir "$out/pkg" \
  target/wasm32-unknown-unknown/release/calltrail.wasm
# The repository's package.json says "module"; wasm-bindgen's nodejs output is CommonJS.
echo '{ "type": "commonjs" }' >"$out/pkg/package.json"
wasm-bindgen --target web --no-typescript --out-dir "$out/web" \
  target/wasm32-unknown-unknown/release/calltrail.wasm

# The shipped module, built without the bench export, for its size and its make-up.
cargo build --release --target wasm32-unknown-unknown --lib
wasm-bindgen --target web --no-typescript --out-dir "$out/ship" \
  target/wasm32-unknown-unknown/release/calltrail.wasm
WASM_OPT="$PWD/node_modules/.bin/wasm-opt"
# Names kept (--debuginfo) only for the attribution copy; the size is of the stripped one.
"$WASM_OPT" -Oz "$out/ship/calltrail_bg.wasm" -o "$out/ship/calltrail_opt.wasm"
"$WASM_OPT" -Oz --debuginfo "$out/ship/calltrail_bg.wasm" -o "$out/ship/calltrail_named.wasm"
if command -v twiggy >/dev/null; then
  twiggy top -n 100000 --format csv "$out/ship/calltrail_named.wasm" >"$out/twiggy.csv"
fi

node scripts/bench-engine-wasm.mjs "$iterations"
# One run's medians move with this shared machine's slow spells (natively 8.7 to 13.8 µs for the
# same hang-up within minutes), so the bars are judged on native and wasm alternated in rounds.
echo
node scripts/bench-engine-rounds.mjs "$iterations" "${ROUNDS:-5}"
if [ -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo
  node scripts/bench-engine-chromium.mjs "$iterations"
else
  echo "(no Chromium at ${CHROMIUM:-/usr/bin/chromium}: the Chromium table is skipped; scripts/setup.sh installs it)"
fi
