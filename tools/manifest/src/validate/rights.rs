//! The `rights` of a connection.

use tessera_boot_plan::{GrantKind, Rights};

use super::span;
use crate::error::Report;
use crate::error::check::*;
use crate::raw::RawConnect;

pub(super) fn check_rights(
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
