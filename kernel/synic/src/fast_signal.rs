//! `HvSignalEvent` without the kernel lock: what a VP's SynIC publishes
//! for it, and the fast path's decision, which is [`set_flag`]'s wherever
//! it answers (`tests/fast_signal.rs` holds the two to each other).
//!
//! TLFS md `hypercalls/HvCallSignalEvent.md` and
//! `inter-partition-communication.md` § Event Flag Delivery: the flag is
//! set atomically in the target VP's SIEF page and the SINT raised only
//! when it went from 0 to 1. The fast path answers only where that is the
//! whole story: a route published for the connection, the SIEF page and
//! the SINT live, the flag within the port's count, and no AutoEOI (which
//! the kernel's locked entry performs). Every refusal, with its status,
//! is the locked path's: it returns `None` before touching the page, and
//! the locked path decides again from the same state.
//!
//! [`set_flag`]: crate::event::set_flag

use core::sync::atomic::{AtomicU64, Ordering};

use tlfs::synic::{HV_SYNIC_SINT_COUNT, HvSynicSint};

use crate::event::{FlagSet, check, raise_flag};
use crate::pages::SynicPages;
use crate::ports::PartitionRef;
use crate::published::{EventRoute, EventRouteTable, Lookup};
use crate::registers::SynicRegisters;
use crate::sint::{Interrupt, Sint};

/// One VP's SynIC registers as the fast path reads them. One writer,
/// holding the kernel lock, publishes after every change
/// ([`publish`](Self::publish)); readers on any CPU.
#[derive(Debug)]
pub struct PublishedVp {
    /// The VP's SIEF page (a handle the caller gave: the kernel's frame)
    /// while SCONTROL and SIEFP are both enabled; 0 otherwise.
    event_page: AtomicU64,
    /// SINT0–SINT15 as stored.
    sints: [AtomicU64; HV_SYNIC_SINT_COUNT],
    /// [`SynicRegisters::auto_eoi_vectors`]: the kernel's entry asks it
    /// before it looks the SynIC up for AutoEOI (most injections are not
    /// of such a vector).
    auto_eoi: [AtomicU64; 4],
}

impl Default for PublishedVp {
    fn default() -> Self {
        Self::new()
    }
}

impl PublishedVp {
    /// Nothing published: every signal takes the locked path.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            event_page: AtomicU64::new(0),
            sints: [const { AtomicU64::new(HvSynicSint::RESET_VALUE.into_bits()) };
                HV_SYNIC_SINT_COUNT],
            auto_eoi: [const { AtomicU64::new(0) }; 4],
        }
    }

    /// Publishes `registers`, whose SIEF page is `event_page` (non-zero).
    /// The SINTs first: a reader that sees the page sees the SINTs stored
    /// with it or later.
    pub fn publish(&self, registers: &SynicRegisters, event_page: u64) {
        for (published, sint) in self.sints.iter().zip(registers.sints) {
            published.store(sint.into_bits(), Ordering::Relaxed);
        }
        for (published, word) in self.auto_eoi.iter().zip(registers.auto_eoi_vectors()) {
            published.store(word, Ordering::Relaxed);
        }
        let page = if registers.events_enabled() {
            event_page
        } else {
            0
        };
        self.event_page.store(page, Ordering::Release);
    }

    /// Nothing published any more (the VP's SynIC or its page is going).
    pub fn withdraw(&self) {
        self.event_page.store(0, Ordering::Release);
        for word in &self.auto_eoi {
            word.store(0, Ordering::Relaxed);
        }
    }

    /// Whether `vector` is an unmasked SINT's with AutoEOI, as published.
    #[must_use]
    #[inline]
    pub fn auto_eoi(&self, vector: u8) -> bool {
        self.auto_eoi[usize::from(vector / 64)].load(Ordering::Relaxed) & 1 << (vector % 64) != 0
    }

    /// The SIEF page while events can be set (else 0).
    #[must_use]
    #[inline]
    pub fn event_page(&self) -> u64 {
        self.event_page.load(Ordering::Acquire)
    }

    /// Sets absolute flag `flag` of `sint` in `pages` (this VP's, whose SIEF
    /// page is [`event_page`](Self::event_page)) as [`set_flag`] does, or
    /// `None` — nothing touched — where [`set_flag`] would refuse or the
    /// SINT has AutoEOI.
    ///
    /// [`set_flag`]: crate::event::set_flag
    #[inline]
    pub fn set_flag(&self, pages: &mut impl SynicPages, sint: Sint, flag: u16) -> Option<FlagSet> {
        let register = HvSynicSint::from_bits(self.sints[sint.index()].load(Ordering::Relaxed));
        check(self.event_page() != 0, register, flag).ok()?;
        // A published page means SCONTROL is enabled, and `check` passed
        // only a SINT unmasked or polled: `sint::signal` is then an
        // interrupt exactly when not polled.
        if register.polling() {
            return Some(raise_flag(pages, sint, flag, None));
        }
        if register.auto_eoi() {
            return None;
        }
        let interrupt = Some(Interrupt {
            vector: register.vector(),
            auto_eoi: false,
        });
        Some(raise_flag(pages, sint, flag, interrupt))
    }
}

/// Where a fast signal goes: the route of `connection` in `routes` (the
/// sending partition's), if it names port flags of VP `vp` of partition
/// `own` (the sender itself: ports of another partition, or another VP,
/// take the locked path), in the partition incarnation whose port serials
/// start at `serial_base` (a route older than the partition's slot is
/// never followed), with `flag` (relative) within the port's count. The
/// absolute flag number comes with the route.
#[must_use]
#[inline]
pub fn own_route<const N: usize>(
    routes: &EventRouteTable<N>,
    own: PartitionRef,
    serial_base: u64,
    vp: u32,
    connection: u32,
    flag: u16,
) -> Option<(EventRoute, u16)> {
    let Lookup::Found(route) = routes.lookup(connection) else {
        return None;
    };
    let same_incarnation = route.serial >> 32 == serial_base >> 32 && route.serial >= serial_base;
    if route.partition != own || route.vp != vp || !same_incarnation || flag >= route.flag_count {
        return None;
    }
    Some((route, route.base_flag.checked_add(flag)?))
}
