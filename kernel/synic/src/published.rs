//! The event routes the kernel's `HvSignalEvent` fast path reads without a
//! lock: one table per sending partition, from its connection IDs to the
//! event port each one reaches.
//!
//! One writer (whoever holds the kernel lock applies a connect, disconnect
//! or port deletion) and any number of readers (a VP's exit path on any
//! CPU). Each slot is guarded by a sequence count, as a seqlock: the writer
//! makes it odd, writes, makes it even; a reader retries while it is odd or
//! changed under it. A reader that keeps losing the race gives up with
//! [`Lookup::Contended`] and the call takes the slow path, so a reader
//! never spins unboundedly (seL4's fast path rule: anything unusual falls
//! back to the slow path).
//!
//! The table is open addressing with linear probing over a power-of-two
//! number of slots; removal leaves a tombstone, so a probe stops only at a
//! never-used slot. A connection that does not fit is not published, and
//! its signals take the slow path.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

use crate::ports::PartitionRef;
use crate::sint::Sint;

/// Where an event connection's signals go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventRoute {
    /// The partition that owns the port.
    pub partition: PartitionRef,
    /// The port's 24-bit ID.
    pub port: u32,
    /// The port's target VP.
    pub vp: u32,
    /// The port's target SINT.
    pub sint: Sint,
    /// The port's base flag number.
    pub base_flag: u16,
    /// The port's flag count.
    pub flag_count: u16,
    /// The port's serial ([`PortRecord::serial`](crate::state::PortRecord)):
    /// in the kernel its high half is the generation of the partition slot
    /// that owns the port, so a reader can tell a route to a partition that
    /// is gone from one to the partition that reused its slot.
    pub serial: u64,
}

/// A route as the slot stores it: three words.
type Words = (u64, u64, u64);

impl EventRoute {
    fn encode(self) -> Words {
        (
            u64::from(self.partition.0) | u64::from(self.vp) << 32,
            u64::from(self.sint.number())
                | u64::from(self.base_flag) << 8
                | u64::from(self.flag_count) << 24
                | u64::from(self.port & 0xFF_FFFF) << 40,
            self.serial,
        )
    }

    #[inline]
    fn decode((first, second, serial): Words) -> Option<Self> {
        Some(Self {
            partition: PartitionRef(first as u32),
            port: (second >> 40) as u32,
            vp: (first >> 32) as u32,
            sint: Sint::new((second & 0xFF) as u32)?,
            base_flag: (second >> 8) as u16,
            flag_count: (second >> 24) as u16,
            serial,
        })
    }
}

/// What a reader found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lookup {
    /// The connection's route.
    Found(EventRoute),
    /// Not published: take the slow path (which knows whether the
    /// connection exists at all).
    Absent,
    /// A writer kept changing the slots probed: take the slow path.
    Contended,
}

/// Key of a slot never used.
const EMPTY: u32 = u32::MAX;
/// Key of a slot whose connection was removed (connection IDs are 24 bits,
/// so neither marker is an ID).
const TOMBSTONE: u32 = u32::MAX - 1;
/// Reads of one slot before a reader gives up.
const READ_ATTEMPTS: usize = 8;

#[derive(Debug)]
struct Slot {
    sequence: AtomicU32,
    key: AtomicU32,
    first: AtomicU64,
    second: AtomicU64,
    serial: AtomicU64,
}

impl Slot {
    const fn new() -> Self {
        Self {
            sequence: AtomicU32::new(0),
            key: AtomicU32::new(EMPTY),
            first: AtomicU64::new(0),
            second: AtomicU64::new(0),
            serial: AtomicU64::new(0),
        }
    }

    /// A consistent (key, words) snapshot, or `None` if the writer kept
    /// interfering.
    #[inline]
    fn read(&self) -> Option<(u32, Words)> {
        for _ in 0..READ_ATTEMPTS {
            let before = self.sequence.load(Ordering::Acquire);
            if before % 2 == 1 {
                core::hint::spin_loop();
                continue;
            }
            let key = self.key.load(Ordering::Relaxed);
            let first = self.first.load(Ordering::Relaxed);
            let second = self.second.load(Ordering::Relaxed);
            let serial = self.serial.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if self.sequence.load(Ordering::Relaxed) == before {
                return Some((key, (first, second, serial)));
            }
        }
        None
    }

    /// Writes the slot (the single writer only).
    fn write(&self, key: u32, (first, second, serial): Words) {
        self.sequence.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::Release);
        self.key.store(key, Ordering::Relaxed);
        self.first.store(first, Ordering::Relaxed);
        self.second.store(second, Ordering::Relaxed);
        self.serial.store(serial, Ordering::Relaxed);
        self.sequence.fetch_add(1, Ordering::Release);
    }

    /// The key as the writer sees it (no concurrent writer exists).
    fn key(&self) -> u32 {
        self.key.load(Ordering::Relaxed)
    }
}

/// A sending partition's published event routes, with `N` slots (a power
/// of two).
#[derive(Debug)]
pub struct EventRouteTable<const N: usize> {
    slots: [Slot; N],
}

impl<const N: usize> Default for EventRouteTable<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> EventRouteTable<N> {
    const POWER_OF_TWO: () = assert!(N.is_power_of_two(), "N must be a power of two");

    /// An empty table.
    #[must_use]
    pub const fn new() -> Self {
        let () = Self::POWER_OF_TWO;
        Self {
            slots: [const { Slot::new() }; N],
        }
    }

    fn probe(connection: u32) -> impl Iterator<Item = usize> {
        // Fibonacci hashing spreads consecutive IDs (guests number their
        // connections densely).
        let start = (connection.wrapping_mul(0x9E37_79B9) as usize) & (N - 1);
        (0..N).map(move |i| (start + i) & (N - 1))
    }

    /// The route of `connection` (any CPU, no lock).
    #[must_use]
    #[inline]
    pub fn lookup(&self, connection: u32) -> Lookup {
        for index in Self::probe(connection) {
            let Some((key, words)) = self.slots[index].read() else {
                return Lookup::Contended;
            };
            if key == EMPTY {
                return Lookup::Absent;
            }
            if key == connection {
                return match EventRoute::decode(words) {
                    Some(route) => Lookup::Found(route),
                    None => Lookup::Absent,
                };
            }
        }
        Lookup::Absent
    }

    /// Publishes (or replaces) `connection`'s route. The caller is the only
    /// writer (it holds the kernel lock). Returns `false` if the table is
    /// full: the connection then stays on the slow path.
    pub fn insert(&self, connection: u32, route: EventRoute) -> bool {
        let mut free = None;
        for index in Self::probe(connection) {
            let key = self.slots[index].key();
            if key == connection {
                self.slots[index].write(connection, route.encode());
                return true;
            }
            if key == TOMBSTONE && free.is_none() {
                free = Some(index);
            }
            if key == EMPTY {
                free = free.or(Some(index));
                break;
            }
        }
        match free {
            Some(index) => {
                self.slots[index].write(connection, route.encode());
                true
            }
            None => false,
        }
    }

    /// Withdraws `connection`'s route (the only writer). Returns whether it
    /// was published.
    pub fn remove(&self, connection: u32) -> bool {
        for index in Self::probe(connection) {
            let key = self.slots[index].key();
            if key == EMPTY {
                return false;
            }
            if key == connection {
                self.slots[index].write(TOMBSTONE, (0, 0, 0));
                return true;
            }
        }
        false
    }

    /// Withdraws every route `stale` picks (a port went away); returns how
    /// many.
    pub fn remove_where(&self, mut stale: impl FnMut(&EventRoute) -> bool) -> usize {
        let mut removed = 0;
        for slot in &self.slots {
            let key = slot.key();
            if key == EMPTY || key == TOMBSTONE {
                continue;
            }
            let route = EventRoute::decode((
                slot.first.load(Ordering::Relaxed),
                slot.second.load(Ordering::Relaxed),
                slot.serial.load(Ordering::Relaxed),
            ));
            if route.is_some_and(|route| stale(&route)) {
                slot.write(TOMBSTONE, (0, 0, 0));
                removed += 1;
            }
        }
        removed
    }

    /// Withdraws every route (the partition's SynIC went).
    pub fn clear(&self) -> usize {
        self.remove_where(|_| true)
    }
}
