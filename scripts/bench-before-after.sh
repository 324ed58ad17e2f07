#!/usr/bin/env bash
# Builds commit REV's extension beside this checkout's and measures both in one run of
# scripts/bench-extension.mjs (worker restart to engine ready, hang-up to first CRM request,
# sizes), one column each, so a change is judged against its parent on the same machine state.
#   scripts/bench-before-after.sh REV [bench-extension options...]
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: scripts/bench-before-after.sh REV [options]}; shift
bash scripts/setup.sh >/dev/null
bash scripts/build.sh
old=$(mktemp -d /tmp/calltrail-before.XXXXXX)
trap 'git worktree remove --force "$old" >/dev/null 2>&1 || true' EXIT
git worktree add -q --detach "$old" "$rev"
ln -s "$PWD/node_modules" "$old/node_modules"
# Its own target directory: the old commit's crates differ from this one's.
(cd "$old" && CARGO_TARGET_DIR="$PWD/target" bash scripts/build.sh)
node scripts/bench-extension.mjs --dist "$old/dist" --dist dist "$@"
