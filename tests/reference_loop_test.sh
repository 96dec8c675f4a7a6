#!/usr/bin/env bash
# The plain loop that bench/run.sh measures dips against: dips-reference --loop with --files-from writes
# every listed task (INPUT, or INPUT<TAB>OUTPUT under OUTDIR) exactly as the single-image reference does,
# goes on after a bad input (exit 1), and refuses an unreadable list (exit 2).
# Usage: reference_loop_test.sh BUILD_DIR
set -uo pipefail
build=$1
ref=$build/dips-reference
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

mkdir -p "$work/in" "$work/out/copy"
"$build/dips-make-samples" "$work/in" >/dev/null || { echo "FAIL: dips-make-samples"; exit 1; }
printf '%s\n\n%s\t%s\n%s\n' "$work/in/photo_small.png" "$work/in/photo_small.png" "copy/again.png" \
  "$work/in/Image 1 (Panda).png" > "$work/list"
"$ref" --loop grayscale "$work/out" --files-from "$work/list" || fail "--files-from exited $?"
"$ref" grayscale "$work/in/photo_small.png" "$work/small.png" >/dev/null
"$ref" grayscale "$work/in/Image 1 (Panda).png" "$work/panda.png" >/dev/null
cmp -s "$work/small.png" "$work/out/photo_small.png" || fail "photo_small.png differs from the single-image reference"
cmp -s "$work/small.png" "$work/out/copy/again.png" || fail "the INPUT<TAB>OUTPUT line did not write copy/again.png"
cmp -s "$work/panda.png" "$work/out/Image 1 (Panda).png" || fail "a name with spaces and parentheses was not written"
"$ref" --same-pixels "$work/small.png" "$work/out/photo_small.png" || fail "--same-pixels: identical pixels must give exit 0"
"$ref" --same-pixels "$work/small.png" "$work/panda.png" 2>/dev/null && fail "--same-pixels: different images must give exit 1"
[ "$(find "$work/out" -type f | wc -l)" = 3 ] || fail "expected 3 outputs, got $(find "$work/out" -type f | wc -l)"

printf '%s\n%s\n' "$work/in/missing.png" "$work/in/qr_codes.png" > "$work/bad-list"
mkdir -p "$work/out3"
"$ref" --loop grayscale "$work/out3" --files-from "$work/bad-list" 2>/dev/null
[ $? = 1 ] || fail "a missing input must give exit 1"
[ -f "$work/out3/qr_codes.png" ] || fail "the task after a missing input was not done"
"$ref" --loop grayscale "$work/out3" --files-from "$work/no-such-list" 2>/dev/null
[ $? = 2 ] || fail "an unreadable list must give exit 2"
"$ref" --loop grayscale "$work/out3" --files-from 2>/dev/null
[ $? = 2 ] || fail "--files-from without a list must give exit 2"

[ "$failures" = 0 ] && echo "reference loop: ok"
exit $((failures > 0))
