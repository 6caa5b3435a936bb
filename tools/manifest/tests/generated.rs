//! Random manifests: the checks never panic, and whatever they accept
//! compiles into a plan the kernel's decoder accepts too (the checks are at
//! least as strict as `BootPlan::parse`).

use std::fmt::Write;
use std::path::Path;

use proptest::prelude::*;
use tessera_boot_plan::BootPlan;
use tessera_manifest::{check, compile, load_str};

#[derive(Debug, Clone)]
struct Provide {
    kind: Option<bool>,
    slot: Option<i64>,
}

#[derive(Debug, Clone)]
struct Connect {
    component: usize,
    endpoint: usize,
    slot: i64,
    rights: Option<Vec<&'static str>>,
    badge: Option<i64>,
}

#[derive(Debug, Clone)]
struct Comp {
    image: usize,
    memory_kib: u64,
    priority: i64,
    threads: Option<i64>,
    cpus: Option<Vec<i64>>,
    console: bool,
    verdict: bool,
    provides: Vec<Provide>,
    connects: Vec<Connect>,
}

fn provide() -> impl Strategy<Value = Provide> {
    (
        proptest::option::of(any::<bool>()),
        proptest::option::weighted(0.2, prop_oneof![9 => 4i64..12, 1 => 2i64..70]),
    )
        .prop_map(|(kind, slot)| Provide { kind, slot })
}

fn connect() -> impl Strategy<Value = Connect> {
    let right = prop_oneof![Just("call"), Just("grant"), Just("signal")];
    (
        prop_oneof![9 => 0usize..3, 1 => 0usize..5],
        prop_oneof![9 => 0usize..1, 1 => 0usize..3],
        prop_oneof![9 => 4i64..12, 1 => 2i64..70],
        proptest::option::weighted(0.2, proptest::collection::vec(right, 0..3)),
        proptest::option::weighted(0.3, prop_oneof![9 => 0i64..3, 1 => Just(-1)]),
    )
        .prop_map(|(component, endpoint, slot, rights, badge)| Connect {
            component,
            endpoint,
            slot,
            rights,
            badge,
        })
}

fn comp() -> impl Strategy<Value = Comp> {
    (
        0usize..3,
        prop_oneof![1 => Just(32u64), 10 => Just(64), 3 => Just(256), 1 => Just(1024)],
        prop_oneof![9 => 0i64..4, 1 => Just(256)],
        proptest::option::weighted(0.2, 0i64..3),
        proptest::option::weighted(
            0.2,
            proptest::collection::vec(prop_oneof![9 => 0i64..2, 1 => 0i64..5], 0..3),
        ),
        any::<bool>(),
        proptest::bool::weighted(0.2),
        proptest::collection::vec(provide(), 0..3),
        proptest::collection::vec(connect(), 0..3),
    )
        .prop_map(
            |(image, memory_kib, priority, threads, cpus, console, verdict, provides, connects)| {
                Comp {
                    image,
                    memory_kib,
                    priority,
                    threads,
                    cpus,
                    console,
                    verdict,
                    provides,
                    connects,
                }
            },
        )
}

fn render(budget_kib: u64, cpus: i64, comps: &[Comp]) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "[deployment]\ncomponent-memory = \"{budget_kib} KiB\"\ncpus = {cpus}\n"
    )
    .unwrap();
    for (i, c) in comps.iter().enumerate() {
        writeln!(out, "[component.c{i}]").unwrap();
        writeln!(out, "image = \"img{}\"", c.image).unwrap();
        writeln!(out, "memory = \"{} KiB\"", c.memory_kib).unwrap();
        writeln!(out, "priority = {}", c.priority).unwrap();
        if let Some(t) = c.threads {
            writeln!(out, "threads = {t}").unwrap();
        }
        if let Some(cpus) = &c.cpus {
            writeln!(out, "cpus = {cpus:?}").unwrap();
        }
        writeln!(out, "console = {}", c.console).unwrap();
        if c.verdict {
            writeln!(out, "verdict = true").unwrap();
        }
        let provides: Vec<String> = c
            .provides
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let mut t = format!("{{ name = \"e{k}\"");
                if let Some(n) = p.kind {
                    let kind = if n { "notification" } else { "endpoint" };
                    write!(t, ", kind = \"{kind}\"").unwrap();
                }
                if let Some(s) = p.slot {
                    write!(t, ", slot = {s}").unwrap();
                }
                t + " }"
            })
            .collect();
        writeln!(out, "provides = [{}]", provides.join(", ")).unwrap();
        let connects: Vec<String> = c
            .connects
            .iter()
            .map(|k| {
                let mut t = format!(
                    "{{ endpoint = \"c{}.e{}\", slot = {}",
                    k.component, k.endpoint, k.slot
                );
                if let Some(r) = &k.rights {
                    write!(t, ", rights = {r:?}").unwrap();
                }
                if let Some(b) = k.badge {
                    write!(t, ", badge = {b}").unwrap();
                }
                t + " }"
            })
            .collect();
        writeln!(out, "connects = [{}]\n", connects.join(", ")).unwrap();
    }
    out
}

#[derive(Debug, Clone)]
struct GenRoute {
    exit: &'static str,
    range: Option<&'static str>,
    component: usize,
    endpoint: usize,
    state: Option<Vec<&'static str>>,
}

#[derive(Debug, Clone)]
struct Part {
    manager: usize,
    image: usize,
    format: Option<&'static str>,
    cmdline: Option<&'static str>,
    memory_mib: u64,
    vps: Option<i64>,
    cpus: Option<Vec<i64>>,
    priority: Option<i64>,
    expect: Option<&'static str>,
    routes: Vec<GenRoute>,
    hv: Option<Vec<&'static str>>,
    modules: Option<Vec<(&'static str, Option<&'static str>)>>,
}

/// Module entries: files of the repository (relative to its root, which
/// is found above `generated.toml`), and some that are refused.
fn gen_module() -> impl Strategy<Value = (&'static str, Option<&'static str>)> {
    let file = prop_oneof![
        12 => prop::sample::select(&[
            "test-guests/multiboot/module.txt",
            "tools/manifest/tests/good/minimal.toml",
            "Cargo.toml",
        ][..]),
        1 => prop::sample::select(&[
            "no/such/file",
            "test-guests",
            "/etc/hostname",
            "../outside",
            "",
            "tools/manifest/tests/modules/empty.bin",
        ][..]),
    ];
    let cmdline = proptest::option::weighted(
        0.7,
        prop_oneof![12 => Just("module-one arg"), 1 => Just("tab\\there")],
    );
    (file, cmdline)
}

/// `hv` entries: mostly names Tessera offers, some it refuses.
fn hv_name() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        20 => prop::sample::select(&[
            "hv-relaxed", "hv-vpindex", "hv-runtime", "hv-time", "hv-reset", "hv-crash",
            "hv-tlbflush", "hv-xmm-input", "hv-spinlocks=0x1fff", "hv-crash=off",
            "hv-version-id-build=7", "hv-vendor-id=Tessera", "hv-enforce-cpuid",
        ][..]),
        3 => Just("hv-tlbflush-ext"),
        1 => prop::sample::select(&[
            "hv-synic", "hv-stimer", "hv-spinlocks=0x10", "hv-spinlocks", "hv-vpindex=off",
            "hv-frobnicate", "", "hv-relaxed=maybe",
        ][..]),
    ]
}

fn gen_route() -> impl Strategy<Value = GenRoute> {
    let kind = prop_oneof![
        3 => Just("io"),
        1 => Just("msr"),
        1 => Just("cpuid"),
        1 => Just("hlt"),
        1 => Just("memory"),
        1 => Just("hypercall"),
        1 => Just("exception"),
        1 => Just("lifecycle"),
    ];
    let ranges = |exit: &str| -> Vec<&'static str> {
        match exit {
            "io" => vec![
                "ports = \"0x3f8-0x3ff\"",
                "ports = \"0xf4\"",
                "ports = 1020",
                "ports = \"0x510-0x51f\"",
            ],
            "msr" => vec!["msrs = \"0x4c000000-0x4c00000f\""],
            "cpuid" => vec!["leaves = \"0x4c000000-0x4c0000ff\""],
            "memory" => vec![
                "gpas = \"0xfed00000-0xfed00fff\"",
                "gpas = \"0xfed00000-0xfed0ffff\"",
                "gpas = \"0xfee00000-0xfee00fff\"",
            ],
            "hypercall" => vec![
                "codes = \"0x0008\"",
                "codes = \"0x0002-0x0014\"",
                "codes = 8",
                "codes = \"0x0-0xffff\"",
            ],
            "exception" => vec!["vectors = [6, 13]", "vectors = [14]"],
            _ => vec![],
        }
    };
    let odd_range = prop_oneof![
        Just("ports = \"0x10000\""),
        Just("vectors = [2]"),
        Just("msrs = \"0x3ff-0x3f8\""),
        Just("gpas = \"0xfed00001-0xfed00fff\""),
        Just("gpas = \"0x0-0xfff\""),
        Just("gpas = \"0xfffffffff000-0xffffffffffff\""),
        Just("codes = \"0x10000\""),
        Just("codes = \"0x8-0x7\""),
    ];
    let state = proptest::option::weighted(
        0.2,
        proptest::collection::vec(
            prop_oneof![4 => Just("rax"), 4 => Just("r15"), 1 => Just("rip")],
            0..3,
        ),
    );
    (
        kind,
        any::<proptest::sample::Index>(),
        proptest::option::weighted(0.05, odd_range),
        proptest::bool::weighted(0.03),
        prop_oneof![9 => 0usize..2, 1 => 0usize..5],
        prop_oneof![9 => Just(0usize), 1 => 0usize..3],
        state,
    )
        .prop_map(
            move |(exit, pick, odd, bogus, component, endpoint, state)| {
                let choices = ranges(exit);
                let range = odd
                    .or_else(|| (!choices.is_empty()).then(|| choices[pick.index(choices.len())]));
                GenRoute {
                    exit: if bogus { "halt" } else { exit },
                    range,
                    component,
                    endpoint,
                    state,
                }
            },
        )
}

fn part() -> impl Strategy<Value = Part> {
    (
        (
            prop_oneof![9 => 0usize..2, 1 => 0usize..5],
            0usize..3,
            proptest::option::weighted(
                0.2,
                prop_oneof![3 => Just("elf64"), 3 => Just("multiboot"), 1 => Just("pe")],
            ),
            proptest::option::weighted(0.1, prop_oneof![Just("a b"), Just("tab\\t")]),
            prop_oneof![5 => Just(2u64), 5 => Just(16), 1 => Just(3), 1 => Just(0)],
            proptest::option::weighted(
                0.2,
                prop_oneof![
                    20 => proptest::collection::vec(gen_module(), 0..4),
                    1 => proptest::collection::vec(gen_module(), 9..10),
                ],
            ),
        ),
        (
            proptest::option::weighted(0.2, prop_oneof![9 => 1i64..4, 1 => Just(0)]),
            proptest::option::weighted(
                0.1,
                proptest::collection::vec(prop_oneof![9 => 0i64..2, 1 => 0i64..5], 0..4),
            ),
            proptest::option::weighted(0.2, prop_oneof![9 => 0i64..6, 1 => Just(300)]),
            proptest::option::weighted(
                0.2,
                prop_oneof![5 => Just("pass"), 5 => Just("triple-fault"), 1 => Just("crash")],
            ),
            proptest::collection::vec(gen_route(), 0..4),
            proptest::bool::weighted(0.9),
            proptest::option::weighted(0.5, proptest::collection::vec(hv_name(), 0..5)),
        ),
    )
        .prop_map(
            |(
                (manager, image, format, cmdline, memory_mib, modules),
                (vps, cpus, priority, expect, routes, lifecycle, hv),
            )| {
                let mut routes = routes;
                if lifecycle {
                    routes.insert(
                        0,
                        GenRoute {
                            exit: "lifecycle",
                            range: None,
                            component: manager,
                            endpoint: 0,
                            state: None,
                        },
                    );
                }
                Part {
                    manager,
                    image,
                    format,
                    cmdline,
                    memory_mib,
                    vps,
                    cpus,
                    priority,
                    expect,
                    routes,
                    hv,
                    modules,
                }
            },
        )
}

/// Components that break no rule of their own (random partitions then
/// meet valid managers and targets more often).
fn tame(comps: &mut [Comp], memory_mib: u64) {
    for c in comps.iter_mut() {
        c.memory_kib = memory_mib * 1024;
        c.priority = 5;
        c.threads = None;
        c.cpus = None;
        c.verdict = false;
        c.connects.clear();
        if c.provides.is_empty() {
            c.provides.push(Provide {
                kind: None,
                slot: None,
            });
        }
        for p in c.provides.iter_mut() {
            p.slot = None;
        }
    }
}

fn render_partitions(parts: &[Part]) -> String {
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        writeln!(out, "[partition.p{i}]").unwrap();
        writeln!(out, "manager = \"c{}\"", p.manager).unwrap();
        writeln!(out, "image = \"guest{}\"", p.image).unwrap();
        if let Some(f) = p.format {
            writeln!(out, "format = \"{f}\"").unwrap();
        }
        if let Some(c) = p.cmdline {
            writeln!(out, "cmdline = \"{c}\"").unwrap();
        }
        writeln!(out, "memory = \"{} MiB\"", p.memory_mib).unwrap();
        if let Some(v) = p.vps {
            writeln!(out, "vps = {v}").unwrap();
        }
        if let Some(c) = &p.cpus {
            writeln!(out, "cpus = {c:?}").unwrap();
        }
        if let Some(prio) = p.priority {
            writeln!(out, "priority = {prio}").unwrap();
        }
        if let Some(e) = p.expect {
            writeln!(out, "expect = \"{e}\"").unwrap();
        }
        if let Some(hv) = &p.hv {
            writeln!(out, "hv = {hv:?}").unwrap();
        }
        if let Some(modules) = &p.modules {
            let entries: Vec<String> = modules
                .iter()
                .map(|(file, cmdline)| match cmdline {
                    Some(c) => format!("{{ file = \"{file}\", cmdline = \"{c}\" }}"),
                    None => format!("{{ file = \"{file}\" }}"),
                })
                .collect();
            writeln!(out, "modules = [{}]", entries.join(", ")).unwrap();
        }
        let routes: Vec<String> = p
            .routes
            .iter()
            .map(|r| {
                let mut t = format!(
                    "{{ exit = \"{}\", to = \"c{}.e{}\"",
                    r.exit, r.component, r.endpoint
                );
                if let Some(range) = r.range {
                    write!(t, ", {range}").unwrap();
                }
                if let Some(state) = &r.state {
                    write!(t, ", state = {state:?}").unwrap();
                }
                t + " }"
            })
            .collect();
        writeln!(out, "routes = [{}]\n", routes.join(", ")).unwrap();
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn accepted_manifests_with_partitions_compile_to_valid_plans(
        cpus in prop_oneof![9 => 1i64..5, 1 => Just(0)],
        comps in proptest::collection::vec(comp(), 1..4),
        parts in proptest::collection::vec(part(), 1..4),
        manager_mib in prop_oneof![1 => Just(1u64), 3 => Just(20), 3 => Just(64)],
        tamed in proptest::bool::weighted(0.7),
    ) {
        // Managers need room for their partitions: give every component a
        // quota that may hold them, and the deployment the budget for it.
        let mut comps = comps;
        if tamed {
            tame(&mut comps, manager_mib);
        } else {
            for c in comps.iter_mut() {
                c.memory_kib = manager_mib * 1024;
            }
        }
        let source = render(256 * 1024, cpus, &comps) + &render_partitions(&parts);
        match load_str(&source, Path::new("generated.toml")) {
            Ok(deployment) => {
                let plan = compile(&deployment);
                prop_assert!(BootPlan::parse(&plan).is_ok(), "{}\n{:?}", source, BootPlan::parse(&plan).err());
                // The words are what the names say, and only with `hv`.
                for (p, part) in deployment.partitions.iter().zip(&parts) {
                    let expected = part.hv.as_ref().map(|names| {
                        tessera_hv1::Hv1Config::from_features(names.iter().copied())
                            .unwrap()
                            .to_words()
                    });
                    prop_assert_eq!(p.hv1, expected, "{}", source);
                    // The modules reach the plan in order, each file a
                    // guest module image.
                    let index = deployment.partitions.iter().position(|q| q.name == p.name).unwrap();
                    let parsed = BootPlan::parse(&plan).unwrap();
                    let in_plan: Vec<&str> = parsed.guest_modules_of(index as u16).map(|m| m.cmdline).collect();
                    let written: Vec<&str> = part.modules.iter().flatten().map(|(_, c)| c.unwrap_or("")).collect();
                    prop_assert_eq!(in_plan, written, "{}", source);
                }
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for error in &errors {
                    prop_assert_ne!(error.check, check::PLAN_REJECTED, "{}\n{}", source, error);
                    prop_assert!(error.check != check::TOML_SYNTAX, "{}\n{}", source, error);
                }
            }
        }
    }

    #[test]
    fn accepted_manifests_compile_to_valid_plans(
        budget_kib in prop_oneof![1 => Just(256u64), 4 => Just(4096)],
        cpus in prop_oneof![9 => 1i64..5, 1 => Just(0)],
        comps in prop_oneof![1 => proptest::collection::vec(comp(), 0..1), 9 => proptest::collection::vec(comp(), 1..5)],
    ) {
        let source = render(budget_kib, cpus, &comps);
        match load_str(&source, Path::new("generated.toml")) {
            Ok(deployment) => {
                let plan = compile(&deployment);
                prop_assert!(BootPlan::parse(&plan).is_ok(), "{}", source);
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for error in &errors {
                    prop_assert_ne!(error.check, check::PLAN_REJECTED, "{}\n{}", source, error);
                    prop_assert!(error.check != check::TOML_SYNTAX, "{}\n{}", source, error);
                }
            }
        }
    }
}

#[test]
fn the_generator_makes_valid_manifests_too() {
    // Guard against a generator that only ever produces refused manifests.
    let comps = vec![
        Comp {
            image: 0,
            memory_kib: 64,
            priority: 3,
            threads: None,
            cpus: None,
            console: true,
            verdict: false,
            provides: vec![Provide {
                kind: None,
                slot: None,
            }],
            connects: vec![],
        },
        Comp {
            image: 1,
            memory_kib: 64,
            priority: 1,
            threads: Some(2),
            cpus: Some(vec![0]),
            console: false,
            verdict: true,
            provides: vec![],
            connects: vec![Connect {
                component: 0,
                endpoint: 0,
                slot: 4,
                rights: None,
                badge: Some(1),
            }],
        },
    ];
    let source = render(256, 2, &comps);
    let deployment = load_str(&source, Path::new("generated.toml")).unwrap();
    assert!(BootPlan::parse(&compile(&deployment)).is_ok());
}

#[test]
fn the_generator_makes_valid_manifests_with_partitions_too() {
    let comp = Comp {
        image: 0,
        memory_kib: 20 * 1024,
        priority: 3,
        threads: None,
        cpus: None,
        console: true,
        verdict: false,
        provides: vec![
            Provide {
                kind: None,
                slot: None,
            },
            Provide {
                kind: None,
                slot: None,
            },
        ],
        connects: vec![],
    };
    let route = |exit, range, component| GenRoute {
        exit,
        range,
        component,
        endpoint: 0,
        state: None,
    };
    let parts = vec![Part {
        manager: 0,
        image: 0,
        format: Some("multiboot"),
        cmdline: Some("a b"),
        memory_mib: 16,
        vps: Some(2),
        cpus: Some(vec![1, 0]),
        priority: None,
        expect: Some("triple-fault"),
        routes: vec![
            route("lifecycle", None, 0),
            route("io", Some("ports = \"0xf4\""), 1),
            route("exception", Some("vectors = [6, 13]"), 0),
        ],
        hv: Some(vec!["hv-relaxed", "hv-tlbflush-ext", "hv-tlbflush"]),
        modules: Some(vec![
            ("test-guests/multiboot/module.txt", Some("module-one arg")),
            ("Cargo.toml", None),
        ]),
    }];
    let source = render(256 * 1024, 2, &[comp.clone(), comp]) + &render_partitions(&parts);
    let deployment = load_str(&source, Path::new("generated.toml"))
        .unwrap_or_else(|e| panic!("{source}\n{}", tessera_manifest::render(&e)));
    let plan = compile(&deployment);
    let plan = BootPlan::parse(&plan).unwrap();
    assert_eq!(plan.partition(0).unwrap().hv1, deployment.partitions[0].hv1);
    assert!(deployment.partitions[0].hv1.is_some());
    assert_eq!(plan.guest_modules_of(0).count(), 2);
    assert_eq!(deployment.module_files.len(), 2);
}

/// Guard against a partition generator that only ever produces refused
/// manifests: some random ones must pass.
#[test]
fn some_random_manifests_with_partitions_are_accepted() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (
        proptest::collection::vec(comp(), 1..4),
        proptest::collection::vec(part(), 1..3),
    );
    let mut accepted = 0;
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..3000 {
        let (mut comps, parts) = strategy.new_tree(&mut runner).unwrap().current();
        tame(&mut comps, 64);
        let source = render(256 * 1024, 2, &comps) + &render_partitions(&parts);
        match load_str(&source, Path::new("generated.toml")) {
            Ok(deployment) => {
                assert!(!deployment.partitions.is_empty());
                accepted += 1;
            }
            Err(e) => {
                for e in e {
                    *counts.entry(e.check).or_insert(0) += 1;
                }
            }
        }
    }
    assert!(
        accepted >= 100,
        "only {accepted} of 3000 accepted: {counts:?}"
    );
}
