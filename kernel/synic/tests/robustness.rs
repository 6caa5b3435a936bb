//! Hostile input never panics: any register write, any call a component
//! makes (it is input to the kernel like a guest's), any garbage the guest
//! leaves in its pages, any time.

use proptest::prelude::*;
use tessera_synic::ports::{ConnectSpec, PortKind, PortSpec};
use tessera_synic::{
    KernelCall, MemoryPages, Owner, PartitionPolicy, PartitionRef, RegisterPolicy, StimerMsr,
    StimerPolicy, Synic, SynicMsr, SynicPages,
};
use tlfs::HvMessageType;
use tlfs::synic::HvPortType;

fn synic_msr() -> impl Strategy<Value = SynicMsr> {
    (0x4000_0080_u32..=0x4000_009F).prop_filter_map("a SynIC MSR", SynicMsr::from_msr)
}

fn sint() -> impl Strategy<Value = tessera_synic::Sint> {
    (0..16_u32).prop_map(|n| tessera_synic::Sint::new(n).unwrap())
}

fn call() -> impl Strategy<Value = KernelCall> {
    let partition = (0..3_u32).prop_map(PartitionRef);
    let vp = prop_oneof![0..3_u32, any::<u32>()];
    let id = prop_oneof![0..8_u32, any::<u32>()];
    let kind = prop_oneof![
        Just(PortKind::Message),
        (any::<u16>(), any::<u16>()).prop_map(|(base_flag, flag_count)| PortKind::Event {
            base_flag,
            flag_count
        }),
    ];
    let port_type = (0..6_u32).prop_map(HvPortType);
    prop_oneof![
        (partition.clone(), vp.clone(), synic_msr(), any::<u64>()).prop_map(
            |(partition, vp, msr, value)| KernelCall::WriteSynic {
                partition,
                vp,
                msr,
                value
            }
        ),
        (partition.clone(), id.clone(), kind, vp.clone(), sint()).prop_map(
            |(partition, id, kind, vp, sint)| KernelCall::CreatePort {
                partition,
                spec: PortSpec { id, kind, vp, sint },
                owner: Owner::Manifest
            }
        ),
        (partition.clone(), id.clone())
            .prop_map(|(partition, id)| KernelCall::DeletePort { partition, id }),
        (
            partition.clone(),
            id.clone(),
            id.clone(),
            port_type,
            partition.clone()
        )
            .prop_map(|(sender, id, port, port_type, port_partition)| {
                KernelCall::Connect {
                    sender,
                    spec: ConnectSpec {
                        id,
                        port,
                        port_type,
                    },
                    port_partition,
                    owner: Owner::TestDevice,
                }
            }),
        (partition.clone(), id.clone())
            .prop_map(|(sender, id)| KernelCall::Disconnect { sender, id }),
        (
            partition.clone(),
            id.clone(),
            any::<u32>(),
            any::<u8>(),
            any::<u8>()
        )
            .prop_map(|(sender, connection, kind, fill, payload_size)| {
                KernelCall::PostMessage {
                    sender,
                    connection,
                    message_type: HvMessageType(kind),
                    payload: [fill; 240],
                    payload_size,
                }
            }),
        (partition.clone(), id, any::<u16>()).prop_map(|(sender, connection, flag)| {
            KernelCall::SignalEvent {
                sender,
                connection,
                flag,
            }
        }),
        (partition.clone(), vp.clone(), sint(), any::<bool>()).prop_map(
            |(partition, vp, sint, present)| KernelCall::SetSintRoute {
                partition,
                vp,
                sint,
                present
            }
        ),
        (partition, vp, sint()).prop_map(|(partition, vp, sint)| KernelCall::AssertSint {
            partition,
            vp,
            sint
        }),
    ]
}

#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum Step {
    Call(KernelCall),
    Timer(u32, u32, u64),
    Garbage(u32, usize, u64),
    Tick(u64),
    Eoi(u32, u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => call().prop_map(Step::Call),
        2 => (0..3_u32, 0x4000_00B0_u32..=0x4000_00B7, any::<u64>()).prop_map(|(vp, msr, v)| Step::Timer(vp, msr, v)),
        2 => (0..3_u32, 0..512_usize, any::<u64>()).prop_map(|(vp, word, v)| Step::Garbage(vp, word, v)),
        1 => any::<u64>().prop_map(Step::Tick),
        1 => (0..3_u32, any::<u8>()).prop_map(|(vp, v)| Step::Eoi(vp, v)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn never_panics(steps in prop::collection::vec(step(), 1..150)) {
        let mut synic = Synic::new();
        for (polling, auto_eoi, direct_mode) in [(false, true, true), (true, false, false)] {
            let policy = PartitionPolicy {
                registers: RegisterPolicy { polling, auto_eoi, gpa_limit: 1 << 30 },
                timers: StimerPolicy { direct_mode },
            };
            synic.add_partition(policy, vec![MemoryPages::new(), MemoryPages::new()]);
        }
        let mut now = 0_u64;
        for step in steps {
            match step {
                Step::Call(call) => {
                    let _ = synic.apply(&call, now);
                }
                Step::Timer(vp, msr, value) => {
                    let msr = StimerMsr::from_msr(msr).unwrap();
                    let _ = synic.write_timer(PartitionRef(0), vp, msr, value, now);
                }
                Step::Garbage(vp, word, value) => {
                    if let Some(pages) = synic.pages_mut(PartitionRef(0), vp) {
                        pages.store(tessera_synic::pages::SynicPage::Message, word, value);
                    }
                }
                Step::Tick(ticks) => {
                    now = now.saturating_add(ticks % 100_000);
                    for partition in [PartitionRef(0), PartitionRef(1)] {
                        for vp in 0..2 {
                            for delivery in synic.poll_timers(partition, vp, now) {
                                prop_assert!(delivery.interrupt.vector >= 16);
                            }
                        }
                    }
                }
                Step::Eoi(vp, vector) => {
                    let _ = synic.eoi(PartitionRef(0), vp, vector, now);
                }
            }
        }
    }
}
