#!/usr/bin/env bash
# Installs what building and testing Calltrail needs on a fresh Debian machine, skipping what is
# already there: the wasm32 target, wasm-bindgen-cli (same version as the crate), Debian's
# Chromium and ChromeDriver, and the npm packages pinned in package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130
step() { printf '\n== %s\n' "$*"; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " ${WASM_BINDGEN_VERSION}\$"; then
  step "cargo install wasm-bindgen-cli ${WASM_BINDGEN_VERSION} (about 3 minutes)"
  # No --locked: the registry mirror lags behind the CLI's lock file (toolchain.md, pitfall 1).
  cargo install wasm-bindgen-cli --version "${WASM_BINDGEN_VERSION}"
fi

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  step "apt-get install chromium chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q chromium chromium-driver
fi

if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ] \
   || ! cmp -s package-lock.json node_modules/.package-lock.json.calltrail 2>/dev/null; then
  step "npm ci"
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.package-lock.json.calltrail
fi
