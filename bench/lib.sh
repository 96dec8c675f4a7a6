# shellcheck shell=bash disable=SC2034  # the variables are set for the scripts that source this file
# bench/lib.sh: the prologue shared by the bench scripts (sourced, not run).
#
#   bench_init "$0" "$@"        sets here (bench/), root (the repository), command_line (for the headers), py
#                               (Debian's python3: python3-opencv installs cv2 for it, not for another python3)
#   bench_help                  prints the calling script's header comment (its usage) and exits 0
#   bench_number NAME VALUE [MIN]   exits 2 with "--NAME needs a number" unless VALUE is a whole number >= MIN
#   bench_packages PKG...       installs the Debian packages that are missing (apt-get; sudo when not root)
#   bench_build NAME...         builds dips (scripts/build.sh) when one of build/NAME is missing
#   bench_run_dirs [PREFIX]     sets run_id (PREFIX + date and time), work (bench/.work/RUN_ID) and results
#                               (bench/.results), and makes both folders
#   bench_corpus DIR            builds the corpus into DIR (bench/make-corpus.sh) unless it is there
#   bench_revision              prints "at REV", with "(with uncommitted changes)" when the sources differ
#   bench_snapshot DIR FILE...  copies FILE... into DIR (dips with its codec module): the tree may be rebuilt
#                               or edited while a bench runs
#                               (and bash reads a script as it goes, so an edit of dips-run breaks a running bench)

bench_init() {
  bench_script=$1; shift
  here=$(cd "$(dirname "$bench_script")" && pwd)
  root=$(cd "$here/.." && pwd)
  command_line="bench/$(basename "$bench_script")${*:+ $*}"
  py=python3
  [ -x /usr/bin/python3 ] && py=/usr/bin/python3
}

bench_help() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$bench_script"
  exit 0
}

bench_fail() {
  echo "$(basename "$bench_script"): $*" >&2
  exit 2
}

bench_number() {
  local name=$1 value=$2 min=${3:-0}
  case "$value" in ''|*[!0-9]*) bench_fail "--$name needs a number" ;; esac
  [ "$value" -ge "$min" ] || bench_fail "--$name must be at least $min"
}

bench_packages() {
  local missing=() p sudo=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || bench_fail "need root or sudo to install: ${missing[*]}"
    sudo=sudo
  fi
  echo "$(basename "$bench_script"): installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

bench_build() {
  local name
  for name in "$@"; do
    if [ ! -x "$root/build/$name" ]; then
      echo "$(basename "$bench_script"): building dips (scripts/build.sh)..." >&2
      (cd "$root" && scripts/build.sh) >&2
      return
    fi
  done
}

bench_snapshot() {
  local dir=$1 file; shift
  mkdir -p "$dir"
  cp "$@" "$dir/"
  # dips loads its modules (OpenCV's image codecs, ZBar, the dashboard's server) from next to its binary.
  for file in "$@"; do
    if [ "$(basename "$file")" = dips ]; then
      cp "$(dirname "$file")"/libdips_*.so "$dir/" 2> /dev/null || true
    fi
  done
}

bench_corpus() {
  [ -s "$1/MANIFEST.sha256" ] && return 0
  echo "$(basename "$bench_script"): building the corpus into $1 (bench/make-corpus.sh, about 4 minutes)..." >&2
  bash "$here/make-corpus.sh" "$1" >&2
}

bench_revision() {
  local revision
  revision="at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
  [ -z "$(git -C "$root" status --porcelain --untracked-files=no -- src include CMakeLists.txt scripts tests 2>/dev/null)" ] ||
    revision="$revision (with uncommitted changes)"
  echo "$revision"
}

bench_run_dirs() {
  run_id=${1:-}$(date +%Y%m%d-%H%M%S)
  work=${BENCH_WORK:-$here/.work}/$run_id
  results=$here/.results
  mkdir -p "$work" "$results"
}
