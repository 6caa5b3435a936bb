//! The Tessera kernel ABI, version 6: what a ring-3 component may rely on.
//!
//! The key words MUST, MUST NOT, SHOULD and MAY are to be read as in RFC 2119.
//! Kernel and components build against this one crate; a change to anything
//! here that a built component can observe MUST bump [`ABI_VERSION`].
//!
//! # Entering the kernel
//!
//! A component enters the kernel with the `syscall` instruction. The
//! registers carry:
//!
//! | register | in | out |
//! | --- | --- | --- |
//! | `rax` | the [`Syscall`] number | the [`Status`] (0 is success) |
//! | `rdi` | a capability selector (the object the call is about) | the badge of a received call |
//! | `rsi`, `rdx`, `r10`, `r8`, `r9`, `r12` | message words 0 to 5 ([`MESSAGE_WORDS`]) | message words 0 to 5 |
//! | `r13` | the capability transfer word ([`CapTransfer`]) | the selector a capability arrived in, or [`NO_SELECTOR`] |
//! | `r14` | how many words of the message buffer go with the message (`Call`, `Reply`, `ReplyWait`) | how many words arrived in the message buffer |
//!
//! `rcx` and `r11` are destroyed (the `syscall` instruction uses them). Every
//! other register, the stack and the flags except the arithmetic ones are
//! preserved. The kernel MUST NOT read or write component memory on a system
//! call except the calling and the receiving thread's message buffers: there
//! are no pointers in system calls, so a bad pointer cannot exist.
//!
//! # The message buffer
//!
//! Each thread has a message buffer (its UTCB): one page at
//! [`MESSAGE_BUFFER_ADDRESS`] holding [`MESSAGE_BUFFER_WORDS`] words, mapped
//! by the kernel. A message longer than the six register words sends its
//! first `r14` buffer words too: at delivery the kernel copies them from the
//! sender's buffer to the start of the receiver's, and the receiver finds
//! the count in `r14`. A count over [`MESSAGE_BUFFER_WORDS`] is
//! [`Status::InvalidArgument`].
//!
//! # Capability slots
//!
//! Each component starts with a capability space of [`CSPACE_SLOTS`] slots.
//! Slots 0 to 3 are given by the kernel (see [`slot`]); slots 4 and up hold
//! what the manifest grants, at the slots the manifest names. A component
//! MUST NOT assume any other slot is filled.
//!
//! # IPC, time and priorities
//!
//! `Call` blocks the caller until the server's `Reply` (or `ReplyWait`). A
//! server thread owes at most one reply at a time, to the caller it last
//! received; there is no reply capability to hold or lose.
//!
//! - Time: while a server works for a caller, it runs on the caller's time.
//!   The kernel charges the CPU time to the thread at the far end of the
//!   chain of calls, and a server runs at least at the priority of the
//!   callers it serves (`tessera-ipc`, "time accounting").
//! - Priority inversion is prevented before boot, not at run time: the
//!   manifest MUST let a component call only components of equal or higher
//!   priority, and calls MUST NOT form a cycle (both checked by
//!   `tessera-manifest`). Each endpoint's ceiling is its server's priority:
//!   a caller above it gets [`Status::AboveCeiling`].
//! - Callers waiting on one endpoint are served highest priority first, in
//!   arrival order among equals.
//! - When a server's component faults or exits, every caller blocked on it,
//!   and every later call, gets [`Status::ServerDied`]. A restarted server's
//!   endpoints have a new generation: capabilities to the old one get
//!   [`Status::StaleEndpoint`], so a client can tell it lost state.
//! - On one CPU, a call switches straight to the waiting server and a reply
//!   straight back to the caller, unless a more important thread is ready.
//!
//! Messages are six words in registers, plus up to 512 words through the
//! message buffer (below).
//!
//! # Kernel memory
//!
//! Every frame the kernel takes on a component's behalf — its page tables
//! and pages, memory-region pages, the VMCB and message buffer of each VP
//! it makes, the nested page tables and overlay pages of its partitions —
//! and the kernel record of each object it makes is charged to its quota,
//! and refunded when the frame or object goes. A call that would go past
//! the quota fails with [`Status::QuotaExhausted`]; one the kernel cannot
//! serve from its own memory, with [`Status::OutOfMemory`] or the
//! capability error `OutOfMemory` (`0x10B`); never a kernel fault. When a
//! component ends (it exits or faults), every capability it holds is
//! deleted, as if it had deleted each, and the VPs its threads run go.
//!
//! # Memory layout of a component
//!
//! The kernel loads the component's ELF image (static, non-PIE, `PT_LOAD`
//! segments page aligned, below [`USER_SPACE_END`]), maps a stack of
//! [`STACK_SIZE`] bytes ending at [`STACK_TOP`], and starts the first thread
//! at the ELF entry point with `rsp = STACK_TOP` and every general register
//! zero. Everything else is unmapped; touching it stops the component.
#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

pub mod audit;
pub mod vm;

/// The ABI this crate describes.
pub const ABI_VERSION: u32 = 15;

/// Message words that travel in registers on every IPC operation.
pub const MESSAGE_WORDS: usize = 6;

/// Slots in each component's capability space.
pub const CSPACE_SLOTS: u32 = 64;

/// The selector value that names no slot.
pub const NO_SELECTOR: u32 = u32::MAX;

/// The slots the kernel fills before a component starts.
pub mod slot {
    /// The component's own protection domain.
    pub const DOMAIN: u32 = 0;
    /// The component's initial thread.
    pub const THREAD: u32 = 1;
    /// The console, if the manifest says `console = true`.
    pub const CONSOLE: u32 = 2;
    /// The verdict capability, if the manifest says `verdict = true`: ends the
    /// deployment with pass or fail (for test deployments).
    pub const VERDICT: u32 = 3;
    /// The first slot the manifest assigns.
    pub const FIRST_GRANTED: u32 = 4;
}

/// The initial thread's message buffer (one page, above the stack and its
/// guard page), and how many words it holds.
pub const MESSAGE_BUFFER_ADDRESS: u64 = STACK_TOP + 0x1000;
pub const MESSAGE_BUFFER_WORDS: usize = 512;

// The layout's promises, checked when the crate compiles.
const _: () = {
    assert!(STACK_TOP < USER_SPACE_END);
    assert!(STACK_TOP.is_multiple_of(4096) && STACK_SIZE.is_multiple_of(4096));
    assert!(
        MESSAGE_BUFFER_ADDRESS >= STACK_TOP + 4096,
        "a guard page above the stack"
    );
    assert!(MESSAGE_BUFFER_ADDRESS + 4096 <= USER_SPACE_END);
    assert!(MESSAGE_BUFFER_WORDS * 8 == 4096);
    assert!(slot::FIRST_GRANTED > slot::VERDICT);
};

/// Where a component's initial stack ends (exclusive), and its size.
pub const STACK_TOP: u64 = 0x0000_7FFF_FFFF_0000;
pub const STACK_SIZE: u64 = 64 * 1024;
/// Component images and stacks live below this address; above it is the
/// kernel's half.
pub const USER_SPACE_END: u64 = 0x0000_8000_0000_0000;

/// System call numbers (in `rax`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Syscall {
    /// Does nothing and returns success: the baseline for measurements.
    Null = 0,
    /// Writes `rsi` bytes (at most 40) packed little-endian in `rdx`, `r10`,
    /// `r8`, `r9`, `r12` to the console named by `rdi`. The kernel prints
    /// each complete line tagged with the component's name.
    ConsoleWrite = 1,
    /// Calls the endpoint in `rdi` with message words 0-5 and an optional
    /// capability transfer; blocks until the reply, which comes back in the
    /// same registers.
    Call = 2,
    /// Waits on the endpoint (receive capability) in `rdi` for a call; the
    /// call's badge comes back in `rdi`, its words in the message registers.
    Wait = 3,
    /// Replies to the call this thread received, with message words 0-5.
    /// A reply that stops the VP it answers ([`vm`]: STOP, any answer to
    /// a lifecycle message, or after a `VpStop`) takes effect
    /// before `Reply` returns: the VP is then stopped, with the reply's
    /// register effects applied.
    Reply = 4,
    /// Replies (as `Reply`), then waits (as `Wait`) on the endpoint in `rdi`:
    /// the server loop's one system call.
    ReplyWait = 5,
    /// ORs word 0 into the pending bits of the notification in `rdi`.
    Signal = 6,
    /// Waits until the notification in `rdi` has pending bits, returns them
    /// in word 0 and clears them.
    WaitNotification = 7,
    /// Gives up the rest of this thread's time slice.
    Yield = 8,
    /// Ends the calling component (all its threads); word 0 is the exit code,
    /// logged by the kernel. Does not return.
    Exit = 9,
    /// Ends the deployment through the verdict capability in `rdi`: word 0
    /// is 0 for pass, anything else for fail. Does not return on success.
    Verdict = 10,
    /// Derives the capability in `rdi` into the empty slot in word 0, with
    /// the rights in word 1 (a subset) and the badge in word 2 (0: none).
    CapDerive = 11,
    /// Deletes the capability in `rdi`. Deleting the last capability to a
    /// domain ends it, with every thread it has, wherever they run (since
    /// version 6): a component that must outlive the capabilities its maker
    /// holds keeps one to itself (init gives each one in slot 0). A domain
    /// that only domains which cannot run name (itself included) ends too.
    CapDelete = 12,
    /// Deletes everything derived from the capability in `rdi`.
    CapRevoke = 13,
    /// Creates a protection domain, charged to the domain in `rdi`
    /// (CONTROL): word 0 the empty slot for its capability, word 1 its
    /// kernel-memory quota in bytes (moved from the parent's, and back once
    /// it has ended, no capability names it and nothing it paid for is
    /// left), words 2-5 its name (up to 32 bytes, NUL padded).
    DomainCreate = 14,
    /// Maps fresh zeroed pages into the domain in `rdi` (CONTROL), charged
    /// to its quota: word 0 the page-aligned address, word 1 the page count,
    /// word 2 the rights ([`page`]); writable and executable together is
    /// refused.
    DomainMap = 15,
    /// Writes word 1 bytes (at most 32, in words 2-5) into the domain in
    /// `rdi` (CONTROL) at address word 0, which must be mapped.
    DomainWrite = 16,
    /// Creates a thread in the domain in `rdi` (CONTROL), not yet running:
    /// word 0 the empty slot for its capability, word 1 its entry point,
    /// word 2 its stack pointer, word 3 its priority (at most the caller's),
    /// word 4 its CPU, word 5 the other CPUs the kernel may move it to (bit
    /// `n`: CPU `n`; 0 keeps it on its CPU; CPUs the machine lacks are
    /// ignored). The kernel maps its message buffer.
    ThreadCreate = 17,
    /// Starts the thread in `rdi` (CONTROL).
    ThreadStart = 18,
    /// Creates an endpoint (word 1 = 0) or a notification (word 1 = 1) owned
    /// by the domain in `rdi` (CONTROL), with word 2 as the endpoint's
    /// priority ceiling; its capability (every right) goes to the caller's
    /// empty slot word 0.
    EndpointCreate = 19,
    /// Copies the caller's capability in slot word 0 into slot word 1 of the
    /// domain in `rdi` (CONTROL), with the rights in word 2 (a subset; the
    /// source needs GRANT) and the badge in word 3 (0: none).
    CapInstall = 20,
    /// Creates a memory region of word 1 zeroed pages, charged to the
    /// caller's quota; its capability (READ, WRITE, EXECUTE) goes to the
    /// caller's empty slot word 0.
    MemoryCreate = 21,
    /// Maps the whole region whose capability is in `rdi` into the domain
    /// whose CONTROL capability is in slot word 0, at the page-aligned
    /// address word 1, with the rights in word 2 ([`page`]; READ is needed,
    /// WRITE and EXECUTE each need that right on the region capability, and
    /// not both). Deleting or revoking the capability the mapping was made
    /// through removes the mapping on every CPU before that call returns.
    MemoryMap = 22,
    /// Creates a partition ([`vm`]) charged to the caller's quota; its
    /// capability (CONTROL, GRANT, DERIVE, REVOKE) goes to the empty slot
    /// word 0. Words 1-4 are its name (32 bytes, NUL padded), used in logs.
    /// Word 5 is its VPs' local APIC ([`vm::apic`]: none, xAPIC, or xAPIC
    /// with x2APIC offered); another value is [`Status::InvalidArgument`].
    PartitionCreate = 23,
    /// Maps the whole memory region whose capability is in slot word 0 into
    /// the partition in `rdi` (CONTROL) at the page-aligned GPA word 1 with
    /// the [`vm::map`] flags in word 2 (READABLE is needed; WRITABLE and
    /// the executable flags need WRITE and EXECUTE on the region
    /// capability). A range that overlaps a mapping is [`Status::Overlap`];
    /// one past [`vm::GPA_LIMIT`] is [`Status::InvalidArgument`]. Deleting
    /// or revoking the region capability removes the mapping, on every CPU,
    /// running VPs included, before that call returns.
    PartitionMapGpa = 24,
    /// Removes the mapping that starts at GPA word 0 from the partition in
    /// `rdi` (CONTROL), on every CPU, before the call returns.
    PartitionUnmapGpa = 25,
    /// Routes the exits of kind word 0 ([`vm::intercept`]) with the
    /// parameter word 1 to the endpoint whose capability (CALL) is in slot
    /// word 2, sending the general registers of mask word 3
    /// ([`vm::state`]); the route keeps the capability's badge. A range
    /// that overlaps a route of the same kind is [`Status::Overlap`]. Word
    /// 4 of an `io` route: the ports whose writes the kernel posts
    /// ([`vm::posted`]; 0 for none, and for every other kind).
    PartitionInstallIntercept = 26,
    /// Creates VP number word 1 (below [`vm::MAX_VPS`], unused in the
    /// partition) of the partition in `rdi` (CONTROL), to run on host CPU
    /// word 2 at priority word 3 (at most the caller's), charged to the
    /// caller; its capability (READ, WRITE, CONTROL) goes to slot word 0.
    /// It starts stopped, in the x86 reset state.
    VpCreate = 27,
    /// Reads word 0 registers of the stopped VP in `rdi` (READ): the
    /// message buffer holds `(HV_REGISTER_NAME, low, high)` word triples,
    /// whose values the call fills in (128-bit values in TLFS layout:
    /// segment registers `HV_X64_SEGMENT_REGISTER`, table registers
    /// `HV_X64_TABLE_REGISTER`). An unknown name is
    /// [`Status::InvalidArgument`], with word 0 set to its index.
    VpGetRegisters = 28,
    /// Writes word 0 `(HV_REGISTER_NAME, low, high)` triples from the
    /// message buffer into the stopped VP in `rdi` (WRITE). All or nothing:
    /// an unknown name or a value the architecture does not allow
    /// (non-canonical, reserved bits, a state VMRUN refuses) is
    /// [`Status::InvalidArgument`] with word 0 set to its index.
    VpSetRegisters = 29,
    /// Runs the stopped VP in `rdi` (CONTROL). Its partition needs a
    /// [`vm::intercept::LIFECYCLE`] route ([`Status::NoLifecycleRoute`]).
    VpStart = 30,
    /// Stops the VP in `rdi` (CONTROL) and returns once it has stopped:
    /// at once if it is not on a CPU; if it is in its guest, at its next
    /// exit (which the kernel forces), before the exit is handled (its
    /// instruction runs again when the VP is restarted). A VP waiting for a
    /// handler's answer stops with that answer, as the kernel accepts it
    /// (see [`Syscall::Reply`]); `VpStop` returns at once then. Another
    /// thread's `VpStop` still waiting for the same VP is [`Status::Busy`].
    VpStop = 31,
    /// Asserts the interrupt in word 0 ([`vm::event`], type external or
    /// NMI) on the VP in `rdi` (CONTROL): delivered when the guest can take
    /// it, and it wakes a VP parked by `HLT`. One external interrupt may be
    /// pending at a time ([`Status::Busy`]).
    VpAssertInterrupt = 32,
    /// Gives the partition in `rdi` (CONTROL) the Hv#1 interface
    /// ([`vm::hv1`]): the hypervisor CPUID leaves, synthetic MSRs and
    /// hypercalls, as the [`vm::hv1::WORDS`] message-buffer words describe
    /// them. Once given, the configuration is fixed: another one is
    /// [`Status::AlreadyConfigured`]. The same one again changes nothing
    /// before a VP has started; after, it is accepted only while every VP
    /// is stopped ([`Status::VpRunning`]) and resets the partition's Hv#1
    /// state (guest OS ID, hypercall page, VP assist pages), as a partition
    /// reset does. A configuration the Requirements document forbids, or
    /// one advertising what Tessera does not implement, is
    /// [`Status::InvalidArgument`].
    PartitionSetHv1 = 33,
    /// Delivers a device interrupt message ([`vm::interrupt`]: the
    /// vector in word 0, the destination APIC ID in word 1, the flags in
    /// word 2: trigger, destination mode, delivery mode) to the local
    /// APICs of the partition in `rdi` that the destination names, as an
    /// I/O APIC's message on the bus would (since version 7). The
    /// capability needs WRITE, which a partition's owner hands the one
    /// component that serves its interrupt controller; CONTROL is not
    /// needed, so that component can do nothing else to the partition.
    /// A vector below 16, a reserved flag bit or a delivery mode other
    /// than fixed, lowest priority or ExtINT is [`Status::InvalidArgument`]; a
    /// partition without local APICs is [`Status::NoApic`]. Word 0 of the
    /// answer is how many VPs accepted the message (0: the destination
    /// named none, as a message on the bus that no APIC takes).
    ///
    /// Delivery mode ExtINT ([`vm::interrupt::MODE_EXTINT`], since version
    /// 11) is the 8259 pair's INT output instead: word 0 its level (0 or
    /// 1), word 1 zero, word 2 the mode and no other flag. The bootstrap
    /// processor (VP 0) sees it on LINT0, or as INTR with its APIC
    /// globally disabled or absent (any partition); when it takes the
    /// interrupt it sends [`vm::TESSERA_INTERRUPT_ACKNOWLEDGE`] to the
    /// partition's `EOI` route, whose reply injects the vector. Word 0 of
    /// the answer is 1 (the level reached VP 0), or 0 before VP 0 exists.
    /// A partition without APICs takes it too (INTR).
    PartitionAssertInterrupt = 36,
    /// Reads what was typed on the console (see [`console_input`]) through
    /// the console capability in `rdi` (READ): up to word 0 bytes (at most
    /// 40; more is [`Status::InvalidArgument`]) come back packed
    /// little-endian in words 1-5, their count in word 0 (0: nothing was
    /// typed since the last read). Never blocks.
    ConsoleRead = 40,
    /// Has the kernel signal the notification in slot word 0 (WAIT: the
    /// caller's own) with the bits of word 1 whenever typed bytes arrive
    /// (see [`console_input`]), through the console capability in `rdi`
    /// (READ). Word 0 = [`NO_SELECTOR`] stops it. One notification at a
    /// time: the last call wins.
    ConsoleInputNotify = 41,
    /// Checks the kernel's own bookkeeping and reports it ([`audit`]): the
    /// capability and IPC invariants, the nested page tables against what
    /// should be mapped, and where every physical frame is. For tests and
    /// fuzzers: `rdi` MUST name the verdict capability (WRITE), which only
    /// a test deployment's judge holds, so the call adds nothing a
    /// production component can reach. The report goes to the message
    /// buffer ([`audit::WORDS`] words, `r14`); word 0 is also in message
    /// word 0.
    KernelAudit = 43,
    /// Has the kernel signal the notification in `rdi` (SIGNAL) with the
    /// bits of word 1 (non-zero) once word 0 microseconds have passed —
    /// never before, soon after (within the kernel's timer floor, 50 µs) —
    /// so a component can sleep until a deadline with `WaitNotification`.
    /// One deadline per notification and component: arming again replaces
    /// it, word 0 = [`TIMER_CANCEL`] disarms it. A component may have
    /// [`TIMERS_PER_COMPONENT`] armed at once; another is
    /// [`Status::OutOfMemory`]. Its deadlines end with it.
    TimerSignal = 44,
    /// Stores a SynIC register of the partition in `rdi` (WRITE: the
    /// capability the partition's `synic` component holds), as the guest
    /// wrote it and the component checked it: word 0 the VP index, word 1
    /// the MSR (`0x40000080`-`0x4000009F`), word 2 the value. The kernel
    /// checks the value again (a value the register refuses, an unknown VP
    /// or MSR: [`Status::InvalidArgument`], on which the component answers
    /// #GP), stores it, lays the SIM or SIEF page over the guest's memory
    /// or takes it away, and delivers what the write lets through (EOM, a
    /// newly enabled SCONTROL or SIMP). A partition without a SynIC is
    /// [`Status::NoSynic`]. Since version 8.
    PartitionSynicWrite = 46,
    /// Reads the SynIC registers of VP word 0 of the partition in `rdi`
    /// (WRITE) and the partition's register policy into the message
    /// buffer ([`vm::synic::STATE_WORDS`] words, [`vm::synic`]): how the
    /// `synic` component builds and rebuilds its copy. A partition without
    /// a SynIC is [`Status::NoSynic`]; an index no VP has,
    /// [`Status::InvalidArgument`]. Since version 8.
    PartitionSynicRead = 47,
    /// `HvCallCreatePort` (TLFS md `hypercalls/HvCallCreatePort.md`) in the
    /// partition in `rdi` (WRITE), which will receive through the port:
    /// the message buffer holds the 56-byte `HV_INPUT_CREATE_PORT`
    /// (`tlfs::port::HvInputCreatePort`); its partition fields name no
    /// partition (the capability does) and MUST be 0. Message and event
    /// ports for one VP; the statuses are `tessera_synic::ports`'s. Answers
    /// [`Status::Success`] with the `HV_STATUS` in word 0 (0: created),
    /// or [`Status::NoSynic`]. Since version 9.
    PartitionCreatePort = 48,
    /// `HvCallDeletePort`: port word 0 of the partition in `rdi` (WRITE),
    /// with the messages queued in it; connections to it become useless.
    /// The `HV_STATUS` in word 0. Since version 9.
    PartitionDeletePort = 49,
    /// `HvCallConnectPort`: connects the partition in `rdi` (WRITE), which
    /// will send, to a port of the partition whose capability (WRITE) is
    /// in slot word 0 (the same partition or another); the message buffer
    /// holds the 72-byte `HV_INPUT_CONNECT_PORT`
    /// (`tlfs::port::HvInputConnectPort`), its partition fields 0. The
    /// connection's ID is the sender's `HvCallPostMessage` /
    /// `HvCallSignalEvent` connection ID. The `HV_STATUS` in word 0.
    /// Since version 9.
    PartitionConnectPort = 50,
    /// `HvCallDisconnectPort`: connection word 0 of the partition in `rdi`
    /// (WRITE); messages it posted stay queued. The `HV_STATUS` in word 0.
    /// Since version 9.
    PartitionDisconnectPort = 51,
    /// A component posts a message to port word 0 of the partition in
    /// `rdi` (WRITE), as a connection to it would (`HvCallPostMessage`):
    /// word 1 the message type (non-zero, bit 31 clear: bit 31 is the
    /// hypervisor's), word 2 the payload size (at most 240), the payload in
    /// the message buffer. The `HV_STATUS` in word 0 (`INSUFFICIENT_BUFFERS`
    /// when the port's 16 buffers are in use: nothing is dropped). Since
    /// version 9.
    PartitionPostMessage = 52,
    /// A component signals flag word 1 (relative to the port's base) of
    /// event port word 0 of the partition in `rdi` (WRITE), as
    /// `HvCallSignalEvent` would. The `HV_STATUS` in word 0. Since version 9.
    PartitionSignalEvent = 53,
    /// Creates port word 0 (24 bits) of the partition in `rdi` (WRITE)
    /// for a component to receive through, instead of a VP's SINT: word 1
    /// its type (`HV_PORT_TYPE`: 1 message, 2 event), word 2 an event
    /// port's flag count (1-2048, flags numbered from 0; 0 for a message
    /// port), slot word 3 the endpoint (CALL) its owner serves: the
    /// capability's badge is what the owner sees, so it names the
    /// partition. A guest's `HvCallPostMessage` / `HvCallSignalEvent` on a
    /// connection to it (from the same partition only) wait in the kernel
    /// (16 messages, `HV_STATUS_INSUFFICIENT_BUFFERS` after; a pending bit
    /// per flag), and the owner is told with
    /// [`vm::TESSERA_PORT_ARRIVAL`]. Deleted with `PartitionDeletePort`.
    /// The `HV_STATUS` in word 0 (`INVALID_PORT_ID`: taken;
    /// `INVALID_PARAMETER`: an ID past 24 bits, another type, bad flags).
    /// Since version 15.
    PartitionCreateOwnedPort = 54,
    /// Takes what waits at component-owned port word 0 of the partition in
    /// `rdi` (WRITE). Word 0: the `HV_STATUS` (`INVALID_PORT_ID`: no such
    /// port, or a VP's). Word 1: 0 nothing (the doorbell is armed again),
    /// 1 a message — word 2 its type, word 3 its payload size (the payload
    /// in the message buffer), word 4 the sender's connection ID — or 2
    /// event flags — word 2 the count of words in the message buffer, bit
    /// n the port's flag n, each signalled since the last take. Since
    /// version 15.
    PartitionPortReceive = 55,
    /// A SINT route of `hyperv-testdev` (QEMU's test device) in the
    /// partition in `rdi` (WRITE): word 0 the VP index, word 1 the SINT,
    /// word 2 what to do ([`vm::sint_route`]: remove, add, raise). Raising
    /// asserts the SINT's vector if the SINT is unmasked, not polled and
    /// the SynIC enabled. The `HV_STATUS` in word 0
    /// (`INVALID_VP_INDEX`; `INVALID_PARAMETER`: a SINT past 15, an
    /// unknown action, adding a route that exists, removing or raising
    /// one that does not). Since version 15.
    PartitionSintRoute = 56,
    /// The time of day: word 0 is nanoseconds since the Unix epoch (UTC),
    /// from the host's real-time clock as the kernel read it at boot,
    /// carried forward by the TSC. `rdi` is ignored: the time of day is no
    /// one's to withhold, and a component can count time with the TSC
    /// anyway. A host whose clock could not be read is
    /// [`Status::NoWallClock`]. Since version 9.
    WallClock = 62,
}

/// `TimerSignal` word 0: disarm the notification's deadline.
pub const TIMER_CANCEL: u64 = u64::MAX;
/// Deadlines one component may have armed at once (`TimerSignal`).
pub const TIMERS_PER_COMPONENT: usize = 8;

impl Syscall {
    /// Every system call, in number order (numbers may have gaps: each
    /// branch of the project owns a range).
    pub const ALL: [Self; 51] = [
        Self::Null,
        Self::ConsoleWrite,
        Self::Call,
        Self::Wait,
        Self::Reply,
        Self::ReplyWait,
        Self::Signal,
        Self::WaitNotification,
        Self::Yield,
        Self::Exit,
        Self::Verdict,
        Self::CapDerive,
        Self::CapDelete,
        Self::CapRevoke,
        Self::DomainCreate,
        Self::DomainMap,
        Self::DomainWrite,
        Self::ThreadCreate,
        Self::ThreadStart,
        Self::EndpointCreate,
        Self::CapInstall,
        Self::MemoryCreate,
        Self::MemoryMap,
        Self::PartitionCreate,
        Self::PartitionMapGpa,
        Self::PartitionUnmapGpa,
        Self::PartitionInstallIntercept,
        Self::VpCreate,
        Self::VpGetRegisters,
        Self::VpSetRegisters,
        Self::VpStart,
        Self::VpStop,
        Self::VpAssertInterrupt,
        Self::PartitionSetHv1,
        Self::PartitionAssertInterrupt,
        Self::ConsoleRead,
        Self::ConsoleInputNotify,
        Self::KernelAudit,
        Self::TimerSignal,
        Self::PartitionSynicWrite,
        Self::PartitionSynicRead,
        Self::PartitionCreatePort,
        Self::PartitionDeletePort,
        Self::PartitionConnectPort,
        Self::PartitionDisconnectPort,
        Self::PartitionPostMessage,
        Self::PartitionSignalEvent,
        Self::PartitionCreateOwnedPort,
        Self::PartitionPortReceive,
        Self::PartitionSintRoute,
        Self::WallClock,
    ];

    /// Numbers below this may name a call.
    const NUMBERS: usize = 64;

    /// The call of each number, built from [`Self::ALL`] when the crate
    /// compiles: one bounds check and one load per system call.
    const BY_NUMBER: [Option<Self>; Self::NUMBERS] = {
        let mut table = [None; Self::NUMBERS];
        let mut index = 0;
        while index < Self::ALL.len() {
            let call = Self::ALL[index];
            assert!(
                (call as usize) < Self::NUMBERS,
                "a call number past the table"
            );
            assert!(table[call as usize].is_none(), "two calls with one number");
            table[call as usize] = Some(call);
            index += 1;
        }
        table
    };

    /// The call for a number in `rax`; `None` for any other value (the
    /// kernel answers [`Status::InvalidSyscall`]).
    pub fn from_number(number: u64) -> Option<Self> {
        usize::try_from(number)
            .ok()
            .and_then(|index| Self::BY_NUMBER.get(index).copied().flatten())
    }
}

/// The console's input: what is typed on the machine's serial port (COM1,
/// which the kernel owns).
///
/// The kernel takes each byte as it arrives (the UART's receive interrupt)
/// into a ring of [`console_input::RING_BYTES`] bytes; when the ring is
/// full, new bytes are dropped (and counted in the kernel's log) until the
/// reader catches up. Only a holder of a console capability with the READ
/// right reads them ([`Syscall::ConsoleRead`]); the manifest gives it to
/// at most one component (`console-input = true`, normally `devices`,
/// which passes the bytes to its partition's COM1). Instead of asking
/// again and again, the reader can have a notification signalled when
/// bytes arrive ([`Syscall::ConsoleInputNotify`]); while one is set, the
/// deployment never counts as finished for want of runnable threads (the
/// next key may wake it).
pub mod console_input {
    /// How many typed bytes the kernel keeps for the reader.
    pub const RING_BYTES: usize = 4096;
    /// The most bytes one `ConsoleRead` returns (words 1-5).
    pub const READ_MAX: usize = 40;
}

/// Page rights for `DomainMap` (word 2).
pub mod page {
    pub const WRITE: u64 = 1 << 0;
    pub const EXECUTE: u64 = 1 << 1;
}

/// Where components map memory regions: the runtime reads and writes
/// mapped regions only inside this window, which nothing else in a
/// component's address space uses.
pub const REGION_WINDOW: core::ops::Range<u64> = 0x0000_2000_0000_0000..0x0000_3000_0000_0000;

/// The most bytes one `DomainWrite` carries (words 2-5).
pub const DOMAIN_WRITE_MAX: usize = 32;

/// What the kernel gives the initial component, `init`, which builds the
/// deployment from the boot plan: the boot modules mapped read-only, and a
/// page describing them. `init` starts with its own domain (slot 0, whose
/// quota holds the whole deployment's component memory), its thread, the
/// console and the verdict; it hands out what the plan says and then drops
/// everything and exits.
pub mod init {
    /// The page describing the modules: word 0 [`MAGIC`], word 1 the module
    /// count, then per module [`MODULE_WORDS`] words: address, size in
    /// bytes, and the name (32 bytes, NUL padded).
    pub const BOOT_INFO_ADDRESS: u64 = 0x0000_0100_0000_0000;
    /// Where the modules are mapped, one after the other, page aligned.
    pub const MODULES_BASE: u64 = 0x0000_0100_0000_1000;
    pub const MAGIC: u64 = u64::from_le_bytes(*b"TSINIT01");
    pub const MODULE_WORDS: usize = 6;
    /// init's priority: above every component it builds.
    pub const PRIORITY: u8 = 255;
}

/// The most bytes one `ConsoleWrite` carries (5 words).
pub const CONSOLE_WRITE_MAX: usize = 40;

/// The longest console line the kernel prints in one piece: a component's
/// line that grows longer is cut there, and its rest printed as a line of
/// its own (so a component that wraps its own lines at word boundaries
/// keeps them at most this long).
pub const CONSOLE_LINE_MAX: usize = 200;

/// The capability transfer word (`r13`) of `Call`, `Reply` and `ReplyWait`.
///
/// Bits 31:0 name the sender's slot whose capability goes with the message
/// ([`NO_SELECTOR`]: none); the sender MUST hold GRANT on it. Bits 63:32 name
/// the empty slot where a capability coming back (with the reply, or with
/// the next call) is to be put ([`NO_SELECTOR`]: refuse any).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CapTransfer {
    pub send: u32,
    pub receive: u32,
}

impl CapTransfer {
    pub const NONE: Self = Self {
        send: NO_SELECTOR,
        receive: NO_SELECTOR,
    };

    pub const fn to_word(self) -> u64 {
        (self.send as u64) | ((self.receive as u64) << 32)
    }

    pub const fn from_word(word: u64) -> Self {
        Self {
            send: word as u32,
            receive: (word >> 32) as u32,
        }
    }
}

/// What a system call returns in `rax`.
///
/// Codes are grouped: 1-255 system call errors, 0x100 + n the capability
/// error n, 0x200 + n the IPC error n. A code this version does not list
/// MUST be treated as a failure by components.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Status {
    Success = 0,
    /// `rax` named no system call.
    InvalidSyscall = 1,
    /// An argument is out of range (for example a console write over 40 bytes).
    InvalidArgument = 2,
    /// The GPA range overlaps a mapping, or the intercept range a route.
    Overlap = 3,
    /// The VP must be stopped for this call.
    VpRunning = 4,
    /// The partition has no lifecycle route, so its VP may not start.
    NoLifecycleRoute = 5,
    /// An interrupt of that kind is already pending, or another thread's
    /// `VpStop` already waits for that VP.
    Busy = 6,
    /// The partition's Hv#1 configuration is set; only the same one may be
    /// given again (`PartitionSetHv1`).
    AlreadyConfigured = 7,
    /// The partition's VPs have no local APIC to deliver to
    /// (`PartitionAssertInterrupt`).
    NoApic = 22,
    /// The partition has no SynIC (no AccessSynicRegs in its Hv#1
    /// configuration): `PartitionSynicWrite`, `PartitionSynicRead`.
    NoSynic = 23,
    /// The host's real-time clock could not be read at boot
    /// (`WallClock`).
    NoWallClock = 32,
    /// The capability space named does not exist (a kernel bug).
    InvalidCSpace = 0x101,
    /// The selector is outside the capability space.
    InvalidSelector = 0x102,
    /// The slot is empty.
    EmptySlot = 0x103,
    /// The destination slot is not empty.
    SlotOccupied = 0x104,
    /// The capability names another kind of object than the call needs.
    WrongType = 0x105,
    /// The capability lacks a right the call needs.
    InsufficientRights = 0x106,
    /// A right that does not apply to that kind of object was asked for.
    RightsNotApplicable = 0x107,
    /// The capability already carries a badge.
    AlreadyBadged = 0x108,
    /// Only endpoint capabilities carry badges.
    BadgeNotApplicable = 0x109,
    /// The component's kernel-memory quota is used up.
    QuotaExhausted = 0x10A,
    /// The kernel's heap could not hold the capability records the call
    /// needs.
    CapabilityOutOfMemory = 0x10B,
    /// The thread named does not exist (a kernel bug).
    InvalidThread = 0x201,
    /// The calling thread cannot run (a kernel bug).
    NotRunnable = 0x202,
    /// The calling thread has a wakeup the kernel has not delivered (a
    /// kernel bug).
    WakeupPending = 0x203,
    /// The endpoint was restarted since this capability was made.
    StaleEndpoint = 0x204,
    /// The notification no longer exists.
    StaleNotification = 0x205,
    /// The server of the endpoint died (its component faulted or exited).
    ServerDied = 0x206,
    /// The endpoint no longer exists.
    EndpointDestroyed = 0x207,
    /// The notification was destroyed while the thread waited on it.
    NotificationDestroyed = 0x208,
    /// `Reply` without a call to answer (or the caller died).
    NoCaller = 0x209,
    /// `Wait` while a reply is still owed.
    ReplyPending = 0x20A,
    /// The caller's priority is above the endpoint's ceiling.
    AboveCeiling = 0x20B,
    /// The waiting thread's priority is below the endpoint's ceiling.
    BelowCeiling = 0x20C,
    /// Only the endpoint owner's threads may wait on it.
    NotOwner = 0x20D,
    /// The message has more words than the registers carry.
    MessageTooLong = 0x20E,
    /// The kernel ran out of memory for this operation.
    OutOfMemory = 0x20F,
}

impl Status {
    /// Every status the kernel returns.
    pub const KNOWN: [Self; 37] = [
        Self::Success,
        Self::InvalidSyscall,
        Self::InvalidArgument,
        Self::Overlap,
        Self::VpRunning,
        Self::NoLifecycleRoute,
        Self::Busy,
        Self::AlreadyConfigured,
        Self::NoApic,
        Self::NoSynic,
        Self::NoWallClock,
        Self::InvalidCSpace,
        Self::InvalidSelector,
        Self::EmptySlot,
        Self::SlotOccupied,
        Self::WrongType,
        Self::InsufficientRights,
        Self::RightsNotApplicable,
        Self::AlreadyBadged,
        Self::BadgeNotApplicable,
        Self::QuotaExhausted,
        Self::CapabilityOutOfMemory,
        Self::InvalidThread,
        Self::NotRunnable,
        Self::WakeupPending,
        Self::StaleEndpoint,
        Self::StaleNotification,
        Self::ServerDied,
        Self::EndpointDestroyed,
        Self::NotificationDestroyed,
        Self::NoCaller,
        Self::ReplyPending,
        Self::AboveCeiling,
        Self::BelowCeiling,
        Self::NotOwner,
        Self::MessageTooLong,
        Self::OutOfMemory,
    ];

    /// The status for a code in `rax`; `None` for codes this version does not know.
    pub fn from_code(code: u64) -> Option<Self> {
        Self::KNOWN
            .into_iter()
            .find(|status| *status as u64 == code)
    }

    pub const fn code(self) -> u64 {
        self as u64
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Success => "success",
            Self::InvalidSyscall => "no such system call",
            Self::InvalidArgument => "argument out of range",
            Self::Overlap => "range overlaps an existing mapping or route",
            Self::VpRunning => "the virtual processor is running",
            Self::NoLifecycleRoute => "the partition has no lifecycle route",
            Self::Busy => "an interrupt is already pending, or another stop waits",
            Self::AlreadyConfigured => "the partition's Hv#1 configuration is already set",
            Self::NoApic => "the partition has no local APIC",
            Self::NoSynic => "the partition has no SynIC",
            Self::NoWallClock => "the host's real-time clock could not be read",
            Self::InvalidCSpace => "no such capability space",
            Self::InvalidSelector => "selector outside the capability space",
            Self::EmptySlot => "empty capability slot",
            Self::SlotOccupied => "destination slot occupied",
            Self::WrongType => "capability names another kind of object",
            Self::InsufficientRights => "insufficient rights",
            Self::RightsNotApplicable => "right does not apply to this kind of object",
            Self::AlreadyBadged => "capability is already badged",
            Self::BadgeNotApplicable => "only endpoint capabilities carry badges",
            Self::QuotaExhausted => "kernel-memory quota exhausted",
            Self::CapabilityOutOfMemory => "kernel out of memory for capabilities",
            Self::InvalidThread => "no such thread",
            Self::NotRunnable => "the calling thread cannot run",
            Self::WakeupPending => "the calling thread has an undelivered wakeup",
            Self::StaleEndpoint => "the endpoint was restarted",
            Self::StaleNotification => "the notification no longer exists",
            Self::ServerDied => "the server died",
            Self::EndpointDestroyed => "the endpoint no longer exists",
            Self::NotificationDestroyed => "the notification was destroyed",
            Self::NoCaller => "no call to reply to",
            Self::ReplyPending => "a reply is still owed",
            Self::AboveCeiling => "caller priority above the endpoint's ceiling",
            Self::BelowCeiling => "waiter priority below the endpoint's ceiling",
            Self::NotOwner => "only the endpoint's owner may wait on it",
            Self::MessageTooLong => "message longer than the registers",
            Self::OutOfMemory => "kernel out of memory",
        };
        // The name too, so a log line can be searched for what the ABI
        // calls the status.
        write!(f, "{text} ({self:?}, {:#x})", self.code())
    }
}

/// Capability rights bits, as in `tessera-capability` (word 1 of `CapDerive`).
pub mod rights {
    pub const READ: u32 = 1 << 0;
    pub const WRITE: u32 = 1 << 1;
    pub const EXECUTE: u32 = 1 << 2;
    pub const CALL: u32 = 1 << 3;
    pub const RECEIVE: u32 = 1 << 4;
    pub const SIGNAL: u32 = 1 << 5;
    pub const WAIT: u32 = 1 << 6;
    pub const CONTROL: u32 = 1 << 7;
    pub const GRANT: u32 = 1 << 8;
    pub const DERIVE: u32 = 1 << 9;
    pub const REVOKE: u32 = 1 << 10;
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn syscall_numbers_round_trip_in_order() {
        for pair in Syscall::ALL.windows(2) {
            assert!((pair[0] as u64) < (pair[1] as u64), "{pair:?}");
        }
        for call in Syscall::ALL {
            assert_eq!(Syscall::from_number(call as u64), Some(call));
        }
        // 0-33 dense, then the usability block.
        assert_eq!(Syscall::from_number(33), Some(Syscall::PartitionSetHv1));
        assert_eq!(Syscall::from_number(40), Some(Syscall::ConsoleRead));
        assert_eq!(Syscall::from_number(41), Some(Syscall::ConsoleInputNotify));
        assert_eq!(Syscall::from_number(34), None);
        assert_eq!(Syscall::from_number(42), None);
        assert_eq!(Syscall::from_number(43), Some(Syscall::KernelAudit));
        let known = |n: u64| Syscall::ALL.iter().any(|&c| c as u64 == n);
        for number in 0..200 {
            assert_eq!(Syscall::from_number(number).is_some(), known(number));
        }
        assert_eq!(Syscall::from_number(u64::MAX), None);
    }

    #[test]
    fn every_known_status_has_its_own_code_and_text() {
        for (i, status) in Status::KNOWN.into_iter().enumerate() {
            assert_eq!(Status::from_code(status.code()), Some(status));
            assert!(
                Status::KNOWN[i + 1..]
                    .iter()
                    .all(|s| s.code() != status.code()),
                "{status:?}"
            );
            let text = status.to_string();
            assert!(
                text.ends_with(&std::format!("({status:?}, {:#x})", status.code())),
                "{text}"
            );
        }
        // The status issue 9 found returned but unnamed.
        assert_eq!(
            Status::from_code(0x10B),
            Some(Status::CapabilityOutOfMemory)
        );
    }

    #[test]
    fn status_codes_keep_their_groups() {
        assert_eq!(Status::Success.code(), 0);
        assert_eq!(Status::EmptySlot.code(), 0x100 + 3);
        assert_eq!(Status::WrongType.code(), 0x100 + 5);
        assert_eq!(Status::ServerDied.code(), 0x200 + 6);
        assert_eq!(Status::from_code(0x105), Some(Status::WrongType));
        assert_eq!(Status::from_code(0x1234), None);
        assert_eq!(
            Status::EmptySlot.to_string(),
            "empty capability slot (EmptySlot, 0x103)"
        );
    }

    #[test]
    fn cap_transfer_word_packs_send_low_and_receive_high() {
        let transfer = CapTransfer {
            send: 5,
            receive: 9,
        };
        assert_eq!(transfer.to_word(), 0x0000_0009_0000_0005);
        assert_eq!(CapTransfer::from_word(0x0000_0009_0000_0005), transfer);
        assert_eq!(CapTransfer::NONE.to_word(), u64::MAX);
    }
}
