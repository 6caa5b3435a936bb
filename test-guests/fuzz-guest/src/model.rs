//! What the guest expects of its partition: the Hv#1 overlay pages as its
//! synthetic MSRs say they are, what its pool pages must show, the probe
//! device's registers, and which GPAs are its RAM.
//!
//! Overlay pages (TLFS md `hypercall-interface.md` § Establishing the
//! Hypercall Interface; `vp-properties.md` § VP Assist Page) are laid over
//! a GPA and hide what is there; removing one shows the RAM page again,
//! unchanged. With two at one GPA one of them shows (the TLFS does not say
//! which), and removing it shows the other: RAM shows only where no
//! overlay is enabled.
use tessera_fuzz::guest::pool_word;
use tessera_guest_framework::cpu;

use crate::machine;

pub const PAGE: u64 = 4096;

/// The synthetic MSRs behind the overlays.
pub mod msr {
    pub const GUEST_OS_ID: u32 = 0x4000_0000;
    pub const HYPERCALL: u32 = 0x4000_0001;
    pub const VP_INDEX: u32 = 0x4000_0002;
    pub const RESET: u32 = 0x4000_0003;
    pub const TIME_REF_COUNT: u32 = 0x4000_0020;
    pub const VP_ASSIST_PAGE: u32 = 0x4000_0073;
    pub const CRASH_CTL: u32 = 0x4000_0105;
}

/// The overlay MSRs as read back from the hypervisor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overlays {
    pub guest_os_id: u64,
    pub hypercall: u64,
    pub assist: u64,
}

impl Overlays {
    /// Reads the three MSRs (a #GP reads as 0: no Hv#1 interface).
    pub fn read() -> Self {
        let read = |msr| cpu::rdmsr(msr).unwrap_or(0);
        Self {
            guest_os_id: read(msr::GUEST_OS_ID),
            hypercall: read(msr::HYPERCALL),
            assist: read(msr::VP_ASSIST_PAGE),
        }
    }

    /// The hypercall page's GPA, if it is enabled (bit 0; a non-zero guest
    /// OS ID is its precondition).
    pub fn hypercall_page(&self) -> Option<u64> {
        (self.guest_os_id != 0 && self.hypercall & 1 != 0).then_some(self.hypercall & !0xFFF)
    }

    /// The VP assist page's GPA, if it is enabled.
    pub fn assist_page(&self) -> Option<u64> {
        (self.assist & 1 != 0).then_some(self.assist & !0xFFF)
    }

    /// Whether an overlay is enabled at the page `gpa`.
    pub fn covers(&self, gpa: u64) -> bool {
        let page = gpa & !0xFFF;
        self.hypercall_page() == Some(page) || self.assist_page() == Some(page)
    }

    /// Whether hypercalls may be made (the hypercall page is enabled).
    pub fn hypercalls_enabled(&self) -> bool {
        self.hypercall_page().is_some()
    }
}

/// The guest's own memory: pages in free RAM for overlays to land on, the
/// hypercall parameters, and generated code.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// RAM is `0..ram_top`.
    pub ram_top: u64,
    pub pool: u64,
    pub scratch: u64,
    pub code: u64,
}

/// Pages in the overlay pool.
pub const POOL_PAGES: u64 = 8;
/// Scratch pages: hypercall input, output, and string I/O.
pub const SCRATCH_PAGES: u64 = 3;

impl Layout {
    /// Carves the pages out of free RAM starting at `free`.
    pub fn at(free: u64, ram_top: u64) -> Self {
        let pool = free.next_multiple_of(PAGE);
        let scratch = pool + POOL_PAGES * PAGE;
        let code = scratch + SCRATCH_PAGES * PAGE;
        Self {
            ram_top,
            pool,
            scratch,
            code,
        }
    }

    /// Where the layout ends.
    pub fn end(&self) -> u64 {
        self.code + PAGE
    }

    pub fn pool_page(&self, index: u64) -> u64 {
        self.pool + (index % POOL_PAGES) * PAGE
    }

    pub fn in_pool(&self, gpa: u64) -> bool {
        (self.pool..self.pool + POOL_PAGES * PAGE).contains(&gpa)
    }

    /// Whether `gpa` is plain RAM the guest owns outside its pool: a
    /// hypercall's parameters there can always be read and written.
    pub fn plain_ram(&self, gpa: u64) -> bool {
        gpa < self.ram_top && !self.in_pool(gpa)
    }

    /// Writes the pool's RAM pattern into the pages no overlay covers
    /// (guarded: a page the MSRs call RAM may be the read-only hypercall
    /// page after all, when the hypervisor got them wrong).
    pub fn fill_pool(&self, overlays: &Overlays) {
        for page in 0..POOL_PAGES {
            let base = self.pool_page(page);
            if overlays.covers(base) {
                continue;
            }
            for index in 0..PAGE / 8 {
                if machine::write_guarded(base + index * 8, pool_word(base, index)).is_err() {
                    break;
                }
            }
        }
    }

    /// Checks every pool page against `overlays`: where an overlay is
    /// enabled the RAM pattern must not show through; elsewhere the page
    /// must hold its pattern, every word of it.
    pub fn check_pool(&self, overlays: &Overlays) -> Result<(), (u64, &'static str)> {
        for page in 0..POOL_PAGES {
            let base = self.pool_page(page);
            let ram = |index: u64| machine::read(base + index * 8) == pool_word(base, index);
            if overlays.covers(base) {
                if ram(0) && ram(PAGE / 8 - 1) {
                    return Err((
                        base,
                        "shows its RAM page although an overlay is enabled there",
                    ));
                }
            } else if let Some(index) = (0..PAGE / 8).find(|&i| !ram(i)) {
                return Err((
                    base + index * 8,
                    "lost its RAM contents (no overlay is enabled there)",
                ));
            }
        }
        Ok(())
    }
}

/// The fuzz host's copy of the probe device's 64-bit MMIO scratch register.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProbeMmio {
    pub scratch: u64,
}

/// The low `size` bytes.
pub fn mask(size: u8) -> u64 {
    match size {
        8 => u64::MAX,
        size => (1u64 << (u64::from(size) * 8)) - 1,
    }
}

/// RAX after a `mov` of `size` bytes loading `value` into it (AMD64 APM
/// vol. 1, 3.1.2.3: 32-bit results zero-extend, 8- and 16-bit ones keep
/// the rest).
pub fn merged(rax: u64, value: u64, size: u8) -> u64 {
    match size {
        4 => value & mask(4),
        8 => value,
        size => (rax & !mask(size)) | (value & mask(size)),
    }
}
