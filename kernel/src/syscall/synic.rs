//! The SynIC's system calls: the `synic` component's register store and
//! read-back (46-47), the port and connection calls (48-53; 54-55 for a
//! port a component owns), `hyperv-testdev`'s SINT routes (56,
//! `tessera_abi::Syscall`):
//! the TLFS's `HvCallCreatePort`, `HvCallDeletePort`, `HvCallConnectPort`
//! and `HvCallDisconnectPort` (TLFS md `virtualization-host.md`) with a
//! partition capability (WRITE) in place of each partition ID, and a
//! component's post and signal to a port. Each answers the TLFS status in
//! word 0; the work is in `crate::vm::synic_ipc`.
use super::vm::{partition_of, words};
use super::{Result, lookup, succeed};
use crate::sched::Keep;
use crate::state::Kernel;
use crate::vm::forward;
use tessera_abi::Status;
use tessera_capability::{Object, ObjectKind, Rights, ThreadId};
use tessera_synic::ports::{Owner, PortKind};
use tessera_synic::state::inbox::Received;
use tlfs::message::HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT;
use tlfs::port::{HvInputConnectPort, HvInputCreatePort};
use tlfs::{HvMessageType, HvStatus};
use zerocopy::{FromBytes, IntoBytes};

/// Success, with `status` in word 0.
fn answer(kernel: &mut Kernel, thread: ThreadId, status: HvStatus) -> Result<Keep> {
    kernel.thread(thread).context.rsi = u64::from(status.0);
    succeed(kernel, thread)
}

/// A TLFS input block from the caller's message buffer.
fn input<T: FromBytes + IntoBytes>(kernel: &Kernel, thread: ThreadId) -> T {
    let mut block = T::new_zeroed();
    let bytes = block.as_mut_bytes();
    let frame = kernel.threads[&thread].message_buffer;
    let words = forward::read_buffer(frame, bytes.len().div_ceil(8));
    for (chunk, word) in bytes.chunks_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
    }
    block
}

/// The objects a component makes are tagged with its domain, so it finds
/// its own after a restart.
fn owner(kernel: &Kernel, thread: ThreadId) -> Owner {
    Owner::Component(u64::from(kernel.cspace_of(thread).index()))
}

/// A port or connection ID word: 32 bits (the kernel checks the 24).
fn id_word(word: u64) -> Result<u32> {
    u32::try_from(word).map_err(|_| Status::InvalidArgument.code())
}

pub(super) fn create_port(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let partition = partition_of(kernel, thread, cap, Rights::WRITE)?;
    let block: HvInputCreatePort = input(kernel, thread);
    if block.port_partition != 0 {
        return answer(kernel, thread, HvStatus::INVALID_PARTITION_ID);
    }
    let owner = owner(kernel, thread);
    let status = kernel.synic_create_port(partition, &block, owner)?;
    answer(kernel, thread, status)
}

pub(super) fn delete_port(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let partition = partition_of(kernel, thread, cap, Rights::WRITE)?;
    let id = id_word(words(kernel, thread)[0])?;
    let status = kernel.synic_delete_port(partition, id)?;
    answer(kernel, thread, status)
}

pub(super) fn connect_port(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let sender = partition_of(kernel, thread, cap, Rights::WRITE)?;
    let port_partition = partition_of(kernel, thread, words(kernel, thread)[0], Rights::WRITE)?;
    let block: HvInputConnectPort = input(kernel, thread);
    if block.connection_partition != 0 || block.port_partition != 0 {
        return answer(kernel, thread, HvStatus::INVALID_PARTITION_ID);
    }
    let owner = owner(kernel, thread);
    let status = kernel.synic_connect(sender, port_partition, &block, owner)?;
    answer(kernel, thread, status)
}

pub(super) fn disconnect_port(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let sender = partition_of(kernel, thread, cap, Rights::WRITE)?;
    let id = id_word(words(kernel, thread)[0])?;
    let status = kernel.synic_disconnect(sender, id)?;
    answer(kernel, thread, status)
}

pub(super) fn post_message(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let partition = partition_of(kernel, thread, cap, Rights::WRITE)?;
    let [port, message_type, size, ..] = words(kernel, thread);
    let port = id_word(port)?;
    let message_type = HvMessageType(id_word(message_type)?);
    let size = usize::try_from(size)
        .ok()
        .filter(|size| *size <= HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT);
    let Some(size) = size else {
        return answer(kernel, thread, HvStatus::INVALID_PARAMETER);
    };
    let mut payload = [0u8; HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT];
    let frame = kernel.threads[&thread].message_buffer;
    let words = forward::read_buffer(frame, size.div_ceil(8));
    for (chunk, word) in payload.chunks_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    let status = kernel.synic_component_post(partition, port, message_type, &payload[..size])?;
    answer(kernel, thread, status)
}

/// `PartitionCreateOwnedPort`: words 0-2 the port ID, type and flag count,
/// slot word 3 the owner's endpoint (CALL).
pub(super) fn create_owned_port(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let partition = partition_of(kernel, thread, cap, Rights::WRITE)?;
    let [id, port_type, flag_count, endpoint, ..] = words(kernel, thread);
    let endpoint_cap = lookup(kernel, thread, endpoint, ObjectKind::Endpoint, Rights::CALL)?;
    let Object::Endpoint(endpoint) = endpoint_cap.object else {
        unreachable!("looked up as an endpoint")
    };
    let id = id_word(id)?;
    let kind = match (port_type, u16::try_from(flag_count)) {
        (1, Ok(0)) => Some(PortKind::Message),
        (2, Ok(flag_count)) => Some(PortKind::Event {
            base_flag: 0,
            flag_count,
        }),
        _ => None,
    };
    let Some(kind) = kind else {
        return answer(kernel, thread, HvStatus::INVALID_PARAMETER);
    };
    let owner = owner(kernel, thread);
    let status =
        kernel.synic_create_owned_port(partition, id, kind, endpoint, endpoint_cap.badge, owner)?;
    answer(kernel, thread, status)
}

/// `PartitionPortReceive`: what waits at owned port word 0, into words
/// 1-4 and the message buffer (`tessera_abi::Syscall::PartitionPortReceive`).
pub(super) fn port_receive(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let partition = partition_of(kernel, thread, cap, Rights::WRITE)?;
    let id = id_word(words(kernel, thread)[0])?;
    let received = match kernel.synic_receive(partition, id)? {
        Ok(received) => received,
        Err(refused) => return answer(kernel, thread, refused),
    };
    let frame = kernel.threads[&thread].message_buffer;
    let quick = match received {
        None => [0; 4],
        Some(Received::Message(message)) => {
            let mut words = [0u64; HV_MESSAGE_MAX_PAYLOAD_BYTE_COUNT / 8];
            for (word, chunk) in words.iter_mut().zip(message.payload.chunks(8)) {
                let mut bytes = [0u8; 8];
                bytes[..chunk.len()].copy_from_slice(chunk);
                *word = u64::from_le_bytes(bytes);
            }
            forward::write_buffer_words(frame, &words[..message.payload.len().div_ceil(8)]);
            [
                1,
                u64::from(message.message_type.0),
                message.payload.len() as u64,
                u64::from(message.origin.connection),
            ]
        }
        Some(Received::Events(flags)) => {
            forward::write_buffer_words(frame, &flags);
            [2, flags.len() as u64, 0, 0]
        }
    };
    let context = &mut kernel.thread(thread).context;
    [context.rdx, context.r10, context.r8, context.r9] = quick;
    answer(kernel, thread, HvStatus::SUCCESS)
}

/// `PartitionSintRoute`: word 0 the VP, word 1 the SINT, word 2 the action.
pub(super) fn sint_route(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let partition = partition_of(kernel, thread, cap, Rights::WRITE)?;
    let [vp, sint, action, ..] = words(kernel, thread);
    let (Ok(vp), Ok(sint)) = (u32::try_from(vp), u32::try_from(sint)) else {
        return answer(kernel, thread, HvStatus::INVALID_PARAMETER);
    };
    let status = kernel.synic_sint_route(partition, vp, sint, action)?;
    answer(kernel, thread, status)
}

pub(super) fn signal_event(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let partition = partition_of(kernel, thread, cap, Rights::WRITE)?;
    let [port, flag, ..] = words(kernel, thread);
    let port = id_word(port)?;
    let Ok(flag) = u16::try_from(flag) else {
        return answer(kernel, thread, HvStatus::INVALID_PARAMETER);
    };
    let status = kernel.synic_component_signal(partition, port, flag)?;
    answer(kernel, thread, status)
}

/// `PartitionSynicWrite`: a SynIC register the `synic` component checked,
/// checked again and stored by the kernel (`vm/synic.rs`). WRITE, as for
/// the interrupt controller: the holder can do nothing else to the
/// partition.
pub(super) fn partition_synic_write(
    kernel: &mut Kernel,
    thread: ThreadId,
    cap: u64,
) -> Result<Keep> {
    let partition = partition_of(kernel, thread, cap, Rights::WRITE)?;
    let [vp, msr, value, ..] = words(kernel, thread);
    let vp = u32::try_from(vp).map_err(|_| Status::InvalidArgument.code())?;
    let msr = u32::try_from(msr).map_err(|_| Status::InvalidArgument.code())?;
    let cpu = kernel.threads[&thread].cpu;
    kernel.synic_write(partition, vp, msr, value, cpu)?;
    succeed(kernel, thread)
}

/// `PartitionSynicRead`: a VP's SynIC registers and the register policy
/// into the message buffer (`tessera_abi::vm::synic`).
pub(super) fn partition_synic_read(
    kernel: &mut Kernel,
    thread: ThreadId,
    cap: u64,
) -> Result<Keep> {
    let partition = partition_of(kernel, thread, cap, Rights::WRITE)?;
    let vp = u32::try_from(words(kernel, thread)[0]).map_err(|_| Status::InvalidArgument.code())?;
    let state = kernel.synic_read(partition, vp)?;
    let frame = kernel.threads[&thread].message_buffer;
    forward::write_buffer_words(frame, &state);
    kernel.thread(thread).context.r14 = state.len() as u64;
    succeed(kernel, thread)
}
