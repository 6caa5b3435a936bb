//! The report format, kept free of hardware so it is tested on the host.
//!
//! A guest's serial output is, line by line:
//!
//! ```text
//! # tessera-guest: <guest> starting
//! ok 1 - <check name>
//! not ok 2 - <check name>: <why it failed>
//! # <a note: anything worth knowing that is not a check>
//! # tessera-guest: 1 passed, 1 failed
//! ```
//!
//! and then the verdict goes to the exit port: [`EXIT_PASS`] if no check
//! failed, [`EXIT_FAIL`] otherwise. A panic or an exception nobody expected
//! adds an unnumbered `not ok - panic: …` or `not ok - unexpected exception
//! …` line, counts as a failure and ends the run the same way. Each result
//! is one line: control characters in a detail become spaces.

use core::fmt::{self, Write};

pub use crate::failure::Failure;
pub use tessera_abi::vm::guest_ports::{EXIT_FAIL, EXIT_PASS};

/// What a check found: `Ok` or why not.
pub type Outcome = Result<(), Failure>;

/// The checks counted so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: u32,
    pub failed: u32,
}

impl Tally {
    /// The number the next check gets (checks count from 1).
    #[must_use]
    pub fn next_number(&self) -> u32 {
        self.passed + self.failed + 1
    }

    /// What to write to the exit port: a run without failures passes, even
    /// one without checks (the demo guest).
    #[must_use]
    pub fn verdict(&self) -> u32 {
        if self.failed == 0 {
            EXIT_PASS
        } else {
            EXIT_FAIL
        }
    }
}

/// `# tessera-guest: <guest> starting`.
pub fn write_start(out: &mut impl Write, guest: &str) -> fmt::Result {
    writeln!(out, "# tessera-guest: {guest} starting")
}

/// `ok N - name` or `not ok N - name: detail`.
pub fn write_result(
    out: &mut impl Write,
    number: u32,
    name: impl fmt::Display,
    outcome: &Outcome,
) -> fmt::Result {
    match outcome {
        Ok(()) => writeln!(out, "ok {number} - {name}"),
        Err(failure) => writeln!(out, "not ok {number} - {name}: {failure}"),
    }
}

/// `not ok - <what>`: a failure that is not a numbered check (a panic, an
/// unexpected exception).
pub fn write_unnumbered_failure(out: &mut impl Write, what: fmt::Arguments<'_>) -> fmt::Result {
    let detail = Failure::new(what);
    writeln!(out, "not ok - {detail}")
}

/// `# <note>`.
pub fn write_note(out: &mut impl Write, note: fmt::Arguments<'_>) -> fmt::Result {
    let note = Failure::new(note);
    writeln!(out, "# {note}")
}

/// `# tessera-guest: P passed, F failed`.
pub fn write_summary(out: &mut impl Write, tally: Tally) -> fmt::Result {
    writeln!(
        out,
        "# tessera-guest: {} passed, {} failed",
        tally.passed, tally.failed
    )
}

#[cfg(test)]
mod tests {
    use std::string::String;

    use super::*;
    use crate::fail;

    fn result_line(number: u32, name: &str, outcome: Outcome) -> String {
        let mut out = String::new();
        write_result(&mut out, number, name, &outcome).unwrap();
        out
    }

    #[test]
    fn a_passed_check_is_one_ok_line() {
        assert_eq!(result_line(1, "cpuid", Ok(())), "ok 1 - cpuid\n");
    }

    #[test]
    fn a_failed_check_carries_its_detail() {
        let line = result_line(12, "efer", fail!("got {:#x}", 0x500));
        assert_eq!(line, "not ok 12 - efer: got 0x500\n");
    }

    #[test]
    fn details_stay_on_one_line() {
        let line = result_line(3, "x", fail!("a\nb\r\tc"));
        assert_eq!(line, "not ok 3 - x: a b  c\n");
    }

    #[test]
    fn summary_and_verdict() {
        let mut out = String::new();
        let tally = Tally {
            passed: 16,
            failed: 1,
        };
        write_summary(&mut out, tally).unwrap();
        assert_eq!(out, "# tessera-guest: 16 passed, 1 failed\n");
        assert_eq!(tally.verdict(), 0x11);
        assert_eq!(tally.next_number(), 18);
        assert_eq!(Tally::default().verdict(), 0x10);
    }

    #[test]
    fn start_notes_and_unnumbered_failures() {
        let mut out = String::new();
        write_start(&mut out, "exits").unwrap();
        write_note(&mut out, format_args!("vendor {}", "AuthenticAMD")).unwrap();
        write_unnumbered_failure(&mut out, format_args!("panic: {}", "boom\nagain")).unwrap();
        assert_eq!(
            out,
            "# tessera-guest: exits starting\n# vendor AuthenticAMD\nnot ok - panic: boom again\n"
        );
    }
}
