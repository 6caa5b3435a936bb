//! `hv-synic` of a partition (issue 14): the kernel holds the SynIC's
//! registers, but what the guest writes to SCONTROL, SVERSION, SIEFP, SIMP,
//! EOM and SINT0-15 (MSRs `0x40000080`-`0x4000009F`) is checked by the
//! `synic` component, which the partition reaches through one MSR route
//! covering all of them (`{ exit = "msr", msrs =
//! "0x40000080-0x4000009f", to = "synic.exits" }`). Without it every such
//! access would be #GP while CPUID advertises the registers, so the
//! manifest refuses it.

use super::hv::Hv1;
use super::span;
use crate::error::Report;
use crate::error::check::SYNIC_ROUTE;
use crate::raw::RawPartition;
use tessera_boot_plan::route::{self, intercept};
use tessera_hv1::cpuid::Hv1Config;

/// The SynIC registers' MSRs: `HV_X64_MSR_SCONTROL` to
/// `HV_X64_MSR_SINT15` (TLFS md `inter-partition-communication.md` §
/// SynIC Registers).
pub(crate) const SYNIC_MSRS: core::ops::RangeInclusive<u64> = 0x4000_0080..=0x4000_009F;

/// A route as the check needs it: kind, parameter, and whether its
/// server is the partition's manager.
pub(super) struct RouteView {
    pub kind: u64,
    pub parameter: u64,
    pub to_manager: bool,
}

/// `false` after reporting a partition with `hv-synic` whose SynIC
/// registers no component serves.
pub(super) fn check_synic_route(
    entry: &str,
    partition: &RawPartition,
    hv: Option<&Hv1>,
    routes: &[RouteView],
    report: &mut Report<'_>,
) -> bool {
    let Some((_, words)) = hv else {
        return true;
    };
    if !Hv1Config::from_words(words).privileges.access_synic_regs() {
        return true;
    }
    let serving = routes.iter().find(|r| {
        r.kind == intercept::MSR
            && route::range_of(r.kind, r.parameter).is_some_and(|(first, last)| {
                first <= *SYNIC_MSRS.start() && *SYNIC_MSRS.end() <= last
            })
    });
    let problem = match serving {
        Some(r) if r.to_manager => {
            "its SynIC registers are routed to the partition's manager, which does not serve them"
        }
        Some(_) => return true,
        None => "no MSR route takes its SynIC registers (0x40000080-0x4000009f)",
    };
    report.push(
        SYNIC_ROUTE,
        format!("{entry}.hv"),
        partition.hv.as_ref().and_then(span),
        format!("Hyper-V feature `hv-synic`: {problem}"),
        "add a `synic` component (image = \"synic\", provides = [\"exits\"]) and the route \
         { exit = \"msr\", msrs = \"0x40000080-0x4000009f\", to = \"synic.exits\" }, or remove \
         `hv-synic` (and `hv-stimer`)"
            .to_owned(),
    );
    false
}
