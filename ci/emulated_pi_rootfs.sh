#!/usr/bin/env bash
# The emulated Raspberry Pi rootfs recipe, sourced by ci/emulated_pi.sh (host tests on aarch64)
# and ci/emulated_pi_fleet.sh (deploy over SSH + fleet over MQTT). One place for the package
# list and the set-up steps. Expects REPO, ROOTFS, SUDO to be set by the caller.
#
#   bash ci/emulated_pi_rootfs.sh [ROOTFS_DIR]   builds (or reuses) the rootfs and stops there.

# Host packages: qemu-user + binfmt for running aarch64 binaries, mmdebstrap for the rootfs.
EMULATED_PI_HOST_PACKAGES=(qemu-user qemu-user-static mmdebstrap arch-test binfmt-support)

# Guest toolchain inside the rootfs too: guests are rebuilt there and must hash the same.
# cmake + gcc build libnnb.so, the TFLM-exact builtin backend (no tflite-micro wheel on aarch64).
# openssh-server: the fleet tier (ci/emulated_pi_fleet.sh) deploys into the rootfs over SSH.
EMULATED_PI_ROOT_PACKAGES=python3,python3-venv,python3-pip,ca-certificates,clang-19,lld-19,wasi-libc,libclang-rt-19-dev-wasm32,wabt,cmake,gcc,make,libc6-dev,openssh-server

emulated_pi_host_packages() {
  local missing=() p
  for p in "${EMULATED_PI_HOST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# binfmt_misc: lets the kernel run aarch64 binaries through qemu-aarch64-static.
emulated_pi_binfmt() {
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    $SUDO mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [ -f "$conf" ] || conf=/usr/lib/binfmt.d/qemu-aarch64-static.conf
    $SUDO sh -c "cat '$conf' > /proc/sys/fs/binfmt_misc/register"
  fi
}

# Builds the rootfs once; a rootfs made before a package joined the list gets it via apt.
emulated_pi_rootfs() {
  if [ ! -x "$ROOTFS/usr/bin/python3" ]; then
    $SUDO mkdir -p "$(dirname "$ROOTFS")"
    $SUDO mmdebstrap --arch=arm64 --variant=minbase --include="$EMULATED_PI_ROOT_PACKAGES" bookworm "$ROOTFS"
  fi
  # pip inside the chroot verifies TLS with the host's CA bundle.
  $SUDO mkdir -p "$ROOTFS/etc/ssl/certs"
  $SUDO cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  $SUDO cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true
  local missing=() p
  for p in ${EMULATED_PI_ROOT_PACKAGES//,/ }; do
    $SUDO chroot "$ROOTFS" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    $SUDO chroot "$ROOTFS" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing[*]}"
  fi
}

# /proc only: ai-edge-litert segfaults under qemu-user when /sys is mounted in the chroot.
emulated_pi_mount_proc() {
  mountpoint -q "$ROOTFS/proc" || $SUDO mount -t proc proc "$ROOTFS/proc"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  REPO=$(pwd)
  ROOTFS=${1:-$REPO/build/emulated-pi/rootfs}
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  emulated_pi_host_packages
  emulated_pi_binfmt
  emulated_pi_rootfs
  echo "emulated-pi rootfs ready: $ROOTFS"
fi
