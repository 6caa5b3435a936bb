//! The virtual machine a deployment boots on: as much memory as the
//! kernel, init, every component's quota (which holds its partitions'
//! memory) and the boot modules need, with a margin, and a CPU for every
//! CPU the manifest names. `--memory`, `--cpus` and QEMU's own `-m` and
//! `-smp` after `--` override it; a machine too small for the deployment
//! is refused before it boots, with the numbers.

use std::fmt;

/// The kernel's own share: its image, its heap (at most 16 MiB,
/// `kernel/src/memory/heap.rs`), page tables, stacks, and the first MiB
/// and the firmware's holes, which no one gets.
pub const KERNEL_MIB: u64 = 48;
/// What the kernel gives init beyond the deployment's component memory
/// (`INIT_OWN_QUOTA` in kernel/src/loader/mod.rs).
pub const INIT_MIB: u64 = 4;
/// Nothing boots on less (and every deployment of the tree fits in it).
pub const SMALLEST_MIB: u64 = 256;
/// The most CPUs the kernel starts (`tlb::MAX_CPUS`, the boot plan's 64).
pub const MAX_CPUS: u32 = 64;

const MIB: u64 = 1 << 20;

/// What a deployment needs of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// `deployment.component-memory`, in bytes.
    pub component_memory: u64,
    /// The boot modules' bytes (the plan, the images, the module files):
    /// QEMU puts them in RAM, where they stay.
    pub modules: u64,
    /// `deployment.cpus`.
    pub cpus: u32,
}

impl Need {
    /// The least memory the deployment boots in, in MiB.
    pub fn minimum_mib(&self) -> u64 {
        KERNEL_MIB + INIT_MIB + self.component_memory.div_ceil(MIB) + self.modules.div_ceil(MIB)
    }

    /// What the machine gets unless told otherwise: the minimum and an
    /// eighth more (the kernel's heap grows with memory, partitions'
    /// tables are charged at run time), in whole 2 MiB, at least
    /// [`SMALLEST_MIB`].
    pub fn default_mib(&self) -> u64 {
        let minimum = self.minimum_mib();
        (minimum + minimum / 8)
            .next_multiple_of(2)
            .max(SMALLEST_MIB)
    }
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at least {} MiB: the kernel {KERNEL_MIB} MiB + init {INIT_MIB} MiB + \
             component-memory {} MiB + the boot modules {} MiB",
            self.minimum_mib(),
            self.component_memory.div_ceil(MIB),
            self.modules.div_ceil(MIB)
        )
    }
}

/// What the user asked for, from `--memory`/`--cpus` or QEMU's `-m`/`-smp`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    pub memory_mib: Option<u64>,
    pub cpus: Option<u32>,
}

impl Overrides {
    /// These, then whatever `-m` and `-smp` in QEMU's extra arguments say
    /// (QEMU takes the last of each, and the extra arguments come last).
    pub fn with_qemu_args(self, extra: &[String]) -> Result<Self, String> {
        let mut out = self;
        let mut args = extra.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-m" => {
                    let value = args.next().ok_or("QEMU's -m needs a size")?;
                    out.memory_mib = Some(parse_qemu_memory(value)?);
                }
                "-smp" => {
                    let value = args.next().ok_or("QEMU's -smp needs a CPU count")?;
                    out.cpus = Some(parse_qemu_smp(value)?);
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// The machine for a deployment that needs `need`, or why the overrides
/// cannot run it. `name` names the deployment in the refusal.
pub fn size(name: &str, need: &Need, overrides: Overrides) -> Result<(u32, u32), String> {
    let memory = overrides.memory_mib.unwrap_or_else(|| need.default_mib());
    if memory < need.minimum_mib() {
        return Err(format!(
            "deployment {name:?} needs {need}; a machine of {memory} MiB cannot boot it \
             (give --memory {} or more, or leave --memory out)",
            need.minimum_mib()
        ));
    }
    let cpus = overrides.cpus.unwrap_or(need.cpus);
    if cpus < need.cpus {
        return Err(format!(
            "deployment {name:?} names CPUs 0 to {} (deployment.cpus = {}); a machine of {cpus} \
             CPUs cannot run it (give --cpus {} or more)",
            need.cpus - 1,
            need.cpus,
            need.cpus
        ));
    }
    if cpus > MAX_CPUS {
        return Err(format!("{cpus} CPUs: the kernel starts at most {MAX_CPUS}"));
    }
    let memory = u32::try_from(memory).map_err(|_| format!("{memory} MiB is too much memory"))?;
    Ok((cpus, memory))
}

/// `--memory`: MiB, or a number with a `M`/`MiB` or `G`/`GiB` suffix
/// (QEMU's `-m` units).
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a memory size (such as 512, 512M or 2G)"))?;
    let factor = match unit.trim() {
        "" | "M" | "m" | "MiB" | "MB" => 1,
        "G" | "g" | "GiB" | "GB" => 1024,
        other => return Err(format!("unknown memory unit {other:?} (use M or G)")),
    };
    number
        .checked_mul(factor)
        .filter(|&mib| mib > 0)
        .ok_or_else(|| format!("{text:?} is not a memory size"))
}

/// The size of QEMU's `-m` (`512`, `512M`, `size=1G,slots=...`).
fn parse_qemu_memory(value: &str) -> Result<u64, String> {
    let first = value.split(',').next().unwrap_or(value);
    parse_memory(first.strip_prefix("size=").unwrap_or(first))
}

/// The CPU count of QEMU's `-smp` (`4`, `cpus=4,...`, `4,sockets=1,...`).
fn parse_qemu_smp(value: &str) -> Result<u32, String> {
    let first = value.split(',').next().unwrap_or(value);
    let count = first.strip_prefix("cpus=").unwrap_or(first);
    count
        .parse()
        .map_err(|_| format!("QEMU's -smp {value:?}: no CPU count first"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 512 MiB guest with its manager (513 MiB quota) and devices.
    const BIG_GUEST: Need = Need {
        component_memory: 516 * MIB,
        modules: 3 * MIB / 2,
        cpus: 2,
    };

    #[test]
    fn the_machine_covers_the_kernel_init_components_and_modules() {
        assert_eq!(BIG_GUEST.minimum_mib(), 48 + 4 + 516 + 2);
        assert_eq!(BIG_GUEST.default_mib(), 642);
        assert_eq!(size("big", &BIG_GUEST, Overrides::default()), Ok((2, 642)));
        let small = Need {
            component_memory: 8 * MIB,
            modules: MIB,
            cpus: 1,
        };
        assert_eq!(small.default_mib(), SMALLEST_MIB, "never below 256 MiB");
    }

    #[test]
    fn overrides_win_when_the_deployment_fits() {
        let overrides = Overrides {
            memory_mib: Some(2048),
            cpus: Some(4),
        };
        assert_eq!(size("big", &BIG_GUEST, overrides), Ok((4, 2048)));
        let exact = Overrides {
            memory_mib: Some(570),
            cpus: Some(2),
        };
        assert_eq!(size("big", &BIG_GUEST, exact), Ok((2, 570)));
    }

    #[test]
    fn a_machine_too_small_is_refused_with_the_numbers() {
        let error = size(
            "big",
            &BIG_GUEST,
            Overrides {
                memory_mib: Some(256),
                cpus: None,
            },
        )
        .unwrap_err();
        assert_eq!(
            error,
            "deployment \"big\" needs at least 570 MiB: the kernel 48 MiB + init 4 MiB + \
             component-memory 516 MiB + the boot modules 2 MiB; a machine of 256 MiB cannot boot \
             it (give --memory 570 or more, or leave --memory out)"
        );
        let error = size(
            "big",
            &BIG_GUEST,
            Overrides {
                memory_mib: None,
                cpus: Some(1),
            },
        )
        .unwrap_err();
        assert!(
            error.contains("names CPUs 0 to 1 (deployment.cpus = 2); a machine of 1 CPUs"),
            "{error}"
        );
        assert!(
            size(
                "big",
                &BIG_GUEST,
                Overrides {
                    memory_mib: None,
                    cpus: Some(65)
                }
            )
            .unwrap_err()
            .contains("at most 64")
        );
    }

    #[test]
    fn qemu_arguments_after_double_dash_count_as_overrides() {
        let extra: Vec<String> = ["-d", "int", "-m", "1G", "-smp", "cpus=3,sockets=1"]
            .map(String::from)
            .to_vec();
        let overrides = Overrides {
            memory_mib: Some(300),
            cpus: Some(2),
        }
        .with_qemu_args(&extra)
        .unwrap();
        assert_eq!(
            overrides,
            Overrides {
                memory_mib: Some(1024),
                cpus: Some(3)
            }
        );
        let size_form = ["-m".to_string(), "size=768M,slots=2,maxmem=2G".into()];
        assert_eq!(
            Overrides::default()
                .with_qemu_args(&size_form)
                .unwrap()
                .memory_mib,
            Some(768)
        );
        assert!(Overrides::default().with_qemu_args(&["-m".into()]).is_err());
    }

    #[test]
    fn memory_sizes_take_qemu_units() {
        assert_eq!(parse_memory("512"), Ok(512));
        assert_eq!(parse_memory("512M"), Ok(512));
        assert_eq!(parse_memory("2G"), Ok(2048));
        assert_eq!(parse_memory("1 GiB"), Ok(1024));
        assert!(parse_memory("0").is_err());
        assert!(parse_memory("12T").is_err());
        assert!(parse_memory("lots").is_err());
    }
}
