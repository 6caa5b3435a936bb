//! The console's input and the names log lines carry.
//!
//! What is typed on the console goes to one component, the holder of
//! `console-input` (the READ right on its console capability), normally
//! `devices`, which hands it to the *console partition*: the one partition
//! whose COM1 it serves. Log lines are tagged with component and partition
//! names, so the two share one namespace.

use tessera_boot_plan::route::{self, intercept};

use super::{Info, span};
use crate::error::Report;
use crate::error::check::*;
use crate::model::Partition;
use crate::raw::RawManifest;

/// COM1's data port: a partition whose `io` routes take it has a serial
/// console there.
const COM1: u64 = 0x3F8;

/// At most one component reads the console's input, and it serves COM1 of
/// at most one partition (which gets what is typed).
pub(super) fn check_console_input(
    infos: &[Info<'_>],
    partitions: &[Partition],
    report: &mut Report<'_>,
) {
    let holders: Vec<&Info<'_>> = infos
        .iter()
        .filter(|info| info.raw.has_console_input())
        .collect();
    if let [first, others @ ..] = holders.as_slice() {
        for other in others {
            report.push(
                CONSOLE_INPUT,
                format!("component.{}.console-input", other.name),
                other.raw.console_input.as_ref().and_then(span),
                format!(
                    "`{}` and `{}` both read the console's input, but what is typed goes to one",
                    other.name, first.name
                ),
                format!(
                    "keep console-input = true on one component (normally devices, which hands \
                     the input to its partition's COM1): remove it from component.{} or from \
                     component.{}",
                    other.name, first.name
                ),
            );
        }
    }
    let Some(holder) = holders.first() else {
        return;
    };
    let served: Vec<&str> = partitions
        .iter()
        .filter(|p| serves_com1(p, holder.name))
        .map(|p| p.name.as_str())
        .collect();
    if served.len() > 1 {
        report.push(
            CONSOLE_INPUT,
            format!("component.{}.console-input", holder.name),
            holder.raw.console_input.as_ref().and_then(span),
            format!(
                "`{}` reads the console's input and serves COM1 of {} partitions ({}), but \
                 what is typed goes to one",
                holder.name,
                served.len(),
                served.join(", ")
            ),
            "route COM1 (0x3f8) of the partition that gets the console to the component with \
             console-input, and the other partitions' COM1 to another component",
        );
    }
}

/// Whether partition `p` routes COM1's data port to component `server`.
fn serves_com1(p: &Partition, server: &str) -> bool {
    p.routes.iter().any(|r| {
        r.kind == intercept::IO_PORT
            && r.server == server
            && route::range_of(r.kind, r.parameter)
                .is_some_and(|(first, last)| (first..=last).contains(&COM1))
    })
}

/// No partition is named like a component: both tag log lines.
pub(super) fn check_name_clash(raw: &RawManifest, report: &mut Report<'_>) {
    for (name, partition) in &raw.partition {
        if raw.component.contains_key(name) {
            report.push(
                NAME_CLASH,
                format!("partition.{name}"),
                span(partition),
                format!("the partition `{name}` has the name of a component"),
                format!(
                    "log lines are tagged with component and partition names, so each name \
                     means one thing: rename partition.{name} (such as `{name}-guest`) or the \
                     component"
                ),
            );
        }
    }
}
