#!/usr/bin/env bash
# Emulated Raspberry Pi tier (not part of the default CI): runs the host unit tests and the
# conformance suite on aarch64 under qemu-user, in an arm64 Debian rootfs with the aarch64 wheels.
#
#   bash ci/emulated_pi.sh [ROOTFS_DIR]      (default: build/emulated-pi/rootfs; reused if present)
#
# Needs root (or sudo) for binfmt_misc, mmdebstrap and chroot. Takes several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
ROOTFS=${1:-$REPO/build/emulated-pi/rootfs}
SHARED=${BUILD_TOOLS_SHARED_DIR:-$REPO/../shared}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(qemu-user qemu-user-static mmdebstrap arch-test binfmt-support)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# binfmt_misc: lets the kernel run aarch64 binaries through qemu-aarch64-static.
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  $SUDO mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  [ -f "$conf" ] || conf=/usr/lib/binfmt.d/qemu-aarch64-static.conf
  $SUDO sh -c "cat '$conf' > /proc/sys/fs/binfmt_misc/register"
fi

# Guest toolchain inside the rootfs too: guests are rebuilt there and must hash the same.
# cmake + gcc build libnnb.so, the TFLM-exact builtin backend (no tflite-micro wheel on aarch64).
ROOT_PACKAGES=python3,python3-venv,python3-pip,ca-certificates,clang-19,lld-19,wasi-libc,libclang-rt-19-dev-wasm32,wabt,cmake,gcc,make,libc6-dev
if [ ! -x "$ROOTFS/usr/bin/python3" ]; then
  $SUDO mkdir -p "$(dirname "$ROOTFS")"
  $SUDO mmdebstrap --arch=arm64 --variant=minbase --include="$ROOT_PACKAGES" bookworm "$ROOTFS"
fi
# pip inside the chroot verifies TLS with the host's CA bundle.
$SUDO mkdir -p "$ROOTFS/etc/ssl/certs"
$SUDO cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true

# Project and reference data (read-only copies; nothing is written back).
$SUDO rm -rf "$ROOTFS/project" && $SUDO mkdir -p "$ROOTFS/project/main"
git ls-files -z --cached --others --exclude-standard | \
  tar --null -T - -cf - | $SUDO tar -xf - -C "$ROOTFS/project/main"
$SUDO mkdir -p "$ROOTFS/project/shared" && $SUDO cp -r "$SHARED/." "$ROOTFS/project/shared/"

# /proc only: ai-edge-litert segfaults under qemu-user when /sys is mounted in the chroot.
mountpoint -q "$ROOTFS/proc" || $SUDO mount -t proc proc "$ROOTFS/proc"
trap '$SUDO umount "$ROOTFS/proc" || true' EXIT

$SUDO chroot "$ROOTFS" /bin/bash -euo pipefail -c '
cd /project/main
if ! command -v cmake >/dev/null; then  # a rootfs made before cmake was in the package list
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake gcc make libc6-dev
fi
if [ ! -x /opt/venv/bin/python ]; then python3 -m venv /opt/venv; fi
/opt/venv/bin/python -m pip install -q -e ./runtime_py -e ".[dev]"
uname -m
/opt/venv/bin/python -m pytest -q -p no:cacheprovider tests/host tests/conformance "$@"
' -- "${@:2}"
