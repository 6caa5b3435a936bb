//! The Hv#1 synthetic MSRs: who may access them, what a read returns, and
//! what a write changes and asks the kernel to do.
//!
//! The kernel routes every RDMSR/WRMSR exit whose MSR passes
//! [`is_synthetic`] here first ([`read`], [`write()`]). A result is a value or
//! an [`Effect`] (then RIP advances), or an [`MsrFault`]: #GP, or
//! "forward" for a granted feature implemented elsewhere.
//!
//! # Access rules
//!
//! TLFS 6.0b §4.2 (Partition Privilege Flags), for each MSR privilege: "If
//! this flag is cleared, accesses to this MSR results in a #GP fault if the
//! MSR intercept is not installed". Tessera installs no MSR intercepts for
//! other partitions, so a missing privilege (or feature bit) is always #GP.
//! Privileges per MSR are TLFS 6.0b §19 (Appendix C: Hypervisor Synthetic
//! MSRs), "Privilege Required" column, except where the Markdown edition
//! names another (reference TSC page). A read-only MSR (Appendix C access
//! "R") raises #GP on write — the TLFS says so outright for the reference
//! counter (TLFS md `timers.md`: "any attempt to write to the MSR results in
//! a #GP fault") and for SVERSION, and this module applies the same rule to
//! the other read-only ones.
//!
//! | MSR | gate | read | write | reserved bits | source |
//! | --- | --- | --- | --- | --- | --- |
//! | `0x40000000` `GUEST_OS_ID` (partition) | AccessHypercallMsrs | value (initially 0) | any value; 0 disables an enabled, unlocked hypercall page → [`Effect::GuestOsIdChanged`] | none (the encodings are recommendations) | TLFS md `hypercall-interface.md` § Reporting the Guest OS Identity; 6.0b §2.6 |
//! | `0x40000001` `HYPERCALL` (partition) | AccessHypercallMsrs | value; Enable reads 1 only while the page is enabled | Enable stays 0 while GUEST_OS_ID is 0; Enable with a page beyond the GPA space → #GP; Locked honoured only with `HypercallMsrLockAvailable` (else stored as 0); once locked, writes are ignored → [`Effect::HypercallPage`] | 11:2 RsvdP: accepted and stored, read back as written | TLFS md § Establishing the Hypercall Interface (x86/x64); 6.0b §3.13 |
//! | `0x40000002` `VP_INDEX` (VP) | AccessVpIndex | VP index | #GP (read-only) | — | TLFS md `vp-properties.md` § Virtual Processor Indices; 6.0b App. C "R" |
//! | `0x40000003` `RESET` (partition) | AccessResetReg | 0 | bit 0 set → [`Effect::Reset`]; otherwise nothing | 63:1 ignored (**Choice**: no layout in any text) | 6.0b App. C "Used to perform a hypervisor-controlled reboot operation" |
//! | `0x40000010` `VP_RUNTIME` (VP) | AccessVpRunTimeReg | [`MsrContext::vp_runtime`] | #GP (read-only) | — | TLFS md `vp-properties.md` § Virtual Processor Run Time Register; 6.0b §7.9.1 |
//! | `0x40000020` `TIME_REF_COUNT` (partition) | AccessPartitionReferenceCounter | 100 ns since partition creation, by the reference TSC page's formula ([`PartitionMsrs::reference_time`]) | #GP | — | TLFS md `timers.md` § Partition Reference Counter; 6.0b §12.4 |
//! | `0x40000021` `REFERENCE_TSC` (partition) | AccessPartitionReferenceTsc (TLFS md `timers.md`) | value (initially 0) | any value; Enable with a page inside the GPA space → [`Effect::ReferenceTscPage`] (a page beyond it is stored but not accessible) | 11:1 RsvdP: accepted, stored | TLFS md `timers.md` § Reference TSC Page Register |
//! | `0x40000022`/`0x40000023` `TSC_FREQUENCY`/`APIC_FREQUENCY` | AccessFrequencyRegs | Hz ([`PartitionMsrs::frequencies`]) | #GP (read-only) | — | 6.0b App. C |
//! | `0x40000118` `TSC_INVARIANT_CONTROL` (partition) | AccessTscInvariantControls | value | bit 0 → [`Effect::InvariantTscExposed`]; other bits, or clearing bit 0 once set → #GP | 63:1 | [`time::tsc_invariant`](crate::time::tsc_invariant) |
//! | `0x40000073` `VP_ASSIST_PAGE` (VP) | AccessHypercallMsrs (**Choice**: Appendix C says AccessIntrCtrlRegs, but Linux writes it unconditionally) | value | Enable with a page beyond the GPA space → #GP (**Choice**, as for the hypercall page) → [`Effect::AssistPage`] | 11:1 RsvdP: accepted, stored | TLFS md `vp-properties.md` § Virtual Processor Assist Page; 6.0b §7.8.7.1, App. C |
//! | `0x40000100`–`0x40000104` `CRASH_P0`–`P4` (partition) | `GuestCrashMsrsAvailable` (CPUID `0x40000003` EDX bit 10) | value (initially 0) | any value | none | TLFS md `partition-properties.md` § Guest Crash Enlightenment Interface; 6.0b §4.3, App. C |
//! | `0x40000105` `CRASH_CTL` | `GuestCrashMsrsAvailable` | the supported actions: CrashNotify (63) and CrashMessage (62) | CrashNotify → [`Effect::CrashNotify`] (with the message if CrashMessage); CrashMessage alone or neither → nothing | 57:0 `Reserved`: ignored (**Choice**: not RsvdZ) | TLFS md § Guest Crash Control Register; `datatypes/hv_crash_ctl_reg_contents.md` |
//!
//! Defined synthetic MSRs of features this module does not implement —
//! NPIEP (EDX bit 12), EOI/ICR/TPR (AccessIntrCtrlRegs), SynIC (AccessSynicRegs),
//! synthetic timers (AccessSyntheticTimerRegs; the time-unhalted timer also
//! needs EDX bit 23), guest idle (AccessGuestIdleReg), reenlightenment and
//! TSC emulation (AccessReenlightenmentControls) — are #GP without their
//! gate and [`MsrFault::Forward`] with it. The nested-root MSRs
//! (`0x4000_1xxx`, CpuManagement, a privilege the Requirements forbid) and
//! every undefined number are always #GP.

mod hypercall_page;
mod reference;
mod state;
mod time_msrs;

pub use hypercall_page::{
    HYPERCALL_CODE, HYPERCALL_PAGE_FILL, hypercall_page, hypercall_page_code,
};
pub use reference::{DEADLINE_MARGIN, ReferenceCounter, tsc_to_100ns};
pub use state::{
    CRASH_MESSAGE_MAX, CrashMessage, Effect, MsrContext, MsrFault, MsrPolicy, PartitionMsrs, VpMsrs,
};

use tlfs::msr::{self as m, HvCrashCtlRegContents, HvVpAssistPageMsr, HvX64MsrHypercall, msr_name};
use tlfs::privilege::HvPartitionPrivilegeMask as Mask;

use crate::time::tsc_invariant::HV_X64_MSR_TSC_INVARIANT_CONTROL;
use state::page_gpa;

/// The range the x86 architecture reserves for hypervisor MSRs, where no
/// processor defines one.
const HYPERVISOR_RANGE: core::ops::RangeInclusive<u32> = 0x4000_0000..=0x4000_00FF;

/// Whether `msr` is a Hv#1 synthetic MSR that the kernel routes to
/// [`read`]/[`write()`]: anything in `0x40000000`–`0x400000FF`, plus the
/// synthetic MSRs TLFS 6.0b Appendix C numbers above it (crash,
/// reenlightenment, TSC emulation, time-unhalted timer, nested).
#[must_use]
pub const fn is_synthetic(msr: u32) -> bool {
    (msr >= *HYPERVISOR_RANGE.start() && msr <= *HYPERVISOR_RANGE.end())
        || msr_name(msr).is_some()
        || msr == HV_X64_MSR_TSC_INVARIANT_CONTROL
}

/// Which MSR this module implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    GuestOsId,
    Hypercall,
    VpIndex,
    Reset,
    VpRuntime,
    TimeRefCount,
    ReferenceTsc,
    Frequency,
    TscInvariant,
    VpAssistPage,
    CrashParameter(usize),
    CrashCtl,
    /// Defined, implemented elsewhere.
    Elsewhere,
}

/// What grants access to an MSR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    /// These privilege bits (all of them).
    Privilege(u64),
    /// This CPUID `0x40000003` EDX bit.
    Feature(u32),
    /// Both.
    PrivilegeAndFeature(u64, u32),
    /// Nothing: never accessible.
    Never,
}

const fn privilege(mask: Mask) -> Gate {
    Gate::Privilege(mask.into_bits())
}

const NONE: Mask = Mask::new();
const HYPERCALL_MSRS: Gate = privilege(NONE.with_access_hypercall_msrs(true));
const VP_INDEX: Gate = privilege(NONE.with_access_vp_index(true));
const RESET: Gate = privilege(NONE.with_access_reset_reg(true));
const VP_RUNTIME: Gate = privilege(NONE.with_access_vp_run_time_reg(true));
const REFERENCE_COUNTER: Gate = privilege(NONE.with_access_partition_reference_counter(true));
const REFERENCE_TSC: Gate = privilege(NONE.with_access_partition_reference_tsc(true));
const FREQUENCY: Gate = privilege(NONE.with_access_frequency_regs(true));
const INTR_CTRL: Gate = privilege(NONE.with_access_intr_ctrl_regs(true));
const SYNIC: Gate = privilege(NONE.with_access_synic_regs(true));
const TIMERS: Gate = privilege(NONE.with_access_synthetic_timer_regs(true));
const GUEST_IDLE: Gate = privilege(NONE.with_access_guest_idle_reg(true));
const REENLIGHTENMENT: Gate = privilege(NONE.with_access_reenlightenment_controls(true));
const TSC_INVARIANT: Gate = privilege(NONE.with_access_tsc_invariant_controls(true));
/// CPUID `0x40000003` EDX bit 10, `GuestCrashMsrsAvailable`.
const CRASH: Gate = Gate::Feature(1 << 10);
/// EDX bit 12, NPIEP.
const NPIEP: Gate = Gate::Feature(1 << 12);
/// AccessSyntheticTimerRegs and EDX bit 23 (TLFS md `timers.md` § Synthetic
/// Time-Unhalted Timer).
const UNHALTED_TIMER: Gate = Gate::PrivilegeAndFeature(
    NONE.with_access_synthetic_timer_regs(true).into_bits(),
    1 << 23,
);

/// The kind and gate of `msr`.
const fn lookup(msr: u32) -> (Kind, Gate) {
    use Kind::*;
    match msr {
        m::HV_X64_MSR_GUEST_OS_ID => (GuestOsId, HYPERCALL_MSRS),
        m::HV_X64_MSR_HYPERCALL => (Hypercall, HYPERCALL_MSRS),
        m::HV_X64_MSR_VP_INDEX => (VpIndex, VP_INDEX),
        m::HV_X64_MSR_RESET => (Reset, RESET),
        m::HV_X64_MSR_VP_RUNTIME => (VpRuntime, VP_RUNTIME),
        m::HV_X64_MSR_TIME_REF_COUNT => (TimeRefCount, REFERENCE_COUNTER),
        m::HV_X64_MSR_REFERENCE_TSC => (ReferenceTsc, REFERENCE_TSC),
        m::HV_X64_MSR_TSC_FREQUENCY | m::HV_X64_MSR_APIC_FREQUENCY => (Frequency, FREQUENCY),
        HV_X64_MSR_TSC_INVARIANT_CONTROL => (TscInvariant, TSC_INVARIANT),
        m::HV_X64_MSR_NPIEP_CONFIG => (Elsewhere, NPIEP),
        m::HV_X64_MSR_EOI | m::HV_X64_MSR_ICR | m::HV_X64_MSR_TPR => (Elsewhere, INTR_CTRL),
        // TLFS 6.0b Appendix C lists it under "AccessApicMsrs" (bit 4,
        // AccessIntrCtrlRegs). **Choice:** it is gated like the hypercall
        // MSRs instead, because Linux writes it on every CPU whatever the
        // privileges say, and a #GP there stops its boot; the page itself
        // is inert until the features that use it exist.
        m::HV_X64_MSR_VP_ASSIST_PAGE => (VpAssistPage, HYPERCALL_MSRS),
        m::HV_X64_MSR_SCONTROL..=m::HV_X64_MSR_EOM | m::HV_X64_MSR_SINT0..=m::HV_X64_MSR_SINT15 => {
            (Elsewhere, SYNIC)
        }
        m::HV_X64_MSR_STIMER0_CONFIG..=m::HV_X64_MSR_STIMER3_COUNT => (Elsewhere, TIMERS),
        m::HV_X64_MSR_GUEST_IDLE => (Elsewhere, GUEST_IDLE),
        m::HV_X64_MSR_CRASH_P0..=m::HV_X64_MSR_CRASH_P4 => (
            CrashParameter((msr - m::HV_X64_MSR_CRASH_P0) as usize),
            CRASH,
        ),
        m::HV_X64_MSR_CRASH_CTL => (CrashCtl, CRASH),
        m::HV_X64_MSR_REENLIGHTENMENT_CONTROL..=m::HV_X64_MSR_TSC_EMULATION_STATUS => {
            (Elsewhere, REENLIGHTENMENT)
        }
        m::HV_X64_MSR_STIME_UNHALTED_TIMER_CONFIG | m::HV_X64_MSR_STIME_UNHALTED_TIMER_COUNT => {
            (Elsewhere, UNHALTED_TIMER)
        }
        // Nested-root MSRs (CpuManagement, "Must be clear" in the
        // Requirements), the gaps of the hypervisor range, and anything
        // else.
        _ => (Elsewhere, Gate::Never),
    }
}

impl Gate {
    const fn granted(self, policy: &MsrPolicy) -> bool {
        let privileges = policy.privileges.into_bits();
        let features = policy.features_edx.into_bits();
        match self {
            Self::Privilege(bits) => privileges & bits == bits,
            Self::Feature(bit) => features & bit == bit,
            Self::PrivilegeAndFeature(bits, bit) => {
                privileges & bits == bits && features & bit == bit
            }
            Self::Never => false,
        }
    }
}

/// The kind of `msr` if the partition may access it.
const fn access(msr: u32, policy: &MsrPolicy) -> Result<Kind, MsrFault> {
    let (kind, gate) = lookup(msr);
    if !is_synthetic(msr) || !gate.granted(policy) {
        return Err(MsrFault::GeneralProtection);
    }
    match kind {
        Kind::Elsewhere => Err(MsrFault::Forward),
        _ => Ok(kind),
    }
}

/// `CRASH_CTL` as read: the crash actions Tessera supports.
///
/// TLFS md `partition-properties.md` § Determining Guest Crash Capabilities:
/// "guest partitions may read the guest crash control register. The
/// supported set of actions and capabilities supported by the hypervisor
/// is reported." Both variations of § Invoking Guest Crash Capabilities are
/// supported.
pub const CRASH_CTL_CAPABILITIES: u64 = HvCrashCtlRegContents::new()
    .with_crash_notify(true)
    .with_crash_message(true)
    .into_bits();

/// RDMSR of synthetic MSR `msr` by the VP whose state is `vp`.
///
/// # Errors
///
/// [`MsrFault::GeneralProtection`] when the partition may not access `msr`
/// (or it is not a synthetic MSR at all), [`MsrFault::Forward`] for a
/// granted MSR implemented elsewhere. See the module table.
pub const fn read(
    msr: u32,
    partition: &PartitionMsrs,
    vp: &VpMsrs,
    policy: &MsrPolicy,
    context: &MsrContext,
) -> Result<u64, MsrFault> {
    let value = match access(msr, policy) {
        Err(fault) => return Err(fault),
        Ok(Kind::GuestOsId) => partition.guest_os_id(),
        Ok(Kind::Hypercall) => partition.hypercall_msr().into_bits(),
        Ok(Kind::VpIndex) => vp.vp_index() as u64,
        // Choice: the reset MSR has no readable state.
        Ok(Kind::Reset) => 0,
        Ok(Kind::VpRuntime) => context.vp_runtime,
        Ok(Kind::TimeRefCount) => partition.reference_time(context.tsc),
        Ok(Kind::ReferenceTsc) => partition.reference_tsc_msr().into_bits(),
        Ok(Kind::Frequency) => match time_msrs::frequency(msr, partition, policy) {
            Ok(hz) => hz,
            Err(fault) => return Err(fault),
        },
        Ok(Kind::TscInvariant) => match partition.tsc_invariant().read(policy.privileges) {
            Ok(value) => value,
            Err(fault) => return Err(fault),
        },
        Ok(Kind::VpAssistPage) => vp.assist_page_msr().into_bits(),
        Ok(Kind::CrashParameter(index)) => partition.crash_parameters()[index],
        Ok(Kind::CrashCtl) => CRASH_CTL_CAPABILITIES,
        Ok(Kind::Elsewhere) => return Err(MsrFault::Forward),
    };
    Ok(value)
}

/// WRMSR of `value` to synthetic MSR `msr` by the VP whose state is `vp`.
///
/// On success the kernel advances RIP and carries out the [`Effect`].
///
/// # Errors
///
/// As [`read`], plus [`MsrFault::GeneralProtection`] for a read-only MSR
/// and for an overlay page enabled beyond the GPA space. A faulting write
/// changes nothing.
pub fn write(
    msr: u32,
    value: u64,
    partition: &mut PartitionMsrs,
    vp: &mut VpMsrs,
    policy: &MsrPolicy,
) -> Result<Effect, MsrFault> {
    match access(msr, policy)? {
        Kind::GuestOsId => Ok(write_guest_os_id(partition, value)),
        Kind::Hypercall => write_hypercall(partition, policy, value),
        // Appendix C access "R"; vp-properties.md: the index is "unchanged
        // through the lifetime of the virtual processor".
        Kind::VpIndex | Kind::VpRuntime => Err(MsrFault::GeneralProtection),
        // timers.md: "any attempt to write to the MSR results in a #GP
        // fault".
        Kind::TimeRefCount => Err(MsrFault::GeneralProtection),
        Kind::ReferenceTsc => Ok(time_msrs::write_reference_tsc(partition, policy, value)),
        // Appendix C access "R".
        Kind::Frequency => Err(MsrFault::GeneralProtection),
        Kind::TscInvariant => time_msrs::write_tsc_invariant(partition, policy, value),
        Kind::Reset => Ok(if value & 1 != 0 {
            Effect::Reset
        } else {
            Effect::None
        }),
        Kind::VpAssistPage => write_assist_page(vp, policy, value),
        Kind::CrashParameter(index) => {
            partition.set_crash(index, value);
            Ok(Effect::None)
        }
        Kind::CrashCtl => Ok(crash_control(partition, value)),
        Kind::Elsewhere => Err(MsrFault::Forward),
    }
}

/// TLFS md `hypercall-interface.md` § Reporting the Guest OS Identity: "If
/// this register is subsequently zeroed, the hypercall code page will be
/// disabled." **Choice:** not while the hypercall MSR is Locked — the lock
/// makes that MSR "immutable" until a system reset, and the TLFS gives no
/// exception for the guest OS ID.
fn write_guest_os_id(partition: &mut PartitionMsrs, value: u64) -> Effect {
    let previous = partition.guest_os_id();
    partition.set_guest_os_id(value);
    let hypercall = partition.hypercall_msr();
    let mut removed = None;
    if value == 0 && hypercall.enable() && !hypercall.locked() {
        removed = partition.hypercall_page();
        partition.set_hypercall(hypercall.with_enable(false));
    }
    if previous == value && removed.is_none() {
        Effect::None
    } else {
        Effect::GuestOsIdChanged {
            previous,
            value,
            hypercall_page_removed: removed,
        }
    }
}

/// TLFS md `hypercall-interface.md` § Establishing the Hypercall Interface
/// (x86/x64):
///
/// - "If no Guest OS identity has been specified, attempts to enable the
///   hypercall will fail. The enable bit will remain zero even when writing
///   a one to it." The rest of the value is written.
/// - "If the guest attempts to move the hypercall page beyond the bounds of
///   the GPA space, a #GP fault will result when the MSR is written." A
///   write that sets Enable with such a page faults; with Enable clear
///   nothing is placed, so nothing is checked.
/// - Locked (bit 1): "Indicates if the MSR is immutable. If set, this MSR
///   is locked thereby preventing the relocation of the hypercall page.
///   Once set, only a system reset can clear the bit." Only with
///   `HypercallMsrLockAvailable` (CPUID `0x40000003` EDX bit 18); without
///   it the bit is ignored and reads 0. **Choice:** a write to a locked MSR
///   is ignored, not #GP — the TLFS names no fault (TLFS 6.0b: "Read/Write
///   (unless set)"), and a guest rewriting the value it read must not
///   crash.
/// - RsvdP 11:2 ("should be ignored on reads and preserved on writes"):
///   the hypervisor accepts any value and returns it.
fn write_hypercall(
    partition: &mut PartitionMsrs,
    policy: &MsrPolicy,
    value: u64,
) -> Result<Effect, MsrFault> {
    let old = partition.hypercall_msr();
    if old.locked() {
        return Ok(Effect::None);
    }
    let mut new = HvX64MsrHypercall::from_bits(value);
    if new.enable() && !policy.page_in_space(new.gpn()) {
        return Err(MsrFault::GeneralProtection);
    }
    if !policy.features_edx.hypercall_msr_lock_available() {
        new.set_locked(false);
    }
    if partition.guest_os_id() == 0 {
        new.set_enable(false);
    }
    let previous = partition.hypercall_page();
    partition.set_hypercall(new);
    let enable = partition.hypercall_page();
    Ok(if enable == previous {
        Effect::None
    } else {
        Effect::HypercallPage { enable, previous }
    })
}

/// TLFS md `vp-properties.md` § Virtual Processor Assist Page: Enable (bit
/// 0), RsvdP (11:1), Page PFN (63:12). **Choice:** an enabled page beyond
/// the GPA space is #GP, as for the hypercall page (the TLFS does not say).
fn write_assist_page(vp: &mut VpMsrs, policy: &MsrPolicy, value: u64) -> Result<Effect, MsrFault> {
    let new = HvVpAssistPageMsr::from_bits(value);
    if new.enable() && !policy.page_in_space(new.gpn()) {
        return Err(MsrFault::GeneralProtection);
    }
    let previous = vp.assist_page();
    vp.set_assist_page(new);
    let enable = new.enable().then(|| page_gpa(new.gpn()));
    Ok(if enable == previous {
        Effect::None
    } else {
        Effect::AssistPage { enable, previous }
    })
}

/// TLFS md `partition-properties.md` § Invoking Guest Crash Capabilities:
/// "Two variations are supported: CrashNotify by itself, and CrashMessage
/// in combination with CrashNotify"; CrashNotify "indicates … the
/// hypervisor should proceed with logging the contents of these
/// registers"; with CrashMessage "The P3 register contains the guest
/// physical address of the message, and the P4 register contains the length
/// in bytes of the message (maximum of 4096 bytes)". CrashMessage without
/// CrashNotify is neither variation and does nothing. **Choice:** a longer
/// length is clamped to 4096.
fn crash_control(partition: &PartitionMsrs, value: u64) -> Effect {
    let ctl = HvCrashCtlRegContents::from_bits(value);
    if !ctl.crash_notify() {
        return Effect::None;
    }
    let parameters = partition.crash_parameters();
    let message = ctl.crash_message().then(|| CrashMessage {
        gpa: parameters[3],
        // min() fits u32: CRASH_MESSAGE_MAX is 4096.
        len: parameters[4].min(u64::from(CRASH_MESSAGE_MAX)) as u32,
    });
    Effect::CrashNotify {
        parameters,
        message,
        no_crash_dump: ctl.no_crash_dump(),
        pre_os_id: ctl.pre_os_id(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_range() {
        assert!(is_synthetic(0x4000_0000));
        assert!(is_synthetic(0x4000_00FF));
        assert!(is_synthetic(0x4000_0004)); // undefined, but in the range
        assert!(is_synthetic(m::HV_X64_MSR_CRASH_CTL));
        assert!(is_synthetic(m::HV_X64_MSR_NESTED_SINT15));
        assert!(!is_synthetic(0x4000_0109));
        assert!(!is_synthetic(0x3FFF_FFFF));
        assert!(!is_synthetic(0xC000_0080));
    }

    #[test]
    fn every_appendix_c_msr_has_a_gate() {
        for &(msr, name) in m::ALL_SYNTHETIC_MSRS {
            let (kind, gate) = lookup(msr);
            let nested = msr >= 0x4000_1000;
            assert_eq!(gate == Gate::Never, nested, "{name}");
            assert!(is_synthetic(msr), "{name}");
            let _ = kind;
        }
        assert_eq!(lookup(0x4000_0004).1, Gate::Never);
    }

    #[test]
    fn crash_capabilities() {
        assert_eq!(CRASH_CTL_CAPABILITIES, 0xC000_0000_0000_0000);
    }
}
