//! The IPC fast path between components (after seL4's `fastpath.c`).
//!
//! A `Call` to a server that already waits, and a server's `ReplyWait`
//! that blocks it after answering its caller, are the IPC round trip every
//! component makes. When each guard below holds, the thread that made the
//! system call blocks and the CPU goes straight to the other thread's
//! registers and address space: no run queue, no wakeup record, no
//! scheduler pass. Every guard reads the records the general path uses
//! (the capability, the IPC machine's threads and endpoint, the thread
//! records, the run queue); when one fails nothing has changed and the
//! system call takes the general path, which checks and decides
//! everything again (and reports any error). The IPC machine's half of the
//! guards and its transitions are host-tested (`tessera_ipc::Ipc::fast_call`
//! and `fast_reply_wait`, which are the guard, an `accept` and the commit
//! this file calls one by one); the switch is `sched::switch_to_component`.
//!
//! A handler's `ReplyWait` to a VP that waits on a forwarded exit takes
//! the same path: its reply is checked and captured for the VP as the
//! general path does (`Kernel::capture_reply_to_vp`), and the CPU goes
//! straight into the VP's loop (`sched::enter`), which applies it and
//! re-enters the guest. A reply that stops the VP, or that the checks
//! refuse, takes the general path, which captures it again the same way.
use crate::ipc_glue::{words_of, write_received};
use crate::sched::Switch;
use crate::state::Kernel;
use tessera_abi::{CapTransfer, NO_SELECTOR, Syscall};
use tessera_capability::{Object, ObjectKind, Rights, SlotAddr, ThreadId};

/// What runs next on this CPU after a fast IPC operation.
pub enum Next {
    /// A component thread.
    Component(Switch),
    /// A VP's thread, woken with its handler's reply.
    Vp(ThreadId),
}

/// Runs `thread`'s system call `number` on the fast path if every guard
/// holds, and returns the thread to switch to (it is on `cpu`, and the
/// system call is complete); `None` leaves everything to the general path.
#[inline]
pub fn ipc(kernel: &mut Kernel, cpu: usize, thread: ThreadId, number: u64) -> Option<Next> {
    let is_call = number == Syscall::Call as u64;
    // Only the two halves of a round trip (known before any lookup, so
    // other system calls lose next to nothing to the fast path).
    if !is_call && number != Syscall::ReplyWait as u64 {
        return None;
    }
    let record = kernel.threads.get(&thread)?;
    let context = &*record.context;
    let transfer = CapTransfer::from_word(context.r13);
    let send = (transfer.send != NO_SELECTOR).then_some(transfer.send);
    if !tessera_ipc::registers_only(send, context.r14) {
        return None;
    }
    let receive = (transfer.receive != NO_SELECTOR).then_some(transfer.receive);
    let words = words_of(context);
    let selector = u32::try_from(context.rdi).ok()?;
    let needed = if is_call {
        Rights::CALL
    } else {
        Rights::RECEIVE
    };
    let at = SlotAddr::new(record.cspace, selector);
    // A wrong capability is the general path's error to report.
    let cap = kernel.caps.lookup(at, ObjectKind::Endpoint, needed).ok()?;
    let Object::Endpoint(endpoint) = cap.object else {
        return None;
    };
    // The IPC machine's guards, then the kernel's on the thread woken
    // (`woken`), then the operation, which cannot fail from there: no
    // closure between the two halves (one stayed a call, with its captures
    // spilled to the stack and read back).
    if is_call {
        let call = kernel.ipc.fast_call_guard(thread, endpoint)?;
        let badge = cap.badge.map_or(0, |badge| badge.0);
        let next = woken(kernel, cpu, call.server, false, badge, words).ok()?;
        kernel.ipc.fast_call_commit(call, receive);
        return Some(next);
    }
    let reply = kernel.ipc.fast_reply_wait_guard(thread, endpoint)?;
    // A reply carries no badge.
    let next = match woken(kernel, cpu, reply.caller, false, 0, words) {
        Ok(next) => next,
        // A reply to a VP (its thread's record says) is checked, and kept
        // for the VP, before anything of the IPC changes; one that stops
        // the VP is the general path's.
        Err(Refused::Vp(vp)) => {
            if kernel.capture_reply_from(thread, vp).ok()? {
                return None;
            }
            woken(kernel, cpu, reply.caller, true, 0, words).ok()?
        }
        Err(Refused::Guard) => return None,
    };
    kernel.ipc.fast_reply_wait_commit(reply, receive);
    Some(next)
}

/// The kernel's guards on the thread `woken` a fast operation on `cpu`
/// would wake: it runs here at once only if it is a thread of this CPU,
/// alive, and nothing else waits for this CPU (so nothing more important
/// does either); a component thread with its domain (whose address space
/// the switch needs), or the VP's thread a reply is for (`to_vp`). When
/// they hold, the delivery (`badge` and the message `words`: no
/// capability, no buffer words) is in the thread's registers, and the
/// caller MUST then commit the operation, which cannot fail. A VP's
/// thread when `to_vp` is false is refused with its VP, unchanged, so a
/// reply's one lookup serves both kinds.
#[inline(always)]
fn woken(
    kernel: &mut Kernel,
    cpu: usize,
    woken: ThreadId,
    to_vp: bool,
    badge: u64,
    words: [u64; tessera_ipc::MSG_WORDS],
) -> Result<Next, Refused> {
    let (threads, sched, domains) = (&mut kernel.threads, &kernel.sched, &kernel.domains);
    let record = threads.get_mut(&woken).ok_or(Refused::Guard)?;
    if !to_vp && let Some(vp) = record.vp {
        return Err(Refused::Vp(vp));
    }
    if !tessera_ipc::switches_directly(cpu, sched.nothing_ready(cpu), record.woken(), to_vp) {
        return Err(Refused::Guard);
    }
    let root = if to_vp {
        None
    } else {
        Some(
            domains
                .get(record.domain)
                .ok_or(Refused::Guard)?
                .space
                .root(),
        )
    };
    write_received(&mut record.context, badge, words, NO_SELECTOR, 0);
    Ok(match root {
        None => Next::Vp(woken),
        Some(root) => Next::Component(Switch {
            thread: woken,
            root,
            context: &mut *record.context,
        }),
    })
}

/// Why [`woken`] refused a thread.
enum Refused {
    /// A guard failed: the general path's.
    Guard,
    /// It is this VP's thread, and a component thread was asked for.
    Vp(tessera_capability::VpId),
}
