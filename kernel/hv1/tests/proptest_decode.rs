//! Decoding never panics, whatever the guest's registers, and what it
//! accepts obeys the TLFS placement rules.

use proptest::prelude::*;
use tessera_hv1::hypercall::{
    Caller, CpuMode, GpaError, GuestMemory, HypercallPolicy, HypercallRegisters, HypercallSet,
    Input, Output, decode,
};
use tlfs::hypercall::HypercallClass;
use tlfs::privilege::HvPartitionPrivilegeMask;
use tlfs::{HvStatus, HypercallInputValue};

/// Memory that answers every access with `error`, or zeros.
#[derive(Debug)]
struct Oracle(Option<GpaError>);

impl GuestMemory for Oracle {
    fn read(&self, _gpa: u64, buf: &mut [u8]) -> Result<(), GpaError> {
        buf.fill(0);
        self.0.map_or(Ok(()), Err)
    }
    fn write(&mut self, _gpa: u64, _data: &[u8]) -> Result<(), GpaError> {
        self.0.map_or(Ok(()), Err)
    }
}

fn mode() -> impl Strategy<Value = CpuMode> {
    prop_oneof![
        1 => Just(CpuMode::Real),
        1 => Just(CpuMode::Virtual8086),
        3 => Just(CpuMode::Protected32),
        3 => Just(CpuMode::Long64),
    ]
}

/// Control values: fully random, a table code with random upper bits, or
/// a table code with small well-formed fields, so that the deeper checks
/// are reached often.
fn control() -> impl Strategy<Value = u64> {
    let codes = tessera_hv1::hypercall::table::CALLS
        .iter()
        .map(|spec| spec.code)
        .collect::<Vec<_>>();
    prop_oneof![
        1 => any::<u64>(),
        1 => (proptest::sample::select(codes.clone()), any::<u64>())
            .prop_map(|(code, high)| u64::from(code.0) | (high & !0xFFFF)),
        4 => (
            proptest::sample::select(codes),
            any::<bool>(),
            prop_oneof![3 => Just(0_u16), 1 => 1_u16..3],
            prop_oneof![
                Just((0_u16, 0_u16)),
                (1_u16..16).prop_flat_map(|count| (Just(count), 0..count)),
            ],
            any::<bool>(),
        )
            .prop_map(|(code, fast, varhdr, (count, start), nested)| {
                HypercallInputValue::new()
                    .with_call_code(code)
                    .with_fast(fast)
                    .with_variable_header_size(varhdr)
                    .with_rep_count(count)
                    .with_rep_start_index(start)
                    .with_is_nested(nested)
                    .into_bits()
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn decode_never_panics(
        cpl in prop_oneof![3 => Just(0_u8), 1 => any::<u8>()],
        mode in mode(),
        control in control(),
        gprs in any::<[u64; 6]>(),
        xmm in any::<[u128; 6]>(),
        advertised in proptest::bool::weighted(0.9),
        privileges in prop_oneof![Just(u64::MAX), any::<u64>()],
        xmm_in in any::<bool>(),
        xmm_out in any::<bool>(),
        small_gpas in proptest::bool::weighted(0.8),
        status in any::<u16>(),
        completed in any::<u16>(),
        error in proptest::option::of(prop_oneof![Just(GpaError::OutOfBounds), Just(GpaError::Inaccessible)]),
    ) {
        let [rax, rbx, rdx, rsi, rdi, r8] = gprs;
        // Half the time use page-aligned GPAs so memory calls pass.
        let (rdx, r8) = if small_gpas {
            (rdx & 0xFF_F000, (r8 & 0xFF_F000) | 0x100_0000)
        } else {
            (rdx, r8)
        };
        let regs = HypercallRegisters { rax, rbx, rcx: control, rdx, rsi, rdi, r8 };
        let policy = HypercallPolicy {
            advertised: if advertised { HypercallSet::all() } else { HypercallSet::EMPTY },
            privileges: HvPartitionPrivilegeMask::from_bits(privileges),
            xmm_fast_input: xmm_in,
            xmm_fast_output: xmm_out,
        };
        let caller = Caller { cpl, mode };
        let Ok(call) = decode(caller, &regs, &xmm, &policy) else {
            return Ok(());
        };

        // What was accepted obeys the rules.
        prop_assert_eq!(cpl, 0);
        prop_assert!(matches!(mode, CpuMode::Protected32 | CpuMode::Long64));
        match call.spec.class {
            HypercallClass::Simple => prop_assert_eq!((call.rep_count, call.rep_start), (0, 0)),
            HypercallClass::Rep => prop_assert!(call.rep_start < call.rep_count),
        }
        if let Input::Gpa(gpa) = call.input {
            prop_assert_eq!(gpa % 8, 0);
            prop_assert!(gpa % 4096 + u64::from(call.input_len) <= 4096);
        }
        if let Output::Gpa(gpa) = call.output {
            prop_assert_eq!(gpa % 8, 0);
            prop_assert!(gpa % 4096 + u64::from(call.output_len) <= 4096);
        }
        if call.fast {
            prop_assert!(call.input_len <= 112);
        }

        // Using it never panics either.
        let mut memory = Oracle(error);
        let mut buf = vec![0; call.input_len as usize];
        let _ = call.read_input(&memory, 0, &mut buf);
        let _ = call.read_element(&memory, call.rep_start, &mut [0; 8]);
        let _ = call.write_output(&mut memory, 0, &vec![0; call.output_len as usize]);
        let _ = call.fast_output_writes(&[0xAB; 8]);
        let wb = call.complete(HvStatus(status), completed);
        let mut after = regs;
        wb.apply(call.convention, &mut after);
        if wb.advance_rip {
            prop_assert!(wb.result.is_some());
        } else {
            prop_assert!(wb.control.is_some());
        }
    }
}
