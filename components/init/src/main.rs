//! `init`: the one component the kernel starts. It builds the deployment the
//! boot plan describes — a domain per component with its image, stack and
//! thread, the endpoints, the capabilities each component is granted — starts
//! the components, then deletes every capability it held over them and
//! exits, so nothing keeps authority over a running component that the plan
//! did not give it.
//!
//! It holds, from the kernel: its own domain (whose quota is the whole
//! deployment's component memory, handed on piece by piece), the console
//! and the verdict (to hand to whoever the plan names), and the boot modules,
//! read-only. It trusts none of them: the plan is parsed and checked again
//! and every image is checked before it is loaded.
//!
//! A component that manages partitions also gets, before it starts, its
//! manager data (`managers`): a read-only memory region in slot
//! `MANAGER_DATA_SLOT` with its partitions' guest images and settings, and
//! a badged CALL capability per route.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod image;
mod managers;
mod slots;

use alloc::format;
use alloc::string::String;
use slots::Slots;
use tessera_boot_plan::{BootPlan, EndpointKind, GrantKind};
use tessera_rt::abi::{STACK_SIZE, STACK_TOP, page};
use tessera_rt::boot::BootModule;
use tessera_rt::build::{
    cap_install, domain_create, domain_map, endpoint_create, thread_create, thread_start,
};
use tessera_rt::{cap, rights, slot};

tessera_rt::entry!(main);

fn main() -> Result<(), String> {
    let modules = tessera_rt::boot::modules();
    let plan_bytes = modules
        .first()
        .ok_or("the kernel passed no boot modules")?
        .bytes;
    let plan = BootPlan::parse(plan_bytes).map_err(|e| format!("the boot plan is invalid: {e}"))?;
    let slots = Slots::new(
        plan.component_count(),
        plan.endpoint_count(),
        plan.partition_count() > 0,
    )?;
    // Everything the managers need is checked before anything is built.
    let managers = managers::plan_managers(&plan, &modules)?;
    log::info!(
        "init: building {:?}: {} components, {} endpoints",
        plan.name(),
        plan.component_count(),
        plan.endpoint_count()
    );
    if plan.partition_count() > 0 {
        log::info!(
            "init: {} partitions for {} managers",
            plan.partition_count(),
            managers.len()
        );
    }
    for component in plan.components() {
        build_component(&plan, &modules, &slots, component)?;
    }
    for (index, endpoint) in plan.endpoints().enumerate() {
        let owner = slots.domain(endpoint.owner);
        let priority = plan.component(endpoint.owner).map_or(0, |c| c.priority);
        let notification = endpoint.kind == EndpointKind::Notification;
        let held = slots.endpoint(index);
        endpoint_create(owner, held, notification, priority)
            .map_err(|e| format!("endpoint {}: {e}", endpoint.name))?;
        let own = if notification {
            rights::SIGNAL | rights::WAIT
        } else {
            rights::CALL | rights::RECEIVE
        };
        let generic = rights::GRANT | rights::DERIVE | rights::REVOKE;
        cap_install(owner, held, u32::from(endpoint.slot), own | generic, 0)
            .map_err(|e| format!("endpoint {}: {e}", endpoint.name))?;
    }
    for grant in plan.grants() {
        install_grant(&plan, &slots, grant)?;
    }
    for manager in &managers {
        managers::hand_over(&plan, &slots, manager)?;
    }
    for component in plan.components() {
        thread_start(slots.thread(component.index))
            .map_err(|e| format!("starting {}: {e}", component.name))?;
    }
    // Least privilege: init keeps nothing over what it built.
    for held in slots.all() {
        cap::delete(held).map_err(|e| format!("dropping slot {held}: {e}"))?;
    }
    log::info!(
        "init: {} components started; init holds nothing over them and exits",
        plan.component_count()
    );
    Ok(())
}

fn build_component(
    plan: &BootPlan<'_>,
    modules: &[BootModule],
    slots: &Slots,
    component: tessera_boot_plan::Component<'_>,
) -> Result<(), String> {
    let name = component.name;
    let image = plan
        .image(component.image)
        .ok_or("an image index the plan checked")?;
    let module = modules
        .get(usize::from(image.module))
        .filter(|module| module.name == image.name)
        .ok_or_else(|| {
            format!(
                "{name}: module {} is not image {:?}",
                image.module, image.name
            )
        })?;
    let domain = slots.domain(component.index);
    domain_create(slot::DOMAIN, domain, component.memory, name)
        .map_err(|e| format!("{name}: {e}"))?;
    let entry = image::load(domain, module.bytes)
        .map_err(|e| format!("{name}: image {:?}: {e}", image.name))?;
    domain_map(
        domain,
        STACK_TOP - STACK_SIZE,
        STACK_SIZE / 4096,
        page::WRITE,
    )
    .map_err(|e| format!("{name}: stack: {e}"))?;
    let thread = slots.thread(component.index);
    let cpu = (0..64)
        .find(|cpu| component.affinity & (1 << cpu) != 0)
        .unwrap_or(0);
    // The kernel may move it (a handler to its VP's CPU) only within its
    // affinity.
    let placed = (cpu, component.affinity);
    let created = thread_create(domain, thread, entry, STACK_TOP, component.priority, placed);
    if created.is_err() && cpu != 0 {
        log::warn!("init: {name}: cpu {cpu} is missing, running it on cpu 0");
        let fallback = (0, component.affinity);
        thread_create(
            domain,
            thread,
            entry,
            STACK_TOP,
            component.priority,
            fallback,
        )
    } else {
        created
    }
    .map_err(|e| format!("{name}: thread: {e}"))?;
    // The ABI's own slots: the component's domain and thread.
    cap_install(domain, domain, slot::DOMAIN, rights::CONTROL, 0)
        .map_err(|e| format!("{name}: {e}"))?;
    cap_install(domain, thread, slot::THREAD, rights::CONTROL, 0)
        .map_err(|e| format!("{name}: {e}"))
}

/// The plan's rights bits in the ABI's terms.
fn abi_rights(plan: tessera_boot_plan::Rights) -> u32 {
    use tessera_boot_plan::Rights as Plan;
    [
        (Plan::CALL, rights::CALL),
        (Plan::GRANT, rights::GRANT),
        (Plan::SIGNAL, rights::SIGNAL),
        (Plan::WRITE, rights::WRITE),
        (Plan::READ, rights::READ),
    ]
    .into_iter()
    .filter(|&(bit, _)| plan.contains(bit))
    .fold(0, |all, (_, right)| all | right)
}

fn install_grant(
    plan: &BootPlan<'_>,
    slots: &Slots,
    grant: tessera_boot_plan::Grant,
) -> Result<(), String> {
    let holder = slots.domain(grant.holder);
    let name = plan.component(grant.holder).map_or("?", |c| c.name);
    let result = match grant.kind {
        // WRITE for output, READ for what is typed (console-input).
        GrantKind::Console => cap_install(
            holder,
            slot::CONSOLE,
            slot::CONSOLE,
            abi_rights(grant.rights) | rights::GRANT | rights::DERIVE,
            0,
        ),
        GrantKind::Verdict => cap_install(holder, slot::VERDICT, slot::VERDICT, rights::WRITE, 0),
        GrantKind::Call | GrantKind::Signal => {
            let target = grant
                .target
                .ok_or("a call or signal grant names its endpoint")?;
            // DERIVE and REVOKE too, so a holder can pass on a weaker copy
            // and take back what it passed on.
            let granted = abi_rights(grant.rights) | rights::DERIVE | rights::REVOKE;
            cap_install(
                holder,
                slots.endpoint(usize::from(target)),
                u32::from(grant.slot),
                granted,
                grant.badge,
            )
        }
    };
    result.map_err(|e| format!("{name}: slot {}: {e}", grant.slot))
}
