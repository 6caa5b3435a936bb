//! The Multiboot header and the 32-bit entry, in assembly.
#![allow(unsafe_code)]

use core::arch::global_asm;

// SAFETY: data only: the header that loaders look for.
global_asm!(include_str!("header.s"), options(att_syntax));

// SAFETY: the entry runs before any Rust code, on its own stack and page
// tables in the bss, and calls `multiboot_main` with the System V ABI it is
// declared with (aligned stack, magic and MBI address as 32-bit arguments).
global_asm!(
    include_str!("entry32.s"),
    main = sym crate::multiboot_main,
    options(att_syntax)
);
