//! `PartitionAssertInterrupt` as a hostile interrupt controller would use
//! it: only a capability with WRITE on a partition interrupts it, that
//! capability does nothing else, and every word is checked.

use tessera_rt::abi::vm::{apic, interrupt as wire};
use tessera_rt::testing::Tap;
use tessera_rt::vm;
use tessera_rt::{Error, Status, cap, rights};

use crate::PRIORITY;

/// A partition with local APICs, its VP 0, a WRITE-only copy of its
/// capability, a copy without WRITE, and a partition without APICs.
const WITH_APIC: u32 = 50;
const VP: u32 = 51;
const INTERRUPT_ONLY: u32 = 52;
const WITHOUT_WRITE: u32 = 53;
const WITHOUT_APIC: u32 = 54;
const REFUSED_VP: u32 = 55;

fn reached(tap: &mut Tap, what: &str, result: Result<u64, Error>, wanted: u64) {
    let ok = result == Ok(wanted);
    tap.check(what, ok, format_args!("{result:?}"));
}

pub fn run(tap: &mut Tap) {
    let made = vm::partition_create_with_apic(WITH_APIC, "vm-probe-apic", apic::XAPIC)
        .and_then(|()| vm::vp_create(WITH_APIC, VP, 0, 0, PRIORITY))
        .and_then(|()| vm::partition_create(WITHOUT_APIC, "vm-probe-no-apic"))
        .and_then(|()| cap::derive(WITH_APIC, INTERRUPT_ONLY, rights::WRITE, 0))
        .and_then(|()| cap::derive(WITH_APIC, WITHOUT_WRITE, rights::CONTROL | rights::READ, 0));
    if !tap.expect_ok(
        "a partition with an xAPIC, its VP, and copies of its capability",
        made,
    ) {
        return;
    }
    reached(
        tap,
        "PartitionAssertInterrupt of vector 0x40 to APIC ID 0 reaches the one VP",
        vm::partition_assert_interrupt(INTERRUPT_ONLY, 0x40, 0, 0),
        1,
    );
    reached(
        tap,
        "a level-triggered, lowest-priority, logical message reaches no VP whose LDR does not match (0 at power-on)",
        vm::partition_assert_interrupt(
            INTERRUPT_ONLY,
            0x41,
            1,
            wire::LEVEL | wire::LOGICAL | wire::MODE_LOWEST_PRIORITY << wire::MODE_SHIFT,
        ),
        0,
    );
    reached(
        tap,
        "a message to APIC ID 5 (no such VP) reaches nobody",
        vm::partition_assert_interrupt(INTERRUPT_ONLY, 0x40, 5, 0),
        0,
    );
    reached(
        tap,
        "the physical broadcast 0xFF reaches every VP",
        vm::partition_assert_interrupt(INTERRUPT_ONLY, 0x42, 0xFF, 0),
        1,
    );
    // The 8259's output (ExtINT mode): a level, to VP 0 alone.
    for level in [1, 0] {
        reached(
            tap,
            &alloc::format!("the 8259's output at level {level} (ExtINT) reaches VP 0"),
            vm::partition_assert_interrupt(INTERRUPT_ONLY, level, 0, wire::EXTINT_FLAGS),
            1,
        );
    }
    let invalid = [
        ("vector 15 (illegal for fixed delivery)", [15, 0, 0]),
        ("vector 0x140 (past 8 bits)", [0x140, 0, 0]),
        ("destination 0x100 (past 8 bits)", [0x40, 0x100, 0]),
        ("a reserved flag bit (bit 8)", [0x40, 0, 1 << 8]),
        ("delivery mode SMI (2)", [0x40, 0, 2 << wire::MODE_SHIFT]),
        ("delivery mode NMI (4)", [0x40, 0, 4 << wire::MODE_SHIFT]),
        (
            "delivery mode ExtINT (7) and level 0x40",
            [0x40, 0, wire::EXTINT_FLAGS],
        ),
        (
            "delivery mode ExtINT (7) and level 2",
            [2, 0, wire::EXTINT_FLAGS],
        ),
        (
            "delivery mode ExtINT (7) and a destination",
            [1, 1, wire::EXTINT_FLAGS],
        ),
        (
            "delivery mode ExtINT (7) and the level-trigger flag",
            [1, 0, wire::EXTINT_FLAGS | wire::LEVEL],
        ),
    ];
    for (what, words) in invalid {
        tap.expect(
            &alloc::format!("PartitionAssertInterrupt with {what} fails with InvalidArgument"),
            vm::partition_assert_interrupt_words(INTERRUPT_ONLY, words),
            Status::InvalidArgument,
        );
    }
    tap.expect(
        "PartitionAssertInterrupt through a capability without WRITE fails with InsufficientRights",
        vm::partition_assert_interrupt(WITHOUT_WRITE, 0x40, 0, 0),
        Status::InsufficientRights,
    );
    tap.expect(
        "PartitionAssertInterrupt through a VP capability fails with WrongType",
        vm::partition_assert_interrupt(VP, 0x40, 0, 0),
        Status::WrongType,
    );
    tap.expect(
        "PartitionAssertInterrupt to a partition without local APICs fails with NoApic",
        vm::partition_assert_interrupt(WITHOUT_APIC, 0x40, 0, 0),
        Status::NoApic,
    );
    tap.expect(
        "the interrupt capability (WRITE only) cannot create a VP: InsufficientRights",
        vm::vp_create(INTERRUPT_ONLY, REFUSED_VP, 1, 0, PRIORITY),
        Status::InsufficientRights,
    );
    tap.expect(
        "the interrupt capability (WRITE only) cannot remove a mapping: InsufficientRights",
        vm::unmap_gpa(INTERRUPT_ONLY, 0),
        Status::InsufficientRights,
    );
    let _ = cap::delete(VP);
    for slot in [INTERRUPT_ONLY, WITHOUT_WRITE, WITH_APIC, WITHOUT_APIC] {
        let _ = cap::delete(slot);
    }
}
