//! The system-call fuzzer's pure parts, tested on the host
//! (`cargo test -p fuzz-syscalls`); `main.rs` is the component.
//!
//! - [`model`]: what the fuzzer believes its capability slots hold, so it
//!   never blocks itself for good;
//! - [`programs`]: the machine code it loads into the domains and guests
//!   it makes.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod model;
pub mod programs;

/// The protocol between the fuzzer and `fuzz-partner`.
pub mod partner {
    /// A call whose word 0 is this asks the partner how many statuses
    /// outside the ABI it saw (reply word 1) and how many VP exits it
    /// answered (word 2).
    pub const ASK_FINDINGS: u64 = 0xF022_F1AD;
}
