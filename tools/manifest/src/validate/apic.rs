//! `apic = "xapic" | "x2apic"` of a partition: the local APIC its VPs get
//! (`tessera_boot_plan::manager::ApicKind`, `PartitionCreate` word 5).
//!
//! No `apic` key: no interrupt controller (CPUID shows no APIC and
//! `IA32_APIC_BASE` reads globally disabled), as before the kernel had
//! one. `"xapic"`: a local APIC per VP at `0xFEE00000`. `"x2apic"`: the
//! same with x2APIC offered (CPUID 1 ECX\[21\]). The kernel wires one VP's
//! APIC so far: IPIs between VPs, INIT/SIPI and the I/O APIC are not, so
//! `apic` with more than one VP is refused as not yet wired.

use tessera_boot_plan::manager::ApicKind;
use toml::Spanned;

use super::span;
use crate::error::Report;
use crate::error::check::BAD_APIC;

/// The partition's APIC, or `None` after reporting why not. `vps` is its
/// VP count, if that was valid.
pub(super) fn check_apic(
    entry: &str,
    apic: Option<&Spanned<String>>,
    vps: Option<u8>,
    report: &mut Report<'_>,
) -> Option<ApicKind> {
    let Some(apic) = apic else {
        return Some(ApicKind::None);
    };
    let field = format!("{entry}.apic");
    let value = apic.get_ref().as_str();
    let Some(kind) = ApicKind::from_name(value) else {
        report.push(
            BAD_APIC,
            field,
            span(apic),
            format!("`{value}` is not a local APIC Tessera offers"),
            "write apic = \"xapic\" or apic = \"x2apic\" (x2APIC offered), or leave `apic` out \
             for no interrupt controller"
                .to_owned(),
        );
        return None;
    };
    if let Some(vps) = vps.filter(|&n| n > 1) {
        report.push(
            BAD_APIC,
            field,
            span(apic),
            format!(
                "a local APIC for {vps} VPs is not yet wired into the kernel (IPIs between VPs, \
                 INIT/SIPI)"
            ),
            "give the partition one VP (vps = 1), or leave `apic` out".to_owned(),
        );
        return None;
    }
    Some(kind)
}
