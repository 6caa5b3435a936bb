//! Random interleavings of IPC operations and failures, with the machine's
//! invariants and message accounting checked after every step.

use std::collections::{BTreeMap, BTreeSet};
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use crate::{
    Badge, CallOutcome, Delivery, DomainId, EndpointId, Ipc, Message, NotificationId,
    NotifyOutcome, ThreadId, ThreadState, WaitOutcome, Wakeup,
};

#[derive(Clone, Copy, Debug)]
enum Op {
    Call {
        t: usize,
        e: usize,
    },
    /// A thread of a server's current domain serves its current endpoint:
    /// `how` 0 waits, 1 replies and waits, 2 replies.
    Serve {
        server: usize,
        t: usize,
        how: u8,
    },
    Wait {
        t: usize,
        e: usize,
    },
    Reply {
        t: usize,
    },
    ReplyAndWait {
        t: usize,
        e: usize,
    },
    Take {
        t: usize,
    },
    Signal {
        bits: u64,
    },
    WaitNote {
        t: usize,
    },
    ThreadDied {
        t: usize,
    },
    DomainDied {
        d: usize,
    },
    Restart {
        server: usize,
    },
    DestroyEndpoint {
        e: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let t = any::<usize>();
    let e = any::<usize>();
    prop_oneof![
        10 => (t, e).prop_map(|(t, e)| Op::Call { t, e }),
        12 => (0usize..2, t, 0u8..3).prop_map(|(server, t, how)| Op::Serve { server, t, how }),
        1 => (t, e).prop_map(|(t, e)| Op::Wait { t, e }),
        1 => t.prop_map(|t| Op::Reply { t }),
        1 => (t, e).prop_map(|(t, e)| Op::ReplyAndWait { t, e }),
        10 => t.prop_map(|t| Op::Take { t }),
        2 => (0u64..4).prop_map(|bits| Op::Signal { bits }),
        2 => t.prop_map(|t| Op::WaitNote { t }),
        1 => t.prop_map(|t| Op::ThreadDied { t }),
        1 => (0usize..3).prop_map(|d| Op::DomainDied { d }),
        1 => (0usize..2).prop_map(|server| Op::Restart { server }),
        1 => e.prop_map(|e| Op::DestroyEndpoint { e }),
    ]
}

/// The test's own account of what must happen to each call.
#[derive(Default)]
struct Books {
    next_tag: u64,
    /// Caller → tag of its call still waiting for a result.
    outstanding: BTreeMap<ThreadId, u64>,
    /// Tags delivered to a server.
    delivered: BTreeSet<u64>,
    /// Server → (caller, tag) it is serving, as far as the test saw.
    serving: BTreeMap<ThreadId, u64>,
}

impl Books {
    fn call_received(&mut self, server: ThreadId, d: &Delivery) -> Result<(), TestCaseError> {
        let tag = d.message.words()[0];
        prop_assert!(self.delivered.insert(tag), "call {} delivered twice", tag);
        prop_assert_eq!(d.badge, Some(Badge(tag)));
        // Its caller may have died since (the server's reply then finds
        // no caller), but the call was made.
        prop_assert!(tag < self.next_tag, "delivered a call nobody made");
        self.serving.insert(server, tag);
        Ok(())
    }

    fn result(&mut self, caller: ThreadId, reply: Option<&Delivery>) -> Result<(), TestCaseError> {
        let tag = self.outstanding.remove(&caller);
        prop_assert!(tag.is_some(), "a second result for one call");
        if let Some(d) = reply {
            prop_assert_eq!(
                d.message.words(),
                &[tag.unwrap()][..],
                "reply to the wrong caller"
            );
        }
        Ok(())
    }
}

struct World {
    ipc: Ipc,
    threads: Vec<ThreadId>,
    /// Every endpoint id ever handed out (old generations included).
    endpoints: Vec<EndpointId>,
    /// The current endpoint and domain of each server (0, 1).
    current: [(EndpointId, DomainId); 2],
    note: NotificationId,
    clients: DomainId,
}

fn world() -> World {
    let mut ipc = Ipc::new();
    let clients = DomainId::new(0, 0);
    let (a, b) = (DomainId::new(1, 0), DomainId::new(2, 0));
    let threads = Vec::from([
        ipc.add_thread(clients, 3).unwrap(),
        ipc.add_thread(clients, 5).unwrap(),
        ipc.add_thread(clients, 5).unwrap(),
        ipc.add_thread(a, 8).unwrap(),
        ipc.add_thread(a, 8).unwrap(),
        ipc.add_thread(b, 9).unwrap(),
    ]);
    let ea = ipc.create_endpoint(a, 8).unwrap();
    let eb = ipc.create_endpoint(b, 9).unwrap();
    let note = ipc.create_notification().unwrap();
    World {
        ipc,
        threads,
        endpoints: Vec::from([ea, eb]),
        current: [(ea, a), (eb, b)],
        note,
        clients,
    }
}

fn domain_of(w: &World, d: usize) -> DomainId {
    match d {
        0 => w.clients,
        _ => w.current[d - 1].1,
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut w = world();
    let mut books = Books::default();
    for op in ops {
        let before = w.ipc.clone();
        // Mostly a runnable thread (a blocked one can only fail), sometimes
        // any thread.
        let runnable: Vec<ThreadId> = w
            .threads
            .iter()
            .copied()
            .filter(|&t| w.ipc.state(t) == Ok(ThreadState::Runnable))
            .collect();
        let th = |i: usize| match i % 5 {
            0 => w.threads[(i / 5) % w.threads.len()],
            _ if runnable.is_empty() => w.threads[0],
            _ => runnable[(i / 5) % runnable.len()],
        };
        // Mostly a current endpoint, sometimes any generation ever made.
        let ep = |i: usize| match i % 4 {
            0 => w.endpoints[(i / 4) % w.endpoints.len()],
            _ => w.current[i % 2].0,
        };
        let mut woken = Vec::new();
        let ok = match op {
            Op::Call { t, e } => {
                let (t, e) = (th(t), ep(e));
                let tag = books.next_tag;
                let msg = Message::new(&[tag]).unwrap();
                super::fast::compare_call(&w.ipc, t, e, Some(Badge(tag)), msg, None)?;
                let r = w.ipc.call(t, e, Some(Badge(tag)), msg, None);
                if r.is_ok() {
                    books.next_tag += 1;
                    prop_assert!(
                        books.outstanding.insert(t, tag).is_none(),
                        "a result was lost"
                    );
                    match r {
                        Ok(CallOutcome::Delivered { server }) => {
                            prop_assert_eq!(
                                w.ipc.state(t).unwrap(),
                                ThreadState::BlockedOnReply(server)
                            );
                        }
                        _ => {
                            prop_assert_eq!(w.ipc.state(t).unwrap(), ThreadState::BlockedOnSend(e))
                        }
                    }
                }
                r.is_ok()
            }
            Op::Serve { server, t, how } => {
                let (e, d) = w.current[server];
                let mine: Vec<ThreadId> = w
                    .threads
                    .iter()
                    .copied()
                    .filter(|&x| w.ipc.domain(x).unwrap() == d)
                    .collect();
                if mine.is_empty() {
                    true
                } else {
                    let live: Vec<ThreadId> = mine
                        .iter()
                        .copied()
                        .filter(|x| runnable.contains(x))
                        .collect();
                    let t = if t % 5 == 0 || live.is_empty() {
                        mine[t % mine.len()]
                    } else {
                        live[t % live.len()]
                    };
                    let tag = books.serving.get(&t).copied().unwrap_or(u64::MAX);
                    let reply = Message::new(&[tag]).unwrap();
                    if how == 1 {
                        super::fast::compare_reply_wait(&w.ipc, t, reply, e, Some(7))?;
                    }
                    let r = match how {
                        0 => w.ipc.wait(t, e, None).map(Some),
                        1 => w
                            .ipc
                            .reply_and_wait(t, reply, e, None)
                            .map(|out| Some(out.wait)),
                        _ => w.ipc.reply(t, reply).map(|_| None),
                    };
                    if r.is_ok() && how != 0 {
                        books.serving.remove(&t);
                    }
                    if let Ok(Some(WaitOutcome::Received(d))) = r {
                        books.call_received(t, &d)?;
                    }
                    r.is_ok()
                }
            }
            Op::Wait { t, e } => {
                let t = th(t);
                match w.ipc.wait(t, ep(e), None) {
                    Ok(WaitOutcome::Received(d)) => books.call_received(t, &d).map(|()| true)?,
                    Ok(WaitOutcome::Blocked) => true,
                    Err(_) => false,
                }
            }
            Op::Reply { t } => {
                let t = th(t);
                let tag = books.serving.get(&t).copied().unwrap_or(u64::MAX);
                let r = w.ipc.reply(t, Message::new(&[tag]).unwrap());
                if r.is_ok() {
                    books.serving.remove(&t);
                }
                r.is_ok()
            }
            Op::ReplyAndWait { t, e } => {
                let t = th(t);
                let tag = books.serving.get(&t).copied().unwrap_or(u64::MAX);
                super::fast::compare_reply_wait(
                    &w.ipc,
                    t,
                    Message::new(&[tag]).unwrap(),
                    ep(e),
                    None,
                )?;
                match w
                    .ipc
                    .reply_and_wait(t, Message::new(&[tag]).unwrap(), ep(e), None)
                {
                    Ok(out) => {
                        books.serving.remove(&t);
                        if let WaitOutcome::Received(d) = out.wait {
                            books.call_received(t, &d)?;
                        }
                        true
                    }
                    Err(_) => false,
                }
            }
            Op::Take { t } => {
                let t = th(t);
                match w.ipc.take_wakeup(t).unwrap() {
                    Some(Wakeup::Call(d)) => books.call_received(t, &d)?,
                    Some(Wakeup::Reply(d)) => books.result(t, Some(&d))?,
                    Some(Wakeup::Failed(_)) => {
                        // A failed call, or a failed wait (no call made).
                        books.outstanding.remove(&t);
                    }
                    Some(Wakeup::Signal(bits)) => prop_assert_ne!(bits, 0),
                    None => {}
                }
                true
            }
            Op::Signal { bits } => w.ipc.signal(w.note, bits).is_ok(),
            Op::WaitNote { t } => match w.ipc.wait_notification(th(t), w.note) {
                Ok(NotifyOutcome::Bits(bits)) => {
                    prop_assert_ne!(bits, 0);
                    true
                }
                Ok(NotifyOutcome::Blocked) => true,
                Err(_) => false,
            },
            Op::ThreadDied { t } => {
                let t = th(t);
                w.ipc.thread_died(t, &mut |x| woken.push(x)).unwrap();
                books.outstanding.remove(&t);
                books.serving.remove(&t);
                true
            }
            Op::DomainDied { d } => {
                let d = domain_of(&w, d);
                w.ipc.domain_died(d, &mut |x| woken.push(x));
                for &t in &w.threads {
                    if w.ipc.domain(t).unwrap() == d {
                        books.outstanding.remove(&t);
                        books.serving.remove(&t);
                    }
                }
                if d == w.clients {
                    // A new generation of clients.
                    w.clients = DomainId::new(0, d.generation() + 1);
                    for priority in [3, 5, 5] {
                        let t = w.ipc.add_thread(w.clients, priority).unwrap();
                        w.threads.push(t);
                    }
                }
                true
            }
            Op::Restart { server } => {
                let (e, d) = w.current[server];
                let fresh = DomainId::new(d.index(), d.generation() + 1);
                match w.ipc.restart_endpoint(e, fresh, &mut |x| woken.push(x)) {
                    Ok(e2) => {
                        prop_assert_eq!(e2.index(), e.index());
                        w.endpoints.push(e2);
                        w.current[server] = (e2, fresh);
                        let t = w.ipc.add_thread(fresh, 8 + server as u8).unwrap();
                        w.threads.push(t);
                        true
                    }
                    Err(_) => {
                        // Destroyed: the server comes back on a new endpoint.
                        let e2 = w.ipc.create_endpoint(fresh, 8 + server as u8).unwrap();
                        w.endpoints.push(e2);
                        w.current[server] = (e2, fresh);
                        let t = w.ipc.add_thread(fresh, 8 + server as u8).unwrap();
                        w.threads.push(t);
                        true
                    }
                }
            }
            Op::DestroyEndpoint { e } => {
                let e = w.endpoints[e % w.endpoints.len()];
                w.ipc.destroy_endpoint(e, &mut |x| woken.push(x)).is_ok()
            }
        };
        if let Err(broken) = w.ipc.audit() {
            return Err(TestCaseError::fail(std::format!("after {op:?}: {broken}")));
        }
        if !ok {
            prop_assert!(w.ipc == before, "a failed {:?} changed the machine", op);
        }
        for t in woken {
            prop_assert_eq!(w.ipc.state(t).unwrap(), ThreadState::Runnable);
        }
        // Every caller blocked in a call has exactly one call on the books,
        // and is blocked on something alive.
        for &t in &w.threads {
            match w.ipc.state(t).unwrap() {
                ThreadState::BlockedOnSend(_) | ThreadState::BlockedOnReply(_) => {
                    prop_assert!(books.outstanding.contains_key(&t), "blocked without a call");
                }
                ThreadState::BlockedOnReceive(_) | ThreadState::BlockedOnNotification(_) => {
                    prop_assert!(!books.outstanding.contains_key(&t));
                }
                ThreadState::Runnable | ThreadState::Dead => {}
            }
            if let ThreadState::BlockedOnReply(s) = w.ipc.state(t).unwrap() {
                prop_assert_ne!(w.ipc.state(s).unwrap(), ThreadState::Dead);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn random_interleavings_keep_every_invariant(ops in proptest::collection::vec(op(), 1..150)) {
        run(ops)?;
    }
}
