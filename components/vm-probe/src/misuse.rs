//! Misused partition and VP system calls fail with the exact status, and
//! the calls misused around do what they promise. No VP runs here.

use tessera_rt::abi::vm::{GPA_LIMIT, event, intercept, map};
use tessera_rt::vm::{self, Register, RegisterError};
use tessera_rt::{Error, Status, cap, rights, slot};
use tlfs::register::HvRegisterName;

use crate::PRIORITY;
use crate::lab::MINIMAL_HV1;
use tessera_rt::testing::Tap;

/// The partition it misuses.
const PARTITION: u32 = 4;
/// Memory regions of two pages each: A and B are mapped and stay, C is
/// mapped and then deleted, D maps where C was.
const REGION_A: u32 = 5;
const REGION_B: u32 = 6;
const REGION_C: u32 = 7;
const REGION_D: u32 = 8;
/// A READ-only copy of region A's capability.
const REGION_A_READ_ONLY: u32 = 9;
/// The endpoint its routes go to (its own; nobody ever waits on it).
const ENDPOINT: u32 = 10;
/// VP 0 (kept in the reset state) and VP 1 (given a state VMRUN refuses).
const VP_0: u32 = 11;
const VP_1: u32 = 12;
/// Slots the refused `VpCreate` calls name (each stays empty).
const VP_REFUSED: u32 = 13;
/// A slot nothing fills.
const EMPTY: u32 = 40;

const PAGE: u64 = 4096;
const REGION_PAGES: u64 = 2;
/// Where the regions are mapped.
const GPA_A: u64 = 0;
const GPA_B: u64 = 0x10_0000;
const GPA_C: u64 = 0x20_0000;
const READ_WRITE: u64 = map::READABLE | map::WRITABLE;
/// Ports of the I/O route the overlap check collides with.
const PORTS_FIRST: u64 = 0x510;
const PORTS_LAST: u64 = 0x51F;

/// CR0 with PG set and PE clear: a state VMRUN refuses.
const CR0_PAGING_WITHOUT_PROTECTION: u64 = 1 << 31 | 1 << 4;
/// A register name the TLFS does not have.
const UNKNOWN_REGISTER: u32 = 0x00DE_AD00;

/// The misuse checks, in order.
pub fn run(tap: &mut Tap) {
    // Partitions.
    tap.expect_ok(
        "PartitionCreate into an empty slot succeeds",
        vm::partition_create(PARTITION, "vm-probe-guest"),
    );
    tap.expect(
        "PartitionCreate into an occupied slot fails with SlotOccupied",
        vm::partition_create(PARTITION, "occupied"),
        Status::SlotOccupied,
    );

    // Mapping memory.
    tap.expect(
        "PartitionMapGpa from an empty slot fails with EmptySlot",
        vm::map_gpa(PARTITION, EMPTY, GPA_A, READ_WRITE),
        Status::EmptySlot,
    );
    tap.expect(
        "PartitionMapGpa of the console (not memory) fails with WrongType",
        vm::map_gpa(PARTITION, slot::CONSOLE, GPA_A, READ_WRITE),
        Status::WrongType,
    );
    let regions = [REGION_A, REGION_B, REGION_C, REGION_D]
        .into_iter()
        .try_for_each(|region| tessera_rt::memory::create(region, REGION_PAGES))
        .and_then(|()| cap::derive(REGION_A, REGION_A_READ_ONLY, rights::READ, 0));
    tap.expect_ok(
        "four 2-page regions and a READ-only copy of one capability are made",
        regions,
    );
    tap.expect(
        "PartitionMapGpa WRITABLE through the READ-only copy fails with InsufficientRights",
        vm::map_gpa(PARTITION, REGION_A_READ_ONLY, GPA_A, READ_WRITE),
        Status::InsufficientRights,
    );
    tap.expect_ok(
        "PartitionMapGpa of region A at GPA 0 succeeds",
        vm::map_gpa(PARTITION, REGION_A, GPA_A, READ_WRITE),
    );
    tap.expect(
        "PartitionMapGpa of region A again at GPA 0x1000 (overlapping) fails with Overlap",
        vm::map_gpa(PARTITION, REGION_A, GPA_A + PAGE, READ_WRITE),
        Status::Overlap,
    );
    tap.expect(
        "PartitionMapGpa of region B at GPA 0x1000 (overlapping region A) fails with Overlap",
        vm::map_gpa(PARTITION, REGION_B, GPA_A + PAGE, READ_WRITE),
        Status::Overlap,
    );
    tap.expect_ok(
        "PartitionMapGpa of region B at GPA 0x100000 (not overlapping) succeeds",
        vm::map_gpa(PARTITION, REGION_B, GPA_B, READ_WRITE),
    );
    tap.expect(
        "PartitionMapGpa at a misaligned GPA (0x300800) fails with InvalidArgument",
        vm::map_gpa(PARTITION, REGION_C, 0x30_0800, READ_WRITE),
        Status::InvalidArgument,
    );
    tap.expect(
        "PartitionMapGpa at GPA_LIMIT (1 << 40) fails with InvalidArgument",
        vm::map_gpa(PARTITION, REGION_C, GPA_LIMIT, READ_WRITE),
        Status::InvalidArgument,
    );
    tap.expect(
        "PartitionMapGpa of 2 pages at GPA_LIMIT - 0x1000 (ending past it) fails with InvalidArgument",
        vm::map_gpa(PARTITION, REGION_C, GPA_LIMIT - PAGE, READ_WRITE),
        Status::InvalidArgument,
    );
    tap.expect(
        "PartitionMapGpa with flags lacking READABLE fails with InvalidArgument",
        vm::map_gpa(PARTITION, REGION_C, GPA_C, map::WRITABLE),
        Status::InvalidArgument,
    );
    tap.expect(
        "PartitionUnmapGpa of GPA 0x1000 (inside a mapping, not its start) fails with InvalidArgument",
        vm::unmap_gpa(PARTITION, GPA_A + PAGE),
        Status::InvalidArgument,
    );
    // Deleting the capability a mapping was made through unmaps it.
    let mapped_then_deleted =
        vm::map_gpa(PARTITION, REGION_C, GPA_C, READ_WRITE).and_then(|()| cap::delete(REGION_C));
    tap.expect_ok(
        "region C maps at GPA 0x200000, then its capability is deleted",
        mapped_then_deleted,
    );
    tap.expect_ok(
        "PartitionMapGpa of region D where region C was succeeds (the delete unmapped C)",
        vm::map_gpa(PARTITION, REGION_D, GPA_C, READ_WRITE),
    );

    // Routes.
    tap.expect_ok(
        "an endpoint for the routes is made",
        tessera_rt::build::endpoint_create(slot::DOMAIN, ENDPOINT, false, PRIORITY),
    );
    tap.expect(
        "PartitionInstallIntercept of an unknown kind (0x1234) fails with InvalidArgument",
        vm::install_intercept(PARTITION, 0x1234, 0, ENDPOINT, 0),
        Status::InvalidArgument,
    );
    tap.expect_ok(
        "PartitionInstallIntercept of ports 0x510-0x51f succeeds",
        vm::install_intercept(
            PARTITION,
            intercept::IO_PORT,
            PORTS_FIRST | PORTS_LAST << 16,
            ENDPOINT,
            0,
        ),
    );
    tap.expect(
        "PartitionInstallIntercept of ports 0x51f-0x520 (overlapping) fails with Overlap",
        vm::install_intercept(
            PARTITION,
            intercept::IO_PORT,
            PORTS_LAST | (PORTS_LAST + 1) << 16,
            ENDPOINT,
            0,
        ),
        Status::Overlap,
    );
    tap.expect(
        "PartitionInstallIntercept to the console (not an endpoint) fails with WrongType",
        vm::install_intercept(
            PARTITION,
            intercept::IO_PORT,
            0x600 | 0x600 << 16,
            slot::CONSOLE,
            0,
        ),
        Status::WrongType,
    );

    // VPs.
    tap.expect(
        "VpCreate on CPU 64, which does not exist, fails with InvalidArgument",
        vm::vp_create(PARTITION, VP_REFUSED, 0, 64, PRIORITY),
        Status::InvalidArgument,
    );
    tap.expect_ok(
        "VpCreate of VP 0 on CPU 1 succeeds",
        vm::vp_create(PARTITION, VP_0, 0, 1, PRIORITY),
    );
    tap.expect(
        "VpCreate of VP 0 again fails with InvalidArgument",
        vm::vp_create(PARTITION, VP_REFUSED, 0, 1, PRIORITY),
        Status::InvalidArgument,
    );
    tap.expect(
        "VpCreate above the caller's priority fails with InvalidArgument",
        vm::vp_create(PARTITION, VP_REFUSED, 1, 1, PRIORITY + 1),
        Status::InvalidArgument,
    );
    let mut reset = [
        Register::named(HvRegisterName::X64_RIP),
        Register::named(HvRegisterName::X64_CS),
    ];
    let read =
        vm::vp_get_registers(VP_0, &mut reset).map(|()| (reset[0].low, reset[1].as_segment().base));
    tap.check(
        "VpGetRegisters of a fresh VP reads the reset state: RIP 0xfff0, CS base 0xffff0000",
        read == Ok((0xFFF0, 0xFFFF_0000)),
        format_args!("{read:x?}"),
    );
    let set = vm::vp_set_registers(
        VP_0,
        &[
            Register::u64(HvRegisterName::X64_RAX, 1),
            Register::u64(HvRegisterName(UNKNOWN_REGISTER), 2),
        ],
    );
    tap.check(
        "VpSetRegisters with an unknown register name fails with InvalidArgument at index 1",
        set == Err(RegisterError {
            error: Status::InvalidArgument.into(),
            index: Some(1),
        }),
        format_args!("{set:?}"),
    );
    tap.expect(
        "VpStart without a lifecycle route fails with NoLifecycleRoute",
        vm::vp_start(VP_0),
        Status::NoLifecycleRoute,
    );
    tap.expect_ok(
        "PartitionInstallIntercept of the lifecycle route succeeds",
        vm::install_intercept(PARTITION, intercept::LIFECYCLE, 0, ENDPOINT, 0),
    );
    let set = vm::vp_create(PARTITION, VP_1, 1, 1, PRIORITY).and_then(|()| {
        vm::vp_set_registers(
            VP_1,
            &[Register::u64(
                HvRegisterName::X64_CR0,
                CR0_PAGING_WITHOUT_PROTECTION,
            )],
        )
        .map_err(|e| e.error)
    });
    tap.expect_ok("VP 1 is made and given CR0 with PG set, PE clear", set);
    tap.expect(
        "VpStart of VP 1 (CR0.PG without CR0.PE) fails with InvalidArgument",
        vm::vp_start(VP_1),
        Status::InvalidArgument,
    );
    tap.expect(
        "VpAssertInterrupt of external vector 8 (an exception vector) fails with InvalidArgument",
        vm::vp_assert_interrupt(VP_0, event::new(8, event::TYPE_EXTERNAL)),
        Status::InvalidArgument,
    );
    tap.expect_ok(
        "VpAssertInterrupt of an NMI (vector 2) succeeds",
        vm::vp_assert_interrupt(VP_0, event::new(2, event::TYPE_NMI)),
    );
    tap.expect(
        "VpStart through the partition capability fails with WrongType",
        vm::vp_start(PARTITION),
        Status::WrongType,
    );

    // Destroyed partitions give their resources back: more of them than
    // the CPU has ASIDs (16 under QEMU) come and go.
    tap.expect_ok(
        "40 partitions, each with memory mapped and a VP, are made and destroyed in turn",
        (0..CYCLES).try_for_each(|_| cycle_partition()),
    );

    // Issue 9, finding 7: a second configuration before the first start
    // reached the locked exits but not the lock-free ones.
    tap.expect_ok(
        "PartitionSetHv1 with the minimal configuration succeeds",
        vm::partition_set_hv1(PARTITION, &MINIMAL_HV1),
    );
    tap.expect_ok(
        "PartitionSetHv1 with the same configuration again succeeds",
        vm::partition_set_hv1(PARTITION, &MINIMAL_HV1),
    );
    let mut other = MINIMAL_HV1;
    other[0] |= 1 << 1; // AccessPartitionReferenceCounter
    tap.expect(
        "PartitionSetHv1 with another configuration before any VP ran fails with AlreadyConfigured",
        vm::partition_set_hv1(PARTITION, &other),
        Status::AlreadyConfigured,
    );
}

/// Partitions made and destroyed by the last check.
const CYCLES: usize = 40;
const CYCLE_PARTITION: u32 = 20;
const CYCLE_REGION: u32 = 21;
const CYCLE_VP: u32 = 22;

/// One partition with a region mapped and a VP, then every capability
/// to them deleted.
fn cycle_partition() -> Result<(), Error> {
    vm::partition_create(CYCLE_PARTITION, "cycle")?;
    tessera_rt::memory::create(CYCLE_REGION, 1)?;
    vm::map_gpa(CYCLE_PARTITION, CYCLE_REGION, 0, READ_WRITE)?;
    vm::vp_create(CYCLE_PARTITION, CYCLE_VP, 0, 0, PRIORITY)?;
    cap::delete(CYCLE_VP)?;
    cap::delete(CYCLE_PARTITION)?;
    cap::delete(CYCLE_REGION)
}
