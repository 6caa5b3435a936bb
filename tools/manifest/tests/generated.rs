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

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

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
