use super::*;
use std::vec::Vec;
use tessera_svm::Intercept;

const CPU: u32 = 1;

/// A VMCB on a CPU with clean bits, run once on `CPU`.
fn run_once() -> TrackedVmcb {
    let mut vmcb = TrackedVmcb::new(Box::default(), true);
    assert_eq!(vmcb.entering(CPU), VmcbCleanBits::NONE);
    vmcb
}

/// Areas marked clean by the next VMRUN on `CPU`, as bits.
fn next_clean(vmcb: &mut TrackedVmcb) -> u32 {
    let clean = vmcb.entering(CPU);
    assert_eq!(vmcb.control.clean_bits, clean, "the field VMRUN reads");
    clean.into_bits()
}

#[test]
fn the_first_run_has_nothing_clean() {
    let mut vmcb = TrackedVmcb::new(Box::default(), true);
    assert_eq!(next_clean(&mut vmcb), 0);
}

#[test]
fn an_untouched_vmcb_is_all_clean_on_its_cpu() {
    let mut vmcb = run_once();
    assert_eq!(next_clean(&mut vmcb), 0xFFF);
    assert_eq!(next_clean(&mut vmcb), 0xFFF);
}

#[test]
fn each_accessor_clears_exactly_its_areas_bit() {
    for &(name, area) in FIELD_AREAS {
        let mut vmcb = run_once();
        touch(&mut vmcb, name);
        let clean = next_clean(&mut vmcb);
        assert_eq!(clean, 0xFFF & !area, "accessor {name}");
        // Written once: clean again on the run after.
        assert_eq!(next_clean(&mut vmcb), 0xFFF, "accessor {name}, next run");
    }
}

#[test]
fn every_area_has_an_accessor_with_its_apm_bit() {
    let expected = [
        ("intercepts_mut", 0),
        ("tsc_offset_mut", 0),
        ("pause_filter_count_mut", 0),
        ("pause_filter_threshold_mut", 0),
        ("iopm_base_pa_mut", 1),
        ("msrpm_base_pa_mut", 1),
        ("guest_asid_mut", 2),
        ("v_intr_mut", 3),
        ("nested_control_mut", 4),
        ("n_cr3_mut", 4),
        ("g_pat_mut", 4),
        ("cr0_mut", 5),
        ("cr3_mut", 5),
        ("cr4_mut", 5),
        ("efer_mut", 5),
        ("dr6_mut", 6),
        ("dr7_mut", 6),
        ("gdtr_mut", 7),
        ("idtr_mut", 7),
        ("es_mut", 8),
        ("cs_mut", 8),
        ("ss_mut", 8),
        ("ds_mut", 8),
        ("cpl_mut", 8),
        ("cr2_mut", 9),
        ("dbgctl_mut", 10),
        ("br_from_mut", 10),
        ("br_to_mut", 10),
        ("last_excp_from_mut", 10),
        ("last_excp_to_mut", 10),
        ("avic_apic_bar_mut", 11),
        ("avic_backing_page_mut", 11),
        ("avic_logical_table_mut", 11),
        ("avic_physical_table_mut", 11),
    ];
    for (name, bit) in expected {
        let area = FIELD_AREAS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, a)| *a);
        assert_eq!(area, Some(1 << bit), "{name}");
    }
    let covered = FIELD_AREAS.iter().fold(0, |bits, (_, area)| bits | area);
    assert_eq!(covered, KNOWN_AREAS.into_bits());
}

#[test]
fn uncached_fields_leave_everything_clean() {
    let mut vmcb = run_once();
    *vmcb.rip_mut() = 0x1000;
    *vmcb.rax_mut() = 1;
    *vmcb.rsp_mut() = 2;
    *vmcb.rflags_mut() = 0x202;
    *vmcb.event_inj_mut() = tessera_svm::EventInjection::NONE;
    vmcb.set_tlb_control(TlbControl::DO_NOTHING);
    assert_eq!(next_clean(&mut vmcb), 0xFFF);
    assert_eq!(vmcb.save.rip, 0x1000);
    assert_eq!(vmcb.save.rflags, 0x202);
}

#[test]
fn writes_reach_the_vmcb() {
    let mut vmcb = run_once();
    vmcb.intercepts_mut().set(Intercept::Vintr, true);
    *vmcb.cr4_mut() = 1 << 5;
    vmcb.v_intr_mut().set_v_tpr(7);
    assert!(vmcb.control.intercepts.is_set(Intercept::Vintr));
    assert_eq!(vmcb.save.cr4, 1 << 5);
    assert_eq!(vmcb.control.v_intr.v_tpr(), 7);
    let clean = VmcbCleanBits::from_bits(next_clean(&mut vmcb));
    assert!(!clean.intercepts() && !clean.crx() && !clean.tpr());
    assert!(clean.seg() && clean.np() && clean.asid() && clean.iopm());
}

#[test]
fn several_writes_before_one_run_all_count() {
    let mut vmcb = run_once();
    *vmcb.dr7_mut() = 0x400;
    *vmcb.cs_mut() = Default::default();
    *vmcb.cr2_mut() = 0xDEAD;
    let dirty = (1 << 6) | (1 << 8) | (1 << 9);
    assert_eq!(next_clean(&mut vmcb), 0xFFF & !dirty);
}

#[test]
fn all_mut_marks_everything() {
    let mut vmcb = run_once();
    vmcb.all_mut().save.fs.base = 0x1234;
    assert_eq!(next_clean(&mut vmcb), 0);
    assert_eq!(vmcb.save.fs.base, 0x1234);
    assert_eq!(next_clean(&mut vmcb), 0xFFF);
}

#[test]
fn a_move_to_another_cpu_has_nothing_clean() {
    let mut vmcb = run_once();
    assert_eq!(vmcb.entering(CPU + 1).into_bits(), 0);
    assert_eq!(vmcb.entering(CPU + 1).into_bits(), 0xFFF);
    // Back on the first CPU: its cache may hold the old copy.
    assert_eq!(next_clean(&mut vmcb), 0);
    assert_eq!(next_clean(&mut vmcb), 0xFFF);
}

#[test]
fn a_flush_marks_the_asid_area() {
    let mut vmcb = run_once();
    vmcb.set_tlb_control(TlbControl::guest_flush(false));
    assert_eq!(next_clean(&mut vmcb), 0xFFF & !(1 << 2));
    assert_eq!(vmcb.control.tlb_control, TlbControl::guest_flush(false));
    vmcb.set_tlb_control(TlbControl::guest_flush(true));
    assert_eq!(next_clean(&mut vmcb), 0xFFF & !(1 << 2));
}

#[test]
fn without_the_feature_the_field_is_always_zero() {
    let mut vmcb = TrackedVmcb::new(Box::default(), false);
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(vmcb.entering(CPU).into_bits());
        assert_eq!(vmcb.control.clean_bits.into_bits(), 0);
    }
    *vmcb.rip_mut() = 5;
    seen.push(vmcb.entering(CPU).into_bits());
    assert_eq!(seen, [0, 0, 0, 0]);
}

#[test]
fn a_stale_clean_field_is_overwritten() {
    let mut vmcb = run_once();
    vmcb.all_mut().control.clean_bits = VmcbCleanBits::from_bits(u32::MAX);
    assert_eq!(next_clean(&mut vmcb), 0);
}

#[test]
fn cet_and_reserved_bits_are_never_clean() {
    let mut vmcb = run_once();
    let clean = VmcbCleanBits::from_bits(next_clean(&mut vmcb));
    assert!(!clean.cet());
    assert_eq!(clean.into_bits() >> 12, 0);
}

#[test]
fn a_re_entry_on_the_same_cpu_is_an_entry_there() {
    for &(name, _) in FIELD_AREAS {
        for offered in [true, false] {
            let mut entered = TrackedVmcb::new(Box::default(), offered);
            let mut reentered = TrackedVmcb::new(Box::default(), offered);
            entered.entering(CPU);
            reentered.entering(CPU);
            for vmcb in [&mut entered, &mut reentered] {
                touch(vmcb, name);
            }
            assert_eq!(reentered.reentering(), entered.entering(CPU), "{name}");
            assert_eq!(reentered.control.clean_bits, entered.control.clean_bits);
            assert_eq!(
                reentered.reentering(),
                entered.entering(CPU),
                "{name}, again"
            );
        }
    }
}
