//! The host programs xtask drives (QEMU, GRUB and what `grub-mkrescue` needs):
//! checked before use, installed with apt-get when we are root on a Debian-like
//! system, otherwise named in the error.

use std::env;
use std::path::Path;
use std::process::Command;

/// What a subcommand is about to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub qemu: bool,
    pub grub: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// A program found on `PATH`.
    Program(&'static str),
    /// A directory that must exist.
    Dir(&'static str),
}

#[derive(Debug)]
struct Tool {
    check: Check,
    package: &'static str,
    grub: bool,
}

/// Every tool, in the order packages are named.
const TOOLS: &[Tool] = &[
    Tool {
        check: Check::Program("qemu-system-x86_64"),
        package: "qemu-system-x86",
        grub: false,
    },
    Tool {
        check: Check::Dir("/usr/lib/grub/i386-pc"),
        package: "grub-pc-bin",
        grub: true,
    },
    Tool {
        check: Check::Program("grub-mkrescue"),
        package: "grub-common",
        grub: true,
    },
    Tool {
        check: Check::Program("xorriso"),
        package: "xorriso",
        grub: true,
    },
    Tool {
        check: Check::Program("mformat"),
        package: "mtools",
        grub: true,
    },
];

const APT_GET: &str = "/usr/bin/apt-get";

/// Makes sure the tools in `needs` are present, installing them if we can.
pub fn ensure(needs: Needs) -> Result<(), String> {
    let (missing, packages) = missing(needs, is_present);
    if missing.is_empty() {
        return Ok(());
    }
    let missing = missing.join(", ");
    let packages = packages.join(" ");
    if !(running_as_root() && Path::new(APT_GET).exists()) {
        return Err(format!(
            "missing host tools ({missing}); install the packages: {packages} \
             (for example `sudo apt-get install {packages}`)"
        ));
    }
    println!("xtask: installing host tools: {packages}");
    apt_get(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq"];
    install.extend(packages.split(' '));
    apt_get(&install)?;
    let (still_missing, _) = self::missing(needs, is_present);
    if still_missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "still missing after installing {packages}: {}",
            still_missing.join(", ")
        ))
    }
}

/// The missing tools and the packages that provide them, without duplicates.
fn missing(
    needs: Needs,
    present: impl Fn(Check) -> bool,
) -> (Vec<&'static str>, Vec<&'static str>) {
    let mut tools = Vec::new();
    let mut packages = Vec::new();
    for tool in TOOLS {
        let needed = if tool.grub { needs.grub } else { needs.qemu };
        if !needed || present(tool.check) {
            continue;
        }
        tools.push(match tool.check {
            Check::Program(name) | Check::Dir(name) => name,
        });
        if !packages.contains(&tool.package) {
            packages.push(tool.package);
        }
    }
    (tools, packages)
}

fn is_present(check: Check) -> bool {
    match check {
        Check::Program(name) => on_path(name),
        Check::Dir(dir) => Path::new(dir).is_dir(),
    }
}

fn on_path(program: &str) -> bool {
    find_on_path(program).is_some()
}

/// Where `program` is on `PATH`: the first executable file of that name.
pub fn find_on_path(program: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|file| {
            file.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether the effective user is root, as `id -u` says.
pub fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "0")
}

pub fn apt_get(args: &[&str]) -> Result<(), String> {
    let status = Command::new(APT_GET)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("apt-get {} failed ({status})", args.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Needs = Needs {
        qemu: true,
        grub: true,
    };

    #[test]
    fn nothing_missing_when_everything_is_present() {
        assert_eq!(missing(ALL, |_| true), (vec![], vec![]));
    }

    #[test]
    fn names_every_package_when_nothing_is_present() {
        let (tools, packages) = missing(ALL, |_| false);
        assert_eq!(
            packages,
            [
                "qemu-system-x86",
                "grub-pc-bin",
                "grub-common",
                "xorriso",
                "mtools"
            ]
        );
        assert_eq!(tools.len(), 5);
    }

    #[test]
    fn run_without_iso_needs_only_qemu() {
        let needs = Needs {
            qemu: true,
            grub: false,
        };
        assert_eq!(missing(needs, |_| false).1, ["qemu-system-x86"]);
    }

    #[test]
    fn names_only_what_is_missing() {
        let (tools, packages) = missing(ALL, |check| check != Check::Program("xorriso"));
        assert_eq!(tools, ["xorriso"]);
        assert_eq!(packages, ["xorriso"]);
        let (tools, packages) = missing(ALL, |check| check != Check::Dir("/usr/lib/grub/i386-pc"));
        assert_eq!(tools, ["/usr/lib/grub/i386-pc"]);
        assert_eq!(packages, ["grub-pc-bin"]);
    }
}
