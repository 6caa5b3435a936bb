//! Running a few instructions at CPL 3, to see what `vmmcall` does there
//! (TLFS md `hypercall-interface.md` § Legal Hypercall Environments: #UD).
//!
//! The loader's GDT has no user segments and there is no TSS, so a session
//! copies the GDT (same selectors: the IDT's gates keep working), adds a
//! 64-bit user code segment, a user data segment and a TSS whose RSP0 is a
//! stack of this module, and loads it. [`run`] enters ring 3 with `iretq`;
//! the code must end in an exception, which [`trap`](crate::trap) turns
//! into a return to the caller at CPL 0. [`Session::end`] puts the loader's
//! GDT back (the framework finds its free RAM by it).
#![allow(unsafe_code)]

use core::arch::asm;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use tessera_guest_framework::{Caught, cpu};

use crate::trap::{guarded, guarded_asm};

const GDT_ENTRIES: usize = 64;

#[repr(C, align(16))]
struct Gdt([AtomicU64; GDT_ENTRIES]);
static GDT: Gdt = Gdt([const { AtomicU64::new(0) }; GDT_ENTRIES]);

/// The 104-byte 64-bit TSS as 26 words (RSP0 is at byte 4, unaligned).
#[repr(C, align(16))]
struct Tss([AtomicU32; 26]);
static TSS: Tss = Tss([const { AtomicU32::new(0) }; 26]);

/// The stack exceptions from ring 3 arrive on (TSS.RSP0).
#[repr(C, align(16))]
struct Ring0Stack([u8; 16 * 1024]);
static mut RING0_STACK: Ring0Stack = Ring0Stack([0; 16 * 1024]);

/// Data segment: present, DPL 3, writable.
const USER_DATA: u64 = 0x00CF_F200_0000_FFFF;
/// Code segment: present, DPL 3, execute/read, L (64-bit).
const USER_CODE: u64 = 0x00AF_FA00_0000_FFFF;
/// RFLAGS in ring 3: only the always-one bit 1 (interrupts off, IOPL 0).
const USER_RFLAGS: u64 = 0x2;

/// A loaded GDT with user segments and a TSS.
#[derive(Debug)]
pub struct Session {
    loader_gdt: cpu::DescriptorTable,
    user_code: u16,
    user_data: u16,
}

impl Session {
    /// Builds and loads the GDT and TSS. `Err` says why not.
    pub fn begin() -> Result<Self, &'static str> {
        let loader_gdt = cpu::gdtr();
        let entries = (usize::from(loader_gdt.limit) + 1) / 8;
        if entries + 4 > GDT_ENTRIES {
            return Err("the loader's GDT is too large to extend here");
        }
        for index in 0..entries {
            let address = loader_gdt.base + 8 * index as u64;
            // SAFETY: the loader's GDT lies in RAM, identity mapped; read as
            // plain memory.
            let descriptor = unsafe {
                core::ptr::with_exposed_provenance::<u64>(address as usize).read_volatile()
            };
            GDT.0[index].store(descriptor, Ordering::Relaxed);
        }
        let user_data = entries;
        let user_code = entries + 1;
        let tss = entries + 2;
        GDT.0[user_data].store(USER_DATA, Ordering::Relaxed);
        GDT.0[user_code].store(USER_CODE, Ordering::Relaxed);

        let stack_top = (&raw const RING0_STACK as u64) + size_of::<Ring0Stack>() as u64;
        for word in &TSS.0 {
            word.store(0, Ordering::Relaxed);
        }
        TSS.0[1].store(stack_top as u32, Ordering::Relaxed);
        TSS.0[2].store((stack_top >> 32) as u32, Ordering::Relaxed);
        // I/O map base (bytes 102-103) past the limit: no I/O bitmap.
        TSS.0[25].store(104 << 16, Ordering::Relaxed);
        let base = &raw const TSS as u64;
        let limit = 103u64;
        // Present, DPL 0, type 9 (available 64-bit TSS).
        let low = (limit & 0xFFFF)
            | ((base & 0xFF_FFFF) << 16)
            | (0x89 << 40)
            | (((limit >> 16) & 0xF) << 48)
            | (((base >> 24) & 0xFF) << 56);
        GDT.0[tss].store(low, Ordering::Relaxed);
        GDT.0[tss + 1].store(base >> 32, Ordering::Relaxed);

        load_gdt(&raw const GDT as u64, ((tss + 2) * 8 - 1) as u16);
        // SAFETY: the selector names the TSS descriptor just written.
        unsafe { asm!("ltr {0:x}", in(reg) (tss * 8) as u16, options(nostack, preserves_flags)) };
        Ok(Self {
            loader_gdt,
            user_code: (user_code * 8) as u16 | 3,
            user_data: (user_data * 8) as u16 | 3,
        })
    }

    /// Runs the code at `rip` in ring 3 with RSP `rsp` and RCX `rcx` (both
    /// user-mapped) until it raises #UD, #GP or #PF, and returns that.
    /// `Ok` would mean it returned to ring 0 some other way, which the
    /// code given never does.
    pub fn run(&self, rip: u64, rsp: u64, rcx: u64) -> Result<(), Caught> {
        let (cs, ss) = (u64::from(self.user_code), u64::from(self.user_data));
        guarded(|| {
            // `iretq` enters ring 3 at user-mapped code that ends in
            // an exception; the trap stubs return here with this block's
            // stack pointer and the kernel's CS and SS. Registers other
            // than RCX are garbage for the user code and declared clobbered.
            // SAFETY: by the argument just above.
            unsafe {
                guarded_asm!(
                    "push {ss}",
                    "push {user_rsp}",
                    "push {rflags}",
                    "push {cs}",
                    "push {rip}",
                    "iretq";
                    ss = in(reg) ss,
                    user_rsp = in(reg) rsp,
                    rflags = in(reg) USER_RFLAGS,
                    cs = in(reg) cs,
                    rip = in(reg) rip,
                    inout("rcx") rcx => _,
                    clobber_abi("sysv64"),
                );
            }
        })
    }

    /// Loads the loader's GDT again. (TR keeps this module's TSS, which no
    /// CPL 0 exception needs.)
    pub fn end(self) {
        load_gdt(self.loader_gdt.base, self.loader_gdt.limit);
    }
}

fn load_gdt(base: u64, limit: u16) {
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let pointer = Pointer { limit, base };
    // SAFETY: both tables hold the loader's descriptors at the loader's
    // indices, so CS, SS and the IDT's gate selector stay valid.
    unsafe {
        asm!("lgdt [{}]", in(reg) &raw const pointer, options(readonly, nostack, preserves_flags));
    }
}
