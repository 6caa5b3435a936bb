//! The Tessera microkernel.
//!
//! At this stage the kernel brings the machine up: it reads the boot
//! information, takes over memory with its own page tables, starts every CPU
//! and enables SVM on each, then reports and ends the run. Policy (what runs,
//! which partitions exist) belongs to components and the manifest, not here.
#![no_std]
#![no_main]

#[cfg(not(target_os = "none"))]
compile_error!("the kernel runs on bare metal: build it with `cargo xtask build`");

extern crate alloc;

mod acpi_tables;
mod arch;
mod audit;
mod boot;
mod component_timers;
mod console;
mod console_input;
mod construct;
mod domains;
mod exit;
mod fault_injection;
mod ipc_glue;
mod loader;
mod memory;
mod panic;
mod percpu;
mod regions;
mod sched;
mod smp;
mod state;
mod svm;
mod syscall;
mod tlb;
mod unreachable_domains;
mod vm;

use log::info;
use spin::Once;
use tessera_boot_info::{BootInfo, BootProtocol, MemoryKind};

static BOOT_INFO: Once<BootInfo> = Once::new();

/// What the boot loader told the kernel (read-only after boot).
pub fn boot_info() -> &'static BootInfo {
    BOOT_INFO
        .get()
        .expect("boot information parsed in kernel_start")
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The bootstrap processor's path from the boot loader to the verdict.
fn bootstrap(boot_info: BootInfo) -> ! {
    let boot_info = BOOT_INFO.call_once(|| boot_info);
    let protocol = match boot_info.protocol {
        BootProtocol::Multiboot1 => "multiboot1",
        BootProtocol::Multiboot2 => "multiboot2",
    };
    info!("Tessera {VERSION} booting via {protocol}");
    info!("command line: {}", boot_info.command_line.as_str());
    log_memory_map(boot_info);

    memory::init(boot_info);
    percpu::init_bootstrap_processor();

    let svm = svm::require_and_enable();
    info!("svm: {svm}");

    let cpus = acpi_tables::find_cpus(boot_info.rsdp).unwrap_or_else(|error| {
        exit::fatal(format_args!(
            "cannot enumerate CPUs from the ACPI MADT: {error:?}"
        ))
    });
    let online = smp::start_application_processors(&cpus, boot_info.rsdp);
    info!("smp: {online} of {} cpus online", cpus.len());
    info!(
        "svm: enabled on {} of {} cpus",
        svm::enabled_cpus(),
        cpus.len()
    );
    if online != cpus.len() {
        exit::fatal(format_args!(
            "{} cpus did not come online",
            cpus.len() - online
        ));
    }
    if boot::options().inject_nmis {
        arch::host_events::inject_nmis();
    }
    if boot::options().exit_stats {
        vm::exit_stats::enable();
    }
    if let Some(fault) = boot::options().inject_fault {
        fault_injection::raise(fault);
    }
    audit::note_boot_frames();
    match loader::build(boot_info, &cpus) {
        // The kernel alone: bring-up was the whole deployment.
        None => exit::finish(exit::Verdict::Pass),
        Some(kernel) => {
            console_input::start(boot_info.rsdp, cpus[0].apic_id);
            *state::KERNEL.lock() = Some(kernel);
            smp::wake_all();
            sched::start(0)
        }
    }
}

fn log_memory_map(boot_info: &BootInfo) {
    info!("memory map:");
    let mut usable = 0;
    for region in &boot_info.memory_map {
        let kind = match region.kind {
            MemoryKind::Usable => "usable",
            MemoryKind::Reserved => "reserved",
            MemoryKind::AcpiReclaimable => "acpi reclaimable",
            MemoryKind::AcpiNvs => "acpi nvs",
            MemoryKind::Defective => "defective",
        };
        if region.kind == MemoryKind::Usable {
            usable += region.end - region.start;
        }
        info!("  [{:#014x}-{:#014x}) {kind}", region.start, region.end);
    }
    info!("memory: {} KiB usable", usable / 1024);
}
