//! `dispatch` never panics, whatever the guest's input value, registers and
//! memory, and what it returns keeps the TLFS rep rules; the synthetic MSR
//! state machine never panics and keeps its invariants.

use core::num::NonZeroU64;

use proptest::prelude::*;
use tessera_hv1::cpuid::Hv1Config;
use tessera_hv1::dispatch::{
    Action, DispatchPolicy, FlushProcessors, FlushScope, MAX_FLUSH_RANGES, Outcome, dispatch,
};
use tessera_hv1::hypercall::{
    Caller, CpuMode, Fault, GpaError, GuestMemory, HypercallRegisters, HypercallSet,
};
use tessera_hv1::synthetic_msr::{
    Effect, MsrContext, MsrFault, MsrPolicy, PartitionMsrs, ReferenceCounter, VpMsrs, read, write,
};
use tlfs::cpuid::{HvFeatureIdentificationEdx, HvImplementationRecommendationsEax};
use tlfs::msr::*;
use tlfs::privilege::HvPartitionPrivilegeMask;
use tlfs::{HvStatus, HypercallCode, HypercallInputValue};

/// Guest memory: a 4 KiB pattern of QWORDs repeated over the whole space,
/// with every address at or above `limit` failing with `error`.
#[derive(Debug, Clone)]
struct PatternMemory {
    qwords: Vec<u64>,
    limit: u64,
    error: GpaError,
}

impl PatternMemory {
    fn byte(&self, gpa: u64) -> u8 {
        let q = self.qwords[(gpa / 8) as usize % self.qwords.len()];
        q.to_le_bytes()[(gpa % 8) as usize]
    }

    fn check(&self, gpa: u64, len: usize) -> Result<(), GpaError> {
        match gpa.checked_add(len as u64) {
            Some(end) if end <= self.limit => Ok(()),
            _ => Err(self.error),
        }
    }
}

impl GuestMemory for PatternMemory {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GpaError> {
        self.check(gpa, buf.len())?;
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self.byte(gpa + i as u64);
        }
        Ok(())
    }

    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), GpaError> {
        self.check(gpa, data.len())
    }
}

/// QWORDs that often make valid flush headers: small flags, formats 0/1,
/// sparse masks, CR3-like values, and anything.
fn qword() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 0_u64..16,
        2 => (0_u32..64).prop_map(|bit| 1_u64 << bit),
        1 => (0_u64..1 << 40).prop_map(|v| v << 12),
        2 => any::<u64>(),
    ]
}

fn memory() -> impl Strategy<Value = PatternMemory> {
    (
        prop::collection::vec(qword(), 1..512),
        prop_oneof![4 => Just(u64::MAX), 1 => any::<u64>(), 1 => 0_u64..0x10_0000],
        prop_oneof![Just(GpaError::Inaccessible), Just(GpaError::OutOfBounds)],
    )
        .prop_map(|(qwords, limit, error)| PatternMemory {
            qwords,
            limit,
            error,
        })
}

fn caller() -> impl Strategy<Value = Caller> {
    (
        prop_oneof![8 => Just(0_u8), 1 => 1_u8..4],
        prop_oneof![
            1 => Just(CpuMode::Real),
            1 => Just(CpuMode::Virtual8086),
            4 => Just(CpuMode::Protected32),
            8 => Just(CpuMode::Long64),
        ],
    )
        .prop_map(|(cpl, mode)| Caller { cpl, mode })
}

/// The codes, and one it does not implement.
const CODES: [HypercallCode; 9] = [
    HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE,
    HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST,
    HypercallCode::NOTIFY_LONG_SPIN_WAIT,
    HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX,
    HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX,
    HypercallCode::POST_MESSAGE,
    HypercallCode::SIGNAL_EVENT,
    HypercallCode::EXT_QUERY_CAPABILITIES,
    HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI,
];

/// Input values: anything; one of [`CODES`] with loose fields; or a
/// well-formed one (rep fields matching the class), so that the handlers
/// are reached often.
fn control() -> impl Strategy<Value = u64> {
    let loose = (
        proptest::sample::select(CODES.to_vec()),
        any::<bool>(),
        0_u16..70,
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(code, fast, varhdr, count, start)| {
            HypercallInputValue::new()
                .with_call_code(code)
                .with_fast(fast)
                .with_variable_header_size(varhdr)
                .with_rep_count(count & 0xFFF)
                .with_rep_start_index(start & 0xFFF)
                .into_bits()
        });
    let well_formed = (
        proptest::sample::select(CODES.to_vec()),
        prop_oneof![3 => Just(false), 1 => Just(true)],
        prop_oneof![3 => Just(0_u16), 2 => 1_u16..4],
        (1_u16..60).prop_flat_map(|count| (Just(count), 0..count)),
    )
        .prop_map(|(code, fast, varhdr, (count, start))| {
            let rep = code.class() == Some(tlfs::hypercall::HypercallClass::Rep);
            let ex = code == HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX
                || code == HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX;
            HypercallInputValue::new()
                .with_call_code(code)
                .with_fast(fast)
                .with_variable_header_size(if ex { varhdr } else { 0 })
                .with_rep_count(if rep { count } else { 0 })
                .with_rep_start_index(if rep { start } else { 0 })
                .into_bits()
        });
    prop_oneof![1 => any::<u64>(), 1 => loose, 4 => well_formed]
}

fn gpa() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => (0_u64..0x400).prop_map(|page| page << 12),
        1 => (0_u64..0x80_0000).prop_map(|q| q * 8),
        1 => any::<u64>(),
    ]
}

fn policy() -> impl Strategy<Value = DispatchPolicy> {
    (
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        0_u8..4,
    )
        .prop_map(|(privileges, edx, rec, phys, advertised)| {
            let config = Hv1Config {
                privileges: HvPartitionPrivilegeMask::from_bits(privileges),
                features_edx: HvFeatureIdentificationEdx::from_bits(edx),
                recommendations: HvImplementationRecommendationsEax::from_bits(rec),
                implemented_physical_address_bits: phys,
                ..Hv1Config::default()
            };
            let mut policy = DispatchPolicy::from_config(&config);
            // Mostly everything in the table, whatever CPUID says.
            if advertised != 0 {
                policy.hypercalls.advertised = HypercallSet::all();
            }
            policy
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8192, ..ProptestConfig::default() })]

    #[test]
    fn dispatch_never_panics(
        caller in caller(),
        control in control(),
        rdx in gpa(),
        r8 in gpa(),
        others in any::<[u64; 4]>(),
        xmm in any::<[u128; 6]>(),
        mut memory in memory(),
        policy in policy(),
        enabled in prop_oneof![9 => Just(true), 1 => Just(false)],
    ) {
        let regs = HypercallRegisters {
            rcx: control,
            rdx,
            r8,
            rax: others[0],
            rbx: others[1],
            rsi: others[2],
            rdi: others[3],
        };
        let outcome = dispatch(caller, &regs, &xmm, &mut memory, &policy, enabled);
        match outcome {
            Outcome::Fault(fault) => prop_assert_eq!(fault, Fault::InvalidOpcode),
            Outcome::Complete(done) => {
                let Ok(convention) = caller.convention() else {
                    return Err(TestCaseError::fail("completion for an illegal caller"));
                };
                prop_assert_eq!(done.convention, convention);
                let input = HypercallInputValue::from_bits(regs.control(convention));
                match done.writeback.result {
                    Some(result) => {
                        prop_assert!(done.writeback.advance_rip);
                        prop_assert!(done.writeback.control.is_none());
                        prop_assert!(result.reps_completed() <= input.rep_count());
                        if result.result() != HvStatus::SUCCESS {
                            prop_assert_eq!(done.action, Action::None);
                            prop_assert!(done.fast_output.is_none());
                        }
                    }
                    None => {
                        // A continuation makes progress and stays in range.
                        prop_assert!(!done.writeback.advance_rip);
                        let next = done.writeback.control.expect("continued input value");
                        prop_assert!(next.rep_start_index() > input.rep_start_index());
                        prop_assert!(next.rep_start_index() < input.rep_count());
                        prop_assert_eq!(next.call_code(), input.call_code());
                    }
                }
                if let Action::Flush(request) = done.action {
                    if let FlushProcessors::Set(set) = request.processors {
                        prop_assert!(!set.is_empty());
                    }
                    if let FlushScope::Ranges(ranges) = request.scope {
                        prop_assert!(!ranges.is_empty() && ranges.len() <= MAX_FLUSH_RANGES);
                        for range in ranges.iter() {
                            prop_assert!((1..=4096).contains(&range.pages));
                            prop_assert_eq!(range.base & 0xFFF, 0);
                        }
                    }
                }
                let mut after = regs;
                done.apply(&mut after);
            }
            Outcome::MemoryIntercept { call, .. } | Outcome::Forward(call) => {
                prop_assert!(caller.convention().is_ok());
                prop_assert!(enabled);
                let _ = call;
            }
        }
    }
}

// --- Synthetic MSRs ----------------------------------------------------------

const TSC_HZ: NonZeroU64 = NonZeroU64::new(1_000_000_000).unwrap();

fn msr() -> impl Strategy<Value = u32> {
    prop_oneof![
        6 => proptest::sample::select(vec![
            HV_X64_MSR_GUEST_OS_ID,
            HV_X64_MSR_HYPERCALL,
            HV_X64_MSR_VP_INDEX,
            HV_X64_MSR_RESET,
            HV_X64_MSR_VP_RUNTIME,
            HV_X64_MSR_TIME_REF_COUNT,
            HV_X64_MSR_VP_ASSIST_PAGE,
            HV_X64_MSR_CRASH_P3,
            HV_X64_MSR_CRASH_P4,
            HV_X64_MSR_CRASH_CTL,
        ]),
        1 => 0x4000_0000_u32..0x4000_1100,
        1 => any::<u32>(),
    ]
}

fn msr_value() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0_u64),
        (0_u64..0x10_0000).prop_map(|page| page << 12 | 1),
        (0_u64..0x10_0000).prop_map(|page| page << 12 | 3),
        any::<u64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn msr_state_machine_invariants(
        privileges in any::<u64>(),
        edx in any::<u32>(),
        gpa_bits in 12_u8..80,
        ops in prop::collection::vec((any::<bool>(), msr(), msr_value(), any::<u64>()), 1..40),
    ) {
        let policy = MsrPolicy {
            privileges: HvPartitionPrivilegeMask::from_bits(privileges),
            features_edx: HvFeatureIdentificationEdx::from_bits(edx),
            gpa_bits,
        };
        let mut partition = PartitionMsrs::new(ReferenceCounter::new(0, TSC_HZ));
        let mut vp = VpMsrs::new(5);
        let mut locked_value = None;
        for (is_write, msr, value, tsc) in ops {
            let context = MsrContext { vp_runtime: tsc / 3, tsc };
            if !is_write {
                match read(msr, &partition, &vp, &policy, &context) {
                    Ok(v) if msr == HV_X64_MSR_VP_INDEX => prop_assert_eq!(v, 5),
                    Ok(v) if msr == HV_X64_MSR_HYPERCALL => {
                        prop_assert_eq!(v & 1 != 0, partition.hypercall_page().is_some());
                    }
                    _ => {}
                }
                continue;
            }
            let before = (partition, vp);
            match write(msr, value, &mut partition, &mut vp, &policy) {
                Err(MsrFault::GeneralProtection | MsrFault::Forward) => {
                    prop_assert_eq!((partition, vp), before, "a refused write changes nothing");
                }
                Ok(Effect::HypercallPage { enable, previous }) => {
                    prop_assert_ne!(enable, previous);
                    prop_assert_eq!(enable, partition.hypercall_page());
                    prop_assert_eq!(previous, before.0.hypercall_page());
                }
                Ok(Effect::AssistPage { enable, previous }) => {
                    prop_assert_ne!(enable, previous);
                    prop_assert_eq!(enable, vp.assist_page());
                }
                Ok(Effect::GuestOsIdChanged { value: v, hypercall_page_removed, .. }) => {
                    prop_assert_eq!(v, partition.guest_os_id());
                    if hypercall_page_removed.is_some() {
                        prop_assert_eq!(v, 0);
                        prop_assert!(!partition.hypercalls_enabled());
                    }
                }
                Ok(_) => {}
            }
            let hypercall = partition.hypercall_msr();
            if let Some(locked) = locked_value {
                prop_assert_eq!(hypercall, locked, "a locked MSR never changes");
            } else if hypercall.locked() {
                prop_assert!(policy.features_edx.hypercall_msr_lock_available());
                locked_value = Some(hypercall);
            }
            // Enabled only with a guest OS ID (or frozen by the lock).
            if partition.hypercalls_enabled() && !hypercall.locked() {
                prop_assert_ne!(partition.guest_os_id(), 0);
            }
            prop_assert_eq!(vp.vp_index(), 5);
        }
    }
}
