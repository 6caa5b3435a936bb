//! `apic = "xapic" | "x2apic"` of a partition: the local APIC its VPs get
//! (`tessera_boot_plan::manager::ApicKind`, `PartitionCreate` word 5).
//!
//! No `apic` key: no interrupt controller (CPUID shows no APIC and
//! `IA32_APIC_BASE` reads globally disabled), as before the kernel had
//! one. `"xapic"`: a local APIC per VP at `0xFEE00000`. `"x2apic"`: the
//! same with x2APIC offered (CPUID 1 ECX\[21\]). With `vps = N` (up to the
//! kernel's `MAX_VPS`, which `vps` itself checks), VP 0 starts at the
//! guest's entry and the others wait for INIT/SIPI from it.

use tessera_boot_plan::manager::ApicKind;
use toml::Spanned;

use super::span;
use crate::error::Report;
use crate::error::check::BAD_APIC;

/// The partition's APIC, or `None` after reporting why not.
pub(super) fn check_apic(
    entry: &str,
    apic: Option<&Spanned<String>>,
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
    Some(kind)
}
