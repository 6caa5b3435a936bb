//! An [`Hv1Config`] from QEMU-style Hyper-V enlightenment names, for the
//! manifest compiler: see [`Hv1Config::from_features`].

use tlfs::cpuid::{HV_SPIN_WAIT_NEVER_NOTIFY, HvImplementationRecommendationsEax};

use super::config::{Hv1Config, VendorId};
use super::feature_error::{FeatureError, boolean, number, number32};

/// Every name [`Hv1Config::from_features`] accepts (value names with
/// `=`).
pub const SUPPORTED_FEATURES: &[&str] = &[
    "hv-relaxed",
    "hv-vpindex",
    "hv-runtime",
    "hv-time",
    "hv-frequencies",
    "hv-tsc-invariant",
    "hv-vapic",
    "hv-ipi",
    "hv-reset",
    "hv-crash",
    "hv-tlbflush",
    "hv-tlbflush-ext",
    "hv-xmm-input",
    "hv-synic",
    "hv-stimer",
    "hv-stimer-direct",
    "hv-post-messages",
    "hv-signal-events",
    "hv-enforce-cpuid",
    "hv-spinlocks=",
    "hv-vendor-id=",
    "hv-version-id-build=",
    "hv-version-id-major=",
    "hv-version-id-minor=",
    "hv-version-id-spack=",
    "hv-version-id-sbranch=",
    "hv-version-id-snumber=",
];

/// Why a [modelled](NOT_WIRED_FEATURES) name is refused for a deployment.
pub const NOT_WIRED_REASON: &str = "not yet wired into the kernel";

/// Names whose logic Tessera has as host-tested models but whose MSRs,
/// hypercalls or overlay pages the kernel does not serve yet, with what
/// is modelled where. [`Hv1Config::from_features`] (what the manifest
/// uses) refuses them with [`NOT_WIRED_REASON`];
/// [`Hv1Config::from_features_in`] with [`FeatureScope::Modelled`] accepts
/// them, so tests can check their CPUID bits. When the kernel integrates
/// one, it moves to [`SUPPORTED_FEATURES`] and its bits to the
/// `IMPLEMENTED_*` masks.
///
/// None now: `hv-synic`, `hv-stimer` and `hv-stimer-direct` are served
/// (issue 14), `hv-synic` with PostMessages and SignalEvents, as QEMU's.
pub const NOT_WIRED_FEATURES: &[(&str, &str)] = &[];

/// Which features [`Hv1Config::from_features_in`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FeatureScope {
    /// What the kernel serves today ([`SUPPORTED_FEATURES`]; checked with
    /// [`Hv1Config::validate_implemented`]): a deployment's scope.
    Kernel,
    /// That, plus the [modelled](NOT_WIRED_FEATURES) features (checked with
    /// [`Hv1Config::validate_modelled`]).
    Modelled,
}

/// QEMU `hv-*` names Tessera knows but does not implement, and why.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "hv-reenlightenment",
        "reenlightenment and TSC emulation are not implemented",
    ),
    ("hv-evmcs", "nested virtualization is not offered"),
    ("hv-emsr-bitmap", "nested virtualization is not offered"),
    ("hv-tlbflush-direct", "nested virtualization is not offered"),
    (
        "hv-avic",
        "AVIC/APIC virtualization recommendations are not implemented",
    ),
    (
        "hv-apicv",
        "AVIC/APIC virtualization recommendations are not implemented",
    ),
    (
        "hv-syndbg",
        "the synthetic debugger interface is not implemented",
    ),
    (
        "hv-no-nonarch-coresharing",
        "Tessera does not promise that VPs never share a physical core",
    ),
    (
        "hv-passthrough",
        "Tessera advertises only what it implements",
    ),
];

/// The smallest `hv-spinlocks` value QEMU accepts.
const MIN_SPINLOCK_RETRIES: u64 = 0xFFF;

impl Hv1Config {
    /// The minimal Hv#1 interface of the Requirements (§ Requirements for a
    /// Minimal HV#1 Interface): [`Hv1Config::default`] without the
    /// relaxed-timing recommendation. The base of
    /// [`from_features`](Self::from_features).
    #[must_use]
    pub fn minimal() -> Self {
        Self {
            recommendations: HvImplementationRecommendationsEax::new(),
            ..Self::default()
        }
    }

    /// The configuration of a partition given QEMU-style feature names
    /// (`hv-relaxed`, `hv-spinlocks=0x1fff`, …), starting from
    /// [`minimal`](Self::minimal). Surrounding whitespace is ignored.
    ///
    /// Each name means what the QEMU option of the same name means
    /// (`docs/system/i386/hyperv.rst` of QEMU), restricted to what Tessera
    /// implements; where Tessera differs, the entry says so. Names are applied
    /// in order (a later `name=off` undoes an earlier `name`), then the
    /// dependencies are checked, then the result is checked with
    /// [`Hv1Config::validate_implemented`].
    ///
    /// | name | effect |
    /// | --- | --- |
    /// | `hv-relaxed` | leaf `0x40000004` EAX bit 5 `UseRelaxedTiming` (Requirements § Use Relaxed Timing) |
    /// | `hv-vpindex` | nothing: `AccessVpIndex` is always granted (Requirements: "Must be set"); `=off` is refused |
    /// | `hv-runtime` | privilege `AccessVpRunTimeReg` (bit 0): `HV_X64_MSR_VP_RUNTIME` |
    /// | `hv-time` | privileges `AccessPartitionReferenceCounter` (bit 1) and `AccessPartitionReferenceTsc` (bit 9), as in QEMU: `HV_X64_MSR_TIME_REF_COUNT` and the reference TSC page (`HV_X64_MSR_REFERENCE_TSC`) |
    /// | `hv-frequencies` | privilege `AccessFrequencyRegs` (bit 11) and leaf `0x40000003` EDX bit 8 `TimerFrequenciesAvailable`, as in QEMU: `HV_X64_MSR_TSC_FREQUENCY`, `HV_X64_MSR_APIC_FREQUENCY` |
    /// | `hv-tsc-invariant` | privilege `AccessTscInvariantControls` (bit 15): `HV_X64_MSR_TSC_INVARIANT_CONTROL`, which shows CPUID `0x80000007` EDX bit 8 once the guest sets its bit 0. Tessera's name: QEMU has none (Linux's KVM offers the MSR) |
    /// | `hv-reset` | privilege `AccessResetReg` (bit 7): `HV_X64_MSR_RESET` (as in QEMU, `UseResetMsr` is not recommended) |
    /// | `hv-crash` | leaf `0x40000003` EDX bit 10 `GuestCrashMsrsAvailable`: `HV_X64_MSR_CRASH_P0`–`P4`, `CRASH_CTL` |
    /// | `hv-tlbflush` | leaf `0x40000004` EAX bit 2 `UseHypercallForRemoteFlush` and bit 11 `UseExProcessorMasks` (QEMU's bits): the four flush hypercalls |
    /// | `hv-tlbflush-ext` | leaf `0x40000003` EDX bit 14 `ExtendedGvaRangesForFlushVirtualAddressListAvailable`; needs `hv-tlbflush` |
    /// | `hv-xmm-input` | leaf `0x40000003` EDX bit 4: XMM fast hypercall input |
    /// | `hv-spinlocks=N` | leaf `0x40000004` EBX = N, `0xFFF`–`0xFFFFFFFF` (QEMU's range; `0xFFFFFFFF` = never notify); default never notify |
    /// | `hv-vendor-id=STR` | leaf `0x40000000` EBX:ECX:EDX, 1–12 bytes (guests such as Linux recognise Hyper-V only by `Microsoft Hv`, the default) |
    /// | `hv-version-id-build=N`, `-major`, `-minor`, `-spack`, `-sbranch`, `-snumber` | leaf `0x40000002` |
    /// | `hv-enforce-cpuid` | nothing: Tessera always refuses what it does not advertise; `=off` is refused |
    ///
    /// Boolean names take an optional `=on`/`=off` (also `yes`/`no`,
    /// `true`/`false`). The names modelled but not yet wired into the
    /// kernel ([`NOT_WIRED_FEATURES`], none now) are refused as
    /// [`FeatureError::Unsupported`] with [`NOT_WIRED_REASON`]; QEMU's
    /// other `hv-*` names
    /// (`hv-reenlightenment`, `hv-evmcs`, …) likewise with their reason;
    /// anything else is [`FeatureError::Unknown`].
    ///
    /// # Errors
    ///
    /// The first name that is unknown, unsupported or has a bad value; a
    /// missing dependency; or (a bug) a result that fails
    /// [`validate_implemented`](Self::validate_implemented).
    pub fn from_features<'a, I>(features: I) -> Result<Self, FeatureError<'a>>
    where
        I: IntoIterator<Item = &'a str>,
    {
        Self::from_features_in(features, FeatureScope::Kernel)
    }

    /// [`from_features`](Self::from_features) in a chosen scope. With
    /// [`FeatureScope::Modelled`] the [modelled](NOT_WIRED_FEATURES) names
    /// are accepted too:
    ///
    /// | name | effect |
    /// | --- | --- |
    /// | `hv-vapic` | privilege `AccessIntrCtrlRegs` (bit 4) and leaf `0x40000004` EAX bit 3 `UseApicMsrs`, as in QEMU |
    /// | `hv-ipi` | leaf `0x40000004` EAX bit 10 `UseSyntheticClusterIpi` and bit 11 `UseExProcessorMasks`, as in QEMU |
    /// | `hv-synic` | privilege `AccessSynicRegs` (bit 2): SCONTROL–EOM, SINT0–15; and `PostMessages` (bit 36), `SignalEvents` (bit 37): `HvCallPostMessage`, `HvCallSignalEvent`, as in QEMU (`hyperv_fill_cpuids`) |
    /// | `hv-post-messages`, `hv-signal-events` | (Tessera's) `PostMessages`, `SignalEvents` alone: `=off` after `hv-synic` takes one call away |
    /// | `hv-stimer` | privilege `AccessSyntheticTimerRegs` (bit 3): STIMER0–3 CONFIG/COUNT; needs `hv-synic` and `hv-time`, as in QEMU |
    /// | `hv-stimer-direct` | leaf `0x40000003` EDX bit 19 `DirectSyntheticTimers`; needs `hv-stimer`, as in QEMU |
    ///
    /// # Errors
    ///
    /// As [`from_features`](Self::from_features); in the kernel scope a
    /// modelled name is [`FeatureError::Unsupported`] with
    /// [`NOT_WIRED_REASON`].
    pub fn from_features_in<'a, I>(
        features: I,
        scope: FeatureScope,
    ) -> Result<Self, FeatureError<'a>>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut config = Self::minimal();
        for feature in features {
            config.apply_feature(feature.trim(), scope)?;
        }
        config.check_synic_dependencies()?;
        let rec = config.recommendations;
        if config
            .features_edx
            .extended_gva_ranges_for_flush_virtual_address_list_available()
            && !(rec.use_hypercall_for_local_flush() || rec.use_hypercall_for_remote_flush())
        {
            return Err(FeatureError::MissingDependency {
                name: "hv-tlbflush-ext",
                requires: "hv-tlbflush",
            });
        }
        let violations = match scope {
            FeatureScope::Kernel => config.validate_implemented(),
            FeatureScope::Modelled => config.validate_modelled(),
        };
        if let Some(violation) = violations.iter().next() {
            return Err(FeatureError::Invalid(violation));
        }
        Ok(config)
    }

    /// `hv-stimer` needs `hv-synic` and `hv-time`; `hv-stimer-direct`
    /// needs `hv-stimer` (QEMU's dependencies).
    fn check_synic_dependencies(&self) -> Result<(), FeatureError<'static>> {
        let p = self.privileges;
        let missing = |name, requires| Err(FeatureError::MissingDependency { name, requires });
        if self.features_edx.direct_synthetic_timers() && !p.access_synthetic_timer_regs() {
            return missing("hv-stimer-direct", "hv-stimer");
        }
        if p.access_synthetic_timer_regs() && !p.access_synic_regs() {
            return missing("hv-stimer", "hv-synic");
        }
        if p.access_synthetic_timer_regs() && !p.access_partition_reference_counter() {
            return missing("hv-stimer", "hv-time");
        }
        Ok(())
    }

    /// [`from_features`](Self::from_features) for a comma-separated list as
    /// on a QEMU command line (`"hv-relaxed,hv-spinlocks=0x1fff"`); empty
    /// items are skipped.
    ///
    /// # Errors
    ///
    /// As [`from_features`](Self::from_features).
    pub fn from_feature_list(list: &str) -> Result<Self, FeatureError<'_>> {
        Self::from_features(
            list.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty()),
        )
    }

    fn apply_feature<'a>(
        &mut self,
        feature: &'a str,
        scope: FeatureScope,
    ) -> Result<(), FeatureError<'a>> {
        let (name, value) = match feature.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (feature, None),
        };
        let p = self.privileges;
        let rec = self.recommendations;
        let edx = self.features_edx;
        match name {
            "hv-relaxed" => {
                self.recommendations = rec.with_use_relaxed_timing(boolean(name, value)?);
            }
            "hv-vpindex" => {
                if !boolean(name, value)? {
                    return Err(FeatureError::Unsupported {
                        name: feature,
                        reason: "AccessVpIndex must be set (Requirements, \
                                 'CPUID.40000003:EAX - Partition Privileges')",
                    });
                }
            }
            "hv-enforce-cpuid" => {
                if !boolean(name, value)? {
                    return Err(FeatureError::Unsupported {
                        name: feature,
                        reason: "Tessera always refuses what it does not advertise",
                    });
                }
            }
            "hv-runtime" => self.privileges = p.with_access_vp_run_time_reg(boolean(name, value)?),
            "hv-time" => {
                let on = boolean(name, value)?;
                self.privileges = p
                    .with_access_partition_reference_counter(on)
                    .with_access_partition_reference_tsc(on);
            }
            _ if scope == FeatureScope::Kernel
                && NOT_WIRED_FEATURES.iter().any(|(known, _)| *known == name) =>
            {
                return Err(FeatureError::Unsupported {
                    name: feature,
                    reason: NOT_WIRED_REASON,
                });
            }
            "hv-vapic" => {
                let on = boolean(name, value)?;
                self.privileges = p.with_access_intr_ctrl_regs(on);
                self.recommendations = rec.with_use_apic_msrs(on);
            }
            "hv-ipi" => {
                let on = boolean(name, value)?;
                self.recommendations = rec
                    .with_use_synthetic_cluster_ipi(on)
                    .with_use_ex_processor_masks(on);
            }
            "hv-frequencies" => {
                let on = boolean(name, value)?;
                self.privileges = p.with_access_frequency_regs(on);
                self.features_edx = edx.with_timer_frequencies_available(on);
            }
            "hv-tsc-invariant" => {
                self.privileges = p.with_access_tsc_invariant_controls(boolean(name, value)?);
            }
            "hv-synic" => {
                let on = boolean(name, value)?;
                // As QEMU's: the registers and both hypercalls.
                self.privileges = p
                    .with_access_synic_regs(on)
                    .with_post_messages(on)
                    .with_signal_events(on);
            }
            // Tessera's own, to take one hypercall away from a SynIC
            // (`hv-post-messages=off`: HV_STATUS_ACCESS_DENIED).
            "hv-post-messages" => self.privileges = p.with_post_messages(boolean(name, value)?),
            "hv-signal-events" => self.privileges = p.with_signal_events(boolean(name, value)?),
            "hv-stimer" => {
                self.privileges = p.with_access_synthetic_timer_regs(boolean(name, value)?);
            }
            "hv-stimer-direct" => {
                self.features_edx = edx.with_direct_synthetic_timers(boolean(name, value)?);
            }
            "hv-reset" => self.privileges = p.with_access_reset_reg(boolean(name, value)?),
            "hv-crash" => {
                self.features_edx = edx.with_guest_crash_msrs_available(boolean(name, value)?);
            }
            "hv-tlbflush" => {
                let on = boolean(name, value)?;
                self.recommendations = rec
                    .with_use_hypercall_for_remote_flush(on)
                    .with_use_ex_processor_masks(on);
            }
            "hv-tlbflush-ext" => {
                self.features_edx = edx
                    .with_extended_gva_ranges_for_flush_virtual_address_list_available(boolean(
                        name, value,
                    )?);
            }
            "hv-xmm-input" => {
                self.features_edx =
                    edx.with_xmm_registers_for_fast_hypercall_available(boolean(name, value)?);
            }
            "hv-spinlocks" => {
                let n = number(
                    name,
                    value,
                    u64::from(u32::MAX),
                    "a retry count from 0xFFF to 0xFFFFFFFF (0xFFFFFFFF: never notify)",
                )?;
                if n < MIN_SPINLOCK_RETRIES {
                    return Err(FeatureError::InvalidValue {
                        name,
                        value: value.unwrap_or_default(),
                        expected: "a retry count from 0xFFF to 0xFFFFFFFF (0xFFFFFFFF: never \
                                   notify)",
                    });
                }
                // n ≤ u32::MAX was checked.
                self.spinlock_retries = n as u32;
            }
            "hv-vendor-id" => {
                let id = value.ok_or(FeatureError::MissingValue { name })?;
                self.vendor_id = VendorId::new(id).filter(|_| !id.is_empty()).ok_or(
                    FeatureError::InvalidValue {
                        name,
                        value: id,
                        expected: "1 to 12 bytes",
                    },
                )?;
            }
            "hv-version-id-build" => self.version.build_number = number32(name, value)?,
            "hv-version-id-spack" => self.version.service_pack = number32(name, value)?,
            "hv-version-id-major" => {
                self.version.major_version =
                    number(name, value, u64::from(u16::MAX), "a 16-bit number")? as u16;
            }
            "hv-version-id-minor" => {
                self.version.minor_version =
                    number(name, value, u64::from(u16::MAX), "a 16-bit number")? as u16;
            }
            "hv-version-id-sbranch" => {
                self.version.service_branch =
                    number(name, value, u64::from(u8::MAX), "an 8-bit number")? as u8;
            }
            "hv-version-id-snumber" => {
                self.version.service_number =
                    number(name, value, 0xFF_FFFF, "a 24-bit number")? as u32;
            }
            _ => {
                return Err(match UNSUPPORTED.iter().find(|(known, _)| *known == name) {
                    Some(&(_, reason)) => FeatureError::Unsupported {
                        name: feature,
                        reason,
                    },
                    None => FeatureError::Unknown { name: feature },
                });
            }
        }
        Ok(())
    }
}

/// The default `hv-spinlocks` value (never notify), for reference.
pub const DEFAULT_SPINLOCK_RETRIES: u32 = HV_SPIN_WAIT_NEVER_NOTIFY;
