//! The CPUID fast path: the host's answer, with what a guest must not see
//! taken out.
//!
//! Hidden: SVM, VMX and SMX (no nested virtualisation), XSAVE and
//! everything that needs it (the kernel switches guest FPU state with
//! FXSAVE, and XCR0 is not virtualised), PKU, LA57 and CET (their CR4 bits
//! are refused), MONITOR/MWAIT (intercepted), the local APIC and x2APIC
//! (not emulated yet: an APIC access would be an unmapped GPA) and with
//! them ARAT (leaf 6: an APIC timer that always runs), the
//! performance-counter extensions (RDPMC and the counter MSRs #GP: no PMU
//! is virtualised) and MTRRs (`MTRRcap` 0xFE and the range registers #GP:
//! a feature whose MSR faults is a lie, and Linux 6.1 logs "unchecked MSR
//! access error" with a call trace for each). Set: the hypervisor bit
//! (leaf 1 ECX bit 31, which the Hv#1 interface requires, "Requirements
//! for Implementing the Microsoft Hypervisor Interface" §2.1). The APIC ID
//! fields are the VP index.
//!
//! The hypervisor leaves 0x40000000-0x4FFFFFFF read as zero until the Hv#1
//! leaves are built (TLFS §2.4), unless a route takes them.

/// A CPUID result: EAX, EBX, ECX, EDX.
pub type Regs = [u32; 4];

const EAX: usize = 0;
const EBX: usize = 1;
const ECX: usize = 2;
const EDX: usize = 3;

mod leaf1 {
    pub const ECX_MONITOR: u32 = 1 << 3;
    pub const ECX_VMX: u32 = 1 << 5;
    pub const ECX_SMX: u32 = 1 << 6;
    pub const ECX_FMA: u32 = 1 << 12;
    pub const ECX_X2APIC: u32 = 1 << 21;
    pub const ECX_XSAVE: u32 = 1 << 26;
    pub const ECX_OSXSAVE: u32 = 1 << 27;
    pub const ECX_AVX: u32 = 1 << 28;
    pub const ECX_F16C: u32 = 1 << 29;
    pub const ECX_HYPERVISOR: u32 = 1 << 31;
    pub const EDX_APIC: u32 = 1 << 9;
    pub const EDX_MTRR: u32 = 1 << 12;
}

/// Leaf 7 subleaf 0 EBX: AVX2 and the AVX-512 family depend on XSAVE; and
/// the features whose MSRs are not virtualised: IA32_TSC_ADJUST (1: MSR
/// 0x3B; KVM offers it, and under it Linux 6.1 read it at boot, took the
/// #GP and logged "unchecked MSR access error"), resource-director
/// monitoring and allocation (12, 15: 0xC8D-0xC8F and the mask MSRs).
const LEAF7_EBX_HIDDEN: u32 = 1 << 1
    | 1 << 5
    | 1 << 12
    | 1 << 15
    | 1 << 16
    | 1 << 17
    | 1 << 21
    | 1 << 26
    | 1 << 27
    | 1 << 28
    | 1 << 30
    | 1 << 31;
/// Leaf 7 subleaf 0 ECX: PKU, OSPKE, CET shadow stacks (7), LA57, and the
/// AVX-512 extensions.
const LEAF7_ECX_HIDDEN: u32 =
    1 << 1 | 1 << 3 | 1 << 4 | 1 << 6 | 1 << 7 | 1 << 11 | 1 << 12 | 1 << 14 | 1 << 16;
/// Leaf 7 subleaf 0 EDX: AVX-512 4VNNIW/4FMAPS, VP2INTERSECT, CET
/// indirect branch tracking (20), FP16, and the speculation-control MSRs
/// none of which is virtualised: IBRS/IBPB and STIBP (26, 27: SPEC_CTRL
/// 0x48, PRED_CMD 0x49), L1D_FLUSH (28: 0x10B), ARCH_CAPABILITIES (29:
/// 0x10A), CORE_CAPABILITIES (30: 0xCF), SSBD (31). KVM offers bits 26-29
/// to its guests on AMD hosts too; under it Linux 6.1 read 0x10A, took the
/// #GP and logged "unchecked MSR access error" with a call trace.
const LEAF7_EDX_HIDDEN: u32 = 1 << 2
    | 1 << 3
    | 1 << 8
    | 1 << 20
    | 1 << 23
    | 1 << 26
    | 1 << 27
    | 1 << 28
    | 1 << 29
    | 1 << 30
    | 1 << 31;
/// Leaf 0x80000008 EBX, AMD's own enumeration of MSRs not virtualised:
/// IRPERF (1: 0xC00000E9), IBPB (12: PRED_CMD), IBRS (14) and STIBP (15:
/// SPEC_CTRL), PPIN (23: 0xC00102F0/1), SSBD (24: SPEC_CTRL) and VIRT_SSBD
/// (25: VIRT_SPEC_CTRL 0xC001011F); and INVLPGB/TLBSYNC (3), which would
/// reach other CPUs' TLBs. The properties that need no MSR (CLZERO, the
/// "always on" and "not required" hints) stay.
const EXT8_EBX_HIDDEN: u32 =
    1 << 1 | 1 << 3 | 1 << 12 | 1 << 14 | 1 << 15 | 1 << 23 | 1 << 24 | 1 << 25;
/// Leaf 6 EAX bit 2: ARAT.
const LEAF6_EAX_ARAT: u32 = 1 << 2;
/// Leaf 0x80000001 ECX: SVM (bit 2), SKINIT (bit 12), the core, northbridge
/// and last-level-cache counter extensions (23, 24, 28).
const EXT1_ECX_HIDDEN: u32 = 1 << 2 | 1 << 12 | 1 << 23 | 1 << 24 | 1 << 28;
/// Leaf 0x80000001 EDX: MTRR (bit 12, AMD's copy of leaf 1's).
const EXT1_EDX_HIDDEN: u32 = 1 << 12;

/// The answer the kernel gives for `leaf`/`subleaf` on VP `vp_index`,
/// from the host's answer `host`.
pub fn filter(leaf: u32, subleaf: u32, host: Regs, vp_index: u32) -> Regs {
    let mut regs = host;
    match leaf {
        0x1 => {
            regs[ECX] &= !(leaf1::ECX_MONITOR
                | leaf1::ECX_VMX
                | leaf1::ECX_SMX
                | leaf1::ECX_FMA
                | leaf1::ECX_X2APIC
                | leaf1::ECX_XSAVE
                | leaf1::ECX_OSXSAVE
                | leaf1::ECX_AVX
                | leaf1::ECX_F16C);
            regs[ECX] |= leaf1::ECX_HYPERVISOR;
            regs[EDX] &= !(leaf1::EDX_APIC | leaf1::EDX_MTRR);
            regs[EBX] = (regs[EBX] & 0x00FF_FFFF) | (vp_index << 24);
        }
        0x5 | 0xD => regs = [0; 4],
        // ARAT ("APIC timer always running", Intel SDM Vol. 2A CPUID leaf
        // 6 EAX bit 2): a promise about an APIC timer, and no local APIC
        // is offered (leaf 1 EDX bit 9 is clear). Set again where the
        // virtual APIC is (its timer never stops: `tessera_lapic::cpuid`).
        0x6 => regs[EAX] &= !LEAF6_EAX_ARAT,
        0x7 if subleaf == 0 => {
            regs[EBX] &= !LEAF7_EBX_HIDDEN;
            regs[ECX] &= !LEAF7_ECX_HIDDEN;
            regs[EDX] &= !LEAF7_EDX_HIDDEN;
        }
        0x7 => regs = [0; 4],
        0xB | 0x1F => regs[EDX] = vp_index,
        0x4000_0000..=0x4FFF_FFFF => regs = [0; 4],
        0x8000_0001 => {
            regs[ECX] &= !EXT1_ECX_HIDDEN;
            regs[EDX] &= !EXT1_EDX_HIDDEN;
        }
        0x8000_0008 => regs[EBX] &= !EXT8_EBX_HIDDEN,
        // Architectural performance monitoring (Intel's leaf), SVM
        // features, the SEV/memory-encryption leaf, PerfMonV2.
        0xA | 0x8000_000A | 0x8000_001F | 0x8000_0022 => regs = [0; 4],
        _ => {}
    }
    let _ = EAX;
    regs
}

/// The leaves a guest asks most (vendor and maximum, features, extended
/// maximum and features), filtered once: their answer depends neither on
/// the subleaf nor on which host CPU is asked, apart from the initial APIC
/// ID in leaf 1 EBX, which `filter` replaces with the VP index anyway. The
/// fast path answers them from here without a host CPUID (which costs an
/// exit of its own under nested virtualisation). Like the kernel's state
/// rules (`guest_cpu`), this takes the host's CPUID to be the same on
/// every CPU and for the kernel's whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedLeaves {
    /// `filter`'s answers for VP 0, in the order of [`FixedLeaves::LEAVES`].
    answers: [Regs; 4],
}

impl FixedLeaves {
    /// The leaves kept; none is a hypervisor leaf (0x4000_0000-0x4FFF_FFFF),
    /// so a partition's Hv#1 leaves never hide behind them.
    pub const LEAVES: [u32; 4] = [0x0, 0x1, 0x8000_0000, 0x8000_0001];

    /// The leaves as `host(leaf)` (subleaf 0, any CPU) answers them.
    pub fn from_host(host: impl Fn(u32) -> Regs) -> Self {
        Self {
            answers: Self::LEAVES.map(|leaf| filter(leaf, 0, host(leaf), 0)),
        }
    }

    /// `filter(leaf, subleaf, host, vp_index)` for a kept leaf (any
    /// subleaf), `None` for the others.
    #[inline(always)]
    pub fn answer(&self, leaf: u32, vp_index: u32) -> Option<Regs> {
        Self::index(leaf).map(|index| self.answer_at(index, vp_index))
    }

    /// The position of `leaf` in [`FixedLeaves::LEAVES`], if it is kept.
    #[inline(always)]
    pub fn index(leaf: u32) -> Option<usize> {
        match leaf {
            0x0 => Some(0),
            0x1 => Some(1),
            0x8000_0000 => Some(2),
            0x8000_0001 => Some(3),
            _ => None,
        }
    }

    /// The answer for the kept leaf at `index` (from [`FixedLeaves::index`]).
    #[inline(always)]
    pub fn answer_at(&self, index: usize, vp_index: u32) -> Regs {
        let mut regs = self.answers[index & 3];
        if index == 1 {
            regs[EBX] = (regs[EBX] & 0x00FF_FFFF) | (vp_index << 24);
        }
        regs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Regs = [u32::MAX; 4];

    #[test]
    fn leaf_1_sets_the_hypervisor_bit_and_hides_what_is_not_virtualised() {
        let [_, ebx, ecx, edx] = filter(1, 0, [0, 0x00AB_CDEF, 0, u32::MAX], 3);
        assert_ne!(ecx & leaf1::ECX_HYPERVISOR, 0);
        assert_eq!(ebx >> 24, 3, "initial APIC ID is the VP index");
        assert_eq!(ebx & 0x00FF_FFFF, 0x00AB_CDEF);
        assert_eq!(edx & leaf1::EDX_APIC, 0);
        let [_, _, ecx, _] = filter(1, 0, ALL, 0);
        for hidden in [
            leaf1::ECX_MONITOR,
            leaf1::ECX_VMX,
            leaf1::ECX_X2APIC,
            leaf1::ECX_XSAVE,
            leaf1::ECX_OSXSAVE,
            leaf1::ECX_AVX,
        ] {
            assert_eq!(ecx & hidden, 0, "{hidden:#x}");
        }
        // What is not hidden stays: SSE3 (bit 0), SSE4.2 (bit 20).
        assert_ne!(ecx & 1, 0);
        assert_ne!(ecx & (1 << 20), 0);
    }

    #[test]
    fn svm_and_the_xsave_leaf_are_hidden() {
        assert_eq!(filter(0x8000_0001, 0, ALL, 0)[ECX] & (1 << 2), 0);
        assert_eq!(filter(0x8000_000A, 0, ALL, 0), [0; 4]);
        assert_eq!(filter(0xD, 1, ALL, 0), [0; 4]);
        assert_eq!(filter(0x4000_0000, 0, ALL, 0), [0; 4]);
        assert_eq!(filter(7, 0, ALL, 0)[EBX] & (1 << 5), 0, "AVX2");
        assert_eq!(filter(7, 0, ALL, 0)[ECX] & (1 << 16), 0, "LA57");
        assert_eq!(filter(7, 0, ALL, 0)[ECX] & (1 << 7), 0, "CET shadow stacks");
        assert_eq!(
            filter(0x8000_0001, 0, ALL, 0)[ECX] & (1 << 23),
            0,
            "PerfCtrExtCore"
        );
        assert_eq!(filter(0x8000_0022, 0, ALL, 0), [0; 4], "PerfMonV2");
    }

    #[test]
    fn features_whose_msrs_fault_are_hidden() {
        // MTRRcap (0xFE) raises #GP in a guest, so MTRRs must not be
        // advertised. RDTSCP and RDPID stay: TSC_AUX is the VP's own.
        assert_eq!(filter(1, 0, ALL, 0)[EDX] & (1 << 12), 0, "MTRR");
        assert_eq!(filter(0x8000_0001, 0, ALL, 0)[EDX] & (1 << 12), 0, "MTRR");
        assert_ne!(filter(0x8000_0001, 0, ALL, 0)[EDX] & (1 << 27), 0, "RDTSCP");
        assert_ne!(filter(7, 0, ALL, 0)[ECX] & (1 << 22), 0, "RDPID");
        // Their neighbours stay: PGE (leaf 1 EDX 13), NX (0x80000001 EDX
        // 20), long mode (29).
        assert_ne!(filter(1, 0, ALL, 0)[EDX] & (1 << 13), 0);
        assert_ne!(filter(0x8000_0001, 0, ALL, 0)[EDX] & (1 << 20 | 1 << 29), 0);
    }

    #[test]
    fn no_always_running_apic_timer_without_an_apic() {
        let leaf6 = filter(6, 0, ALL, 0);
        assert_eq!(leaf6[EAX] & LEAF6_EAX_ARAT, 0, "ARAT");
        assert_eq!(leaf6[EAX] | LEAF6_EAX_ARAT, ALL[EAX], "only ARAT");
        assert_eq!(filter(1, 0, ALL, 0)[EDX] & leaf1::EDX_APIC, 0, "APIC");
    }

    #[test]
    fn other_leaves_pass_unchanged() {
        let vendor = [0xD, 0x6874_7541, 0x444D_4163, 0x6974_6E65];
        assert_eq!(filter(0, 0, vendor, 5), vendor);
        let sizes = filter(0x8000_0008, 0, ALL, 0);
        assert_eq!(
            [sizes[EAX], sizes[ECX], sizes[EDX]],
            [ALL[EAX], ALL[ECX], ALL[EDX]]
        );
    }

    #[test]
    fn features_of_unvirtualised_msrs_are_not_advertised() {
        let leaf7 = filter(7, 0, ALL, 0)[EDX];
        for (bit, what) in [
            (26, "IBRS/IBPB"),
            (27, "STIBP"),
            (28, "L1D_FLUSH"),
            (29, "ARCH_CAPABILITIES"),
            (30, "CORE_CAPABILITIES"),
            (31, "SSBD"),
        ] {
            assert_eq!(leaf7 & (1 << bit), 0, "{what}");
        }
        let leaf7_ebx = filter(7, 0, ALL, 0)[EBX];
        for (bit, what) in [(1, "TSC_ADJUST"), (12, "RDT-M"), (15, "RDT-A")] {
            assert_eq!(leaf7_ebx & (1 << bit), 0, "{what}");
        }
        let ext8 = filter(0x8000_0008, 0, ALL, 0)[EBX];
        for (bit, what) in [
            (1, "IRPERF"),
            (3, "INVLPGB"),
            (12, "IBPB"),
            (14, "IBRS"),
            (15, "STIBP"),
            (23, "PPIN"),
            (24, "SSBD"),
            (25, "VIRT_SSBD"),
        ] {
            assert_eq!(ext8 & (1 << bit), 0, "{what}");
        }
        // CLZERO (0) and "SSBD not required" (26) need no MSR.
        assert_eq!(ext8 & (1 << 0 | 1 << 26), 1 << 0 | 1 << 26);
    }

    /// A host whose every leaf answers differently, and differently from
    /// the other CPU's only in leaf 1's initial APIC ID.
    fn host(cpu: u32) -> impl Fn(u32, u32) -> Regs {
        move |leaf, subleaf| {
            let seed = leaf.rotate_left(7) ^ 0x9E37_79B9;
            let mut regs = [seed, seed.wrapping_mul(3), !seed, seed ^ 0x5555_5555];
            if leaf == 1 {
                regs[EBX] = (regs[EBX] & 0x00FF_FFFF) | (cpu << 24);
            }
            if matches!(leaf, 4 | 7 | 0xB | 0xD | 0x1F) {
                regs[EAX] ^= subleaf;
            }
            regs
        }
    }

    #[test]
    fn fixed_leaves_answer_as_the_filter_does_on_any_cpu() {
        let fixed = FixedLeaves::from_host(|leaf| host(0)(leaf, 0));
        for leaf in FixedLeaves::LEAVES {
            assert!(!(0x4000_0000..=0x4FFF_FFFF).contains(&leaf));
            for (cpu, subleaf, vp) in [(0, 0, 0), (1, 0, 5), (3, 7, 255), (2, 1, 300)] {
                assert_eq!(
                    fixed.answer(leaf, vp),
                    Some(filter(leaf, subleaf, host(cpu)(leaf, subleaf), vp)),
                    "leaf {leaf:#x} cpu {cpu} subleaf {subleaf} vp {vp}"
                );
            }
        }
        assert_eq!(fixed.answer(1, 9).map(|regs| regs[EBX] >> 24), Some(9));
        for leaf in [
            2,
            4,
            7,
            0xB,
            0x4000_0000,
            0x4000_0001,
            0x8000_0002,
            0x8000_001E,
        ] {
            assert_eq!(fixed.answer(leaf, 0), None, "leaf {leaf:#x}");
        }
    }
}
