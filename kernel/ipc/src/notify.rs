//! Notifications: asynchronous signal bits, for interrupts, timers and
//! wake-ups between components.

use tessera_capability::{NotificationId, ThreadId};

use crate::error::IpcError;
use crate::machine::Ipc;
use crate::thread::{ThreadState, Wakeup};

/// What became of a notification wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotifyOutcome {
    /// Bits were pending: here they are, now cleared.
    Bits(u64),
    /// None were: the thread is blocked on the notification.
    Blocked,
}

impl Ipc {
    /// ORs `bits` into `n`. If a thread waits on `n`, the first one (FIFO)
    /// takes every pending bit as its wakeup, the bits clear, and it is
    /// returned to be made runnable. Never blocks; O(1), so interrupt and
    /// timer paths may call it.
    ///
    /// # Errors
    ///
    /// [`IpcError::StaleNotification`].
    pub fn signal(&mut self, n: NotificationId, bits: u64) -> Result<Option<ThreadId>, IpcError> {
        let note = self
            .notifications
            .get_mut(n.raw())
            .ok_or(IpcError::StaleNotification)?;
        note.pending |= bits;
        if note.pending == 0 {
            return Ok(None);
        }
        let Some(w) = note.waiters.pop_front(&mut self.threads) else {
            return Ok(None);
        };
        let bits = core::mem::take(&mut note.pending);
        Ok(Some(self.wake(w, Wakeup::Signal(bits))))
    }

    /// `t` takes the bits pending on `n` and clears them, or blocks until
    /// some are signalled. O(1).
    ///
    /// # Errors
    ///
    /// The invoker errors ([`IpcError::InvalidThread`],
    /// [`IpcError::NotRunnable`], [`IpcError::WakeupPending`]);
    /// [`IpcError::StaleNotification`].
    pub fn wait_notification(
        &mut self,
        t: ThreadId,
        n: NotificationId,
    ) -> Result<NotifyOutcome, IpcError> {
        self.invoker(t)?;
        let note = self
            .notifications
            .get_mut(n.raw())
            .ok_or(IpcError::StaleNotification)?;
        if note.pending != 0 {
            return Ok(NotifyOutcome::Bits(core::mem::take(&mut note.pending)));
        }
        note.waiters.push_back(&mut self.threads, t.index());
        self.thread_mut(t)?.state = ThreadState::BlockedOnNotification(n);
        Ok(NotifyOutcome::Blocked)
    }

    /// Takes and clears the bits pending on `n` (possibly none) without
    /// blocking.
    ///
    /// # Errors
    ///
    /// [`IpcError::StaleNotification`].
    pub fn poll_notification(&mut self, n: NotificationId) -> Result<u64, IpcError> {
        let note = self
            .notifications
            .get_mut(n.raw())
            .ok_or(IpcError::StaleNotification)?;
        Ok(core::mem::take(&mut note.pending))
    }
}
