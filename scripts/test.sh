#!/usr/bin/env bash
# The test command (README, CI): installs dependencies, builds, and runs every test with ctest.
# CI (CI=true) and DIPS_BROWSER_TESTS=1 also install Chromium, so that the report page and the dashboard are
# tested in a real browser; elsewhere those tests are skipped unless Chromium is installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deps=()
[ "${CI:-}" = true ] || [ "${DIPS_BROWSER_TESTS:-}" = 1 ] && deps+=(--browser)
"$root/scripts/install-deps.sh" "${deps[@]}"
"$root/scripts/build.sh"
cd "${DIPS_BUILD_DIR:-$root/build}"
ctest --output-on-failure --timeout 600 "$@"
