//! Hostile guest input: arbitrary register traffic through both
//! interfaces, mode changes and interrupts never panic, and the
//! architecture's invariants hold after every step.

mod common;

use common::config;
use proptest::prelude::*;
use tessera_lapic::{ApicMode, LocalApic, Lvt, Trigger};

#[derive(Clone, Debug)]
enum Op {
    Mmio {
        offset: u64,
        size: u8,
        value: u64,
        write: bool,
    },
    Msr {
        msr: u32,
        value: u64,
        write: bool,
    },
    Base(u64),
    Accept(u8, bool),
    Ack,
    Eoi,
    Lint(usize, bool),
    Time(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let size = prop::sample::select(vec![1_u8, 2, 4, 8]);
    prop_oneof![
        (0..0x1100_u64, size, any::<u64>(), any::<bool>()).prop_map(
            |(offset, size, value, write)| Op::Mmio {
                offset,
                size,
                value,
                write
            }
        ),
        (0x7F0..0x850_u32, any::<u64>(), any::<bool>(), 0..4_u8).prop_map(
            |(msr, value, write, pick)| {
                let msr = match pick {
                    0 => 0x1B,
                    1 => 0x6E0,
                    _ => msr,
                };
                // Small values are the interesting ones for most registers.
                let value = if pick == 3 {
                    value & 0xFFFF_FFFF
                } else {
                    value & 0x000F_FFFF
                };
                Op::Msr { msr, value, write }
            }
        ),
        prop::sample::select(vec![
            0xFEE0_0800_u64,
            0xFEE0_0C00,
            0xFEE0_0000,
            0xFEE0_0400,
            0xFED0_0800,
            0xFEE0_0801
        ])
        .prop_map(Op::Base),
        (any::<u8>(), any::<bool>()).prop_map(|(v, l)| Op::Accept(v, l)),
        Just(Op::Ack),
        Just(Op::Eoi),
        (0..3_usize, any::<bool>()).prop_map(|(p, l)| Op::Lint(p, l)),
        (0..5_000_u64).prop_map(Op::Time),
    ]
}

proptest! {
    #[test]
    fn any_traffic_keeps_the_invariants(ops in proptest::collection::vec(op(), 1..300)) {
        let mut apic = LocalApic::new(config(5));
        let mut now = 0_u64;
        for op in ops {
            match op {
                Op::Mmio { offset, size, value, write } => {
                    if write {
                        let _ = apic.write_mmio(offset, size, value, now);
                    } else {
                        let value = apic.read_mmio(offset, size, now);
                        if let Some(v) = value {
                            prop_assert!(size >= 8 || v >> (8 * size as u32) == 0, "read wider than the access");
                        }
                    }
                }
                Op::Msr { msr, value, write } => {
                    if write {
                        let _ = apic.write_msr(msr, value, now);
                    } else {
                        let _ = apic.read_msr(msr, now);
                    }
                }
                Op::Base(value) => { let _ = apic.write_apic_base(value); }
                Op::Accept(vector, level) => {
                    apic.accept(vector, if level { Trigger::Level } else { Trigger::Edge });
                }
                Op::Ack => { apic.acknowledge(); }
                Op::Eoi => { apic.eoi(); }
                Op::Lint(pin, level) => { apic.set_lint(pin, level); }
                Op::Time(delta) => {
                    now += delta;
                    apic.poll_timer(now);
                }
            }
            // The IRR and ISR never hold an illegal vector.
            prop_assert!(apic.irr().iter().all(|v| v >= 16));
            prop_assert!(apic.isr().iter().all(|v| v >= 16));
            // A software-disabled APIC has every LVT masked.
            if !apic.software_enabled() {
                for lvt in Lvt::ALL {
                    prop_assert!(apic.lvt(lvt) & 1 << 16 != 0, "{:?}", lvt);
                }
            }
            // The PPR is at least the TPR and at least the in-service class.
            prop_assert!(apic.ppr() >= apic.tpr() & 0xF0);
            if let Some(isrv) = apic.isr().highest() {
                prop_assert!(apic.ppr() >= isrv & 0xF0);
            }
            // A pending vector beats the PPR.
            if let Some(v) = apic.pending_vector() {
                prop_assert!(v >> 4 > apic.ppr() >> 4);
            }
            // Each mode has exactly its interface.
            let mmio = apic.read_mmio(0x30, 4, now).is_some();
            let msr = apic.read_msr(0x803, now).is_ok();
            match apic.mode() {
                ApicMode::Xapic => prop_assert!(mmio && !msr),
                ApicMode::X2apic => prop_assert!(!mmio && msr),
                ApicMode::Disabled => {
                    prop_assert!(!mmio && !msr);
                    prop_assert!(apic.pending_vector().is_none());
                    prop_assert!(apic.next_timer_deadline().is_none());
                }
            }
            // The timer is never due in the past without firing on poll.
            if let Some(deadline) = apic.next_timer_deadline()
                && deadline <= now
            {
                let mut copy = apic;
                prop_assert!(copy.poll_timer(now).is_some());
            }
        }
    }
}
