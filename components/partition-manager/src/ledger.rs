//! The manager's book of partitions: which badge is which partition, which
//! have ended and how, how often each was reset, and the deployment's
//! result once all have ended.

use alloc::vec::Vec;

use tessera_boot_plan::Expectation;
use tessera_rt::vm_exit::{ExitMessage, ExitReply};

use crate::lifecycle::{self, Decision, Effect};
use crate::outcome::{self, Judgement, Outcome};

/// Resets one partition may ask for before the manager gives up on it.
pub const MAX_RESETS: u32 = 16;

/// One partition's line in the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The badge its routes carry.
    pub badge: u64,
    pub expect: Expectation,
    pub ended: Option<Outcome>,
    /// Resets so far.
    pub resets: u32,
}

impl Entry {
    pub const fn new(badge: u64, expect: Expectation) -> Self {
        Self {
            badge,
            expect,
            ended: None,
            resets: 0,
        }
    }
}

/// What to do about an exit message.
// A step is made once per exit and consumed at once; boxing the decision
// (its reply holds a value for every register a reply may set) would cost
// a heap allocation per exit instead.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// No partition carries the badge: stop the VP.
    UnknownBadge,
    /// Partition `index` has already ended (with `outcome`): stop the VP.
    AfterEnd { index: usize, outcome: Outcome },
    /// Partition `index`'s exit, decided. With [`Effect::End`], the
    /// partition has ended and `judgement` is to be logged; with
    /// [`Effect::Reset`], it is to be reset after the reply.
    Decided {
        index: usize,
        decision: Decision,
        judgement: Option<Judgement>,
        /// The reset limit was reached: the reset was turned into an end.
        gave_up: bool,
    },
}

impl Step {
    /// The reply the VP gets.
    pub fn reply(&self) -> ExitReply {
        match self {
            Self::Decided { decision, .. } => decision.reply,
            _ => ExitReply::new().stop(),
        }
    }
}

/// The book.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    pub entries: Vec<Entry>,
}

impl Ledger {
    pub fn new(entries: impl IntoIterator<Item = Entry>) -> Self {
        Self {
            entries: entries.into_iter().collect(),
        }
    }

    /// The partition whose routes carry `badge`.
    pub fn find(&self, badge: u64) -> Option<usize> {
        self.entries.iter().position(|entry| entry.badge == badge)
    }

    /// Records that partition `index` ended with `outcome`; the judgement
    /// to log, or `None` if it had ended already (the first end counts).
    pub fn end(&mut self, index: usize, outcome: Outcome) -> Option<Judgement> {
        let entry = self.entries.get_mut(index)?;
        if entry.ended.is_some() {
            return None;
        }
        entry.ended = Some(outcome);
        Some(Judgement {
            outcome,
            expect: entry.expect,
        })
    }

    /// Decides about an exit message that came with `badge`, and books it.
    pub fn exit(&mut self, badge: u64, message: &ExitMessage, buffer: &[u64]) -> Step {
        let Some(index) = self.find(badge) else {
            return Step::UnknownBadge;
        };
        if let Some(outcome) = self.entries[index].ended {
            return Step::AfterEnd { index, outcome };
        }
        let mut decision = lifecycle::decide(message, buffer);
        let mut gave_up = false;
        let judgement = match decision.effect {
            Effect::Continue => None,
            Effect::End(outcome) => self.end(index, outcome),
            Effect::Reset if self.entries[index].resets >= MAX_RESETS => {
                gave_up = true;
                decision.effect = Effect::End(Outcome::Unexpected);
                self.end(index, Outcome::Unexpected)
            }
            Effect::Reset => {
                self.entries[index].resets += 1;
                None
            }
        };
        Step::Decided {
            index,
            decision,
            judgement,
            gave_up,
        }
    }

    pub fn all_ended(&self) -> bool {
        self.entries.iter().all(|entry| entry.ended.is_some())
    }

    /// `(partitions, ended as expected, pass)`: pass iff every partition
    /// has ended as expected, and there is at least one.
    pub fn result(&self) -> (usize, usize, bool) {
        let judgements = self.entries.iter().filter_map(|entry| {
            entry.ended.map(|outcome| Judgement {
                outcome,
                expect: entry.expect,
            })
        });
        let (ended, ok) = outcome::tally(judgements);
        let total = self.entries.len();
        (total, ok, ended == total && outcome::passed((ended, ok)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_abi::vm::{TESSERA_HANDLER_DIED, action};
    use tlfs::HvMessageType;

    const IO: u64 = HvMessageType::X64_IO_PORT_INTERCEPT.0 as u64;
    const UNRECOVERABLE: u64 = HvMessageType::UNRECOVERABLE_EXCEPTION.0 as u64;

    fn message(words: [u64; 6]) -> ExitMessage {
        ExitMessage::decode(&words, &[])
    }

    fn exit_port(value: u64) -> ExitMessage {
        message([IO, 0, 0xF4, 4, 1, value])
    }

    fn book() -> Ledger {
        Ledger::new([
            Entry::new(1, Expectation::Pass),
            Entry::new(2, Expectation::TripleFault),
        ])
    }

    #[test]
    fn badges_pick_the_partition() {
        let mut ledger = book();
        assert_eq!(ledger.exit(7, &exit_port(0x10), &[]), Step::UnknownBadge);
        assert_eq!(
            ledger.exit(7, &exit_port(0x10), &[]).reply().actions(),
            action::STOP
        );
        let Step::Decided {
            index, judgement, ..
        } = ledger.exit(1, &exit_port(0x10), &[])
        else {
            panic!("decided");
        };
        assert_eq!(index, 0);
        assert!(judgement.unwrap().ok());
        assert_eq!(ledger.entries[0].ended, Some(Outcome::Passed));
        assert_eq!(ledger.entries[1].ended, None);
    }

    #[test]
    fn the_first_end_counts() {
        let mut ledger = book();
        let _ = ledger.exit(1, &exit_port(0x11), &[]);
        assert_eq!(
            ledger.exit(1, &exit_port(0x10), &[]),
            Step::AfterEnd {
                index: 0,
                outcome: Outcome::Failed(0x11)
            }
        );
        assert_eq!(ledger.end(0, Outcome::Passed), None);
        assert_eq!(ledger.entries[0].ended, Some(Outcome::Failed(0x11)));
    }

    #[test]
    fn the_deployment_passes_when_all_ended_as_expected() {
        let mut ledger = book();
        assert!(!ledger.all_ended());
        let _ = ledger.exit(1, &exit_port(0x10), &[]);
        assert_eq!(ledger.result(), (2, 1, false));
        let fault = message([UNRECOVERABLE, 0, 0x1000, 0x7F, 0, 0]);
        let _ = ledger.exit(2, &fault, &[]);
        assert!(ledger.all_ended());
        assert_eq!(ledger.result(), (2, 2, true));
    }

    #[test]
    fn a_mismatch_fails_the_deployment() {
        let mut ledger = book();
        let _ = ledger.exit(1, &exit_port(0x10), &[]);
        let died = message([TESSERA_HANDLER_DIED, 0, IO, 0, 0, 0]);
        let Step::Decided { judgement, .. } = ledger.exit(2, &died, &[]) else {
            panic!("decided");
        };
        assert!(!judgement.unwrap().ok());
        assert_eq!(ledger.result(), (2, 1, false));
    }

    #[test]
    fn setup_failures_count_as_ends() {
        let mut ledger = book();
        let judgement = ledger.end(1, Outcome::SetupFailed).unwrap();
        assert!(!judgement.ok());
        let _ = ledger.exit(1, &exit_port(0x10), &[]);
        assert!(ledger.all_ended());
        assert_eq!(ledger.result(), (2, 1, false));
        assert_eq!(Ledger::default().result(), (0, 0, false));
    }

    #[test]
    fn resets_are_counted_and_limited() {
        let mut ledger = book();
        let reset = message([IO, 0, 0xCF9, 1, 1, 0x06]);
        for round in 1..=MAX_RESETS {
            let Step::Decided { decision, .. } = ledger.exit(1, &reset, &[]) else {
                panic!("decided");
            };
            assert_eq!(decision.effect, Effect::Reset);
            assert_eq!(ledger.entries[0].resets, round);
        }
        let Step::Decided {
            decision,
            judgement,
            gave_up,
            ..
        } = ledger.exit(1, &reset, &[])
        else {
            panic!("decided");
        };
        assert!(gave_up);
        assert_eq!(decision.effect, Effect::End(Outcome::Unexpected));
        assert_eq!(decision.reply.actions(), action::STOP);
        assert!(!judgement.unwrap().ok());
    }
}
