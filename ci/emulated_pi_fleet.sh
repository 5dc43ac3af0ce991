#!/usr/bin/env bash
# Emulated Raspberry Pi fleet tier (slow; not part of the default CI): deploys into the arm64
# rootfs of ci/emulated_pi_rootfs.sh over real SSH (OpenSSH started inside it under qemu-user,
# on a loopback port), then rolls out an EVP pipeline over mosquitto with mutual TLS and rolls
# the device back; prints the deploy, re-deploy and publish -> ok times.
#
#   bash ci/emulated_pi_fleet.sh [ROOTFS_DIR]   (default: build/emulated-pi/rootfs; reused)
#
# Needs root (or sudo) for binfmt_misc, mmdebstrap and chroot; run after `bash ci/setup.sh`.
# The scenario is tests/fleet/emulated_pi.py; its pure parts are tested in the default CI
# (tests/fleet/test_emulated_pi.py).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
ROOTFS=${1:-$REPO/build/emulated-pi/rootfs}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# shellcheck source=ci/emulated_pi_rootfs.sh
source ci/emulated_pi_rootfs.sh

emulated_pi_host_packages
emulated_pi_binfmt
emulated_pi_rootfs

# /proc for sshd, pip and the agent (mmdebstrap made the /dev nodes); unmounted at exit if we
# mounted it. Every process the scenario starts is stopped by its PID before that.
if ! mountpoint -q "$ROOTFS/proc"; then
  emulated_pi_mount_proc
  trap '$SUDO umount "$ROOTFS/proc" || true' EXIT
fi

$SUDO "$REPO/.venv/bin/python" -m tests.fleet.emulated_pi "$ROOTFS"
