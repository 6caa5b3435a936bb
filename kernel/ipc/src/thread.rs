//! Threads as the IPC machine sees them.

use tessera_capability::{Badge, DomainId, EndpointId, NotificationId, Selector, ThreadId};

use crate::error::IpcError;
use crate::message::{Delivery, Message};

/// A scheduling priority; higher runs first.
pub type Priority = u8;

/// Where a thread is. `Runnable` covers both ready and running: which
/// runnable thread is on a CPU is the scheduler's business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThreadState {
    /// May run (the kernel's scheduler holds it).
    Runnable,
    /// Called an endpoint that had no waiting server; queued on it.
    BlockedOnSend(EndpointId),
    /// Its call was delivered to this server thread; waiting for the reply.
    BlockedOnReply(ThreadId),
    /// A server waiting on this endpoint for a call.
    BlockedOnReceive(EndpointId),
    /// Waiting on this notification for signal bits.
    BlockedOnNotification(NotificationId),
    /// Died; never runs or blocks again.
    Dead,
}

/// What a thread woken by someone else finds when it resumes: the result
/// of the blocking operation it made. The kernel takes it with
/// [`crate::Ipc::take_wakeup`] and writes it to the thread's registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wakeup {
    /// A server received a call.
    Call(Delivery),
    /// A caller received its reply.
    Reply(Delivery),
    /// A notification waiter received these bits (now cleared).
    Signal(u64),
    /// The operation failed while the thread was blocked.
    Failed(IpcError),
}

/// A call waiting in an endpoint's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub badge: Option<Badge>,
    pub message: Message,
}

/// Links for the one queue (endpoint senders or receivers, notification
/// waiters) a blocked thread may be in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Link {
    pub prev: Option<u32>,
    pub next: Option<u32>,
    /// Ordering key in priority-ordered queues.
    pub key: Priority,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Thread {
    pub domain: DomainId,
    pub priority: Priority,
    pub state: ThreadState,
    pub link: Link,
    /// The one caller this thread serves now (its one-shot reply right).
    pub caller: Option<ThreadId>,
    /// The call it waits to send, while `BlockedOnSend`.
    pub outgoing: Option<Outgoing>,
    /// The slot it offered for a capability, while blocked to receive a
    /// call or a reply.
    pub receive: Option<Selector>,
    /// Set when someone else ended its blocking; taken by the kernel.
    pub wakeup: Option<Wakeup>,
}

impl Thread {
    pub(crate) const fn new(domain: DomainId, priority: Priority) -> Self {
        Self {
            domain,
            priority,
            state: ThreadState::Runnable,
            link: Link {
                prev: None,
                next: None,
                key: 0,
            },
            caller: None,
            outgoing: None,
            receive: None,
            wakeup: None,
        }
    }
}
