//! `HvCallSendSyntheticClusterIpi(Ex)` (`hv-ipi`): decoding, validation
//! with the TLFS statuses, sparse VP sets (through the same reader as the
//! flush calls), and availability from the CPUID recommendations.

#[allow(dead_code)]
#[path = "hypercall/common.rs"]
mod common;

use common::{IN_PAGE, NO_XMM, OUT_PAGE, TestMemory, control, regs64};
use tessera_hv1::cpuid::{FeatureScope, Hv1Config};
use tessera_hv1::dispatch::cluster_ipi::{ClusterIpi, cluster_ipi};
use tessera_hv1::dispatch::{Action, DispatchPolicy, Outcome, ProcessorSet, VpSet, dispatch};
use tessera_hv1::hypercall::{Access, Caller, Hypercall, HypercallPolicy, Reject, decode};
use tlfs::{HvStatus, HypercallCode, HypercallInputValue};

fn ipi_config() -> Hv1Config {
    Hv1Config::from_features_in(["hv-ipi"], FeatureScope::Modelled).unwrap()
}

fn policy() -> HypercallPolicy {
    HypercallPolicy::from_config(&ipi_config())
}

fn decoded(control: HypercallInputValue, rdx: u64, r8: u64) -> Result<Hypercall, Reject> {
    decode(
        Caller::KERNEL64,
        &regs64(control.into_bits(), rdx, r8),
        &NO_XMM,
        &policy(),
    )
}

/// The outcome of a call: the IPI, or the status it failed with.
fn run(
    control: HypercallInputValue,
    rdx: u64,
    r8: u64,
    memory: &TestMemory,
) -> Result<ClusterIpi, HvStatus> {
    let call = decoded(control, rdx, r8).map_err(|r| match r {
        Reject::Status(status) => status,
        Reject::Fault(fault) => panic!("{fault:?}"),
    })?;
    match cluster_ipi(&call, memory) {
        Ok((ipi, completion)) => {
            assert_eq!(completion.result_status(), Some(HvStatus::SUCCESS));
            Ok(ipi)
        }
        Err(Outcome::Complete(c)) => Err(c.result_status().unwrap()),
        Err(other) => panic!("{other:?}"),
    }
}

fn fast(vector_and_vtl: u64, mask: u64) -> Result<ClusterIpi, HvStatus> {
    let c = control(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI).with_fast(true);
    run(c, vector_and_vtl, mask, &TestMemory::new())
}

fn set(vps: &[u32]) -> ProcessorSet {
    let mut set = VpSet::EMPTY;
    for &vp in vps {
        set.insert(vp);
    }
    ProcessorSet::Set(set)
}

#[test]
fn fast_form_as_linux_sends_it() {
    // Linux: hv_do_fast_hypercall16(HVCALL_SEND_IPI, vector, mask).
    assert_eq!(
        fast(0xF3, 0b1010),
        Ok(ClusterIpi {
            vector: 0xF3,
            targets: set(&[1, 3])
        })
    );
    // The edges of the vector range.
    assert_eq!(fast(0x10, 1).unwrap().vector, 0x10);
    assert_eq!(fast(0xFF, 1).unwrap().vector, 0xFF);
    // An empty mask sends nothing and succeeds.
    assert_eq!(
        fast(0x40, 0).unwrap().targets,
        ProcessorSet::Set(VpSet::EMPTY)
    );
}

#[test]
fn bad_vectors_and_reserved_fields() {
    for vector in [0, 2, 0x0F, 0x100, 0xFFFF_FFFF] {
        assert_eq!(
            fast(vector, 1),
            Err(HvStatus::INVALID_PARAMETER),
            "{vector:#x}"
        );
    }
    // TargetVtl: ReservedZ bits 7:5; UseTargetVtl with VTL 1.
    for vtl in [0x20_u64, 0x80, 0x11, 0x1F] {
        assert_eq!(
            fast(0x40 | vtl << 32, 1),
            Err(HvStatus::INVALID_PARAMETER),
            "{vtl:#x}"
        );
    }
    // UseTargetVtl with VTL 0, or a TargetVtl without UseTargetVtl, is fine.
    assert!(fast(0x40 | 0x10 << 32, 1).is_ok());
    assert!(fast(0x40 | 0x01 << 32, 1).is_ok());
    // The three padding bytes.
    for byte in 5..8 {
        assert_eq!(
            fast(0x40 | 1 << (8 * byte), 1),
            Err(HvStatus::INVALID_PARAMETER)
        );
    }
}

#[test]
fn memory_form() {
    let mut memory = TestMemory::new();
    memory.put_qwords(IN_PAGE, &[0x0000_0000_0000_0050, 1 << 63 | 1]);
    let c = control(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI);
    assert_eq!(
        run(c, IN_PAGE, OUT_PAGE, &memory).unwrap().targets,
        set(&[0, 63])
    );
    // An unmapped input page: the memory intercept, as for every call.
    let mut holes = TestMemory::new();
    holes.holes.push(IN_PAGE..IN_PAGE + 0x1000);
    let call = decoded(c, IN_PAGE, OUT_PAGE).unwrap();
    assert!(matches!(
        cluster_ipi(&call, &holes),
        Err(Outcome::MemoryIntercept { gpa, access: Access::Read, .. }) if gpa == IN_PAGE
    ));
}

fn ex(header: [u64; 3], banks: &[u64], variable_qwords: u16) -> Result<ClusterIpi, HvStatus> {
    let mut memory = TestMemory::new();
    memory.put_qwords(IN_PAGE, &header);
    memory.put_qwords(IN_PAGE + 24, banks);
    let c = control(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI_EX)
        .with_variable_header_size(variable_qwords);
    run(c, IN_PAGE, OUT_PAGE, &memory)
}

#[test]
fn ex_form_with_sparse_vp_sets() {
    // hv_vp_set.md's example {0, 5, 130}: banks 0 and 2.
    assert_eq!(
        ex([0x41, 0, 0x05], &[0x21, 0x04], 2).unwrap().targets,
        set(&[0, 5, 130])
    );
    // Format 1: all VPs, no banks.
    assert_eq!(ex([0x41, 1, 0], &[], 0).unwrap().targets, ProcessorSet::All);
    // Bank 63 reaches VP 4095.
    assert_eq!(
        ex([0x41, 0, 1 << 63], &[1 << 63], 1).unwrap().targets,
        set(&[4095])
    );
    // Bad format; banks that disagree with the variable header.
    assert_eq!(ex([0x41, 2, 0], &[], 0), Err(HvStatus::INVALID_PARAMETER));
    assert_eq!(
        ex([0x41, 0, 0x05], &[0x21], 1),
        Err(HvStatus::INVALID_PARAMETER)
    );
    assert_eq!(
        ex([0x41, 0, 0x01], &[0x21, 0], 2),
        Err(HvStatus::INVALID_PARAMETER)
    );
    // The vector rule holds for Ex too.
    assert_eq!(ex([0x0F, 1, 0], &[], 0), Err(HvStatus::INVALID_PARAMETER));
}

#[test]
fn availability_follows_the_recommendations() {
    // Without hv-ipi: not advertised, HV_STATUS_INVALID_HYPERCALL_CODE.
    let plain = DispatchPolicy::from_config(&Hv1Config::minimal());
    let regs = regs64(
        control(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI)
            .with_fast(true)
            .into_bits(),
        0x40,
        1,
    );
    let mut memory = TestMemory::new();
    match dispatch(Caller::KERNEL64, &regs, &NO_XMM, &mut memory, &plain, true) {
        Outcome::Complete(c) => {
            assert_eq!(c.result_status(), Some(HvStatus::INVALID_HYPERCALL_CODE));
        }
        other => panic!("{other:?}"),
    }
    // With hv-ipi both are advertised (QEMU sets ExProcessorMasks with it).
    let advertised = policy().advertised;
    assert!(advertised.contains(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI));
    assert!(advertised.contains(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI_EX));
    // UseSyntheticClusterIpi without ExProcessorMasks: the Ex form is not.
    let mut config = ipi_config();
    config.recommendations = config.recommendations.with_use_ex_processor_masks(false);
    let advertised = HypercallPolicy::from_config(&config).advertised;
    assert!(advertised.contains(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI));
    assert!(!advertised.contains(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI_EX));
    // Advertised, the dispatcher decodes it and hands the kernel the IPI
    // to deliver, with a success completion: fast, vector 0x40 to VP 0
    // (RDX holds the vector and reserved bytes, R8 the processor mask).
    let p = DispatchPolicy::from_config(&ipi_config());
    match dispatch(Caller::KERNEL64, &regs, &NO_XMM, &mut memory, &p, true) {
        Outcome::Complete(c) => {
            assert_eq!(c.result_status(), Some(HvStatus::SUCCESS));
            let Action::ClusterIpi(ipi) = c.action else {
                panic!("{:?}", c.action);
            };
            assert_eq!(ipi.vector, 0x40);
            assert_eq!(ipi.targets, ProcessorSet::Set(VpSet::from_mask(1)));
        }
        other => panic!("{other:?}"),
    }
    // A bad vector is refused before any action.
    let bad = regs64(
        control(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI)
            .with_fast(true)
            .into_bits(),
        0x0F,
        1,
    );
    match dispatch(Caller::KERNEL64, &bad, &NO_XMM, &mut memory, &p, true) {
        Outcome::Complete(c) => {
            assert_eq!(c.result_status(), Some(HvStatus::INVALID_PARAMETER));
            assert_eq!(c.action, Action::None);
        }
        other => panic!("{other:?}"),
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the guest puts in memory and registers, the decoder
        /// answers (never panics), and what it accepts is a legal vector
        /// with reserved fields clear.
        #[test]
        fn any_input_is_answered(
            qwords in proptest::collection::vec(any::<u64>(), 3..70),
            variable in 0..70_u16,
            is_ex in any::<bool>(),
            is_fast in any::<bool>(),
            rdx in any::<u64>(),
            r8 in any::<u64>(),
        ) {
            let mut memory = TestMemory::new();
            memory.put_qwords(IN_PAGE, &qwords);
            let code = if is_ex {
                HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI_EX
            } else {
                HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI
            };
            let c = control(code).with_fast(is_fast).with_variable_header_size(variable);
            let (rdx, r8) = if is_fast { (rdx, r8) } else { (IN_PAGE, OUT_PAGE) };
            // A refusal at decoding (a fault, a status) is an answer too.
            let Ok(call) = decoded(c, rdx, r8) else { return Ok(()) };
            if let Ok((ipi, _)) = cluster_ipi(&call, &memory) {
                prop_assert!(ipi.vector >= 0x10);
                let first = if is_fast { rdx } else { qwords[0] };
                prop_assert_eq!(first >> 40, 0, "padding clear");
                prop_assert_eq!((first >> 32) as u8 & 0xE0, 0, "TargetVtl ReservedZ clear");
            }
        }
    }
}
