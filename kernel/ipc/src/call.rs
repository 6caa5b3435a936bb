//! Synchronous IPC: call, wait, reply, reply-and-wait.

use tessera_capability::{Badge, EndpointId, Selector, ThreadId};

use crate::error::IpcError;
use crate::machine::Ipc;
use crate::message::{CapTransfer, Delivery, Message};
use crate::objects::{Endpoint, Liveness};
use crate::thread::{Outgoing, Thread, ThreadState, Wakeup};

/// What became of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// A server was waiting: it has the call (as its wakeup) and is
    /// runnable; the caller is blocked on its reply. The fast path: the
    /// kernel SHOULD switch straight to `server`, on the caller's time.
    Delivered {
        /// The server thread that took the call.
        server: ThreadId,
    },
    /// No server was waiting: the caller is queued on the endpoint.
    Queued,
}

/// What became of a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitOutcome {
    /// A caller was queued: here is its call; the server keeps running
    /// (on that caller's time) and owes it a reply.
    Received(Delivery),
    /// No caller was queued: the server is blocked on the endpoint.
    Blocked,
}

/// What became of a reply-and-wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReplyWaitOutcome {
    /// The caller replied to, now runnable with its reply (if the server
    /// had one). If the server blocked, the kernel SHOULD switch straight
    /// to it.
    pub replied: Option<ThreadId>,
    /// The wait half.
    pub wait: WaitOutcome,
}

impl Ipc {
    /// `caller` calls `e` through a capability with `badge`, sending `msg`
    /// and offering slot `receive` for a capability in the reply.
    ///
    /// If a server waits on `e`, the call is delivered to the first one
    /// (FIFO among servers) and the caller blocks for the reply; otherwise
    /// the caller is queued, by priority and then arrival. Delivery is
    /// O(1); queueing is O(queue length).
    ///
    /// # Errors
    ///
    /// [`IpcError::InvalidThread`], [`IpcError::NotRunnable`],
    /// [`IpcError::WakeupPending`]; [`IpcError::StaleEndpoint`];
    /// [`IpcError::ServerDied`] if `e`'s server domain died;
    /// [`IpcError::AboveCeiling`].
    pub fn call(
        &mut self,
        caller: ThreadId,
        e: EndpointId,
        badge: Option<Badge>,
        msg: Message,
        receive: Option<Selector>,
    ) -> Result<CallOutcome, IpcError> {
        self.invoker(caller)?;
        let priority = self.effective_priority(caller)?;
        let ep = self.endpoint(e)?;
        if ep.liveness == Liveness::ServerDead {
            return Err(IpcError::ServerDied);
        }
        if priority > ep.ceiling {
            return Err(IpcError::AboveCeiling);
        }
        let ep = self.endpoints.get_mut(e.raw()).expect("checked");
        if let Some(s) = ep.receivers.pop_front(&mut self.threads) {
            let server = self.id_of(s);
            self.deliver_call(caller, server, badge, msg);
            self.thread_mut(caller)?.receive = receive;
            return Ok(CallOutcome::Delivered { server });
        }
        ep.senders
            .insert_by_priority(&mut self.threads, caller.index(), priority);
        let x = self.thread_mut(caller)?;
        x.state = ThreadState::BlockedOnSend(e);
        x.outgoing = Some(Outgoing {
            badge,
            message: msg,
        });
        x.receive = receive;
        Ok(CallOutcome::Queued)
    }

    /// `server` waits on `e` for a call, offering slot `receive` for a
    /// capability. Takes the first queued caller if there is one (O(1)),
    /// else blocks.
    ///
    /// # Errors
    ///
    /// The invoker errors; [`IpcError::ReplyPending`] if `server` still
    /// owes its caller a reply; [`IpcError::StaleEndpoint`];
    /// [`IpcError::ServerDied`] before a restart; [`IpcError::NotOwner`];
    /// [`IpcError::BelowCeiling`].
    pub fn wait(
        &mut self,
        server: ThreadId,
        e: EndpointId,
        receive: Option<Selector>,
    ) -> Result<WaitOutcome, IpcError> {
        self.check_wait(server, e)?;
        if self.thread(server)?.caller.is_some() {
            return Err(IpcError::ReplyPending);
        }
        Ok(self.do_wait(server, e, receive))
    }

    /// `server` replies `msg` to the caller it serves, which becomes
    /// runnable with the reply; `server` keeps running, on its own time
    /// again. O(1).
    ///
    /// # Errors
    ///
    /// The invoker errors; [`IpcError::NoCaller`].
    pub fn reply(&mut self, server: ThreadId, msg: Message) -> Result<ThreadId, IpcError> {
        self.invoker(server)?.caller.ok_or(IpcError::NoCaller)?;
        Ok(self.do_reply(server, msg))
    }

    /// The server fast path: replies `msg` to the caller `server` serves,
    /// if any (a server with none — its first wait, or its caller died —
    /// just waits), then waits on `e` as [`Self::wait`] does. Checked as a
    /// whole first: on error nothing happened, not even the reply.
    ///
    /// # Errors
    ///
    /// As [`Self::wait`], except [`IpcError::ReplyPending`].
    pub fn reply_and_wait(
        &mut self,
        server: ThreadId,
        msg: Message,
        e: EndpointId,
        receive: Option<Selector>,
    ) -> Result<ReplyWaitOutcome, IpcError> {
        self.check_wait(server, e)?;
        let replied = self
            .thread(server)?
            .caller
            .map(|_| self.do_reply(server, msg));
        let wait = self.do_wait(server, e, receive);
        Ok(ReplyWaitOutcome { replied, wait })
    }

    #[inline]
    pub(crate) fn check_wait(&self, server: ThreadId, e: EndpointId) -> Result<(), IpcError> {
        self.checked_wait(server, e).map(drop)
    }

    /// [`Self::check_wait`], handing back the server's and the endpoint's
    /// records it looked up (the fast path reads them on).
    #[inline(always)]
    pub(crate) fn checked_wait(
        &self,
        server: ThreadId,
        e: EndpointId,
    ) -> Result<(&Thread, &Endpoint), IpcError> {
        let x = self.invoker(server)?;
        let ep = self.endpoint(e)?;
        if ep.liveness == Liveness::ServerDead {
            return Err(IpcError::ServerDied);
        }
        if x.domain != ep.owner {
            return Err(IpcError::NotOwner);
        }
        if x.priority < ep.ceiling {
            return Err(IpcError::BelowCeiling);
        }
        Ok((x, ep))
    }

    /// Waits, all checks done and no caller owed.
    fn do_wait(
        &mut self,
        server: ThreadId,
        e: EndpointId,
        receive: Option<Selector>,
    ) -> WaitOutcome {
        let ep = self.endpoints.get_mut(e.raw()).expect("checked");
        if let Some(c) = ep.senders.pop_front(&mut self.threads) {
            let caller = self.id_of(c);
            let out = self
                .at(c)
                .outgoing
                .take()
                .expect("a queued caller has a call");
            self.at(server.index()).receive = receive;
            self.deliver_call(caller, server, out.badge, out.message);
            let Some(Wakeup::Call(delivery)) = self.at(server.index()).wakeup.take() else {
                unreachable!("deliver_call sets a call wakeup");
            };
            return WaitOutcome::Received(delivery);
        }
        ep.receivers.push_back(&mut self.threads, server.index());
        let x = self.at(server.index());
        x.state = ThreadState::BlockedOnReceive(e);
        x.receive = receive;
        WaitOutcome::Blocked
    }

    /// Hands a call to `server` (out of any queue): the caller blocks on
    /// the reply, the server is runnable with the call as its wakeup.
    fn deliver_call(
        &mut self,
        caller: ThreadId,
        server: ThreadId,
        badge: Option<Badge>,
        msg: Message,
    ) {
        let offered = self.at(server.index()).receive;
        let delivery = Delivery {
            sender: caller,
            badge,
            message: msg,
            transfer: msg.cap.map(|send| CapTransfer {
                from: caller,
                send,
                to: server,
                receive: offered,
            }),
        };
        let s = self.at(server.index());
        s.state = ThreadState::Runnable;
        s.receive = None;
        s.caller = Some(caller);
        s.wakeup = Some(Wakeup::Call(delivery));
        let c = self.at(caller.index());
        c.state = ThreadState::BlockedOnReply(server);
        c.outgoing = None;
    }

    /// Replies, the caller known to exist.
    fn do_reply(&mut self, server: ThreadId, msg: Message) -> ThreadId {
        let caller = self.at(server.index()).caller.take().expect("checked");
        let offered = self.at(caller.index()).receive;
        let delivery = Delivery {
            sender: server,
            badge: None,
            message: msg,
            transfer: msg.cap.map(|send| CapTransfer {
                from: server,
                send,
                to: caller,
                receive: offered,
            }),
        };
        self.wake(caller.index(), Wakeup::Reply(delivery))
    }
}
