#!/usr/bin/env bash
# The test command (README, CI): installs dependencies, builds, and runs every test with ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "${DIPS_BUILD_DIR:-$root/build}"
ctest --output-on-failure --timeout 600 "$@"
