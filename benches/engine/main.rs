//! Engine benchmarks, natively: `cargo bench --bench engine [-- --iterations N --only NAME]`.
//! Prints a Markdown table of medians (see `figures.rs` for what each figure times).

use std::time::Instant;

mod figures;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let iterations = value("--iterations").and_then(|s| s.parse().ok()).unwrap_or(15);
    let start = Instant::now();
    let mut clock = || start.elapsed().as_secs_f64() * 1e3;
    let only = value("--only").unwrap_or_default();
    let figures = figures::run_only(iterations, &mut clock, &only);
    println!("Engine, native ({}; {iterations} iterations)\n", std::env::consts::ARCH);
    print!("{}", figures::table(&figures));
}
