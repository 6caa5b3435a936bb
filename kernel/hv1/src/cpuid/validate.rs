//! Checking an [`Hv1Config`] against the rules of the Requirements paper.

use core::fmt;

use tlfs::privilege::HvPartitionPrivilegeMask;

use super::config::{Hv1Config, VP_LIMIT_UNLIMITED};
use super::implemented::{
    CpuidRegister, IMPLEMENTED_FEATURES_ECX, IMPLEMENTED_FEATURES_EDX, IMPLEMENTED_PRIVILEGES,
    IMPLEMENTED_RECOMMENDATIONS, MODELLED_FEATURES_EDX, MODELLED_PRIVILEGES,
    MODELLED_RECOMMENDATIONS,
};

/// One rule an [`Hv1Config`] breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Violation {
    /// A privilege the Requirements say "Must be set" is clear.
    MissingRequiredPrivilege {
        /// Bit in `HV_PARTITION_PRIVILEGE_MASK`.
        bit: u8,
        /// The Requirements' name for it.
        name: &'static str,
    },
    /// A privilege the Requirements say "Must be clear" is set.
    ForbiddenPrivilege {
        /// Bit in `HV_PARTITION_PRIVILEGE_MASK` (the Requirements number
        /// EBX bits from 0; this is that number + 32).
        bit: u8,
        /// The Requirements' name for it.
        name: &'static str,
    },
    /// Privilege bits that the TLFS marks reserved are set.
    ReservedPrivilegeBits {
        /// The offending bits.
        bits: u64,
    },
    /// Leaf `0x40000005` EAX is -1 while leaf `0x40000004` EAX recommends
    /// the flush hypercalls (bit 1 and/or 2).
    FlushRecommendedWithUnlimitedVps,
    /// Bits of one CPUID register advertise functionality Tessera does not
    /// implement ([`Hv1Config::validate_implemented`] only).
    Unimplemented {
        /// The register.
        register: CpuidRegister,
        /// The offending bits (bit *n* is bit *n* of the register; for
        /// [`CpuidRegister::Privileges`] of the 64-bit mask).
        bits: u64,
    },
    /// Leaf `0x40000004` EAX bit 4 (`UseResetMsr`) recommends the reset MSR
    /// while the partition lacks `AccessResetReg`, so using it would #GP
    /// ([`Hv1Config::validate_implemented`] only).
    ResetRecommendedWithoutPrivilege,
}

/// Requirements § Required Hypervisor CPUID Leaves,
/// "CPUID.40000003:EAX — Partition Privileges": Bit 5 AccessHypercallMsrs,
/// Bit 6 AccessVpIndex "Must be set" (also § Requirements for a Minimal
/// HV#1 Interface).
const REQUIRED: [(u8, &str); 2] = [(5, "AccessHypercallMsrs"), (6, "AccessVpIndex")];

/// Requirements § Required Hypervisor CPUID Leaves,
/// "CPUID.40000003:EBX Feature Identification — Partition Flags", the rows
/// marked "Must be clear" (EBX bit + 32).
const FORBIDDEN: [(u8, &str); 8] = [
    (32, "CreatePartitions"),
    (33, "AccessPartitionId"),
    (34, "AccessMemoryPool"),
    (35, "AdjustMessageBuffers"),
    (38, "CreatePort"),
    (40, "AccessStats"),
    (44, "CpuManagement"),
    (45, "ConfigureProfiler"),
];

impl Violation {
    /// Why the rule exists, with its source.
    #[must_use]
    pub const fn explanation(&self) -> &'static str {
        match self {
            Self::MissingRequiredPrivilege { .. } => {
                "Requirements for Implementing the Microsoft Hypervisor Interface, \
                 'CPUID.40000003:EAX - Partition Privileges': AccessHypercallMsrs (bit 5) \
                 and AccessVpIndex (bit 6) must be set; the minimal Hv#1 interface needs \
                 the hypercall MSRs and the VP index MSR"
            }
            Self::ForbiddenPrivilege { .. } => {
                "Requirements for Implementing the Microsoft Hypervisor Interface, \
                 'CPUID.40000003:EBX Feature Identification - Partition Flags': this \
                 partition flag must be clear for a guest partition (it grants \
                 root/parent-partition operations)"
            }
            Self::ReservedPrivilegeBits { .. } => {
                "TLFS datatypes/hv_partition_privilege_mask.md marks these bits reserved; \
                 a conforming hypervisor returning a non-zero privilege bit must support \
                 the corresponding functionality (Requirements, leaf 0x40000003 notes), \
                 and a reserved bit has none"
            }
            Self::FlushRecommendedWithUnlimitedVps => {
                "Requirements for Implementing the Microsoft Hypervisor Interface, \
                 'Maximum Supported Virtual Processors': with more than 64 VPs \
                 HvFlushVirtualAddressSpace and HvFlushVirtualAddressList do not work, so \
                 a hypervisor reporting -1 in CPUID.40000005.EAX must not recommend them \
                 (CPUID.40000004.EAX bits 1-2 must be cleared)"
            }
            Self::Unimplemented { .. } => {
                "Requirements for Implementing the Microsoft Hypervisor Interface, leaves \
                 0x40000003 and 0x40000004: 'A conforming hypervisor returning any non-zero \
                 value in 0x40000003.EAX or EBX must support the corresponding \
                 functionality as defined in the TLFS' (and likewise for 0x40000004.EAX); \
                 Tessera does not implement these, so it must not advertise them"
            }
            Self::ResetRecommendedWithoutPrivilege => {
                "TLFS feature-discovery.md, leaf 0x40000004 EAX bit 4: 'Recommend using the \
                 hypervisor-provided MSR to initiate a system RESET'; without the \
                 AccessResetReg privilege (CPUID.40000003.EAX bit 7) every access to that \
                 MSR raises #GP"
            }
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingRequiredPrivilege { bit, name } => {
                write!(f, "privilege {name} (bit {bit}) is clear: ")?;
            }
            Self::ForbiddenPrivilege { bit, name } => {
                write!(f, "privilege {name} (bit {bit}) is set: ")?;
            }
            Self::ReservedPrivilegeBits { bits } => {
                write!(f, "reserved privilege bits {bits:#018x} are set: ")?;
            }
            Self::FlushRecommendedWithUnlimitedVps => {
                f.write_str("flush hypercalls recommended with a VP limit of -1: ")?;
            }
            Self::Unimplemented { register, bits } => {
                write!(f, "{register} bits {bits:#x} (")?;
                let mut first = true;
                for bit in (0..64).filter(|bit| bits & (1 << bit) != 0) {
                    if !first {
                        f.write_str(", ")?;
                    }
                    first = false;
                    match register.bit_name(bit) {
                        Some(name) => write!(f, "{name}")?,
                        None => write!(f, "reserved bit {bit}")?,
                    }
                }
                f.write_str(") are not implemented: ")?;
            }
            Self::ResetRecommendedWithoutPrivilege => {
                f.write_str("UseResetMsr recommended without AccessResetReg: ")?;
            }
        }
        f.write_str(self.explanation())
    }
}

/// Every [`Violation`] of one configuration, in a fixed order (no
/// allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violations {
    items: [Option<Violation>; Self::CAPACITY],
    len: usize,
}

impl Violations {
    /// Room for every rule failing at once (the four CPUID registers of
    /// [`Violation::Unimplemented`] and the reset rule included).
    const CAPACITY: usize = REQUIRED.len() + FORBIDDEN.len() + 2 + 4 + 1;

    const fn new() -> Self {
        Self {
            items: [None; Self::CAPACITY],
            len: 0,
        }
    }

    fn push(&mut self, violation: Violation) {
        // CAPACITY covers every rule, so this never drops one.
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = Some(violation);
            self.len += 1;
        }
    }

    /// Whether the configuration follows every rule.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many rules it breaks.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// The violations.
    pub fn iter(&self) -> impl Iterator<Item = Violation> + '_ {
        self.items[..self.len].iter().flatten().copied()
    }

    /// Whether `violation` is among them.
    #[must_use]
    pub fn contains(&self, violation: Violation) -> bool {
        self.iter().any(|v| v == violation)
    }
}

impl Hv1Config {
    /// Checks the configuration against the Requirements paper:
    ///
    /// - privileges that "Must be set" are set, and those that "Must be
    ///   clear" are clear (§ Required Hypervisor CPUID Leaves);
    /// - no TLFS-reserved privilege bit is set;
    /// - a VP limit of -1 comes without the flush recommendations (§
    ///   Maximum Supported Virtual Processors).
    ///
    /// Privileges the Requirements call reserved but later TLFS editions
    /// define (`AccessVSM`, `AccessVpRegisters`,
    /// `EnableExtendedHypercalls`, `StartVirtualProcessor`, …) are allowed.
    #[must_use]
    pub fn validate(&self) -> Violations {
        let mut out = Violations::new();
        let mask = self.privileges.into_bits();
        for (bit, name) in REQUIRED {
            if mask & (1 << bit) == 0 {
                out.push(Violation::MissingRequiredPrivilege { bit, name });
            }
        }
        let mut forbidden_bits = 0_u64;
        for (bit, name) in FORBIDDEN {
            forbidden_bits |= 1 << bit;
            if mask & (1 << bit) != 0 {
                out.push(Violation::ForbiddenPrivilege { bit, name });
            }
        }
        // Bits 35 and 45 are both reserved (TLFS md) and forbidden
        // (Requirements); report them once, as forbidden.
        let reserved = mask & HvPartitionPrivilegeMask::RESERVED_MASK & !forbidden_bits;
        if reserved != 0 {
            out.push(Violation::ReservedPrivilegeBits { bits: reserved });
        }
        let rec = self.recommendations;
        if self.max_virtual_processors == VP_LIMIT_UNLIMITED
            && (rec.use_hypercall_for_local_flush() || rec.use_hypercall_for_remote_flush())
        {
            out.push(Violation::FlushRecommendedWithUnlimitedVps);
        }
        out
    }

    /// [`validate`](Self::validate), plus: the configuration advertises
    /// only what Tessera implements (Requirements, leaves `0x40000003` and
    /// `0x40000004`: "A conforming hypervisor returning any non-zero value
    /// in 0x40000003.EAX or EBX must support the corresponding
    /// functionality"), and recommends the reset MSR only with the
    /// privilege to use it.
    ///
    /// Implemented: see [`IMPLEMENTED_PRIVILEGES`],
    /// [`IMPLEMENTED_FEATURES_EDX`], [`IMPLEMENTED_RECOMMENDATIONS`] (leaf
    /// `0x40000003` ECX: nothing). Privilege bits already reported as
    /// forbidden or reserved are not reported again. Leaves `0x40000002`,
    /// `0x40000005` and `0x40000006` are informational and not checked.
    ///
    /// This is the check for a deployment; [`validate`](Self::validate)
    /// alone is the Requirements' own rules.
    #[must_use]
    pub fn validate_implemented(&self) -> Violations {
        self.validate_against(
            IMPLEMENTED_PRIVILEGES.into_bits(),
            IMPLEMENTED_FEATURES_EDX.into_bits(),
            IMPLEMENTED_RECOMMENDATIONS.into_bits(),
        )
    }

    /// [`validate_implemented`](Self::validate_implemented), counting also
    /// what Tessera models but the kernel does not serve yet
    /// ([`MODELLED_PRIVILEGES`], [`MODELLED_FEATURES_EDX`],
    /// [`MODELLED_RECOMMENDATIONS`]): the check for configurations that
    /// exercise those models (host tests, and the kernel's integration of
    /// them). A deployment is checked with `validate_implemented`.
    #[must_use]
    pub fn validate_modelled(&self) -> Violations {
        self.validate_against(
            IMPLEMENTED_PRIVILEGES.into_bits() | MODELLED_PRIVILEGES.into_bits(),
            IMPLEMENTED_FEATURES_EDX.into_bits() | MODELLED_FEATURES_EDX.into_bits(),
            IMPLEMENTED_RECOMMENDATIONS.into_bits() | MODELLED_RECOMMENDATIONS.into_bits(),
        )
    }

    fn validate_against(
        &self,
        privileges: u64,
        features_edx: u32,
        recommendations: u32,
    ) -> Violations {
        let mut out = self.validate();
        let mut reported = HvPartitionPrivilegeMask::RESERVED_MASK;
        for (bit, _) in FORBIDDEN {
            reported |= 1 << bit;
        }
        let checks = [
            (
                CpuidRegister::Privileges,
                self.privileges.into_bits() & !reported,
                privileges,
            ),
            (
                CpuidRegister::FeaturesEcx,
                u64::from(self.features_ecx.into_bits()),
                u64::from(IMPLEMENTED_FEATURES_ECX.into_bits()),
            ),
            (
                CpuidRegister::FeaturesEdx,
                u64::from(self.features_edx.into_bits()),
                u64::from(features_edx),
            ),
            (
                CpuidRegister::Recommendations,
                u64::from(self.recommendations.into_bits()),
                u64::from(recommendations),
            ),
        ];
        for (register, value, implemented) in checks {
            let bits = value & !implemented;
            if bits != 0 {
                out.push(Violation::Unimplemented { register, bits });
            }
        }
        if self.recommendations.use_reset_msr() && !self.privileges.access_reset_reg() {
            out.push(Violation::ResetRecommendedWithoutPrivilege);
        }
        out
    }
}
