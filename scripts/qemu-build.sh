#!/usr/bin/env bash
# Builds the QEMU Cortex-M4 image (`altair-qemu`, the root package's feature `qemu`) for
# thumbv7em-none-eabihf with Debian's Rust and build-std, like scripts/nostd-build.sh,
# and prints its path. The build's configuration (broker name, channel, certificates) is
# the usual one (`build.rs`); the disk boot ROM comes from ALTAIR_BOOT_ROM or
# ../shared/disks/88dskrom.bin.
#
# Usage: scripts/qemu-build.sh   (prints the ELF's path as its last line)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TARGET=thumbv7em-none-eabihf
TARGET_DIR="$ROOT/target/thumbv7em"
DEB_RUSTC=/usr/bin/rustc
DEB_CARGO=/usr/bin/cargo
for tool in "$DEB_RUSTC" "$DEB_CARGO"; do
    if [[ ! -x "$tool" ]]; then
        echo "error: $tool not found; run scripts/install-deps.sh (as root)" >&2
        exit 1
    fi
done

env -u RUSTUP_TOOLCHAIN -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER \
    -u CARGO_BUILD_TARGET -u CARGO_TARGET_DIR -u CARGO_ENCODED_RUSTFLAGS \
    RUSTC_BOOTSTRAP=1 RUSTC="$DEB_RUSTC" RUSTFLAGS="-D warnings" \
    "$DEB_CARGO" build --profile device \
    --target "$TARGET" --target-dir "$TARGET_DIR" \
    -Zbuild-std=core,compiler_builtins -Zbuild-std-features=compiler-builtins-mem \
    -p altair-sphere --features qemu --bin altair-qemu >&2

echo "$TARGET_DIR/$TARGET/device/altair-qemu"
