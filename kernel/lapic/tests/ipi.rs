//! IPIs end to end through a model partition: ICR writes in both modes,
//! physical/logical/cluster/x2APIC destinations, broadcasts, shorthands,
//! lowest priority, NMI, and AP bring-up by INIT/SIPI.

mod common;

use common::{Partition, set_mmio, x2apic, xapic};
use proptest::prelude::*;
use tessera_lapic::{
    Activity, ApicAddress, Destination, DestinationMode, IdWidth, LogicalModel, Received,
    StartupState, Target, Trigger, resolve,
};

/// `n` software-enabled APICs, IDs 0..n, in xAPIC or x2APIC mode.
fn partition(n: u32, x2: bool) -> Partition {
    Partition::new(
        (0..n)
            .map(|i| if x2 { x2apic(i) } else { xapic(i) })
            .collect(),
    )
}

fn pending(p: &Partition) -> Vec<Option<u8>> {
    p.apics.iter().map(|a| a.pending_vector()).collect()
}

#[test]
fn physical_fixed_ipi_between_every_pair() {
    for x2 in [false, true] {
        let mut p = partition(4, x2);
        for from in 0..4 {
            for to in 0..4 {
                let icr = if x2 {
                    (to as u64) << 32
                } else {
                    (to as u64) << 56
                } | 0x40;
                p.send_ipi(from, icr);
                let mut expected = vec![None; 4];
                expected[to] = Some(0x40);
                assert_eq!(pending(&p), expected, "{from} -> {to}, x2apic {x2}");
                p.apics[to].acknowledge();
                p.apics[to].eoi();
            }
        }
    }
}

#[test]
fn shorthands() {
    let mut p = Partition::new((0..3).map(xapic).collect());
    // Self.
    p.send_ipi(1, 1 << 18 | 0x41);
    assert_eq!(pending(&p), [None, Some(0x41), None]);
    // All excluding self.
    p.send_ipi(1, 3 << 18 | 0x52);
    assert_eq!(pending(&p), [Some(0x52), Some(0x41), Some(0x52)]);
    // All including self.
    p.send_ipi(0, 2 << 18 | 0x63);
    assert_eq!(pending(&p), [Some(0x63), Some(0x63), Some(0x63)]);
    // The destination field is ignored with a shorthand.
    p.send_ipi(2, 0xFF00_0000_0000_0000 | 1 << 18 | 0x74);
    assert_eq!(pending(&p), [Some(0x63), Some(0x63), Some(0x74)]);
}

#[test]
fn broadcast_ids() {
    let mut p = Partition::new((0..3).map(xapic).collect());
    p.send_ipi(0, 0xFF << 56 | 0x45);
    assert_eq!(pending(&p), [Some(0x45); 3]);
    let mut p = Partition::new((0..3).map(x2apic).collect());
    p.send_ipi(0, 0xFFFF_FFFF << 32 | 0x46);
    assert_eq!(pending(&p), [Some(0x46); 3]);
    // In x2APIC mode 0xFF is an ordinary ID.
    p.send_ipi(0, 0xFF << 32 | 0x57);
    assert_eq!(pending(&p), [Some(0x46); 3]);
}

#[test]
fn logical_flat_and_cluster() {
    let mut p = Partition::new((0..4).map(xapic).collect());
    // Flat: VP i gets logical bit i.
    for (i, apic) in p.apics.iter_mut().enumerate() {
        set_mmio(apic, 0xD0, 1 << (24 + i));
    }
    p.send_ipi(0, 0b1010 << 56 | 1 << 11 | 0x50);
    assert_eq!(pending(&p), [None, Some(0x50), None, Some(0x50)]);
    // Cluster: VPs 0, 1 in cluster 1, VPs 2, 3 in cluster 2.
    let mut p = Partition::new((0..4).map(xapic).collect());
    for (i, apic) in p.apics.iter_mut().enumerate() {
        set_mmio(apic, 0xE0, 0x0FFF_FFFF);
        let cluster = 1 + i as u32 / 2;
        set_mmio(apic, 0xD0, (cluster << 4 | 1 << (i % 2)) << 24);
    }
    p.send_ipi(0, 0x23 << 56 | 1 << 11 | 0x51);
    assert_eq!(pending(&p), [None, None, Some(0x51), Some(0x51)]);
    p.send_ipi(0, 0x12 << 56 | 1 << 11 | 0x62);
    assert_eq!(pending(&p), [None, Some(0x62), Some(0x51), Some(0x51)]);
    // Cluster 0xF reaches every cluster, still by the mask: bit 0 is VPs
    // 0 and 2.
    p.send_ipi(0, 0xF1 << 56 | 1 << 11 | 0x73);
    assert_eq!(
        pending(&p),
        [Some(0x73), Some(0x62), Some(0x73), Some(0x51)]
    );
}

#[test]
fn x2apic_logical_clusters() {
    // IDs 0..20: clusters 0 (IDs 0-15) and 1 (16-19).
    let mut p = Partition::new((0..20).map(x2apic).collect());
    // Cluster 1, bits 0 and 3: IDs 16 and 19.
    p.send_ipi(0, (1 << 16 | 0b1001) << 32 | 1 << 11 | 0x44);
    let got: Vec<usize> = (0..20)
        .filter(|&i| p.apics[i].pending_vector().is_some())
        .collect();
    assert_eq!(got, [16, 19]);
}

#[test]
fn lowest_priority_picks_lowest_ppr_then_rotates() {
    let mut p = Partition::new((0..3).map(xapic).collect());
    set_mmio(&mut p.apics[0], 0x80, 0x30);
    set_mmio(&mut p.apics[1], 0x80, 0x10);
    set_mmio(&mut p.apics[2], 0x80, 0x20);
    // Lowest priority, physical broadcast: VP 1 has the lowest PPR.
    p.send_ipi(0, 0xFF << 56 | 1 << 8 | 0x50);
    assert_eq!(pending(&p), [None, Some(0x50), None]);
    // VP 1 has the vector pending: it is the focus processor and wins
    // again, whatever the priorities.
    set_mmio(&mut p.apics[1], 0x80, 0x40);
    p.send_ipi(0, 0xFF << 56 | 1 << 8 | 0x50);
    assert_eq!(pending(&p)[0], None);
    assert_eq!(p.apics[1].irr().len(), 1);
    // Equal priorities: the rotation spreads them.
    let mut p = Partition::new((0..3).map(xapic).collect());
    let mut winners = Vec::new();
    for vector in [0x50, 0x60, 0x70] {
        p.send_ipi(0, 0xFF << 56 | 1 << 8 | vector);
        winners.push(
            (0..3)
                .find(|&i| p.apics[i].irr().contains(vector as u8))
                .unwrap(),
        );
    }
    winners.sort();
    assert_eq!(winners, [0, 1, 2]);
    // A software-disabled APIC never wins.
    let mut p = Partition::new((0..2).map(xapic).collect());
    set_mmio(&mut p.apics[0], 0xF0, 0xFF);
    set_mmio(&mut p.apics[1], 0x80, 0xF0);
    p.send_ipi(1, 0xFF << 56 | 1 << 8 | 0x50);
    assert!(p.apics[1].irr().contains(0x50));
}

#[test]
fn lowest_priority_among_running_vps_goes_by_their_published_ppr() {
    use tessera_lapic::{Bits256, Contender, arbitrate};
    let mut apics: Vec<_> = (0..4).map(x2apic).collect();
    // VP 0: TPR 0x40. VP 1: TPR 0x20. VP 2: 0x35 in service (PPR 0x30).
    // VP 3: software-disabled.
    apics[0].write_msr(0x808, 0x40, 0).unwrap();
    apics[1].write_msr(0x808, 0x20, 0).unwrap();
    apics[2].accept(0x35, Trigger::Edge);
    assert_eq!(apics[2].acknowledge(), Some(0x35));
    apics[3].write_msr(0x80F, 0xFF, 0).unwrap();
    let all = Bits256::first(4);
    let winner = |apics: &[tessera_lapic::LocalApic], start: u8| {
        let published: Vec<u16> = apics.iter().map(|a| a.published_priority()).collect();
        arbitrate(&all, start, |vp| {
            Contender::from_published(published[usize::from(vp)]).unwrap()
        })
    };
    assert_eq!(winner(&apics, 0), Some(1));
    assert_eq!(
        winner(&apics, 2),
        Some(1),
        "the priority decides, not the rotation"
    );
    // The PPR, not the TPR: with 0x65 in service VP 1 ranks 0x60, behind
    // VP 2's 0x30.
    apics[1].accept(0x65, Trigger::Edge);
    assert_eq!(apics[1].acknowledge(), Some(0x65));
    assert_eq!(winner(&apics, 0), Some(2));
    // Its EOI brings it back in front.
    apics[1].eoi();
    assert_eq!(winner(&apics, 0), Some(1));
    // A disabled APIC is never chosen, even at the lowest priority.
    for apic in &mut apics[..3] {
        apic.write_msr(0x808, 0xF0, 0).unwrap();
    }
    apics[2].eoi();
    assert_eq!(apics[3].ppr(), 0);
    let chosen = winner(&apics, 3).unwrap();
    assert_ne!(chosen, 3);
    // Nothing published yet is no contender; a word round-trips.
    assert_eq!(Contender::from_published(0), None);
    let contender = Contender {
        ppr: 0x5A,
        has_vector: false,
        accepts: true,
    };
    assert_eq!(
        Contender::from_published(contender.published()),
        Some(contender)
    );
}

#[test]
fn nmi_ipi() {
    let mut p = Partition::new((0..2).map(x2apic).collect());
    p.send_ipi(0, 1 << 32 | 4 << 8);
    assert!(p.apics[1].nmi_pending());
    assert!(!p.apics[0].nmi_pending());
    assert_eq!(p.events[1], [Received::Nmi]);
    // NMI to all including self (what Linux does for backtraces).
    p.send_ipi(1, 2 << 18 | 4 << 8);
    assert!(p.apics[0].nmi_pending() && p.apics[1].nmi_pending());
    // Software-disabled APICs still take NMIs.
    p.apics[0].take_nmi();
    p.apics[0].write_msr(0x80F, 0xFF, 0).unwrap();
    p.send_ipi(1, 4 << 8);
    assert!(p.apics[0].nmi_pending());
}

#[test]
fn unsent_ipis() {
    let mut p = Partition::new((0..2).map(xapic).collect());
    // Illegal vector: nothing sent, the sender's ESR bit 5.
    p.send_ipi(0, 1 << 56 | 0x0F);
    assert_eq!(pending(&p), [None, None]);
    set_mmio(&mut p.apics[0], 0x280, 0);
    assert_eq!(common::mmio(&mut p.apics[0], 0x280), 1 << 5);
    // Level-triggered de-assert, SMI, reserved modes: nothing.
    for low in [0x8040, 0x0240, 0x0340, 0x0740, 0x8500] {
        p.send_ipi(0, 1 << 56 | low);
    }
    assert_eq!(pending(&p), [None, None]);
    assert!(p.events.iter().all(Vec::is_empty));
    // Level-triggered assert is sent as edge.
    p.send_ipi(0, 1 << 56 | 0xC040);
    assert_eq!(pending(&p), [None, Some(0x40)]);
    assert!(!p.apics[1].tmr().contains(0x40));
}

#[test]
#[allow(clippy::needless_range_loop)] // VP indices name both tables.
fn ap_bring_up_by_init_sipi_sipi() {
    for x2 in [false, true] {
        let mut p = partition(4, x2);
        let mut vps: Vec<StartupState> = (0..4).map(|i| StartupState::new(i == 0)).collect();
        // The BSP sends INIT, SIPI, SIPI to all excluding self (Linux's
        // and the MP spec's sequence).
        for icr in [3 << 18 | 0x4500, 3 << 18 | 0x4609, 3 << 18 | 0x4609] {
            p.send_ipi(0, icr);
        }
        for vp in 1..4 {
            let mut start = None;
            for event in std::mem::take(&mut p.events[vp]) {
                match event {
                    Received::Init => {
                        let action = vps[vp].init(0x6000_0010, 0);
                        assert_eq!(action.next, Activity::WaitForSipi);
                        p.apics[vp].init_reset();
                    }
                    Received::StartUp(vector) => {
                        if let Some(s) = vps[vp].sipi(vector) {
                            assert!(start.is_none(), "only the first SIPI starts it");
                            start = Some(s);
                        }
                    }
                    other => panic!("{other:?}"),
                }
            }
            let start = start.expect("started");
            assert_eq!(start.cs.base + start.rip, 0x9000);
            assert_eq!(vps[vp].activity(), Activity::Running);
            // INIT reset the APIC (software-disabled again), kept its ID
            // and mode.
            assert!(!p.apics[vp].software_enabled());
            assert_eq!(p.apics[vp].address().id, vp as u32);
            assert_eq!(p.apics[vp].mode() == tessera_lapic::ApicMode::X2apic, x2);
        }
        assert!(p.events[0].is_empty());
    }
}

fn arbitrary_apic() -> impl Strategy<Value = ApicAddress> {
    (any::<u8>(), any::<u8>(), 0..3_u8, any::<bool>()).prop_map(|(id, logical, model, enabled)| {
        let model = [
            LogicalModel::Flat,
            LogicalModel::Cluster,
            LogicalModel::X2apic,
        ][model as usize];
        ApicAddress {
            id: id as u32,
            ldr: match model {
                LogicalModel::X2apic => (id as u32 >> 4) << 16 | 1 << (id & 0xF),
                _ => (logical as u32) << 24,
            },
            model,
            enabled,
        }
    })
}

proptest! {
    /// Whatever the APICs and the destination, the result only names
    /// enabled APICs, a broadcast names all of them, and a physical ID
    /// names exactly those with that ID.
    #[test]
    fn resolution_is_sound(
        apics in proptest::collection::vec(arbitrary_apic(), 0..40),
        id in any::<u32>(),
        logical in any::<bool>(),
        wide in any::<bool>(),
        sender in proptest::option::of(0..50_usize),
    ) {
        let destination = Destination {
            mode: if logical { DestinationMode::Logical } else { DestinationMode::Physical },
            id: if wide { id } else { id & 0xFF },
            width: if wide { IdWidth::X2apic } else { IdWidth::Xapic },
        };
        let set = resolve(&Target::Destination(destination), sender, &apics);
        for vp in set.iter() {
            prop_assert!(apics[vp as usize].enabled);
        }
        if destination.is_broadcast() {
            prop_assert_eq!(set.len() as usize, apics.iter().filter(|a| a.enabled).count());
        } else if !logical {
            for (i, a) in apics.iter().enumerate() {
                let same = match a.model {
                    LogicalModel::X2apic => a.id == destination.id,
                    _ => destination.id == a.id & 0xFF,
                };
                prop_assert_eq!(set.contains(i as u8), a.enabled && same);
            }
        }
        let all = resolve(&Target::AllExcludingSelf, sender, &apics);
        if let Some(s) = sender.filter(|&s| s < apics.len()) {
            prop_assert!(!all.contains(s as u8));
        }
        prop_assert!(resolve(&Target::SelfOnly, None, &apics).is_empty());
    }
}

#[test]
fn ipi_to_a_disabled_apic_is_lost() {
    let mut p = Partition::new((0..2).map(xapic).collect());
    p.apics[1].write_apic_base(0xFEE0_0000).unwrap();
    p.send_ipi(0, 1 << 56 | 0x40);
    p.send_ipi(0, 1 << 56 | 0x4500);
    assert_eq!(pending(&p), [None, None]);
    assert!(p.events[1].is_empty());
    let _ = Trigger::Edge;
}
