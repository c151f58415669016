#!/usr/bin/env bash
# Builds the QEMU Cortex-M4 image (`altair-qemu`, the root package's feature `qemu`) for
# thumbv7em-none-eabihf (scripts/arm-toolchain.sh) and prints its path. The build's
# configuration (broker name, channel, certificates) is the usual one (`build.rs`); the
# disk boot ROM comes from ALTAIR_BOOT_ROM or ../shared/disks/88dskrom.bin.
#
# Usage: scripts/qemu-build.sh   (prints the ELF's path as its last line)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=scripts/arm-toolchain.sh
source "$ROOT/scripts/arm-toolchain.sh"

xcargo build --profile device -p altair-sphere --features qemu --bin altair-qemu >&2

echo "$TARGET_DIR/$TARGET/device/altair-qemu"
