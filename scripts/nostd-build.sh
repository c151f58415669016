#!/usr/bin/env bash
# Builds `altair-firmware` for the device target (thumbv7em-none-eabihf, Cortex-M4F) in
# release with warnings denied, then links it into scripts/nostd-probe and prints a size
# report (sections, static RAM, code size, largest RAM symbols).
#
# It builds with scripts/arm-toolchain.sh (Debian's Rust with build-std; see there).
#
# Usage: scripts/nostd-build.sh   (from anywhere; exits non-zero if a build fails)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PROBE_DIR="$ROOT/scripts/nostd-probe"
PROBE_BIN=altair-nostd-probe
# shellcheck source=scripts/arm-toolchain.sh
source "$ROOT/scripts/arm-toolchain.sh"

echo "--- $("$DEB_RUSTC" --version) / $("$DEB_CARGO" --version)"

echo "--- building altair-firmware for $TARGET (release, -D warnings)"
xcargo build --release -p altair-firmware

echo "--- linking scripts/nostd-probe against it"
# The probe has its own Cargo.lock (it is its own workspace). Seed it from the main
# workspace's lock whenever that one is newer, so the firmware's dependencies are built
# at the same versions as in the host build; cargo drops the host-only entries and adds
# cortex-m's. The probe's lock is therefore derived, and git-ignored.
if [[ -f "$ROOT/Cargo.lock" && ( ! -f "$PROBE_DIR/Cargo.lock" || "$ROOT/Cargo.lock" -nt "$PROBE_DIR/Cargo.lock" ) ]]; then
    cp "$ROOT/Cargo.lock" "$PROBE_DIR/Cargo.lock"
fi
xcargo build --release --manifest-path "$PROBE_DIR/Cargo.toml"

ELF="$TARGET_DIR/$TARGET/release/$PROBE_BIN"
if [[ ! -f "$ELF" ]]; then
    echo "error: probe image $ELF was not produced" >&2
    exit 1
fi

# ---------------------------------------------------------------- size report
first_tool() {
    local t
    for t in "$@"; do
        if command -v "$t" >/dev/null 2>&1; then
            echo "$t"
            return 0
        fi
    done
    return 1
}

SIZE_TOOL="$(first_tool arm-none-eabi-size llvm-size-22 llvm-size rust-size || true)"
NM_TOOL="$(first_tool arm-none-eabi-nm llvm-nm-22 llvm-nm rust-nm || true)"

# Prints "name size" (decimal) for every section of the ELF.
section_table() {
    if [[ -n "$SIZE_TOOL" ]]; then
        # `size -A`: "name size addr" rows between a header and a Total line.
        "$SIZE_TOOL" -A -d "$ELF" | awk '$1 ~ /^\./ && $2 ~ /^[0-9]+$/ { print $1, $2 }'
    else
        # readelf -SW: "[Nr] Name Type Address Off Size ..." with hex sizes.
        local name _type _addr _off size _rest
        readelf -SW "$ELF" | sed -n 's/^ *\[ *[0-9]*\] *//p' |
            while read -r name _type _addr _off size _rest; do
                if [[ "$name" == .* ]]; then echo "$name $((16#$size))"; fi
            done
    fi
}

SECTIONS="$(section_table)"
section_size() {
    awk -v s="$1" '$1 == s { n += $2 } END { print n + 0 }' <<<"$SECTIONS"
}

TEXT=$(section_size .text)
RODATA=$(section_size .rodata)
DATA=$(section_size .data)
BSS=$(section_size .bss)
VECTORS=$(section_size .vector_table)

echo
echo "=== size report: $ELF"
echo "    (tool: ${SIZE_TOOL:-readelf}; probe entry in scripts/nostd-probe/src/main.rs)"
printf '  %-14s %10s bytes\n' \
    .vector_table "$VECTORS" \
    .text "$TEXT" \
    .rodata "$RODATA" \
    .data "$DATA" \
    .bss "$BSS"
echo "static RAM (.data+.bss) = $((DATA + BSS)) bytes"
echo "code size (.text+.rodata) = $((TEXT + RODATA)) bytes"

# A fresh machine must be all zero bits so it lands in .bss: in .data its 64 KiB of guest
# memory would also be copied from a 64 KiB initializer in flash.
DATA_LIMIT=4096
if (( DATA > DATA_LIMIT )); then
    echo "error: .data is $DATA bytes (limit $DATA_LIMIT): something in Altair::new() is not" >&2
    echo "       all-zero (often an Option whose None uses a niche); see the symbols below" >&2
    data_too_big=1
fi

echo
echo "=== 10 largest symbols in .bss/.data"
if [[ -n "$NM_TOOL" ]]; then
    # -S prints sizes (decimal with -t d); b/B are .bss, d/D are .data.
    # Columns: addr size type name... (awk, not head, ends it: no SIGPIPE under pipefail).
    "$NM_TOOL" -C -S -t d --size-sort --reverse-sort "$ELF" |
        awk '$3 ~ /^[bBdD]$/ && shown < 10 {
                name = $4; for (i = 5; i <= NF; i++) name = name " " $i
                printf "  %10d  %s  %s\n", $2 + 0, ($3 ~ /[bB]/ ? ".bss " : ".data"), name
                shown++
             }'
else
    echo "  (no nm found: install binutils-arm-none-eabi or llvm)"
fi

if [[ -n "${data_too_big:-}" ]]; then
    exit 1
fi
