//! The Hv#1 CPUID leaves, against TLFS md `feature-discovery.md` and the
//! Requirements paper.

use tessera_hv1::cpuid::{
    HV1_MAX_LEAF, Hv1Config, SystemIdentity, VendorId, cpuid, is_hypervisor_leaf,
    with_hypervisor_present,
};
use tlfs::cpuid::HvCpuidResult;

fn leaf(config: &Hv1Config, leaf: u32) -> HvCpuidResult {
    cpuid(config, leaf, 0).unwrap_or_else(|| panic!("leaf {leaf:#x} implemented"))
}

fn regs(r: HvCpuidResult) -> [u32; 4] {
    [r.eax, r.ebx, r.ecx, r.edx]
}

#[test]
fn default_config_leaves() {
    let config = Hv1Config::default();
    // 0x40000000: max leaf and "Micr" "osof" "t Hv".
    assert_eq!(
        regs(leaf(&config, 0x4000_0000)),
        [0x4000_0006, 0x7263_694D, 0x666F_736F, 0x7648_2074]
    );
    // 0x40000001: "Hv#1", EBX–EDX reserved.
    assert_eq!(regs(leaf(&config, 0x4000_0001)), [0x3123_7648, 0, 0, 0]);
    // 0x40000002: build 0, version 0.1 (EBX 31:16 major, 15:0 minor).
    assert_eq!(regs(leaf(&config, 0x4000_0002)), [0, 0x0000_0001, 0, 0]);
    // 0x40000003: AccessHypercallMsrs (bit 5) and AccessVpIndex (bit 6).
    assert_eq!(regs(leaf(&config, 0x4000_0003)), [0x60, 0, 0, 0]);
    // 0x40000004: relaxed timing (bit 5); spinlock retries "never".
    assert_eq!(regs(leaf(&config, 0x4000_0004)), [0x20, 0xFFFF_FFFF, 0, 0]);
    // 0x40000005: 64 VPs; LPs and remapping vectors not exposed.
    assert_eq!(regs(leaf(&config, 0x4000_0005)), [64, 0, 0, 0]);
    // 0x40000006: no hardware features reported.
    assert_eq!(regs(leaf(&config, 0x4000_0006)), [0, 0, 0, 0]);
}

/// "On Microsoft hypervisors, this will be at least 0x40000005"; the max
/// leaf is the highest one implemented, and nothing above it is.
#[test]
fn max_leaf_is_the_highest_implemented() {
    let config = Hv1Config::default();
    assert_eq!(leaf(&config, 0x4000_0000).eax, HV1_MAX_LEAF);
    for l in 0x4000_0000..=HV1_MAX_LEAF {
        assert!(cpuid(&config, l, 0).is_some(), "{l:#x}");
    }
    for l in [
        HV1_MAX_LEAF + 1,
        0x4000_0009,
        0x4000_000A,
        0x4000_00FF,
        0x3FFF_FFFF,
        1,
        0,
    ] {
        assert_eq!(cpuid(&config, l, 0), None, "{l:#x}");
    }
    // No leaf has subleaves.
    assert_eq!(
        cpuid(&config, 0x4000_0003, 7),
        cpuid(&config, 0x4000_0003, 0)
    );
}

#[test]
fn hypervisor_present_bit() {
    assert_eq!(with_hypervisor_present(0), 0x8000_0000);
    assert_eq!(with_hypervisor_present(0x7FF8_3203), 0xFFF8_3203);
    assert!(is_hypervisor_leaf(0x4000_0000));
    assert!(is_hypervisor_leaf(0x4000_00FF));
    assert!(!is_hypervisor_leaf(0x4000_0100));
    assert!(!is_hypervisor_leaf(0x3FFF_FFFF));
}

#[test]
fn configured_leaves() {
    let mut config = Hv1Config {
        vendor_id: VendorId::new("TesseraHv").unwrap(),
        version: SystemIdentity {
            build_number: 0x4563,
            major_version: 10,
            minor_version: 0,
            service_pack: 2,
            service_branch: 0x12,
            service_number: 0x0134_5678,
        },
        max_virtual_processors: 240,
        max_logical_processors: 512,
        max_interrupt_remapping_vectors: 0x100,
        spinlock_retries: 0xFFF,
        implemented_physical_address_bits: 48,
        ..Hv1Config::default()
    };
    config.privileges = config
        .privileges
        .with_post_messages(true)
        .with_signal_events(true);
    config.features_edx = config
        .features_edx
        .with_xmm_registers_for_fast_hypercall_available(true)
        .with_fast_hypercall_output_available(true);
    config.features_ecx = config.features_ecx.with_invariant_mperf_available(true);
    config.hardware_features = config
        .hardware_features
        .with_second_level_address_translation_in_use(true);

    let l0 = leaf(&config, 0x4000_0000);
    let mut vendor = Vec::new();
    for r in [l0.ebx, l0.ecx, l0.edx] {
        vendor.extend_from_slice(&r.to_le_bytes());
    }
    assert_eq!(&vendor, b"TesseraHv\0\0\0");
    // The service number is 24 bits; its excess is dropped.
    assert_eq!(
        regs(leaf(&config, 0x4000_0002)),
        [0x4563, 0x000A_0000, 2, 0x1234_5678]
    );
    // PostMessages (36) and SignalEvents (37) are EBX bits 4 and 5;
    // EDX bits 4 and 15; ECX bit 5.
    assert_eq!(
        regs(leaf(&config, 0x4000_0003)),
        [0x60, 0x30, 1 << 5, 1 << 4 | 1 << 15]
    );
    assert_eq!(regs(leaf(&config, 0x4000_0004)), [0x20, 0xFFF, 48, 0]);
    assert_eq!(regs(leaf(&config, 0x4000_0005)), [240, 512, 0x100, 0]);
    assert_eq!(regs(leaf(&config, 0x4000_0006)), [1 << 3, 0, 0, 0]);
}
