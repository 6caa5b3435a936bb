//! The component against the kernel's own SynIC model (`tessera_synic`'s
//! `Synic`, which re-checks every write as the kernel does).

use super::*;
use alloc::vec::Vec;
use tessera_rt::abi::vm::action;
use tessera_rt::vm_exit::attach_message;
use tessera_synic::registers::GeneralProtection;
use tessera_synic::timer::StimerPolicy;
use tessera_synic::{MemoryPages, PartitionPolicy, PartitionRef, Synic};
use tlfs::msr as m;

const BADGE: u64 = 1;
const SLOT: u32 = 16;

/// The kernel's side: one partition, two VPs, the model re-checking.
struct FakeKernel {
    synic: Synic<MemoryPages>,
    writes: Vec<(u32, u32, u64)>,
    refuse: bool,
}

impl FakeKernel {
    fn new() -> Self {
        let mut synic = Synic::new();
        synic.add_partition(
            PartitionPolicy {
                registers: RegisterPolicy {
                    polling: false,
                    auto_eoi: true,
                    gpa_limit: 1 << 40,
                },
                timers: StimerPolicy { direct_mode: true },
            },
            alloc::vec![MemoryPages::new(), MemoryPages::new()],
        );
        Self {
            synic,
            writes: Vec::new(),
            refuse: false,
        }
    }
}

impl SynicKernel for FakeKernel {
    fn read(&mut self, slot: u32, vp: u32) -> Result<[u64; STATE_WORDS], u64> {
        assert_eq!(slot, SLOT);
        let registers = self.synic.registers(PartitionRef(0), vp).ok_or(2_u64)?;
        let policy = self.synic.policy(PartitionRef(0)).unwrap().registers;
        let mut words = [0; STATE_WORDS];
        words[abi::POLICY] = abi::policy_word(policy.polling, policy.auto_eoi);
        words[abi::GPA_LIMIT] = policy.gpa_limit;
        words[abi::SCONTROL] = registers.scontrol.into_bits();
        words[abi::SIEFP] = registers.siefp.into_bits();
        words[abi::SIMP] = registers.simp.into_bits();
        for (i, sint) in registers.sints.iter().enumerate() {
            words[abi::SINT0 + i] = sint.into_bits();
        }
        Ok(words)
    }

    fn write(&mut self, slot: u32, vp: u32, msr: u32, value: u64) -> Result<(), u64> {
        assert_eq!(slot, SLOT);
        if self.refuse {
            return Err(2);
        }
        self.writes.push((vp, msr, value));
        let register = SynicMsr::from_msr(msr).ok_or(2_u64)?;
        self.synic
            .write_synic(PartitionRef(0), vp, register, value, 0)
            .map(drop)
            .map_err(|GeneralProtection| 2)
    }
}

fn attached() -> (SynicServer, FakeKernel) {
    let mut server = SynicServer::new();
    let mut kernel = FakeKernel::new();
    let message = attach_message("synic-test");
    let (handled, unused) = server.exit(
        BADGE,
        &ExitMessage::decode(&message.words, &[]),
        Some(SLOT),
        &mut kernel,
    );
    assert_eq!(handled.reply.words()[0], 0, "attach accepted");
    assert_eq!(unused, None);
    (server, kernel)
}

fn msr(
    server: &mut SynicServer,
    kernel: &mut FakeKernel,
    vp: u32,
    msr: u32,
    write: Option<u64>,
) -> ExitReply {
    let exit = Exit::Msr {
        msr,
        write: write.is_some(),
        value: write.unwrap_or(0),
    };
    let words = exit.encode(vp);
    server
        .exit(BADGE, &ExitMessage::decode(&words, &[]), None, kernel)
        .0
        .reply
}

fn read(server: &mut SynicServer, kernel: &mut FakeKernel, vp: u32, number: u32) -> u64 {
    let reply = msr(server, kernel, vp, number, None);
    assert_eq!(reply.actions(), action::ADVANCE_RIP | action::RESULT);
    reply.words()[2]
}

fn faults(reply: &ExitReply) -> bool {
    reply.actions() == action::FAULT
}

#[test]
fn reset_values_come_from_the_kernel() {
    let (mut server, mut kernel) = attached();
    assert_eq!(read(&mut server, &mut kernel, 0, m::HV_X64_MSR_SCONTROL), 0);
    assert_eq!(read(&mut server, &mut kernel, 0, m::HV_X64_MSR_SVERSION), 1);
    assert_eq!(read(&mut server, &mut kernel, 0, m::HV_X64_MSR_SIMP), 0);
    assert_eq!(read(&mut server, &mut kernel, 1, m::HV_X64_MSR_EOM), 0);
    for n in 0..16 {
        assert_eq!(
            read(&mut server, &mut kernel, 1, m::HV_X64_MSR_SINT0 + n),
            0x1_0000
        );
    }
}

#[test]
fn checked_writes_reach_the_kernel_and_refused_ones_do_not() {
    let (mut server, mut kernel) = attached();
    // An unmasked vector below 16, a reserved bit, SVERSION, EOM != 0.
    for (number, value) in [
        (m::HV_X64_MSR_SINT0, 0x0F),
        (m::HV_X64_MSR_SINT0 + 3, 1 << 8 | 0x40),
        (m::HV_X64_MSR_SVERSION, 1),
        (m::HV_X64_MSR_EOM, 1),
        (m::HV_X64_MSR_SCONTROL, 2),
        (m::HV_X64_MSR_SIMP, 0x1002),
    ] {
        assert!(
            faults(&msr(&mut server, &mut kernel, 0, number, Some(value))),
            "{number:#x}"
        );
    }
    assert!(kernel.writes.is_empty());
    let reply = msr(
        &mut server,
        &mut kernel,
        0,
        m::HV_X64_MSR_SINT0 + 2,
        Some(0x52),
    );
    assert_eq!(reply.actions(), action::ADVANCE_RIP);
    assert_eq!(kernel.writes, [(0, m::HV_X64_MSR_SINT0 + 2, 0x52)]);
    assert_eq!(
        read(&mut server, &mut kernel, 0, m::HV_X64_MSR_SINT0 + 2),
        0x52
    );
    // VP 1 is untouched.
    assert_eq!(
        read(&mut server, &mut kernel, 1, m::HV_X64_MSR_SINT0 + 2),
        0x1_0000
    );
    // Not a SynIC register at all.
    assert!(faults(&msr(&mut server, &mut kernel, 0, 0x4000_00B0, None)));
}

#[test]
fn a_kernel_refusal_is_gp_and_the_copy_stays() {
    let (mut server, mut kernel) = attached();
    kernel.refuse = true;
    assert!(faults(&msr(
        &mut server,
        &mut kernel,
        0,
        m::HV_X64_MSR_SCONTROL,
        Some(1)
    )));
    assert_eq!(read(&mut server, &mut kernel, 0, m::HV_X64_MSR_SCONTROL), 0);
}

#[test]
fn a_restarted_instance_reads_what_the_kernel_holds() {
    let (mut server, mut kernel) = attached();
    msr(
        &mut server,
        &mut kernel,
        1,
        m::HV_X64_MSR_SIMP,
        Some(0x5000 | 1),
    );
    msr(&mut server, &mut kernel, 1, m::HV_X64_MSR_SCONTROL, Some(1));
    // A new instance: the same kernel, a fresh attach.
    let mut again = SynicServer::new();
    let message = attach_message("synic-test");
    again.exit(
        BADGE,
        &ExitMessage::decode(&message.words, &[]),
        Some(SLOT),
        &mut kernel,
    );
    assert_eq!(read(&mut again, &mut kernel, 1, m::HV_X64_MSR_SIMP), 0x5001);
    assert_eq!(read(&mut again, &mut kernel, 1, m::HV_X64_MSR_SCONTROL), 1);
    assert_eq!(again.registers(BADGE, 1), server.registers(BADGE, 1));
}

#[test]
fn attach_without_a_capability_is_refused_and_unattached_partitions_fault() {
    let mut server = SynicServer::new();
    let mut kernel = FakeKernel::new();
    let message = attach_message("no-cap");
    let (handled, _) = server.exit(
        BADGE,
        &ExitMessage::decode(&message.words, &[]),
        None,
        &mut kernel,
    );
    assert_eq!(handled.reply.actions(), action::STOP);
    assert!(faults(&msr(
        &mut server,
        &mut kernel,
        0,
        m::HV_X64_MSR_SCONTROL,
        None
    )));
    assert_eq!(server.free_slot(), Some(16));
}

#[test]
fn the_policy_words_round_trip() {
    let mut kernel = FakeKernel::new();
    let words = kernel.read(SLOT, 0).unwrap();
    let (policy, registers) = from_words(&words);
    assert!(policy.auto_eoi && !policy.polling);
    assert_eq!(policy.gpa_limit, 1 << 40);
    assert_eq!(registers, SynicRegisters::default());
}
