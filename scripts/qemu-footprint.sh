#!/usr/bin/env bash
# The QEMU image's footprint against the device budget (RAM at most 160 KiB with the
# 64 KiB of guest memory, flash at most 256 KiB without any disk image): its sections,
# static RAM, flash, the largest statics, and the peak stack measured by booting it
# (hil-tests/benches/footprint.rs, stack painting). The linker already refuses an image
# whose sections outgrow the budget (build.rs declares 256 KiB of flash and 160 KiB of RAM).
#
# Usage: scripts/qemu-footprint.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

image="$(scripts/qemu-build.sh)"
size() { arm-none-eabi-size -A "$image" | awk -v s="$1" '$1 == s { print $2 }'; }
text=$(size .text); rodata=$(size .rodata); data=$(size .data); bss=$(size .bss)
vectors=$(size .vector_table)
echo "--- $image"
printf '%-14s %9s bytes\n' .vector_table "$vectors" .text "$text" .rodata "$rodata" \
    .data "$data" .bss "$bss"
flash=$((vectors + text + rodata + data))
ram=$((data + bss))
awk -v f="$flash" -v r="$ram" 'BEGIN {
    printf "flash (vectors + .text + .rodata + .data): %d bytes = %.1f KiB of 256 KiB\n", f, f / 1024
    printf "static RAM (.data + .bss): %d bytes = %.1f KiB of 160 KiB (the rest is stack)\n", r, r / 1024
}'
echo "--- largest statics"
arm-none-eabi-nm --size-sort -S -C "$image" | awk '$3 ~ /[bBdD]/' | tail -8
echo "--- stack"
cargo bench -q -p altair-hil-tests --bench footprint 2>/dev/null | tail -1
