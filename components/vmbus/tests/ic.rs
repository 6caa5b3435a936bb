//! Each IC driven as Linux 6.1's `hv_utils` drives it, across real rings:
//! the versions Linux picks, what it logs, what it does, and the host's
//! answers to a confused or hostile guest.

mod common;

use common::link::Link;
use common::linux_util::{LinuxUtil, Service};
use common::memory::FlatRing;
use vmbus::ic::heartbeat::{Heartbeat, HeartbeatEvent};
use vmbus::ic::host::IcError;
use vmbus::ic::negotiate::{NegotiateError, Negotiated};
use vmbus::ic::shutdown::{Shutdown, ShutdownEvent, ShutdownKind};
use vmbus::ic::timesync::{FLAG_SAMPLE, FLAG_SYNC, TimeSample, TimeSync, TimeSyncEvent, utc_from_unix};
use vmbus::ic::{HV_E_FAIL, IcVersion};

/// An IC channel's rings as Linux sizes them (`VMBUS_RING_SIZE(3 pages)`:
/// 4 pages, 3 of data, each way) and Linux's driver for `service` on its
/// end. The rings live as long as the test.
fn channel(service: Service) -> (Link<&'static FlatRing>, LinuxUtil) {
    let up: &'static FlatRing = Box::leak(Box::new(FlatRing::new(3)));
    let down: &'static FlatRing = Box::leak(Box::new(FlatRing::new(3)));
    (Link::new(up, down), LinuxUtil::new(service))
}

fn negotiated(framework: (u16, u16), message: (u16, u16)) -> Negotiated {
    Negotiated {
        framework: IcVersion::new(framework.0, framework.1),
        message: IcVersion::new(message.0, message.1),
    }
}

#[test]
fn heartbeat_negotiates_3_0_and_linux_answers_each_beat() {
    let (mut link, mut linux) = channel(Service::Heartbeat);
    let mut ic = Heartbeat::new();
    let request = ic.start();
    assert!(ic.beat().is_none(), "not before negotiation");
    let (id, data) = link.exchange(&mut linux, &request, 0).expect("an answer");
    assert_eq!(ic.receive(id, &data), Ok(HeartbeatEvent::Negotiated(negotiated((3, 0), (3, 0)))));
    assert_eq!(linux.effects.dmesg, ["Heartbeat IC version 3.0"]);
    for sequence in 1..=5 {
        let request = ic.beat().expect("ready");
        assert!(ic.beat().is_none(), "one at a time");
        let (id, data) = link.exchange(&mut linux, &request, 0).unwrap();
        assert_eq!(ic.receive(id, &data), Ok(HeartbeatEvent::Alive { sequence }));
    }
}

#[test]
fn shutdown_negotiates_3_2_and_linux_powers_off() {
    let (mut link, mut linux) = channel(Service::Shutdown);
    let mut ic = Shutdown::new();
    let (id, data) = link.exchange(&mut linux, &ic.start(), 0).unwrap();
    assert_eq!(ic.receive(id, &data), Ok(ShutdownEvent::Negotiated(negotiated((3, 0), (3, 2)))));
    assert_eq!(linux.effects.dmesg, ["Shutdown IC version 3.2"]);

    let request = ic.request(ShutdownKind::PowerOff, true, 60).unwrap();
    // Linux refuses anything shorter than the whole structure.
    assert_eq!(request.data.len(), 28 + 12 + 2048);
    let (id, data) = link.exchange(&mut linux, &request, 0).unwrap();
    assert_eq!(ic.receive(id, &data), Ok(ShutdownEvent::Accepted));
    assert!(linux.effects.poweroff);
    assert!(linux.effects.dmesg.iter().any(|l| l == "Shutdown request received - graceful shutdown initiated"));

    let request = ic.request(ShutdownKind::Restart, false, 0).unwrap();
    let (id, data) = link.exchange(&mut linux, &request, 0).unwrap();
    assert_eq!(ic.receive(id, &data), Ok(ShutdownEvent::Accepted));
    assert!(linux.effects.reboot);

    // Hibernation: a guest that cannot hibernate says HV_E_FAIL.
    let request = ic.request(ShutdownKind::Hibernate, false, 0).unwrap();
    let (id, data) = link.exchange(&mut linux, &request, 0).unwrap();
    assert_eq!(ic.receive(id, &data), Ok(ShutdownEvent::Refused { status: HV_E_FAIL }));
}

#[test]
fn shutdown_kinds_wait_for_the_version_that_has_them() {
    let (mut link, mut linux) = channel(Service::Shutdown);
    linux.srv_versions = vec![3 << 16, 1 << 16]; // an older guest
    let mut ic = Shutdown::new();
    let (id, data) = link.exchange(&mut linux, &ic.start(), 0).unwrap();
    assert_eq!(ic.receive(id, &data), Ok(ShutdownEvent::Negotiated(negotiated((3, 0), (3, 0)))));
    assert!(ic.request(ShutdownKind::Restart, false, 0).is_none());
    assert!(ic.request(ShutdownKind::Hibernate, false, 0).is_none());
    assert!(ic.request(ShutdownKind::PowerOff, false, 0).is_some());
}

#[test]
fn timesync_negotiates_4_0_and_linux_sets_its_clock_on_sync() {
    let (mut link, mut linux) = channel(Service::TimeSync);
    let mut ic = TimeSync::new();
    let (id, data) = link.exchange(&mut linux, &ic.start(), 0).unwrap();
    assert_eq!(ic.receive(id, &data), Ok(TimeSyncEvent::Negotiated(negotiated((3, 0), (4, 0)))));
    assert_eq!(linux.effects.dmesg, ["TimeSync IC version 4.0"]);

    // The host read its clock at reference time 1000; Linux gets the
    // message at 1500 and adds the 500 (50 µs) that passed.
    let utc = utc_from_unix(1_700_000_000, 250_000_000);
    let request = ic.sample(TimeSample { utc, reference_time: 1000 }, FLAG_SYNC).unwrap();
    assert_eq!(request.data.len(), 28 + 22);
    let (id, data) = link.exchange(&mut linux, &request, 1500).unwrap();
    assert_eq!(ic.receive(id, &data), Ok(TimeSyncEvent::Acknowledged { status: 0 }));
    assert_eq!(linux.effects.clock_set_ns, Some(1_700_000_000_250_000_000 + 50_000));

    // A sample is a hint: kept, the clock not set.
    linux.effects.clock_set_ns = None;
    let request = ic.sample(TimeSample { utc, reference_time: 2000 }, FLAG_SAMPLE).unwrap();
    let (id, data) = link.exchange(&mut linux, &request, 2000).unwrap();
    assert_eq!(ic.receive(id, &data), Ok(TimeSyncEvent::Acknowledged { status: 0 }));
    assert_eq!(linux.effects.clock_set_ns, None);
    assert_eq!(linux.effects.host_sample, Some((utc, 2000)));
}

#[test]
fn timesync_before_4_0_sends_the_old_message() {
    let (mut link, mut linux) = channel(Service::TimeSync);
    linux.srv_versions = vec![3 << 16, 1 << 16];
    let mut ic = TimeSync::new();
    let (id, data) = link.exchange(&mut linux, &ic.start(), 0).unwrap();
    assert_eq!(ic.receive(id, &data), Ok(TimeSyncEvent::Negotiated(negotiated((3, 0), (3, 0)))));
    let utc = utc_from_unix(1_000, 0);
    let request = ic.sample(TimeSample { utc, reference_time: 7 }, FLAG_SYNC).unwrap();
    assert_eq!(request.data.len(), 28 + 25);
    let (id, data) = link.exchange(&mut linux, &request, 900).unwrap();
    assert_eq!(ic.receive(id, &data), Ok(TimeSyncEvent::Acknowledged { status: 0 }));
    // Before 4.0 Linux assumes no time passed.
    assert_eq!(linux.effects.clock_set_ns, Some(1_000_000_000_000));
}

#[test]
fn no_common_version_leaves_the_ic_unusable() {
    let (mut link, mut linux) = channel(Service::Heartbeat);
    linux.srv_versions = vec![2 << 16];
    let mut ic = Heartbeat::new();
    let (id, data) = link.exchange(&mut linux, &ic.start(), 0).unwrap();
    assert_eq!(ic.receive(id, &data), Err(IcError::Negotiation(NegotiateError::NoCommonVersion)));
    assert!(ic.ic().failed());
    assert!(ic.beat().is_none());
    // Reopening the channel starts over.
    let request = ic.start();
    linux.srv_versions = vec![3 << 16];
    let (id, data) = link.exchange(&mut linux, &request, 0).unwrap();
    assert!(matches!(ic.receive(id, &data), Ok(HeartbeatEvent::Negotiated(_))));
}

#[test]
fn answers_the_host_did_not_ask_for_are_refused() {
    let (mut link, mut linux) = channel(Service::Heartbeat);
    let mut ic = Heartbeat::new();
    let (id, data) = link.exchange(&mut linux, &ic.start(), 0).unwrap();
    // The wrong transaction, or no transaction waiting.
    assert_eq!(ic.receive(id + 1, &data), Err(IcError::UnexpectedTransaction(id + 1)));
    // Too short; not a response.
    assert_eq!(ic.receive(id, &data[..20]), Err(IcError::TooShort(20)));
    let mut not_response = data.clone();
    not_response[8 + 17] = 2;
    assert_eq!(ic.receive(id, &not_response), Err(IcError::NotTheAnswer));
    // A negotiation answer whose counts are not 1 and 1, or naming a
    // version the host never offered.
    let mut bad = data.clone();
    bad[28] = 2;
    assert_eq!(ic.receive(id, &bad), Err(IcError::Negotiation(NegotiateError::Malformed)));
    let mut ic = Heartbeat::new();
    let request = ic.start();
    let (id, mut data) = link.exchange(&mut linux, &request, 0).unwrap();
    data[28 + 12] = 9; // message version 9.0
    assert_eq!(
        ic.receive(id, &data),
        Err(IcError::Negotiation(NegotiateError::NotOffered(IcVersion::new(9, 0))))
    );
}

#[test]
fn a_wrong_heartbeat_number_is_reported() {
    let (mut link, mut linux) = channel(Service::Heartbeat);
    let mut ic = Heartbeat::new();
    let (id, data) = link.exchange(&mut linux, &ic.start(), 0).unwrap();
    ic.receive(id, &data).unwrap();
    let request = ic.beat().unwrap();
    let (id, mut data) = link.exchange(&mut linux, &request, 0).unwrap();
    data[28] = 40;
    assert_eq!(ic.receive(id, &data), Ok(HeartbeatEvent::Unwell { status: 0, sequence: Some(40) }));
}
