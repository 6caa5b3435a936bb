//! The `[deployment]` table.

use tessera_boot_plan::{MAX_CPUS, is_valid_name};

use super::{MAX_KERNEL_ARGS, NAME_HELP, span};
use crate::error::Report;
use crate::error::check::*;
use crate::raw::RawManifest;
use crate::size::parse_size;

/// `[deployment]`: name, cpus, component-memory, kernel-args.
pub(super) fn check_deployment(
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
