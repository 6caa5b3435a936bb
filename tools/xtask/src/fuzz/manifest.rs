//! `cargo xtask fuzz manifest`: the manifest compiler on generated and
//! mutated TOML. Oracle: it answers with errors, never a panic; an error
//! it reports about itself (`plan-rejected`: the plan it compiled does
//! not parse) is a finding too, and so is an error naming a line the
//! file does not have.
//!
//! Operation `i` of seed `s` is one document made from `Draw(s, i)`
//! alone: a real deployment (`boot/deployments/*.toml`) with structural
//! mutations, one generated from nothing, or either with its bytes
//! damaged. So any operation replays by itself.

use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tessera_fuzz::Draw;
use tessera_fuzz::seed::Seed;
use toml::Table;

use super::{Finding, Outcome, mutate};
use crate::locate::MANIFEST_DIR;
use crate::workspace::Workspace;

/// A real deployment to start from.
struct Base {
    path: PathBuf,
    table: Table,
    names: Vec<String>,
}

fn bases(root: &Path) -> Result<Vec<Base>, String> {
    let dir = root.join(MANIFEST_DIR);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let table: Table =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let names = mutate::names(&table);
            Ok(Base { path, table, names })
        })
        .collect()
}

/// A deployment generated from nothing: components that provide and
/// connect to each other's endpoints, partitions managed by them with
/// routes to them, values mostly plausible.
fn generate(draw: &mut Draw) -> Table {
    let components: Vec<String> = (0..draw.between(1, 5)).map(|i| format!("c{i}")).collect();
    let endpoint = |draw: &mut Draw| {
        format!(
            "{}.e{}",
            components[draw.index(components.len())],
            draw.below(2)
        )
    };
    let mut text = String::new();
    let _ = writeln!(
        text,
        "[deployment]\ncomponent-memory = \"{} MiB\"\ncpus = {}",
        draw.between(1, 80),
        draw.between(0, 5)
    );
    for name in &components {
        let _ = writeln!(
            text,
            "[component.{name}]\nimage = \"{}\"\nmemory = \"{} KiB\"\npriority = {}\n\
             console = {}\nverdict = {}\nprovides = [\"e0\", {{ name = \"e1\", kind = \"{}\" }}]",
            draw.pick(&[
                "echo-server",
                "partition-manager",
                "devices",
                "probe-device",
                "nope"
            ]),
            draw.pick(&[64, 256, 512, 20 * 1024, 3]),
            draw.between(0, 12),
            draw.chance(1, 2),
            draw.chance(1, 4),
            draw.pick(&["endpoint", "notification"]),
        );
        if draw.chance(1, 2) {
            let _ = writeln!(
                text,
                "connects = [{{ endpoint = \"{}\", slot = {}, rights = [\"{}\"], badge = {} }}]",
                endpoint(draw),
                draw.between(0, 70),
                draw.pick(&["call", "grant", "signal"]),
                draw.between(0, 3)
            );
        }
    }
    for index in 0..draw.below(3) {
        let exit = draw.pick(&["io", "msr", "cpuid", "memory", "hypercall", "hlt"]);
        let range = match exit {
            "io" => "ports = \"0x510-0x51f\", ",
            "msr" => "msrs = \"0x4c000000-0x4c00000f\", ",
            "cpuid" => "leaves = \"0x4c000000\", ",
            "memory" => "gpas = \"0xfed00000-0xfed00fff\", ",
            "hypercall" => "codes = \"0x0008\", ",
            _ => "",
        };
        let _ = writeln!(
            text,
            "[partition.p{index}]\nmanager = \"{}\"\nimage = \"{}\"\nmemory = \"{} MiB\"\n\
             vps = {}\nexpect = \"{}\"\nroutes = [{{ exit = \"lifecycle\", to = \"{}\" }}, \
             {{ exit = \"{exit}\", {range}to = \"{}\" }}]",
            components[draw.index(components.len())],
            draw.pick(&["hello", "exits", "multiboot", "echo-server"]),
            draw.pick(&[2, 16, 3, 1024, 2048]),
            draw.between(0, 3),
            draw.pick(&["pass", "fail", "crash", "memory-fault"]),
            endpoint(draw),
            endpoint(draw),
        );
        if draw.chance(1, 2) {
            let _ = writeln!(
                text,
                "hv = [\"hv-relaxed\", \"{}\"]",
                draw.pick(&["hv-crash", "hv-synic", "hv-spinlocks=0x10"])
            );
        }
    }
    toml::from_str(&text).unwrap_or_default()
}

/// Operation `index`'s document and the path it claims to come from.
fn document(bases: &[Base], root: &Path, seed: u64, index: u64) -> (String, PathBuf) {
    let mut draw = Draw::for_operation(seed, index);
    let (mut table, names, path) = if draw.chance(1, 4) {
        let path = root.join(MANIFEST_DIR).join("generated.toml");
        let table = generate(&mut draw);
        let names = mutate::names(&table);
        (table, names, path)
    } else {
        let base = &bases[draw.index(bases.len())];
        (base.table.clone(), base.names.clone(), base.path.clone())
    };
    for _ in 0..draw.below(8) {
        mutate::mutate(&mut table, &mut draw, &names);
    }
    let mut text = toml::to_string(&table).unwrap_or_default();
    if draw.chance(1, 6) {
        text = mutate::damage(&text, &mut draw);
    }
    (text, path)
}

/// What one document did to the compiler.
enum Verdict {
    Accepted,
    /// Refused, with the checks that fired.
    Refused(Vec<&'static str>),
    Finding(String),
}

fn judge(text: &str, path: &Path) -> Verdict {
    match tessera_manifest::load_str(text, path) {
        Ok(deployment) => {
            let plan = tessera_manifest::compile(&deployment);
            let _ = deployment.modules();
            match tessera_boot_plan::BootPlan::parse(&plan) {
                Ok(_) => Verdict::Accepted,
                Err(e) => Verdict::Finding(format!(
                    "an accepted manifest compiled to a plan that does not parse: {e}"
                )),
            }
        }
        Err(errors) => {
            let _ = tessera_manifest::render(&errors);
            let lines = text.lines().count() + 1;
            if let Some(e) = errors
                .iter()
                .find(|e| e.check == tessera_manifest::check::PLAN_REJECTED)
            {
                return Verdict::Finding(format!(
                    "the compiler rejected its own plan: {}",
                    e.message
                ));
            }
            if let Some(e) = errors
                .iter()
                .find(|e| e.line.is_some_and(|l| l == 0 || l > lines))
            {
                return Verdict::Finding(format!(
                    "an error names line {:?} of a {lines}-line file: {}",
                    e.line, e.message
                ));
            }
            if errors.is_empty() {
                return Verdict::Finding("refused with no error".into());
            }
            Verdict::Refused(errors.iter().map(|e| e.check).collect())
        }
    }
}

/// Runs `operations` documents of `seed`.
pub fn run(workspace: &Workspace, seed: u64, operations: u64) -> Result<Outcome, String> {
    let bases = bases(&workspace.root)?;
    if bases.is_empty() {
        return Err("no manifests in boot/deployments to start from".into());
    }
    // Panics are findings, reported with the operation: keep their text
    // out of the terminal.
    let last_panic = Arc::new(Mutex::new(String::new()));
    let hook = panic::take_hook();
    let seen = Arc::clone(&last_panic);
    panic::set_hook(Box::new(move |info| {
        if let Ok(mut text) = seen.lock() {
            *text = info.to_string();
        }
    }));
    let started = Instant::now();
    let (mut accepted, mut refused) = (0u64, 0u64);
    let mut fired = std::collections::BTreeSet::new();
    let mut findings = Vec::new();
    let step = (operations / 10).max(1);
    for index in 0..operations {
        let (text, path) = document(&bases, &workspace.root, seed, index);
        let verdict =
            panic::catch_unwind(AssertUnwindSafe(|| judge(&text, &path))).unwrap_or_else(|_| {
                let text = last_panic.lock().map(|t| t.clone()).unwrap_or_default();
                Verdict::Finding(format!("panic: {text}"))
            });
        match verdict {
            Verdict::Accepted => accepted += 1,
            Verdict::Refused(checks) => {
                refused += 1;
                fired.extend(checks);
            }
            Verdict::Finding(what) => {
                let saved = save(workspace, seed, index, &text);
                println!(
                    "fuzz manifest: FINDING at operation {index} of seed {}: {what} (input: {saved})",
                    Seed(seed)
                );
                findings.push(Finding {
                    operation: Some(index),
                    what,
                });
            }
        }
        if (index + 1) % step == 0 {
            println!(
                "fuzz manifest: {} of {operations} operations ({accepted} accepted, {refused} refused, {} findings)",
                index + 1,
                findings.len()
            );
        }
    }
    panic::set_hook(hook);
    println!(
        "fuzz manifest: seed {}: {operations} operations in {:.1} s, {accepted} manifests accepted, \
         {refused} refused ({} of the compiler's {} checks fired), {} findings",
        Seed(seed),
        started.elapsed().as_secs_f64(),
        fired.len(),
        tessera_manifest::CHECKS.len(),
        findings.len()
    );
    Ok(Outcome {
        findings,
        known: Vec::new(),
    })
}

/// Keeps a finding's input; returns where.
fn save(workspace: &Workspace, seed: u64, index: u64, text: &str) -> String {
    let dir = workspace.out_dir().join("fuzz");
    let path = dir.join(format!("manifest-{seed:016x}-{index}.toml"));
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, text)) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("not saved: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Workspace::locate().unwrap().root
    }

    #[test]
    fn every_operation_is_its_own_document_and_replays() {
        let root = root();
        let bases = bases(&root).unwrap();
        assert!(bases.len() > 5);
        let mut distinct = std::collections::BTreeSet::new();
        for index in 0..50 {
            let first = document(&bases, &root, 9, index);
            assert_eq!(first, document(&bases, &root, 9, index));
            distinct.insert(first.0);
        }
        assert!(distinct.len() > 45);
    }

    #[test]
    fn the_real_manifests_are_accepted_and_a_broken_one_refused() {
        let root = root();
        for base in bases(&root).unwrap() {
            let text = toml::to_string(&base.table).unwrap();
            assert!(
                matches!(judge(&text, &base.path), Verdict::Accepted),
                "{}",
                base.path.display()
            );
        }
        let path = root.join(MANIFEST_DIR).join("echo.toml");
        assert!(matches!(judge("[deployment", &path), Verdict::Refused(_)));
        assert!(matches!(judge("", &path), Verdict::Refused(_)));
    }

    #[test]
    fn generated_deployments_are_sometimes_valid() {
        let root = root();
        let path = root.join(MANIFEST_DIR).join("generated.toml");
        let accepted = (0..300)
            .filter(|&index| {
                let table = generate(&mut Draw::for_operation(5, index));
                let text = toml::to_string(&table).unwrap();
                matches!(judge(&text, &path), Verdict::Accepted)
            })
            .count();
        assert!(accepted > 0, "no generated deployment was valid");
    }
}
