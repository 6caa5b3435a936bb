//! Handing each partition manager what it needs to create its partitions
//! (`tessera_boot_plan::manager`): a memory region holding the manager data
//! — every partition's guest image and boot modules, copied from init's
//! boot modules, and how to run it — installed READ-only in the manager's slot
//! `MANAGER_DATA_SLOT`, and for each route a CALL capability to the route's
//! endpoint, badged with the partition's badge, at the route's slot.
//!
//! The region is charged to init's quota (what the deployment's component
//! memory leaves over, plus init's own share); init deletes its copy as
//! soon as the manager holds one, which also removes init's mapping.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use tessera_boot_plan::manager::{
    MANAGER_DATA_SLOT, ModuleSpec, PartitionInput, RouteSpec, encode_into, encoded_size,
};
use tessera_boot_plan::{BootPlan, ImageKind};
use tessera_rt::abi::{REGION_WINDOW, page};
use tessera_rt::boot::BootModule;
use tessera_rt::build::cap_install;
use tessera_rt::{cap, memory, rights, slot};

use crate::slots::Slots;

/// Where init maps the manager data region it fills.
const DATA_AT: u64 = REGION_WINDOW.start;
const PAGE: usize = 4096;

/// One manager's partitions, ready to encode: the inputs borrow the
/// routes, which live here.
pub struct ManagerPlan<'a> {
    pub manager: u16,
    pub name: &'a str,
    routes: Vec<Vec<RouteSpec>>,
    partitions: Vec<tessera_boot_plan::Partition<'a>>,
    images: Vec<&'static [u8]>,
    /// Each partition's boot modules: the bytes from their boot modules,
    /// the command lines from the plan.
    modules: Vec<Vec<ModuleSpec<'a>>>,
    used_slots: u64,
}

impl<'a> ManagerPlan<'a> {
    fn inputs(&self) -> Vec<PartitionInput<'_>> {
        self.partitions
            .iter()
            .zip(&self.routes)
            .zip(&self.images)
            .zip(&self.modules)
            .map(|(((p, routes), image), modules)| PartitionInput {
                name: p.name,
                image,
                format: p.format,
                cmdline: p.cmdline,
                memory_bytes: p.memory,
                vp_cpus: p.vp_cpus,
                priority: p.priority,
                badge: p.badge,
                expect: p.expect,
                routes,
                hv1: p.hv1,
                apic: p.apic,
                modules,
                synic: p.synic,
            })
            .collect()
    }
}

/// The slots of `component` that init fills: its domain and thread, the
/// plan's grants and endpoints, its route slots and the manager data slot.
fn used_slots(plan: &BootPlan<'_>, component: u16) -> u64 {
    let mut used = 1u64 << slot::DOMAIN | 1u64 << slot::THREAD | 1u64 << MANAGER_DATA_SLOT;
    for grant in plan.grants_of(component) {
        used |= 1u64 << grant.slot;
    }
    for endpoint in plan.endpoints_of(component) {
        used |= 1u64 << endpoint.slot;
    }
    for partition in plan.partitions_of(component) {
        for route in plan.routes_of(partition.index) {
            used |= 1u64 << route.slot;
        }
    }
    // Console and verdict grants sit in slots 2 and 3 (included above).
    used
}

/// The boot module that holds image `index` of kind `kind`, checked
/// against the image's name.
fn module_of(
    plan: &BootPlan<'_>,
    modules: &[BootModule],
    index: u16,
    kind: ImageKind,
) -> Result<&'static [u8], String> {
    let image = plan
        .image(index)
        .filter(|image| image.kind == kind)
        .ok_or("an image index and kind the plan checked")?;
    modules
        .get(usize::from(image.module))
        .filter(|module| module.name == image.name)
        .map(|module| module.bytes)
        .ok_or_else(|| format!("module {} is not {:?}", image.module, image.name))
}

/// Every manager of the plan with its partitions, their images and boot
/// modules found among the boot modules: checked before anything is built.
pub fn plan_managers<'a>(
    plan: &BootPlan<'a>,
    modules: &[BootModule],
) -> Result<Vec<ManagerPlan<'a>>, String> {
    let mut managers = Vec::new();
    for component in plan.components() {
        if !plan.is_manager(component.index) {
            continue;
        }
        let partitions: Vec<_> = plan.partitions_of(component.index).collect();
        let mut routes = Vec::new();
        let mut images = Vec::new();
        let mut guest_modules = Vec::new();
        for partition in &partitions {
            let image = module_of(plan, modules, partition.image, ImageKind::Guest)
                .map_err(|e| format!("partition {}: guest image: {e}", partition.name))?;
            images.push(image);
            let mut own = Vec::new();
            for (k, module) in plan.guest_modules_of(partition.index).enumerate() {
                let bytes = module_of(plan, modules, module.image, ImageKind::GuestModule)
                    .map_err(|e| format!("partition {}: module {k}: {e}", partition.name))?;
                own.push(ModuleSpec {
                    bytes,
                    cmdline: module.cmdline,
                });
            }
            guest_modules.push(own);
            routes.push(
                plan.routes_of(partition.index)
                    .map(|r| RouteSpec {
                        kind: r.kind,
                        parameter: r.parameter,
                        slot: u32::from(r.slot),
                        state: r.state,
                        posted: r.posted,
                    })
                    .collect(),
            );
        }
        managers.push(ManagerPlan {
            manager: component.index,
            name: component.name,
            routes,
            partitions,
            images,
            modules: guest_modules,
            used_slots: used_slots(plan, component.index),
        });
    }
    Ok(managers)
}

/// Writes `bytes` at `address` in the region window, which is 8-aligned;
/// the last word is padded with zeros (the encoder's padding is zero).
fn write_bytes(address: u64, bytes: &[u8]) {
    const WORDS: usize = PAGE / 8;
    let mut words = [0u64; WORDS];
    for (index, chunk) in bytes.chunks(PAGE).enumerate() {
        let count = chunk.len().div_ceil(8);
        for (word, eight) in words.iter_mut().zip(chunk.chunks(8)) {
            let mut padded = [0u8; 8];
            padded[..eight.len()].copy_from_slice(eight);
            *word = u64::from_le_bytes(padded);
        }
        memory::write(address + (index * PAGE) as u64, &words[..count]);
    }
}

/// Makes the manager data region of `manager`, fills it, and gives the
/// manager its capability and the route capabilities. Runs after the
/// manager is built and the endpoints exist, before the manager starts.
pub fn hand_over(
    plan: &BootPlan<'_>,
    slots: &Slots,
    manager: &ManagerPlan<'_>,
) -> Result<(), String> {
    let name = manager.name;
    let domain = slots.domain(manager.manager);
    let inputs = manager.inputs();
    let size = encoded_size(&inputs);
    let pages = size.div_ceil(PAGE) as u64;
    let region = slots.scratch();
    memory::create(region, pages).map_err(|e| {
        format!(
            "{name}: a manager data region of {pages} pages ({size} bytes, the guest images \
             and modules included) does not fit init's quota: {e} (raise \
             deployment.component-memory)"
        )
    })?;
    let filled = memory::map(region, slot::DOMAIN, DATA_AT, page::WRITE)
        .map_err(|e| format!("{name}: mapping the manager data: {e}"))
        .and_then(|()| {
            encode_into::<String>(manager.used_slots, &inputs, |offset, bytes| {
                write_bytes(DATA_AT + offset as u64, bytes);
                Ok(())
            })
        })
        .and_then(|_| {
            cap_install(domain, region, MANAGER_DATA_SLOT, rights::READ, 0)
                .map_err(|e| format!("{name}: slot {MANAGER_DATA_SLOT}: {e}"))
        });
    // init's copy (and its mapping) goes whether or not that worked.
    let dropped = cap::delete(region).map_err(|e| format!("dropping slot {region}: {e}"));
    filled?;
    dropped?;

    /// `HV_X64_MSR_SCONTROL`, the first SynIC register.
    const SCONTROL: u64 = 0x4000_0080;
    /// QEMU's `hyperv-testdev` port.
    const TESTDEV_PORT: u64 = 0x3000;
    // The route capabilities: one per (partition, endpoint), badged.
    let granted = rights::CALL | rights::DERIVE | rights::REVOKE;
    let mut installed: Vec<(u16, u16)> = Vec::new();
    for partition in &manager.partitions {
        for route in plan.routes_of(partition.index) {
            if installed.contains(&(partition.index, route.target)) {
                continue;
            }
            installed.push((partition.index, route.target));
            // The partition's interrupt controller (the server of its
            // `eoi` route) gets the partition's interrupt capability with
            // the attach: that capability carries GRANT.
            let controller = plan
                .routes_of(partition.index)
                .any(|r| r.kind == tessera_rt::abi::vm::intercept::EOI && r.target == route.target);
            // So does its `synic` component (the server of the MSR route
            // that takes SCONTROL), which gets the partition's SynIC
            // capability.
            let synic = plan.routes_of(partition.index).any(|r| {
                r.kind == tessera_rt::abi::vm::intercept::MSR
                    && r.target == route.target
                    && tessera_boot_plan::route::range_of(r.kind, r.parameter)
                        .is_some_and(|(first, last)| (first..=last).contains(&SCONTROL))
            });
            // And the server of the `hyperv-testdev` port and the owners of
            // the partition's component-owned SynIC ports, which get the
            // partition's capability (they make, take from and answer
            // ports).
            let testdev = plan.routes_of(partition.index).any(|r| {
                r.kind == tessera_rt::abi::vm::intercept::IO_PORT
                    && r.target == route.target
                    && tessera_boot_plan::route::range_of(r.kind, r.parameter)
                        .is_some_and(|(first, last)| (first..=last).contains(&TESTDEV_PORT))
            });
            let owner = plan.partition(partition.index).is_some_and(|p| {
                p.synic.ports().iter().any(|port| {
                    port.is_owned() && u32::from(port.owner_slot) == u32::from(route.slot)
                })
            });
            let rights = if controller || synic || testdev || owner {
                granted | rights::GRANT
            } else {
                granted
            };
            cap_install(
                domain,
                slots.endpoint(usize::from(route.target)),
                u32::from(route.slot),
                rights,
                partition.badge,
            )
            .map_err(|e| {
                format!(
                    "{name}: route slot {} of partition {}: {e}",
                    route.slot, partition.name
                )
            })?;
        }
    }
    log::info!(
        "init: {name}: manager data for {} partitions ({size} bytes) in slot {MANAGER_DATA_SLOT}, \
         {} route capabilities",
        manager.partitions.len(),
        installed.len()
    );
    Ok(())
}
