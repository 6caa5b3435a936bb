//! `[partition.NAME]`: guests, their managers and their routes.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use tessera_boot_plan::route::{self, ParameterShape, intercept};
use tessera_boot_plan::{
    EndpointKind, Expectation, GUEST_MEMORY_ALIGN, GuestFormat, MANAGER_BASE_MEMORY,
    MAX_GUEST_MEMORY, MAX_PARTITIONS, MAX_PARTITIONS_PER_MANAGER, MAX_ROUTES, MAX_VPS,
    MIN_GUEST_MEMORY, PARTITION_KERNEL_MEMORY, guest_memory_valid, is_valid_name,
    manager::MANAGER_DATA_SLOT, manager_memory_needed, page_table_memory,
};
use toml::Spanned;

use super::guest_image::{self, GuestImages};
use super::hv::check_hv;
use super::linux;
use super::modules::check_modules;
use super::suggest::suggest;
use super::{Info, NAME_HELP, check_cmdline, span};
use crate::error::Report;
use crate::error::check::*;
use crate::model::{GuestModule, Partition, Route};
use crate::range::parse_range;
use crate::raw::{RawManifest, RawPartition, RawRoute};
use crate::size::{format_size, parse_size};

/// A manager's calls to another component through its route capabilities
/// (for the call-cycle check).
pub(super) struct RouteCall {
    pub manager: usize,
    pub server: usize,
    pub entry: String,
    pub span: Option<Range<usize>>,
}

/// What the route checks learnt about one route.
struct RouteInfo {
    kind: u64,
    parameter: u64,
    server: usize,
    endpoint: usize,
    state: u64,
    posted: u32,
}

/// Checks every partition; returns those that passed (with their route
/// slots assigned) and the calls their managers make through routes.
pub(super) fn check_partitions(
    raw: &RawManifest,
    infos: &[Info<'_>],
    cpus: Option<u16>,
    component_images: &[String],
    guest_images: &GuestImages,
    root: Option<&std::path::Path>,
    report: &mut Report<'_>,
) -> (Vec<Partition>, Vec<RouteCall>) {
    let names: Vec<&str> = infos.iter().map(|i| i.name).collect();
    let mut partitions: Vec<Option<Partition>> = Vec::new();
    let mut managers: Vec<Option<usize>> = Vec::new();
    let mut calls = Vec::new();
    let mut inversions: BTreeSet<(usize, usize)> = BTreeSet::new();
    for (k, (name, spanned)) in raw.partition.iter().enumerate() {
        let badge = k as u64 + 1;
        let (partition, manager) = check_partition(
            name,
            spanned,
            badge,
            infos,
            &names,
            cpus,
            component_images,
            guest_images,
            root,
            &mut calls,
            &mut inversions,
            report,
        );
        partitions.push(partition);
        managers.push(manager);
    }

    if raw.partition.len() > MAX_PARTITIONS as usize {
        report.push(
            TOO_MANY,
            "partition",
            None,
            format!(
                "{} partitions, the boot plan holds at most {MAX_PARTITIONS}",
                raw.partition.len()
            ),
            "split the deployment",
        );
    }
    let routes: usize = raw
        .partition
        .values()
        .map(|p| p.get_ref().routes.len())
        .sum();
    if routes > MAX_ROUTES as usize {
        report.push(
            TOO_MANY,
            "partition",
            None,
            format!("{routes} routes, the boot plan holds at most {MAX_ROUTES}"),
            "route ranges rather than single values, or split the deployment",
        );
    }

    check_managers(raw, infos, &managers, report);
    assign_slots(infos, &managers, &mut partitions, report);
    (partitions.into_iter().flatten().collect(), calls)
}

#[allow(clippy::too_many_arguments)]
fn check_partition(
    name: &str,
    spanned: &Spanned<RawPartition>,
    badge: u64,
    infos: &[Info<'_>],
    names: &[&str],
    cpus: Option<u16>,
    component_images: &[String],
    guest_images: &GuestImages,
    root: Option<&std::path::Path>,
    calls: &mut Vec<RouteCall>,
    inversions: &mut BTreeSet<(usize, usize)>,
    report: &mut Report<'_>,
) -> (Option<Partition>, Option<usize>) {
    let p = spanned.get_ref();
    let entry = format!("partition.{name}");
    let mut ok = true;
    if !is_valid_name(name.as_bytes()) {
        report.push(
            BAD_NAME,
            entry.clone(),
            span(spanned),
            format!("`{name}` is not a valid partition name"),
            NAME_HELP,
        );
        ok = false;
    }

    // The manager.
    let manager_name = p.manager.get_ref().as_str();
    let manager = names.iter().position(|n| *n == manager_name);
    if manager.is_none() {
        let help = match suggest(manager_name, names.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None if names.is_empty() => {
                "add the component that creates the partition, such as [component.partition-manager]"
                    .to_owned()
            }
            None => format!(
                "name the component that creates and owns the partition, one of the deployment's \
                 components ({}), or add [component.{manager_name}]",
                names.join(", ")
            ),
        };
        report.push(
            UNKNOWN_MANAGER,
            format!("{entry}.manager"),
            span(&p.manager),
            format!("the manager `{manager_name}` is not a component of the deployment"),
            help,
        );
        ok = false;
    }

    // The guest: a `linux` table, or an image that is a file (checked once
    // the format and memory are known) or a test-guest crate.
    let linux = linux::check_shape(&entry, p, &linux::manifest_dir(report.file()), report);
    ok &= linux.is_ok();
    let linux = linux.ok().flatten();
    let written_image = match (&linux, &p.image) {
        (Some(linux), _) => Some(linux.kernel.0.as_str()),
        (None, Some(image)) => Some(image.get_ref().as_str()),
        (None, None) => None,
    };
    let (image_name, image_file) =
        written_image.map_or((String::new(), None), |image| guest_images.of(image));
    if let (None, Some(spanned)) = (&linux, &p.image) {
        ok &= check_crate_image(
            &entry,
            spanned,
            image_file.is_none(),
            component_images,
            report,
        );
    }

    // Format and command line.
    let format = match (p.linux.is_some(), &p.format) {
        (true, _) => Some(GuestFormat::Linux),
        (false, None) => Some(GuestFormat::Elf64),
        (false, Some(format)) => {
            let value = format.get_ref().as_str();
            let parsed = GuestFormat::from_name(value).filter(|f| *f != GuestFormat::Linux);
            if parsed.is_none() {
                report.push(
                    BAD_GUEST_FORMAT,
                    format!("{entry}.format"),
                    span(format),
                    format!("unknown guest format `{value}`"),
                    "write format = \"elf64\" (a static ELF64 executable, the default) or \
                     format = \"multiboot\" (a Multiboot kernel, which may take a cmdline)",
                );
            }
            parsed
        }
    };
    ok &= format.is_some();
    let cmdline = match &p.cmdline {
        None => linux
            .as_ref()
            .map(|l| l.cmdline.clone())
            .unwrap_or_default(),
        Some(cmdline) => {
            let value = cmdline.get_ref();
            if format == Some(GuestFormat::Elf64) {
                report.push(
                    BAD_CMDLINE,
                    format!("{entry}.cmdline"),
                    span(cmdline),
                    "an elf64 guest takes no command line".to_owned(),
                    "remove `cmdline`, or load the guest with format = \"multiboot\", whose \
                     loader passes a command line",
                );
                ok = false;
            } else if check_cmdline(
                format!("{entry}.cmdline"),
                cmdline,
                "the command line",
                "\"multiboot-guest check=cmdline\"",
                report,
            )
            .is_none()
            {
                ok = false;
            }
            value.clone()
        }
    };

    // Boot modules (Multiboot), or the initrd (Linux).
    let mut modules = if p.linux.is_some() {
        // `modules` beside `linux` is the shape check's to report.
        p.modules.is_none().then(Vec::new)
    } else {
        check_modules(&entry, p, format, root, report)
    };
    ok &= modules.is_some();
    if let (Some(modules), Some((file, path))) =
        (&mut modules, linux.as_ref().and_then(|l| l.initrd.clone()))
    {
        modules.push(GuestModule {
            file,
            path,
            cmdline: String::new(),
        });
    }

    // Memory.
    let memory = match parse_size(p.memory.get_ref()) {
        Ok(bytes) if guest_memory_valid(bytes) => Some(bytes),
        Ok(bytes) => {
            let up = bytes
                .div_ceil(GUEST_MEMORY_ALIGN)
                .saturating_mul(GUEST_MEMORY_ALIGN)
                .clamp(MIN_GUEST_MEMORY, MAX_GUEST_MEMORY);
            report.push(
                BAD_GUEST_MEMORY,
                format!("{entry}.memory"),
                span(&p.memory),
                format!(
                    "guest memory of {} is not a multiple of {} from {} to {}",
                    format_size(bytes),
                    format_size(GUEST_MEMORY_ALIGN),
                    format_size(MIN_GUEST_MEMORY),
                    format_size(MAX_GUEST_MEMORY)
                ),
                format!(
                    "guest RAM is mapped at GPA 0 in 2 MiB pages: write a multiple of 2 MiB, \
                     such as memory = \"{}\"",
                    format_size(up)
                ),
            );
            None
        }
        Err(e) => {
            report.push(
                BAD_SIZE,
                format!("{entry}.memory"),
                span(&p.memory),
                e.message,
                e.help,
            );
            None
        }
    };
    ok &= memory.is_some();

    // VPs and their CPUs.
    let vps = match &p.vps {
        None => Some(1u8),
        Some(vps) => {
            let value = *vps.get_ref();
            match u8::try_from(value) {
                Ok(n) if (1..=MAX_VPS).contains(&n) => Some(n),
                _ => {
                    report.push(
                        BAD_VPS,
                        format!("{entry}.vps"),
                        span(vps),
                        format!("a partition cannot have {value} VPs"),
                        format!("write a VP count from 1 to {MAX_VPS} (or leave `vps` out for 1)"),
                    );
                    None
                }
            }
        }
    };
    let vp_cpus = check_vp_cpus(&entry, p, vps, cpus, report);
    ok &= vp_cpus.is_some();
    let apic = super::apic::check_apic(&entry, p.apic.as_ref(), report);
    ok &= apic.is_some();

    // Expectation.
    let expect = match &p.expect {
        None => Some(Expectation::Pass),
        Some(expect) => {
            let value = expect.get_ref().as_str();
            let parsed = Expectation::from_name(value);
            if parsed.is_none() {
                let all: Vec<String> = Expectation::ALL
                    .iter()
                    .map(|e| format!("\"{}\"", e.name()))
                    .collect();
                report.push(
                    BAD_EXPECT,
                    format!("{entry}.expect"),
                    span(expect),
                    format!("unknown expectation `{value}`"),
                    format!(
                        "write one of {}: \"pass\" means the guest writes EXIT_PASS to port 0xf4",
                        all.join(", ")
                    ),
                );
            }
            parsed
        }
    };
    ok &= expect.is_some();

    // The Hv#1 interface.
    let hv = check_hv(
        &entry,
        p.hv.as_ref(),
        expect,
        p.expect.as_ref().map(Spanned::span),
        report,
    );
    ok &= hv.is_ok();
    let hv = hv.unwrap_or(None);
    ok &= super::apic::check_apic_msrs(&entry, p, hv.as_ref(), apic, report);

    // Routes.
    let mut routes: Vec<Option<RouteInfo>> = Vec::new();
    for (j, spanned_route) in p.routes.iter().enumerate() {
        let route_entry = format!("{entry}.routes[{j}]");
        let info = check_route(&route_entry, spanned_route, memory, infos, names, report);
        if let Some(info) = &info
            && let Some(first) = routes.iter().position(|earlier| {
                earlier.as_ref().is_some_and(|e| {
                    e.kind == info.kind && route::overlap(info.kind, e.parameter, info.parameter)
                })
            })
        {
            let kind = route::kind_name(info.kind).unwrap_or("?");
            report.push(
                ROUTE_OVERLAP,
                route_entry.clone(),
                span(spanned_route),
                format!(
                    "this `{kind}` route catches exits that {entry}.routes[{first}] already routes"
                ),
                match route::shape(info.kind) {
                    Some(ParameterShape::None) => {
                        format!("a partition has one `{kind}` route: remove one of the two")
                    }
                    _ => "make the ranges of one kind disjoint: each exit goes to one handler"
                        .to_owned(),
                },
            );
            ok = false;
        }
        ok &= info.is_some();
        routes.push(info);
    }
    // hv-synic needs the synic component's route.
    let views: Vec<super::synic::RouteView> = routes
        .iter()
        .flatten()
        .map(|r| super::synic::RouteView {
            kind: r.kind,
            parameter: r.parameter,
            to_manager: Some(r.server) == manager,
        })
        .collect();
    ok &= super::synic::check_synic_route(&entry, p, hv.as_ref(), &views, report);
    // Hypercall routes need the Hv#1 interface: without it the guest's
    // VMMCALL raises #UD, so no hypercall ever reaches a route.
    if p.hv.is_none() {
        for (j, spanned_route) in p.routes.iter().enumerate() {
            let exit = spanned_route.get_ref().exit.get_ref();
            if route::kind_of_name(exit) != Some(intercept::HYPERCALL) {
                continue;
            }
            report.push(
                HYPERCALL_WITHOUT_HV,
                format!("{entry}.routes[{j}]"),
                span(spanned_route),
                format!(
                    "partition `{name}` has a `hypercall` route but no `hv` key: the partition \
                     has no Hv#1 interface, so it makes no hypercalls (VMMCALL raises #UD) and \
                     the route would catch nothing"
                ),
                format!(
                    "give {entry} the Hv#1 interface, such as hv = [] (the minimum) or \
                     hv = [\"hv-relaxed\"], or remove the route"
                ),
            );
            ok = false;
        }
    }
    let has_lifecycle = p
        .routes
        .iter()
        .any(|r| r.get_ref().exit.get_ref() == "lifecycle");
    if !has_lifecycle {
        let example = manager
            .and_then(|m| {
                infos[m]
                    .endpoints
                    .iter()
                    .find(|e| e.kind == Some(EndpointKind::Ipc))
                    .map(|e| format!("{}.{}", infos[m].name, e.name))
            })
            .unwrap_or_else(|| format!("{manager_name}.ENDPOINT"));
        report.push(
            MISSING_LIFECYCLE_ROUTE,
            format!("{entry}.routes"),
            span(spanned),
            format!(
                "an enabled intercept has no route: partition `{name}` has no lifecycle route, \
                 so its triple faults and accesses outside its memory would have nowhere to go"
            ),
            format!("add {{ exit = \"lifecycle\", to = \"{example}\" }} to {entry}.routes"),
        );
        ok = false;
    }

    // Priority: at most the manager's (VpCreate) and every target's (the
    // endpoint ceiling the VPs call under).
    let manager_priority = manager.and_then(|m| infos[m].priority);
    let target_priorities: Vec<(usize, u8)> = routes
        .iter()
        .enumerate()
        .filter_map(|(j, r)| {
            let r = r.as_ref()?;
            Some((j, infos[r.server].priority?))
        })
        .collect();
    let priority = match &p.priority {
        None => Some(
            target_priorities
                .iter()
                .map(|&(_, prio)| prio)
                .chain(manager_priority)
                .min()
                .unwrap_or(0),
        ),
        Some(priority) => {
            let value = *priority.get_ref();
            match u8::try_from(value) {
                Ok(prio) => {
                    if let Some(m) = manager_priority.filter(|&m| prio > m) {
                        report.push(
                            PARTITION_PRIORITY,
                            format!("{entry}.priority"),
                            span(priority),
                            format!(
                                "partition `{name}` has priority {prio}, above its manager \
                                 `{manager_name}` ({m})"
                            ),
                            format!(
                                "a manager creates VPs at most at its own priority: lower \
                                 {entry}.priority to {m} or less, or raise \
                                 component.{manager_name}.priority"
                            ),
                        );
                        ok = false;
                    }
                    for &(j, target) in &target_priorities {
                        let to_manager = routes[j].as_ref().map(|r| r.server) == manager;
                        if prio > target && !to_manager {
                            let server = routes[j].as_ref().map_or("", |r| infos[r.server].name);
                            report.push(
                                PARTITION_PRIORITY,
                                format!("{entry}.routes[{j}].to"),
                                span(&p.routes[j].get_ref().to),
                                format!(
                                    "partition `{name}` has priority {prio}, but its route goes \
                                     to `{server}` ({target}): its VPs would call above the \
                                     endpoint's ceiling"
                                ),
                                format!(
                                    "a VP calls its route targets at its own priority: lower \
                                     {entry}.priority to {target} or less, or raise \
                                     component.{server}.priority"
                                ),
                            );
                            ok = false;
                        }
                    }
                    Some(prio)
                }
                Err(_) => {
                    report.push(
                        BAD_PRIORITY,
                        format!("{entry}.priority"),
                        span(priority),
                        format!("priority {value} is outside 0..=255"),
                        "write a priority from 0 (least important) to 255 (most important), or \
                         leave it out for the highest its manager and route targets allow",
                    );
                    ok = false;
                    None
                }
            }
        }
    };

    // The manager calls its route targets too (through the route
    // capabilities), so the priority rule and the call graph include them.
    if let Some(m) = manager {
        for (j, r) in routes.iter().enumerate() {
            let Some(r) = r else { continue };
            if r.server == m {
                continue;
            }
            let route_entry = format!("{entry}.routes[{j}].to");
            let at = span(&p.routes[j].get_ref().to);
            calls.push(RouteCall {
                manager: m,
                server: r.server,
                entry: route_entry.clone(),
                span: at.clone(),
            });
            if let (Some(mine), Some(theirs)) = (infos[m].priority, infos[r.server].priority)
                && mine > theirs
                && inversions.insert((m, r.server))
            {
                let server = infos[r.server].name;
                report.push(
                    PRIORITY_INVERSION,
                    route_entry,
                    at,
                    format!(
                        "`{manager_name}` (priority {mine}) holds the route capability of \
                         partition `{name}` to `{server}.{}` and calls through it, but \
                         `{server}` has priority {theirs}",
                        infos[r.server].endpoints[r.endpoint].name
                    ),
                    format!(
                        "raise component.{server}.priority to {mine} or more, or lower \
                         component.{manager_name}.priority to {theirs} or less"
                    ),
                );
                ok = false;
            }
        }
    }

    // Badges: the partition's number must not be a badge another client of
    // the same endpoint uses.
    for (j, r) in routes.iter().enumerate() {
        let Some(r) = r else { continue };
        let server = infos[r.server].name;
        let endpoint = infos[r.server].endpoints[r.endpoint].name;
        for client in infos {
            let clash = client
                .connections
                .iter()
                .flatten()
                .any(|c| c.server == server && c.endpoint == endpoint && c.badge == badge);
            if clash
                && routes[..j]
                    .iter()
                    .flatten()
                    .all(|e| (e.server, e.endpoint) != (r.server, r.endpoint))
            {
                report.push(
                    BADGE_COLLISION,
                    format!("{entry}.routes[{j}].to"),
                    span(&p.routes[j].get_ref().to),
                    format!(
                        "`{}` connects to `{server}.{endpoint}` with badge {badge}, the badge \
                         of partition `{name}`'s routes (partitions are numbered from 1 in file \
                         order), so `{server}` cannot tell them apart",
                        client.name
                    ),
                    format!(
                        "give component.{}'s connection to `{server}.{endpoint}` a badge above \
                         the deployment's partition count",
                        client.name
                    ),
                );
                ok = false;
            }
        }
    }

    let (Some(m), true) = (manager, ok) else {
        return (None, manager);
    };
    let (Some(format), Some(memory), Some(vp_cpus), Some(expect), Some(priority), Some(apic)) =
        (format, memory, vp_cpus, expect, priority, apic)
    else {
        return (None, manager);
    };
    let files_ok = match (&linux, &p.linux, &p.image, &image_file) {
        (Some(linux), Some(raw), _, _) => {
            let vps = vp_cpus.len() as u32;
            linux::check_files(&entry, raw.get_ref(), linux, memory, vps, report)
        }
        (None, _, Some(image), Some(path)) => {
            guest_image::check_file(&entry, image, path, format, memory, &cmdline, report)
        }
        _ => true,
    };
    if !files_ok {
        return (None, manager);
    }
    let routes = routes
        .into_iter()
        .flatten()
        .map(|r| Route {
            kind: r.kind,
            parameter: r.parameter,
            server: infos[r.server].name.to_owned(),
            endpoint: infos[r.server].endpoints[r.endpoint].name.to_owned(),
            state: r.state,
            posted: r.posted,
            slot: 0,
        })
        .collect();
    let partition = Partition {
        name: name.to_owned(),
        manager: infos[m].name.to_owned(),
        image: image_name,
        image_file,
        format,
        cmdline,
        memory,
        vp_cpus,
        priority,
        expect,
        badge,
        routes,
        hv1: hv.as_ref().map(|(_, words)| *words),
        hv: hv.map(|(names, _)| names),
        apic,
        modules: modules.unwrap_or_default(),
        lines: Vec::new(),
        synic: tessera_boot_plan::synic::SynicLinks::default(),
    };
    (Some(partition), manager)
}

/// A partition `image` that names a test-guest crate (`crate_image`, not a
/// file): a valid crate name that is no component's image.
fn check_crate_image(
    entry: &str,
    spanned: &Spanned<String>,
    crate_image: bool,
    component_images: &[String],
    report: &mut Report<'_>,
) -> bool {
    let image = spanned.get_ref();
    if crate_image && !is_valid_name(image.as_bytes()) {
        let help = if image.contains('_') {
            format!(
                "name the crate with `-` instead of `_`, such as \"{}\"",
                image.replace('_', "-")
            )
        } else {
            "`image` names the crate under test-guests/ that builds the guest, such as \"hello\" \
             (1 to 31 bytes of lower-case letters, digits and `-`), or a guest image file \
             relative to the manifest, such as \"./guest.elf\""
                .to_owned()
        };
        report.push(
            BAD_GUEST_IMAGE,
            format!("{entry}.image"),
            span(spanned),
            format!("`{image}` is not a guest crate name"),
            help,
        );
        return false;
    }
    if crate_image && component_images.contains(image) {
        report.push(
            BAD_GUEST_IMAGE,
            format!("{entry}.image"),
            span(spanned),
            format!("`{image}` is also a component image"),
            "each image is a boot module named after its crate, so a guest crate (test-guests/) \
             and a component crate (components/) cannot share a name: rename one of them",
        );
        return false;
    }
    true
}

/// `cpus`: one per VP, each a CPU of the deployment; default VP `i` on CPU
/// `i % cpus`.
fn check_vp_cpus(
    entry: &str,
    p: &RawPartition,
    vps: Option<u8>,
    cpus: Option<u16>,
    report: &mut Report<'_>,
) -> Option<Vec<u8>> {
    let vps = vps?;
    let cpus = cpus?;
    let Some(list) = &p.cpus else {
        return Some((0..vps).map(|i| (u16::from(i) % cpus) as u8).collect());
    };
    let field = format!("{entry}.cpus");
    let mut ok = true;
    if list.get_ref().len() != usize::from(vps) {
        report.push(
            VP_CPUS,
            field.clone(),
            span(list),
            format!(
                "`cpus` lists {} CPU(s) for {vps} VP(s)",
                list.get_ref().len()
            ),
            format!(
                "list one host CPU per VP (VP i runs on cpus[i]), or remove `cpus` to put VP i \
                 on CPU i % {cpus}"
            ),
        );
        ok = false;
    }
    let mut out = Vec::new();
    for (i, cpu) in list.get_ref().iter().enumerate() {
        let value = *cpu.get_ref();
        match u8::try_from(value) {
            Ok(c) if u16::from(c) < cpus => out.push(c),
            _ => {
                report.push(
                    VP_CPUS,
                    format!("{field}[{i}]"),
                    span(cpu),
                    format!("CPU {value} is not one of the deployment's {cpus} CPUs"),
                    format!(
                        "the deployment has CPUs 0 to {}: use those, or raise deployment.cpus",
                        cpus - 1
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// The range field each exit kind takes.
fn range_field(kind: u64) -> Option<&'static str> {
    match kind {
        intercept::IO_PORT => Some("ports"),
        intercept::MSR => Some("msrs"),
        intercept::CPUID => Some("leaves"),
        intercept::EXCEPTION => Some("vectors"),
        intercept::MEMORY => Some("gpas"),
        intercept::HYPERCALL => Some("codes"),
        _ => None,
    }
}

/// `ram`: the partition's guest memory (at GPA 0), if it is valid.
fn check_route(
    entry: &str,
    spanned: &Spanned<RawRoute>,
    ram: Option<u64>,
    infos: &[Info<'_>],
    names: &[&str],
    report: &mut Report<'_>,
) -> Option<RouteInfo> {
    let r = spanned.get_ref();
    let mut ok = true;

    // The exit kind.
    let exit = r.exit.get_ref().as_str();
    let kind = route::kind_of_name(exit);
    if kind.is_none() {
        let kinds: Vec<&str> = route::KINDS
            .iter()
            .filter_map(|&k| route::kind_name(k))
            .collect();
        let help = match suggest(exit, kinds.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("write one of: {}", kinds.join(", ")),
        };
        report.push(
            BAD_EXIT_KIND,
            format!("{entry}.exit"),
            span(&r.exit),
            format!("unknown exit kind `{exit}`"),
            help,
        );
        ok = false;
    }

    // The target.
    let target = check_target(entry, r, infos, names, report);
    ok &= target.is_some();

    // The range fields.
    let given: [(&str, bool); 6] = [
        ("ports", r.ports.is_some()),
        ("msrs", r.msrs.is_some()),
        ("leaves", r.leaves.is_some()),
        ("gpas", r.gpas.is_some()),
        ("codes", r.codes.is_some()),
        ("vectors", r.vectors.is_some()),
    ];
    let mut parameter = None;
    if let Some(kind) = kind {
        let wanted = range_field(kind);
        for (field, present) in given {
            if present && Some(field) != wanted {
                let at = match field {
                    "ports" => r.ports.as_ref().map(|s| s.span()),
                    "msrs" => r.msrs.as_ref().map(|s| s.span()),
                    "leaves" => r.leaves.as_ref().map(|s| s.span()),
                    "gpas" => r.gpas.as_ref().map(|s| s.span()),
                    "codes" => r.codes.as_ref().map(|s| s.span()),
                    _ => r.vectors.as_ref().map(|s| s.span()),
                };
                let help = match wanted {
                    Some(w) => format!("`{exit}` routes take `{w}`: write that instead"),
                    None => format!("`{exit}` routes catch every such exit: remove `{field}`"),
                };
                report.push(
                    BAD_ROUTE,
                    format!("{entry}.{field}"),
                    at,
                    format!("`{field}` does not apply to `{exit}` exits"),
                    help,
                );
                ok = false;
            }
        }
        match wanted {
            None => parameter = Some(0),
            Some(field) if !given.iter().any(|&(f, present)| f == field && present) => {
                let example = match field {
                    "ports" => "ports = \"0x3f8-0x3ff\" (a range) or ports = \"0xf4\" (one port)",
                    "msrs" => "msrs = \"0x4c000000-0x4c00000f\"",
                    "leaves" => "leaves = \"0x4c000000-0x4c0000ff\"",
                    "gpas" => "gpas = \"0xfed00000-0xfed00fff\" (whole 4 KiB pages)",
                    "codes" => {
                        "codes = \"0x0008\" (one call code, here HvCallNotifyLongSpinWait) or \
                         codes = \"0x0002-0x0003\""
                    }
                    _ => "vectors = [6, 13]",
                };
                report.push(
                    BAD_ROUTE,
                    entry.to_owned(),
                    span(spanned),
                    format!(
                        "{} `{exit}` route needs `{field}`",
                        // As read aloud: an I/O, an MSR, an exception; a CPUID, a
                        // memory, a hypercall.
                        if matches!(exit, "io" | "msr" | "exception") {
                            "an"
                        } else {
                            "a"
                        }
                    ),
                    format!("add {example}"),
                );
                ok = false;
            }
            Some("vectors") => {
                parameter = check_vectors(entry, r, report);
            }
            Some("gpas") => {
                if let Some(range) = &r.gpas {
                    parameter = check_gpas(entry, range, ram, report);
                }
            }
            Some(field) => {
                let range = match field {
                    "ports" => r.ports.as_ref(),
                    "msrs" => r.msrs.as_ref(),
                    "codes" => r.codes.as_ref(),
                    _ => r.leaves.as_ref(),
                };
                if let Some(range) = range {
                    parameter = check_range(entry, field, kind, range, report);
                }
            }
        }
    }
    ok &= parameter.is_some();

    // The registers each exit message carries.
    let mut state = 0u64;
    if let Some(list) = &r.state {
        for (i, register) in list.get_ref().iter().enumerate() {
            let name = register.get_ref().as_str();
            match route::state_bit(name) {
                Some(bit) if state & bit != 0 => {
                    report.push(
                        BAD_STATE,
                        format!("{entry}.state[{i}]"),
                        span(register),
                        format!("register `{name}` is listed twice"),
                        "list each register once",
                    );
                    ok = false;
                }
                Some(bit) => state |= bit,
                None => {
                    report.push(
                        BAD_STATE,
                        format!("{entry}.state[{i}]"),
                        span(register),
                        format!("unknown register `{name}`"),
                        format!(
                            "exit messages carry general registers: {}",
                            route::STATE_REGISTERS.join(", ")
                        ),
                    );
                    ok = false;
                }
            }
        }
    }

    let posted = super::posted::check_posted(entry, r, kind, parameter, report);
    let (server, endpoint) = target?;
    if !ok {
        return None;
    }
    Some(RouteInfo {
        kind: kind?,
        parameter: parameter?,
        server,
        endpoint,
        state,
        posted: posted?,
    })
}

/// `to = "COMPONENT.ENDPOINT"`: an IPC endpoint of the deployment.
fn check_target(
    entry: &str,
    r: &RawRoute,
    infos: &[Info<'_>],
    names: &[&str],
    report: &mut Report<'_>,
) -> Option<(usize, usize)> {
    let reference = r.to.get_ref();
    let field = format!("{entry}.to");
    let at = span(&r.to);
    let Some((server_name, endpoint_name)) = reference
        .split_once('.')
        .filter(|(c, e)| !c.is_empty() && !e.is_empty() && !e.contains('.'))
    else {
        report.push(
            BAD_ENDPOINT_REFERENCE,
            field,
            at,
            format!("`{reference}` does not name an endpoint"),
            "write to = \"COMPONENT.ENDPOINT\", such as \"partition-manager.exits\"",
        );
        return None;
    };
    let Some(server) = names.iter().position(|n| *n == server_name) else {
        let help = match suggest(server_name, names.iter().copied()) {
            Some(near) => format!("did you mean `{near}.{endpoint_name}`?"),
            None => format!(
                "route to one of the deployment's components ({}), or add [component.{server_name}]",
                names.join(", ")
            ),
        };
        report.push(
            UNKNOWN_COMPONENT,
            field,
            at,
            format!(
                "the route goes to `{server_name}`, which is not a component of the deployment"
            ),
            help,
        );
        return None;
    };
    let target = &infos[server];
    let Some(endpoint) = target
        .endpoints
        .iter()
        .position(|e| e.name == endpoint_name)
    else {
        let provided: Vec<&str> = target.endpoints.iter().map(|e| e.name).collect();
        let help = match suggest(endpoint_name, provided.iter().copied()) {
            Some(near) => format!("did you mean `{server_name}.{near}`?"),
            None if provided.is_empty() => format!(
                "`{server_name}` provides no endpoints: add provides = [\"{endpoint_name}\"] to component.{server_name}"
            ),
            None => format!(
                "`{server_name}` provides {}: route to one of those, or add \"{endpoint_name}\" to component.{server_name}.provides",
                provided
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        report.push(
            UNKNOWN_ENDPOINT,
            field,
            at,
            format!("component `{server_name}` does not provide an endpoint `{endpoint_name}`"),
            help,
        );
        return None;
    };
    match target.endpoints[endpoint].kind {
        Some(EndpointKind::Ipc) => Some((server, endpoint)),
        Some(EndpointKind::Notification) => {
            report.push(
                ROUTE_TO_NOTIFICATION,
                field,
                at,
                format!("`{reference}` is a notification, but a VP calls its route's endpoint and waits for the reply"),
                format!(
                    "route to an IPC endpoint (kind = \"endpoint\", the default) of `{server_name}`"
                ),
            );
            None
        }
        None => None,
    }
}

fn check_range(
    entry: &str,
    field: &str,
    kind: u64,
    range: &Spanned<crate::raw::RawRange>,
    report: &mut Report<'_>,
) -> Option<u64> {
    let (what, a, limit, note) = match kind {
        intercept::IO_PORT => ("port", "a", 0xFFFFu64, ""),
        intercept::MSR => ("MSR", "an", 0xFFFF_FFFF, ""),
        intercept::HYPERCALL => (
            "call code",
            "a",
            0xFFFF,
            " (bits 15:0 of the hypercall input value; the rep count and flags above them are \
             the handler's to decode)",
        ),
        _ => ("CPUID leaf", "a", 0xFFFF_FFFF, ""),
    };
    let bad = |message: String, report: &mut Report<'_>| {
        report.push(
            BAD_ROUTE_RANGE,
            format!("{entry}.{field}"),
            span(range),
            message,
            format!(
                "write a range \"FIRST-LAST\" or one value, in hex (0x...) or decimal; {a} {what} \
                 is at most {limit:#x}{note}"
            ),
        );
    };
    match parse_range(range.get_ref()) {
        Err(message) => {
            bad(message, report);
            None
        }
        Ok((_, last)) if last > limit => {
            bad(format!("{what} {last:#x} is above {limit:#x}"), report);
            None
        }
        Ok((first, last)) => route::range_parameter(kind, first, last),
    }
}

/// `gpas = "FIRST-LAST"` of a memory route: GPA bytes, whole 4 KiB pages
/// below [`route::GPA_LIMIT`], outside the partition's RAM (`ram` bytes at
/// GPA 0, which its mapping answers: a route there would catch nothing).
/// The parameter counts pages.
fn check_gpas(
    entry: &str,
    range: &Spanned<crate::raw::RawRange>,
    ram: Option<u64>,
    report: &mut Report<'_>,
) -> Option<u64> {
    const PAGE: u64 = route::GPA_PAGE_SIZE;
    let bad = |message: String, help: String, report: &mut Report<'_>| {
        report.push(
            BAD_ROUTE_RANGE,
            format!("{entry}.gpas"),
            span(range),
            message,
            help,
        );
    };
    let whole_pages = |first: u64, last: u64| {
        let first = first - first % PAGE;
        let last = last - last % PAGE + (PAGE - 1);
        format!(
            "a memory route catches whole 4 KiB pages: start at a multiple of 0x1000 and end \
             at the last byte of a page, such as gpas = \"{first:#x}-{last:#x}\""
        )
    };
    let (first, last) = match parse_range(range.get_ref()) {
        Ok(range) => range,
        Err(message) => {
            bad(
                message,
                "write GPA bytes \"FIRST-LAST\" in hex (0x...) or decimal, such as \
                 gpas = \"0xfed00000-0xfed00fff\" (one 4 KiB page)"
                    .to_owned(),
                report,
            );
            return None;
        }
    };
    let limit = route::GPA_LIMIT;
    if last >= limit {
        bad(
            format!("GPA {last:#x} is at or above the GPA limit {limit:#x}"),
            format!("a partition's GPAs are below {limit:#x} (40 bits): route a range below it"),
            report,
        );
        return None;
    }
    if first % PAGE != 0 {
        bad(
            format!("the GPA range starts at {first:#x}, inside a page"),
            whole_pages(first, last),
            report,
        );
        return None;
    }
    if last % PAGE != PAGE - 1 {
        bad(
            format!("the GPA range ends at {last:#x}, before the end of its page"),
            whole_pages(first, last),
            report,
        );
        return None;
    }
    if let Some(ram) = ram
        && first < ram
    {
        bad(
            format!(
                "the GPA range {first:#x}-{last:#x} overlaps the partition's RAM (0x0-{:#x})",
                ram - 1
            ),
            format!(
                "RAM is mapped, so its accesses never reach a memory route: route GPAs from \
                 {ram:#x} up (devices usually sit just below 4 GiB, such as 0xfed00000)"
            ),
            report,
        );
        return None;
    }
    route::memory_parameter(first, last)
}

fn check_vectors(entry: &str, r: &RawRoute, report: &mut Report<'_>) -> Option<u64> {
    let list = r.vectors.as_ref()?;
    let field = format!("{entry}.vectors");
    if list.get_ref().is_empty() {
        report.push(
            BAD_ROUTE_RANGE,
            field,
            span(list),
            "an exception route without vectors catches nothing",
            "list the vectors to intercept, such as vectors = [6, 13] (#UD and #GP)",
        );
        return None;
    }
    let mut mask = 0u64;
    let mut ok = true;
    for (i, vector) in list.get_ref().iter().enumerate() {
        let value = *vector.get_ref();
        let problem = match u64::try_from(value) {
            Ok(2) => Some("vector 2 (NMI) cannot be intercepted".to_owned()),
            Ok(v) if v < 32 => {
                if mask & (1 << v) != 0 {
                    Some(format!("vector {v} is listed twice"))
                } else {
                    mask |= 1 << v;
                    None
                }
            }
            _ => Some(format!("{value} is not an exception vector (0 to 31)")),
        };
        if let Some(message) = problem {
            report.push(
                BAD_ROUTE_RANGE,
                format!("{field}[{i}]"),
                span(vector),
                message,
                "list exception vectors from 0 to 31, each once, without 2 (NMI)",
            );
            ok = false;
        }
    }
    (ok && mask != 0).then_some(mask)
}

/// Per manager: how many partitions, and whether its quota covers them.
fn check_managers(
    raw: &RawManifest,
    infos: &[Info<'_>],
    managers: &[Option<usize>],
    report: &mut Report<'_>,
) {
    let mut by_manager: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (k, m) in managers.iter().enumerate() {
        if let Some(m) = m {
            by_manager.entry(*m).or_default().push(k);
        }
    }
    let partitions: Vec<(&String, &Spanned<RawPartition>)> = raw.partition.iter().collect();
    for (&m, owned) in &by_manager {
        let manager = infos[m].name;
        if owned.len() > MAX_PARTITIONS_PER_MANAGER {
            let (name, p) = partitions[owned[MAX_PARTITIONS_PER_MANAGER]];
            report.push(
                TOO_MANY_PARTITIONS,
                format!("partition.{name}.manager"),
                span(&p.get_ref().manager),
                format!(
                    "`{manager}` manages {} partitions, at most {MAX_PARTITIONS_PER_MANAGER} fit",
                    owned.len()
                ),
                "give some of the partitions to another manager component",
            );
        }
        let Some(quota) = infos[m].memory else {
            continue;
        };
        let memories: Vec<(&str, u64)> = owned
            .iter()
            .filter_map(|&k| {
                let (name, p) = partitions[k];
                parse_size(p.get_ref().memory.get_ref())
                    .ok()
                    .map(|bytes| (name.as_str(), bytes))
            })
            .collect();
        let needed = manager_memory_needed(memories.iter().map(|&(_, bytes)| bytes));
        if quota >= needed {
            continue;
        }
        let mut parts: Vec<String> = memories
            .iter()
            .map(|&(name, bytes)| {
                format!(
                    "{name} {} + {} + {}",
                    format_size(bytes),
                    format_size(page_table_memory(bytes)),
                    format_size(PARTITION_KERNEL_MEMORY)
                )
            })
            .collect();
        if parts.len() > 4 {
            parts.truncate(4);
            parts.push("…".into());
        }
        let raw_component = &infos[m].raw;
        report.push(
            MANAGER_MEMORY,
            format!("component.{manager}.memory"),
            span(&raw_component.memory),
            format!(
                "the quota of `{manager}` ({}) does not cover its partitions: {} for itself + {} = {}",
                format_size(quota),
                format_size(MANAGER_BASE_MEMORY),
                parts.join(" + "),
                format_size(needed)
            ),
            format!(
                "raise component.{manager}.memory to at least \"{}\": a manager pays from its quota \
                 for each partition's guest memory, the page tables that map it (1/256 of it), \
                 and {} of kernel objects (the partition, its VPs and VMCBs, its nested table \
                 directories), and {} for its own image, stack and heap (raise \
                 deployment.component-memory with it)",
                format_size(needed),
                format_size(PARTITION_KERNEL_MEMORY),
                format_size(MANAGER_BASE_MEMORY)
            ),
        );
    }
}

/// The slots of each manager's route capabilities: one per (partition,
/// endpoint) pair, from slot 62 down, skipping the manager's own slots
/// (slot 63 holds the manager data).
fn assign_slots(
    infos: &[Info<'_>],
    managers: &[Option<usize>],
    partitions: &mut [Option<Partition>],
    report: &mut Report<'_>,
) {
    let mut done: BTreeSet<usize> = BTreeSet::new();
    for m in managers.iter().flatten() {
        if !done.insert(*m) {
            continue;
        }
        let used = infos[*m].claimed_slots();
        let mut free = (4..MANAGER_DATA_SLOT as u8)
            .rev()
            .filter(|s| !used.contains(&i64::from(*s)));
        let mut pairs: BTreeMap<(usize, String, String), u8> = BTreeMap::new();
        let mut needed = 0usize;
        let mut exhausted = false;
        for (k, partition) in partitions.iter_mut().enumerate() {
            if managers[k] != Some(*m) {
                continue;
            }
            let Some(partition) = partition else { continue };
            for route in &mut partition.routes {
                let key = (k, route.server.clone(), route.endpoint.clone());
                if let Some(&slot) = pairs.get(&key) {
                    route.slot = slot;
                    continue;
                }
                needed += 1;
                match free.next() {
                    Some(slot) => {
                        pairs.insert(key, slot);
                        route.slot = slot;
                    }
                    None => exhausted = true,
                }
            }
        }
        if exhausted {
            let info = &infos[*m];
            let available = (4..MANAGER_DATA_SLOT as i64)
                .filter(|s| !used.contains(s))
                .count();
            report.push(
                ROUTE_SLOTS,
                format!("component.{}", info.name),
                Some(info.span.clone()),
                format!(
                    "`{}` has {available} free capability slots, but its partitions' routes need \
                     {needed} (one per partition and target endpoint)",
                    info.name
                ),
                format!(
                    "free slots of component.{} (its provides and connects), route fewer \
                     endpoints, or give some partitions to another manager",
                    info.name
                ),
            );
        }
    }
}
