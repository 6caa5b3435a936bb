use super::*;
use crate::GuestGprs;
use crate::route_ranges::{FAST_ROUTES, LockFreeRoutes, RouteEntry, RouteRanges, RouteTable};
use core::ops::RangeInclusive;
use proptest::prelude::*;
use std::vec::Vec;
use tessera_abi::vm::intercept;
use tessera_svm::Vmcb;

/// A route of the test table: its kind, range and a number to tell it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TestRoute {
    kind: u64,
    first: u32,
    last: u32,
    id: usize,
}

impl RouteEntry for TestRoute {
    fn kind(&self) -> u64 {
        self.kind
    }
    fn range(&self) -> RangeInclusive<u64> {
        u64::from(self.first)..=u64::from(self.last)
    }
}

/// The routes as both views hold them, added as `PartitionInstallIntercept`
/// adds them (the table and the ranges in step).
struct Routes {
    table: Vec<TestRoute>,
    cpuid: RouteRanges,
    ports: RouteRanges,
}

impl Routes {
    fn new(routes: &[(u64, u32, u32)]) -> Self {
        let mut made = Self {
            table: Vec::new(),
            cpuid: RouteRanges::default(),
            ports: RouteRanges::default(),
        };
        for (id, &(kind, first, last)) in routes.iter().enumerate() {
            match kind {
                intercept::CPUID => made.cpuid.add(first, last),
                _ => made.ports.add(first, last),
            }
            made.table.push(TestRoute {
                kind,
                first,
                last,
                id,
            });
        }
        made
    }

    fn locked(&self) -> RouteTable<'_, TestRoute> {
        RouteTable(&self.table)
    }

    fn lock_free(&self) -> LockFreeRoutes<'_> {
        LockFreeRoutes {
            cpuid: &self.cpuid,
            ports: &self.ports,
        }
    }
}

fn host_cpuid(leaf: u32, subleaf: u32) -> [u32; 4] {
    [leaf ^ 0x55, subleaf, 7, 8]
}

/// An exit as the VMCB and the registers hold it.
#[derive(Clone, Debug)]
struct TestExit {
    code: ExitCode,
    vmcb: Vmcb,
    gprs: GuestGprs,
}

impl TestExit {
    fn state(&self) -> ExitState<'_> {
        ExitState {
            code: self.code,
            vmcb: &self.vmcb,
            gprs: &self.gprs,
        }
    }

    fn with_code(mut self, code: ExitCode) -> Self {
        self.code = code;
        self
    }
}

fn cpuid(leaf: u32, subleaf: u32) -> TestExit {
    let mut vmcb = Vmcb::default();
    vmcb.control.exit_code = ExitCode::CPUID;
    vmcb.save.rip = 0x1000;
    vmcb.save.rax = 0xFFFF_FFFF_0000_0000 | u64::from(leaf);
    let gprs = GuestGprs {
        rcx: u64::from(subleaf),
        ..GuestGprs::default()
    };
    TestExit {
        code: ExitCode::CPUID,
        vmcb,
        gprs,
    }
}

/// A port access: `size` 1, 2 or 4; `next_rip` in EXITINFO2.
fn port(port: u16, size: u8, is_in: bool, rax: u64) -> TestExit {
    let info = IoioExitInfo::new()
        .with_is_in(is_in)
        .with_size_bits(size)
        .with_address_size_bits(0b010)
        .with_port(port);
    let mut vmcb = Vmcb::default();
    vmcb.control.exit_code = ExitCode::IOIO;
    vmcb.control.exit_info1 = info.into_bits();
    vmcb.control.exit_info2 = 0x2002;
    vmcb.save.rip = 0x2000;
    vmcb.save.rax = rax;
    TestExit {
        code: ExitCode::IOIO,
        vmcb,
        gprs: GuestGprs::default(),
    }
}

#[test]
fn a_cpuid_no_route_takes_is_answered_with_the_kernels_leaves() {
    let routes = Routes::new(&[(intercept::CPUID, 0x4C00_0000, 0x4C00_00FF)]);
    let decision = decide(&cpuid(1, 2).state(), &routes.locked(), host_cpuid);
    assert_eq!(
        decision,
        Decision::Answer(Answer::Cpuid([1 ^ 0x55, 2, 7, 8])),
        "the leaf is EAX's low half"
    );
}

#[test]
fn a_routed_cpuid_goes_to_its_route_with_the_default_answer() {
    let routes = Routes::new(&[
        (intercept::IO_PORT, 0x4C00_0000, 0x4C00_0000),
        (intercept::CPUID, 0x4C00_0000, 0x4C00_00FF),
    ]);
    let decision = decide(&cpuid(0x4C00_0001, 3).state(), &routes.locked(), host_cpuid);
    assert_eq!(
        decision,
        Decision::Forward {
            route: &routes.table[1],
            exit: Exit::Cpuid {
                leaf: 0x4C00_0001,
                subleaf: 3,
                default: [0x4C00_0001 ^ 0x55, 3, 7, 8],
            },
        }
    );
    // The lock-free view knows a route takes it, not which: it leaves
    // the exit to the locked path, without asking for the default answer.
    let fast = decide(
        &cpuid(0x4C00_0001, 3).state(),
        &routes.lock_free(),
        |_, _| panic!("computed for a message the lock-free path cannot send"),
    );
    assert_eq!(fast, Decision::Defer);
}

#[test]
fn ports_without_a_device_are_the_empty_bus() {
    let routes = Routes::new(&[]);
    let view = routes.locked();
    let answer = |exit: TestExit| decide(&exit.state(), &view, host_cpuid);
    let rax: u64 = 0x1234_5678_9ABC_DEF0;
    for (size, expected) in [
        (1, rax | 0xFF),
        (2, rax | 0xFFFF),
        // A 32-bit IN zero-extends, as a 32-bit move does.
        (4, 0xFFFF_FFFF),
    ] {
        assert_eq!(
            answer(port(0x80, size, true, rax)),
            Decision::Answer(Answer::Port {
                rax: expected,
                next_rip: 0x2002
            }),
            "IN of {size} bytes"
        );
        assert_eq!(
            answer(port(0x80, size, false, rax)),
            Decision::Answer(Answer::Port {
                rax,
                next_rip: 0x2002
            }),
            "OUT of {size} bytes changes nothing"
        );
    }
}

#[test]
fn a_routed_port_goes_to_its_route_with_the_value_written() {
    let routes = Routes::new(&[(intercept::IO_PORT, 0x510, 0x51F)]);
    let decision = decide(
        &port(0x514, 2, false, 0xAAAA_BBBB_CCCC_DDDD).state(),
        &routes.locked(),
        host_cpuid,
    );
    assert_eq!(
        decision,
        Decision::Forward {
            route: &routes.table[0],
            exit: Exit::IoPort {
                port: 0x514,
                size: 2,
                write: true,
                value: 0xDDDD
            },
        }
    );
    let read = decide(
        &port(0x51F, 4, true, u64::MAX).state(),
        &routes.locked(),
        host_cpuid,
    );
    assert!(matches!(
        read,
        Decision::Forward {
            exit: Exit::IoPort {
                size: 4,
                write: false,
                value: 0,
                ..
            },
            ..
        }
    ));
}

#[test]
fn string_port_io_and_impossible_sizes_stop_the_vp() {
    let routes = Routes::new(&[(intercept::IO_PORT, 0, 0xFFFF)]);
    let unsupported = Decision::Stop(Exit::Unsupported {
        exit_code: ExitCode::IOIO.0,
        rip: 0x2000,
    });
    let mut string = port(0x3F8, 1, false, 0);
    string.vmcb.control.exit_info1 = IoioExitInfo::from_bits(string.vmcb.control.exit_info1)
        .with_string(true)
        .into_bits();
    assert_eq!(
        decide(&string.state(), &routes.locked(), host_cpuid),
        unsupported
    );
    assert_eq!(
        decide(&string.state(), &routes.lock_free(), host_cpuid),
        unsupported.without_route()
    );
    // Two size bits at once: no access a CPU reports.
    let impossible = port(0x3F8, 0b011, false, 0);
    assert_eq!(
        decide(&impossible.state(), &routes.locked(), host_cpuid),
        unsupported
    );
}

#[test]
fn cache_flushes_are_skipped_and_other_exits_are_left_to_their_handlers() {
    let routes = Routes::new(&[]);
    for code in [ExitCode::INVD, ExitCode::WBINVD] {
        let state = cpuid(0, 0).with_code(code);
        assert_eq!(
            decide(&state.state(), &routes.locked(), host_cpuid),
            Decision::Answer(Answer::Skip)
        );
    }
    for code in [
        ExitCode::MSR,
        ExitCode::HLT,
        ExitCode::NPF,
        ExitCode::VMMCALL,
    ] {
        let state = cpuid(0, 0).with_code(code);
        assert_eq!(
            decide(&state.state(), &routes.locked(), host_cpuid),
            Decision::Defer
        );
    }
}

#[test]
fn past_its_capacity_the_lock_free_view_defers() {
    let many: Vec<_> = (0..=FAST_ROUTES as u32)
        .map(|i| (intercept::IO_PORT, i * 2, i * 2))
        .collect();
    let routes = Routes::new(&many);
    assert_eq!(
        decide(
            &port(0x1001, 1, true, 0).state(),
            &routes.lock_free(),
            host_cpuid
        ),
        Decision::Defer
    );
    // CPUID routes are counted apart: still decided.
    assert_eq!(
        decide(&cpuid(1, 0).state(), &routes.lock_free(), host_cpuid),
        decide(&cpuid(1, 0).state(), &routes.locked(), host_cpuid).without_route()
    );
}

fn route_strategy() -> impl Strategy<Value = (u64, u32, u32)> {
    (
        prop::sample::select(&[intercept::CPUID, intercept::IO_PORT][..]),
        0u32..0x200,
        0u32..0x40,
    )
        .prop_map(|(kind, first, width)| (kind, first, first + width))
}

fn exit_strategy() -> impl Strategy<Value = TestExit> {
    prop_oneof![
        (0u32..0x300, any::<u32>()).prop_map(|(leaf, subleaf)| cpuid(leaf, subleaf)),
        (
            0u16..0x300,
            prop::sample::select(&[1u8, 2, 4][..]),
            any::<bool>(),
            any::<u64>()
        )
            .prop_map(|(p, size, is_in, rax)| port(p, size, is_in, rax)),
        // Any EXITINFO1 at all: string, REP, impossible sizes.
        (any::<u32>(), any::<u64>()).prop_map(|(info, rax)| {
            let mut exit = port(0, 1, true, rax);
            exit.vmcb.control.exit_info1 = u64::from(info);
            exit
        }),
        prop::sample::select(&[ExitCode::INVD, ExitCode::WBINVD, ExitCode::HLT][..])
            .prop_map(|code| cpuid(0, 0).with_code(code)),
    ]
}

proptest! {
    /// The lock-free and the locked path decide the same for every exit,
    /// unless the lock-free view cannot tell (more routes of the kind
    /// than it holds), when it defers to the locked one.
    #[test]
    fn both_views_decide_the_same(
        routes in prop::collection::vec(route_strategy(), 0..24),
        exits in prop::collection::vec(exit_strategy(), 1..16),
    ) {
        // Routes of one kind never overlap (PartitionInstallIntercept).
        let mut kept: Vec<(u64, u32, u32)> = Vec::new();
        for route in routes {
            if !kept.iter().any(|k| k.0 == route.0 && route.1 <= k.2 && k.1 <= route.2) {
                kept.push(route);
            }
        }
        let routes = Routes::new(&kept);
        let crowded = |kind| kept.iter().filter(|route| route.0 == kind).count() > FAST_ROUTES;
        for state in exits {
            let locked = decide(&state.state(), &routes.locked(), host_cpuid);
            let fast = decide(&state.state(), &routes.lock_free(), host_cpuid);
            let kind = match state.code {
                ExitCode::CPUID => intercept::CPUID,
                _ => intercept::IO_PORT,
            };
            let exit = (state.code, state.vmcb.control.exit_info1, state.vmcb.save.rax);
            match (fast, locked) {
                // Not an exit this decides; what a route takes, the locked
                // path forwards.
                (Decision::Defer, Decision::Defer | Decision::Forward { .. }) => {}
                (Decision::Defer, _) => prop_assert!(crowded(kind), "{:x?}", exit),
                (fast, locked) => prop_assert_eq!(fast, locked.without_route(), "{:x?}", exit),
            }
        }
    }
}

#[test]
fn answers_set_the_registers_and_rip_and_drop_the_interrupted_event() {
    use crate::clean_bits::TrackedVmcb;
    use std::boxed::Box;
    use tessera_svm::Vmcb;
    let fresh = || {
        let mut vmcb = TrackedVmcb::new(Box::new(Vmcb::default()), false);
        *vmcb.rax_mut() = 0xFFFF_FFFF_0000_0001;
        *vmcb.rip_mut() = 0x1000;
        *vmcb.event_inj_mut() = crate::reply::event_injection(0x30).unwrap();
        (vmcb, GuestGprs::default())
    };
    let (mut vmcb, mut gprs) = fresh();
    Answer::Cpuid([1, 2, 3, 4]).apply(&mut vmcb, &mut gprs, 0x1002);
    assert_eq!(
        (vmcb.save.rax, gprs.rbx, gprs.rcx, gprs.rdx),
        (1, 2, 3, 4),
        "zero-extended into the registers"
    );
    assert_eq!(vmcb.save.rip, 0x1002);
    assert!(!vmcb.control.event_inj.valid());
    let (mut vmcb, mut gprs) = fresh();
    let read = Answer::Port {
        rax: 0xFF,
        next_rip: 0x1001,
    };
    assert!(!read.measured());
    read.apply(&mut vmcb, &mut gprs, 0xDEAD);
    assert_eq!((vmcb.save.rax, vmcb.save.rip), (0xFF, 0x1001));
    let (mut vmcb, mut gprs) = fresh();
    Answer::Skip.apply(&mut vmcb, &mut gprs, 0x1002);
    assert_eq!((vmcb.save.rip, gprs), (0x1002, GuestGprs::default()));
}
