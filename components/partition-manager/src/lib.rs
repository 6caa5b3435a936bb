//! The partition manager's logic, kept pure so that it is tested on the
//! host (`cargo test -p partition-manager`); `main.rs` is the component
//! that applies it with system calls.
//!
//! - [`registers`]: the guest loader's initial VP state as
//!   `VpSetRegisters` triples in TLFS layout;
//! - [`image`]: a load plan applied to guest memory reached a word at a
//!   time;
//! - [`hv1`]: how a partition's Hv#1 configuration reads in logs;
//! - [`lifecycle`]: what each exit message means for its partition, and
//!   the reply;
//! - [`ledger`]: which badge is which partition, which have ended and
//!   how, and the deployment's result;
//! - [`outcome`]: how a partition ended, against what its manifest
//!   expected;
//! - [`ports`]: the manifest's SynIC ports and connections as the inputs
//!   of `PartitionCreatePort` and `PartitionConnectPort`;
//! - [`routes`]: how routes read in logs, and which handlers hear of a
//!   partition;
//! - [`slots`]: capability slots and region-window addresses for what the
//!   manager creates;
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod hv1;
pub mod image;
pub mod ledger;
pub mod lifecycle;
pub mod outcome;
pub mod ports;
pub mod registers;
pub mod routes;
pub mod slots;

/// A start state for tests that need one.
#[cfg(test)]
pub(crate) fn registers_test_state() -> tessera_guest_loader::InitialVpState {
    use tessera_guest_loader::{DescriptorTable, InitialVpState, Segment};
    let data = Segment::flat(0x10, Segment::DATA_ATTRIBUTES);
    InitialVpState {
        rip: 0x10_0000,
        rsp: 0x8000,
        rflags: InitialVpState::RFLAGS,
        rax: 0,
        rbx: 0,
        rsi: 0,
        cr0: 0x11,
        cr3: 0,
        cr4: 0,
        efer: 0,
        pat: InitialVpState::RESET_PAT,
        dr6: InitialVpState::RESET_DR6,
        dr7: InitialVpState::RESET_DR7,
        cs: Segment::flat(0x08, Segment::CODE32_ATTRIBUTES),
        ds: data,
        es: data,
        fs: data,
        gs: data,
        ss: data,
        tr: Segment::default(),
        ldtr: Segment::default(),
        gdtr: DescriptorTable::default(),
        idtr: DescriptorTable::default(),
    }
}
