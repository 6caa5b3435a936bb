//! Deployment-wide totals: the memory budget and what the boot plan holds.

use tessera_boot_plan::{
    INIT_SLOTS, MAX_COMPONENTS, MAX_ENDPOINTS, MAX_GRANTS, MAX_IMAGES, init_slots_needed,
};

use super::{Info, span};
use crate::error::Report;
use crate::error::check::*;
use crate::raw::RawManifest;
use crate::size::format_size;

/// Sum of the quotas against `deployment.component-memory`.
pub(super) fn check_budget(
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

pub(super) fn check_limits(
    infos: &[Info<'_>],
    images: usize,
    partitions: usize,
    report: &mut Report<'_>,
) {
    let endpoints: usize = infos.iter().map(|i| i.raw.provides.len()).sum();
    let grants: usize = infos
        .iter()
        .map(|i| {
            i.raw.connects.len() + usize::from(i.raw.console) + usize::from(i.raw.has_verdict())
        })
        .sum();
    let needed = init_slots_needed(infos.len(), endpoints, partitions);
    if needed > INIT_SLOTS && infos.len() <= MAX_COMPONENTS as usize {
        let data = if partitions > 0 {
            ", 1 for the manager data"
        } else {
            ""
        };
        report.push(
            TOO_MANY,
            "component",
            None,
            format!(
                "init needs {needed} capability slots to build the deployment ({} components \
                 take 2 each, {endpoints} endpoints 1 each{data}), it has {INIT_SLOTS}",
                infos.len()
            ),
            "merge components or endpoints, or split the deployment",
        );
    }
    for (count, max, what) in [
        (endpoints, MAX_ENDPOINTS as usize, "endpoints"),
        (
            grants,
            MAX_GRANTS as usize,
            "capabilities (connections, consoles and verdicts)",
        ),
        (
            images,
            MAX_IMAGES as usize,
            "distinct images (component, guest and module files)",
        ),
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

/// At most one component may hold the verdict capability: the deployment
/// ends once, with one pass or fail.
pub(super) fn check_verdict(infos: &[Info<'_>], report: &mut Report<'_>) {
    let mut first: Option<&str> = None;
    for info in infos {
        let Some(verdict) = info.raw.verdict.as_ref().filter(|v| *v.get_ref()) else {
            continue;
        };
        match first {
            None => first = Some(info.name),
            Some(holder) => report.push(
                DUPLICATE_VERDICT,
                format!("component.{}.verdict", info.name),
                span(verdict),
                format!(
                    "`{}` and `{holder}` both have verdict = true, but a deployment has one verdict",
                    info.name
                ),
                format!(
                    "give the verdict capability to one component: remove verdict = true from \
                     component.{} or from component.{holder}",
                    info.name
                ),
            ),
        }
    }
}
