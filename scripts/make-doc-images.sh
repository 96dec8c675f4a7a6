#!/usr/bin/env bash
# make-doc-images.sh: makes the pictures README shows, from the sample images, with the built dips and
# headless Chromium, so that they stay true to what dips does:
#   docs/images/operations.png         the 11 operations on one sample photo (a photo with a QR code)
#   docs/images/report-lost-worker.png the report page of a job in which a worker was killed
# Usage: scripts/make-doc-images.sh   (builds first; needs chromium: scripts/install-deps.sh --browser)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${DIPS_BUILD_DIR:-$root/build}
images=$root/docs/images
chromium_bin=${DIPS_CHROMIUM:-chromium}
command -v "$chromium_bin" >/dev/null || { echo "make-doc-images: needs chromium (scripts/install-deps.sh --browser)" >&2; exit 2; }
"$root/scripts/build.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/in" "$images"
"$build/dips-make-samples" "$work/in"

shot() {  # shot URL OUTPUT WIDTH HEIGHT
  "$chromium_bin" --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$work/profile-$RANDOM" \
    --window-size="$3,$4" --screenshot="$2" "$1" >/dev/null 2>&1
  [ -s "$2" ] || { echo "make-doc-images: chromium wrote no $2" >&2; exit 1; }
}

# The gallery: every operation on photo_with_qr.png, each output beside its name, as one page.
ops=(edge_detection color_inversion grayscale threshold blur=9 dilate=9 erode=9 resize=320 equalize_histogram find_contours read_qr_code)
{
  for op in "${ops[@]}"; do printf 'in/photo_with_qr.png\t%s\t%s.png\n' "$op" "${op%%=*}"; done
} > "$work/gallery.tsv"
"$build/dips" --quiet --manifest "$work/gallery.tsv" --output "$work/gallery"
{
  echo '<!DOCTYPE html><meta charset="utf-8"><style>body{margin:12px;font:15px sans-serif;background:#fff}'
  echo 'div{display:grid;grid-template-columns:repeat(4,300px);gap:10px}figure{margin:0}img{width:300px;height:225px;object-fit:contain;background:#eee}'
  echo 'figcaption{text-align:center;font-family:monospace;padding:3px}</style><div>'
  echo "<figure><img src=\"$work/in/photo_with_qr.png\"><figcaption>input</figcaption></figure>"
  for op in "${ops[@]}"; do echo "<figure><img src=\"$work/gallery/${op%%=*}.png\"><figcaption>$op</figcaption></figure>"; done
  echo '</div>'
} > "$work/gallery.html"
shot "file://$work/gallery.html" "$images/operations.png" 1254 800

# A report with a lost worker: worker 2 is killed once the job has done 6 pieces (one piece per worker at
# a time, so that it dies holding one); its piece is redone by worker 1.
cat > "$work/job.tsv" <<'MANIFEST'
in/photo_large.jpg	blur=5,edge_detection
in/photo_small.png	equalize_histogram,dilate=3
in/Image 1 (Panda).png	grayscale,threshold
in/qr_codes.png	read_qr_code
in/photo_with_qr.png	find_contours
in/photo_small.png	color_inversion	inverted/photo_small.png
MANIFEST
printf 'not an image' > "$work/in/broken.png"
printf 'in/broken.png\tblur=3\n' >> "$work/job.tsv"
DIPS_FAULT='rank:2,after:6,kind:kill' DIPS_BIN="$build/dips" "$root/scripts/dips-run" -n 3 -- --quiet --tile-rows 200 --lookahead 0 \
  --manifest "$work/job.tsv" --output "$work/report" >/dev/null 2>&1 || true   # exit 1: broken.png fails, as it should
[ -s "$work/report/report.html" ] || { echo "make-doc-images: the job wrote no report page" >&2; exit 1; }
shot "file://$work/report/report.html" "$images/report-lost-worker.png" 1400 1900
echo "make-doc-images: wrote $images/operations.png and $images/report-lost-worker.png" >&2
