//! The corpus: every manifest under `tests/bad/` must be refused with exactly
//! the errors its `# expect: CHECK: MESSAGE SUBSTRING` lines name, and every
//! manifest under `tests/good/` (and the real deployments under
//! `boot/deployments/`) must load and compile into a plan the kernel accepts.

use std::path::{Path, PathBuf};

use tessera_boot_plan::BootPlan;
use tessera_manifest::{CHECKS, ManifestError, check, compile, load, load_with};

mod common;

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn manifests(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in {}", dir.display());
    files
}

/// The `# expect:` lines at the top of a corpus file.
fn expectations(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let expected: Vec<(String, String)> = text
        .lines()
        .map_while(|line| line.strip_prefix("# expect: "))
        .map(|rest| {
            let (check, message) = rest
                .split_once(": ")
                .unwrap_or_else(|| panic!("{}: malformed expect line", path.display()));
            (check.to_owned(), message.to_owned())
        })
        .collect();
    assert!(
        !expected.is_empty(),
        "{}: starts with no `# expect: CHECK: MESSAGE` line",
        path.display()
    );
    expected
}

fn describe(errors: &[ManifestError]) -> String {
    tessera_manifest::render(errors)
}

#[test]
fn bad_manifests_fail_with_the_expected_errors() {
    let mut failures = Vec::new();
    for path in manifests(&dir("tests/bad")) {
        let expected = expectations(&path);
        let errors = match load(&path) {
            Ok(_) => {
                failures.push(format!("{}: loaded, but should not", path.display()));
                continue;
            }
            Err(errors) => errors,
        };
        for (check, message) in &expected {
            let found = errors
                .iter()
                .any(|e| e.check == check && e.message.contains(message.as_str()));
            if !found {
                failures.push(format!(
                    "{}: expected [{check}] `{message}`, got:\n{}",
                    path.display(),
                    describe(&errors)
                ));
            }
        }
        for error in &errors {
            if !expected.iter().any(|(check, _)| check == error.check) {
                failures.push(format!("{}: unexpected error:\n{error}", path.display()));
            }
            // Every error names the file, and says what to change.
            if error.file != path || !error.to_string().starts_with(&path.display().to_string()) {
                failures.push(format!(
                    "{}: error does not name the file: {error}",
                    path.display()
                ));
            }
            if error.help.is_empty() {
                failures.push(format!("{}: error without help: {error}", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn every_check_has_a_bad_manifest() {
    let covered: Vec<String> = manifests(&dir("tests/bad"))
        .iter()
        .flat_map(|path| expectations(path))
        .map(|(check, _)| check)
        .collect();
    for c in CHECKS {
        if [check::READ_FILE, check::PLAN_REJECTED].contains(&c.name) {
            continue;
        }
        assert!(
            covered.iter().any(|name| name == c.name),
            "no manifest under tests/bad/ expects [{}]",
            c.name
        );
    }
    for name in &covered {
        assert!(
            CHECKS.iter().any(|c| c.name == name),
            "tests/bad/ expects [{name}], which is not a check"
        );
    }
}

/// Loads with stand-ins for named files (`debian:…`, `initramfs:…`),
/// which xtask fetches or builds for real.
fn load_good(path: &Path) {
    let deployment = load_with(path, &common::stand_ins)
        .unwrap_or_else(|errors| panic!("{} should load:\n{}", path.display(), describe(&errors)));
    let plan = compile(&deployment);
    let parsed = BootPlan::parse(&plan)
        .unwrap_or_else(|e| panic!("{}: the kernel refuses the plan: {e}", path.display()));
    assert_eq!(parsed.name(), deployment.name);
    assert_eq!(parsed.component_count(), deployment.components.len());
    assert_eq!(
        usize::from(parsed.module_count()),
        deployment.modules().len()
    );
    assert_eq!(parsed.to_model(), deployment.plan_model());
}

#[test]
fn good_manifests_load_and_compile() {
    for path in manifests(&dir("tests/good")) {
        load_good(&path);
    }
}

#[test]
fn real_deployments_load_and_compile() {
    for path in manifests(&dir("../../boot/deployments")) {
        load_good(&path);
    }
}
