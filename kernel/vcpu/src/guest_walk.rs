//! Guest-virtual to guest-physical translation through the guest's own
//! page tables, for fetching the instruction behind a memory-mapped I/O
//! exit (AMD APM vol. 2, "Page Translation and Protection": legacy 32-bit,
//! PAE and long-mode 4-level paging).
//!
//! The walk only reads; it sets no accessed or dirty bits (the processor
//! already did, walking the same tables for the faulting access).

/// Reads guest-physical memory; `None` where nothing is mapped.
pub trait GuestPhysical {
    /// The aligned word at `gpa`.
    fn read_u64(&self, gpa: u64) -> Option<u64>;

    /// Fills `out` with the bytes from `gpa` on, which lie in one page;
    /// `false` where that page is not mapped. Word by word unless the
    /// memory can find the page once.
    fn read_bytes(&self, gpa: u64, out: &mut [u8]) -> bool {
        for (index, byte) in out.iter_mut().enumerate() {
            let at = gpa + index as u64;
            let Some(word) = self.read_u64(at & !7) else {
                return false;
            };
            *byte = (word >> ((at & 7) * 8)) as u8;
        }
        true
    }
}

const PRESENT: u64 = 1;
const PAGE_SIZE: u64 = 1 << 7;
const ADDRESS: u64 = 0x000F_FFFF_FFFF_F000;

/// The paging mode from CR0, CR4 and EFER.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paging {
    Off,
    Legacy,
    Pae,
    LongMode,
}

impl Paging {
    pub fn of(cr0: u64, cr4: u64, efer: u64) -> Self {
        if cr0 & (1 << 31) == 0 {
            Self::Off
        } else if efer & (1 << 10) != 0 {
            Self::LongMode
        } else if cr4 & (1 << 5) != 0 {
            Self::Pae
        } else {
            Self::Legacy
        }
    }
}

/// The GPA of `gva`, or `None` if a table entry on the way is not present
/// or not readable.
pub fn translate(
    memory: &impl GuestPhysical,
    paging: Paging,
    cr3: u64,
    cr4: u64,
    gva: u64,
) -> Option<u64> {
    match paging {
        Paging::Off => Some(gva & 0xFFFF_FFFF),
        Paging::LongMode => walk64(memory, cr3 & ADDRESS, gva, 4),
        Paging::Pae => {
            let gva = gva & 0xFFFF_FFFF;
            let pdpte = memory.read_u64((cr3 & 0xFFFF_FFE0) + ((gva >> 30) & 3) * 8)?;
            if pdpte & PRESENT == 0 {
                return None;
            }
            walk64(memory, pdpte & ADDRESS, gva, 2)
        }
        Paging::Legacy => {
            let gva = gva & 0xFFFF_FFFF;
            let pde = read_u32(memory, (cr3 & 0xFFFF_F000) + ((gva >> 22) & 0x3FF) * 4)?;
            if pde & PRESENT == 0 {
                return None;
            }
            if pde & PAGE_SIZE != 0 && cr4 & (1 << 4) != 0 {
                // A 4 MiB page (PSE): bits 31:22, plus PSE-36 bits 20:13.
                let base = (pde & 0xFFC0_0000) | ((pde >> 13) & 0xFF) << 32;
                return Some(base | (gva & 0x3F_FFFF));
            }
            let pte = read_u32(memory, (pde & 0xFFFF_F000) + ((gva >> 12) & 0x3FF) * 4)?;
            (pte & PRESENT != 0).then_some((pte & 0xFFFF_F000) | (gva & 0xFFF))
        }
    }
}

fn read_u32(memory: &impl GuestPhysical, gpa: u64) -> Option<u64> {
    let word = memory.read_u64(gpa & !7)?;
    Some(if gpa & 4 != 0 {
        word >> 32
    } else {
        word & 0xFFFF_FFFF
    })
}

/// Walks `levels` levels of 64-bit entries (4 in long mode, 2 below the
/// PAE PDPT) from the table at `table`.
fn walk64(memory: &impl GuestPhysical, mut table: u64, gva: u64, levels: u32) -> Option<u64> {
    for level in (1..=levels).rev() {
        let shift = 12 + 9 * (level - 1);
        let entry = memory.read_u64(table + ((gva >> shift) & 0x1FF) * 8)?;
        if entry & PRESENT == 0 {
            return None;
        }
        // A large page at the PDPT (1 GiB) or PD (2 MiB) level.
        if level > 1 && level < 4 && entry & PAGE_SIZE != 0 {
            let page_mask = (1u64 << shift) - 1;
            return Some((entry & ADDRESS & !page_mask) | (gva & page_mask));
        }
        table = entry & ADDRESS;
    }
    Some(table | (gva & 0xFFF))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct Memory(BTreeMap<u64, u64>);

    impl GuestPhysical for Memory {
        fn read_u64(&self, gpa: u64) -> Option<u64> {
            self.0.get(&gpa).copied().or(Some(0))
        }
    }

    #[test]
    fn long_mode_walks_four_levels_and_large_pages() {
        let mut memory = Memory::default();
        // PML4[0] -> 0x2000, PDPT[0] -> 0x3000, PD[0] -> PT 0x4000, PT[1] -> 0x9000.
        memory.0.insert(0x1000, 0x2000 | 3);
        memory.0.insert(0x2000, 0x3000 | 3);
        memory.0.insert(0x3000, 0x4000 | 3);
        memory.0.insert(0x4008, 0x9000 | 3);
        // PD[1]: a 2 MiB page at 0x4000_0000.
        memory.0.insert(0x3008, 0x4000_0000 | 0x83);
        let paging = Paging::of(1 << 31 | 1, 1 << 5, 1 << 10 | 1 << 8);
        assert_eq!(paging, Paging::LongMode);
        assert_eq!(translate(&memory, paging, 0x1000, 0, 0x1234), Some(0x9234));
        assert_eq!(
            translate(&memory, paging, 0x1000, 0, 0x20_5678),
            Some(0x4000_5678)
        );
        assert_eq!(
            translate(&memory, paging, 0x1000, 0, 0x3000),
            None,
            "PT[3] not present"
        );
    }

    #[test]
    fn legacy_and_unpaged_modes() {
        let mut memory = Memory::default();
        memory.0.insert(0x1000, 0x2000 | 3); // PDE[0] -> PT 0x2000
        memory.0.insert(0x2000, (0x7000 | 3) << 32); // PTE[1] (upper half of the word at 0x2000)
        memory.0.insert(0x1008, (0x0840_0000 | 0x83) << 32); // PDE[3]: 4 MiB page
        let paging = Paging::of(1 << 31 | 1, 0, 0);
        assert_eq!(paging, Paging::Legacy);
        assert_eq!(translate(&memory, paging, 0x1000, 0, 0x1ABC), Some(0x7ABC));
        assert_eq!(
            translate(&memory, paging, 0x1000, 1 << 4, 0x00C0_1234),
            Some(0x0840_1234)
        );
        assert_eq!(
            translate(&memory, Paging::Off, 0, 0, 0x1_2345_6789),
            Some(0x2345_6789)
        );
    }
}
