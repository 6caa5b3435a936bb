//! One VP's SynIC registers: reset values, reads, and validated writes.
//!
//! TLFS md `inter-partition-communication.md` § SynIC Registers; TLFS 6.0b
//! §11.8. Access to the MSRs at all needs `AccessSynicRegs`, which the
//! kernel checks before any of this runs (`tessera_hv1::synthetic_msr`).
//!
//! | MSR | reset | read | write | #GP |
//! | --- | --- | --- | --- | --- |
//! | `0x40000080` SCONTROL | 0 | value | Enable | bits 63:1 set |
//! | `0x40000081` SVERSION | — | 1 | — | any write ("Attempts to write to this register result in a #GP fault") |
//! | `0x40000082` SIEFP | 0 | value | Enable, base → [`OverlayRequest`] | bits 11:1 set |
//! | `0x40000083` SIMP | 0 | value | Enable, base → [`OverlayRequest`] | bits 11:1 set |
//! | `0x40000084` EOM | — | 0 ("Reads from the EOM register always returns zeros") | rescan the queues | any bit set (63:0 RsvdZ) |
//! | `0x40000090`–`0x4000009F` SINT0–15 | `0x10000` (masked) | value | vector, Masked, AutoEOI, Polling | bits 15:8, 63:19 set; an unmasked vector below 16 ("Specifying an invalid vector number results in #GP"); AutoEOI where the CPUID recommendations deprecate it; Polling where `SintPollingModeAvailable` is not offered |
//!
//! **Choice (reserved bits).** The TLFS marks the reserved bits of these
//! registers RsvdP ("value should be preserved"). They always read 0 here,
//! so a guest that preserves them writes 0; a write that sets one is #GP,
//! as the project's rule for reserved bits asks, and never silently stored.
//!
//! **Choice (AutoEOI).** AutoEOI is accepted unless the partition's leaf
//! `0x40000004` recommends deprecating it (EAX bit 9); then setting it is
//! #GP, as for a feature not offered.
//!
//! **Choice (a page beyond the GPA space).** "If the specified base address
//! is beyond the end of the partition's GPA space, the SIMP page will not
//! be accessible to the guest": the write is accepted and the page enabled,
//! but it is not laid over any GPA ([`OverlayRequest::Remove`]).

use tessera_hv1::Hv1Config;
use tlfs::msr as m;
use tlfs::synic::{
    HV_SYNIC_SINT_COUNT, HV_SYNIC_VERSION_1, HvSynicScontrol, HvSynicSiefp, HvSynicSimp,
    HvSynicSint,
};
use tlfs::types::HV_PAGE_SIZE;

use crate::overlay::{OverlayId, OverlayRequest};
use crate::sint::{Sint, is_unmasked};

/// The access raises #GP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GeneralProtection;

/// A SynIC MSR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SynicMsr {
    /// `HV_X64_MSR_SCONTROL`.
    Scontrol,
    /// `HV_X64_MSR_SVERSION`.
    Sversion,
    /// `HV_X64_MSR_SIEFP`.
    Siefp,
    /// `HV_X64_MSR_SIMP`.
    Simp,
    /// `HV_X64_MSR_EOM`.
    Eom,
    /// `HV_X64_MSR_SINT0` + n.
    Sint(Sint),
}

impl SynicMsr {
    /// The SynIC register at `msr`, if it is one.
    #[must_use]
    pub const fn from_msr(msr: u32) -> Option<Self> {
        match msr {
            m::HV_X64_MSR_SCONTROL => Some(Self::Scontrol),
            m::HV_X64_MSR_SVERSION => Some(Self::Sversion),
            m::HV_X64_MSR_SIEFP => Some(Self::Siefp),
            m::HV_X64_MSR_SIMP => Some(Self::Simp),
            m::HV_X64_MSR_EOM => Some(Self::Eom),
            m::HV_X64_MSR_SINT0..=m::HV_X64_MSR_SINT15 => {
                match Sint::new(msr - m::HV_X64_MSR_SINT0) {
                    Some(sint) => Some(Self::Sint(sint)),
                    None => None,
                }
            }
            _ => None,
        }
    }

    /// Its MSR number.
    #[must_use]
    pub const fn msr(self) -> u32 {
        match self {
            Self::Scontrol => m::HV_X64_MSR_SCONTROL,
            Self::Sversion => m::HV_X64_MSR_SVERSION,
            Self::Siefp => m::HV_X64_MSR_SIEFP,
            Self::Simp => m::HV_X64_MSR_SIMP,
            Self::Eom => m::HV_X64_MSR_EOM,
            Self::Sint(sint) => m::HV_X64_MSR_SINT0 + sint.number() as u32,
        }
    }
}

/// What the partition's CPUID leaves allow the SynIC registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegisterPolicy {
    /// Leaf `0x40000003` EDX bit 17, `SintPollingModeAvailable`: the SINT
    /// Polling bit may be set.
    pub polling: bool,
    /// Leaf `0x40000004` EAX bit 9 (`DeprecateAutoEoi`) clear: the SINT
    /// AutoEOI bit may be set.
    pub auto_eoi: bool,
    /// The end of the partition's GPA space (bytes): a page at or beyond
    /// it is enabled but not accessible.
    pub gpa_limit: u64,
}

impl RegisterPolicy {
    /// The policy a guest reading `config`'s leaves is entitled to, in a
    /// GPA space of `gpa_limit` bytes.
    #[must_use]
    pub fn from_config(config: &Hv1Config, gpa_limit: u64) -> Self {
        Self {
            polling: config.features_edx.sint_polling_mode_available(),
            auto_eoi: !config.recommendations.deprecate_auto_eoi(),
            gpa_limit,
        }
    }
}

/// SCONTROL bits 63:1 (RsvdP, see the module's choice).
const SCONTROL_RESERVED: u64 = !1;
/// SIMP and SIEFP bits 11:1.
const PAGE_RESERVED: u64 = 0xFFE;
/// SINTx bits 15:8 and 63:19.
const SINT_RESERVED: u64 = 0xFF00 | !0x7_FFFF;

/// What a register write asks of the kernel besides storing the value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct WriteEffect {
    /// A SIM or SIEF page moved, appeared or went away.
    pub overlay: Option<OverlayRequest>,
    /// Try again to deliver this VP's queued messages: EOM ("the hypervisor
    /// \[will\] scan the internal message buffer queue(s) associated with the
    /// virtual processor"), and SCONTROL or SIMP becoming enabled, which
    /// may open slots that were closed.
    pub rescan: bool,
}

/// One VP's SynIC registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynicRegisters {
    /// SCONTROL.
    pub scontrol: HvSynicScontrol,
    /// SIEFP.
    pub siefp: HvSynicSiefp,
    /// SIMP.
    pub simp: HvSynicSimp,
    /// SINT0–SINT15.
    pub sints: [HvSynicSint; HV_SYNIC_SINT_COUNT],
}

impl Default for SynicRegisters {
    /// The values "at virtual processor creation time and upon processor
    /// reset": SCONTROL, SIEFP and SIMP 0, every SINT `0x10000`.
    fn default() -> Self {
        Self {
            scontrol: HvSynicScontrol::new(),
            siefp: HvSynicSiefp::new(),
            simp: HvSynicSimp::new(),
            sints: [HvSynicSint::RESET_VALUE; HV_SYNIC_SINT_COUNT],
        }
    }
}

impl SynicRegisters {
    /// SINT `sint`'s register.
    #[must_use]
    pub const fn sint(&self, sint: Sint) -> HvSynicSint {
        self.sints[sint.index()]
    }

    /// Whether messages can go to SINT slots now: SCONTROL and SIMP
    /// enabled.
    #[must_use]
    pub const fn messages_enabled(&self) -> bool {
        self.scontrol.enable() && self.simp.enable()
    }

    /// Whether event flags can be set now: SCONTROL and SIEFP enabled.
    #[must_use]
    pub const fn events_enabled(&self) -> bool {
        self.scontrol.enable() && self.siefp.enable()
    }

    /// The vectors of the unmasked SINTs with AutoEOI, as a 256-bit set
    /// (bit *v* of word *v* / 64): when the kernel injects one of these, it
    /// ends it in the APIC at once, since the guest will not.
    #[must_use]
    pub fn auto_eoi_vectors(&self) -> [u64; 4] {
        let mut set = [0; 4];
        for sint in self.sints {
            if sint.auto_eoi() && !sint.masked() && !sint.polling() {
                set[usize::from(sint.vector() / 64)] |= 1 << (sint.vector() % 64);
            }
        }
        set
    }

    /// RDMSR.
    #[must_use]
    pub const fn read(&self, msr: SynicMsr) -> u64 {
        match msr {
            SynicMsr::Scontrol => self.scontrol.into_bits(),
            SynicMsr::Sversion => HV_SYNIC_VERSION_1 as u64,
            SynicMsr::Siefp => self.siefp.into_bits(),
            SynicMsr::Simp => self.simp.into_bits(),
            SynicMsr::Eom => 0,
            SynicMsr::Sint(sint) => self.sint(sint).into_bits(),
        }
    }

    /// WRMSR by VP `vp` (its index names the overlay pages).
    ///
    /// # Errors
    ///
    /// [`GeneralProtection`] as the module's table says; the registers are
    /// then unchanged.
    pub fn write(
        &mut self,
        vp: u32,
        msr: SynicMsr,
        value: u64,
        policy: &RegisterPolicy,
    ) -> Result<WriteEffect, GeneralProtection> {
        match msr {
            SynicMsr::Sversion => Err(GeneralProtection),
            SynicMsr::Eom if value != 0 => Err(GeneralProtection),
            SynicMsr::Eom => Ok(WriteEffect {
                overlay: None,
                rescan: true,
            }),
            SynicMsr::Scontrol => {
                reserved(value, SCONTROL_RESERVED)?;
                let was = self.scontrol.enable();
                self.scontrol = HvSynicScontrol::from_bits(value);
                Ok(WriteEffect {
                    overlay: None,
                    rescan: self.scontrol.enable() && !was,
                })
            }
            SynicMsr::Simp => {
                let effect = page_write(
                    OverlayId::SynicMessagePage(vp),
                    self.simp.into_bits(),
                    value,
                    policy,
                )?;
                self.simp = HvSynicSimp::from_bits(value);
                Ok(effect)
            }
            SynicMsr::Siefp => {
                let effect = page_write(
                    OverlayId::SynicEventFlagsPage(vp),
                    self.siefp.into_bits(),
                    value,
                    policy,
                )?;
                self.siefp = HvSynicSiefp::from_bits(value);
                // Only messages wait for a page.
                Ok(WriteEffect {
                    rescan: false,
                    ..effect
                })
            }
            SynicMsr::Sint(sint) => {
                let new = check_sint(value, policy)?;
                self.sints[sint.index()] = new;
                Ok(WriteEffect::default())
            }
        }
    }

    /// The overlay requests that take both pages away (VP reset).
    #[must_use]
    pub const fn overlays_to_remove(vp: u32) -> [OverlayRequest; 2] {
        [
            OverlayRequest::Remove {
                id: OverlayId::SynicMessagePage(vp),
            },
            OverlayRequest::Remove {
                id: OverlayId::SynicEventFlagsPage(vp),
            },
        ]
    }
}

const fn reserved(value: u64, mask: u64) -> Result<(), GeneralProtection> {
    if value & mask != 0 {
        Err(GeneralProtection)
    } else {
        Ok(())
    }
}

/// The SINT value `value` may become, or #GP.
const fn check_sint(value: u64, policy: &RegisterPolicy) -> Result<HvSynicSint, GeneralProtection> {
    if value & SINT_RESERVED != 0 {
        return Err(GeneralProtection);
    }
    let sint = HvSynicSint::from_bits(value);
    if sint.polling() && !policy.polling {
        return Err(GeneralProtection);
    }
    if sint.auto_eoi() && !policy.auto_eoi {
        return Err(GeneralProtection);
    }
    // "Valid values for vector are 16-255 inclusive. Specifying an invalid
    // vector number results in #GP." A masked source's vector is never
    // used (the reset value has vector 0).
    if is_unmasked(sint) && sint.vector() < 16 {
        return Err(GeneralProtection);
    }
    Ok(sint)
}

/// Where a SIMP or SIEFP value puts its page in the guest's view:
/// `Some(gpa)` when enabled inside the GPA space (both registers: Enable in
/// bit 0, the page number in bits 63:12).
fn visible_at(value: u64, policy: &RegisterPolicy) -> Option<u64> {
    let gpa = value & !(HV_PAGE_SIZE as u64 - 1);
    (value & 1 != 0 && gpa < policy.gpa_limit).then_some(gpa)
}

/// A write of `new` to the SIMP or SIEFP that holds `old`: the overlay
/// request that takes page `id` from where `old` put it to where `new`
/// puts it (none if that does not change), and a rescan if the page
/// became enabled.
fn page_write(
    id: OverlayId,
    old: u64,
    new: u64,
    policy: &RegisterPolicy,
) -> Result<WriteEffect, GeneralProtection> {
    reserved(new, PAGE_RESERVED)?;
    let (before, after) = (visible_at(old, policy), visible_at(new, policy));
    let overlay = (before != after).then_some(match after {
        Some(gpa) => OverlayRequest::Place { id, gpa },
        None => OverlayRequest::Remove { id },
    });
    Ok(WriteEffect {
        overlay,
        rescan: new & 1 != 0 && old & 1 == 0,
    })
}
