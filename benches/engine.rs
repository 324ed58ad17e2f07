//! Engine benchmarks, natively: `cargo bench --bench engine [-- --iterations N --only NAME --json PATH]`.
//! Prints a Markdown table of medians (see `calltrail_core::engine::bench` for what each figure
//! times); `--json` also writes the figures for `scripts/bench-engine-wasm.mjs` to compare with
//! the same code in wasm.

use std::time::Instant;

use calltrail_core::engine::bench;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let iterations = value("--iterations").and_then(|s| s.parse().ok()).unwrap_or(15);
    let start = Instant::now();
    let mut clock = || start.elapsed().as_secs_f64() * 1e3;
    let only = value("--only").unwrap_or_default();
    let figures = bench::run_only(iterations, &mut clock, &only);
    println!("Engine, native ({}; {iterations} iterations)\n", std::env::consts::ARCH);
    print!("{}", bench::table(&figures));
    if let Some(path) = value("--json") {
        std::fs::write(&path, bench::to_json(&figures)).unwrap_or_else(|e| panic!("writing {path}: {e}"));
    }
}
