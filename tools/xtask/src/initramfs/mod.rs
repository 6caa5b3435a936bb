//! Initramfs images: a tree of files (`tree`) written as a newc cpio
//! archive (`cpio`), filled with busybox (`busybox`), host programs and
//! their libraries (`host_program`) and kernel modules from a Debian kernel
//! package (`kernel_modules`).

pub mod busybox;
pub mod cpio;
pub mod host_program;
pub mod kernel_modules;
pub mod tree;

pub use tree::{Initramfs, Source};
