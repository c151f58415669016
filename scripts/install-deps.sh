#!/usr/bin/env bash
# Installs the Debian 12 packages the build and the tests need, and the browser
# terminal's npm packages (web/node_modules). Run as root.
# Idempotent: packages already installed are skipped, and when nothing is missing it
# neither updates the package lists nor installs anything.
set -euo pipefail

PACKAGES=(
    # Cross-building the firmware for thumbv7em-none-eabihf (rustup cannot add targets
    # here; see docs/reference.md section 6). Debian's Rust 1.96 (/usr/bin/rustc,
    # /usr/bin/cargo) plus the library sources for -Zbuild-std:
    rustc-web cargo-web rust-web-src
    # ... rust-web-llvm provides /usr/bin/rust-lld (a symlink to lld-22), the linker the
    # thumbv7em target uses; lld-22 makes that symlink real. rust-web-llvm is only a
    # Recommends of rustc-web, so --no-install-recommends would otherwise leave it out
    # and linking fails with "linker `rust-lld` not found".
    rust-web-llvm lld-22
    # arm-none-eabi-size / -nm for the size report of scripts/nostd-build.sh.
    binutils-arm-none-eabi
    # callgrind, for the host-instructions-per-8080-instruction benchmark.
    valgrind
    # The firmware's Cortex-M4 image runs under QEMU's mps2-an386 in the hil-tests.
    qemu-system-arm
    # MQTT broker and command-line clients for the end-to-end tests.
    mosquitto mosquitto-clients
    # The browser terminal's tests run in a real browser (hil-tests/tests/browser.rs).
    chromium
)

if [[ "$(id -u)" -ne 0 ]]; then
    echo "error: $0 must run as root (it calls apt-get install)" >&2
    exit 1
fi

is_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! is_installed "$pkg"; then
        missing+=("$pkg")
    fi
done
# Node.js and npm build the page and drive the browser. Machines that come with a
# Node.js of their own keep it; others get Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    missing+=(nodejs npm)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
else
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

# The page's npm packages, exactly as web/package-lock.json says, unless node_modules
# is already newer than the lockfile (npm ci starts from nothing each time).
web="$(dirname "${BASH_SOURCE[0]}")/../web"
if [[ -f "$web/node_modules/.package-lock.json" &&
      "$web/node_modules/.package-lock.json" -nt "$web/package-lock.json" ]]; then
    echo "install-deps: web/node_modules is up to date"
else
    echo "install-deps: npm ci in web/"
    (cd "$web" && npm ci --no-audit --no-fund)
fi
