//! Overlay pages: kernel pages the guest lays over its GPA space by
//! identity — the hypercall page, the VP assist pages and the SynIC's SIM
//! and SIEF pages (whose frames their VP keeps, `synic.rs`) (TLFS md
//! `hypercall-interface.md` § Establishing the Hypercall Interface;
//! `vp-properties.md` § VP Assist Page). `tessera_gpa_space` decides what
//! the nested table maps (the top overlay, else RAM, else nothing); this
//! module gives it frames and takes them back after the flush.
use super::tables::KernelTables;
use crate::memory::charged::Charged;
use crate::memory::physical_to_virtual;
use crate::state::Kernel;
use tessera_capability::PartitionId;
use tessera_gpa_space::OverlayId;
use tessera_npt::GuestRights;

const PAGE: usize = 4096;

impl Kernel {
    /// Places overlay `id` of `partition` at `gpa` as a fresh kernel page
    /// holding `contents`, on top of whatever lies there; it moves if it
    /// was placed elsewhere. `None` when out of memory (the guest's write
    /// then places nothing, and an earlier placement stays).
    pub fn place_overlay(
        &mut self,
        partition: PartitionId,
        id: OverlayId,
        gpa: u64,
        contents: &[u8],
        rights: GuestRights,
        cpu: usize,
    ) -> Option<()> {
        // The page and any table it needs are charged to whoever made the
        // partition.
        let payer = self.partitions.get(partition)?.payer;
        let frame = Charged::to(&mut self.caps, payer).take()?;
        let length = contents.len().min(PAGE);
        // SAFETY: the frame was just allocated, is one page, and is reached
        // through the physical map; `length` fits.
        unsafe {
            core::ptr::copy_nonoverlapping(
                contents.as_ptr(),
                physical_to_virtual(frame.as_u64()).as_mut_ptr::<u8>(),
                length,
            );
        }
        let placed = self.place_overlay_frame(partition, id, gpa, frame.as_u64(), rights, cpu);
        if placed.is_none() {
            Charged::to(&mut self.caps, payer).give(frame);
        }
        placed
    }

    /// Places overlay `id` at `gpa` as `frame`: a fresh page the overlay
    /// owns from now on (`place_overlay`), or a page its owner keeps (a
    /// VP's SIM or SIEF frame, `synic.rs`), which removing or moving the
    /// overlay never frees (`give_overlay_frame`). `None` when a nested
    /// table could not be had: the caller keeps `frame`.
    pub fn place_overlay_frame(
        &mut self,
        partition: PartitionId,
        id: OverlayId,
        gpa: u64,
        frame: u64,
        rights: GuestRights,
        cpu: usize,
    ) -> Option<()> {
        let Kernel {
            partitions, caps, ..
        } = self;
        let target = partitions.get_mut(partition)?;
        let mut tables = KernelTables::charged(Charged::to(caps, target.payer));
        match target
            .space
            .place_overlay(&mut tables, id, gpa, frame, rights)
        {
            Ok(moved) => {
                let payer = target.payer;
                self.flush_partition(partition, cpu);
                if let Some(old) = moved {
                    self.give_overlay_frame(payer, old.id, old.frame);
                }
                Some(())
            }
            Err(error) => {
                log::debug!("overlay {id:?} at {gpa:#x}: {error:?}");
                None
            }
        }
    }

    /// Removes overlay `id` of `partition`, if placed: what lay under it
    /// shows again, and its frame goes back once no CPU can reach it.
    pub fn remove_overlay(&mut self, partition: PartitionId, id: OverlayId, cpu: usize) {
        let Kernel {
            partitions, caps, ..
        } = self;
        let Some(target) = partitions.get_mut(partition) else {
            return;
        };
        let mut tables = KernelTables::charged(Charged::to(caps, target.payer));
        let Some(gone) = target.space.remove_overlay(&mut tables, id) else {
            return;
        };
        let payer = target.payer;
        self.flush_partition(partition, cpu);
        self.give_overlay_frame(payer, gone.id, gone.frame);
    }

    /// Gives an overlay's frame back to the pool and to `payer`'s quota,
    /// once the flush that took it out of every translation is done.
    /// A SynIC page's frame stays with its VP.
    fn give_overlay_frame(
        &mut self,
        payer: tessera_capability::CSpaceId,
        id: OverlayId,
        frame: u64,
    ) {
        if super::synic::is_synic_overlay(id) {
            return;
        }
        Charged::to(&mut self.caps, payer).give(x86_64::PhysAddr::new(frame));
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
