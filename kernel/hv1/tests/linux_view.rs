//! The hypervisor CPUID leaves as Linux 6.1 reads them (arch/x86/kernel/
//! cpu/mshyperv.c, `ms_hyperv_platform` and `ms_hyperv_init_platform`;
//! arch/x86/kernel/kvm.c and xen for the other signatures it looks for):
//! with every `hv-*` name Tessera implements, Linux must pick Hyper-V,
//! find no other hypervisor, and be offered no privilege whose MSRs or
//! hypercalls are missing.

use tessera_hv1::cpuid::{Hv1Config, cpuid};
use tessera_hv1::hypercall::table::lookup;
use tlfs::HypercallCode;

/// What the `linux` deployment gives its partition: every feature name.
const FULL: &str = "hv-relaxed,hv-vpindex,hv-runtime,hv-time,hv-reset,hv-crash,hv-tlbflush,\
                    hv-tlbflush-ext,hv-xmm-input,hv-spinlocks=0x1fff,hv-frequencies,hv-tsc-invariant";

fn full() -> Hv1Config {
    Hv1Config::from_feature_list(FULL).unwrap()
}

#[test]
fn linux_finds_microsoft_hv() {
    let config = full();
    let range = cpuid(&config, 0x4000_0000, 0).unwrap();
    // HYPERV_CPUID_MIN..=HYPERV_CPUID_MAX and the vendor signature.
    assert!((0x4000_0005..=0x4000_FFFF).contains(&range.eax));
    let mut vendor = Vec::new();
    for r in [range.ebx, range.ecx, range.edx] {
        vendor.extend_from_slice(&r.to_le_bytes());
    }
    assert_eq!(vendor, b"Microsoft Hv");
    // ms_hyperv_platform also wants the hypercall MSRs (bit 5); the
    // Requirements add the VP index (bit 6).
    let features = cpuid(&config, 0x4000_0003, 0).unwrap();
    assert_eq!(features.eax & 0b110_0000, 0b110_0000);
    assert_eq!(
        cpuid(&config, 0x4000_0001, 0).unwrap().eax,
        u32::from_le_bytes(*b"Hv#1")
    );
}

#[test]
fn no_other_hypervisor_signature_is_answered() {
    // Linux looks for "KVMKVMKVM" and "XenVMMXenVMM" at every 0x100 step
    // from 0x40000000 (hypervisor_cpuid_base); Hv#1 answers only its own
    // range, and the kernel reads every other hypervisor leaf as zero.
    let config = full();
    for base in (0x4000_0100u32..=0x4FFF_FF00).step_by(0x100) {
        for offset in [0, 1, 3] {
            assert_eq!(
                cpuid(&config, base + offset, 0),
                None,
                "{:#x}",
                base + offset
            );
        }
    }
    for leaf in 0x4000_0007..=0x4000_00FF {
        assert_eq!(cpuid(&config, leaf, 0), None, "{leaf:#x}");
    }
}

#[test]
fn every_advertised_privilege_is_implemented() {
    let config = full();
    assert!(
        config.validate_implemented().is_empty(),
        "{:?}",
        config.validate_implemented()
    );
    let privileges = config.privileges.into_bits();
    // AccessPartitionId (EBX bit 1) would send Linux to HvCallGetPartitionId
    // (hv_get_partition_id), which the kernel does not implement.
    assert!(lookup(HypercallCode::GET_PARTITION_ID).is_none());
    assert_eq!(privileges & (1 << 33), 0, "AccessPartitionId");
    // PostMessages / SignalEvents (EBX 4, 5) would make Linux's vmbus post
    // messages; the SynIC (AccessSynicRegs, 2) and the synthetic timers
    // (3) do not exist yet.
    for bit in [2, 3, 36, 37] {
        assert_eq!(privileges & (1 << bit), 0, "privilege bit {bit}");
    }
    // The TSC page (9), the frequency MSRs (11, with EDX bit 8, which
    // Linux's ms_hyperv_init_platform also wants before it uses
    // hv_get_tsc_khz) and the invariant-TSC control (15) do.
    for bit in [9, 11, 15] {
        assert_ne!(privileges & (1 << bit), 0, "privilege bit {bit}");
    }
    assert_ne!(cpuid(&config, 0x4000_0003, 0).unwrap().edx & 1 << 8, 0);
    // The flush recommendations name calls the table has.
    for code in [0x0002u16, 0x0003, 0x0013, 0x0014] {
        assert!(lookup(HypercallCode(code)).is_some(), "{code:#06x}");
    }
}
