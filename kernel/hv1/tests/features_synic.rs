//! `hv-synic`, `hv-stimer` and `hv-stimer-direct`: served by the kernel
//! and the `synic` component (issue 14), with QEMU's CPUID bits, the
//! privileges of `HvCallPostMessage` and `HvCallSignalEvent` included.

use tessera_hv1::cpuid::{FeatureError, FeatureScope, Hv1Config, NOT_WIRED_FEATURES, cpuid};
use tessera_hv1::hypercall::HypercallPolicy;
use tessera_hv1::synthetic_msr::{
    MsrContext, MsrFault, MsrPolicy, PartitionMsrs, ReferenceCounter, VpMsrs, read,
};
use tlfs::HypercallCode;

const SYNIC: [&str; 3] = ["hv-synic", "hv-stimer", "hv-stimer-direct"];

fn regs(config: &Hv1Config, leaf: u32) -> [u32; 4] {
    let r = cpuid(config, leaf, 0).unwrap();
    [r.eax, r.ebx, r.ecx, r.edx]
}

fn modelled(names: &[&'static str]) -> Result<Hv1Config, FeatureError<'static>> {
    Hv1Config::from_features_in(names.iter().copied(), FeatureScope::Modelled)
}

/// The three names are a deployment's now; its `hv-synic` grants the
/// registers and both hypercalls, as QEMU's.
#[test]
fn accepted_for_deployments() {
    for name in SYNIC {
        assert!(!NOT_WIRED_FEATURES.iter().any(|(known, _)| *known == name));
    }
    let all =
        Hv1Config::from_features(["hv-time", "hv-synic", "hv-stimer", "hv-stimer-direct"]).unwrap();
    assert!(all.validate_implemented().is_empty());
    let time = 1 << 1 | 1 << 9;
    assert_eq!(
        regs(&all, 0x4000_0003),
        [0x60 | time | 1 << 2 | 1 << 3, 1 << 4 | 1 << 5, 0, 1 << 19]
    );
    // The dependencies hold in the kernel's scope too.
    assert_eq!(
        Hv1Config::from_features(["hv-stimer"]),
        Err(FeatureError::MissingDependency {
            name: "hv-stimer",
            requires: "hv-synic"
        })
    );
}

/// TLFS md `feature-discovery.md`: leaf `0x40000003` EAX bit 2
/// `AccessSynicRegs`, bit 3 `AccessSyntheticTimerRegs`, EBX bit 4
/// `PostMessages`, bit 5 `SignalEvents`, EDX bit 19 `DirectSyntheticTimers`.
/// QEMU (`target/i386/kvm/kvm.c`) sets the same: `HV_SYNIC_AVAILABLE`,
/// `HV_SYNTIMERS_AVAILABLE`, `HV_POST_MESSAGES | HV_SIGNAL_EVENTS` with the
/// SynIC, `HV_STIMER_DIRECT_MODE_AVAILABLE`.
#[test]
fn cpuid_bits() {
    let synic = modelled(&["hv-synic"]).unwrap();
    assert_eq!(
        regs(&synic, 0x4000_0003),
        [0x60 | 1 << 2, 1 << 4 | 1 << 5, 0, 0]
    );
    // (In this scope hv-time also grants the reference TSC page, bit 9.)
    let time = 1 << 1 | 1 << 9;
    let timers = modelled(&["hv-time", "hv-synic", "hv-stimer"]).unwrap();
    assert_eq!(
        regs(&timers, 0x4000_0003),
        [0x60 | time | 1 << 2 | 1 << 3, 1 << 4 | 1 << 5, 0, 0]
    );
    let direct = modelled(&["hv-time", "hv-synic", "hv-stimer", "hv-stimer-direct"]).unwrap();
    assert_eq!(
        regs(&direct, 0x4000_0003),
        [0x60 | time | 1 << 2 | 1 << 3, 1 << 4 | 1 << 5, 0, 1 << 19]
    );
    // Nothing recommended; the other leaves unchanged.
    assert_eq!(regs(&direct, 0x4000_0004)[0], 0);
    assert_eq!(
        modelled(&["hv-synic", "hv-synic=off"]).unwrap(),
        Hv1Config::minimal()
    );
}

#[test]
fn dependencies() {
    let requires = |name, requires| Err(FeatureError::MissingDependency { name, requires });
    assert_eq!(modelled(&["hv-stimer"]), requires("hv-stimer", "hv-synic"));
    assert_eq!(
        modelled(&["hv-synic", "hv-stimer"]),
        requires("hv-stimer", "hv-time")
    );
    assert_eq!(
        modelled(&["hv-time", "hv-synic", "hv-stimer-direct"]),
        requires("hv-stimer-direct", "hv-stimer")
    );
    assert_eq!(
        modelled(&["hv-time", "hv-synic", "hv-stimer", "hv-synic=off"]),
        requires("hv-stimer", "hv-synic")
    );
}

#[test]
fn the_kernel_serves_the_hypercalls() {
    let all = modelled(&["hv-time", "hv-synic", "hv-stimer", "hv-stimer-direct"]).unwrap();
    assert!(all.validate_modelled().is_empty());
    assert!(all.validate_implemented().is_empty());
    // Taking one away (Tessera's names) leaves the other.
    let posts_only = Hv1Config::from_features(["hv-synic", "hv-signal-events=off"]).unwrap();
    assert_eq!(regs(&posts_only, 0x4000_0003)[1], 1 << 4);
    assert!(posts_only.validate_implemented().is_empty());
}

#[test]
fn the_bits_open_the_msrs_and_hypercalls() {
    let all = modelled(&["hv-time", "hv-synic", "hv-stimer"]).unwrap();
    let policy = MsrPolicy::from_config(&all, 40);
    let minimal = MsrPolicy::from_config(&Hv1Config::minimal(), 40);
    let (partition, vp, context) = (
        PartitionMsrs::new(ReferenceCounter::new(0, core::num::NonZeroU64::MIN)),
        VpMsrs::new(0),
        MsrContext::default(),
    );
    for msr in [
        0x4000_0080,
        0x4000_0084,
        0x4000_0090,
        0x4000_009F,
        0x4000_00B0,
        0x4000_00B7,
    ] {
        // Granted: forwarded to where the SynIC lives; otherwise #GP.
        assert_eq!(
            read(msr, &partition, &vp, &policy, &context),
            Err(MsrFault::Forward)
        );
        assert_eq!(
            read(msr, &partition, &vp, &minimal, &context),
            Err(MsrFault::GeneralProtection)
        );
    }
    let hypercalls = HypercallPolicy::from_config(&all);
    assert!(hypercalls.privileges.post_messages());
    assert!(hypercalls.privileges.signal_events());
    assert!(hypercalls.advertised.contains(HypercallCode::POST_MESSAGE));
}
