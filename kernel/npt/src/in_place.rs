//! Edits that keep a GPA mapped throughout: a 4 KiB leaf pointed at another
//! frame, and a 2 MiB page split into the 512 4 KiB pages it is made of.
//!
//! Overlay pages need both (`tessera-gpa-space`): laying a page over RAM,
//! or taking it away again, must never need a table allocation that could
//! fail halfway, and must never leave a moment in which the GPA maps
//! nothing or a page that is neither the old nor the new one.
use super::bits::{ADDRESS_MASK, NO_EXECUTE, PAGE_SIZE, PRESENT, TABLE_FLAGS};
use super::{
    ENTRIES_PER_TABLE, GuestRights, Level, NestedPageTable, NptError, PageSize, TableMemory,
    is_leaf, leaf_base,
};

impl NestedPageTable {
    /// The table at `level` on the way to `gpa`, or why the walk stopped
    /// above it (`NotMapped`, or `SizeMismatch` at a 2 MiB leaf).
    fn table_at(&self, mem: &impl TableMemory, gpa: u64, level: Level) -> Result<u64, NptError> {
        let mut table = self.root;
        for depth in 0..level.depth() {
            let at = Level::ALL[depth];
            let entry = mem.entries(table)[at.index(gpa)];
            if entry & PRESENT == 0 {
                return Err(NptError::NotMapped { gpa });
            }
            if is_leaf(entry, at) {
                return Err(NptError::SizeMismatch {
                    gpa,
                    requested: PageSize::Size4K,
                    mapped: PageSize::Size2M,
                });
            }
            table = entry & ADDRESS_MASK;
        }
        Ok(table)
    }

    /// Points the 4 KiB page mapped at `gpa` at `hpa` with `rights`, with
    /// one store, and returns the frame it mapped before. Allocates
    /// nothing. As after [`unmap`](Self::unmap), the partition's nested TLB
    /// must be flushed before the old frame is reused.
    ///
    /// Refuses what [`map`](Self::map) refuses, `NotMapped` where no page
    /// is mapped, and `SizeMismatch` where a 2 MiB page holds `gpa`.
    pub fn replace(
        &mut self,
        mem: &mut impl TableMemory,
        gpa: u64,
        hpa: u64,
        rights: GuestRights,
    ) -> Result<u64, NptError> {
        self.check_range(gpa, PageSize::Size4K)?;
        self.check_frame(hpa, PageSize::Size4K, rights)?;
        let table = self.table_at(mem, gpa, Level::Pt)?;
        let index = Level::Pt.index(gpa);
        let entry = mem.entries(table)[index];
        if entry & PRESENT == 0 {
            return Err(NptError::NotMapped { gpa });
        }
        mem.entries_mut(table)[index] = hpa | rights.leaf_flags();
        Ok(leaf_base(entry, Level::Pt))
    }

    /// Splits the 2 MiB page that holds `gpa` into 512 4 KiB pages of the
    /// same frames and rights: one page table is filled, then linked in
    /// place of the large page with one store. No translation changes.
    /// `OutOfMemory` leaves the table as it was; `NotMapped` or
    /// `SizeMismatch` (4 KiB pages there already) when no 2 MiB page holds
    /// `gpa`.
    pub fn split(&mut self, mem: &mut impl TableMemory, gpa: u64) -> Result<(), NptError> {
        let base = gpa & !(PageSize::Size2M.bytes() - 1);
        self.check_range(base, PageSize::Size2M)?;
        let directory = self.table_at(mem, base, Level::Pd)?;
        let index = Level::Pd.index(base);
        let entry = mem.entries(directory)[index];
        if entry & PRESENT == 0 {
            return Err(NptError::NotMapped { gpa });
        }
        if !is_leaf(entry, Level::Pd) {
            return Err(NptError::SizeMismatch {
                gpa,
                requested: PageSize::Size2M,
                mapped: PageSize::Size4K,
            });
        }
        let frame = leaf_base(entry, Level::Pd);
        // The leaf's flags without PS (which is PAT at the PT level) and
        // without its address.
        let flags = entry & (0x1FF | NO_EXECUTE) & !PAGE_SIZE;
        let table = self.allocate(mem)?;
        let entries = mem.entries_mut(table);
        for (page, slot) in entries.iter_mut().enumerate().take(ENTRIES_PER_TABLE) {
            *slot = (frame + ((page as u64) << 12)) | flags;
        }
        mem.entries_mut(directory)[index] = table | TABLE_FLAGS;
        Ok(())
    }
}
