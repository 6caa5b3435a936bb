//! Starting the deployment: the kernel loads only `init`, the initial
//! component, and gives it what it needs to build the rest from the boot
//! plan — the boot modules (read-only), a quota holding the deployment's
//! whole component memory, the console (output and input) and the verdict —
//! and nothing else.
//!
//! Modules: 0 is the boot plan, 1..=n the images it names, and the last one
//! is `init`. Ring 0 reads only the plan's header (`PlanHeader`: framing,
//! checksum, module count, component memory, name), to check that the
//! modules match and to size init's quota; init parses and validates the
//! whole plan — components, partitions, their Hv#1 configurations — in ring
//! 3, where a flaw in that code cannot take the kernel down.
pub mod elf;

use crate::acpi_tables::Cpu;
use crate::exit;
use crate::memory;
use crate::memory::address_space::PageRights;
use crate::state::Kernel;
use core::fmt::Display;
use tessera_abi::{STACK_SIZE, STACK_TOP, init, slot};
use tessera_boot_info::{BootInfo, Module};
use tessera_boot_plan::PlanHeader;
use tessera_capability::{DomainId, Object, Rights, SlotAddr};

/// What init itself may use beyond the components' memory: its image,
/// stack, message buffer, heap and its copy of the modules are charged to it.
const INIT_OWN_QUOTA: u64 = 4 << 20;
const INIT_NAME: &str = "init";
const PAGE: u64 = 4096;

fn fail(what: impl Display) -> ! {
    exit::fatal(format_args!("deployment: {what}"))
}

fn module_bytes(module: &Module) -> &'static [u8] {
    let len = (module.end - module.start) as usize;
    memory::physical_slice(module.start, len).unwrap_or_else(|| {
        fail(format_args!(
            "module {:?} at {:#x}..{:#x} lies outside physical memory",
            module.command_line.as_str(),
            module.start,
            module.end
        ))
    })
}

fn module_name(module: &Module) -> &str {
    module
        .command_line
        .split_ascii_whitespace()
        .last()
        .unwrap_or("")
}

/// The deployment the boot modules describe, with `init` ready to run, or
/// `None` when there are no modules (the kernel alone).
pub fn build(boot_info: &BootInfo, cpus: &[Cpu]) -> Option<Kernel> {
    let modules = &boot_info.modules;
    let plan_module = modules.first()?;
    let plan = PlanHeader::parse(module_bytes(plan_module))
        .unwrap_or_else(|error| fail(format_args!("the boot plan (module 0) is invalid: {error}")));
    let init_module = modules
        .last()
        .filter(|module| module_name(module) == INIT_NAME);
    let Some(init_module) = init_module else {
        fail("the last boot module must be init, the component that builds the deployment")
    };
    if usize::from(plan.module_count()) + 1 != modules.len() {
        fail(format_args!(
            "the boot plan names {} modules, plus init that makes {}, but the boot loader passed {}",
            plan.module_count(),
            usize::from(plan.module_count()) + 1,
            modules.len()
        ));
    }
    let mut kernel = Kernel::new(cpus.len());
    for (index, cpu) in cpus.iter().enumerate() {
        kernel.sched.set_apic_id(index, cpu.apic_id);
    }
    let quota = plan.component_memory().saturating_add(INIT_OWN_QUOTA);
    let domain = kernel
        .create_domain(INIT_NAME, quota, None)
        .unwrap_or_else(|status| {
            fail(format_args!(
                "init: cannot make its domain (status {status:#x})"
            ))
        });
    let entry = {
        let Kernel { caps, domains, .. } = &mut kernel;
        let Some(record) = domains.get_mut(domain) else {
            fail("init: its domain is gone")
        };
        let mut charged = crate::memory::charged::Charged::to(caps, record.cspace);
        elf::load(module_bytes(init_module), &mut record.space, &mut charged)
            .unwrap_or_else(|error| fail(format_args!("init: {error}")))
    };
    let stack = PageRights {
        writable: true,
        executable: false,
    };
    kernel
        .map_pages(domain, STACK_TOP - STACK_SIZE, STACK_SIZE / PAGE, stack)
        .unwrap_or_else(|status| {
            fail(format_args!(
                "init: no room for its stack (status {status:#x})"
            ))
        });
    give_modules(&mut kernel, domain, modules);
    let thread = kernel
        .create_thread(domain, entry, STACK_TOP, init::PRIORITY, (0, 0))
        .unwrap_or_else(|status| {
            fail(format_args!(
                "init: cannot make its thread (status {status:#x})"
            ))
        });

    let cspace = kernel.cspace_of(thread);
    let grants = [
        (slot::DOMAIN, Object::Domain(domain), Rights::CONTROL),
        (slot::THREAD, Object::Thread(thread), Rights::CONTROL),
        // READ: what is typed on the console, for init to hand on.
        (slot::CONSOLE, Object::Console, Rights::WRITE | Rights::READ),
        (slot::VERDICT, Object::Verdict, Rights::WRITE),
    ];
    for (selector, object, rights) in grants {
        kernel
            .caps
            .create_object(
                SlotAddr::new(cspace, selector),
                object,
                rights | Rights::GENERIC,
                0,
            )
            .unwrap_or_else(|error| fail(format_args!("init: {error}")));
    }
    log::info!(
        "boot plan {:?}: {} components, built by init",
        plan.name(),
        plan.claimed_component_count()
    );
    kernel.thread(thread).started = true;
    kernel.wake(thread);
    Some(kernel)
}

/// Copies every module into init's space, read-only, and describes them in
/// its boot-information page (ABI: `tessera_abi::init`).
fn give_modules(kernel: &mut Kernel, domain: DomainId, modules: &[Module]) {
    let read_only = PageRights {
        writable: false,
        executable: false,
    };
    let mut info = alloc::vec![init::MAGIC, modules.len() as u64];
    let mut address = init::MODULES_BASE;
    for module in modules {
        let bytes = module_bytes(module);
        let pages = (bytes.len() as u64).div_ceil(PAGE).max(1);
        kernel
            .map_pages(domain, address, pages, read_only)
            .and_then(|()| kernel.write_into(domain, address, bytes))
            .unwrap_or_else(|status| {
                fail(format_args!(
                    "init: no room for the modules (status {status:#x})"
                ))
            });
        let mut name = [0u8; 32];
        let text = module_name(module).as_bytes();
        name[..text.len().min(32)].copy_from_slice(&text[..text.len().min(32)]);
        info.push(address);
        info.push(bytes.len() as u64);
        info.extend(
            name.chunks(8)
                .map(|word| u64::from_le_bytes(word.try_into().expect("8 bytes"))),
        );
        address += pages * PAGE;
    }
    assert!(
        info.len() * 8 <= PAGE as usize,
        "32 modules fit the boot page"
    );
    let info_bytes: alloc::vec::Vec<u8> = info.iter().flat_map(|word| word.to_le_bytes()).collect();
    kernel
        .map_pages(domain, init::BOOT_INFO_ADDRESS, 1, read_only)
        .and_then(|()| kernel.write_into(domain, init::BOOT_INFO_ADDRESS, &info_bytes))
        .unwrap_or_else(|status| {
            fail(format_args!(
                "init: no room for its boot page (status {status:#x})"
            ))
        });
}
