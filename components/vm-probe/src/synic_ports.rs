//! The SynIC port system calls (48-53) as a careless or hostile manager or
//! component would use them (issue 14 items 3-4): each refusal with its
//! system-call status or its TLFS status (TLFS md
//! `hypercalls/HvCallPostMessage.md`, `HvCallSignalEvent.md`; the port
//! calls' statuses are `tessera_synic::ports`'s), and a component's own
//! posts and signals: into a disabled SIM page (`INVALID_SYNIC_STATE`),
//! then delivered, 17 taken and the 18th refused with
//! `INSUFFICIENT_BUFFERS`, the port's deletion freeing its buffers.

use tessera_rt::abi::vm::apic;
use tessera_rt::testing::Tap;
use tessera_rt::vm::{self, ports};
use tessera_rt::{Error, Status, cap, rights};
use tlfs::port::{
    HvConnectionInfo, HvEventPortInfo, HvInputConnectPort, HvInputCreatePort, HvMessagePortInfo,
    HvPortInfo,
};
use tlfs::synic::{HvConnectionId, HvPortId, HvPortType};
use tlfs::{HvMessageType, HvStatus};

use crate::PRIORITY;

const WITH_SYNIC: u32 = 56;
const VP: u32 = 57;
const WITHOUT_SYNIC: u32 = 58;
const WITHOUT_WRITE: u32 = 59;

const MESSAGE_PORT: u32 = 0x10;
const EVENT_PORT: u32 = 0x11;
const CONNECTION: u32 = 0x20;
/// AccessSynicRegs (2), AccessHypercallMsrs (5), AccessVpIndex (6),
/// PostMessages (36), SignalEvents (37).
const SYNIC_HV1: [u64; 8] = [
    1 << 2 | 1 << 5 | 1 << 6 | 1 << 36 | 1 << 37,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
];
const SCONTROL: u32 = 0x4000_0080;
const SIEFP: u32 = 0x4000_0082;
const SIMP: u32 = 0x4000_0083;
const SINT3: u32 = 0x4000_0093;

fn message_port(id: u32, vp: u32, sint: u32) -> HvInputCreatePort {
    HvInputCreatePort {
        port_id: HvPortId::new().with_id(id),
        port_info: HvPortInfo::new_message(HvMessagePortInfo {
            target_sint: sint,
            target_vp: vp,
            reserved_z: 0,
        }),
        ..HvInputCreatePort::default()
    }
}

fn connection(id: u32, port: u32, port_type: HvPortType) -> HvInputConnectPort {
    HvInputConnectPort {
        connection_id: HvConnectionId::new().with_id(id),
        port_id: HvPortId::new().with_id(port),
        connection_info: HvConnectionInfo {
            port_type,
            ..HvConnectionInfo::default()
        },
        ..HvInputConnectPort::default()
    }
}

fn status(tap: &mut Tap, what: &str, result: Result<HvStatus, Error>, wanted: HvStatus) {
    tap.expect_value(what, result, wanted);
}

pub fn run(tap: &mut Tap) {
    let made = vm::partition_create_with_apic(WITH_SYNIC, "vm-probe-synic", apic::XAPIC)
        .and_then(|()| vm::partition_set_hv1(WITH_SYNIC, &SYNIC_HV1))
        .and_then(|()| vm::vp_create(WITH_SYNIC, VP, 0, 0, PRIORITY))
        .and_then(|()| vm::partition_create(WITHOUT_SYNIC, "vm-probe-no-synic"))
        .and_then(|()| cap::derive(WITH_SYNIC, WITHOUT_WRITE, rights::CONTROL | rights::READ, 0));
    if !tap.expect_ok("a partition with a SynIC and its VP 0, one without", made) {
        return;
    }
    let message = message_port(MESSAGE_PORT, 0, 2);
    tap.expect(
        "PartitionCreatePort on a partition without a SynIC is NoSynic",
        ports::create_port(WITHOUT_SYNIC, &message),
        Status::NoSynic,
    );
    tap.expect(
        "PartitionCreatePort without WRITE is InsufficientRights",
        ports::create_port(WITHOUT_WRITE, &message),
        Status::InsufficientRights,
    );
    status(
        tap,
        "a message port to VP 0 SINT 2",
        ports::create_port(WITH_SYNIC, &message),
        HvStatus::SUCCESS,
    );
    status(
        tap,
        "the same port ID again: INVALID_PORT_ID",
        ports::create_port(WITH_SYNIC, &message),
        HvStatus::INVALID_PORT_ID,
    );
    status(
        tap,
        "a port to VP 1 (none): INVALID_VP_INDEX",
        ports::create_port(WITH_SYNIC, &message_port(0x12, 1, 2)),
        HvStatus::INVALID_VP_INDEX,
    );
    status(
        tap,
        "a port to SINT 16: INVALID_PARAMETER",
        ports::create_port(WITH_SYNIC, &message_port(0x12, 0, 16)),
        HvStatus::INVALID_PARAMETER,
    );
    let mut named = message_port(0x12, 0, 2);
    named.port_partition = 7;
    status(
        tap,
        "a partition ID in the input (the capability names it): INVALID_PARTITION_ID",
        ports::create_port(WITH_SYNIC, &named),
        HvStatus::INVALID_PARTITION_ID,
    );
    let event = HvInputCreatePort {
        port_id: HvPortId::new().with_id(EVENT_PORT),
        port_info: HvPortInfo::new_event(HvEventPortInfo {
            target_sint: 3,
            target_vp: 0,
            base_flag_number: 0,
            flag_count: 2,
            reserved_z: 0,
        }),
        ..HvInputCreatePort::default()
    };
    status(
        tap,
        "an event port, flags 0-1 of SINT 3",
        ports::create_port(WITH_SYNIC, &event),
        HvStatus::SUCCESS,
    );
    let connect = connection(CONNECTION, MESSAGE_PORT, HvPortType::MESSAGE);
    status(
        tap,
        "a connection to the message port",
        ports::connect_port(WITH_SYNIC, WITH_SYNIC, &connect),
        HvStatus::SUCCESS,
    );
    status(
        tap,
        "the same connection ID again: INVALID_CONNECTION_ID",
        ports::connect_port(WITH_SYNIC, WITH_SYNIC, &connect),
        HvStatus::INVALID_CONNECTION_ID,
    );
    status(
        tap,
        "a connection to a port that does not exist: INVALID_PORT_ID",
        ports::connect_port(
            WITH_SYNIC,
            WITH_SYNIC,
            &connection(0x21, 0x99, HvPortType::MESSAGE),
        ),
        HvStatus::INVALID_PORT_ID,
    );
    status(
        tap,
        "a message connection to the event port: INVALID_PORT_ID",
        ports::connect_port(
            WITH_SYNIC,
            WITH_SYNIC,
            &connection(0x21, EVENT_PORT, HvPortType::MESSAGE),
        ),
        HvStatus::INVALID_PORT_ID,
    );
    tap.expect(
        "a connection to a partition without a SynIC is NoSynic",
        ports::connect_port(
            WITH_SYNIC,
            WITHOUT_SYNIC,
            &connection(0x21, 1, HvPortType::MESSAGE),
        ),
        Status::NoSynic,
    );
    let post = |kind: u32, payload: &[u8]| {
        ports::post_message(WITH_SYNIC, MESSAGE_PORT, HvMessageType(kind), payload)
    };
    status(
        tap,
        "a component's post while the SIM page is off: INVALID_SYNIC_STATE",
        post(1, b"x"),
        HvStatus::INVALID_SYNIC_STATE,
    );
    status(
        tap,
        "a post of type 0: INVALID_PARAMETER",
        post(0, b"x"),
        HvStatus::INVALID_PARAMETER,
    );
    status(
        tap,
        "a post of a hypervisor type (bit 31): INVALID_PARAMETER",
        post(0x8000_0001, b"x"),
        HvStatus::INVALID_PARAMETER,
    );
    status(
        tap,
        "a post of 241 bytes: INVALID_PARAMETER",
        post(1, &[0; 241]),
        HvStatus::INVALID_PARAMETER,
    );
    status(
        tap,
        "a post to the event port: INVALID_PORT_ID",
        ports::post_message(WITH_SYNIC, EVENT_PORT, HvMessageType(1), b"x"),
        HvStatus::INVALID_PORT_ID,
    );
    status(
        tap,
        "a signal while the SIEF page is off: INVALID_SYNIC_STATE",
        ports::signal_event(WITH_SYNIC, EVENT_PORT, 0),
        HvStatus::INVALID_SYNIC_STATE,
    );
    let enabled = vm::partition_synic_write(WITH_SYNIC, 0, SIMP, 0x2000 | 1)
        .and_then(|()| vm::partition_synic_write(WITH_SYNIC, 0, SIEFP, 0x3000 | 1))
        .and_then(|()| vm::partition_synic_write(WITH_SYNIC, 0, SCONTROL, 1));
    if !tap.expect_ok(
        "VP 0's SIMP, SIEFP and SCONTROL on (PartitionSynicWrite)",
        enabled,
    ) {
        return;
    }
    status(
        tap,
        "a signal while SINT 3 is masked: INVALID_SYNIC_STATE",
        ports::signal_event(WITH_SYNIC, EVENT_PORT, 1),
        HvStatus::INVALID_SYNIC_STATE,
    );
    let unmasked = vm::partition_synic_write(WITH_SYNIC, 0, SINT3, 0x50);
    tap.expect_ok("SINT 3 unmasked (vector 0x50)", unmasked);
    let taken = (0..17)
        .map(|n| post(1, &[n; 240]))
        .all(|s| s == Ok(HvStatus::SUCCESS));
    tap.check(
        "17 posts of 240 bytes taken: the slot and the port's 16 buffers",
        taken,
        format_args!("a post refused"),
    );
    status(
        tap,
        "the 18th: INSUFFICIENT_BUFFERS, nothing dropped",
        post(1, b"x"),
        HvStatus::INSUFFICIENT_BUFFERS,
    );
    status(
        tap,
        "a signal of flag 1",
        ports::signal_event(WITH_SYNIC, EVENT_PORT, 1),
        HvStatus::SUCCESS,
    );
    status(
        tap,
        "flag 2 of 2: INVALID_PARAMETER",
        ports::signal_event(WITH_SYNIC, EVENT_PORT, 2),
        HvStatus::INVALID_PARAMETER,
    );
    status(
        tap,
        "a signal of the message port: INVALID_PORT_ID",
        ports::signal_event(WITH_SYNIC, MESSAGE_PORT, 0),
        HvStatus::INVALID_PORT_ID,
    );
    status(
        tap,
        "deleting the message port",
        ports::delete_port(WITH_SYNIC, MESSAGE_PORT),
        HvStatus::SUCCESS,
    );
    status(
        tap,
        "a post to it then: INVALID_PORT_ID",
        post(1, b"x"),
        HvStatus::INVALID_PORT_ID,
    );
    status(
        tap,
        "deleting it again: INVALID_PORT_ID",
        ports::delete_port(WITH_SYNIC, MESSAGE_PORT),
        HvStatus::INVALID_PORT_ID,
    );
    status(
        tap,
        "the port made again",
        ports::create_port(WITH_SYNIC, &message),
        HvStatus::SUCCESS,
    );
    // The slot still holds the first message: one more is queued in the
    // new port's 16 buffers, which the deletion freed with the old ones.
    let queued = (0..16)
        .map(|n| post(2, &[n; 8]))
        .all(|s| s == Ok(HvStatus::SUCCESS));
    tap.check(
        "16 posts to the new port: its buffers are free",
        queued,
        format_args!("a post refused"),
    );
    status(
        tap,
        "disconnecting",
        ports::disconnect_port(WITH_SYNIC, CONNECTION),
        HvStatus::SUCCESS,
    );
    status(
        tap,
        "disconnecting again: INVALID_CONNECTION_ID",
        ports::disconnect_port(WITH_SYNIC, CONNECTION),
        HvStatus::INVALID_CONNECTION_ID,
    );
    for slot in [WITHOUT_WRITE, VP, WITH_SYNIC, WITHOUT_SYNIC] {
        let _ = cap::delete(slot);
    }
}
