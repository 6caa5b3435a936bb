//! What Tessera's fuzzers share (`cargo xtask fuzz <target>`).
//!
//! - [`Draw`]: the seeded stream every operation draws from. Operation `i`
//!   of a run with seed `s` draws from its own stream, made from `(s, i)`
//!   alone, so the sequence of operations is a function of the seed, and a
//!   run replays exactly from its seed and the index of the operation that
//!   failed.
//! - [`params`]: the run parameters (seed, operation count, flags) that
//!   xtask writes into a fuzzer's image, and how the fuzzer reads them.
//! - [`seed`]: seeds as the fuzzers print them and xtask reads them, and
//!   a fresh one from the clock.
//! - [`hypercall`]: the statuses the TLFS allows each hypercall to return,
//!   the guest fuzzer's oracle.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

mod draw;
pub mod guest;
pub mod hypercall;
pub mod params;
pub mod seed;

pub use draw::Draw;
