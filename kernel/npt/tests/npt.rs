//! Host tests of the nested page table over a fake physical memory.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use tessera_npt::bits::*;
use tessera_npt::{
    Access, FaultReason, GuestRights, Level, NestedPageTable, NptConfig, NptError, PageSize,
    TableMemory, Translation, WalkOutcome,
};

const K4: u64 = 4096;
const M2: u64 = 2 << 20;

/// Table frames in a map; counts live tables, panics on misuse, and can run
/// out of memory after a budget of allocations.
#[derive(Debug, Default)]
struct FakeMemory {
    tables: BTreeMap<u64, Box<[u64; 512]>>,
    next: u64,
    /// Allocations still allowed; `None` = unlimited.
    budget: Option<usize>,
    allocations: usize,
    frees: usize,
}

impl FakeMemory {
    fn new() -> Self {
        // Table frames live high, away from the HPAs the tests map.
        Self {
            next: 0x40_0000_0000,
            ..Self::default()
        }
    }

    fn live(&self) -> usize {
        self.tables.len()
    }

    fn snapshot(&self) -> BTreeMap<u64, [u64; 512]> {
        self.tables.iter().map(|(&k, v)| (k, **v)).collect()
    }
}

impl TableMemory for FakeMemory {
    fn allocate_table(&mut self) -> Option<u64> {
        if let Some(budget) = &mut self.budget {
            if *budget == 0 {
                return None;
            }
            *budget -= 1;
        }
        let frame = self.next;
        self.next += K4;
        assert!(self.tables.insert(frame, Box::new([0; 512])).is_none());
        self.allocations += 1;
        Some(frame)
    }

    fn free_table(&mut self, frame: u64) {
        assert!(
            self.tables.remove(&frame).is_some(),
            "free of unknown table {frame:#x}"
        );
        self.frees += 1;
    }

    fn entries(&self, frame: u64) -> &[u64; 512] {
        self.tables
            .get(&frame)
            .unwrap_or_else(|| panic!("read of unknown table {frame:#x}"))
    }

    fn entries_mut(&mut self, frame: u64) -> &mut [u64; 512] {
        self.tables
            .get_mut(&frame)
            .unwrap_or_else(|| panic!("write of unknown table {frame:#x}"))
    }
}

fn setup() -> (FakeMemory, NestedPageTable) {
    let mut mem = FakeMemory::new();
    let npt = NestedPageTable::new(&mut mem).unwrap();
    assert_eq!(mem.live(), 1);
    (mem, npt)
}

/// Walks the tables by hand (independently of the crate) and returns the
/// entries read, root first.
fn manual_walk(mem: &FakeMemory, root: u64, gpa: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut table = root;
    for shift in [39u32, 30, 21, 12] {
        let entry = mem.entries(table)[((gpa >> shift) & 0x1ff) as usize];
        out.push(entry);
        if entry & PRESENT == 0 || entry & PAGE_SIZE != 0 || shift == 12 {
            break;
        }
        table = entry & ADDRESS_MASK;
    }
    out
}

#[test]
fn round_trip_4k() {
    let (mut mem, mut npt) = setup();
    npt.map(
        &mut mem,
        0x1234_5000,
        0x8_7654_3000,
        PageSize::Size4K,
        GuestRights::ALL,
    )
    .unwrap();
    // PDPT, PD and PT were allocated.
    assert_eq!(mem.live(), 4);
    let t = npt.translate(&mem, 0x1234_5000).unwrap();
    assert_eq!(
        t,
        Translation {
            hpa: 0x8_7654_3000,
            rights: GuestRights::ALL,
            size: PageSize::Size4K
        }
    );
    // Offsets inside the page carry over.
    assert_eq!(npt.translate(&mem, 0x1234_5abc).unwrap().hpa, 0x8_7654_3abc);
    // Neighbours are not mapped.
    assert_eq!(npt.translate(&mem, 0x1234_4fff), None);
    assert_eq!(npt.translate(&mem, 0x1234_6000), None);
    npt.destroy(&mut mem);
    assert_eq!(mem.live(), 0);
}

#[test]
fn round_trip_2m() {
    let (mut mem, mut npt) = setup();
    npt.map(
        &mut mem,
        0x4020_0000,
        0x1_0000_0000,
        PageSize::Size2M,
        GuestRights::READ_WRITE,
    )
    .unwrap();
    // PDPT and PD only: no page table.
    assert_eq!(mem.live(), 3);
    for off in [0, 0x1000, 0x1f_ffff, 0x12_3456] {
        let t = npt.translate(&mem, 0x4020_0000 + off).unwrap();
        assert_eq!(t.hpa, 0x1_0000_0000 + off);
        assert_eq!(t.size, PageSize::Size2M);
        assert_eq!(t.rights, GuestRights::READ_WRITE);
    }
    assert_eq!(npt.translate(&mem, 0x4040_0000), None);
    assert_eq!(npt.translate(&mem, 0x401f_ffff), None);
    let walk = manual_walk(&mem, npt.root(), 0x4020_0000);
    assert_eq!(walk.len(), 3);
    assert_ne!(walk[2] & PAGE_SIZE, 0);
    assert_eq!(walk[2] & ADDRESS_MASK_2M, 0x1_0000_0000);
    npt.destroy(&mut mem);
    assert_eq!(mem.live(), 0);
}

#[test]
fn user_bit_on_every_level_and_intermediate_flags() {
    let (mut mem, mut npt) = setup();
    npt.map(
        &mut mem,
        0x7000,
        0x9000,
        PageSize::Size4K,
        GuestRights::READ,
    )
    .unwrap();
    npt.map(
        &mut mem,
        0x8000_0000,
        0x20_0000,
        PageSize::Size2M,
        GuestRights::READ,
    )
    .unwrap();
    for (gpa, depth) in [(0x7000u64, 4usize), (0x8000_0000, 3)] {
        let walk = manual_walk(&mem, npt.root(), gpa);
        assert_eq!(walk.len(), depth, "walk of {gpa:#x}");
        for (i, e) in walk.iter().enumerate() {
            assert_ne!(e & PRESENT, 0, "level {i} of {gpa:#x} present");
            assert_ne!(e & USER, 0, "level {i} of {gpa:#x} user");
        }
        for e in &walk[..depth - 1] {
            // Intermediate: exactly P | RW | US plus the address; never NX/PS.
            assert_eq!(e & !ADDRESS_MASK, TABLE_FLAGS);
        }
        let leaf = walk[depth - 1];
        // Read-only leaf: no RW; not executable: NX.
        assert_eq!(leaf & WRITABLE, 0);
        assert_ne!(leaf & NO_EXECUTE, 0);
        // Memory type bits and global clear.
        assert_eq!(
            leaf & (WRITE_THROUGH | CACHE_DISABLE | GLOBAL | ACCESSED | DIRTY),
            0
        );
    }
    npt.destroy(&mut mem);
}

#[test]
fn nx_iff_not_executable_and_write_bit() {
    let (mut mem, mut npt) = setup();
    let combos = [
        GuestRights::READ,
        GuestRights::READ_WRITE,
        GuestRights::READ_EXECUTE,
        GuestRights::ALL,
    ];
    for (i, rights) in combos.into_iter().enumerate() {
        let gpa = i as u64 * K4;
        npt.map(&mut mem, gpa, 0x10_0000 + gpa, PageSize::Size4K, rights)
            .unwrap();
        let leaf = *manual_walk(&mem, npt.root(), gpa).last().unwrap();
        assert_eq!(leaf & NO_EXECUTE != 0, !rights.execute, "{rights:?}");
        assert_eq!(leaf & WRITABLE != 0, rights.write, "{rights:?}");
        assert_eq!(npt.translate(&mem, gpa).unwrap().rights, rights);
    }
    npt.destroy(&mut mem);
}

#[test]
fn unreadable_rights_refused() {
    let (mut mem, mut npt) = setup();
    let r = GuestRights {
        read: false,
        write: true,
        execute: true,
    };
    assert_eq!(
        npt.map(&mut mem, 0, 0, PageSize::Size4K, r),
        Err(NptError::UnrepresentableRights(r))
    );
    assert_eq!(mem.live(), 1);
    npt.destroy(&mut mem);
}

#[test]
fn misaligned_rejected() {
    let (mut mem, mut npt) = setup();
    let rw = GuestRights::READ_WRITE;
    assert_eq!(
        npt.map(&mut mem, 0x1001, 0x2000, PageSize::Size4K, rw),
        Err(NptError::MisalignedGpa {
            gpa: 0x1001,
            size: PageSize::Size4K
        })
    );
    assert_eq!(
        npt.map(&mut mem, 0x1000, 0x2800, PageSize::Size4K, rw),
        Err(NptError::MisalignedHpa {
            hpa: 0x2800,
            size: PageSize::Size4K
        })
    );
    assert_eq!(
        npt.map(&mut mem, 0x1000, 0x20_0000, PageSize::Size2M, rw),
        Err(NptError::MisalignedGpa {
            gpa: 0x1000,
            size: PageSize::Size2M
        })
    );
    assert_eq!(
        npt.map(&mut mem, 0x20_0000, 0x1000, PageSize::Size2M, rw),
        Err(NptError::MisalignedHpa {
            hpa: 0x1000,
            size: PageSize::Size2M
        })
    );
    assert_eq!(
        npt.unmap(&mut mem, 0x1001, PageSize::Size4K),
        Err(NptError::MisalignedGpa {
            gpa: 0x1001,
            size: PageSize::Size4K
        })
    );
    // Nothing was allocated.
    assert_eq!(mem.live(), 1);
    npt.destroy(&mut mem);
}

#[test]
fn gpa_and_hpa_limits() {
    let (mut mem, mut npt) = setup();
    let rw = GuestRights::READ_WRITE;
    let top = 1u64 << 48;
    assert_eq!(
        npt.map(&mut mem, top, 0, PageSize::Size4K, rw),
        Err(NptError::GpaOutOfRange {
            gpa: top,
            max_gpa_bits: 48
        })
    );
    assert!(matches!(
        npt.map(&mut mem, !0xfff, 0, PageSize::Size4K, rw),
        Err(NptError::GpaOutOfRange { .. })
    ));
    // The last page below the limit is fine, at both sizes.
    npt.map(&mut mem, top - K4, 0x1000, PageSize::Size4K, rw)
        .unwrap();
    npt.map(&mut mem, top - 2 * M2, 0x20_0000, PageSize::Size2M, rw)
        .unwrap();
    assert_eq!(npt.translate(&mem, top - 1).unwrap().hpa, 0x1fff);
    assert_eq!(npt.translate(&mem, top), None);
    assert_eq!(
        npt.map(&mut mem, 0, 1 << 52, PageSize::Size4K, rw),
        Err(NptError::HpaOutOfRange {
            hpa: 1 << 52,
            max_hpa_bits: 52
        })
    );
    npt.destroy(&mut mem);
    assert_eq!(mem.live(), 0);

    // A narrower configuration.
    let cfg = NptConfig {
        max_gpa_bits: 32,
        max_hpa_bits: 40,
    };
    let mut npt = NestedPageTable::with_config(&mut mem, cfg).unwrap();
    assert_eq!(
        npt.map(&mut mem, 1 << 32, 0, PageSize::Size2M, rw),
        Err(NptError::GpaOutOfRange {
            gpa: 1 << 32,
            max_gpa_bits: 32
        })
    );
    assert_eq!(
        npt.map(&mut mem, 0, 1 << 40, PageSize::Size2M, rw),
        Err(NptError::HpaOutOfRange {
            hpa: 1 << 40,
            max_hpa_bits: 40
        })
    );
    npt.map(
        &mut mem,
        (1 << 32) - M2,
        (1 << 40) - M2,
        PageSize::Size2M,
        rw,
    )
    .unwrap();
    assert_eq!(npt.walk(&mem, 1 << 32).outcome, WalkOutcome::BeyondLimit);
    npt.destroy(&mut mem);
    assert_eq!(mem.live(), 0);

    for (g, h) in [(49, 52), (20, 52), (48, 53), (48, 12)] {
        let cfg = NptConfig {
            max_gpa_bits: g,
            max_hpa_bits: h,
        };
        assert_eq!(
            NestedPageTable::with_config(&mut mem, cfg),
            Err(NptError::InvalidConfig {
                max_gpa_bits: g,
                max_hpa_bits: h
            })
        );
    }
    assert_eq!(mem.live(), 0);
}

#[test]
fn overlap_rejected_both_ways() {
    let (mut mem, mut npt) = setup();
    let rw = GuestRights::READ_WRITE;
    // 4 KiB page, then a 2 MiB page over its range.
    npt.map(&mut mem, 0x20_5000, 0x1000, PageSize::Size4K, rw)
        .unwrap();
    let before = mem.snapshot();
    assert_eq!(
        npt.map(&mut mem, 0x20_0000, 0x40_0000, PageSize::Size2M, rw),
        Err(NptError::Overlap {
            gpa: 0x20_0000,
            existing_gpa: 0x20_5000,
            existing_size: PageSize::Size4K
        })
    );
    // Same 4 KiB page twice.
    assert_eq!(
        npt.map(&mut mem, 0x20_5000, 0x3000, PageSize::Size4K, rw),
        Err(NptError::Overlap {
            gpa: 0x20_5000,
            existing_gpa: 0x20_5000,
            existing_size: PageSize::Size4K
        })
    );
    assert_eq!(mem.snapshot(), before);

    // 2 MiB page, then 4 KiB pages inside it and the same 2 MiB again.
    npt.map(&mut mem, 0x60_0000, 0x80_0000, PageSize::Size2M, rw)
        .unwrap();
    let before = mem.snapshot();
    for gpa in [0x60_0000, 0x60_1000, 0x7f_f000] {
        assert_eq!(
            npt.map(&mut mem, gpa, 0x5000, PageSize::Size4K, rw),
            Err(NptError::Overlap {
                gpa,
                existing_gpa: 0x60_0000,
                existing_size: PageSize::Size2M
            })
        );
    }
    assert_eq!(
        npt.map(&mut mem, 0x60_0000, 0xa0_0000, PageSize::Size2M, rw),
        Err(NptError::Overlap {
            gpa: 0x60_0000,
            existing_gpa: 0x60_0000,
            existing_size: PageSize::Size2M
        })
    );
    assert_eq!(mem.snapshot(), before);
    // The error message names the GPA.
    let msg = npt
        .map(&mut mem, 0x60_1000, 0x5000, PageSize::Size4K, rw)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("0x601000") && msg.contains("0x600000"),
        "{msg}"
    );

    // Adjacent mappings are fine.
    npt.map(&mut mem, 0x5f_f000, 0x5000, PageSize::Size4K, rw)
        .unwrap();
    npt.map(&mut mem, 0x80_0000, 0xc0_0000, PageSize::Size2M, rw)
        .unwrap();
    npt.destroy(&mut mem);
    assert_eq!(mem.live(), 0);
}

#[test]
fn unmap_returns_hpa_and_frees_empty_tables() {
    let (mut mem, mut npt) = setup();
    let rw = GuestRights::READ_WRITE;
    npt.map(&mut mem, 0x1000, 0xa000, PageSize::Size4K, rw)
        .unwrap();
    npt.map(&mut mem, 0x2000, 0xb000, PageSize::Size4K, rw)
        .unwrap();
    npt.map(&mut mem, 0x4000_0000, 0x20_0000, PageSize::Size2M, rw)
        .unwrap();
    assert_eq!(mem.live(), 5); // root, PDPT, PD(0), PT(0), PD(1 GiB)

    assert_eq!(npt.unmap(&mut mem, 0x1000, PageSize::Size4K), Ok(0xa000));
    assert_eq!(npt.translate(&mem, 0x1000), None);
    assert_eq!(npt.translate(&mem, 0x2000).unwrap().hpa, 0xb000);
    assert_eq!(mem.live(), 5); // the PT still holds 0x2000
    assert_eq!(
        npt.unmap(&mut mem, 0x1000, PageSize::Size4K),
        Err(NptError::NotMapped { gpa: 0x1000 })
    );

    assert_eq!(npt.unmap(&mut mem, 0x2000, PageSize::Size4K), Ok(0xb000));
    assert_eq!(mem.live(), 3); // PT and PD(0) freed

    // Wrong sizes.
    assert_eq!(
        npt.unmap(&mut mem, 0x4000_0000, PageSize::Size4K),
        Err(NptError::SizeMismatch {
            gpa: 0x4000_0000,
            requested: PageSize::Size4K,
            mapped: PageSize::Size2M
        })
    );
    npt.map(&mut mem, 0x60_0000, 0xc000, PageSize::Size4K, rw)
        .unwrap();
    assert_eq!(
        npt.unmap(&mut mem, 0x60_0000, PageSize::Size2M),
        Err(NptError::SizeMismatch {
            gpa: 0x60_0000,
            requested: PageSize::Size2M,
            mapped: PageSize::Size4K
        })
    );
    assert_eq!(npt.unmap(&mut mem, 0x60_0000, PageSize::Size4K), Ok(0xc000));

    assert_eq!(
        npt.unmap(&mut mem, 0x4000_0000, PageSize::Size2M),
        Ok(0x20_0000)
    );
    assert_eq!(npt.translate(&mem, 0x4000_0000), None);
    assert_eq!(mem.live(), 1); // only the root
    assert!(mem.entries(npt.root()).iter().all(|&e| e == 0));
    assert_eq!(
        npt.unmap(&mut mem, 0x4000_0000, PageSize::Size2M),
        Err(NptError::NotMapped { gpa: 0x4000_0000 })
    );
    npt.destroy(&mut mem);
    assert_eq!(mem.live(), 0);
    assert_eq!(mem.allocations, mem.frees);
}

#[test]
fn destroy_frees_every_table() {
    let (mut mem, mut npt) = setup();
    let rw = GuestRights::ALL;
    for i in 0..600u64 {
        // Spread over several PTs, PDs and PDPTs.
        let gpa = ((i * 0x1_0000_1000) % (1 << 47)) & !0xfff;
        let _ = npt.map(&mut mem, gpa, i * K4, PageSize::Size4K, rw);
        let gpa2 = ((i * 0x3_4560_0000 + (1 << 46)) % (1 << 48)) & !(M2 - 1);
        let _ = npt.map(&mut mem, gpa2, i * M2, PageSize::Size2M, rw);
    }
    assert!(mem.live() > 100);
    npt.destroy(&mut mem);
    assert_eq!(mem.live(), 0);
    assert_eq!(mem.allocations, mem.frees);
}

#[test]
fn out_of_memory_mid_map_is_clean() {
    for budget in 0..3 {
        let (mut mem, mut npt) = setup();
        npt.map(
            &mut mem,
            0x4000_0000,
            0x20_0000,
            PageSize::Size2M,
            GuestRights::ALL,
        )
        .unwrap();
        let before = mem.snapshot();
        let live = mem.live();
        // Mapping at 512 GiB needs PDPT, PD and PT: three tables.
        mem.budget = Some(budget);
        assert_eq!(
            npt.map(
                &mut mem,
                0x80_0000_1000,
                0x5000,
                PageSize::Size4K,
                GuestRights::ALL
            ),
            Err(NptError::OutOfMemory)
        );
        assert_eq!(mem.snapshot(), before, "budget {budget}: tables changed");
        assert_eq!(mem.live(), live, "budget {budget}: leaked");
        assert_eq!(npt.translate(&mem, 0x80_0000_1000), None);
        assert!(matches!(
            npt.walk(&mem, 0x80_0000_1000).outcome,
            WalkOutcome::Missing { level: Level::Pml4 }
        ));
        // With enough memory it then works.
        mem.budget = None;
        npt.map(
            &mut mem,
            0x80_0000_1000,
            0x5000,
            PageSize::Size4K,
            GuestRights::ALL,
        )
        .unwrap();
        assert_eq!(mem.live(), live + 3);
        npt.destroy(&mut mem);
        assert_eq!(mem.live(), 0);
    }
    // Out of memory for the root.
    let mut mem = FakeMemory::new();
    mem.budget = Some(0);
    assert_eq!(NestedPageTable::new(&mut mem), Err(NptError::OutOfMemory));
    assert_eq!(mem.live(), 0);
}

#[test]
fn walk_explains_faults() {
    let (mut mem, mut npt) = setup();
    npt.map(
        &mut mem,
        0x1000,
        0x5000,
        PageSize::Size4K,
        GuestRights::READ,
    )
    .unwrap();
    let w = npt.walk(&mem, 0x1000);
    assert!(matches!(w.outcome, WalkOutcome::Mapped(_)));
    assert_eq!(w.fault_reason(Access::Read), None);
    assert_eq!(
        w.fault_reason(Access::Write),
        Some(FaultReason::WriteToReadOnly)
    );
    assert_eq!(
        w.fault_reason(Access::Execute),
        Some(FaultReason::ExecuteNoExecute)
    );

    // Same PT, other entry: missing at the PT.
    let w = npt.walk(&mem, 0x3000);
    assert_eq!(w.outcome, WalkOutcome::Missing { level: Level::Pt });
    assert_eq!(w.entries.iter().flatten().count(), 4);
    assert_eq!(
        w.fault_reason(Access::Read),
        Some(FaultReason::NotPresent { level: Level::Pt })
    );
    // Other PD entry; other PDPT entry; other PML4 entry.
    assert_eq!(
        npt.walk(&mem, 0x20_0000).outcome,
        WalkOutcome::Missing { level: Level::Pd }
    );
    assert_eq!(
        npt.walk(&mem, 0x4000_0000).outcome,
        WalkOutcome::Missing { level: Level::Pdpt }
    );
    let w = npt.walk(&mem, 0x80_0000_0000);
    assert_eq!(w.outcome, WalkOutcome::Missing { level: Level::Pml4 });
    assert_eq!(w.entries, [Some(0), None, None, None]);
    let text = w.to_string();
    assert!(
        text.contains("PML4") && text.contains("not present"),
        "{text}"
    );
    assert_eq!(
        npt.walk(&mem, 1 << 48).fault_reason(Access::Read),
        Some(FaultReason::BeyondLimit)
    );
    npt.destroy(&mut mem);
}

#[test]
fn errors_display() {
    let e = NptError::GpaOutOfRange {
        gpa: 1 << 48,
        max_gpa_bits: 48,
    };
    assert_eq!(
        e.to_string(),
        "GPA 0x1000000000000 is beyond the 48-bit guest-physical limit"
    );
    assert_eq!(
        NptError::OutOfMemory.to_string(),
        "out of memory for nested page tables"
    );
    assert!(
        NptError::NotMapped { gpa: 0xabc000 }
            .to_string()
            .contains("0xabc000")
    );
}

// --- Model-based property test -------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Map {
        gpa: u64,
        hpa: u64,
        big: bool,
        w: bool,
        x: bool,
    },
    Unmap {
        gpa: u64,
        big: bool,
    },
}

/// GPAs from a small window (4 PML4 entries' worth of slots, few PDs), so
/// that collisions and shared tables are frequent.
fn gpa_strategy() -> impl Strategy<Value = u64> {
    (0u64..2, 0u64..2, 0u64..3, 0u64..4)
        .prop_map(|(pml4, pdpt, pd, pt)| (pml4 << 39) | (pdpt << 30) | (pd << 21) | (pt << 12))
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            gpa_strategy(),
            0u64..1024,
            any::<bool>(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(gpa, h, big, w, x)| Op::Map {
                gpa,
                hpa: h << 21,
                big,
                w,
                x
            }),
        (gpa_strategy(), any::<bool>()).prop_map(|(gpa, big)| Op::Unmap { gpa, big }),
    ]
}

/// The model: mapped pages by GPA → (hpa, size, rights).
type Model = BTreeMap<u64, (u64, PageSize, GuestRights)>;

fn model_lookup(model: &Model, gpa: u64) -> Option<(u64, u64, PageSize, GuestRights)> {
    let (&base, &(hpa, size, rights)) = model.range(..=gpa).next_back()?;
    (gpa < base + size.bytes()).then_some((base, hpa, size, rights))
}

fn overlaps(model: &Model, gpa: u64, size: PageSize) -> bool {
    let end = gpa + size.bytes();
    model_lookup(model, gpa).is_some() || model.range(gpa..end).next().is_some()
}

proptest! {
    #[test]
    fn random_map_unmap_matches_model(ops in proptest::collection::vec(op_strategy(), 1..60),
                                      budget in proptest::option::of(0usize..12)) {
        let mut mem = FakeMemory::new();
        let mut npt = NestedPageTable::new(&mut mem).unwrap();
        mem.budget = budget;
        let mut model = Model::new();
        let mut probes = BTreeSet::new();
        for op in ops {
            match op {
                Op::Map { gpa, hpa, big, w, x } => {
                    let size = if big { PageSize::Size2M } else { PageSize::Size4K };
                    let gpa = if big { gpa & !(M2 - 1) } else { gpa };
                    let rights = GuestRights { read: true, write: w, execute: x };
                    let before = mem.snapshot();
                    let r = npt.map(&mut mem, gpa, hpa, size, rights);
                    probes.insert(gpa);
                    probes.insert(gpa + size.bytes() - K4);
                    if overlaps(&model, gpa, size) {
                        let overlap = matches!(r, Err(NptError::Overlap { .. }));
                        prop_assert!(overlap, "{:?}", r);
                        prop_assert_eq!(mem.snapshot(), before);
                    } else if r == Err(NptError::OutOfMemory) {
                        prop_assert_eq!(mem.snapshot(), before);
                    } else {
                        prop_assert_eq!(r, Ok(()));
                        model.insert(gpa, (hpa, size, rights));
                    }
                }
                Op::Unmap { gpa, big } => {
                    let size = if big { PageSize::Size2M } else { PageSize::Size4K };
                    let gpa = if big { gpa & !(M2 - 1) } else { gpa };
                    let r = npt.unmap(&mut mem, gpa, size);
                    match model.get(&gpa) {
                        Some(&(hpa, s, _)) if s == size => {
                            prop_assert_eq!(r, Ok(hpa));
                            model.remove(&gpa);
                        }
                        _ => prop_assert!(r.is_err(), "{:?}", r),
                    }
                }
            }
            for &p in &probes {
                for probe in [p, p + 0x123] {
                    let expect = model_lookup(&model, probe).map(|(base, hpa, size, rights)| {
                        Translation { hpa: hpa + (probe - base), rights, size }
                    });
                    prop_assert_eq!(npt.translate(&mem, probe), expect);
                }
            }
            // Every table but the root is reachable from a mapping: empty
            // tables are freed.
            let expected_max = 1 + 3 * model.len();
            prop_assert!(mem.live() <= expected_max);
            if model.is_empty() {
                prop_assert_eq!(mem.live(), 1);
            }
        }
        npt.destroy(&mut mem);
        prop_assert_eq!(mem.live(), 0);
        prop_assert_eq!(mem.allocations, mem.frees);
    }
}

// In-place edits: `replace` (one 4 KiB leaf pointed at another frame),
// `split` (a 2 MiB page into 512 4 KiB pages), and the walk for readers
// without a reference.

#[test]
fn replace_points_a_page_elsewhere_without_allocating() {
    let (mut mem, mut npt) = setup();
    npt.map(&mut mem, 0x5000, 0x9000, PageSize::Size4K, GuestRights::ALL)
        .unwrap();
    mem.budget = Some(0);
    let old = npt
        .replace(&mut mem, 0x5000, 0xA000, GuestRights::READ_EXECUTE)
        .unwrap();
    assert_eq!(old, 0x9000);
    let now = npt.translate(&mem, 0x5123).unwrap();
    assert_eq!(now.hpa, 0xA123);
    assert_eq!(now.rights, GuestRights::READ_EXECUTE);
    assert_eq!(now.size, PageSize::Size4K);
}

#[test]
fn replace_refuses_what_is_not_one_mapped_4k_page() {
    let (mut mem, mut npt) = setup();
    assert_eq!(
        npt.replace(&mut mem, 0x5000, 0xA000, GuestRights::ALL),
        Err(NptError::NotMapped { gpa: 0x5000 })
    );
    npt.map(&mut mem, 0x5000, 0x9000, PageSize::Size4K, GuestRights::ALL)
        .unwrap();
    // A neighbour in the same page table is still not mapped.
    assert_eq!(
        npt.replace(&mut mem, 0x6000, 0xA000, GuestRights::ALL),
        Err(NptError::NotMapped { gpa: 0x6000 })
    );
    npt.map(&mut mem, M2, 0x20_0000, PageSize::Size2M, GuestRights::ALL)
        .unwrap();
    assert!(matches!(
        npt.replace(&mut mem, M2 + K4, 0xA000, GuestRights::ALL),
        Err(NptError::SizeMismatch { .. })
    ));
    assert!(matches!(
        npt.replace(&mut mem, 0x5000, 0xA000, GuestRights::default()),
        Err(NptError::UnrepresentableRights(_))
    ));
    assert!(matches!(
        npt.replace(&mut mem, 0x5000, 0xA001, GuestRights::ALL),
        Err(NptError::MisalignedHpa { .. })
    ));
    assert_eq!(npt.translate(&mem, 0x5000).unwrap().hpa, 0x9000);
}

#[test]
fn split_keeps_every_translation() {
    let (mut mem, mut npt) = setup();
    npt.map(
        &mut mem,
        M2,
        0x4_0000_0000,
        PageSize::Size2M,
        GuestRights::READ_EXECUTE,
    )
    .unwrap();
    let tables = mem.live();
    npt.split(&mut mem, M2 + 77 * K4 + 5).unwrap();
    assert_eq!(mem.live(), tables + 1, "one page table");
    for page in 0..512 {
        let t = npt.translate(&mem, M2 + page * K4).unwrap();
        assert_eq!(t.hpa, 0x4_0000_0000 + page * K4);
        assert_eq!(t.size, PageSize::Size4K);
        assert_eq!(t.rights, GuestRights::READ_EXECUTE);
    }
    // Each small page can now be unmapped on its own.
    npt.unmap(&mut mem, M2 + K4, PageSize::Size4K).unwrap();
    assert_eq!(npt.translate(&mem, M2 + K4), None);
    assert!(npt.translate(&mem, M2).is_some());
    // Splitting again finds small pages.
    assert!(matches!(
        npt.split(&mut mem, M2),
        Err(NptError::SizeMismatch { .. })
    ));
    assert_eq!(
        npt.split(&mut mem, 4 * M2),
        Err(NptError::NotMapped { gpa: 4 * M2 })
    );
}

#[test]
fn split_out_of_memory_changes_nothing() {
    let (mut mem, mut npt) = setup();
    npt.map(&mut mem, 0, 0x20_0000, PageSize::Size2M, GuestRights::ALL)
        .unwrap();
    let before = mem.snapshot();
    mem.budget = Some(0);
    assert_eq!(npt.split(&mut mem, 0), Err(NptError::OutOfMemory));
    assert_eq!(before, mem.snapshot());
    assert_eq!(npt.translate(&mem, 0x1000).unwrap().size, PageSize::Size2M);
}

/// The walk for readers without a reference agrees with `translate`.
#[test]
fn shared_walk_agrees_with_translate() {
    let (mut mem, mut npt) = setup();
    npt.map(
        &mut mem,
        0x5000,
        0x9000,
        PageSize::Size4K,
        GuestRights::READ,
    )
    .unwrap();
    npt.map(
        &mut mem,
        M2,
        0x4_0000_0000,
        PageSize::Size2M,
        GuestRights::ALL,
    )
    .unwrap();
    let read = |address: u64| mem.entries(address & !0xFFF)[((address & 0xFFF) / 8) as usize];
    for gpa in [
        0x5000,
        0x5FF8,
        M2,
        M2 + 0x12_3456,
        0x6000,
        0,
        1 << 47,
        1 << 48,
    ] {
        assert_eq!(
            tessera_npt::translate_shared(npt.root(), gpa, read),
            npt.translate(&mem, gpa),
            "{gpa:#x}"
        );
    }
}

#[test]
fn visit_reports_every_table_and_leaf_in_gpa_order() {
    use tessera_npt::Visited;
    let (mut mem, mut npt) = setup();
    npt.map(
        &mut mem,
        0x20_0000,
        0x80_0000,
        PageSize::Size2M,
        GuestRights::ALL,
    )
    .unwrap();
    npt.map(
        &mut mem,
        0x1000,
        0x5000,
        PageSize::Size4K,
        GuestRights::READ,
    )
    .unwrap();
    npt.map(
        &mut mem,
        0x80_0000_0000,
        0x6000,
        PageSize::Size4K,
        GuestRights::ALL,
    )
    .unwrap();
    let mut tables = Vec::new();
    let mut leaves = Vec::new();
    npt.visit(&mem, &mut |visited| match visited {
        Visited::Table(frame) => tables.push(frame),
        Visited::Leaf { gpa, translation } => {
            leaves.push((gpa, translation.hpa, translation.size));
        }
    });
    assert_eq!(tables.len(), mem.live(), "every live table, once");
    assert_eq!(tables[0], npt.root());
    let unique: BTreeSet<u64> = tables.iter().copied().collect();
    assert_eq!(unique.len(), tables.len());
    assert_eq!(
        leaves,
        [
            (0x1000, 0x5000, PageSize::Size4K),
            (0x20_0000, 0x80_0000, PageSize::Size2M),
            (0x80_0000_0000, 0x6000, PageSize::Size4K),
        ]
    );
    npt.destroy(&mut mem);
}
