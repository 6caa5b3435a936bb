use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;
use zerocopy::FromBytes;
use zerocopy::little_endian::{U16, U32};

use crate::encode::seal;
use crate::layout::{
    ComponentRecord, EndpointRecord, GrantRecord, Header, ImageRecord, ModuleRecord,
    PartitionRecord, RouteRecord,
};
use crate::*;

const KIB: u64 = 1024;

/// A plan that uses every feature: a shared image, both endpoint kinds,
/// console, verdict, badges, several CPUs.
fn model() -> PlanModel {
    PlanModel {
        name: "ipc-demo".into(),
        cpu_count: 4,
        module_count: 3,
        component_memory: 8 * 1024 * KIB,
        images: vec![
            ImageModel {
                name: "echo-server".into(),
                module: 1,
                kind: ImageKind::Component,
            },
            ImageModel {
                name: "echo-client".into(),
                module: 2,
                kind: ImageKind::Component,
            },
        ],
        components: vec![
            ComponentModel {
                name: "echo".into(),
                image: 0,
                memory: 512 * KIB,
                threads: 2,
                priority: 10,
                affinity: 0b0010,
            },
            ComponentModel {
                name: "client-a".into(),
                image: 1,
                memory: 256 * KIB,
                threads: 1,
                priority: 5,
                affinity: 0b1111,
            },
            ComponentModel {
                name: "client-b".into(),
                image: 1,
                memory: 256 * KIB,
                threads: 1,
                priority: 10,
                affinity: 0b1100,
            },
        ],
        endpoints: vec![
            EndpointModel {
                name: "echo".into(),
                owner: 0,
                kind: EndpointKind::Ipc,
                slot: 4,
            },
            EndpointModel {
                name: "ready".into(),
                owner: 1,
                kind: EndpointKind::Notification,
                slot: 4,
            },
        ],
        grants: vec![
            GrantModel {
                holder: 0,
                kind: GrantKind::Console,
                slot: SLOT_CONSOLE,
                target: None,
                rights: Rights::WRITE,
                badge: 0,
            },
            GrantModel {
                holder: 1,
                kind: GrantKind::Call,
                slot: 5,
                target: Some(0),
                rights: Rights::CALL.union(Rights::GRANT),
                badge: 1,
            },
            GrantModel {
                holder: 2,
                kind: GrantKind::Call,
                slot: 63,
                target: Some(0),
                rights: Rights::CALL,
                badge: 2,
            },
            GrantModel {
                holder: 0,
                kind: GrantKind::Signal,
                slot: 5,
                target: Some(1),
                rights: Rights::SIGNAL,
                badge: u64::MAX,
            },
            GrantModel {
                holder: 1,
                kind: GrantKind::Verdict,
                slot: SLOT_VERDICT,
                target: None,
                rights: Rights::NONE,
                badge: 0,
            },
        ],
        partitions: vec![],
        routes: vec![],
        modules: vec![],
    }
}

fn parse_model(model: &PlanModel) -> Result<PlanModel, PlanError> {
    let bytes = encode(model);
    BootPlan::parse(&bytes).map(|plan| plan.to_model())
}

fn expect(model: &PlanModel, error: PlanError) {
    assert_eq!(parse_model(model), Err(error));
}

/// Applies `edit` to the encoded plan, reseals it, and parses.
fn parse_edited(edit: impl FnOnce(&mut Vec<u8>)) -> Result<(), PlanError> {
    let mut bytes = encode(&model());
    edit(&mut bytes);
    seal(&mut bytes);
    BootPlan::parse(&bytes).map(|_| ())
}

fn header(bytes: &mut [u8]) -> &mut Header {
    Header::mut_from_prefix(bytes).unwrap().0
}

fn section_bytes(bytes: &mut [u8], offset: usize) -> &mut [u8] {
    &mut bytes[offset..]
}

fn image0(bytes: &mut [u8]) -> &mut ImageRecord {
    let off = header(bytes).images.offset.get() as usize;
    ImageRecord::mut_from_prefix(section_bytes(bytes, off))
        .unwrap()
        .0
}

fn component0(bytes: &mut [u8]) -> &mut ComponentRecord {
    let off = header(bytes).components.offset.get() as usize;
    ComponentRecord::mut_from_prefix(section_bytes(bytes, off))
        .unwrap()
        .0
}

fn endpoint0(bytes: &mut [u8]) -> &mut EndpointRecord {
    let off = header(bytes).endpoints.offset.get() as usize;
    EndpointRecord::mut_from_prefix(section_bytes(bytes, off))
        .unwrap()
        .0
}

fn grant0(bytes: &mut [u8]) -> &mut GrantRecord {
    let off = header(bytes).grants.offset.get() as usize;
    GrantRecord::mut_from_prefix(section_bytes(bytes, off))
        .unwrap()
        .0
}

#[test]
fn round_trip() {
    let model = model();
    let bytes = encode(&model);
    let plan = BootPlan::parse(&bytes).unwrap();
    assert_eq!(plan.version(), FORMAT_VERSION);
    assert_eq!(plan.name(), "ipc-demo");
    assert_eq!(plan.to_model(), model);
    assert_eq!(encode(&plan.to_model()), bytes);
    assert_eq!(
        bytes.len(),
        HEADER_SIZE + 2 * 40 + 3 * 56 + 2 * 40 + 5 * 16,
        "records are packed back to back"
    );
}

#[test]
fn views() {
    let bytes = encode(&model());
    let plan = BootPlan::parse(&bytes).unwrap();
    assert_eq!(plan.components().len(), 3);
    let echo = plan.component(0).unwrap();
    assert_eq!(echo.name, "echo");
    assert_eq!(plan.image(echo.image).unwrap().name, "echo-server");
    assert_eq!(plan.image(echo.image).unwrap().module, 1);
    let served: Vec<&str> = plan.endpoints_of(0).map(|e| e.name).collect();
    assert_eq!(served, ["echo"]);
    let a: Vec<Grant> = plan.grants_of(1).collect();
    assert_eq!(a.len(), 2);
    assert_eq!(a[1].kind, GrantKind::Verdict);
    assert_eq!(a[1].slot, SLOT_VERDICT);
    assert_eq!(a[1].target, None);
    assert_eq!(a[0].kind, GrantKind::Call);
    assert_eq!(a[0].target, Some(0));
    assert_eq!(a[0].slot, 5);
    let console = plan.grant(0).unwrap();
    assert_eq!(console.target, None);
    assert!(plan.component(3).is_none());
    assert!(plan.grant(4).is_some());
    assert!(plan.grant(5).is_none());
    assert!(plan.endpoint(2).is_none());
    assert!(plan.image(2).is_none());
}

#[test]
fn empty_plan_is_valid() {
    let model = PlanModel {
        name: "empty".into(),
        cpu_count: 1,
        module_count: 1,
        component_memory: 0,
        ..PlanModel::default()
    };
    assert_eq!(parse_model(&model), Ok(model));
}

#[test]
fn truncation_at_every_length() {
    let bytes = encode(&model());
    for len in 0..bytes.len() {
        match BootPlan::parse(&bytes[..len]) {
            Err(PlanError::Truncated { needed, actual }) => {
                assert_eq!(actual, len);
                assert!(needed > len);
            }
            other => panic!("length {len}: {other:?}"),
        }
    }
}

#[test]
fn trailing_bytes() {
    let mut bytes = encode(&model());
    let len = bytes.len();
    bytes.push(0);
    assert_eq!(
        BootPlan::parse(&bytes).unwrap_err(),
        PlanError::TrailingBytes {
            expected: len,
            actual: len + 1
        }
    );
}

#[test]
fn framing_errors() {
    let good = encode(&model());

    let mut bytes = good.clone();
    bytes[0] = b'X';
    assert_eq!(BootPlan::parse(&bytes).unwrap_err(), PlanError::BadMagic);
    assert_eq!(
        BootPlan::parse(b"ELF\x7f").unwrap_err(),
        PlanError::BadMagic
    );

    let mut bytes = good.clone();
    bytes[4] = 1;
    assert_eq!(
        BootPlan::parse(&bytes).unwrap_err(),
        PlanError::UnsupportedVersion { found: 1 }
    );
    // Even when the rest is short: the version is what matters then.
    assert_eq!(
        BootPlan::parse(&bytes[..8]).unwrap_err(),
        PlanError::UnsupportedVersion { found: 1 }
    );

    let mut bytes = good.clone();
    bytes[6] = 64;
    assert_eq!(
        BootPlan::parse(&bytes).unwrap_err(),
        PlanError::BadHeaderSize { found: 64 }
    );

    // Any change behind the checksum field without resealing.
    for at in [CHECKSUM_START, 40, HEADER_SIZE, good.len() - 1] {
        let mut bytes = good.clone();
        bytes[at] ^= 0x10;
        assert!(
            matches!(BootPlan::parse(&bytes), Err(PlanError::BadChecksum { .. })),
            "byte {at}"
        );
    }
    let mut bytes = good.clone();
    bytes[12] ^= 1;
    assert!(matches!(
        BootPlan::parse(&bytes),
        Err(PlanError::BadChecksum { .. })
    ));

    // total_size smaller than the data: the rest is trailing.
    let mut bytes = good.clone();
    header(&mut bytes).total_size = U32::new(HEADER_SIZE as u32);
    assert!(matches!(
        BootPlan::parse(&bytes),
        Err(PlanError::TrailingBytes { .. })
    ));
}

#[test]
fn header_fields() {
    let reserved = PlanError::ReservedNotZero {
        section: Section::Header,
        index: 0,
    };
    assert_eq!(
        parse_edited(|b| header(b).flags = U32::new(1)),
        Err(reserved)
    );
    for cpus in [0, 65] {
        assert_eq!(
            parse_edited(|b| header(b).cpu_count = U16::new(cpus)),
            Err(PlanError::BadHeaderField { field: "cpu_count" })
        );
    }
    for modules in [0, 33] {
        assert_eq!(
            parse_edited(|b| header(b).module_count = U16::new(modules)),
            Err(PlanError::BadHeaderField {
                field: "module_count"
            })
        );
    }
    let mut m = model();
    m.name = "Demo".into();
    expect(
        &m,
        PlanError::BadName {
            section: Section::Header,
            index: 0,
        },
    );
}

#[test]
fn sections_misplaced() {
    let images = PlanError::BadSection {
        section: Section::Images,
    };
    let grants = PlanError::BadSection {
        section: Section::Grants,
    };
    // Overlapping the header.
    assert_eq!(
        parse_edited(|b| header(b).images.offset = U32::new(88)),
        Err(images)
    );
    // Misaligned.
    assert_eq!(
        parse_edited(|b| header(b).images.offset = U32::new(100)),
        Err(images)
    );
    // Overlapping the previous section.
    assert_eq!(
        parse_edited(|b| {
            let h = header(b);
            h.grants.offset = U32::new(h.endpoints.offset.get());
        }),
        Err(grants)
    );
    // Past the end.
    assert_eq!(
        parse_edited(|b| {
            let h = header(b);
            h.grants.count = U32::new(h.grants.count.get() + 1);
        }),
        Err(grants)
    );
    assert_eq!(
        parse_edited(|b| header(b).grants.offset = U32::new(u32::MAX - 7)),
        Err(grants)
    );
    // Too many.
    assert_eq!(
        parse_edited(|b| header(b).grants.count = U32::new(u32::MAX)),
        Err(PlanError::TooManyRecords {
            section: Section::Grants,
            count: u32::MAX,
            max: MAX_GRANTS
        })
    );
    assert_eq!(
        parse_edited(|b| header(b).components.count = U32::new(MAX_COMPONENTS + 1)),
        Err(PlanError::TooManyRecords {
            section: Section::Components,
            count: MAX_COMPONENTS + 1,
            max: MAX_COMPONENTS
        })
    );
    // A gap between sections is allowed (and checksummed).
    for m in [model(), vm_model()] {
        let mut bytes = encode(&m);
        let grants_at = header(&mut bytes).grants.offset.get() as usize;
        bytes.splice(grants_at..grants_at, [0xaa; 8]);
        let len = bytes.len() as u32;
        let h = header(&mut bytes);
        for sref in [
            &mut h.grants,
            &mut h.partitions,
            &mut h.routes,
            &mut h.modules,
            &mut h.strings,
        ] {
            sref.offset = U32::new(sref.offset.get() + 8);
        }
        h.total_size = U32::new(len);
        seal(&mut bytes);
        assert_eq!(BootPlan::parse(&bytes).unwrap().to_model(), m);
    }
    // The string section must be 8-aligned like the others.
    assert_eq!(
        parse_vm_edited(|b| {
            let h = header(b);
            h.strings.offset = U32::new(h.strings.offset.get() + 1);
            h.strings.count = U32::new(h.strings.count.get() - 1);
        }),
        Err(PlanError::BadSection {
            section: Section::Strings
        })
    );
}

#[test]
fn reserved_fields() {
    let at = |section| PlanError::ReservedNotZero { section, index: 0 };
    assert_eq!(
        parse_edited(|b| image0(b).reserved[4] = 1),
        Err(at(Section::Images))
    );
    assert_eq!(
        parse_edited(|b| component0(b).reserved[0] = 1),
        Err(at(Section::Components))
    );
    assert_eq!(
        parse_edited(|b| endpoint0(b).reserved[3] = 1),
        Err(at(Section::Endpoints))
    );
}

#[test]
fn names() {
    let bad = |section| PlanError::BadName { section, index: 0 };
    for name in ["", "Echo", "1echo", "echo_server", "echo.echo", "é"] {
        let mut m = model();
        m.components[0].name = name.into();
        expect(&m, bad(Section::Components));
    }
    let mut m = model();
    m.components[0].name = "a".repeat(31);
    assert!(parse_model(&m).is_ok());
    m.components[0].name = "a".repeat(32);
    expect(&m, bad(Section::Components));
    // Garbage after the terminating NUL.
    assert_eq!(
        parse_edited(|b| image0(b).name[31] = b'x'),
        Err(bad(Section::Images))
    );
    assert_eq!(
        parse_edited(|b| endpoint0(b).name[0] = 0xff),
        Err(bad(Section::Endpoints))
    );

    let mut m = model();
    m.images[1].name = "echo-server".into();
    expect(
        &m,
        PlanError::DuplicateName {
            section: Section::Images,
            index: 1,
        },
    );
    let mut m = model();
    m.components[2].name = "echo".into();
    expect(
        &m,
        PlanError::DuplicateName {
            section: Section::Components,
            index: 2,
        },
    );
    let mut m = model();
    m.endpoints[1].owner = 0;
    m.endpoints[1].kind = EndpointKind::Ipc;
    m.endpoints[1].slot = 6;
    m.endpoints[1].name = "echo".into();
    m.grants.remove(3); // the signal grant to the old notification
    expect(
        &m,
        PlanError::DuplicateName {
            section: Section::Endpoints,
            index: 1,
        },
    );
    // The same endpoint name under different owners is fine.
    m.endpoints[1].owner = 2;
    assert!(parse_model(&m).is_ok());
}

#[test]
fn images_and_components() {
    let images = |field| PlanError::IndexOutOfRange {
        section: Section::Images,
        index: 0,
        field,
    };
    let mut m = model();
    m.images[0].module = PLAN_MODULE;
    expect(&m, images("module"));
    m.images[0].module = 3;
    expect(&m, images("module"));
    let mut m = model();
    m.images[1].module = 1;
    expect(&m, PlanError::DuplicateModule { index: 1 });

    let value = |index, field| PlanError::BadValue {
        section: Section::Components,
        index,
        field,
    };
    let mut m = model();
    m.components[1].image = 2;
    expect(
        &m,
        PlanError::IndexOutOfRange {
            section: Section::Components,
            index: 1,
            field: "image",
        },
    );
    for threads in [0, MAX_THREADS + 1] {
        let mut m = model();
        m.components[1].threads = threads;
        expect(&m, value(1, "threads"));
    }
    for memory in [0, 4096 + 1, 100] {
        let mut m = model();
        m.components[1].memory = memory;
        expect(&m, value(1, "memory"));
    }
    for affinity in [0, 0b1_0000, 1 << 63] {
        let mut m = model();
        m.components[1].affinity = affinity;
        expect(&m, value(1, "affinity"));
    }
    let mut m = model();
    m.cpu_count = 64;
    m.components[1].affinity = u64::MAX;
    assert!(parse_model(&m).is_ok());

    let mut m = model();
    m.component_memory = 1024 * KIB - 4096;
    expect(
        &m,
        PlanError::OverBudget {
            total: 1024 * KIB,
            budget: 1024 * KIB - 4096,
        },
    );
    // Quotas that would overflow a u64 sum.
    let mut m = model();
    m.component_memory = !4095;
    m.components[0].memory = !4095;
    assert!(matches!(parse_model(&m), Err(PlanError::OverBudget { .. })));
}

#[test]
fn endpoints() {
    let mut m = model();
    m.endpoints[1].owner = 3;
    expect(
        &m,
        PlanError::IndexOutOfRange {
            section: Section::Endpoints,
            index: 1,
            field: "owner",
        },
    );
    assert_eq!(
        parse_edited(|b| endpoint0(b).kind = 2),
        Err(PlanError::BadValue {
            section: Section::Endpoints,
            index: 0,
            field: "kind"
        })
    );
    for slot in [0, 1, 2, 3, 64, 255] {
        let mut m = model();
        m.endpoints[0].slot = slot;
        expect(
            &m,
            PlanError::BadSlot {
                section: Section::Endpoints,
                index: 0,
                slot,
            },
        );
    }
}

#[test]
fn grants() {
    let value = |index, field| PlanError::BadValue {
        section: Section::Grants,
        index,
        field,
    };
    let mut m = model();
    m.grants[1].holder = 3;
    expect(
        &m,
        PlanError::IndexOutOfRange {
            section: Section::Grants,
            index: 1,
            field: "holder",
        },
    );
    let mut m = model();
    m.grants[1].target = Some(2);
    expect(
        &m,
        PlanError::IndexOutOfRange {
            section: Section::Grants,
            index: 1,
            field: "target",
        },
    );
    assert_eq!(parse_edited(|b| grant0(b).kind = 0), Err(value(0, "kind")));
    assert_eq!(parse_edited(|b| grant0(b).kind = 5), Err(value(0, "kind")));

    // Rights: empty, or not allowed for the kind.
    let mut m = model();
    m.grants[1].rights = Rights::NONE;
    expect(&m, value(1, "rights"));
    m.grants[1].rights = Rights::SIGNAL;
    expect(&m, value(1, "rights"));
    let mut m = model();
    m.grants[3].rights = Rights::CALL;
    expect(&m, value(3, "rights"));
    let mut m = model();
    m.grants[0].rights = Rights::WRITE.union(Rights::GRANT);
    expect(&m, value(0, "rights"));
    assert_eq!(
        parse_edited(|b| grant0(b).rights = U16::new(0x8000)),
        Err(value(0, "rights"))
    );

    // Kind and target must agree.
    let mut m = model();
    m.grants[1].target = Some(1);
    expect(&m, PlanError::KindMismatch { index: 1 });
    let mut m = model();
    m.grants[0].target = Some(0);
    expect(&m, PlanError::KindMismatch { index: 0 });
    let mut m = model();
    m.grants[0].badge = 1;
    expect(&m, value(0, "badge"));

    // Slots.
    let slot = |index, slot| PlanError::BadSlot {
        section: Section::Grants,
        index,
        slot,
    };
    let mut m = model();
    m.grants[0].slot = 4;
    expect(&m, slot(0, 4));
    for s in [0, 1, 2, 3, 64] {
        let mut m = model();
        m.grants[1].slot = s;
        expect(&m, slot(1, s));
    }
    // Collides with the endpoint's receive slot in the same component.
    let mut m = model();
    m.grants[3].slot = 4;
    expect(&m, slot(3, 4));
    // Two console grants.
    let mut m = model();
    m.grants.push(m.grants[0].clone());
    expect(&m, slot(5, SLOT_CONSOLE));
    // Two grants in one slot.
    let mut m = model();
    let mut again = m.grants[3].clone();
    again.badge = 7;
    m.grants.push(again);
    expect(&m, slot(5, 5));

    // Targeting one's own endpoint.
    let mut m = model();
    m.grants[1].holder = 0;
    m.grants[1].slot = 6;
    expect(&m, PlanError::SelfGrant { index: 1 });
}

#[test]
fn verdict_grants() {
    let value = |index, field| PlanError::BadValue {
        section: Section::Grants,
        index,
        field,
    };
    let slot = |index, slot| PlanError::BadSlot {
        section: Section::Grants,
        index,
        slot,
    };
    // Only in slot 3, and a console only in slot 2.
    for s in [SLOT_CONSOLE, FIRST_FREE_SLOT, 63] {
        let mut m = model();
        m.grants[4].slot = s;
        expect(&m, slot(4, s));
    }
    let mut m = model();
    m.grants[0].slot = SLOT_VERDICT;
    expect(&m, slot(0, SLOT_VERDICT));
    // No rights, no target, no badge.
    let mut m = model();
    m.grants[4].rights = Rights::WRITE;
    expect(&m, value(4, "rights"));
    let mut m = model();
    m.grants[4].target = Some(0);
    expect(&m, PlanError::KindMismatch { index: 4 });
    let mut m = model();
    m.grants[4].badge = 1;
    expect(&m, value(4, "badge"));
    // At most one in the plan: twice for one holder is a slot clash, once
    // more for another holder is a second verdict.
    let mut m = model();
    m.grants.push(m.grants[4].clone());
    expect(&m, slot(5, SLOT_VERDICT));
    let mut m = model();
    let mut other = m.grants[4].clone();
    other.holder = 2;
    m.grants.push(other);
    expect(&m, PlanError::DuplicateVerdict { index: 5 });
    // None at all is fine.
    let mut m = model();
    m.grants.pop();
    assert!(parse_model(&m).is_ok());
    assert_eq!(GrantKind::from_u8(4), Some(GrantKind::Verdict));
    assert!(GrantKind::Verdict.rights_valid(Rights::NONE));
    assert!(!GrantKind::Console.rights_valid(Rights::NONE));
    // The console's input is the READ right on the console grant.
    assert!(GrantKind::Console.rights_valid(Rights::READ));
    assert!(GrantKind::Console.rights_valid(Rights::WRITE.union(Rights::READ)));
    assert!(!GrantKind::Console.rights_valid(Rights::READ.union(Rights::GRANT)));
    assert!(!GrantKind::Call.rights_valid(Rights::READ));
}

#[test]
fn priorities_and_cycles() {
    // client-b (10) calls echo (10): fine; client-a (5) calls echo: fine.
    let mut m = model();
    m.components[1].priority = 11;
    expect(&m, PlanError::PriorityInversion { index: 1 });
    // Signals may go to lower priorities: echo (10) signals client-a's
    // `ready` (5) in the base model, which parses.
    assert!(parse_model(&model()).is_ok());

    // echo -> b -> echo, all at priority 10.
    let mut m = model();
    m.endpoints.push(EndpointModel {
        name: "back".into(),
        owner: 2,
        kind: EndpointKind::Ipc,
        slot: 4,
    });
    m.grants.push(GrantModel {
        holder: 0,
        kind: GrantKind::Call,
        slot: 6,
        target: Some(2),
        rights: Rights::CALL,
        badge: 0,
    });
    expect(&m, PlanError::CallCycle { component: 0 });

    // A longer cycle: a -> b -> c -> a.
    let component = |name: &str| ComponentModel {
        name: name.into(),
        image: 0,
        memory: 4096,
        threads: 1,
        priority: 7,
        affinity: 1,
    };
    let endpoint = |owner| EndpointModel {
        name: "ep".into(),
        owner,
        kind: EndpointKind::Ipc,
        slot: 4,
    };
    let call = |holder, target| GrantModel {
        holder,
        kind: GrantKind::Call,
        slot: 5,
        target: Some(target),
        rights: Rights::CALL,
        badge: 0,
    };
    let mut m = PlanModel {
        name: "ring".into(),
        cpu_count: 1,
        module_count: 2,
        component_memory: 3 * 4096,
        images: vec![ImageModel {
            name: "x".into(),
            module: 1,
            kind: ImageKind::Component,
        }],
        components: vec![component("a"), component("b"), component("c")],
        endpoints: vec![endpoint(0), endpoint(1), endpoint(2)],
        grants: vec![call(0, 1), call(1, 2)],
        partitions: vec![],
        routes: vec![],
        modules: vec![],
    };
    assert!(parse_model(&m).is_ok());
    m.grants.push(call(2, 0));
    expect(&m, PlanError::CallCycle { component: 0 });
}

#[test]
fn errors_display() {
    let text = std::format!(
        "{}",
        PlanError::IndexOutOfRange {
            section: Section::Grants,
            index: 3,
            field: "target"
        }
    );
    assert_eq!(text, "boot plan grants[3]: target out of range");
}

#[test]
fn valid_names() {
    assert!(is_valid_name(b"a"));
    assert!(is_valid_name(b"echo-server2"));
    assert!(!is_valid_name(b""));
    assert!(!is_valid_name(b"-a"));
    assert!(!is_valid_name(b"a b"));
    assert!(!is_valid_name(&[b'a'; 32]));
}

/// Walks every view of a parsed plan and checks the promises the kernel
/// relies on, so a fuzzed plan that parses is also a usable one.
fn exercise(plan: &BootPlan<'_>) {
    let components = plan.component_count();
    let _ = plan.name();
    for image in plan.images() {
        assert!(image.module > 0 && image.module < plan.module_count());
    }
    for c in plan.components() {
        assert!(usize::from(c.image) < plan.image_count());
        assert!(c.threads > 0 && c.affinity != 0);
        let _ = plan.endpoints_of(c.index).count();
        let _ = plan.grants_of(c.index).count();
    }
    for e in plan.endpoints() {
        assert!(usize::from(e.owner) < components);
        assert!(e.slot >= FIRST_FREE_SLOT && e.slot < CSPACE_SLOTS);
    }
    for g in plan.grants() {
        assert!(usize::from(g.holder) < components);
        if let Some(t) = g.target {
            let e = plan.endpoint(t).unwrap();
            assert_ne!(e.owner, g.holder);
        }
    }
    for p in plan.partitions() {
        assert!(usize::from(p.manager) < components);
        assert_eq!(plan.image(p.image).unwrap().kind, ImageKind::Guest);
        assert!(guest_memory_valid(p.memory));
        assert!(
            !p.vp_cpus.is_empty() && p.vp_cpus.iter().all(|&c| u16::from(c) < plan.cpu_count())
        );
        assert!(plan.is_manager(p.manager));
        assert!(
            plan.routes_of(p.index)
                .any(|r| r.kind == route::intercept::LIFECYCLE)
        );
        let _ = plan.partitions_of(p.manager).count();
        if let Some(words) = p.hv1 {
            assert!(hv1_words_valid(&words));
        }
    }
    for m in plan.guest_modules() {
        let p = plan.partition(m.partition).unwrap();
        assert!(p.format.max_modules() > 0);
        assert_eq!(plan.image(m.image).unwrap().kind, ImageKind::GuestModule);
        assert!(guest_cmdline_valid(m.cmdline.as_bytes()));
        assert!(p.format.module_cmdlines() || m.cmdline.is_empty());
        assert!(plan.guest_modules_of(m.partition).count() <= p.format.max_modules());
        assert!(p.format.max_modules() <= MAX_GUEST_MODULES);
        assert_eq!(plan.guest_module(m.index), Some(m));
    }
    for r in plan.routes() {
        let e = plan.endpoint(r.target).unwrap();
        assert_eq!(e.kind, EndpointKind::Ipc);
        assert!(plan.partition(r.partition).is_some());
        assert!(route::parameter_valid(r.kind, r.parameter));
        assert!(r.slot >= FIRST_FREE_SLOT && u32::from(r.slot) < manager::MANAGER_DATA_SLOT);
    }
}

fn mutated(edits: &[(usize, u8)], reseal: bool, vm: bool) -> Vec<u8> {
    let mut bytes = encode(&if vm { vm_model() } else { model() });
    let len = bytes.len();
    for &(at, value) in edits {
        bytes[at % len] ^= value;
    }
    if reseal {
        seal(&mut bytes);
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(plan) = BootPlan::parse(&bytes) {
            exercise(&plan);
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes_with_header(
        mut bytes in proptest::collection::vec(any::<u8>(), HEADER_SIZE..800),
        reseal in any::<bool>(),
    ) {
        // A plausible header, so the fuzzing gets past the framing checks.
        bytes[..4].copy_from_slice(&MAGIC);
        bytes[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes[6..8].copy_from_slice(&(HEADER_SIZE as u16).to_le_bytes());
        let len = bytes.len() as u32;
        bytes[8..12].copy_from_slice(&len.to_le_bytes());
        if reseal {
            seal(&mut bytes);
        }
        if let Ok(plan) = BootPlan::parse(&bytes) {
            exercise(&plan);
        }
    }

    #[test]
    fn parse_never_panics_on_mutations(
        edits in proptest::collection::vec((any::<usize>(), 1u8..), 1..6),
        reseal in any::<bool>(),
        vm in any::<bool>(),
    ) {
        let bytes = mutated(&edits, reseal, vm);
        let result = BootPlan::parse(&bytes);
        if let Ok(plan) = &result {
            exercise(plan);
        }
        if !reseal && bytes != encode(&if vm { vm_model() } else { model() }) {
            // Any change is caught, by the checksum at the latest.
            prop_assert!(result.is_err());
        }
    }

    #[test]
    fn parse_never_panics_on_resized_plans(
        cut in 0usize..1400,
        extra in proptest::collection::vec(any::<u8>(), 0..64),
        vm in any::<bool>(),
    ) {
        let mut bytes = encode(&if vm { vm_model() } else { model() });
        bytes.truncate(cut);
        bytes.extend_from_slice(&extra);
        let len = bytes.len() as u32;
        if bytes.len() >= HEADER_SIZE {
            bytes[8..12].copy_from_slice(&len.to_le_bytes());
            seal(&mut bytes);
        }
        if let Ok(plan) = BootPlan::parse(&bytes) {
            exercise(&plan);
        }
    }

    #[test]
    fn round_trip_of_renamed_plans(name in "[a-z][a-z0-9-]{0,30}", badge in any::<u64>(), priority in 10u8..) {
        prop_assume!(name != "client-a" && name != "client-b");
        let mut m = model();
        m.name = String::from(name.as_str());
        m.components[0].name = name;
        m.components[0].priority = priority;
        m.grants[1].badge = badge;
        prop_assert_eq!(parse_model(&m), Ok(m));
    }
}

const MIB: u64 = 1024 * KIB;

/// [`model`] with a partition manager (`pm`, component 3) and two
/// partitions of a guest image, routed to `pm.exits` and to `echo.echo`.
fn vm_model() -> PlanModel {
    use route::intercept;
    let mut m = model();
    m.module_count = 5;
    m.images.push(ImageModel {
        name: "hello".into(),
        module: 3,
        kind: ImageKind::Guest,
    });
    m.images.push(ImageModel {
        name: "module-1".into(),
        module: 4,
        kind: ImageKind::GuestModule,
    });
    // The Multiboot partition gets that file as its one boot module.
    m.modules = vec![ModuleModel {
        partition: 1,
        image: 3,
        cmdline: "module-one arg".into(),
    }];
    m.components.push(ComponentModel {
        name: "pm".into(),
        image: 0,
        memory: 6 * MIB,
        threads: 1,
        priority: 10,
        affinity: 0b11,
    });
    m.endpoints.push(EndpointModel {
        name: "exits".into(),
        owner: 3,
        kind: EndpointKind::Ipc,
        slot: 4,
    });
    m.partitions = vec![
        PartitionModel {
            synic: Default::default(),
            name: "demo".into(),
            manager: 3,
            image: 2,
            format: GuestFormat::Elf64,
            expect: Expectation::Pass,
            priority: 5,
            memory: 2 * MIB,
            badge: 5,
            cmdline: String::new(),
            vp_cpus: vec![1],
            hv1: Some(
                tessera_hv1::Hv1Config::from_feature_list("hv-relaxed,hv-crash,hv-spinlocks=0xfff")
                    .unwrap()
                    .to_words(),
            ),
            apic: crate::manager::ApicKind::Xapic,
        },
        PartitionModel {
            synic: Default::default(),
            name: "mb".into(),
            manager: 3,
            image: 2,
            format: GuestFormat::Multiboot,
            expect: Expectation::TripleFault,
            priority: 10,
            memory: 2 * MIB,
            badge: 6,
            cmdline: "multiboot-guest check=cmdline".into(),
            vp_cpus: vec![0, 3],
            hv1: None,
            apic: crate::manager::ApicKind::None,
        },
    ];
    let io = |first, last| route::range_parameter(intercept::IO_PORT, first, last).unwrap();
    m.routes = vec![
        RouteModel {
            partition: 0,
            target: 2,
            slot: 62,
            kind: intercept::LIFECYCLE,
            parameter: 0,
            state: 0,
            posted: 0,
        },
        RouteModel {
            partition: 0,
            target: 2,
            slot: 62,
            kind: intercept::IO_PORT,
            parameter: io(0xf4, 0xf4),
            state: 0,
            posted: 0,
        },
        RouteModel {
            partition: 0,
            target: 0,
            slot: 61,
            kind: intercept::IO_PORT,
            parameter: io(0x3f8, 0x3ff),
            state: route::state::RAX,
            posted: 0,
        },
        // The Hv#1 partition's HvCallNotifyLongSpinWait, to the same handler.
        RouteModel {
            partition: 0,
            target: 0,
            slot: 61,
            kind: intercept::HYPERCALL,
            parameter: route::range_parameter(intercept::HYPERCALL, 0x8, 0x8).unwrap(),
            state: route::state::RCX,
            posted: 0,
        },
        RouteModel {
            partition: 1,
            target: 2,
            slot: 60,
            kind: intercept::LIFECYCLE,
            parameter: 0,
            state: 0,
            posted: 0,
        },
        RouteModel {
            partition: 1,
            target: 0,
            slot: 59,
            kind: intercept::CPUID,
            parameter: route::range_parameter(intercept::CPUID, 0x4c00_0000, 0x4c00_00ff).unwrap(),
            state: 0,
            posted: 0,
        },
        RouteModel {
            partition: 1,
            target: 2,
            slot: 60,
            kind: intercept::EXCEPTION,
            parameter: route::vectors_parameter([6, 13]).unwrap(),
            state: route::state::ALL,
            posted: 0,
        },
    ];
    m
}

fn partition0(bytes: &mut [u8]) -> &mut PartitionRecord {
    let off = header(bytes).partitions.offset.get() as usize;
    PartitionRecord::mut_from_prefix(section_bytes(bytes, off))
        .unwrap()
        .0
}

fn route0(bytes: &mut [u8]) -> &mut RouteRecord {
    let off = header(bytes).routes.offset.get() as usize;
    RouteRecord::mut_from_prefix(section_bytes(bytes, off))
        .unwrap()
        .0
}

fn parse_vm_edited(edit: impl FnOnce(&mut Vec<u8>)) -> Result<(), PlanError> {
    let mut bytes = encode(&vm_model());
    edit(&mut bytes);
    seal(&mut bytes);
    BootPlan::parse(&bytes).map(|_| ())
}

#[test]
fn partitions_round_trip() {
    let model = vm_model();
    let bytes = encode(&model);
    let plan = BootPlan::parse(&bytes).unwrap();
    assert_eq!(plan.to_model(), model);
    assert_eq!(encode(&plan.to_model()), bytes);
    assert_eq!(
        bytes.len(),
        HEADER_SIZE + 4 * 40 + 4 * 56 + 3 * 40 + 5 * 16 + 2 * 360 + 7 * 40 + 16 + 29 + 14
    );
    assert_eq!(plan.partition_count(), 2);
    assert_eq!(plan.route_count(), 7);
    let mb = plan.partition(1).unwrap();
    assert_eq!(mb.name, "mb");
    assert_eq!(mb.cmdline, "multiboot-guest check=cmdline");
    assert_eq!(mb.vp_cpus, [0, 3]);
    assert_eq!(mb.format, GuestFormat::Multiboot);
    assert_eq!(mb.hv1, None);
    assert_eq!(mb.apic, crate::manager::ApicKind::None);
    assert_eq!(plan.partition(0).unwrap().hv1, model.partitions[0].hv1);
    assert_eq!(
        plan.partition(0).unwrap().apic,
        crate::manager::ApicKind::Xapic
    );
    assert_eq!(plan.image(mb.image).unwrap().name, "hello");
    assert!(plan.is_manager(3) && !plan.is_manager(0));
    assert_eq!(plan.partitions_of(3).count(), 2);
    assert_eq!(plan.partitions_of(0).count(), 0);
    let demo_routes: Vec<Route> = plan.routes_of(0).collect();
    assert_eq!(demo_routes.len(), 4);
    assert_eq!(demo_routes[2].state, route::state::RAX);
    assert_eq!(demo_routes[3].kind, route::intercept::HYPERCALL);
    assert_eq!(demo_routes[3].parameter, 0x8 | 0x8 << 32);
    assert!(plan.partition(2).is_none() && plan.route(7).is_none());
}

#[test]
fn partition_records() {
    let value = |index, field| PlanError::BadValue {
        section: Section::Partitions,
        index,
        field,
    };
    let check = |edit: &dyn Fn(&mut PlanModel), error| {
        let mut m = vm_model();
        edit(&mut m);
        expect(&m, error);
    };
    check(
        &|m| m.partitions[0].name = "Demo".into(),
        PlanError::BadName {
            section: Section::Partitions,
            index: 0,
        },
    );
    check(
        &|m| m.partitions[1].name = "demo".into(),
        PlanError::DuplicateName {
            section: Section::Partitions,
            index: 1,
        },
    );
    check(
        &|m| m.partitions[0].manager = 4,
        PlanError::IndexOutOfRange {
            section: Section::Partitions,
            index: 0,
            field: "manager",
        },
    );
    check(
        &|m| m.partitions[0].image = 4,
        PlanError::IndexOutOfRange {
            section: Section::Partitions,
            index: 0,
            field: "image",
        },
    );
    // A component image as a guest, a guest image as a component.
    check(&|m| m.partitions[0].image = 0, value(0, "image"));
    check(
        &|m| m.components[3].image = 2,
        PlanError::BadValue {
            section: Section::Components,
            index: 3,
            field: "image",
        },
    );
    for memory in [0, MIB, 3 * MIB, 2048 * MIB] {
        check(&|m| m.partitions[0].memory = memory, value(0, "memory"));
    }
    check(&|m| m.partitions[0].vp_cpus = vec![], value(0, "vp_count"));
    check(
        &|m| m.partitions[0].vp_cpus = vec![0; 65],
        value(0, "vp_count"),
    );
    check(&|m| m.partitions[0].vp_cpus = vec![4], value(0, "vp_cpus"));
    check(&|m| m.partitions[0].badge = 0, value(0, "badge"));
    // Hv#1 words the kernel refuses: without the required privileges, with
    // AccessStatsReg (not implemented), with a bit the words do not carry.
    check(
        &|m| m.partitions[1].hv1 = Some([0; HV1_WORDS]),
        value(1, "hv1"),
    );
    check(
        &|m| m.partitions[0].hv1.as_mut().unwrap()[0] |= 1 << 8,
        value(0, "hv1"),
    );
    check(
        &|m| m.partitions[0].hv1.as_mut().unwrap()[5] |= 1 << 63,
        value(0, "hv1"),
    );
    assert_eq!(
        parse_vm_edited(|b| partition0(b).hv1 = 2),
        Err(value(0, "hv1"))
    );
    check(&|m| m.partitions[1].badge = 5, value(1, "badge"));
    check(
        &|m| m.partitions[0].cmdline = "x".into(),
        value(0, "cmdline"),
    );
    check(
        &|m| m.partitions[1].cmdline = "a\nb".into(),
        value(1, "cmdline"),
    );
    check(
        &|m| m.partitions[1].cmdline = "a".repeat(MAX_GUEST_CMDLINE + 1),
        value(1, "cmdline"),
    );
    check(
        &|m| m.partitions[1].priority = 11,
        PlanError::PartitionPriority { index: 1 },
    );
    check(
        &|m| m.components[3].memory = 5 * MIB,
        PlanError::ManagerOverQuota {
            component: 3,
            needed: 256 * KIB + 2 * (2 * MIB + 8 * KIB + 512 * KIB),
            quota: 5 * MIB,
        },
    );
    assert_eq!(
        parse_vm_edited(|b| partition0(b).format = 3),
        Err(value(0, "format"))
    );
    assert_eq!(
        parse_vm_edited(|b| partition0(b).expect = 6),
        Err(value(0, "expect"))
    );
    assert_eq!(
        parse_vm_edited(|b| partition0(b).apic = 3),
        Err(value(0, "apic"))
    );
    assert_eq!(
        parse_vm_edited(|b| partition0(b).apic = 0xFF),
        Err(value(0, "apic"))
    );
    assert_eq!(
        parse_vm_edited(|b| partition0(b).vp_cpus[5] = 1),
        Err(value(0, "vp_cpus"))
    );
    assert_eq!(
        parse_vm_edited(|b| partition0(b).cmdline_offset = U32::new(1000)),
        Err(value(0, "cmdline"))
    );
    assert_eq!(
        parse_vm_edited(|b| image0(b).kind = 3),
        Err(PlanError::BadValue {
            section: Section::Images,
            index: 0,
            field: "kind"
        })
    );

    // At most eight per manager.
    let mut m = vm_model();
    m.components[3].memory = 64 * MIB;
    m.component_memory = 128 * MIB;
    m.routes.retain(|r| r.kind == route::intercept::LIFECYCLE);
    m.routes
        .iter_mut()
        .for_each(|r| r.slot = 62 - r.partition as u8);
    for n in 2..9u16 {
        let mut p = m.partitions[0].clone();
        p.name = std::format!("p{n}");
        p.badge = 100 + u64::from(n);
        m.partitions.push(p);
        m.routes.push(RouteModel {
            partition: n,
            target: 2,
            slot: 62 - n as u8,
            kind: route::intercept::LIFECYCLE,
            parameter: 0,
            state: 0,
            posted: 0,
        });
    }
    assert_eq!(m.partitions.len(), 9);
    expect(&m, PlanError::TooManyPartitions { component: 3 });
    m.partitions.pop();
    m.routes.pop();
    assert!(parse_model(&m).is_ok());
}

fn module0(bytes: &mut [u8]) -> &mut ModuleRecord {
    let off = header(bytes).modules.offset.get() as usize;
    ModuleRecord::mut_from_prefix(section_bytes(bytes, off))
        .unwrap()
        .0
}

#[test]
fn module_records() {
    let model = vm_model();
    let bytes = encode(&model);
    let plan = BootPlan::parse(&bytes).unwrap();
    assert_eq!(plan.guest_module_count(), 1);
    let module = plan.guest_module(0).unwrap();
    assert_eq!(module.partition, 1);
    assert_eq!(module.cmdline, "module-one arg");
    assert_eq!(plan.image(module.image).unwrap().name, "module-1");
    assert_eq!(plan.image(module.image).unwrap().module, 4);
    assert_eq!(plan.guest_modules_of(1).collect::<Vec<_>>(), [module]);
    assert_eq!(plan.guest_modules_of(0).count(), 0, "an ELF64 partition");
    assert!(plan.guest_module(1).is_none());

    let value = |field| PlanError::BadValue {
        section: Section::Modules,
        index: 0,
        field,
    };
    let check = |edit: &dyn Fn(&mut PlanModel), error| {
        let mut m = vm_model();
        edit(&mut m);
        expect(&m, error);
    };
    // Only a Multiboot partition takes modules.
    check(&|m| m.modules[0].partition = 0, value("partition"));
    check(
        &|m| m.modules[0].partition = 2,
        PlanError::IndexOutOfRange {
            section: Section::Modules,
            index: 0,
            field: "partition",
        },
    );
    // The image is a guest module, and only modules use guest modules.
    check(&|m| m.modules[0].image = 2, value("image"));
    check(&|m| m.modules[0].image = 0, value("image"));
    check(
        &|m| m.modules[0].image = 4,
        PlanError::IndexOutOfRange {
            section: Section::Modules,
            index: 0,
            field: "image",
        },
    );
    check(
        &|m| m.partitions[1].image = 3,
        PlanError::BadValue {
            section: Section::Partitions,
            index: 1,
            field: "image",
        },
    );
    check(
        &|m| m.components[0].image = 3,
        PlanError::BadValue {
            section: Section::Components,
            index: 0,
            field: "image",
        },
    );
    check(&|m| m.modules[0].cmdline = "a\tb".into(), value("cmdline"));
    check(
        &|m| m.modules[0].cmdline = "a".repeat(MAX_GUEST_CMDLINE + 1),
        value("cmdline"),
    );
    assert_eq!(
        parse_vm_edited(|b| module0(b).cmdline_offset = U32::new(1000)),
        Err(value("cmdline"))
    );
    assert_eq!(
        parse_vm_edited(|b| module0(b).reserved[5] = 1),
        Err(PlanError::ReservedNotZero {
            section: Section::Modules,
            index: 0
        })
    );
    // An empty command line is fine; at most eight modules a partition.
    let mut m = vm_model();
    m.modules[0].cmdline = String::new();
    for _ in 1..MAX_GUEST_MODULES {
        m.modules.push(m.modules[0].clone());
    }
    assert_eq!(parse_model(&m), Ok(m.clone()));
    m.modules.push(m.modules[0].clone());
    expect(&m, PlanError::TooManyModules { partition: 1 });
    assert_eq!(
        parse_vm_edited(|b| header(b).modules.count = U32::new(MAX_MODULE_RECORDS + 1)),
        Err(PlanError::TooManyRecords {
            section: Section::Modules,
            count: MAX_MODULE_RECORDS + 1,
            max: MAX_MODULE_RECORDS
        })
    );
}

#[test]
fn route_records() {
    use route::intercept;
    let value = |index, field| PlanError::BadValue {
        section: Section::Routes,
        index,
        field,
    };
    let check = |edit: &dyn Fn(&mut PlanModel), error| {
        let mut m = vm_model();
        edit(&mut m);
        expect(&m, error);
    };
    check(
        &|m| m.routes[1].partition = 2,
        PlanError::IndexOutOfRange {
            section: Section::Routes,
            index: 1,
            field: "partition",
        },
    );
    check(
        &|m| m.routes[1].target = 3,
        PlanError::IndexOutOfRange {
            section: Section::Routes,
            index: 1,
            field: "target",
        },
    );
    // A notification is no route target.
    check(&|m| m.routes[2].target = 1, value(2, "target"));
    check(&|m| m.routes[1].kind = 4, value(1, "kind"));
    check(
        &|m| m.routes[1].parameter = 0xf5 | 0xf4 << 16,
        value(1, "parameter"),
    );
    check(&|m| m.routes[0].parameter = 1, value(0, "parameter"));
    check(&|m| m.routes[6].parameter = 1 << 2, value(6, "parameter"));
    // Hypercall codes are 16 bits.
    check(
        &|m| m.routes[3].parameter = 0x1_0000 << 32,
        value(3, "parameter"),
    );
    check(&|m| m.routes[1].state = 1 << 16, value(1, "state"));
    // Posted ports: only an `io` route's, only ports of its range.
    check(&|m| m.routes[0].posted = 1, value(0, "posted"));
    check(&|m| m.routes[1].posted = 0b10, value(1, "posted"));
    let mut posting = vm_model();
    posting.routes[2].posted = 0b1;
    assert!(parse_model(&posting).is_ok(), "COM1's transmit register");
    check(&|m| m.routes[2].posted = 1 << 8, value(2, "posted"));
    check(
        &|m| {
            m.routes[2].parameter = route::range_parameter(intercept::IO_PORT, 0xf0, 0xf4).unwrap()
        },
        PlanError::RouteOverlap { index: 2 },
    );
    // The same ports in another partition are fine.
    let mut m = vm_model();
    m.routes[5] = RouteModel {
        kind: intercept::IO_PORT,
        parameter: route::range_parameter(intercept::IO_PORT, 0xf4, 0xf4).unwrap(),
        ..m.routes[5].clone()
    };
    assert!(parse_model(&m).is_ok());
    // Two lifecycle routes, none.
    check(
        &|m| {
            m.routes[1].kind = intercept::LIFECYCLE;
            m.routes[1].parameter = 0;
        },
        PlanError::RouteOverlap { index: 1 },
    );
    check(
        &|m| {
            m.routes.remove(4);
        },
        PlanError::NoLifecycleRoute { partition: 1 },
    );
    // Priorities: the partition's, and the manager's towards other components.
    // (A partition's priority is at most its manager's, and the manager's
    // at most each other target's, so the partition's is too.)
    check(
        &|m| m.components[3].priority = 11,
        PlanError::RoutePriority { index: 2 },
    );
    // Slots: shared per (partition, endpoint), distinct otherwise, free in
    // the manager, never the manager data slot.
    let slot = |index, slot| PlanError::BadSlot {
        section: Section::Routes,
        index,
        slot,
    };
    check(&|m| m.routes[1].slot = 58, slot(1, 58));
    check(&|m| m.routes[2].slot = 62, slot(2, 62));
    check(&|m| m.routes[4].slot = 62, slot(4, 62));
    check(&|m| m.routes[0].slot = 63, slot(0, 63));
    check(&|m| m.routes[0].slot = 4, slot(0, 4));
    check(&|m| m.routes[0].slot = 3, slot(0, 3));
    check(
        &|m| m.endpoints[2].slot = 63,
        PlanError::BadSlot {
            section: Section::Partitions,
            index: 0,
            slot: 63,
        },
    );
    // A badge a grant to the same endpoint carries.
    check(
        &|m| m.partitions[0].badge = 2,
        PlanError::BadgeCollision { index: 2 },
    );
    // The manager's route capabilities are calls: echo calling pm closes a cycle.
    check(
        &|m| {
            m.grants.push(GrantModel {
                holder: 0,
                kind: GrantKind::Call,
                slot: 6,
                target: Some(2),
                rights: Rights::CALL,
                badge: 0,
            })
        },
        PlanError::CallCycle { component: 0 },
    );
    assert_eq!(
        parse_vm_edited(|b| route0(b).reserved2 = 1.into()),
        Err(PlanError::ReservedNotZero {
            section: Section::Routes,
            index: 0
        })
    );
    assert_eq!(
        parse_vm_edited(|b| route0(b).reserved[2] = 1),
        Err(PlanError::ReservedNotZero {
            section: Section::Routes,
            index: 0
        })
    );
}

#[test]
fn linux_partitions_take_one_initrd_without_a_command_line() {
    let mut m = vm_model();
    m.partitions[1].format = GuestFormat::Linux;
    m.modules[0].cmdline = String::new();
    let bytes = encode(&m);
    let plan = BootPlan::parse(&bytes).unwrap();
    assert_eq!(plan.partition(1).unwrap().format, GuestFormat::Linux);
    assert_eq!(plan.guest_modules_of(1).count(), 1);
    exercise(&plan);

    let mut with_cmdline = m.clone();
    with_cmdline.modules[0].cmdline = "initrd arg".into();
    assert_eq!(
        BootPlan::parse(&encode(&with_cmdline)).map(drop),
        Err(PlanError::BadValue {
            section: Section::Modules,
            index: 0,
            field: "cmdline"
        })
    );
    let mut two = m.clone();
    two.modules.push(two.modules[0].clone());
    assert_eq!(
        BootPlan::parse(&encode(&two)).map(drop),
        Err(PlanError::TooManyModules { partition: 1 })
    );
    let mut elf = m;
    elf.partitions[1].format = GuestFormat::Elf64;
    elf.partitions[1].cmdline = String::new();
    assert!(
        BootPlan::parse(&encode(&elf)).is_err(),
        "ELF64 takes no module"
    );
}

/// What the kernel reads: the header's fields, checked as a full parse
/// checks them, without the sections.
#[test]
fn header_alone() {
    let bytes = encode(&model());
    let full = BootPlan::parse(&bytes).unwrap();
    let header = PlanHeader::parse(&bytes).unwrap();
    assert_eq!(header.name(), full.name());
    assert_eq!(header.version(), full.version());
    assert_eq!(header.cpu_count(), full.cpu_count());
    assert_eq!(header.module_count(), full.module_count());
    assert_eq!(header.component_memory(), full.component_memory());
    assert_eq!(
        header.claimed_component_count() as usize,
        full.component_count()
    );
    // A bad record is init's to find: the header still reads.
    let mut bad_record = bytes.clone();
    component0(&mut bad_record).threads = U16::new(0);
    seal(&mut bad_record);
    assert!(BootPlan::parse(&bad_record).is_err());
    assert!(PlanHeader::parse(&bad_record).is_ok());
    // Framing and checksum are the header's: refused the same way.
    let mut corrupt = bytes.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    assert_eq!(
        PlanHeader::parse(&corrupt).map(|_| ()),
        BootPlan::parse(&corrupt).map(|_| ())
    );
    assert!(matches!(
        PlanHeader::parse(&corrupt),
        Err(PlanError::BadChecksum { .. })
    ));
    for length in 0..HEADER_SIZE {
        assert_eq!(
            PlanHeader::parse(&bytes[..length]).map(|_| ()),
            BootPlan::parse(&bytes[..length]).map(|_| ()),
            "length {length}"
        );
    }
}

/// A partition's SynIC ports and connections (version 5) survive the plan,
/// and one the kernel could never make is refused at parse time.
#[test]
fn synic_links_round_trip_and_are_checked() {
    use crate::synic::{ConnectionDecl, EVENT, MESSAGE, PortDecl, SynicLinks};
    let mut model = vm_model();
    let mut links = SynicLinks::default();
    links
        .push_port(PortDecl {
            id: 0x10,
            kind: EVENT,
            sint: 3,
            vp: 0,
            base_flag: 8,
            flag_count: 4,
            owner_slot: 0,
        })
        .unwrap();
    links
        .push_connection(ConnectionDecl {
            id: 0x20,
            port: 0x11,
            kind: MESSAGE,
            partition: 6,
        })
        .unwrap();
    model.partitions[0].synic = links;
    assert_eq!(parse_model(&model), Ok(model.clone()));
    let plan_bytes = encode(&model);
    let plan = BootPlan::parse(&plan_bytes).unwrap();
    assert_eq!(plan.partition(0).unwrap().synic.ports().len(), 1);
    assert_eq!(
        plan.partition(0).unwrap().synic.connections()[0].partition,
        6
    );
    // VP 1 of a partition with one VP.
    let mut bad = links;
    bad.push_port(PortDecl {
        id: 0x12,
        kind: MESSAGE,
        sint: 2,
        vp: 1,
        ..PortDecl::default()
    })
    .unwrap();
    model.partitions[0].synic = bad;
    assert_eq!(
        parse_model(&model),
        Err(PlanError::BadValue {
            section: Section::Partitions,
            index: 0,
            field: "synic port",
        })
    );
}
