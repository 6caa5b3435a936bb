//! The partition's routes as the two exit paths read them: the locked
//! path the partition's route table ([`RouteTable`]), the lock-free path
//! ranges published with atomics by the (locked) code that adds a route
//! ([`RouteRanges`], [`LockFreeRoutes`]). Both are views for
//! [`crate::decide`], and must tell the same about every value.
use core::ops::RangeInclusive;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use tessera_abi::vm::intercept;

use crate::decide::{PartitionView, RouteKind};

/// Routes a lock-free reader can check; more than this and the fast path
/// defers every exit of that kind to the locked one.
pub const FAST_ROUTES: usize = 16;

/// The ranges of one kind of route, readable without the lock: append-only,
/// with the count published (Release) after the range it counts. A few
/// values may be watched: whether a route takes each is then one bit.
#[derive(Debug)]
pub struct RouteRanges {
    first: [AtomicU32; FAST_ROUTES],
    last: [AtomicU32; FAST_ROUTES],
    count: AtomicUsize,
    /// The values whose routing `watched_routes` tells in one load.
    watched: &'static [u32],
    /// Bit `i`: a route takes `watched[i]`.
    watched_routes: AtomicU32,
}

impl Default for RouteRanges {
    fn default() -> Self {
        Self::watching(&[])
    }
}

impl RouteRanges {
    /// Ranges for which whether a route takes each of `watched` (at most
    /// 32) is kept as a bit.
    pub fn watching(watched: &'static [u32]) -> Self {
        assert!(watched.len() <= 32, "one bit per watched value");
        Self {
            first: [const { AtomicU32::new(0) }; FAST_ROUTES],
            last: [const { AtomicU32::new(0) }; FAST_ROUTES],
            count: AtomicUsize::new(0),
            watched,
            watched_routes: AtomicU32::new(0),
        }
    }

    /// Records a range (called with the kernel lock held: one writer).
    pub fn add(&self, first: u32, last: u32) {
        let covered = self
            .watched
            .iter()
            .enumerate()
            .filter(|(_, value)| (first..=last).contains(value))
            .fold(0, |bits, (index, _)| bits | 1 << index);
        // Before the count: a reader that sees the range counted sees its
        // bits (both are Release, read with Acquire).
        self.watched_routes.fetch_or(covered, Ordering::Release);
        let count = self.count.load(Ordering::Relaxed);
        if count < FAST_ROUTES {
            self.first[count].store(first, Ordering::Relaxed);
            self.last[count].store(last, Ordering::Relaxed);
        }
        // Past the capacity the count still grows: readers then know they
        // cannot decide and take the locked path.
        self.count.store(count + 1, Ordering::Release);
    }

    /// `Some(routed)`, or `None` when the fast path cannot tell.
    #[inline]
    pub fn routes(&self, value: u32) -> Option<bool> {
        let count = self.count.load(Ordering::Acquire);
        if count > FAST_ROUTES {
            return None;
        }
        Some((0..count).any(|i| {
            let first = self.first[i].load(Ordering::Relaxed);
            let last = self.last[i].load(Ordering::Relaxed);
            (first..=last).contains(&value)
        }))
    }

    /// Whether a route takes watched value `index` (every route counts,
    /// even past the capacity).
    #[inline(always)]
    pub fn routes_watched(&self, index: usize) -> bool {
        self.watched_routes.load(Ordering::Acquire) & (1 << index) != 0
    }
}

/// A route as the partition's table holds it.
pub trait RouteEntry {
    /// Its `tessera_abi::vm::intercept` kind.
    fn kind(&self) -> u64;
    /// The values it takes.
    fn range(&self) -> RangeInclusive<u64>;
}

/// The partition's route table, read under the kernel lock: the first
/// route of a kind whose range holds a value takes it (routes of one kind
/// never overlap: `PartitionInstallIntercept` refuses that).
#[derive(Debug)]
pub struct RouteTable<'a, R>(pub &'a [R]);

impl<'a, R: RouteEntry> RouteTable<'a, R> {
    /// The route of `kind` whose range holds `value`.
    pub fn find(&self, kind: u64, value: u64) -> Option<&'a R> {
        self.0
            .iter()
            .find(|route| route.kind() == kind && route.range().contains(&value))
    }
}

impl RouteKind {
    /// The `tessera_abi::vm::intercept` kind of these routes.
    pub const fn intercept(self) -> u64 {
        match self {
            Self::Cpuid => intercept::CPUID,
            Self::IoPort => intercept::IO_PORT,
        }
    }
}

impl<'a, R: RouteEntry> PartitionView for RouteTable<'a, R> {
    type Route = &'a R;
    const FORWARDS: bool = true;

    fn route(&self, kind: RouteKind, value: u32) -> Option<Option<&'a R>> {
        Some(self.find(kind.intercept(), u64::from(value)))
    }
}

/// The lock-free path's view: it knows whether a route takes a value,
/// not which, so it defers what a route takes (the locked path forwards
/// it); past [`FAST_ROUTES`] routes of a kind it cannot tell.
#[derive(Clone, Copy, Debug)]
pub struct LockFreeRoutes<'a> {
    pub cpuid: &'a RouteRanges,
    pub ports: &'a RouteRanges,
}

impl PartitionView for LockFreeRoutes<'_> {
    type Route = ();
    const FORWARDS: bool = false;

    #[inline(always)]
    fn route(&self, kind: RouteKind, value: u32) -> Option<Option<()>> {
        let ranges = match kind {
            RouteKind::Cpuid => self.cpuid,
            RouteKind::IoPort => self.ports,
        };
        ranges.routes(value).map(|routed| routed.then_some(()))
    }
}
