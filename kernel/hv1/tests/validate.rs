//! `Hv1Config::validate` against the rules of "Requirements for
//! Implementing the Microsoft Hypervisor Interface".

use tessera_hv1::cpuid::{Hv1Config, VP_LIMIT_UNLIMITED, Violation};
use tlfs::privilege::HvPartitionPrivilegeMask;

#[test]
fn default_config_is_valid() {
    let v = Hv1Config::default().validate();
    assert!(v.is_empty(), "{:?}", v.iter().collect::<Vec<_>>());
}

/// Requirements, CPUID.40000003:EAX: "Bit 5 AccessHypercallMsrs Must be
/// set", "Bit 6 AccessVpIndex Must be set".
#[test]
fn required_privileges() {
    let config = Hv1Config {
        privileges: HvPartitionPrivilegeMask::new(),
        ..Hv1Config::default()
    };
    let v = config.validate();
    assert_eq!(v.len(), 2);
    assert!(v.contains(Violation::MissingRequiredPrivilege {
        bit: 5,
        name: "AccessHypercallMsrs"
    }));
    assert!(v.contains(Violation::MissingRequiredPrivilege {
        bit: 6,
        name: "AccessVpIndex"
    }));
}

/// Requirements, CPUID.40000003:EBX: CreatePartitions, AccessPartitionId,
/// AccessMemoryPool, AdjustMessageBuffers, CreatePort, AccessStats,
/// CpuManagement, ConfigureProfiler "Must be clear".
#[test]
fn forbidden_privileges() {
    let base = Hv1Config::default();
    for (ebx_bit, name) in [
        (0, "CreatePartitions"),
        (1, "AccessPartitionId"),
        (2, "AccessMemoryPool"),
        (3, "AdjustMessageBuffers"),
        (6, "CreatePort"),
        (8, "AccessStats"),
        (12, "CpuManagement"),
        (13, "ConfigureProfiler"),
    ] {
        let bit = 32 + ebx_bit;
        let config = Hv1Config {
            privileges: HvPartitionPrivilegeMask::from_bits(base.privileges.into_bits() | 1 << bit),
            ..base
        };
        let v = config.validate();
        assert_eq!(
            v.iter().collect::<Vec<_>>(),
            vec![Violation::ForbiddenPrivilege { bit, name }],
            "{name}"
        );
    }
    // Optional ones are fine: PostMessages, SignalEvents, ConnectPort,
    // Debugging, and the later EnableExtendedHypercalls.
    let config = Hv1Config {
        privileges: base
            .privileges
            .with_post_messages(true)
            .with_signal_events(true)
            .with_connect_port(true)
            .with_debugging(true)
            .with_enable_extended_hypercalls(true)
            .with_access_synic_regs(true)
            .with_access_partition_reference_counter(true),
        ..base
    };
    assert!(config.validate().is_empty());
}

#[test]
fn reserved_privileges() {
    let base = Hv1Config::default();
    let config = Hv1Config {
        privileges: HvPartitionPrivilegeMask::from_bits(
            base.privileges.into_bits() | 1 << 12 | 1 << 63,
        ),
        ..base
    };
    assert_eq!(
        config.validate().iter().collect::<Vec<_>>(),
        vec![Violation::ReservedPrivilegeBits {
            bits: 1 << 12 | 1 << 63
        }]
    );
}

/// Requirements § Maximum Supported Virtual Processors: "a conforming
/// hypervisor reporting -1 in CPUID.40000005.EAX must not recommend these
/// hypercalls (i.e., CPUID.40000004.EAX:1-2 must be cleared)."
#[test]
fn unlimited_vps_forbid_flush_recommendations() {
    let base = Hv1Config {
        max_virtual_processors: VP_LIMIT_UNLIMITED,
        ..Hv1Config::default()
    };
    assert!(base.validate().is_empty());
    let local = Hv1Config {
        recommendations: base
            .recommendations
            .with_use_hypercall_for_local_flush(true),
        ..base
    };
    let remote = Hv1Config {
        recommendations: base
            .recommendations
            .with_use_hypercall_for_remote_flush(true),
        ..base
    };
    for config in [local, remote] {
        let v = config.validate();
        assert_eq!(
            v.iter().collect::<Vec<_>>(),
            vec![Violation::FlushRecommendedWithUnlimitedVps]
        );
        let text = v.iter().next().unwrap().to_string();
        assert!(text.contains("-1"), "{text}");
        assert!(
            text.contains("Maximum Supported Virtual Processors"),
            "{text}"
        );
    }
    // A finite limit with the recommendations is fine.
    let finite = Hv1Config {
        max_virtual_processors: 240,
        ..local
    };
    assert!(finite.validate().is_empty());
}

#[test]
fn every_violation_explains_itself() {
    let config = Hv1Config {
        privileges: HvPartitionPrivilegeMask::from_bits(!0x60),
        max_virtual_processors: VP_LIMIT_UNLIMITED,
        recommendations: Hv1Config::default()
            .recommendations
            .with_use_hypercall_for_local_flush(true),
        ..Hv1Config::default()
    };
    let v = config.validate();
    // 2 missing + 8 forbidden + reserved + flush.
    assert_eq!(v.len(), 12);
    for violation in v.iter() {
        assert!(!violation.explanation().is_empty());
        assert!(violation.to_string().len() > violation.explanation().len());
    }
}
