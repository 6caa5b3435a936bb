//! The IPC machine: its arenas, object creation, and queries.

use tessera_capability::arena::Arena;
use tessera_capability::{DomainId, EndpointId, NotificationId, ThreadId};

use crate::error::IpcError;
use crate::objects::{Endpoint, Liveness, Notification};
use crate::queue::Queue;
use crate::thread::{Priority, Thread, ThreadState, Wakeup};

/// Every thread, endpoint and notification, and the IPC state between them.
///
/// Ids are generation-checked: an id of a removed object is refused, never
/// aliased. Creation may allocate (fallibly); no other operation does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ipc {
    pub(crate) threads: Arena<Thread>,
    pub(crate) endpoints: Arena<Endpoint>,
    pub(crate) notifications: Arena<Notification>,
}

impl Ipc {
    /// An empty machine; allocates nothing.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            threads: Arena::new(),
            endpoints: Arena::new(),
            notifications: Arena::new(),
        }
    }

    /// Adds a runnable thread of `domain` at `priority`.
    ///
    /// # Errors
    ///
    /// [`IpcError::OutOfMemory`].
    pub fn add_thread(
        &mut self,
        domain: DomainId,
        priority: Priority,
    ) -> Result<ThreadId, IpcError> {
        self.threads
            .insert(Thread::new(domain, priority))
            .map(ThreadId)
            .map_err(|_| IpcError::OutOfMemory)
    }

    /// Creates an endpoint served by `owner`'s threads, with priority
    /// `ceiling` (see the crate docs on priority inversion).
    ///
    /// # Errors
    ///
    /// [`IpcError::OutOfMemory`].
    pub fn create_endpoint(
        &mut self,
        owner: DomainId,
        ceiling: Priority,
    ) -> Result<EndpointId, IpcError> {
        self.endpoints
            .insert(Endpoint {
                owner,
                ceiling,
                liveness: Liveness::Live,
                senders: Queue::default(),
                receivers: Queue::default(),
            })
            .map(EndpointId)
            .map_err(|_| IpcError::OutOfMemory)
    }

    /// Creates a notification with no bits pending.
    ///
    /// # Errors
    ///
    /// [`IpcError::OutOfMemory`].
    pub fn create_notification(&mut self) -> Result<NotificationId, IpcError> {
        self.notifications
            .insert(Notification::default())
            .map(NotificationId)
            .map_err(|_| IpcError::OutOfMemory)
    }

    /// How many threads exist (dead ones included, until removed): at most
    /// this many can be woken by one operation.
    #[must_use]
    pub fn thread_count(&self) -> usize {
        self.threads.len()
    }

    /// The thread's state.
    ///
    /// # Errors
    ///
    /// [`IpcError::InvalidThread`].
    pub fn state(&self, t: ThreadId) -> Result<ThreadState, IpcError> {
        Ok(self.thread(t)?.state)
    }

    /// The thread's domain.
    ///
    /// # Errors
    ///
    /// [`IpcError::InvalidThread`].
    pub fn domain(&self, t: ThreadId) -> Result<DomainId, IpcError> {
        Ok(self.thread(t)?.domain)
    }

    /// The thread's own priority.
    ///
    /// # Errors
    ///
    /// [`IpcError::InvalidThread`].
    pub fn priority(&self, t: ThreadId) -> Result<Priority, IpcError> {
        Ok(self.thread(t)?.priority)
    }

    /// The caller `t` is serving (and owes a reply), if any.
    ///
    /// # Errors
    ///
    /// [`IpcError::InvalidThread`].
    #[inline]
    pub fn caller(&self, t: ThreadId) -> Result<Option<ThreadId>, IpcError> {
        Ok(self.thread(t)?.caller)
    }

    /// The priority `t` runs at: the highest own priority along the chain
    /// of callers it serves (itself, its caller, that caller's caller...).
    /// Under the ceiling rule this is `t`'s own priority.
    ///
    /// # Errors
    ///
    /// [`IpcError::InvalidThread`].
    #[inline]
    pub fn effective_priority(&self, t: ThreadId) -> Result<Priority, IpcError> {
        let mut best = self.thread(t)?.priority;
        self.walk_callers(t, |c| best = best.max(c.priority));
        Ok(best)
    }

    /// Whose time `t` runs on: the thread at the far end of the chain of
    /// callers it serves (itself if it serves no one). The kernel MUST
    /// charge the CPU time `t` uses, and apply the time-slice budget, to
    /// this thread.
    ///
    /// # Errors
    ///
    /// [`IpcError::InvalidThread`].
    pub fn charged_to(&self, t: ThreadId) -> Result<ThreadId, IpcError> {
        self.thread(t)?;
        let mut last = t;
        let mut cur = self.thread(t)?.caller;
        while let Some(c) = cur {
            last = c;
            cur = self.thread(c).expect("caller is live").caller;
        }
        Ok(last)
    }

    /// Takes the result a woken thread must see when it resumes. The kernel
    /// MUST take it before returning `t` to user mode; until then, `t` can
    /// make no IPC operation ([`IpcError::WakeupPending`]).
    ///
    /// # Errors
    ///
    /// [`IpcError::InvalidThread`].
    pub fn take_wakeup(&mut self, t: ThreadId) -> Result<Option<Wakeup>, IpcError> {
        let wakeup = &mut self.thread_mut(t)?.wakeup;
        // Most threads the scheduler enters have none (the fast paths take
        // theirs at once): asking first spares moving an empty record.
        if wakeup.is_none() {
            return Ok(None);
        }
        Ok(wakeup.take())
    }

    /// The domain that serves `e`.
    ///
    /// # Errors
    ///
    /// [`IpcError::StaleEndpoint`].
    pub fn endpoint_owner(&self, e: EndpointId) -> Result<DomainId, IpcError> {
        Ok(self.endpoint(e)?.owner)
    }

    /// Bits signalled on `n` and not yet taken.
    ///
    /// # Errors
    ///
    /// [`IpcError::StaleNotification`].
    pub fn pending_bits(&self, n: NotificationId) -> Result<u64, IpcError> {
        Ok(self.notification(n)?.pending)
    }

    // ---- helpers ----

    #[inline]
    fn walk_callers(&self, t: ThreadId, mut f: impl FnMut(&Thread)) {
        // Caller links form chains (a caller is blocked, so it serves no
        // one new): at most one step per thread.
        let mut cur = self.thread(t).ok().and_then(|x| x.caller);
        while let Some(c) = cur {
            let x = self.thread(c).expect("caller is live");
            f(x);
            cur = x.caller;
        }
    }

    #[inline]
    pub(crate) fn thread(&self, t: ThreadId) -> Result<&Thread, IpcError> {
        self.threads.get(t.raw()).ok_or(IpcError::InvalidThread)
    }

    #[inline]
    pub(crate) fn thread_mut(&mut self, t: ThreadId) -> Result<&mut Thread, IpcError> {
        self.threads.get_mut(t.raw()).ok_or(IpcError::InvalidThread)
    }

    #[inline]
    pub(crate) fn at(&mut self, index: u32) -> &mut Thread {
        self.threads
            .by_index_mut(index)
            .expect("linked thread is live")
    }

    #[inline]
    pub(crate) fn id_of(&self, index: u32) -> ThreadId {
        ThreadId(
            self.threads
                .by_index(index)
                .expect("linked thread is live")
                .0,
        )
    }

    #[inline]
    pub(crate) fn endpoint(&self, e: EndpointId) -> Result<&Endpoint, IpcError> {
        self.endpoints.get(e.raw()).ok_or(IpcError::StaleEndpoint)
    }

    pub(crate) fn notification(&self, n: NotificationId) -> Result<&Notification, IpcError> {
        self.notifications
            .get(n.raw())
            .ok_or(IpcError::StaleNotification)
    }

    /// Checks that `t` may start an operation: it exists, is running (so
    /// runnable), and has no untaken wakeup.
    #[inline]
    pub(crate) fn invoker(&self, t: ThreadId) -> Result<&Thread, IpcError> {
        let x = self.thread(t)?;
        if x.state != ThreadState::Runnable {
            return Err(IpcError::NotRunnable);
        }
        if x.wakeup.is_some() {
            return Err(IpcError::WakeupPending);
        }
        Ok(x)
    }

    /// Makes the blocked thread at `index` runnable with `wakeup`.
    pub(crate) fn wake(&mut self, index: u32, wakeup: Wakeup) -> ThreadId {
        let x = self.at(index);
        debug_assert!(x.link.prev.is_none() && x.link.next.is_none());
        x.state = ThreadState::Runnable;
        x.wakeup = Some(wakeup);
        x.receive = None;
        x.outgoing = None;
        self.id_of(index)
    }
}
