//! The QEMU command line.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::accel::Accel;
use crate::deployment::Module;

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-x86_64";

/// The isa-debug-exit device at the port the kernel is told about (`debug-exit=0xf4`).
pub const DEBUG_EXIT_DEVICE: &str = "isa-debug-exit,iobase=0xf4,iosize=0x04";

/// The id of COM1's character device in console mode.
const CONSOLE_CHARDEV: &str = "console";

/// How the machine boots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boot {
    /// QEMU's own Multiboot1 loader: `-kernel <kernel> -append <cmdline>`,
    /// and the modules as `-initrd` (see [`initrd`]).
    Kernel {
        kernel: PathBuf,
        cmdline: String,
        initrd: Option<Initrd>,
    },
    /// GRUB (Multiboot2) from a rescue ISO: `-cdrom <iso> -boot d`.
    Cdrom { iso: PathBuf },
}

/// The boot modules as QEMU's `-initrd` takes them: file names relative to
/// `dir`, where QEMU runs (see [`initrd`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initrd {
    /// The directory that holds every module, each under its module name.
    pub dir: PathBuf,
    /// `"NAME,NAME,..."`.
    pub arg: String,
}

/// Where COM1 goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serial {
    /// Output to the log file only; nothing can be typed.
    File(PathBuf),
    /// QEMU's standard input and output, through QEMU's multiplexer (Ctrl-A
    /// X ends the run; Ctrl-C goes to the guest), and the log file.
    Console(PathBuf),
}

impl Serial {
    /// The serial log.
    pub fn log(&self) -> &Path {
        match self {
            Self::File(log) | Self::Console(log) => log,
        }
    }
}

/// Everything that goes on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuConfig {
    pub accel: Accel,
    pub boot: Boot,
    pub smp: u32,
    pub memory_mib: u32,
    /// COM1.
    pub serial: Serial,
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
        match &self.serial {
            Serial::File(log) => {
                let mut serial = OsString::from("file:");
                serial.push(log);
                args.extend(["-serial".into(), serial]);
            }
            Serial::Console(log) => {
                let mut chardev = OsString::from(format!(
                    "stdio,id={CONSOLE_CHARDEV},mux=on,signal=off,logfile="
                ));
                chardev.push(log);
                args.extend([
                    "-chardev".into(),
                    chardev,
                    "-serial".into(),
                    format!("chardev:{CONSOLE_CHARDEV}").into(),
                ]);
            }
        }
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
                    args.extend(["-initrd".into(), (&initrd.arg).into()]);
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

    /// The directory QEMU runs in: the modules' (their names on `-initrd`
    /// are relative to it), or `None` to keep ours.
    pub fn working_dir(&self) -> Option<&Path> {
        match &self.boot {
            Boot::Kernel {
                initrd: Some(initrd),
                ..
            } => Some(&initrd.dir),
            _ => None,
        }
    }
}

/// The `-initrd` argument that makes QEMU's Multiboot1 loader pass
/// `modules`, in order: `"NAME,NAME,..."`, with QEMU running in the
/// directory that holds them. QEMU gives the kernel the whole text of each
/// entry (the file, then anything after a space) as the module's string,
/// and the kernel holds 128 bytes of it: so the file is named by the
/// module's name alone, never by a host path, and nothing depends on where
/// the checkout lives. Every module must be the file `NAME` in one
/// directory (what [`crate::deployment::assemble`] makes); a name that
/// QEMU cannot carry (a comma, a space, empty) is refused. `None` for no
/// modules.
pub fn initrd(modules: &[Module]) -> Result<Option<Initrd>, String> {
    let Some(first) = modules.first() else {
        return Ok(None);
    };
    let dir = first
        .source
        .parent()
        .ok_or_else(|| format!("module {} has no directory", first.source.display()))?;
    let mut names = Vec::new();
    for module in modules {
        if module.name.is_empty() || module.name.contains([',', ' ']) {
            return Err(format!(
                "module name {:?} cannot be passed to QEMU",
                module.name
            ));
        }
        if module.source != dir.join(&module.name) {
            return Err(format!(
                "module {:?} is {}, not {}: QEMU takes the modules from one directory, each \
                 under its module name",
                module.name,
                module.source.display(),
                dir.join(&module.name).display()
            ));
        }
        names.push(module.name.as_str());
    }
    Ok(Some(Initrd {
        dir: dir.to_path_buf(),
        arg: names.join(","),
    }))
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
            serial: Serial::File("/t/serial.log".into()),
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
    fn console_mode_multiplexes_stdio_and_keeps_the_log() {
        let mut config = config(Boot::Cdrom {
            iso: "/t/default.iso".into(),
        });
        config.serial = Serial::Console("/t/run.serial.log".into());
        let args = strings(&config);
        assert!(
            args.windows(4).any(|w| w
                == [
                    "-chardev",
                    "stdio,id=console,mux=on,signal=off,logfile=/t/run.serial.log",
                    "-serial",
                    "chardev:console"
                ]),
            "{args:?}"
        );
        assert!(!args.iter().any(|a| a.starts_with("file:")));
        assert_eq!(config.serial.log(), Path::new("/t/run.serial.log"));
    }

    #[test]
    fn cdrom_boot_uses_grub() {
        let config = config(Boot::Cdrom {
            iso: "/t/default.iso".into(),
        });
        let args = strings(&config);
        assert!(args.ends_with(&[
            "-cdrom".into(),
            "/t/default.iso".into(),
            "-boot".into(),
            "d".into()
        ]));
        assert!(!args.contains(&"-kernel".to_string()));
        assert_eq!(config.working_dir(), None);
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

    fn module(name: &str, dir: &str) -> Module {
        Module {
            name: name.into(),
            source: Path::new(dir).join(name),
        }
    }

    #[test]
    fn no_modules_no_initrd() {
        assert_eq!(initrd(&[]), Ok(None));
    }

    #[test]
    fn modules_are_names_in_order_and_qemu_runs_beside_them() {
        let modules = [
            module("boot-plan.tsbp", "/t/tessera/default"),
            module("echo-server", "/t/tessera/default"),
            module("echo-client", "/t/tessera/default"),
        ];
        assert_eq!(
            initrd(&modules).unwrap(),
            Some(Initrd {
                dir: "/t/tessera/default".into(),
                arg: "boot-plan.tsbp,echo-server,echo-client".into(),
            })
        );
    }

    /// A checkout at a long path (issue 9, item 9): the module strings QEMU
    /// passes are the names alone, however deep the files lie.
    #[test]
    fn a_long_checkout_path_never_reaches_the_module_strings() {
        let dir = format!(
            "/{}/target/tessera/vm-multiboot",
            "deep-directory/".repeat(12)
        );
        assert!(dir.len() > 200);
        let modules = [
            module("boot-plan.tsbp", &dir),
            module("partition-manager", &dir),
            module("multiboot", &dir),
            module("module-1", &dir),
            module("init", &dir),
        ];
        let initrd = initrd(&modules).unwrap().unwrap();
        assert_eq!(
            initrd.arg,
            "boot-plan.tsbp,partition-manager,multiboot,module-1,init"
        );
        for string in initrd.arg.split(',') {
            assert!(string.len() < 32, "{string}");
        }
        let config = QemuConfig {
            accel: Accel::Tcg { cpu: "EPYC".into() },
            boot: Boot::Kernel {
                kernel: "/t/k".into(),
                cmdline: "c".into(),
                initrd: Some(initrd),
            },
            smp: 2,
            memory_mib: 256,
            serial: Serial::File("/t/s".into()),
            gdb: false,
            extra: Vec::new(),
        };
        assert_eq!(config.working_dir(), Some(Path::new(&dir)));
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
            "boot-plan.tsbp,partition-manager,multiboot,module-1,init".into(),
        ]));
    }

    #[test]
    fn modules_outside_one_directory_or_with_bad_names_are_refused() {
        let error = initrd(&[module("a", "/t/x"), module("b", "/t/y")]).unwrap_err();
        assert!(error.contains("one directory"), "{error}");
        let renamed = Module {
            name: "a".into(),
            source: "/t/x/b".into(),
        };
        assert!(initrd(&[renamed]).is_err());
        assert!(initrd(&[module("a,b", "/t")]).is_err());
        assert!(initrd(&[module("a b", "/t")]).is_err());
    }
}
