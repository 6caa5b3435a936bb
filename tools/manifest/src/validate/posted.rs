//! A route's `posted` ports (`tessera_abi::vm::posted`): the ports of an
//! `io` route whose writes the kernel completes itself and queues for the
//! handler, as a bus posts writes.
//!
//! ```toml
//! { exit = "io", ports = "0x3f8-0x3ff", to = "devices.io", posted = ["0x3f8"] }
//! ```
use super::span;
use crate::error::Report;
use crate::error::check::BAD_POSTED;
use crate::range::parse_range;
use crate::raw::RawRoute;
use tessera_boot_plan::route::{self, MAX_POSTED_PORTS, intercept};

/// The posted-ports mask of route `r` (of `kind`, with `parameter` when it
/// was valid): 0 without `posted`; `None` (reported) when a port is not one
/// of the route's first [`MAX_POSTED_PORTS`], is listed twice, or the route
/// is not an `io` one.
pub(super) fn check_posted(
    entry: &str,
    r: &RawRoute,
    kind: Option<u64>,
    parameter: Option<u64>,
    report: &mut Report<'_>,
) -> Option<u32> {
    let Some(list) = &r.posted else {
        return Some(0);
    };
    let field = format!("{entry}.posted");
    if kind != Some(intercept::IO_PORT) {
        report.push(
            BAD_POSTED,
            field,
            span(list),
            "only `io` routes post writes",
            "remove `posted`, or route port I/O with exit = \"io\"",
        );
        return None;
    }
    // The range was reported if it is bad.
    let (first, last) = route::range_of(intercept::IO_PORT, parameter?)?;
    let mut mask = 0u64;
    let mut ok = true;
    for (i, port) in list.get_ref().iter().enumerate() {
        let at = format!("{field}[{i}]");
        let help = format!(
            "name ports of the route, {first:#x} to {:#x} (the first {MAX_POSTED_PORTS} of it), \
             in hex (0x...) or decimal",
            last.min(first + MAX_POSTED_PORTS - 1)
        );
        let (low, high) = match parse_range(port.get_ref()) {
            Ok(range) => range,
            Err(message) => {
                report.push(BAD_POSTED, at, span(port), message, help);
                ok = false;
                continue;
            }
        };
        for p in low..=high {
            let bit = p
                .checked_sub(first)
                .filter(|&n| p <= last && n < MAX_POSTED_PORTS);
            match bit {
                None => {
                    report.push(
                        BAD_POSTED,
                        at.clone(),
                        span(port),
                        format!("port {p:#x} is not one of the route's first {MAX_POSTED_PORTS}"),
                        help.clone(),
                    );
                    ok = false;
                    break;
                }
                Some(n) if mask & 1 << n != 0 => {
                    report.push(
                        BAD_POSTED,
                        at.clone(),
                        span(port),
                        format!("port {p:#x} is listed twice"),
                        "list each port once",
                    );
                    ok = false;
                    break;
                }
                Some(n) => mask |= 1 << n,
            }
        }
    }
    if list.get_ref().is_empty() {
        report.push(
            BAD_POSTED,
            field,
            span(list),
            "`posted` names no port",
            "name the ports whose writes may be posted, or remove `posted`",
        );
        ok = false;
    }
    (ok && route::posted_valid(intercept::IO_PORT, parameter?, mask))
        .then(|| u32::try_from(mask).ok())
        .flatten()
}
