#!/usr/bin/env bash
# Builds hare (installing missing packages first) and runs the tests.
#   scripts/test.sh                 the default set (label "fast")
#   HARE_TEST_LABELS='fast|slow' scripts/test.sh   also the slow ones
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Sleeping (not spinning) OpenMP waiters: tests run in parallel on few cores.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
cd "${HARE_BUILD_DIR:-build}"
ctest -L "${HARE_TEST_LABELS:-fast}" -j "${HARE_JOBS:-$(nproc)}" --output-on-failure --timeout 900
