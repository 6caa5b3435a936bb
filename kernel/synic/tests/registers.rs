//! Every SynIC register's reset value, reserved bits and #GP cases (TLFS md
//! `inter-partition-communication.md` § SynIC Registers), the overlay
//! requests of SIMP and SIEFP, and the register copy the component keeps.

mod common;

use common::{MEMORY, World, s};
use tessera_synic::registers::{RegisterPolicy, SynicMsr};
use tessera_synic::{GeneralProtection, OverlayId, OverlayRequest, SynicRegisters};
use tlfs::msr as m;

const POLICY: RegisterPolicy = RegisterPolicy {
    polling: false,
    auto_eoi: true,
    gpa_limit: MEMORY,
};

fn write(registers: &mut SynicRegisters, msr: u32, value: u64, policy: &RegisterPolicy) -> bool {
    let msr = SynicMsr::from_msr(msr).unwrap();
    registers.write(0, msr, value, policy).is_ok()
}

#[test]
fn msr_numbers() {
    let all: Vec<u32> = (0x4000_0080..=0x4000_009F)
        .filter(|&n| SynicMsr::from_msr(n).is_some())
        .collect();
    let mut expected = vec![
        0x4000_0080,
        0x4000_0081,
        0x4000_0082,
        0x4000_0083,
        0x4000_0084,
    ];
    expected.extend(0x4000_0090..=0x4000_009F);
    assert_eq!(all, expected);
    for n in expected {
        assert_eq!(SynicMsr::from_msr(n).unwrap().msr(), n);
    }
    assert_eq!(SynicMsr::from_msr(0x4000_0085), None);
    assert_eq!(SynicMsr::from_msr(0x4000_00A0), None);
}

#[test]
fn reset_values() {
    let world = World::new(2);
    for vp in 0..2 {
        assert_eq!(world.rdmsr(vp, m::HV_X64_MSR_SCONTROL), Ok(0));
        assert_eq!(world.rdmsr(vp, m::HV_X64_MSR_SVERSION), Ok(1));
        assert_eq!(world.rdmsr(vp, m::HV_X64_MSR_SIEFP), Ok(0));
        assert_eq!(world.rdmsr(vp, m::HV_X64_MSR_SIMP), Ok(0));
        assert_eq!(world.rdmsr(vp, m::HV_X64_MSR_EOM), Ok(0));
        for sint in 0..16 {
            assert_eq!(world.rdmsr(vp, m::HV_X64_MSR_SINT0 + sint), Ok(0x10000));
        }
        for timer in 0..8 {
            assert_eq!(world.rdmsr(vp, m::HV_X64_MSR_STIMER0_CONFIG + timer), Ok(0));
        }
    }
}

#[test]
fn scontrol() {
    let mut r = SynicRegisters::default();
    assert!(write(&mut r, m::HV_X64_MSR_SCONTROL, 1, &POLICY));
    assert!(r.scontrol.enable());
    for bit in 1..64 {
        let mut r = SynicRegisters::default();
        assert!(
            !write(&mut r, m::HV_X64_MSR_SCONTROL, 1 << bit | 1, &POLICY),
            "bit {bit}"
        );
        assert_eq!(r, SynicRegisters::default());
    }
}

#[test]
fn sversion_is_read_only() {
    let mut r = SynicRegisters::default();
    for value in [0, 1, u64::MAX] {
        assert!(!write(&mut r, m::HV_X64_MSR_SVERSION, value, &POLICY));
    }
    assert_eq!(r.read(SynicMsr::Sversion), 1);
}

#[test]
fn eom_reads_zero_and_takes_only_zero() {
    let mut r = SynicRegisters::default();
    let effect = r.write(0, SynicMsr::Eom, 0, &POLICY).unwrap();
    assert!(effect.rescan);
    assert_eq!(effect.overlay, None);
    for bit in 0..64 {
        assert_eq!(
            r.write(0, SynicMsr::Eom, 1 << bit, &POLICY),
            Err(GeneralProtection)
        );
    }
    assert_eq!(r.read(SynicMsr::Eom), 0);
}

#[test]
fn page_registers_reserved_bits() {
    for msr in [m::HV_X64_MSR_SIMP, m::HV_X64_MSR_SIEFP] {
        for bit in 1..12 {
            let mut r = SynicRegisters::default();
            assert!(
                !write(&mut r, msr, 0x5000 | 1 << bit | 1, &POLICY),
                "{msr:#x} bit {bit}"
            );
            assert_eq!(r, SynicRegisters::default());
        }
        let mut r = SynicRegisters::default();
        assert!(write(&mut r, msr, 0x5001, &POLICY));
        assert_eq!(r.read(SynicMsr::from_msr(msr).unwrap()), 0x5001);
    }
}

#[test]
fn sint_rules() {
    let sint = SynicMsr::Sint(s(4));
    let ok = |value: u64, policy: &RegisterPolicy| {
        let mut r = SynicRegisters::default();
        r.write(0, sint, value, policy).map(|_| r.read(sint))
    };
    // Unmasked, vector 16..=255.
    assert_eq!(ok(0x10, &POLICY), Ok(0x10));
    assert_eq!(ok(0xFF, &POLICY), Ok(0xFF));
    for vector in 0..16 {
        assert_eq!(
            ok(vector, &POLICY),
            Err(GeneralProtection),
            "vector {vector}"
        );
        // Masked: the vector is never used, any value is kept.
        assert_eq!(ok(vector | 1 << 16, &POLICY), Ok(vector | 1 << 16));
    }
    // Reserved bits 15:8 and 63:19.
    for bit in (8..16).chain(19..64) {
        assert_eq!(
            ok(0x30 | 1 << bit, &POLICY),
            Err(GeneralProtection),
            "bit {bit}"
        );
    }
    // AutoEOI only where leaf 0x40000004 does not deprecate it.
    assert_eq!(ok(0x30 | 1 << 17, &POLICY), Ok(0x2_0030));
    let deprecated = RegisterPolicy {
        auto_eoi: false,
        ..POLICY
    };
    assert_eq!(ok(0x30 | 1 << 17, &deprecated), Err(GeneralProtection));
    // Polling only with SintPollingModeAvailable; it unmasks, so its
    // vector must be valid.
    assert_eq!(ok(0x30 | 1 << 18, &POLICY), Err(GeneralProtection));
    let polling = RegisterPolicy {
        polling: true,
        ..POLICY
    };
    assert_eq!(ok(0x30 | 1 << 18, &polling), Ok(0x4_0030));
    assert_eq!(ok(1 << 16 | 1 << 18, &polling), Err(GeneralProtection));
}

#[test]
fn auto_eoi_vectors() {
    let mut r = SynicRegisters::default();
    r.write(0, SynicMsr::Sint(s(1)), 0x2_0041, &POLICY).unwrap();
    r.write(0, SynicMsr::Sint(s(2)), 0x0_0042, &POLICY).unwrap();
    r.write(0, SynicMsr::Sint(s(3)), 0x3_0043, &POLICY).unwrap();
    r.write(0, SynicMsr::Sint(s(4)), 0x2_00C1, &POLICY).unwrap();
    // 0x41 and 0xC1: AutoEOI and unmasked; 0x43 is masked.
    assert_eq!(r.auto_eoi_vectors(), [0, 1 << 1, 0, 1 << 1]);
}

#[test]
fn overlay_requests() {
    let mut r = SynicRegisters::default();
    let id = OverlayId::SynicMessagePage(3);
    let simp = |r: &mut SynicRegisters, value| r.write(3, SynicMsr::Simp, value, &POLICY).unwrap();
    // Base without enable: nothing to place.
    assert_eq!(simp(&mut r, 0x5000).overlay, None);
    assert_eq!(
        simp(&mut r, 0x5001).overlay,
        Some(OverlayRequest::Place { id, gpa: 0x5000 })
    );
    // Same again: no change.
    assert_eq!(simp(&mut r, 0x5001).overlay, None);
    // Moves.
    assert_eq!(
        simp(&mut r, 0x7001).overlay,
        Some(OverlayRequest::Place { id, gpa: 0x7000 })
    );
    // Beyond the GPA space: enabled but not accessible.
    let beyond = simp(&mut r, MEMORY | 1);
    assert_eq!(beyond.overlay, Some(OverlayRequest::Remove { id }));
    assert!(r.simp.enable());
    assert_eq!(simp(&mut r, 0xFFFF_FFFF_FFFF_F001).overlay, None);
    // Disabled.
    assert_eq!(simp(&mut r, 0x7000).overlay, None);
    simp(&mut r, 0x7001);
    assert_eq!(
        simp(&mut r, 0x7000).overlay,
        Some(OverlayRequest::Remove { id })
    );
    // The event flags page has its own identity.
    let effect = r.write(3, SynicMsr::Siefp, 0x9001, &POLICY).unwrap();
    assert_eq!(
        effect.overlay,
        Some(OverlayRequest::Place {
            id: OverlayId::SynicEventFlagsPage(3),
            gpa: 0x9000
        })
    );
    assert_eq!(
        SynicRegisters::overlays_to_remove(3),
        [
            OverlayRequest::Remove { id },
            OverlayRequest::Remove {
                id: OverlayId::SynicEventFlagsPage(3)
            }
        ]
    );
}

#[test]
fn enabling_asks_for_a_rescan() {
    let mut r = SynicRegisters::default();
    assert!(r.write(0, SynicMsr::Simp, 0x5001, &POLICY).unwrap().rescan);
    assert!(!r.write(0, SynicMsr::Simp, 0x6001, &POLICY).unwrap().rescan);
    assert!(r.write(0, SynicMsr::Scontrol, 1, &POLICY).unwrap().rescan);
    assert!(!r.write(0, SynicMsr::Scontrol, 1, &POLICY).unwrap().rescan);
    assert!(!r.write(0, SynicMsr::Siefp, 0x7001, &POLICY).unwrap().rescan);
}

#[test]
fn through_the_component_and_kernel() {
    let mut world = World::new(2);
    // #GP leaves both copies alone.
    assert!(world.wrmsr(1, m::HV_X64_MSR_SINT0 + 2, 0x05).is_err());
    assert!(world.wrmsr(1, m::HV_X64_MSR_SVERSION, 1).is_err());
    assert!(world.wrmsr(1, 0x4000_0085, 0).is_err());
    let applied = world.wrmsr(1, m::HV_X64_MSR_SIMP, 0x20_001).unwrap();
    assert_eq!(
        applied.overlay,
        Some(OverlayRequest::Place {
            id: OverlayId::SynicMessagePage(1),
            gpa: 0x20_000
        })
    );
    world.wrmsr(1, m::HV_X64_MSR_SINT0 + 2, 0x45).unwrap();
    assert_eq!(world.rdmsr(1, m::HV_X64_MSR_SINT0 + 2), Ok(0x45));
    assert_eq!(world.rdmsr(0, m::HV_X64_MSR_SINT0 + 2), Ok(0x10000));
    // The component's copy is the kernel's.
    for vp in 0..2 {
        assert_eq!(
            world.component.registers(world.partition, vp),
            world.synic.registers(world.partition, vp)
        );
    }
    // A register write the component did not check is refused by the
    // kernel too.
    let bad = tessera_synic::KernelCall::WriteSynic {
        partition: world.partition,
        vp: 0,
        msr: SynicMsr::Sint(s(0)),
        value: 0x01,
    };
    assert!(world.synic.apply(&bad, 0).is_err());
    assert_eq!(world.rdmsr(0, m::HV_X64_MSR_SINT0), Ok(0x10000));
}
