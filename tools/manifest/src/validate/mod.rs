//! The named checks: from what was written to a [`Deployment`], or every
//! reason why not.

mod apic;
mod component;
mod connections;
mod console;
mod cycles;
mod deployment;
mod endpoints;
pub(crate) mod guest_image;
mod hv;
mod limits;
mod lines;
mod linux;
mod modules;
mod partitions;
mod ports;
mod posted;
mod rights;
mod slots;
mod suggest;
mod synic;

use std::collections::BTreeSet;
use std::ops::Range;

use tessera_boot_plan::{EndpointKind, FIRST_FREE_SLOT, MAX_COMPONENTS, MAX_NAME_LEN};
use toml::Spanned;

use crate::error::Report;
use crate::error::check::*;
use crate::model::{Component, Connection, Deployment, Endpoint};
use crate::raw::{RawComponent, RawManifest};

use component::check_component;
use connections::check_connections;
use console::{check_console_input, check_name_clash};
use cycles::check_cycles;
use deployment::check_deployment;
use limits::{check_budget, check_limits, check_verdict};
use partitions::check_partitions;
use slots::check_slots;

/// Smallest memory quota a component may have: its stacks, capability
/// space and image have to fit.
pub const MIN_COMPONENT_MEMORY: u64 = 64 * 1024;
/// Longest `deployment.kernel-args`.
pub const MAX_KERNEL_ARGS: usize = 256;

const NAME_HELP: &str = "names are 1 to 31 bytes of lower-case letters, digits and `-`, \
                         starting with a letter, such as \"echo-server\"";

/// Checks a command line written at `entry` (`what` names it in the
/// message): one line of printable ASCII of at most `MAX_GUEST_CMDLINE`
/// bytes; otherwise reports why, with `example` in the help.
fn check_cmdline(
    entry: String,
    cmdline: &Spanned<String>,
    what: &str,
    example: &str,
    report: &mut Report<'_>,
) -> Option<String> {
    use tessera_boot_plan::{MAX_GUEST_CMDLINE, guest_cmdline_valid};
    let value = cmdline.get_ref();
    if guest_cmdline_valid(value.as_bytes()) {
        return Some(value.clone());
    }
    let message = if value.len() > MAX_GUEST_CMDLINE {
        format!(
            "{what} is {} bytes long, at most {MAX_GUEST_CMDLINE} fit",
            value.len()
        )
    } else {
        let c = value.chars().find(|c| !(' '..='~').contains(c));
        format!("{what} contains {:?}", c.unwrap_or(' '))
    };
    report.push(
        crate::error::check::BAD_CMDLINE,
        entry,
        span(cmdline),
        message,
        format!("write one line of printable ASCII, such as {example}"),
    );
    None
}

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

impl Info<'_> {
    /// The slots its provides and connects claim (as written; out-of-range
    /// ones included).
    fn claimed_slots(&self) -> BTreeSet<i64> {
        let provided = self.raw.provides.iter().enumerate().map(|(i, p)| {
            p.get_ref()
                .slot
                .as_ref()
                .map_or(i64::from(FIRST_FREE_SLOT) + i as i64, |s| *s.get_ref())
        });
        let connected = self
            .raw
            .connects
            .iter()
            .map(|c| *c.get_ref().slot.get_ref());
        provided.chain(connected).collect()
    }
}

struct EndpointInfo<'r> {
    name: &'r str,
    kind: Option<EndpointKind>,
    slot: Option<u8>,
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

    let mut images: Vec<String> = Vec::new();
    for info in &infos {
        let image = info.raw.image.get_ref();
        if !images.contains(image) {
            images.push(image.clone());
        }
    }
    let guest_images = guest_image::collect(raw, report, &images);
    // Module files are relative to the repository root, looked for only
    // when some partition has modules.
    let root = modules::any_modules(raw)
        .then(|| modules::repository_root(report.file()))
        .flatten();
    let module_file_count = modules::distinct_files(raw);
    let managers: BTreeSet<&str> = raw
        .partition
        .values()
        .map(|p| p.get_ref().manager.get_ref().as_str())
        .collect();

    check_budget(raw, &infos, budget, report);
    check_connections(&mut infos, report);
    check_slots(&infos, &managers, report);
    let (mut partitions, mut route_calls) = check_partitions(
        raw,
        &infos,
        cpus,
        &images,
        &guest_images,
        root.as_deref(),
        report,
    );
    lines::check_lines(raw, &infos, &mut partitions, &mut route_calls, report);
    ports::check_ports(raw, &mut partitions, report);
    check_cycles(&infos, &route_calls, report);
    check_verdict(&infos, report);
    check_console_input(&infos, &partitions, report);
    check_name_clash(raw, report);
    check_limits(
        &infos,
        images.len() + guest_images.names.len() + module_file_count,
        raw.partition.len(),
        report,
    );

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
            console_input: info.raw.has_console_input(),
            verdict: info.raw.has_verdict(),
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
    let taken: Vec<&str> = images
        .iter()
        .chain(&guest_images.names)
        .map(String::as_str)
        .collect();
    let module_files = modules::module_files(&partitions, &taken);
    Some(Deployment {
        name,
        source: report.file().to_path_buf(),
        cpus: cpus.unwrap_or(1),
        component_memory: budget.unwrap_or_default(),
        kernel_args,
        images,
        guest_images: guest_images.names,
        guest_files: guest_images.files,
        module_files,
        components,
        partitions,
    })
}

const _: () = assert!(MAX_NAME_LEN == 31);
