use std::vec::Vec;

use crate::{
    Badge, CallOutcome, CapTransfer, Delivery, DomainId, EndpointId, Ipc, IpcError, MSG_WORDS,
    Message, NotifyOutcome, ReplyWaitOutcome, ThreadId, ThreadState, WaitOutcome, Wakeup,
};

const CLIENTS: DomainId = DomainId::new(1, 0);
const SERVER: DomainId = DomainId::new(2, 0);

struct World {
    ipc: Ipc,
    s: ThreadId,
    c1: ThreadId,
    c2: ThreadId,
    c3: ThreadId,
    e: EndpointId,
}

/// A server thread `s` (priority 10) of `SERVER` owning endpoint `e`
/// (ceiling 10), and clients c1, c2 (priority 5) and c3 (priority 8).
fn world() -> World {
    let mut ipc = Ipc::new();
    let s = ipc.add_thread(SERVER, 10).unwrap();
    let c1 = ipc.add_thread(CLIENTS, 5).unwrap();
    let c2 = ipc.add_thread(CLIENTS, 5).unwrap();
    let c3 = ipc.add_thread(CLIENTS, 8).unwrap();
    let e = ipc.create_endpoint(SERVER, 10).unwrap();
    World {
        ipc,
        s,
        c1,
        c2,
        c3,
        e,
    }
}

fn msg(words: &[u64]) -> Message {
    Message::new(words).unwrap()
}

fn call(c: ThreadId, w: &mut World, tag: u64) -> CallOutcome {
    let out = w
        .ipc
        .call(c, w.e, Some(Badge(tag)), msg(&[tag]), None)
        .unwrap();
    w.ipc.audit().unwrap();
    out
}

fn woken(f: impl FnOnce(&mut dyn FnMut(ThreadId))) -> Vec<ThreadId> {
    let mut v = Vec::new();
    f(&mut |t| v.push(t));
    v
}

fn received(sender: ThreadId, tag: u64) -> WaitOutcome {
    WaitOutcome::Received(Delivery {
        sender,
        badge: Some(Badge(tag)),
        message: msg(&[tag]),
        transfer: None,
    })
}

#[test]
fn call_reply_round_trip() {
    let mut w = world();
    assert_eq!(w.ipc.wait(w.s, w.e, None), Ok(WaitOutcome::Blocked));
    assert_eq!(w.ipc.state(w.s), Ok(ThreadState::BlockedOnReceive(w.e)));
    assert_eq!(
        call(w.c1, &mut w, 42),
        CallOutcome::Delivered { server: w.s }
    );
    assert_eq!(w.ipc.state(w.c1), Ok(ThreadState::BlockedOnReply(w.s)));
    assert_eq!(w.ipc.state(w.s), Ok(ThreadState::Runnable));
    let Some(Wakeup::Call(d)) = w.ipc.take_wakeup(w.s).unwrap() else {
        panic!()
    };
    assert_eq!((d.badge, d.message.words()), (Some(Badge(42)), &[42][..]));
    // The server works on the caller's time, at its own (ceiling) priority.
    assert_eq!(w.ipc.charged_to(w.s), Ok(w.c1));
    assert_eq!(w.ipc.effective_priority(w.s), Ok(10));
    assert_eq!(w.ipc.caller(w.s), Ok(Some(w.c1)));
    assert_eq!(w.ipc.reply(w.s, msg(&[1, 2, 3])), Ok(w.c1));
    w.ipc.audit().unwrap();
    assert_eq!(
        w.ipc.take_wakeup(w.c1),
        Ok(Some(Wakeup::Reply(Delivery {
            sender: w.s,
            badge: None,
            message: msg(&[1, 2, 3]),
            transfer: None
        })))
    );
    assert_eq!(w.ipc.take_wakeup(w.c1), Ok(None));
    assert_eq!(w.ipc.charged_to(w.s), Ok(w.s));
    assert_eq!(w.ipc.state(w.c1), Ok(ThreadState::Runnable));
}

#[test]
fn queued_callers_by_priority_then_arrival() {
    let mut w = world();
    for (c, tag) in [(w.c1, 1), (w.c2, 2), (w.c3, 3)] {
        assert_eq!(call(c, &mut w, tag), CallOutcome::Queued);
    }
    assert_eq!(w.ipc.state(w.c2), Ok(ThreadState::BlockedOnSend(w.e)));
    // c3 (priority 8) first, then c1 and c2 (priority 5) in arrival order.
    assert_eq!(w.ipc.wait(w.s, w.e, None), Ok(received(w.c3, 3)));
    let mut order = Vec::from([w.c3]);
    loop {
        let out = w
            .ipc
            .reply_and_wait(w.s, Message::empty(), w.e, None)
            .unwrap();
        w.ipc.audit().unwrap();
        let replied = out.replied.unwrap();
        assert_eq!(replied, *order.last().unwrap());
        match out.wait {
            WaitOutcome::Received(d) => order.push([w.c1, w.c2][d.badge.unwrap().0 as usize - 1]),
            WaitOutcome::Blocked => break,
        }
    }
    assert_eq!(order, [w.c3, w.c1, w.c2]);
    assert_eq!(w.ipc.state(w.s), Ok(ThreadState::BlockedOnReceive(w.e)));
}

#[test]
fn servers_waiting_are_served_in_arrival_order() {
    let mut w = world();
    let s2 = w.ipc.add_thread(SERVER, 10).unwrap();
    w.ipc.wait(w.s, w.e, None).unwrap();
    w.ipc.wait(s2, w.e, None).unwrap();
    assert_eq!(
        call(w.c1, &mut w, 1),
        CallOutcome::Delivered { server: w.s }
    );
    assert_eq!(call(w.c2, &mut w, 2), CallOutcome::Delivered { server: s2 });
}

#[test]
fn protocol_errors_change_nothing() {
    let mut w = world();
    let before = w.ipc.clone();
    assert_eq!(w.ipc.reply(w.s, Message::empty()), Err(IpcError::NoCaller));
    assert_eq!(w.ipc, before);
    w.ipc.wait(w.s, w.e, None).unwrap();
    // Blocked threads cannot act.
    assert_eq!(
        w.ipc.reply(w.s, Message::empty()),
        Err(IpcError::NotRunnable)
    );
    assert_eq!(
        w.ipc.call(w.s, w.e, None, Message::empty(), None),
        Err(IpcError::NotRunnable)
    );
    call(w.c1, &mut w, 1);
    // The server's wakeup must be taken first.
    assert_eq!(
        w.ipc.reply(w.s, Message::empty()),
        Err(IpcError::WakeupPending)
    );
    w.ipc.take_wakeup(w.s).unwrap().unwrap();
    // It must reply before waiting again.
    assert_eq!(w.ipc.wait(w.s, w.e, None), Err(IpcError::ReplyPending));
    // Replying twice: the reply right is one-shot.
    w.ipc.reply(w.s, Message::empty()).unwrap();
    let before = w.ipc.clone();
    assert_eq!(w.ipc.reply(w.s, Message::empty()), Err(IpcError::NoCaller));
    assert_eq!(w.ipc, before);
    let stale = ThreadId::new(99, 0);
    assert_eq!(w.ipc.state(stale), Err(IpcError::InvalidThread));
    assert_eq!(
        Message::new(&[0; MSG_WORDS + 1]),
        Err(IpcError::MessageTooLong)
    );
}

#[test]
fn reply_and_wait_without_caller_just_waits() {
    let mut w = world();
    let out = w
        .ipc
        .reply_and_wait(w.s, Message::empty(), w.e, None)
        .unwrap();
    assert_eq!(
        out,
        ReplyWaitOutcome {
            replied: None,
            wait: WaitOutcome::Blocked
        }
    );
    // A failing wait half means no reply either.
    let mut w = world();
    w.ipc.wait(w.s, w.e, None).unwrap();
    call(w.c1, &mut w, 1);
    w.ipc.take_wakeup(w.s).unwrap();
    let other = w.ipc.create_endpoint(CLIENTS, 10).unwrap();
    let before = w.ipc.clone();
    assert_eq!(
        w.ipc.reply_and_wait(w.s, Message::empty(), other, None),
        Err(IpcError::NotOwner)
    );
    assert_eq!(w.ipc, before);
}

#[test]
fn server_domain_death_wakes_every_caller() {
    let mut w = world();
    w.ipc.wait(w.s, w.e, None).unwrap();
    call(w.c1, &mut w, 1);
    call(w.c2, &mut w, 2);
    call(w.c3, &mut w, 3);
    let mut v = woken(|wake| w.ipc.domain_died(SERVER, wake));
    w.ipc.audit().unwrap();
    v.sort();
    assert_eq!(v, [w.c1, w.c2, w.c3]);
    for c in [w.c1, w.c2, w.c3] {
        assert_eq!(
            w.ipc.take_wakeup(c),
            Ok(Some(Wakeup::Failed(IpcError::ServerDied)))
        );
        assert_eq!(w.ipc.state(c), Ok(ThreadState::Runnable));
    }
    assert_eq!(w.ipc.state(w.s), Ok(ThreadState::Dead));
    // Later calls fail at once instead of hanging.
    assert_eq!(
        w.ipc.call(w.c1, w.e, None, Message::empty(), None),
        Err(IpcError::ServerDied)
    );
}

#[test]
fn server_thread_death_wakes_its_caller_only() {
    let mut w = world();
    w.ipc.wait(w.s, w.e, None).unwrap();
    call(w.c1, &mut w, 1);
    call(w.c2, &mut w, 2);
    assert_eq!(woken(|wake| w.ipc.thread_died(w.s, wake).unwrap()), [w.c1]);
    assert_eq!(
        w.ipc.take_wakeup(w.c1),
        Ok(Some(Wakeup::Failed(IpcError::ServerDied)))
    );
    // c2 stays queued: the domain lives and another thread may serve.
    assert_eq!(w.ipc.state(w.c2), Ok(ThreadState::BlockedOnSend(w.e)));
    assert_eq!(woken(|wake| w.ipc.thread_died(w.s, wake).unwrap()), []);
    w.ipc.audit().unwrap();
}

#[test]
fn caller_death_frees_the_server() {
    let mut w = world();
    w.ipc.wait(w.s, w.e, None).unwrap();
    call(w.c1, &mut w, 1);
    w.ipc.take_wakeup(w.s).unwrap();
    assert_eq!(woken(|wake| w.ipc.remove_thread(w.c1, wake).unwrap()), []);
    assert_eq!(w.ipc.state(w.c1), Err(IpcError::InvalidThread));
    assert_eq!(w.ipc.reply(w.s, Message::empty()), Err(IpcError::NoCaller));
    call(w.c2, &mut w, 2);
    let out = w
        .ipc
        .reply_and_wait(w.s, Message::empty(), w.e, None)
        .unwrap();
    assert_eq!(
        out,
        ReplyWaitOutcome {
            replied: None,
            wait: received(w.c2, 2)
        }
    );
    // A queued caller that dies leaves the queue.
    call(w.c3, &mut w, 3);
    woken(|wake| w.ipc.thread_died(w.c3, wake).unwrap());
    w.ipc.audit().unwrap();
    let out = w
        .ipc
        .reply_and_wait(w.s, Message::empty(), w.e, None)
        .unwrap();
    assert_eq!(out.wait, WaitOutcome::Blocked);
}

#[test]
fn restart_gives_a_new_generation() {
    let mut w = world();
    call(w.c1, &mut w, 1);
    woken(|wake| w.ipc.domain_died(SERVER, wake));
    w.ipc.take_wakeup(w.c1).unwrap();
    let restarted = DomainId::new(2, 1);
    let e2 = w.ipc.restart_endpoint(w.e, restarted, &mut |_| {}).unwrap();
    assert_eq!(e2.index(), w.e.index());
    assert_ne!(e2.generation(), w.e.generation());
    assert_eq!(
        w.ipc.call(w.c1, w.e, None, Message::empty(), None),
        Err(IpcError::StaleEndpoint)
    );
    assert_eq!(
        w.ipc.restart_endpoint(w.e, restarted, &mut |_| {}),
        Err(IpcError::StaleEndpoint)
    );
    let s2 = w.ipc.add_thread(restarted, 10).unwrap();
    assert_eq!(w.ipc.wait(s2, w.e, None), Err(IpcError::StaleEndpoint));
    assert_eq!(w.ipc.wait(w.s, e2, None), Err(IpcError::NotRunnable));
    w.ipc.wait(s2, e2, None).unwrap();
    let out = w.ipc.call(w.c1, e2, None, Message::empty(), None).unwrap();
    assert_eq!(out, CallOutcome::Delivered { server: s2 });
    assert_eq!(w.ipc.endpoint_owner(e2), Ok(restarted));
    w.ipc.audit().unwrap();
}

#[test]
fn restart_of_a_live_endpoint_wakes_everyone_queued() {
    let mut w = world();
    call(w.c1, &mut w, 1);
    let s2 = w.ipc.add_thread(SERVER, 10).unwrap();
    let e2 = w.ipc.create_endpoint(SERVER, 10).unwrap();
    w.ipc.wait(s2, e2, None).unwrap();
    assert_eq!(
        woken(|wake| {
            w.ipc.restart_endpoint(w.e, SERVER, wake).unwrap();
        }),
        [w.c1]
    );
    assert_eq!(
        woken(|wake| w.ipc.destroy_endpoint(e2, wake).unwrap()),
        [s2]
    );
    assert_eq!(
        w.ipc.take_wakeup(w.c1),
        Ok(Some(Wakeup::Failed(IpcError::ServerDied)))
    );
    assert_eq!(
        w.ipc.take_wakeup(s2),
        Ok(Some(Wakeup::Failed(IpcError::EndpointDestroyed)))
    );
    assert_eq!(
        w.ipc.destroy_endpoint(e2, &mut |_| {}),
        Err(IpcError::StaleEndpoint)
    );
    w.ipc.audit().unwrap();
}

#[test]
fn ceiling_and_ownership() {
    let mut w = world();
    let hot = w.ipc.add_thread(CLIENTS, 11).unwrap();
    assert_eq!(
        w.ipc.call(hot, w.e, None, Message::empty(), None),
        Err(IpcError::AboveCeiling)
    );
    let slow = w.ipc.add_thread(SERVER, 9).unwrap();
    assert_eq!(w.ipc.wait(slow, w.e, None), Err(IpcError::BelowCeiling));
    assert_eq!(w.ipc.wait(w.c1, w.e, None), Err(IpcError::NotOwner));
}

#[test]
fn nested_calls_donate_along_the_chain() {
    let mut w = world();
    let backend = DomainId::new(3, 0);
    let b = w.ipc.add_thread(backend, 12).unwrap();
    let eb = w.ipc.create_endpoint(backend, 12).unwrap();
    w.ipc.wait(b, eb, None).unwrap();
    w.ipc.wait(w.s, w.e, None).unwrap();
    call(w.c3, &mut w, 3);
    w.ipc.take_wakeup(w.s).unwrap();
    assert_eq!(
        w.ipc.call(w.s, eb, None, Message::empty(), None),
        Ok(CallOutcome::Delivered { server: b })
    );
    assert_eq!(w.ipc.charged_to(b), Ok(w.c3));
    assert_eq!(w.ipc.effective_priority(b), Ok(12));
    // The middle server dies: the backend no longer owes it a reply, and
    // the client is told.
    w.ipc.take_wakeup(b).unwrap();
    assert_eq!(woken(|wake| w.ipc.thread_died(w.s, wake).unwrap()), [w.c3]);
    assert_eq!(w.ipc.caller(b), Ok(None));
    assert_eq!(w.ipc.charged_to(b), Ok(b));
    w.ipc.audit().unwrap();
}

#[test]
fn capability_transfer_descriptors() {
    let mut w = world();
    w.ipc.wait(w.s, w.e, Some(7)).unwrap();
    w.ipc
        .call(w.c1, w.e, None, msg(&[1]).with_cap(3), Some(9))
        .unwrap();
    let Some(Wakeup::Call(d)) = w.ipc.take_wakeup(w.s).unwrap() else {
        panic!()
    };
    assert_eq!(
        d.transfer,
        Some(CapTransfer {
            from: w.c1,
            send: 3,
            to: w.s,
            receive: Some(7)
        })
    );
    w.ipc.reply(w.s, Message::empty().with_cap(4)).unwrap();
    let Some(Wakeup::Reply(d)) = w.ipc.take_wakeup(w.c1).unwrap() else {
        panic!()
    };
    assert_eq!(
        d.transfer,
        Some(CapTransfer {
            from: w.s,
            send: 4,
            to: w.c1,
            receive: Some(9)
        })
    );
    // Queued, then received with the server's window; no window: None.
    w.ipc
        .call(w.c2, w.e, None, Message::empty().with_cap(5), None)
        .unwrap();
    let WaitOutcome::Received(d) = w.ipc.wait(w.s, w.e, Some(8)).unwrap() else {
        panic!()
    };
    assert_eq!(
        d.transfer,
        Some(CapTransfer {
            from: w.c2,
            send: 5,
            to: w.s,
            receive: Some(8)
        })
    );
    w.ipc.reply(w.s, Message::empty().with_cap(6)).unwrap();
    let Some(Wakeup::Reply(d)) = w.ipc.take_wakeup(w.c2).unwrap() else {
        panic!()
    };
    assert_eq!(d.transfer.unwrap().receive, None);
    w.ipc.audit().unwrap();
}

#[test]
fn notifications() {
    let mut w = world();
    let n = w.ipc.create_notification().unwrap();
    assert_eq!(w.ipc.signal(n, 0b01), Ok(None));
    assert_eq!(w.ipc.signal(n, 0b10), Ok(None));
    assert_eq!(w.ipc.pending_bits(n), Ok(0b11));
    assert_eq!(
        w.ipc.wait_notification(w.c1, n),
        Ok(NotifyOutcome::Bits(0b11))
    );
    assert_eq!(w.ipc.poll_notification(n), Ok(0));
    assert_eq!(w.ipc.wait_notification(w.c1, n), Ok(NotifyOutcome::Blocked));
    assert_eq!(w.ipc.wait_notification(w.c2, n), Ok(NotifyOutcome::Blocked));
    assert_eq!(w.ipc.state(w.c1), Ok(ThreadState::BlockedOnNotification(n)));
    assert_eq!(w.ipc.signal(n, 0), Ok(None));
    w.ipc.audit().unwrap();
    assert_eq!(w.ipc.signal(n, 0b100), Ok(Some(w.c1)));
    assert_eq!(w.ipc.take_wakeup(w.c1), Ok(Some(Wakeup::Signal(0b100))));
    assert_eq!(w.ipc.pending_bits(n), Ok(0));
    assert_eq!(
        woken(|wake| w.ipc.destroy_notification(n, wake).unwrap()),
        [w.c2]
    );
    assert_eq!(
        w.ipc.take_wakeup(w.c2),
        Ok(Some(Wakeup::Failed(IpcError::NotificationDestroyed)))
    );
    assert_eq!(w.ipc.signal(n, 1), Err(IpcError::StaleNotification));
    assert_eq!(
        w.ipc.wait_notification(w.c1, n),
        Err(IpcError::StaleNotification)
    );
    w.ipc.audit().unwrap();
}

#[test]
fn error_codes_are_stable() {
    assert_eq!(IpcError::InvalidThread.code(), 1);
    assert_eq!(IpcError::ServerDied.code(), 6);
    assert_eq!(IpcError::OutOfMemory.code(), 15);
}

#[test]
fn deliveries_name_their_sender_and_carry_the_buffer_word_count() {
    let mut w = world();
    w.ipc.wait(w.s, w.e, None).unwrap();
    let mut long = msg(&[7]);
    long.buffer_words = 300;
    w.ipc.call(w.c2, w.e, None, long, None).unwrap();
    let Some(Wakeup::Call(call)) = w.ipc.take_wakeup(w.s).unwrap() else {
        panic!("the server should have the call")
    };
    assert_eq!((call.sender, call.message.buffer_words), (w.c2, 300));
    let mut reply = Message::empty();
    reply.buffer_words = 12;
    assert_eq!(w.ipc.reply(w.s, reply), Ok(w.c2));
    let Some(Wakeup::Reply(back)) = w.ipc.take_wakeup(w.c2).unwrap() else {
        panic!("the caller should have the reply")
    };
    assert_eq!((back.sender, back.message.buffer_words), (w.s, 12));
}
