//! Between the IPC state machine and threads' registers: messages in and
//! out of the ABI's message registers, capability transfer at delivery, and
//! error codes in the ABI's ranges.
use crate::arch::user_context::UserContext;
use crate::memory::physical_to_virtual;
use crate::state::Kernel;
use tessera_abi::{MESSAGE_BUFFER_WORDS, NO_SELECTOR, Status};
use tessera_capability::{CapError, SlotAddr, ThreadId};
use tessera_ipc::{Delivery, IpcError, MSG_WORDS, Message, Wakeup};
use x86_64::PhysAddr;

/// `rax` for a capability error (ABI: 0x100 + code).
pub fn cap_status(error: CapError) -> u64 {
    0x100 + u64::from(error.code())
}

/// `rax` for an IPC error (ABI: 0x200 + code).
pub fn ipc_status(error: IpcError) -> u64 {
    0x200 + u64::from(error.code())
}

/// Message words 0-5, in ABI order.
pub fn words_of(context: &UserContext) -> [u64; MSG_WORDS] {
    [
        context.rsi,
        context.rdx,
        context.r10,
        context.r8,
        context.r9,
        context.r12,
    ]
}

/// The registers a delivered call or reply leaves its receiver (ABI):
/// success, the badge, the six message words, the selector a capability
/// arrived in and the count of message-buffer words copied.
pub fn write_received(
    context: &mut UserContext,
    badge: u64,
    words: [u64; MSG_WORDS],
    cap: u32,
    buffer_words: u64,
) {
    context.rax = 0;
    context.rdi = badge;
    [
        context.rsi,
        context.rdx,
        context.r10,
        context.r8,
        context.r9,
        context.r12,
    ] = words;
    context.r13 = u64::from(cap);
    context.r14 = buffer_words;
}

/// The message a thread's registers carry, with the capability it sends
/// and the count of message-buffer words (`r14`), which must fit the buffer.
pub fn message_of(context: &UserContext, send: Option<u32>) -> Result<Message, u64> {
    let mut message = Message::new(&words_of(context)).expect("six words fit a message");
    message.cap = send;
    message.buffer_words = u16::try_from(context.r14)
        .ok()
        .filter(|&count| usize::from(count) <= MESSAGE_BUFFER_WORDS)
        .ok_or(Status::InvalidArgument.code())?;
    Ok(message)
}

/// Copies the first `count` words of one thread's message buffer to the
/// start of another's. Both are kernel-mapped frames of their own, reached
/// through the physical map, so no component pointer is involved.
pub fn copy_buffer(from: PhysAddr, to: PhysAddr, count: usize) {
    let count = count.min(MESSAGE_BUFFER_WORDS);
    if count == 0 || from == to {
        return;
    }
    let source = physical_to_virtual(from.as_u64()).as_ptr::<u64>();
    let target = physical_to_virtual(to.as_u64()).as_mut_ptr::<u64>();
    // SAFETY: each frame is one page (512 words) owned by its thread's
    // message buffer; `count` is at most 512; distinct frames never overlap.
    unsafe { core::ptr::copy_nonoverlapping(source, target, count) };
}

/// Writes a delivered call or reply into the receiver's registers, moving
/// the capability that comes with it if the receiver offered a slot.
pub fn write_delivery(kernel: &mut Kernel, receiver: ThreadId, delivery: Delivery) {
    let received = delivery.transfer.and_then(|transfer| {
        let slot = transfer.receive?;
        let from = SlotAddr::new(kernel.threads.get(&transfer.from)?.cspace, transfer.send);
        let to = SlotAddr::new(kernel.threads.get(&transfer.to)?.cspace, slot);
        let rights = kernel.caps.get(from).ok()?.rights;
        kernel.caps.grant(from, to, rights).ok().map(|()| slot)
    });
    let count = usize::from(delivery.message.buffer_words);
    // Most messages fit in registers: no buffer lookups for those.
    let sender = (count > 0)
        .then(|| kernel.threads.get(&delivery.sender))
        .flatten();
    let copied = match sender {
        Some(sender) => {
            copy_buffer(
                sender.message_buffer,
                kernel.threads[&receiver].message_buffer,
                count,
            );
            count
        }
        None => 0,
    };
    let mut words = [0; MSG_WORDS];
    let sent = delivery.message.words();
    words[..sent.len()].copy_from_slice(sent);
    write_received(
        &mut kernel.thread(receiver).context,
        delivery.badge.map_or(0, |badge| badge.0),
        words,
        received.unwrap_or(NO_SELECTOR),
        copied as u64,
    );
}

/// Before a woken thread runs: what it woke up to goes into its registers.
pub fn deliver_wakeup(kernel: &mut Kernel, thread: ThreadId) {
    let Ok(Some(wakeup)) = kernel.ipc.take_wakeup(thread) else {
        return;
    };
    match wakeup {
        Wakeup::Call(delivery) | Wakeup::Reply(delivery) => {
            write_delivery(kernel, thread, delivery);
        }
        Wakeup::Signal(bits) => {
            let context = &mut kernel.thread(thread).context;
            context.rax = 0;
            context.rsi = bits;
        }
        Wakeup::Failed(error) => kernel.thread(thread).context.rax = ipc_status(error),
    }
}
