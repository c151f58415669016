# Sourced by scripts/nostd-build.sh and scripts/qemu-build.sh: the one way this project
# builds for the device target. rustup cannot add targets on these machines, so it uses
# Debian's Rust (rustc-web, cargo-web, rust-web-src: /usr/bin/rustc, /usr/bin/cargo) and
# builds `core` from source (docs/reference.md section 6); scripts/install-deps.sh
# installs all of it. Expects ROOT (the checkout) to be set.

TARGET=thumbv7em-none-eabihf
# Its own target dir: RUSTFLAGS and build-std differ from the host build, and sharing
# target/ would make each build throw away the other's cache.
TARGET_DIR="$ROOT/target/thumbv7em"

DEB_RUSTC=/usr/bin/rustc
DEB_CARGO=/usr/bin/cargo
for tool in "$DEB_RUSTC" "$DEB_CARGO"; do
    if [[ ! -x "$tool" ]]; then
        echo "error: $tool not found; run scripts/install-deps.sh (as root)" >&2
        exit 1
    fi
done

# `xcargo build ARGS...`: cargo for $TARGET with warnings denied; the caller names the
# profile (--release, --profile device). RUSTC must point at Debian's rustc, or Debian's
# cargo picks rustup's rustc from PATH and build-std fails. RUSTC_BOOTSTRAP unlocks -Z on
# this stable compiler. The rustup and wrapper variables that would otherwise steer the
# build elsewhere are cleared.
xcargo() {
    env -u RUSTUP_TOOLCHAIN -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER \
        -u CARGO_BUILD_TARGET -u CARGO_TARGET_DIR -u CARGO_ENCODED_RUSTFLAGS \
        RUSTC_BOOTSTRAP=1 RUSTC="$DEB_RUSTC" RUSTFLAGS="-D warnings" \
        "$DEB_CARGO" "$@" \
        --target "$TARGET" \
        --target-dir "$TARGET_DIR" \
        -Zbuild-std=core,compiler_builtins \
        -Zbuild-std-features=compiler-builtins-mem
}
