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
use tessera_hv1::cpuid::Hv1Config;
use toml::Spanned;

use super::hv::Hv1;
use super::span;
use crate::error::Report;
use crate::error::check::{BAD_APIC, HV_FEATURE};
use crate::raw::RawPartition;

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

/// `hv-vapic` (the EOI, ICR and TPR MSRs, `AccessIntrCtrlRegs`) stands for
/// registers of the local APIC, and `hv-ipi` (the cluster IPI calls)
/// delivers to it: without `apic` the kernel would have to refuse every
/// one of them while CPUID recommends them, so the pairs are refused.
/// `false` after reporting it.
pub(super) fn check_apic_msrs(
    entry: &str,
    partition: &RawPartition,
    hv: Option<&Hv1>,
    apic: Option<ApicKind>,
    report: &mut Report<'_>,
) -> bool {
    let Some((_, words)) = hv else {
        return true;
    };
    if apic != Some(ApicKind::None) {
        return true;
    }
    let config = Hv1Config::from_words(words);
    let needs = [
        (
            config.privileges.access_intr_ctrl_regs(),
            "hv-vapic",
            "its MSRs are the APIC's EOI, ICR and TPR",
        ),
        (
            config.recommendations.use_synthetic_cluster_ipi(),
            "hv-ipi",
            "its calls send interrupts to the VPs' APICs",
        ),
        (
            config.privileges.access_synic_regs(),
            "hv-synic",
            "its interrupts and timers are delivered through the VPs' APICs",
        ),
    ];
    let at = partition.hv.as_ref().and_then(span);
    let mut ok = true;
    for (_, name, why) in needs.iter().filter(|(on, _, _)| *on) {
        report.push(
            HV_FEATURE,
            format!("{entry}.hv"),
            at.clone(),
            format!("Hyper-V feature `{name}` needs a local APIC: {why}"),
            format!(
                "add apic = \"xapic\" or apic = \"x2apic\" to the partition, or remove `{name}`"
            ),
        );
        ok = false;
    }
    ok
}
