//! `synic-ipc`: messages and events between partitions through the SynIC
//! (issue 14 items 2-4; TLFS md `inter-partition-communication.md`,
//! `hypercalls/HvCallPostMessage.md`, `HvCallSignalEvent.md`). Three
//! partitions run this image (system test `vm-synic-ipc`, deployment
//! `boot/deployments/vm-synic-ipc.toml`, whose ports and connections the
//! partition manager makes); each finds its part from what it was given:
//!
//! - **denied** (no PostMessages or SignalEvents in CPUID): both calls
//!   answer `HV_STATUS_ACCESS_DENIED`, on a connection that exists.
//! - **ping** (has connection `0x101`): every status it can cause alone
//!   (`INVALID_CONNECTION_ID`, `INVALID_PARAMETER` for the type, the size
//!   and the flag, `INVALID_PORT_ID` for a connection to a port of the
//!   other kind, `INVALID_HYPERCALL_INPUT`, `INVALID_ALIGNMENT`,
//!   `INVALID_SYNIC_STATE` to its own port while its SIM is off, then
//!   `SUCCESS` to it once on), then 17 messages to pong (one in the slot,
//!   16 queued: the port's buffers) and `INSUFFICIENT_BUFFERS` for the
//!   18th; then events.
//! - **device** (has connection `0x141`, to a port the `hyperv-testdev`
//!   component owns; deployment `vm-synic-testdev`): its messages and
//!   events reach the component, which answers; QEMU's `hyperv-testdev`
//!   protocol as kvm-unit-tests drives it (`device.rs`).
//! - **pong**: takes the 17 in order, each with MessagePending while
//!   more wait and the next delivered by EOM; the 0 → 1 rule for event
//!   flags (a flag set again raises nothing); answers ping with a message.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod device;
mod hv;
mod ping;
mod pong;

use tessera_guest_framework::{Suite, cpu, ensure, interrupt};
use tlfs::HvStatus;

tessera_guest_framework::entry!(main);

/// The manifest's topology (`vm-synic-ipc.toml`).
pub mod topology {
    /// Ping's connections: to pong's message port, pong's event port
    /// (flags 8-11 of its SINT 3), and its own message port (SINT 4).
    pub const PING_TO_PONG_MESSAGES: u32 = 0x100;
    pub const PING_TO_PONG_EVENTS: u32 = 0x101;
    pub const PING_TO_SELF: u32 = 0x102;
    /// Pong's connections: to ping's message port (SINT 2) and event port
    /// (flags 0-3 of SINT 3).
    pub const PONG_TO_PING_MESSAGES: u32 = 0x200;
    pub const PONG_TO_PING_EVENTS: u32 = 0x201;
    /// Denied's connection (to pong's message port).
    pub const DENIED_TO_PONG: u32 = 0x300;
    /// Pong's message port and its event port's base flag.
    pub const PONG_MESSAGE_PORT: u64 = 0x10;
    pub const PONG_BASE_FLAG: u16 = 8;
    /// The SINTs and their vectors, alike in every partition.
    pub const MESSAGES: u32 = 2;
    pub const EVENTS: u32 = 3;
    pub const SELF_MESSAGES: u32 = 4;
    pub const MESSAGE_VECTOR: u8 = 0x52;
    pub const EVENT_VECTOR: u8 = 0x53;
    pub const SELF_VECTOR: u8 = 0x54;
    /// Each event port has 4 flags.
    pub const FLAGS: u16 = 4;
}

fn main(suite: &mut Suite) {
    interrupt::install();
    interrupt::set_eoi(interrupt::Eoi::X2apicMsr);
    let mut synic = None;
    let ready = suite.check("x2APIC on; hypercalls enabled; pages for the SynIC", || {
        interrupt::x2apic_on()?;
        synic = Some(hv::start()?);
        Ok(())
    });
    let (true, Some(synic)) = (ready, synic) else {
        return;
    };
    let privileges = cpu::cpuid(0x4000_0003, 0).ebx;
    if privileges & 0b11_0000 == 0 {
        suite.note(format_args!(
            "role: denied (no PostMessages or SignalEvents)"
        ));
        suite.check(
            "without PostMessages and SignalEvents both calls answer HV_STATUS_ACCESS_DENIED on a connection that exists",
            || {
                let post = synic.post(topology::DENIED_TO_PONG, 1, b"x")?;
                ensure!(post == HvStatus::ACCESS_DENIED, "HvPostMessage: {post:?}");
                let signal = synic.signal(topology::DENIED_TO_PONG, 0)?;
                ensure!(signal == HvStatus::ACCESS_DENIED, "HvSignalEvent: {signal:?}");
                Ok(())
            },
        );
        return;
    }
    // A flag past the component's port's 8: INVALID_PARAMETER in the
    // partition that has the connection (device).
    if matches!(
        synic.signal(device::TO_COMPONENT_EVENTS, 8),
        Ok(HvStatus::INVALID_PARAMETER)
    ) {
        device::run(suite, &synic);
        return;
    }
    // A flag past the port's count: INVALID_PARAMETER where the connection
    // exists (ping), INVALID_CONNECTION_ID where it does not (pong).
    match synic.signal(topology::PING_TO_PONG_EVENTS, topology::FLAGS) {
        Ok(HvStatus::INVALID_PARAMETER) => ping::run(suite, &synic),
        Ok(HvStatus::INVALID_CONNECTION_ID) => pong::run(suite, &synic),
        other => {
            suite.check("the partition's part", || {
                tessera_guest_framework::fail!("the probe answered {other:?}")
            });
        }
    }
}
