//! What CPUID advertises: the partition configuration every other check
//! derives its expectations from.
//!
//! TLFS md `feature-discovery.md` § Microsoft Hypervisor CPUID Leaves;
//! `datatypes/hv_partition_privilege_mask.md`; Requirements § Hypervisor
//! CPUID Leaves.

use tessera_guest_framework::Suite;
use tessera_guest_framework::cpu::{self, Cpuid};
use tlfs::cpuid::{
    CPUID_1_ECX_HYPERVISOR_PRESENT, HV_CPUID_INTERFACE_SIGNATURE_HV1, HvCpuidLeaf,
    HvFeatureIdentificationEdx, HvImplementationRecommendationsEax,
};
use tlfs::privilege::HvPartitionPrivilegeMask;

use crate::memory;

/// The hypervisor CPUID leaves and what they grant.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Leaf 1 ECX.
    pub leaf1_ecx: u32,
    /// Leaves 0x40000000 to 0x40000006, in order.
    pub leaves: [Cpuid; 7],
    /// Leaf 0x40000003 EAX:EBX.
    pub privileges: HvPartitionPrivilegeMask,
    /// Leaf 0x40000003 EDX.
    pub features: HvFeatureIdentificationEdx,
    /// Leaf 0x40000004 EAX.
    pub recommendations: HvImplementationRecommendationsEax,
    /// The guest's physical-address width (CPUID 0x80000008).
    pub physical_address_bits: u32,
}

impl Config {
    pub fn read() -> Self {
        let leaves = core::array::from_fn(|i| cpu::cpuid(HvCpuidLeaf::LEAF_RANGE.0 + i as u32, 0));
        let features = leaves[3];
        Self {
            leaf1_ecx: cpu::cpuid(1, 0).ecx,
            leaves,
            privileges: HvPartitionPrivilegeMask::from_cpuid(features.eax, features.ebx),
            features: HvFeatureIdentificationEdx::from_bits(features.edx),
            recommendations: HvImplementationRecommendationsEax::from_bits(leaves[4].eax),
            physical_address_bits: memory::physical_address_bits(),
        }
    }

    /// Leaf `0x4000000n`.
    #[must_use]
    pub fn leaf(&self, n: usize) -> Cpuid {
        self.leaves[n]
    }

    /// A hypervisor is present and speaks `Hv#1`: the rest of the checks
    /// make sense.
    #[must_use]
    pub fn is_hv1(&self) -> bool {
        self.leaf1_ecx & CPUID_1_ECX_HYPERVISOR_PRESENT != 0
            && self.leaves[1].eax == HV_CPUID_INTERFACE_SIGNATURE_HV1
    }

    /// The lowest GPA beyond the guest-physical address space: the TLFS's
    /// "bounds of the GPA space" as the architecture draws them.
    #[must_use]
    pub fn beyond_gpa_space(&self) -> u64 {
        1 << self.physical_address_bits.min(63)
    }

    /// HvCallFlushVirtualAddressSpace/List are offered: the guest is told
    /// to use them for local or remote flushes (CPUID 0x40000004 EAX bits 1
    /// and 2; TLFS md `virtual-mmu.md` § Virtual TLB Enhancements).
    #[must_use]
    pub fn flush_calls(&self) -> bool {
        let r = self.recommendations;
        r.use_hypercall_for_local_flush() || r.use_hypercall_for_remote_flush()
    }

    /// The …Ex calls with an HV_VP_SET are offered (UseExProcessorMasks,
    /// CPUID 0x40000004 EAX bit 11; TLFS md
    /// `hypercalls/HvCallFlushVirtualAddressSpaceEx.md`).
    #[must_use]
    pub fn ex_calls(&self) -> bool {
        self.recommendations.use_ex_processor_masks()
    }

    /// Prints the `# config:` lines.
    pub fn note(&self, suite: &mut Suite) {
        let [
            range,
            interface,
            _,
            features,
            recommendations,
            limits,
            hardware,
        ] = self.leaves;
        suite.note(format_args!(
            "config: hypervisor bit {}, max leaf {:#x}, interface {:#x}, privileges {:#018x}, features ecx {:#x} edx {:#x}, recommendations {:#x}, spin retries {:#x}, VP limit {:#x}, hardware {:#x}, MAXPHYADDR {}",
            u32::from(self.leaf1_ecx & CPUID_1_ECX_HYPERVISOR_PRESENT != 0),
            range.eax,
            interface.eax,
            self.privileges.into_bits(),
            features.ecx,
            features.edx,
            recommendations.eax,
            recommendations.ebx,
            limits.eax,
            hardware.eax,
            self.physical_address_bits,
        ));
        let mut on = Names::default();
        let mut off = Names::default();
        for (name, advertised) in self.feature_list() {
            if advertised {
                on.push(name);
            } else {
                off.push(name);
            }
        }
        suite.note(format_args!("config: advertised:{}", on));
        suite.note(format_args!("config: not advertised:{}", off));
    }

    /// The features this guest checks either way, with whether CPUID
    /// advertises them.
    #[must_use]
    pub fn feature_list(&self) -> [(&'static str, bool); 23] {
        let p = self.privileges;
        let f = self.features;
        let r = self.recommendations;
        [
            ("VpRuntime", p.access_vp_run_time_reg()),
            ("RefCounter", p.access_partition_reference_counter()),
            ("SynicRegs", p.access_synic_regs()),
            ("StimerRegs", p.access_synthetic_timer_regs()),
            ("ApicMsrs", p.access_intr_ctrl_regs()),
            ("ResetMsr", p.access_reset_reg()),
            ("RefTsc", p.access_partition_reference_tsc()),
            ("GuestIdle", p.access_guest_idle_reg()),
            ("FreqMsrs", p.access_frequency_regs()),
            ("TscInvCtl", p.access_tsc_invariant_controls()),
            ("PostMessages", p.post_messages()),
            ("SignalEvents", p.signal_events()),
            ("ExtCalls", p.enable_extended_hypercalls()),
            ("CrashMsrs", f.guest_crash_msrs_available()),
            ("XmmInput", f.xmm_registers_for_fast_hypercall_available()),
            ("XmmOutput", f.fast_hypercall_output_available()),
            ("MsrLock", f.hypercall_msr_lock_available()),
            ("Npiep", f.npiep_available()),
            ("SwitchCall", r.use_hypercall_for_address_space_switch()),
            ("FlushCalls", self.flush_calls()),
            ("ExMasks", self.ex_calls()),
            ("ClusterIpi", r.use_synthetic_cluster_ipi()),
            ("RelaxedTiming", r.use_relaxed_timing()),
        ]
    }
}

/// Space-separated names, formatted without an allocator.
#[derive(Default)]
struct Names {
    names: [&'static str; 32],
    len: usize,
}

impl Names {
    fn push(&mut self, name: &'static str) {
        if let Some(slot) = self.names.get_mut(self.len) {
            *slot = name;
            self.len += 1;
        }
    }
}

impl core::fmt::Display for Names {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.len == 0 {
            return f.write_str(" (none)");
        }
        for name in &self.names[..self.len] {
            write!(f, " {name}")?;
        }
        Ok(())
    }
}
