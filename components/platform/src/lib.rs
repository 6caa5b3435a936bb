//! The PC platform devices of a partition, as state machines with no
//! hardware access, and the ring-3 `platform` component's logic that
//! serves them (`README.md` says how it is wired).
//!
//! | module | device |
//! | --- | --- |
//! | [`ioapic`] | the I/O APIC at `0xFEC00000`: 24 pins, redirection entries, remote IRR, EOI |
//! | [`pic`] | one 8259A: ICW1–4, OCW1–3, IRR/ISR/IMR, rotation, special modes, poll |
//! | [`pic_pair`] | the master/slave pair on ports `0x20`/`0xA0` with the cascade on IRQ 2, and the ELCR at `0x4D0`/`0x4D1` |
//! | [`rtc`] | the CMOS real-time clock and RAM on ports `0x70`/`0x71`, the host's wall clock plus what the guest set |
//! | [`fw_cfg`] | QEMU's `fw_cfg` on ports `0x510`/`0x511`: signature, features, RAM size, CPU count |
//! | [`board`] | one partition's devices wired together: its exits and lines in, interrupt messages out |
//! | [`boards`] | every partition served, by the badge of the call (route or line) |
//!
//! Every entry point takes what the guest or a device did and returns (or
//! hands to a callback) what the component must do next: an interrupt
//! message for the local APICs, the level of the 8259's INT output.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod board;
pub mod boards;
pub mod fw_cfg;
pub mod ioapic;
pub mod pic;
pub mod pic_pair;
pub mod rtc;

pub use boards::Platform;
pub use fw_cfg::{FwCfg, FwCfgConfig};
pub use ioapic::IoApic;
pub use pic::Pic;
pub use pic_pair::PicPair;
pub use rtc::Rtc;
