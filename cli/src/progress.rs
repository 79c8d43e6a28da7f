//! Progress on stderr for the long steps (evaluating, calibrating), drawn
//! only on a terminal.

use std::io::IsTerminal;

/// A progress bar on stderr, drawn only when a person is watching (not in
/// pipes, tests or `--quiet`).
pub(crate) fn progress_bar(len: u64, what: &str, quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("  {msg} {bar:30} {pos}/{len} images, {eta} left")
    {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}

/// A spinner on stderr for a step with no count (calibrating), drawn only
/// on a terminal; clear it with `finish_and_clear`.
pub(crate) fn spinner(what: String) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let s = indicatif::ProgressBar::new_spinner();
    s.set_message(what);
    s.enable_steady_tick(std::time::Duration::from_millis(120));
    s
}
