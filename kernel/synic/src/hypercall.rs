//! The input blocks of `HvCallPostMessage` (`0x005C`) and
//! `HvCallSignalEvent` (`0x005D`), read and checked.
//!
//! The call itself is decoded by `tessera_hv1::decode`, the one hypercall
//! decoder: the caller's mode and CPL (#UD), the call code, the privilege
//! (`HV_STATUS_ACCESS_DENIED` without `PostMessages` / `SignalEvents`), the
//! input value's reserved bits and rep fields
//! (`HV_STATUS_INVALID_HYPERCALL_INPUT`), the block's alignment and page
//! (`HV_STATUS_INVALID_ALIGNMENT`), and which convention carries it (a
//! 256-byte `HvCallPostMessage` block cannot be a fast call:
//! `HV_STATUS_INVALID_HYPERCALL_INPUT`; `HvCallSignalEvent`'s 8 bytes fit
//! RDX). This module reads the decoded call's block through
//! [`Hypercall::read_header`] and checks its fields:
//!
//! | field | rule | status |
//! | --- | --- | --- |
//! | `ConnectionId` bits 31:24 | reserved, must be zero (`HV_CONNECTION_ID`) | `HV_STATUS_INVALID_HYPERCALL_INPUT` |
//! | the RsvdZ fields | must be zero | `HV_STATUS_INVALID_HYPERCALL_INPUT` |
//! | `MessageType` | "any 32-bit message type whose most significant bit is cleared, with the exception of zero" | `HV_STATUS_INVALID_PARAMETER` |
//! | `PayloadSize` | at most 240 | `HV_STATUS_INVALID_PARAMETER` |
//!
//! **Choice.** The TLFS gives no status for a reserved field of a
//! parameter block; `HV_STATUS_INVALID_HYPERCALL_INPUT` is the status of
//! its sibling rule, a reserved bit of the input value (TLFS md
//! `hypercall-interface.md` § Common Hypercall Status Codes). The rest —
//! the connection, the port, the target's state, the buffers — is known
//! only where the connections are ([`Synic::post_message`],
//! [`Synic::signal_event`]).
//!
//! [`Synic::post_message`]: crate::state::Synic::post_message
//! [`Synic::signal_event`]: crate::state::Synic::signal_event

use tessera_hv1::hypercall::{GuestMemory, Hypercall, ParamFailure};
use tlfs::hypercall::params::{HvInputPostMessage, HvInputSignalEvent};
use tlfs::message::HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT;
use tlfs::synic::HvConnectionId;
use tlfs::{HvMessageType, HvStatus, HypercallCode};
use zerocopy::{FromBytes, IntoBytes};

/// A checked `HvCallPostMessage` input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostMessage {
    /// The 24-bit connection ID.
    pub connection: u32,
    /// The message type (non-zero, high bit clear).
    pub message_type: HvMessageType,
    /// The payload buffer; the first [`payload_size`](Self::payload_size)
    /// bytes are the message.
    pub payload: [u8; HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT],
    /// At most 240.
    pub payload_size: u8,
}

impl PostMessage {
    /// The payload bytes that are sent.
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        &self.payload[..usize::from(self.payload_size)]
    }
}

/// A checked `HvCallSignalEvent` input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalEvent {
    /// The 24-bit connection ID.
    pub connection: u32,
    /// The flag number relative to the port's base.
    pub flag: u16,
}

fn status(status: HvStatus) -> ParamFailure {
    ParamFailure::Status(status)
}

/// The input block of a decoded `code` call, with its connection ID and
/// RsvdZ field checked (both calls start so).
fn read_block<T: FromBytes + IntoBytes>(
    call: &Hypercall,
    memory: &(impl GuestMemory + ?Sized),
    code: HypercallCode,
    reserved: impl Fn(&T) -> (HvConnectionId, u64),
) -> Result<T, ParamFailure> {
    if call.code != code {
        return Err(status(HvStatus::INVALID_HYPERCALL_CODE));
    }
    let mut input = T::new_zeroed();
    call.read_header(memory, input.as_mut_bytes())
        .map_err(|error| error.failure())?;
    let (connection, rsvd_z) = reserved(&input);
    if connection.into_bits() & HvConnectionId::RESERVED_MASK != 0 || rsvd_z != 0 {
        return Err(status(HvStatus::INVALID_HYPERCALL_INPUT));
    }
    Ok(input)
}

/// Reads and checks the input of a decoded `HvCallPostMessage`.
///
/// # Errors
///
/// The statuses of the module's table; a memory intercept or
/// `HV_STATUS_INVALID_ALIGNMENT` when the block cannot be read
/// ([`ParamError::failure`](tessera_hv1::hypercall::ParamError::failure));
/// `HV_STATUS_INVALID_HYPERCALL_CODE` for a call that is not
/// `HvCallPostMessage` (a routing bug).
pub fn post_message(
    call: &Hypercall,
    memory: &(impl GuestMemory + ?Sized),
) -> Result<PostMessage, ParamFailure> {
    let input = read_block(
        call,
        memory,
        HypercallCode::POST_MESSAGE,
        |i: &HvInputPostMessage| (i.connection_id, u64::from(i.rsvd_z)),
    )?;
    if input.message_type.0 == 0 || input.message_type.is_hypervisor() {
        return Err(status(HvStatus::INVALID_PARAMETER));
    }
    let payload_size = u8::try_from(input.payload_size)
        .ok()
        .filter(|size| usize::from(*size) <= HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT)
        .ok_or(status(HvStatus::INVALID_PARAMETER))?;
    Ok(PostMessage {
        connection: input.connection_id.id(),
        message_type: input.message_type,
        payload: input.message,
        payload_size,
    })
}

/// Reads and checks the input of a decoded `HvCallSignalEvent` (fast or
/// from memory).
///
/// # Errors
///
/// As [`post_message`], for `HvCallSignalEvent`.
pub fn signal_event(
    call: &Hypercall,
    memory: &(impl GuestMemory + ?Sized),
) -> Result<SignalEvent, ParamFailure> {
    let input = read_block(
        call,
        memory,
        HypercallCode::SIGNAL_EVENT,
        |i: &HvInputSignalEvent| (i.connection_id, u64::from(i.rsvd_z)),
    )?;
    Ok(SignalEvent {
        connection: input.connection_id.id(),
        flag: input.flag_number,
    })
}

/// The input of a fast `HvCallSignalEvent` as RDX carries it (the first
/// eight bytes of the fast input: `ConnectionId`, `FlagNumber`, `RsvdZ`),
/// when [`signal_event`] accepts it; `None` where it would refuse (a
/// reserved bit set), which the caller's locked path then answers.
#[must_use]
#[inline]
pub fn fast_signal_input(rdx: u64) -> Option<SignalEvent> {
    // `ConnectionId` bits 31:24 and the 16-bit `RsvdZ` after `FlagNumber`.
    const RESERVED: u64 = 0xFFFF_0000_FF00_0000;
    if rdx & RESERVED != 0 {
        return None;
    }
    Some(SignalEvent {
        connection: rdx as u32,
        flag: (rdx >> 32) as u16,
    })
}
