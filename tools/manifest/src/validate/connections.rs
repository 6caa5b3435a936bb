//! `connects`: references to endpoints, badges, duplicates and priorities.

use std::collections::BTreeMap;

use tessera_boot_plan::{EndpointKind, GrantKind};
use toml::Spanned;

use super::rights::check_rights;
use super::suggest::suggest;
use super::{Info, span};
use crate::error::Report;
use crate::error::check::*;
use crate::model::Connection;
use crate::raw::RawConnect;

/// `connects`: references, rights, badges and priorities.
pub(super) fn check_connections(infos: &mut [Info<'_>], report: &mut Report<'_>) {
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

pub(super) fn check_connection(
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
