//! Register reads and writes, the same for both interfaces except where
//! the architecture says otherwise: in x2APIC mode a reserved bit written
//! non-zero, a write to a read-only register and a read of a write-only
//! one are #GP (Intel SDM Vol. 3A §10.12.1.2 Table 10-6, §10.12.1.3
//! "Reserved Bit Checking"); through the xAPIC page they are ignored.

use crate::base::ApicMode;
use crate::icr::{self, IcrCommand, Unsent, X2APIC_ICR_RESERVED};
use crate::message::{Message, Trigger};
use crate::register::{Lvt, Register};
use crate::state::{
    APIC_VERSION, ESR_RECEIVE_ILLEGAL_VECTOR, ESR_SEND_ILLEGAL_VECTOR, LVT_MASKED, LocalApic,
    SVR_ENABLE, SVR_SUPPRESS_EOI_BROADCAST,
};
use crate::timer::TimerMode;

/// A general-protection fault for the guest (#GP(0)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GeneralProtection;

/// What the kernel does after a register write, besides re-evaluating the
/// pending interrupts (a write can queue one: SELF IPI, an APIC error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Nothing more.
    None,
    /// Deliver this IPI: resolve its target
    /// ([`resolve`](crate::resolve), [`arbitrate`](crate::arbitrate)) and
    /// hand it to each target's [`LocalApic::receive`] — the sender's own
    /// APIC included for the self shorthands.
    Send(Message),
    /// A level-triggered vector ended and goes to the I/O APICs, which
    /// clear the remote IRR of the entries with this vector.
    EoiBroadcast(u8),
    /// The timer was reprogrammed: re-read
    /// [`LocalApic::next_timer_deadline`].
    TimerChanged,
}

/// Which interface an access came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Interface {
    Mmio,
    Msr,
}

/// The LVT bits software may write, per entry (SDM Figure 10-8 "Local
/// Vector Table"): vector, delivery mode (thermal, performance, LINT),
/// polarity and trigger (LINT), mask, timer mode (bit 18 only with
/// TSC-deadline). Delivery status (12) and remote IRR (14) are read-only.
const fn lvt_writable(lvt: Lvt, tsc_deadline: bool) -> u32 {
    let common = 0xFF | LVT_MASKED;
    match lvt {
        Lvt::Timer => common | 1 << 17 | if tsc_deadline { 1 << 18 } else { 0 },
        Lvt::Thermal | Lvt::Performance => common | 0x700,
        Lvt::Lint0 | Lvt::Lint1 => common | 0x700 | 1 << 13 | 1 << 15,
        Lvt::Error => common,
    }
}

impl LocalApic {
    /// The ID register: the xAPIC ID in bits 31:24, or the 32-bit x2APIC
    /// ID.
    fn id_register(&self) -> u32 {
        match self.mode() {
            ApicMode::X2apic => self.config.id,
            _ => (self.config.id & 0xFF) << 24,
        }
    }

    /// The version register: version `0x14`, max LVT entry 5 (six
    /// entries), bit 24 if EOI-broadcast suppression is offered (SDM
    /// §10.4.8, Figure 10-7).
    #[must_use]
    pub fn version(&self) -> u32 {
        APIC_VERSION | 5 << 16 | (self.config.eoi_broadcast_suppression as u32) << 24
    }

    /// SVR bits software may write: vector, enable, focus checking (9,
    /// kept but without effect: arbitration always checks focus), and
    /// bit 12 where offered.
    fn svr_writable(&self) -> u32 {
        0x3FF
            | if self.config.eoi_broadcast_suppression {
                SVR_SUPPRESS_EOI_BROADCAST
            } else {
                0
            }
    }

    /// A register's value (x2APIC ICR: all 64 bits).
    pub(crate) fn read_register(&mut self, register: Register, now: u64) -> u64 {
        self.poll_timer(now);
        let value = match register {
            Register::Id => self.id_register(),
            Register::Version => self.version(),
            Register::Tpr => self.tpr as u32,
            // **Choice:** the arbitration priority is not modelled (Intel
            // processors since the Pentium 4 have none); it reads 0, as in
            // Linux's KVM.
            Register::Apr | Register::RemoteRead | Register::Eoi | Register::SelfIpi => 0,
            Register::Ppr => self.ppr() as u32,
            Register::Ldr => self.ldr(),
            Register::Dfr => self.dfr | 0x0FFF_FFFF,
            Register::Svr => self.svr,
            Register::Isr(n) => self.isr.word(n as usize),
            Register::Tmr(n) => self.tmr.word(n as usize),
            Register::Irr(n) => self.irr.word(n as usize),
            Register::Esr => self.esr as u32,
            Register::IcrLow if self.mode() == ApicMode::X2apic => return self.icr,
            Register::IcrLow => self.icr as u32,
            Register::IcrHigh => (self.icr >> 32) as u32,
            Register::Lvt(lvt) => self.lvt(lvt),
            Register::TimerInitialCount => self.timer.initial_count(),
            Register::TimerCurrentCount => self.timer.current_count(now),
            Register::TimerDivide => self.timer.divide_configuration(),
        };
        value as u64
    }

    /// Writes `value` to `register` through `interface` at guest TSC
    /// `now`.
    pub(crate) fn write_register(
        &mut self,
        register: Register,
        value: u64,
        interface: Interface,
        now: u64,
    ) -> Result<Effect, GeneralProtection> {
        let strict = interface == Interface::Msr;
        // Bits the register keeps; anything else is reserved: #GP in
        // x2APIC mode, dropped through the page.
        let check = |writable: u64| -> Result<u64, GeneralProtection> {
            if strict && value & !writable != 0 {
                Err(GeneralProtection)
            } else {
                Ok(value & writable)
            }
        };
        if !register.writable() || (strict && matches!(register, Register::Id | Register::Ldr)) {
            return if strict {
                Err(GeneralProtection)
            } else {
                Ok(Effect::None)
            };
        }
        self.poll_timer(now);
        match register {
            // Fixed IDs: through the page the write is ignored.
            Register::Id => {}
            Register::Tpr => self.tpr = check(0xFF)? as u8,
            Register::Eoi => {
                // x2APIC: "a write of a non-zero value causes #GP(0)"
                // (SDM §10.12.1.2 Table 10-6, EOI row).
                check(0)?;
                return Ok(self.end_of_interrupt());
            }
            Register::Ldr => self.ldr = value as u32 & 0xFF00_0000,
            Register::Dfr => self.dfr = value as u32 & 0xF000_0000,
            Register::Svr => {
                self.svr = check(self.svr_writable() as u64)? as u32;
                if self.svr & SVR_ENABLE == 0 {
                    // SDM §10.4.7.2: software disable sets every LVT mask.
                    for entry in &mut self.lvt {
                        *entry |= LVT_MASKED;
                    }
                }
            }
            Register::Esr => {
                // x2APIC: "WRMSR of a non-zero value causes #GP(0)".
                check(0)?;
                // SDM §10.5.3: "the ESR is a write/read register; a write
                // ... updates it with the errors detected since the last
                // write, and clears them".
                self.esr = core::mem::take(&mut self.esr_pending);
            }
            Register::IcrLow => return self.write_icr_low(value, strict),
            Register::IcrHigh => {
                self.icr = self.icr as u32 as u64 | (value & 0xFF00_0000) << 32;
            }
            Register::Lvt(lvt) => {
                let writable = lvt_writable(lvt, self.config.tsc_deadline);
                let mut entry = check(writable as u64)? as u32;
                if !self.software_enabled() {
                    entry |= LVT_MASKED;
                }
                self.lvt[lvt.index()] = entry;
                if lvt == Lvt::Timer {
                    self.timer.set_mode(TimerMode::from_lvt(entry), now);
                    return Ok(Effect::TimerChanged);
                }
            }
            Register::TimerInitialCount => {
                self.timer
                    .set_initial_count(check(0xFFFF_FFFF)? as u32, now);
                return Ok(Effect::TimerChanged);
            }
            Register::TimerDivide => {
                self.timer.set_divide_configuration(check(0xB)? as u32, now);
                return Ok(Effect::TimerChanged);
            }
            Register::SelfIpi => {
                let vector = check(0xFF)? as u8;
                // SDM §10.12.11: a self IPI is "a fixed, edge-triggered
                // interrupt"; an illegal vector is ESR bit 6 (§10.5.3).
                if vector < 16 {
                    self.raise_error(ESR_RECEIVE_ILLEGAL_VECTOR);
                } else {
                    self.accept(vector, Trigger::Edge);
                }
            }
            // Read-only registers were turned away above.
            _ => {}
        }
        Ok(Effect::None)
    }

    pub(crate) fn write_icr_low(
        &mut self,
        value: u64,
        x2apic: bool,
    ) -> Result<Effect, GeneralProtection> {
        if x2apic {
            if value & X2APIC_ICR_RESERVED != 0 {
                return Err(GeneralProtection);
            }
            self.icr = value;
        } else {
            let low = value as u32 & icr::XAPIC_ICR_LOW_WRITABLE;
            self.icr = (self.icr & !0xFFFF_FFFF) | low as u64;
        }
        Ok(match icr::decode(self.icr, x2apic) {
            IcrCommand::Send(message) => Effect::Send(message),
            IcrCommand::Unsent(Unsent::IllegalVector) => {
                self.raise_error(ESR_SEND_ILLEGAL_VECTOR);
                Effect::None
            }
            IcrCommand::Unsent(_) => Effect::None,
        })
    }
}
