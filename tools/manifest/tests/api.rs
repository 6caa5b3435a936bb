//! The library interface xtask uses: the deployment model, modules, the
//! compiled plan, and how errors read.

use std::path::Path;

use tessera_boot_plan::{BootPlan, FIRST_FREE_SLOT, GrantKind, SLOT_CONSOLE, SLOT_VERDICT};
use tessera_manifest::{
    EndpointKind, ManifestError, ModuleKind, PLAN_MODULE_NAME, Rights, check, compile, load,
    load_str,
};

fn path(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

const HEAD: &str = "[deployment]\ncomponent-memory = \"1 MiB\"\ncpus = 2\n";

#[test]
fn ipc_demo() {
    let deployment = load(&path("tests/good/ipc-demo.toml")).unwrap();
    assert_eq!(deployment.name, "ipc-demo");
    assert_eq!(deployment.cpus, 4);
    assert_eq!(deployment.component_memory, 8 << 20);
    assert_eq!(deployment.kernel_args, None);
    assert_eq!(deployment.images, ["echo-server", "echo-client"]);

    let modules = deployment.modules();
    let names: Vec<&str> = modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, [PLAN_MODULE_NAME, "echo-server", "echo-client"]);
    assert_eq!(modules[0].kind, ModuleKind::BootPlan);
    assert_eq!(modules[1].kind, ModuleKind::ComponentImage);

    let echo = deployment.component("echo").unwrap();
    assert_eq!(echo.memory, 512 << 10);
    assert_eq!(echo.affinity, 0b10);
    assert_eq!(echo.provides[0].slot, FIRST_FREE_SLOT);
    assert_eq!(echo.provides[0].kind, EndpointKind::Ipc);
    let client = deployment.component("client").unwrap();
    assert_eq!(client.threads, 1);
    assert_eq!(client.affinity, 0b1111, "default: every CPU");
    assert_eq!(client.connects[0].rights, Rights::CALL.union(Rights::GRANT));
    assert_eq!(client.connects[0].badge, 1);

    let bytes = compile(&deployment);
    let plan = BootPlan::parse(&bytes).unwrap();
    assert_eq!(plan.name(), "ipc-demo");
    assert_eq!(plan.module_count(), 3);
    let client = plan.components().find(|c| c.name == "client").unwrap();
    let echo = plan.components().find(|c| c.name == "echo").unwrap();
    assert_eq!(plan.image(client.image).unwrap().module, 2);
    let grants: Vec<_> = plan.grants_of(client.index).collect();
    assert_eq!(grants.len(), 2);
    assert_eq!(grants[0].kind, GrantKind::Console);
    assert_eq!(grants[0].slot, SLOT_CONSOLE);
    assert_eq!(grants[1].kind, GrantKind::Call);
    assert_eq!(grants[1].slot, 4);
    assert_eq!(grants[1].badge, 1);
    let target = plan.endpoint(grants[1].target.unwrap()).unwrap();
    assert_eq!((target.owner, target.name), (echo.index, "echo"));
}

#[test]
fn the_verdict_capability_goes_to_slot_3() {
    let deployment = load(&path("../../boot/deployments/echo.toml")).unwrap();
    let client = deployment.component("echo-client").unwrap();
    assert!(client.verdict && client.console);
    let server = deployment.component("echo-server").unwrap();
    assert!(!server.verdict && !server.console);
    let bytes = compile(&deployment);
    let plan = BootPlan::parse(&bytes).unwrap();
    let verdicts: Vec<_> = plan
        .grants()
        .filter(|g| g.kind == GrantKind::Verdict)
        .collect();
    assert_eq!(verdicts.len(), 1);
    let verdict = verdicts[0];
    assert_eq!(plan.component(verdict.holder).unwrap().name, "echo-client");
    assert_eq!(verdict.slot, SLOT_VERDICT);
    assert_eq!(
        (verdict.target, verdict.rights, verdict.badge),
        (None, Rights::NONE, 0)
    );
}

#[test]
fn components_keep_manifest_order() {
    let source = format!(
        "{HEAD}[component.zeta]\nimage = \"z\"\nmemory = \"64 KiB\"\npriority = 1\n\
         [component.alpha]\nimage = \"a\"\nmemory = \"64 KiB\"\npriority = 1\n\
         [component.mid]\nimage = \"z\"\nmemory = \"64 KiB\"\npriority = 1\n"
    );
    let deployment = load_str(&source, Path::new("order.toml")).unwrap();
    let names: Vec<&str> = deployment
        .components
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["zeta", "alpha", "mid"]);
    assert_eq!(
        deployment.images,
        ["z", "a"],
        "each image once, in first-use order"
    );
    let plan = compile(&deployment);
    let plan = BootPlan::parse(&plan).unwrap();
    let mid = plan.component(2).unwrap();
    assert_eq!(plan.image(mid.image).unwrap().name, "z");
}

#[test]
fn name_defaults_to_the_file_name() {
    let source = format!("{HEAD}[component.a]\nimage = \"a\"\nmemory = \"64 KiB\"\npriority = 1\n");
    let deployment = load_str(&source, Path::new("boot/deployments/my-demo.toml")).unwrap();
    assert_eq!(deployment.name, "my-demo");
}

#[test]
fn kernel_args_and_notifications() {
    let deployment = load(&path("tests/good/full.toml")).unwrap();
    assert_eq!(deployment.kernel_args.as_deref(), Some("log=debug"));
    let log = deployment.component("log").unwrap();
    assert_eq!(log.provides[1].kind, EndpointKind::Notification);
    assert_eq!(log.provides[1].slot, 20);
    assert_eq!(log.affinity, u64::MAX);
    let echo = deployment.component("echo").unwrap();
    assert_eq!(echo.affinity, 1 | 1 << 63);
    assert_eq!(echo.connects[1].kind, GrantKind::Signal);
    assert_eq!(echo.connects[1].rights, Rights::SIGNAL);
}

#[test]
fn error_display() {
    let error = ManifestError {
        check: check::UNKNOWN_ENDPOINT,
        file: "boot/deployments/x.toml".into(),
        line: Some(12),
        entry: "component.client.connects[0].endpoint".into(),
        message: "component `echo` does not provide an endpoint `ping`".into(),
        help: "add it".into(),
    };
    assert_eq!(
        error.to_string(),
        "boot/deployments/x.toml:12: component.client.connects[0].endpoint: \
         component `echo` does not provide an endpoint `ping` [unknown-endpoint]\n  help: add it"
    );
    let whole_file = ManifestError {
        line: None,
        entry: String::new(),
        ..error
    };
    assert!(
        whole_file
            .to_string()
            .starts_with("boot/deployments/x.toml: component")
    );
}

#[test]
fn unreadable_file() {
    let errors = load(Path::new("/nonexistent/manifest.toml")).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].check, check::READ_FILE);
}

#[test]
fn errors_come_in_file_order() {
    let source = format!(
        "{HEAD}[component.a]\nimage = \"a\"\nmemory = \"64 KiB\"\npriority = 1\nthreads = 0\n\
         [component.b]\nimage = \"b\"\nmemory = \"1 GiB\"\npriority = 999\n"
    );
    let errors = load_str(&source, Path::new("many.toml")).unwrap_err();
    let checks: Vec<&str> = errors.iter().map(|e| e.check).collect();
    assert_eq!(
        checks,
        [
            check::MEMORY_OVER_BUDGET,
            check::BAD_THREADS,
            check::BAD_PRIORITY
        ]
    );
    let lines: Vec<usize> = errors.iter().map(|e| e.line.unwrap()).collect();
    assert_eq!(lines, [2, 8, 12]);
}

#[test]
fn every_check_is_documented_in_the_readme() {
    let readme = std::fs::read_to_string(path("README.md")).unwrap();
    for c in tessera_manifest::CHECKS {
        assert!(
            readme.contains(&format!("`{}`", c.name)),
            "README.md does not list the check `{}`",
            c.name
        );
    }
}

#[test]
fn partitions() {
    use tessera_boot_plan::manager::MANAGER_DATA_SLOT;
    use tessera_boot_plan::route::{intercept, range_parameter, state};
    use tessera_manifest::{Expectation, GuestFormat};

    let deployment = load(&path("tests/good/partitions.toml")).unwrap();
    assert_eq!(deployment.guest_images, ["hello", "multiboot"]);
    let modules = deployment.modules();
    let names: Vec<&str> = modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            PLAN_MODULE_NAME,
            "partition-manager",
            "devices",
            "probe-device",
            "logger",
            "hello",
            "multiboot",
            "module-1",
            "module-2",
        ]
    );
    assert_eq!(modules[5].kind, ModuleKind::GuestImage);
    assert_eq!(modules[5].source, None, "xtask builds the images");
    // The module files come last, passed as they are from the repository.
    let root = path("../..").canonicalize().unwrap();
    assert_eq!(modules[7].kind, ModuleKind::GuestModule);
    assert_eq!(
        modules[7].source.as_deref(),
        Some(root.join("test-guests/multiboot/module.txt").as_path())
    );
    assert_eq!(
        modules[8].source.as_deref(),
        Some(
            root.join("tools/manifest/tests/good/minimal.toml")
                .as_path()
        )
    );
    assert_eq!(deployment.module_files.len(), 2);
    assert_eq!(
        deployment
            .module_file("test-guests/multiboot/module.txt")
            .map(|f| f.name.as_str()),
        Some("module-1")
    );

    let demo = deployment.partition("demo").unwrap();
    assert_eq!(demo.badge, 1);
    assert_eq!(demo.vp_cpus, [1, 3]);
    assert_eq!(demo.format, GuestFormat::Elf64);
    assert_eq!(demo.memory, 16 << 20);
    // One slot per target endpoint, from 62 down, shared by its routes.
    let slots: Vec<(u64, u8)> = demo.routes.iter().map(|r| (r.kind, r.slot)).collect();
    assert_eq!(
        slots,
        [
            (intercept::LIFECYCLE, 62),
            (intercept::IO_PORT, 61),
            (intercept::IO_PORT, 62),
            (intercept::CPUID, 60),
            (intercept::MSR, 60),
            (intercept::HLT, 60),
            (intercept::MEMORY, 62),
            (intercept::MEMORY, 60),
            (intercept::EXCEPTION, 62),
            (intercept::HYPERCALL, 60),
            (intercept::HYPERCALL, 60),
        ]
    );
    // Memory routes: GPA bytes in the manifest, page numbers in the plan.
    assert_eq!(demo.routes[6].parameter, 0xfed00 | 0xfed00 << 32);
    assert_eq!(demo.routes[7].parameter, 0xfee00 | 0xfee01 << 32);
    assert_eq!(demo.routes[1].state, state::RAX | state::RDX);
    assert_eq!(
        demo.routes[1].parameter,
        range_parameter(intercept::IO_PORT, 0x3f8, 0x3ff).unwrap()
    );
    assert_eq!(demo.routes[8].parameter, 1 << 6 | 1 << 13);
    assert_eq!(demo.routes[8].state, state::RAX | state::RCX | 1 << 15);
    // Hypercall routes: call codes, in the MSR layout.
    assert_eq!(demo.routes[9].parameter, 0x8 | 0x8 << 32);
    assert_eq!(demo.routes[9].state, state::RCX | state::RDX | 1 << 8);
    assert_eq!(
        demo.routes[10].parameter,
        range_parameter(intercept::HYPERCALL, 2, 3).unwrap()
    );
    // Hv#1: the names as written (trimmed), the words they make.
    assert_eq!(
        demo.hv.as_deref(),
        Some(
            &[
                "hv-relaxed",
                "hv-time",
                "hv-frequencies",
                "hv-tsc-invariant=on",
                "hv-tsc-invariant=off",
                "hv-crash",
                "hv-crash=off",
                "hv-spinlocks=0x1fff"
            ]
            .map(String::from)[..]
        )
    );
    let config = tessera_hv1::Hv1Config::from_words(demo.hv1.as_ref().unwrap());
    assert!(config.recommendations.use_relaxed_timing());
    assert!(config.privileges.access_partition_reference_counter());
    // hv-time grants the reference TSC page; hv-frequencies the frequency
    // MSRs and the CPUID bit that announces them; hv-tsc-invariant=off
    // undoes the =on before it.
    assert!(config.privileges.access_partition_reference_tsc());
    assert!(config.privileges.access_frequency_regs());
    assert!(config.features_edx.timer_frequencies_available());
    assert!(!config.privileges.access_tsc_invariant_controls());
    assert!(
        !config.features_edx.guest_crash_msrs_available(),
        "a later =off wins"
    );
    assert_eq!(config.spinlock_retries, 0x1fff);

    let loader = deployment.partition("loader").unwrap();
    assert_eq!(loader.badge, 2);
    assert_eq!(loader.vp_cpus, [0, 1, 2]);
    assert_eq!(loader.cmdline, "multiboot-guest check=cmdline");
    assert_eq!(loader.expect, Expectation::TripleFault);
    let module_lines: Vec<(&str, &str)> = loader
        .modules
        .iter()
        .map(|m| (m.file.as_str(), m.cmdline.as_str()))
        .collect();
    assert_eq!(
        module_lines,
        [
            ("test-guests/multiboot/module.txt", "module-one arg"),
            ("tools/manifest/tests/good/minimal.toml", ""),
            ("test-guests/multiboot/module.txt", "module-one again"),
        ]
    );
    assert!(demo.modules.is_empty());
    // Default priority: the highest the manager and the targets allow.
    assert_eq!(loader.priority, 10);
    assert_eq!(
        (loader.routes[0].slot, loader.routes[1].slot),
        (59, 58),
        "slots of the manager's other partition continue downwards"
    );
    assert_eq!(
        (loader.hv.as_ref(), loader.hv1),
        (None, None),
        "no `hv`: no Hv#1"
    );
    let second = deployment.partition("second").unwrap();
    assert_eq!((second.badge, second.priority), (3, 8));
    assert_eq!(
        second.hv1,
        Some(tessera_hv1::Hv1Config::minimal().to_words()),
        "`hv = []`: the minimum"
    );
    assert_eq!(
        second.routes[0].slot, 62,
        "another manager counts its own slots"
    );
    assert_eq!(deployment.partitions_of("pm").count(), 2);

    let bytes = compile(&deployment);
    let plan = BootPlan::parse(&bytes).unwrap();
    assert_eq!(plan.partition_count(), 3);
    assert_eq!(plan.route_count(), 15);
    assert_eq!(plan.partition(0).unwrap().hv1, demo.hv1);
    assert_eq!(plan.partition(2).unwrap().hv1, second.hv1);
    use tessera_boot_plan::manager::ApicKind;
    assert_eq!(second.apic, ApicKind::X2apic);
    assert_eq!(plan.partition(2).unwrap().apic, ApicKind::X2apic);
    assert_eq!(demo.apic, ApicKind::None);
    assert_eq!(plan.partition(0).unwrap().apic, ApicKind::None);
    let p = plan.partition(1).unwrap();
    assert_eq!(p.name, "loader");
    assert_eq!(p.hv1, None);
    assert_eq!(plan.image(p.image).unwrap().name, "multiboot");
    assert_eq!(plan.image(p.image).unwrap().module, 6);
    // Its boot modules: module files 7 and 8, the first one twice.
    assert_eq!(plan.module_count(), 9);
    let loader_modules: Vec<(u16, &str)> = plan
        .guest_modules_of(p.index)
        .map(|m| (plan.image(m.image).unwrap().module, m.cmdline))
        .collect();
    assert_eq!(
        loader_modules,
        [(7, "module-one arg"), (8, ""), (7, "module-one again")]
    );
    assert_eq!(
        plan.image(plan.guest_module(0).unwrap().image)
            .unwrap()
            .kind,
        tessera_boot_plan::ImageKind::GuestModule
    );
    assert_eq!(plan.guest_modules_of(0).count(), 0);
    let pm = plan.components().find(|c| c.name == "pm").unwrap();
    assert_eq!(plan.component(p.manager).unwrap().name, "pm");
    assert!(plan.is_manager(pm.index));
    assert!(
        !plan
            .endpoints_of(pm.index)
            .any(|e| u32::from(e.slot) == MANAGER_DATA_SLOT)
    );
    let route = plan.routes_of(0).nth(3).unwrap();
    let target = plan.endpoint(route.target).unwrap();
    assert_eq!(plan.component(target.owner).unwrap().name, "probe");
}
