//! Acceptance, priority (TPR, PPR, ISR nesting), acknowledge, EOI and
//! its broadcast, local interrupts, NMI — with a property test against a
//! simple model of the SDM's rules.

mod common;

use common::{mmio, set_mmio, x2apic, xapic};
use proptest::prelude::*;
use tessera_lapic::{EndOfInterrupt, Received, Trigger};

#[test]
fn highest_vector_first_and_isr_nesting() {
    let mut apic = xapic(0);
    apic.accept(0x31, Trigger::Edge);
    apic.accept(0x52, Trigger::Edge);
    apic.accept(0x51, Trigger::Edge);
    assert_eq!(apic.acknowledge(), Some(0x52));
    // 0x51 is in the same class as 0x52, which is in service: blocked.
    assert_eq!(mmio(&mut apic, 0xA0), 0x50, "PPR = ISRV class");
    assert_eq!(apic.pending_vector(), None);
    // A higher class nests.
    apic.accept(0x61, Trigger::Edge);
    assert_eq!(apic.acknowledge(), Some(0x61));
    // ISR words: 0x52 in bits 95:64 (offset 0x120), 0x61 in 127:96 (0x130).
    assert_eq!(mmio(&mut apic, 0x120), 1 << (0x52 % 32));
    assert_eq!(mmio(&mut apic, 0x130), 1 << (0x61 % 32));
    // EOI ends the highest in service first.
    assert_eq!(
        apic.eoi(),
        Some(EndOfInterrupt {
            vector: 0x61,
            broadcast: false
        })
    );
    assert_eq!(apic.eoi().unwrap().vector, 0x52);
    assert_eq!(apic.acknowledge(), Some(0x51));
    apic.eoi();
    assert_eq!(apic.acknowledge(), Some(0x31));
    apic.eoi();
    assert_eq!(apic.eoi(), None, "EOI with nothing in service does nothing");
    assert_eq!(apic.acknowledge(), None);
}

#[test]
fn tpr_masks_by_class() {
    let mut apic = xapic(0);
    set_mmio(&mut apic, 0x80, 0x45);
    apic.accept(0x4F, Trigger::Edge);
    // Class 4 is not above TPR class 4.
    assert_eq!(apic.pending_vector(), None);
    assert_eq!(mmio(&mut apic, 0xA0), 0x45, "PPR = TPR");
    apic.accept(0x50, Trigger::Edge);
    assert_eq!(apic.pending_vector(), Some(0x50));
    // Lowering the TPR releases 0x4F after 0x50.
    set_mmio(&mut apic, 0x80, 0);
    assert_eq!(apic.acknowledge(), Some(0x50));
    assert_eq!(
        apic.pending_vector(),
        None,
        "0x4F is below class 5 in service"
    );
    apic.eoi();
    assert_eq!(apic.acknowledge(), Some(0x4F));
    // PPR: TPR wins when its class is at least ISRV's.
    set_mmio(&mut apic, 0x80, 0x4A);
    assert_eq!(mmio(&mut apic, 0xA0), 0x4A);
    set_mmio(&mut apic, 0x80, 0x3A);
    assert_eq!(mmio(&mut apic, 0xA0), 0x40);
}

#[test]
fn level_triggered_sets_tmr_and_broadcasts() {
    let mut apic = xapic(0);
    apic.accept(0x70, Trigger::Level);
    assert_eq!(mmio(&mut apic, 0x180 + 0x70 / 32 * 16), 1 << (0x70 % 32));
    assert_eq!(apic.acknowledge(), Some(0x70));
    assert_eq!(
        set_mmio(&mut apic, 0xB0, 0),
        tessera_lapic::Effect::EoiBroadcast(0x70)
    );
    // The same vector edge-triggered clears the TMR bit.
    apic.accept(0x70, Trigger::Edge);
    assert_eq!(mmio(&mut apic, 0x180 + 0x70 / 32 * 16), 0);
    apic.acknowledge();
    assert_eq!(set_mmio(&mut apic, 0xB0, 0), tessera_lapic::Effect::None);
}

#[test]
fn next_eoi_tells_what_eoi_ends_without_ending_it() {
    let mut apic = x2apic(0);
    assert_eq!(apic.next_eoi(), None);
    // 0x50 in service, and 0x70 nested above it.
    apic.accept(0x50, Trigger::Edge);
    assert_eq!(apic.acknowledge(), Some(0x50));
    apic.accept(0x70, Trigger::Level);
    assert_eq!(apic.acknowledge(), Some(0x70));
    let level = EndOfInterrupt {
        vector: 0x70,
        broadcast: true,
    };
    assert_eq!(apic.next_eoi(), Some(level));
    assert_eq!(apic.next_eoi(), Some(level), "asking changes nothing");
    apic.end(level);
    let edge = EndOfInterrupt {
        vector: 0x50,
        broadcast: false,
    };
    assert_eq!(apic.next_eoi(), Some(edge));
    assert_eq!(apic.eoi(), Some(edge));
    assert_eq!(apic.next_eoi(), None);
    assert!(apic.isr().is_empty());
}

#[test]
fn eoi_broadcast_suppression() {
    let mut apic = x2apic(0);
    apic.write_msr(0x80F, 0x11FF, 0).unwrap();
    apic.accept(0x70, Trigger::Level);
    apic.acknowledge();
    assert_eq!(
        apic.eoi(),
        Some(EndOfInterrupt {
            vector: 0x70,
            broadcast: false
        })
    );
    // Where it is not offered, SVR bit 12 is reserved: #GP in x2APIC.
    let mut plain = tessera_lapic::LocalApic::new(tessera_lapic::ApicConfig {
        eoi_broadcast_suppression: false,
        ..common::config(1)
    });
    plain.write_apic_base(0xFEE0_0000 | 0x800 | 0x400).unwrap();
    assert!(plain.write_msr(0x80F, 0x11FF, 0).is_err());
}

#[test]
fn illegal_vectors_never_reach_the_irr() {
    let mut apic = xapic(0);
    for vector in 0..16 {
        assert_eq!(apic.accept(vector, Trigger::Edge), Received::Dropped);
    }
    assert!(apic.irr().is_empty());
    set_mmio(&mut apic, 0x280, 0);
    assert_eq!(mmio(&mut apic, 0x280), 1 << 6);
    // Vector 16 is the first legal one.
    assert_eq!(apic.accept(16, Trigger::Edge), Received::Pending);
}

#[test]
fn self_ipi_register() {
    let mut apic = x2apic(0);
    apic.write_msr(0x83F, 0x42, 0).unwrap();
    assert_eq!(apic.pending_vector(), Some(0x42));
    apic.write_msr(0x83F, 0x0F, 0).unwrap();
    apic.write_msr(0x828, 0, 0).unwrap();
    assert_eq!(apic.read_msr(0x828, 0), Ok(1 << 6));
}

#[test]
fn local_interrupt_pins() {
    let mut apic = xapic(0);
    // LINT0 ExtINT (virtual wire), LINT1 NMI: what firmware sets up.
    set_mmio(&mut apic, 0x350, 0x700);
    set_mmio(&mut apic, 0x360, 0x400);
    assert!(!apic.extint_requested());
    apic.set_lint(0, true);
    assert!(apic.extint_requested(), "ExtINT follows the level");
    apic.set_lint(0, false);
    assert!(!apic.extint_requested());
    assert_eq!(apic.set_lint(1, true), Received::Nmi);
    assert!(apic.take_nmi());
    assert!(!apic.take_nmi());
    // A level held high does not deliver again.
    assert_eq!(apic.set_lint(1, true), Received::Dropped);
    apic.set_lint(1, false);
    // Masked: nothing.
    set_mmio(&mut apic, 0x360, 0x1_0400);
    assert_eq!(apic.set_lint(1, true), Received::Dropped);
    assert!(!apic.nmi_pending());
    // Fixed on LINT0, level trigger: TMR set.
    set_mmio(&mut apic, 0x350, 0x8000 | 0x66);
    apic.set_lint(0, false);
    assert_eq!(apic.set_lint(0, true), Received::Pending);
    assert!(apic.tmr().contains(0x66));
    assert_eq!(apic.set_lint(2, true), Received::Dropped, "no third pin");
}

#[test]
fn globally_disabled_apic_takes_nothing() {
    let mut apic = xapic(0);
    apic.write_apic_base(0xFEE0_0000).unwrap();
    let nmi = tessera_lapic::Message {
        mode: tessera_lapic::DeliveryMode::Nmi,
        vector: 0,
        trigger: Trigger::Edge,
        target: tessera_lapic::Target::SelfOnly,
    };
    assert_eq!(apic.receive(&nmi), Received::Dropped);
    assert_eq!(apic.accept(0x40, Trigger::Edge), Received::Dropped);
    assert_eq!(apic.pending_vector(), None);
    assert!(!apic.address().enabled);
}

/// What the SDM says, kept as plainly as possible: the highest requested
/// vector is delivered if its class beats max(TPR class, highest in-service
/// class); EOI clears the highest in-service vector.
#[derive(Default, Debug)]
struct Model {
    irr: std::collections::BTreeSet<u8>,
    isr: std::collections::BTreeSet<u8>,
    tpr: u8,
}

impl Model {
    fn ppr_class(&self) -> u8 {
        let isrv = self.isr.iter().next_back().copied().unwrap_or(0);
        (self.tpr >> 4).max(isrv >> 4)
    }
    fn pending(&self) -> Option<u8> {
        let v = *self.irr.iter().next_back()?;
        (v >> 4 > self.ppr_class()).then_some(v)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Raise(u8),
    Tpr(u8),
    Ack,
    Eoi,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u8>().prop_map(Op::Raise),
        any::<u8>().prop_map(Op::Tpr),
        Just(Op::Ack),
        Just(Op::Eoi),
    ]
}

proptest! {
    #[test]
    fn priority_follows_the_architecture(ops in proptest::collection::vec(op(), 1..200)) {
        let mut apic = xapic(0);
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Raise(v) => {
                    apic.accept(v, Trigger::Edge);
                    if v >= 16 {
                        model.irr.insert(v);
                    }
                }
                Op::Tpr(t) => {
                    set_mmio(&mut apic, 0x80, t as u32);
                    model.tpr = t;
                }
                Op::Ack => {
                    let expected = model.pending();
                    if let Some(v) = expected {
                        model.irr.remove(&v);
                        model.isr.insert(v);
                    }
                    prop_assert_eq!(apic.acknowledge(), expected);
                }
                Op::Eoi => {
                    let expected = model.isr.iter().next_back().copied();
                    if let Some(v) = expected {
                        model.isr.remove(&v);
                    }
                    prop_assert_eq!(apic.eoi().map(|e| e.vector), expected);
                }
            }
            prop_assert_eq!(apic.pending_vector(), model.pending());
            prop_assert!(apic.ppr() >> 4 == model.ppr_class());
            prop_assert!(apic.irr().iter().all(|v| v >= 16));
            prop_assert_eq!(apic.isr().len() as usize, model.isr.len());
        }
    }
}

/// The 8259's INT output on LINT0 (virtual wire): taken only while LVT
/// LINT0 is ExtINT and unmasked, or with the APIC globally disabled
/// (LINT0 is then INTR); a software disable masks it.
#[test]
fn pic_output_through_lint0_or_intr() {
    let mut apic = xapic(0);
    // Reset: LINT0 masked.
    assert!(!apic.pic_output(true), "masked LINT0 takes nothing");
    assert!(!apic.pic_output(false));
    set_mmio(&mut apic, 0x350, 0x700);
    assert!(apic.pic_output(true), "ExtINT, unmasked: the level");
    assert!(apic.pic_output(true), "level-sensitive: still requested");
    assert!(!apic.pic_output(false), "the request went away");
    assert_eq!(apic.pending_vector(), None, "ExtINT never touches the IRR");
    // Masked with the level high: nothing; unmasked: requested at once.
    set_mmio(&mut apic, 0x350, 0x1_0700);
    assert!(!apic.pic_output(true));
    set_mmio(&mut apic, 0x350, 0x700);
    assert!(apic.pic_output(true));
    // NMI mode on LINT0: the 8259's output is no INTR.
    apic.pic_output(false);
    set_mmio(&mut apic, 0x350, 0x400);
    assert!(!apic.pic_output(true));
    assert!(apic.take_nmi(), "an NMI on the rising edge instead");
    // Software disable masks LINT0.
    apic.pic_output(false);
    set_mmio(&mut apic, 0x350, 0x700);
    set_mmio(&mut apic, 0xF0, 0xFF);
    assert!(!apic.pic_output(true));
    // Globally disabled: LINT0 is INTR, whatever the LVT says.
    apic.write_apic_base(0).unwrap();
    assert!(apic.pic_output(true));
    assert!(!apic.pic_output(false));
}

proptest! {
    /// Whatever the guest writes to LVT LINT0 and SVR, a low 8259 output
    /// never requests, and a high one requests exactly when the entry is
    /// unmasked ExtINT on an enabled APIC.
    #[test]
    fn pic_output_follows_lint0(lint0 in any::<u32>(), svr in any::<u32>(), level: bool) {
        let mut apic = xapic(0);
        set_mmio(&mut apic, 0xF0, svr);
        set_mmio(&mut apic, 0x350, lint0);
        let entry = mmio(&mut apic, 0x350);
        let extint = entry & 0x1_0700 == 0x700;
        prop_assert_eq!(apic.pic_output(level), level && extint);
    }
}
