//! Intrusive, index-linked thread queues: no allocation, O(1) removal.

use tessera_capability::arena::Arena;

use crate::thread::{Priority, Thread};

/// A doubly linked list of thread indices, threaded through
/// [`Thread::link`]. A thread is in at most one queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Queue {
    head: Option<u32>,
    tail: Option<u32>,
}

#[inline]
fn thread(threads: &mut Arena<Thread>, t: u32) -> &mut Thread {
    threads.by_index_mut(t).expect("queued thread is live")
}

impl Queue {
    pub(crate) const fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    pub(crate) const fn head(&self) -> Option<u32> {
        self.head
    }

    /// Appends `t`: first in, first out. O(1).
    #[inline(always)]
    pub(crate) fn push_back(&mut self, threads: &mut Arena<Thread>, t: u32) {
        self.insert_before(threads, t, None);
    }

    /// Inserts `t` behind every thread of priority `key` or higher: highest
    /// priority first, first in first out among equals. O(queue length).
    pub(crate) fn insert_by_priority(
        &mut self,
        threads: &mut Arena<Thread>,
        t: u32,
        key: Priority,
    ) {
        thread(threads, t).link.key = key;
        let mut cur = self.head;
        while let Some(c) = cur {
            let link = thread(threads, c).link;
            if link.key < key {
                break;
            }
            cur = link.next;
        }
        self.insert_before(threads, t, cur);
    }

    #[inline(always)]
    fn insert_before(&mut self, threads: &mut Arena<Thread>, t: u32, before: Option<u32>) {
        let prev = match before {
            Some(b) => thread(threads, b).link.prev,
            None => self.tail,
        };
        {
            let link = &mut thread(threads, t).link;
            debug_assert!(link.prev.is_none() && link.next.is_none());
            link.prev = prev;
            link.next = before;
        }
        match prev {
            Some(p) => thread(threads, p).link.next = Some(t),
            None => self.head = Some(t),
        }
        match before {
            Some(b) => thread(threads, b).link.prev = Some(t),
            None => self.tail = Some(t),
        }
    }

    /// Takes the first thread out. O(1).
    #[inline(always)]
    pub(crate) fn pop_front(&mut self, threads: &mut Arena<Thread>) -> Option<u32> {
        let t = self.head?;
        self.remove(threads, t);
        Some(t)
    }

    /// Takes `t`, which MUST be in this queue, out. O(1).
    #[inline(always)]
    pub(crate) fn remove(&mut self, threads: &mut Arena<Thread>, t: u32) {
        let link = core::mem::take(&mut thread(threads, t).link);
        match link.prev {
            Some(p) => thread(threads, p).link.next = link.next,
            None => self.head = link.next,
        }
        match link.next {
            Some(n) => thread(threads, n).link.prev = link.prev,
            None => self.tail = link.prev,
        }
    }

    /// The queued thread indices, front to back.
    pub(crate) fn iter<'a>(&self, threads: &'a Arena<Thread>) -> impl Iterator<Item = u32> + 'a {
        let mut cur = self.head;
        core::iter::from_fn(move || {
            let t = cur?;
            cur = threads
                .by_index(t)
                .expect("queued thread is live")
                .1
                .link
                .next;
            Some(t)
        })
    }

    /// Whether the back link of the list is consistent (for audits).
    pub(crate) fn tail(&self) -> Option<u32> {
        self.tail
    }
}
