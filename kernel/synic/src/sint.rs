//! Synthetic interrupt sources: the SINT index, and what raising one does.
//!
//! TLFS md `inter-partition-communication.md` § SINTx Registers: a SINT
//! that is masked loses its interrupt; one in polling mode is unmasked "except
//! that an actual interrupt is not generated"; otherwise its vector is
//! asserted, edge-triggered, at the VP's local APIC, and with AutoEOI "the
//! hypervisor will automatically clear the corresponding flag in the
//! 'in-service register' (ISR) of the virtual APIC". SCONTROL's Enable
//! gates all of it: when clear, "message queuing and event flag
//! notifications cannot be directed to this virtual processor" (§ SCONTROL
//! Register).

use tlfs::synic::{HV_SYNIC_SINT_COUNT, HvSynicScontrol, HvSynicSint};

/// A number below `N`: a SINT ([`Sint`]) or a timer
/// ([`TimerIndex`](crate::timer::TimerIndex)), each its own type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Index<const N: usize>(u8);

impl<const N: usize> Index<N> {
    /// Every number, in order.
    pub const ALL: [Self; N] = {
        let mut all = [Self(0); N];
        let mut i = 0;
        while i < N {
            all[i] = Self(i as u8);
            i += 1;
        }
        all
    };

    /// `n`, or `None` from `N` on.
    #[must_use]
    pub const fn new(n: u32) -> Option<Self> {
        if (n as usize) < N {
            Some(Self(n as u8))
        } else {
            None
        }
    }

    /// The number.
    #[must_use]
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The number as a `u8`.
    #[must_use]
    pub const fn number(self) -> u8 {
        self.0
    }
}

/// A SINT number, 0 to 15.
pub type Sint = Index<HV_SYNIC_SINT_COUNT>;

/// An interrupt to assert at a VP's local APIC (fixed delivery, edge).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Interrupt {
    /// The vector (16 to 255: the SINT and timer registers refuse lower
    /// ones).
    pub vector: u8,
    /// Perform the EOI implicitly when the interrupt is delivered: the
    /// vector never stays in service (SINT AutoEOI; never for direct
    /// timers).
    pub auto_eoi: bool,
}

/// What raising a SINT does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SintSignal {
    /// Assert this interrupt.
    Interrupt(Interrupt),
    /// Polling mode: the source is live, no interrupt.
    Polled,
    /// Masked, or the SynIC is disabled: the interrupt is lost.
    Masked,
}

impl SintSignal {
    /// The interrupt to assert, if any.
    #[must_use]
    pub const fn interrupt(self) -> Option<Interrupt> {
        match self {
            Self::Interrupt(interrupt) => Some(interrupt),
            Self::Polled | Self::Masked => None,
        }
    }
}

/// Whether a SINT is live for event flags: unmasked, or in polling mode
/// (which "will have the effect of unmasking an interrupt source").
#[must_use]
pub const fn is_unmasked(sint: HvSynicSint) -> bool {
    !sint.masked() || sint.polling()
}

/// What raising the SINT whose register is `sint` does, given SCONTROL.
#[must_use]
pub const fn signal(scontrol: HvSynicScontrol, sint: HvSynicSint) -> SintSignal {
    if !scontrol.enable() {
        return SintSignal::Masked;
    }
    if sint.polling() {
        return SintSignal::Polled;
    }
    if sint.masked() {
        return SintSignal::Masked;
    }
    SintSignal::Interrupt(Interrupt {
        vector: sint.vector(),
        auto_eoi: sint.auto_eoi(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering() {
        assert_eq!(Sint::new(15).map(Sint::index), Some(15));
        assert_eq!(Sint::new(16), None);
        assert_eq!(Sint::ALL[7].number(), 7);
    }

    #[test]
    fn signals() {
        let on = HvSynicScontrol::new().with_enable(true);
        let live = HvSynicSint::new().with_vector(0x40);
        assert_eq!(
            signal(on, live),
            SintSignal::Interrupt(Interrupt {
                vector: 0x40,
                auto_eoi: false
            })
        );
        assert_eq!(
            signal(on, live.with_auto_eoi(true)).interrupt(),
            Some(Interrupt {
                vector: 0x40,
                auto_eoi: true
            })
        );
        assert_eq!(signal(on, HvSynicSint::RESET_VALUE), SintSignal::Masked);
        assert_eq!(signal(on, live.with_polling(true)), SintSignal::Polled);
        // Polling wins over the mask: the source counts as unmasked.
        let polled_masked = HvSynicSint::RESET_VALUE.with_polling(true);
        assert_eq!(signal(on, polled_masked), SintSignal::Polled);
        assert!(is_unmasked(polled_masked));
        assert!(!is_unmasked(HvSynicSint::RESET_VALUE));
        assert_eq!(signal(HvSynicScontrol::new(), live), SintSignal::Masked);
    }
}
