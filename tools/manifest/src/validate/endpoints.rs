//! The endpoints a component `provides`.

use tessera_boot_plan::{EndpointKind, FIRST_FREE_SLOT, is_valid_name};

use super::{EndpointInfo, NAME_HELP, span};
use crate::error::Report;
use crate::error::check::*;
use crate::raw::RawComponent;

pub(super) fn check_provides<'r>(
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
