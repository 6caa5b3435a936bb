//! `cargo xtask manifest`: validates deployment manifests on the host, the
//! way the image builder will (guest image files are loaded as the
//! partition manager will load them), so a wrong manifest is refused with
//! every problem named before anything boots.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Checks one manifest; on success returns a summary of the deployment (and
/// writes the compiled boot plan to `plan_out` if given), on failure every
/// error as `tessera-manifest` renders it.
pub fn check(path: &Path, plan_out: Option<&Path>) -> Result<String, String> {
    let deployment = crate::deployment::load_manifest(path)?;
    let plan = tessera_manifest::compile(&deployment);
    let mut summary = format!(
        "{}: deployment {:?} is valid: {} components, {} partitions, {} CPUs, boot plan {} bytes",
        path.display(),
        deployment.name,
        deployment.components.len(),
        deployment.partitions.len(),
        deployment.cpus,
        plan.len()
    );
    for component in &deployment.components {
        let _ = write!(
            summary,
            "\n  {} (image {}, priority {}, {} KiB)",
            component.name,
            component.image,
            component.priority,
            component.memory / 1024
        );
    }
    for partition in &deployment.partitions {
        let _ = write!(
            summary,
            "\n  partition {} (image {}, {}, manager {}, {} MiB, {} VPs on CPUs {:?}, priority {}, \
             expect {}, {} routes, {})",
            partition.name,
            partition
                .image_file
                .as_ref()
                .map_or(partition.image.clone(), |file| file.display().to_string()),
            partition.format.name(),
            partition.manager,
            partition.memory >> 20,
            partition.vp_cpus.len(),
            partition.vp_cpus,
            partition.priority,
            partition.expect.name(),
            partition.routes.len(),
            match &partition.hv {
                None => "no Hv#1".to_owned(),
                Some(names) if names.is_empty() => "Hv#1 minimum".to_owned(),
                Some(names) => format!("Hv#1 {}", names.join(",")),
            }
        );
    }
    if let Some(out) = plan_out {
        std::fs::write(out, &plan).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        let _ = write!(summary, "\nboot plan written to {}", out.display());
    }
    Ok(summary)
}

/// Checks the manifests `names` names (deployment names or paths; none:
/// every deployment of the tree); `Ok` only if all are valid.
pub fn check_named(root: &Path, names: &[String], plan_out: Option<&Path>) -> Result<(), String> {
    let paths = if names.is_empty() {
        crate::locate::all_manifests(root)
    } else {
        names
            .iter()
            .map(|name| crate::locate::manifest(root, name))
            .collect::<Result<Vec<_>, _>>()?
    };
    check_all(&paths, plan_out)
}

/// Checks every manifest given; `Ok` only if all are valid.
pub fn check_all(paths: &[PathBuf], plan_out: Option<&Path>) -> Result<(), String> {
    if plan_out.is_some() && paths.len() != 1 {
        return Err("--plan-out takes exactly one manifest".into());
    }
    let mut failed = 0;
    for path in paths {
        match check(path, plan_out) {
            Ok(summary) => println!("{summary}"),
            Err(report) => {
                eprintln!("{report}");
                failed += 1;
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => Err(format!("{n} of {} manifests refused", paths.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifest/tests")
    }

    #[test]
    fn a_valid_manifest_is_summarised_and_its_plan_written() {
        let out = std::env::temp_dir().join(format!("xtask-plan-{}.tsbp", std::process::id()));
        let path = manifest_dir().join("good/minimal.toml");
        let summary = check(&path, Some(&out)).expect("valid");
        assert!(summary.contains("is valid"), "{summary}");
        let plan = std::fs::read(&out).expect("plan written");
        let _ = std::fs::remove_file(&out);
        assert_eq!(&plan[..4], b"TSBP", "the boot plan's magic");
        assert!(
            summary.contains(&format!("boot plan {} bytes", plan.len())),
            "{summary}"
        );
    }

    #[test]
    fn every_bad_manifest_is_refused_with_its_expected_check() {
        let dir = manifest_dir().join("bad");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("corpus") {
            let path = entry.expect("entry").path();
            let source = std::fs::read_to_string(&path).expect("readable");
            let expect = source
                .lines()
                .next()
                .and_then(|line| line.strip_prefix("# expect: "));
            let Some(expect) = expect else { continue };
            let (check_name, message) = expect.split_once(": ").expect("check: message");
            let report = check(&path, None).expect_err("a bad manifest must be refused");
            assert!(
                report.contains(&format!("[{check_name}]")),
                "{}: {report}",
                path.display()
            );
            assert!(report.contains(message), "{}: {report}", path.display());
            assert!(report.contains(&path.display().to_string()), "{report}");
            seen += 1;
        }
        assert!(seen >= 40, "only {seen} corpus files had an expect line");
    }

    #[test]
    fn every_deployment_of_the_tree_is_checked_by_default() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        assert_eq!(check_named(&root, &[], None), Ok(()));
        assert_eq!(check_named(&root, &["echo".into()], None), Ok(()));
        let error = check_named(&root, &["nope".into()], None).unwrap_err();
        assert!(error.contains("the deployments are: "), "{error}");
    }

    #[test]
    fn plan_out_needs_exactly_one_manifest() {
        let paths = vec![PathBuf::from("a.toml"), PathBuf::from("b.toml")];
        let error = check_all(&paths, Some(Path::new("plan"))).unwrap_err();
        assert_eq!(error, "--plan-out takes exactly one manifest");
    }
}
