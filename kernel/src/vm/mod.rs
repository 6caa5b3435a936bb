//! Partitions and virtual processors: the kernel objects behind
//! `tessera_abi::vm`.
//!
//! A partition is a nested page table (its guest physical address space),
//! an ASID, the memory mappings made into it, and its routes. A VP is a
//! VMCB, the general registers VMRUN does not keep, its FPU state, and a
//! kernel thread that the scheduler runs like any other: running it means
//! running the guest (`run.rs`), and a forwarded exit is an IPC call that
//! thread makes (`forward.rs`).
//!
//! | module | concept |
//! | --- | --- |
//! | `tables` | nested-page-table memory, the permission maps, ASIDs, the host VMCBs |
//! | `world_switch` | VMRUN and back, with host state protection |
//! | `guest_state` | FPU and debug registers: switched when another VP takes the CPU |
//! | `run` | a VP's loop: enter, exit, fast path or forward |
//! | `clean_runs` | how many VMRUNs found VMCB state clean, reported at the end |
//! | `exits` | what each exit means: the fast paths and the routes |
//! | `forward` | exit messages out, replies in |
//! | `memory` | mapping regions into partitions, and taking them back |
//! | `lifecycle` | creating partitions and VPs |
//! | `vp_control` | starting and stopping VPs, asserting interrupts |
//! | `teardown` | destroying and reaping VPs and partitions |
//! | `lapic` | a VP's local APIC: its MSRs, its page, its CPUID bits |
//! | `lapic_entry` | the APIC before each entry (timer, injection) and HLT until its deadline |
//! | `lapic_inject` | an APIC interrupt into the VMCB: `EVENTINJ` or an interrupt window |
//! | `lapic_fast` | the x2APIC MSR exits answered without the lock |
//! | `lapic_ipi` | interrupt messages between a partition's VPs (IPIs, INIT/SIPI) and from its devices |
//! | `synic` | the SynIC and synthetic timers: registers, timers, SIM/SIEF overlays, deliveries |
//! | `device_interrupt` | device interrupt messages (from the I/O APIC's component) posted to the APICs they name |
/// Logs a line that a guest's exits make the kernel print, within its
/// partition's budget (`tessera_vcpu::log_budget`: the first lines, then
/// one at each power of two with the count suppressed), so a guest cannot
/// flood the console (issue 9 finding 6). With `log=debug` every line
/// prints.
macro_rules! guest_log {
    ($kernel:expr, $partition:expr, $level:expr, $($arg:tt)+) => {
        if let Some(suppressed) = $kernel.admit_guest_line($partition) {
            if suppressed == 0 {
                log::log!($level, $($arg)+);
            } else {
                log::log!(
                    $level,
                    "{} ({suppressed} lines from this partition suppressed before this one)",
                    format_args!($($arg)+)
                );
            }
        }
    };
}

/// Logs a line that a component's system calls make the kernel print
/// (a partition made or destroyed, ...), within the budget of the domain
/// whose capability space `$payer` is, as `guest_log!` does for guests: a
/// component that makes thousands of partitions cannot flood the console.
macro_rules! component_log {
    ($kernel:expr, $payer:expr, $level:expr, $($arg:tt)+) => {
        if let Some(suppressed) = $kernel.admit_component_line($payer) {
            if suppressed == 0 {
                log::log!($level, $($arg)+);
            } else {
                log::log!(
                    $level,
                    "{} ({suppressed} such lines of this component suppressed before this one)",
                    format_args!($($arg)+)
                );
            }
        }
    };
}

pub mod barrier;
pub mod clean_runs;
pub mod cr_write;
pub mod decided;
pub mod device_interrupt;
pub mod entry;
pub mod entry_state;
pub mod exit_faults;
pub mod exit_stats;
pub mod exits;
pub mod extint;
pub mod fast;
pub mod forward;
pub mod guest_cpu;
pub mod guest_state;
pub mod host_msrs;
pub mod hv1;
pub mod lapic;
pub mod lapic_entry;
pub mod lapic_fast;
pub mod lapic_hv;
pub mod lapic_inject;
pub mod lapic_ipi;
pub mod lifecycle;
pub mod lifecycle_route;
pub mod memory;
pub mod mmio;
pub mod msr_effects;
pub mod nmi_mask;
pub mod overlay;
pub mod parameter_memory;
pub mod pending;
pub mod posted;
pub mod run;
pub mod skip;
pub mod synic;
pub mod synic_fast;
pub mod synic_frames;
pub mod synic_interrupts;
pub mod synic_ipc;
pub mod synic_timers;
pub mod tables;
pub mod teardown;
pub mod time;
pub mod vp_control;
pub mod world_switch;

use crate::memory::frame_box::FrameBox;
use crate::state::Name;
use alloc::boxed::Box;
use alloc::vec::Vec;
use tessera_capability::{
    Badge, CSpaceId, EndpointId, MemoryId, PartitionId, SlotAddr, ThreadId, VpId,
};
use tessera_gpa_space::GpaSpace;
use tessera_svm::Vmcb;
use tessera_vcpu::GuestGprs;

/// A VP's VMCB: in a frame of its own, charged to the VP's payer, its
/// writes tracked for the clean bits.
pub type VpVmcb = tessera_vcpu::clean_bits::TrackedVmcb<FrameBox<Vmcb>>;

/// The VPs of one partition (at most `tessera_abi::vm::MAX_VPS`).
pub type PartitionVps = heapless::Vec<VpId, { tessera_abi::vm::MAX_VPS as usize }>;

/// The most memory mappings one partition holds at a time.
pub const MAX_GPA_MAPPINGS: usize = 256;
/// The most routes one partition has (an exception route counts once per
/// vector).
pub const MAX_ROUTES: usize = 128;

/// The kernel heap a partition's record takes, charged to its creator with
/// its capability (its frames are charged as they are taken).
pub const PARTITION_RECORD_BYTES: u64 =
    (size_of::<Partition>() + size_of::<fast::FastPartition>()) as u64;
/// The same for a VP: its record and its thread's.
pub const VP_RECORD_BYTES: u64 = size_of::<Vp>() as u64 + crate::state::THREAD_RECORD_BYTES;

/// A guest physical address space and the routes of its exits.
#[derive(Debug)]
pub struct Partition {
    pub name: Name,
    /// Whose quota its frames (nested tables, overlay pages) are charged to.
    pub payer: CSpaceId,
    /// Its GPA space: the regions mapped into it, the overlay pages laid
    /// over them (hypercall page, VP assist pages), and the nested table
    /// that maps them.
    pub space: GpaSpace<RamOwner>,
    pub asid: u32,
    pub routes: Vec<Route>,
    pub vps: PartitionVps,
    /// What its running VPs read without the lock (TLB generation, CPUID
    /// routes); boxed so its address stays put while they do.
    pub fast: Box<fast::FastPartition>,
    /// Exception vectors with a route (the VMCB's exception intercepts).
    pub exception_intercepts: u32,
    pub destroyed: bool,
    /// The Hv#1 interface, if `PartitionSetHv1` gave it one.
    pub hv1: Option<hv1::PartitionHv1>,
    /// The local APIC its VPs get (`PartitionCreate` word 5).
    pub apic: lapic::ApicChoice,
    /// Its VPs' APIC addresses by VP index, for destination matching
    /// (`lapic_ipi`).
    pub apic_addresses: lapic_ipi::ApicAddresses,
    /// Where lowest-priority arbitration starts among VPs of equal
    /// priority next (ties rotate).
    pub lowest_priority_next: u8,
    /// How many more lines its guest may make the kernel print.
    pub log_budget: tessera_vcpu::log_budget::LineBudget,
    /// The exit statistics of its VPs that are gone, and its forwarded
    /// exits by route (`exit_stats.rs`).
    pub exit_stats: exit_stats::PartitionExitStats,
    /// Its SynIC and synthetic timers, if its Hv#1 configuration grants
    /// AccessSynicRegs (`synic.rs`).
    pub synic: Option<Box<synic::PartitionSynic>>,
    /// Where its component-owned SynIC ports ring (`synic_ipc.rs`).
    pub port_doorbells: synic_ipc::Doorbells,
}

/// Whose a partition's RAM mapping is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RamOwner {
    pub region: MemoryId,
    /// The capability it was mapped through: deleting it unmaps.
    pub via: SlotAddr,
}

/// A memory region mapped into a partition.
pub type GpaMapping = tessera_gpa_space::RamMapping<RamOwner>;

/// Where exits of one kind and range go.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub kind: u64,
    pub first: u64,
    pub last: u64,
    pub endpoint: EndpointId,
    pub badge: Option<Badge>,
    /// The general registers the handler asked for.
    pub state: u64,
    /// Its place in the partition's route list (routes are only ever
    /// appended), where the exit statistics count what it forwarded.
    pub slot: usize,
    /// Its place among the partition's routes that post writes
    /// (`posted.rs`), if it posts.
    pub posted: Option<u8>,
}

/// What a VP is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VpState {
    /// Not runnable until `VpStart`.
    Stopped,
    /// Queued or running.
    Runnable,
    /// Halted (HLT with interrupts enabled): runnable again when an
    /// interrupt is asserted.
    Parked,
    /// An application processor of a partition with an APIC, after
    /// `VpStart` or INIT: on no CPU until a start-up IPI
    /// (`lapic_ipi`).
    WaitForSipi,
    /// Blocked in a call to a handler.
    AwaitingReply(forward::Pending),
}

/// A virtual processor.
#[derive(Debug)]
pub struct Vp {
    pub partition: PartitionId,
    pub index: u32,
    pub thread: ThreadId,
    pub cpu: usize,
    /// In a frame of its own (VMRUN takes its physical address), its
    /// writes tracked for the clean bits.
    pub vmcb: VpVmcb,
    /// Whose quota its frames (VMCB, message buffer) are charged to.
    pub payer: CSpaceId,
    pub gprs: GuestGprs,
    pub guest_state: guest_state::SavedState,
    pub state: VpState,
    pub stop_requested: bool,
    /// The thread whose `VpStop` waits for the VP to leave its guest.
    pub stop_waiter: Option<ThreadId>,
    /// Its last capability went (or its partition's, or its creator
    /// died): it stops, and its record goes once no CPU runs it.
    pub destroyed: bool,
    /// An asserted external interrupt (event word), waiting for the guest
    /// to accept it.
    pub pending_interrupt: Option<u64>,
    pub pending_nmi: bool,
    /// The level of its partition's 8259 output (VP 0 only: `extint.rs`).
    pub pic_level: bool,
    /// Whether an injected NMI's handler still runs (`nmi_mask.rs`).
    pub nmi_mask: nmi_mask::NmiMask,
    pub seen_tlb_generation: u64,
    /// The per-VP synthetic MSRs (VP index, VP assist page).
    pub hv1_msrs: tessera_hv1::VpMsrs,
    /// Whether it has ever been started (the partition's Hv#1
    /// configuration is fixed from then on).
    pub ever_started: bool,
    /// Host TSC ticks spent in the guest (HV_X64_MSR_VP_RUNTIME).
    pub run_ticks: u64,
    /// The exception intercepts in this VP's VMCB (the partition's may
    /// have grown since; applied before the next entry).
    pub exception_intercepts: u32,
    /// Whether a route of its partition posts writes (`posted.rs`): only
    /// then does a forwarded exit look at the queues. Set when the VP is
    /// made and when such a route is installed.
    pub routes_post: bool,
    /// The frame of the VP thread's message buffer (exit messages out,
    /// reply registers in).
    pub message_buffer: x86_64::PhysAddr,
    /// The handler's reply to the exit it waits on, captured (checked and
    /// copied out of the handler's message buffer) when the kernel
    /// accepted it: by the time the VP's CPU applies it, that buffer holds
    /// the handler's next message. Decoded in place (`reply_captured` says
    /// whether it holds one): moving it here copied its register array.
    pub reply: tessera_vcpu::reply::Reply,
    pub reply_captured: bool,
    /// Its last exit message, restarted for each forwarded exit
    /// (`Kernel::start_exit`): built here, it is not zeroed every time.
    pub exit_message: tessera_exit_protocol::EncodedExit,
    /// The guest's TSC_AUX (RDTSCP reads it; the host's stays 0).
    pub tsc_aux: u32,
    /// The last instruction its lock-free exits measured (without NRIP
    /// save), re-used while nothing it read changed.
    pub fetch_cache: tessera_vcpu::fetch_cache::FetchCache,
    /// Its exits by reason and outcome, and the events injected into it
    /// (`exit_stats.rs`): written only by the CPU that runs it.
    pub exit_counts: tessera_vcpu::exit_stats::ExitCounts,
    /// The hottest CPUID leaves as this VP reads them
    /// (`guest_cpu::fixed_cpuid_of`), for the lock-free path.
    pub fixed_cpuid: guest_cpu::FixedCpuid,
    /// The RIP of the last exit whose instruction the kernel could not
    /// find there (`skip.rs`): a second miss at the same RIP stops the VP.
    pub skip_failed_at: Option<u64>,
    /// Its local APIC, if its partition gives VPs one (`lapic.rs`):
    /// touched only by the CPU that runs it, or under the lock while it
    /// is off every CPU.
    pub apic: Option<tessera_lapic::LocalApic>,
    /// Whether its assist page's "No EOI required" bit is set for an
    /// in-service vector (`lapic_hv.rs`).
    pub lazy_eoi: tessera_lapic::LazyEoi,
    /// The RIP of the last exit the locked path handled (`None` once the
    /// entry after it looked, or after `VpSetRegisters`): an entry at
    /// another RIP completed that instruction, which ends an interrupt
    /// shadow it was in (`lapic_entry::end_shadow_past`).
    pub exit_rip: Option<u64>,
    /// Its INIT/SIPI state (VP 0 the bootstrap processor).
    pub startup: tessera_lapic::StartupState,
    /// Interrupt messages posted to it and not yet in its APIC
    /// (`lapic_ipi`): written and read under the kernel lock.
    pub posted: tessera_lapic::Posted,
    /// Its APIC's priority for lowest-priority arbitration while it may
    /// run (`LocalApic::published_priority`; 0 before the first entry):
    /// written by its CPU at each entry and by the lock-free APIC exits
    /// that change the PPR, read by senders under the lock (`lapic_ipi`).
    /// A `MOV CR8` the guest makes without an exit shows at its next exit.
    pub published_priority: core::sync::atomic::AtomicU16,
    /// Whether it has a place in its partition's SynIC (`synic.rs`): read
    /// at each exit and entry, so that a VP without one skips the SynIC's
    /// steps after one field read instead of their record look-ups.
    pub in_synic: bool,
    /// Its SynIC registers as the lock-free `HvSignalEvent` reads them
    /// (`fast_signal.rs`), published under the lock after every change
    /// (`Kernel::publish_synic_vp`).
    pub synic_published: tessera_synic::fast_signal::PublishedVp,
}

impl Vp {
    /// Time in the guest, in the TLFS's 100 ns units.
    pub fn runtime_100ns(&self) -> u64 {
        let per_microsecond = crate::arch::tsc::ticks_per_microsecond().max(1);
        (u128::from(self.run_ticks) * 10 / u128::from(per_microsecond)) as u64
    }

    /// The VMCB's physical address.
    pub fn vmcb_address(&self) -> u64 {
        self.vmcb.storage().frame().as_u64()
    }
}

impl crate::state::Kernel {
    /// Whether a line `partition`'s guest makes the kernel print prints
    /// (`guest_log!`): `Some(lines suppressed before it)`.
    pub fn admit_guest_line(&mut self, partition: PartitionId) -> Option<u64> {
        if log::max_level() >= log::LevelFilter::Debug {
            return Some(0);
        }
        match self.partitions.get_mut(partition) {
            Some(target) => target.log_budget.admit(),
            None => Some(0),
        }
    }
}

impl crate::state::Kernel {
    /// Whether a line the system calls of the domain with capability space
    /// `payer` make the kernel print prints (`component_log!`).
    pub fn admit_component_line(&mut self, payer: tessera_capability::CSpaceId) -> Option<u64> {
        if log::max_level() >= log::LevelFilter::Debug {
            return Some(0);
        }
        let domain = self
            .domains
            .iter()
            .find(|(_, d)| d.cspace == payer)
            .map(|(id, _)| id);
        match domain.and_then(|id| self.domains.get_mut(id)) {
            Some(record) => record.log_budget.admit(),
            None => Some(0),
        }
    }
}

impl Partition {
    /// The route of `kind` whose range holds `value`.
    pub fn route(&self, kind: u64, value: u64) -> Option<&Route> {
        tessera_vcpu::route_ranges::RouteTable(&self.routes).find(kind, value)
    }
}

impl tessera_vcpu::route_ranges::RouteEntry for Route {
    fn kind(&self) -> u64 {
        self.kind
    }

    fn range(&self) -> core::ops::RangeInclusive<u64> {
        self.first..=self.last
    }
}
