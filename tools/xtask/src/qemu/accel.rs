//! KVM with nested SVM when the host offers it, TCG with an SVM-capable CPU model
//! otherwise.

use std::fs::{self, OpenOptions};

/// The CPU model used under TCG unless a test sets its own.
pub const TCG_CPU: &str = "EPYC";

const DEV_KVM: &str = "/dev/kvm";
const CPUINFO: &str = "/proc/cpuinfo";
const KVM_AMD_NESTED: &str = "/sys/module/kvm_amd/parameters/nested";

/// The CPU model under KVM: the host's own CPU.
pub const KVM_CPU: &str = "host";

/// How QEMU runs the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accel {
    /// `-enable-kvm -cpu <model>`: `host`, perhaps with features taken away.
    Kvm { cpu: String },
    /// `-accel tcg -cpu <model>`.
    Tcg { cpu: String },
    /// `-accel tcg,thread=single -cpu <model>`: every vCPU on one host
    /// thread, taking turns. L1 of the nested run uses it: QEMU 7.2's
    /// emulation of SVM for L1's KVM fails more often with a vCPU per
    /// thread, the more so on a loaded host (see `nested::l1`).
    TcgOneThread { cpu: String },
}

impl Accel {
    /// KVM with the host's CPU as it is.
    pub fn kvm_host() -> Self {
        Self::Kvm {
            cpu: KVM_CPU.into(),
        }
    }

    pub fn args(&self) -> Vec<String> {
        match self {
            Self::Kvm { cpu } => vec!["-enable-kvm".into(), "-cpu".into(), cpu.clone()],
            Self::Tcg { cpu } => vec!["-accel".into(), "tcg".into(), "-cpu".into(), cpu.clone()],
            Self::TcgOneThread { cpu } => vec![
                "-accel".into(),
                "tcg,thread=single".into(),
                "-cpu".into(),
                cpu.clone(),
            ],
        }
    }
}

/// The KVM CPU model that stands for a TCG model a test sets to take
/// features away: the host's CPU without the same features
/// (`qemu64,-svm` is `host,-svm`, `qemu64,+svm,-npt` is `host,-npt`). The
/// features it adds are the host's already (where KVM runs Tessera at all).
pub fn kvm_cpu_for(tcg_cpu: &str) -> String {
    let removed = tcg_cpu.split(',').skip(1).filter(|f| f.starts_with('-'));
    std::iter::once(KVM_CPU)
        .chain(removed)
        .collect::<Vec<_>>()
        .join(",")
}

/// An accelerator and the reason it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub accel: Accel,
    pub why: String,
}

impl Choice {
    /// The line xtask prints, e.g. `xtask: accelerator: TCG with -cpu EPYC (...)`.
    pub fn describe(&self) -> String {
        let what = match &self.accel {
            Accel::Kvm { cpu } => format!("KVM with -cpu {cpu}"),
            Accel::Tcg { cpu } => format!("TCG with -cpu {cpu}"),
            Accel::TcgOneThread { cpu } => format!("TCG on one thread with -cpu {cpu}"),
        };
        format!("xtask: accelerator: {what} ({})", self.why)
    }

    /// TCG with the CPU model a test asks for, whatever the host offers.
    pub fn tcg_with(cpu: &str) -> Self {
        Self {
            accel: Accel::Tcg { cpu: cpu.into() },
            why: "the test sets its own CPU model".into(),
        }
    }
}

/// What the host says about nested SVM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// Opening `/dev/kvm` read-write: `Err` holds the error.
    pub dev_kvm: Result<(), String>,
    /// `/proc/cpuinfo`, if readable.
    pub cpuinfo: Option<String>,
    /// `/sys/module/kvm_amd/parameters/nested`, if present.
    pub kvm_amd_nested: Option<String>,
}

impl HostFacts {
    pub fn gather() -> Self {
        Self {
            dev_kvm: OpenOptions::new()
                .read(true)
                .write(true)
                .open(DEV_KVM)
                .map(drop)
                .map_err(|e| e.to_string()),
            cpuinfo: fs::read_to_string(CPUINFO).ok(),
            kvm_amd_nested: fs::read_to_string(KVM_AMD_NESTED).ok(),
        }
    }
}

/// The accelerator for this host.
pub fn choose() -> Choice {
    decide(&HostFacts::gather())
}

/// KVM iff `/dev/kvm` opens read-write, the CPU has `svm`, and kvm_amd has nesting on.
pub fn decide(facts: &HostFacts) -> Choice {
    let mut lacking = Vec::new();
    if let Err(e) = &facts.dev_kvm {
        lacking.push(format!("cannot open {DEV_KVM} read-write: {e}"));
    }
    match &facts.cpuinfo {
        None => lacking.push(format!("{CPUINFO} unreadable")),
        Some(cpuinfo) if !cpuinfo_has_flag(cpuinfo, "svm") => {
            lacking.push(format!("no svm flag in {CPUINFO}"));
        }
        Some(_) => {}
    }
    match facts.kvm_amd_nested.as_deref().map(str::trim) {
        None => lacking.push(format!("{KVM_AMD_NESTED} missing")),
        Some("1" | "Y") => {}
        Some(value) => lacking.push(format!("{KVM_AMD_NESTED} is {value}")),
    }
    if lacking.is_empty() {
        Choice {
            accel: Accel::kvm_host(),
            why: "host has nested SVM".into(),
        }
    } else {
        Choice {
            accel: Accel::Tcg {
                cpu: TCG_CPU.into(),
            },
            why: format!("host has no nested SVM: {}", lacking.join("; ")),
        }
    }
}

/// Whether any `flags` line of a `/proc/cpuinfo` text lists `flag`.
fn cpuinfo_has_flag(cpuinfo: &str, flag: &str) -> bool {
    cpuinfo.lines().any(|line| {
        line.split_once(':').is_some_and(|(key, value)| {
            key.trim() == "flags" && value.split_whitespace().any(|f| f == flag)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AMD_CPUINFO: &str =
        "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu vme svm npt lbrv\n";
    const NO_SVM_CPUINFO: &str = "processor\t: 0\nflags\t\t: fpu vme svm_lock npt\n";

    fn nested_host() -> HostFacts {
        HostFacts {
            dev_kvm: Ok(()),
            cpuinfo: Some(AMD_CPUINFO.into()),
            kvm_amd_nested: Some("1\n".into()),
        }
    }

    #[test]
    fn kvm_when_everything_is_there() {
        assert_eq!(decide(&nested_host()).accel, Accel::kvm_host());
        let facts = HostFacts {
            kvm_amd_nested: Some("Y\n".into()),
            ..nested_host()
        };
        assert_eq!(decide(&facts).accel, Accel::kvm_host());
    }

    #[test]
    fn tcg_without_nested_parameter() {
        let facts = HostFacts {
            kvm_amd_nested: None,
            ..nested_host()
        };
        let choice = decide(&facts);
        assert_eq!(choice.accel, Accel::Tcg { cpu: "EPYC".into() });
        assert_eq!(
            choice.describe(),
            "xtask: accelerator: TCG with -cpu EPYC (host has no nested SVM: \
             /sys/module/kvm_amd/parameters/nested missing)"
        );
    }

    #[test]
    fn tcg_when_nesting_is_off() {
        let facts = HostFacts {
            kvm_amd_nested: Some("0\n".into()),
            ..nested_host()
        };
        let choice = decide(&facts);
        assert!(matches!(choice.accel, Accel::Tcg { .. }));
        assert!(choice.why.contains("nested is 0"), "{}", choice.why);
    }

    #[test]
    fn tcg_without_svm_flag() {
        let facts = HostFacts {
            cpuinfo: Some(NO_SVM_CPUINFO.into()),
            ..nested_host()
        };
        let choice = decide(&facts);
        assert!(matches!(choice.accel, Accel::Tcg { .. }));
        assert!(choice.why.contains("no svm flag"), "{}", choice.why);
    }

    #[test]
    fn tcg_when_dev_kvm_does_not_open_and_all_reasons_are_given() {
        let facts = HostFacts {
            dev_kvm: Err("Permission denied (os error 13)".into()),
            cpuinfo: None,
            kvm_amd_nested: None,
        };
        let choice = decide(&facts);
        assert!(matches!(choice.accel, Accel::Tcg { .. }));
        assert_eq!(
            choice.why,
            "host has no nested SVM: cannot open /dev/kvm read-write: Permission denied \
             (os error 13); /proc/cpuinfo unreadable; /sys/module/kvm_amd/parameters/nested missing"
        );
    }

    #[test]
    fn accelerator_arguments() {
        assert_eq!(Accel::kvm_host().args(), ["-enable-kvm", "-cpu", "host"]);
        assert_eq!(
            Choice::tcg_with("qemu64,-svm").accel.args(),
            ["-accel", "tcg", "-cpu", "qemu64,-svm"]
        );
    }

    #[test]
    fn kvm_stands_in_for_tcg_models_that_take_features_away() {
        assert_eq!(kvm_cpu_for("qemu64,-svm"), "host,-svm");
        assert_eq!(kvm_cpu_for("qemu64,+svm,-npt"), "host,-npt");
        assert_eq!(kvm_cpu_for("EPYC"), "host");
    }
}
