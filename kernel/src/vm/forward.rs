//! Forwarded exits: the VP calls the route's endpoint with the exit message
//! and stays blocked until the handler replies; the reply, checked when the
//! handler sent it, is applied before the guest runs again.
use super::{Route, VpState};
use crate::ipc_glue::{ipc_status, words_of};
use crate::memory::physical_to_virtual;
use crate::sched::Keep;
use crate::state::Kernel;
use tessera_abi::vm::intercept;
use tessera_capability::VpId;
use tessera_exit_protocol::{Exit, InterceptBody};

pub use super::pending::{Pending, PendingKind};
use tessera_ipc::{CallOutcome, Message};
use tessera_vcpu::exit_message;
use tessera_vcpu::registers::{VpRegisters, set_uncached};
use tessera_vcpu::reply;

/// Copies words into a message-buffer frame.
pub fn write_buffer_words(frame: x86_64::PhysAddr, words: &[u64]) {
    let count = words.len().min(tessera_abi::MESSAGE_BUFFER_WORDS);
    let target = physical_to_virtual(frame.as_u64()).as_mut_ptr::<u64>();
    // The frame is the VP thread's own message buffer (one page,
    // 512 words), reached through the physical map; `count` fits.
    // SAFETY: by the argument just above.
    unsafe { core::ptr::copy_nonoverlapping(words.as_ptr(), target, count) };
}

/// The first `count` words of a message-buffer frame.
pub fn read_buffer(frame: x86_64::PhysAddr, count: usize) -> &'static [u64] {
    let count = count.min(tessera_abi::MESSAGE_BUFFER_WORDS);
    let source = physical_to_virtual(frame.as_u64()).as_ptr::<u64>();
    // A thread's message buffer is one page it owns for its whole
    // life, read under the kernel lock; `count` words fit.
    // SAFETY: by the argument just above.
    unsafe { core::slice::from_raw_parts(source, count) }
}

impl Kernel {
    /// Sends VP `vp`'s `exit` to `route`: its register words, the TLFS
    /// `body`, then the general registers the route asked for.
    #[inline]
    pub fn send_exit(
        &mut self,
        cpu: usize,
        vp: VpId,
        route: Route,
        exit: &Exit,
        body: &impl InterceptBody,
        pending: Pending,
    ) -> Keep {
        let Some(record) = self.vps.get_mut(vp) else {
            return Keep::Blocked;
        };
        let super::Vp {
            exit_message,
            index,
            gprs,
            vmcb,
            ..
        } = &mut **record;
        exit_message.restart(exit, *index).body(body);
        let save = &vmcb.save;
        exit_message::registers(exit_message, route.state, gprs, save.rax, save.rsp);
        self.forward_exit(cpu, vp, route, pending)
    }

    /// Makes VP `vp`'s exit message `exit`'s, with an empty buffer, for
    /// [`Kernel::forward_exit`]; `false` if the VP is gone.
    pub fn start_exit(&mut self, vp: VpId, exit: &Exit) -> bool {
        let Some(record) = self.vps.get_mut(vp) else {
            return false;
        };
        record.exit_message.restart(exit, record.index);
        true
    }

    /// Sends VP `vp`'s exit message (`Vp::exit_message`) to `route`'s
    /// endpoint.
    pub fn forward_exit(&mut self, cpu: usize, vp: VpId, route: Route, pending: Pending) -> Keep {
        let Some((thread, routes_post)) = self.vps.get(vp).map(|r| (r.thread, r.routes_post))
        else {
            return Keep::Blocked;
        };
        if routes_post && let Some(keep) = self.posted_before_forward(cpu, vp, &route, &pending) {
            return keep;
        }
        self.count_forwarded(vp, &route);
        if let Some(keep) = self.fast_forward(cpu, thread, vp, route, pending) {
            return keep;
        }
        // The general path sends from the VP thread's message buffer.
        let Some(record) = self.vps.get(vp) else {
            return Keep::Blocked;
        };
        let message = &record.exit_message;
        write_buffer_words(record.message_buffer, message.buffer());
        let mut ipc_message = Message::new(&message.words).expect("six words fit");
        ipc_message.buffer_words = message.buffer_words() as u16;
        match self
            .ipc
            .call(thread, route.endpoint, route.badge, ipc_message, None)
        {
            Ok(outcome) => {
                if let Some(record) = self.vps.get_mut(vp) {
                    record.state = VpState::AwaitingReply(pending);
                    record.reply_captured = false;
                }
                match outcome {
                    CallOutcome::Delivered { server } => self.hand_over(server, cpu),
                    CallOutcome::Queued => Keep::Blocked,
                }
            }
            Err(error) => {
                log::warn!(
                    "{}: the handler of message {:#x} is gone ({:#x})",
                    self.vp_name(vp),
                    pending.message_type,
                    ipc_status(error)
                );
                self.handler_failed(cpu, vp, pending)
            }
        }
    }

    /// The fast path of a forwarded exit (`syscall::fastpath` is the
    /// other half, the handler's `ReplyWait`): when the route's handler
    /// thread already waits on the endpoint and nothing else waits for the
    /// CPU (a handler of another CPU moves to this one:
    /// `tessera_ipc::handler_comes_here`), the call is delivered by the IPC
    /// machine's own guards (`Ipc::fast_call`) and written straight into
    /// the handler's registers and message buffer, as `write_delivery`
    /// would from the wakeup the general path records, and the CPU goes to
    /// the handler. The exit message carries no capability; its buffer
    /// words go straight into the handler's message buffer. `None`:
    /// nothing changed, the general path calls.
    fn fast_forward(
        &mut self,
        cpu: usize,
        thread: tessera_capability::ThreadId,
        vp: VpId,
        route: Route,
        pending: Pending,
    ) -> Option<Keep> {
        let message = &self.vps.get(vp)?.exit_message;
        let count = message
            .buffer_words()
            .min(tessera_abi::MESSAGE_BUFFER_WORDS);
        let badge = route.badge.map_or(0, |badge| badge.0);
        let (threads, sched, domains) = (&mut self.threads, &self.sched, &self.domains);
        // Once `accept` says yes the call is made, so the delivery is
        // written into the server's registers and message buffer here,
        // with its record at hand.
        let accept = |server: tessera_capability::ThreadId| {
            let Some(record) = threads.get_mut(&server) else {
                return false;
            };
            if !tessera_ipc::handler_comes_here(cpu, sched.nothing_ready(cpu), record.woken()) {
                return false;
            }
            if domains.get(record.domain).is_none() {
                return false;
            }
            // A handler of another CPU serves the VP here: it waits, so it
            // runs nowhere, and every CPU's run queue has room for every
            // thread (`Kernel::add_ipc_thread`).
            record.cpu = cpu;
            write_buffer_words(record.message_buffer, message.buffer());
            crate::ipc_glue::write_received(
                &mut record.context,
                badge,
                message.words,
                tessera_abi::NO_SELECTOR,
                count as u64,
            );
            true
        };
        let server = self.ipc.fast_call(thread, route.endpoint, None, accept)?;
        if let Some(record) = self.vps.get_mut(vp) {
            record.state = VpState::AwaitingReply(pending);
            record.reply_captured = false;
        }
        Some(Keep::Handler(server))
    }

    /// A handler died (or never answered): the partition's lifecycle
    /// handler hears of it, unless it was the one that died.
    fn handler_failed(&mut self, cpu: usize, vp: VpId, pending: Pending) -> Keep {
        let Some(record) = self.vps.get(vp) else {
            return Keep::Blocked;
        };
        let lifecycle = self
            .partitions
            .get(record.partition)
            .and_then(|p| p.route(intercept::LIFECYCLE, 0).copied());
        match lifecycle {
            Some(route) if !pending.lifecycle => {
                let died = Exit::HandlerDied {
                    message_type: pending.message_type,
                };
                if !self.start_exit(vp, &died) {
                    return Keep::Blocked;
                }
                self.forward_exit(cpu, vp, route, Pending::lifecycle(&died))
            }
            _ => {
                log::error!(
                    "{}: no lifecycle handler answers; the VP stops",
                    self.vp_name(vp)
                );
                self.stop_vp(vp);
                Keep::Blocked
            }
        }
    }

    /// The VP `vp` was woken with its handler's answer: apply it. Returns
    /// what the VP does next (`None`: run the guest).
    pub fn complete_exit(&mut self, cpu: usize, vp: VpId, pending: Pending) -> Option<Keep> {
        let Kernel { vps, threads, .. } = self;
        let Some(record) = vps.get_mut(vp) else {
            return Some(Keep::Blocked);
        };
        record.state = VpState::Runnable;
        let status = threads[&record.thread].context.rax;
        if status != 0 {
            log::warn!(
                "{}: the call for message {:#x} failed with {status:#x}",
                self.vp_name(vp),
                pending.message_type
            );
            return Some(self.handler_failed(cpu, vp, pending));
        }
        // The reply is applied where it lies and cleared after: moved out,
        // its register array would be copied on every forwarded exit.
        if !record.reply_captured {
            // Every reply to a VP is captured where the kernel accepts it
            // (`capture_reply_to_vp`), so this is a kernel bug.
            log::error!("{}: woken without a captured reply", self.vp_name(vp));
            self.stop_vp(vp);
            return Some(Keep::Blocked);
        }
        let stop = record.reply.stop;
        if apply_reply(record, pending) {
            log::warn!(
                "{}: an event is already being delivered; the reply's is dropped",
                self.vp_name(vp)
            );
        }
        if stop {
            self.stop_vp(vp);
            return Some(Keep::Blocked);
        }
        None
    }
}

/// Applies VP `record`'s captured reply to it, and clears it; `true` if
/// the reply's event is dropped (another is being delivered).
#[inline]
fn apply_reply(record: &mut super::Vp, pending: Pending) -> bool {
    let super::Vp {
        reply,
        reply_captured,
        vmcb,
        gprs,
        ..
    } = record;
    if !core::mem::take(reply_captured) {
        return false;
    }
    for (name, value) in reply.register_pairs() {
        // Names and values were checked by `reply::decode`. Registers
        // no clean bit covers keep the VMCB's cached areas clean; any
        // other name counts as writing every area.
        if !set_uncached(vmcb, gprs, name, value) {
            let mut registers = VpRegisters {
                vmcb: vmcb.all_mut(),
                gprs,
            };
            let _ = registers.set(name, (value, 0));
        }
    }
    if let Some([first, second]) = reply.result {
        match pending.kind {
            PendingKind::IoRead { size } => {
                let mask = match size {
                    1 => 0xFF,
                    2 => 0xFFFF,
                    _ => u64::MAX,
                };
                // A 32-bit IN zero-extends into RAX, as a 32-bit move does.
                let rax = vmcb.rax_mut();
                *rax = if size == 4 {
                    first & 0xFFFF_FFFF
                } else {
                    (*rax & !mask) | (first & mask)
                };
            }
            PendingKind::MsrRead => {
                *vmcb.rax_mut() = first & 0xFFFF_FFFF;
                gprs.rdx = first >> 32;
            }
            PendingKind::Mmio(access) => super::mmio::complete_load(vmcb, gprs, access, first),
            PendingKind::Hypercall => *vmcb.rax_mut() = first,
            // The 8259's vector, any of the 256 (not an event a reply may
            // name: external interrupts below 32 are refused there).
            PendingKind::Acknowledge => {
                if let Ok(vector) = u8::try_from(first)
                    && !vmcb.control.event_inj.valid()
                {
                    *vmcb.event_inj_mut() = tessera_svm::EventInjection::external_interrupt(vector);
                }
            }
            PendingKind::Cpuid => {
                *vmcb.rax_mut() = first & 0xFFFF_FFFF;
                gprs.rbx = first >> 32;
                gprs.rcx = second & 0xFFFF_FFFF;
                gprs.rdx = second >> 32;
            }
            _ => {}
        }
    }
    if reply.fault {
        *vmcb.event_inj_mut() = super::exits::general_protection();
    }
    if reply.advance_rip
        && let Some(next) = pending.next_rip
    {
        *vmcb.rip_mut() = next;
    }
    let mut dropped = false;
    if let Some(event) = reply.inject {
        if vmcb.control.event_inj.valid() {
            dropped = true;
        } else {
            *vmcb.event_inj_mut() = event;
        }
    }
    dropped
}

impl Kernel {
    /// Before a handler's `Reply` reaches a VP: the whole reply is checked,
    /// so the handler learns of a bad one (and still owes a good one), and
    /// decoded out of the handler's registers and message buffer, which
    /// hold its next message by the time the VP runs, into the VP's record.
    /// The VP's CPU applies it only once the IPC layer has woken the VP with
    /// the reply; a reply the IPC layer then refuses is replaced by the next
    /// one (or cleared with the VP's next exit). `Ok(true)` if it stops the
    /// VP (it says STOP, or it answers a lifecycle message, or a stop was
    /// asked for while the VP waited): the kernel then applies it as it
    /// accepts it, on the handler's CPU (`stop_on_reply`).
    pub fn capture_reply_to_vp(
        &mut self,
        replier: tessera_capability::ThreadId,
    ) -> Result<bool, u64> {
        let Ok(Some(caller)) = self.ipc.caller(replier) else {
            return Ok(false);
        };
        let Some(vp) = self.threads.get(&caller).and_then(|thread| thread.vp) else {
            return Ok(false);
        };
        self.capture_reply_from(replier, vp)
    }

    /// [`Kernel::capture_reply_to_vp`] once the caller is known to be VP
    /// `vp`'s thread (the IPC fast path looked it up already).
    #[inline]
    pub fn capture_reply_from(
        &mut self,
        replier: tessera_capability::ThreadId,
        vp: VpId,
    ) -> Result<bool, u64> {
        let Kernel { vps, threads, .. } = self;
        let Some(record) = vps.get_mut(vp) else {
            return Ok(false);
        };
        let VpState::AwaitingReply(pending) = record.state else {
            return Ok(false);
        };
        let stopping = pending.lifecycle || record.stop_requested;
        let Some(replier) = threads.get(&replier) else {
            return Ok(false);
        };
        let words = words_of(&replier.context);
        let count = usize::try_from(replier.context.r14).unwrap_or(usize::MAX);
        if count > tessera_abi::MESSAGE_BUFFER_WORDS {
            return Err(tessera_abi::Status::InvalidArgument.code());
        }
        let buffer = read_buffer(replier.message_buffer, count);
        let is_msr = matches!(pending.kind, PendingKind::MsrRead | PendingKind::MsrWrite);
        // Decoded where it is kept; a refused one leaves nothing captured.
        record.reply_captured = false;
        let reply = &mut record.reply;
        match reply::decode_into(&words, buffer, is_msr, reply) {
            Ok(()) if !reply.advance_rip || pending.next_rip.is_some() => {}
            _ => return Err(tessera_abi::Status::InvalidArgument.code()),
        }
        record.reply_captured = true;
        Ok(reply.stop || stopping)
    }
}
