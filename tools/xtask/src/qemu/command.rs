//! The QEMU command line.

use std::ffi::OsString;
use std::path::PathBuf;

use super::accel::Accel;
use crate::deployment::Module;

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-x86_64";

/// The isa-debug-exit device at the port the kernel is told about (`debug-exit=0xf4`).
pub const DEBUG_EXIT_DEVICE: &str = "isa-debug-exit,iobase=0xf4,iosize=0x04";

/// How the machine boots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boot {
    /// QEMU's own Multiboot1 loader: `-kernel <kernel> -append <cmdline>`,
    /// and the modules as `-initrd <initrd>` (see [`initrd`]).
    Kernel {
        kernel: PathBuf,
        cmdline: String,
        initrd: Option<String>,
    },
    /// GRUB (Multiboot2) from a rescue ISO: `-cdrom <iso> -boot d`.
    Cdrom { iso: PathBuf },
}

/// Everything that goes on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuConfig {
    pub accel: Accel,
    pub boot: Boot,
    pub smp: u32,
    pub memory_mib: u32,
    /// COM1 goes to this file.
    pub serial_log: PathBuf,
    /// Wait for gdb on :1234 (`-s -S`).
    pub gdb: bool,
    /// Appended last, verbatim.
    pub extra: Vec<String>,
}

impl QemuConfig {
    /// The arguments after `qemu-system-x86_64`.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |arg: &str| args.push(arg.into());
        push("-machine");
        push("q35");
        for arg in self.accel.args() {
            push(&arg);
        }
        push("-m");
        push(&format!("{}M", self.memory_mib));
        push("-smp");
        push(&self.smp.to_string());
        push("-no-reboot");
        push("-display");
        push("none");
        push("-monitor");
        push("none");
        push("-device");
        push(DEBUG_EXIT_DEVICE);
        let mut serial = OsString::from("file:");
        serial.push(&self.serial_log);
        args.extend(["-serial".into(), serial]);
        match &self.boot {
            Boot::Kernel {
                kernel,
                cmdline,
                initrd,
            } => {
                args.extend([
                    "-kernel".into(),
                    kernel.into(),
                    "-append".into(),
                    cmdline.into(),
                ]);
                if let Some(initrd) = initrd {
                    args.extend(["-initrd".into(), initrd.into()]);
                }
            }
            Boot::Cdrom { iso } => {
                args.extend(["-cdrom".into(), iso.into(), "-boot".into(), "d".into()]);
            }
        }
        if self.gdb {
            args.extend(["-s".into(), "-S".into()]);
        }
        args.extend(self.extra.iter().map(OsString::from));
        args
    }
}

/// The `-initrd` argument that makes QEMU's Multiboot1 loader pass
/// `modules`, in order: `"FILE NAME,FILE NAME,..."`. QEMU loads FILE (up to
/// the first space) and gives the kernel the whole `FILE NAME` as the
/// module's string, so the kernel takes its last word as the name. A comma
/// in a path is written twice; a path with a space (which would end the file
/// name early) or that is not UTF-8 is refused. `None` for no modules.
pub fn initrd(modules: &[Module]) -> Result<Option<String>, String> {
    if modules.is_empty() {
        return Ok(None);
    }
    let mut parts = Vec::new();
    for module in modules {
        let path = module
            .source
            .to_str()
            .ok_or_else(|| format!("module path {} is not UTF-8", module.source.display()))?;
        if path.contains(char::is_whitespace) {
            return Err(format!(
                "module path {path:?} contains a space, which QEMU's -initrd cannot carry: \
                 use a CARGO_TARGET_DIR without spaces"
            ));
        }
        if module.name.contains([',', ' ']) || module.name.is_empty() {
            return Err(format!(
                "module name {:?} cannot be passed to QEMU",
                module.name
            ));
        }
        parts.push(format!("{} {}", path.replace(',', ",,"), module.name));
    }
    Ok(Some(parts.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(boot: Boot) -> QemuConfig {
        QemuConfig {
            accel: Accel::Tcg { cpu: "EPYC".into() },
            boot,
            smp: 4,
            memory_mib: 256,
            serial_log: "/t/serial.log".into(),
            gdb: false,
            extra: Vec::new(),
        }
    }

    fn strings(config: &QemuConfig) -> Vec<String> {
        config
            .args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn kernel_boot_command_line() {
        let args = strings(&config(Boot::Kernel {
            kernel: "/t/tessera-kernel".into(),
            cmdline: "log=info debug-exit=0xf4".into(),
            initrd: None,
        }));
        assert_eq!(
            args,
            [
                "-machine",
                "q35",
                "-accel",
                "tcg",
                "-cpu",
                "EPYC",
                "-m",
                "256M",
                "-smp",
                "4",
                "-no-reboot",
                "-display",
                "none",
                "-monitor",
                "none",
                "-device",
                "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-serial",
                "file:/t/serial.log",
                "-kernel",
                "/t/tessera-kernel",
                "-append",
                "log=info debug-exit=0xf4",
            ]
        );
    }

    #[test]
    fn cdrom_boot_uses_grub() {
        let args = strings(&config(Boot::Cdrom {
            iso: "/t/default.iso".into(),
        }));
        assert!(args.ends_with(&[
            "-cdrom".into(),
            "/t/default.iso".into(),
            "-boot".into(),
            "d".into()
        ]));
        assert!(!args.contains(&"-kernel".to_string()));
    }

    #[test]
    fn kvm_gdb_and_extra_arguments() {
        let mut config = config(Boot::Kernel {
            kernel: "k".into(),
            cmdline: "c".into(),
            initrd: None,
        });
        config.accel = Accel::kvm_host();
        config.gdb = true;
        config.smp = 2;
        config.extra = vec!["-d".into(), "int".into()];
        let args = strings(&config);
        assert_eq!(&args[2..5], ["-enable-kvm", "-cpu", "host"]);
        assert!(args.windows(2).any(|w| w == ["-smp", "2"]));
        assert!(args.ends_with(&["-s".into(), "-S".into(), "-d".into(), "int".into()]));
    }
}

#[cfg(test)]
mod initrd_tests {
    use super::*;

    fn module(name: &str, source: &str) -> Module {
        Module {
            name: name.into(),
            source: source.into(),
        }
    }

    #[test]
    fn no_modules_no_initrd() {
        assert_eq!(initrd(&[]), Ok(None));
    }

    #[test]
    fn modules_are_file_and_name_comma_separated_in_order() {
        let modules = [
            module("boot-plan.tsbp", "/t/tessera/default/boot-plan.tsbp"),
            module("echo-server", "/t/release/echo-server"),
            module("echo-client", "/t/release/echo-client"),
        ];
        assert_eq!(
            initrd(&modules).unwrap().as_deref(),
            Some(
                "/t/tessera/default/boot-plan.tsbp boot-plan.tsbp,\
                 /t/release/echo-server echo-server,/t/release/echo-client echo-client"
            )
        );
    }

    #[test]
    fn commas_in_paths_are_doubled() {
        let modules = [module("a", "/t/x,y/a"), module("b", "/t/b")];
        assert_eq!(
            initrd(&modules).unwrap().as_deref(),
            Some("/t/x,,y/a a,/t/b b")
        );
    }

    #[test]
    fn paths_with_spaces_are_refused() {
        let error = initrd(&[module("a", "/my target/a")]).unwrap_err();
        assert!(error.contains("space"), "{error}");
        assert!(initrd(&[module("a,b", "/t/a")]).is_err());
    }

    #[test]
    fn the_initrd_follows_the_command_line() {
        let config = QemuConfig {
            accel: Accel::Tcg { cpu: "EPYC".into() },
            boot: Boot::Kernel {
                kernel: "/t/k".into(),
                cmdline: "c".into(),
                initrd: Some("/t/p boot-plan.tsbp".into()),
            },
            smp: 2,
            memory_mib: 256,
            serial_log: "/t/s".into(),
            gdb: false,
            extra: Vec::new(),
        };
        let args: Vec<String> = config
            .args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert!(args.ends_with(&[
            "-kernel".into(),
            "/t/k".into(),
            "-append".into(),
            "c".into(),
            "-initrd".into(),
            "/t/p boot-plan.tsbp".into(),
        ]));
    }
}
