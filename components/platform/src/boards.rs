//! Every partition the component serves, by the badge its calls carry:
//! a partition's routes carry its badge `B`; the line for pin `N` of that
//! partition carries `line_badge(B, N)` (`tessera_abi::vm::interrupt`).
//! The badge is the kernel's word, fixed when the manifest's capability
//! was made: a device holding the line of one partition's pin cannot
//! drive another pin, nor any pin of another partition.

use alloc::collections::BTreeMap;
use alloc::format;

use log::Level;
use tessera_rt::Status;
use tessera_rt::abi::vm::{attach_shape_of, interrupt as wire};
use tessera_rt::vm_exit::{Exit, ExitMessage, ExitReply, Handled};

use crate::board::{Board, InterruptBus, Log};
use crate::rtc::WallClock;

/// Slots where the partitions' interrupt capabilities are kept: the
/// component's capability space from here up to the line slots.
pub const INTERRUPT_SLOTS: core::ops::Range<u32> = 16..wire::LINE_SLOT_BASE;

/// The boards, by partition badge.
#[derive(Debug)]
pub struct Platform {
    boards: BTreeMap<u64, Board>,
    /// The host's time, which every board's RTC starts from.
    clock: WallClock,
}

impl Default for Platform {
    fn default() -> Self {
        Self::new()
    }
}

/// No host clock: RTCs count from the Unix epoch and say their time is
/// not valid.
fn no_clock() -> Option<u64> {
    None
}

/// The answer to a line call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineAnswer {
    Done,
    /// Not a line message (word 0), or a level other than 0 or 1.
    Malformed,
    /// The partition behind the line has not attached.
    Unknown,
}

impl LineAnswer {
    /// Reply word 0.
    pub const fn word(self) -> u64 {
        match self {
            Self::Done => 0,
            Self::Malformed => Status::InvalidArgument as u64,
            Self::Unknown => Status::InvalidArgument as u64,
        }
    }
}

impl Platform {
    pub const fn new() -> Self {
        Self::with_clock(no_clock)
    }

    /// Boards whose RTCs read the host's time through `clock`.
    pub const fn with_clock(clock: WallClock) -> Self {
        Self {
            boards: BTreeMap::new(),
            clock,
        }
    }

    /// The board of the partition with `badge`, once it attached.
    pub fn board(&self, badge: u64) -> Option<&Board> {
        self.boards.get(&badge)
    }

    /// Where the next capability that comes with a call goes: an
    /// interrupt slot no board holds (`None`: all taken, refuse).
    pub fn free_slot(&self) -> Option<u32> {
        INTERRUPT_SLOTS.clone().find(|slot| {
            !self
                .boards
                .values()
                .any(|board| board.interrupt == Some(*slot))
        })
    }

    /// A call through a route capability (badge without the line bit).
    /// `received` is the slot of a capability that came with it; the
    /// board keeps it if the call is an attach, and it is returned in
    /// `.1` otherwise (the caller deletes it), with the slot it replaces
    /// at a re-attach.
    pub fn exit(
        &mut self,
        badge: u64,
        message: &ExitMessage,
        raw_word5: u64,
        received: Option<u32>,
        bus: &mut dyn InterruptBus,
    ) -> (Handled, Option<u32>) {
        let mut log = Log::new();
        if let Ok(Exit::PartitionAttach { name }) = message.exit {
            let (memory, vps) = attach_shape_of(raw_word5);
            let vps = u16::try_from(vps).unwrap_or(u16::MAX).max(1);
            let old = self
                .boards
                .insert(badge, Board::new(name, memory, vps, received, self.clock));
            log.push((
                Level::Info,
                format!(
                    "badge {badge} is partition {name}: I/O APIC, 8259 pair, RTC, fw_cfg ({vps} CPUs, {} KiB){}",
                    memory >> 10,
                    if received.is_some() { "" } else { "; no interrupt capability: nothing can be delivered" }
                ),
            ));
            let handled = Handled {
                reply: ExitReply::accept_attach(),
                log,
            };
            return (handled, old.and_then(|board| board.interrupt));
        }
        let reply = match (&message.exit, self.boards.get_mut(&badge)) {
            (Ok(exit), Some(board)) => board.exit(exit, bus, &mut log),
            (_, board) => {
                let who = board.map_or(format!("partition {badge}"), |b| format!("{}", b.name));
                log.push((
                    Level::Warn,
                    format!("{who}: message {:?} refused; stopping the VP", message.exit),
                ));
                ExitReply::new().stop()
            }
        };
        (Handled { reply, log }, received)
    }

    /// A call through a line capability: `badge` names (partition, pin).
    pub fn line(
        &mut self,
        badge: u64,
        words: &[u64; 6],
        bus: &mut dyn InterruptBus,
        log: &mut Log,
    ) -> LineAnswer {
        let Some((partition, pin)) = wire::line_of(badge) else {
            return LineAnswer::Malformed;
        };
        if words[0] != wire::LINE_MESSAGE || words[1] > 1 {
            return LineAnswer::Malformed;
        }
        let Some(board) = self.boards.get_mut(&partition) else {
            return LineAnswer::Unknown;
        };
        board.line(pin as u8, words[1] == 1, bus, log);
        LineAnswer::Done
    }
}
