//! The SIM and SIEF pages as overlay pages: which page of which VP, and
//! where the guest wants it.
//!
//! TLFS md `inter-partition-communication.md` § SIM Page and § SIEF Page;
//! TLFS 6.0b §5.2.1 (GPA Overlay Pages). Each VP has one page of each kind,
//! cleared "upon virtual processor creation and reset"; SIMP and SIEFP say
//! where the guest sees it. The kernel keeps the pages (one frame each, for
//! the VP's life) and lays them over the GPA the register names, as its
//! `tessera-gpa-space` crate does for every overlay, by identity. The
//! variant names here are that crate's `OverlayId` names, so the kernel maps
//! one to the other with a `match` and nothing else.

/// One SynIC overlay page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OverlayId {
    /// The SynIC message page of VP `n` (`HV_X64_MSR_SIMP`).
    SynicMessagePage(u32),
    /// The SynIC event flags page of VP `n` (`HV_X64_MSR_SIEFP`).
    SynicEventFlagsPage(u32),
}

/// What the kernel does with an overlay page after a SIMP or SIEFP write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OverlayRequest {
    /// Lay the page over `gpa` (page-aligned), readable and writable as RAM
    /// ("Read and write accesses by a virtual processor to the SIM page
    /// behave like read and write accesses to RAM"); if it lies elsewhere,
    /// it moves.
    Place {
        /// The page.
        id: OverlayId,
        /// Where.
        gpa: u64,
    },
    /// Take the page out of the guest's view: the RAM under it shows again.
    /// The page itself, and what the SynIC wrote into it, stay.
    Remove {
        /// The page.
        id: OverlayId,
    },
}

impl OverlayRequest {
    /// The page the request is about.
    #[must_use]
    pub const fn id(&self) -> OverlayId {
        match *self {
            Self::Place { id, .. } | Self::Remove { id } => id,
        }
    }
}
