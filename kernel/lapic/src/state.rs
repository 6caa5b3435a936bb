//! The local APIC's configuration and state, its reset, and what it shows
//! the rest of the partition (its address, its PPR, its arbitration
//! contender). Delivery into it is in `delivery`.
//!
//! Intel SDM Vol. 3A §10.4.7 "Local APIC State" (reset, software disable,
//! INIT), §10.8.3.1 "Task and Processor Priorities".

use crate::base::{self, ApicMode};
use crate::bits::VectorSet;
use crate::destination::{ApicAddress, Contender, LogicalModel};
use crate::register::Lvt;
use crate::timer::{ApicTimer, TimerClock};

/// What a partition decides about one VP's APIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ApicConfig {
    /// The APIC ID (the x2APIC ID; its low 8 bits are the xAPIC ID). Fixed
    /// for the VP's life.
    pub id: u32,
    /// Whether this is the bootstrap processor (`IA32_APIC_BASE` bit 8).
    pub bsp: bool,
    /// CPUID 1 ECX\[21\] as the guest sees it: x2APIC mode may be entered.
    pub x2apic: bool,
    /// CPUID 1 ECX\[24\]: TSC-deadline mode and `IA32_TSC_DEADLINE` exist.
    pub tsc_deadline: bool,
    /// Version bit 24: SVR bit 12 (suppress EOI broadcasts) is offered.
    /// Offer it only where the I/O APIC has an EOI register (version
    /// `0x20`), since a guest that suppresses broadcasts EOIs the I/O APIC
    /// itself.
    pub eoi_broadcast_suppression: bool,
    /// MAXPHYADDR, for the reserved bits of `IA32_APIC_BASE`.
    pub physical_address_bits: u8,
    /// The timer's time base.
    pub clock: TimerClock,
}

/// ESR bit 5: an IPI with an illegal vector was not sent.
pub const ESR_SEND_ILLEGAL_VECTOR: u8 = 1 << 5;
/// ESR bit 6: an interrupt with an illegal vector was received or
/// generated locally, and dropped.
pub const ESR_RECEIVE_ILLEGAL_VECTOR: u8 = 1 << 6;
/// ESR bit 7: an xAPIC access to a reserved register offset.
pub const ESR_ILLEGAL_REGISTER: u8 = 1 << 7;

/// LVT bit 16.
pub const LVT_MASKED: u32 = 1 << 16;
/// SVR bit 8: APIC software enable.
pub const SVR_ENABLE: u32 = 1 << 8;
/// SVR bit 12: suppress EOI broadcasts.
pub const SVR_SUPPRESS_EOI_BROADCAST: u32 = 1 << 12;
/// The version register's version field: an integrated APIC (`10h`–`15h`,
/// SDM §10.4.8), the value QEMU and Linux's KVM report.
pub const APIC_VERSION: u32 = 0x14;

/// The end of an interrupt, from an EOI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EndOfInterrupt {
    /// The vector whose ISR bit was cleared.
    pub vector: u8,
    /// Whether it was level-triggered and the EOI goes to the I/O APICs,
    /// which clear the remote IRR of every entry with this vector (false
    /// when the guest suppressed EOI broadcasts: it then writes the I/O
    /// APIC's EOI register itself).
    pub broadcast: bool,
}

/// What [`LocalApic::receive`] did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Received {
    /// The vector is pending in the IRR (or was already).
    Pending,
    /// An NMI is pending.
    Nmi,
    /// INIT: the kernel resets the VP ([`StartupState`](crate::StartupState)).
    Init,
    /// Start-up with this vector: for a VP waiting for SIPI.
    StartUp(u8),
    /// ExtINT: the vector is to be fetched from the 8259 when the VP takes
    /// the interrupt.
    ExtInt,
    /// Nothing: the APIC is disabled (globally, or in software for fixed
    /// interrupts), the vector is illegal (ESR bit 6), or it was an SMI.
    Dropped,
}

/// One VP's local APIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalApic {
    pub(crate) config: ApicConfig,
    pub(crate) base: u64,
    pub(crate) tpr: u8,
    pub(crate) ldr: u32,
    pub(crate) dfr: u32,
    pub(crate) svr: u32,
    pub(crate) isr: VectorSet,
    pub(crate) irr: VectorSet,
    pub(crate) tmr: VectorSet,
    /// Errors since the last ESR write.
    pub(crate) esr_pending: u8,
    /// What ESR reads: the errors latched by the last ESR write.
    pub(crate) esr: u8,
    pub(crate) icr: u64,
    pub(crate) lvt: [u32; 6],
    pub(crate) timer: ApicTimer,
    pub(crate) nmi_pending: bool,
    pub(crate) lint_level: [bool; 2],
}

impl LocalApic {
    /// The APIC after power-on: enabled in xAPIC mode at `0xFEE00000`
    /// (SDM §10.12.5.1: "On coming out of reset, the local APIC unit is
    /// enabled and is in the xAPIC mode"), software-disabled, every LVT
    /// masked.
    #[must_use]
    pub fn new(config: ApicConfig) -> Self {
        let mut apic = Self {
            config,
            base: base::DEFAULT_BASE | base::EN | if config.bsp { base::BSP } else { 0 },
            tpr: 0,
            ldr: 0,
            dfr: 0,
            svr: 0,
            isr: VectorSet::EMPTY,
            irr: VectorSet::EMPTY,
            tmr: VectorSet::EMPTY,
            esr_pending: 0,
            esr: 0,
            icr: 0,
            lvt: [0; 6],
            timer: ApicTimer::new(config.clock),
            nmi_pending: false,
            lint_level: [false; 2],
        };
        apic.reset_registers();
        apic
    }

    /// The registers' reset values (SDM §10.4.7.1, §10.12.5.1): IRR, ISR,
    /// TMR, ICR, LDR, TPR, ESR, the timer counts and divide configuration
    /// 0; DFR all ones; SVR `0xFF`; every LVT masked. The ID and
    /// `IA32_APIC_BASE` are not registers this touches.
    pub(crate) fn reset_registers(&mut self) {
        self.tpr = 0;
        self.ldr = 0;
        self.dfr = 0xFFFF_FFFF;
        self.svr = 0xFF;
        self.isr = VectorSet::EMPTY;
        self.irr = VectorSet::EMPTY;
        self.tmr = VectorSet::EMPTY;
        self.esr_pending = 0;
        self.esr = 0;
        self.icr = 0;
        self.lvt = [LVT_MASKED; 6];
        self.timer.reset();
        self.nmi_pending = false;
    }

    /// The APIC after INIT: "the same as it is after a power-up or hardware
    /// reset, except that the APIC ID and arbitration ID registers are not
    /// affected" (SDM §10.4.7.3); the mode stays (§10.12.5.1: INIT keeps
    /// an x2APIC in x2APIC mode and a disabled APIC disabled).
    pub fn init_reset(&mut self) {
        self.reset_registers();
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &ApicConfig {
        &self.config
    }

    /// The mode `IA32_APIC_BASE` selects.
    #[must_use]
    #[inline]
    pub const fn mode(&self) -> ApicMode {
        match base::mode_of(self.base) {
            Some(mode) => mode,
            None => ApicMode::Disabled,
        }
    }

    /// The guest-physical address of the xAPIC page, while in xAPIC mode
    /// (the kernel routes accesses to it to [`read_mmio`](Self::read_mmio)
    /// and [`write_mmio`](Self::write_mmio)).
    #[must_use]
    pub const fn mmio_base(&self) -> Option<u64> {
        match self.mode() {
            ApicMode::Xapic => Some(base::base_address(self.base)),
            _ => None,
        }
    }

    /// Whether the APIC is software-enabled (SVR bit 8).
    #[must_use]
    #[inline]
    pub const fn software_enabled(&self) -> bool {
        self.svr & SVR_ENABLE != 0
    }

    #[inline]
    pub(crate) fn hardware_enabled(&self) -> bool {
        self.mode() != ApicMode::Disabled
    }

    /// The logical destination register as the current mode shows it: in
    /// x2APIC mode derived from the ID, cluster `id[31:4]` in bits 31:16
    /// and `1 << id[3:0]` in bits 15:0 (SDM §10.12.10.2).
    #[must_use]
    pub const fn ldr(&self) -> u32 {
        match self.mode() {
            ApicMode::X2apic => {
                let id = self.config.id;
                (id >> 4) << 16 | 1 << (id & 0xF)
            }
            _ => self.ldr & 0xFF00_0000,
        }
    }

    /// The processor priority: the TPR, or the class of the highest
    /// in-service vector if that is higher (SDM §10.8.3.1).
    #[must_use]
    #[inline]
    pub fn ppr(&self) -> u8 {
        let isrv = self.isr.highest().unwrap_or(0);
        if self.tpr & 0xF0 >= isrv & 0xF0 {
            self.tpr
        } else {
            isrv & 0xF0
        }
    }

    /// The task priority.
    #[must_use]
    #[inline]
    pub const fn tpr(&self) -> u8 {
        self.tpr
    }

    /// Sets the task priority (CR8 writes: CR8\[3:0\] = TPR\[7:4\]).
    #[inline]
    pub fn set_tpr(&mut self, tpr: u8) {
        self.tpr = tpr;
    }

    /// The in-service vectors.
    #[must_use]
    #[inline]
    pub const fn isr(&self) -> &VectorSet {
        &self.isr
    }

    /// The requested vectors.
    #[must_use]
    #[inline]
    pub const fn irr(&self) -> &VectorSet {
        &self.irr
    }

    /// The level-triggered vectors.
    #[must_use]
    pub const fn tmr(&self) -> &VectorSet {
        &self.tmr
    }

    /// The LVT entry `lvt`.
    #[must_use]
    pub const fn lvt(&self, lvt: Lvt) -> u32 {
        self.lvt[lvt.index()]
    }

    /// The spurious vector (SVR bits 7:0), for an acknowledge that finds
    /// nothing to deliver (SDM §10.9).
    #[must_use]
    pub const fn spurious_vector(&self) -> u8 {
        self.svr as u8
    }

    /// This APIC as destination matching sees it.
    #[must_use]
    pub fn address(&self) -> ApicAddress {
        let model = match self.mode() {
            ApicMode::X2apic => LogicalModel::X2apic,
            // DFR model 0000b is cluster; 1111b (and the undefined
            // values) flat.
            _ if self.dfr >> 28 == 0 => LogicalModel::Cluster,
            _ => LogicalModel::Flat,
        };
        ApicAddress {
            id: match self.mode() {
                ApicMode::X2apic => self.config.id,
                _ => self.config.id & 0xFF,
            },
            ldr: self.ldr(),
            model,
            enabled: self.hardware_enabled(),
        }
    }

    /// This APIC as lowest-priority arbitration sees it for `vector`.
    #[must_use]
    pub fn contender(&self, vector: u8) -> Contender {
        Contender {
            ppr: self.ppr(),
            has_vector: self.irr.contains(vector) || self.isr.contains(vector),
            accepts: self.hardware_enabled() && self.software_enabled(),
        }
    }

    /// What this APIC publishes for arbitration while its VP runs
    /// ([`Contender::published`]): its PPR and whether it accepts.
    #[must_use]
    #[inline]
    pub fn published_priority(&self) -> u16 {
        Contender {
            ppr: self.ppr(),
            has_vector: false,
            accepts: self.hardware_enabled() && self.software_enabled(),
        }
        .published()
    }

    /// The timer (read-only view).
    #[must_use]
    pub const fn timer(&self) -> &ApicTimer {
        &self.timer
    }
}
