//! `HvSignalEvent` without the kernel lock (issue 14: "HvSignalEvent on a
//! connection a component registered is a kernel fast path"; TLFS md
//! `hypercalls/HvCallSignalEvent.md`): a plain fast call on a connection
//! whose published route names event flags of the calling VP sets the
//! flag in the VP's SIEF frame and, on a 0 → 1 change, asserts the SINT's
//! vector at the VP's own APIC, injected before the guest runs again.
//!
//! The decision is the SynIC crate's (`tessera_synic::fast_signal`, held
//! to the locked path's by its tests). Everything else takes the locked
//! path, which decides again from the same state: a route to another
//! partition or another VP (a partition's state is this CPU's to read only
//! for its own running VP), AutoEOI, a refusal of any kind (its status is
//! the locked path's), a route not published. The route's partition is
//! checked against this partition's slot index and generation, so a route
//! that outlived a partition never signals the one that took its slot.
use super::VpVmcb;
use super::fast::FastPartition;
use super::skip::{Unlocked, next_rip_past};
use super::synic_frames::SynicFrames;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tessera_synic::PartitionRef;
use tessera_synic::published::EventRouteTable;
use tessera_synic::state::ROUTE_SLOTS;
use tessera_vcpu::GuestGprs;
use tessera_vcpu::instruction::Skipped;

/// A partition's event routes, shared with its `Synic`.
pub type Routes = Arc<EventRouteTable<ROUTE_SLOTS>>;

/// No SynIC: [`FastSynic::identity`].
const NO_SYNIC: u64 = u64::MAX;

/// What the lock-free `HvSignalEvent` reads of its partition.
#[derive(Debug)]
pub struct FastSynic {
    /// The routes of the partition's connections (made with its first
    /// SynIC and kept: a SynIC made again empties them).
    routes: spin::Once<Routes>,
    /// The partition's slot index (low half) and generation (high half)
    /// while it has a SynIC, as its connections and port serials name it;
    /// [`NO_SYNIC`] otherwise.
    identity: AtomicU64,
    /// Whether the partition's policy lets [`decode`] accept a plain fast
    /// `HvSignalEvent` (`tessera_hv1::dispatch::plain_signal_event_accepted`).
    ///
    /// [`decode`]: tessera_hv1::hypercall::decode
    accepted: AtomicBool,
}

impl Default for FastSynic {
    fn default() -> Self {
        Self {
            routes: spin::Once::new(),
            identity: AtomicU64::new(NO_SYNIC),
            accepted: AtomicBool::new(false),
        }
    }
}

impl FastSynic {
    /// The partition got a SynIC, as slot `index` of generation
    /// `generation`: the route table its `Synic` publishes into.
    pub fn attach(&self, index: u32, generation: u32) -> Routes {
        let routes = self
            .routes
            .call_once(|| Arc::new(EventRouteTable::new()))
            .clone();
        routes.clear();
        self.identity.store(
            u64::from(index) | u64::from(generation) << 32,
            Ordering::Release,
        );
        routes
    }

    /// The partition's SynIC went: no more lock-free signals.
    pub fn detach(&self) {
        self.identity.store(NO_SYNIC, Ordering::Release);
        if let Some(routes) = self.routes.get() {
            routes.clear();
        }
    }

    /// Records the partition's hypercall policy (once, before any VP runs).
    pub fn set_policy(&self, policy: &tessera_hv1::DispatchPolicy) {
        let accepted = tessera_hv1::dispatch::plain_signal_event_accepted(policy);
        self.accepted.store(accepted, Ordering::Release);
    }

    /// Whether a plain fast `HvSignalEvent` may be answered here, given
    /// whether hypercalls are enabled.
    pub fn answers(&self, hypercalls_enabled: bool) -> bool {
        hypercalls_enabled
            && self.accepted.load(Ordering::Acquire)
            && self.identity.load(Ordering::Acquire) != NO_SYNIC
    }
}

/// Completes the plain fast `HvSignalEvent` in `vmcb`/`gprs` (the caller
/// checked the input value, that the partition answers it and that no
/// route takes it) if the module comment's conditions hold; `false`
/// leaves it, untouched, to the locked path. Out of line: the hot exits
/// keep their registers.
#[inline(never)]
pub fn answer_signal(
    vmcb: &mut VpVmcb,
    gprs: &mut GuestGprs,
    partition: &FastPartition,
    vp_index: u32,
    unlocked: &mut Unlocked<'_>,
) -> bool {
    let Some(input) = tessera_synic::hypercall::fast_signal_input(gprs.rdx) else {
        return false;
    };
    let (Some(published), Some(routes)) = (unlocked.synic, partition.synic.routes.get()) else {
        return false;
    };
    let identity = partition.synic.identity.load(Ordering::Acquire);
    if identity == NO_SYNIC || unlocked.apic.is_none() {
        return false;
    }
    let own = PartitionRef(identity as u32);
    let serial_base = identity & !0xFFFF_FFFF;
    let Some((route, flag)) = tessera_synic::fast_signal::own_route(
        routes,
        own,
        serial_base,
        vp_index,
        input.connection,
        input.flag,
    ) else {
        return false;
    };
    let event_page = published.event_page();
    if event_page == 0 {
        return false;
    }
    let Some(next_rip) = next_rip_past(Skipped::Vmmcall, vmcb, unlocked) else {
        return false;
    };
    // The VP's own SIEF frame, held for the VP's life (`synic_add_vp`):
    // this VP runs here, so it is not being reaped.
    let mut pages = SynicFrames {
        message: 0,
        event_flags: event_page,
    };
    let Some(set) = published.set_flag(&mut pages, route.sint, flag) else {
        return false;
    };
    // HV_STATUS_SUCCESS.
    *vmcb.rax_mut() = 0;
    super::lapic_fast::completed(vmcb, next_rip);
    if let Some(interrupt) = set.interrupt {
        super::lapic_fast::raise_own(vmcb, unlocked, interrupt.vector);
    }
    true
}
