use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::route::{intercept, range_parameter, state};

const MIB: u64 = 1 << 20;

fn routes_a() -> Vec<RouteSpec> {
    vec![
        RouteSpec {
            kind: intercept::LIFECYCLE,
            parameter: 0,
            slot: 62,
            state: 0,
            posted: 0,
        },
        RouteSpec {
            kind: intercept::IO_PORT,
            parameter: range_parameter(intercept::IO_PORT, 0xf4, 0xf4).unwrap(),
            slot: 62,
            state: 0,
            posted: 0,
        },
        RouteSpec {
            kind: intercept::IO_PORT,
            parameter: range_parameter(intercept::IO_PORT, 0x3f8, 0x3ff).unwrap(),
            slot: 61,
            state: state::RAX,
            posted: 0,
        },
        // The Hv#1 partition's HvCallNotifyLongSpinWait.
        RouteSpec {
            kind: intercept::HYPERCALL,
            parameter: range_parameter(intercept::HYPERCALL, 0x8, 0x8).unwrap(),
            slot: 61,
            state: state::RCX | state::RDX,
            posted: 0,
        },
    ]
}

fn routes_b() -> Vec<RouteSpec> {
    vec![
        RouteSpec {
            kind: intercept::CPUID,
            parameter: range_parameter(intercept::CPUID, 0x4c00_0000, 0x4c00_00ff).unwrap(),
            slot: 59,
            state: 0,
            posted: 0,
        },
        RouteSpec {
            kind: intercept::LIFECYCLE,
            parameter: 0,
            slot: 60,
            state: 0,
            posted: 0,
        },
    ]
}

const USED: u64 = 0b1111 | 1 << 4 | 1 << 59 | 1 << 60 | 1 << 61 | 1 << 62;

/// The words of an Hv#1 configuration from QEMU-style names.
fn hv1(names: &str) -> [u64; HV1_WORDS] {
    tessera_hv1::Hv1Config::from_feature_list(names)
        .unwrap()
        .to_words()
}

const FULL: &str = "hv-relaxed,hv-vpindex,hv-runtime,hv-time,hv-reset,hv-crash,hv-tlbflush,\
                    hv-tlbflush-ext,hv-xmm-input,hv-spinlocks=0x1fff";

/// The Multiboot partition's modules: a file with a command line, and an
/// empty one without.
const MODULES: [ModuleSpec<'static>; 2] = [
    ModuleSpec {
        bytes: b"Tessera module one\n",
        cmdline: "module-one arg",
    },
    ModuleSpec {
        bytes: b"",
        cmdline: "",
    },
];

fn with_inputs<R>(f: impl FnOnce(&[PartitionInput<'_>]) -> R) -> R {
    let image_a: Vec<u8> = (0..1001u32).map(|i| i as u8).collect();
    let image_b = b"\x7fELF-ish";
    let a = routes_a();
    let b = routes_b();
    let inputs = [
        PartitionInput {
            synic: Default::default(),
            name: "demo",
            image: &image_a,
            format: GuestFormat::Elf64,
            cmdline: "",
            memory_bytes: 16 * MIB,
            vp_cpus: &[1],
            priority: 5,
            badge: 1,
            expect: Expectation::Pass,
            routes: &a,
            hv1: Some(hv1(FULL)),
            apic: ApicKind::X2apic,
            modules: &[],
        },
        PartitionInput {
            synic: Default::default(),
            name: "mb",
            image: image_b,
            format: GuestFormat::Multiboot,
            cmdline: "multiboot-guest check=cmdline",
            memory_bytes: 2 * MIB,
            vp_cpus: &[0, 3, 63],
            priority: 0,
            badge: 7,
            expect: Expectation::TripleFault,
            routes: &b,
            hv1: None,
            apic: ApicKind::None,
            modules: &MODULES,
        },
    ];
    f(&inputs)
}

fn encoded() -> Vec<u8> {
    with_inputs(|inputs| encode(USED, inputs))
}

/// Recomputes the checksum of encoded data.
fn seal(bytes: &mut [u8]) {
    let Ok(total) = ManagerData::total_size(bytes) else {
        return;
    };
    // A mutated header can claim a total below the checksummed part: there
    // is nothing to seal then.
    if total < CHECKSUM_START || bytes.len() < total {
        return;
    }
    let sum = checksum(&bytes[CHECKSUM_START..total]);
    bytes[12..16].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn round_trip() {
    let bytes = encoded();
    let data = ManagerData::parse(&bytes).unwrap();
    assert_eq!(data.len(), bytes.len());
    assert_eq!(data.partition_count(), 2);
    assert_eq!(data.used_slots(), USED | 1 << MANAGER_DATA_SLOT);
    let free: Vec<u32> = data.free_slots().collect();
    assert_eq!(free.first(), Some(&5));
    assert!(!free.contains(&59) && !free.contains(&63) && free.contains(&58));
    let specs: Vec<PartitionSpec<'_>> = data.partitions().collect();
    let demo = &specs[0];
    assert_eq!(demo.name, "demo");
    assert_eq!(demo.image.len(), 1001);
    assert_eq!(demo.image[1000], (1000u32 & 0xff) as u8);
    assert_eq!(demo.format, GuestFormat::Elf64);
    assert_eq!(demo.cmdline, "");
    assert_eq!(demo.memory_bytes, 16 * MIB);
    assert_eq!(demo.vp_cpus.clone().collect::<Vec<u32>>(), [1]);
    assert_eq!(demo.priority, 5);
    assert_eq!(demo.badge, 1);
    assert_eq!(demo.expect, Expectation::Pass);
    assert_eq!(demo.routes.clone().collect::<Vec<_>>(), routes_a());
    assert_eq!(demo.hv1, Some(hv1(FULL)));
    assert_eq!(demo.apic, ApicKind::X2apic);
    let mb = &specs[1];
    assert_eq!(mb.name, "mb");
    assert_eq!(mb.image, b"\x7fELF-ish");
    assert_eq!(mb.cmdline, "multiboot-guest check=cmdline");
    assert_eq!(mb.vp_cpus.len(), 3);
    assert_eq!(mb.vp_cpus.get(2), Some(63));
    assert_eq!(mb.vp_cpus.get(3), None);
    assert_eq!(mb.expect, Expectation::TripleFault);
    assert_eq!(mb.routes.clone().collect::<Vec<_>>(), routes_b());
    assert_eq!(mb.hv1, None);
    assert_eq!(mb.apic, ApicKind::None);
    assert_eq!(mb.modules.len(), 2);
    assert_eq!(mb.modules.clone().collect::<Vec<_>>(), MODULES);
    assert_eq!(demo.modules.len(), 0);
    // Page padding after the data is ignored.
    let mut padded = bytes.clone();
    padded.resize(bytes.len().next_multiple_of(4096), 0);
    assert!(ManagerData::parse(&padded).is_ok());
    assert_eq!(ManagerData::total_size(&bytes[..16]), Ok(bytes.len()));
}

#[test]
fn pieces_are_aligned_ordered_and_cover_the_data() {
    with_inputs(|inputs| {
        let mut next = 0usize;
        let mut image = Vec::new();
        let total = encode_into::<()>(0, inputs, |at, bytes| {
            assert!(at.is_multiple_of(8), "offset {at}");
            assert!(at >= next && at - next < 8, "contiguous: {next} then {at}");
            next = at + bytes.len();
            if bytes.len() == 1001 {
                image = bytes.to_vec();
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(total, encoded_size(inputs));
        assert!(total - next < 8);
        assert_eq!(image.len(), 1001, "an image is written in one piece");
        // An error from the sink stops the encoding.
        let mut calls = 0;
        assert_eq!(
            encode_into(0, inputs, |_, _| {
                calls += 1;
                if calls == 2 { Err("full") } else { Ok(()) }
            }),
            Err("full")
        );
    });
}

#[test]
fn empty_data_is_valid() {
    let bytes = encode(0, &[]);
    let data = ManagerData::parse(&bytes).unwrap();
    assert_eq!(data.partition_count(), 0);
    assert_eq!(data.used_slots(), 1 << MANAGER_DATA_SLOT);
}

const IMAGE: [u8; 16] = [1; 16];

fn expect_input<'a>(
    routes: &'a [RouteSpec],
    edit: impl FnOnce(&mut PartitionInput<'a>),
    error: ManagerDataError,
) {
    let mut input = PartitionInput {
        synic: Default::default(),
        name: "demo",
        image: &IMAGE,
        format: GuestFormat::Elf64,
        cmdline: "",
        memory_bytes: 16 * MIB,
        vp_cpus: &[0],
        priority: 1,
        badge: 1,
        expect: Expectation::Pass,
        routes,
        hv1: None,
        apic: ApicKind::None,
        modules: &[],
    };
    edit(&mut input);
    let bytes = encode(USED, &[input]);
    assert_eq!(ManagerData::parse(&bytes).map(|_| ()), Err(error));
}

#[test]
fn refused_inputs() {
    let value = |section, field| ManagerDataError::BadValue {
        section,
        index: 0,
        field,
    };
    let p = DataSection::Partitions;
    let r = DataSection::Routes;
    expect_input(
        &routes_a(),
        |i| i.name = "Demo",
        ManagerDataError::BadName { index: 0 },
    );
    expect_input(&routes_a(), |i| i.image = &[], value(p, "image"));
    expect_input(&routes_a(), |i| i.cmdline = "x", value(p, "cmdline"));
    expect_input(
        &routes_a(),
        |i| {
            i.format = GuestFormat::Multiboot;
            i.cmdline = "tab\there";
        },
        value(p, "cmdline"),
    );
    expect_input(
        &routes_a(),
        |i| i.memory_bytes = 3 * MIB,
        value(p, "memory"),
    );
    expect_input(&routes_a(), |i| i.memory_bytes = 0, value(p, "memory"));
    expect_input(
        &routes_a(),
        |i| i.memory_bytes = 2 << 30,
        value(p, "memory"),
    );
    expect_input(&routes_a(), |i| i.vp_cpus = &[], value(p, "vp_count"));
    expect_input(&routes_a(), |i| i.vp_cpus = &[64], value(p, "vp_cpus"));
    expect_input(&routes_a(), |i| i.badge = 0, value(p, "badge"));
    // Modules: Multiboot only, at most eight, printable command lines.
    expect_input(&routes_a(), |i| i.modules = &MODULES, value(p, "modules"));
    let nine = [MODULES[0]; MAX_GUEST_MODULES + 1];
    expect_input(
        &routes_a(),
        |i| {
            i.format = GuestFormat::Multiboot;
            i.modules = &nine;
        },
        value(p, "modules"),
    );
    let eight = [MODULES[0]; MAX_GUEST_MODULES];
    let input = PartitionInput {
        synic: Default::default(),
        name: "demo",
        image: &IMAGE,
        format: GuestFormat::Multiboot,
        cmdline: "",
        memory_bytes: 16 * MIB,
        vp_cpus: &[0],
        priority: 1,
        badge: 1,
        expect: Expectation::Pass,
        routes: &routes_a(),
        hv1: None,
        apic: ApicKind::None,
        modules: &eight,
    };
    let bytes = encode(USED, &[input]);
    let data = ManagerData::parse(&bytes).unwrap();
    assert_eq!(data.partitions().next().unwrap().modules.len(), 8);
    let bad = [ModuleSpec {
        bytes: b"x",
        cmdline: "line\nbreak",
    }];
    expect_input(
        &routes_a(),
        |i| {
            i.format = GuestFormat::Multiboot;
            i.modules = &bad;
        },
        value(DataSection::Modules, "cmdline"),
    );
    // Linux: one module (the initrd), without a command line.
    let initrd = [ModuleSpec {
        bytes: b"initrd",
        cmdline: "",
    }];
    let linux = PartitionInput {
        format: GuestFormat::Linux,
        cmdline: "console=ttyS0",
        modules: &initrd,
        ..input
    };
    let bytes = encode(USED, &[linux]);
    let data = ManagerData::parse(&bytes).unwrap();
    let parsed = data.partitions().next().unwrap();
    assert_eq!(parsed.format, GuestFormat::Linux);
    assert_eq!(parsed.cmdline, "console=ttyS0");
    assert_eq!(parsed.modules.clone().next().unwrap().bytes, b"initrd");
    let two = [initrd[0]; 2];
    expect_input(
        &routes_a(),
        |i| {
            i.format = GuestFormat::Linux;
            i.modules = &two;
        },
        value(p, "modules"),
    );
    expect_input(
        &routes_a(),
        |i| {
            i.format = GuestFormat::Linux;
            i.modules = &MODULES[..1];
        },
        value(DataSection::Modules, "cmdline"),
    );
    // Hv#1 words the kernel would refuse: nothing (AccessHypercallMsrs and
    // AccessVpIndex are required), AccessStatsReg (not implemented), a bit
    // the words do not carry (word 5 bits 63:40).
    let mut synic = hv1("");
    synic[0] |= 1 << 8;
    let mut stray = hv1("hv-relaxed");
    stray[5] |= 1 << 50;
    for words in [[0; HV1_WORDS], synic, stray] {
        expect_input(&routes_a(), |i| i.hv1 = Some(words), value(p, "hv1"));
    }
    let routes = [RouteSpec {
        kind: intercept::HLT,
        parameter: 0,
        slot: 62,
        state: 0,
        posted: 0,
    }];
    expect_input(
        &routes,
        |_| {},
        ManagerDataError::NoLifecycleRoute { partition: 0 },
    );
    let mut bad = routes_a();
    bad[1].parameter = range_parameter(intercept::IO_PORT, 0x3fc, 0x400).unwrap();
    expect_input(
        &bad,
        |_| {},
        ManagerDataError::RouteOverlap {
            partition: 0,
            route: 2,
        },
    );
    let mut bad = routes_a();
    bad.push(RouteSpec {
        parameter: range_parameter(intercept::HYPERCALL, 0x2, 0x14).unwrap(),
        ..bad[3]
    });
    expect_input(
        &bad,
        |_| {},
        ManagerDataError::RouteOverlap {
            partition: 0,
            route: 4,
        },
    );
    // Call codes are 16 bits.
    let mut bad = routes_a();
    bad[3].parameter = 0x1_0000 << 32;
    expect_input(
        &bad,
        |_| {},
        ManagerDataError::BadValue {
            section: r,
            index: 3,
            field: "parameter",
        },
    );
    for (edit, field) in [
        (
            (|r: &mut RouteSpec| r.kind = 9) as fn(&mut RouteSpec),
            "kind",
        ),
        (|r| r.parameter = 1, "parameter"),
        (|r| r.state = 1 << 16, "state"),
        (|r| r.slot = 63, "slot"),
        (|r| r.slot = 3, "slot"),
        (|r| r.slot = 58, "slot"),
    ] {
        let mut bad = routes_a();
        edit(&mut bad[0]);
        expect_input(&bad, |_| {}, value(r, field));
    }
    // Two partitions with one name or one badge.
    let image = [1u8; 8];
    let routes = routes_a();
    let one = PartitionInput {
        synic: Default::default(),
        name: "a",
        image: &image,
        format: GuestFormat::Elf64,
        cmdline: "",
        memory_bytes: 2 * MIB,
        vp_cpus: &[0],
        priority: 1,
        badge: 1,
        expect: Expectation::Fail,
        routes: &routes,
        hv1: None,
        apic: ApicKind::None,
        modules: &[],
    };
    let bytes = encode(USED, &[one, PartitionInput { badge: 2, ..one }]);
    assert_eq!(
        ManagerData::parse(&bytes).map(|_| ()),
        Err(ManagerDataError::DuplicateName { index: 1 })
    );
    let bytes = encode(USED, &[one, PartitionInput { name: "b", ..one }]);
    assert_eq!(
        ManagerData::parse(&bytes).map(|_| ()),
        Err(ManagerDataError::BadValue {
            section: p,
            index: 1,
            field: "badge"
        })
    );
    let nine = [one; 9];
    let bytes = encode(USED, &nine);
    assert!(matches!(
        ManagerData::parse(&bytes),
        Err(ManagerDataError::TooManyRecords { count: 9, .. })
    ));
}

#[test]
fn framing() {
    let good = encoded();
    let mut bytes = good.clone();
    bytes[0] = b'X';
    assert_eq!(
        ManagerData::parse(&bytes).unwrap_err(),
        ManagerDataError::BadMagic
    );
    assert_eq!(
        ManagerData::parse(b"TSBP").unwrap_err(),
        ManagerDataError::BadMagic
    );
    let mut bytes = good.clone();
    bytes[4] = 9;
    assert_eq!(
        ManagerData::parse(&bytes).unwrap_err(),
        ManagerDataError::UnsupportedVersion { found: 9 }
    );
    assert!(matches!(
        ManagerData::parse(&good[..good.len() - 1]),
        Err(ManagerDataError::Truncated { .. })
    ));
    assert!(matches!(
        ManagerData::parse(&good[..10]),
        Err(ManagerDataError::Truncated { .. })
    ));
    for at in [16, 40, HEADER_SIZE + 3, good.len() - 1] {
        let mut bytes = good.clone();
        bytes[at] ^= 0x20;
        assert!(
            matches!(
                ManagerData::parse(&bytes),
                Err(ManagerDataError::BadChecksum { .. })
            ),
            "byte {at}"
        );
    }
    let mut bytes = good.clone();
    bytes[16] = 1;
    seal(&mut bytes);
    assert_eq!(
        ManagerData::parse(&bytes).unwrap_err(),
        ManagerDataError::ReservedNotZero {
            section: DataSection::Header,
            index: 0
        }
    );
    // used_slots without the manager data slot.
    let mut bytes = good.clone();
    bytes[31] &= 0x7f;
    seal(&mut bytes);
    assert!(matches!(
        ManagerData::parse(&bytes),
        Err(ManagerDataError::BadValue {
            field: "used_slots",
            ..
        })
    ));
    // The Hv#1 flag is 0 or 1, and without it the words are 0.
    let hv1_at = HEADER_SIZE + core::mem::offset_of!(PartitionSpecRecord, hv1);
    let words_at = HEADER_SIZE + core::mem::offset_of!(PartitionSpecRecord, hv1_words);
    let second = HEADER_SIZE + size_of::<PartitionSpecRecord>();
    for (at, value) in [
        (hv1_at, 2),
        (second + (hv1_at - HEADER_SIZE), 1),
        (second + (words_at - HEADER_SIZE), 1),
    ] {
        let mut bytes = good.clone();
        bytes[at] = value;
        seal(&mut bytes);
        assert!(
            matches!(
                ManagerData::parse(&bytes),
                Err(ManagerDataError::BadValue { field: "hv1", .. })
            ),
            "byte {at} = {value}"
        );
    }
    // The APIC byte (once reserved) names an `ApicKind`: 0 to 2.
    let apic_at = HEADER_SIZE + core::mem::offset_of!(PartitionSpecRecord, apic);
    assert_eq!(apic_at, hv1_at + 1);
    for value in [1, 2] {
        let mut bytes = good.clone();
        bytes[apic_at] = value;
        seal(&mut bytes);
        let data = ManagerData::parse(&bytes).unwrap();
        let apic = data.partitions().next().unwrap().apic;
        assert_eq!(apic, ApicKind::from_u8(value).unwrap());
    }
    for value in [3, 0x80, 0xFF] {
        let mut bytes = good.clone();
        bytes[apic_at] = value;
        seal(&mut bytes);
        assert!(
            matches!(
                ManagerData::parse(&bytes),
                Err(ManagerDataError::BadValue { field: "apic", .. })
            ),
            "apic byte {value}"
        );
    }
    // The partition record's second reserved field.
    let mut bytes = good.clone();
    bytes[HEADER_SIZE + core::mem::offset_of!(PartitionSpecRecord, reserved2) + 3] = 1;
    seal(&mut bytes);
    assert!(matches!(
        ManagerData::parse(&bytes),
        Err(ManagerDataError::ReservedNotZero { .. })
    ));
    // A module record: reserved field, bytes and command line in the blob.
    let modules_at = u32::from_le_bytes(good[48..52].try_into().unwrap()) as usize;
    let module = |field: usize| modules_at + field;
    for (at, value, expected) in [
        (module(14), 1u8, "reserved"),
        (module(7), 0x10, "bytes"),
        (module(11), 0x10, "cmdline"),
    ] {
        let mut bytes = good.clone();
        bytes[at] = value;
        seal(&mut bytes);
        let error = ManagerData::parse(&bytes).unwrap_err();
        match expected {
            "reserved" => assert_eq!(
                error,
                ManagerDataError::ReservedNotZero {
                    section: DataSection::Modules,
                    index: 0
                }
            ),
            field => assert_eq!(
                error,
                ManagerDataError::BadValue {
                    section: DataSection::Modules,
                    index: 0,
                    field
                }
            ),
        }
    }
    // A module range past the section.
    let mut bytes = good.clone();
    bytes[HEADER_SIZE + size_of::<PartitionSpecRecord>() + 202] = 3;
    seal(&mut bytes);
    assert!(matches!(
        ManagerData::parse(&bytes),
        Err(ManagerDataError::BadValue {
            field: "modules",
            ..
        })
    ));
    let text = alloc::format!("{}", ManagerDataError::NoLifecycleRoute { partition: 2 });
    assert_eq!(text, "manager data partitions[2]: no lifecycle route");
}

/// Walks every view of parsed data, as a manager would.
fn exercise(data: &ManagerData<'_>) {
    let _ = data.free_slots().count();
    for spec in data.partitions() {
        assert!(!spec.name.is_empty() && !spec.image.is_empty());
        assert!(crate::guest_memory_valid(spec.memory_bytes));
        assert!(spec.vp_cpus.len() >= 1 && spec.vp_cpus.clone().all(|c| c < 64));
        let mut lifecycle = 0;
        for route in spec.routes.clone() {
            assert!(route::parameter_valid(route.kind, route.parameter));
            assert!(route.slot < MANAGER_DATA_SLOT);
            lifecycle += usize::from(route.kind == intercept::LIFECYCLE);
        }
        assert_eq!(lifecycle, 1);
        if let Some(words) = spec.hv1 {
            assert!(crate::hv1_words_valid(&words));
        }
        assert!(spec.modules.len() <= MAX_GUEST_MODULES);
        if spec.format == GuestFormat::Elf64 {
            assert_eq!(spec.modules.len(), 0);
        }
        for module in spec.modules.clone() {
            assert!(crate::guest_cmdline_valid(module.cmdline.as_bytes()));
            let _ = module.bytes.len();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = ManagerData::total_size(&bytes);
        if let Ok(data) = ManagerData::parse(&bytes) {
            exercise(&data);
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes_with_header(
        mut bytes in proptest::collection::vec(any::<u8>(), HEADER_SIZE..900),
        reseal in any::<bool>(),
    ) {
        bytes[..4].copy_from_slice(&MAGIC);
        bytes[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes[6..8].copy_from_slice(&(HEADER_SIZE as u16).to_le_bytes());
        let len = bytes.len() as u32;
        bytes[8..12].copy_from_slice(&len.to_le_bytes());
        if reseal {
            seal(&mut bytes);
        }
        if let Ok(data) = ManagerData::parse(&bytes) {
            exercise(&data);
        }
    }

    #[test]
    fn parse_never_panics_on_mutations(
        edits in proptest::collection::vec((any::<usize>(), 1u8..), 1..6),
        reseal in any::<bool>(),
        cut in proptest::option::of(0usize..2000),
    ) {
        let good = encoded();
        let mut bytes = good.clone();
        let len = bytes.len();
        for &(at, value) in &edits {
            bytes[at % len] ^= value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut);
        }
        if reseal {
            seal(&mut bytes);
        }
        let result = ManagerData::parse(&bytes);
        if let Ok(data) = &result {
            exercise(data);
        }
        if !reseal && bytes != good {
            prop_assert!(result.is_err());
        }
    }

    #[test]
    fn round_trip_of_arbitrary_valid_inputs(
        image in proptest::collection::vec(any::<u8>(), 1..300),
        cmdline in "[ -~]{0,40}",
        memory_units in 1u64..=512,
        cpus in proptest::collection::vec(0u8..64, 1..8),
        badge in 1u64..,
        priority in any::<u8>(),
        ports in (0u64..0xffff, 0u64..16),
        codes in proptest::option::of((0u64..=0xffff, 0u64..32)),
        apic_index in 0usize..3,
        hv1_names in proptest::option::of(proptest::sample::subsequence(
            &["hv-relaxed", "hv-runtime", "hv-time", "hv-reset", "hv-crash", "hv-tlbflush",
              "hv-xmm-input", "hv-spinlocks=0x1fff", "hv-version-id-build=7"][..], 0..9)),
        module_parts in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..100), "[ -~]{0,30}"),
            0..=MAX_GUEST_MODULES,
        ),
    ) {
        let modules: Vec<ModuleSpec<'_>> = module_parts
            .iter()
            .map(|(bytes, cmdline)| ModuleSpec { bytes, cmdline })
            .collect();
        let first = ports.0;
        let last = (first + ports.1).min(0xffff);
        let mut routes = vec![
            RouteSpec { kind: intercept::LIFECYCLE, parameter: 0, slot: 4, state: 0, posted: 0 },
            // The route's first port posts its writes.
            RouteSpec {
                kind: intercept::IO_PORT,
                parameter: range_parameter(intercept::IO_PORT, first, last).unwrap(),
                slot: 5,
                state: state::ALL,
                posted: 1,
            },
        ];
        if let Some((first, count)) = codes {
            routes.push(RouteSpec {
                kind: intercept::HYPERCALL,
                parameter: range_parameter(intercept::HYPERCALL, first, (first + count).min(0xffff))
                    .unwrap(),
                slot: 5,
                state: state::RCX | state::RDX | 1 << 8,
                posted: 0,
            });
        }
        let input = PartitionInput {
            synic: Default::default(),
            name: "p",
            image: &image,
            format: GuestFormat::Multiboot,
            cmdline: &cmdline,
            memory_bytes: memory_units * crate::GUEST_MEMORY_ALIGN,
            vp_cpus: &cpus,
            priority,
            badge,
            expect: Expectation::MemoryFault,
            routes: &routes,
            hv1: hv1_names.as_ref().map(|names| hv1(&names.join(","))),
            apic: [ApicKind::None, ApicKind::Xapic, ApicKind::X2apic][apic_index],
            modules: &modules,
        };
        let bytes = encode(0b11_0000, &[input]);
        let data = ManagerData::parse(&bytes).unwrap();
        let spec = data.partitions().next().unwrap();
        prop_assert_eq!(spec.image, &image[..]);
        prop_assert_eq!(spec.cmdline, cmdline.as_str());
        prop_assert_eq!(spec.vp_cpus.collect::<Vec<u32>>(), cpus.iter().map(|&c| u32::from(c)).collect::<Vec<u32>>());
        prop_assert_eq!(spec.badge, badge);
        prop_assert_eq!(spec.routes.collect::<Vec<_>>(), routes.to_vec());
        prop_assert_eq!(spec.hv1, input.hv1);
        prop_assert_eq!(spec.apic, input.apic);
        prop_assert_eq!(spec.modules.collect::<Vec<_>>(), modules);
    }
}
