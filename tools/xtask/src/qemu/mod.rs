//! QEMU: which accelerator, which command line, and running it to a verdict.

pub mod accel;
pub mod command;
pub mod parent_death;
pub mod process;
pub mod progress;
pub mod script;
pub mod status;
