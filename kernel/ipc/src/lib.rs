//! Synchronous IPC and notifications for the Tessera microkernel, as a
//! pure state machine.
//!
//! The kernel owns the threads' registers, the scheduler and the CPUs; this
//! crate owns who is blocked on whom and what each woken thread finds. The
//! kernel calls an operation for the thread making a system call, and the
//! machine says which thread now runs or blocks and what to copy. No
//! hardware access; tested on the host. The key words MUST, MUST NOT,
//! SHOULD and MAY are used as in RFC 2119 where a statement is a promise of
//! the component ABI.
//!
//! # Model
//!
//! - A **thread** belongs to a domain and has a priority. It is
//!   [`ThreadState::Runnable`] or blocked on exactly one thing: sending to an
//!   endpoint, a reply from one server thread, receiving on an endpoint, or
//!   a notification — or it is dead.
//! - An **endpoint** is served by the threads of one domain, its owner. It
//!   has a generation ([`EndpointId`]) and a priority ceiling.
//! - A **message** is up to [`MSG_WORDS`] words, the register fast path,
//!   plus an optional capability to transfer. The machine only carries the
//!   transfer ([`CapTransfer`]); rights are checked and the capability moved
//!   by the kernel with `tessera_capability` (see there).
//! - A **notification** holds signal bits for interrupts and timers.
//!
//! # Operations
//!
//! [`Ipc::call`] delivers to a waiting server or queues the caller;
//! [`Ipc::wait`] takes a queued call or blocks; [`Ipc::reply`] wakes the
//! caller; [`Ipc::reply_and_wait`] is the server loop's fast path. A server
//! holds one reply right at a time: it MUST reply before it waits again
//! ([`IpcError::ReplyPending`]); `reply_and_wait` does both at once.
//! [`Ipc::signal`], [`Ipc::wait_notification`] and
//! [`Ipc::poll_notification`] serve notifications. A thread woken by another
//! finds its result in [`Ipc::take_wakeup`].
//!
//! [`Ipc::fast_call`] and [`Ipc::fast_reply_wait`] are the kernel's fast
//! path (after seL4's): the same checks and transitions as `call` and
//! `reply_and_wait` for the one case that switches straight to the woken
//! thread, with no wakeup record left to take, or `None` and nothing
//! changed. Each is a guard that changes nothing ([`Ipc::fast_call_guard`],
//! [`Ipc::fast_reply_wait_guard`]), the kernel's own guards, and a commit
//! that cannot fail ([`Ipc::fast_call_commit`],
//! [`Ipc::fast_reply_wait_commit`]); the kernel calls the three steps
//! itself, so nothing stands between them but its own code.
//!
//! # Queue order (ABI)
//!
//! - Callers queued on an endpoint MUST be served highest (effective)
//!   priority first, and in arrival order among equal priorities.
//! - Server threads waiting on an endpoint, and threads waiting on a
//!   notification, MUST be served in arrival order.
//!
//! # Time accounting: scheduling-context donation
//!
//! A call lends the caller's time to the server. While a server thread
//! serves a call, the CPU time it uses MUST be charged to the caller — to
//! the thread at the far end of the chain if the caller was itself serving
//! ([`Ipc::charged_to`]) — and it runs within the caller's time slice; on
//! reply it is back on its own time. A component thus pays for the work it
//! asks for, and a server cannot be made to starve others by a client's
//! load. When a call is delivered to a waiting server, the kernel SHOULD
//! switch to the server directly (no scheduler pass), and when
//! `reply_and_wait` blocks the server, back to the caller directly.
//!
//! # Priority inversion: the ceiling rule
//!
//! Each endpoint has a priority ceiling, from the manifest. A caller whose
//! effective priority is above it MUST be refused
//! ([`IpcError::AboveCeiling`]), and a server thread whose own priority is
//! below it MUST NOT receive on it ([`IpcError::BelowCeiling`]). So a server
//! always runs at a priority at least that of any of its callers, and no
//! middle-priority thread can preempt a server working for a high-priority
//! caller: priority inversion is prevented statically (the immediate
//! priority-ceiling protocol), with no run-time inheritance. A caller can
//! still wait behind the call being served and behind queued callers of
//! higher or equal priority: a bounded blocking time. The manifest compiler
//! SHOULD reject a route from a caller above the server's priority, and
//! MUST reject cycles in the call graph (they could deadlock).
//! [`Ipc::effective_priority`] is the highest priority along the chain of
//! callers a thread serves — under the rule, its own.
//!
//! # Failure (ABI)
//!
//! No thread is ever left blocked on something gone. When a server thread
//! dies, the caller it serves is woken with [`IpcError::ServerDied`]. When
//! a server domain dies ([`Ipc::domain_died`], which the kernel MUST call
//! when a component faults or is stopped), its endpoints turn dead: queued
//! callers are woken with `ServerDied`, and later calls fail with it at
//! once. A restarted server gets its endpoints back with a new generation
//! ([`Ipc::restart_endpoint`]); calls through capabilities naming the old
//! generation fail with [`IpcError::StaleEndpoint`], so clients detect the
//! restart and MUST obtain a new capability. Destroying an endpoint or a
//! notification wakes its waiters with [`IpcError::EndpointDestroyed`] or
//! [`IpcError::NotificationDestroyed`]. A reply to a caller that died is
//! [`IpcError::NoCaller`] (`reply_and_wait` simply waits).

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod audit;
mod call;
mod error;
mod failure;
mod fast;
mod machine;
mod message;
mod notify;
mod objects;
mod queue;
mod thread;

#[cfg(test)]
mod tests;

pub use call::{CallOutcome, ReplyWaitOutcome, WaitOutcome};
pub use error::IpcError;
pub use fast::{WokenThread, handler_comes_here, registers_only, switches_directly};
pub use machine::Ipc;
pub use message::{CapTransfer, Delivery, MSG_WORDS, Message};
pub use notify::NotifyOutcome;
pub use tessera_capability::{Badge, DomainId, EndpointId, NotificationId, Selector, ThreadId};
pub use thread::{Priority, ThreadState, Wakeup};
