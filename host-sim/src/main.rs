//! host-sim: placeholder entry point while the CLI is written.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = std::fs::read(&args[2]).unwrap();
    let mut r = altair_firmware::cpm_com::ComRunner::new(&prog).unwrap();
    let mut out = Vec::new();
    let t = std::time::Instant::now();
    let st = r.run_to_end(&mut |b| out.push(b));
    use std::io::Write;
    std::io::stdout().write_all(&out).unwrap();
    eprintln!(
        "\n{:?} instructions={} cycles={} {:?}",
        st,
        r.cpu().instructions,
        r.cpu().cycles,
        t.elapsed()
    );
}
