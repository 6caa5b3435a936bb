//! The I/O APIC against the 82093AA datasheet and what guests do with it.

use platform::ioapic::{IOEOI, IOREGSEL, IOWIN, IoApic, MASKED, REMOTE_IRR};
use proptest::prelude::*;
use tessera_lapic::{
    DeliveryMode, Destination, DestinationMode, IdWidth, Message, Target, Trigger,
};

/// Runs `f` with a delivery sink and returns what was delivered.
fn collect(f: impl FnOnce(&mut dyn FnMut(usize, Message))) -> Vec<(usize, Message)> {
    let mut out = Vec::new();
    f(&mut |pin, m| out.push((pin, m)));
    out
}

fn select_write(io: &mut IoApic, index: u8, value: u32) -> Vec<(usize, Message)> {
    let mut out = Vec::new();
    io.write_mmio(IOREGSEL, 4, index as u64, &mut |p, m| out.push((p, m)));
    io.write_mmio(IOWIN, 4, value as u64, &mut |p, m| out.push((p, m)));
    out
}

fn select_read(io: &mut IoApic, index: u8) -> u32 {
    io.write_mmio(IOREGSEL, 4, index as u64, &mut |_, _| {});
    io.read_mmio(IOWIN, 4) as u32
}

fn set_line(io: &mut IoApic, pin: usize, level: bool) -> Vec<(usize, Message)> {
    collect(|d| io.set_line(pin, level, &mut |p, m| d(p, m)))
}

fn eoi(io: &mut IoApic, vector: u8) -> Vec<(usize, Message)> {
    collect(|d| io.eoi(vector, &mut |p, m| d(p, m)))
}

fn physical(id: u32) -> Target {
    Target::Destination(Destination {
        mode: DestinationMode::Physical,
        id,
        width: IdWidth::Xapic,
    })
}

#[test]
fn identification_registers() {
    let mut io = IoApic::new(0x12);
    assert_eq!(select_read(&mut io, 0), 0x0200_0000, "ID is 4 bits");
    assert_eq!(
        select_read(&mut io, 1),
        0x0017_0020,
        "version 0x20, 24 entries"
    );
    assert_eq!(select_read(&mut io, 2), 0x0200_0000, "arbitration ID = ID");
    select_write(&mut io, 0, 0x0F00_0000);
    assert_eq!(select_read(&mut io, 0), 0x0F00_0000);
    assert_eq!(select_read(&mut io, 2), 0x0F00_0000);
    // Read-only: version and arbitration.
    select_write(&mut io, 1, 0);
    select_write(&mut io, 2, 0);
    assert_eq!(select_read(&mut io, 1), 0x0017_0020);
    // Unimplemented registers read 0; IOREGSEL reads back.
    assert_eq!(select_read(&mut io, 0x40), 0);
    assert_eq!(select_read(&mut io, 0xFF), 0);
    assert_eq!(io.read_mmio(IOREGSEL, 4), 0xFF);
    // Odd widths and offsets.
    assert_eq!(io.read_mmio(IOWIN, 2), 0);
    assert_eq!(io.read_mmio(0x20, 4), 0);
    assert_eq!(io.read_mmio(IOEOI, 4), 0, "EOI is write-only");
}

#[test]
fn redirection_entries() {
    let mut io = IoApic::new(0);
    for pin in 0..24 {
        assert_eq!(io.entry(pin), Some(MASKED), "masked at reset");
        assert_eq!(select_read(&mut io, 0x10 + 2 * pin as u8), MASKED as u32);
    }
    assert_eq!(io.entry(24), None);
    // Everything written; reserved bits (55:17), delivery status and
    // remote IRR stay 0.
    select_write(&mut io, 0x10, 0xFFFF_FFFF);
    select_write(&mut io, 0x11, 0xFFFF_FFFF);
    assert_eq!(io.entry(0), Some(0xFF00_0000_0001_AFFF));
    assert_eq!(select_read(&mut io, 0x11), 0xFF00_0000);
}

#[test]
fn edge_triggered_pins() {
    let mut io = IoApic::new(0);
    // Pin 4 (COM1): vector 0x24, fixed, physical APIC 1, unmasked.
    select_write(&mut io, 0x18, 0x24);
    select_write(&mut io, 0x19, 0x0100_0000);
    let expected = Message {
        mode: DeliveryMode::Fixed,
        vector: 0x24,
        trigger: Trigger::Edge,
        target: physical(1),
    };
    assert_eq!(set_line(&mut io, 4, true), [(4, expected)]);
    // Held high: no second edge.
    assert!(set_line(&mut io, 4, true).is_empty());
    assert!(set_line(&mut io, 4, false).is_empty());
    assert_eq!(set_line(&mut io, 4, true).len(), 1);
    set_line(&mut io, 4, false);
    // An edge while masked is lost, also after unmasking.
    select_write(&mut io, 0x18, 0x1_0024);
    assert!(set_line(&mut io, 4, true).is_empty());
    assert!(select_write(&mut io, 0x18, 0x24).is_empty());
    // Out-of-range pins are ignored.
    assert!(set_line(&mut io, 24, true).is_empty());
    assert!(!io.line(24));
}

#[test]
fn level_triggered_remote_irr_and_eoi() {
    let mut io = IoApic::new(0);
    // Pin 10: vector 0x3A, level, logical destination 0x03.
    select_write(&mut io, 0x24, 0x8000 | 0x800 | 0x3A);
    select_write(&mut io, 0x25, 0x0300_0000);
    let delivered = set_line(&mut io, 10, true);
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].1.trigger, Trigger::Level);
    assert_eq!(io.entry(10).unwrap() & REMOTE_IRR, REMOTE_IRR);
    // Remote IRR reads back, read-only.
    assert_ne!(select_read(&mut io, 0x24) & (1 << 14), 0);
    // While remote IRR is set, nothing more.
    assert!(set_line(&mut io, 10, true).is_empty());
    // EOI of another vector: nothing.
    assert!(eoi(&mut io, 0x3B).is_empty());
    // EOI with the line still asserted: delivered again.
    assert_eq!(eoi(&mut io, 0x3A).len(), 1);
    // The device deasserts; the EOI clears remote IRR and that is all.
    set_line(&mut io, 10, false);
    assert!(eoi(&mut io, 0x3A).is_empty());
    assert_eq!(io.entry(10).unwrap() & REMOTE_IRR, 0);
    // Through the EOI register (version 0x20).
    set_line(&mut io, 10, true);
    set_line(&mut io, 10, false);
    io.write_mmio(IOEOI, 4, 0x3A, &mut |_, _| panic!("line is low"));
    assert_eq!(io.entry(10).unwrap() & REMOTE_IRR, 0);
}

#[test]
fn masked_level_pin_delivers_when_unmasked() {
    let mut io = IoApic::new(0);
    select_write(&mut io, 0x12, 0x1_8000 | 0x41);
    assert!(set_line(&mut io, 1, true).is_empty());
    let delivered = select_write(&mut io, 0x12, 0x8000 | 0x41);
    assert_eq!(delivered.len(), 1, "asserted and now unmasked");
    // Switching to edge drops the remote IRR.
    select_write(&mut io, 0x12, 0x41);
    assert_eq!(io.entry(1).unwrap() & REMOTE_IRR, 0);
}

#[test]
fn other_delivery_modes() {
    let mut io = IoApic::new(0);
    // Pin 0 in ExtINT mode (the 8259 through the I/O APIC), level.
    select_write(&mut io, 0x10, 0x8000 | 0x700);
    let delivered = set_line(&mut io, 0, true);
    assert_eq!(delivered[0].1.mode, DeliveryMode::ExtInt);
    // No remote IRR for ExtINT: taken on edges only.
    assert_eq!(io.entry(0).unwrap() & REMOTE_IRR, 0);
    assert!(set_line(&mut io, 0, true).is_empty());
    // NMI, lowest priority.
    select_write(&mut io, 0x14, 0x400);
    assert_eq!(set_line(&mut io, 2, true)[0].1.mode, DeliveryMode::Nmi);
    select_write(&mut io, 0x16, 0x100 | 0x50);
    assert_eq!(
        set_line(&mut io, 3, true)[0].1.mode,
        DeliveryMode::LowestPriority
    );
}

#[derive(Clone, Debug)]
enum Op {
    Line(usize, bool),
    Entry(usize, u32),
    Eoi(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..26_usize, any::<bool>()).prop_map(|(p, l)| Op::Line(p, l)),
        (0..24_usize, any::<u32>()).prop_map(|(p, v)| Op::Entry(p, v & 0x1_FFFF)),
        (0x20..0x30_u8).prop_map(Op::Eoi),
    ]
}

proptest! {
    /// Whatever devices and the guest do: a masked pin never delivers,
    /// remote IRR is only ever set on level-triggered entries, and a level-triggered pin never has two deliveries
    /// outstanding (each needs an EOI in between).
    #[test]
    #[allow(clippy::needless_range_loop)] // pins index both tables
    fn invariants(ops in proptest::collection::vec(op(), 1..200)) {
        let mut io = IoApic::new(0);
        let mut outstanding = [false; 24];
        for op in ops {
            let mut delivered = Vec::new();
            let mut sink = |p: usize, m: Message| delivered.push((p, m));
            match op {
                Op::Line(pin, level) => io.set_line(pin, level, &mut sink),
                Op::Entry(pin, value) => io.write_register(0x10 + 2 * pin as u8, value, &mut sink),
                Op::Eoi(vector) => {
                    for pin in 0..24 {
                        let e = io.entry(pin).unwrap();
                        if e & REMOTE_IRR != 0 && e as u8 == vector {
                            outstanding[pin] = false;
                        }
                    }
                    io.eoi(vector, &mut sink);
                }
            }
            for (pin, message) in delivered {
                let entry = io.entry(pin).unwrap();
                prop_assert_eq!(entry & MASKED, 0, "masked pin {} delivered", pin);
                prop_assert_eq!(message.vector, entry as u8);
                if entry & REMOTE_IRR != 0 {
                    prop_assert!(!outstanding[pin], "two level deliveries on pin {}", pin);
                    outstanding[pin] = true;
                }
            }
            for pin in 0..24 {
                let e = io.entry(pin).unwrap();
                if e & REMOTE_IRR != 0 {
                    // Set only by a level-triggered fixed or lowest-priority
                    // delivery; a later change of the mode keeps it until
                    // the EOI, a change to edge drops it.
                    prop_assert!(e & 0x8000 != 0);
                } else {
                    outstanding[pin] = false;
                }
            }
        }
    }
}
