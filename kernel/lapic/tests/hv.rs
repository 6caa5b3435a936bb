//! `hv-vapic`: the EOI/ICR/TPR MSRs and lazy EOI.

mod common;

use common::{Partition, mmio, set_mmio, x2apic, xapic};
use tessera_lapic::hv::is_hv_apic_msr;
use tessera_lapic::{Effect, GeneralProtection, LazyEoi, Trigger};

const EOI: u32 = 0x4000_0070;
const ICR: u32 = 0x4000_0071;
const TPR: u32 = 0x4000_0072;

#[test]
fn msr_numbers() {
    assert!(is_hv_apic_msr(EOI) && is_hv_apic_msr(ICR) && is_hv_apic_msr(TPR));
    assert!(!is_hv_apic_msr(0x4000_0073));
}

#[test]
fn without_the_privilege_every_access_is_gp() {
    let mut apic = xapic(0);
    for msr in [EOI, ICR, TPR] {
        assert_eq!(apic.read_hv_msr(msr, false, 0), Err(GeneralProtection));
        assert_eq!(apic.write_hv_msr(msr, 0, false, 0), Err(GeneralProtection));
    }
    // And with it, for a disabled APIC or another MSR.
    apic.write_apic_base(0xFEE0_0000).unwrap();
    assert_eq!(apic.read_hv_msr(TPR, true, 0), Err(GeneralProtection));
    let mut apic = xapic(0);
    assert_eq!(
        apic.read_hv_msr(0x4000_0073, true, 0),
        Err(GeneralProtection)
    );
}

#[test]
fn tpr_and_eoi_agree_with_the_registers() {
    for x2 in [false, true] {
        let mut apic = if x2 { x2apic(0) } else { xapic(0) };
        apic.write_hv_msr(TPR, 0x50, true, 0).unwrap();
        assert_eq!(apic.tpr(), 0x50);
        assert_eq!(apic.read_hv_msr(TPR, true, 0), Ok(0x50));
        assert_eq!(
            apic.write_hv_msr(TPR, 0x150, true, 0),
            Err(GeneralProtection)
        );
        assert_eq!(apic.tpr(), 0x50);
        apic.write_hv_msr(TPR, 0, true, 0).unwrap();
        // EOI: write-only, bits 63:32 RsvdZ, the value itself ignored.
        apic.accept(0x80, Trigger::Level);
        apic.acknowledge();
        assert_eq!(apic.read_hv_msr(EOI, true, 0), Err(GeneralProtection));
        assert_eq!(
            apic.write_hv_msr(EOI, 1 << 32, true, 0),
            Err(GeneralProtection)
        );
        assert!(apic.isr().contains(0x80));
        assert_eq!(
            apic.write_hv_msr(EOI, 0x1234, true, 0),
            Ok(Effect::EoiBroadcast(0x80))
        );
        assert!(apic.isr().is_empty());
    }
}

#[test]
fn icr_in_both_modes() {
    // xAPIC: high half is ICR high (destination in 63:56).
    let mut p = Partition::new((0..2).map(xapic).collect());
    let effect = p.apics[0]
        .write_hv_msr(ICR, 1 << 56 | 0x45, true, 0)
        .unwrap();
    p.apply(0, effect);
    assert_eq!(p.apics[1].pending_vector(), Some(0x45));
    assert_eq!(mmio(&mut p.apics[0], 0x310), 1 << 24);
    assert_eq!(mmio(&mut p.apics[0], 0x300), 0x45);
    assert_eq!(p.apics[0].read_hv_msr(ICR, true, 0), Ok(1 << 56 | 0x45));
    // x2APIC: the 64-bit ICR, reserved bits #GP.
    let mut p = Partition::new((0..2).map(x2apic).collect());
    let effect = p.apics[1].write_hv_msr(ICR, 0x46, true, 0).unwrap();
    p.apply(1, effect);
    assert_eq!(p.apics[0].pending_vector(), Some(0x46));
    assert_eq!(p.apics[1].read_msr(0x830, 0), Ok(0x46));
    assert_eq!(p.apics[1].read_hv_msr(ICR, true, 0), Ok(0x46));
    assert_eq!(
        p.apics[1].write_hv_msr(ICR, 1 << 13 | 0x46, true, 0),
        Err(GeneralProtection)
    );
}

#[test]
fn lazy_eoi_is_offered_only_when_safe() {
    let mut apic = xapic(0);
    let mut lazy = LazyEoi::default();
    // Edge, nothing else pending: the guest may skip the EOI.
    apic.accept(0x40, Trigger::Edge);
    let v = apic.acknowledge().unwrap();
    assert!(
        !lazy.after_injection(&apic, v, false),
        "assist page disabled"
    );
    assert!(lazy.after_injection(&apic, v, true));
    assert_eq!(lazy.armed(), Some(0x40));
    // The guest cleared the bit (its lazy EOI): the kernel performs it.
    assert_eq!(lazy.reconcile(&mut apic, false), Some(0x40));
    assert!(apic.isr().is_empty());
    assert_eq!(lazy.armed(), None);
    // Reconciling with nothing armed does nothing.
    assert_eq!(lazy.reconcile(&mut apic, false), None);

    // The bit still set: the guest has not EOI'd; clearing it makes its
    // EOI trap, and the kernel does nothing now.
    apic.accept(0x41, Trigger::Edge);
    let v = apic.acknowledge().unwrap();
    assert!(lazy.after_injection(&apic, v, true));
    assert_eq!(lazy.reconcile(&mut apic, true), None);
    assert!(apic.isr().contains(0x41));
    set_mmio(&mut apic, 0xB0, 0);
    assert!(apic.isr().is_empty());

    // Level-triggered: never lazy (the I/O APIC must hear the EOI).
    apic.accept(0x50, Trigger::Level);
    let v = apic.acknowledge().unwrap();
    assert!(!lazy.after_injection(&apic, v, true));
    apic.eoi();

    // Something else pending: not lazy.
    apic.accept(0x60, Trigger::Edge);
    apic.accept(0x30, Trigger::Edge);
    let v = apic.acknowledge().unwrap();
    assert_eq!(v, 0x60);
    assert!(!lazy.after_injection(&apic, v, true));
}

#[test]
fn lazy_eoi_with_nesting() {
    // A lower vector in service, a higher one injected lazily: the lazy
    // EOI ends the higher one, the lower one's EOI traps.
    let mut apic = xapic(0);
    let mut lazy = LazyEoi::default();
    apic.accept(0x40, Trigger::Edge);
    apic.acknowledge();
    apic.accept(0x80, Trigger::Edge);
    let v = apic.acknowledge().unwrap();
    assert!(lazy.after_injection(&apic, v, true));
    // Guest: lazy EOI for 0x80 (bit cleared), then EOI MSR for 0x40. The
    // kernel reconciles at the EOI exit before handling it.
    assert_eq!(lazy.reconcile(&mut apic, false), Some(0x80));
    assert_eq!(apic.eoi().unwrap().vector, 0x40);
    assert!(apic.isr().is_empty());
}

/// The x2APIC EOI MSR's short path (`write_msr`'s first arm) ends what the
/// register path ends, with the same broadcast, and leaves the other
/// modes and a non-zero value to their #GP.
#[test]
fn x2apic_eoi_msr_ends_the_highest_in_service_vector() {
    let mut apic = x2apic(0);
    apic.accept(0x80, Trigger::Level);
    apic.acknowledge();
    apic.accept(0x90, Trigger::Edge);
    apic.acknowledge();
    assert_eq!(apic.write_msr(0x80B, 1, 0), Err(GeneralProtection));
    assert!(apic.isr().contains(0x90));
    assert_eq!(apic.write_msr(0x80B, 0, 0), Ok(Effect::None));
    assert!(!apic.isr().contains(0x90) && apic.isr().contains(0x80));
    assert_eq!(apic.write_msr(0x80B, 0, 0), Ok(Effect::EoiBroadcast(0x80)));
    assert!(apic.isr().is_empty());
    assert_eq!(apic.write_msr(0x80B, 0, 0), Ok(Effect::None));
    let mut page_mode = xapic(0);
    page_mode.accept(0x80, Trigger::Edge);
    page_mode.acknowledge();
    assert_eq!(page_mode.write_msr(0x80B, 0, 0), Err(GeneralProtection));
    assert!(page_mode.isr().contains(0x80));
}
