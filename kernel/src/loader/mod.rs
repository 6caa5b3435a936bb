//! Building the deployment from the boot plan: one protection domain per
//! component, its image loaded, its first thread ready, its endpoints made
//! and the capabilities the plan grants installed — nothing more.
//!
//! Module 0 is the plan (`tessera-boot-plan`, re-validated here in full,
//! since it reaches the kernel as untrusted bytes); module i + 1 is image i.
pub mod elf;

use crate::acpi_tables::Cpu;
use crate::arch::user_context::UserContext;
use crate::memory::address_space::{AddressSpace, PageRights};
use crate::state::{Domain, Kernel, Thread};
use crate::{exit, memory};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Display;
use tessera_abi::{CSPACE_SLOTS, MESSAGE_BUFFER_ADDRESS, STACK_SIZE, STACK_TOP, slot};
use tessera_boot_info::{BootInfo, Module};
use tessera_boot_plan::{BootPlan, EndpointKind, GrantKind};
use tessera_capability::{Badge, DomainId, Object, Rights, SlotAddr, ThreadId};

/// Kernel memory an endpoint or notification costs its owner's quota.
const IPC_OBJECT_BYTES: u64 = 64;

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

/// The deployment the boot modules describe, or `None` when there are no
/// modules (the kernel alone).
pub fn build(boot_info: &BootInfo, cpus: &[Cpu]) -> Option<Kernel> {
    let plan_module = boot_info.modules.first()?;
    let plan = BootPlan::parse(module_bytes(plan_module))
        .unwrap_or_else(|error| fail(format_args!("the boot plan (module 0) is invalid: {error}")));
    if usize::from(plan.module_count()) != boot_info.modules.len() {
        fail(format_args!(
            "the boot plan names {} modules but the boot loader passed {}",
            plan.module_count(),
            boot_info.modules.len()
        ));
    }
    log::info!(
        "boot plan {:?}: {} components",
        plan.name(),
        plan.component_count()
    );
    if usize::from(plan.cpu_count()) > cpus.len() {
        log::warn!(
            "boot plan expects {} cpus, the machine has {}: components pinned to missing cpus run on cpu 0",
            plan.cpu_count(),
            cpus.len()
        );
    }
    let mut kernel = Kernel::new(cpus.len());
    for (index, cpu) in cpus.iter().enumerate() {
        kernel.sched.set_apic_id(index, cpu.apic_id);
    }
    let threads: Vec<ThreadId> = plan
        .components()
        .map(|component| {
            create_component(
                &mut kernel,
                &plan,
                &boot_info.modules,
                component,
                cpus.len(),
            )
        })
        .collect();
    create_endpoints(&mut kernel, &plan);
    install_grants(&mut kernel, &plan);
    for (component, thread) in plan.components().zip(&threads) {
        let record = &kernel.threads[thread];
        log::info!(
            "component {}: started (domain {}, priority {}, cpu {})",
            component.name,
            record.domain,
            component.priority,
            record.cpu
        );
        kernel.wake(*thread);
    }
    Some(kernel)
}

fn create_component(
    kernel: &mut Kernel,
    plan: &BootPlan<'_>,
    modules: &[Module],
    component: tessera_boot_plan::Component<'_>,
    cpus: usize,
) -> ThreadId {
    let name = component.name;
    let image = plan
        .image(component.image)
        .expect("the plan's indices are checked by parse");
    let module = &modules[usize::from(image.module)];
    let module_name = module
        .command_line
        .split_ascii_whitespace()
        .last()
        .unwrap_or("");
    if module_name != image.name {
        fail(format_args!(
            "module {} should be image {:?} but is {:?}",
            image.module,
            image.name,
            module.command_line.as_str()
        ));
    }
    let cspace = kernel
        .caps
        .create_cspace(CSPACE_SLOTS, component.memory)
        .unwrap_or_else(|error| fail(format_args!("component {name}: {error}")));
    let mut space =
        AddressSpace::new().unwrap_or_else(|error| fail(format_args!("component {name}: {error}")));
    let mut charge = |bytes| kernel.caps.charge(cspace, bytes).is_ok();
    let entry = elf::load(module_bytes(module), &mut space, &mut charge).unwrap_or_else(|error| {
        fail(format_args!(
            "component {name}: image {:?}: {error}",
            image.name
        ))
    });
    let stack = PageRights {
        writable: true,
        executable: false,
    };
    for page in ((STACK_TOP - STACK_SIZE)..STACK_TOP).step_by(4096) {
        if !charge(4096) {
            fail(format_args!(
                "component {name}: its memory quota has no room for the stack"
            ));
        }
        space
            .map_fresh(page, stack)
            .unwrap_or_else(|error| fail(format_args!("component {name}: stack: {error}")));
    }
    if !charge(4096) {
        fail(format_args!(
            "component {name}: its memory quota has no room for the message buffer"
        ));
    }
    let message_buffer = space
        .map_fresh(MESSAGE_BUFFER_ADDRESS, stack)
        .unwrap_or_else(|error| fail(format_args!("component {name}: message buffer: {error}")));

    let domain_index = kernel.domains.len();
    let id = DomainId::new(domain_index as u32, 0);
    let thread = kernel
        .ipc
        .add_thread(id, component.priority)
        .unwrap_or_else(|error| fail(format_args!("component {name}: {error:?}")));
    let cpu = (0..cpus)
        .find(|&cpu| component.affinity & (1 << cpu) != 0)
        .unwrap_or(0);
    kernel.domains.push(Domain {
        name: String::from(name),
        id,
        cspace,
        space,
        ending: None,
        console_line: Vec::new(),
    });
    kernel.threads.insert(
        thread,
        Thread {
            domain: domain_index,
            cpu,
            context: Box::new(UserContext::new(entry, STACK_TOP)),
            message_buffer,
            dead: false,
        },
    );
    let own = [
        (slot::DOMAIN, Object::Domain(id)),
        (slot::THREAD, Object::Thread(thread)),
    ];
    for (selector, object) in own {
        kernel
            .caps
            .create_object(SlotAddr::new(cspace, selector), object, Rights::CONTROL, 0)
            .unwrap_or_else(|error| fail(format_args!("component {name}: {error}")));
    }
    thread
}

fn create_endpoints(kernel: &mut Kernel, plan: &BootPlan<'_>) {
    for endpoint in plan.endpoints() {
        let owner = usize::from(endpoint.owner);
        let (id, cspace, name) = {
            let domain = &kernel.domains[owner];
            (domain.id, domain.cspace, domain.name.clone())
        };
        let priority = plan
            .component(endpoint.owner)
            .expect("checked by parse")
            .priority;
        let (object, rights) = match endpoint.kind {
            EndpointKind::Ipc => {
                let endpoint = kernel
                    .ipc
                    .create_endpoint(id, priority)
                    .unwrap_or_else(|error| fail(format_args!("component {name}: {error:?}")));
                (Object::Endpoint(endpoint), Rights::CALL | Rights::RECEIVE)
            }
            EndpointKind::Notification => {
                let notification = kernel
                    .ipc
                    .create_notification()
                    .unwrap_or_else(|error| fail(format_args!("component {name}: {error:?}")));
                (
                    Object::Notification(notification),
                    Rights::SIGNAL | Rights::WAIT,
                )
            }
        };
        let at = SlotAddr::new(cspace, u32::from(endpoint.slot));
        kernel
            .caps
            .create_object(at, object, rights | Rights::GENERIC, IPC_OBJECT_BYTES)
            .unwrap_or_else(|error| {
                fail(format_args!(
                    "component {name}, endpoint {}: {error}",
                    endpoint.name
                ))
            });
    }
}

/// The plan's rights bits in the capability table's terms.
fn rights_of(rights: tessera_boot_plan::Rights) -> Rights {
    let mut out = Rights::empty();
    for (plan, cap) in [
        (tessera_boot_plan::Rights::CALL, Rights::CALL),
        (tessera_boot_plan::Rights::GRANT, Rights::GRANT),
        (tessera_boot_plan::Rights::SIGNAL, Rights::SIGNAL),
        (tessera_boot_plan::Rights::WRITE, Rights::WRITE),
    ] {
        if rights.contains(plan) {
            out |= cap;
        }
    }
    out
}

fn install_grants(kernel: &mut Kernel, plan: &BootPlan<'_>) {
    for grant in plan.grants() {
        let holder = &kernel.domains[usize::from(grant.holder)];
        let (cspace, name) = (holder.cspace, holder.name.clone());
        let to = SlotAddr::new(cspace, u32::from(grant.slot));
        let result = match grant.kind {
            GrantKind::Console => kernel.caps.create_object(
                to,
                Object::Console,
                Rights::WRITE | Rights::GRANT | Rights::DERIVE,
                0,
            ),
            GrantKind::Verdict => {
                kernel.has_verdict_holder = true;
                kernel
                    .caps
                    .create_object(to, Object::Verdict, Rights::WRITE, 0)
            }
            GrantKind::Call | GrantKind::Signal => {
                let target = grant
                    .target
                    .expect("checked by parse: calls and signals name a target");
                let endpoint = plan.endpoint(target).expect("checked by parse");
                let owner = &kernel.domains[usize::from(endpoint.owner)];
                let from = SlotAddr::new(owner.cspace, u32::from(endpoint.slot));
                // DERIVE and REVOKE too, so a client can pass on a weaker
                // copy (say, without CALL) and take back what it passed on.
                let rights = rights_of(grant.rights) | Rights::DERIVE | Rights::REVOKE;
                if grant.badge == 0 {
                    kernel.caps.grant(from, to, rights)
                } else {
                    kernel
                        .caps
                        .grant_badged(from, to, rights, Badge(grant.badge))
                }
            }
        };
        result.unwrap_or_else(|error| {
            fail(format_args!(
                "component {name}, slot {}: {error}",
                grant.slot
            ))
        });
    }
}
