//! Ending the partition through the exit port.

use tessera_abi::vm::guest_ports::{EXIT, EXIT_FAIL, EXIT_PASS};

use crate::cpu::hlt;
use crate::port::outl;

/// Writes `code` to the exit port; the host ends the partition. If nothing
/// does (no exit device), the guest halts for good: with interrupts off a
/// halted VP is the host's to report, which is better than running on.
pub fn exit(code: u32) -> ! {
    outl(EXIT, code);
    loop {
        hlt();
    }
}

pub fn pass() -> ! {
    exit(EXIT_PASS)
}

pub fn fail() -> ! {
    exit(EXIT_FAIL)
}
