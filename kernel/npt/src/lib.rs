//! Nested page tables (NPT) for AMD-V: the tables that map a partition's
//! guest-physical addresses (GPAs) to host-physical addresses (HPAs).
//!
//! AMD nested paging uses the long-mode page-table format (AMD64 APM vol. 2,
//! "Nested Paging" and "Long-Mode Page Translation"): a 4-level tree of
//! 4 KiB tables of 512 64-bit entries, PML4 → PDPT → PD → PT. The physical
//! address of the root (PML4) goes into the VMCB's `N_CR3` field.
//!
//! This crate builds and edits such trees without touching hardware: every
//! table access goes through [`TableMemory`], which the kernel implements
//! over its physical map and the tests implement with a map of boxed arrays.
//!
//! # Conventions
//!
//! - **The user bit is set in every entry, on every level.** Nested walks are
//!   user accesses; a supervisor-only nested entry makes every guest access
//!   fault (see `shared/svm-on-qemu.md`).
//! - Intermediate entries are present + writable + user and never NX; the
//!   rights are enforced at the leaf only.
//! - Leaves are 4 KiB (PT entry) or 2 MiB (PD entry with PS). 1 GiB pages
//!   are neither created nor understood (a PDPT entry with PS set is treated
//!   as an existing mapping that blocks everything beneath it).
//! - A present leaf is always readable: x86 paging cannot express a present
//!   page that is not readable, so [`GuestRights`] with `read == false` are
//!   refused with [`NptError::UnrepresentableRights`].
//! - Memory types are left at write-back (PWT = PCD = 0, no PAT bit): the
//!   guest's own PAT and MTRRs combine with it.
//! - [`NestedPageTable::unmap`] frees intermediate tables that become empty,
//!   so a present table pointer always leads to at least one mapping.
//!   [`NestedPageTable::destroy`] frees every table; mapped frames belong to
//!   the caller and are never freed here.
//! - [`NestedPageTable::map`] is all-or-nothing: it checks everything and
//!   allocates every missing table before writing anything, builds the new
//!   branch bottom-up, and makes it visible with a single store of the
//!   entry that links it into the existing tree. On failure (including out
//!   of memory) the tree is unchanged and nothing is leaked.
//!
//! # What the kernel must do around it
//!
//! - Serialize calls on one table (`&mut self` does that for safe callers).
//! - After [`NestedPageTable::unmap`] (or any change that removes or narrows
//!   rights), flush the partition's nested TLB entries on every CPU that may
//!   have run it — a new ASID or `TLB_CONTROL` in the VMCB — **before** the
//!   unmapped frame or the freed table frames are reused. Adding a mapping
//!   needs no flush (a not-present entry is not cached).
//! - Only call [`NestedPageTable::destroy`] once no CPU can run the partition
//!   any more and its TLB entries are flushed.

#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

mod in_place;
mod shared_walk;

pub use shared_walk::translate_shared;

/// Physical memory holding the page tables, as the kernel sees it.
///
/// Frame addresses are host-physical, 4 KiB aligned, and below the
/// host-physical limit of the table ([`NptConfig::max_hpa_bits`]).
pub trait TableMemory {
    /// A fresh zeroed 4 KiB table frame (physical address), or None when out of memory.
    fn allocate_table(&mut self) -> Option<u64>;
    /// Gives back a frame obtained from [`TableMemory::allocate_table`].
    fn free_table(&mut self, frame: u64);
    /// Read the 512 entries of the table at physical `frame`.
    fn entries(&self, frame: u64) -> &[u64; 512];
    /// Write the 512 entries of the table at physical `frame`.
    fn entries_mut(&mut self, frame: u64) -> &mut [u64; 512];
}

/// Entry bits of the long-mode page-table format, which nested paging uses
/// on every level (AMD64 APM vol. 2, "Long-Mode Page Translation",
/// page-table entry formats; "Nested Paging").
pub mod bits {
    /// P (bit 0): the entry is present. A clear bit makes the walk stop with
    /// a nested page fault (#NPF).
    pub const PRESENT: u64 = 1 << 0;
    /// R/W (bit 1): writes allowed. Must be set on every level for a write
    /// to succeed; this crate sets it on every intermediate entry.
    pub const WRITABLE: u64 = 1 << 1;
    /// U/S (bit 2): user accesses allowed. Nested walks are user accesses,
    /// so every nested entry on every level carries it.
    pub const USER: u64 = 1 << 2;
    /// PWT (bit 3): page-level write-through (memory type). Left clear.
    pub const WRITE_THROUGH: u64 = 1 << 3;
    /// PCD (bit 4): page-level cache disable (memory type). Left clear.
    pub const CACHE_DISABLE: u64 = 1 << 4;
    /// A (bit 5): accessed; set by the processor.
    pub const ACCESSED: u64 = 1 << 5;
    /// D (bit 6): dirty; set by the processor on a write, leaves only.
    pub const DIRTY: u64 = 1 << 6;
    /// PS (bit 7): page size. In a PD entry: the entry maps a 2 MiB page
    /// instead of pointing to a page table. (In a PDPT entry: a 1 GiB page,
    /// which this crate does not create.)
    pub const PAGE_SIZE: u64 = 1 << 7;
    /// G (bit 8): global. Meaningless for nested translations; left clear.
    pub const GLOBAL: u64 = 1 << 8;
    /// NX (bit 63): no execute. Honoured when EFER.NXE is set in the host
    /// (the kernel must set it); otherwise it is a reserved bit.
    pub const NO_EXECUTE: u64 = 1 << 63;
    /// Physical address bits 51:12 of the next table or of a 4 KiB page.
    pub const ADDRESS_MASK: u64 = 0x000F_FFFF_FFFF_F000;
    /// Physical address bits 51:21 of a 2 MiB page (PS set). Bit 12 of a
    /// 2 MiB entry is the PAT bit, not an address bit.
    pub const ADDRESS_MASK_2M: u64 = 0x000F_FFFF_FFE0_0000;
    /// Flags of every intermediate (table-pointer) entry this crate writes.
    pub const TABLE_FLAGS: u64 = PRESENT | WRITABLE | USER;
}

use bits::{
    ADDRESS_MASK, ADDRESS_MASK_2M, NO_EXECUTE, PAGE_SIZE, PRESENT, TABLE_FLAGS, USER, WRITABLE,
};

/// Number of entries in one table.
pub const ENTRIES_PER_TABLE: usize = 512;

/// The size of one mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PageSize {
    /// A 4 KiB page: a PT entry.
    Size4K,
    /// A 2 MiB page: a PD entry with PS set.
    Size2M,
}

impl PageSize {
    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        match self {
            PageSize::Size4K => 1 << 12,
            PageSize::Size2M => 1 << 21,
        }
    }

    /// The level whose entries are leaves of this size.
    pub const fn leaf_level(self) -> Level {
        match self {
            PageSize::Size4K => Level::Pt,
            PageSize::Size2M => Level::Pd,
        }
    }
}

impl fmt::Display for PageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PageSize::Size4K => "4 KiB",
            PageSize::Size2M => "2 MiB",
        })
    }
}

/// One level of the 4-level tree, from the root down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Page-map level 4: the root; GPA bits 47:39.
    Pml4,
    /// Page-directory pointer table; GPA bits 38:30.
    Pdpt,
    /// Page directory; GPA bits 29:21. Its entries may map 2 MiB pages.
    Pd,
    /// Page table; GPA bits 20:12. Its entries map 4 KiB pages.
    Pt,
}

impl Level {
    /// All levels, root first.
    pub const ALL: [Level; 4] = [Level::Pml4, Level::Pdpt, Level::Pd, Level::Pt];

    /// Depth below the root (PML4 = 0, PT = 3).
    pub const fn depth(self) -> usize {
        self as usize
    }

    /// Lowest GPA bit that indexes this level.
    pub const fn shift(self) -> u32 {
        39 - 9 * self as u32
    }

    /// Index of `gpa`'s entry in a table of this level.
    pub const fn index(self, gpa: u64) -> usize {
        ((gpa >> self.shift()) & 0x1ff) as usize
    }

    /// Bytes of guest-physical space one entry of this level covers.
    pub const fn entry_span(self) -> u64 {
        1 << self.shift()
    }

    const fn from_depth(depth: usize) -> Level {
        Level::ALL[depth]
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Pml4 => "PML4",
            Level::Pdpt => "PDPT",
            Level::Pd => "PD",
            Level::Pt => "PT",
        })
    }
}

/// What the guest may do with a mapping.
///
/// `read` must be true for any mapping: present entries are always readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GuestRights {
    /// Reads allowed (must be true to map).
    pub read: bool,
    /// Writes allowed (R/W at the leaf).
    pub write: bool,
    /// Instruction fetches allowed (NX clear at the leaf).
    pub execute: bool,
}

impl GuestRights {
    /// Read only.
    pub const READ: Self = Self {
        read: true,
        write: false,
        execute: false,
    };
    /// Read and write (RAM that holds no code, device buffers).
    pub const READ_WRITE: Self = Self {
        read: true,
        write: true,
        execute: false,
    };
    /// Read and execute (code, ROM).
    pub const READ_EXECUTE: Self = Self {
        read: true,
        write: false,
        execute: true,
    };
    /// Everything (ordinary guest RAM).
    pub const ALL: Self = Self {
        read: true,
        write: true,
        execute: true,
    };

    fn leaf_flags(self) -> u64 {
        let mut flags = PRESENT | USER;
        if self.write {
            flags |= WRITABLE;
        }
        if !self.execute {
            flags |= NO_EXECUTE;
        }
        flags
    }

    fn from_leaf(entry: u64) -> Self {
        Self {
            read: true,
            write: entry & WRITABLE != 0,
            execute: entry & NO_EXECUTE == 0,
        }
    }
}

/// Address-width limits of one nested page table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NptConfig {
    /// GPAs must be below `1 << max_gpa_bits`. At most 48: a 4-level table
    /// translates GPA bits 47:0. At least 21 (one 2 MiB page).
    pub max_gpa_bits: u8,
    /// HPAs (mapped frames and table frames) must be below
    /// `1 << max_hpa_bits`. At most 52 (the architectural limit); the
    /// kernel should pass the host's MAXPHYADDR (CPUID 8000_0008h, EAX bits 7:0).
    pub max_hpa_bits: u8,
}

impl NptConfig {
    /// The widest GPA space a 4-level table covers.
    pub const MAX_GPA_BITS: u8 = 48;
    /// The architectural physical-address limit of the entry format.
    pub const MAX_HPA_BITS: u8 = 52;
}

impl Default for NptConfig {
    fn default() -> Self {
        Self {
            max_gpa_bits: Self::MAX_GPA_BITS,
            max_hpa_bits: Self::MAX_HPA_BITS,
        }
    }
}

/// Why an operation on a nested page table failed. The table is unchanged
/// whenever one of these is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NptError {
    /// [`TableMemory::allocate_table`] returned `None`.
    OutOfMemory,
    /// The configuration's limits are out of range.
    InvalidConfig {
        /// The requested GPA width.
        max_gpa_bits: u8,
        /// The requested HPA width.
        max_hpa_bits: u8,
    },
    /// The GPA is not aligned to the page size.
    MisalignedGpa {
        /// The offending GPA.
        gpa: u64,
        /// The requested size.
        size: PageSize,
    },
    /// The HPA is not aligned to the page size.
    MisalignedHpa {
        /// The offending HPA.
        hpa: u64,
        /// The requested size.
        size: PageSize,
    },
    /// The page would extend past the table's GPA limit.
    GpaOutOfRange {
        /// The offending GPA.
        gpa: u64,
        /// The table's GPA width.
        max_gpa_bits: u8,
    },
    /// The page would extend past the table's HPA limit.
    HpaOutOfRange {
        /// The offending HPA.
        hpa: u64,
        /// The table's HPA width.
        max_hpa_bits: u8,
    },
    /// The rights have `read == false`, which a present entry cannot express.
    UnrepresentableRights(GuestRights),
    /// The new mapping overlaps an existing one.
    Overlap {
        /// The GPA of the refused mapping.
        gpa: u64,
        /// The start of one existing mapping in the way.
        existing_gpa: u64,
        /// Its size (a 1 GiB leaf found in a foreign table reads as 2 MiB
        /// at its first 2 MiB).
        existing_size: PageSize,
    },
    /// Nothing is mapped at the GPA (unmap).
    NotMapped {
        /// The GPA.
        gpa: u64,
    },
    /// The GPA is mapped, but not as one page of the requested size starting
    /// there (unmap of a 4 KiB page inside a 2 MiB mapping, or of a 2 MiB
    /// range made of 4 KiB pages).
    SizeMismatch {
        /// The GPA given.
        gpa: u64,
        /// The size requested.
        requested: PageSize,
        /// The size actually mapped there.
        mapped: PageSize,
    },
}

impl fmt::Display for NptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NptError::OutOfMemory => f.write_str("out of memory for nested page tables"),
            NptError::InvalidConfig {
                max_gpa_bits,
                max_hpa_bits,
            } => write!(
                f,
                "invalid nested page table limits: {max_gpa_bits} GPA bits (21..=48), \
                 {max_hpa_bits} HPA bits (21..=52)"
            ),
            NptError::MisalignedGpa { gpa, size } => {
                write!(f, "GPA {gpa:#x} is not aligned to {size}")
            }
            NptError::MisalignedHpa { hpa, size } => {
                write!(f, "HPA {hpa:#x} is not aligned to {size}")
            }
            NptError::GpaOutOfRange { gpa, max_gpa_bits } => {
                write!(
                    f,
                    "GPA {gpa:#x} is beyond the {max_gpa_bits}-bit guest-physical limit"
                )
            }
            NptError::HpaOutOfRange { hpa, max_hpa_bits } => {
                write!(
                    f,
                    "HPA {hpa:#x} is beyond the {max_hpa_bits}-bit host-physical limit"
                )
            }
            NptError::UnrepresentableRights(r) => write!(
                f,
                "rights read={} write={} execute={} cannot be expressed (a mapping is always readable)",
                r.read, r.write, r.execute
            ),
            NptError::Overlap {
                gpa,
                existing_gpa,
                existing_size,
            } => write!(
                f,
                "mapping at GPA {gpa:#x} overlaps the existing {existing_size} mapping at GPA {existing_gpa:#x}"
            ),
            NptError::NotMapped { gpa } => write!(f, "nothing is mapped at GPA {gpa:#x}"),
            NptError::SizeMismatch {
                gpa,
                requested,
                mapped,
            } => write!(
                f,
                "GPA {gpa:#x} is not mapped as one {requested} page (found {mapped})"
            ),
        }
    }
}

impl core::error::Error for NptError {}

/// A successful translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    /// The host-physical address of the GPA (page base plus offset).
    pub hpa: u64,
    /// The rights of the page.
    pub rights: GuestRights,
    /// The size of the page.
    pub size: PageSize,
}

/// How a walk of the tables for one GPA ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkOutcome {
    /// The GPA is beyond the table's GPA limit; nothing was read.
    BeyondLimit,
    /// The entry at `level` is not present: the walk (and the hardware's)
    /// stops there.
    Missing {
        /// The level whose entry is not present.
        level: Level,
    },
    /// A 1 GiB leaf (PS in a PDPT entry), which this crate never writes.
    UnsupportedLeaf {
        /// The level of the leaf.
        level: Level,
    },
    /// The GPA is mapped.
    Mapped(Translation),
}

/// The entries read while walking the tables for one GPA: a diagnostic for
/// nested page faults (combine it with the #NPF error code in EXITINFO1
/// and the faulting GPA in EXITINFO2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    /// The GPA walked.
    pub gpa: u64,
    /// The entry read at each level, root first; `None` below where the
    /// walk stopped.
    pub entries: [Option<u64>; 4],
    /// Where the walk ended.
    pub outcome: WalkOutcome,
}

/// A kind of guest access, to ask a [`Walk`] why it would fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A data read.
    Read,
    /// A data write.
    Write,
    /// An instruction fetch.
    Execute,
}

/// Why an access to a walked GPA would cause a nested page fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultReason {
    /// Nothing maps the GPA (the entry at `level` is not present).
    NotPresent {
        /// The level whose entry is missing.
        level: Level,
    },
    /// The GPA is beyond the table's limit.
    BeyondLimit,
    /// A write to a read-only page.
    WriteToReadOnly,
    /// An instruction fetch from a no-execute page.
    ExecuteNoExecute,
    /// An entry on the path lacks the user bit (never written by this crate).
    SupervisorOnly {
        /// The first level whose entry lacks U/S.
        level: Level,
    },
    /// A leaf this crate does not understand (1 GiB page).
    UnsupportedLeaf {
        /// Its level.
        level: Level,
    },
}

impl fmt::Display for FaultReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultReason::NotPresent { level } => write!(f, "{level} entry not present"),
            FaultReason::BeyondLimit => f.write_str("GPA beyond the guest-physical limit"),
            FaultReason::WriteToReadOnly => f.write_str("write to a read-only page"),
            FaultReason::ExecuteNoExecute => {
                f.write_str("instruction fetch from a no-execute page")
            }
            FaultReason::SupervisorOnly { level } => {
                write!(f, "{level} entry lacks the user bit")
            }
            FaultReason::UnsupportedLeaf { level } => write!(f, "unsupported leaf at {level}"),
        }
    }
}

impl Walk {
    /// Why `access` to this GPA would fault, or `None` if the tables allow it
    /// (then the fault came from elsewhere: a stale nested TLB entry, a
    /// reserved bit, or the guest's own page-table walk).
    pub fn fault_reason(&self, access: Access) -> Option<FaultReason> {
        match self.outcome {
            WalkOutcome::BeyondLimit => Some(FaultReason::BeyondLimit),
            WalkOutcome::Missing { level } => Some(FaultReason::NotPresent { level }),
            WalkOutcome::UnsupportedLeaf { level } => Some(FaultReason::UnsupportedLeaf { level }),
            WalkOutcome::Mapped(t) => {
                if let Some(level) = Level::ALL
                    .iter()
                    .zip(self.entries)
                    .find(|(_, e)| matches!(e, Some(e) if e & USER == 0))
                    .map(|(l, _)| *l)
                {
                    return Some(FaultReason::SupervisorOnly { level });
                }
                match access {
                    Access::Write if !self.all_writable() || !t.rights.write => {
                        Some(FaultReason::WriteToReadOnly)
                    }
                    Access::Execute if !t.rights.execute || self.any_nx() => {
                        Some(FaultReason::ExecuteNoExecute)
                    }
                    _ => None,
                }
            }
        }
    }

    fn all_writable(&self) -> bool {
        self.entries.iter().flatten().all(|e| e & WRITABLE != 0)
    }

    fn any_nx(&self) -> bool {
        self.entries.iter().flatten().any(|e| e & NO_EXECUTE != 0)
    }
}

impl fmt::Display for Walk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GPA {:#x}:", self.gpa)?;
        for (level, entry) in Level::ALL.iter().zip(self.entries) {
            if let Some(e) = entry {
                write!(f, " {level}[{}]={e:#018x}", level.index(self.gpa))?;
            }
        }
        match self.outcome {
            WalkOutcome::BeyondLimit => f.write_str(" beyond limit"),
            WalkOutcome::Missing { level } => write!(f, " -> {level} entry not present"),
            WalkOutcome::UnsupportedLeaf { level } => write!(f, " -> unsupported {level} leaf"),
            WalkOutcome::Mapped(t) => write!(
                f,
                " -> HPA {:#x} ({}, {}{}{})",
                t.hpa,
                t.size,
                if t.rights.read { "r" } else { "-" },
                if t.rights.write { "w" } else { "-" },
                if t.rights.execute { "x" } else { "-" },
            ),
        }
    }
}

/// One partition's nested page table: owns its table frames (not the mapped
/// frames). Dropping it without [`NestedPageTable::destroy`] leaks the
/// tables.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "dropping a NestedPageTable leaks its tables; call destroy"]
pub struct NestedPageTable {
    root: u64,
    config: NptConfig,
}

fn is_leaf(entry: u64, level: Level) -> bool {
    level == Level::Pt || entry & PAGE_SIZE != 0
}

fn leaf_size(level: Level) -> PageSize {
    match level {
        Level::Pt => PageSize::Size4K,
        _ => PageSize::Size2M,
    }
}

fn leaf_base(entry: u64, level: Level) -> u64 {
    if level == Level::Pt {
        entry & ADDRESS_MASK
    } else {
        entry & ADDRESS_MASK_2M
    }
}

impl NestedPageTable {
    /// A table with no mappings, with the default limits (48-bit GPAs,
    /// 52-bit HPAs). Allocates the root.
    pub fn new(mem: &mut impl TableMemory) -> Result<Self, NptError> {
        Self::with_config(mem, NptConfig::default())
    }

    /// A table with no mappings and the given limits. Allocates the root.
    pub fn with_config(mem: &mut impl TableMemory, config: NptConfig) -> Result<Self, NptError> {
        if !(21..=NptConfig::MAX_GPA_BITS).contains(&config.max_gpa_bits)
            || !(21..=NptConfig::MAX_HPA_BITS).contains(&config.max_hpa_bits)
        {
            return Err(NptError::InvalidConfig {
                max_gpa_bits: config.max_gpa_bits,
                max_hpa_bits: config.max_hpa_bits,
            });
        }
        let table = Self { root: 0, config };
        let root = table.allocate(mem)?;
        Ok(Self { root, config })
    }

    /// The physical address of the root (PML4) table, for the VMCB's
    /// `N_CR3`.
    pub fn root(&self) -> u64 {
        self.root
    }

    /// The limits this table enforces.
    pub fn config(&self) -> NptConfig {
        self.config
    }

    fn gpa_limit(&self) -> u64 {
        1 << self.config.max_gpa_bits
    }

    fn hpa_limit(&self) -> u64 {
        1 << self.config.max_hpa_bits
    }

    fn allocate(&self, mem: &mut impl TableMemory) -> Result<u64, NptError> {
        let frame = mem.allocate_table().ok_or(NptError::OutOfMemory)?;
        assert!(
            frame & !ADDRESS_MASK == 0 && frame < self.hpa_limit(),
            "TableMemory returned an unusable table frame {frame:#x}"
        );
        // The contract says zeroed; make sure, as a stale entry would map
        // arbitrary memory into the guest.
        *mem.entries_mut(frame) = [0; ENTRIES_PER_TABLE];
        Ok(frame)
    }

    fn check_range(&self, gpa: u64, size: PageSize) -> Result<(), NptError> {
        if gpa & (size.bytes() - 1) != 0 {
            return Err(NptError::MisalignedGpa { gpa, size });
        }
        if gpa >= self.gpa_limit() || self.gpa_limit() - gpa < size.bytes() {
            return Err(NptError::GpaOutOfRange {
                gpa,
                max_gpa_bits: self.config.max_gpa_bits,
            });
        }
        Ok(())
    }

    /// Whether a `size` page at `hpa` with `rights` can be a leaf.
    fn check_frame(&self, hpa: u64, size: PageSize, rights: GuestRights) -> Result<(), NptError> {
        if hpa & (size.bytes() - 1) != 0 {
            return Err(NptError::MisalignedHpa { hpa, size });
        }
        if hpa >= self.hpa_limit() || self.hpa_limit() - hpa < size.bytes() {
            return Err(NptError::HpaOutOfRange {
                hpa,
                max_hpa_bits: self.config.max_hpa_bits,
            });
        }
        if !rights.read {
            return Err(NptError::UnrepresentableRights(rights));
        }
        Ok(())
    }

    /// Maps the `size` page at `gpa` to the frame at `hpa` with `rights`.
    ///
    /// Refuses misaligned or out-of-range addresses, rights without `read`,
    /// and any overlap with an existing mapping (a 2 MiB page over a range
    /// holding 4 KiB pages, a 4 KiB page inside a 2 MiB page, or the same
    /// page twice). On any error the table is unchanged and no table frame
    /// is leaked.
    pub fn map(
        &mut self,
        mem: &mut impl TableMemory,
        gpa: u64,
        hpa: u64,
        size: PageSize,
        rights: GuestRights,
    ) -> Result<(), NptError> {
        self.check_range(gpa, size)?;
        self.check_frame(hpa, size, rights)?;

        // Phase 1: read-only walk to the deepest existing table on the path,
        // refusing overlaps.
        let target = size.leaf_level().depth();
        let mut table = self.root;
        let mut depth = 0;
        while depth < target {
            let level = Level::from_depth(depth);
            let entry = mem.entries(table)[level.index(gpa)];
            if entry & PRESENT == 0 {
                break;
            }
            if is_leaf(entry, level) {
                let span = level.entry_span();
                return Err(NptError::Overlap {
                    gpa,
                    existing_gpa: gpa & !(span - 1),
                    existing_size: PageSize::Size2M,
                });
            }
            table = entry & ADDRESS_MASK;
            depth += 1;
        }
        if depth == target {
            let level = Level::from_depth(depth);
            let entry = mem.entries(table)[level.index(gpa)];
            if entry & PRESENT != 0 {
                let (existing_gpa, existing_size) = if is_leaf(entry, level) {
                    (gpa, leaf_size(level))
                } else {
                    // A PD entry pointing to a page table: name the first
                    // 4 KiB page in it.
                    let pt = mem.entries(entry & ADDRESS_MASK);
                    let first = pt.iter().position(|e| e & PRESENT != 0).unwrap_or(0);
                    (
                        gpa + ((first as u64) << Level::Pt.shift()),
                        PageSize::Size4K,
                    )
                };
                return Err(NptError::Overlap {
                    gpa,
                    existing_gpa,
                    existing_size,
                });
            }
        }

        // Phase 2: allocate every missing table, all or nothing.
        let needed = target - depth;
        let mut fresh = [0u64; 3];
        for i in 0..needed {
            match self.allocate(mem) {
                Ok(frame) => fresh[i] = frame,
                Err(e) => {
                    for &frame in &fresh[..i] {
                        mem.free_table(frame);
                    }
                    return Err(e);
                }
            }
        }

        // Phase 3: build the new branch bottom-up, then link it with one
        // store into the existing tree. `fresh[i]` is the table at depth
        // `depth + 1 + i`.
        let leaf = hpa
            | rights.leaf_flags()
            | if size == PageSize::Size2M {
                PAGE_SIZE
            } else {
                0
            };
        let leaf_level = Level::from_depth(target);
        if needed == 0 {
            mem.entries_mut(table)[leaf_level.index(gpa)] = leaf;
        } else {
            mem.entries_mut(fresh[needed - 1])[leaf_level.index(gpa)] = leaf;
            for i in (0..needed - 1).rev() {
                let level = Level::from_depth(depth + 1 + i);
                mem.entries_mut(fresh[i])[level.index(gpa)] = fresh[i + 1] | TABLE_FLAGS;
            }
            let level = Level::from_depth(depth);
            mem.entries_mut(table)[level.index(gpa)] = fresh[0] | TABLE_FLAGS;
        }
        Ok(())
    }

    /// Removes the `size` page mapped at `gpa` and returns its HPA.
    ///
    /// The page must have been mapped with exactly this GPA and size. Page
    /// tables, page directories and PDPTs that become empty are freed (the
    /// root never is). The caller must flush the partition's nested TLB
    /// before reusing the returned frame or the freed tables.
    pub fn unmap(
        &mut self,
        mem: &mut impl TableMemory,
        gpa: u64,
        size: PageSize,
    ) -> Result<u64, NptError> {
        self.check_range(gpa, size)?;
        let target = size.leaf_level().depth();
        let mut path = [0u64; 4];
        path[0] = self.root;
        for depth in 0..target {
            let level = Level::from_depth(depth);
            let entry = mem.entries(path[depth])[level.index(gpa)];
            if entry & PRESENT == 0 {
                return Err(NptError::NotMapped { gpa });
            }
            if is_leaf(entry, level) {
                return Err(NptError::SizeMismatch {
                    gpa,
                    requested: size,
                    mapped: PageSize::Size2M,
                });
            }
            path[depth + 1] = entry & ADDRESS_MASK;
        }
        let level = Level::from_depth(target);
        let entry = mem.entries(path[target])[level.index(gpa)];
        if entry & PRESENT == 0 {
            return Err(NptError::NotMapped { gpa });
        }
        if !is_leaf(entry, level) {
            return Err(NptError::SizeMismatch {
                gpa,
                requested: size,
                mapped: PageSize::Size4K,
            });
        }
        let hpa = leaf_base(entry, level);
        mem.entries_mut(path[target])[level.index(gpa)] = 0;

        // Free the tables that became empty, bottom-up: unlink, then free.
        for depth in (1..=target).rev() {
            if mem.entries(path[depth]).iter().any(|&e| e != 0) {
                break;
            }
            let parent = Level::from_depth(depth - 1);
            mem.entries_mut(path[depth - 1])[parent.index(gpa)] = 0;
            mem.free_table(path[depth]);
        }
        Ok(hpa)
    }

    /// The HPA (page base plus the offset of `gpa` in the page), rights and
    /// page size `gpa` maps to, or `None` if it is not mapped.
    pub fn translate(&self, mem: &impl TableMemory, gpa: u64) -> Option<Translation> {
        match self.walk(mem, gpa).outcome {
            WalkOutcome::Mapped(t) => Some(t),
            _ => None,
        }
    }

    /// Walks the tables for `gpa` and records every entry read: explains a
    /// nested page fault (see [`Walk::fault_reason`]).
    pub fn walk(&self, mem: &impl TableMemory, gpa: u64) -> Walk {
        let mut walk = Walk {
            gpa,
            entries: [None; 4],
            outcome: WalkOutcome::BeyondLimit,
        };
        if gpa >= self.gpa_limit() {
            return walk;
        }
        let mut table = self.root;
        for level in Level::ALL {
            let entry = mem.entries(table)[level.index(gpa)];
            walk.entries[level.depth()] = Some(entry);
            if entry & PRESENT == 0 {
                walk.outcome = WalkOutcome::Missing { level };
                return walk;
            }
            if is_leaf(entry, level) {
                walk.outcome = if level == Level::Pdpt {
                    WalkOutcome::UnsupportedLeaf { level }
                } else {
                    let size = leaf_size(level);
                    WalkOutcome::Mapped(Translation {
                        hpa: leaf_base(entry, level) | (gpa & (size.bytes() - 1)),
                        rights: GuestRights::from_leaf(entry),
                        size,
                    })
                };
                return walk;
            }
            table = entry & ADDRESS_MASK;
        }
        unreachable!("a PT entry is always a leaf")
    }

    /// Frees every table of this nested page table, root included. The
    /// mapped frames are the caller's and are not touched. Only call once no
    /// CPU can use the table any more.
    pub fn destroy(self, mem: &mut impl TableMemory) {
        free_subtree(mem, self.root, 0);
    }

    /// Calls `each` for every table frame (root first, then depth first)
    /// and every leaf, in GPA order: what an audit needs to count the
    /// tables and compare the mappings with what should be mapped.
    pub fn visit(&self, mem: &impl TableMemory, each: &mut impl FnMut(Visited)) {
        visit_subtree(mem, self.root, 0, 0, each);
    }
}

/// What [`NestedPageTable::visit`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visited {
    /// A table frame (of any level, the root included).
    Table(u64),
    /// A leaf: `gpa` (page aligned) maps to `translation.hpa` (the page's
    /// base).
    Leaf { gpa: u64, translation: Translation },
}

fn visit_subtree(
    mem: &impl TableMemory,
    table: u64,
    depth: usize,
    base: u64,
    each: &mut impl FnMut(Visited),
) {
    each(Visited::Table(table));
    let level = Level::from_depth(depth);
    for (index, &entry) in mem.entries(table).iter().enumerate() {
        if entry & PRESENT == 0 {
            continue;
        }
        let gpa = base | (index as u64) << level.shift();
        if !is_leaf(entry, level) {
            visit_subtree(mem, entry & ADDRESS_MASK, depth + 1, gpa, each);
        } else if level != Level::Pdpt {
            each(Visited::Leaf {
                gpa,
                translation: Translation {
                    hpa: leaf_base(entry, level),
                    rights: GuestRights::from_leaf(entry),
                    size: leaf_size(level),
                },
            });
        }
    }
}

fn free_subtree(mem: &mut impl TableMemory, table: u64, depth: usize) {
    let level = Level::from_depth(depth);
    if level != Level::Pt {
        for i in 0..ENTRIES_PER_TABLE {
            let entry = mem.entries(table)[i];
            if entry & PRESENT != 0 && !is_leaf(entry, level) {
                free_subtree(mem, entry & ADDRESS_MASK, depth + 1);
            }
        }
    }
    mem.free_table(table);
}
