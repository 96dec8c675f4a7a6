#!/usr/bin/env bash
# Installs everything dips needs to build, test and benchmark, from Debian 12's packages.
# Quiet when everything is already there; uses sudo when not root.
# --browser also installs Debian's Chromium (about 80 MB to download, 290 MB installed), which only the
# tests of the report page and the dashboard in a real browser need; without it they are skipped.
# --slurm also installs Slurm and munge for tests/slurm_test.sh, which starts a throwaway cluster of its
# own (nothing is configured or started here; on a machine with systemd, Debian enables slurmctld and
# slurmd, which do not start without /etc/slurm/slurm.conf: `systemctl disable slurmctld slurmd`).
set -euo pipefail
browser=0; slurm=0
for arg in "$@"; do
  case "$arg" in
    --browser) browser=1 ;;
    --slurm) slurm=1 ;;
    *) echo "install-deps: unknown argument '$arg' (--browser, --slurm)" >&2; exit 2 ;;
  esac
done
PACKAGES=(
  build-essential cmake pkg-config            # compiler and build
  openmpi-bin libopenmpi-dev libpmix-dev      # MPI, and PMIx to kill hung ranks
  libopencv-dev libzbar-dev                   # imaging, QR/barcodes
  libjpeg62-turbo-dev libpng-dev zlib1g-dev   # dips' own JPEG/PNG codecs (the libraries OpenCV uses)
  libdeflate-dev                              # the common PNG's inflate (src/codec_png_inflate.cpp)
  libboost-program-options-dev                # command line
  libcpp-httplib-dev                          # the live dashboard (--dashboard)
  nlohmann-json3-dev libfmt-dev               # report JSON, formatting
  libsimdjson-dev                             # reading journals for the report page
  catch2                                      # tests (v2)
  iproute2 util-linux procps                  # multi-host rehearsal (ip netns), kill/pgrep in tests
  python3                                     # scripts/mutate.py (ctest mutations_match)
)
[ "$browser" = 1 ] && PACKAGES+=(chromium)     # report page and dashboard tests in a real browser
[ "$slurm" = 1 ] && PACKAGES+=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
