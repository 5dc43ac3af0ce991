#!/usr/bin/env bash
# Emulated Raspberry Pi tier (not part of the default CI): runs the host unit tests and the
# conformance suite on aarch64 under qemu-user, in an arm64 Debian rootfs with the aarch64 wheels.
#
#   bash ci/emulated_pi.sh [ROOTFS_DIR]      (default: build/emulated-pi/rootfs; reused if present)
#
# Needs root (or sudo) for binfmt_misc, mmdebstrap and chroot. Takes several minutes.
# The rootfs recipe is ci/emulated_pi_rootfs.sh (shared with ci/emulated_pi_fleet.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
ROOTFS=${1:-$REPO/build/emulated-pi/rootfs}
SHARED=${BUILD_TOOLS_SHARED_DIR:-$REPO/../shared}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# shellcheck source=ci/emulated_pi_rootfs.sh
source ci/emulated_pi_rootfs.sh

emulated_pi_host_packages
emulated_pi_binfmt
emulated_pi_rootfs

# Project and reference data (read-only copies; nothing is written back).
$SUDO rm -rf "$ROOTFS/project" && $SUDO mkdir -p "$ROOTFS/project/main"
git ls-files -z --cached --others --exclude-standard | \
  tar --null -T - -cf - | $SUDO tar -xf - -C "$ROOTFS/project/main"
$SUDO mkdir -p "$ROOTFS/project/shared" && $SUDO cp -r "$SHARED/." "$ROOTFS/project/shared/"

emulated_pi_mount_proc
trap '$SUDO umount "$ROOTFS/proc" || true' EXIT

$SUDO chroot "$ROOTFS" /bin/bash -euo pipefail -c '
cd /project/main
if [ ! -x /opt/venv/bin/python ]; then python3 -m venv /opt/venv; fi
/opt/venv/bin/python -m pip install -q -e ./runtime_py -e ".[dev]"
uname -m
/opt/venv/bin/python -m pytest -q -p no:cacheprovider tests/host tests/conformance "$@"
' -- "${@:2}"
