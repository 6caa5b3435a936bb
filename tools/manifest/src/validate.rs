//! The named checks: from what was written to a [`Deployment`], or every
//! reason why not.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;

use tessera_boot_plan::{
    CSPACE_SLOTS, EndpointKind, FIRST_FREE_SLOT, GrantKind, MAX_COMPONENTS, MAX_CPUS,
    MAX_ENDPOINTS, MAX_GRANTS, MAX_IMAGES, MAX_NAME_LEN, MAX_THREADS, Rights, is_valid_name,
};
use toml::Spanned;

use crate::error::Report;
use crate::error::check::*;
use crate::model::{Component, Connection, Deployment, Endpoint};
use crate::raw::{RawComponent, RawConnect, RawManifest};
use crate::size::{format_size, parse_size};

/// Smallest memory quota a component may have: its stacks, capability
/// space and image have to fit.
pub const MIN_COMPONENT_MEMORY: u64 = 64 * 1024;
/// Longest `deployment.kernel-args`.
pub const MAX_KERNEL_ARGS: usize = 256;

const NAME_HELP: &str = "names are 1 to 31 bytes of lower-case letters, digits and `-`, \
                         starting with a letter, such as \"echo-server\"";

fn span<T>(s: &Spanned<T>) -> Option<Range<usize>> {
    Some(s.span())
}

/// What the checks learnt about one component.
struct Info<'r> {
    name: &'r str,
    raw: &'r RawComponent,
    span: Range<usize>,
    memory: Option<u64>,
    priority: Option<u8>,
    threads: Option<u16>,
    affinity: Option<u64>,
    endpoints: Vec<EndpointInfo<'r>>,
    connections: Vec<Option<Connection>>,
}

struct EndpointInfo<'r> {
    name: &'r str,
    kind: Option<EndpointKind>,
    slot: Option<u8>,
}

/// A capability slot claimed by an entry, for collision reports.
struct Claim {
    slot: i64,
    entry: String,
    span: Option<Range<usize>>,
    what: String,
    automatic: bool,
}

pub(crate) fn validate(raw: &RawManifest, report: &mut Report<'_>) -> Option<Deployment> {
    let (name, cpus, budget, kernel_args) = check_deployment(raw, report);

    let components = &raw.component;
    if components.is_empty() {
        report.push(
            NO_COMPONENTS,
            "component",
            span(&raw.deployment),
            "the deployment has no components",
            "add a component, such as [component.echo] with image, memory and priority",
        );
    }
    if components.len() > MAX_COMPONENTS as usize {
        report.push(
            TOO_MANY,
            "component",
            None,
            format!(
                "{} components, the boot plan holds at most {MAX_COMPONENTS}",
                components.len()
            ),
            "merge components or split the deployment",
        );
    }

    let mut infos: Vec<Info<'_>> = components
        .iter()
        .map(|(name, component)| check_component(name, component, cpus, report))
        .collect();

    check_budget(raw, &infos, budget, report);
    check_connections(&mut infos, report);
    check_slots(&infos, report);
    check_cycles(&infos, report);

    let mut images: Vec<String> = Vec::new();
    for info in &infos {
        let image = info.raw.image.get_ref();
        if !images.contains(image) {
            images.push(image.clone());
        }
    }
    check_limits(&infos, images.len(), report);

    if !report.errors.is_empty() {
        return None;
    }
    let components = infos
        .iter()
        .map(|info| Component {
            name: info.name.to_owned(),
            image: info.raw.image.get_ref().clone(),
            memory: info.memory.unwrap_or_default(),
            priority: info.priority.unwrap_or_default(),
            threads: info.threads.unwrap_or(1),
            affinity: info.affinity.unwrap_or(1),
            console: info.raw.console,
            provides: info
                .endpoints
                .iter()
                .map(|e| Endpoint {
                    name: e.name.to_owned(),
                    kind: e.kind.unwrap_or(EndpointKind::Ipc),
                    slot: e.slot.unwrap_or_default(),
                })
                .collect(),
            connects: info.connections.iter().flatten().cloned().collect(),
        })
        .collect();
    Some(Deployment {
        name,
        source: report.file().to_path_buf(),
        cpus: cpus.unwrap_or(1),
        component_memory: budget.unwrap_or_default(),
        kernel_args,
        images,
        components,
    })
}

/// `[deployment]`: name, cpus, component-memory, kernel-args.
fn check_deployment(
    raw: &RawManifest,
    report: &mut Report<'_>,
) -> (String, Option<u16>, Option<u64>, Option<String>) {
    let deployment = raw.deployment.get_ref();
    let file = report.file();
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file_name = file
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();

    let name = match &deployment.name {
        Some(name) => {
            let value = name.get_ref();
            if !is_valid_name(value.as_bytes()) {
                report.push(
                    BAD_NAME,
                    "deployment.name",
                    span(name),
                    format!("`{value}` is not a valid deployment name"),
                    NAME_HELP,
                );
            } else if *value != stem {
                report.push(
                    DEPLOYMENT_NAME,
                    "deployment.name",
                    span(name),
                    format!("deployment `{value}` is in the file `{file_name}`"),
                    format!(
                        "rename the file to `{value}.toml`, or remove `name` (it defaults to the file name)"
                    ),
                );
            }
            value.clone()
        }
        None => {
            if !is_valid_name(stem.as_bytes()) {
                report.push(
                    BAD_NAME,
                    "deployment",
                    span(&raw.deployment),
                    format!("the file name `{file_name}` does not make a valid deployment name"),
                    format!("rename the file: {NAME_HELP}"),
                );
            }
            stem
        }
    };

    let cpus_value = *deployment.cpus.get_ref();
    let cpus = match u16::try_from(cpus_value) {
        Ok(n) if (1..=MAX_CPUS).contains(&n) => Some(n),
        _ => {
            report.push(
                BAD_CPU_COUNT,
                "deployment.cpus",
                span(&deployment.cpus),
                format!("a deployment cannot expect {cpus_value} CPUs"),
                format!("write a CPU count from 1 to {MAX_CPUS}"),
            );
            None
        }
    };

    let budget = match parse_size(deployment.component_memory.get_ref()) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            report.push(
                BAD_SIZE,
                "deployment.component-memory",
                span(&deployment.component_memory),
                e.message,
                e.help,
            );
            None
        }
    };

    let kernel_args = deployment.kernel_args.as_ref().map(|args| {
        let value = args.get_ref();
        if value.len() > MAX_KERNEL_ARGS {
            report.push(
                BAD_KERNEL_ARGS,
                "deployment.kernel-args",
                span(args),
                format!(
                    "kernel arguments are {} bytes long, at most {MAX_KERNEL_ARGS} fit",
                    value.len()
                ),
                "shorten them",
            );
        } else if let Some(c) = value.chars().find(|c| !(' '..='~').contains(c)) {
            report.push(
                BAD_KERNEL_ARGS,
                "deployment.kernel-args",
                span(args),
                format!("kernel arguments contain {c:?}"),
                "write them as one line of printable ASCII, such as \"log=debug\"",
            );
        }
        value.clone()
    });

    (name, cpus, budget, kernel_args)
}

/// One `[component.NAME]` on its own: names, sizes, numbers, endpoints.
fn check_component<'r>(
    name: &'r str,
    spanned: &'r Spanned<RawComponent>,
    cpus: Option<u16>,
    report: &mut Report<'_>,
) -> Info<'r> {
    let raw = spanned.get_ref();
    let entry = format!("component.{name}");
    if !is_valid_name(name.as_bytes()) {
        report.push(
            BAD_NAME,
            entry.clone(),
            span(spanned),
            format!("`{name}` is not a valid component name"),
            NAME_HELP,
        );
    }

    let image = raw.image.get_ref();
    if !is_valid_name(image.as_bytes()) {
        let help = if image.contains('_') {
            format!(
                "name the crate with `-` instead of `_`, such as \"{}\"",
                image.replace('_', "-")
            )
        } else {
            "`image` names the crate under components/ that builds the component's ELF, \
             such as \"echo-server\": 1 to 31 bytes of lower-case letters, digits and `-`"
                .to_owned()
        };
        report.push(
            BAD_IMAGE_NAME,
            format!("{entry}.image"),
            span(&raw.image),
            format!("`{image}` is not a component crate name"),
            help,
        );
    }

    let memory = match parse_size(raw.memory.get_ref()) {
        Ok(bytes) if bytes < MIN_COMPONENT_MEMORY => {
            report.push(
                MEMORY_BELOW_MINIMUM,
                format!("{entry}.memory"),
                span(&raw.memory),
                format!(
                    "a quota of {} is below the {} a component needs",
                    format_size(bytes),
                    format_size(MIN_COMPONENT_MEMORY)
                ),
                format!(
                    "give the component at least memory = \"{}\"",
                    format_size(MIN_COMPONENT_MEMORY)
                ),
            );
            Some(bytes)
        }
        Ok(bytes) => Some(bytes),
        Err(e) => {
            report.push(
                BAD_SIZE,
                format!("{entry}.memory"),
                span(&raw.memory),
                e.message,
                e.help,
            );
            None
        }
    };

    let priority_value = *raw.priority.get_ref();
    let priority = match u8::try_from(priority_value) {
        Ok(p) => Some(p),
        Err(_) => {
            report.push(
                BAD_PRIORITY,
                format!("{entry}.priority"),
                span(&raw.priority),
                format!("priority {priority_value} is outside 0..=255"),
                "write a priority from 0 (least important) to 255 (most important)",
            );
            None
        }
    };

    let threads = match &raw.threads {
        None => Some(1),
        Some(threads) => {
            let value = *threads.get_ref();
            match u16::try_from(value) {
                Ok(n) if (1..=MAX_THREADS).contains(&n) => Some(n),
                _ => {
                    report.push(
                        BAD_THREADS,
                        format!("{entry}.threads"),
                        span(threads),
                        format!("a component cannot have {value} threads"),
                        format!(
                            "write a thread count from 1 to {MAX_THREADS} (or leave `threads` out for 1)"
                        ),
                    );
                    None
                }
            }
        }
    };

    let affinity = check_affinity(&entry, raw, cpus, report);
    let endpoints = check_provides(&entry, raw, report);

    Info {
        name,
        raw,
        span: spanned.span(),
        memory,
        priority,
        threads,
        affinity,
        endpoints,
        connections: Vec::new(),
    }
}

fn check_affinity(
    entry: &str,
    raw: &RawComponent,
    cpus: Option<u16>,
    report: &mut Report<'_>,
) -> Option<u64> {
    let all = |n: u16| {
        if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
    };
    let Some(list) = &raw.cpus else {
        return cpus.map(all);
    };
    let field = format!("{entry}.cpus");
    if list.get_ref().is_empty() {
        report.push(
            CPU_AFFINITY,
            field,
            span(list),
            "the component may run on no CPU",
            "list at least one CPU, or remove `cpus` to let it run on any",
        );
        return None;
    }
    let mut mask = 0u64;
    let mut ok = true;
    for (i, cpu) in list.get_ref().iter().enumerate() {
        let value = *cpu.get_ref();
        let limit = cpus.map_or(i64::from(MAX_CPUS), i64::from);
        if !(0..limit).contains(&value) {
            let help = match cpus {
                Some(n) => format!(
                    "the deployment has CPUs 0 to {}: use those, or raise deployment.cpus",
                    n - 1
                ),
                None => "fix deployment.cpus first".to_owned(),
            };
            report.push(
                CPU_AFFINITY,
                format!("{field}[{i}]"),
                span(cpu),
                format!("CPU {value} is not one of the deployment's {limit} CPUs"),
                help,
            );
            ok = false;
            continue;
        }
        let bit = 1u64 << value;
        if mask & bit != 0 {
            report.push(
                CPU_AFFINITY,
                format!("{field}[{i}]"),
                span(cpu),
                format!("CPU {value} is listed twice"),
                "list each CPU once",
            );
            ok = false;
        }
        mask |= bit;
    }
    (ok && cpus.is_some()).then_some(mask)
}

fn check_provides<'r>(
    entry: &str,
    raw: &'r RawComponent,
    report: &mut Report<'_>,
) -> Vec<EndpointInfo<'r>> {
    let mut endpoints: Vec<EndpointInfo<'r>> = Vec::new();
    for (i, provide) in raw.provides.iter().enumerate() {
        let field = format!("{entry}.provides[{i}]");
        let p = provide.get_ref();
        let name = p.name.get_ref().as_str();
        if !is_valid_name(name.as_bytes()) {
            report.push(
                BAD_NAME,
                field.clone(),
                span(provide),
                format!("`{name}` is not a valid endpoint name"),
                NAME_HELP,
            );
        }
        if let Some(first) = endpoints.iter().position(|e| e.name == name) {
            report.push(
                DUPLICATE_ENDPOINT,
                field.clone(),
                span(provide),
                format!("endpoint `{name}` is already provided by {entry}.provides[{first}]"),
                "give each endpoint of a component its own name, or remove the repeated one",
            );
        }
        let kind = match &p.kind {
            None => Some(EndpointKind::Ipc),
            Some(kind) => match kind.get_ref().as_str() {
                "endpoint" => Some(EndpointKind::Ipc),
                "notification" => Some(EndpointKind::Notification),
                other => {
                    report.push(
                        BAD_ENDPOINT_KIND,
                        format!("{field}.kind"),
                        span(kind),
                        format!("unknown endpoint kind `{other}`"),
                        "write kind = \"endpoint\" (called over IPC; the default) or \
                         kind = \"notification\" (signalled, asynchronous)",
                    );
                    None
                }
            },
        };
        // Slots are range-checked with the others in `check_slots`.
        let slot = match &p.slot {
            Some(slot) => u8::try_from(*slot.get_ref()).ok(),
            None => u8::try_from(usize::from(FIRST_FREE_SLOT) + i).ok(),
        };
        endpoints.push(EndpointInfo { name, kind, slot });
    }
    endpoints
}

/// Sum of the quotas against `deployment.component-memory`.
fn check_budget(
    raw: &RawManifest,
    infos: &[Info<'_>],
    budget: Option<u64>,
    report: &mut Report<'_>,
) {
    let Some(budget) = budget else { return };
    let total = infos
        .iter()
        .filter_map(|i| i.memory)
        .fold(0u64, u64::saturating_add);
    if total <= budget {
        return;
    }
    let mut parts: Vec<String> = infos
        .iter()
        .filter_map(|i| i.memory.map(|m| format!("{} {}", i.name, format_size(m))))
        .collect();
    if parts.len() > 8 {
        parts.truncate(8);
        parts.push("…".into());
    }
    let field = &raw.deployment.get_ref().component_memory;
    report.push(
        MEMORY_OVER_BUDGET,
        "deployment.component-memory",
        span(field),
        format!(
            "the component quotas add up to {} ({}), over the budget of {}",
            format_size(total),
            parts.join(", "),
            format_size(budget)
        ),
        format!(
            "raise deployment.component-memory to at least \"{}\", or lower component quotas",
            format_size(total)
        ),
    );
}

/// `connects`: references, rights, badges and priorities.
fn check_connections(infos: &mut [Info<'_>], report: &mut Report<'_>) {
    let names: Vec<&str> = infos.iter().map(|i| i.name).collect();
    // (server, endpoint, badge) -> (client, entry) of the first non-zero badge.
    let mut badges: BTreeMap<(usize, usize, u64), (usize, String)> = BTreeMap::new();
    for client in 0..infos.len() {
        let mut connections = Vec::new();
        let raw = infos[client].raw;
        for (j, spanned) in raw.connects.iter().enumerate() {
            let entry = format!("component.{}.connects[{j}]", infos[client].name);
            let connection =
                check_connection(infos, &names, client, &entry, spanned, &mut badges, report);
            // Later duplicates of an earlier connection of the same client.
            if let Some(c) = &connection
                && let Some(first) = connections.iter().position(|earlier: &Option<Connection>| {
                    earlier.as_ref().is_some_and(|e| {
                        e.server == c.server && e.endpoint == c.endpoint && e.badge == c.badge
                    })
                })
            {
                report.push(
                    DUPLICATE_CONNECTION,
                    entry.clone(),
                    span(spanned),
                    format!(
                        "`{}.{}` with badge {} is already connected by connects[{first}]",
                        c.server, c.endpoint, c.badge
                    ),
                    "remove one of the two, or give them different badges",
                );
            }
            connections.push(connection);
        }
        infos[client].connections = connections;
    }
}

fn check_connection(
    infos: &[Info<'_>],
    names: &[&str],
    client: usize,
    entry: &str,
    spanned: &Spanned<RawConnect>,
    badges: &mut BTreeMap<(usize, usize, u64), (usize, String)>,
    report: &mut Report<'_>,
) -> Option<Connection> {
    let connect = spanned.get_ref();
    let this = &infos[client];
    let reference = connect.endpoint.get_ref();
    let field = format!("{entry}.endpoint");
    let at = span(&connect.endpoint);

    let Some((server_name, endpoint_name)) = reference
        .split_once('.')
        .filter(|(c, e)| !c.is_empty() && !e.is_empty() && !e.contains('.'))
    else {
        report.push(
            BAD_ENDPOINT_REFERENCE,
            field,
            at,
            format!("`{reference}` does not name an endpoint"),
            "write endpoint = \"COMPONENT.ENDPOINT\", such as \"echo.echo\"",
        );
        return None;
    };
    let Some(server) = names.iter().position(|n| *n == server_name) else {
        let help = match suggest(server_name, names.iter().copied()) {
            Some(near) => format!("did you mean `{near}.{endpoint_name}`?"),
            None => format!(
                "connect to one of the deployment's components ({}), or add [component.{server_name}]",
                names.join(", ")
            ),
        };
        report.push(
            UNKNOWN_COMPONENT,
            field,
            at,
            format!("there is no component `{server_name}`"),
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
            None if provided.len() == 1 => format!(
                "`{server_name}` provides only `{}`: connect to it, or add \"{endpoint_name}\" to component.{server_name}.provides",
                provided[0]
            ),
            None => format!(
                "`{server_name}` provides {}: connect to one of those, or add \"{endpoint_name}\" to component.{server_name}.provides",
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
    if server == client {
        report.push(
            SELF_CONNECTION,
            field,
            at,
            format!("`{}` connects to its own endpoint `{reference}`", this.name),
            "remove the connection: a component serves its own endpoints through the \
             receive capability it already holds",
        );
        return None;
    }
    let endpoint_kind = target.endpoints[endpoint].kind?;
    let kind = match endpoint_kind {
        EndpointKind::Ipc => GrantKind::Call,
        EndpointKind::Notification => GrantKind::Signal,
    };

    let rights = check_rights(entry, connect, reference, kind, report);

    let badge = match &connect.badge {
        None => Some(0),
        Some(badge) => match u64::try_from(*badge.get_ref()) {
            Ok(b) => Some(b),
            Err(_) => {
                report.push(
                    BAD_BADGE,
                    format!("{entry}.badge"),
                    span(badge),
                    format!("badge {} is negative", badge.get_ref()),
                    "write a badge from 0 (no badge) to 9223372036854775807",
                );
                None
            }
        },
    };
    if let Some(b) = badge.filter(|&b| b != 0) {
        match badges.get(&(server, endpoint, b)) {
            Some((other, other_entry)) if *other != client => {
                report.push(
                    BADGE_COLLISION,
                    format!("{entry}.badge"),
                    connect.badge.as_ref().and_then(span),
                    format!(
                        "`{}` and `{}` both connect to `{reference}` with badge {b}, so `{server_name}` cannot tell them apart ({other_entry})",
                        infos[*other].name, this.name
                    ),
                    "give each client of an endpoint its own badge",
                );
            }
            Some(_) => {}
            None => {
                badges.insert((server, endpoint, b), (client, entry.to_owned()));
            }
        }
    }

    if kind == GrantKind::Call
        && let (Some(mine), Some(theirs)) = (this.priority, target.priority)
        && mine > theirs
    {
        report.push(
            PRIORITY_INVERSION,
            entry,
            span(spanned),
            format!(
                "`{}` (priority {mine}) calls `{reference}`, but `{server_name}` has priority {theirs}: \
                 a component may only call components of equal or higher priority",
                this.name
            ),
            format!(
                "raise component.{server_name}.priority to {mine} or more, or lower \
                 component.{}.priority to {theirs} or less (or signal a notification instead: \
                 signals may go to any priority)",
                this.name
            ),
        );
    }

    let slot = u8::try_from(*connect.slot.get_ref()).ok()?;
    Some(Connection {
        server: server_name.to_owned(),
        endpoint: endpoint_name.to_owned(),
        kind,
        slot,
        rights: rights?,
        badge: badge?,
    })
}

fn check_rights(
    entry: &str,
    connect: &RawConnect,
    reference: &str,
    kind: GrantKind,
    report: &mut Report<'_>,
) -> Option<Rights> {
    let what = match kind {
        GrantKind::Call => "an endpoint: its capabilities carry `call` and `grant`",
        _ => "a notification: its capabilities carry `signal`",
    };
    let Some(list) = &connect.rights else {
        return Some(match kind {
            GrantKind::Call => Rights::CALL,
            _ => Rights::SIGNAL,
        });
    };
    let field = format!("{entry}.rights");
    if list.get_ref().is_empty() {
        report.push(
            BAD_RIGHTS,
            field,
            span(list),
            "a capability without rights is of no use",
            "list the rights, such as rights = [\"call\"], or remove `rights` for the default",
        );
        return None;
    }
    let mut rights = Rights::NONE;
    let mut ok = true;
    for (i, right) in list.get_ref().iter().enumerate() {
        let name = right.get_ref().as_str();
        let bit = match name {
            "call" => Rights::CALL,
            "grant" => Rights::GRANT,
            "signal" => Rights::SIGNAL,
            _ => {
                report.push(
                    BAD_RIGHTS,
                    format!("{field}[{i}]"),
                    span(right),
                    format!("unknown right `{name}`"),
                    "rights are `call` and `grant` (endpoints) and `signal` (notifications)",
                );
                ok = false;
                continue;
            }
        };
        if rights.contains(bit) {
            report.push(
                BAD_RIGHTS,
                format!("{field}[{i}]"),
                span(right),
                format!("right `{name}` is listed twice"),
                "list each right once",
            );
            ok = false;
        }
        if !kind.allowed_rights().contains(bit) {
            report.push(
                RIGHTS_NOT_APPLICABLE,
                format!("{field}[{i}]"),
                span(right),
                format!("`{reference}` cannot be given the right `{name}`"),
                format!("remove `{name}`: `{reference}` is {what}"),
            );
            ok = false;
        }
        rights = rights.union(bit);
    }
    if ok && kind == GrantKind::Call && !rights.contains(Rights::CALL) {
        report.push(
            BAD_RIGHTS,
            field,
            span(list),
            format!("a capability to `{reference}` without `call` cannot be used"),
            "add \"call\" to the rights",
        );
        ok = false;
    }
    ok.then_some(rights)
}

/// Capability slots: reserved, in range, and one capability each.
fn check_slots(infos: &[Info<'_>], report: &mut Report<'_>) {
    for info in infos {
        let entry = format!("component.{}", info.name);
        let mut claims = Vec::new();
        for (i, provide) in info.raw.provides.iter().enumerate() {
            let p = provide.get_ref();
            let (slot, span, automatic) = match &p.slot {
                Some(slot) => (*slot.get_ref(), Some(slot.span()), false),
                None => (
                    i64::from(FIRST_FREE_SLOT) + i as i64,
                    Some(provide.span()),
                    true,
                ),
            };
            claims.push(Claim {
                slot,
                entry: format!("{entry}.provides[{i}]"),
                span,
                what: format!("endpoint `{}`", p.name.get_ref()),
                automatic,
            });
        }
        for (j, connect) in info.raw.connects.iter().enumerate() {
            let c = connect.get_ref();
            claims.push(Claim {
                slot: *c.slot.get_ref(),
                entry: format!("{entry}.connects[{j}]"),
                span: Some(c.slot.span()),
                what: format!("the connection to `{}`", c.endpoint.get_ref()),
                automatic: false,
            });
        }

        let mut taken: BTreeMap<i64, usize> = BTreeMap::new();
        let mut collisions = Vec::new();
        for (k, claim) in claims.iter().enumerate() {
            let slot_field = if claim.automatic {
                claim.entry.clone()
            } else {
                format!("{}.slot", claim.entry)
            };
            if (0..i64::from(FIRST_FREE_SLOT)).contains(&claim.slot) {
                report.push(
                    SLOT_RESERVED,
                    slot_field,
                    claim.span.clone(),
                    format!("slot {} is reserved for the kernel", claim.slot),
                    format!(
                        "slots 0 to 3 hold the component's own domain, thread, console and reply \
                         capabilities: use a slot from {FIRST_FREE_SLOT} to {}",
                        CSPACE_SLOTS - 1
                    ),
                );
            } else if !(0..i64::from(CSPACE_SLOTS)).contains(&claim.slot) {
                let message = if claim.automatic {
                    format!(
                        "{} would get slot {}, past the {CSPACE_SLOTS} slots of a capability space",
                        claim.what, claim.slot
                    )
                } else {
                    format!(
                        "slot {} is outside the capability space (slots 0 to {})",
                        claim.slot,
                        CSPACE_SLOTS - 1
                    )
                };
                report.push(
                    SLOT_OUT_OF_RANGE,
                    slot_field,
                    claim.span.clone(),
                    message,
                    format!("use a slot from {FIRST_FREE_SLOT} to {}", CSPACE_SLOTS - 1),
                );
            } else if let Some(&first) = taken.get(&claim.slot) {
                collisions.push((first, k, slot_field));
            } else {
                taken.insert(claim.slot, k);
            }
        }
        for (first, k, slot_field) in collisions {
            let (a, b) = (&claims[first], &claims[k]);
            let free: Vec<String> = (i64::from(FIRST_FREE_SLOT)..i64::from(CSPACE_SLOTS))
                .filter(|s| !taken.contains_key(s))
                .take(3)
                .map(|s| s.to_string())
                .collect();
            let how = if a.automatic {
                format!(
                    " (an endpoint without `slot` gets slot {FIRST_FREE_SLOT} + its position in `provides`)"
                )
            } else {
                String::new()
            };
            report.push(
                SLOT_COLLISION,
                slot_field,
                b.span.clone(),
                format!(
                    "slot {} of `{}` already holds {}, from {}{how}",
                    b.slot, info.name, a.what, a.entry
                ),
                if free.is_empty() {
                    "the capability space is full: remove a connection".to_owned()
                } else {
                    format!(
                        "give one of the two another slot; free slots: {}",
                        free.join(", ")
                    )
                },
            );
        }
    }
}

/// Calls between components must not form a cycle.
fn check_cycles(infos: &[Info<'_>], report: &mut Report<'_>) {
    let n = infos.len();
    let index = |name: &str| infos.iter().position(|i| i.name == name);
    // edges[c]: (server, connects index) for each call connection of c.
    let edges: Vec<Vec<(usize, usize)>> = infos
        .iter()
        .map(|info| {
            info.connections
                .iter()
                .enumerate()
                .filter_map(|(j, c)| {
                    let c = c.as_ref()?;
                    (c.kind == GrantKind::Call)
                        .then(|| index(&c.server).map(|s| (s, j)))
                        .flatten()
                })
                .collect()
        })
        .collect();
    let reach = |from: usize| {
        let mut seen = vec![false; n];
        let mut queue = VecDeque::from([from]);
        while let Some(c) = queue.pop_front() {
            for &(s, _) in &edges[c] {
                if !seen[s] {
                    seen[s] = true;
                    queue.push_back(s);
                }
            }
        }
        seen
    };
    let reachable: Vec<Vec<bool>> = (0..n).map(reach).collect();
    let mut reported = vec![false; n];
    for start in 0..n {
        if reported[start] || !reachable[start][start] {
            continue;
        }
        // The strongly connected component of `start`.
        let scc: Vec<bool> = (0..n)
            .map(|c| reachable[start][c] && reachable[c][start])
            .collect();
        for (c, inside) in scc.iter().enumerate() {
            reported[c] |= *inside;
        }
        // Shortest cycle through `start`, by breadth-first search within it.
        let mut previous: Vec<Option<(usize, usize)>> = vec![None; n];
        let mut queue = VecDeque::from([start]);
        'search: while let Some(c) = queue.pop_front() {
            for &(s, j) in &edges[c] {
                if !scc[s] || previous[s].is_some() {
                    continue;
                }
                previous[s] = Some((c, j));
                if s == start {
                    break 'search;
                }
                queue.push_back(s);
            }
        }
        let mut path = vec![start];
        let mut first_edge = 0;
        let mut at = start;
        while let Some((p, j)) = previous[at] {
            path.push(p);
            first_edge = j;
            at = p;
            if at == start || path.len() > n + 1 {
                break;
            }
        }
        path.reverse();
        let names: Vec<&str> = path.iter().map(|&c| infos[c].name).collect();
        let info = &infos[start];
        let entry = format!("component.{}.connects[{first_edge}]", info.name);
        let at = info
            .raw
            .connects
            .get(first_edge)
            .map_or(Some(info.span.clone()), |c| Some(c.span()));
        report.push(
            CALL_CYCLE,
            entry,
            at,
            format!(
                "calls form a cycle: {}; components blocked in calls around it can wait on each other forever",
                names.join(" → ")
            ),
            "make calls go one way: remove one of these connections, turn one into a \
             notification, or move the shared work into a component that both call",
        );
    }
}

fn check_limits(infos: &[Info<'_>], images: usize, report: &mut Report<'_>) {
    let endpoints: usize = infos.iter().map(|i| i.raw.provides.len()).sum();
    let grants: usize = infos
        .iter()
        .map(|i| i.raw.connects.len() + usize::from(i.raw.console))
        .sum();
    for (count, max, what) in [
        (endpoints, MAX_ENDPOINTS as usize, "endpoints"),
        (
            grants,
            MAX_GRANTS as usize,
            "capabilities (connections and consoles)",
        ),
        (images, MAX_IMAGES as usize, "distinct images"),
    ] {
        if count > max {
            report.push(
                TOO_MANY,
                "component",
                None,
                format!("{count} {what}, the boot plan holds at most {max}"),
                "split the deployment",
            );
        }
    }
}

/// The candidate closest to `wanted` (by edit distance, at most 2), if any.
fn suggest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (distance(wanted, c), c))
        .filter(|&(d, _)| d <= 2 && d < wanted.len().max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance between two short names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

const _: () = assert!(MAX_NAME_LEN == 31);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(distance("echo", "echo"), 0);
        assert_eq!(distance("ecoh", "echo"), 2);
        assert_eq!(distance("eco", "echo"), 1);
        assert_eq!(distance("", "ab"), 2);
        assert_eq!(
            suggest("ehco", ["echo", "client"].into_iter()),
            Some("echo")
        );
        assert_eq!(suggest("zzz", ["echo"].into_iter()), None);
    }
}
