#!/usr/bin/env bash
# The demo: installs what is missing, builds dist/, loads the extension in Chromium (headless
# when there is no display) and shows what the extension does, printing it as it goes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
node scripts/demo.mjs "$@"
