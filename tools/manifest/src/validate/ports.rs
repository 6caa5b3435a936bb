//! SynIC ports and connections (issue 14 item 4; TLFS md
//! `inter-partition-communication.md` § Ports and Connections):
//!
//! ```toml
//! [partition.b]
//! ports = [
//!     { id = 0x10, type = "message", vp = 0, sint = 2 },
//!     { id = 0x11, type = "event", vp = 1, sint = 3, base-flag = 8, flag-count = 4 },
//! ]
//! [partition.a]
//! connections = [{ id = 0x20, partition = "b", port = 0x10 }]
//! ```
//!
//! A port is where its partition receives (a message port into SINT
//! `sint`'s slot of VP `vp`, an event port into flags `base-flag ..
//! base-flag + flag-count` of that SINT), or, with `owner =
//! "COMPONENT.ENDPOINT"` in place of `vp` and `sint`, where a component
//! receives what the partition's guest posts or signals (issue 14 item 4:
//! the endpoint must be the `to` of one of the partition's routes, so the
//! manager holds its capability, badged for the partition, and the
//! component gets the partition's capability with the attach; only the
//! partition itself connects to it); a connection is the ID the
//! sending partition's `HvCallPostMessage` / `HvCallSignalEvent` name, to
//! a port of a partition with the same manager (which holds both
//! partitions' capabilities and makes them: `PartitionCreatePort`,
//! `PartitionConnectPort`), itself included. Both sides need `hv-synic`.

use tessera_boot_plan::synic::{
    ConnectionDecl, EVENT, MAX_CONNECTIONS, MAX_PORTS, MESSAGE, PortDecl, SynicLinks,
};
use tessera_hv1::Hv1Config;

use super::span;
use crate::error::Report;
use crate::error::check::SYNIC_PORT;
use crate::model::Partition;
use crate::raw::{RawConnection, RawManifest, RawPort};

const ID_HELP: &str = "IDs are 24 bits (0 to 0xffffff), unique among the partition's ports \
                       (or connections)";

fn has_synic(partition: &Partition) -> bool {
    partition
        .hv1
        .is_some_and(|words| Hv1Config::from_words(&words).privileges.access_synic_regs())
}

/// The port `raw` declares on `partition`, or why not.
fn port_of(raw: &RawPort, partition: &Partition) -> Result<PortDecl, (String, &'static str)> {
    let vps = partition.vp_cpus.len();
    let id = *raw.id.get_ref();
    let id = u32::try_from(id)
        .ok()
        .filter(|id| id >> 24 == 0)
        .ok_or((format!("port ID {id} is not 24 bits"), ID_HELP))?;
    let kind = match raw.kind.get_ref().as_str() {
        "message" => MESSAGE,
        "event" => EVENT,
        other => {
            return Err((
                format!("port type `{other}`"),
                "write type = \"message\" or type = \"event\"",
            ));
        }
    };
    let (vp, sint, owner_slot) = match (&raw.owner, &raw.vp, &raw.sint) {
        (Some(owner), None, None) => (0, 0, owner_slot(owner.get_ref(), partition)?),
        (Some(_), _, _) => {
            return Err((
                "a port with an owner and a VP or SINT".to_owned(),
                "a component's port goes to the component: remove vp and sint, or the owner",
            ));
        }
        (None, Some(vp), Some(sint)) => {
            let vp = *vp.get_ref();
            let vp = u8::try_from(vp)
                .ok()
                .filter(|vp| usize::from(*vp) < vps)
                .ok_or((
                    format!("VP {vp}: the partition has {vps}"),
                    "name a VP index below the partition's `vps`",
                ))?;
            let sint = *sint.get_ref();
            let sint = u8::try_from(sint)
                .ok()
                .filter(|sint| *sint < 16)
                .ok_or((format!("SINT {sint}"), "SINTs are 0 to 15"))?;
            (vp, sint, 0)
        }
        (None, _, _) => {
            return Err((
                "a port without vp and sint".to_owned(),
                "write vp and sint (the VP and SINT that receive), or owner = \"COMPONENT.ENDPOINT\"",
            ));
        }
    };
    if owner_slot != 0 && raw.base_flag.is_some() {
        return Err((
            "a component's event port with base-flag".to_owned(),
            "a component's port numbers its flags from 0: remove base-flag",
        ));
    }
    let flag = |value: &Option<toml::Spanned<i64>>| value.as_ref().map(|v| *v.get_ref());
    let (base_flag, flag_count) = match (kind, flag(&raw.base_flag), flag(&raw.flag_count)) {
        (MESSAGE, None, None) => (0, 0),
        (EVENT, base, Some(count)) => {
            let base = base.unwrap_or(0);
            if !(0..2048).contains(&base) || !(1..=2048 - base).contains(&count) {
                return Err((
                    format!("event flags {base} + {count}"),
                    "an event port has flag-count >= 1 flags from base-flag, all below 2048",
                ));
            }
            (base as u16, count as u16)
        }
        (MESSAGE, _, _) => {
            return Err((
                "a message port with event flags".to_owned(),
                "remove base-flag and flag-count, or make it type = \"event\"",
            ));
        }
        _ => {
            return Err((
                "an event port without flag-count".to_owned(),
                "add flag-count (and base-flag, default 0)",
            ));
        }
    };
    let decl = PortDecl {
        id,
        kind,
        sint,
        vp,
        base_flag,
        flag_count,
        owner_slot,
    };
    debug_assert!(decl.valid());
    Ok(decl)
}

/// The manager's slot of the route capability to `owner`
/// (`COMPONENT.ENDPOINT`), which must be the `to` of one of `partition`'s
/// routes.
fn owner_slot(owner: &str, partition: &Partition) -> Result<u8, (String, &'static str)> {
    let (server, endpoint) = owner.split_once('.').unwrap_or((owner, ""));
    partition
        .routes
        .iter()
        .find(|route| route.server == server && route.endpoint == endpoint)
        .map(|route| route.slot)
        .ok_or((
            format!("owner `{owner}` is not the `to` of one of the partition's routes"),
            "name the endpoint of a route of this partition (the component is told through it)",
        ))
}

/// The connection `raw` declares, given every partition's ports so far.
fn connection_of(
    raw: &RawConnection,
    sender: &Partition,
    partitions: &[Partition],
) -> Result<ConnectionDecl, (String, &'static str)> {
    let id = *raw.id.get_ref();
    let id = u32::try_from(id)
        .ok()
        .filter(|id| id >> 24 == 0)
        .ok_or((format!("connection ID {id} is not 24 bits"), ID_HELP))?;
    let name = raw.partition.get_ref();
    let target = partitions.iter().find(|p| &p.name == name).ok_or((
        format!("no partition `{name}`"),
        "name a partition of this manifest",
    ))?;
    if target.manager != sender.manager {
        return Err((
            format!(
                "partition `{name}` has manager `{}`, this one `{}`",
                target.manager, sender.manager
            ),
            "connect partitions of one manager: it makes the connection with both capabilities",
        ));
    }
    let port = *raw.port.get_ref();
    let found = target
        .synic
        .ports()
        .iter()
        .find(|p| i64::from(p.id) == port)
        .ok_or((
            format!("partition `{name}` declares no port {port:#x}"),
            "add the port to that partition's `ports`",
        ))?;
    if found.is_owned() && target.name != sender.name {
        return Err((
            format!("port {port:#x} of `{name}` is a component's"),
            "only the port's own partition connects to a component's port",
        ));
    }
    Ok(ConnectionDecl {
        id,
        port: found.id,
        kind: found.kind,
        partition: target.badge,
    })
}

pub(super) fn check_ports(
    raw: &RawManifest,
    partitions: &mut [Partition],
    report: &mut Report<'_>,
) {
    // Ports first: every connection may name any partition's.
    for (name, spanned) in &raw.partition {
        let p = spanned.get_ref();
        let Some(at) = partitions.iter().position(|m| &m.name == name) else {
            continue;
        };
        if (!p.ports.is_empty() || !p.connections.is_empty()) && !has_synic(&partitions[at]) {
            let first = p
                .ports
                .first()
                .map(span)
                .or(p.connections.first().map(span));
            report.push(
                SYNIC_PORT,
                format!("partition.{name}"),
                first.flatten(),
                format!("partition `{name}` has ports or connections but no SynIC"),
                "add \"hv-synic\" to its `hv` list (with the synic component's MSR route)",
            );
            continue;
        }
        let mut links = SynicLinks::default();
        for (j, port) in p.ports.iter().enumerate() {
            let entry = format!("partition.{name}.ports[{j}]");
            let problem = match port_of(port.get_ref(), &partitions[at]) {
                Ok(decl) if links.ports().iter().any(|p| p.id == decl.id) => {
                    Some((format!("port {:#x} is declared twice", decl.id), ID_HELP))
                }
                Ok(decl) => links.push_port(decl).err().map(|_| {
                    (
                        format!("more than {MAX_PORTS} ports"),
                        "a partition declares at most 4 ports",
                    )
                }),
                Err(problem) => Some(problem),
            };
            if let Some((message, help)) = problem {
                report.push(SYNIC_PORT, entry, span(port), message, help);
            }
        }
        partitions[at].synic = links;
    }
    for (name, spanned) in &raw.partition {
        let p = spanned.get_ref();
        let Some(at) = partitions.iter().position(|m| &m.name == name) else {
            continue;
        };
        if !has_synic(&partitions[at]) {
            continue;
        }
        let mut links = partitions[at].synic;
        for (j, connection) in p.connections.iter().enumerate() {
            let entry = format!("partition.{name}.connections[{j}]");
            let problem = match connection_of(connection.get_ref(), &partitions[at], partitions) {
                Ok(decl) if links.connections().iter().any(|c| c.id == decl.id) => Some((
                    format!("connection {:#x} is declared twice", decl.id),
                    ID_HELP,
                )),
                Ok(decl) => links.push_connection(decl).err().map(|_| {
                    (
                        format!("more than {MAX_CONNECTIONS} connections"),
                        "a partition declares at most 4 connections",
                    )
                }),
                Err(problem) => Some(problem),
            };
            if let Some((message, help)) = problem {
                report.push(SYNIC_PORT, entry, span(connection), message, help);
            }
        }
        partitions[at].synic = links;
    }
}
