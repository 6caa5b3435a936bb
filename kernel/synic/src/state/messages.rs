//! Messages accepted and not yet in a slot: each message port's pool of
//! buffers, and each (VP, SINT)'s queue through them.
//!
//! TLFS md `inter-partition-communication.md` § Guest Message Buffers: "When
//! a port is created, the hypervisor will allocate sixteen (16) message
//! buffers from the port owner's memory pool"; § Message Buffer Queues:
//! "one queue of message buffers for each SINTx" per VP; § Reliability and
//! Sequencing: "Messages arrive in the order in which they have been
//! successfully posted … Deletion of the target port will always free all
//! of the port's message buffers, whether they are available or contain
//! undelivered (queued) messages."
//!
//! A queue is a list threaded through the buffers of every port that
//! targets the SINT, so it needs no storage of its own and is bounded by
//! the pools: a post that finds its port's pool empty is refused with
//! `HV_STATUS_INSUFFICIENT_BUFFERS` and nothing is ever dropped.

use tlfs::HvStatus;
use tlfs::message::HvMessage;

/// Buffers per message port.
pub const PORT_MESSAGE_BUFFERS: usize = 16;

/// A buffer: which port slot, which of its buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct BufferRef {
    pub port: usize,
    pub buffer: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pooled {
    message: HvMessage,
    next: Option<BufferRef>,
}

/// A message port's buffers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MessagePool {
    buffers: [Option<Pooled>; PORT_MESSAGE_BUFFERS],
}

#[cfg(test)]
impl MessagePool {
    /// Buffers holding a queued message.
    pub fn in_use(&self) -> usize {
        self.buffers.iter().filter(|b| b.is_some()).count()
    }
}

/// One (VP, SINT)'s queue: oldest first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct SintQueue {
    head: Option<BufferRef>,
    tail: Option<BufferRef>,
}

/// The pools of a partition's ports, by port slot (`None`: no message port
/// there).
pub(crate) trait Pools {
    fn pool(&self, port: usize) -> Option<&MessagePool>;
    fn pool_mut(&mut self, port: usize) -> Option<&mut MessagePool>;
}

fn pooled(pools: &impl Pools, at: BufferRef) -> Option<&Pooled> {
    pools
        .pool(at.port)?
        .buffers
        .get(usize::from(at.buffer))?
        .as_ref()
}

fn pooled_mut(pools: &mut impl Pools, at: BufferRef) -> Option<&mut Pooled> {
    pools
        .pool_mut(at.port)?
        .buffers
        .get_mut(usize::from(at.buffer))?
        .as_mut()
}

impl SintQueue {
    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Appends `message` in a free buffer of port slot `port`'s pool.
    ///
    /// # Errors
    ///
    /// `HV_STATUS_INSUFFICIENT_BUFFERS`: "The port has no available guest
    /// message buffers" (`hypercalls/HvCallPostMessage.md`).
    pub fn push(
        &mut self,
        pools: &mut impl Pools,
        port: usize,
        message: HvMessage,
    ) -> Result<(), HvStatus> {
        let pool = pools.pool_mut(port).ok_or(HvStatus::INVALID_PORT_ID)?;
        let buffer = pool
            .buffers
            .iter()
            .position(Option::is_none)
            .ok_or(HvStatus::INSUFFICIENT_BUFFERS)?;
        pool.buffers[buffer] = Some(Pooled {
            message,
            next: None,
        });
        let at = BufferRef {
            port,
            buffer: buffer as u8,
        };
        match self.tail.and_then(|tail| pooled_mut(pools, tail)) {
            Some(last) => last.next = Some(at),
            None => self.head = Some(at),
        }
        self.tail = Some(at);
        Ok(())
    }

    /// The oldest message, and whether another follows it.
    pub fn front<'a>(&self, pools: &'a impl Pools) -> Option<(&'a HvMessage, bool)> {
        let pooled = pooled(pools, self.head?)?;
        Some((&pooled.message, pooled.next.is_some()))
    }

    /// Frees the oldest message's buffer: it is in its slot.
    pub fn pop(&mut self, pools: &mut impl Pools) {
        let Some(head) = self.head else {
            return;
        };
        let next = pooled(pools, head).and_then(|p| p.next);
        if let Some(pool) = pools.pool_mut(head.port) {
            pool.buffers[usize::from(head.buffer)] = None;
        }
        self.head = next;
        if next.is_none() {
            self.tail = None;
        }
    }

    /// Drops every message of port slot `port` (the port is deleted) and
    /// relinks the rest in order.
    pub fn remove_port(&mut self, pools: &mut impl Pools, port: usize) {
        let mut kept: Option<BufferRef> = None;
        let mut at = self.head;
        self.head = None;
        while let Some(current) = at {
            at = pooled(pools, current).and_then(|p| p.next);
            if current.port == port {
                continue;
            }
            if let Some(p) = pooled_mut(pools, current) {
                p.next = None;
            }
            match kept.and_then(|k| pooled_mut(pools, k)) {
                Some(last) => last.next = Some(current),
                None => self.head = Some(current),
            }
            kept = Some(current);
        }
        self.tail = kept;
        if let Some(pool) = pools.pool_mut(port) {
            *pool = MessagePool::default();
        }
    }

    /// The messages in order (for tests and for the restart model).
    pub fn messages<'a>(&self, pools: &'a impl Pools) -> impl Iterator<Item = &'a HvMessage> {
        let mut at = self.head;
        core::iter::from_fn(move || {
            let pooled = pooled(pools, at?)?;
            at = pooled.next;
            Some(&pooled.message)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use tlfs::message::HvMessageType;

    struct TwoPorts([Option<MessagePool>; 2]);

    impl Pools for TwoPorts {
        fn pool(&self, port: usize) -> Option<&MessagePool> {
            self.0.get(port)?.as_ref()
        }
        fn pool_mut(&mut self, port: usize) -> Option<&mut MessagePool> {
            self.0.get_mut(port)?.as_mut()
        }
    }

    fn message(kind: u32) -> HvMessage {
        let mut message = HvMessage::default();
        message.header.message_type = HvMessageType(kind);
        message
    }

    fn kinds(queue: &SintQueue, pools: &TwoPorts) -> Vec<u32> {
        queue
            .messages(pools)
            .map(|m| m.header.message_type.0)
            .collect()
    }

    #[test]
    fn fifo_across_ports_and_bounded_per_port() {
        let mut pools = TwoPorts([Some(MessagePool::default()), Some(MessagePool::default())]);
        let mut queue = SintQueue::default();
        for kind in 1..=16 {
            queue
                .push(&mut pools, kind as usize % 2, message(kind))
                .unwrap();
        }
        assert_eq!(kinds(&queue, &pools), (1..=16).collect::<Vec<_>>());
        for _ in 0..8 {
            queue.push(&mut pools, 0, message(100)).unwrap();
        }
        // Port 0 holds 8 + 8: full. Port 1 still has room.
        assert_eq!(
            queue.push(&mut pools, 0, message(101)),
            Err(HvStatus::INSUFFICIENT_BUFFERS)
        );
        queue.push(&mut pools, 1, message(102)).unwrap();
        assert_eq!(
            queue
                .front(&pools)
                .map(|(m, more)| (m.header.message_type.0, more)),
            Some((1, true))
        );
        queue.pop(&mut pools);
        assert_eq!(queue.front(&pools).unwrap().0.header.message_type.0, 2);
        // Port 1's first message (1) left: port 1 has 16 - 1 + ... room
        // again only as buffers free.
        assert_eq!(pools.0[1].as_ref().unwrap().in_use(), 8);
    }

    #[test]
    fn deleting_a_port_drops_its_messages_only() {
        let mut pools = TwoPorts([Some(MessagePool::default()), Some(MessagePool::default())]);
        let mut queue = SintQueue::default();
        for kind in 1..=6 {
            queue
                .push(&mut pools, kind as usize % 2, message(kind))
                .unwrap();
        }
        queue.remove_port(&mut pools, 1);
        assert_eq!(kinds(&queue, &pools), vec![2, 4, 6]);
        assert_eq!(pools.0[1].as_ref().unwrap().in_use(), 0);
        queue.push(&mut pools, 0, message(8)).unwrap();
        assert_eq!(kinds(&queue, &pools), vec![2, 4, 6, 8]);
        queue.remove_port(&mut pools, 0);
        assert!(queue.is_empty());
        queue.push(&mut pools, 1, message(9)).unwrap();
        assert_eq!(kinds(&queue, &pools), vec![9]);
    }
}
