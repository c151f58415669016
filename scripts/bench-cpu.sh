#!/usr/bin/env bash
# The CPU benchmark: wall time and the intel8080 comparison, then host instructions per
# 8080 instruction under callgrind (this machine class has no hardware counters).
#
#   scripts/bench-cpu.sh [--callgrind-only] [--ours-only] [--exm] [PROGRAM...]
#
# 1. Builds host-sim and the benchmark (host-sim/benches/cpu.rs) in release.
# 2. Runs the benchmark (skipped with --callgrind-only): CPUTEST, 8080EXM, STACK and
#    OPCODES, or the PROGRAMs named, on our core and on the `intel8080` crate, with the
#    ratio.
#    BENCH_RUNS=N overrides the number of runs per program; --ours-only skips intel8080.
#    Then, when no PROGRAM is named, two sessions through `host-sim run` (best of 3):
#    8K BASIC's arithmetic loop, and CP/M assembling a file 80 times with ASM and MAC.
#    They run the machine's bus, as users do, where the programs above use the .COM
#    harness.
# 3. Runs CPUTEST under `valgrind --tool=callgrind` on the release host-sim binary and
#    divides the host instructions by the 8080 instructions host-sim reports with
#    --stats (`instructions=N` on stderr). Then the same for the intel8080 crate's
#    harness (the benchmark binary with --only-theirs), unless --ours-only. With --exm,
#    the same for 8080EXM (slow: minutes for ours, far longer for intel8080).
#
# The programs come from $ALTAIR_SHARED/cpu_tests, else ../shared/cpu_tests (STACK and
# OPCODES are assembled in the benchmark), and 8K BASIC and CP/M from disks/ beside
# them. host-sim is the one cargo builds (CARGO_TARGET_DIR is honoured).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# rustup's toolchain first, as in scripts/test.sh.
if [[ -n "${HOME:-}" && -d "$HOME/.cargo/bin" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

# 8080 instruction counts of complete runs (reference.md section 1), used only when
# host-sim does not report its own.
readonly CPUTEST_INSTRUCTIONS=33971128
readonly EXM_INSTRUCTIONS=2919050420
readonly TARGET_HOST_PER_8080=12

run_bench=1
ours_only=0
exm=0
named=0
bench_args=()
for arg in "$@"; do
    case "$arg" in
        --callgrind-only) run_bench=0 ;;
        --ours-only) ours_only=1; bench_args+=("$arg") ;;
        --exm) exm=1 ;;
        -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) bench_args+=("$arg") ;;
        *) bench_args+=("$arg"); named=1 ;;
    esac
done

step() {
    echo
    echo "==> $*"
}

# Warns when an executable was not built as .cargo/config.toml's workspace wrapper
# builds host-sim and this benchmark on x86-64 Linux (a RUSTC_WORKSPACE_WRAPPER of the
# user's own replaces it, and the alignment needs an LLVM that knows the option):
# - position-independent (about 2 more host instructions per 8080 instruction): ELF
#   e_type, the 2 bytes at offset 16, is 3 (DYN) rather than 2 (EXEC);
# - without 64-byte block alignment, seen as an 8080 loop (`Cpu::run`) that does not
#   start on a 64-byte boundary (its wall time then depends on where it landed).
warn_if_not_wrapped() {
    local e_type address misaligned=0
    e_type="$(od -An -tu2 -j16 -N2 "$1" | tr -d ' ')"
    if [[ "$e_type" == 3 ]]; then
        echo "warning: $1 is a PIE executable; the figures are for a build without" \
            "scripts/rustc-workspace-wrapper.sh (is RUSTC_WORKSPACE_WRAPPER set?)" >&2
    fi
    for address in $(nm "$1" | awk '/cpu3Cpu3run/ {print $1}'); do
        if ((16#$address % 64)); then
            misaligned=1
        fi
    done
    if ((misaligned)); then
        echo "warning: $1 was built without 64-byte block alignment (see" \
            "scripts/rustc-workspace-wrapper.sh); its wall times depend on code placement" >&2
    fi
}

shared="${ALTAIR_SHARED:-$(cd .. && pwd)/shared}"
cpu_tests="$shared/cpu_tests"
if [[ ! -d "$cpu_tests" ]]; then
    echo "skipping: CPU test programs not found at $cpu_tests (set ALTAIR_SHARED)"
    exit 0
fi
export ALTAIR_SHARED="$shared"

step "cargo build --release -p altair-host-sim; cargo bench --no-run"
# executable KIND CARGO_ARGS...: builds with cargo and prints the path of the one
# executable of target kind KIND (bin, bench) it reports, wherever the target dir is.
executable() {
    local kind="$1" path
    shift
    path="$(
        cargo "$@" --message-format=json |
            grep "\"kind\":\[\"$kind\"\]" |
            grep -o '"executable":"[^"]*"' |
            sed 's/^"executable":"//; s/"$//'
    )"
    if [[ ! -x "$path" ]]; then
        echo "error: cargo $* built no $kind executable (got '$path')" >&2
        return 1
    fi
    echo "$path"
}
host_sim="$(executable bin build --release -p altair-host-sim --bin host-sim)"
bench_exe="$(executable bench bench -p altair-host-sim --bench cpu --no-run)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The last `instructions=N` a program wrote to stderr (valgrind's own lines excluded).
reported_instructions() {
    grep -v '^==[0-9]*==' "$1" | grep -o 'instructions=[0-9]*' | tail -n 1 | cut -d= -f2 || true
}

# bench_session NAME SETUP PATTERN COUNT INPUT HOST_SIM_RUN_ARGS...: times `host-sim run
# ARGS --stats` with INPUT (printf escapes) typed through a pipe, best of 3 by --stats
# (the whole session, of which the program's work is nearly all). The command SETUP runs
# before each run; each run must print a line matching PATTERN exactly COUNT times.
bench_session() {
    local name="$1" setup="$2" pattern="$3" count="$4" input="$5" run stats seconds found
    local best="" instructions=""
    shift 5
    warn_if_not_wrapped "$host_sim"
    step "$name: $host_sim run $* --stats"
    for run in 1 2 3; do
        "$setup"
        # About a second; a program that never asks for input would run for ever.
        # shellcheck disable=SC2059 # the input's \r escapes are for printf
        if ! printf "$input" | timeout 60 "$host_sim" run "$@" --stats \
            >"$work/session.out" 2>"$work/session.err"; then
            echo "error: host-sim run failed or ran past 60 s:" >&2
            cat "$work/session.err" >&2
            return 1
        fi
        found="$(grep -c -- "$pattern" "$work/session.out" || true)"
        if [[ "$found" != "$count" ]]; then
            echo "error: $name printed '$pattern' $found times, not $count; its output:" >&2
            tail -n 5 "$work/session.out" >&2
            return 1
        fi
        stats="$(grep -o 'instructions=.*' "$work/session.err" | tail -n 1)"
        seconds="$(grep -o 'seconds=[0-9.]*' <<<"$stats" | cut -d= -f2)"
        # The same input every run, so the same count; only the time varies.
        instructions="$(reported_instructions "$work/session.err")"
        echo "run $run/3: $stats"
        if [[ -z "$best" ]] || awk -v a="$seconds" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best="$seconds"
        fi
    done
    awk -v name="$name" -v n="$instructions" -v s="$best" 'BEGIN {
        printf "%s: %d 8080 instructions in %s s = %.1f M instr/s (best of 3)\n",
            name, n, s, n / s / 1e6
    }'
}

# 8K BASIC summing 20,000 square roots: one interpreter's arithmetic loop.
bench_basic() {
    local rom="$shared/disks/basic8k.bin"
    if [[ ! -f "$rom" ]]; then
        echo "skipping 8K BASIC: $rom not found"
        return 0
    fi
    bench_session "8K BASIC, FOR I=1 TO 20000: A=A+SQR(I)*2/3" true '1\.25713E+06' 1 \
        '\r\rY\r10 FOR I=1 TO 20000\r20 A=A+SQR(I)*2/3\r30 NEXT I\r40 PRINT A\rRUN\r' \
        --basic "$rom"
}

# A fresh copy of the CP/M disk for each run: SUBMIT and the assemblers write to it.
fresh_cpm_disk() {
    cp "$shared/disks/cpm63k.dsk" "$work/cpm63k.dsk"
}

# CP/M 2.2 assembling DEMO.ASM 40 times with ASM and 40 with MAC, from a SUBMIT file
# typed in with ED: two real programs with much more code in play than the loops above.
bench_assemblers() {
    local disk="$shared/disks/cpm63k.dsk" rom="$shared/disks/88dskrom.bin" input i
    if [[ ! -f "$disk" || ! -f "$rom" ]]; then
        echo "skipping CP/M assemblers: $disk or $rom not found"
        return 0
    fi
    input='ED BIG.SUB\rI\r'
    for ((i = 0; i < 40; i++)); do
        input+='ASM DEMO\rMAC DEMO\r'
    done
    input+='\032E\rSUBMIT BIG\r'
    bench_session "CP/M, ASM DEMO and MAC DEMO 40 times each" fresh_cpm_disk \
        'END OF ASSEMBLY' 80 "$input" --disk "A=$work/cpm63k.dsk" --rom "0xFF00=$rom"
}

if ((run_bench)); then
    warn_if_not_wrapped "$bench_exe"
    step "$bench_exe ${bench_args[*]}"
    "$bench_exe" "${bench_args[@]}"
    if ((!named)); then
        bench_basic
        bench_assemblers
    fi
fi

if ! command -v valgrind >/dev/null; then
    echo "skipping callgrind: valgrind not installed"
    exit 0
fi

# callgrind RESULT_NAME COMMAND...: runs COMMAND under callgrind with stdout in
# $work/RESULT_NAME.out and stderr (the program's and valgrind's) in $work/RESULT_NAME.err,
# and prints the host instructions it executed. Fails with the command, showing its stderr.
callgrind() {
    local name="$1"
    shift
    if ! valgrind --tool=callgrind --callgrind-out-file="$work/$name.callgrind" "$@" \
        >"$work/$name.out" 2>"$work/$name.err"; then
        grep -v '^==[0-9]*==' "$work/$name.err" >&2 || true
        return 1
    fi
    sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p' "$work/$name.err"
}

ratio() {
    awk -v h="$1" -v i="$2" 'BEGIN { printf "%.2f", h / i }'
}

# callgrind_ours PROGRAM EXPECTED_8080_INSTRUCTIONS
callgrind_ours() {
    local program="$1" expected="$2" com="$cpu_tests/$1.COM" host emulated
    warn_if_not_wrapped "$host_sim"
    step "valgrind --tool=callgrind $host_sim com $com --stats"
    if host="$(callgrind ours "$host_sim" com "$com" --stats)"; then
        emulated="$(reported_instructions "$work/ours.err")"
    else
        echo "warning: host-sim failed with --stats; retrying without it" >&2
        host="$(callgrind ours "$host_sim" com "$com")"
        emulated=""
    fi
    if [[ -z "$emulated" ]]; then
        echo "warning: host-sim did not report instructions=N; using $expected" >&2
        emulated="$expected"
    elif [[ "$emulated" != "$expected" ]]; then
        echo "warning: host-sim ran $emulated 8080 instructions, expected $expected" >&2
    fi
    if ! cmp -s "$work/ours.out" "$cpu_tests/expected/$program.out"; then
        echo "warning: host-sim's output differs from expected/$program.out" >&2
    fi
    echo "host instructions $host, 8080 instructions $emulated"
    echo "callgrind: $program host instructions per 8080 instruction =" \
        "$(ratio "$host" "$emulated") (target <= $TARGET_HOST_PER_8080)"
}

# callgrind_theirs PROGRAM: the intel8080 crate's harness inside the benchmark binary,
# which checks the output and reports `instructions=N` itself.
callgrind_theirs() {
    local program="$1" host emulated
    step "valgrind --tool=callgrind $bench_exe --only-theirs $program"
    host="$(BENCH_RUNS=1 callgrind theirs "$bench_exe" --only-theirs "$program")"
    emulated="$(reported_instructions "$work/theirs.err")"
    echo "host instructions $host, 8080 instructions $emulated"
    echo "callgrind: $program host instructions per 8080 instruction (intel8080 crate) =" \
        "$(ratio "$host" "$emulated")"
}

callgrind_ours CPUTEST "$CPUTEST_INSTRUCTIONS"
((ours_only)) || callgrind_theirs CPUTEST
if ((exm)); then
    callgrind_ours 8080EXM "$EXM_INSTRUCTIONS"
    ((ours_only)) || callgrind_theirs 8080EXM
fi
