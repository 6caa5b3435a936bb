//! How a partition ended, and whether that is what its manifest expected.

use core::fmt;

use tessera_boot_plan::Expectation;

/// How a partition ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The guest wrote `EXIT_PASS` to the exit port.
    Passed,
    /// The guest wrote this other value to the exit port.
    Failed(u64),
    /// A triple fault (`UNRECOVERABLE_EXCEPTION`, SVM shutdown).
    TripleFault,
    /// `VMRUN` refused the VP's state (`UNRECOVERABLE_EXCEPTION` with exit
    /// code `u64::MAX`).
    InvalidState,
    /// An access outside the guest's mappings, or one its mapping's rights
    /// refuse (`UNMAPPED_GPA`, `GPA_INTERCEPT`).
    MemoryFault,
    /// `HLT` with interrupts disabled and nothing to wake it.
    Halted,
    /// The handler of one of its routes died (`TESSERA_HANDLER_DIED`).
    HandlerDied,
    /// An exit the kernel does not handle (`TESSERA_UNSUPPORTED`).
    Unsupported,
    /// The guest reported a crash through the Hv#1 crash MSRs
    /// (`TESSERA_GUEST_CRASH`).
    GuestCrash,
    /// The guest powered off through ACPI (S5 to the sleep control
    /// register).
    PoweredOff,
    /// An exit the manager has no meaning for.
    Unexpected,
    /// The manager could not build or start it.
    SetupFailed,
}

impl Outcome {
    /// The outcome of a write of `value` to the exit port.
    pub const fn of_exit_port(value: u64) -> Self {
        if value == tessera_abi::vm::guest_ports::EXIT_PASS as u64 {
            Self::Passed
        } else {
            Self::Failed(value)
        }
    }

    /// Whether this is the ending `expect` describes.
    pub const fn matches(self, expect: Expectation) -> bool {
        matches!(
            (self, expect),
            (Self::Passed, Expectation::Pass)
                | (Self::Failed(_), Expectation::Fail)
                | (Self::TripleFault, Expectation::TripleFault)
                | (Self::MemoryFault, Expectation::MemoryFault)
                | (Self::GuestCrash, Expectation::Crash)
                | (Self::PoweredOff, Expectation::PowerOff)
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Passed => f.write_str("passed"),
            Self::Failed(code) => write!(f, "failed with code {code:#x}"),
            Self::TripleFault => f.write_str("triple fault"),
            Self::InvalidState => f.write_str("invalid VP state"),
            Self::MemoryFault => f.write_str("memory fault"),
            Self::Halted => f.write_str("halted for good"),
            Self::HandlerDied => f.write_str("a handler died"),
            Self::Unsupported => f.write_str("unsupported exit"),
            Self::GuestCrash => f.write_str("guest crash"),
            Self::PoweredOff => f.write_str("powered off"),
            Self::Unexpected => f.write_str("unexpected exit"),
            Self::SetupFailed => f.write_str("setup failed"),
        }
    }
}

/// The line logged when a partition ends (after `partition NAME: `):
/// `OUTCOME (expected EXPECT): ok` or `…: MISMATCH`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judgement {
    pub outcome: Outcome,
    pub expect: Expectation,
}

impl Judgement {
    pub const fn ok(&self) -> bool {
        self.outcome.matches(self.expect)
    }
}

impl fmt::Display for Judgement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (expected {}): {}",
            self.outcome,
            self.expect.name(),
            if self.ok() { "ok" } else { "MISMATCH" }
        )
    }
}

/// How many judgements there are, and how many are ok.
pub fn tally(judgements: impl IntoIterator<Item = Judgement>) -> (usize, usize) {
    judgements
        .into_iter()
        .fold((0, 0), |(total, ok), judgement| {
            (total + 1, ok + usize::from(judgement.ok()))
        })
}

/// The deployment's result once every partition has ended: passed iff
/// every outcome matched its expectation, and there was something to run.
pub const fn passed((total, ok): (usize, usize)) -> bool {
    total > 0 && ok == total
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use tessera_abi::vm::guest_ports::{EXIT_FAIL, EXIT_PASS};

    const EVERY_OUTCOME: [Outcome; 13] = [
        Outcome::Passed,
        Outcome::Failed(EXIT_FAIL as u64),
        Outcome::Failed(0),
        Outcome::TripleFault,
        Outcome::InvalidState,
        Outcome::MemoryFault,
        Outcome::Halted,
        Outcome::HandlerDied,
        Outcome::Unsupported,
        Outcome::GuestCrash,
        Outcome::PoweredOff,
        Outcome::Unexpected,
        Outcome::SetupFailed,
    ];

    #[test]
    fn the_exit_port_value_decides_pass_or_fail() {
        assert_eq!(Outcome::of_exit_port(EXIT_PASS.into()), Outcome::Passed);
        assert_eq!(
            Outcome::of_exit_port(EXIT_FAIL.into()),
            Outcome::Failed(0x11)
        );
        assert_eq!(Outcome::of_exit_port(0), Outcome::Failed(0));
    }

    #[test]
    fn each_expectation_matches_exactly_its_outcomes() {
        for expect in Expectation::ALL {
            let matching: alloc::vec::Vec<_> = EVERY_OUTCOME
                .into_iter()
                .filter(|outcome| outcome.matches(expect))
                .collect();
            let expected: &[Outcome] = match expect {
                Expectation::Pass => &[Outcome::Passed],
                Expectation::Fail => &[Outcome::Failed(0x11), Outcome::Failed(0)],
                Expectation::TripleFault => &[Outcome::TripleFault],
                Expectation::MemoryFault => &[Outcome::MemoryFault],
                Expectation::Crash => &[Outcome::GuestCrash],
                Expectation::PowerOff => &[Outcome::PoweredOff],
            };
            assert_eq!(matching, expected, "{expect:?}");
        }
    }

    #[test]
    fn setup_failures_and_dead_handlers_never_match() {
        for expect in Expectation::ALL {
            assert!(!Outcome::SetupFailed.matches(expect));
            assert!(!Outcome::HandlerDied.matches(expect));
            assert!(!Outcome::Unexpected.matches(expect));
        }
    }

    #[test]
    fn judgements_read_as_one_line() {
        let judgement = Judgement {
            outcome: Outcome::Passed,
            expect: Expectation::Pass,
        };
        assert_eq!(format!("{judgement}"), "passed (expected pass): ok");
        let judgement = Judgement {
            outcome: Outcome::Failed(0x11),
            expect: Expectation::TripleFault,
        };
        assert_eq!(
            format!("{judgement}"),
            "failed with code 0x11 (expected triple-fault): MISMATCH"
        );
        let judgement = Judgement {
            outcome: Outcome::MemoryFault,
            expect: Expectation::MemoryFault,
        };
        assert_eq!(
            format!("{judgement}"),
            "memory fault (expected memory-fault): ok"
        );
        let judgement = Judgement {
            outcome: Outcome::GuestCrash,
            expect: Expectation::Crash,
        };
        assert_eq!(format!("{judgement}"), "guest crash (expected crash): ok");
    }

    #[test]
    fn the_deployment_passes_only_if_everything_matched() {
        let ok = Judgement {
            outcome: Outcome::TripleFault,
            expect: Expectation::TripleFault,
        };
        let bad = Judgement {
            outcome: Outcome::SetupFailed,
            expect: Expectation::Pass,
        };
        assert_eq!(tally([ok, ok]), (2, 2));
        assert!(passed(tally([ok, ok])));
        assert_eq!(tally([ok, bad]), (2, 1));
        assert!(!passed(tally([ok, bad])));
        assert_eq!(tally([]), (0, 0));
        assert!(!passed(tally([])), "nothing ran: not a pass");
    }
}
