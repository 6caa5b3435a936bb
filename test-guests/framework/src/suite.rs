//! The running report: numbers the checks, counts them, prints each result
//! as it comes and ends the run with the summary and the verdict.
//!
//! The counts are global, not in [`Suite`], so that the panic handler and
//! the exception handler, which have no suite at hand, can still close the
//! report with the right summary.

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::exit::exit;
use crate::serial::Serial;
use crate::tap::{self, Outcome, Tally};

static PASSED: AtomicU32 = AtomicU32::new(0);
static FAILED: AtomicU32 = AtomicU32::new(0);

fn tally() -> Tally {
    Tally {
        passed: PASSED.load(Ordering::Relaxed),
        failed: FAILED.load(Ordering::Relaxed),
    }
}

/// The guest's report. [`run`](crate::run) makes the one a guest gets.
#[derive(Debug)]
pub struct Suite {
    _only_from_run: (),
}

impl Suite {
    pub(crate) fn new() -> Self {
        Self { _only_from_run: () }
    }

    /// Runs one check and reports it as the next numbered result; returns
    /// whether it passed, for checks that only make sense after another.
    /// `name` is text or `format_args!`; it should not contain `#`, which
    /// TAP reads as a directive.
    pub fn check(&mut self, name: impl fmt::Display, test: impl FnOnce() -> Outcome) -> bool {
        let outcome = test();
        let number = tally().next_number();
        match outcome {
            Ok(()) => PASSED.fetch_add(1, Ordering::Relaxed),
            Err(_) => FAILED.fetch_add(1, Ordering::Relaxed),
        };
        // Writing to the UART cannot fail.
        let _ = tap::write_result(&mut Serial, number, name, &outcome);
        outcome.is_ok()
    }

    /// A `# ` line: information that is not a check.
    pub fn note(&mut self, note: fmt::Arguments<'_>) {
        let _ = tap::write_note(&mut Serial, note);
    }

    /// Prints the summary and sends the verdict.
    pub fn finish(self) -> ! {
        finish()
    }
}

pub(crate) fn start(guest: &str) {
    let _ = tap::write_start(&mut Serial, guest);
}

/// Reports a failure outside any check (a panic, an exception nobody
/// expected), then whatever `details` prints, and ends the run.
pub(crate) fn abort(what: fmt::Arguments<'_>, details: impl FnOnce()) -> ! {
    FAILED.fetch_add(1, Ordering::Relaxed);
    let _ = tap::write_unnumbered_failure(&mut Serial, what);
    details();
    finish()
}

fn finish() -> ! {
    let tally = tally();
    let _ = tap::write_summary(&mut Serial, tally);
    exit(tally.verdict())
}
