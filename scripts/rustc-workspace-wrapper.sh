#!/usr/bin/env bash
# Cargo's workspace rustc wrapper (.cargo/config.toml): runs rustc unchanged, except for
# the executables of the host-sim package (`host-sim` and its CPU benchmark, which must
# measure what users run) for x86-64 Linux. Those are built:
#
# 1. Position-dependent (non-PIE). host-sim's 8080 loop dispatches every instruction
#    through the `match`'s jump table. In a PIE executable that table holds 32-bit
#    offsets, so each dispatch costs a load, an add and an indirect jump and keeps the
#    table's address in a register; in a non-PIE one it is `jmp *table(,%reg,8)`.
#    Measured on CPUTEST under callgrind: 13.6 -> 11.6 host instructions per 8080
#    instruction. What it costs: host-sim's own code and data load at a fixed address
#    (its libraries, heap and stack are still randomised).
# 2. With every block that is only reached by a jump starting a 64-byte line
#    (`-align-all-nofallthru-blocks=6`: the dispatch and every `match` arm). Without it
#    the loop's speed depends on where the linker happens to put it. Two builds of one
#    commit, cloned into directories with names of different lengths (file paths in the
#    binary move the code), ran 8080EXM in 4.8 s and 6.6 s: in the slower one the
#    27-byte dispatch blocks straddle 64-byte lines. Aligned: 4.0 s, whatever the
#    directory. The padding after unconditional jumps is never executed; the binary
#    grows about 5%.
# 3. With blocks of up to 16 instructions copied into the blocks that jump to them
#    (`-tail-dup-size=16`, after register allocation; LLVM's default is 2): the 8080
#    loop's dispatch, fetch to indirect jump, then ends every `match` arm, which is
#    threaded code. Each arm's own jump lets the host predict which instruction
#    follows which. 8080EXM 20% faster, CP/M's assemblers 17% faster, the BASIC
#    interpreters 2-8% slower; why and how: firmware/src/cpu/execute.rs and
#    docs/cpu-performance.md.
#
# 2 and 3 are LLVM options, not rustc's: applied only when this rustc's LLVM accepts
# them.
#
# Measurements: docs/cpu-performance.md. Only those executables: libraries, proc-macros,
# build scripts, tests, the other tools and every cross build (the device firmware) are
# compiled exactly as without the wrapper. The flags cannot go in RUSTFLAGS: there they
# reach proc-macro crates, which are shared objects and fail to link.
#
# Cargo calls it as `WRAPPER RUSTC ARGS...` (with clippy-driver in place of RUSTC under
# `cargo clippy`, where code generation does not matter).
# bash, not sh: dash drops environment variables whose names are not identifiers, such as
# the CARGO_BIN_EXE_host-sim that integration tests are compiled with.
set -eu

is_host_sim_bin=0
crate_type=bin
crate_name=""
target=""
tests=0
previous=""
for arg in "$@"; do
    case "$previous" in
        --crate-type) crate_type="$arg" ;;
        --crate-name) crate_name="$arg" ;;
        --target) target="$arg" ;;
    esac
    [ "$arg" = --test ] && tests=1
    previous="$arg"
done
# An executable of the package (rustc's default crate type is bin; benchmarks get no
# --crate-type), not a test harness or a build script.
if [ "${CARGO_PKG_NAME:-}" = altair-host-sim ] && [ "$crate_type" = bin ] && [ "$tests" = 0 ] &&
    [ "${crate_name#build_script_}" = "$crate_name" ]; then
    case "$target" in
        "" | x86_64-unknown-linux-gnu)
            if [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ]; then
                is_host_sim_bin=1
            fi
            ;;
    esac
fi

if [ "$is_host_sim_bin" = 1 ]; then
    layout=(-C llvm-args=-align-all-nofallthru-blocks=6 -C llvm-args=-tail-dup-size=16)
    # LLVM rejects options it does not know, and `--print cfg` initialises it.
    if ! "$1" "${layout[@]}" --print cfg >/dev/null 2>&1; then
        layout=()
    fi
    exec "$@" -C relocation-model=static "${layout[@]}"
fi
exec "$@"
