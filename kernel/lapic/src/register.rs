//! The local APIC's registers: where each one is in the xAPIC page and in
//! the x2APIC MSR range, and who may read or write it.
//!
//! Intel SDM Vol. 3A (2016 edition, chapter 10) Table 10-1 "Local APIC
//! Register Address Map" for the xAPIC offsets and Table 10-6 "Local APIC
//! Register Address Map Supported by x2APIC" (§10.12.1.2) for the MSRs:
//! MSR `0x800 + offset / 16`. AMD APM Vol. 2 chapter 16 "Advanced
//! Programmable Interrupt Controller" lists the same offsets; its extended
//! APIC space (`0x400` and up) is not offered (version bit 31 clear).

/// One architectural APIC register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Register {
    /// `0x020` / `0x802`: local APIC ID.
    Id,
    /// `0x030` / `0x803`: version, max LVT entry, EOI-broadcast suppression.
    Version,
    /// `0x080` / `0x808`: task priority.
    Tpr,
    /// `0x090`: arbitration priority (xAPIC only, AMD and P6).
    Apr,
    /// `0x0A0` / `0x80A`: processor priority (read-only).
    Ppr,
    /// `0x0B0` / `0x80B`: end of interrupt (write-only).
    Eoi,
    /// `0x0C0`: remote read (xAPIC only).
    RemoteRead,
    /// `0x0D0` / `0x80D`: logical destination (read-only in x2APIC).
    Ldr,
    /// `0x0E0`: destination format (xAPIC only).
    Dfr,
    /// `0x0F0` / `0x80F`: spurious interrupt vector.
    Svr,
    /// `0x100 + 16·n` / `0x810 + n`: in-service bits `32n .. 32n + 31`.
    Isr(u8),
    /// `0x180 + 16·n` / `0x818 + n`: trigger mode bits.
    Tmr(u8),
    /// `0x200 + 16·n` / `0x820 + n`: interrupt request bits.
    Irr(u8),
    /// `0x280` / `0x828`: error status.
    Esr,
    /// `0x300` / `0x830`: interrupt command, bits 31:0 (x2APIC: all 64).
    IcrLow,
    /// `0x310`: interrupt command, bits 63:32 (xAPIC only).
    IcrHigh,
    /// An LVT entry.
    Lvt(Lvt),
    /// `0x380` / `0x838`: timer initial count.
    TimerInitialCount,
    /// `0x390` / `0x839`: timer current count (read-only).
    TimerCurrentCount,
    /// `0x3E0` / `0x83E`: timer divide configuration.
    TimerDivide,
    /// `0x83F`: self IPI (x2APIC only, write-only).
    SelfIpi,
}

/// The local vector table entries Tessera's APIC has: six, so the version
/// register reports "max LVT entry" 5 (no CMCI entry, as on AMD
/// processors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lvt {
    /// `0x320` / `0x832`.
    Timer = 0,
    /// `0x330` / `0x833`.
    Thermal = 1,
    /// `0x340` / `0x834`.
    Performance = 2,
    /// `0x350` / `0x835`.
    Lint0 = 3,
    /// `0x360` / `0x836`.
    Lint1 = 4,
    /// `0x370` / `0x837`.
    Error = 5,
}

impl Lvt {
    /// Every entry, in register order.
    pub const ALL: [Self; 6] = [
        Self::Timer,
        Self::Thermal,
        Self::Performance,
        Self::Lint0,
        Self::Lint1,
        Self::Error,
    ];

    /// The index of this entry in [`ALL`](Self::ALL).
    #[must_use]
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// The first x2APIC MSR; the range is `0x800..=0x8FF` (SDM §10.12.1.2).
pub const X2APIC_MSR_BASE: u32 = 0x800;
/// The last MSR the architecture reserves for the x2APIC (SDM §10.12.2:
/// "the MSR address range 0800H through 0BFFH").
pub const X2APIC_MSR_LAST: u32 = 0xBFF;

impl Register {
    /// The register at xAPIC page offset `offset` (a multiple of 16 in
    /// `0..0x400`); `None` for a reserved offset.
    #[must_use]
    pub const fn from_xapic_offset(offset: u32) -> Option<Self> {
        if !offset.is_multiple_of(16) || offset >= 0x400 {
            return None;
        }
        let index = (offset / 16) as u8;
        Some(match offset {
            0x020 => Self::Id,
            0x030 => Self::Version,
            0x080 => Self::Tpr,
            0x090 => Self::Apr,
            0x0A0 => Self::Ppr,
            0x0B0 => Self::Eoi,
            0x0C0 => Self::RemoteRead,
            0x0D0 => Self::Ldr,
            0x0E0 => Self::Dfr,
            0x0F0 => Self::Svr,
            0x100..=0x170 => Self::Isr(index - 0x10),
            0x180..=0x1F0 => Self::Tmr(index - 0x18),
            0x200..=0x270 => Self::Irr(index - 0x20),
            0x280 => Self::Esr,
            0x300 => Self::IcrLow,
            0x310 => Self::IcrHigh,
            0x320 => Self::Lvt(Lvt::Timer),
            0x330 => Self::Lvt(Lvt::Thermal),
            0x340 => Self::Lvt(Lvt::Performance),
            0x350 => Self::Lvt(Lvt::Lint0),
            0x360 => Self::Lvt(Lvt::Lint1),
            0x370 => Self::Lvt(Lvt::Error),
            0x380 => Self::TimerInitialCount,
            0x390 => Self::TimerCurrentCount,
            0x3E0 => Self::TimerDivide,
            // 0x000-0x010, 0x040-0x070, 0x290-0x2F0 (CMCI is not offered),
            // 0x3A0-0x3D0, 0x3F0 (SELF IPI exists only as an MSR).
            _ => return None,
        })
    }

    /// The register x2APIC MSR `msr` names; `None` for any other MSR,
    /// including the x2APIC range's reserved numbers and the xAPIC-only
    /// registers (APR `0x809`, remote read `0x80C`, DFR `0x80E`, ICR high
    /// `0x831`), whose access is #GP (SDM §10.12.1.2, Table 10-6).
    #[must_use]
    pub const fn from_x2apic_msr(msr: u32) -> Option<Self> {
        if msr < X2APIC_MSR_BASE || msr > X2APIC_MSR_BASE + 0x3F {
            return None;
        }
        if msr == 0x83F {
            return Some(Self::SelfIpi);
        }
        match Self::from_xapic_offset((msr - X2APIC_MSR_BASE) * 16) {
            Some(Self::Apr | Self::RemoteRead | Self::Dfr | Self::IcrHigh) | None => None,
            other => other,
        }
    }

    /// Whether software may read it (SDM Table 10-1, Table 10-6: EOI and
    /// SELF IPI are write-only).
    #[must_use]
    pub const fn readable(self) -> bool {
        !matches!(self, Self::Eoi | Self::SelfIpi)
    }

    /// Whether software may write it. ID is writable in the xAPIC tables;
    /// Tessera keeps APIC IDs fixed (TLFS md `virtual-interrupts.md` §
    /// Local APIC: "The hypervisor may not allow a guest to modify its
    /// APIC IDs"), and ignores such writes; see
    /// [`LocalApic`](crate::LocalApic).
    #[must_use]
    pub const fn writable(self) -> bool {
        !matches!(
            self,
            Self::Version
                | Self::Apr
                | Self::Ppr
                | Self::RemoteRead
                | Self::Isr(_)
                | Self::Tmr(_)
                | Self::Irr(_)
                | Self::TimerCurrentCount
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xapic_map() {
        assert_eq!(Register::from_xapic_offset(0x20), Some(Register::Id));
        assert_eq!(Register::from_xapic_offset(0x170), Some(Register::Isr(7)));
        assert_eq!(Register::from_xapic_offset(0x180), Some(Register::Tmr(0)));
        assert_eq!(Register::from_xapic_offset(0x270), Some(Register::Irr(7)));
        assert_eq!(
            Register::from_xapic_offset(0x350),
            Some(Register::Lvt(Lvt::Lint0))
        );
        for reserved in [
            0x0, 0x10, 0x40, 0x70, 0x290, 0x2F0, 0x3A0, 0x3D0, 0x3F0, 0x400,
        ] {
            assert_eq!(Register::from_xapic_offset(reserved), None, "{reserved:#x}");
        }
        assert_eq!(Register::from_xapic_offset(0x24), None);
    }

    #[test]
    fn x2apic_map() {
        assert_eq!(Register::from_x2apic_msr(0x802), Some(Register::Id));
        assert_eq!(Register::from_x2apic_msr(0x830), Some(Register::IcrLow));
        assert_eq!(Register::from_x2apic_msr(0x83F), Some(Register::SelfIpi));
        assert_eq!(Register::from_x2apic_msr(0x827), Some(Register::Irr(7)));
        // xAPIC-only registers and reserved numbers.
        for gp in [
            0x800, 0x801, 0x809, 0x80C, 0x80E, 0x82F, 0x831, 0x840, 0x8FF, 0x7FF,
        ] {
            assert_eq!(Register::from_x2apic_msr(gp), None, "{gp:#x}");
        }
    }

    #[test]
    fn access_rules() {
        assert!(!Register::Eoi.readable());
        assert!(!Register::SelfIpi.readable());
        assert!(Register::Eoi.writable());
        assert!(!Register::Ppr.writable());
        assert!(!Register::Isr(3).writable());
        assert!(!Register::TimerCurrentCount.writable());
        assert!(Register::TimerInitialCount.writable());
    }
}
