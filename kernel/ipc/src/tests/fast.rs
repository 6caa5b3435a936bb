//! The fast path against the general operations: each guard that fails
//! leaves the machine untouched (the kernel then takes the general path),
//! and when all hold the machine ends where the general operation and the
//! woken thread's `take_wakeup` leave it. `prop.rs` runs the two
//! comparisons below before every call and reply-and-wait it makes.

use std::cell::Cell;

use proptest::prelude::*;

use crate::{
    Badge, CallOutcome, Delivery, DomainId, EndpointId, Ipc, Message, ReplyWaitOutcome, Selector,
    ThreadId, ThreadState, WaitOutcome, Wakeup, WokenThread, handler_comes_here, registers_only,
    switches_directly,
};

/// [`Ipc::fast_call`] on a copy of `ipc` (accepting every server) against
/// [`Ipc::call`] on another.
pub(super) fn compare_call(
    ipc: &Ipc,
    caller: ThreadId,
    e: EndpointId,
    badge: Option<Badge>,
    msg: Message,
    receive: Option<Selector>,
) -> Result<(), TestCaseError> {
    let mut fast = ipc.clone();
    let took = fast.fast_call(caller, e, receive, |_| true);
    let mut slow = ipc.clone();
    let outcome = slow.call(caller, e, badge, msg, receive);
    match (took, outcome) {
        (Some(server), Ok(CallOutcome::Delivered { server: s })) => {
            prop_assert_eq!(server, s);
            let wakeup = slow.take_wakeup(server).unwrap();
            let expected = Wakeup::Call(Delivery {
                sender: caller,
                badge,
                message: msg,
                transfer: None,
            });
            prop_assert_eq!(wakeup, Some(expected));
            prop_assert!(fast == slow, "the fast call left another state");
            prop_assert!(fast.audit().is_ok());
        }
        (Some(_), other) => prop_assert!(false, "fast call took a {:?}", other),
        // The fast path takes every call the general path delivers at once.
        (None, Ok(CallOutcome::Delivered { .. })) => {
            prop_assert!(false, "a deliverable call fell back")
        }
        (None, _) => prop_assert!(fast == *ipc, "a refused fast call changed the machine"),
    }
    Ok(())
}

/// [`Ipc::fast_reply_wait`] on a copy of `ipc` against
/// [`Ipc::reply_and_wait`] on another.
pub(super) fn compare_reply_wait(
    ipc: &Ipc,
    server: ThreadId,
    msg: Message,
    e: EndpointId,
    receive: Option<Selector>,
) -> Result<(), TestCaseError> {
    let mut fast = ipc.clone();
    let took = fast.fast_reply_wait(server, e, receive, |_| true);
    let mut slow = ipc.clone();
    let outcome = slow.reply_and_wait(server, msg, e, receive);
    match (took, outcome) {
        (
            Some(caller),
            Ok(ReplyWaitOutcome {
                replied: Some(c),
                wait: WaitOutcome::Blocked,
            }),
        ) => {
            prop_assert_eq!(caller, c);
            let wakeup = slow.take_wakeup(caller).unwrap();
            let expected = Wakeup::Reply(Delivery {
                sender: server,
                badge: None,
                message: msg,
                transfer: None,
            });
            prop_assert_eq!(wakeup, Some(expected));
            prop_assert!(fast == slow, "the fast reply-and-wait left another state");
            prop_assert!(fast.audit().is_ok());
        }
        (Some(_), other) => prop_assert!(false, "fast reply-and-wait took a {:?}", other),
        (
            None,
            Ok(ReplyWaitOutcome {
                replied: Some(_),
                wait: WaitOutcome::Blocked,
            }),
        ) => prop_assert!(false, "a reply that blocks the server fell back"),
        (None, _) => prop_assert!(fast == *ipc, "a refused fast reply changed the machine"),
    }
    Ok(())
}

const CLIENTS: DomainId = DomainId::new(1, 0);
const SERVER: DomainId = DomainId::new(2, 0);

struct World {
    ipc: Ipc,
    server: ThreadId,
    client: ThreadId,
    other: ThreadId,
    e: EndpointId,
}

/// Server `server` (priority 10) of `SERVER` waiting on `e` (ceiling 10);
/// clients `client` (5) and `other` (5), both runnable.
fn waiting_server() -> World {
    let mut ipc = Ipc::new();
    let server = ipc.add_thread(SERVER, 10).unwrap();
    let client = ipc.add_thread(CLIENTS, 5).unwrap();
    let other = ipc.add_thread(CLIENTS, 5).unwrap();
    let e = ipc.create_endpoint(SERVER, 10).unwrap();
    ipc.wait(server, e, None).unwrap();
    World {
        ipc,
        server,
        client,
        other,
        e,
    }
}

/// The server serving `client`'s call.
fn serving() -> World {
    let mut w = waiting_server();
    w.ipc
        .call(w.client, w.e, None, Message::new(&[1]).unwrap(), None)
        .unwrap();
    w.ipc.take_wakeup(w.server).unwrap();
    w
}

/// Runs `fast` (a fast operation given the kernel's guard), which must
/// fall back: `None` and the machine unchanged. The kernel's guard refuses
/// `refused_by_kernel` if given (and must be asked about exactly it), and
/// must not be asked at all otherwise (an IPC guard fails first).
fn falls_back(
    w: &mut World,
    refused_by_kernel: Option<ThreadId>,
    fast: impl FnOnce(&mut Ipc, &mut dyn FnMut(ThreadId) -> bool) -> Option<ThreadId>,
) {
    let before = w.ipc.clone();
    let asked = Cell::new(None);
    let took = fast(&mut w.ipc, &mut |t| {
        asked.set(Some(t));
        refused_by_kernel.is_none()
    });
    assert_eq!(took, None);
    assert_eq!(asked.get(), refused_by_kernel);
    assert!(w.ipc == before);
}

fn refuses_call(w: &mut World, caller: ThreadId, e: EndpointId) {
    falls_back(w, None, |ipc, accept| {
        ipc.fast_call(caller, e, None, accept)
    });
}

fn refuses_reply_wait(w: &mut World, server: ThreadId, e: EndpointId) {
    falls_back(w, None, |ipc, accept| {
        ipc.fast_reply_wait(server, e, None, accept)
    });
}

#[test]
fn a_call_to_a_waiting_server_is_taken() {
    let mut w = waiting_server();
    let (server, client) = (w.server, w.client);
    let took = w.ipc.fast_call(client, w.e, Some(20), |s| s == server);
    assert_eq!(took, Some(server));
    assert_eq!(w.ipc.state(client), Ok(ThreadState::BlockedOnReply(server)));
    assert_eq!(w.ipc.state(server), Ok(ThreadState::Runnable));
    assert_eq!(w.ipc.caller(server), Ok(Some(client)));
    // Nothing left for the scheduler to carry.
    assert_eq!(w.ipc.take_wakeup(server), Ok(None));
    w.ipc.audit().unwrap();
}

#[test]
fn a_call_falls_back_when_no_server_waits() {
    let mut w = serving();
    let (other, e) = (w.other, w.e);
    refuses_call(&mut w, other, e);
}

#[test]
fn a_call_falls_back_when_the_caller_cannot_start_one() {
    // Blocked on its reply.
    let mut w = serving();
    let (client, e) = (w.client, w.e);
    refuses_call(&mut w, client, e);
    // Replied to, with the wakeup not taken yet (and the server waiting
    // again, so only the caller's state stops the call).
    let mut w = serving();
    w.ipc
        .reply_and_wait(w.server, Message::new(&[2]).unwrap(), w.e, None)
        .unwrap();
    let (client, e) = (w.client, w.e);
    refuses_call(&mut w, client, e);
    // Dead.
    let mut w = waiting_server();
    w.ipc.thread_died(w.client, &mut |_| {}).unwrap();
    let (client, e) = (w.client, w.e);
    refuses_call(&mut w, client, e);
}

#[test]
fn a_call_falls_back_on_a_stale_or_dead_endpoint() {
    let mut w = waiting_server();
    let stale = EndpointId::new(w.e.index(), w.e.generation() + 1);
    let client = w.client;
    refuses_call(&mut w, client, stale);
    let mut w = waiting_server();
    w.ipc.domain_died(SERVER, &mut |_| {});
    let (client, e) = (w.client, w.e);
    refuses_call(&mut w, client, e);
}

#[test]
fn a_call_falls_back_above_the_ceiling() {
    let mut w = waiting_server();
    let high = w.ipc.add_thread(CLIENTS, 11).unwrap();
    let e = w.e;
    refuses_call(&mut w, high, e);
}

#[test]
fn a_call_falls_back_when_the_kernel_refuses_the_server() {
    let mut w = waiting_server();
    let (client, server, e) = (w.client, w.server, w.e);
    falls_back(&mut w, Some(server), |ipc, accept| {
        ipc.fast_call(client, e, None, accept)
    });
}

#[test]
fn a_reply_that_blocks_the_server_is_taken() {
    let mut w = serving();
    let (server, client) = (w.server, w.client);
    let took = w.ipc.fast_reply_wait(server, w.e, Some(9), |c| c == client);
    assert_eq!(took, Some(client));
    assert_eq!(w.ipc.state(client), Ok(ThreadState::Runnable));
    assert_eq!(w.ipc.state(server), Ok(ThreadState::BlockedOnReceive(w.e)));
    assert_eq!(w.ipc.caller(server), Ok(None));
    assert_eq!(w.ipc.take_wakeup(client), Ok(None));
    w.ipc.audit().unwrap();
    // The next call finds it waiting, with the slot it offered.
    compare_call(&w.ipc, client, w.e, None, Message::new(&[3]).unwrap(), None).unwrap();
}

#[test]
fn a_reply_wait_falls_back_without_a_caller() {
    let mut w = waiting_server();
    w.ipc.take_wakeup(w.server).ok();
    // Blocked on the endpoint: it cannot start an operation.
    let (server, e) = (w.server, w.e);
    refuses_reply_wait(&mut w, server, e);
    // Runnable, serving nobody (a first wait, or its caller died).
    let mut w = serving();
    w.ipc.thread_died(w.client, &mut |_| {}).unwrap();
    let (server, e) = (w.server, w.e);
    refuses_reply_wait(&mut w, server, e);
}

#[test]
fn a_reply_wait_falls_back_when_a_call_is_queued() {
    let mut w = serving();
    w.ipc
        .call(w.other, w.e, None, Message::new(&[2]).unwrap(), None)
        .unwrap();
    let (server, e) = (w.server, w.e);
    refuses_reply_wait(&mut w, server, e);
}

#[test]
fn a_reply_wait_falls_back_on_the_wait_checks() {
    // Not the endpoint's owner.
    let mut w = serving();
    let foreign = w.ipc.create_endpoint(CLIENTS, 1).unwrap();
    let server = w.server;
    refuses_reply_wait(&mut w, server, foreign);
    // Below the ceiling.
    let mut w = serving();
    let high = w.ipc.create_endpoint(SERVER, 11).unwrap();
    refuses_reply_wait(&mut w, server, high);
    // Stale.
    let mut w = serving();
    let stale = EndpointId::new(w.e.index(), w.e.generation() + 1);
    refuses_reply_wait(&mut w, server, stale);
}

#[test]
fn a_reply_wait_falls_back_when_the_kernel_refuses_the_caller() {
    let mut w = serving();
    let (server, client, e) = (w.server, w.client, w.e);
    falls_back(&mut w, Some(client), |ipc, accept| {
        ipc.fast_reply_wait(server, e, None, accept)
    });
}

#[test]
fn only_registers_only_messages_take_the_fast_path() {
    assert!(registers_only(None, 0));
    assert!(!registers_only(Some(3), 0));
    assert!(!registers_only(None, 1));
    assert!(!registers_only(None, u64::MAX));
}

#[test]
fn the_comparisons_hold_in_the_plain_cases() {
    let w = waiting_server();
    let msg = Message::new(&[1, 2, 3, 4, 5, 6]).unwrap();
    compare_call(&w.ipc, w.client, w.e, Some(Badge(7)), msg, Some(4)).unwrap();
    let w = serving();
    compare_reply_wait(&w.ipc, w.server, msg, w.e, Some(5)).unwrap();
    compare_reply_wait(&w.ipc, w.server, msg, w.e, None).unwrap();
}

/// The kernel's half of the guards (`switches_directly`): a handler on this
/// CPU, alive, of the kind expected, with nothing else waiting here is
/// switched to; each other case falls back to the general path.
#[test]
fn the_kernel_switches_only_to_a_live_thread_of_this_cpu_when_nothing_waits() {
    let handler = WokenThread {
        cpu: 1,
        dead: false,
        vp: false,
        movable_to: 0,
    };
    assert!(switches_directly(1, true, handler, false));
    // Another CPU's handler: it is queued there and that CPU woken.
    assert!(!switches_directly(0, true, handler, false));
    // Something else waits for this CPU: the scheduler decides.
    assert!(!switches_directly(1, false, handler, false));
    // A dead handler never runs again.
    let dead = WokenThread {
        dead: true,
        ..handler
    };
    assert!(!switches_directly(1, true, dead, false));
    // A reply meant for a VP's loop never enters a component, nor the
    // other way round.
    assert!(!switches_directly(1, true, handler, true));
    let vp = WokenThread {
        vp: true,
        ..handler
    };
    assert!(switches_directly(1, true, vp, true));
    assert!(!switches_directly(1, true, vp, false));
}

/// A handler pinned by its manifest (`cpus = [0]`: no other CPU to move
/// to) stays on its CPU: the VP's CPU interrupts it there instead. With
/// CPU 1 in its affinity it comes to a VP on CPU 1; never to CPU 2.
#[test]
fn a_pinned_handler_never_comes_to_another_cpu() {
    let pinned = WokenThread {
        cpu: 0,
        dead: false,
        vp: false,
        movable_to: 0,
    };
    assert!(handler_comes_here(0, true, pinned));
    assert!(!handler_comes_here(1, true, pinned));
    let both = WokenThread {
        movable_to: 0b11,
        ..pinned
    };
    assert!(handler_comes_here(1, true, both));
    assert!(!handler_comes_here(2, true, both));
    // Past the mask's width: no CPU there is in any affinity.
    let all = WokenThread {
        movable_to: u64::MAX,
        ..pinned
    };
    assert!(!handler_comes_here(64, true, all));
}

proptest! {
    /// Exactly the four conditions decide, whatever the CPUs.
    #[test]
    fn switches_directly_is_the_conjunction_of_its_guards(
        cpu in 0usize..4, woken_cpu in 0usize..4, nothing_ready: bool,
        dead: bool, is_vp: bool, vp: bool,
    ) {
        let woken = WokenThread { cpu: woken_cpu, dead, vp: is_vp, movable_to: 0 };
        let expected = nothing_ready && cpu == woken_cpu && !dead && is_vp == vp;
        prop_assert_eq!(switches_directly(cpu, nothing_ready, woken, vp), expected);
    }

    /// A handler comes to the VP's CPU from any CPU its affinity allows,
    /// alive and a component's, when nothing waits there; where
    /// `switches_directly` switches to a component, it comes too.
    #[test]
    fn a_handler_comes_within_its_affinity_but_never_a_vp_or_a_dead_one(
        cpu in 0usize..66, woken_cpu in 0usize..4, nothing_ready: bool,
        dead: bool, is_vp: bool, movable_to: u64,
    ) {
        let woken = WokenThread { cpu: woken_cpu, dead, vp: is_vp, movable_to };
        let allowed = cpu == woken_cpu || (cpu < 64 && movable_to & 1 << cpu != 0);
        prop_assert_eq!(
            handler_comes_here(cpu, nothing_ready, woken),
            nothing_ready && !dead && !is_vp && allowed
        );
        if switches_directly(cpu, nothing_ready, woken, false) {
            prop_assert!(handler_comes_here(cpu, nothing_ready, woken));
        }
    }
}
