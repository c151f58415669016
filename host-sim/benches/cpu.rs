//! CPU benchmark: our 8080 core against the `intel8080` crate on the conformance programs
//! and on two programs assembled here: STACK, a loop of calls, returns, pushes and pops,
//! and OPCODES, a loop through 136 different opcodes.
//!
//! Each program runs in the CP/M `.COM` harness of reference.md section 1 (program at
//! 0x0100, BDOS at 0x0005 printing C = 2 / C = 9, end at PC = 0): on our core through
//! [`ComRunner`], then on the `intel8080` crate (a dev-dependency of this benchmark only)
//! through an equivalent loop. Every run's console output must equal
//! `expected/<name>.out` byte for byte and our instruction and state counts must equal
//! the reference table; otherwise the benchmark fails, because the speed of a wrong result
//! is meaningless. The table shows the best wall time of N runs, our emulated instructions
//! per second, and the ratio intel8080 time / our time. The two engines take turns, one
//! run each, so that both best runs come from the same stretches of a machine whose speed
//! drifts (on this project's machines by 30-40% for minutes at a time).
//!
//! Host instructions per 8080 instruction need callgrind (this machine class has no
//! hardware counters): `scripts/bench-cpu.sh` runs this benchmark and then callgrind.
//!
//! ```text
//! cargo bench -p altair-host-sim --bench cpu                  # CPUTEST, 8080EXM, STACK, OPCODES
//! cargo bench -p altair-host-sim --bench cpu -- CPUTEST       # one program
//! cargo bench -p altair-host-sim --bench cpu -- --ours-only   # skip the intel8080 side
//! cargo bench -p altair-host-sim --bench cpu -- --only-theirs CPUTEST
//! BENCH_RUNS=1 cargo bench -p altair-host-sim --bench cpu     # runs per program
//! ```
//!
//! The conformance programs come from `$ALTAIR_SHARED/cpu_tests`, else
//! `<workspace>/../shared/cpu_tests`; when neither exists the benchmark says so and runs
//! STACK and OPCODES alone.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use altair_firmware::cpm_com::{ComRunner, Status};

/// The `intel8080` version in host-sim's `[dev-dependencies]`, for the table heading.
const INTEL8080_VERSION: &str = "0.19.0";
/// Targets from the issue, reported against after the table.
const EXM_TARGET_SECONDS: f64 = 3.3;
const RATIO_TARGET: f64 = 5.0;

/// A benchmark program and the counts of a complete run (reference.md section 1 for the
/// conformance programs).
struct Program {
    name: &'static str,
    source: Source,
    instructions: u64,
    cycles: u64,
    /// Runs per engine unless `BENCH_RUNS` says otherwise.
    runs: usize,
    /// Benchmarked when no program is named on the command line.
    default: bool,
}

/// Where a program's image and expected console output come from.
#[derive(Clone, Copy)]
enum Source {
    /// `<name>.COM` and `expected/<name>.out` among the shared test programs.
    Shared,
    /// Assembled by the function; the program prints nothing.
    Built(fn() -> Vec<u8>),
}

const PROGRAMS: [Program; 6] = [
    Program {
        name: "TST8080",
        source: Source::Shared,
        instructions: 648,
        cycles: 4_894,
        runs: 3,
        default: false,
    },
    Program {
        name: "8080PRE",
        source: Source::Shared,
        instructions: 1_059,
        cycles: 7_797,
        runs: 3,
        default: false,
    },
    Program {
        name: "CPUTEST",
        source: Source::Shared,
        instructions: 33_971_128,
        cycles: 255_651_553,
        // About 35 ms a run: the best of 3 still caught this machine's slow moments.
        runs: 10,
        default: true,
    },
    Program {
        name: "8080EXM",
        source: Source::Shared,
        instructions: 2_919_050_420,
        cycles: 23_803_378_391,
        runs: 2,
        default: true,
    },
    Program {
        name: "STACK",
        source: Source::Built(stack_program),
        instructions: 41_976_003,
        cycles: 440_649_307,
        runs: 5,
        default: true,
    },
    Program {
        name: "OPCODES",
        source: Source::Built(opcodes_program),
        instructions: 74_973_220,
        cycles: 383_254_896,
        runs: 5,
        default: true,
    },
];

/// STACK: 64 x 65,536 passes of a loop that calls a subroutine (PUSH H, POP H, RET) and
/// pushes and pops BC and DE, so every POP and RET reads back a word stored a few
/// instructions before. Counted by hand, and held to the counts like the others:
///
/// ```text
///                            runs                 instructions  states (each run)
/// 0100  LXI SP,0000          once                 1             10
/// 0103  MVI D,64             once                 1              7
/// 0105  LXI B,0000           64                   1             10
/// 0108  CALL 011E            64 x 65,536          10           105
///       PUSH B, PUSH D, POP D, POP B, DCR C, JNZ 0108; at 011E PUSH H, POP H, RET
/// 0113  DCR B, JNZ 0108      64 x 256             2             15
/// 0117  DCR D, JNZ 0105      64                   2             15
/// 011B  JMP 0000             once                 1             10
/// ```
fn stack_program() -> Vec<u8> {
    vec![
        0x31, 0x00, 0x00, // 0100 LXI SP,0000
        0x16, 0x40, // 0103 MVI D,64
        0x01, 0x00, 0x00, // 0105 LXI B,0000
        0xCD, 0x1E, 0x01, // 0108 CALL 011E
        0xC5, // 010B PUSH B
        0xD5, // 010C PUSH D
        0xD1, // 010D POP D
        0xC1, // 010E POP B
        0x0D, // 010F DCR C
        0xC2, 0x08, 0x01, // 0110 JNZ 0108
        0x05, // 0113 DCR B
        0xC2, 0x08, 0x01, // 0114 JNZ 0108
        0x15, // 0117 DCR D
        0xC2, 0x05, 0x01, // 0118 JNZ 0105
        0xC3, 0x00, 0x00, // 011B JMP 0000
        0xE5, // 011E PUSH H
        0xE1, // 011F POP H
        0xC9, // 0120 RET
    ]
}

/// OPCODES: 8 x 65,536 passes of a loop through 136 different opcodes, each once, with no
/// branch among them: every MOV into B, C, D, E and A from each register and M, every MOV
/// M,r, the eight ALU operations on each register and M, INR and DCR of B, C, D, E, M and
/// A, INX and DCX of BC and DE, the four rotates, CMA, STC, CMC, DAA and NOP. HL stays at
/// 0300 for the M forms. What a program with much code in play costs, where the loops of
/// the conformance programs repeat a few opcodes. Counted by hand:
///
/// ```text
///                                   runs                instructions  states (each run)
/// 0100  LXI SP,0000; MVI A,8;       once                3             30
///       STA 0400
/// 0108  LXI H,0300                  8 x 65,536          1             10
/// 010B  the 136 opcodes             8 x 65,536          136          665
///       MOV r,r' 35 x 5, MOV r,M 5 x 7, MOV M,r 7 x 7, ALU r 56 x 4, ALU M 8 x 7,
///       INR/DCR r 10 x 5, INR/DCR M 2 x 10, INX/DCX 4 x 5, the other nine 9 x 4
/// 0193  LHLD 0402; DCX H; SHLD 0402;8 x 65,536          6             56
///       MOV A,H; ORA L; JNZ 0108
/// 019F  LDA 0400; DCR A; STA 0400;  8                   4             41
///       JNZ 0108
/// 01A7  JMP 0000                    once                1             10
/// ```
fn opcodes_program() -> Vec<u8> {
    // The 8080's register numbering (H = 4 and L = 5 stay out of the destinations).
    const B: u8 = 0;
    const C: u8 = 1;
    const D: u8 = 2;
    const E: u8 = 3;
    const M: u8 = 6;
    const A: u8 = 7;
    let mut code = vec![
        0x31, 0x00, 0x00, // 0100 LXI SP,0000
        0x3E, 0x08, // 0103 MVI A,8
        0x32, 0x00, 0x04, // 0105 STA 0400
        0x21, 0x00, 0x03, // 0108 LXI H,0300
    ];
    for dst in [B, C, D, E, A] {
        code.extend((0..8).map(|src| 0x40 | dst << 3 | src)); // MOV dst,src
    }
    code.extend((0..8).filter(|&src| src != M).map(|src| 0x70 | src)); // MOV M,src
    for alu in 0..8 {
        code.extend((0..8).map(|src| 0x80 | alu << 3 | src)); // ADD..CMP src
    }
    for reg in [B, C, D, E, M, A] {
        code.extend([0x04 | reg << 3, 0x05 | reg << 3]); // INR reg, DCR reg
    }
    code.extend([0x03, 0x0B, 0x13, 0x1B]); // INX B, DCX B, INX D, DCX D
    code.extend([0x07, 0x0F, 0x17, 0x1F, 0x2F, 0x37, 0x3F, 0x27, 0x00]); // RLC..DAA, NOP
    code.extend([
        0x2A, 0x02, 0x04, // LHLD 0402
        0x2B, // DCX H
        0x22, 0x02, 0x04, // SHLD 0402
        0x7C, // MOV A,H
        0xB5, // ORA L
        0xC2, 0x08, 0x01, // JNZ 0108
        0x3A, 0x00, 0x04, // LDA 0400
        0x3D, // DCR A
        0x32, 0x00, 0x04, // STA 0400
        0xC2, 0x08, 0x01, // JNZ 0108
        0xC3, 0x00, 0x00, // JMP 0000
    ]);
    code
}

/// Which engines run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Engines {
    Both,
    OursOnly,
    TheirsOnly,
}

/// The parsed command line.
struct Options {
    engines: Engines,
    /// Program names to run; empty means the default set.
    filter: Vec<String>,
    /// `BENCH_RUNS`, when set.
    runs: Option<usize>,
}

/// One complete run of a program.
struct Run {
    elapsed: Duration,
    output: Vec<u8>,
    instructions: u64,
    cycles: u64,
}

/// The best of N runs of one program on one engine.
struct Best {
    elapsed: Duration,
    instructions: u64,
    runs: usize,
}

/// One row of the table.
struct Row {
    name: &'static str,
    ours: Option<Best>,
    theirs: Option<Best>,
}

fn main() -> ExitCode {
    match bench() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn bench() -> Result<(), String> {
    let options = parse_options()?;
    let dir = programs_dir();
    let shared = dir.is_dir();
    let selected = select_programs(&options.filter)?;
    let mut rows = Vec::new();
    for program in selected {
        if matches!(program.source, Source::Shared) && !shared {
            println!(
                "skipping {}: CPU test programs not found at {} (set ALTAIR_SHARED)",
                program.name,
                dir.display()
            );
            continue;
        }
        rows.push(bench_program(&dir, program, &options)?);
    }
    print_table(&rows);
    print_targets(&rows);
    Ok(())
}

fn parse_options() -> Result<Options, String> {
    let mut engines = Engines::Both;
    let mut filter = Vec::new();
    for arg in env::args().skip(1) {
        match arg.as_str() {
            // `cargo bench` passes `--bench` to every benchmark binary.
            "--bench" => {}
            "--ours-only" => engines = Engines::OursOnly,
            "--only-theirs" => engines = Engines::TheirsOnly,
            flag if flag.starts_with('-') => {
                return Err(format!(
                    "unknown option {flag}; usage: cpu [--ours-only | --only-theirs] [PROGRAM...]"
                ));
            }
            name => filter.push(name.to_owned()),
        }
    }
    let runs = match env::var("BENCH_RUNS") {
        Ok(text) => Some(
            text.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("BENCH_RUNS={text:?} is not a positive integer"))?,
        ),
        Err(_) => None,
    };
    Ok(Options {
        engines,
        filter,
        runs,
    })
}

/// `$ALTAIR_SHARED/cpu_tests`, else `shared/cpu_tests` next to the workspace.
fn programs_dir() -> PathBuf {
    match env::var_os("ALTAIR_SHARED") {
        Some(shared) => PathBuf::from(shared).join("cpu_tests"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/cpu_tests"),
    }
}

fn select_programs(filter: &[String]) -> Result<Vec<&'static Program>, String> {
    if filter.is_empty() {
        return Ok(PROGRAMS.iter().filter(|p| p.default).collect());
    }
    filter
        .iter()
        .map(|name| {
            PROGRAMS
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    let known: Vec<_> = PROGRAMS.iter().map(|p| p.name).collect();
                    format!("unknown program {name:?}; known: {}", known.join(", "))
                })
        })
        .collect()
}

fn bench_program(dir: &Path, program: &'static Program, options: &Options) -> Result<Row, String> {
    let (image, expected) = match program.source {
        Source::Shared => (
            read(&dir.join(format!("{}.COM", program.name)))?,
            read(&dir.join("expected").join(format!("{}.out", program.name)))?,
        ),
        Source::Built(assemble) => (assemble(), Vec::new()),
    };
    let runs = options.runs.unwrap_or(program.runs);
    let mut ours = (options.engines != Engines::TheirsOnly).then(|| Side {
        engine: "ours",
        run: Box::new(|| run_ours(&image)),
        best: None,
    });
    let mut theirs = (options.engines != Engines::OursOnly).then(|| Side {
        engine: "intel8080",
        run: Box::new(|| run_theirs(&image)),
        best: None,
    });
    for i in 1..=runs {
        for side in [ours.as_mut(), theirs.as_mut()].into_iter().flatten() {
            side.run_once(program, i, runs, &expected)?;
        }
    }
    Ok(Row {
        name: program.name,
        ours: ours.and_then(|side| side.best),
        theirs: theirs.and_then(|side| side.best),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// One engine's runs of one program: how to run it, and its fastest run so far.
struct Side<'a> {
    engine: &'static str,
    run: Box<dyn FnMut() -> Result<Run, String> + 'a>,
    best: Option<Best>,
}

impl Side<'_> {
    /// Run `i` of `runs`: runs the program once, checks it, and keeps it if fastest.
    fn run_once(
        &mut self,
        program: &Program,
        i: usize,
        runs: usize,
        expected: &[u8],
    ) -> Result<(), String> {
        let (name, engine) = (program.name, self.engine);
        eprint!("{name} on {engine}: run {i}/{runs} ... ");
        let result = (self.run)().map_err(|e| format!("{name} on {engine}: {e}"))?;
        eprintln!("{}", seconds(result.elapsed));
        check(program, engine, &result, expected)?;
        if self
            .best
            .as_ref()
            .is_none_or(|b| result.elapsed < b.elapsed)
        {
            self.best = Some(Best {
                elapsed: result.elapsed,
                instructions: result.instructions,
                runs,
            });
        }
        if i == 1 {
            // Machine-readable, for scripts/bench-cpu.sh under callgrind.
            eprintln!(
                "{engine} {name}: instructions={} cycles={}",
                result.instructions, result.cycles
            );
        }
        Ok(())
    }
}

/// Fails unless the output is byte-exact and the counts match the reference table. The
/// intel8080 crate's state counts are its own business: only its instruction count is
/// held to the table.
fn check(program: &Program, engine: &str, run: &Run, expected: &[u8]) -> Result<(), String> {
    let name = program.name;
    if run.output != expected {
        return Err(format!(
            "{name} on {engine}: output differs from expected/{name}.out ({} bytes vs {}); \
             first difference at byte {}",
            run.output.len(),
            expected.len(),
            first_difference(&run.output, expected)
        ));
    }
    if run.instructions != program.instructions {
        return Err(format!(
            "{name} on {engine}: {} instructions, expected {}",
            run.instructions, program.instructions
        ));
    }
    if engine == "ours" && run.cycles != program.cycles {
        return Err(format!(
            "{name} on {engine}: {} states, expected {}",
            run.cycles, program.cycles
        ));
    }
    Ok(())
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// One run on our core, timed from the first instruction to the jump to 0.
fn run_ours(image: &[u8]) -> Result<Run, String> {
    let mut runner = ComRunner::new(image).map_err(|e| e.to_string())?;
    let mut output = Vec::with_capacity(64 * 1024);
    let start = Instant::now();
    let status = runner.run_to_end(&mut |byte| output.push(byte));
    let elapsed = start.elapsed();
    if status != Status::Finished {
        return Err(format!("stopped with {status:?}"));
    }
    Ok(Run {
        elapsed,
        output,
        instructions: runner.cpu().instructions,
        cycles: runner.cpu().cycles,
    })
}

/// One run on the `intel8080` crate, in the harness its own `cpmrun` example uses: RET at
/// 0x0005, the BDOS served when PC reaches 0x0005, the end when PC reaches 0. SP starts
/// at 0 as in [`ComRunner`].
fn run_theirs(image: &[u8]) -> Result<Run, String> {
    use intel8080::cpu::CPU;

    if image.len() > 0x1_0000 - 0x100 {
        return Err(format!("program is {} bytes, too large", image.len()));
    }
    let mut cpu = CPU::new(0xFFFF);
    cpu.bus
        .load_from_vec(image.to_vec(), 0x100)
        .map_err(|e| e.to_string())?;
    cpu.bus.write_byte(0x0005, 0xC9); // RET
    cpu.pc = 0x100;
    cpu.sp = 0;
    let mut output = Vec::with_capacity(64 * 1024);
    let mut instructions = 0u64;
    let mut cycles = 0u64;
    let start = Instant::now();
    loop {
        let states = cpu.execute();
        if states == 0 {
            return Err(format!("halted at {:#06x}", cpu.pc.wrapping_sub(1)));
        }
        cycles += u64::from(states);
        instructions += 1;
        match cpu.pc {
            0x0000 => break,
            0x0005 => theirs_bdos(&cpu, &mut output),
            _ => {}
        }
    }
    Ok(Run {
        elapsed: start.elapsed(),
        output,
        instructions,
        cycles,
    })
}

fn theirs_bdos(cpu: &intel8080::cpu::CPU, output: &mut Vec<u8>) {
    match cpu.reg.c {
        2 => output.push(cpu.reg.e),
        9 => {
            let mut addr = cpu.reg.get_de();
            for _ in 0..0x1_0000u32 {
                let byte = cpu.bus.read_byte(addr);
                if byte == b'$' {
                    break;
                }
                output.push(byte);
                addr = addr.wrapping_add(1);
            }
        }
        _ => {}
    }
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "wall time is the best of N runs, the engines in turns; intel8080 is the crate, version {INTEL8080_VERSION}"
    );
    println!(
        "{:<8} {:>4} {:>10} {:>14} {:>10} {:>8}",
        "program", "N", "ours", "ours Minstr/s", "intel8080", "ratio"
    );
    for row in rows {
        let any = row.ours.as_ref().or(row.theirs.as_ref());
        println!(
            "{:<8} {:>4} {:>10} {:>14} {:>10} {:>8}",
            row.name,
            any.map_or(0, |b| b.runs),
            row.ours.as_ref().map_or("-".into(), |b| seconds(b.elapsed)),
            row.ours
                .as_ref()
                .map_or("-".into(), |b| format!("{:.1}", per_second(b))),
            row.theirs
                .as_ref()
                .map_or("-".into(), |b| seconds(b.elapsed)),
            ratio(row).map_or("-".into(), |r| format!("{r:.2}x")),
        );
    }
}

/// Emulated 8080 instructions per second, in millions.
fn per_second(best: &Best) -> f64 {
    best.instructions as f64 / best.elapsed.as_secs_f64() / 1e6
}

/// Seconds, or milliseconds or microseconds for the short programs.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    match s {
        s if s >= 1.0 => format!("{s:.3} s"),
        s if s >= 1e-3 => format!("{:.2} ms", s * 1e3),
        s => format!("{:.1} us", s * 1e6),
    }
}

/// intel8080 time / our time.
fn ratio(row: &Row) -> Option<f64> {
    let ours = row.ours.as_ref()?.elapsed.as_secs_f64();
    let theirs = row.theirs.as_ref()?.elapsed.as_secs_f64();
    Some(theirs / ours)
}

fn print_targets(rows: &[Row]) {
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!();
    // The targets are about the two long programs; the short ones are smoke tests.
    let targeted = rows
        .iter()
        .filter(|row| matches!(row.name, "CPUTEST" | "8080EXM"));
    for row in targeted {
        if let (true, Some(ours)) = (row.name == "8080EXM", &row.ours) {
            let s = ours.elapsed.as_secs_f64();
            println!(
                "target 8080EXM <= {EXM_TARGET_SECONDS} s: {} ({s:.3} s)",
                verdict(s <= EXM_TARGET_SECONDS)
            );
        }
        if let Some(r) = ratio(row) {
            println!(
                "target {} >= {RATIO_TARGET}x intel8080: {} ({r:.2}x)",
                row.name,
                verdict(r >= RATIO_TARGET)
            );
        }
    }
    println!("host instructions per 8080 instruction: scripts/bench-cpu.sh (callgrind)");
}
