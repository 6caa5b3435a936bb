//! What the `hyperv-testdev` component does (issue 14 items 4 and 8): QEMU's
//! SynIC test device (`hw/misc/hyperv_testdev.c`) on I/O port `0x3000`, so
//! the SynIC suites written for QEMU (kvm-unit-tests' `hyperv_synic` and
//! `hyperv_connections`) run unchanged, built on SynIC ports the component
//! owns; and an echo service on the component-owned ports a manifest gives
//! it.
//!
//! | exit | answer |
//! | --- | --- |
//! | a partition attach with a capability | the partition's capability is kept (one of [`PARTITION_SLOTS`]) |
//! | a 32-bit `OUT` to `0x3000` | `conn_id << 24 \| op << 16 \| vp << 8 \| sint` ([`tessera_synic::testdev::decode`]), below |
//! | `IN` from `0x3000` | 0, as QEMU's |
//! | `PortArrival` | everything waiting at the port is taken (`PartitionPortReceive`) and answered, below |
//!
//! The operations, as QEMU's (a guest write the device cannot honour is
//! logged and changes nothing, where QEMU asserts):
//!
//! | op | here |
//! | --- | --- |
//! | 1, 2, 3: SINT route create, destroy, raise | the kernel's SINT routes (`PartitionSintRoute`) |
//! | 4: message connection | a port of VP `vp`'s SINT `sint` ([`message_port_id`]), a message port the component owns ([`OWNED_MESSAGE_BASE`]), and the guest's connection `conn_id` to the latter: what the guest posts there comes back into its slot (QEMU: "post the same message we've got") |
//! | 6: event connection | an event port of (`vp`, `sint`) whose one flag is `conn_id` ([`event_port_id`]), an event port the component owns ([`OWNED_EVENT_BASE`]), and connection `conn_id` to it: a signal on it sets flag `conn_id` of the SINT (QEMU: "signal the same event flag we've got") |
//! | 5, 7 | the connection and its two ports go |
//!
//! Any other component-owned port the partition has (from the manifest:
//! `owner = "COMPONENT.ENDPOINT"`) is an echo port: a message `m` of type
//! `t` on connection `c` comes back as type `t`, payload `c` (4 bytes,
//! little-endian) then `m`, to the partition's message port `id +`
//! [`ECHO_OFFSET`]; a signalled flag `n` comes back as flag `n` of event
//! port `id +` [`ECHO_OFFSET`]. The guest sees there what the component
//! received.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod device;
#[cfg(test)]
mod tests;

pub use device::{Device, PARTITION_SLOTS};
pub use tessera_synic::testdev::{TESTDEV_PORT, event_port_id, message_port_id};

use tessera_rt::vm::ports::{OwnedKind, Taken};
use tlfs::HvStatus;
use tlfs::port::{HvInputConnectPort, HvInputCreatePort};

/// IDs of the message ports the device owns: one per connection ID.
pub const OWNED_MESSAGE_BASE: u32 = 0xFD_0000;
/// IDs of the event ports the device owns.
pub const OWNED_EVENT_BASE: u32 = 0xFC_0000;
/// An echo port answers to the port this much above it.
pub const ECHO_OFFSET: u32 = 0x10;

/// The kernel calls the device makes, through the partition capability in
/// `slot` (a trait, so the host tests run them against the kernel's model).
pub trait PortKernel {
    /// `PartitionCreatePort`.
    fn create_port(&mut self, slot: u32, input: &HvInputCreatePort) -> Result<HvStatus, u64>;
    /// `PartitionCreateOwnedPort`, rung through the endpoint capability in
    /// `doorbell`.
    fn create_owned_port(
        &mut self,
        slot: u32,
        id: u32,
        kind: OwnedKind,
        doorbell: u32,
    ) -> Result<HvStatus, u64>;
    /// `PartitionDeletePort`.
    fn delete_port(&mut self, slot: u32, id: u32) -> Result<HvStatus, u64>;
    /// `PartitionConnectPort` within the partition.
    fn connect(&mut self, slot: u32, input: &HvInputConnectPort) -> Result<HvStatus, u64>;
    /// `PartitionDisconnectPort`.
    fn disconnect(&mut self, slot: u32, id: u32) -> Result<HvStatus, u64>;
    /// `PartitionPortReceive`.
    fn receive(&mut self, slot: u32, id: u32) -> Result<Result<Taken, HvStatus>, u64>;
    /// `PartitionPostMessage`.
    fn post(
        &mut self,
        slot: u32,
        port: u32,
        message_type: tlfs::HvMessageType,
        payload: &[u8],
    ) -> Result<HvStatus, u64>;
    /// `PartitionSignalEvent`.
    fn signal(&mut self, slot: u32, port: u32, flag: u16) -> Result<HvStatus, u64>;
    /// `PartitionSintRoute`.
    fn sint_route(&mut self, slot: u32, vp: u32, sint: u32, action: u64) -> Result<HvStatus, u64>;
    /// A capability (CALL) to the device's own endpoint with `badge`, in a
    /// free slot: the doorbell of the ports it makes for that partition.
    fn doorbell(&mut self, badge: u64) -> Result<u32, u64>;
}
