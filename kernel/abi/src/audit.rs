//! The kernel's audit of its own bookkeeping, as `KernelAudit` reports it
//! ([`crate::Syscall::KernelAudit`]) and as the kernel prints it at the end
//! of every deployment.
//!
//! The report is [`WORDS`] words in the caller's message buffer, indexed
//! by the constants below. Word [`PROBLEMS`] holds one bit per broken
//! invariant ([`problem`]); 0 means the kernel's bookkeeping is sound.
//!
//! Frames: every frame the allocator manages is free, the kernel's own
//! (taken at boot, and the few it takes for itself later), or held by a
//! kernel object on a component's behalf — a domain (its page tables and
//! the pages it owns), a memory region (its frames), or a partition (its
//! nested tables, overlay pages and VP message buffers). The audit counts
//! the held ones by walking the objects, so
//! `TOTAL == FREE + KERNEL + DOMAINS + REGIONS + PARTITIONS` holds unless a
//! frame leaked (in use, held by nothing) or is counted twice
//! ([`problem::FRAMES`]).
//!
//! Object tables: for each kind of object the kernel keeps in a table,
//! how many slots the table has and how many hold a live object. A table
//! whose slots grow while its live objects do not is a leak of kernel
//! heap (indices that are never reused).

/// Words in the report.
pub const WORDS: usize = 19;

/// Bit mask of broken invariants ([`problem`]).
pub const PROBLEMS: usize = 0;
/// Frames the allocator manages.
pub const FRAMES_TOTAL: usize = 1;
/// Frames in the free pool.
pub const FRAMES_FREE: usize = 2;
/// Frames the kernel holds for itself.
pub const FRAMES_KERNEL: usize = 3;
/// Frames domains hold: page tables and owned pages.
pub const FRAMES_DOMAINS: usize = 4;
/// Frames memory regions hold.
pub const FRAMES_REGIONS: usize = 5;
/// Frames partitions hold: nested tables, overlay pages, VP message
/// buffers.
pub const FRAMES_PARTITIONS: usize = 6;
/// Bytes of kernel heap in use.
pub const HEAP_USED: usize = 7;
/// Slots of the domain table, and live domains (an ended domain stays
/// until nothing refers to it).
pub const DOMAIN_SLOTS: usize = 8;
pub const DOMAINS_LIVE: usize = 9;
/// Slots of the memory-region table, and live regions.
pub const REGION_SLOTS: usize = 10;
pub const REGIONS_LIVE: usize = 11;
/// Slots of the partition table, and live partitions.
pub const PARTITION_SLOTS: usize = 12;
pub const PARTITIONS_LIVE: usize = 13;
/// Slots of the VP table, and live VPs.
pub const VP_SLOTS: usize = 14;
pub const VPS_LIVE: usize = 15;
/// Slots of the thread table, and live threads.
pub const THREAD_SLOTS: usize = 16;
pub const THREADS_LIVE: usize = 17;
/// Frames the calling component's own domain holds (`KernelAudit` only):
/// so a test can tell its own growth from what it made and deleted.
pub const FRAMES_CALLER: usize = 18;

/// The bits of word [`PROBLEMS`].
pub mod problem {
    /// The capability table's invariants (`tessera_capability`'s audit).
    pub const CAPABILITIES: u64 = 1 << 0;
    /// The IPC machine's invariants (`tessera_ipc`'s audit).
    pub const IPC: u64 = 1 << 1;
    /// A nested page table maps what its partition's mappings and overlay
    /// pages do not say, misses what they say, or maps a free frame.
    pub const NESTED_TABLES: u64 = 1 << 2;
    /// The frames do not add up.
    pub const FRAMES: u64 = 1 << 3;
}
