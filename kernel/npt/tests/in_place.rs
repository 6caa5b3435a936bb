//! Host tests of the in-place edits: `replace` (one 4 KiB leaf pointed at
//! another frame) and `split` (a 2 MiB page into 512 4 KiB pages).

use std::collections::BTreeMap;

use tessera_npt::{GuestRights, NestedPageTable, NptError, PageSize, TableMemory};

const K4: u64 = 4096;
const M2: u64 = 2 << 20;

/// Table frames in a map; can run out of memory after a budget.
#[derive(Debug, Default)]
struct Tables {
    tables: BTreeMap<u64, Box<[u64; 512]>>,
    next: u64,
    budget: Option<usize>,
}

impl TableMemory for Tables {
    fn allocate_table(&mut self) -> Option<u64> {
        if let Some(budget) = &mut self.budget {
            *budget = budget.checked_sub(1)?;
        }
        self.next += K4;
        let frame = 0x40_0000_0000 + self.next;
        self.tables.insert(frame, Box::new([0; 512]));
        Some(frame)
    }
    fn free_table(&mut self, frame: u64) {
        assert!(self.tables.remove(&frame).is_some());
    }
    fn entries(&self, frame: u64) -> &[u64; 512] {
        &self.tables[&frame]
    }
    fn entries_mut(&mut self, frame: u64) -> &mut [u64; 512] {
        self.tables.get_mut(&frame).unwrap()
    }
}

fn setup() -> (Tables, NestedPageTable) {
    let mut mem = Tables::default();
    let npt = NestedPageTable::new(&mut mem).unwrap();
    (mem, npt)
}

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
    let tables = mem.tables.len();
    npt.split(&mut mem, M2 + 77 * K4 + 5).unwrap();
    assert_eq!(mem.tables.len(), tables + 1, "one page table");
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
    let before: BTreeMap<u64, [u64; 512]> = mem.tables.iter().map(|(k, v)| (*k, **v)).collect();
    mem.budget = Some(0);
    assert_eq!(npt.split(&mut mem, 0), Err(NptError::OutOfMemory));
    let after: BTreeMap<u64, [u64; 512]> = mem.tables.iter().map(|(k, v)| (*k, **v)).collect();
    assert_eq!(before, after);
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
