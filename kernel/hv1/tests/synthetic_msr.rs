//! The synthetic MSR state machine against the TLFS text.
//!
//! "md" quotes are TLFS md (`reference/tlfs/`), "6.0b" quotes TLFS v6.0b.

use core::num::NonZeroU64;

use tessera_hv1::cpuid::Hv1Config;
use tessera_hv1::synthetic_msr::{
    CRASH_CTL_CAPABILITIES, CrashMessage, Effect, HYPERCALL_CODE, MsrContext, MsrFault, MsrPolicy,
    PartitionMsrs, ReferenceCounter, VpMsrs, hypercall_page, hypercall_page_code, is_synthetic,
    read, write,
};
use tlfs::cpuid::HvFeatureIdentificationEdx;
use tlfs::msr::*;
use tlfs::privilege::HvPartitionPrivilegeMask;

const GP: MsrFault = MsrFault::GeneralProtection;
const TSC_HZ: NonZeroU64 = NonZeroU64::new(2_000_000_000).unwrap();
/// A Windows NT 10.0 guest OS ID (hypercall-interface.md encoding).
const WINDOWS_ID: u64 = 0x0001_040A_0000_4A61;
/// A page-aligned GPA for the hypercall page.
const HC_PAGE: u64 = 0x7FFF_F000;

/// Every privilege and feature the MSR module implements, plus
/// AccessIntrCtrlRegs (the VP assist page's gate) and the MSR lock.
fn full_privileges() -> HvPartitionPrivilegeMask {
    HvPartitionPrivilegeMask::new()
        .with_access_hypercall_msrs(true)
        .with_access_vp_index(true)
        .with_access_vp_run_time_reg(true)
        .with_access_partition_reference_counter(true)
        .with_access_reset_reg(true)
        .with_access_intr_ctrl_regs(true)
}

fn full_features() -> HvFeatureIdentificationEdx {
    HvFeatureIdentificationEdx::new()
        .with_guest_crash_msrs_available(true)
        .with_hypercall_msr_lock_available(true)
}

/// A partition with one VP.
#[derive(Debug)]
struct Vm {
    partition: PartitionMsrs,
    vp: VpMsrs,
    policy: MsrPolicy,
    context: MsrContext,
}

impl Vm {
    fn new(privileges: HvPartitionPrivilegeMask, features: HvFeatureIdentificationEdx) -> Self {
        Self {
            partition: PartitionMsrs::new(ReferenceCounter::new(1_000, TSC_HZ)),
            vp: VpMsrs::new(3),
            policy: MsrPolicy {
                privileges,
                features_edx: features,
                gpa_bits: 36,
            },
            context: MsrContext::default(),
        }
    }

    fn full() -> Self {
        Self::new(full_privileges(), full_features())
    }

    fn minimal() -> Self {
        let mut vm = Self::full();
        vm.policy = MsrPolicy::from_config(&Hv1Config::minimal(), 36);
        vm
    }

    fn rd(&self, msr: u32) -> Result<u64, MsrFault> {
        read(msr, &self.partition, &self.vp, &self.policy, &self.context)
    }

    fn wr(&mut self, msr: u32, value: u64) -> Result<Effect, MsrFault> {
        write(msr, value, &mut self.partition, &mut self.vp, &self.policy)
    }

    /// Guest OS ID written and the hypercall page enabled at `HC_PAGE`.
    fn established() -> Self {
        let mut vm = Self::full();
        vm.wr(HV_X64_MSR_GUEST_OS_ID, WINDOWS_ID).unwrap();
        vm.wr(HV_X64_MSR_HYPERCALL, HC_PAGE | 1).unwrap();
        vm
    }
}

// --- HV_X64_MSR_GUEST_OS_ID -------------------------------------------

/// 6.0b §2.6: "This register's value is initially zero"; any encoding is
/// accepted (the layouts are recommendations).
#[test]
fn guest_os_id_starts_zero_and_reads_back() {
    let mut vm = Vm::full();
    assert_eq!(vm.rd(HV_X64_MSR_GUEST_OS_ID), Ok(0));
    assert_eq!(
        vm.wr(HV_X64_MSR_GUEST_OS_ID, WINDOWS_ID),
        Ok(Effect::GuestOsIdChanged {
            previous: 0,
            value: WINDOWS_ID,
            hypercall_page_removed: None
        })
    );
    assert_eq!(vm.rd(HV_X64_MSR_GUEST_OS_ID), Ok(WINDOWS_ID));
    // Rewriting the same value changes nothing.
    assert_eq!(vm.wr(HV_X64_MSR_GUEST_OS_ID, WINDOWS_ID), Ok(Effect::None));
    // An open-source (Linux) ID, bit 63 set, is just as fine.
    let linux = 0x8100_0006_0800_0000;
    assert!(matches!(
        vm.wr(HV_X64_MSR_GUEST_OS_ID, linux),
        Ok(Effect::GuestOsIdChanged { previous: WINDOWS_ID, value, .. }) if value == linux
    ));
    assert_eq!(vm.rd(HV_X64_MSR_GUEST_OS_ID), Ok(linux));
    assert_eq!(vm.partition.guest_os_id(), linux);
}

// --- HV_X64_MSR_HYPERCALL ---------------------------------------------

/// md § Establishing the Hypercall Interface: "If no Guest OS identity has
/// been specified, attempts to enable the hypercall will fail. The enable
/// bit will remain zero even when writing a one to it."
#[test]
fn hypercall_page_needs_a_guest_os_id() {
    let mut vm = Vm::full();
    assert_eq!(vm.rd(HV_X64_MSR_HYPERCALL), Ok(0));
    assert_eq!(vm.wr(HV_X64_MSR_HYPERCALL, HC_PAGE | 1), Ok(Effect::None));
    // Enable reads 0; the GPFN was written.
    assert_eq!(vm.rd(HV_X64_MSR_HYPERCALL), Ok(HC_PAGE));
    assert!(!vm.partition.hypercalls_enabled());
    assert_eq!(vm.partition.hypercall_page(), None);

    vm.wr(HV_X64_MSR_GUEST_OS_ID, WINDOWS_ID).unwrap();
    // Writing the ID alone does not enable it either.
    assert_eq!(vm.rd(HV_X64_MSR_HYPERCALL), Ok(HC_PAGE));
    assert_eq!(
        vm.wr(HV_X64_MSR_HYPERCALL, HC_PAGE | 1),
        Ok(Effect::HypercallPage {
            enable: Some(HC_PAGE),
            previous: None
        })
    );
    assert_eq!(vm.rd(HV_X64_MSR_HYPERCALL), Ok(HC_PAGE | 1));
    assert!(vm.partition.hypercalls_enabled());
    assert_eq!(vm.partition.hypercall_page(), Some(HC_PAGE));
}

#[test]
fn hypercall_page_moves_and_disables() {
    let mut vm = Vm::established();
    // Same value again: nothing to remap.
    assert_eq!(vm.wr(HV_X64_MSR_HYPERCALL, HC_PAGE | 1), Ok(Effect::None));
    assert_eq!(
        vm.wr(HV_X64_MSR_HYPERCALL, 0x1000 | 1),
        Ok(Effect::HypercallPage {
            enable: Some(0x1000),
            previous: Some(HC_PAGE)
        })
    );
    assert_eq!(
        vm.wr(HV_X64_MSR_HYPERCALL, 0x1000),
        Ok(Effect::HypercallPage {
            enable: None,
            previous: Some(0x1000)
        })
    );
    assert!(!vm.partition.hypercalls_enabled());
    // Disabled → disabled elsewhere: nothing mapped, nothing to do.
    assert_eq!(vm.wr(HV_X64_MSR_HYPERCALL, 0x5000), Ok(Effect::None));
    assert_eq!(vm.rd(HV_X64_MSR_HYPERCALL), Ok(0x5000));
}

/// md § Reporting the Guest OS Identity: "If this register is subsequently
/// zeroed, the hypercall code page will be disabled."
#[test]
fn zeroing_the_guest_os_id_disables_the_page() {
    let mut vm = Vm::established();
    assert_eq!(
        vm.wr(HV_X64_MSR_GUEST_OS_ID, 0),
        Ok(Effect::GuestOsIdChanged {
            previous: WINDOWS_ID,
            value: 0,
            hypercall_page_removed: Some(HC_PAGE)
        })
    );
    assert_eq!(vm.rd(HV_X64_MSR_HYPERCALL), Ok(HC_PAGE));
    assert!(!vm.partition.hypercalls_enabled());
    // A new ID does not bring the page back: the guest re-enables it.
    vm.wr(HV_X64_MSR_GUEST_OS_ID, WINDOWS_ID).unwrap();
    assert!(!vm.partition.hypercalls_enabled());
    // Zeroing while disabled reports no page.
    vm.wr(HV_X64_MSR_GUEST_OS_ID, 0).unwrap();
    assert_eq!(vm.wr(HV_X64_MSR_GUEST_OS_ID, 0), Ok(Effect::None));
}

/// md: "11:2 RsvdP. Bits should be ignored on reads and preserved on
/// writes" — a guest's read-modify-write must round-trip, so they are
/// accepted (no #GP) and read back.
#[test]
fn hypercall_rsvdp_bits_round_trip() {
    let mut vm = Vm::established();
    let value = HC_PAGE | 0xFFC | 1;
    assert_eq!(vm.wr(HV_X64_MSR_HYPERCALL, value), Ok(Effect::None));
    assert_eq!(vm.rd(HV_X64_MSR_HYPERCALL), Ok(value));
    assert_eq!(vm.partition.hypercall_page(), Some(HC_PAGE));
}

/// md: "If the guest attempts to move the hypercall page beyond the bounds
/// of the GPA space, a #GP fault will result when the MSR is written."
#[test]
fn hypercall_page_beyond_the_gpa_space_is_gp() {
    let mut vm = Vm::established();
    vm.policy.gpa_bits = 32;
    let before = vm.partition;
    assert_eq!(vm.wr(HV_X64_MSR_HYPERCALL, 0x1_0000_0000 | 1), Err(GP));
    assert_eq!(vm.wr(HV_X64_MSR_HYPERCALL, !2), Err(GP));
    assert_eq!(vm.partition, before, "a faulting write changes nothing");
    // The last page of the space is fine.
    assert!(matches!(
        vm.wr(HV_X64_MSR_HYPERCALL, 0xFFFF_F000 | 1),
        Ok(Effect::HypercallPage {
            enable: Some(0xFFFF_F000),
            ..
        })
    ));
    // A disabled page places nothing, so nothing is checked.
    assert!(vm.wr(HV_X64_MSR_HYPERCALL, 0x1_0000_0000).is_ok());
}

/// md: "Locked. Indicates if the MSR is immutable … Once set, only a
/// system reset can clear the bit" (with HypercallMsrLockAvailable).
#[test]
fn locked_hypercall_msr_ignores_writes_until_reset() {
    let mut vm = Vm::established();
    assert_eq!(vm.wr(HV_X64_MSR_HYPERCALL, HC_PAGE | 3), Ok(Effect::None));
    assert_eq!(vm.rd(HV_X64_MSR_HYPERCALL), Ok(HC_PAGE | 3));
    for attempt in [0, 0x1000 | 1, HC_PAGE | 1, u64::MAX] {
        assert_eq!(vm.wr(HV_X64_MSR_HYPERCALL, attempt), Ok(Effect::None));
        assert_eq!(vm.rd(HV_X64_MSR_HYPERCALL), Ok(HC_PAGE | 3));
    }
    // Choice: zeroing the guest OS ID does not unlock/disable it either.
    assert!(matches!(
        vm.wr(HV_X64_MSR_GUEST_OS_ID, 0),
        Ok(Effect::GuestOsIdChanged {
            hypercall_page_removed: None,
            ..
        })
    ));
    assert_eq!(vm.partition.hypercall_page(), Some(HC_PAGE));
    // System reset: back to the creation state, page to unmap.
    assert_eq!(vm.partition.reset(), Some(HC_PAGE));
    assert_eq!(vm.rd(HV_X64_MSR_HYPERCALL), Ok(0));
    assert_eq!(vm.rd(HV_X64_MSR_GUEST_OS_ID), Ok(0));
    assert_eq!(vm.partition.reset(), None);
}

/// Without HypercallMsrLockAvailable (CPUID 0x40000003 EDX bit 18) the
/// Locked bit is ignored.
#[test]
fn lock_bit_ignored_without_the_feature() {
    let mut vm = Vm::new(
        full_privileges(),
        HvFeatureIdentificationEdx::new().with_guest_crash_msrs_available(true),
    );
    vm.wr(HV_X64_MSR_GUEST_OS_ID, WINDOWS_ID).unwrap();
    vm.wr(HV_X64_MSR_HYPERCALL, HC_PAGE | 3).unwrap();
    assert_eq!(vm.rd(HV_X64_MSR_HYPERCALL), Ok(HC_PAGE | 1));
    assert!(matches!(
        vm.wr(HV_X64_MSR_HYPERCALL, 0x2000 | 1),
        Ok(Effect::HypercallPage {
            enable: Some(0x2000),
            previous: Some(HC_PAGE)
        })
    ));
}

/// 6.0b App. C / §4.2: GUEST_OS_ID and HYPERCALL need AccessHypercallMsrs;
/// "If this flag is cleared, accesses to these MSRs result in a #GP fault".
#[test]
fn hypercall_msrs_need_their_privilege() {
    let mut vm = Vm::new(
        full_privileges().with_access_hypercall_msrs(false),
        full_features(),
    );
    for msr in [HV_X64_MSR_GUEST_OS_ID, HV_X64_MSR_HYPERCALL] {
        assert_eq!(vm.rd(msr), Err(GP));
        assert_eq!(vm.wr(msr, 1), Err(GP));
    }
    assert_eq!(vm.partition.guest_os_id(), 0);
}

/// md § Establishing the Hypercall Interface: "This MSR is a partition-wide
/// MSR … If one virtual processor successfully writes to the MSR, another
/// virtual processor will read the same value."
#[test]
fn partition_wide_and_per_vp_state() {
    let mut vm = Vm::established();
    let mut vp7 = VpMsrs::new(7);
    let value = read(
        HV_X64_MSR_HYPERCALL,
        &vm.partition,
        &vp7,
        &vm.policy,
        &vm.context,
    );
    assert_eq!(value, Ok(HC_PAGE | 1));
    // The assist page is per VP.
    write(
        HV_X64_MSR_VP_ASSIST_PAGE,
        0x3000 | 1,
        &mut vm.partition,
        &mut vp7,
        &vm.policy,
    )
    .unwrap();
    assert_eq!(vm.rd(HV_X64_MSR_VP_ASSIST_PAGE), Ok(0));
    assert_eq!(vp7.assist_page(), Some(0x3000));
}

// --- HV_X64_MSR_VP_INDEX, VP_RUNTIME, TIME_REF_COUNT ---------------------

/// md `vp-properties.md`: the index "is assigned to the virtual processor
/// when it is created, and it is unchanged through the lifetime"; 6.0b
/// App. C access "R".
#[test]
fn vp_index_is_read_only() {
    let mut vm = Vm::full();
    assert_eq!(vm.rd(HV_X64_MSR_VP_INDEX), Ok(3));
    assert_eq!(vm.wr(HV_X64_MSR_VP_INDEX, 3), Err(GP));
    assert_eq!(vm.wr(HV_X64_MSR_VP_INDEX, 0), Err(GP));
    assert_eq!(vm.rd(HV_X64_MSR_VP_INDEX), Ok(3));
    vm.policy.privileges = vm.policy.privileges.with_access_vp_index(false);
    assert_eq!(vm.rd(HV_X64_MSR_VP_INDEX), Err(GP));
    assert_eq!(VpMsrs::new(u32::MAX - 1).vp_index(), u32::MAX - 1);
}

/// md `vp-properties.md`: "the 64-bit read-only HV_X64_MSR_VP_RUNTIME";
/// 6.0b §4.2 AccessVpRunTimeReg.
#[test]
fn vp_runtime_comes_from_the_caller() {
    let mut vm = Vm::full();
    vm.context.vp_runtime = 123_456_789;
    assert_eq!(vm.rd(HV_X64_MSR_VP_RUNTIME), Ok(123_456_789));
    assert_eq!(vm.wr(HV_X64_MSR_VP_RUNTIME, 0), Err(GP));
    vm.policy.privileges = vm.policy.privileges.with_access_vp_run_time_reg(false);
    assert_eq!(vm.rd(HV_X64_MSR_VP_RUNTIME), Err(GP));
}

/// md `timers.md`: "When a partition is created, the value of the reference
/// counter register is set to 0x0000000000000000. This value cannot be
/// modified by a virtual processor. On x64 platforms, any attempt to write
/// to the MSR results in a #GP fault"; 100 ns units (6.0b §12.4).
#[test]
fn reference_counter() {
    let mut vm = Vm::full();
    // Created at TSC 1000 (see Vm::new); 2 GHz.
    vm.context.tsc = 1_000;
    assert_eq!(vm.rd(HV_X64_MSR_TIME_REF_COUNT), Ok(0));
    vm.context.tsc = 1_000 + 2_000_000_000;
    assert_eq!(vm.rd(HV_X64_MSR_TIME_REF_COUNT), Ok(10_000_000));
    vm.context.tsc = 1_000 + 200;
    assert_eq!(vm.rd(HV_X64_MSR_TIME_REF_COUNT), Ok(1));
    // A day at 2 GHz overflows a 64-bit ticks × 10⁷ product; not here.
    vm.context.tsc = 1_000 + 86_400 * 2_000_000_000;
    assert_eq!(vm.rd(HV_X64_MSR_TIME_REF_COUNT), Ok(86_400 * 10_000_000));
    assert_eq!(vm.wr(HV_X64_MSR_TIME_REF_COUNT, 0), Err(GP));
    vm.policy.privileges = vm
        .policy
        .privileges
        .with_access_partition_reference_counter(false);
    assert_eq!(vm.rd(HV_X64_MSR_TIME_REF_COUNT), Err(GP));
}

// --- HV_X64_MSR_RESET ----------------------------------------------------

#[test]
fn reset_msr() {
    let mut vm = Vm::full();
    assert_eq!(vm.rd(HV_X64_MSR_RESET), Ok(0));
    assert_eq!(vm.wr(HV_X64_MSR_RESET, 1), Ok(Effect::Reset));
    assert_eq!(vm.wr(HV_X64_MSR_RESET, 0xFFFF_0001), Ok(Effect::Reset));
    assert_eq!(vm.wr(HV_X64_MSR_RESET, 0), Ok(Effect::None));
    assert_eq!(vm.wr(HV_X64_MSR_RESET, 2), Ok(Effect::None));
    // 6.0b §4.2 AccessResetReg: "If this flag is cleared, accesses to this
    // MSR results in a #GP fault".
    let mut vm = Vm::minimal();
    assert_eq!(vm.rd(HV_X64_MSR_RESET), Err(GP));
    assert_eq!(vm.wr(HV_X64_MSR_RESET, 1), Err(GP));
}

// --- HV_X64_MSR_VP_ASSIST_PAGE --------------------------------------------

/// md `vp-properties.md` § Virtual Processor Assist Page: Enable (0), RsvdP
/// (11:1), Page PFN (63:12); 6.0b App. C: privilege "AccessApicMsrs".
#[test]
fn vp_assist_page() {
    let mut vm = Vm::full();
    assert_eq!(vm.rd(HV_X64_MSR_VP_ASSIST_PAGE), Ok(0));
    assert_eq!(
        vm.wr(HV_X64_MSR_VP_ASSIST_PAGE, 0xABCD_E000 | 0xFFE | 1),
        Ok(Effect::AssistPage {
            enable: Some(0xABCD_E000),
            previous: None
        })
    );
    // RsvdP bits are kept.
    assert_eq!(
        vm.rd(HV_X64_MSR_VP_ASSIST_PAGE),
        Ok(0xABCD_E000 | 0xFFE | 1)
    );
    assert_eq!(
        vm.wr(HV_X64_MSR_VP_ASSIST_PAGE, 0xABCD_E000 | 1),
        Ok(Effect::None)
    );
    assert_eq!(
        vm.wr(HV_X64_MSR_VP_ASSIST_PAGE, 0x1000 | 1),
        Ok(Effect::AssistPage {
            enable: Some(0x1000),
            previous: Some(0xABCD_E000)
        })
    );
    // Enabled beyond a 36-bit GPA space: #GP (Choice), nothing changes.
    assert_eq!(
        vm.wr(HV_X64_MSR_VP_ASSIST_PAGE, 0x10_0000_0000 | 1),
        Err(GP)
    );
    assert_eq!(vm.vp.assist_page(), Some(0x1000));
    assert_eq!(
        vm.wr(HV_X64_MSR_VP_ASSIST_PAGE, 0),
        Ok(Effect::AssistPage {
            enable: None,
            previous: Some(0x1000)
        })
    );
    // Reset of the VP.
    vm.wr(HV_X64_MSR_VP_ASSIST_PAGE, 0x4000 | 1).unwrap();
    assert_eq!(vm.vp.reset(), Some(0x4000));
    assert_eq!(vm.rd(HV_X64_MSR_VP_ASSIST_PAGE), Ok(0));
    assert_eq!(vm.vp.vp_index(), 3);
    // Without AccessIntrCtrlRegs it is still accepted (Linux writes it on
    // every CPU): the minimal partition has it too.
    let mut vm = Vm::minimal();
    assert_eq!(vm.rd(HV_X64_MSR_VP_ASSIST_PAGE), Ok(0));
    assert!(vm.wr(HV_X64_MSR_VP_ASSIST_PAGE, 0x1001).is_ok());
}

// --- Crash MSRs ------------------------------------------------------------

const CRASH_MSRS: [u32; 6] = [
    HV_X64_MSR_CRASH_P0,
    HV_X64_MSR_CRASH_P1,
    HV_X64_MSR_CRASH_P2,
    HV_X64_MSR_CRASH_P3,
    HV_X64_MSR_CRASH_P4,
    HV_X64_MSR_CRASH_CTL,
];

/// md `partition-properties.md`: "the availability of this mechanism is
/// indicated via CPUID.0x40000003.EDX:10"; 6.0b App. C privilege column:
/// "GuestCrashMsrsAvailable".
#[test]
fn crash_msrs_need_the_feature() {
    let mut vm = Vm::new(
        full_privileges(),
        HvFeatureIdentificationEdx::new().with_hypercall_msr_lock_available(true),
    );
    for msr in CRASH_MSRS {
        assert_eq!(vm.rd(msr), Err(GP), "{msr:#x}");
        assert_eq!(vm.wr(msr, 1 << 63), Err(GP), "{msr:#x}");
    }
    assert_eq!(vm.partition.crash_parameters(), [0; 5]);
}

#[test]
fn crash_parameters_are_plain_storage() {
    let mut vm = Vm::full();
    for (i, msr) in CRASH_MSRS[..5].iter().enumerate() {
        assert_eq!(vm.rd(*msr), Ok(0));
        assert_eq!(vm.wr(*msr, 0x1111 * (i as u64 + 1)), Ok(Effect::None));
    }
    for (i, msr) in CRASH_MSRS[..5].iter().enumerate() {
        assert_eq!(vm.rd(*msr), Ok(0x1111 * (i as u64 + 1)));
    }
    vm.wr(HV_X64_MSR_CRASH_P2, u64::MAX).unwrap();
    assert_eq!(vm.rd(HV_X64_MSR_CRASH_P2), Ok(u64::MAX));
}

/// md § Determining Guest Crash Capabilities: "The supported set of actions
/// and capabilities supported by the hypervisor is reported"; CrashNotify
/// is bit 63, CrashMessage bit 62 (`hv_crash_ctl_reg_contents.md`).
#[test]
fn crash_ctl_reports_capabilities() {
    let mut vm = Vm::full();
    assert_eq!(vm.rd(HV_X64_MSR_CRASH_CTL), Ok(0xC000_0000_0000_0000));
    assert_eq!(CRASH_CTL_CAPABILITIES, 0xC000_0000_0000_0000);
    // Writing does not change what is read.
    vm.wr(HV_X64_MSR_CRASH_CTL, 0).unwrap();
    assert_eq!(vm.rd(HV_X64_MSR_CRASH_CTL), Ok(CRASH_CTL_CAPABILITIES));
}

/// md § Invoking Guest Crash Capabilities: "Two variations are supported:
/// CrashNotify by itself, and CrashMessage in combination with
/// CrashNotify"; "The P3 register contains the guest physical address of
/// the message, and the P4 register contains the length in bytes of the
/// message (maximum of 4096 bytes)".
#[test]
fn crash_notify_variations() {
    let mut vm = Vm::full();
    let params = [0x1E, 0xDEAD, 0xBEEF, 0x0012_3000, 200];
    for (msr, value) in CRASH_MSRS.iter().zip(params) {
        vm.wr(*msr, value).unwrap();
    }
    // CrashNotify alone: the parameters, no message.
    assert_eq!(
        vm.wr(HV_X64_MSR_CRASH_CTL, 1 << 63),
        Ok(Effect::CrashNotify {
            parameters: params,
            message: None,
            no_crash_dump: false,
            pre_os_id: 0
        })
    );
    // CrashNotify + CrashMessage: P3 = GPA, P4 = length.
    assert_eq!(
        vm.wr(HV_X64_MSR_CRASH_CTL, 3 << 62),
        Ok(Effect::CrashNotify {
            parameters: params,
            message: Some(CrashMessage {
                gpa: 0x0012_3000,
                len: 200
            }),
            no_crash_dump: false,
            pre_os_id: 0
        })
    );
    // CrashMessage alone is neither variation; nothing happens.
    assert_eq!(vm.wr(HV_X64_MSR_CRASH_CTL, 1 << 62), Ok(Effect::None));
    // Reserved bits 57:0 are ignored; NoCrashDump (61) and PreOSId (60:58)
    // are passed on.
    assert_eq!(
        vm.wr(
            HV_X64_MSR_CRASH_CTL,
            1 << 63 | 1 << 61 | 0b101 << 58 | 0x3FF_FFFF
        ),
        Ok(Effect::CrashNotify {
            parameters: params,
            message: None,
            no_crash_dump: true,
            pre_os_id: 0b101
        })
    );
    // A message longer than 4096 bytes is clamped (Choice).
    vm.wr(HV_X64_MSR_CRASH_P4, 1 << 40).unwrap();
    assert!(matches!(
        vm.wr(HV_X64_MSR_CRASH_CTL, 3 << 62),
        Ok(Effect::CrashNotify {
            message: Some(CrashMessage { len: 4096, .. }),
            ..
        })
    ));
}

// --- Features implemented elsewhere, and the rest ---------------------------

fn forward_case(
    msrs: &[u32],
    privileges: HvPartitionPrivilegeMask,
    features: HvFeatureIdentificationEdx,
) {
    let mut off = Vm::new(
        HvPartitionPrivilegeMask::from_bits(
            full_privileges().into_bits() & !privileges.into_bits(),
        ),
        HvFeatureIdentificationEdx::new(),
    );
    let mut on = Vm::new(
        HvPartitionPrivilegeMask::from_bits(full_privileges().into_bits() | privileges.into_bits()),
        features,
    );
    for &msr in msrs {
        assert_eq!(off.rd(msr), Err(GP), "{msr:#x} without its gate");
        assert_eq!(off.wr(msr, 0), Err(GP), "{msr:#x} without its gate");
        assert_eq!(on.rd(msr), Err(MsrFault::Forward), "{msr:#x} granted");
        assert_eq!(on.wr(msr, 0), Err(MsrFault::Forward), "{msr:#x} granted");
    }
}

/// 6.0b §4.2 / App. C: each feature's MSRs are #GP without its privilege;
/// with it, they are for the feature's handler.
#[test]
fn msrs_of_other_features() {
    let p = HvPartitionPrivilegeMask::new;
    let none = HvFeatureIdentificationEdx::new();
    let synic: Vec<u32> = (HV_X64_MSR_SCONTROL..=HV_X64_MSR_EOM)
        .chain(HV_X64_MSR_SINT0..=HV_X64_MSR_SINT15)
        .collect();
    forward_case(&synic, p().with_access_synic_regs(true), none);
    let timers: Vec<u32> = (HV_X64_MSR_STIMER0_CONFIG..=HV_X64_MSR_STIMER3_COUNT).collect();
    forward_case(&timers, p().with_access_synthetic_timer_regs(true), none);
    forward_case(
        &[HV_X64_MSR_EOI, HV_X64_MSR_ICR, HV_X64_MSR_TPR],
        p().with_access_intr_ctrl_regs(true),
        none,
    );
    forward_case(
        &[HV_X64_MSR_GUEST_IDLE],
        p().with_access_guest_idle_reg(true),
        none,
    );
    forward_case(
        &[
            HV_X64_MSR_REENLIGHTENMENT_CONTROL,
            HV_X64_MSR_TSC_EMULATION_CONTROL,
            HV_X64_MSR_TSC_EMULATION_STATUS,
        ],
        p().with_access_reenlightenment_controls(true),
        none,
    );
    forward_case(
        &[HV_X64_MSR_NPIEP_CONFIG],
        p(),
        none.with_npiep_available(true),
    );
    // md timers.md: the time-unhalted timer needs AccessSyntheticTimerRegs
    // and EDX bit 23.
    let unhalted = [
        HV_X64_MSR_STIME_UNHALTED_TIMER_CONFIG,
        HV_X64_MSR_STIME_UNHALTED_TIMER_COUNT,
    ];
    forward_case(
        &unhalted,
        p().with_access_synthetic_timer_regs(true),
        none.with_synthetic_time_unhalted_timer_available(true),
    );
    let timers_only = Vm::new(
        full_privileges().with_access_synthetic_timer_regs(true),
        none,
    );
    assert_eq!(timers_only.rd(unhalted[0]), Err(GP));
}

/// The reference TSC page is not AccessPartitionReferenceCounter's (the
/// Markdown edition's rule, not 6.0b App. C's).
#[test]
fn reference_tsc_is_not_the_counter() {
    let vm = Vm::full();
    assert!(vm.policy.privileges.access_partition_reference_counter());
    assert_eq!(vm.rd(HV_X64_MSR_REFERENCE_TSC), Err(GP));
}

#[test]
fn never_accessible() {
    let mut vm = Vm::new(
        HvPartitionPrivilegeMask::from_bits(u64::MAX),
        HvFeatureIdentificationEdx::from_bits(u32::MAX),
    );
    // Nested-root MSRs (CpuManagement), undefined numbers in the range,
    // and non-synthetic MSRs.
    for msr in [
        HV_X64_MSR_NESTED_VP_INDEX,
        HV_X64_MSR_NESTED_SCONTROL,
        HV_X64_MSR_NESTED_SINT15,
        0x4000_0004,
        0x4000_00FF,
        0x4000_0109,
        0xC000_0080,
        0,
    ] {
        assert_eq!(vm.rd(msr), Err(GP), "{msr:#x}");
        assert_eq!(vm.wr(msr, 0), Err(GP), "{msr:#x}");
    }
}

/// The Requirements' minimal interface: GUEST_OS_ID, HYPERCALL and
/// VP_INDEX (§ Hypervisor Synthetic MSRs), plus the VP assist page Linux
/// writes unconditionally.
#[test]
fn minimal_partition_sees_the_three_required_msrs() {
    let vm = Vm::minimal();
    for msr in 0x4000_0000..=0x4000_01FF_u32 {
        let expected = matches!(
            msr,
            HV_X64_MSR_GUEST_OS_ID
                | HV_X64_MSR_HYPERCALL
                | HV_X64_MSR_VP_INDEX
                | HV_X64_MSR_VP_ASSIST_PAGE
        );
        assert_eq!(vm.rd(msr).is_ok(), expected, "{msr:#x}");
    }
}

#[test]
fn synthetic_msr_range() {
    assert!(is_synthetic(HV_X64_MSR_GUEST_OS_ID));
    assert!(is_synthetic(0x4000_00FF));
    for &(msr, _) in ALL_SYNTHETIC_MSRS {
        assert!(is_synthetic(msr));
    }
    assert!(!is_synthetic(0x4000_0200));
    assert!(!is_synthetic(0x3FFF_FFFF));
    assert!(!is_synthetic(0x0000_001B)); // IA32_APIC_BASE
}

/// md § Establishing the Hypercall Interface: "issues a CALL to the
/// beginning of the hypercall page … the hypercall page performs the
/// equivalent of a near return (0xC3)".
#[test]
fn hypercall_page_contents() {
    assert_eq!(hypercall_page_code(), [0x0F, 0x01, 0xD9, 0xC3]);
    assert_eq!(HYPERCALL_CODE, hypercall_page_code());
    let page = hypercall_page();
    assert_eq!(&page[..4], &HYPERCALL_CODE);
    assert!(page[4..].iter().all(|&b| b == 0xCC));
}
