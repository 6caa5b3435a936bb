//! A full consistency check of the machine, for tests and kernel debug
//! builds.

use alloc::vec;

use tessera_capability::{EndpointId, NotificationId, ThreadId};

use crate::machine::Ipc;
use crate::objects::Liveness;
use crate::queue::Queue;
use crate::thread::{Thread, ThreadState};

/// Which queue a thread was found in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Nowhere,
    Senders(EndpointId),
    Receivers(EndpointId),
    Waiters(NotificationId),
}

impl Ipc {
    /// Checks every invariant and names the first one broken:
    ///
    /// - every queue is a well-formed list of live threads, and each
    ///   thread is in at most one queue;
    /// - a thread is in an endpoint's senders (receivers, a notification's
    ///   waiters) exactly when its state says it is blocked sending to
    ///   (receiving on, waiting on) that object; sender queues are ordered
    ///   by priority; receivers belong to the endpoint's owner;
    /// - a thread blocked on a reply waits for a live server whose one
    ///   caller it is, and a thread's caller is blocked on its reply;
    /// - no thread is blocked on a dead server or a dead endpoint;
    ///   a runnable or dead thread is in no queue; only runnable threads
    ///   hold wakeups, only senders a queued call, only the dead nothing;
    /// - a notification with waiters has no pending bits.
    ///
    /// O(threads + objects); not for hot paths.
    ///
    /// # Errors
    ///
    /// A description of the broken invariant.
    pub fn audit(&self) -> Result<(), &'static str> {
        let mut place = vec![Place::Nowhere; self.threads.index_bound() as usize];
        for (id, ep) in self.endpoints.iter() {
            let e = EndpointId(id);
            self.check_queue(&ep.senders, &mut place, Place::Senders(e))?;
            self.check_queue(&ep.receivers, &mut place, Place::Receivers(e))?;
            let mut last = None;
            for t in ep.senders.iter(&self.threads) {
                let key = self.threads.by_index(t).expect("checked").1.link.key;
                if last.is_some_and(|l| l < key) {
                    return Err("sender queue out of priority order");
                }
                last = Some(key);
            }
            for t in ep.receivers.iter(&self.threads) {
                if self.threads.by_index(t).expect("checked").1.domain != ep.owner {
                    return Err("receiver outside the owner domain");
                }
            }
            if ep.liveness == Liveness::ServerDead
                && !(ep.senders.is_empty() && ep.receivers.is_empty())
            {
                return Err("threads blocked on a dead server's endpoint");
            }
        }
        for (id, note) in self.notifications.iter() {
            self.check_queue(
                &note.waiters,
                &mut place,
                Place::Waiters(NotificationId(id)),
            )?;
            if !note.waiters.is_empty() && note.pending != 0 {
                return Err("waiters blocked while bits are pending");
            }
        }
        for (id, x) in self.threads.iter() {
            let t = ThreadId(id);
            let here = place[id.index() as usize];
            let expected = match x.state {
                ThreadState::BlockedOnSend(e) => Place::Senders(e),
                ThreadState::BlockedOnReceive(e) => Place::Receivers(e),
                ThreadState::BlockedOnNotification(n) => Place::Waiters(n),
                ThreadState::Runnable | ThreadState::Dead | ThreadState::BlockedOnReply(_) => {
                    Place::Nowhere
                }
            };
            if here != expected {
                return Err("thread state and queue membership disagree");
            }
            if here == Place::Nowhere && (x.link.prev.is_some() || x.link.next.is_some()) {
                return Err("unqueued thread with queue links");
            }
            if let ThreadState::BlockedOnReply(s) = x.state {
                let server = self
                    .threads
                    .get(s.raw())
                    .ok_or("blocked on a removed server")?;
                if server.state == ThreadState::Dead {
                    return Err("blocked on a dead server");
                }
                if server.caller != Some(t) {
                    return Err("server does not know its caller");
                }
            }
            if let Some(c) = x.caller {
                let caller = self.threads.get(c.raw()).ok_or("caller removed")?;
                if caller.state != ThreadState::BlockedOnReply(t) {
                    return Err("caller not blocked on its server's reply");
                }
            }
            check_thread(x)?;
        }
        Ok(())
    }

    fn check_queue(
        &self,
        queue: &Queue,
        place: &mut [Place],
        here: Place,
    ) -> Result<(), &'static str> {
        let mut prev = None;
        let mut cur = queue.head();
        let mut steps = 0;
        while let Some(t) = cur {
            steps += 1;
            if steps > place.len() {
                return Err("cycle in a queue");
            }
            let x = self
                .threads
                .by_index(t)
                .ok_or("queue links a removed thread")?
                .1;
            if x.link.prev != prev {
                return Err("queue back link broken");
            }
            let slot = place
                .get_mut(t as usize)
                .ok_or("queue index out of range")?;
            if *slot != Place::Nowhere {
                return Err("thread in two queues");
            }
            *slot = here;
            prev = cur;
            cur = x.link.next;
        }
        if queue.tail() != prev {
            return Err("queue tail broken");
        }
        Ok(())
    }
}

fn check_thread(x: &Thread) -> Result<(), &'static str> {
    let runnable = x.state == ThreadState::Runnable;
    if x.wakeup.is_some() && !runnable {
        return Err("a blocked or dead thread holds a wakeup");
    }
    if x.outgoing.is_some() != matches!(x.state, ThreadState::BlockedOnSend(_)) {
        return Err("queued call without a queued caller, or the reverse");
    }
    let receiving = matches!(
        x.state,
        ThreadState::BlockedOnSend(_)
            | ThreadState::BlockedOnReply(_)
            | ThreadState::BlockedOnReceive(_)
    );
    if x.receive.is_some() && !receiving {
        return Err("receive slot offered outside a receive");
    }
    if x.state == ThreadState::Dead && x.caller.is_some() {
        return Err("a dead thread serves a caller");
    }
    Ok(())
}
