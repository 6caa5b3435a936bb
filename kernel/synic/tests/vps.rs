//! VPs that come and go after the partition's SynIC exists: the kernel
//! creates a partition's VPs one by one, and a VP's frames go back when
//! it is reaped (`Synic::add_vp`, `Synic::take_pages`).

use tessera_synic::registers::RegisterPolicy;
use tessera_synic::timer::StimerPolicy;
use tessera_synic::{MemoryPages, PartitionPolicy, Sint, StimerMsr, Synic, SynicMsr, TimerIndex};

fn policy() -> PartitionPolicy {
    PartitionPolicy {
        registers: RegisterPolicy {
            polling: false,
            auto_eoi: true,
            gpa_limit: 1 << 20,
        },
        timers: StimerPolicy { direct_mode: true },
    }
}

#[test]
fn a_vp_added_later_starts_at_reset_and_fills_the_gap() {
    let mut synic: Synic<MemoryPages> = Synic::new();
    let partition = synic.add_partition(policy(), Vec::new());
    assert_eq!(synic.vp_count(partition), 0);
    assert!(synic.add_vp(partition, 2, MemoryPages::new()));
    assert_eq!(synic.vp_count(partition), 3);
    let sint0 = SynicMsr::Sint(Sint::ALL[0]);
    for vp in 0..3 {
        let registers = synic.registers(partition, vp).unwrap();
        assert_eq!(registers.read(sint0), 0x1_0000);
        assert_eq!(registers.read(SynicMsr::Scontrol), 0);
    }
    // A write reaches VP 2 only.
    synic
        .write_synic(partition, 2, SynicMsr::Scontrol, 1, 0)
        .unwrap();
    assert_eq!(
        synic
            .registers(partition, 2)
            .unwrap()
            .read(SynicMsr::Scontrol),
        1
    );
    assert_eq!(
        synic
            .registers(partition, 0)
            .unwrap()
            .read(SynicMsr::Scontrol),
        0
    );
    // An unknown partition takes no VP.
    assert!(!synic.add_vp(tessera_synic::PartitionRef(7), 0, MemoryPages::new()));
}

#[test]
fn taking_the_pages_resets_the_vp_and_its_timers() {
    let mut synic: Synic<MemoryPages> = Synic::new();
    let partition = synic.add_partition(policy(), vec![MemoryPages::new()]);
    let timer = TimerIndex::ALL[0];
    synic
        .write_timer(partition, 0, StimerMsr::Count(timer), 1000, 0)
        .unwrap();
    let direct = tlfs::timer::HvStimerConfig::new()
        .with_enable(true)
        .with_direct_mode(true)
        .with_apic_vector(0x40)
        .into_bits();
    synic
        .write_timer(partition, 0, StimerMsr::Config(timer), direct, 0)
        .unwrap();
    assert_eq!(synic.next_deadline(partition, 0), Some(1000));
    assert!(synic.take_pages(partition, 0).is_some());
    assert_eq!(synic.next_deadline(partition, 0), None);
    assert_eq!(
        synic
            .read_timer(partition, 0, StimerMsr::Config(timer))
            .unwrap(),
        0
    );
    assert!(synic.take_pages(partition, 5).is_none());
}

/// A VP reset (`add_vp` again, as a partition reset does) or reaped
/// (`take_pages`) drops the messages queued for it and gives their
/// buffers back to the port: the port takes 16 more, not none (the old
/// code kept the buffers of a dropped queue in use for ever).
#[test]
fn a_reset_vp_gives_its_queued_buffers_back() {
    use tessera_synic::Owner;
    use tessera_synic::ports::{ConnectSpec, PortKind, PortSpec};
    use tlfs::{HvMessageType, HvStatus};
    let mut synic: Synic<MemoryPages> = Synic::new();
    let partition = synic.add_partition(policy(), vec![MemoryPages::new()]);
    let sint = Sint::ALL[2];
    let enable = |synic: &mut Synic<MemoryPages>| {
        synic
            .write_synic(partition, 0, SynicMsr::Simp, 0x10 << 12 | 1, 0)
            .unwrap();
        synic
            .write_synic(partition, 0, SynicMsr::Scontrol, 1, 0)
            .unwrap();
    };
    enable(&mut synic);
    let spec = PortSpec {
        id: 5,
        kind: PortKind::Message,
        vp: 0,
        sint,
    };
    synic.create_port(partition, spec, Owner::Manifest).unwrap();
    let connect = ConnectSpec {
        id: 6,
        port: 5,
        port_type: spec.kind.port_type(),
    };
    synic
        .connect(partition, connect, partition, Owner::Manifest)
        .unwrap();
    let post = |synic: &mut Synic<MemoryPages>| {
        synic.post_message(partition, 6, HvMessageType(1), b"x", 0)
    };
    let fill = |synic: &mut Synic<MemoryPages>| {
        // One in the slot, 16 queued, then refused.
        for _ in 0..17 {
            assert!(post(synic).is_ok());
        }
        assert_eq!(post(synic), Err(HvStatus::INSUFFICIENT_BUFFERS));
    };
    fill(&mut synic);
    assert!(synic.add_vp(partition, 0, MemoryPages::new()));
    enable(&mut synic);
    fill(&mut synic);
    let pages = synic.take_pages(partition, 0).unwrap();
    assert!(synic.add_vp(partition, 0, pages));
    enable(&mut synic);
    synic.pages_mut(partition, 0).unwrap().take_message(sint);
    fill(&mut synic);
}
