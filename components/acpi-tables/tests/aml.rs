//! The AML encoder against an independent decoder of the same grammar
//! (ACPI 6.5 §20).
mod common;

use common::{Term, Value, decode, decode_value};
use proptest::prelude::*;
use tessera_acpi_tables::aml::{self, AmlError, Data, NameSeg, Terms, eisa_id};
use tessera_acpi_tables::resources;

fn encode(value: &Data<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    aml::data(value, &mut out).unwrap();
    out
}

fn expected(value: &Data<'_>) -> Value {
    match value {
        Data::Integer(v) => Value::Integer(*v),
        Data::String(s) => Value::String((*s).to_owned()),
        Data::Buffer(b) => Value::Buffer(b.clone()),
        Data::Package(p) => Value::Package(p.iter().map(expected).collect()),
    }
}

#[test]
fn pkg_length_encodes_every_size_class_at_its_edges() {
    // §20.2.4: one byte up to 63 (the count includes the PkgLength bytes),
    // then 4 + 8k bits with k following bytes.
    for body in [
        0,
        1,
        61,
        62,
        63,
        64,
        4093,
        4094,
        4095,
        (1 << 20) - 4,
        (1 << 20) - 3,
        (1 << 28) - 5,
    ] {
        let mut out = Vec::new();
        aml::pkg_length(body, &mut out).unwrap();
        let follow = usize::from(out[0] >> 6);
        assert_eq!(out.len(), 1 + follow, "body {body}");
        let mut len = if follow == 0 {
            usize::from(out[0] & 0x3F)
        } else {
            assert_eq!(
                out[0] & 0x30,
                0,
                "bits 5:4 of a multi-byte lead are reserved"
            );
            usize::from(out[0] & 0xF)
        };
        for (i, b) in out[1..].iter().enumerate() {
            len |= usize::from(*b) << (4 + 8 * i);
        }
        assert_eq!(len, body + out.len(), "body {body}");
    }
    assert_eq!(
        aml::pkg_length(1 << 28, &mut Vec::new()),
        Err(AmlError::TooLong { len: 1 << 28 })
    );
}

#[test]
fn integers_take_their_shortest_form() {
    for (value, bytes) in [
        (0u64, vec![0x00]),
        (1, vec![0x01]),
        (2, vec![0x0A, 2]),
        (0xFF, vec![0x0A, 0xFF]),
        (0x100, vec![0x0B, 0, 1]),
        (0x1_0000, vec![0x0C, 0, 0, 1, 0]),
        (0x1_0000_0000, vec![0x0E, 0, 0, 0, 0, 1, 0, 0, 0]),
    ] {
        assert_eq!(encode(&Data::Integer(value)), bytes, "{value:#x}");
    }
}

#[test]
fn strings_are_ascii_and_nul_terminated() {
    assert_eq!(
        encode(&Data::String("VMBUS")),
        [0x0D, b'V', b'M', b'B', b'U', b'S', 0]
    );
    let mut out = Vec::new();
    assert_eq!(
        aml::data(&Data::String("a\0b"), &mut out),
        Err(AmlError::BadString)
    );
    assert_eq!(
        aml::data(&Data::String("é"), &mut out),
        Err(AmlError::BadString)
    );
}

#[test]
fn eisa_ids_compress_as_asl_does() {
    // ASL EisaId("PNP0501") is the DWord 0x0105D041 (bytes 41 D0 05 01).
    assert_eq!(eisa_id("PNP0501"), Some(0x0105_D041));
    assert_eq!(eisa_id("PNP0A03"), Some(0x030A_D041));
    for bad in ["PNP050", "PNP05011", "pnp0501", "PNP050G", "1NP0501"] {
        assert_eq!(eisa_id(bad), None, "{bad}");
    }
}

#[test]
fn name_segments_are_checked_and_padded() {
    assert_eq!(NameSeg::new("_SB").bytes(), *b"_SB_");
    assert_eq!(NameSeg::new("COM1").bytes(), *b"COM1");
    for bad in ["", "ABCDE", "1ABC", "com1", "A-B"] {
        assert_eq!(NameSeg::from_bytes(bad.as_bytes()), None, "{bad}");
    }
}

#[test]
fn name_strings_use_the_right_prefix_for_each_length() {
    let seg = NameSeg::new("ABCD");
    let mut out = Vec::new();
    aml::name_string(true, &[], &mut out).unwrap();
    assert_eq!(out, [b'\\', 0]);
    out.clear();
    aml::name_string(false, &[seg, seg], &mut out).unwrap();
    assert_eq!(out[0], 0x2E);
    out.clear();
    aml::name_string(true, &[seg, seg, seg], &mut out).unwrap();
    assert_eq!(&out[..3], [b'\\', 0x2F, 3]);
    assert_eq!(out.len(), 3 + 12);
}

#[test]
fn a_serial_port_decodes_to_what_was_written() {
    let crs = resources::template(&[&resources::io_port(0x3F8, 0, 8), &resources::irq(4, None)]);
    let mut com1 = Terms::new();
    com1.name(
        NameSeg::new("_HID"),
        &Data::Integer(u64::from(eisa_id("PNP0501").unwrap())),
    )
    .unwrap()
    .name(NameSeg::new("_CRS"), &Data::Buffer(crs.clone()))
    .unwrap();
    let mut sb = Terms::new();
    sb.device(NameSeg::new("COM1"), &com1).unwrap();
    let mut root = Terms::new();
    root.scope(true, &[NameSeg::new("_SB")], &sb).unwrap();
    assert_eq!(
        decode(root.bytes()).unwrap(),
        vec![Term::Scope {
            path: "\\_SB_".into(),
            body: vec![Term::Device {
                name: "COM1".into(),
                body: vec![
                    Term::Name {
                        name: "_HID".into(),
                        value: Value::Integer(0x0105_D041)
                    },
                    Term::Name {
                        name: "_CRS".into(),
                        value: Value::Buffer(crs)
                    },
                ],
            }],
        }]
    );
}

#[test]
fn resource_descriptors_follow_section_6_4() {
    // I/O port (§6.4.2.5): tag 0x47, 16-bit decode, min = max, alignment,
    // length.
    assert_eq!(
        resources::io_port(0x3F8, 0, 8),
        [0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x00, 0x08]
    );
    // IRQ (§6.4.2.1): tag 0x22 with a 16-bit mask, 0x23 with flags.
    assert_eq!(resources::irq(4, None), [0x22, 0x10, 0x00]);
    assert_eq!(
        resources::irq(
            9,
            Some(resources::IrqFlags {
                edge: false,
                active_low: true,
                shared: true
            })
        ),
        [0x23, 0x00, 0x02, 0x18]
    );
    assert_eq!(resources::irq(16, None), [0x22, 0, 0], "no such ISA IRQ");
    // End tag (§6.4.2.9).
    assert_eq!(resources::template(&[]), [0x79, 0x00]);
}

fn arb_data() -> impl Strategy<Value = Data<'static>> {
    let leaf = prop_oneof![
        any::<u64>().prop_map(Data::Integer),
        (0u64..300).prop_map(Data::Integer),
        prop::sample::select(vec![
            "",
            "A",
            "ACPI0007",
            "VMBUS",
            "a longer string, 40 bytes long......"
        ])
        .prop_map(Data::String),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Data::Buffer),
    ];
    leaf.prop_recursive(3, 64, 8, |inner| {
        prop::collection::vec(inner, 0..8).prop_map(Data::Package)
    })
}

proptest! {
    #[test]
    fn data_decodes_to_itself(value in arb_data()) {
        let bytes = encode(&value);
        prop_assert_eq!(decode_value(&bytes).unwrap(), expected(&value));
    }

    #[test]
    fn nested_devices_decode_to_themselves(
        names in prop::collection::vec("[A-Z_][A-Z0-9_]{0,3}", 1..6),
        values in prop::collection::vec(arb_data(), 1..6),
        depth in 1usize..4,
    ) {
        // A chain of `depth` devices, the innermost holding the names.
        let mut inner = Terms::new();
        let mut expected_terms = Vec::new();
        for (name, value) in names.iter().zip(&values) {
            inner.name(NameSeg::new(name), value).unwrap();
            let mut padded = name.clone();
            while padded.len() < 4 { padded.push('_'); }
            expected_terms.push(Term::Name { name: padded, value: expected(value) });
        }
        for level in 0..depth {
            let mut outer = Terms::new();
            let name = format!("D{level:03}");
            outer.device(NameSeg::new(&name), &inner).unwrap();
            expected_terms = vec![Term::Device { name, body: expected_terms }];
            inner = outer;
        }
        prop_assert_eq!(decode(inner.bytes()).unwrap(), expected_terms);
    }
}
