//! Interrupt lines: `lines = [{ pin = 4, to = "devices" }]` on a partition
//! gives component `devices` the line for pin 4 of that partition — a
//! capability to the partition's interrupt controller (the server of its
//! `eoi` route, which also gets the partition's interrupt capability)
//! badged `line_badge(partition badge, pin)`, in the holder's slot
//! `line_slot(partition badge)`. Only its holder can drive the pin.

use tessera_abi::vm::interrupt::{PINS, line_badge, line_slot};
use tessera_boot_plan::route::intercept;

use super::partitions::RouteCall;
use super::{Info, span};
use crate::error::Report;
use crate::error::check::INTERRUPT_LINE;
use crate::model::{Line, Partition};
use crate::raw::RawManifest;

pub(super) fn check_lines(
    raw: &RawManifest,
    infos: &[Info<'_>],
    partitions: &mut [Partition],
    calls: &mut Vec<RouteCall>,
    report: &mut Report<'_>,
) {
    for (name, spanned) in &raw.partition {
        let p = spanned.get_ref();
        if p.lines.is_empty() {
            continue;
        }
        let Some(partition) = partitions.iter_mut().find(|m| &m.name == name) else {
            continue;
        };
        let entry = format!("partition.{name}.lines");
        let controller = partition
            .routes
            .iter()
            .find(|r| r.kind == intercept::EOI)
            .map(|r| (r.server.clone(), r.endpoint.clone()));
        let Some((server, endpoint)) = controller else {
            report.push(
                INTERRUPT_LINE,
                entry,
                span(&p.lines[0]),
                format!("partition `{name}` has lines but no interrupt controller"),
                "add the route that makes one, such as { exit = \"eoi\", to = \"platform.exits\" }, \
                 with the controller's memory and port routes",
            );
            continue;
        };
        if partition.apic == tessera_boot_plan::manager::ApicKind::None {
            report.push(
                INTERRUPT_LINE,
                entry,
                span(&p.lines[0]),
                format!("partition `{name}` has lines but no local APIC to deliver them to"),
                "add apic = \"xapic\" (or \"x2apic\") to the partition",
            );
            continue;
        }
        let Some(slot) = line_slot(partition.badge) else {
            report.push(
                INTERRUPT_LINE,
                entry,
                span(&p.lines[0]),
                format!(
                    "partition `{name}` is partition {} of the deployment; only the first {} can have lines",
                    partition.badge,
                    tessera_abi::CSPACE_SLOTS - 1 - tessera_abi::vm::interrupt::LINE_SLOT_BASE
                ),
                "move the partitions with lines to the front of the manifest",
            );
            continue;
        };
        let server_index = infos.iter().position(|i| i.name == server);
        let mut lines: Vec<Line> = Vec::new();
        for (j, line) in p.lines.iter().enumerate() {
            let entry = format!("partition.{name}.lines[{j}]");
            let raw_line = line.get_ref();
            let pin = *raw_line.pin.get_ref();
            if !(0..PINS as i64).contains(&pin) {
                report.push(
                    INTERRUPT_LINE,
                    entry,
                    span(&raw_line.pin),
                    format!("pin {pin} is not one of the I/O APIC's 24"),
                    "use a pin from 0 to 23 (COM1 is 4)",
                );
                continue;
            }
            let holder = raw_line.to.get_ref();
            let Some(h) = infos.iter().position(|i| i.name == holder) else {
                report.push(
                    INTERRUPT_LINE,
                    entry,
                    span(&raw_line.to),
                    format!("`{holder}` is not a component of this deployment"),
                    "name the component whose device raises the interrupt, such as \"devices\"",
                );
                continue;
            };
            if lines.iter().any(|l| u64::from(l.pin) == pin as u64) {
                report.push(
                    INTERRUPT_LINE,
                    entry,
                    span(&raw_line.pin),
                    format!("pin {pin} of partition `{name}` has two lines"),
                    "give each pin one holder",
                );
                continue;
            }
            if lines.iter().any(|l| &l.holder == holder) {
                report.push(
                    INTERRUPT_LINE,
                    entry,
                    span(&raw_line.to),
                    format!("`{holder}` already holds a line of partition `{name}`"),
                    "a component holds one line per partition (in the slot its badge names)",
                );
                continue;
            }
            if infos[h].claimed_slots().contains(&i64::from(slot)) {
                report.push(
                    INTERRUPT_LINE,
                    entry,
                    span(&raw_line.to),
                    format!("`{holder}`'s slot {slot}, where this line goes, is taken"),
                    format!("move `{holder}`'s capability out of slot {slot}"),
                );
                continue;
            }
            if let (Some(s), Some(mine), Some(theirs)) = (
                server_index,
                infos[h].priority,
                server_index.and_then(|s| infos[s].priority),
            ) {
                if mine > theirs {
                    report.push(
                        INTERRUPT_LINE,
                        entry,
                        span(&raw_line.to),
                        format!(
                            "`{holder}` (priority {mine}) would call `{server}` (priority {theirs}) through the line"
                        ),
                        format!("raise component.{server}.priority to {mine} or more"),
                    );
                    continue;
                }
                calls.push(RouteCall {
                    manager: h,
                    server: s,
                    entry: entry.clone(),
                    span: span(line),
                });
            }
            lines.push(Line {
                pin: pin as u8,
                holder: holder.clone(),
                slot: slot as u8,
                badge: line_badge(partition.badge, pin as u64),
                server: server.clone(),
                endpoint: endpoint.clone(),
            });
        }
        partition.lines = lines;
    }
}
