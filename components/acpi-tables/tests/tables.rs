//! The tables field by field, at the offsets ACPI 6.5 gives.
mod common;

use common::{Term, Value, decode, sum, u16_at, u32_at, u64_at};
use proptest::prelude::*;
use tessera_acpi_tables::{Config, Error, MAX_VPS, Tables, build, power};

const BASE: u64 = 0xE0000;

fn tables(vps: u32) -> Tables {
    build(
        &Config {
            vps,
            vmbus_irq: None,
            rtc: false,
        },
        BASE,
    )
    .unwrap()
}

/// The table at guest-physical `gpa`: its bytes, after checking its length
/// and checksum.
fn table_at(tables: &Tables, gpa: u64, signature: &[u8; 4]) -> Vec<u8> {
    let at = usize::try_from(gpa - tables.base).unwrap();
    let header = &tables.bytes[at..at + 36];
    assert_eq!(&header[..4], signature);
    let len = u32_at(header, 4) as usize;
    let table = tables.bytes[at..at + len].to_vec();
    assert_eq!(
        sum(&table),
        0,
        "{} checksum",
        String::from_utf8_lossy(signature)
    );
    assert_eq!(&table[10..16], b"TESSRA", "OEM ID");
    table
}

/// The XSDT's entries, by signature.
fn find(tables: &Tables, signature: &[u8; 4]) -> Vec<u8> {
    let xsdt = table_at(tables, u64_at(&tables.bytes, 24), b"XSDT");
    for entry in xsdt[36..].chunks(8) {
        let gpa = u64::from_le_bytes(entry.try_into().unwrap());
        let at = usize::try_from(gpa - tables.base).unwrap();
        if &tables.bytes[at..at + 4] == signature {
            return table_at(tables, gpa, signature);
        }
    }
    panic!("no {} in the XSDT", String::from_utf8_lossy(signature));
}

#[test]
fn the_rsdp_comes_first_with_both_checksums() {
    // §5.2.5.3: "RSD PTR ", checksum over 20 bytes, revision 2, length 36,
    // XSDT address at 24, extended checksum over all 36.
    let t = tables(2);
    assert_eq!(t.rsdp(), BASE);
    let rsdp = &t.bytes[..36];
    assert_eq!(&rsdp[..8], b"RSD PTR ");
    assert_eq!(sum(&rsdp[..20]), 0);
    assert_eq!(sum(rsdp), 0);
    assert_eq!(rsdp[15], 2, "revision");
    assert_eq!(u32_at(rsdp, 16), 0, "no RSDT");
    assert_eq!(u32_at(rsdp, 20), 36);
    assert!(u64_at(rsdp, 24) > BASE);
}

#[test]
fn the_xsdt_lists_the_fadt_and_the_madt() {
    let t = tables(1);
    let xsdt = table_at(&t, u64_at(&t.bytes, 24), b"XSDT");
    assert_eq!(xsdt.len(), 36 + 16);
    assert_eq!(xsdt[8], 1, "revision");
    find(&t, b"FACP");
    find(&t, b"APIC");
}

#[test]
fn the_fadt_is_hardware_reduced_with_sleep_and_reset_registers() {
    let t = tables(2);
    let fadt = find(&t, b"FACP");
    assert_eq!(fadt.len(), 276, "ACPI 6.x FADT");
    assert_eq!(fadt[8], 6, "major version");
    assert_eq!(fadt[131], 5, "minor version");
    assert_eq!(u32_at(&fadt, 36), 0, "FIRMWARE_CTRL: no FACS");
    assert_eq!(u64_at(&fadt, 132), 0, "X_FIRMWARE_CTRL: no FACS");
    assert_eq!(u32_at(&fadt, 40), 0, "DSDT: X_DSDT is used");
    let dsdt = u64_at(&fadt, 140);
    table_at(&t, dsdt, b"DSDT");
    assert_eq!(u16_at(&fadt, 46), 9, "SCI_INT");
    let flags = u32_at(&fadt, 112);
    assert_ne!(flags & (1 << 20), 0, "HW_REDUCED_ACPI");
    assert_ne!(flags & (1 << 10), 0, "RESET_REG_SUP");
    assert_ne!(flags & 1, 0, "WBINVD");
    let boot_arch = u16_at(&fadt, 109);
    assert_eq!(
        boot_arch,
        (1 << 2) | (1 << 5),
        "no VGA, no CMOS RTC, no 8042"
    );
    // Generic address structures (§5.2.3.2): space 1 (I/O), 8 bits, offset
    // 0, byte access, the port.
    let gas = |at: usize| {
        (
            fadt[at],
            fadt[at + 1],
            fadt[at + 2],
            fadt[at + 3],
            u64_at(&fadt, at + 4),
        )
    };
    assert_eq!(gas(116), (1, 8, 0, 1, 0xCF9), "RESET_REG");
    assert_eq!(fadt[128], 6, "RESET_VALUE");
    assert_eq!(gas(244), (1, 8, 0, 1, u64::from(power::SLEEP_CONTROL_PORT)));
    assert_eq!(gas(256), (1, 8, 0, 1, u64::from(power::SLEEP_STATUS_PORT)));
    // The legacy blocks are all absent.
    for at in (148..244).step_by(12) {
        assert_eq!(gas(at), (0, 0, 0, 0, 0), "X_ block at {at}");
    }
    assert!(fadt[56..88].iter().all(|&b| b == 0), "PM/GPE blocks");
    assert_eq!(&fadt[268..276], b"Tessera\0");
}

/// The MADT's interrupt controller structures: (type, bytes).
fn madt_structures(madt: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 44;
    while at < madt.len() {
        let len = usize::from(madt[at + 1]);
        assert!(len >= 2 && at + len <= madt.len(), "structure at {at}");
        out.push((madt[at], madt[at..at + len].to_vec()));
        at += len;
    }
    out
}

#[test]
fn the_madt_has_a_local_apic_per_vp_the_io_apic_and_the_overrides() {
    let t = tables(2);
    let madt = find(&t, b"APIC");
    assert_eq!(madt[8], 5, "revision");
    assert_eq!(u32_at(&madt, 36), 0xFEE0_0000);
    assert_eq!(u32_at(&madt, 40), 0, "no PCAT_COMPAT");
    let structures = madt_structures(&madt);
    let lapics: Vec<_> = structures.iter().filter(|(k, _)| *k == 0).collect();
    assert_eq!(lapics.len(), 2);
    for (vp, (_, s)) in lapics.iter().enumerate() {
        assert_eq!(s.len(), 8);
        assert_eq!((s[2], s[3]), (vp as u8, vp as u8), "UID, APIC ID");
        assert_eq!(u32_at(s, 4), 1, "enabled");
    }
    let ioapics: Vec<_> = structures.iter().filter(|(k, _)| *k == 1).collect();
    assert_eq!(ioapics.len(), 1);
    let io = &ioapics[0].1;
    assert_eq!(io.len(), 12);
    assert_eq!(u32_at(io, 4), 0xFEC0_0000);
    assert_eq!(u32_at(io, 8), 0, "GSI base");
    let overrides: Vec<_> = structures
        .iter()
        .filter(|(k, _)| *k == 2)
        .map(|(_, s)| (s.len(), s[2], s[3], u32_at(s, 4), u16_at(s, 8)))
        .collect();
    assert_eq!(
        overrides,
        vec![
            (10, 0, 0, 2, 0),      // ISA IRQ 0 → GSI 2, conforming
            (10, 0, 9, 9, 0b1101), // the SCI: level, active high
        ]
    );
    let nmis: Vec<_> = structures.iter().filter(|(k, _)| *k == 4).collect();
    assert_eq!(nmis.len(), 1);
    assert_eq!(nmis[0].1, [4, 6, 0xFF, 0, 0, 1], "every processor's LINT1");
    assert!(structures.iter().all(|(k, _)| [0, 1, 2, 4].contains(k)));
}

#[test]
fn vps_beyond_apic_id_254_get_x2apic_structures() {
    let t = tables(300);
    let madt = find(&t, b"APIC");
    let structures = madt_structures(&madt);
    let xapic = structures.iter().filter(|(k, _)| *k == 0).count();
    let x2apic: Vec<_> = structures.iter().filter(|(k, _)| *k == 9).collect();
    assert_eq!(xapic, 255);
    assert_eq!(x2apic.len(), 45);
    for (i, (_, s)) in x2apic.iter().enumerate() {
        let vp = 255 + i as u32;
        assert_eq!(s.len(), 16);
        assert_eq!((u32_at(s, 4), u32_at(s, 8), u32_at(s, 12)), (vp, 1, vp));
    }
    let x2nmi: Vec<_> = structures.iter().filter(|(k, _)| *k == 0xA).collect();
    assert_eq!(x2nmi.len(), 1);
    assert_eq!(
        x2nmi[0].1,
        [0xA, 12, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0]
    );
}

fn dsdt_terms(t: &Tables) -> Vec<Term> {
    let fadt = find(t, b"FACP");
    let dsdt = table_at(t, u64_at(&fadt, 140), b"DSDT");
    assert_eq!(dsdt[8], 2, "revision 2: 64-bit integers");
    decode(&dsdt[36..]).unwrap()
}

fn name(name: &str, value: Value) -> Term {
    Term::Name {
        name: name.into(),
        value,
    }
}

#[test]
fn the_dsdt_has_com1_the_processors_and_s5() {
    let terms = dsdt_terms(&tables(2));
    let com1_crs = vec![0x47, 1, 0xF8, 3, 0xF8, 3, 0, 8, 0x22, 0x10, 0, 0x79, 0];
    let processor = |uid: u64, device: &str| Term::Device {
        name: device.into(),
        body: vec![
            name("_HID", Value::String("ACPI0007".into())),
            name("_UID", Value::Integer(uid)),
        ],
    };
    assert_eq!(
        terms,
        vec![
            Term::Scope {
                path: "\\_SB_".into(),
                body: vec![
                    Term::Device {
                        name: "COM1".into(),
                        body: vec![
                            name("_HID", Value::Integer(0x0105_D041)),
                            name("_UID", Value::Integer(1)),
                            name("_CRS", Value::Buffer(com1_crs)),
                        ],
                    },
                    processor(0, "C000"),
                    processor(1, "C001"),
                ],
            },
            name(
                "_S5_",
                Value::Package(vec![Value::Integer(5), Value::Integer(5)])
            ),
        ]
    );
}

#[test]
fn the_vmbus_device_is_there_only_when_asked_for() {
    let without = dsdt_terms(&tables(1));
    let Term::Scope { body, .. } = &without[0] else {
        panic!()
    };
    assert!(
        !body
            .iter()
            .any(|t| matches!(t, Term::Device { name, .. } if name == "VMBS"))
    );

    let with = build(
        &Config {
            vps: 1,
            vmbus_irq: Some(5),
            rtc: false,
        },
        BASE,
    )
    .unwrap();
    let terms = dsdt_terms(&with);
    let Term::Scope { body, .. } = &terms[0] else {
        panic!()
    };
    assert_eq!(
        body.last().unwrap(),
        &Term::Device {
            name: "VMBS".into(),
            body: vec![
                name("_HID", Value::String("VMBUS".into())),
                name("_UID", Value::Integer(0)),
                name("_CRS", Value::Buffer(vec![0x22, 0x20, 0, 0x79, 0])),
            ],
        }
    );
}

#[test]
fn the_cmos_clock_is_declared_and_its_century_named_only_when_asked_for() {
    let with = build(
        &Config {
            vps: 1,
            vmbus_irq: None,
            rtc: true,
        },
        BASE,
    )
    .unwrap();
    let terms = dsdt_terms(&with);
    let Term::Scope { body, .. } = &terms[0] else {
        panic!()
    };
    // After COM1: PNP0B00 (EISA 0x000BD041) with IO 0x70, two ports, no IRQ.
    assert_eq!(
        body[1],
        Term::Device {
            name: "RTC_".into(),
            body: vec![
                name("_HID", Value::Integer(0x000B_D041)),
                name(
                    "_CRS",
                    Value::Buffer(vec![0x47, 1, 0x70, 0, 0x70, 0, 0, 2, 0x79, 0])
                ),
            ],
        }
    );
    let fadt = find(&with, b"FACP");
    assert_eq!(fadt[108], 0x32, "CENTURY");
    assert_eq!(u16_at(&fadt, 109), 1 << 2, "no VGA; a CMOS RTC; no 8042");

    let without = tables(1);
    let fadt = find(&without, b"FACP");
    assert_eq!(fadt[108], 0, "no CENTURY without a clock");
    let terms = dsdt_terms(&without);
    let Term::Scope { body, .. } = &terms[0] else {
        panic!()
    };
    assert!(
        !body
            .iter()
            .any(|t| matches!(t, Term::Device { name, .. } if name == "RTC_"))
    );
}

#[test]
fn processor_device_names_count_in_hex() {
    let terms = dsdt_terms(&tables(300));
    let Term::Scope { body, .. } = &terms[0] else {
        panic!()
    };
    let names: Vec<&str> = body
        .iter()
        .filter_map(|t| match t {
            Term::Device { name, .. } if name.starts_with('C') && name != "COM1" => {
                Some(name.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(names.len(), 300);
    assert_eq!(
        (names[0], names[10], names[255], names[299]),
        ("C000", "C00A", "C0FF", "C12B")
    );
}

#[test]
fn bad_configurations_are_refused() {
    assert_eq!(
        build(
            &Config {
                vps: 0,
                vmbus_irq: None,
                rtc: false,
            },
            BASE
        ),
        Err(Error::VpCount { vps: 0 })
    );
    assert_eq!(
        build(
            &Config {
                vps: MAX_VPS + 1,
                vmbus_irq: None,
                rtc: false,
            },
            BASE
        ),
        Err(Error::VpCount { vps: MAX_VPS + 1 })
    );
    assert_eq!(
        build(
            &Config {
                vps: 1,
                vmbus_irq: None,
                rtc: false,
            },
            BASE + 8
        ),
        Err(Error::BadBase { base: BASE + 8 })
    );
    let top = !15u64;
    assert_eq!(
        build(
            &Config {
                vps: 1,
                vmbus_irq: None,
                rtc: false,
            },
            top
        ),
        Err(Error::BadBase { base: top })
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_table_of_every_configuration_sums_to_zero(
        vps in 1u32..=MAX_VPS,
        base in (0u64..(1 << 40)).prop_map(|b| b & !15),
        vmbus_irq in proptest::option::of(0u8..16),
        rtc in any::<bool>(),
    ) {
        let t = build(&Config { vps, vmbus_irq, rtc }, base).unwrap();
        prop_assert_eq!(sum(&t.bytes[..20]), 0);
        prop_assert_eq!(sum(&t.bytes[..36]), 0);
        let madt = find(&t, b"APIC");
        let processors = madt_structures(&madt)
            .iter()
            .filter(|(k, _)| *k == 0 || *k == 9)
            .count();
        prop_assert_eq!(processors, vps as usize);
        dsdt_terms(&t);
    }
}
