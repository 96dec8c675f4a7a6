#!/usr/bin/env bash
# bench/make-corpus.sh: builds the benchmark corpus of real photographs from Debian 12 wallpaper packages.
#
# Usage: bench/make-corpus.sh OUTDIR
# Sets (every image is a photograph from mate-backgrounds, lomiri-wallpapers-16.04/-20.04 or
# plasma-workspace-wallpapers, as packaged or re-encoded, cropped or scaled with ImageMagick):
#   small/    50 images of 0.08-0.3 MP, 40 JPEG and 10 PNG (downscales, half of them of a centre crop)
#   medium/   31 images of 1.3-4.1 MP, 23 JPEG and 8 PNG (the packages' files as they are, 6 PNG re-encodes)
#   large/    8 images of 8-20 MP (105 MP), 5 JPEG and 3 PNG
#   xlarge/   one 50.5 MP photograph (8700x5802, a 3x3 montage of 9 photos) as JPEG and the same pixels as PNG
#   thumbs/   20,000 PNGs of 64x64 (t00000.png...): tiles of 20 photos scaled to 2560x1600, 1,000 from each
#   thumbs-x5.tsv  a dips manifest of 100,000 small-image tasks: thumbs/ listed 5 times, grayscale, outputs
#             c1/t00000.png ... c5/t19999.png (inputs relative to the manifest's folder, as dips reads them)
#   MANIFEST.sha256, VERSIONS   checksums of every file above; the package and ImageMagick versions used
# Installs the packages it needs (apt-get; sudo when not root). About 3-5 minutes on 2 cores, 0.8 GB.
# Idempotent: when OUTDIR/MANIFEST.sha256 checks, nothing is done. Otherwise it builds into OUTDIR.partial
# and renames that to OUTDIR at the end (an OUTDIR that is not a corpus is refused, never deleted).
# Deterministic: the same package and ImageMagick versions give the same bytes (compare MANIFEST.sha256).
set -euo pipefail
# shellcheck source=lib.sh disable=SC2154  # lib.sh sets here, root, py, command_line
source "$(dirname "$0")/lib.sh"
bench_init "$0" "$@"
case "${1:-}" in -h|--help) bench_help ;; ''|-*) bench_fail "usage: bench/make-corpus.sh OUTDIR (see --help)" ;; esac
[ $# -eq 1 ] || bench_fail "usage: bench/make-corpus.sh OUTDIR"
out=$1

if [ -s "$out/MANIFEST.sha256" ] && (cd "$out" && sha256sum --quiet --strict -c MANIFEST.sha256 >/dev/null 2>&1); then
  echo "make-corpus: $out is complete (MANIFEST.sha256 checks)" >&2
  exit 0
fi
if [ -e "$out" ] && [ ! -e "$out/MANIFEST.sha256" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  bench_fail "$out exists, is not empty and is not a corpus (no MANIFEST.sha256): choose another folder"
fi

PACKAGES=(mate-backgrounds lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 plasma-workspace-wallpapers imagemagick)
bench_packages "${PACKAGES[@]}"
# ImageMagick 6 by its Debian name: a `convert` earlier in PATH may be something else.
# -quiet: no warnings about the photos' XMP metadata.
IM=(convert-im6.q16 -quiet -limit memory 2GiB -limit map 4GiB)
command -v convert-im6.q16 >/dev/null || IM=(convert -quiet -limit memory 2GiB -limit map 4GiB)
# shellcheck disable=SC2054  # the comma is part of the option
STRIP=(-strip -define png:exclude-chunks=date,time)   # no timestamps: reproducible bytes

# A file of a package by its name: the packages' folder layouts differ between releases.
pkgfile() {
  local path
  path=$(dpkg -L "$1" | grep -m1 "/$2\$") || bench_fail "package $1 has no file $2"
  printf '%s\n' "$path"
}
plasma() { printf '/usr/share/wallpapers/%s/contents/images/%s\n' "$1" "$2"; }   # plasma-workspace-wallpapers
lomiri() { pkgfile lomiri-wallpapers-16.04 "$1.jpg"; }
mate() { pkgfile mate-backgrounds "$1"; }
kleiber=$(pkgfile lomiri-wallpapers-20.04 Kleiber_by_Lukas_Baubkus.jpg)
infinite_sea=$(pkgfile lomiri-wallpapers-20.04 Infinite-Sea_by_Aury88.jpg)

PLASMA_PHOTOS=(BytheWater ColdRipple DarkestHour EveningGlow FallenLeaf Grey Kite OneStandsOut Path summer_1am ColorfulCups)
MATE_PHOTOS=(Blinds Dune FreshFlower GreenMeadow RainDrops Storm Aqua Garden LadyBird TwoWings YellowFlower)

tmp="$out.partial"
rm -rf "$tmp"
mkdir -p "$tmp"/{small,medium,large,xlarge,thumbs} "$tmp/.scratch"

echo "make-corpus: medium/" >&2
# 1-4.1 MP: the packages' JPEGs as they are (2560x1600 is the plasma photos' real file; other sizes link to it)
for w in "${PLASMA_PHOTOS[@]}"; do cp "$(plasma "$w" 2560x1600.jpg)" "$tmp/medium/plasma_${w}_2560x1600.jpg"; done
for f in "${MATE_PHOTOS[@]}"; do cp "$(mate "$f.jpg")" "$tmp/medium/mate_$f.jpg"; done
cp "$(lomiri Picture_1A_by_freespace)" "$tmp/medium/lomiri_Picture_1A_by_freespace.jpg"
# PNG: photographs decoded and written losslessly as PNG, scaled to 2 MP
for f in free_by_Peter_Nerlich greentock_by_Peter_Nerlich analogpattern_by_Peter_Nerlich life_by_Aitzol_Berasategi \
         friends_by_Aitzol_Berasategi aitzgorri_by_Aitzol_Berasategi; do
  "${IM[@]}" "$(lomiri "$f")" -resize 2000000@ "${STRIP[@]}" "$tmp/medium/lomiri_${f}_png.png"
done
cp "$(plasma FlyingKonqui 2560x1600.png)" "$tmp/medium/plasma_FlyingKonqui_2560x1600.png"
cp "$(mate Float-into-MATE.png)" "$tmp/medium/mate_Float-into-MATE.png"

echo "make-corpus: large/" >&2
for f in Dragonfly_by_Bolly seeding_by_Clements_Engelhardt Bridge_by_Sander_Klootwijk Wine_by_Jakkub_Mede; do
  cp "$(lomiri "$f")" "$tmp/large/lomiri_$f.jpg"
done
cp "$kleiber" "$tmp/large/lomiri_Kleiber_by_Lukas_Baubkus.jpg"
for f in sunset_by_Aitzol_Berasategi picosdeeuropa_by_Aitzol_Berasategi; do   # lossless PNG re-encodes
  "${IM[@]}" "$(lomiri "$f")" "${STRIP[@]}" "$tmp/large/lomiri_${f}_png.png"
done
cp "$(plasma Altai 5120x2880.png)" "$tmp/large/plasma_Altai_5120x2880.png"

echo "make-corpus: xlarge/ (a 50 MP montage: the slowest step)" >&2
# No single packaged photo reaches 50 MP: 9 photos, each scaled and centre-cropped to 2900x1934, in a 3x3 grid.
montage_sources=("$(lomiri Dragonfly_by_Bolly)" "$(lomiri seeding_by_Clements_Engelhardt)" "$(lomiri sunset_by_Aitzol_Berasategi)"
  "$(lomiri Bridge_by_Sander_Klootwijk)" "$kleiber" "$(lomiri picosdeeuropa_by_Aitzol_Berasategi)"
  "$(lomiri life_by_Aitzol_Berasategi)" "$(lomiri aitzgorri_by_Aitzol_Berasategi)" "$(lomiri Picture_0B_by_freespace)")
s=$tmp/.scratch
for i in "${!montage_sources[@]}"; do
  "${IM[@]}" "${montage_sources[$i]}" -resize '2900x1934^' -gravity center -extent 2900x1934 "$s/t$i.ppm"
done
for r in 0 1 2; do "${IM[@]}" "$s/t$((3 * r)).ppm" "$s/t$((3 * r + 1)).ppm" "$s/t$((3 * r + 2)).ppm" +append "$s/r$r.ppm"; done
"${IM[@]}" "$s/r0.ppm" "$s/r1.ppm" "$s/r2.ppm" -append "$s/montage.ppm"
"${IM[@]}" "$s/montage.ppm" -quality 92 "${STRIP[@]}" "$tmp/xlarge/montage9_8700x5802.jpg"
"${IM[@]}" "$s/montage.ppm" -quality 95 "${STRIP[@]}" "$tmp/xlarge/montage9_8700x5802.png"   # zlib 9, adaptive filter
rm -f "$s"/*.ppm

echo "make-corpus: small/" >&2
# <= 0.3 MP: 25 distinct photos scaled to one of 5 areas (keeping the aspect), then 25 centre crops (60%) of the
# same photos scaled the same way; every fifth one a PNG.
small_sources=()
for w in "${PLASMA_PHOTOS[@]}"; do small_sources+=("$(plasma "$w" 2560x1600.jpg)"); done
for f in "${MATE_PHOTOS[@]}" Wood; do small_sources+=("$(mate "$f.jpg")"); done
for f in Dragonfly_by_Bolly seeding_by_Clements_Engelhardt Bridge_by_Sander_Klootwijk Wine_by_Jakkub_Mede \
         sunset_by_Aitzol_Berasategi picosdeeuropa_by_Aitzol_Berasategi life_by_Aitzol_Berasategi \
         aitzgorri_by_Aitzol_Berasategi friends_by_Aitzol_Berasategi free_by_Peter_Nerlich greentock_by_Peter_Nerlich \
         analogpattern_by_Peter_Nerlich Picture_0B_by_freespace Picture_1A_by_freespace; do
  small_sources+=("$(lomiri "$f")")
done
small_sources+=("$kleiber" "$infinite_sea")
areas=(300000 76800 150000 200000 120000)
n=0
for pass in 0 1; do
  for src in "${small_sources[@]}"; do
    [ "$n" -lt 50 ] || break
    area=${areas[$(( (n + pass) % 5 ))]}
    name=$(basename "$src"); name=${name%.*}
    case "$src" in /usr/share/wallpapers/*) name="plasma_$(basename "$(dirname "$(dirname "$(dirname "$src")")")")" ;; esac
    ext=jpg; [ $((n % 5)) -eq 4 ] && ext=png
    if [ "$pass" = 1 ]; then crop=(-gravity center -crop 60%x60%+0+0 +repage); tag=crop; else crop=(); tag=full; fi
    "${IM[@]}" "$src" "${crop[@]}" -resize "${area}@" -quality 90 "${STRIP[@]}" \
      "$tmp/small/$(printf %02d "$n")_${name}_${tag}_${area}.$ext"
    n=$((n + 1))
  done
done

echo "make-corpus: thumbs/ (20,000 tiles)" >&2
# 64x64 tiles of real photographs: each photo scaled and centre-cropped to 2560x1600 gives 40x25 tiles.
thumb_sources=()
for w in "${PLASMA_PHOTOS[@]}"; do thumb_sources+=("$(plasma "$w" 2560x1600.jpg)"); done
for f in Aqua Garden LadyBird TwoWings YellowFlower; do thumb_sources+=("$(mate "$f.jpg")"); done
for f in Dragonfly_by_Bolly seeding_by_Clements_Engelhardt sunset_by_Aitzol_Berasategi Bridge_by_Sander_Klootwijk; do
  thumb_sources+=("$(lomiri "$f")")
done
[ ${#thumb_sources[@]} -eq 20 ] || bench_fail "internal: ${#thumb_sources[@]} thumbnail sources, expected 20"
for i in "${!thumb_sources[@]}"; do
  "${IM[@]}" "${thumb_sources[$i]}" -resize '2560x1600^' -gravity center -extent 2560x1600 -crop 64x64 +repage \
    "${STRIP[@]}" -define png:color-type=2 -scene $((i * 1000)) +adjoin "PNG24:$tmp/thumbs/t%05d.png"
done
[ "$(find "$tmp/thumbs" -name '*.png' | wc -l)" = 20000 ] || bench_fail "expected 20,000 thumbnails in $tmp/thumbs"

# 100,000 small-image tasks (T6 of issue 8): the thumbnails 5 times, each copy to its own output folder.
(cd "$tmp" && for k in 1 2 3 4 5; do
   find thumbs -name '*.png' | LC_ALL=C sort | awk -v k="$k" '{ n = split($0, p, "/"); printf "%s\tgrayscale\tc%d/%s\n", $0, k, p[n] }'
 done) > "$tmp/thumbs-x5.tsv"

rm -rf "$s"
{
  echo "Debian packages:"
  dpkg-query -W -f='  ${Package} ${Version}\n' "${PACKAGES[@]}" imagemagick-6.q16 libpng16-16 libjpeg62-turbo
  echo "ImageMagick: $("${IM[0]}" -version | head -1)"
} > "$tmp/VERSIONS"
(cd "$tmp" && find small medium large xlarge thumbs thumbs-x5.tsv VERSIONS -type f | LC_ALL=C sort | xargs sha256sum) > "$tmp/MANIFEST.sha256"
rm -rf "$out"
mv "$tmp" "$out"
echo "make-corpus: corpus ready in $out: $(find "$out"/{small,medium,large,xlarge} -type f | wc -l) photos, 20000 thumbnails, $(du -sh "$out" | cut -f1)" >&2
