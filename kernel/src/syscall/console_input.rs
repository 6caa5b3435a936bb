//! `ConsoleRead` and `ConsoleInputNotify` (ABI: `tessera_abi::console_input`):
//! the console capability's READ right is what lets a component see what
//! is typed.
use super::{Result, lookup, succeed};
use crate::console_input::{self, Listener};
use crate::sched::Keep;
use crate::state::Kernel;
use tessera_abi::NO_SELECTOR;
use tessera_abi::console_input::READ_MAX;
use tessera_capability::{Object, ObjectKind, Rights, ThreadId};

/// Up to word 0 (at most 40) typed bytes: the count in word 0, the bytes
/// packed little-endian in words 1-5 (as `ConsoleWrite` takes them).
pub fn console_read(kernel: &mut Kernel, thread: ThreadId, selector: u64) -> Result<Keep> {
    lookup(kernel, thread, selector, ObjectKind::Console, Rights::READ)?;
    let wanted = usize::try_from(kernel.threads[&thread].context.rsi)
        .ok()
        .filter(|&wanted| wanted <= READ_MAX)
        .ok_or(tessera_abi::Status::InvalidArgument.code())?;
    let mut bytes = [0u8; READ_MAX];
    let count = console_input::read(&mut bytes[..wanted]);
    let mut words = [0u64; 5];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
        let mut le = [0u8; 8];
        le.copy_from_slice(chunk);
        *word = u64::from_le_bytes(le);
    }
    let context = &mut kernel.thread(thread).context;
    context.rsi = count as u64;
    [
        context.rdx,
        context.r10,
        context.r8,
        context.r9,
        context.r12,
    ] = words;
    succeed(kernel, thread)
}

/// Names the notification (slot word 0, WAIT) signalled with the bits of
/// word 1 when bytes arrive; word 0 = `NO_SELECTOR` stops it.
pub fn console_input_notify(kernel: &mut Kernel, thread: ThreadId, selector: u64) -> Result<Keep> {
    lookup(kernel, thread, selector, ObjectKind::Console, Rights::READ)?;
    let context = &kernel.threads[&thread].context;
    let (slot, bits) = (context.rsi, context.rdx);
    let listener = if slot == u64::from(NO_SELECTOR) {
        None
    } else {
        let cap = lookup(kernel, thread, slot, ObjectKind::Notification, Rights::WAIT)?;
        let Object::Notification(notification) = cap.object else {
            unreachable!("looked up as a notification")
        };
        if bits == 0 {
            return Err(tessera_abi::Status::InvalidArgument.code());
        }
        Some(Listener {
            notification,
            bits,
            domain: kernel.threads[&thread].domain,
        })
    };
    console_input::listen(kernel, listener);
    succeed(kernel, thread)
}
