//! An interrupt message as it travels between APICs: what an ICR write,
//! an I/O APIC redirection entry, an MSI or a local interrupt asks for.

use crate::destination::Destination;

/// The delivery mode field (ICR bits 10:8, LVT bits 10:8, I/O APIC
/// redirection entry bits 10:8).
///
/// Intel SDM Vol. 3A §10.6.1 "Interrupt Command Register (ICR)" and
/// §10.5.1 "Local Vector Table"; 82093AA I/O APIC datasheet §3.2.4
/// "I/O Redirection Table Registers".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryMode {
    /// `000b`: the vector, to every destination.
    Fixed,
    /// `001b`: the vector, to the destination with the lowest priority.
    LowestPriority,
    /// `010b`: SMI. Tessera's VPs have no system-management mode (TLFS md
    /// `virtual-interrupts.md`: "The hypervisor's local APIC may not be
    /// able to generate virtual SMIs"), so an SMI is dropped.
    Smi,
    /// `100b`: NMI (the vector is ignored).
    Nmi,
    /// `101b`: INIT (the vector is ignored).
    Init,
    /// `110b`: start-up (SIPI): the vector is the start page.
    StartUp,
    /// `111b`: ExtINT — the vector comes from an 8259 interrupt
    /// acknowledge (LVT LINT0/1 and the I/O APIC only; reserved in the
    /// ICR).
    ExtInt,
}

impl DeliveryMode {
    /// The mode a 3-bit field selects; `None` for the reserved `011b`.
    #[must_use]
    pub const fn from_bits(bits: u32) -> Option<Self> {
        Some(match bits & 7 {
            0 => Self::Fixed,
            1 => Self::LowestPriority,
            2 => Self::Smi,
            4 => Self::Nmi,
            5 => Self::Init,
            6 => Self::StartUp,
            7 => Self::ExtInt,
            _ => return None,
        })
    }

    /// The 3-bit field.
    #[must_use]
    pub const fn bits(self) -> u32 {
        match self {
            Self::Fixed => 0,
            Self::LowestPriority => 1,
            Self::Smi => 2,
            Self::Nmi => 4,
            Self::Init => 5,
            Self::StartUp => 6,
            Self::ExtInt => 7,
        }
    }

    /// Whether the vector names an IDT entry the receiving APIC queues in
    /// its IRR (fixed and lowest priority): only then are vectors 0–15
    /// illegal (SDM §10.5.2 "Valid Interrupt Vectors").
    #[must_use]
    pub const fn uses_irr(self) -> bool {
        matches!(self, Self::Fixed | Self::LowestPriority)
    }
}

/// Edge or level (ICR bit 15, LVT bit 15, redirection entry bit 15).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// Edge-triggered: the TMR bit is cleared on acceptance and EOI is not
    /// broadcast.
    #[default]
    Edge,
    /// Level-triggered: the TMR bit is set on acceptance and the EOI is
    /// broadcast to the I/O APICs (unless suppressed).
    Level,
}

/// Where an IPI goes: a destination or one of the ICR shorthands (ICR bits
/// 19:18, SDM §10.6.1 "Destination Shorthand").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `00b`: the destination field.
    Destination(Destination),
    /// `01b`: the sending APIC only.
    SelfOnly,
    /// `10b`: every APIC, the sender included.
    AllIncludingSelf,
    /// `11b`: every APIC but the sender.
    AllExcludingSelf,
}

/// An interrupt message: delivery mode, vector, trigger and target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Message {
    /// The delivery mode.
    pub mode: DeliveryMode,
    /// The vector (fixed, lowest priority: the IDT vector; start-up: the
    /// start page; ignored otherwise).
    pub vector: u8,
    /// Edge or level.
    pub trigger: Trigger,
    /// Where it goes.
    pub target: Target,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_encoding_round_trips() {
        for bits in 0..8 {
            match DeliveryMode::from_bits(bits) {
                Some(mode) => assert_eq!(mode.bits(), bits),
                None => assert_eq!(bits, 3),
            }
        }
        assert_eq!(DeliveryMode::from_bits(0xF), Some(DeliveryMode::ExtInt));
        assert!(DeliveryMode::Fixed.uses_irr());
        assert!(DeliveryMode::LowestPriority.uses_irr());
        assert!(!DeliveryMode::StartUp.uses_irr());
    }
}
