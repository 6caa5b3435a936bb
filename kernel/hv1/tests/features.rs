//! `Hv1Config` from QEMU-style feature names, and the check that a
//! configuration advertises only what Tessera implements.

use tessera_hv1::cpuid::{
    CpuidRegister, FeatureError, Hv1Config, SUPPORTED_FEATURES, VP_LIMIT_UNLIMITED, VendorId,
    Violation, cpuid,
};
use tessera_hv1::dispatch::DispatchPolicy;
use tessera_hv1::synthetic_msr::MsrPolicy;
use tlfs::HypercallCode;
use tlfs::cpuid::HV_SPIN_WAIT_NEVER_NOTIFY;
use tlfs::privilege::HvPartitionPrivilegeMask;

fn regs(config: &Hv1Config, leaf: u32) -> [u32; 4] {
    let r = cpuid(config, leaf, 0).unwrap();
    [r.eax, r.ebx, r.ecx, r.edx]
}

/// The empty list is the Requirements' minimal interface: leaf 0x40000003
/// EAX = AccessHypercallMsrs | AccessVpIndex (bits 5, 6), nothing
/// recommended, spinlock notification off.
#[test]
fn empty_list_is_minimal() {
    let config = Hv1Config::from_features([]).unwrap();
    assert_eq!(config, Hv1Config::minimal());
    assert_eq!(regs(&config, 0x4000_0003), [0x60, 0, 0, 0]);
    assert_eq!(
        regs(&config, 0x4000_0004),
        [0, HV_SPIN_WAIT_NEVER_NOTIFY, 0, 0]
    );
    assert!(config.validate_implemented().is_empty());
    // The default (minimal + relaxed timing) is implemented too.
    assert!(Hv1Config::default().validate_implemented().is_empty());
    assert_eq!(Hv1Config::from_feature_list("").unwrap(), config);
    assert_eq!(Hv1Config::from_feature_list(" , ,").unwrap(), config);
}

/// Each name's CPUID bits (TLFS md `feature-discovery.md`).
#[test]
fn each_feature() {
    let one = |name| Hv1Config::from_features([name]).unwrap();
    // hv-relaxed: 0x40000004 EAX bit 5.
    assert_eq!(regs(&one("hv-relaxed"), 0x4000_0004)[0], 1 << 5);
    // hv-vpindex: already there.
    assert_eq!(one("hv-vpindex"), Hv1Config::minimal());
    // hv-runtime: privilege bit 0.
    assert_eq!(regs(&one("hv-runtime"), 0x4000_0003)[0], 0x61);
    // hv-time: the reference counter (bit 1) and the reference TSC page
    // (bit 9), as in QEMU.
    assert_eq!(regs(&one("hv-time"), 0x4000_0003)[0], 0x62 | 1 << 9);
    // hv-frequencies: AccessFrequencyRegs (EAX bit 11), EDX bit 8
    // TimerFrequenciesAvailable.
    assert_eq!(
        regs(&one("hv-frequencies"), 0x4000_0003),
        [0x60 | 1 << 11, 0, 0, 1 << 8]
    );
    // hv-tsc-invariant: AccessTscInvariantControls (EAX bit 15).
    assert_eq!(
        regs(&one("hv-tsc-invariant"), 0x4000_0003)[0],
        0x60 | 1 << 15
    );
    // Each undone by =off.
    for name in ["hv-time", "hv-frequencies", "hv-tsc-invariant"] {
        let off = format!("{name}=off");
        assert_eq!(
            Hv1Config::from_features([name, off.as_str()]).unwrap(),
            Hv1Config::minimal(),
            "{name}"
        );
    }
    // Bad values are refused.
    for bad in ["hv-time=2", "hv-frequencies=maybe", "hv-tsc-invariant="] {
        assert!(
            matches!(
                Hv1Config::from_features([bad]),
                Err(FeatureError::InvalidValue { .. })
            ),
            "{bad}: {:?}",
            Hv1Config::from_features([bad])
        );
    }
    // hv-reset: bit 7.
    assert_eq!(regs(&one("hv-reset"), 0x4000_0003)[0], 0xE0);
    // hv-crash: EDX bit 10.
    assert_eq!(regs(&one("hv-crash"), 0x4000_0003)[3], 1 << 10);
    // hv-xmm-input: EDX bit 4.
    assert_eq!(regs(&one("hv-xmm-input"), 0x4000_0003)[3], 1 << 4);
    // hv-tlbflush: remote flush (2) and ExProcessorMasks (11).
    assert_eq!(regs(&one("hv-tlbflush"), 0x4000_0004)[0], 1 << 2 | 1 << 11);
    // hv-enforce-cpuid: nothing to change.
    assert_eq!(one("hv-enforce-cpuid"), Hv1Config::minimal());
}

#[test]
fn a_full_list() {
    let config = Hv1Config::from_feature_list(
        "hv-relaxed,hv-vpindex,hv-runtime,hv-time,hv-reset,hv-crash,hv-tlbflush,\
         hv-tlbflush-ext,hv-xmm-input,hv-spinlocks=0x1fff,hv-vendor-id=TesseraHv,\
         hv-version-id-build=19041,hv-version-id-major=10,hv-version-id-minor=0,\
         hv-version-id-spack=2,hv-version-id-sbranch=0x12,hv-version-id-snumber=0x345678",
    )
    .unwrap();
    assert!(config.validate_implemented().is_empty());
    assert_eq!(
        regs(&config, 0x4000_0003),
        [0xE3 | 1 << 9, 0, 0, 1 << 4 | 1 << 10 | 1 << 14]
    );
    assert_eq!(
        regs(&config, 0x4000_0004),
        [1 << 2 | 1 << 5 | 1 << 11, 0x1FFF, 0, 0]
    );
    assert_eq!(config.vendor_id, VendorId::new("TesseraHv").unwrap());
    assert_eq!(
        regs(&config, 0x4000_0002),
        [19041, 10 << 16, 2, 0x1234_5678]
    );
    // The dispatcher and MSR policies follow.
    let dispatch = DispatchPolicy::from_config(&config);
    assert!(dispatch.extended_gva_ranges);
    assert!(dispatch.hypercalls.xmm_fast_input);
    assert!(
        dispatch
            .hypercalls
            .advertised
            .contains(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX)
    );
    let msr = MsrPolicy::from_config(&config, 40);
    assert!(msr.features_edx.guest_crash_msrs_available());
    assert!(msr.privileges.access_reset_reg());
}

#[test]
fn booleans_and_order() {
    let config = Hv1Config::from_features(["hv-relaxed", "hv-relaxed=off"]).unwrap();
    assert!(!config.recommendations.use_relaxed_timing());
    for on in ["on", "yes", "true"] {
        let config = Hv1Config::from_features([format!("hv-crash={on}").as_str()]).unwrap();
        assert!(config.features_edx.guest_crash_msrs_available(), "{on}");
    }
    let config = Hv1Config::from_features(["hv-tlbflush", "hv-tlbflush=no"]).unwrap();
    assert_eq!(config.recommendations.into_bits(), 0);
    assert_eq!(
        Hv1Config::from_features(["hv-crash=maybe"]),
        Err(FeatureError::InvalidValue {
            name: "hv-crash",
            value: "maybe",
            expected: "on or off"
        })
    );
    // Whitespace around a name is ignored.
    assert!(Hv1Config::from_features(["  hv-runtime "]).is_ok());
}

#[test]
fn spinlocks() {
    let retries = |v: &str| {
        Hv1Config::from_features([format!("hv-spinlocks={v}").as_str()])
            .map(|c| c.spinlock_retries)
            .map_err(|e| e.to_string())
    };
    assert_eq!(retries("0xFFF"), Ok(0xFFF));
    assert_eq!(retries("4095"), Ok(4095));
    assert_eq!(retries("0x1fff"), Ok(0x1FFF));
    assert_eq!(retries("0xffffffff"), Ok(HV_SPIN_WAIT_NEVER_NOTIFY));
    // QEMU's minimum is 0xFFF; 0 would also be ambiguous ("should not
    // notify" in vp-properties.md).
    for bad in ["0", "0xFFE", "0x100000000", "-1", "+4096", "lots", "0x", ""] {
        let err = retries(bad).unwrap_err();
        assert!(err.contains("hv-spinlocks"), "{bad}: {err}");
    }
    assert_eq!(
        Hv1Config::from_features(["hv-spinlocks"]),
        Err(FeatureError::MissingValue {
            name: "hv-spinlocks"
        })
    );
}

#[test]
fn vendor_id() {
    let c = Hv1Config::from_features(["hv-vendor-id=Microsoft Hv"]).unwrap();
    assert_eq!(c.vendor_id, VendorId::MICROSOFT);
    for bad in ["hv-vendor-id=", "hv-vendor-id=ThirteenBytes"] {
        assert!(
            matches!(
                Hv1Config::from_features([bad]),
                Err(FeatureError::InvalidValue {
                    expected: "1 to 12 bytes",
                    ..
                })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        Hv1Config::from_features(["hv-vendor-id"]),
        Err(FeatureError::MissingValue { .. })
    ));
}

#[test]
fn version_fields_are_range_checked() {
    assert!(Hv1Config::from_features(["hv-version-id-major=65535"]).is_ok());
    assert!(Hv1Config::from_features(["hv-version-id-major=65536"]).is_err());
    assert!(Hv1Config::from_features(["hv-version-id-sbranch=256"]).is_err());
    assert!(Hv1Config::from_features(["hv-version-id-snumber=0x1000000"]).is_err());
    assert!(Hv1Config::from_features(["hv-version-id-build=0xFFFFFFFF"]).is_ok());
}

#[test]
fn unknown_and_unsupported() {
    assert_eq!(
        Hv1Config::from_features(["hv-relaxed", "hv-bogus"]),
        Err(FeatureError::Unknown { name: "hv-bogus" })
    );
    let err = Hv1Config::from_features(["hv-bogus"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown Hyper-V feature `hv-bogus`"), "{err}");
    assert!(err.contains("hv-spinlocks=N"), "{err}");
    for name in [
        "hv-reenlightenment",
        "hv-evmcs",
        "hv-tlbflush-direct",
        "hv-syndbg",
        "hv-passthrough",
        "hv-no-nonarch-coresharing",
        "hv-avic",
    ] {
        let err = Hv1Config::from_features([name]).unwrap_err();
        assert!(
            matches!(err, FeatureError::Unsupported { name: n, .. } if n == name),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains("not supported"), "{err}");
    }
    // Turning off what Tessera always provides.
    assert!(matches!(
        Hv1Config::from_features(["hv-vpindex=off"]),
        Err(FeatureError::Unsupported { .. })
    ));
    assert!(matches!(
        Hv1Config::from_features(["hv-enforce-cpuid=off"]),
        Err(FeatureError::Unsupported { .. })
    ));
    // Every supported name is accepted (with a value where needed).
    for name in SUPPORTED_FEATURES {
        let feature = if name.ends_with("vendor-id=") {
            format!("{name}Microsoft Hv")
        } else if *name == "hv-spinlocks=" {
            format!("{name}0x1000")
        } else if name.ends_with('=') {
            format!("{name}0x12")
        } else if *name == "hv-tlbflush-ext" {
            continue;
        } else if *name == "hv-stimer" || *name == "hv-stimer-direct" {
            // They need hv-synic and hv-time (and hv-stimer).
            let with = ["hv-time", "hv-synic", "hv-stimer", name];
            assert!(Hv1Config::from_features(with).is_ok(), "{name}");
            continue;
        } else {
            (*name).to_owned()
        };
        assert!(
            Hv1Config::from_features([feature.as_str()]).is_ok(),
            "{feature}"
        );
    }
}

/// QEMU: hv-tlbflush-ext depends on hv-tlbflush.
#[test]
fn dependencies() {
    let err = Hv1Config::from_features(["hv-tlbflush-ext"]).unwrap_err();
    assert_eq!(
        err,
        FeatureError::MissingDependency {
            name: "hv-tlbflush-ext",
            requires: "hv-tlbflush"
        }
    );
    assert!(err.to_string().contains("requires `hv-tlbflush`"));
    // Order does not matter for dependencies.
    assert!(Hv1Config::from_features(["hv-tlbflush-ext", "hv-tlbflush"]).is_ok());
}

// --- validate_implemented ---------------------------------------------------

/// Requirements, leaf 0x40000003: "A conforming hypervisor returning any
/// non-zero value in 0x40000003.EAX or EBX must support the corresponding
/// functionality as defined in the TLFS."
#[test]
fn unimplemented_privileges_are_refused() {
    let mut config = Hv1Config::minimal();
    config.privileges = config
        .privileges
        .with_access_synic_regs(true)
        .with_access_stats_reg(true)
        .with_access_guest_idle_reg(true);
    // (AccessSynicRegs and PostMessages are served since issue 14: only
    // the other two are refused.)
    // The Requirements alone allow it …
    assert!(config.validate().is_empty());
    // … but Tessera does not implement it.
    let v = config.validate_implemented();
    assert_eq!(
        v.iter().collect::<Vec<_>>(),
        vec![Violation::Unimplemented {
            register: CpuidRegister::Privileges,
            bits: 1 << 8 | 1 << 10
        }]
    );
    let text = v.iter().next().unwrap().to_string();
    for name in ["AccessStatsReg", "AccessGuestIdleReg"] {
        assert!(text.contains(name), "{text}");
    }
    assert!(text.contains("must support the corresponding"), "{text}");
}

#[test]
fn unimplemented_features_and_recommendations() {
    let mut config = Hv1Config::minimal();
    config.features_edx = config
        .features_edx
        .with_guest_idle_available(true)
        .with_guest_crash_msrs_available(true);
    config.features_ecx = config.features_ecx.with_invariant_mperf_available(true);
    config.recommendations = config
        .recommendations
        .with_use_hypercall_for_address_space_switch(true)
        .with_use_relaxed_timing(true);
    let v = config.validate_implemented();
    assert_eq!(
        v.iter().collect::<Vec<_>>(),
        vec![
            Violation::Unimplemented {
                register: CpuidRegister::FeaturesEcx,
                bits: 1 << 5
            },
            Violation::Unimplemented {
                register: CpuidRegister::FeaturesEdx,
                bits: 1 << 5
            },
            Violation::Unimplemented {
                register: CpuidRegister::Recommendations,
                bits: 1 << 0
            },
        ]
    );
    let text = v.iter().nth(2).unwrap().to_string();
    assert!(text.contains("UseHypercallForAddressSpaceSwitch"), "{text}");
    assert!(text.contains("CPUID.40000004:EAX"), "{text}");
    // An unnamed (reserved) bit is named as such.
    config = Hv1Config::minimal();
    config.recommendations = tlfs::cpuid::HvImplementationRecommendationsEax::from_bits(1 << 30);
    let text = config
        .validate_implemented()
        .iter()
        .next()
        .unwrap()
        .to_string();
    assert!(text.contains("reserved bit 30"), "{text}");
}

#[test]
fn reset_recommendation_needs_the_privilege() {
    let mut config = Hv1Config::minimal();
    config.recommendations = config.recommendations.with_use_reset_msr(true);
    assert_eq!(
        config.validate_implemented().iter().collect::<Vec<_>>(),
        vec![Violation::ResetRecommendedWithoutPrivilege]
    );
    config.privileges = config.privileges.with_access_reset_reg(true);
    assert!(config.validate_implemented().is_empty());
}

/// Forbidden and reserved privilege bits are reported once, by the
/// Requirements rules; the Requirements' VP-limit rule still applies.
#[test]
fn implemented_check_includes_the_requirements() {
    let mut config = Hv1Config::from_features(["hv-tlbflush"]).unwrap();
    config.privileges =
        HvPartitionPrivilegeMask::from_bits(config.privileges.into_bits() | 1 << 32 | 1 << 12);
    config.max_virtual_processors = VP_LIMIT_UNLIMITED;
    let v = config.validate_implemented();
    assert_eq!(
        v.iter().collect::<Vec<_>>(),
        vec![
            Violation::ForbiddenPrivilege {
                bit: 32,
                name: "CreatePartitions"
            },
            Violation::ReservedPrivilegeBits { bits: 1 << 12 },
            Violation::FlushRecommendedWithUnlimitedVps,
        ]
    );
    // Everything at once fits.
    let all = Hv1Config {
        privileges: HvPartitionPrivilegeMask::from_bits(0),
        features_ecx: tlfs::cpuid::HvFeatureIdentificationEcx::from_bits(u32::MAX),
        features_edx: tlfs::cpuid::HvFeatureIdentificationEdx::from_bits(u32::MAX),
        recommendations: tlfs::cpuid::HvImplementationRecommendationsEax::from_bits(u32::MAX),
        max_virtual_processors: VP_LIMIT_UNLIMITED,
        ..Hv1Config::minimal()
    };
    let v = all.validate_implemented();
    // 2 missing + flush + ECX + EDX + recommendations + reset.
    assert_eq!(v.len(), 7);
    for violation in v.iter() {
        assert!(!violation.explanation().is_empty());
    }
}

// --- modelled features (not yet wired into the kernel) ----------------------

/// The manifest's scope refuses the modelled names with the reason the
/// brief asks for.
#[test]
fn modelled_names_are_refused_for_deployments() {
    use tessera_hv1::cpuid::{NOT_WIRED_FEATURES, NOT_WIRED_REASON};
    assert_eq!(NOT_WIRED_REASON, "not yet wired into the kernel");
    for (name, _) in NOT_WIRED_FEATURES {
        let err = Hv1Config::from_features([*name]).unwrap_err();
        assert_eq!(
            err,
            FeatureError::Unsupported {
                name,
                reason: NOT_WIRED_REASON
            }
        );
        assert!(err.to_string().contains("not yet wired into the kernel"));
        // Even turned off: the name is not one a deployment may use yet.
        let off = format!("{name}=off");
        assert!(Hv1Config::from_features([off.as_str()]).is_err());
    }
}

/// With `FeatureScope::Modelled`, each name sets QEMU's CPUID bits (TLFS
/// md `feature-discovery.md`; QEMU `target/i386/kvm/kvm.c`
/// `kvm_hyperv_properties`).
#[test]
fn modelled_names_set_their_cpuid_bits() {
    use tessera_hv1::cpuid::FeatureScope;
    let one = |name| Hv1Config::from_features_in([name], FeatureScope::Modelled).unwrap();
    // hv-ipi: UseSyntheticClusterIpi (10) and UseExProcessorMasks (11).
    let c = one("hv-ipi");
    assert_eq!(regs(&c, 0x4000_0004)[0], 1 << 10 | 1 << 11);
    assert_eq!(regs(&c, 0x4000_0003)[0], 0x60);
    assert_eq!(c, Hv1Config::from_features(["hv-ipi"]).unwrap());
    // The wired names mean the same in both scopes.
    for name in ["hv-time", "hv-frequencies", "hv-tsc-invariant", "hv-vapic"] {
        assert_eq!(one(name), Hv1Config::from_features([name]).unwrap());
    }
    // =off undoes, as for every boolean name.
    assert_eq!(
        Hv1Config::from_features_in(["hv-synic", "hv-synic=off"], FeatureScope::Modelled),
        Ok(Hv1Config::minimal())
    );
    // The kernel serves all of them (issue 14: PostMessages and
    // SignalEvents with hv-synic, as QEMU grants them).
    let all = Hv1Config::from_features_in(
        [
            "hv-time",
            "hv-vapic",
            "hv-synic",
            "hv-ipi",
            "hv-frequencies",
            "hv-tsc-invariant",
        ],
        FeatureScope::Modelled,
    )
    .unwrap();
    assert!(all.validate_modelled().is_empty());
    assert!(all.validate_implemented().is_empty());
    assert_eq!(regs(&all, 0x4000_0003)[1] & 0b11_0000, 0b11_0000);
    assert_eq!(
        all,
        Hv1Config::from_features([
            "hv-time",
            "hv-vapic",
            "hv-synic",
            "hv-ipi",
            "hv-frequencies",
            "hv-tsc-invariant"
        ])
        .unwrap()
    );
    // Tessera's names take one call away again.
    let without = Hv1Config::from_features(["hv-synic", "hv-post-messages=off"]).unwrap();
    assert!(!without.privileges.post_messages());
    assert!(without.privileges.signal_events());
    let without = Hv1Config::from_features(["hv-synic", "hv-signal-events=off"]).unwrap();
    assert!(without.privileges.post_messages());
    assert!(!without.privileges.signal_events());
    // The configuration survives PartitionSetHv1's words.
    assert_eq!(Hv1Config::from_words(&all.to_words()), all);
}
