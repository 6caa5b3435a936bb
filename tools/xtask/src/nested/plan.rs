//! The tests' QEMU commands inside L1: each the command `cargo xtask
//! test` builds (`system_tests::qemu_config`), with KVM in place of TCG and
//! every file it boots at its place under `/tessera/`, written as
//! `/nested/plan.sh` for `init.sh`.

use std::path::{Path, PathBuf};

use super::image::{FILES_DIR, STALL_SECONDS};
use crate::qemu::accel::{self, Accel};
use crate::qemu::command::QemuConfig;
use crate::qemu::script::InputStep;
use crate::system_tests::{Prepared, SystemTest};

/// A test's accelerator inside L1: KVM with the host's CPU, or without the
/// features the test's own TCG model takes away.
pub fn accel_for(test: &SystemTest) -> Accel {
    match test.cpu {
        Some(cpu) => Accel::Kvm {
            cpu: accel::kvm_cpu_for(cpu),
        },
        None => Accel::kvm_host(),
    }
}

/// Host files and their places inside L1: under [`FILES_DIR`], at their
/// path relative to cargo's target directory (where every file a test
/// boots is made), or numbered if one lies elsewhere.
#[derive(Debug)]
pub struct Placement {
    target_dir: PathBuf,
    files: Vec<(PathBuf, String)>,
}

impl Placement {
    pub fn new(target_dir: &Path) -> Self {
        Self {
            target_dir: target_dir.to_path_buf(),
            files: Vec::new(),
        }
    }

    /// Each host file and its path inside, in the order placed.
    pub fn files(&self) -> &[(PathBuf, String)] {
        &self.files
    }

    fn place(&mut self, host: &Path) -> PathBuf {
        if let Some((_, inside)) = self.files.iter().find(|(h, _)| h == host) {
            return PathBuf::from(inside);
        }
        let inside = match host.strip_prefix(&self.target_dir) {
            Ok(relative) => format!("{FILES_DIR}/{}", relative.display()),
            Err(_) => format!(
                "{FILES_DIR}/elsewhere/{}-{}",
                self.files.len(),
                host.file_name()
                    .map_or("file".into(), |n| n.to_string_lossy())
            ),
        };
        self.files.push((host.to_path_buf(), inside.clone()));
        PathBuf::from(inside)
    }
}

/// `prepared` with every file at its place inside L1.
pub fn relocate(prepared: &Prepared, placement: &mut Placement) -> Prepared {
    let deployments = prepared
        .deployments
        .iter()
        .map(|(key, deployment)| {
            let deployment = deployment.clone().map(|mut deployment| {
                for module in &mut deployment.modules {
                    module.source = placement.place(&module.source);
                }
                deployment
            });
            (*key, deployment)
        })
        .collect();
    let isos = prepared
        .isos
        .iter()
        .map(|(key, iso)| (*key, iso.clone().map(|iso| placement.place(&iso))))
        .collect();
    Prepared {
        kernel: placement.place(&prepared.kernel),
        deployments,
        isos,
    }
}

/// A test's `run_test` words after its name and log: the directory QEMU
/// runs in (where its `-initrd` modules are), then `qemu` and its arguments.
pub fn command(config: &QemuConfig, qemu: &Path) -> Vec<String> {
    let dir = config
        .working_dir()
        .map_or("/".into(), |d| d.to_string_lossy().into_owned());
    let mut command = vec![dir, qemu.to_string_lossy().into_owned()];
    command.extend(
        config
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned()),
    );
    command
}

/// One test's run inside L1: its name, its serial log there, its command
/// (`command`), and what it types into the console.
#[derive(Debug)]
pub struct PlannedRun {
    pub name: &'static str,
    pub log: String,
    pub command: Vec<String>,
    pub input: &'static [InputStep],
}

/// Where `input_steps`' here-document ends; no step's text is this line.
const INPUT_END: &str = "@@end-of-input";

/// `input_steps` with `steps` as `init.sh` reads them: each step's text on
/// one line, then its bytes as printf octal escapes on the next.
fn input_steps(steps: &[InputStep]) -> String {
    let mut call = format!("    input_steps <<'{INPUT_END}'\n");
    for step in steps {
        call += step.after;
        call += "\n";
        for byte in step.send {
            call += &format!("\\{byte:03o}");
        }
        call += "\n";
    }
    call += INPUT_END;
    call += "\n";
    call
}

/// `/nested/plan.sh`: the settings and the calls `init.sh` makes.
pub fn script(library_dirs: &[String], modules: &[(String, &str)], runs: &[PlannedRun]) -> String {
    let mut plan =
        String::from("# Written by cargo xtask test --nested (tools/xtask/src/nested/plan.rs).\n");
    plan += &format!("STALL_SECONDS={STALL_SECONDS}\n");
    plan += &format!("LD_LIBRARY_PATH={}\n", quote(&library_dirs.join(":")));
    plan += "load_modules() {\n";
    for (path, parameters) in modules {
        plan += &format!("    load_module {}", quote(path));
        for parameter in parameters.split_whitespace() {
            plan += &format!(" {}", quote(parameter));
        }
        plan += "\n";
    }
    plan += "}\nrun_tests() {\n";
    for run in runs {
        if !run.input.is_empty() {
            plan += &input_steps(run.input);
        }
        plan += &format!("    run_test {} {}", quote(run.name), quote(&run.log));
        for word in &run.command {
            plan += &format!(" {}", quote(word));
        }
        plan += "\n";
    }
    plan += "}\n";
    plan
}

/// `word` as one POSIX shell word: in single quotes, each `'` written `'\''`.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::{Deployment, Module};
    use crate::system_tests;
    use crate::system_tests::SYSTEM_TESTS;

    fn test_named(name: &str) -> &'static SystemTest {
        SYSTEM_TESTS.iter().find(|t| t.name == name).unwrap()
    }

    #[test]
    fn quoting_survives_spaces_quotes_and_commas() {
        assert_eq!(
            quote("log=info debug-exit=0xf4"),
            "'log=info debug-exit=0xf4'"
        );
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn tests_with_their_own_cpu_model_keep_it_without_svm_or_npt() {
        assert_eq!(accel_for(test_named("boot-multiboot1")), Accel::kvm_host());
        assert_eq!(
            accel_for(test_named("no-svm")).args(),
            ["-enable-kvm", "-cpu", "host,-svm"]
        );
        assert_eq!(
            accel_for(test_named("no-nested-paging")).args(),
            ["-enable-kvm", "-cpu", "host,-npt"]
        );
    }

    fn prepared() -> Prepared {
        let module = |name: &str, source: &str| Module {
            name: name.into(),
            source: source.into(),
        };
        let echo = Deployment {
            name: "echo".into(),
            cmdline: "log=info debug-exit=0xf4".into(),
            modules: vec![
                module("boot-plan.tsbp", "/t/tessera/echo/boot-plan.tsbp"),
                module("echo-server", "/t/tessera/echo/echo-server"),
                module("module.txt", "/t/tessera/echo/module.txt"),
            ],
            ..Deployment::kernel_only()
        };
        Prepared {
            kernel: "/elsewhere/tessera-kernel".into(),
            deployments: vec![
                (None, Ok(Deployment::kernel_only())),
                (Some("echo"), Ok(echo)),
                (Some("broken"), Err("did not build".into())),
            ],
            isos: vec![(Some("echo"), Ok("/t/tessera/echo.iso".into()))],
        }
    }

    #[test]
    fn files_move_under_tessera_and_errors_stay() {
        let mut placement = Placement::new(Path::new("/t"));
        let inside = relocate(&prepared(), &mut placement);
        assert_eq!(
            inside.kernel,
            Path::new("/tessera/elsewhere/4-tessera-kernel")
        );
        let echo = inside.deployment(Some("echo")).unwrap();
        let sources: Vec<&Path> = echo.modules.iter().map(|m| m.source.as_path()).collect();
        assert_eq!(
            sources,
            [
                Path::new("/tessera/tessera/echo/boot-plan.tsbp"),
                Path::new("/tessera/tessera/echo/echo-server"),
                Path::new("/tessera/tessera/echo/module.txt"),
            ]
        );
        assert_eq!(
            inside.iso(Some("echo")).unwrap(),
            Path::new("/tessera/tessera/echo.iso")
        );
        assert_eq!(
            inside.deployment(Some("broken")).unwrap_err(),
            "did not build"
        );
        assert_eq!(placement.files.len(), 5);
        assert_eq!(
            placement.place(Path::new("/t/tessera/echo.iso")),
            Path::new("/tessera/tessera/echo.iso")
        );
        assert_eq!(placement.files.len(), 5);
    }

    #[test]
    fn the_plan_runs_the_tcg_command_with_kvm_and_the_files_inside() {
        let mut placement = Placement::new(Path::new("/t"));
        let inside = relocate(&prepared(), &mut placement);
        let test = test_named("components-echo");
        let config =
            system_tests::qemu_config(test, &inside, accel_for(test), "/logs/e.serial.log".into())
                .unwrap();
        let command = command(&config, Path::new("/usr/bin/qemu-system-x86_64"));
        let plan = script(
            &["/lib/x86_64-linux-gnu".into(), "/lib64".into()],
            &[
                ("/lib/modules/kvm.ko".into(), ""),
                ("/lib/modules/kvm_amd.ko".into(), "nested=1"),
            ],
            &[PlannedRun {
                name: "components-echo",
                log: "/logs/e.serial.log".into(),
                command,
                input: &[],
            }],
        );
        assert!(!plan.contains("input_steps"), "{plan}");
        assert!(plan.contains("STALL_SECONDS=120\n"), "{plan}");
        assert!(
            plan.contains("LD_LIBRARY_PATH='/lib/x86_64-linux-gnu:/lib64'\n"),
            "{plan}"
        );
        assert!(
            plan.contains("    load_module '/lib/modules/kvm.ko'\n"),
            "{plan}"
        );
        assert!(
            plan.contains("    load_module '/lib/modules/kvm_amd.ko' 'nested=1'\n"),
            "{plan}"
        );
        assert!(
            plan.contains(
                "    run_test 'components-echo' '/logs/e.serial.log' '/tessera/tessera/echo' \
                 '/usr/bin/qemu-system-x86_64' '-machine' 'q35' '-enable-kvm' '-cpu' 'host' "
            ),
            "{plan}"
        );
        assert!(
            plan.contains(
                "'-serial' 'file:/logs/e.serial.log' '-kernel' '/tessera/elsewhere/4-tessera-kernel' \
                 '-append' 'log=info debug-exit=0xf4' '-initrd' 'boot-plan.tsbp,echo-server,module.txt'\n"
            ),
            "{plan}"
        );
        assert!(plan.ends_with("}\n"));
    }

    #[test]
    fn a_test_that_types_has_its_steps_before_its_run() {
        let test = test_named("console-echo");
        let plan = script(
            &[],
            &[],
            &[PlannedRun {
                name: test.name,
                log: "/logs/c.serial.log".into(),
                command: vec!["/".into(), "qemu".into()],
                input: test.input,
            }],
        );
        let steps = format!(
            "    input_steps <<'@@end-of-input'\n{}\n\\150\\145\\154\\154\\157",
            "echo: echo-guest: type a line and press Enter (bye ends)"
        );
        assert!(plan.contains(&steps), "{plan}");
        // Ctrl-A x, QEMU's quit, is the last step.
        assert!(
            plan.contains("\\001\\170\n@@end-of-input\n    run_test 'console-echo' "),
            "{plan}"
        );
        assert!(
            test.input
                .iter()
                .all(|step| !step.after.contains('\n') && step.after != INPUT_END)
        );
    }
}
