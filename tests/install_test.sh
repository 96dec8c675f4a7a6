#!/usr/bin/env bash
# The installed copy: `cmake --install` into a temporary prefix, then a job run through the installed
# dips-run (which must find the installed dips next to itself, with PATH holding neither, and the installed
# dips its modules under the prefix: imgcodecs for a BMP input, qr for read_qr_code, http for --dashboard), the installed
# dips.sbatch run the way Slurm runs it (a copy, from elsewhere: it must find the installed dips-run), the
# manual page (every option of `dips --help` documented, no formatting warnings), and `cpack -G DEB`: a
# package with the files and the Depends a fresh Debian 12 needs (checked against the apt lists with an
# empty dpkg status when the lists are there).
# Usage: install_test.sh BUILD_DIR
set -uo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" > "$work/install.log" || { cat "$work/install.log"; echo "FAIL: cmake --install"; exit 1; }
modules=()
for name in libdips_imgcodecs.so libdips_qr.so libdips_http.so; do
  module=$(cd "$prefix" && ls lib*/dips/$name lib/*/dips/$name 2> /dev/null | head -1)
  if [ -n "$module" ]; then modules+=("$module"); else fail "$name not installed under $prefix/lib*/dips"; fi
done
for file in bin/dips bin/dips-run share/dips/dips.sbatch share/dips/hostfiles/localhost share/dips/hostfiles/cluster.example \
            share/man/man1/dips.1 share/doc/dips/README.md share/doc/dips/LICENSE share/doc/dips/fault-tolerance.md; do
  [ -f "$prefix/$file" ] || fail "$file not installed"
done
for program in bin/dips bin/dips-run share/dips/dips.sbatch; do [ -x "$prefix/$program" ] || fail "$program not executable"; done
grep -q "\"$prefix/bin/dips-run\"" "$prefix/share/dips/dips.sbatch" || fail "the installed dips.sbatch does not name the installed dips-run"

# A job through the installed copy, from a folder outside the source and build trees.
mkdir -p "$work/in" "$work/elsewhere"
"$build/dips-make-samples" "$work/in" > /dev/null
# A BMP: a format dips decodes through OpenCV's imgcodecs, in the module it loads from the prefix.
"$build/dips-reference" blur=5 "$work/in/photo_small.png" "$work/in/module.bmp" > /dev/null || fail "cannot make a BMP input"
clean_env=(env -i HOME="$work" PATH=/usr/local/bin:/usr/bin:/bin TMPDIR="${TMPDIR:-/tmp}")
check_job() {  # $1: output folder, $2: what ran it
  for input in "$work"/in/*; do
    local name; name=$(basename "${input%.*}").png
    "$build/dips-reference" blur=3 "$input" "$work/reference.png" > /dev/null
    cmp -s "$work/reference.png" "$1/$name" || fail "$2: $name differs from the whole-image reference (or is missing)"
  done
  head -1 "$1/report.jsonl" | grep -q "\"command\":\"$prefix/bin/dips " || fail "$2 did not run the installed dips: $(head -1 "$1/report.jsonl")"
}
(cd "$work/elsewhere" && "${clean_env[@]}" "$prefix/bin/dips-run" -n 3 -- --quiet --format png --op blur=3 --output "$work/out" "$work/in") \
  || fail "the installed dips-run exited $?"
check_job "$work/out" "dips-run"
# read_qr_code (ZBar, in the qr module) and --dashboard (the http module), loaded from the prefix.
(cd "$work/elsewhere" && "${clean_env[@]}" "$prefix/bin/dips-run" -n 2 -- --quiet --dashboard 0 --op read_qr_code --output "$work/out-qr" \
  "$work/in/qr_codes.png") 2> "$work/qr.err" || fail "the installed dips-run with read_qr_code and --dashboard exited $?: $(cat "$work/qr.err")"
qr_line=$(grep '"input":"[^"]*qr_codes.png"' "$work/out-qr/report.jsonl")
for text in https://example.org/dips "dips: distributed image processing"; do
  grep -qF "\"$text\"" <<< "$qr_line" || fail "the installed read_qr_code did not decode '$text': $qr_line"
done
grep -q "^dips: dashboard: http://127.0.0.1:" "$work/qr.err" || fail "the installed dips served no dashboard: $(cat "$work/qr.err")"
[ "$("$prefix/bin/dips" --version)" = "dips $(sed -n 's/^project(dips VERSION \([0-9.]*\).*/\1/p' "$(dirname "$0")/../CMakeLists.txt")" ] \
  || fail "dips --version: $("$prefix/bin/dips" --version)"

# dips.sbatch the way Slurm runs it: a copy in a spool folder, from another folder, dips-run not on PATH.
cp "$prefix/share/dips/dips.sbatch" "$work/elsewhere/slurm_script"
(cd "$work/elsewhere" && "${clean_env[@]}" SLURM_SUBMIT_DIR="$work/elsewhere" bash ./slurm_script --quiet --format png --op blur=3 \
  --output "$work/out-sbatch" "$work/in") || fail "the installed dips.sbatch exited $?"
check_job "$work/out-sbatch" "dips.sbatch"

# The manual page documents every option and formats without warnings.
for option in $("$prefix/bin/dips" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
  grep -qF -- "$(printf '%s' "$option" | sed 's/-/\\-/g')" "$prefix/share/man/man1/dips.1" || fail "dips.1 does not document $option"
done
if command -v groff > /dev/null; then
  warnings=$(groff -man -ww -z "$prefix/share/man/man1/dips.1" 2>&1)
  [ -z "$warnings" ] || fail "dips.1: $warnings"
fi

# The Debian package.
if command -v cpack > /dev/null && command -v dpkg-shlibdeps > /dev/null; then
  (cd "$work" && cpack -G DEB -B "$work/package" --config "$build/CPackConfig.cmake" > "$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack -G DEB"; }
  deb=$(ls "$work"/package/dips_*.deb 2> /dev/null | head -1)
  if [ -n "$deb" ]; then
    contents=$(dpkg-deb -c "$deb")
    for file in ./usr/bin/dips ./usr/bin/dips-run "${modules[@]/#/./usr/}" ./usr/share/dips/dips.sbatch ./usr/share/man/man1/dips.1; do
      grep -q " $file\$" <<< "$contents" || fail "the .deb lacks $file"
    done
    depends=$(dpkg-deb -f "$deb" Depends)
    for needed in openmpi-bin libopencv-imgproc libopencv-imgcodecs libzbar0 libcpp-httplib libboost-program-options libfmt; do
      grep -q "$needed" <<< "$depends" || fail "the .deb's Depends lack $needed: $depends"
    done
    dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/dips/dips.sbatch | grep -q '"/usr/bin/dips-run"' \
      || fail "the packaged dips.sbatch does not name /usr/bin/dips-run"
    # As on a fresh Debian 12: nothing installed (an empty dpkg status), every dependency from the archive.
    if ls /var/lib/apt/lists/*_Packages* > /dev/null 2>&1; then
      : > "$work/empty-status"
      apt-get -s -o Dir::State::status="$work/empty-status" -o Debug::NoLocking=1 install "$deb" > "$work/apt.log" 2>&1 \
        || fail "apt-get cannot install the .deb on an empty system: $(tail -5 "$work/apt.log")"
    else
      echo "note: no apt lists here (apt-get update): the dependency check against the archive is skipped"
    fi
  else
    fail "cpack made no dips_*.deb: $(tail -5 "$work/cpack.log")"
  fi
else
  echo "note: cpack or dpkg-shlibdeps (dpkg-dev) missing: the .deb is not checked"
fi

[ "$failures" = 0 ] && echo "install: ok"
exit $((failures > 0))
