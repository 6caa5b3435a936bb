//! Helpers shared by the integration tests: APICs with a given
//! configuration, and a tiny "partition" that routes IPIs between them the
//! way the kernel will.
#![allow(dead_code)]

use core::num::NonZeroU64;

use tessera_lapic::{
    ApicConfig, DeliveryMode, Effect, LocalApic, Message, Received, TimerClock, arbitrate, base,
    resolve,
};

/// A 1 GHz TSC and the default 200 MHz APIC clock: 5 TSC ticks per APIC
/// tick.
pub const CLOCK: TimerClock = TimerClock {
    tsc_hz: NonZeroU64::new(1_000_000_000).unwrap(),
    apic_hz: NonZeroU64::new(200_000_000).unwrap(),
};

pub fn config(id: u32) -> ApicConfig {
    ApicConfig {
        id,
        bsp: id == 0,
        x2apic: true,
        tsc_deadline: true,
        eoi_broadcast_suppression: true,
        physical_address_bits: 48,
        clock: CLOCK,
    }
}

/// A software-enabled xAPIC (SVR = 0x1FF).
pub fn xapic(id: u32) -> LocalApic {
    let mut apic = LocalApic::new(config(id));
    assert_eq!(apic.write_mmio(0xF0, 4, 0x1FF, 0), Some(Effect::None));
    apic
}

/// A software-enabled x2APIC.
pub fn x2apic(id: u32) -> LocalApic {
    let mut apic = LocalApic::new(config(id));
    apic.write_apic_base(base::DEFAULT_BASE | base::EN | base::EXTD)
        .unwrap();
    apic.write_msr(0x80F, 0x1FF, 0).unwrap();
    apic
}

/// Reads an xAPIC register (32-bit).
pub fn mmio(apic: &mut LocalApic, offset: u64) -> u32 {
    apic.read_mmio(offset, 4, 0).expect("xAPIC mode") as u32
}

/// Writes an xAPIC register (32-bit).
pub fn set_mmio(apic: &mut LocalApic, offset: u64, value: u32) -> Effect {
    apic.write_mmio(offset, 4, value as u64, 0)
        .expect("xAPIC mode")
}

/// The APICs of one partition, VP i = `apics[i]`, with the kernel's
/// routing of IPIs.
pub struct Partition {
    pub apics: Vec<LocalApic>,
    /// What each VP received besides fixed interrupts (INIT, SIPI, ...),
    /// in order.
    pub events: Vec<Vec<Received>>,
    pub rotation: u8,
}

impl Partition {
    pub fn new(apics: Vec<LocalApic>) -> Self {
        let n = apics.len();
        Self {
            apics,
            events: vec![Vec::new(); n],
            rotation: 0,
        }
    }

    /// Delivers `message` sent by VP `sender` (or a device).
    pub fn deliver(&mut self, message: &Message, sender: Option<usize>) {
        let addresses: Vec<_> = self.apics.iter().map(LocalApic::address).collect();
        let targets = resolve(&message.target, sender, &addresses);
        let chosen: Vec<u8> = if message.mode == DeliveryMode::LowestPriority {
            let winner = arbitrate(&targets, self.rotation, |vp| {
                self.apics[vp as usize].contender(message.vector)
            });
            self.rotation = self.rotation.wrapping_add(1);
            winner.into_iter().collect()
        } else {
            targets.iter().collect()
        };
        for vp in chosen {
            let received = self.apics[vp as usize].receive(message);
            if !matches!(received, Received::Pending) {
                self.events[vp as usize].push(received);
            }
        }
    }

    /// Applies the effect of a register write VP `sender` made.
    pub fn apply(&mut self, sender: usize, effect: Effect) {
        if let Effect::Send(message) = effect {
            self.deliver(&message, Some(sender));
        }
    }

    /// VP `vp` writes its ICR (xAPIC: high then low; x2APIC: one MSR).
    pub fn send_ipi(&mut self, vp: usize, icr: u64) {
        let apic = &mut self.apics[vp];
        let effect = match apic.mode() {
            tessera_lapic::ApicMode::X2apic => apic.write_msr(0x830, icr, 0).unwrap(),
            _ => {
                set_mmio(apic, 0x310, (icr >> 32) as u32);
                set_mmio(apic, 0x300, icr as u32)
            }
        };
        self.apply(vp, effect);
    }
}
