//! Port I/O.
//!
//! These are safe functions because of where the guests run: in a Tessera
//! partition a port reaches an emulated device or nothing at all, and none
//! of those devices can write guest memory (no DMA), so an access cannot
//! break what the Rust compiler assumes about memory. Ending the partition
//! through the exit port is an outcome, not a safety problem.
#![allow(unsafe_code)]

use core::arch::asm;

/// The size of an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    Byte,
    Word,
    Dword,
}

impl Width {
    pub const ALL: [Self; 3] = [Self::Byte, Self::Word, Self::Dword];

    #[must_use]
    pub const fn bits(self) -> u32 {
        match self {
            Self::Byte => 8,
            Self::Word => 16,
            Self::Dword => 32,
        }
    }

    /// The value with every bit of this width set.
    #[must_use]
    pub const fn all_ones(self) -> u32 {
        match self {
            Self::Byte => 0xFF,
            Self::Word => 0xFFFF,
            Self::Dword => 0xFFFF_FFFF,
        }
    }
}

#[must_use]
pub fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: see the module documentation; the access touches no memory.
    unsafe {
        asm!("in al, dx", out("al") value, in("dx") port, options(nomem, nostack, preserves_flags))
    };
    value
}

#[must_use]
pub fn inw(port: u16) -> u16 {
    let value: u16;
    // SAFETY: see the module documentation; the access touches no memory.
    unsafe {
        asm!("in ax, dx", out("ax") value, in("dx") port, options(nomem, nostack, preserves_flags))
    };
    value
}

#[must_use]
pub fn inl(port: u16) -> u32 {
    let value: u32;
    // SAFETY: see the module documentation; the access touches no memory.
    unsafe {
        asm!("in eax, dx", out("eax") value, in("dx") port, options(nomem, nostack, preserves_flags))
    };
    value
}

pub fn outb(port: u16, value: u8) {
    // SAFETY: see the module documentation; the access touches no memory.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    };
}

pub fn outw(port: u16, value: u16) {
    // SAFETY: see the module documentation; the access touches no memory.
    unsafe {
        asm!("out dx, ax", in("dx") port, in("ax") value, options(nomem, nostack, preserves_flags))
    };
}

pub fn outl(port: u16, value: u32) {
    // SAFETY: see the module documentation; the access touches no memory.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags))
    };
}

/// Reads `port` with an access of `width`, zero-extended.
#[must_use]
pub fn read(width: Width, port: u16) -> u32 {
    match width {
        Width::Byte => u32::from(inb(port)),
        Width::Word => u32::from(inw(port)),
        Width::Dword => inl(port),
    }
}

/// Writes the low `width` bits of `value` to `port`.
pub fn write(width: Width, port: u16, value: u32) {
    match width {
        Width::Byte => outb(port, value as u8),
        Width::Word => outw(port, value as u16),
        Width::Dword => outl(port, value),
    }
}

/// Executes `in` of `width` with RAX = `rax` beforehand and returns all of
/// RAX afterwards. The architecture says an 8- or 16-bit `in` leaves the
/// rest of RAX alone and a 32-bit one zeroes bits 63:32 (like every 32-bit
/// register write): a hypervisor emulating `in` must merge its result the
/// same way.
#[must_use]
pub fn read_into_rax(width: Width, port: u16, rax: u64) -> u64 {
    let mut rax = rax;
    // SAFETY: see the module documentation; the access touches no memory.
    unsafe {
        match width {
            Width::Byte => {
                asm!("in al, dx", inout("rax") rax, in("dx") port, options(nomem, nostack, preserves_flags))
            }
            Width::Word => {
                asm!("in ax, dx", inout("rax") rax, in("dx") port, options(nomem, nostack, preserves_flags))
            }
            Width::Dword => {
                asm!("in eax, dx", inout("rax") rax, in("dx") port, options(nomem, nostack, preserves_flags))
            }
        }
    }
    rax
}
