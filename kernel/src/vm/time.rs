//! Time as a partition's Hv#1 interface gives it (TLFS md `timers.md`):
//! the reference TSC overlay page, the invariant-TSC bit of CPUID
//! `0x80000007`, and the reference counter's frequency. `tessera_hv1`
//! decides (`synthetic_msr`, `time`); this module applies.
//!
//! The guest TSC is the host TSC plus the VMCB's TSC offset, which starts
//! at 0 on every VP: the page's scale and offset are worked out for that
//! (`PartitionMsrs::reference_tsc_values`), and `HV_X64_MSR_TIME_REF_COUNT`
//! applies the same formula to the host TSC, so the page and the MSR agree
//! exactly on every VP and are monotonic across VPs (one host TSC,
//! synchronised across host CPUs). A guest that writes `IA32_TSC` moves
//! its own TSC away from that: the page then says "fall back to the MSR"
//! (`TscSequence` 0, TLFS md § Partition Reference TSC Mechanism) until
//! the partition is reset.
use crate::memory::physical_to_virtual;
use crate::state::Kernel;
use core::num::NonZeroU64;
use core::sync::atomic::{AtomicBool, Ordering};
use tessera_capability::{PartitionId, VpId};
use tessera_gpa_space::OverlayId;
use tessera_hv1::synthetic_msr::ReferenceCounter;
use tessera_hv1::time::frequencies::APIC_TIMER_HZ;
use tessera_hv1::time::reference_tsc::{PageStore, ReferenceTscValues, SEQUENCE_INVALID};
use tessera_hv1::time::tsc_invariant::TscInvariantControl;
use tessera_npt::GuestRights;

// What HV_X64_MSR_APIC_FREQUENCY reports is what the virtual local APIC's
// timer counts at.
const _: () = assert!(APIC_TIMER_HZ == tessera_lapic::timer::DEFAULT_APIC_HZ.get());

/// CPUID leaf whose EDX bit 8 is the invariant TSC.
const LEAF_POWER_MANAGEMENT: u32 = 0x8000_0007;

/// A new partition's reference counter: 0 now, at the TSC frequency the
/// kernel measured at boot.
pub fn reference_counter() -> ReferenceCounter {
    let hz = NonZeroU64::new(crate::arch::tsc::frequency_hz()).unwrap_or(NonZeroU64::MIN);
    ReferenceCounter::new(crate::arch::tsc::read(), hz)
}

/// The reference TSC page's first bytes for `values` (the rest of the
/// page is zero: `Reserved1`, `Reserved2`).
fn page_bytes(values: &ReferenceTscValues) -> [u8; 24] {
    let mut page = [0; 24];
    page[0..4].copy_from_slice(&values.sequence.to_le_bytes());
    page[8..16].copy_from_slice(&values.scale.to_le_bytes());
    page[16..24].copy_from_slice(&values.offset.to_le_bytes());
    page
}

/// The lock-free exits' view of the invariant-TSC control (`fast.rs`).
#[derive(Debug, Default)]
pub struct FastTime {
    invariant_tsc_exposed: AtomicBool,
}

impl FastTime {
    /// Kept in step with the partition's control (kernel lock held: one
    /// writer).
    pub fn set_invariant_tsc_exposed(&self, exposed: bool) {
        self.invariant_tsc_exposed.store(exposed, Ordering::Release);
    }

    /// CPUID `leaf` as the partition's invariant-TSC control shows it:
    /// with AccessTscInvariantControls, `0x80000007` EDX bit 8 is hidden
    /// until the guest sets the control's bit 0 (`tsc_invariant`); then
    /// (and without the privilege) it is the host's — the guest TSC runs
    /// at the host TSC's rate, so it is invariant exactly when that is.
    #[inline(always)]
    pub fn adjust_cpuid(
        &self,
        config: Option<&tessera_hv1::Hv1Config>,
        leaf: u32,
        regs: [u32; 4],
    ) -> [u32; 4] {
        let Some(config) = config else {
            return regs;
        };
        if leaf != LEAF_POWER_MANAGEMENT {
            return regs;
        }
        let control = if self.invariant_tsc_exposed.load(Ordering::Acquire) {
            let mut on = TscInvariantControl::new();
            // Bit 0 with the privilege: the write cannot fail.
            let _ = on.write(config.privileges, 1);
            on
        } else {
            TscInvariantControl::new()
        };
        let [eax, ebx, ecx, edx] = regs;
        [
            eax,
            ebx,
            ecx,
            control.leaf_80000007_edx(config.privileges, edx),
        ]
    }
}

impl Kernel {
    /// Places, moves or removes `partition`'s reference TSC page
    /// (`Effect::ReferenceTscPage`), read-only for the guest like the
    /// hypercall page (a write is #GP).
    pub fn apply_reference_tsc_page(
        &mut self,
        cpu: usize,
        vp: VpId,
        partition: PartitionId,
        enable: Option<u64>,
    ) {
        let id = OverlayId::ReferenceTscPage;
        let Some(gpa) = enable else {
            self.remove_overlay(partition, id, cpu);
            return;
        };
        let Some(values) = self.reference_tsc_values(partition) else {
            return;
        };
        let page = page_bytes(&values);
        if self
            .place_overlay(partition, id, gpa, &page, GuestRights::READ, cpu)
            .is_none()
        {
            guest_log!(
                self,
                partition,
                log::Level::Warn,
                "{}: no memory for the reference TSC page",
                self.vp_name(vp)
            );
        }
    }

    /// The page's values now: sequence 0 once a VP's TSC left the host's.
    fn reference_tsc_values(&self, partition: PartitionId) -> Option<ReferenceTscValues> {
        let target = self.partitions.get(partition)?;
        let state = target.hv1.as_ref()?;
        Some(if state.tsc_diverged {
            ReferenceTscValues::INVALID
        } else {
            state.msrs.reference_tsc_values()
        })
    }

    /// After a partition reset: the invariant-TSC bit hidden again (the
    /// MSRs were reset), and the page valid unless a VP's TSC is still one
    /// the guest moved (the VMCB's offset is the VP's and survives).
    pub fn reset_time(&mut self, partition: PartitionId, vps: &super::PartitionVps) {
        let diverged = vps.iter().any(|&vp| {
            self.vps
                .get(vp)
                .is_some_and(|record| record.vmcb.control.tsc_offset != 0)
        });
        if let Some(target) = self.partitions.get_mut(partition) {
            target.fast.time.set_invariant_tsc_exposed(false);
            if let Some(state) = target.hv1.as_mut() {
                state.tsc_diverged = diverged;
            }
        }
    }

    /// A VP of `partition` wrote `IA32_TSC`: its guest TSC no longer is
    /// the host's, so the page's scale and offset are wrong for it. The
    /// page (if placed) gets `TscSequence` 0, "no longer a reliable source
    /// of reference time", and keeps it until a partition reset.
    pub fn guest_tsc_written(&mut self, partition: PartitionId) {
        let Some(target) = self.partitions.get_mut(partition) else {
            return;
        };
        let Some(state) = target.hv1.as_mut() else {
            return;
        };
        if state.tsc_diverged {
            return;
        }
        state.tsc_diverged = true;
        let Some(frame) = target
            .space
            .overlays()
            .find(|overlay| overlay.id == OverlayId::ReferenceTscPage)
            .map(|overlay| overlay.frame)
        else {
            return;
        };
        let (offset, value, _) = PageStore::Sequence(SEQUENCE_INVALID).offset_and_bytes();
        let sequence = physical_to_virtual(frame + offset as u64).as_mut_ptr::<u32>();
        // The overlay's frame is the kernel's, mapped read-only into the
        // guest and alive while placed (the kernel lock is held); the
        // sequence is an aligned u32 the guest reads with plain loads.
        // SAFETY: an aligned store into a live kernel-owned frame.
        unsafe { core::ptr::write_volatile(sequence, value as u32) };
    }
}
