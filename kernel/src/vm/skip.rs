//! Where RIP goes after an exit that completes the guest's instruction
//! (`tessera_vcpu::instruction` decides): the CPU's next RIP where it
//! offers NRIP save, else the instruction fetched at CS:RIP through the
//! guest's page tables and the partition's nested ones, and measured.
//!
//! Two readers of guest memory do the fetching: the locked path's, through
//! the partition's `GpaSpace`, and the lock-free path's, which walks the
//! nested table with volatile loads. The lock-free one runs while its CPU
//! still counts as in the guest (`run.rs`), so a CPU that unmaps memory
//! waits for it before any frame it might read goes back to the pool.
use super::exits::Next;
use super::mmio::PartitionMemory;
use crate::memory::physical_to_virtual;
use crate::state::Kernel;
use core::sync::atomic::Ordering;
use tessera_capability::VpId;
use tessera_svm::Vmcb;
use tessera_vcpu::fetch_cache::{FetchCache, Locations};
use tessera_vcpu::guest_walk::GuestPhysical;
use tessera_vcpu::instruction::{self, CodeState, Fetched, Skipped};

impl Kernel {
    /// Where RIP goes past the instruction VP `vp` exited on, or what the
    /// VP does instead when the bytes at CS:RIP are not that instruction
    /// (`instruction_missing`).
    pub fn next_rip(&mut self, cpu: usize, vp: VpId) -> Result<u64, Next> {
        let Kernel {
            vps, partitions, ..
        } = self;
        let Some(record) = vps.get_mut(vp) else {
            return Err(Next::GONE);
        };
        let Some(target) = partitions.get(record.partition) else {
            return Err(Next::GONE);
        };
        // The same reader and cache as the lock-free path: under the lock
        // the nested table holds still, and the cache's rule is the same.
        let mut reader = Unlocked {
            memory: SharedMemory::new(target.space.npt().root()),
            generation: target.fast.tlb_generation.load(Ordering::SeqCst),
            nrip_save: crate::svm::features().nrip_save,
            cache: &mut record.fetch_cache,
            apic: None,
            solo: false,
            eoi_routed: false,
            published_priority: &record.published_priority,
            synic: None,
        };
        let measured = next_rip_unlocked(&record.vmcb, &mut reader);
        match measured {
            Some(next) => {
                if let Some(record) = self.vps.get_mut(vp) {
                    record.skip_failed_at = None;
                }
                Ok(next)
            }
            None => Err(self.instruction_missing(cpu, vp)),
        }
    }

    /// The bytes at VP `vp`'s CS:RIP, through its partition's tables.
    pub fn instruction_bytes(&self, vp: VpId) -> Fetched {
        let Some(record) = self.vps.get(vp) else {
            return Fetched::default();
        };
        let Some(target) = self.partitions.get(record.partition) else {
            return Fetched::default();
        };
        let memory = PartitionMemory {
            npt: target.space.npt(),
        };
        instruction::fetch(&memory, &CodeState::of(&record.vmcb.save))
    }

    /// The instruction VP `vp` exited on is not at its CS:RIP (another VP
    /// rewrote or remapped the code): the guest runs what is there again —
    /// nothing of the exit has happened; the second time in a row at one
    /// RIP the lifecycle handler hears of it (as KVM stops a guest whose
    /// instruction it cannot complete) rather than the guest spinning.
    pub fn instruction_missing(&mut self, cpu: usize, vp: VpId) -> Next {
        let Some(record) = self.vps.get_mut(vp) else {
            return Next::GONE;
        };
        let (exit, rip) = (record.vmcb.control.exit_code, record.vmcb.save.rip);
        if record.skip_failed_at != Some(rip) {
            record.skip_failed_at = Some(rip);
            return Next::Resume;
        }
        record.skip_failed_at = None;
        log::warn!(
            "{}: the instruction at rip {rip:#x} is not the one that exited ({exit:?})",
            self.vp_name(vp)
        );
        self.lifecycle(cpu, vp, super::lifecycle_route::unsupported(exit))
    }
}

/// The lock-free path's view of a VP: its partition's nested table (whose
/// frames stay alive while this CPU is in the guest), the partition's TLB
/// generation now, whether the CPU saves the next RIP (decided once per
/// entry, not per exit), and the VP's last measured instruction.
pub struct Unlocked<'a> {
    pub memory: SharedMemory,
    pub generation: u64,
    pub nrip_save: bool,
    pub cache: &'a mut FetchCache,
    /// The VP's local APIC, for the lock-free APIC exits (`lapic_fast`;
    /// here rather than an argument of its own: the hot exits then keep
    /// one register free).
    pub apic: Option<&'a mut tessera_lapic::LocalApic>,
    /// Whether the VP is its partition's only one: an IPI to its own APIC
    /// ID then reaches no other VP, so the lock-free path may answer it.
    pub solo: bool,
    /// The partition routes EOI broadcasts (`EOI`): the EOI of a
    /// level-triggered vector is the locked path's, which forwards it.
    pub eoi_routed: bool,
    /// Where the VP publishes its APIC's priority for lowest-priority
    /// arbitration (`Vp::published_priority`) when an APIC exit changes
    /// its PPR.
    pub published_priority: &'a core::sync::atomic::AtomicU16,
    /// The VP's SynIC registers as published, for the lock-free
    /// `HvSignalEvent` (`fast_signal.rs`); `None` leaves it to the locked
    /// path.
    pub synic: Option<&'a tessera_synic::fast_signal::PublishedVp>,
}

/// [`Kernel::next_rip`] without the lock. `None` leaves the exit to the
/// locked path, which decides what a mismatch means.
#[inline]
pub fn next_rip_unlocked(vmcb: &Vmcb, unlocked: &mut Unlocked<'_>) -> Option<u64> {
    let control = &vmcb.control;
    let skipped = Skipped::of(control.exit_code, control.exit_info1)?;
    next_rip_past(skipped, vmcb, unlocked)
}

/// [`next_rip_unlocked`] for an exit the caller already knows is
/// `skipped`'s (the fast path's CPUID and VMMCALL): the hot path, inlined
/// into it.
#[inline(always)]
pub fn next_rip_past(skipped: Skipped, vmcb: &Vmcb, unlocked: &mut Unlocked<'_>) -> Option<u64> {
    if unlocked.nrip_save {
        return Some(vmcb.control.next_rip);
    }
    unlocked
        .cache
        .next_rip(skipped, &vmcb.save, unlocked.generation, &unlocked.memory)
}

/// [`next_rip_past`] handed to `complete`, which answers the exit with it
/// (`false` when there is no next RIP: the locked path decides). Each way
/// to the next RIP calls `complete` itself, so the hot path never builds
/// an `Option` to test it again.
#[inline(always)]
pub fn complete_past(
    skipped: Skipped,
    vmcb: &mut super::VpVmcb,
    unlocked: &mut Unlocked<'_>,
    complete: impl FnOnce(&mut super::VpVmcb, u64) -> bool,
) -> bool {
    if unlocked.nrip_save {
        let next = vmcb.control.next_rip;
        return complete(vmcb, next);
    }
    let (memory, generation) = (&unlocked.memory, unlocked.generation);
    if let Some(next) = unlocked.cache.hit(skipped, &vmcb.save, generation, memory) {
        return complete(vmcb, next);
    }
    match unlocked
        .cache
        .measure(skipped, &vmcb.save, generation, memory)
    {
        Some(next) => complete(vmcb, next),
        None => false,
    }
}

/// Guest memory read through a nested table other CPUs may edit.
pub struct SharedMemory {
    npt_root: u64,
}

impl SharedMemory {
    /// The memory the nested table at `npt_root` maps.
    pub fn new(npt_root: u64) -> Self {
        Self { npt_root }
    }
}

fn read_physical(address: u64) -> u64 {
    let pointer = physical_to_virtual(address).as_ptr::<u64>();
    // `address` is an aligned word of a nested-table frame or of a frame
    // the nested table maps; both stay allocated while this CPU is in the
    // guest (module documentation). Another CPU may write it meanwhile:
    // the value is only ever data, read once.
    // SAFETY: an aligned read of a live frame through the physical map.
    unsafe { core::ptr::read_volatile(pointer) }
}

impl GuestPhysical for SharedMemory {
    fn read_u64(&self, gpa: u64) -> Option<u64> {
        if gpa & 7 != 0 {
            return None;
        }
        let translation = tessera_npt::translate_shared(self.npt_root, gpa, read_physical)?;
        Some(read_physical(translation.hpa))
    }

    fn read_bytes(&self, gpa: u64, out: &mut [u8]) -> bool {
        match tessera_npt::translate_shared(self.npt_root, gpa, read_physical) {
            Some(translation) => {
                copy_bytes(translation.hpa, out);
                true
            }
            None => false,
        }
    }
}

impl Locations for SharedMemory {
    /// Where the physical map shows the byte at `gpa` (an address in the
    /// kernel's space, so that a hit's `word` is one load).
    fn locate(&self, gpa: u64) -> Option<u64> {
        tessera_npt::translate_shared(self.npt_root, gpa, read_physical)
            .map(|t| physical_to_virtual(t.hpa).as_u64())
    }

    /// On every fast exit's cache hit (three to five words): `location`
    /// is one that `locate` found through the nested table in the TLB
    /// generation the cache entry is keyed on, which is the current one —
    /// a word of a RAM frame that stays allocated while this CPU is in the
    /// guest, read through the physical map.
    #[inline(always)]
    fn word(&self, location: u64) -> u64 {
        let pointer = location as *const u64;
        // Another CPU may write the word meanwhile: the value is only compared.
        // SAFETY: an aligned read of a live frame through the physical map (above).
        unsafe { core::ptr::read_volatile(pointer) }
    }
}

/// Fills `out` from host-physical `hpa` on (one page of a live frame),
/// a word at a time.
pub(super) fn copy_bytes(hpa: u64, out: &mut [u8]) {
    let mut word_address = hpa & !7;
    let mut word = read_physical(word_address);
    for (index, byte) in out.iter_mut().enumerate() {
        let at = hpa + index as u64;
        if at & !7 != word_address {
            word_address = at & !7;
            word = read_physical(word_address);
        }
        *byte = (word >> ((at & 7) * 8)) as u8;
    }
}
