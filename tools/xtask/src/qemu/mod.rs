//! QEMU: which accelerator, which command line, and running it to a verdict.

pub mod accel;
pub mod command;
pub mod process;
pub mod status;
