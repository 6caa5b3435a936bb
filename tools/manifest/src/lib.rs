//! Deployment manifests: load, validate, and compile into a boot plan.
//!
//! A manifest (`boot/deployments/NAME.toml`) says which components a
//! deployment runs and how they may talk, and which partitions (guests)
//! they create. [`load`] reads one and runs every
//! check, collecting all the problems it finds (each a [`ManifestError`]
//! that names the file, the line, the entry, the check, and what to change);
//! [`compile`] turns the resulting [`Deployment`] into the binary boot plan
//! of `tessera-boot-plan`, which the kernel reads from a Multiboot module.
//! xtask uses [`Deployment::modules`] to know which component and guest
//! images to build, which files to pass as they are, and in which order to
//! pass the modules, and
//! [`Deployment::kernel_args`] for the kernel command line.
//!
//! # Format (version 2)
//!
//! ```toml
//! # boot/deployments/my-demo.toml
//! [deployment]
//! name = "my-demo"             # optional; must equal the file name
//! component-memory = "32 MiB"  # budget for all component quotas together
//! cpus = 4                     # CPUs the deployment expects, 1..=64
//! kernel-args = "log=debug"    # optional, appended to the kernel command line
//!
//! [component.echo]
//! image = "echo-server"        # crate under components/ that builds the ELF
//! memory = "512 KiB"           # quota: whole 4 KiB pages, at least 64 KiB
//! priority = 10                # 0..=255, higher is more important
//! threads = 1                  # optional, 1..=16, default 1
//! cpus = [1]                   # optional affinity, default: every CPU; the kernel
//!                              # moves a waiting handler to its VP's CPU only within it
//! console = true               # optional: may log (slot 2)
//! verdict = false              # optional: may end the deployment with pass/fail (slot 3)
//! provides = ["echo", { name = "ready", kind = "notification", slot = 9 }]
//!
//! [component.client]
//! image = "echo-client"
//! memory = "256 KiB"
//! priority = 5
//! connects = [
//!     { endpoint = "echo.echo", slot = 4, rights = ["call", "grant"], badge = 1 },
//!     { endpoint = "echo.ready", slot = 5 },
//! ]
//!
//! [component.pm]
//! image = "partition-manager"
//! memory = "20 MiB"            # covers 256 KiB + each partition's memory (and 1/256 of it) + 512 KiB
//! priority = 5
//! provides = ["exits"]
//!
//! [partition.demo]             # version 2: a guest
//! manager = "pm"               # the component that creates it
//! image = "hello"              # crate under test-guests/
//! memory = "16 MiB"            # guest RAM at GPA 0, a multiple of 2 MiB
//! routes = [
//!     { exit = "lifecycle", to = "pm.exits" },
//!     { exit = "io", ports = "0xf4", to = "pm.exits", state = ["rax"] },
//! ]
//! ```
//!
//! - Names (deployment, components, endpoints, partitions, images) are 1 to
//!   31 bytes of `[a-z][a-z0-9-]*`.
//! - Sizes are strings with a unit (`B`, `KiB`, `MiB`, `GiB`) or integers
//!   of bytes; they must be whole, non-zero numbers of 4 KiB pages.
//! - `provides` lists the endpoints a component serves: a name, or a table
//!   with `name`, `kind` (`"endpoint"`, the default, is called over IPC;
//!   `"notification"` is signalled) and `slot`. The server's receive (or
//!   wait) capability for entry `i` goes to `slot`, or to slot `4 + i`.
//! - `connects` gives the component a capability to another component's
//!   endpoint `COMPONENT.ENDPOINT` in `slot`, with `rights` (`call` and
//!   `grant` for endpoints, default `["call"]`; `signal` for notifications,
//!   the default) and an optional `badge` the server sees (default 0).
//! - Capability slots 0 to 3 are the kernel's: own domain, own thread,
//!   console, verdict. The capability space has 64 slots; slot 63 of a
//!   partition manager holds its manager data.
//! - `verdict = true` gives a component the verdict capability (slot 3),
//!   which ends the deployment with pass or fail; at most one component of
//!   a deployment may have it.
//! - A component may only call (connect to an endpoint of) a component of
//!   equal or higher priority, and calls must not form a cycle. Signals
//!   may go anywhere. A manager's route capabilities count as calls.
//! - `[partition.NAME]` (version 2) describes a guest: `manager`, `image`,
//!   `format` (`elf64`/`multiboot`), `cmdline`, `memory`, `vps`, `cpus`,
//!   `priority`, `expect`, `hv`, `modules` (Multiboot boot modules: `{ file,
//!   cmdline }`, files relative to the repository root) and `routes` (`{
//!   exit, to, ports | msrs | leaves | gpas | codes | vectors, state, posted }`, one
//!   of them a `lifecycle` route). See the README for every rule.

mod error;
mod model;
pub mod named;
mod range;
mod raw;
mod size;
mod validate;

use std::path::Path;

pub use error::CHECKS;
pub use error::{Check, ManifestError, check, render};
pub use model::{
    BootModule, Component, Connection, Deployment, Endpoint, GuestModule, Line, ModuleFile,
    ModuleKind, Partition, Route,
};
pub use named::{NamedFile, Resolver};
pub use size::format_size;
pub use tessera_boot_plan::{
    EndpointKind, Expectation, GrantKind, GuestFormat, PLAN_MODULE_NAME, Rights,
};
pub use validate::{MAX_KERNEL_ARGS, MIN_COMPONENT_MEMORY};

use error::Report;
use raw::RawManifest;

/// Reads, parses and validates the manifest at `path`. On failure, returns
/// every problem found (TOML syntax and shape problems stop the reading, so
/// they come alone; the checks after that all run).
pub fn load(path: &Path) -> Result<Deployment, Vec<ManifestError>> {
    load_with(path, &named::unresolved)
}

/// Like [`load`], with `named` telling where the manifest's named files
/// (`debian:…`, `initramfs:…`, [`NamedFile`]) are, fetching or building
/// them as needed.
pub fn load_with(path: &Path, named: Resolver<'_>) -> Result<Deployment, Vec<ManifestError>> {
    match std::fs::read_to_string(path) {
        Ok(source) => load_str_with(&source, path, named),
        Err(e) => Err(vec![ManifestError {
            check: check::READ_FILE,
            file: path.to_path_buf(),
            line: None,
            entry: String::new(),
            message: format!("cannot read the manifest: {e}"),
            help: "check the path (manifests live in boot/deployments/)".into(),
        }]),
    }
}

/// Like [`load`], for a manifest already in memory; `path` names it in
/// errors and gives the deployment its name.
pub fn load_str(source: &str, path: &Path) -> Result<Deployment, Vec<ManifestError>> {
    load_str_with(source, path, &named::unresolved)
}

/// [`load_str`] with a resolver of named files ([`load_with`]).
pub fn load_str_with(
    source: &str,
    path: &Path,
    named: Resolver<'_>,
) -> Result<Deployment, Vec<ManifestError>> {
    let mut report = Report::new(path, source, named);
    let Some(raw) = read(source, &mut report) else {
        return Err(report.errors);
    };
    let deployment = validate::validate(&raw, &mut report);
    let mut errors = report.errors;
    match deployment {
        Some(deployment) if errors.is_empty() => {
            // The kernel's decoder is the last word: a plan it would refuse
            // is a bug in these checks, reported rather than shipped.
            let plan = compile(&deployment);
            if let Err(e) = tessera_boot_plan::BootPlan::parse(&plan) {
                let mut report = Report::new(path, source, named);
                report.push(
                    check::PLAN_REJECTED,
                    "",
                    None,
                    format!("the compiled boot plan is invalid: {e}"),
                    "this is a bug in tessera-manifest: please report it with the manifest",
                );
                return Err(report.errors);
            }
            Ok(deployment)
        }
        _ => {
            errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
            Err(errors)
        }
    }
}

/// The boot plan of `deployment`, as the bytes of Multiboot module 0.
pub fn compile(deployment: &Deployment) -> Vec<u8> {
    tessera_boot_plan::encode(&deployment.plan_model())
}

/// TOML syntax and the shape serde can check.
fn read(source: &str, report: &mut Report<'_>) -> Option<RawManifest> {
    let deserializer = match toml::Deserializer::parse(source) {
        Ok(d) => d,
        Err(e) => {
            let span = e.span();
            let message = one_line(e.message());
            if message.starts_with("duplicate key") {
                let (entry, first) = duplicate_key(source, span.clone());
                let first = first.map_or(String::new(), |line| format!(" (first on line {line})"));
                report.push(
                    check::DUPLICATE_NAME,
                    entry.clone(),
                    span,
                    format!("`{entry}` is defined twice{first}"),
                    "each component, and each key of a table, may appear once: rename or merge the two",
                );
            } else {
                report.push(
                    check::TOML_SYNTAX,
                    "",
                    span,
                    message,
                    "fix the TOML syntax (see https://toml.io)",
                );
            }
            return None;
        }
    };
    match serde_path_to_error::deserialize::<_, RawManifest>(deserializer) {
        Ok(raw) => Some(raw),
        Err(e) => {
            let entry = e
                .path()
                .to_string()
                .replace(".$__serde_spanned_private_value", "")
                .replace("$__serde_spanned_private_value", "");
            let entry = if entry == "." { String::new() } else { entry };
            let inner = e.into_inner();
            let message = one_line(inner.message()).replace("i64", "an integer");
            let (check, help) = shape_help(&entry, &message);
            report.push(check, entry, inner.span(), message, help);
            None
        }
    }
}

/// Which check a serde error is, and what to do about it.
fn shape_help(entry: &str, message: &str) -> (&'static str, String) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or("");
        let help = match field {
            "route" | "routes" if !entry.starts_with("partition.") => {
                "routes are not a table of their own: write them in the partition they belong \
                 to, as partition.NAME.routes = [{ exit = \"lifecycle\", to = \"COMPONENT.ENDPOINT\" }]"
                    .to_owned()
            }
            "components" | "deployments" | "connections" | "endpoints" | "partitions" | "guests"
            | "guest" => format!(
                "remove `{field}` or fix its spelling (the table names are singular: \
                 [deployment], [component.NAME], [partition.NAME])"
            ),
            "port" | "range" | "msr" | "leaf" | "vector" if entry.contains(".routes[") => format!(
                "a route's range is written `ports`, `msrs`, `leaves` or `vectors`, by exit kind: \
                 rename `{field}`"
            ),
            _ => format!("remove `{field}` or fix its spelling"),
        };
        (check::UNKNOWN_FIELD, help)
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or("");
        let example = match field {
            "deployment" => "[deployment] with component-memory and cpus",
            "image" if entry.starts_with("partition.") => "image = \"hello\"",
            "image" => "image = \"echo-server\"",
            "memory" if entry.starts_with("partition.") => "memory = \"16 MiB\"",
            "memory" => "memory = \"256 KiB\"",
            "manager" => "manager = \"partition-manager\"",
            "exit" => "exit = \"lifecycle\"",
            "to" => "to = \"COMPONENT.ENDPOINT\"",
            "priority" => "priority = 10",
            "component-memory" => "component-memory = \"8 MiB\"",
            "cpus" => "cpus = 1",
            "endpoint" => "endpoint = \"COMPONENT.ENDPOINT\"",
            "slot" => "slot = 4",
            "name" => "name = \"echo\"",
            _ => "the field",
        };
        let place = if entry.is_empty() { "the file" } else { entry };
        (check::MISSING_FIELD, format!("add {example} to {place}"))
    } else {
        (
            check::WRONG_TYPE,
            "write a value of the expected type (see tools/manifest/README.md)".to_owned(),
        )
    }
}

/// The entry a duplicate-key error is about (the whole `[table.header]`
/// when the key is one), and the line of its first definition if it can be
/// found.
fn duplicate_key(source: &str, span: Option<std::ops::Range<usize>>) -> (String, Option<usize>) {
    let Some(span) = span else {
        return (String::new(), None);
    };
    let key = source.get(span.clone()).unwrap_or("").trim().to_owned();
    let line_start = source
        .get(..span.start)
        .and_then(|before| before.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line = source[line_start..].lines().next().unwrap_or("").trim();
    let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
        return (key, None);
    };
    let entry: String = header
        .split('.')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(".");
    let first = source
        .lines()
        .position(|l| l.trim() == line)
        .map(|i| i + 1)
        .filter(|&first| source[..line_start].lines().count() >= first);
    (entry, first)
}

fn one_line(message: &str) -> String {
    message.trim().replace('\n', "; ")
}
