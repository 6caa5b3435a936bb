//! The bare-metal target of the pinned toolchain. `rust-toolchain.toml`
//! names `x86_64-unknown-none`, but rustup adds a toolchain file's targets
//! only when it installs the toolchain: a machine that had the toolchain
//! already lacks the target, and the first bare-metal build fails with
//! "can't find crate for `core`". xtask adds it, saying so, as it installs
//! its apt packages.

use std::path::Path;
use std::process::Command;

use crate::cargo_build::BARE_METAL_TARGET;
use crate::workspace::Workspace;

/// What the machine has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// `rustc --print sysroot` of the toolchain cargo builds with, if it
    /// answered.
    pub sysroot: Option<String>,
    /// Whether that sysroot holds the target's standard library
    /// (`lib/rustlib/<target>/lib`).
    pub target_installed: bool,
    /// Whether `rustup` runs.
    pub rustup: bool,
}

/// What to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The target is there.
    Ready,
    /// Run `rustup target add <target>` in the workspace (which picks the
    /// pinned toolchain).
    Install,
    /// It cannot be fixed from here: the message says how.
    Missing(String),
}

/// The decision, from the facts alone.
pub fn decide(facts: &Facts) -> Action {
    if facts.target_installed {
        return Action::Ready;
    }
    if facts.rustup {
        return Action::Install;
    }
    let sysroot = facts.sysroot.as_deref().unwrap_or("(rustc did not say)");
    Action::Missing(format!(
        "the toolchain at {sysroot} has no {BARE_METAL_TARGET} target, and there is no rustup \
         to add it: install rustup (https://rustup.rs), which reads rust-toolchain.toml, or add \
         the target to this toolchain"
    ))
}

/// Makes sure the pinned toolchain has the bare-metal target, adding it with
/// rustup if needed (one line says so).
pub fn ensure_target(workspace: &Workspace) -> Result<(), String> {
    let facts = gather(&workspace.root);
    match decide(&facts) {
        Action::Ready => Ok(()),
        Action::Missing(message) => Err(message),
        Action::Install => {
            println!(
                "xtask: adding the {BARE_METAL_TARGET} target to the pinned toolchain: rustup \
                 target add {BARE_METAL_TARGET}"
            );
            let status = Command::new("rustup")
                .current_dir(&workspace.root)
                .args(["target", "add", BARE_METAL_TARGET])
                .status()
                .map_err(|e| format!("cannot run rustup: {e}"))?;
            if !status.success() {
                return Err(format!(
                    "rustup target add {BARE_METAL_TARGET} failed ({status})"
                ));
            }
            if gather(&workspace.root).target_installed {
                Ok(())
            } else {
                Err(format!(
                    "rustup added {BARE_METAL_TARGET}, but the toolchain cargo uses still lacks it"
                ))
            }
        }
    }
}

/// Asks the toolchain the workspace pins (rustc run in the workspace root).
fn gather(root: &Path) -> Facts {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .current_dir(root)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    let target_installed = sysroot.as_deref().is_some_and(|sysroot| {
        Path::new(sysroot)
            .join("lib/rustlib")
            .join(BARE_METAL_TARGET)
            .join("lib")
            .is_dir()
    });
    let rustup = Command::new("rustup")
        .arg("--version")
        .current_dir(root)
        .output()
        .is_ok_and(|out| out.status.success());
    Facts {
        sysroot,
        target_installed,
        rustup,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(target_installed: bool, rustup: bool) -> Facts {
        Facts {
            sysroot: Some("/home/u/.rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu".into()),
            target_installed,
            rustup,
        }
    }

    #[test]
    fn an_installed_target_needs_nothing() {
        assert_eq!(decide(&facts(true, true)), Action::Ready);
        assert_eq!(decide(&facts(true, false)), Action::Ready);
    }

    #[test]
    fn a_missing_target_is_added_with_rustup() {
        assert_eq!(decide(&facts(false, true)), Action::Install);
    }

    #[test]
    fn without_rustup_the_message_says_what_to_do() {
        let Action::Missing(message) = decide(&facts(false, false)) else {
            panic!("not missing");
        };
        assert!(
            message.contains("has no x86_64-unknown-none target"),
            "{message}"
        );
        assert!(message.contains("install rustup"), "{message}");
    }

    #[test]
    fn this_machine_builds_for_the_target() {
        // The suite itself builds bare-metal crates, so the target is here
        // (or rustup is, to add it).
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let facts = gather(&root);
        assert!(facts.sysroot.is_some());
        assert_ne!(
            std::mem::discriminant(&decide(&facts)),
            std::mem::discriminant(&Action::Missing(String::new()))
        );
    }
}
