#!/usr/bin/env bash
# The single "run every test" command, locally and in CI (.ci/run calls it).
# Steps, each announced by a "==> step" banner; the first failure stops the run:
#   format, clippy, the browser terminal's build and key tests (web/), all tests in
#   release (including the slow #[ignore]d conformance runs and the browser tests), doc
#   tests, the no_std device build with its size report, and the hil-tests again against
#   the firmware's QEMU image.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# rustup's toolchain first: Debian's /usr/bin/cargo and /usr/bin/rustc (installed for
# scripts/nostd-build.sh) must not shadow it.
if [[ -n "${HOME:-}" && -d "$HOME/.cargo/bin" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

step() {
    echo
    echo "==> $*"
}

step "cargo fmt --all -- --check"
cargo fmt --all -- --check
# The size probe is its own workspace, so `--all` does not reach it.
rustfmt --edition 2024 --check scripts/nostd-probe/build.rs scripts/nostd-probe/src/main.rs

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# The page is committed built (web/dist, embedded by altair-cloud): building it again
# must give the same files, so what runs is what the sources say.
step "web: npm run build (web/dist up to date) and npm test"
if [[ -d web/node_modules ]]; then
    (cd web && npm run --silent build && npm test --silent)
    if git rev-parse --git-dir >/dev/null 2>&1 && [[ -n "$(git status --porcelain -- web/dist)" ]]; then
        git status --short -- web/dist
        echo "web/dist differs from what web/src builds to: run (cd web && npm run build) and commit it" >&2
        exit 1
    fi
else
    echo "web/node_modules missing: skipping (scripts/install-deps.sh runs npm ci in web/)"
fi

# Ignored tests are the slow CPU conformance runs: they must run in release.
step "cargo nextest run --workspace --release --run-ignored all"
# nextest's summary is kept, to be repeated as the run's last line (the doc tests and
# the ARM build print after it).
nextest_log="$(mktemp)"
trap 'rm -f "$nextest_log"' EXIT
cargo nextest run --workspace --release --run-ignored all 2>&1 | tee "$nextest_log"

step "cargo test --workspace --doc --release"
cargo test --workspace --doc --release

step "scripts/nostd-build.sh"
scripts/nostd-build.sh

# The same black-box suite against the firmware's Cortex-M4 image under QEMU (one test
# at a time: each runs an emulated CPU).
step "scripts/qemu-build.sh, then the hil-tests against the QEMU image"
image="$(scripts/qemu-build.sh)"
qemu_log="$(mktemp)"
trap 'rm -f "$nextest_log" "$qemu_log"' EXIT
ALTAIR_HIL_DEVICE=qemu ALTAIR_QEMU_IMAGE="$image" cargo nextest run --release \
    -p altair-hil-tests --test scenarios --test reliability --test term_client --test vdisk \
    --test-threads 1 2>&1 | tee "$qemu_log"

# The whole run's verdict, last: every step above stops the run on failure, so reaching
# here means the tests passed.
passed="$(sed -n 's/.* tests run: \([0-9][0-9]*\) passed.*/\1/p' "$nextest_log" | tail -n 1)"
on_qemu="$(sed -n 's/.* tests run: \([0-9][0-9]*\) passed.*/\1/p' "$qemu_log" | tail -n 1)"
echo
echo "tests: $(( ${passed:-0} + ${on_qemu:-0} )) passed (${on_qemu:-0} of them against the QEMU image), 0 failed"
