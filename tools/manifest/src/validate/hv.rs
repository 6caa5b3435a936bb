//! `hv = [...]` of a partition: its Hv#1 interface, from QEMU-style
//! `hv-*` names (`tessera_hv1::Hv1Config::from_features`).
//!
//! No `hv` key: no Hv#1 interface at all (a plain x86 machine). `hv = []`:
//! the minimal interface of the Requirements paper. Each name adds what the
//! QEMU option of the same name adds, as far as Tessera implements it; a
//! name Tessera does not implement is refused with the reason.

use tessera_boot_plan::{Expectation, HV1_WORDS};
use tessera_hv1::Hv1Config;
use tessera_hv1::cpuid::{FeatureError, SUPPORTED_FEATURES};
use toml::Spanned;

use super::span;
use super::suggest::suggest;
use crate::error::Report;
use crate::error::check::HV_FEATURE;

/// What the `hv` key of a partition gives: the names as written (trimmed)
/// and the words of `PartitionSetHv1`.
pub(super) type Hv1 = (Vec<String>, [u64; HV1_WORDS]);

/// The names Tessera offers, for help texts: `hv-relaxed, …,
/// hv-spinlocks=N, hv-vendor-id=TEXT, hv-version-id-{build,…}=N`.
pub(crate) fn offered() -> String {
    const VERSION: &str = "hv-version-id-";
    let mut names: Vec<String> = SUPPORTED_FEATURES
        .iter()
        .filter(|name| !name.starts_with(VERSION))
        .map(|name| match name.strip_suffix('=') {
            Some("hv-vendor-id") => "hv-vendor-id=TEXT".to_owned(),
            Some(name) => format!("{name}=N"),
            None => (*name).to_owned(),
        })
        .collect();
    let versions: Vec<&str> = SUPPORTED_FEATURES
        .iter()
        .filter_map(|name| name.strip_prefix(VERSION)?.strip_suffix('='))
        .collect();
    if !versions.is_empty() {
        names.push(format!("{VERSION}{{{}}}=N", versions.join(",")));
    }
    names.join(", ")
}

/// The name part of a feature (`hv-spinlocks` of `hv-spinlocks=0x1fff`).
fn name_of(feature: &str) -> &str {
    let feature = feature.trim();
    feature.split_once('=').map_or(feature, |(name, _)| name)
}

/// A value that fits `name`, for help texts.
fn example(name: &str) -> String {
    match name {
        "hv-spinlocks" => "hv-spinlocks=0x1fff".to_owned(),
        "hv-vendor-id" => "hv-vendor-id=Microsoft Hv".to_owned(),
        "hv-version-id-build" => "hv-version-id-build=14393".to_owned(),
        "hv-version-id-major" => "hv-version-id-major=10".to_owned(),
        name if name.starts_with("hv-version-id-") => format!("{name}=0"),
        // The boolean names.
        name => format!("{name}=on"),
    }
}

/// The message and help of a feature error.
fn explain(error: &FeatureError<'_>, list: &str) -> (String, String) {
    let offered = offered();
    match *error {
        FeatureError::Unknown { name } => {
            let names = SUPPORTED_FEATURES
                .iter()
                .map(|n| n.strip_suffix('=').unwrap_or(n));
            let near = suggest(name_of(name), names)
                .map(|near| format!("did you mean `{near}`? "))
                .unwrap_or_default();
            (
                format!("unknown Hyper-V feature `{name}`"),
                format!(
                    "{near}Tessera offers {offered} (QEMU's names; see `hv` in \
                     tools/manifest/README.md)"
                ),
            )
        }
        // `hv-vpindex=off`, `hv-enforce-cpuid=off`: what Tessera always does.
        FeatureError::Unsupported { name, reason }
            if SUPPORTED_FEATURES.contains(&name_of(name)) =>
        {
            (
                error.to_string(),
                format!(
                    "remove `{name}`: `{}` is on in every partition with an Hv#1 interface \
                     ({reason})",
                    name_of(name)
                ),
            )
        }
        FeatureError::Unsupported { name, reason } => (
            error.to_string(),
            format!("remove `{name}`: Tessera does not offer it ({reason}). It offers {offered}"),
        ),
        FeatureError::MissingValue { name } => (
            error.to_string(),
            format!("write `{name}=VALUE`, such as \"{}\"", example(name)),
        ),
        FeatureError::InvalidValue { name, expected, .. } => (
            error.to_string(),
            format!("`{name}` takes {expected}, such as \"{}\"", example(name)),
        ),
        FeatureError::MissingDependency { name, requires } => (
            error.to_string(),
            format!("add \"{requires}\" to {list}, or remove \"{name}\""),
        ),
        FeatureError::Invalid(_) => (
            error.to_string(),
            "tessera-hv1's feature table gave a configuration its own checks refuse: this is a \
             bug, please report it (and leave out the last name you added meanwhile)"
                .to_owned(),
        ),
    }
}

/// Checks `hv` of partition `entry` (`partition.NAME`); `Err(())` if it
/// is wrong (reported), `Ok(None)` if the partition has no `hv` key.
/// Every wrong name is reported, then whatever the whole list breaks
/// (a missing dependency). A partition that expects a guest crash needs
/// `hv-crash`.
pub(super) fn check_hv(
    entry: &str,
    hv: Option<&Spanned<Vec<Spanned<String>>>>,
    expect: Option<Expectation>,
    expect_span: Option<std::ops::Range<usize>>,
    report: &mut Report<'_>,
) -> Result<Option<Hv1>, ()> {
    let list = format!("{entry}.hv");
    let crash_msrs = |config: Option<&Hv1Config>| {
        config.is_some_and(|c| c.features_edx.guest_crash_msrs_available())
    };
    let Some(hv) = hv else {
        if expect == Some(Expectation::Crash) {
            push_crash(entry, &list, expect_span, report);
            return Err(());
        }
        return Ok(None);
    };
    let items = hv.get_ref();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match Hv1Config::from_features([item.get_ref().as_str()]) {
            // Dependencies are the whole list's business.
            Ok(_) | Err(FeatureError::MissingDependency { .. } | FeatureError::Invalid(_)) => {}
            Err(error) => {
                let (message, help) = explain(&error, &list);
                report.push(
                    HV_FEATURE,
                    format!("{list}[{i}]"),
                    span(item),
                    message,
                    help,
                );
                ok = false;
            }
        }
    }
    if !ok {
        return Err(());
    }
    let config = match Hv1Config::from_features(items.iter().map(|item| item.get_ref().as_str())) {
        Ok(config) => config,
        Err(error) => {
            // The entry that asked for what is missing: the last one that
            // names the feature.
            let at = match error {
                FeatureError::MissingDependency { name, .. } => items
                    .iter()
                    .rposition(|item| name_of(item.get_ref()) == name),
                _ => None,
            };
            let (entry_name, at_span) = match at {
                Some(i) => (format!("{list}[{i}]"), span(&items[i])),
                None => (list.clone(), span(hv)),
            };
            let (message, help) = explain(&error, &list);
            report.push(HV_FEATURE, entry_name, at_span, message, help);
            return Err(());
        }
    };
    if expect == Some(Expectation::Crash) && !crash_msrs(Some(&config)) {
        push_crash(entry, &list, expect_span, report);
        return Err(());
    }
    let names = items
        .iter()
        .map(|item| item.get_ref().trim().to_owned())
        .collect();
    Ok(Some((names, config.to_words())))
}

fn push_crash(
    entry: &str,
    list: &str,
    at: Option<std::ops::Range<usize>>,
    report: &mut Report<'_>,
) {
    report.push(
        HV_FEATURE,
        format!("{entry}.expect"),
        at,
        "the partition expects a guest crash, but has no crash MSRs to report one",
        format!(
            "a guest reports a crash through HV_X64_MSR_CRASH_CTL: add \"hv-crash\" to {list} \
             (such as hv = [\"hv-crash\"])"
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offered_names_read_as_in_the_readme() {
        let offered = offered();
        assert!(offered.starts_with("hv-relaxed, hv-vpindex, "), "{offered}");
        assert!(offered.contains("hv-spinlocks=N, hv-vendor-id=TEXT, "));
        assert!(
            offered.ends_with(", hv-version-id-{build,major,minor,spack,sbranch,snumber}=N"),
            "{offered}"
        );
        assert!(!offered.contains("=,") && !offered.ends_with('='));
        assert_eq!(example("hv-crash"), "hv-crash=on");
    }

    #[test]
    fn names_lose_their_values() {
        assert_eq!(name_of(" hv-spinlocks=0x1fff "), "hv-spinlocks");
        assert_eq!(name_of("hv-relaxed"), "hv-relaxed");
    }
}
