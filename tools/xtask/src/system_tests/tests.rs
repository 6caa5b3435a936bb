//! The catalog's promises and the judge, on logs as the kernel writes them.

use std::path::{Path, PathBuf};

use super::markers::*;
use super::outside;
use super::prepare::deployments_of;
use super::*;
use crate::components;
use crate::deployment;
use crate::guests;
use crate::qemu::progress::Stuck;
use crate::qemu::status::Outcome;

fn test_named(name: &str) -> &'static SystemTest {
    SYSTEM_TESTS.iter().find(|t| t.name == name).unwrap()
}

const MB1_PASS_LOG: &str = "\
Tessera 0.1.0 booting via multiboot1
memory map:
  [0x0000000000000000, 0x000000000009fc00) usable
svm: revision 1, 16 asids, nested paging yes, nrip-save no, decode-assists no, flush-by-asid no, vmcb-clean-bits no, avic no
smp: 4 of 4 cpus online
svm: enabled on 4 of 4 cpus
tessera: verdict pass
";

#[test]
fn names_are_unique() {
    for (i, a) in SYSTEM_TESTS.iter().enumerate() {
        assert!(SYSTEM_TESTS[i + 1..].iter().all(|b| a.name != b.name));
    }
}

#[test]
fn passing_boot_passes() {
    let test = test_named("boot-multiboot1");
    assert_eq!(
        check(test, &Outcome::Verdict(Verdict::Pass), MB1_PASS_LOG),
        Ok(())
    );
}

#[test]
fn a_flooded_log_fails_its_line_limit() {
    let test = test_named("vm-log-flood");
    let mut log: String = test.markers.iter().map(|m| format!("{m}\n")).collect();
    let fine = check(test, &Outcome::Verdict(Verdict::Pass), &log);
    assert_eq!(fine, Ok(()));
    for build in 0..100 {
        log.push_str(&format!("partition flood VP 0: guest OS ID 0x{build:x}\n"));
    }
    let reason = check(test, &Outcome::Verdict(Verdict::Pass), &log).unwrap_err();
    assert!(reason.contains("more than the 40 allowed"), "{reason}");
}

#[test]
fn pass_verdict_without_markers_fails() {
    let test = test_named("boot-multiboot1");
    let log = MB1_PASS_LOG.replace("smp: 4 of 4", "smp: 3 of 4");
    let reason = check(test, &Outcome::Verdict(Verdict::Pass), &log).unwrap_err();
    assert_eq!(reason, "missing markers: \"smp: 4 of 4 cpus online\"");
}

#[test]
fn markers_without_the_verdict_fail() {
    let test = test_named("boot-multiboot1");
    let reason = check(test, &Outcome::NoVerdict, MB1_PASS_LOG).unwrap_err();
    assert!(
        reason.starts_with("QEMU ended without a verdict"),
        "{reason}"
    );
    let reason = check(test, &Outcome::Verdict(Verdict::Fail), MB1_PASS_LOG).unwrap_err();
    assert_eq!(reason, "expected verdict pass, got verdict fail");
}

#[test]
fn linux_early_boot_passes_only_without_a_kernel_complaint() {
    let test = test_named("linux-early-boot");
    let mut log: String = test
        .markers
        .iter()
        .map(|m| format!("[devices cpu0] INFO linux: [ 1.0{m}\n"))
        .collect();
    let pass = Outcome::Verdict(Verdict::Pass);
    assert_eq!(check(test, &pass, &log), Ok(()));
    // /init's report quotes the words; only Linux's own line counts.
    log.push_str("[devices cpu0] INFO linux: tessera-linux: ok - dmesg has no 'Call Trace'\n");
    assert_eq!(check(test, &pass, &log), Ok(()));
    log.push_str("[devices cpu0] INFO linux: [    3.7] Call Trace:\n");
    let reason = check(test, &pass, &log).unwrap_err();
    assert_eq!(
        reason,
        "unexpected in the log: \"] Call Trace:\" (\"[devices cpu0] INFO linux: [    3.7] Call Trace:\")"
    );
    // The run must end by the power-off's verdict, not by the watchdog.
    let stuck = Outcome::Stuck(Stuck::QuietWall(std::time::Duration::from_secs(300)));
    assert!(check(test, &stuck, &log).is_err());
    assert!(check(test, &Outcome::Verdict(Verdict::Fail), &log).is_err());
}

#[test]
fn no_svm_needs_both_fail_verdict_and_message() {
    let test = test_named("no-svm");
    let log = "Tessera 0.1.0 booting via multiboot1\nfatal: cpu 0: SVM (AMD-V) is not available: \
               CPUID 0x80000001 ECX bit 2 is clear\n";
    assert_eq!(check(test, &Outcome::Verdict(Verdict::Fail), log), Ok(()));
    assert!(check(test, &Outcome::Verdict(Verdict::Pass), log).is_err());
    assert!(
        check(
            test,
            &Outcome::Verdict(Verdict::Fail),
            "fatal: something else\n"
        )
        .is_err()
    );
}

#[test]
fn timeout_and_missing_markers_are_both_reported() {
    let test = test_named("no-nested-paging");
    let reason = check(
        test,
        &Outcome::Stuck(Stuck::QuietWall(std::time::Duration::from_secs(300))),
        "",
    )
    .unwrap_err();
    assert_eq!(
        reason,
        "no verdict: no serial output for 300 s (stuck); missing markers: \"fatal: cpu 0: nested paging is not available\""
    );
}

#[test]
fn capability_tests_run_under_tcg_with_their_cpu_model() {
    assert_eq!(test_named("no-svm").cpu, Some("qemu64,-svm"));
    assert_eq!(test_named("no-nested-paging").cpu, Some("qemu64,+svm,-npt"));
    assert_eq!(test_named("boot-grub-multiboot2").boot, BootMethod::Grub);
}

/// The kernel-fault tests: the kernel alone, with an injected fault.
fn is_injection(test: &SystemTest) -> bool {
    test.deployment.is_none() && test.name.starts_with("fault-")
}

#[test]
fn fault_tests_inject_through_the_kernel_command_line() {
    for test in SYSTEM_TESTS.iter().filter(|t| is_injection(t)) {
        assert_eq!(test.boot, BootMethod::Kernel, "{}", test.name);
        assert!(
            test.extra_cmdline.starts_with("inject-fault="),
            "{}",
            test.name
        );
        assert_eq!(test.expect, Expect::Fail, "{}", test.name);
        assert!(test.markers.contains(&VERDICT_FAIL), "{}", test.name);
    }
    for test in SYSTEM_TESTS.iter().filter(|t| !is_injection(t)) {
        // A test that judges exit statistics asks the kernel for them.
        let expected = match test.exit_stats {
            Some(_) => crate::exit_stats::KERNEL_OPTION,
            None => "",
        };
        assert_eq!(test.extra_cmdline, expected, "{}", test.name);
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_kernel_alone_boots_without_a_deployment() {
    for name in [
        "boot-multiboot1",
        "boot-grub-multiboot2",
        "no-svm",
        "no-nested-paging",
        "fault-panic",
    ] {
        assert_eq!(test_named(name).deployment, None, "{name}");
    }
}

#[test]
fn every_deployment_of_a_test_is_valid_and_fits_its_machine() {
    let known = components::all(&root()).unwrap();
    let known_guests = guests::all(&root()).unwrap();
    for test in SYSTEM_TESTS {
        let Some(name) = test.deployment.filter(|n| outside::find(n).is_none()) else {
            continue;
        };
        let manifest = deployment::load_named(&root(), name).unwrap();
        components::check_images(name, &manifest.images, &known).unwrap();
        assert!(
            u32::from(manifest.cpus) <= test.smp,
            "{}: the deployment expects {} cpus, the test boots {}",
            test.name,
            manifest.cpus,
            test.smp
        );
        // The component that holds the verdict is the one that gives it;
        // a deployment without one runs interactively, so its test types.
        match manifest.components.iter().find(|c| c.verdict) {
            // A test may end the run itself before the verdict (Ctrl-A X).
            Some(_) if test.expect == Expect::Quit => {}
            Some(holder) => {
                let from = format!("deployment verdict from {}", holder.name);
                assert!(
                    test.markers.contains(&from.as_str()),
                    "{}: {from}",
                    test.name
                );
                assert!(test.markers.contains(&VERDICT_PASS), "{}", test.name);
            }
            None => assert!(
                !test.input.is_empty(),
                "{}: {name} has no verdict holder, so the test must type",
                test.name
            ),
        }
        let plan = format!(
            "boot plan {name:?}: {} components",
            manifest.components.len()
        );
        assert!(
            test.markers.contains(&plan.as_str()),
            "{}: {plan}",
            test.name
        );
        if manifest.partitions.is_empty() {
            continue;
        }
        // Partition tests: their guests exist, init's line counts them,
        // and the log names each.
        guests::resolve(name, &manifest.guest_crates(), &known_guests).unwrap();
        let data = format!(
            "] INFO init: partition-manager: manager data for {} partitions",
            manifest.partitions.len()
        );
        assert!(
            test.markers.contains(&data.as_str()),
            "{}: {data}",
            test.name
        );
        for partition in &manifest.partitions {
            if test.name == "vm-bench" {
                continue;
            }
            let named = format!("partition {}: ", partition.name);
            assert!(
                test.markers.contains(&named.as_str()),
                "{}: {named}",
                test.name
            );
        }
    }
}

/// vm-faults as the manager and the kernel are expected to log it.
const VM_FAULTS_LOG: &str = "\
[kernel cpu0 INFO] boot plan \"vm-faults\": 2 components, built by init
[init cpu0] INFO init: partition-manager: manager data for 3 partitions (2700000 bytes) in slot 63, 6 route capabilities
[partition-manager cpu0] INFO partition memory-probe: VP 0 started at rip 0x100000
[kernel cpu1 INFO] partition memory-probe: unmapped GPA 0xc0000000 (read) at rip 0x100123
[partition-manager cpu0] INFO partition memory-probe: memory fault (expected memory-fault): ok
[kernel cpu2 INFO] partition triple-fault: triple fault at rip 0x100456
[partition-manager cpu0] INFO partition triple-fault: triple fault (expected triple-fault): ok
[partition-manager cpu0] INFO partition msr-writer: passed (expected pass): ok
[partition-manager cpu0] INFO partition-manager: 3 of 3 partitions ended as expected: pass
[kernel cpu0 INFO] deployment verdict from partition-manager
[kernel cpu0 INFO] tessera: verdict pass
";

#[test]
fn vm_faults_needs_both_faults_in_the_log() {
    let test = test_named("vm-faults");
    let pass = Outcome::Verdict(Verdict::Pass);
    assert_eq!(check(test, &pass, VM_FAULTS_LOG), Ok(()));
    let without: String = VM_FAULTS_LOG
        .lines()
        .filter(|l| !l.contains("triple fault"))
        .map(|l| format!("{l}\n"))
        .collect();
    let reason = check(test, &pass, &without).unwrap_err();
    assert!(reason.contains("\"triple fault\""), "{reason}");
    assert!(check(test, &Outcome::Verdict(Verdict::Fail), VM_FAULTS_LOG).is_err());
}

#[test]
fn the_deployments_are_prepared_once_each() {
    let keys = deployments_of(&select(None));
    assert_eq!(keys[0], None);
    for key in [
        Some("echo"),
        Some("vm-exits"),
        Some("vm-faults"),
        Some("cap-errors"),
        Some("fault-containment"),
        Some("shared-memory"),
        Some("vm-errors"),
        Some("default"),
    ] {
        assert_eq!(keys.iter().filter(|k| **k == key).count(), 1, "{key:?}");
    }
    assert_eq!(test_named("components-echo-grub").boot, BootMethod::Grub);
}

/// The demo as the kernel logs it (components' lines are tagged by the
/// kernel with their name and CPU).
const ECHO_LOG: &str = "\
[kernel cpu0 INFO] boot plan \"echo\": 2 components, built by init
[init cpu0] INFO init: building \"echo\": 2 components, 1 endpoints
[kernel cpu0 INFO] component echo-server: started (domain 1, priority 10, cpu 0)
[kernel cpu0 INFO] component echo-client: started (domain 2, priority 5, cpu 0)
[init cpu0] INFO init: 2 components started; init holds nothing over them and exits
[kernel cpu0 INFO] component init exited with code 0
[echo-client cpu0] INFO echo-client: 100 round trips ok
[echo-client cpu0] INFO echo-client: a 512-word message through the message buffer ok
[echo-server cpu0] INFO echo-server: logging through the console capability the client passed
[echo-client cpu0] INFO echo-client: echo-server logged through the console capability it was passed
[kernel cpu0 INFO] deployment verdict from echo-client
[kernel cpu0 INFO] tessera: verdict pass
";

#[test]
fn the_echo_demo_passes_on_its_log() {
    let test = test_named("components-echo");
    assert_eq!(
        check(test, &Outcome::Verdict(Verdict::Pass), ECHO_LOG),
        Ok(())
    );
    // Without the line echo-server logged through the passed console.
    let log: String = ECHO_LOG
        .lines()
        .filter(|l| !l.starts_with("[echo-server"))
        .map(|l| format!("{l}\n"))
        .collect();
    let reason = check(test, &Outcome::Verdict(Verdict::Pass), &log).unwrap_err();
    assert!(reason.contains("[echo-server cpu"), "{reason}");
}

#[test]
fn a_failed_check_in_cap_probe_is_missed() {
    let test = test_named("cap-errors");
    let log = "[cap-probe cpu1] INFO not ok 3 - a call on selector 64 fails with InvalidSelector: got EmptySlot\n";
    let reason = check(test, &Outcome::Verdict(Verdict::Fail), log).unwrap_err();
    assert!(
        reason.contains("\"] INFO ok 3 - a call on selector 64 fails with InvalidSelector\""),
        "{reason}"
    );
}

#[test]
fn a_filter_selects_by_name_and_the_list_says_what_each_boots() {
    let selected = select(Some("vm-hv"));
    assert!(selected.len() >= 5);
    assert!(selected.iter().all(|t| t.name.contains("vm-hv")));
    assert_eq!(select(None).len(), SYSTEM_TESTS.len());
    assert!(select(Some("no-such-test")).is_empty());
    let listed = list(&select(Some("echo")));
    assert!(
        listed.contains("components-echo: deployment echo\n"),
        "{listed}"
    );
    assert!(listed.contains("components-echo-grub: deployment echo, through GRUB\n"));
    assert!(list(&select(Some("boot-multiboot1"))).contains("the kernel alone"));
}

#[test]
fn the_deployment_outside_the_tree_is_valid_with_a_guest_beside_it() {
    for outside_tree in outside::OUTSIDE_TREE {
        assert!(
            SYSTEM_TESTS
                .iter()
                .any(|t| t.deployment == Some(outside_tree.name)),
            "{} has a test",
            outside_tree.name
        );
        assert!(
            outside_tree
                .manifest
                .contains(&format!("image = \"./{}\"", outside_tree.guest_file))
        );
        // With the crate in place of the file (the file is built at test
        // time), the manifest is valid.
        let text = outside_tree.manifest.replace(
            &format!("./{}", outside_tree.guest_file),
            outside_tree.guest_crate,
        );
        let path = std::env::temp_dir().join(format!("{}.toml", outside_tree.name));
        let manifest = tessera_manifest::load_str(&text, &path)
            .unwrap_or_else(|e| panic!("{}", tessera_manifest::render(&e)));
        assert_eq!(manifest.name, outside_tree.name);
        assert!(
            manifest
                .partitions
                .iter()
                .any(|p| p.memory == 512 << 20 && p.vp_cpus.len() == 2),
            "a 512 MiB guest with 2 VPs"
        );
    }
}

#[test]
fn a_test_that_quits_expects_qemu_to_end_without_a_verdict() {
    let test = SystemTest {
        name: "quit",
        expect: Expect::Quit,
        ..SystemTest::DEFAULT
    };
    assert_eq!(check(&test, &Outcome::NoVerdict, ""), Ok(()));
    assert_eq!(
        check(&test, &Outcome::Verdict(Verdict::Pass), "").unwrap_err(),
        "expected QEMU to end by Ctrl-A X, got verdict pass"
    );
    let stuck = Outcome::Stuck(Stuck::QuietWall(std::time::Duration::from_secs(300)));
    assert!(
        check(&test, &stuck, "")
            .unwrap_err()
            .starts_with("expected QEMU to end by Ctrl-A X, got: no verdict")
    );
}

#[test]
fn repeat_runs_every_selected_test_once_per_round() {
    let selected = select(Some("vm-hv-re"));
    let names = |tests: &[&SystemTest]| tests.iter().map(|t| t.name).collect::<Vec<_>>();
    assert_eq!(names(&selected), ["vm-hv-reset"]);
    assert_eq!(names(&repeated(&selected, 3)), ["vm-hv-reset"; 3]);
    let pair = [test_named("vm-exits"), test_named("vm-faults")];
    assert_eq!(
        names(&repeated(&pair, 2)),
        ["vm-exits", "vm-faults", "vm-exits", "vm-faults"]
    );
    assert_eq!(repeated(&pair, 1).len(), 2);
}

#[test]
fn every_system_test_runs_nested() {
    // Issue 12: the nested run covers the whole TCG suite. A test that must
    // stay out says why in `not_nested`, and this list names it.
    let kept_out: Vec<_> = SYSTEM_TESTS
        .iter()
        .filter(|t| t.not_nested.is_some())
        .map(|t| t.name)
        .collect();
    // vm-apic-icount and vm-bench-smp-icount: -icount is TCG's; the
    // nested run still runs vm-apic, and cargo xtask bench vm-bench-smp.
    assert_eq!(
        kept_out,
        [
            "vm-apic",
            "vm-apic-icount",
            "vm-bench-smp-icount",
            "vm-bench-smp-pinned-icount",
            "vm-synic",
            "vm-platform-posted",
            "linux-early-boot"
        ]
    );
}
