//! Table memory in a map, with an allocation budget, and a walk of every
//! leaf a nested table holds.
#![allow(dead_code)]

use std::collections::BTreeMap;

use tessera_gpa_space::GpaSpace;
use tessera_npt::{NptConfig, TableMemory};

pub const PAGE: u64 = 4096;
pub const LARGE: u64 = 2 << 20;

#[derive(Debug, Default)]
pub struct Tables {
    tables: BTreeMap<u64, Box<[u64; 512]>>,
    next: u64,
    /// Allocations still allowed; `None`: unlimited.
    pub budget: Option<usize>,
}

impl TableMemory for Tables {
    fn allocate_table(&mut self) -> Option<u64> {
        if let Some(budget) = &mut self.budget {
            *budget = budget.checked_sub(1)?;
        }
        self.next += PAGE;
        let frame = 0x80_0000_0000 + self.next;
        self.tables.insert(frame, Box::new([0; 512]));
        Some(frame)
    }
    fn free_table(&mut self, frame: u64) {
        assert!(self.tables.remove(&frame).is_some(), "double free");
    }
    fn entries(&self, frame: u64) -> &[u64; 512] {
        &self.tables[&frame]
    }
    fn entries_mut(&mut self, frame: u64) -> &mut [u64; 512] {
        self.tables.get_mut(&frame).expect("a live table")
    }
}

impl Tables {
    pub fn live(&self) -> usize {
        self.tables.len()
    }

    /// Every leaf under `root`, by hand: GPA → (frame of each 4 KiB page).
    /// 2 MiB leaves are listed page by page.
    pub fn leaves(&self, root: u64) -> BTreeMap<u64, u64> {
        let mut out = BTreeMap::new();
        self.collect(root, 0, 0, &mut out);
        out
    }

    fn collect(&self, table: u64, depth: u32, base: u64, out: &mut BTreeMap<u64, u64>) {
        let shift = 39 - 9 * depth;
        for (index, &entry) in self.tables[&table].iter().enumerate() {
            if entry & 1 == 0 {
                continue;
            }
            let gpa = base | (index as u64) << shift;
            let address = entry & 0x000F_FFFF_FFFF_F000;
            if depth == 3 {
                out.insert(gpa, address);
            } else if depth == 2 && entry & 0x80 != 0 {
                let frame = entry & 0x000F_FFFF_FFE0_0000;
                for page in 0..512 {
                    out.insert(gpa + page * PAGE, frame + page * PAGE);
                }
            } else {
                assert_eq!(entry & 0x80, 0, "no 1 GiB leaves");
                self.collect(address, depth + 1, gpa, out);
            }
        }
    }
}

pub fn space() -> (Tables, GpaSpace<u32>) {
    let mut tables = Tables::default();
    let config = NptConfig {
        max_gpa_bits: 40,
        max_hpa_bits: 52,
    };
    let space = GpaSpace::new(&mut tables, config).unwrap();
    (tables, space)
}

/// `count` frames from `first` on, one page apart.
pub fn frames(first: u64, count: u64) -> Vec<u64> {
    (0..count).map(|page| first + page * PAGE).collect()
}

/// A frame list as `GpaSpace::map_ram` takes it.
pub fn slice(frames: &[u64]) -> (usize, impl Fn(usize) -> u64 + '_) {
    (frames.len(), move |index| frames[index])
}
