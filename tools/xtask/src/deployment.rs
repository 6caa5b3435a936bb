//! What gets booted: the kernel command line, the Multiboot2 modules, and the
//! machine it runs on. Manifests will produce these; for now there is one.

use std::path::PathBuf;

/// A Multiboot2 module GRUB loads next to the kernel, as `/boot/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The file name in the image, also passed to the kernel as the module's string.
    pub name: String,
    /// The file on the host.
    pub source: PathBuf,
}

/// A bootable composition of Tessera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Names the ISO (`<target>/tessera/<name>.iso`).
    pub name: String,
    /// The kernel command line.
    pub cmdline: String,
    pub modules: Vec<Module>,
    /// CPUs of the virtual machine.
    pub smp: u32,
    /// Memory of the virtual machine, in MiB.
    pub memory_mib: u32,
}

impl Deployment {
    /// The kernel alone, logging at `info`, exiting through isa-debug-exit at 0xf4.
    pub fn default_deployment() -> Self {
        Self {
            name: "default".into(),
            cmdline: "log=info debug-exit=0xf4".into(),
            modules: Vec::new(),
            smp: 4,
            memory_mib: 256,
        }
    }
}
