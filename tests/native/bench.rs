//! The engine benchmark's figures (`benches/engine/figures.rs`) run once each with a fake clock,
//! so a change that breaks a figure's set-up fails here, not first in a benchmark run.

#[path = "../../benches/engine/figures.rs"]
mod figures;

#[test]
fn every_figure_runs_and_the_restore_snapshot_leaves_the_history_out() {
    let mut t = 0.0;
    let mut clock = || {
        t += 1.0;
        t
    };
    let figs = figures::run_only(3, &mut clock, "");
    assert_eq!(figs.len(), 5);
    assert!(figs[0].note.contains("(0 from the history)"), "{}", figs[0].note);
    assert!(figs[1].note.starts_with("5.0 searches and 5.0 creates"), "{}", figs[1].note);
    assert!(figures::table(&figs).contains("| restore |"));
}
