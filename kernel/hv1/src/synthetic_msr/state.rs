//! The state behind the synthetic MSRs, what a partition may access, and
//! what a write asks the kernel to do.

use tlfs::cpuid::HvFeatureIdentificationEdx;
use tlfs::msr::{HvReferenceTscMsr, HvVpAssistPageMsr, HvX64MsrHypercall};
use tlfs::privilege::HvPartitionPrivilegeMask;
use tlfs::types::HV_PAGE_SHIFT;

use super::reference::ReferenceCounter;
use crate::cpuid::Hv1Config;
use crate::time::frequencies::{APIC_TIMER_HZ, Frequencies};
use crate::time::reference_tsc::{ReferenceTscValues, next_sequence};
use crate::time::tsc_invariant::TscInvariantControl;

/// GPA of page number `gpn`.
pub(crate) const fn page_gpa(gpn: u64) -> u64 {
    gpn << HV_PAGE_SHIFT
}

/// The partition-wide synthetic MSRs: `HV_X64_MSR_GUEST_OS_ID`,
/// `HV_X64_MSR_HYPERCALL`, the crash parameters P0–P4, the reference
/// counter and the reference TSC page's MSR and values, and the
/// invariant-TSC control. (`HV_X64_MSR_RESET`, `HV_X64_MSR_CRASH_CTL` and
/// the frequency MSRs hold no state.)
///
/// TLFS md `hypercall-interface.md` § Reporting the Guest OS Identity
/// ("partition-wide and is shared among all virtual processors", TLFS 6.0b
/// §2.6) and § Establishing the Hypercall Interface ("This MSR is a
/// partition-wide MSR … If one virtual processor successfully writes to the
/// MSR, another virtual processor will read the same value"). The kernel
/// serialises access (one lock per partition) around
/// [`read`](super::read)/[`write`](super::write).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionMsrs {
    guest_os_id: u64,
    hypercall: HvX64MsrHypercall,
    crash: [u64; 5],
    reference: ReferenceCounter,
    /// The page's values for a guest TSC equal to the host TSC (a VMCB
    /// TSC offset of 0), worked out once: `HV_X64_MSR_TIME_REF_COUNT` is
    /// answered with the same formula, so the page and the MSR agree
    /// exactly ([`reference_time`](Self::reference_time)).
    time: ReferenceTscValues,
    reference_tsc: HvReferenceTscMsr,
    /// The `TscSequence` of the page last published.
    tsc_sequence: u32,
    tsc_invariant: TscInvariantControl,
}

impl PartitionMsrs {
    /// The state of a new partition: everything zero ("This register's
    /// value is initially zero", TLFS 6.0b §2.6), the hypercall page
    /// disabled, and the reference counter starting at 0 now
    /// (`reference.base_tsc` is the creation time).
    #[must_use]
    pub const fn new(reference: ReferenceCounter) -> Self {
        Self {
            guest_os_id: 0,
            hypercall: HvX64MsrHypercall::new(),
            crash: [0; 5],
            reference,
            time: ReferenceTscValues::new(&reference, 0, 1),
            // TLFS md `timers.md` § Reference TSC Page Register: "At the
            // guest partition creation time, the value of the reference
            // TSC MSR is 0x0000000000000000".
            reference_tsc: HvReferenceTscMsr::new(),
            tsc_sequence: 0,
            tsc_invariant: TscInvariantControl::new(),
        }
    }

    /// `HV_X64_MSR_GUEST_OS_ID`.
    #[must_use]
    pub const fn guest_os_id(&self) -> u64 {
        self.guest_os_id
    }

    /// `HV_X64_MSR_HYPERCALL` as the guest reads it.
    #[must_use]
    pub const fn hypercall_msr(&self) -> HvX64MsrHypercall {
        self.hypercall
    }

    /// The GPA of the hypercall page, if it is enabled.
    #[must_use]
    pub const fn hypercall_page(&self) -> Option<u64> {
        if self.hypercall.enable() {
            Some(page_gpa(self.hypercall.gpn()))
        } else {
            None
        }
    }

    /// Whether the partition may issue hypercalls: its hypercall page is
    /// enabled (see [`dispatch`](crate::dispatch::dispatch)).
    #[must_use]
    pub const fn hypercalls_enabled(&self) -> bool {
        self.hypercall.enable()
    }

    /// `HV_X64_MSR_CRASH_P0`–`P4`.
    #[must_use]
    pub const fn crash_parameters(&self) -> [u64; 5] {
        self.crash
    }

    /// The partition reference counter.
    #[must_use]
    pub const fn reference_counter(&self) -> ReferenceCounter {
        self.reference
    }

    /// `HV_X64_MSR_TIME_REF_COUNT` at host TSC `tsc`: the reference TSC
    /// page's formula (TLFS md `timers.md` § Partition Reference TSC
    /// Mechanism) on that TSC, so a guest that reads the page and the MSR
    /// (or falls back from one to the other, on any VP whose TSC is the
    /// host's) never sees time step back. Within −1…+2 units of the exact
    /// count ([`ReferenceCounter::count`]; `time::reference_tsc` proves the
    /// bound), and that count itself when the TSC is too slow for a scale.
    #[must_use]
    pub const fn reference_time(&self, tsc: u64) -> u64 {
        match self.time.time(tsc) {
            Some(time) => time,
            None => self.reference.count(tsc),
        }
    }

    /// `HV_X64_MSR_REFERENCE_TSC` as the guest reads it.
    #[must_use]
    pub const fn reference_tsc_msr(&self) -> HvReferenceTscMsr {
        self.reference_tsc
    }

    /// The reference TSC page as last published: scale and offset for a
    /// guest TSC equal to the host's, and the current `TscSequence` (0,
    /// "fall back to a different source", when the TSC is too slow for a
    /// 64-bit scale).
    #[must_use]
    pub const fn reference_tsc_values(&self) -> ReferenceTscValues {
        if self.time.sequence == 0 {
            return ReferenceTscValues::INVALID;
        }
        ReferenceTscValues {
            sequence: self.tsc_sequence,
            ..self.time
        }
    }

    /// What the frequency MSRs report: the TSC frequency the reference
    /// counter runs on and the APIC timer's clock.
    #[must_use]
    pub const fn frequencies(&self) -> Frequencies {
        Frequencies {
            tsc_hz: self.reference.tsc_hz.get(),
            apic_hz: APIC_TIMER_HZ,
        }
    }

    /// The invariant-TSC control.
    #[must_use]
    pub const fn tsc_invariant(&self) -> TscInvariantControl {
        self.tsc_invariant
    }

    /// Back to the creation state after a system reset (the hypercall MSR's
    /// Locked bit included: "Once set, only a system reset can clear the
    /// bit", TLFS md § Establishing the Hypercall Interface). The reference
    /// counter keeps counting: the TLFS zeroes it only "when a partition is
    /// created" (TLFS md `timers.md`).
    ///
    /// Returns the GPA of the hypercall page that was enabled, for the
    /// kernel to unmap.
    /// The reference TSC MSR goes back to 0 (the page is disabled: the
    /// kernel removes every overlay on a reset) and the invariant-TSC bit
    /// is hidden again; the `TscSequence` keeps increasing, so a page
    /// enabled after the reset never repeats an earlier sequence.
    pub const fn reset(&mut self) -> Option<u64> {
        let page = self.hypercall_page();
        let sequence = self.tsc_sequence;
        *self = Self::new(self.reference);
        self.tsc_sequence = sequence;
        page
    }

    pub(crate) const fn set_guest_os_id(&mut self, value: u64) {
        self.guest_os_id = value;
    }

    pub(crate) const fn set_hypercall(&mut self, value: HvX64MsrHypercall) {
        self.hypercall = value;
    }

    /// Stores `value` and, when the page is (re-)placed, moves the
    /// sequence on so the guest sees new values published.
    pub(crate) const fn set_reference_tsc(&mut self, value: HvReferenceTscMsr, publish: bool) {
        self.reference_tsc = value;
        if publish {
            self.tsc_sequence = next_sequence(self.tsc_sequence);
        }
    }

    pub(crate) const fn tsc_invariant_mut(&mut self) -> &mut TscInvariantControl {
        &mut self.tsc_invariant
    }

    pub(crate) const fn set_crash(&mut self, index: usize, value: u64) {
        if index < self.crash.len() {
            self.crash[index] = value;
        }
    }
}

/// The per-VP synthetic MSRs: `HV_X64_MSR_VP_INDEX` (read-only, fixed at
/// creation) and `HV_X64_MSR_VP_ASSIST_PAGE`. (`HV_X64_MSR_VP_RUNTIME` is
/// the scheduler's, passed in [`MsrContext`].)
///
/// TLFS md `vp-properties.md` § Virtual Processor Indices: "The processor
/// index is assigned to the virtual processor when it is created, and it is
/// unchanged through the lifetime of the virtual processor"; § Virtual
/// Processor Assist Page: "a page per virtual processor".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VpMsrs {
    vp_index: u32,
    assist_page: HvVpAssistPageMsr,
}

impl VpMsrs {
    /// A new VP with index `vp_index` (unique in the partition:
    /// Requirements § Virtual Processor Index, "all VP indices must be
    /// unique") and its assist page disabled.
    #[must_use]
    pub const fn new(vp_index: u32) -> Self {
        Self {
            vp_index,
            assist_page: HvVpAssistPageMsr::new(),
        }
    }

    /// The VP index.
    #[must_use]
    pub const fn vp_index(&self) -> u32 {
        self.vp_index
    }

    /// `HV_X64_MSR_VP_ASSIST_PAGE` as the guest reads it.
    #[must_use]
    pub const fn assist_page_msr(&self) -> HvVpAssistPageMsr {
        self.assist_page
    }

    /// The GPA of the VP assist page, if it is enabled.
    #[must_use]
    pub const fn assist_page(&self) -> Option<u64> {
        if self.assist_page.enable() {
            Some(page_gpa(self.assist_page.gpn()))
        } else {
            None
        }
    }

    /// Back to the creation state (VP index kept). Returns the GPA of the
    /// assist page that was enabled, for the kernel to unmap.
    pub const fn reset(&mut self) -> Option<u64> {
        let page = self.assist_page();
        self.assist_page = HvVpAssistPageMsr::new();
        page
    }

    pub(crate) const fn set_assist_page(&mut self, value: HvVpAssistPageMsr) {
        self.assist_page = value;
    }
}

/// What the partition may access: the CPUID bits that gate synthetic MSRs,
/// and the size of its GPA space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsrPolicy {
    /// CPUID `0x40000003` EAX:EBX: the MSR privileges (TLFS 6.0b §4.2:
    /// "If this flag is cleared, accesses to this MSR results in a #GP
    /// fault").
    pub privileges: HvPartitionPrivilegeMask,
    /// CPUID `0x40000003` EDX: bit 10 `GuestCrashMsrsAvailable` gates the
    /// crash MSRs, bit 18 `HypercallMsrLockAvailable` the hypercall MSR's
    /// Locked bit, bits 12 and 23 NPIEP and the time-unhalted timer.
    pub features_edx: HvFeatureIdentificationEdx,
    /// Width of the GPA space in bits (the guest's MAXPHYADDR): overlay
    /// pages must lie below 2^`gpa_bits` ("If the guest attempts to move
    /// the hypercall page beyond the bounds of the GPA space, a #GP fault
    /// will result when the MSR is written"). Values above 64 count as 64.
    pub gpa_bits: u8,
}

impl MsrPolicy {
    /// The policy a guest reading `config`'s CPUID leaves is entitled to,
    /// for a GPA space of `gpa_bits` bits.
    #[must_use]
    pub const fn from_config(config: &Hv1Config, gpa_bits: u8) -> Self {
        Self {
            privileges: config.privileges,
            features_edx: config.features_edx,
            gpa_bits,
        }
    }

    /// Whether the page `gpn` lies entirely inside the GPA space.
    pub(crate) const fn page_in_space(&self, gpn: u64) -> bool {
        let bits = if self.gpa_bits > 64 {
            64
        } else {
            self.gpa_bits
        };
        // 128-bit: the end of the last 52-bit page number is 2^64.
        ((gpn as u128 + 1) << HV_PAGE_SHIFT) <= (1_u128 << bits)
    }
}

/// Values the kernel supplies for a read: the calling VP's run time and the
/// host TSC now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MsrContext {
    /// `HV_X64_MSR_VP_RUNTIME`: the VP's run time in 100 ns units ("the
    /// time the virtual processor consumes running guest code, and the time
    /// the associated logical processor spends running hypervisor code on
    /// behalf of that guest", TLFS md `vp-properties.md` § Virtual
    /// Processor Run Time Register).
    pub vp_runtime: u64,
    /// The host TSC, for `HV_X64_MSR_TIME_REF_COUNT`.
    pub tsc: u64,
}

/// A crash message the guest points at with P3 (GPA) and P4 (length).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CrashMessage {
    /// `HV_X64_MSR_CRASH_P3`: guest physical address of the message.
    pub gpa: u64,
    /// `HV_X64_MSR_CRASH_P4`, at most [`CRASH_MESSAGE_MAX`] (a larger value
    /// is clamped).
    pub len: u32,
}

/// The longest crash message: "the length in bytes of the message
/// (maximum of 4096 bytes)" (TLFS md `partition-properties.md` § Invoking
/// Guest Crash Capabilities).
pub const CRASH_MESSAGE_MAX: u32 = 4096;

/// What the kernel does after a successful write (and advancing RIP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Nothing beyond the new register value.
    None,
    /// Place, move or remove the hypercall overlay page
    /// ([`hypercall_page`](super::hypercall_page) bytes, read + execute).
    HypercallPage {
        /// The GPA to map it at, or `None` to leave it unmapped.
        enable: Option<u64>,
        /// The GPA it was mapped at before, to unmap (and restore what it
        /// covered: "it covers whatever else is mapped to the GPA range").
        previous: Option<u64>,
    },
    /// Place, move or remove this VP's assist overlay page (read/write for
    /// the guest: "The guest OS has read/write access to this virtual VP
    /// assist page", TLFS md `vp-properties.md`).
    AssistPage {
        /// The GPA to map it at, or `None`.
        enable: Option<u64>,
        /// The GPA it was mapped at before, or `None`.
        previous: Option<u64>,
    },
    /// Reset the partition (`HV_X64_MSR_RESET`); afterwards call
    /// [`PartitionMsrs::reset`] and [`VpMsrs::reset`].
    Reset,
    /// The guest crashed: log the crash parameters (and the message) for
    /// the root (TLFS md `partition-properties.md` § Partition Crash
    /// Enlightenment).
    CrashNotify {
        /// P0–P4 at the time of the notification.
        parameters: [u64; 5],
        /// The message, when CrashMessage accompanied CrashNotify.
        message: Option<CrashMessage>,
        /// CRASH_CTL bit 61 `NoCrashDump`: a crash dump will not be
        /// captured.
        no_crash_dump: bool,
        /// CRASH_CTL bits 60:58 `PreOSId`: the crash happened in the pre-OS
        /// environment.
        pre_os_id: u8,
    },
    /// Place, move or remove the partition's reference TSC overlay page
    /// (read-only for the guest; its contents are
    /// [`PartitionMsrs::reference_tsc_values`]).
    ReferenceTscPage {
        /// The GPA to map it at, or `None`: disabled, or enabled beyond
        /// the GPA space ("the reference TSC page will not be accessible
        /// to the guest", TLFS md `timers.md`).
        enable: Option<u64>,
        /// The GPA it was mapped at before, or `None`.
        previous: Option<u64>,
    },
    /// `HV_X64_MSR_TSC_INVARIANT_CONTROL` now exposes the invariant TSC:
    /// CPUID `0x80000007` changes.
    InvariantTscExposed,
    /// `HV_X64_MSR_GUEST_OS_ID` changed.
    GuestOsIdChanged {
        /// The old value.
        previous: u64,
        /// The new value.
        value: u64,
        /// The GPA of the hypercall page that a zero ID disabled ("if the
        /// Guest OS identity is cleared to zero after the hypercall page
        /// has been enabled, it will become disabled"): unmap it.
        hypercall_page_removed: Option<u64>,
    },
}

/// Why a synthetic MSR access does not complete here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MsrFault {
    /// Inject #GP(0); RIP stays on the RDMSR/WRMSR.
    GeneralProtection,
    /// The MSR belongs to a feature the partition is granted but that this
    /// module does not implement (SynIC, synthetic timers, APIC MSRs,
    /// guest idle, reenlightenment, NPIEP). The kernel hands the access to that feature's handler, and
    /// injects #GP if there is none.
    Forward,
}

impl MsrFault {
    /// The exception vector of [`GeneralProtection`](Self::GeneralProtection)
    /// (#GP = 13; error code 0).
    pub const GP_VECTOR: u8 = 13;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpa_space_bounds() {
        let policy = |gpa_bits| MsrPolicy {
            privileges: HvPartitionPrivilegeMask::new(),
            features_edx: HvFeatureIdentificationEdx::new(),
            gpa_bits,
        };
        // 4 GiB: the last page is 0xFFFFF.
        assert!(policy(32).page_in_space(0xF_FFFF));
        assert!(!policy(32).page_in_space(0x10_0000));
        assert!(policy(32).page_in_space(0));
        // 64 bits (and beyond): every 52-bit page number fits.
        assert!(policy(64).page_in_space((1 << 52) - 1));
        assert!(policy(200).page_in_space((1 << 52) - 1));
        // A 12-bit space holds exactly page 0.
        assert!(policy(12).page_in_space(0));
        assert!(!policy(11).page_in_space(0));
    }
}
