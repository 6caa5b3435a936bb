//! One `[component.NAME]` on its own, and its CPU affinity.

use tessera_boot_plan::{MAX_CPUS, MAX_THREADS, is_valid_name};
use toml::Spanned;

use super::endpoints::check_provides;
use super::{Info, MIN_COMPONENT_MEMORY, NAME_HELP, span};
use crate::error::Report;
use crate::error::check::*;
use crate::raw::RawComponent;
use crate::size::{format_size, parse_size};

/// One `[component.NAME]` on its own: names, sizes, numbers, endpoints.
pub(super) fn check_component<'r>(
    name: &'r str,
    spanned: &'r Spanned<RawComponent>,
    cpus: Option<u16>,
    report: &mut Report<'_>,
) -> Info<'r> {
    let raw = spanned.get_ref();
    let entry = format!("component.{name}");
    if !is_valid_name(name.as_bytes()) {
        report.push(
            BAD_NAME,
            entry.clone(),
            span(spanned),
            format!("`{name}` is not a valid component name"),
            NAME_HELP,
        );
    }

    let image = raw.image.get_ref();
    if !is_valid_name(image.as_bytes()) {
        let help = if image.contains('_') {
            format!(
                "name the crate with `-` instead of `_`, such as \"{}\"",
                image.replace('_', "-")
            )
        } else {
            "`image` names the crate under components/ that builds the component's ELF, \
             such as \"echo-server\": 1 to 31 bytes of lower-case letters, digits and `-`"
                .to_owned()
        };
        report.push(
            BAD_IMAGE_NAME,
            format!("{entry}.image"),
            span(&raw.image),
            format!("`{image}` is not a component crate name"),
            help,
        );
    }

    let memory = match parse_size(raw.memory.get_ref()) {
        Ok(bytes) if bytes < MIN_COMPONENT_MEMORY => {
            report.push(
                MEMORY_BELOW_MINIMUM,
                format!("{entry}.memory"),
                span(&raw.memory),
                format!(
                    "a quota of {} is below the {} a component needs",
                    format_size(bytes),
                    format_size(MIN_COMPONENT_MEMORY)
                ),
                format!(
                    "give the component at least memory = \"{}\"",
                    format_size(MIN_COMPONENT_MEMORY)
                ),
            );
            Some(bytes)
        }
        Ok(bytes) => Some(bytes),
        Err(e) => {
            report.push(
                BAD_SIZE,
                format!("{entry}.memory"),
                span(&raw.memory),
                e.message,
                e.help,
            );
            None
        }
    };

    let priority_value = *raw.priority.get_ref();
    let priority = match u8::try_from(priority_value) {
        Ok(p) => Some(p),
        Err(_) => {
            report.push(
                BAD_PRIORITY,
                format!("{entry}.priority"),
                span(&raw.priority),
                format!("priority {priority_value} is outside 0..=255"),
                "write a priority from 0 (least important) to 255 (most important)",
            );
            None
        }
    };

    let threads = match &raw.threads {
        None => Some(1),
        Some(threads) => {
            let value = *threads.get_ref();
            match u16::try_from(value) {
                Ok(n) if (1..=MAX_THREADS).contains(&n) => Some(n),
                _ => {
                    report.push(
                        BAD_THREADS,
                        format!("{entry}.threads"),
                        span(threads),
                        format!("a component cannot have {value} threads"),
                        format!(
                            "write a thread count from 1 to {MAX_THREADS} (or leave `threads` out for 1)"
                        ),
                    );
                    None
                }
            }
        }
    };

    let affinity = check_affinity(&entry, raw, cpus, report);
    let endpoints = check_provides(&entry, raw, report);

    Info {
        name,
        raw,
        span: spanned.span(),
        memory,
        priority,
        threads,
        affinity,
        endpoints,
        connections: Vec::new(),
    }
}

pub(super) fn check_affinity(
    entry: &str,
    raw: &RawComponent,
    cpus: Option<u16>,
    report: &mut Report<'_>,
) -> Option<u64> {
    let all = |n: u16| {
        if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
    };
    let Some(list) = &raw.cpus else {
        return cpus.map(all);
    };
    let field = format!("{entry}.cpus");
    if list.get_ref().is_empty() {
        report.push(
            CPU_AFFINITY,
            field,
            span(list),
            "the component may run on no CPU",
            "list at least one CPU, or remove `cpus` to let it run on any",
        );
        return None;
    }
    let mut mask = 0u64;
    let mut ok = true;
    for (i, cpu) in list.get_ref().iter().enumerate() {
        let value = *cpu.get_ref();
        let limit = cpus.map_or(i64::from(MAX_CPUS), i64::from);
        if !(0..limit).contains(&value) {
            let help = match cpus {
                Some(n) => format!(
                    "the deployment has CPUs 0 to {}: use those, or raise deployment.cpus",
                    n - 1
                ),
                None => "fix deployment.cpus first".to_owned(),
            };
            report.push(
                CPU_AFFINITY,
                format!("{field}[{i}]"),
                span(cpu),
                format!("CPU {value} is not one of the deployment's {limit} CPUs"),
                help,
            );
            ok = false;
            continue;
        }
        let bit = 1u64 << value;
        if mask & bit != 0 {
            report.push(
                CPU_AFFINITY,
                format!("{field}[{i}]"),
                span(cpu),
                format!("CPU {value} is listed twice"),
                "list each CPU once",
            );
            ok = false;
        }
        mask |= bit;
    }
    (ok && cpus.is_some()).then_some(mask)
}
