//! The hypervisor CPUID leaves `0x40000000`–`0x40000006` of a partition.

use tlfs::cpuid::{
    CPUID_1_ECX_HYPERVISOR_PRESENT, HV_CPUID_INTERFACE_SIGNATURE_HV1, HvCpuidLeaf, HvCpuidResult,
    HvImplementationRecommendationsEcx, HvSystemIdentityEbx, HvSystemIdentityEdx,
};

use super::config::Hv1Config;

/// The highest leaf Tessera implements, reported in leaf `0x40000000` EAX.
///
/// `0x40000006` (implementation hardware features) is the last leaf the
/// Requirements list; `0x40000007`/`0x40000008` are root-partition leaves
/// (TLFS 6.0b §2.4), and `0x40000009`/`0x4000000A` describe nested
/// virtualization, which Tessera does not offer. It is above the minimum
/// `0x40000005` that guests check for (TLFS md `feature-discovery.md` §
/// Hypervisor CPUID Leaf Range; `hypercall-interface.md` § Establishing the
/// Hypercall Interface, step 2).
pub const HV1_MAX_LEAF: u32 = 0x4000_0006;

const _: () = assert!(HV1_MAX_LEAF >= tlfs::cpuid::HV_CPUID_MIN_MAX_LEAF);

/// Whether `leaf` is in the range reserved for hypervisors,
/// `0x40000000`–`0x400000FF` (Requirements § Determining Hypervisor
/// Capabilities; TLFS md: leaf `0x40000001` "determines the semantics of
/// the leaves from 0x40000002 through 0x400000FF").
#[must_use]
pub const fn is_hypervisor_leaf(leaf: u32) -> bool {
    leaf & 0xFFFF_FF00 == 0x4000_0000
}

/// Leaf 1 ECX with the hypervisor-present bit (31) set.
///
/// TLFS md `feature-discovery.md` § Hypervisor Discovery; Requirements §
/// Detecting the Presence of a Hypervisor ("A hypervisor conformant with
/// the Microsoft hypervisor interface will set CPUID.1:ECX \[bit 31\] = 1").
#[must_use]
pub const fn with_hypervisor_present(leaf1_ecx: u32) -> u32 {
    leaf1_ecx | CPUID_1_ECX_HYPERVISOR_PRESENT
}

/// The value of hypervisor leaf `leaf` for a partition configured by
/// `config`, or `None` for a leaf Tessera does not implement (anything
/// outside `0x40000000..=HV1_MAX_LEAF`; the kernel answers those as it
/// does any unimplemented leaf, with zeros in the hypervisor range). None
/// of these leaves has subleaves, so `subleaf` (ECX) is ignored.
///
/// Leaf contents: TLFS md `feature-discovery.md` § Microsoft Hypervisor
/// CPUID Leaves and Requirements § Hypervisor CPUID Leaves; reserved
/// registers are zero.
#[must_use]
pub fn cpuid(config: &Hv1Config, leaf: u32, subleaf: u32) -> Option<HvCpuidResult> {
    let _ = subleaf;
    let leaf = HvCpuidLeaf(leaf);
    let r = |eax, ebx, ecx, edx| Some(HvCpuidResult { eax, ebx, ecx, edx });
    match leaf {
        HvCpuidLeaf::LEAF_RANGE => {
            let [ebx, ecx, edx] = config.vendor_id.registers();
            r(HV1_MAX_LEAF, ebx, ecx, edx)
        }
        // EBX–EDX "Reserved".
        HvCpuidLeaf::INTERFACE => r(HV_CPUID_INTERFACE_SIGNATURE_HV1, 0, 0, 0),
        HvCpuidLeaf::SYSTEM_IDENTITY => {
            let v = &config.version;
            let ebx = HvSystemIdentityEbx::new()
                .with_major_version(v.major_version)
                .with_minor_version(v.minor_version);
            let edx = HvSystemIdentityEdx::new()
                .with_service_branch(v.service_branch)
                .with_service_number(v.service_number & 0x00FF_FFFF);
            r(
                v.build_number,
                ebx.into_bits(),
                v.service_pack,
                edx.into_bits(),
            )
        }
        HvCpuidLeaf::FEATURE_IDENTIFICATION => r(
            config.privileges.cpuid_eax(),
            config.privileges.cpuid_ebx(),
            config.features_ecx.into_bits(),
            config.features_edx.into_bits(),
        ),
        HvCpuidLeaf::IMPLEMENTATION_RECOMMENDATIONS => {
            let ecx = HvImplementationRecommendationsEcx::new()
                .with_implemented_physical_address_bits(
                    config.implemented_physical_address_bits & 0x7F,
                );
            // EDX "Reserved".
            r(
                config.recommendations.into_bits(),
                config.spinlock_retries,
                ecx.into_bits(),
                0,
            )
        }
        // EDX "Reserved".
        HvCpuidLeaf::IMPLEMENTATION_LIMITS => r(
            config.max_virtual_processors,
            config.max_logical_processors,
            config.max_interrupt_remapping_vectors,
            0,
        ),
        // EBX–EDX "Reserved".
        HvCpuidLeaf::HARDWARE_FEATURES => r(config.hardware_features.into_bits(), 0, 0, 0),
        _ => None,
    }
}
