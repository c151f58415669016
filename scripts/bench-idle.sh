#!/usr/bin/env bash
# Measures what host-sim costs while CP/M sits at its A> prompt with no input: the CPU
# share of a core over a window, flat out and at --mhz 2; and the effective clock rate
# of a paced boot. Needs ../shared (or ALTAIR_SHARED) for the boot ROM and disk.
#   scripts/bench-idle.sh [SECONDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -n "${HOME:-}" && -d "$HOME/.cargo/bin" ]]; then export PATH="$HOME/.cargo/bin:$PATH"; fi

window=${1:-10}
shared=${ALTAIR_SHARED:-../shared}
if [[ ! -f "$shared/disks/cpm63k.dsk" ]]; then
    echo "skipping: $shared/disks/cpm63k.dsk not found (set ALTAIR_SHARED)"
    exit 0
fi
cargo build --release -q -p altair-host-sim
bin=$PWD/target/release/host-sim
work=$(mktemp -d)
trap 'rm -rf "$work"; kill $(jobs -p) 2>/dev/null || true' EXIT
cp "$shared/disks/cpm63k.dsk" "$work/" && chmod u+w "$work/cpm63k.dsk"
ticks_per_s=$(getconf CLK_TCK)

# CPU ticks (user + system) of a process, from /proc/PID/stat fields 14 and 15.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

idle_share() {
    local label=$1; shift
    mkfifo "$work/in"
    # The fifo stays open (nothing is written), so host-sim waits for keys forever.
    "$bin" run --rom "0xFF00=$shared/disks/88dskrom.bin" --disk "A=$work/cpm63k.dsk" "$@" \
        < "$work/in" > "$work/out" 2>/dev/null &
    local pid=$!
    exec 9> "$work/in"
    for _ in $(seq 100); do grep -q 'A>' "$work/out" 2>/dev/null && break; sleep 0.1; done
    grep -q 'A>' "$work/out" || { echo "$label: no A> prompt"; exit 1; }
    local t0 c0 t1 c1
    t0=$(date +%s.%N); c0=$(cpu_ticks $pid)
    sleep "$window"
    t1=$(date +%s.%N); c1=$(cpu_ticks $pid)
    exec 9>&-
    wait $pid || true
    rm -f "$work/in"
    awk -v l="$label" -v dc=$((c1 - c0)) -v hz="$ticks_per_s" -v t0="$t0" -v t1="$t1" \
        'BEGIN { printf "%-28s %6.2f%% of a core over %.1f s at the A> prompt\n", l, 100 * dc / hz / (t1 - t0), t1 - t0 }'
}

echo "== host-sim idle cost (window ${window} s)"
idle_share "flat out"
idle_share "--mhz 2" --mhz 2

echo "== pacing: boot to A> at --mhz 2"
: | "$bin" run --rom "0xFF00=$shared/disks/88dskrom.bin" --disk "A=$work/cpm63k.dsk" \
    --mhz 2 --stats 2>&1 >/dev/null | tail -1
