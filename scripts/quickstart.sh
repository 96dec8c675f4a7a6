#!/usr/bin/env bash
# README's first command: installs dependencies, builds, makes sample images, and runs a real dips job on
# 3 local ranks (1 coordinator + 2 workers) through scripts/dips-run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
build=${DIPS_BUILD_DIR:-$root/build}
samples=$root/sample-out/images
out=$root/sample-out/results
rm -rf "$out"
mkdir -p "$samples"
"$build/dips-make-samples" "$samples"
manifest=$root/sample-out/job.tsv
cat > "$manifest" <<MANIFEST
# input<TAB>pipeline<TAB>output (relative to --output)
images/photo_small.png	blur=7	blurred/photo_small.png
images/photo_large.jpg	edge_detection	edges/photo_large.png
images/Image 1 (Panda).png	grayscale,equalize_histogram	equalized/Image 1 (Panda).png
images/qr_codes.png	read_qr_code	qr/qr_codes.png
images/photo_large.jpg	find_contours	contours/photo_large.jpg
images/photo_small.png	color_inversion,dilate=3	inverted/photo_small.png
MANIFEST
"$root/scripts/dips-run" -n 3 -- --manifest "$manifest" --output "$out" --tile-rows 256
echo
echo "Outputs are in $out; the report (one JSON line per task, then a summary) is $out/report.jsonl."
echo "Decoded QR strings:"
grep -o '"decoded":\[[^]]*\]' "$out/report.jsonl" | grep -v '\[\]' || true
