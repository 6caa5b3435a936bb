//! Overlay pages: kernel pages laid over a partition's GPA space at a
//! guest-chosen address — the hypercall page and the VP assist page (TLFS
//! md `hypercall-interface.md` § Establishing the Hypercall Interface;
//! `vp-properties.md` § VP Assist Page). An overlay hides what is mapped
//! at its GPA without touching it; removing the overlay shows the RAM page
//! again, contents unchanged.
use super::tables::KernelTables;
use crate::memory::{frames, physical_to_virtual};
use crate::state::Kernel;
use tessera_capability::PartitionId;
use tessera_npt::{GuestRights, PageSize};

/// An overlay in place.
#[derive(Debug, Clone, Copy)]
pub struct Overlay {
    pub gpa: u64,
    pub frame: u64,
    /// The guest may not write it (the hypercall page): a write is #GP
    /// (TLFS md `hypercall-interface.md`: "Attempts to write to the
    /// hypercall page will result in a protection (#GP) exception").
    pub read_only: bool,
}

const PAGE: u64 = 4096;
const LARGE: u64 = 2 << 20;

impl Kernel {
    /// Lays a fresh kernel page holding `contents` over `gpa` (page
    /// aligned) in `partition`; returns its frame. `None` when out of
    /// memory (the guest's write then has no effect).
    pub fn add_overlay(
        &mut self,
        partition: PartitionId,
        gpa: u64,
        contents: &[u8],
        rights: GuestRights,
        cpu: usize,
    ) -> Option<u64> {
        let frame = frames::allocate_zeroed()?.as_u64();
        let length = contents.len().min(PAGE as usize);
        // SAFETY: the frame was just allocated, is one page, and is reached
        // through the physical map; `length` fits.
        unsafe {
            core::ptr::copy_nonoverlapping(
                contents.as_ptr(),
                physical_to_virtual(frame).as_mut_ptr::<u8>(),
                length,
            );
        }
        let Some(target) = self.partitions.get_mut(partition) else {
            frames::free(x86_64::PhysAddr::new(frame));
            return None;
        };
        if target.overlays.try_reserve(1).is_err() {
            frames::free(x86_64::PhysAddr::new(frame));
            return None;
        }
        let mut tables = KernelTables::default();
        // A large page under the overlay is split first, so only the one
        // 4 KiB page is hidden.
        if let Some(translation) = target.npt.translate(&tables, gpa) {
            if translation.size == PageSize::Size2M {
                let base_gpa = gpa & !(LARGE - 1);
                let base_hpa = translation.hpa & !(LARGE - 1);
                let rights = translation.rights;
                let _ = target.npt.unmap(&mut tables, base_gpa, PageSize::Size2M);
                for page in 0..512 {
                    let _ = target.npt.map(
                        &mut tables,
                        base_gpa + page * PAGE,
                        base_hpa + page * PAGE,
                        PageSize::Size4K,
                        rights,
                    );
                }
            }
            let _ = target.npt.unmap(&mut tables, gpa, PageSize::Size4K);
        }
        if target
            .npt
            .map(&mut tables, gpa, frame, PageSize::Size4K, rights)
            .is_err()
        {
            frames::free(x86_64::PhysAddr::new(frame));
            self.restore_ram_page(partition, gpa);
            return None;
        }
        target.overlays.push(Overlay {
            gpa,
            frame,
            read_only: !rights.write,
        });
        self.flush_partition(partition, cpu);
        Some(frame)
    }

    /// Removes the overlay at `gpa`, if any: the RAM page under it (if
    /// any) shows again.
    pub fn remove_overlay(&mut self, partition: PartitionId, gpa: u64, cpu: usize) {
        let Some(target) = self.partitions.get_mut(partition) else {
            return;
        };
        let Some(position) = target.overlays.iter().position(|o| o.gpa == gpa) else {
            return;
        };
        let overlay = target.overlays.remove(position);
        let _ = target
            .npt
            .unmap(&mut KernelTables::default(), gpa, PageSize::Size4K);
        self.restore_ram_page(partition, gpa);
        self.flush_partition(partition, cpu);
        frames::free(x86_64::PhysAddr::new(overlay.frame));
    }

    /// Maps the RAM page of `gpa` again, if a region mapping covers it.
    fn restore_ram_page(&mut self, partition: PartitionId, gpa: u64) {
        let Some(target) = self.partitions.get(partition) else {
            return;
        };
        let Some(mapping) = target
            .mappings
            .iter()
            .find(|m| m.gpa <= gpa && gpa < m.gpa + m.pages * PAGE)
            .copied()
        else {
            return;
        };
        let index = ((gpa - mapping.gpa) / PAGE) as usize;
        let Some(frame) = self
            .region_frames(mapping.region)
            .and_then(|f| f.get(index))
            .copied()
        else {
            return;
        };
        let Some(target) = self.partitions.get_mut(partition) else {
            return;
        };
        let _ = target.npt.map(
            &mut KernelTables::default(),
            gpa,
            frame.as_u64(),
            PageSize::Size4K,
            mapping.rights,
        );
    }

    /// After a translation of `partition` changed: every VP flushes before
    /// it runs again, and none runs on the old translation meanwhile.
    pub fn flush_partition(&mut self, partition: PartitionId, cpu: usize) {
        if let Some(target) = self.partitions.get(partition) {
            target
                .fast
                .tlb_generation
                .fetch_add(1, core::sync::atomic::Ordering::SeqCst);
            crate::tlb::shoot_down_partition(self, partition, cpu);
        }
    }
}
