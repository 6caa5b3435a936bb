//! The guest fuzzer's host, its pure parts (tested on the host:
//! `cargo test -p fuzz-host`); `main.rs` is the component.
//!
//! - [`Control`]: the fuzz guest's control device
//!   (`tessera_fuzz::guest::ports`), one per partition: a 64-bit argument
//!   written in halves, a command, a result read in halves.
//! - [`Canary`]: the canary's device, and the check of its memory.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

use core::ops::Range;

use tessera_fuzz::guest::{self, ports};

/// A command the guest gave, with its argument; the component carries it
/// out and sets the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command {
    pub code: u32,
    pub argument: u64,
}

/// The fuzz guest's control device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Control {
    argument: u64,
    result: u64,
}

impl Control {
    /// An `OUT` of `value` to `port`: a command when it is one.
    pub fn write(&mut self, port: u16, value: u32) -> Option<Command> {
        match port {
            ports::LOW => self.argument = (self.argument & !0xFFFF_FFFF) | u64::from(value),
            ports::HIGH => self.argument = (self.argument & 0xFFFF_FFFF) | u64::from(value) << 32,
            ports::COMMAND => {
                return Some(Command {
                    code: value,
                    argument: self.argument,
                });
            }
            _ => {}
        }
        None
    }

    /// An `IN` from `port`: a half of the last result (all ones elsewhere).
    pub fn read(&self, port: u16) -> u32 {
        match port {
            ports::LOW => self.result as u32,
            ports::HIGH => (self.result >> 32) as u32,
            _ => u32::MAX,
        }
    }

    pub fn set_result(&mut self, result: u64) {
        self.result = result;
    }
}

/// The canary's device: where it says its pattern lies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Canary {
    start: u64,
    end: u64,
}

impl Canary {
    /// An `OUT` of `value` to `port`.
    pub fn write(&mut self, port: u16, value: u32) {
        let half = |word: &mut u64, high: bool| {
            let shift = if high { 32 } else { 0 };
            *word = (*word & !(0xFFFF_FFFF << shift)) | u64::from(value) << shift;
        };
        match port {
            guest::CANARY_START_LOW => half(&mut self.start, false),
            guest::CANARY_START_HIGH => half(&mut self.start, true),
            guest::CANARY_END_LOW => half(&mut self.end, false),
            guest::CANARY_END_HIGH => half(&mut self.end, true),
            _ => {}
        }
    }

    /// The range the canary filled, once it is a sensible one inside
    /// `memory` bytes of RAM.
    pub fn range(&self, memory: u64) -> Option<Range<u64>> {
        (self.start < self.end && self.end <= memory && self.start.is_multiple_of(8))
            .then_some(self.start..self.end)
    }
}

/// The first word of `range` that is not the canary's, reading the
/// partition's memory a word at a time through `read(gpa)`.
pub fn first_change(range: Range<u64>, mut read: impl FnMut(u64) -> u64) -> Option<(u64, u64)> {
    range.step_by(8).find_map(|gpa| {
        let found = read(gpa);
        (found != guest::canary_word(gpa)).then_some((gpa, found))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_carries_the_argument_written_in_halves() {
        let mut control = Control::default();
        assert_eq!(control.write(ports::LOW, 0x89AB_CDEF), None);
        assert_eq!(control.write(ports::HIGH, 0x0123_4567), None);
        assert_eq!(
            control.write(ports::COMMAND, 6),
            Some(Command {
                code: 6,
                argument: 0x0123_4567_89AB_CDEF
            })
        );
        control.set_result(0xFFFF_0000_0000_0007);
        assert_eq!(control.read(ports::LOW), 7);
        assert_eq!(control.read(ports::HIGH), 0xFFFF_0000);
        assert_eq!(control.read(ports::LAST), u32::MAX);
    }

    #[test]
    fn the_canary_range_must_make_sense() {
        let mut canary = Canary::default();
        assert_eq!(canary.range(1 << 24), None);
        canary.write(guest::CANARY_START_LOW, 0x20_0000);
        canary.write(guest::CANARY_END_LOW, 0x40_0000);
        assert_eq!(canary.range(1 << 24), Some(0x20_0000..0x40_0000));
        assert_eq!(canary.range(0x30_0000), None, "beyond RAM");
        canary.write(guest::CANARY_END_HIGH, 1);
        assert_eq!(canary.range(1 << 24), None);
    }

    #[test]
    fn a_changed_word_is_found() {
        let range = 0x1000..0x2000;
        assert_eq!(first_change(range.clone(), guest::canary_word), None);
        let changed = first_change(range, |gpa| {
            if gpa == 0x1800 {
                0
            } else {
                guest::canary_word(gpa)
            }
        });
        assert_eq!(changed, Some((0x1800, 0)));
    }
}
