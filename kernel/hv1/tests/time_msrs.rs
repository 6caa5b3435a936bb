//! The time MSRs as a partition sees them: the reference TSC page's MSR
//! and values, the reference counter agreeing with the page, the
//! frequency MSRs and the invariant-TSC control, against TLFS md
//! `timers.md` and 6.0b Appendix C — bad input included.

use core::num::NonZeroU64;

use proptest::prelude::*;
use tessera_hv1::synthetic_msr::{
    Effect, MsrContext, MsrFault, MsrPolicy, PartitionMsrs, ReferenceCounter, VpMsrs, read, write,
};
use tessera_hv1::time::frequencies::APIC_TIMER_HZ;
use tessera_hv1::time::reference_tsc::ReferenceTscValues;
use tessera_hv1::time::tsc_invariant::{HV_X64_MSR_TSC_INVARIANT_CONTROL, INVARIANT_TSC};
use tlfs::cpuid::HvFeatureIdentificationEdx;
use tlfs::msr::*;
use tlfs::privilege::HvPartitionPrivilegeMask as Mask;

const GP: MsrFault = MsrFault::GeneralProtection;
const GPA_BITS: u8 = 36;

struct Vm {
    partition: PartitionMsrs,
    vp: VpMsrs,
    policy: MsrPolicy,
}

fn time_privileges() -> Mask {
    Mask::new()
        .with_access_hypercall_msrs(true)
        .with_access_vp_index(true)
        .with_access_partition_reference_counter(true)
        .with_access_partition_reference_tsc(true)
        .with_access_frequency_regs(true)
        .with_access_tsc_invariant_controls(true)
}

impl Vm {
    fn new(privileges: Mask, base_tsc: u64, tsc_hz: u64) -> Self {
        Self {
            partition: PartitionMsrs::new(ReferenceCounter::new(
                base_tsc,
                NonZeroU64::new(tsc_hz).unwrap(),
            )),
            vp: VpMsrs::new(0),
            policy: MsrPolicy {
                privileges,
                features_edx: HvFeatureIdentificationEdx::new()
                    .with_timer_frequencies_available(true),
                gpa_bits: GPA_BITS,
            },
        }
    }

    fn rd_at(&self, msr: u32, tsc: u64) -> Result<u64, MsrFault> {
        let context = MsrContext { vp_runtime: 0, tsc };
        read(msr, &self.partition, &self.vp, &self.policy, &context)
    }

    fn rd(&self, msr: u32) -> Result<u64, MsrFault> {
        self.rd_at(msr, 0)
    }

    fn wr(&mut self, msr: u32, value: u64) -> Result<Effect, MsrFault> {
        write(msr, value, &mut self.partition, &mut self.vp, &self.policy)
    }
}

fn enabled(gpn: u64) -> u64 {
    HvReferenceTscMsr::new()
        .with_enable(true)
        .with_gpn(gpn)
        .into_bits()
}

/// md timers.md § Reference TSC Page Register: 0 at creation; Enable
/// places the page; RsvdP bits 11:1 are kept; disabling removes it; a
/// page beyond the GPA space is "not accessible" (stored, not placed).
#[test]
fn reference_tsc_msr() {
    let mut vm = Vm::new(time_privileges(), 5_000, 3_000_000_000);
    assert_eq!(vm.rd(HV_X64_MSR_REFERENCE_TSC), Ok(0));
    assert_eq!(vm.partition.reference_tsc_values().sequence, 0);
    assert_eq!(
        vm.wr(HV_X64_MSR_REFERENCE_TSC, enabled(0x123)),
        Ok(Effect::ReferenceTscPage {
            enable: Some(0x123_000),
            previous: None
        })
    );
    let first = vm.partition.reference_tsc_values();
    assert_ne!(first.sequence, 0);
    // The same value again changes nothing.
    assert_eq!(
        vm.wr(HV_X64_MSR_REFERENCE_TSC, enabled(0x123)),
        Ok(Effect::None)
    );
    // RsvdP bits are accepted and read back, the page stays.
    let with_reserved = enabled(0x123) | 0xFFE;
    assert_eq!(
        vm.wr(HV_X64_MSR_REFERENCE_TSC, with_reserved),
        Ok(Effect::None)
    );
    assert_eq!(vm.rd(HV_X64_MSR_REFERENCE_TSC), Ok(with_reserved));
    // A move republishes under a new sequence.
    assert_eq!(
        vm.wr(HV_X64_MSR_REFERENCE_TSC, enabled(0x456)),
        Ok(Effect::ReferenceTscPage {
            enable: Some(0x456_000),
            previous: Some(0x123_000)
        })
    );
    let moved = vm.partition.reference_tsc_values();
    assert_ne!(moved.sequence, first.sequence);
    assert_eq!((moved.scale, moved.offset), (first.scale, first.offset));
    // Beyond the 36-bit space: stored, not placed, no #GP.
    let far = enabled(1 << (GPA_BITS - 12));
    assert_eq!(
        vm.wr(HV_X64_MSR_REFERENCE_TSC, far),
        Ok(Effect::ReferenceTscPage {
            enable: None,
            previous: Some(0x456_000)
        })
    );
    assert_eq!(vm.rd(HV_X64_MSR_REFERENCE_TSC), Ok(far));
    // The last page inside the space is placed.
    let last = enabled((1 << (GPA_BITS - 12)) - 1);
    assert!(matches!(
        vm.wr(HV_X64_MSR_REFERENCE_TSC, last),
        Ok(Effect::ReferenceTscPage {
            enable: Some(_),
            previous: None
        })
    ));
    // Disable.
    assert_eq!(
        vm.wr(HV_X64_MSR_REFERENCE_TSC, 0),
        Ok(Effect::ReferenceTscPage {
            enable: None,
            previous: Some(((1 << (GPA_BITS - 12)) - 1) << 12)
        })
    );
    assert_eq!(vm.rd(HV_X64_MSR_REFERENCE_TSC), Ok(0));
    // A partition reset disables it and never reuses a sequence.
    vm.wr(HV_X64_MSR_REFERENCE_TSC, enabled(0x123)).unwrap();
    let before_reset = vm.partition.reference_tsc_values().sequence;
    vm.partition.reset();
    assert_eq!(vm.rd(HV_X64_MSR_REFERENCE_TSC), Ok(0));
    vm.wr(HV_X64_MSR_REFERENCE_TSC, enabled(0x123)).unwrap();
    assert_ne!(vm.partition.reference_tsc_values().sequence, before_reset);
}

/// md timers.md: "A partition which possesses the
/// AccessPartitionReferenceTsc privilege may access the register";
/// without it, #GP (6.0b §4.2). Likewise the other time MSRs.
#[test]
fn privileges_gate_every_time_msr() {
    let mut none = Vm::new(
        Mask::new()
            .with_access_hypercall_msrs(true)
            .with_access_vp_index(true),
        0,
        3_000_000_000,
    );
    for msr in [
        HV_X64_MSR_TIME_REF_COUNT,
        HV_X64_MSR_REFERENCE_TSC,
        HV_X64_MSR_TSC_FREQUENCY,
        HV_X64_MSR_APIC_FREQUENCY,
        HV_X64_MSR_TSC_INVARIANT_CONTROL,
    ] {
        assert_eq!(none.rd(msr), Err(GP), "{msr:#x}");
        assert_eq!(none.wr(msr, 1), Err(GP), "{msr:#x}");
    }
    // The counter's privilege does not grant the page (md, not 6.0b).
    let counter_only = Vm::new(
        Mask::new().with_access_partition_reference_counter(true),
        0,
        3_000_000_000,
    );
    assert_eq!(counter_only.rd(HV_X64_MSR_REFERENCE_TSC), Err(GP));
}

/// 6.0b Appendix C: read-only frequencies in Hz.
#[test]
fn frequency_msrs() {
    let mut vm = Vm::new(time_privileges(), 0, 2_994_123_456);
    assert_eq!(vm.rd(HV_X64_MSR_TSC_FREQUENCY), Ok(2_994_123_456));
    assert_eq!(vm.rd(HV_X64_MSR_APIC_FREQUENCY), Ok(APIC_TIMER_HZ));
    for msr in [HV_X64_MSR_TSC_FREQUENCY, HV_X64_MSR_APIC_FREQUENCY] {
        assert_eq!(vm.wr(msr, 0), Err(GP));
        assert_eq!(vm.wr(msr, 2_994_123_456), Err(GP));
    }
    assert_eq!(vm.rd(HV_X64_MSR_TSC_FREQUENCY), Ok(2_994_123_456));
}

/// The control through the MSR path: only bit 0, no way back, hidden
/// again after a reset; the effect tells the kernel when CPUID changes.
#[test]
fn tsc_invariant_control() {
    let mut vm = Vm::new(time_privileges(), 0, 3_000_000_000);
    let msr = HV_X64_MSR_TSC_INVARIANT_CONTROL;
    let privileges = vm.policy.privileges;
    let cpuid = |vm: &Vm| {
        vm.partition
            .tsc_invariant()
            .leaf_80000007_edx(privileges, INVARIANT_TSC)
    };
    assert_eq!(vm.rd(msr), Ok(0));
    assert_eq!(cpuid(&vm), 0);
    assert_eq!(vm.wr(msr, 2), Err(GP));
    assert_eq!(vm.wr(msr, 1 << 63), Err(GP));
    assert_eq!(vm.wr(msr, 0), Ok(Effect::None));
    assert_eq!(vm.wr(msr, 1), Ok(Effect::InvariantTscExposed));
    assert_eq!(cpuid(&vm), INVARIANT_TSC);
    assert_eq!(vm.wr(msr, 1), Ok(Effect::None));
    assert_eq!(vm.wr(msr, 0), Err(GP));
    assert_eq!(vm.rd(msr), Ok(1));
    vm.partition.reset();
    assert_eq!(vm.rd(msr), Ok(0));
    assert_eq!(cpuid(&vm), 0);
}

/// A TSC at or below 10 MHz has no 64-bit scale: the page says "fall
/// back" (sequence 0) even when enabled, and the MSR still counts.
#[test]
fn slow_tsc_falls_back_to_the_msr() {
    let mut vm = Vm::new(time_privileges(), 0, 10_000_000);
    vm.wr(HV_X64_MSR_REFERENCE_TSC, enabled(0x10)).unwrap();
    assert_eq!(
        vm.partition.reference_tsc_values(),
        ReferenceTscValues::INVALID
    );
    assert_eq!(
        vm.rd_at(HV_X64_MSR_TIME_REF_COUNT, 10_000_000),
        Ok(10_000_000)
    );
}

proptest! {
    /// The page and TIME_REF_COUNT agree exactly on every TSC after
    /// creation, are monotonic, and stay within −1…+2 units of the exact
    /// count (md timers.md: both are the partition's reference time).
    #[test]
    fn page_and_msr_agree(
        base in 0u64..1 << 62,
        hz in 10_000_001u64..10_000_000_000,
        elapsed in 0u64..1 << 50,
        step in 0u64..1 << 20,
    ) {
        let mut vm = Vm::new(time_privileges(), base, hz);
        vm.wr(HV_X64_MSR_REFERENCE_TSC, enabled(0x10)).unwrap();
        let page = vm.partition.reference_tsc_values();
        prop_assert_ne!(page.sequence, 0);
        let tsc = base + elapsed;
        let msr = vm.rd_at(HV_X64_MSR_TIME_REF_COUNT, tsc).unwrap();
        prop_assert_eq!(page.time(tsc), Some(msr));
        let exact = (u128::from(elapsed) * 10_000_000 / u128::from(hz)) as i128;
        let error = i128::from(msr) - exact;
        prop_assert!((-1..=2).contains(&error), "error {}", error);
        let later = vm.rd_at(HV_X64_MSR_TIME_REF_COUNT, tsc + step).unwrap();
        prop_assert!(later >= msr);
        prop_assert_eq!(vm.rd_at(HV_X64_MSR_TIME_REF_COUNT, base).unwrap(), 0);
    }
}
