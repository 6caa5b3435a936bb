//! Posted port writes (`tessera_abi::vm::posted`): which `OUT`s of a
//! route the kernel completes itself, and the queue that keeps them, in
//! the order the guest made them, until the route's handler takes them.
use tessera_abi::vm::posted::{MAX_PORTS, QUEUE_WRITES, encode};
use tessera_svm::ioio::IoioExitInfo;

/// The ports of one route whose writes are posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostedPorts {
    first: u16,
    /// Bit `n`: port `first + n`.
    mask: u64,
}

impl PostedPorts {
    /// The ports `mask` names (`PartitionInstallIntercept` word 4) of the
    /// route `first..=last`; `None` if it names none, or a port outside the
    /// range or past [`MAX_PORTS`].
    pub fn new(first: u64, last: u64, mask: u64) -> Option<Self> {
        let first = u16::try_from(first).ok()?;
        let ports = last.checked_sub(u64::from(first))? + 1;
        let within = (1u64 << ports.min(MAX_PORTS)) - 1;
        (mask != 0 && mask & !within == 0).then_some(Self { first, mask })
    }

    /// The posted-write word of the port exit whose `EXITINFO1` is
    /// `exit_info1`, with RAX `rax`, if the kernel may post it: an `OUT`,
    /// not a string or `REP` one, every port of which is posted.
    #[inline]
    pub fn post_of(&self, exit_info1: u64, rax: u64) -> Option<u64> {
        let access = IoioExitInfo::from_bits(exit_info1).decode().ok()?;
        if access.is_in || access.string || access.rep {
            return None;
        }
        let size = access.size.bytes();
        let offset = u32::from(access.port.checked_sub(self.first)?);
        let touched = ((1u64 << size) - 1).checked_shl(offset)?;
        // A port past the mask's last bit is not posted: the shift must not
        // have dropped any of the access's bits.
        if touched >> offset != (1u64 << size) - 1 || self.mask & touched != touched {
            return None;
        }
        let value = rax & ((1u64 << (8 * size)) - 1);
        Some(encode(access.port, size as u8, value as u32))
    }
}

/// The writes posted on one route and not yet handed over, oldest first.
#[derive(Clone, Debug)]
pub struct PostedQueue {
    words: [u64; QUEUE_WRITES],
    /// Where the oldest is.
    head: usize,
    len: usize,
}

impl Default for PostedQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl PostedQueue {
    pub const fn new() -> Self {
        Self {
            words: [0; QUEUE_WRITES],
            head: 0,
            len: 0,
        }
    }

    /// Queues `word`; `false` (nothing queued) when full: the write then
    /// goes to the handler itself, behind the queued ones.
    #[inline]
    pub fn push(&mut self, word: u64) -> bool {
        if self.len == QUEUE_WRITES {
            return false;
        }
        self.words[(self.head + self.len) % QUEUE_WRITES] = word;
        self.len += 1;
        true
    }

    /// Moves every queued write into `out`, oldest first; how many.
    pub fn drain(&mut self, out: &mut [u64; QUEUE_WRITES]) -> usize {
        let count = self.len;
        for (i, slot) in out.iter_mut().take(count).enumerate() {
            *slot = self.words[(self.head + i) % QUEUE_WRITES];
        }
        self.head = (self.head + count) % QUEUE_WRITES;
        self.len = 0;
        count
    }

    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub const fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;
    use std::vec::Vec;

    /// `EXITINFO1` of an `OUT` (or `IN`) of `size` bytes to `port`.
    fn out(port: u16, size: u8, is_in: bool) -> u64 {
        u64::from(is_in) | u64::from(size) << 4 | u64::from(port) << 16
    }

    #[test]
    fn only_ports_within_the_route_can_be_posted() {
        assert!(PostedPorts::new(0x3F8, 0x3FF, 0b1).is_some());
        assert!(PostedPorts::new(0x3F8, 0x3FF, 0xFF).is_some());
        assert_eq!(PostedPorts::new(0x3F8, 0x3FF, 0x100), None, "port 0x400");
        assert_eq!(PostedPorts::new(0x3F8, 0x3FF, 0), None, "no port");
        assert_eq!(PostedPorts::new(0x3FF, 0x3F8, 1), None, "an empty range");
        assert!(
            PostedPorts::new(0, 0xFFFF, 0xFFFF_FFFF).is_some(),
            "the first 32"
        );
        assert_eq!(PostedPorts::new(0, 0xFFFF, 1 << 32), None, "the 33rd");
    }

    #[test]
    fn a_write_is_posted_only_where_every_port_it_touches_is() {
        let thr = PostedPorts::new(0x3F8, 0x3FF, 0b1).unwrap();
        assert_eq!(
            thr.post_of(out(0x3F8, 1, false), 0x1234_5641),
            Some(encode(0x3F8, 1, 0x41))
        );
        assert_eq!(thr.post_of(out(0x3F8, 1, true), 0), None, "a read");
        assert_eq!(
            thr.post_of(out(0x3F8, 2, false), 0),
            None,
            "touches 0x3F9 too"
        );
        assert_eq!(thr.post_of(out(0x3F9, 1, false), 0), None, "not posted");
        assert_eq!(
            thr.post_of(out(0x3F7, 1, false), 0),
            None,
            "below the route"
        );
        assert_eq!(thr.post_of(out(0x3F8, 1, false) | 1 << 2, 0), None, "OUTS");
        assert_eq!(thr.post_of(out(0x3F8, 1, false) | 1 << 3, 0), None, "REP");
        assert_eq!(thr.post_of(out(0x3F8, 3, false), 0), None, "no size");
        let all = PostedPorts::new(0, 0xFFFF, 0xFFFF_FFFF).unwrap();
        assert_eq!(
            all.post_of(out(30, 4, false), 0),
            None,
            "32 and 33 past the mask"
        );
        assert_eq!(all.post_of(out(28, 4, false), 7), Some(encode(28, 4, 7)));
    }

    proptest! {
        /// Exactly the non-string, non-REP OUTs whose every port is posted
        /// are, with their value cut to the size.
        #[test]
        fn posting_follows_the_mask(
            first in 0u16..0x100, mask: u64, port in 0u16..0x180,
            size in prop::sample::select(&[1u8, 2, 4][..]), is_in: bool,
            string: bool, rep: bool, rax: u64,
        ) {
            let mask = mask & 0xFFFF_FFFF;
            let Some(ports) = PostedPorts::new(u64::from(first), u64::from(first) + 63, mask) else {
                prop_assert_eq!(mask, 0);
                return Ok(());
            };
            let info = out(port, size, is_in) | u64::from(string) << 2 | u64::from(rep) << 3;
            let every = (0..u32::from(size)).all(|i| {
                let p = u32::from(port) + i;
                p >= u32::from(first) && p - u32::from(first) < 32
                    && mask & 1 << (p - u32::from(first)) != 0
            });
            let expected = (!is_in && !string && !rep && every).then(|| {
                encode(port, size, (rax & ((1 << (8 * u32::from(size))) - 1)) as u32)
            });
            prop_assert_eq!(ports.post_of(info, rax), expected);
        }

        /// The queue is a bounded FIFO: nothing lost, nothing reordered, a
        /// full queue refuses.
        #[test]
        fn the_queue_keeps_order_and_bound(ops in prop::collection::vec(prop::option::of(any::<u64>()), 0..300)) {
            let (mut queue, mut model) = (PostedQueue::new(), VecDeque::new());
            for op in ops {
                match op {
                    Some(word) => {
                        let room = model.len() < QUEUE_WRITES;
                        prop_assert_eq!(queue.push(word), room);
                        if room {
                            model.push_back(word);
                        }
                    }
                    None => {
                        let mut out = [0; QUEUE_WRITES];
                        let n = queue.drain(&mut out);
                        let expected: Vec<u64> = model.drain(..).collect();
                        prop_assert_eq!(&out[..n], &expected[..]);
                    }
                }
                prop_assert_eq!(queue.len(), model.len());
                prop_assert_eq!(queue.is_empty(), model.is_empty());
            }
        }
    }
}
