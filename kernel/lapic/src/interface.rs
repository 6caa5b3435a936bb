//! The guest's ways in: the xAPIC page, the x2APIC MSRs, `IA32_APIC_BASE`
//! and `IA32_TSC_DEADLINE`.

use crate::access::{Effect, GeneralProtection, Interface};
use crate::base::{self, ApicMode, BaseTransition};
use crate::register::{Register, X2APIC_MSR_BASE, X2APIC_MSR_LAST};
use crate::state::{ESR_ILLEGAL_REGISTER, LocalApic};

/// `IA32_TSC_DEADLINE`.
pub const IA32_TSC_DEADLINE: u32 = 0x6E0;
/// The x2APIC EOI register's MSR (SDM §10.12.1.2, Table 10-6).
const X2APIC_EOI: u32 = X2APIC_MSR_BASE + (0x0B0 >> 4);
/// The x2APIC ICR's MSR (one 64-bit register, SDM §10.12.9).
const X2APIC_ICR: u32 = X2APIC_MSR_BASE + (0x300 >> 4);

/// Whether `msr` is one the kernel routes to this crate: `IA32_APIC_BASE`,
/// `IA32_TSC_DEADLINE`, or the x2APIC range `0x800`–`0xBFF`.
#[must_use]
pub const fn is_apic_msr(msr: u32) -> bool {
    msr == base::IA32_APIC_BASE
        || msr == IA32_TSC_DEADLINE
        || (msr >= X2APIC_MSR_BASE && msr <= X2APIC_MSR_LAST)
}

/// The register an xAPIC page access at `offset` of `size` bytes reaches,
/// and the byte within it; `None` if the access is outside a register's
/// first four bytes.
fn mmio_register(offset: u64, size: u8) -> Option<(Option<Register>, u32)> {
    let within = (offset % 16) as u32;
    if offset >= 0x1000 || !matches!(size, 1 | 2 | 4) || within + size as u32 > 4 {
        return None;
    }
    let slot = (offset - within as u64) as u32;
    Some((Register::from_xapic_offset(slot), within))
}

impl LocalApic {
    /// A read of `size` bytes at `offset` in the xAPIC page, at guest TSC
    /// `now`; `None` when the page is not there (x2APIC or disabled: the
    /// access is not the APIC's, SDM §10.12.2).
    ///
    /// The architecture defines only aligned 32-bit accesses to the first
    /// four bytes of each 16-byte slot (SDM §10.4.1 "The Local APIC Block
    /// Diagram": "All 32-bit registers should be accessed using 128-bit
    /// aligned 32-bit loads or stores"). **Choice:** a 1-, 2- or 4-byte
    /// read within those four bytes returns those bytes of the register;
    /// any other read returns 0. A reserved offset reads 0 and sets ESR
    /// bit 7, "Illegal Register Address" (SDM §10.5.3).
    pub fn read_mmio(&mut self, offset: u64, size: u8, now: u64) -> Option<u64> {
        if self.mode() != ApicMode::Xapic {
            return None;
        }
        let Some((register, byte)) = mmio_register(offset, size) else {
            return Some(0);
        };
        let Some(register) = register else {
            self.raise_error(ESR_ILLEGAL_REGISTER);
            return Some(0);
        };
        let value = self.read_register(register, now) >> (8 * byte);
        let mask = if size == 4 {
            0xFFFF_FFFF
        } else {
            (1 << (8 * size)) - 1
        };
        Some(value & mask)
    }

    /// A write of `size` bytes of `value` at `offset` in the xAPIC page.
    /// `None` when the page is not there.
    ///
    /// **Choice:** only an aligned 4-byte write at the start of a slot
    /// reaches a register, as in Linux's KVM; any other write is ignored.
    /// A reserved offset sets ESR bit 7. Writes never fault through the
    /// page.
    pub fn write_mmio(&mut self, offset: u64, size: u8, value: u64, now: u64) -> Option<Effect> {
        if self.mode() != ApicMode::Xapic {
            return None;
        }
        let Some((register, 0)) = mmio_register(offset, size).filter(|_| size == 4) else {
            return Some(Effect::None);
        };
        let Some(register) = register else {
            self.raise_error(ESR_ILLEGAL_REGISTER);
            return Some(Effect::None);
        };
        // A page write cannot fault.
        Some(
            self.write_register(register, value & 0xFFFF_FFFF, Interface::Mmio, now)
                .unwrap_or(Effect::None),
        )
    }

    /// RDMSR of an [APIC MSR](is_apic_msr).
    ///
    /// # Errors
    ///
    /// #GP for an x2APIC MSR outside x2APIC mode (SDM §10.12.2), a
    /// reserved or xAPIC-only number, a write-only register (EOI, SELF
    /// IPI), and `IA32_TSC_DEADLINE` where CPUID 1 ECX\[24\] is not
    /// reported.
    #[inline]
    pub fn read_msr(&mut self, msr: u32, now: u64) -> Result<u64, GeneralProtection> {
        match msr {
            base::IA32_APIC_BASE => Ok(self.base),
            IA32_TSC_DEADLINE if self.config.tsc_deadline => Ok(self.timer.tsc_deadline()),
            _ => {
                let register = self.x2apic_register(msr)?;
                if !register.readable() {
                    return Err(GeneralProtection);
                }
                Ok(self.read_register(register, now))
            }
        }
    }

    /// WRMSR of an [APIC MSR](is_apic_msr). `IA32_APIC_BASE` writes go
    /// through [`write_apic_base`](Self::write_apic_base); this returns
    /// [`Effect::None`] for them and the kernel asks
    /// [`mode`](Self::mode) and [`mmio_base`](Self::mmio_base) afterwards.
    ///
    /// # Errors
    ///
    /// As [`read_msr`](Self::read_msr), plus a write to a read-only
    /// register, bits 63:32 set in any register but the ICR, a reserved bit
    /// set (SDM §10.12.1.3), and an invalid `IA32_APIC_BASE` transition.
    #[inline]
    pub fn write_msr(
        &mut self,
        msr: u32,
        value: u64,
        now: u64,
    ) -> Result<Effect, GeneralProtection> {
        match msr {
            // The hot case first, without the register decode: an EOI in
            // x2APIC mode (0 is its only valid value; anything else takes
            // the general path to its #GP).
            X2APIC_EOI if value == 0 && self.mode() == ApicMode::X2apic => {
                self.poll_timer(now);
                Ok(self.end_of_interrupt())
            }
            // A self-IPI's other hot register, as its register path does.
            X2APIC_ICR if self.mode() == ApicMode::X2apic => {
                self.poll_timer(now);
                self.write_icr_low(value, true)
            }
            base::IA32_APIC_BASE => self.write_apic_base(value).map(|_| Effect::None),
            IA32_TSC_DEADLINE if self.config.tsc_deadline => {
                self.poll_timer(now);
                self.timer.set_tsc_deadline(value);
                Ok(Effect::TimerChanged)
            }
            _ => {
                let register = self.x2apic_register(msr)?;
                if register != Register::IcrLow && value >> 32 != 0 {
                    return Err(GeneralProtection);
                }
                self.write_register(register, value, Interface::Msr, now)
            }
        }
    }

    #[inline]
    fn x2apic_register(&self, msr: u32) -> Result<Register, GeneralProtection> {
        if self.mode() != ApicMode::X2apic {
            return Err(GeneralProtection);
        }
        Register::from_x2apic_msr(msr).ok_or(GeneralProtection)
    }

    /// `IA32_APIC_BASE` as RDMSR returns it.
    #[must_use]
    pub const fn apic_base(&self) -> u64 {
        self.base
    }

    /// WRMSR of `IA32_APIC_BASE` ([`base::check_write`]): on success the
    /// value is stored and the transition applied — leaving the enabled
    /// modes resets the registers, and the timer with them.
    ///
    /// # Errors
    ///
    /// #GP for reserved bits and the transitions SDM §10.12.5 forbids.
    pub fn write_apic_base(&mut self, value: u64) -> Result<BaseTransition, GeneralProtection> {
        let (value, transition) = base::check_write(
            self.base,
            value,
            self.config.x2apic,
            self.config.physical_address_bits,
        )
        .map_err(|_| GeneralProtection)?;
        self.base = value;
        if matches!(transition, BaseTransition::Disable | BaseTransition::Enable) {
            self.reset_registers();
        }
        Ok(transition)
    }
}
