//! Overlay pages by identity: which synthetic MSR placed the page, and for
//! which VP.
use tessera_npt::GuestRights;

/// Who an overlay page belongs to. One of each exists at most: placing an
/// identity that is already placed moves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OverlayId {
    /// The partition's hypercall page (`HV_X64_MSR_HYPERCALL`, partition
    /// wide: TLFS md `hypercall-interface.md` § Establishing the Hypercall
    /// Interface).
    HypercallPage,
    /// The partition's reference TSC page (`HV_X64_MSR_REFERENCE_TSC`,
    /// partition wide: TLFS md `timers.md`).
    ReferenceTscPage,
    /// The VP assist page of VP `n` (`HV_X64_MSR_VP_ASSIST_PAGE`: "a page
    /// per virtual processor", TLFS md `vp-properties.md`).
    VpAssistPage(u32),
    /// The SynIC message page of VP `n` (`HV_X64_MSR_SIMP`, TLFS md
    /// `inter-partition-communication.md` § SIM page).
    SynicMessagePage(u32),
    /// The SynIC event flags page of VP `n` (`HV_X64_MSR_SIEFP`, TLFS md
    /// `inter-partition-communication.md` § SIEF page).
    SynicEventFlagsPage(u32),
}

/// An overlay page in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overlay {
    pub id: OverlayId,
    /// Page-aligned GPA it lies at.
    pub gpa: u64,
    /// The host frame that holds it (the caller's: it frees the frame once
    /// the overlay is gone and the partition's TLBs are flushed).
    pub frame: u64,
    /// What the guest may do with it. A read-only overlay (the hypercall
    /// page) makes a guest write #GP: "Attempts to write to the hypercall
    /// page will result in a protection (#GP) exception" (TLFS md
    /// `hypercall-interface.md`).
    pub rights: GuestRights,
}
