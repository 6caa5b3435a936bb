//! Guest image loading for partitions: computes *what* to write into a
//! partition's guest-physical memory and the first virtual processor's
//! initial register state. Pure: no hardware access, no memory access of its
//! own — the partition manager applies the resulting [`LoadPlan`].
//!
//! Three loaders:
//!
//! - [`load_elf64`]: a static x86-64 `ET_EXEC` image, entered in 64-bit long
//!   mode with an identity map of the guest's RAM (2 MiB pages), a flat GDT
//!   and a small stack, all at the top of RAM (see [`elf64`]).
//! - [`load_multiboot`]: a Multiboot (version 1, spec 0.6.96) kernel,
//!   entered the way QEMU's `-kernel … -append … -initrd …` enters it:
//!   32-bit protected mode, paging off, `EAX = 0x2BADB002`, `EBX` = the
//!   Multiboot information structure (see [`multiboot`]).
//! - [`load_linux`]: a Linux bzImage (boot protocol 2.12+) with its command
//!   line, initrd and the partition's ACPI tables, entered on the 64-bit
//!   path: long mode, `RSI` = the zero page (see [`linux`]).
//!
//! Guest images are untrusted: every address, size and offset read from them
//! is checked; no input makes the loaders panic. Every byte of the plan lies
//! inside guest RAM ([`GuestMemory`]) and no two pieces of the plan overlap,
//! so the writes and zero fills can be applied in any order.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod elf64;
mod error;
pub mod linux;
mod long_mode;
pub mod multiboot;
mod plan;
mod state;

pub use elf64::load_elf64;
pub use error::Error;
pub use linux::{LinuxBoot, LinuxLayout, load_linux};
pub use multiboot::{Module, load_multiboot};
pub use plan::{GuestMemory, LoadPlan, Piece, Write, ZeroFill};
pub use state::{
    CODE_SELECTOR, DATA_SELECTOR, DescriptorTable, InitialVpState, Segment, attributes,
};
/// The ACPI tables a Linux guest gets (re-exported for the loader's callers).
pub use tessera_acpi_tables as acpi;

/// Size of a small page.
pub(crate) const PAGE: u64 = 0x1000;

/// Rounds `value` up to a multiple of `align` (a power of two); `None` on
/// overflow.
pub(crate) fn align_up(value: u64, align: u64) -> Option<u64> {
    Some(value.checked_add(align - 1)? & !(align - 1))
}
