//! Ring memory for tests: a flat ring, and guest RAM with rings mapped from
//! a GPADL's pages. Both panic on any access outside the ring, which is
//! what "never reads or writes outside the ring" means in the tests.

use std::cell::RefCell;
use std::collections::BTreeMap;

use vmbus::ring::{ControlField, RingMemory};

const PAGE: usize = 4096;

/// One ring in its own buffer: a control page and `data_pages` pages.
pub struct FlatRing {
    control: RefCell<Vec<u8>>,
    data: RefCell<Vec<u8>>,
}

impl FlatRing {
    pub fn new(data_pages: usize) -> Self {
        Self {
            control: RefCell::new(vec![0; PAGE]),
            data: RefCell::new(vec![0; data_pages * PAGE]),
        }
    }

    /// Raw access for a guest that misbehaves.
    pub fn poke_control(&self, field: ControlField, value: u32) {
        let at = field.offset();
        self.control.borrow_mut()[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    pub fn poke_data(&self, offset: usize, bytes: &[u8]) {
        let mut data = self.data.borrow_mut();
        let len = data.len();
        for (i, &b) in bytes.iter().enumerate() {
            data[(offset + i) % len] = b;
        }
    }

    pub fn peek_data(&self, offset: usize, len: usize) -> Vec<u8> {
        let data = self.data.borrow();
        let size = data.len();
        (0..len).map(|i| data[(offset + i) % size]).collect()
    }
}

impl RingMemory for &FlatRing {
    fn data_len(&self) -> u32 {
        self.data.borrow().len() as u32
    }

    fn load(&self, field: ControlField) -> u32 {
        let at = field.offset();
        let control = self.control.borrow();
        u32::from_le_bytes(control[at..at + 4].try_into().unwrap())
    }

    fn store(&self, field: ControlField, value: u32) {
        self.poke_control(field, value);
    }

    fn read_data(&self, offset: u32, buf: &mut [u8]) {
        let data = self.data.borrow();
        let end = offset as usize + buf.len();
        assert!(end <= data.len(), "read outside the ring: {offset}+{}", buf.len());
        buf.copy_from_slice(&data[offset as usize..end]);
    }

    fn write_data(&self, offset: u32, bytes: &[u8]) {
        let mut data = self.data.borrow_mut();
        let end = offset as usize + bytes.len();
        assert!(end <= data.len(), "write outside the ring: {offset}+{}", bytes.len());
        data[offset as usize..end].copy_from_slice(bytes);
    }
}

/// A partition's RAM, page by page (pages appear when first touched).
#[derive(Default)]
pub struct GuestMemory {
    pages: RefCell<BTreeMap<u64, Vec<u8>>>,
}

impl GuestMemory {
    pub fn read(&self, pfn: u64, offset: usize, buf: &mut [u8]) {
        let mut pages = self.pages.borrow_mut();
        let page = pages.entry(pfn).or_insert_with(|| vec![0; PAGE]);
        buf.copy_from_slice(&page[offset..offset + buf.len()]);
    }

    pub fn write(&self, pfn: u64, offset: usize, bytes: &[u8]) {
        let mut pages = self.pages.borrow_mut();
        let page = pages.entry(pfn).or_insert_with(|| vec![0; PAGE]);
        page[offset..offset + bytes.len()].copy_from_slice(bytes);
    }
}

/// A ring over guest pages, as a memory window maps them: `pages[0]` is the
/// control page, the rest the data area in order.
pub struct PagedRing<'a> {
    pub memory: &'a GuestMemory,
    pub pages: Vec<u64>,
}

impl PagedRing<'_> {
    fn each_page(&self, offset: u32, len: usize, mut f: impl FnMut(u64, usize, std::ops::Range<usize>)) {
        let data_len = (self.pages.len() - 1) * PAGE;
        assert!(offset as usize + len <= data_len, "access outside the ring: {offset}+{len}");
        let mut done = 0;
        while done < len {
            let at = offset as usize + done;
            let in_page = at % PAGE;
            let n = (PAGE - in_page).min(len - done);
            f(self.pages[1 + at / PAGE], in_page, done..done + n);
            done += n;
        }
    }
}

impl RingMemory for &PagedRing<'_> {
    fn data_len(&self) -> u32 {
        ((self.pages.len() - 1) * PAGE) as u32
    }

    fn load(&self, field: ControlField) -> u32 {
        let mut word = [0; 4];
        self.memory.read(self.pages[0], field.offset(), &mut word);
        u32::from_le_bytes(word)
    }

    fn store(&self, field: ControlField, value: u32) {
        self.memory.write(self.pages[0], field.offset(), &value.to_le_bytes());
    }

    fn read_data(&self, offset: u32, buf: &mut [u8]) {
        self.each_page(offset, buf.len(), |pfn, at, range| {
            self.memory.read(pfn, at, &mut buf[range]);
        });
    }

    fn write_data(&self, offset: u32, bytes: &[u8]) {
        self.each_page(offset, bytes.len(), |pfn, at, range| {
            self.memory.write(pfn, at, &bytes[range]);
        });
    }
}
