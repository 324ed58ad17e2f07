#!/usr/bin/env bash
# The server's full chaos run (issue 15's bar): PostgreSQL, three server instances behind a
# balancer, the RingCentral emulator and the CRM emulator (100 ms latency); 2,000 calls for 50
# reps across two CRMs with every fault of crates/server/tests/server/chaos.rs. Prints one line
# with the counts and times; exits non-zero when a call was lost or logged twice.
#
#   scripts/server-chaos.sh              the full run (2,000 calls, 50 reps, over 240 s)
#   scripts/server-chaos.sh --small      the size `.ci/run` runs (120 calls, 8 reps, 30 s)
#
# Variables: CALLTRAIL_CHAOS_CALLS, CALLTRAIL_CHAOS_REPS, CALLTRAIL_CHAOS_SECS override the size;
# CALLTRAIL_CHAOS_SEED replays a schedule; CALLTRAIL_TEST_LOGS=1 shows the instances' logs.
# PostgreSQL runs from Debian's packages in target/pg-chaos (scripts/postgres.sh), restarted by
# the test itself.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--small" ]; then
  export CALLTRAIL_CHAOS_CALLS="${CALLTRAIL_CHAOS_CALLS:-2000}"
  export CALLTRAIL_CHAOS_REPS="${CALLTRAIL_CHAOS_REPS:-50}"
  export CALLTRAIL_CHAOS_SECS="${CALLTRAIL_CHAOS_SECS:-240}"
fi
start=$(date +%s)
cargo test --release -p calltrail-server --test server chaos -- --nocapture
echo "server-chaos: passed in $(( $(date +%s) - start )) s (build included)"
