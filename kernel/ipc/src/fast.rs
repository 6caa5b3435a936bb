//! The IPC fast path (after seL4's `fastpath.c`): a call to a server that
//! already waits, and a reply-and-wait that blocks, made without the
//! wakeup record the scheduler would carry to the woken thread.
//!
//! Both are guards first, over the same records the general operations use,
//! then the general operations' own transitions; nothing is mirrored. A
//! guard that fails returns `None` with the machine untouched, and the
//! kernel takes the general path ([`Ipc::call`], [`Ipc::reply_and_wait`]),
//! which then decides everything again. The kernel adds its own guards
//! through `accept` (the woken thread is on this CPU, nothing more
//! important waits there, ...), asked only once every IPC guard held and
//! before anything changes.
//!
//! When a fast operation returns `Some(thread)`, the machine is in the state
//! the general operation followed by [`Ipc::take_wakeup`]`(thread)` leaves.
//! The message does not pass through the machine: the fast path carries
//! registers-only messages (no capability, no message-buffer words), which
//! the kernel copies from one thread's registers to the other's, so the
//! kernel checks that guard itself.

use tessera_capability::{EndpointId, Selector, ThreadId};

use crate::machine::Ipc;
use crate::objects::Liveness;
use crate::thread::ThreadState;

/// Whether a message travels in registers alone: no capability to move
/// (`cap`) and no message-buffer words to copy. Only such messages take the
/// fast path; the kernel checks this on the sender's registers before it
/// asks the machine.
#[must_use]
pub const fn registers_only(cap: Option<Selector>, buffer_words: u64) -> bool {
    cap.is_none() && buffer_words == 0
}

/// What the kernel knows of the thread a fast operation would wake, for its
/// own guards ([`switches_directly`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WokenThread {
    /// The CPU it belongs to.
    pub cpu: usize,
    /// Its domain ended (or it faulted): it never runs again.
    pub dead: bool,
    /// It is a VP's thread (it runs the VP's loop, not ring 3).
    pub vp: bool,
    /// The CPUs the kernel may move it to (bit `n`: CPU `n`), from its
    /// component's affinity; its own CPU is always allowed.
    pub movable_to: u64,
}

impl WokenThread {
    /// Whether it may run on `cpu`: its own, or one its affinity names.
    #[must_use]
    pub const fn may_run_on(&self, cpu: usize) -> bool {
        cpu == self.cpu || (cpu < u64::BITS as usize && self.movable_to & 1 << cpu != 0)
    }
}

/// The kernel's guards on the thread `woken` that a fast operation from a
/// thread on `cpu` would wake, asked (through `accept`) once every guard of
/// the IPC machine held: the CPU goes straight to it only if it belongs to
/// `cpu` (a thread of another CPU is queued there and that CPU
/// interrupted), is alive, is of the kind the caller switches to (`vp`: a
/// handler's reply to a VP enters the VP's loop; everything else enters a
/// component), and nothing else waits for `cpu` (`nothing_ready`: then
/// nothing more important does either, so the scheduler would pick it
/// too). Anything else is the general path's: it queues, wakes and
/// schedules as usual.
#[must_use]
pub const fn switches_directly(
    cpu: usize,
    nothing_ready: bool,
    woken: WokenThread,
    vp: bool,
) -> bool {
    nothing_ready && woken.cpu == cpu && !woken.dead && woken.vp == vp
}

/// The guards on the handler `woken` a VP's forwarded exit on `cpu` would
/// wake: as [`switches_directly`] to a component, except that a handler of
/// another CPU comes to `cpu` (the kernel then moves it here). It waits on
/// its endpoint, so it runs nowhere and owes no CPU anything, and serving
/// the VP where the VP runs spares both CPUs the wake-up interrupts, the
/// preemption of whatever runs on the handler's CPU and the idle wait of
/// the VP's, per exit. A VP's thread never moves (its VMCB is its CPU's),
/// and a handler moves only to a CPU its affinity allows: a component
/// kept off a CPU by its manifest never runs there.
#[must_use]
pub const fn handler_comes_here(cpu: usize, nothing_ready: bool, woken: WokenThread) -> bool {
    nothing_ready && !woken.dead && !woken.vp && woken.may_run_on(cpu)
}

/// A fast call the IPC machine's guards let through ([`Ipc::fast_call_guard`]):
/// what [`Ipc::fast_call_commit`] needs, looked up once. It is good only
/// while the machine is unchanged: the kernel asks its own guards in
/// between (reading its own records, never the machine's state) and then
/// commits or drops it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct FastCall {
    caller: ThreadId,
    endpoint: EndpointId,
    /// The waiting server's slot, at the head of the endpoint's receivers.
    head: u32,
    /// That server.
    pub server: ThreadId,
}

/// A fast reply-and-wait the IPC machine's guards let through
/// ([`Ipc::fast_reply_wait_guard`]); as [`FastCall`], good only while the
/// machine is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct FastReplyWait {
    server: ThreadId,
    endpoint: EndpointId,
    /// The caller the server answers.
    pub caller: ThreadId,
}

impl Ipc {
    /// [`Ipc::fast_call_guard`], the kernel's `accept`, then
    /// [`Ipc::fast_call_commit`]: [`Ipc::call`] when it would deliver at
    /// once to a waiting server that `accept` takes. Returns that server,
    /// which now serves `caller` (blocked on its reply) and is runnable
    /// with no wakeup to take. The kernel copies the message (registers
    /// only: no capability, no message-buffer words) and the badge of the
    /// capability used into the server's registers itself, as
    /// [`Ipc::take_wakeup`]'s `Call` would have told it to.
    ///
    /// `None` (nothing changed) unless the guards hold and
    /// `accept(server)`. Once `accept` says yes the call is made: nothing
    /// after it can fail.
    #[inline(always)]
    pub fn fast_call(
        &mut self,
        caller: ThreadId,
        e: EndpointId,
        receive: Option<Selector>,
        accept: impl FnOnce(ThreadId) -> bool,
    ) -> Option<ThreadId> {
        let call = self.fast_call_guard(caller, e)?;
        if !accept(call.server) {
            return None;
        }
        Some(self.fast_call_commit(call, receive))
    }

    /// The IPC machine's guards of a fast call by `caller` on `e`, changing
    /// nothing: `caller` may start an operation; `e` is live and `caller`
    /// is within its ceiling (the call's own checks, so an error is the
    /// general path's to report); a server waits on `e`.
    #[inline(always)]
    pub fn fast_call_guard(&self, caller: ThreadId, e: EndpointId) -> Option<FastCall> {
        // `effective_priority`, from the record `invoker` found.
        let record = self.invoker(caller).ok()?;
        let mut priority = record.priority;
        let mut served = record.caller;
        while let Some(next) = served {
            let record = self.thread(next).ok()?;
            priority = priority.max(record.priority);
            served = record.caller;
        }
        let ep = self.endpoint(e).ok()?;
        // Errors are reported by the general path.
        if ep.liveness != Liveness::Live || priority > ep.ceiling {
            return None;
        }
        // No server waiting: the caller queues (general path).
        let head = ep.receivers.head()?;
        Some(FastCall {
            caller,
            endpoint: e,
            head,
            server: self.id_of(head),
        })
    }

    /// Makes the call `guard` let through, the machine unchanged since: the
    /// server leaves the endpoint's receivers and serves the caller, which
    /// blocks on its reply offering slot `receive`. Returns the server.
    #[inline(always)]
    pub fn fast_call_commit(&mut self, call: FastCall, receive: Option<Selector>) -> ThreadId {
        let ep = self
            .endpoints
            .get_mut(call.endpoint.raw())
            .expect("guarded");
        ep.receivers.pop_front(&mut self.threads);
        // `deliver_call`, its wakeup taken at once.
        let s = self.at(call.head);
        s.state = ThreadState::Runnable;
        s.receive = None;
        s.caller = Some(call.caller);
        let c = self.at(call.caller.index());
        c.state = ThreadState::BlockedOnReply(call.server);
        c.outgoing = None;
        c.receive = receive;
        call.server
    }

    /// [`Ipc::fast_reply_wait_guard`], the kernel's `accept`, then
    /// [`Ipc::fast_reply_wait_commit`]: [`Ipc::reply_and_wait`] when it
    /// would reply to a caller that `accept` takes and then block `server`
    /// on `e`. Returns that caller, now runnable with no wakeup to take.
    /// The kernel copies the reply (registers only) into the caller's
    /// registers itself, as [`Ipc::take_wakeup`]'s `Reply` would have told
    /// it to.
    ///
    /// `None` (nothing changed) unless the guards hold and
    /// `accept(caller)`. Once `accept` says yes the reply is made and
    /// `server` waits: nothing after it can fail.
    #[inline(always)]
    pub fn fast_reply_wait(
        &mut self,
        server: ThreadId,
        e: EndpointId,
        receive: Option<Selector>,
        accept: impl FnOnce(ThreadId) -> bool,
    ) -> Option<ThreadId> {
        let reply = self.fast_reply_wait_guard(server, e)?;
        if !accept(reply.caller) {
            return None;
        }
        Some(self.fast_reply_wait_commit(reply, receive))
    }

    /// The IPC machine's guards of a fast reply-and-wait by `server` on
    /// `e`, changing nothing: the wait's checks pass (`server` may start an
    /// operation, `e` is live, `server`'s domain owns it, `server` is not
    /// below its ceiling); `server` serves a caller; no caller is queued on
    /// `e` (else the wait would receive and `server` run on).
    #[inline(always)]
    pub fn fast_reply_wait_guard(&self, server: ThreadId, e: EndpointId) -> Option<FastReplyWait> {
        // Its errors are the general path's to report.
        let (record, ep) = self.checked_wait(server, e).ok()?;
        // No caller: a first wait, or its caller died (general path).
        let caller = record.caller?;
        // A queued call would be received at once.
        if !ep.senders.is_empty() {
            return None;
        }
        Some(FastReplyWait {
            server,
            endpoint: e,
            caller,
        })
    }

    /// Makes the reply-and-wait `guard` let through, the machine unchanged
    /// since: the caller is runnable with its reply, and the server waits
    /// on the endpoint offering slot `receive`. Returns the caller.
    #[inline(always)]
    pub fn fast_reply_wait_commit(
        &mut self,
        reply: FastReplyWait,
        receive: Option<Selector>,
    ) -> ThreadId {
        // `do_reply`, its wakeup taken at once.
        let c = self.at(reply.caller.index());
        c.state = ThreadState::Runnable;
        c.receive = None;
        c.outgoing = None;
        // `do_wait` with nobody queued.
        let ep = self
            .endpoints
            .get_mut(reply.endpoint.raw())
            .expect("guarded");
        ep.receivers
            .push_back(&mut self.threads, reply.server.index());
        let s = self.at(reply.server.index());
        s.caller = None;
        s.state = ThreadState::BlockedOnReceive(reply.endpoint);
        s.receive = receive;
        reply.caller
    }
}
