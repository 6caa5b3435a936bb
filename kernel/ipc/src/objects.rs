//! Endpoint and notification records.

use tessera_capability::DomainId;

use crate::queue::Queue;
use crate::thread::Priority;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// Served by its owner domain.
    Live,
    /// Its owner domain died; calls fail with `ServerDied` until a restart.
    ServerDead,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The server domain; only its threads may receive.
    pub owner: DomainId,
    /// Priority ceiling: callers at most, receivers at least this.
    pub ceiling: Priority,
    pub liveness: Liveness,
    /// Callers waiting for a server, by priority then arrival.
    pub senders: Queue,
    /// Server threads waiting for a call, by arrival.
    pub receivers: Queue,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Notification {
    /// Bits signalled and not yet taken by a waiter.
    pub pending: u64,
    /// Threads waiting, by arrival.
    pub waiters: Queue,
}
