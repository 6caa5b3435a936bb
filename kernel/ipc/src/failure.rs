//! Failure, destruction and restart: nobody is left blocked on what is gone.
//!
//! Each operation reports every thread it wakes to the `wake` sink; the
//! kernel MUST make each runnable (its wakeup holds the error it sees).

use tessera_capability::{DomainId, EndpointId, NotificationId, ThreadId};

use crate::error::IpcError;
use crate::machine::Ipc;
use crate::objects::{Endpoint, Liveness};
use crate::queue::Queue;
use crate::thread::{ThreadState, Wakeup};

const ENDPOINT_OUTLIVES: &str = "queued threads are woken before an endpoint goes";

impl Ipc {
    /// `t` died (faulted, or was destroyed): it leaves whatever queue it
    /// was in, a server it was calling no longer owes it a reply, and the
    /// caller it was serving is woken with [`IpcError::ServerDied`].
    /// Dying twice is harmless. O(1).
    ///
    /// # Errors
    ///
    /// [`IpcError::InvalidThread`].
    pub fn thread_died(
        &mut self,
        t: ThreadId,
        wake: &mut dyn FnMut(ThreadId),
    ) -> Result<(), IpcError> {
        self.kill(t, None, wake)
    }

    /// [`Self::thread_died`], not reporting a woken caller of domain
    /// `dying`: that one is about to die too.
    fn kill(
        &mut self,
        t: ThreadId,
        dying: Option<DomainId>,
        wake: &mut dyn FnMut(ThreadId),
    ) -> Result<(), IpcError> {
        let state = self.thread(t)?.state;
        let i = t.index();
        match state {
            ThreadState::Dead => return Ok(()),
            ThreadState::Runnable => {}
            ThreadState::BlockedOnSend(e) => self
                .endpoints
                .get_mut(e.raw())
                .expect(ENDPOINT_OUTLIVES)
                .senders
                .remove(&mut self.threads, i),
            ThreadState::BlockedOnReceive(e) => self
                .endpoints
                .get_mut(e.raw())
                .expect(ENDPOINT_OUTLIVES)
                .receivers
                .remove(&mut self.threads, i),
            ThreadState::BlockedOnNotification(n) => self
                .notifications
                .get_mut(n.raw())
                .expect("waiters are woken before a notification goes")
                .waiters
                .remove(&mut self.threads, i),
            ThreadState::BlockedOnReply(server) => {
                let s = self
                    .thread_mut(server)
                    .expect("a server outlives its callers' wait");
                debug_assert_eq!(s.caller, Some(t));
                s.caller = None;
            }
        }
        if let Some(c) = self.at(i).caller.take() {
            let c = self.wake(c.index(), Wakeup::Failed(IpcError::ServerDied));
            if Some(self.at(c.index()).domain) != dying {
                wake(c);
            }
        }
        let x = self.at(i);
        x.state = ThreadState::Dead;
        x.outgoing = None;
        x.receive = None;
        x.wakeup = None;
        Ok(())
    }

    /// The server domain `d` died (a component faulted or was stopped):
    /// all its threads die ([`Self::thread_died`]), and each endpoint it
    /// owns turns dead: its queued callers are woken with
    /// [`IpcError::ServerDied`] and later calls fail the same way at once,
    /// until [`Self::restart_endpoint`]. O(threads + endpoints).
    pub fn domain_died(&mut self, d: DomainId, wake: &mut dyn FnMut(ThreadId)) {
        for i in 0..self.threads.index_bound() {
            let Some((id, x)) = self.threads.by_index(i) else {
                continue;
            };
            // A caller of `d` woken here dies later in this loop: had it
            // died earlier, it would no longer be anyone's caller.
            if x.domain == d {
                self.kill(ThreadId(id), Some(d), wake).expect("live thread");
            }
        }
        for i in 0..self.endpoints.index_bound() {
            let Some(ep) = self.endpoints.by_index_mut(i) else {
                continue;
            };
            if ep.owner != d {
                continue;
            }
            ep.liveness = Liveness::ServerDead;
            let (mut senders, mut receivers) = (ep.senders, ep.receivers);
            ep.senders = Queue::default();
            ep.receivers = Queue::default();
            self.drain(&mut senders, IpcError::ServerDied, wake);
            // Receivers belong to `d`, so they are already dead and gone.
            self.drain(&mut receivers, IpcError::EndpointDestroyed, wake);
        }
    }

    /// Gives `e` a new generation, served by `owner` (a restarted server):
    /// callers still queued are woken with [`IpcError::ServerDied`],
    /// waiting servers with [`IpcError::EndpointDestroyed`], and the old id
    /// — every capability that still names it — gets
    /// [`IpcError::StaleEndpoint`] from now on, so clients notice the
    /// restart. The ceiling stays. Returns the new id.
    ///
    /// # Errors
    ///
    /// [`IpcError::StaleEndpoint`]; [`IpcError::OutOfMemory`] (nothing
    /// changed then).
    pub fn restart_endpoint(
        &mut self,
        e: EndpointId,
        owner: DomainId,
        wake: &mut dyn FnMut(ThreadId),
    ) -> Result<EndpointId, IpcError> {
        let ceiling = self.endpoint(e)?.ceiling;
        self.endpoints
            .ensure_capacity(self.endpoints.len() + 1)
            .map_err(|_| IpcError::OutOfMemory)?;
        self.destroy_endpoint_with(e, IpcError::ServerDied, wake)?;
        let id = self
            .endpoints
            .insert(Endpoint {
                owner,
                ceiling,
                liveness: Liveness::Live,
                senders: Queue::default(),
                receivers: Queue::default(),
            })
            .expect("capacity ensured");
        Ok(EndpointId(id))
    }

    /// Destroys `e` (its last capability went): every thread queued on it
    /// is woken with [`IpcError::EndpointDestroyed`]. Calls already
    /// delivered are unaffected: their servers still reply.
    ///
    /// # Errors
    ///
    /// [`IpcError::StaleEndpoint`].
    pub fn destroy_endpoint(
        &mut self,
        e: EndpointId,
        wake: &mut dyn FnMut(ThreadId),
    ) -> Result<(), IpcError> {
        self.destroy_endpoint_with(e, IpcError::EndpointDestroyed, wake)
    }

    /// Destroys `n`: its waiters are woken with
    /// [`IpcError::NotificationDestroyed`].
    ///
    /// # Errors
    ///
    /// [`IpcError::StaleNotification`].
    pub fn destroy_notification(
        &mut self,
        n: NotificationId,
        wake: &mut dyn FnMut(ThreadId),
    ) -> Result<(), IpcError> {
        let mut note = self
            .notifications
            .remove(n.raw())
            .ok_or(IpcError::StaleNotification)?;
        self.drain(&mut note.waiters, IpcError::NotificationDestroyed, wake);
        Ok(())
    }

    /// Kills `t` if it lives ([`Self::thread_died`]) and frees its id,
    /// which goes stale.
    ///
    /// # Errors
    ///
    /// [`IpcError::InvalidThread`].
    pub fn remove_thread(
        &mut self,
        t: ThreadId,
        wake: &mut dyn FnMut(ThreadId),
    ) -> Result<(), IpcError> {
        self.thread_died(t, wake)?;
        self.threads
            .remove(t.raw())
            .ok_or(IpcError::InvalidThread)?;
        Ok(())
    }

    fn destroy_endpoint_with(
        &mut self,
        e: EndpointId,
        senders_error: IpcError,
        wake: &mut dyn FnMut(ThreadId),
    ) -> Result<(), IpcError> {
        let mut ep = self
            .endpoints
            .remove(e.raw())
            .ok_or(IpcError::StaleEndpoint)?;
        self.drain(&mut ep.senders, senders_error, wake);
        self.drain(&mut ep.receivers, IpcError::EndpointDestroyed, wake);
        Ok(())
    }

    /// Wakes every thread of `queue` with `error`, in order.
    fn drain(&mut self, queue: &mut Queue, error: IpcError, wake: &mut dyn FnMut(ThreadId)) {
        while let Some(t) = queue.pop_front(&mut self.threads) {
            wake(self.wake(t, Wakeup::Failed(error)));
        }
    }
}
