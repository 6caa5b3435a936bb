//! `HV_REGISTER_NAME`: identifiers of virtual processor registers, as used
//! by `HvCallGetVpRegisters` / `HvCallSetVpRegisters` and register
//! intercepts.
//!
//! TLFS md `datatypes/hv_register_name.md` (the architecture-neutral and x64
//! tables; the ARM64 table is left out), plus the x64 names that only TLFS
//! 6.0b §7.9 lists and that neither share a value nor a name with the
//! Markdown list (the YMM halves, the C-state power registers, the internal
//! statistics pages). Names that 6.0b spells differently for a value the
//! Markdown edition also lists (`HvX64RegisterMtrrCap` for
//! `HvX64RegisterMsrMtrrCap`, `HvX64RegisterSysenterRip` for
//! `…SysenterEip`, `HvX64RegisterEoi` for `HvX64RegisterSyntheticEoi`, …)
//! are represented by the Markdown name. Both sources agree on every value
//! they share.
//!
//! Constant names drop the `HvRegister` / `HvX64Register` prefix, keeping
//! `X64_` for the latter (`HvX64RegisterRip` → `HvRegisterName::X64_RIP`,
//! `HvRegisterVpIndex` → `HvRegisterName::VP_INDEX`).
//!
//! The constant list was transcribed mechanically from the Markdown table
//! (its comment column became the doc line); the tests check a hand-picked
//! sample against the table.

use tessera_open_enum::open_enum;

open_enum! {
    name;
    /// `HV_REGISTER_NAME` (32 bits).
    ///
    /// Open: an unknown register name from a guest is representable (the
    /// hypervisor answers it with `HV_STATUS_INVALID_PARAMETER`).
    pub struct HvRegisterName(u32);

    // --- Suspend / Migration (TLFS md `datatypes/hv_register_name.md`) ---
    /// Explicit VP suspend (set/clear by caller).
    EXPLICIT_SUSPEND = 0x00000000 => "HvRegisterExplicitSuspend",
    /// VP suspended due to intercept / hypervisor action.
    INTERCEPT_SUSPEND = 0x00000001 => "HvRegisterInterceptSuspend",
    /// Instruction emulation hints / statistics (if supported).
    INSTRUCTION_EMULATION_HINTS = 0x00000002 => "HvRegisterInstructionEmulationHints",
    /// Scheduler dispatch induced suspension.
    DISPATCH_SUSPEND = 0x00000003 => "HvRegisterDispatchSuspend",
    /// Internal state summary (read-only).
    INTERNAL_ACTIVITY_STATE = 0x00000004 => "HvRegisterInternalActivityState",
    // --- Version & Feature Discovery (128-bit unless noted) (TLFS md `datatypes/hv_register_name.md`) ---
    /// Matches CPUID 0x40000002.
    HYPERVISOR_VERSION = 0x00000100 => "HvRegisterHypervisorVersion",
    /// Matches CPUID 0x40000003.
    PRIVILEGES_AND_FEATURES_INFO = 0x00000200 => "HvRegisterPrivilegesAndFeaturesInfo",
    /// Matches CPUID 0x40000004.
    FEATURES_INFO = 0x00000201 => "HvRegisterFeaturesInfo",
    /// Matches CPUID 0x40000005.
    IMPLEMENTATION_LIMITS_INFO = 0x00000202 => "HvRegisterImplementationLimitsInfo",
    /// Matches CPUID 0x40000006.
    HARDWARE_FEATURES_INFO = 0x00000203 => "HvRegisterHardwareFeaturesInfo",
    /// Matches CPUID 0x40000007.
    CPU_MANAGEMENT_FEATURES_INFO = 0x00000204 => "HvRegisterCpuManagementFeaturesInfo",
    /// Matches CPUID 0x40000008.
    PASID_FEATURES_INFO = 0x00000205 => "HvRegisterPasidFeaturesInfo",
    /// Matches CPUID 0x4000000A.
    NESTED_VIRT_FEATURES_INFO = 0x00000207 => "HvRegisterNestedVirtFeaturesInfo",
    /// Matches CPUID 0x4000000B.
    IPT_FEATURES_INFO = 0x00000208 => "HvRegisterIptFeaturesInfo",
    // --- Guest Crash Registers (TLFS md `datatypes/hv_register_name.md`) ---
    /// Crash parameter 0.
    GUEST_CRASH_P0 = 0x00000210 => "HvRegisterGuestCrashP0",
    /// Crash parameter 1.
    GUEST_CRASH_P1 = 0x00000211 => "HvRegisterGuestCrashP1",
    /// Crash parameter 2.
    GUEST_CRASH_P2 = 0x00000212 => "HvRegisterGuestCrashP2",
    /// Crash parameter 3.
    GUEST_CRASH_P3 = 0x00000213 => "HvRegisterGuestCrashP3",
    /// Crash parameter 4.
    GUEST_CRASH_P4 = 0x00000214 => "HvRegisterGuestCrashP4",
    /// Crash control / notification.
    GUEST_CRASH_CTL = 0x00000215 => "HvRegisterGuestCrashCtl",
    // --- Frequency / Timing (TLFS md `datatypes/hv_register_name.md`) ---
    /// Nominal core frequency (kHz).
    PROCESSOR_CLOCK_FREQUENCY = 0x00000240 => "HvRegisterProcessorClockFrequency",
    /// Timer frequency (kHz).
    INTERRUPT_CLOCK_FREQUENCY = 0x00000241 => "HvRegisterInterruptClockFrequency",
    // --- Idle & Debug (TLFS md `datatypes/hv_register_name.md`) ---
    /// Guest idle hint / residency info.
    GUEST_IDLE = 0x00000250 => "HvRegisterGuestIdle",
    /// Debug / device options.
    DEBUG_DEVICE_OPTIONS = 0x00000260 => "HvRegisterDebugDeviceOptions",
    /// Memory zeroing behavior control.
    MEMORY_ZEROING_CONTROL = 0x00000270 => "HvRegisterMemoryZeroingControl",
    // --- Pending Events & Interrupt State (common encodings differ per arch) (TLFS md `datatypes/hv_register_name.md`) ---
    /// Pending event slot 0.
    PENDING_EVENT0 = 0x00010004 => "HvRegisterPendingEvent0",
    /// Pending event slot 1.
    PENDING_EVENT1 = 0x00010005 => "HvRegisterPendingEvent1",
    /// Deliverability notification bitmap.
    DELIVERABILITY_NOTIFICATIONS = 0x00010006 => "HvRegisterDeliverabilityNotifications",
    /// Pending event slot 2.
    PENDING_EVENT2 = 0x00010008 => "HvRegisterPendingEvent2",
    /// Pending event slot 3.
    PENDING_EVENT3 = 0x00010009 => "HvRegisterPendingEvent3",
    // --- Runtime / Context (TLFS md `datatypes/hv_register_name.md`) ---
    /// VP runtime (time units).
    VP_RUNTIME = 0x00090000 => "HvRegisterVpRuntime",
    /// Guest OS identification.
    GUEST_OS_ID = 0x00090002 => "HvRegisterGuestOsId",
    /// VP index (read-only).
    VP_INDEX = 0x00090003 => "HvRegisterVpIndex",
    /// Time reference counter.
    TIME_REF_COUNT = 0x00090004 => "HvRegisterTimeRefCount",
    /// CPU management interface version.
    CPU_MANAGEMENT_VERSION = 0x00090007 => "HvRegisterCpuManagementVersion",
    /// VP assist page GPA.
    VP_ASSIST_PAGE = 0x00090013 => "HvRegisterVpAssistPage",
    /// Root signal count.
    VP_ROOT_SIGNAL_COUNT = 0x00090014 => "HvRegisterVpRootSignalCount",
    /// Reference TSC page GPA.
    REFERENCE_TSC = 0x00090017 => "HvRegisterReferenceTsc",
    /// Reference TSC sequence.
    REFERENCE_TSC_SEQUENCE = 0x0009001A => "HvRegisterReferenceTscSequence",
    /// Nested VP index.
    NESTED_VP_INDEX = 0x00091003 => "HvRegisterNestedVpIndex",
    // --- Performance Statistics (TLFS md `datatypes/hv_register_name.md`) ---
    /// Partition stats (retail subset).
    STATS_PARTITION_RETAIL = 0x00090020 => "HvRegisterStatsPartitionRetail",
    /// VP stats (retail).
    STATS_VP_RETAIL = 0x00090022 => "HvRegisterStatsVpRetail",
    // --- Synthetic Interrupt Controller (SynIC) – Primary (TLFS md `datatypes/hv_register_name.md`) ---
    /// Synthetic interrupt vector 0.
    SINT0 = 0x000A0000 => "HvRegisterSint0",
    /// Synthetic interrupt vector 1.
    SINT1 = 0x000A0001 => "HvRegisterSint1",
    /// Synthetic interrupt vector 2.
    SINT2 = 0x000A0002 => "HvRegisterSint2",
    /// Synthetic interrupt vector 3.
    SINT3 = 0x000A0003 => "HvRegisterSint3",
    /// Synthetic interrupt vector 4.
    SINT4 = 0x000A0004 => "HvRegisterSint4",
    /// Synthetic interrupt vector 5.
    SINT5 = 0x000A0005 => "HvRegisterSint5",
    /// Synthetic interrupt vector 6.
    SINT6 = 0x000A0006 => "HvRegisterSint6",
    /// Synthetic interrupt vector 7.
    SINT7 = 0x000A0007 => "HvRegisterSint7",
    /// Synthetic interrupt vector 8.
    SINT8 = 0x000A0008 => "HvRegisterSint8",
    /// Synthetic interrupt vector 9.
    SINT9 = 0x000A0009 => "HvRegisterSint9",
    /// Synthetic interrupt vector 10.
    SINT10 = 0x000A000A => "HvRegisterSint10",
    /// Synthetic interrupt vector 11.
    SINT11 = 0x000A000B => "HvRegisterSint11",
    /// Synthetic interrupt vector 12.
    SINT12 = 0x000A000C => "HvRegisterSint12",
    /// Synthetic interrupt vector 13.
    SINT13 = 0x000A000D => "HvRegisterSint13",
    /// Synthetic interrupt vector 14.
    SINT14 = 0x000A000E => "HvRegisterSint14",
    /// Synthetic interrupt vector 15.
    SINT15 = 0x000A000F => "HvRegisterSint15",
    /// SynIC control.
    SCONTROL = 0x000A0010 => "HvRegisterScontrol",
    /// SynIC version.
    SVERSION = 0x000A0011 => "HvRegisterSversion",
    /// SynIC EOI/FIFO page.
    SIFP = 0x000A0012 => "HvRegisterSifp",
    /// SynIC interrupt parameter page.
    SIPP = 0x000A0013 => "HvRegisterSipp",
    /// End-of-message.
    EOM = 0x000A0014 => "HvRegisterEom",
    /// Resend bitmap pointer.
    SIRBP = 0x000A0015 => "HvRegisterSirbp",
    // --- Synthetic Timers (TLFS md `datatypes/hv_register_name.md`) ---
    /// Timer 0 config.
    STIMER0_CONFIG = 0x000B0000 => "HvRegisterStimer0Config",
    /// Timer 0 count.
    STIMER0_COUNT = 0x000B0001 => "HvRegisterStimer0Count",
    /// Timer 1 config.
    STIMER1_CONFIG = 0x000B0002 => "HvRegisterStimer1Config",
    /// Timer 1 count.
    STIMER1_COUNT = 0x000B0003 => "HvRegisterStimer1Count",
    /// Timer 2 config.
    STIMER2_CONFIG = 0x000B0004 => "HvRegisterStimer2Config",
    /// Timer 2 count.
    STIMER2_COUNT = 0x000B0005 => "HvRegisterStimer2Count",
    /// Timer 3 config.
    STIMER3_CONFIG = 0x000B0006 => "HvRegisterStimer3Config",
    /// Timer 3 count.
    STIMER3_COUNT = 0x000B0007 => "HvRegisterStimer3Count",
    /// Unhalted timer config.
    STIME_UNHALTED_TIMER_CONFIG = 0x000B0100 => "HvRegisterStimeUnhaltedTimerConfig",
    /// Unhalted timer count.
    STIME_UNHALTED_TIMER_COUNT = 0x000B0101 => "HvRegisterStimeUnhaltedTimerCount",
    // --- Virtual Secure Mode (VSM) / Isolation (TLFS md `datatypes/hv_register_name.md`) ---
    /// VSM code page offsets.
    VSM_CODE_PAGE_OFFSETS = 0x000D0002 => "HvRegisterVsmCodePageOffsets",
    /// VSM VP status.
    VSM_VP_STATUS = 0x000D0003 => "HvRegisterVsmVpStatus",
    /// VSM partition status.
    VSM_PARTITION_STATUS = 0x000D0004 => "HvRegisterVsmPartitionStatus",
    /// VSM VINA.
    VSM_VINA = 0x000D0005 => "HvRegisterVsmVina",
    /// VSM capability bits.
    VSM_CAPABILITIES = 0x000D0006 => "HvRegisterVsmCapabilities",
    /// VSM partition config.
    VSM_PARTITION_CONFIG = 0x000D0007 => "HvRegisterVsmPartitionConfig",
    /// Secure config VTL0.
    VSM_VP_SECURE_CONFIG_VTL0 = 0x000D0010 => "HvRegisterVsmVpSecureConfigVtl0",
    /// Secure config VTL1.
    VSM_VP_SECURE_CONFIG_VTL1 = 0x000D0011 => "HvRegisterVsmVpSecureConfigVtl1",
    /// Secure config VTL2.
    VSM_VP_SECURE_CONFIG_VTL2 = 0x000D0012 => "HvRegisterVsmVpSecureConfigVtl2",
    /// Secure config VTL3.
    VSM_VP_SECURE_CONFIG_VTL3 = 0x000D0013 => "HvRegisterVsmVpSecureConfigVtl3",
    /// Secure config VTL4.
    VSM_VP_SECURE_CONFIG_VTL4 = 0x000D0014 => "HvRegisterVsmVpSecureConfigVtl4",
    /// Secure config VTL5.
    VSM_VP_SECURE_CONFIG_VTL5 = 0x000D0015 => "HvRegisterVsmVpSecureConfigVtl5",
    /// Secure config VTL6.
    VSM_VP_SECURE_CONFIG_VTL6 = 0x000D0016 => "HvRegisterVsmVpSecureConfigVtl6",
    /// Secure config VTL7.
    VSM_VP_SECURE_CONFIG_VTL7 = 0x000D0017 => "HvRegisterVsmVpSecureConfigVtl7",
    /// Secure config VTL8.
    VSM_VP_SECURE_CONFIG_VTL8 = 0x000D0018 => "HvRegisterVsmVpSecureConfigVtl8",
    /// Secure config VTL9.
    VSM_VP_SECURE_CONFIG_VTL9 = 0x000D0019 => "HvRegisterVsmVpSecureConfigVtl9",
    /// Secure config VTL10.
    VSM_VP_SECURE_CONFIG_VTL10 = 0x000D001A => "HvRegisterVsmVpSecureConfigVtl10",
    /// Secure config VTL11.
    VSM_VP_SECURE_CONFIG_VTL11 = 0x000D001B => "HvRegisterVsmVpSecureConfigVtl11",
    /// Secure config VTL12.
    VSM_VP_SECURE_CONFIG_VTL12 = 0x000D001C => "HvRegisterVsmVpSecureConfigVtl12",
    /// Secure config VTL13.
    VSM_VP_SECURE_CONFIG_VTL13 = 0x000D001D => "HvRegisterVsmVpSecureConfigVtl13",
    /// Secure config VTL14.
    VSM_VP_SECURE_CONFIG_VTL14 = 0x000D001E => "HvRegisterVsmVpSecureConfigVtl14",
    /// Wait for TLB lock (synchronization).
    VSM_VP_WAIT_FOR_TLB_LOCK = 0x000D0020 => "HvRegisterVsmVpWaitForTlbLock",
    /// Isolation capability bits.
    ISOLATION_CAPABILITIES = 0x000D0100 => "HvRegisterIsolationCapabilities",
    // --- Interrupt & Pending State (x64 additions) (TLFS md `datatypes/hv_register_name.md`) ---
    /// Pending interruption descriptor.
    PENDING_INTERRUPTION = 0x00010002 => "HvRegisterPendingInterruption",
    /// Interrupt state flags.
    INTERRUPT_STATE = 0x00010003 => "HvRegisterInterruptState",
    /// Pending debug exception info.
    X64_PENDING_DEBUG_EXCEPTION = 0x00010007 => "HvX64RegisterPendingDebugException",
    // --- General Purpose & Instruction State (TLFS md `datatypes/hv_register_name.md`) ---
    /// RAX.
    X64_RAX = 0x00020000 => "HvX64RegisterRax",
    /// RCX.
    X64_RCX = 0x00020001 => "HvX64RegisterRcx",
    /// RDX.
    X64_RDX = 0x00020002 => "HvX64RegisterRdx",
    /// RBX.
    X64_RBX = 0x00020003 => "HvX64RegisterRbx",
    /// RSP.
    X64_RSP = 0x00020004 => "HvX64RegisterRsp",
    /// RBP.
    X64_RBP = 0x00020005 => "HvX64RegisterRbp",
    /// RSI.
    X64_RSI = 0x00020006 => "HvX64RegisterRsi",
    /// RDI.
    X64_RDI = 0x00020007 => "HvX64RegisterRdi",
    /// R8.
    X64_R8 = 0x00020008 => "HvX64RegisterR8",
    /// R9.
    X64_R9 = 0x00020009 => "HvX64RegisterR9",
    /// R10.
    X64_R10 = 0x0002000A => "HvX64RegisterR10",
    /// R11.
    X64_R11 = 0x0002000B => "HvX64RegisterR11",
    /// R12.
    X64_R12 = 0x0002000C => "HvX64RegisterR12",
    /// R13.
    X64_R13 = 0x0002000D => "HvX64RegisterR13",
    /// R14.
    X64_R14 = 0x0002000E => "HvX64RegisterR14",
    /// R15.
    X64_R15 = 0x0002000F => "HvX64RegisterR15",
    /// RIP.
    X64_RIP = 0x00020010 => "HvX64RegisterRip",
    /// RFLAGS.
    X64_RFLAGS = 0x00020011 => "HvX64RegisterRflags",
    // --- Floating Point / SIMD (TLFS md `datatypes/hv_register_name.md`) ---
    /// XMM0.
    X64_XMM0 = 0x00030000 => "HvX64RegisterXmm0",
    /// XMM1.
    X64_XMM1 = 0x00030001 => "HvX64RegisterXmm1",
    /// XMM2.
    X64_XMM2 = 0x00030002 => "HvX64RegisterXmm2",
    /// XMM3.
    X64_XMM3 = 0x00030003 => "HvX64RegisterXmm3",
    /// XMM4.
    X64_XMM4 = 0x00030004 => "HvX64RegisterXmm4",
    /// XMM5.
    X64_XMM5 = 0x00030005 => "HvX64RegisterXmm5",
    /// XMM6.
    X64_XMM6 = 0x00030006 => "HvX64RegisterXmm6",
    /// XMM7.
    X64_XMM7 = 0x00030007 => "HvX64RegisterXmm7",
    /// XMM8.
    X64_XMM8 = 0x00030008 => "HvX64RegisterXmm8",
    /// XMM9.
    X64_XMM9 = 0x00030009 => "HvX64RegisterXmm9",
    /// XMM10.
    X64_XMM10 = 0x0003000A => "HvX64RegisterXmm10",
    /// XMM11.
    X64_XMM11 = 0x0003000B => "HvX64RegisterXmm11",
    /// XMM12.
    X64_XMM12 = 0x0003000C => "HvX64RegisterXmm12",
    /// XMM13.
    X64_XMM13 = 0x0003000D => "HvX64RegisterXmm13",
    /// XMM14.
    X64_XMM14 = 0x0003000E => "HvX64RegisterXmm14",
    /// XMM15.
    X64_XMM15 = 0x0003000F => "HvX64RegisterXmm15",
    /// ST0 / MMX0.
    X64_FP_MMX0 = 0x00030010 => "HvX64RegisterFpMmx0",
    /// ST1 / MMX1.
    X64_FP_MMX1 = 0x00030011 => "HvX64RegisterFpMmx1",
    /// ST2 / MMX2.
    X64_FP_MMX2 = 0x00030012 => "HvX64RegisterFpMmx2",
    /// ST3 / MMX3.
    X64_FP_MMX3 = 0x00030013 => "HvX64RegisterFpMmx3",
    /// ST4 / MMX4.
    X64_FP_MMX4 = 0x00030014 => "HvX64RegisterFpMmx4",
    /// ST5 / MMX5.
    X64_FP_MMX5 = 0x00030015 => "HvX64RegisterFpMmx5",
    /// ST6 / MMX6.
    X64_FP_MMX6 = 0x00030016 => "HvX64RegisterFpMmx6",
    /// ST7 / MMX7.
    X64_FP_MMX7 = 0x00030017 => "HvX64RegisterFpMmx7",
    /// x87 control/status.
    X64_FP_CONTROL_STATUS = 0x00030018 => "HvX64RegisterFpControlStatus",
    /// MXCSR.
    X64_XMM_CONTROL_STATUS = 0x00030019 => "HvX64RegisterXmmControlStatus",
    // --- Control & Intermediate Control Registers (TLFS md `datatypes/hv_register_name.md`) ---
    /// CR0.
    X64_CR0 = 0x00040000 => "HvX64RegisterCr0",
    /// CR2.
    X64_CR2 = 0x00040001 => "HvX64RegisterCr2",
    /// CR3.
    X64_CR3 = 0x00040002 => "HvX64RegisterCr3",
    /// CR4.
    X64_CR4 = 0x00040003 => "HvX64RegisterCr4",
    /// CR8.
    X64_CR8 = 0x00040004 => "HvX64RegisterCr8",
    /// Extended feature enable mask.
    X64_XFEM = 0x00040005 => "HvX64RegisterXfem",
    /// Virtualization shadow CR0.
    X64_INTERMEDIATE_CR0 = 0x00041000 => "HvX64RegisterIntermediateCr0",
    /// Virtualization shadow CR4.
    X64_INTERMEDIATE_CR4 = 0x00041003 => "HvX64RegisterIntermediateCr4",
    /// Virtualization shadow CR8.
    X64_INTERMEDIATE_CR8 = 0x00041004 => "HvX64RegisterIntermediateCr8",
    // --- Debug Registers (TLFS md `datatypes/hv_register_name.md`) ---
    /// DR0.
    X64_DR0 = 0x00050000 => "HvX64RegisterDr0",
    /// DR1.
    X64_DR1 = 0x00050001 => "HvX64RegisterDr1",
    /// DR2.
    X64_DR2 = 0x00050002 => "HvX64RegisterDr2",
    /// DR3.
    X64_DR3 = 0x00050003 => "HvX64RegisterDr3",
    /// DR6.
    X64_DR6 = 0x00050004 => "HvX64RegisterDr6",
    /// DR7.
    X64_DR7 = 0x00050005 => "HvX64RegisterDr7",
    // --- Segment Registers (TLFS md `datatypes/hv_register_name.md`) ---
    /// ES.
    X64_ES = 0x00060000 => "HvX64RegisterEs",
    /// CS.
    X64_CS = 0x00060001 => "HvX64RegisterCs",
    /// SS.
    X64_SS = 0x00060002 => "HvX64RegisterSs",
    /// DS.
    X64_DS = 0x00060003 => "HvX64RegisterDs",
    /// FS.
    X64_FS = 0x00060004 => "HvX64RegisterFs",
    /// GS.
    X64_GS = 0x00060005 => "HvX64RegisterGs",
    /// LDTR.
    X64_LDTR = 0x00060006 => "HvX64RegisterLdtr",
    /// Task register.
    X64_TR = 0x00060007 => "HvX64RegisterTr",
    // --- Table Registers (TLFS md `datatypes/hv_register_name.md`) ---
    /// IDT descriptor.
    X64_IDTR = 0x00070000 => "HvX64RegisterIdtr",
    /// GDT descriptor.
    X64_GDTR = 0x00070001 => "HvX64RegisterGdtr",
    // --- Virtualized MSRs – Core & System (TLFS md `datatypes/hv_register_name.md`) ---
    /// TSC.
    X64_TSC = 0x00080000 => "HvX64RegisterTsc",
    /// EFER.
    X64_EFER = 0x00080001 => "HvX64RegisterEfer",
    /// KERNEL_GS_BASE.
    X64_KERNEL_GS_BASE = 0x00080002 => "HvX64RegisterKernelGsBase",
    /// APIC_BASE.
    X64_APIC_BASE = 0x00080003 => "HvX64RegisterApicBase",
    /// PAT.
    X64_PAT = 0x00080004 => "HvX64RegisterPat",
    /// SYSENTER_CS.
    X64_SYSENTER_CS = 0x00080005 => "HvX64RegisterSysenterCs",
    /// SYSENTER_EIP.
    X64_SYSENTER_EIP = 0x00080006 => "HvX64RegisterSysenterEip",
    /// SYSENTER_ESP.
    X64_SYSENTER_ESP = 0x00080007 => "HvX64RegisterSysenterEsp",
    /// STAR.
    X64_STAR = 0x00080008 => "HvX64RegisterStar",
    /// LSTAR.
    X64_LSTAR = 0x00080009 => "HvX64RegisterLstar",
    /// CSTAR.
    X64_CSTAR = 0x0008000A => "HvX64RegisterCstar",
    /// SFMASK.
    X64_SFMASK = 0x0008000B => "HvX64RegisterSfmask",
    /// Initial APIC ID.
    X64_INITIAL_APIC_ID = 0x0008000C => "HvX64RegisterInitialApicId",
    // --- Cache Control (MTRR Set) (TLFS md `datatypes/hv_register_name.md`) ---
    /// MTRR capability.
    X64_MSR_MTRR_CAP = 0x0008000D => "HvX64RegisterMsrMtrrCap",
    /// Default type.
    X64_MSR_MTRR_DEF_TYPE = 0x0008000E => "HvX64RegisterMsrMtrrDefType",
    /// Variable range base 0.
    X64_MSR_MTRR_PHYS_BASE0 = 0x00080010 => "HvX64RegisterMsrMtrrPhysBase0",
    /// Variable range base 1.
    X64_MSR_MTRR_PHYS_BASE1 = 0x00080011 => "HvX64RegisterMsrMtrrPhysBase1",
    /// Variable range base 2.
    X64_MSR_MTRR_PHYS_BASE2 = 0x00080012 => "HvX64RegisterMsrMtrrPhysBase2",
    /// Variable range base 3.
    X64_MSR_MTRR_PHYS_BASE3 = 0x00080013 => "HvX64RegisterMsrMtrrPhysBase3",
    /// Variable range base 4.
    X64_MSR_MTRR_PHYS_BASE4 = 0x00080014 => "HvX64RegisterMsrMtrrPhysBase4",
    /// Variable range base 5.
    X64_MSR_MTRR_PHYS_BASE5 = 0x00080015 => "HvX64RegisterMsrMtrrPhysBase5",
    /// Variable range base 6.
    X64_MSR_MTRR_PHYS_BASE6 = 0x00080016 => "HvX64RegisterMsrMtrrPhysBase6",
    /// Variable range base 7.
    X64_MSR_MTRR_PHYS_BASE7 = 0x00080017 => "HvX64RegisterMsrMtrrPhysBase7",
    /// Variable range base 8.
    X64_MSR_MTRR_PHYS_BASE8 = 0x00080018 => "HvX64RegisterMsrMtrrPhysBase8",
    /// Variable range base 9.
    X64_MSR_MTRR_PHYS_BASE9 = 0x00080019 => "HvX64RegisterMsrMtrrPhysBase9",
    /// Variable range base A.
    X64_MSR_MTRR_PHYS_BASE_A = 0x0008001A => "HvX64RegisterMsrMtrrPhysBaseA",
    /// Variable range base B.
    X64_MSR_MTRR_PHYS_BASE_B = 0x0008001B => "HvX64RegisterMsrMtrrPhysBaseB",
    /// Variable range base C.
    X64_MSR_MTRR_PHYS_BASE_C = 0x0008001C => "HvX64RegisterMsrMtrrPhysBaseC",
    /// Variable range base D.
    X64_MSR_MTRR_PHYS_BASE_D = 0x0008001D => "HvX64RegisterMsrMtrrPhysBaseD",
    /// Variable range base E.
    X64_MSR_MTRR_PHYS_BASE_E = 0x0008001E => "HvX64RegisterMsrMtrrPhysBaseE",
    /// Variable range base F.
    X64_MSR_MTRR_PHYS_BASE_F = 0x0008001F => "HvX64RegisterMsrMtrrPhysBaseF",
    /// Variable range mask 0.
    X64_MSR_MTRR_PHYS_MASK0 = 0x00080040 => "HvX64RegisterMsrMtrrPhysMask0",
    /// Variable range mask 1.
    X64_MSR_MTRR_PHYS_MASK1 = 0x00080041 => "HvX64RegisterMsrMtrrPhysMask1",
    /// Variable range mask 2.
    X64_MSR_MTRR_PHYS_MASK2 = 0x00080042 => "HvX64RegisterMsrMtrrPhysMask2",
    /// Variable range mask 3.
    X64_MSR_MTRR_PHYS_MASK3 = 0x00080043 => "HvX64RegisterMsrMtrrPhysMask3",
    /// Variable range mask 4.
    X64_MSR_MTRR_PHYS_MASK4 = 0x00080044 => "HvX64RegisterMsrMtrrPhysMask4",
    /// Variable range mask 5.
    X64_MSR_MTRR_PHYS_MASK5 = 0x00080045 => "HvX64RegisterMsrMtrrPhysMask5",
    /// Variable range mask 6.
    X64_MSR_MTRR_PHYS_MASK6 = 0x00080046 => "HvX64RegisterMsrMtrrPhysMask6",
    /// Variable range mask 7.
    X64_MSR_MTRR_PHYS_MASK7 = 0x00080047 => "HvX64RegisterMsrMtrrPhysMask7",
    /// Variable range mask 8.
    X64_MSR_MTRR_PHYS_MASK8 = 0x00080048 => "HvX64RegisterMsrMtrrPhysMask8",
    /// Variable range mask 9.
    X64_MSR_MTRR_PHYS_MASK9 = 0x00080049 => "HvX64RegisterMsrMtrrPhysMask9",
    /// Variable range mask A.
    X64_MSR_MTRR_PHYS_MASK_A = 0x0008004A => "HvX64RegisterMsrMtrrPhysMaskA",
    /// Variable range mask B.
    X64_MSR_MTRR_PHYS_MASK_B = 0x0008004B => "HvX64RegisterMsrMtrrPhysMaskB",
    /// Variable range mask C.
    X64_MSR_MTRR_PHYS_MASK_C = 0x0008004C => "HvX64RegisterMsrMtrrPhysMaskC",
    /// Variable range mask D.
    X64_MSR_MTRR_PHYS_MASK_D = 0x0008004D => "HvX64RegisterMsrMtrrPhysMaskD",
    /// Variable range mask E.
    X64_MSR_MTRR_PHYS_MASK_E = 0x0008004E => "HvX64RegisterMsrMtrrPhysMaskE",
    /// Variable range mask F.
    X64_MSR_MTRR_PHYS_MASK_F = 0x0008004F => "HvX64RegisterMsrMtrrPhysMaskF",
    /// Fixed range.
    X64_MSR_MTRR_FIX64K00000 = 0x00080070 => "HvX64RegisterMsrMtrrFix64k00000",
    /// Fixed range.
    X64_MSR_MTRR_FIX16K80000 = 0x00080071 => "HvX64RegisterMsrMtrrFix16k80000",
    /// Fixed range.
    X64_MSR_MTRR_FIX16K_A0000 = 0x00080072 => "HvX64RegisterMsrMtrrFix16kA0000",
    /// Fixed 4K C0000.
    X64_MSR_MTRR_FIX4K_C0000 = 0x00080073 => "HvX64RegisterMsrMtrrFix4kC0000",
    /// Fixed 4K C8000.
    X64_MSR_MTRR_FIX4K_C8000 = 0x00080074 => "HvX64RegisterMsrMtrrFix4kC8000",
    /// Fixed 4K D0000.
    X64_MSR_MTRR_FIX4K_D0000 = 0x00080075 => "HvX64RegisterMsrMtrrFix4kD0000",
    /// Fixed 4K D8000.
    X64_MSR_MTRR_FIX4K_D8000 = 0x00080076 => "HvX64RegisterMsrMtrrFix4kD8000",
    /// Fixed 4K E0000.
    X64_MSR_MTRR_FIX4K_E0000 = 0x00080077 => "HvX64RegisterMsrMtrrFix4kE0000",
    /// Fixed 4K E8000.
    X64_MSR_MTRR_FIX4K_E8000 = 0x00080078 => "HvX64RegisterMsrMtrrFix4kE8000",
    /// Fixed 4K F0000.
    X64_MSR_MTRR_FIX4K_F0000 = 0x00080079 => "HvX64RegisterMsrMtrrFix4kF0000",
    /// Fixed 4K F8000.
    X64_MSR_MTRR_FIX4K_F8000 = 0x0008007A => "HvX64RegisterMsrMtrrFix4kF8000",
    // --- Additional Virtualized MSRs & Controls (TLFS md `datatypes/hv_register_name.md`) ---
    /// TSC_AUX.
    X64_TSC_AUX = 0x0008007B => "HvX64RegisterTscAux",
    /// MPX BNDcfgs.
    X64_BNDCFGS = 0x0008007C => "HvX64RegisterBndcfgs",
    /// DEBUGCTL.
    X64_DEBUG_CTL = 0x0008007D => "HvX64RegisterDebugCtl",
    /// Machine count (internal).
    X64_M_COUNT = 0x0008007E => "HvX64RegisterMCount",
    /// Auxiliary count (internal).
    X64_A_COUNT = 0x0008007F => "HvX64RegisterACount",
    /// SGX launch control 0.
    X64_SGX_LAUNCH_CONTROL0 = 0x00080080 => "HvX64RegisterSgxLaunchControl0",
    /// SGX launch control 1.
    X64_SGX_LAUNCH_CONTROL1 = 0x00080081 => "HvX64RegisterSgxLaunchControl1",
    /// SGX launch control 2.
    X64_SGX_LAUNCH_CONTROL2 = 0x00080082 => "HvX64RegisterSgxLaunchControl2",
    /// SGX launch control 3.
    X64_SGX_LAUNCH_CONTROL3 = 0x00080083 => "HvX64RegisterSgxLaunchControl3",
    /// IA32_SPEC_CTRL.
    X64_SPEC_CTRL = 0x00080084 => "HvX64RegisterSpecCtrl",
    /// IA32_PRED_CMD.
    X64_PRED_CMD = 0x00080085 => "HvX64RegisterPredCmd",
    /// Virtual spec control.
    X64_VIRT_SPEC_CTRL = 0x00080086 => "HvX64RegisterVirtSpecCtrl",
    /// Virtual TSC offset.
    X64_TSC_VIRTUAL_OFFSET = 0x00080087 => "HvX64RegisterTscVirtualOffset",
    /// TSX control.
    X64_TSX_CTRL = 0x00080088 => "HvX64RegisterTsxCtrl",
    /// IA32_XSS.
    X64_XSS = 0x0008008B => "HvX64RegisterXss",
    /// User CET.
    X64_U_CET = 0x0008008C => "HvX64RegisterUCet",
    /// Supervisor CET.
    X64_S_CET = 0x0008008D => "HvX64RegisterSCet",
    /// Shadow stack pointer.
    X64_SSP = 0x0008008E => "HvX64RegisterSsp",
    /// PL0 shadow stack pointer.
    X64_PL0_SSP = 0x0008008F => "HvX64RegisterPl0Ssp",
    /// PL1 shadow stack pointer.
    X64_PL1_SSP = 0x00080090 => "HvX64RegisterPl1Ssp",
    /// PL2 shadow stack pointer.
    X64_PL2_SSP = 0x00080091 => "HvX64RegisterPl2Ssp",
    /// PL3 shadow stack pointer.
    X64_PL3_SSP = 0x00080092 => "HvX64RegisterPl3Ssp",
    /// IST-like SSP table.
    X64_INTERRUPT_SSP_TABLE_ADDR = 0x00080093 => "HvX64RegisterInterruptSspTableAddr",
    /// TSC deadline.
    X64_TSC_DEADLINE = 0x00080095 => "HvX64RegisterTscDeadline",
    /// TSC adjust.
    X64_TSC_ADJUST = 0x00080096 => "HvX64RegisterTscAdjust",
    /// UMWAIT/TPAUSE control.
    X64_UMWAIT_CONTROL = 0x00080098 => "HvX64RegisterUmwaitControl",
    /// XFD.
    X64_XFD = 0x00080099 => "HvX64RegisterXfd",
    /// XFD error status.
    X64_XFD_ERR = 0x0008009A => "HvX64RegisterXfdErr",
    // --- Feature / Nested Virtualization Capability MSRs (TLFS md `datatypes/hv_register_name.md`) ---
    /// IA32_MISC_ENABLE.
    X64_MSR_IA32_MISC_ENABLE = 0x000800A0 => "HvX64RegisterMsrIa32MiscEnable",
    /// IA32_FEATURE_CONTROL.
    X64_IA32_FEATURE_CONTROL = 0x000800A1 => "HvX64RegisterIa32FeatureControl",
    /// VMX Basic.
    X64_IA32_VMX_BASIC = 0x000800A2 => "HvX64RegisterIa32VmxBasic",
    /// VMX Pinbased controls.
    X64_IA32_VMX_PINBASED_CTLS = 0x000800A3 => "HvX64RegisterIa32VmxPinbasedCtls",
    /// VMX Exit controls.
    X64_IA32_VMX_EXIT_CTLS = 0x000800A5 => "HvX64RegisterIa32VmxExitCtls",
    /// VMX Entry controls.
    X64_IA32_VMX_ENTRY_CTLS = 0x000800A6 => "HvX64RegisterIa32VmxEntryCtls",
    /// VMX misc.
    X64_IA32_VMX_MISC = 0x000800A7 => "HvX64RegisterIa32VmxMisc",
    /// VMX CR0 fixed0.
    X64_IA32_VMX_CR0_FIXED0 = 0x000800A8 => "HvX64RegisterIa32VmxCr0Fixed0",
    /// VMX CR0 fixed1.
    X64_IA32_VMX_CR0_FIXED1 = 0x000800A9 => "HvX64RegisterIa32VmxCr0Fixed1",
    /// VMX CR4 fixed0.
    X64_IA32_VMX_CR4_FIXED0 = 0x000800AA => "HvX64RegisterIa32VmxCr4Fixed0",
    /// VMX CR4 fixed1.
    X64_IA32_VMX_CR4_FIXED1 = 0x000800AB => "HvX64RegisterIa32VmxCr4Fixed1",
    /// VMX VMCS enum.
    X64_IA32_VMX_VMCS_ENUM = 0x000800AC => "HvX64RegisterIa32VmxVmcsEnum",
    /// Secondary proc-based controls.
    X64_IA32_VMX_PROCBASED_CTLS2 = 0x000800AD => "HvX64RegisterIa32VmxProcbasedCtls2",
    /// EPT/VPID capabilities.
    X64_IA32_VMX_EPT_VPID_CAP = 0x000800AE => "HvX64RegisterIa32VmxEptVpidCap",
    /// VMX True pinbased controls.
    X64_IA32_VMX_TRUE_PINBASED_CTLS = 0x000800AF => "HvX64RegisterIa32VmxTruePinbasedCtls",
    /// VMX True primary proc-based controls.
    X64_IA32_VMX_TRUE_PROCBASED_CTLS = 0x000800B0 => "HvX64RegisterIa32VmxTrueProcbasedCtls",
    /// VMX True exit controls.
    X64_IA32_VMX_TRUE_EXIT_CTLS = 0x000800B1 => "HvX64RegisterIa32VmxTrueExitCtls",
    /// VMX True entry controls.
    X64_IA32_VMX_TRUE_ENTRY_CTLS = 0x000800B2 => "HvX64RegisterIa32VmxTrueEntryCtls",
    /// SVM HSAVE PA.
    X64_AMD_VM_HSAVE_PA = 0x000800B3 => "HvX64RegisterAmdVmHsavePa",
    /// SVM VM_CR.
    X64_AMD_VM_CR = 0x000800B4 => "HvX64RegisterAmdVmCr",
    // --- Performance Monitoring & Tracing (TLFS md `datatypes/hv_register_name.md`) ---
    /// Perf global control.
    X64_PERF_GLOBAL_CTRL = 0x00081000 => "HvX64RegisterPerfGlobalCtrl",
    /// Perf global status.
    X64_PERF_GLOBAL_STATUS = 0x00081001 => "HvX64RegisterPerfGlobalStatus",
    /// Perf in-use mask.
    X64_PERF_GLOBAL_IN_USE = 0x00081002 => "HvX64RegisterPerfGlobalInUse",
    /// Fixed counter control.
    X64_FIXED_CTR_CTRL = 0x00081003 => "HvX64RegisterFixedCtrCtrl",
    /// DS area base.
    X64_DS_AREA = 0x00081004 => "HvX64RegisterDsArea",
    /// PEBS enable.
    X64_PEBS_ENABLE = 0x00081005 => "HvX64RegisterPebsEnable",
    /// PEBS load latency.
    X64_PEBS_LD_LAT = 0x00081006 => "HvX64RegisterPebsLdLat",
    /// PEBS frontend.
    X64_PEBS_FRONTEND = 0x00081007 => "HvX64RegisterPebsFrontend",
    /// PT control.
    X64_RTIT_CTL = 0x00081008 => "HvX64RegisterRtitCtl",
    /// PT status.
    X64_RTIT_STATUS = 0x00081009 => "HvX64RegisterRtitStatus",
    /// PT output base.
    X64_RTIT_OUTPUT_BASE = 0x0008100A => "HvX64RegisterRtitOutputBase",
    /// PT output mask/ptrs.
    X64_RTIT_OUTPUT_MASK_PTRS = 0x0008100B => "HvX64RegisterRtitOutputMaskPtrs",
    /// PT CR3 match.
    X64_RTIT_CR3_MATCH = 0x0008100C => "HvX64RegisterRtitCr3Match",
    /// First programmable event select.
    X64_PERF_EVT_SEL0 = 0x00081100 => "HvX64RegisterPerfEvtSel0",
    /// First PMC.
    X64_PMC0 = 0x00081200 => "HvX64RegisterPmc0",
    /// Fixed counter 0.
    X64_FIXED_CTR0 = 0x00081300 => "HvX64RegisterFixedCtr0",
    /// LBR top of stack.
    X64_LBR_TOS = 0x00082000 => "HvX64RegisterLbrTos",
    /// LBR select.
    X64_LBR_SELECT = 0x00082001 => "HvX64RegisterLbrSelect",
    /// Last exception from.
    X64_LER_FROM_LIP = 0x00082002 => "HvX64RegisterLerFromLip",
    /// Last exception to.
    X64_LER_TO_LIP = 0x00082003 => "HvX64RegisterLerToLip",
    /// LBR from 0.
    X64_LBR_FROM0 = 0x00082100 => "HvX64RegisterLbrFrom0",
    /// LBR to 0.
    X64_LBR_TO0 = 0x00082200 => "HvX64RegisterLbrTo0",
    /// LBR info 0.
    X64_LBR_INFO0 = 0x00083300 => "HvX64RegisterLbrInfo0",
    // --- APIC (x2APIC Mapped) Registers (TLFS md `datatypes/hv_register_name.md`) ---
    /// APIC ID.
    X64_APIC_ID = 0x00084802 => "HvX64RegisterApicId",
    /// APIC version.
    X64_APIC_VERSION = 0x00084803 => "HvX64RegisterApicVersion",
    /// Task priority.
    X64_APIC_TPR = 0x00084808 => "HvX64RegisterApicTpr",
    /// Processor priority.
    X64_APIC_PPR = 0x0008480A => "HvX64RegisterApicPpr",
    /// End of interrupt.
    X64_APIC_EOI = 0x0008480B => "HvX64RegisterApicEoi",
    /// Logical dest.
    X64_APIC_LDR = 0x0008480D => "HvX64RegisterApicLdr",
    /// Spurious vector.
    X64_APIC_SPURIOUS = 0x0008480F => "HvX64RegisterApicSpurious",
    /// In-service 0.
    X64_APIC_ISR0 = 0x00084810 => "HvX64RegisterApicIsr0",
    /// In-service 1.
    X64_APIC_ISR1 = 0x00084811 => "HvX64RegisterApicIsr1",
    /// In-service 2.
    X64_APIC_ISR2 = 0x00084812 => "HvX64RegisterApicIsr2",
    /// In-service 3.
    X64_APIC_ISR3 = 0x00084813 => "HvX64RegisterApicIsr3",
    /// In-service 4.
    X64_APIC_ISR4 = 0x00084814 => "HvX64RegisterApicIsr4",
    /// In-service 5.
    X64_APIC_ISR5 = 0x00084815 => "HvX64RegisterApicIsr5",
    /// In-service 6.
    X64_APIC_ISR6 = 0x00084816 => "HvX64RegisterApicIsr6",
    /// In-service 7.
    X64_APIC_ISR7 = 0x00084817 => "HvX64RegisterApicIsr7",
    /// Trigger mode 0.
    X64_APIC_TMR0 = 0x00084818 => "HvX64RegisterApicTmr0",
    /// Trigger mode 1.
    X64_APIC_TMR1 = 0x00084819 => "HvX64RegisterApicTmr1",
    /// Trigger mode 2.
    X64_APIC_TMR2 = 0x0008481A => "HvX64RegisterApicTmr2",
    /// Trigger mode 3.
    X64_APIC_TMR3 = 0x0008481B => "HvX64RegisterApicTmr3",
    /// Trigger mode 4.
    X64_APIC_TMR4 = 0x0008481C => "HvX64RegisterApicTmr4",
    /// Trigger mode 5.
    X64_APIC_TMR5 = 0x0008481D => "HvX64RegisterApicTmr5",
    /// Trigger mode 6.
    X64_APIC_TMR6 = 0x0008481E => "HvX64RegisterApicTmr6",
    /// Trigger mode 7.
    X64_APIC_TMR7 = 0x0008481F => "HvX64RegisterApicTmr7",
    /// Interrupt request 0.
    X64_APIC_IRR0 = 0x00084820 => "HvX64RegisterApicIrr0",
    /// Interrupt request 1.
    X64_APIC_IRR1 = 0x00084821 => "HvX64RegisterApicIrr1",
    /// Interrupt request 2.
    X64_APIC_IRR2 = 0x00084822 => "HvX64RegisterApicIrr2",
    /// Interrupt request 3.
    X64_APIC_IRR3 = 0x00084823 => "HvX64RegisterApicIrr3",
    /// Interrupt request 4.
    X64_APIC_IRR4 = 0x00084824 => "HvX64RegisterApicIrr4",
    /// Interrupt request 5.
    X64_APIC_IRR5 = 0x00084825 => "HvX64RegisterApicIrr5",
    /// Interrupt request 6.
    X64_APIC_IRR6 = 0x00084826 => "HvX64RegisterApicIrr6",
    /// Interrupt request 7.
    X64_APIC_IRR7 = 0x00084827 => "HvX64RegisterApicIrr7",
    /// Extended state enable.
    X64_APIC_ESE = 0x00084828 => "HvX64RegisterApicEse",
    /// Interrupt command.
    X64_APIC_ICR = 0x00084830 => "HvX64RegisterApicIcr",
    /// LVT Timer.
    X64_APIC_LVT_TIMER = 0x00084832 => "HvX64RegisterApicLvtTimer",
    /// LVT Thermal.
    X64_APIC_LVT_THERMAL = 0x00084833 => "HvX64RegisterApicLvtThermal",
    /// LVT PerfMon.
    X64_APIC_LVT_PERFMON = 0x00084834 => "HvX64RegisterApicLvtPerfmon",
    /// LVT LINT0.
    X64_APIC_LVT_LINT0 = 0x00084835 => "HvX64RegisterApicLvtLint0",
    /// LVT LINT1.
    X64_APIC_LVT_LINT1 = 0x00084836 => "HvX64RegisterApicLvtLint1",
    /// LVT Error.
    X64_APIC_LVT_ERROR = 0x00084837 => "HvX64RegisterApicLvtError",
    /// Timer initial count.
    X64_APIC_INIT_COUNT = 0x00084838 => "HvX64RegisterApicInitCount",
    /// Timer current count.
    X64_APIC_CURRENT_COUNT = 0x00084839 => "HvX64RegisterApicCurrentCount",
    /// Divide config.
    X64_APIC_DIVIDE = 0x0008483E => "HvX64RegisterApicDivide",
    /// Self IPI.
    X64_APIC_SELF_IPI = 0x0008483F => "HvX64RegisterApicSelfIpi",
    // --- Hypervisor-defined (Misc) & Synthetic MSRs (TLFS md `datatypes/hv_register_name.md`) ---
    /// Hypercall control MSR.
    X64_HYPERCALL = 0x00090001 => "HvX64RegisterHypercall",
    /// Synthetic EOI.
    X64_SYNTHETIC_EOI = 0x00090010 => "HvX64RegisterSyntheticEoi",
    /// Synthetic ICR.
    X64_SYNTHETIC_ICR = 0x00090011 => "HvX64RegisterSyntheticIcr",
    /// Synthetic TPR.
    X64_SYNTHETIC_TPR = 0x00090012 => "HvX64RegisterSyntheticTpr",
    /// Timer assist period.
    X64_EMULATED_TIMER_PERIOD = 0x00090030 => "HvX64RegisterEmulatedTimerPeriod",
    /// Timer assist control.
    X64_EMULATED_TIMER_CONTROL = 0x00090031 => "HvX64RegisterEmulatedTimerControl",
    /// PM timer assist.
    X64_PM_TIMER_ASSIST = 0x00090032 => "HvX64RegisterPmTimerAssist",
    // --- AMD SEV Configuration (TLFS md `datatypes/hv_register_name.md`) ---
    /// SEV control.
    X64_SEV_CONTROL = 0x00090040 => "HvX64RegisterSevControl",
    /// GHCB GPA.
    X64_SEV_GHCB_GPA = 0x00090041 => "HvX64RegisterSevGhcbGpa",
    /// See `HV_X64_REGISTER_SEV_GPA_PAGE`.
    X64_SEV_AVIC_GPA = 0x00090043 => "HvX64RegisterSevAvicGpa",
    // --- Nested State (TLFS md `datatypes/hv_register_name.md`) ---
    /// Nested guest state blob.
    X64_NESTED_GUEST_STATE = 0x00090050 => "HvX64RegisterNestedGuestState",
    /// Current nested VM GPA.
    X64_NESTED_CURRENT_VM_GPA = 0x00090051 => "HvX64RegisterNestedCurrentVmGpa",
    /// INV_EPT descriptor.
    X64_NESTED_VMX_INV_EPT = 0x00090052 => "HvX64RegisterNestedVmxInvEpt",
    /// INV_VPID descriptor.
    X64_NESTED_VMX_INV_VPID = 0x00090053 => "HvX64RegisterNestedVmxInvVpid",
    // --- Intercept Control (TLFS md `datatypes/hv_register_name.md`) ---
    /// Intercept control mask.
    X64_CR_INTERCEPT_CONTROL = 0x000E0000 => "HvX64RegisterCrInterceptControl",
    /// CR0 intercept mask.
    X64_CR_INTERCEPT_CR0_MASK = 0x000E0001 => "HvX64RegisterCrInterceptCr0Mask",
    /// CR4 intercept mask.
    X64_CR_INTERCEPT_CR4_MASK = 0x000E0002 => "HvX64RegisterCrInterceptCr4Mask",
    /// IA32_MISC_ENABLE intercept mask.
    X64_CR_INTERCEPT_IA32_MISC_ENABLE_MASK = 0x000E0003 => "HvX64RegisterCrInterceptIa32MiscEnableMask",
    // --- x64 GHCB (SEV-ES/SNP) (TLFS md `datatypes/hv_register_name.md`) ---
    /// GHCB MSR proxy (guest).
    X64_GHCB = 0x00090019 => "HvX64RegisterGhcb",
    // --- Only in TLFS 6.0b §7.9 (no value or name clash with the Markdown list) ---
    /// HvRegisterPowerStateConfigC1.
    POWER_STATE_CONFIG_C1 = 0x00000220 => "HvRegisterPowerStateConfigC1",
    /// HvRegisterPowerStateTriggerC1.
    POWER_STATE_TRIGGER_C1 = 0x00000221 => "HvRegisterPowerStateTriggerC1",
    /// HvRegisterPowerStateConfigC2.
    POWER_STATE_CONFIG_C2 = 0x00000222 => "HvRegisterPowerStateConfigC2",
    /// HvRegisterPowerStateTriggerC2.
    POWER_STATE_TRIGGER_C2 = 0x00000223 => "HvRegisterPowerStateTriggerC2",
    /// HvRegisterPowerStateConfigC3.
    POWER_STATE_CONFIG_C3 = 0x00000224 => "HvRegisterPowerStateConfigC3",
    /// HvRegisterPowerStateTriggerC3.
    POWER_STATE_TRIGGER_C3 = 0x00000225 => "HvRegisterPowerStateTriggerC3",
    /// HvRegisterStatsPartitionInternal.
    STATS_PARTITION_INTERNAL = 0x00090021 => "HvRegisterStatsPartitionInternal",
    /// HvRegisterStatsVpInternal.
    STATS_VP_INTERNAL = 0x00090023 => "HvRegisterStatsVpInternal",
    /// HvX64RegisterYmm0Low.
    X64_YMM0_LOW = 0x000C0000 => "HvX64RegisterYmm0Low",
    /// HvX64RegisterYmm1Low.
    X64_YMM1_LOW = 0x000C0001 => "HvX64RegisterYmm1Low",
    /// HvX64RegisterYmm2Low.
    X64_YMM2_LOW = 0x000C0002 => "HvX64RegisterYmm2Low",
    /// HvX64RegisterYmm3Low.
    X64_YMM3_LOW = 0x000C0003 => "HvX64RegisterYmm3Low",
    /// HvX64RegisterYmm4Low.
    X64_YMM4_LOW = 0x000C0004 => "HvX64RegisterYmm4Low",
    /// HvX64RegisterYmm5Low.
    X64_YMM5_LOW = 0x000C0005 => "HvX64RegisterYmm5Low",
    /// HvX64RegisterYmm6Low.
    X64_YMM6_LOW = 0x000C0006 => "HvX64RegisterYmm6Low",
    /// HvX64RegisterYmm7Low.
    X64_YMM7_LOW = 0x000C0007 => "HvX64RegisterYmm7Low",
    /// HvX64RegisterYmm8Low.
    X64_YMM8_LOW = 0x000C0008 => "HvX64RegisterYmm8Low",
    /// HvX64RegisterYmm9Low.
    X64_YMM9_LOW = 0x000C0009 => "HvX64RegisterYmm9Low",
    /// HvX64RegisterYmm10Low.
    X64_YMM10_LOW = 0x000C000A => "HvX64RegisterYmm10Low",
    /// HvX64RegisterYmm11Low.
    X64_YMM11_LOW = 0x000C000B => "HvX64RegisterYmm11Low",
    /// HvX64RegisterYmm12Low.
    X64_YMM12_LOW = 0x000C000C => "HvX64RegisterYmm12Low",
    /// HvX64RegisterYmm13Low.
    X64_YMM13_LOW = 0x000C000D => "HvX64RegisterYmm13Low",
    /// HvX64RegisterYmm14Low.
    X64_YMM14_LOW = 0x000C000E => "HvX64RegisterYmm14Low",
    /// HvX64RegisterYmm15Low.
    X64_YMM15_LOW = 0x000C000F => "HvX64RegisterYmm15Low",
    /// HvX64RegisterYmm0High.
    X64_YMM0_HIGH = 0x000C0010 => "HvX64RegisterYmm0High",
    /// HvX64RegisterYmm1High.
    X64_YMM1_HIGH = 0x000C0011 => "HvX64RegisterYmm1High",
    /// HvX64RegisterYmm2High.
    X64_YMM2_HIGH = 0x000C0012 => "HvX64RegisterYmm2High",
    /// HvX64RegisterYmm3High.
    X64_YMM3_HIGH = 0x000C0013 => "HvX64RegisterYmm3High",
    /// HvX64RegisterYmm4High.
    X64_YMM4_HIGH = 0x000C0014 => "HvX64RegisterYmm4High",
    /// HvX64RegisterYmm5High.
    X64_YMM5_HIGH = 0x000C0015 => "HvX64RegisterYmm5High",
    /// HvX64RegisterYmm6High.
    X64_YMM6_HIGH = 0x000C0016 => "HvX64RegisterYmm6High",
    /// HvX64RegisterYmm7High.
    X64_YMM7_HIGH = 0x000C0017 => "HvX64RegisterYmm7High",
    /// HvX64RegisterYmm8High.
    X64_YMM8_HIGH = 0x000C0018 => "HvX64RegisterYmm8High",
    /// HvX64RegisterYmm9High.
    X64_YMM9_HIGH = 0x000C0019 => "HvX64RegisterYmm9High",
    /// HvX64RegisterYmm10High.
    X64_YMM10_HIGH = 0x000C001A => "HvX64RegisterYmm10High",
    /// HvX64RegisterYmm11High.
    X64_YMM11_HIGH = 0x000C001B => "HvX64RegisterYmm11High",
    /// HvX64RegisterYmm12High.
    X64_YMM12_HIGH = 0x000C001C => "HvX64RegisterYmm12High",
    /// HvX64RegisterYmm13High.
    X64_YMM13_HIGH = 0x000C001D => "HvX64RegisterYmm13High",
    /// HvX64RegisterYmm14High.
    X64_YMM14_HIGH = 0x000C001E => "HvX64RegisterYmm14High",
    /// HvX64RegisterYmm15High.
    X64_YMM15_HIGH = 0x000C001F => "HvX64RegisterYmm15High",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_values() {
        // Hand-picked rows of datatypes/hv_register_name.md.
        let rows: &[(HvRegisterName, u32, &str)] = &[
            (
                HvRegisterName::EXPLICIT_SUSPEND,
                0x0000_0000,
                "HvRegisterExplicitSuspend",
            ),
            (
                HvRegisterName::HYPERVISOR_VERSION,
                0x0000_0100,
                "HvRegisterHypervisorVersion",
            ),
            (
                HvRegisterName::GUEST_CRASH_CTL,
                0x0000_0215,
                "HvRegisterGuestCrashCtl",
            ),
            (
                HvRegisterName::VP_RUNTIME,
                0x0009_0000,
                "HvRegisterVpRuntime",
            ),
            (
                HvRegisterName::GUEST_OS_ID,
                0x0009_0002,
                "HvRegisterGuestOsId",
            ),
            (HvRegisterName::VP_INDEX, 0x0009_0003, "HvRegisterVpIndex"),
            (
                HvRegisterName::TIME_REF_COUNT,
                0x0009_0004,
                "HvRegisterTimeRefCount",
            ),
            (
                HvRegisterName::VP_ASSIST_PAGE,
                0x0009_0013,
                "HvRegisterVpAssistPage",
            ),
            (
                HvRegisterName::REFERENCE_TSC,
                0x0009_0017,
                "HvRegisterReferenceTsc",
            ),
            (HvRegisterName::SINT0, 0x000A_0000, "HvRegisterSint0"),
            (HvRegisterName::SINT15, 0x000A_000F, "HvRegisterSint15"),
            (HvRegisterName::SCONTROL, 0x000A_0010, "HvRegisterScontrol"),
            (HvRegisterName::EOM, 0x000A_0014, "HvRegisterEom"),
            (
                HvRegisterName::STIMER0_CONFIG,
                0x000B_0000,
                "HvRegisterStimer0Config",
            ),
            (
                HvRegisterName::STIMER3_COUNT,
                0x000B_0007,
                "HvRegisterStimer3Count",
            ),
            (
                HvRegisterName::VSM_VP_STATUS,
                0x000D_0003,
                "HvRegisterVsmVpStatus",
            ),
            (
                HvRegisterName::PENDING_INTERRUPTION,
                0x0001_0002,
                "HvRegisterPendingInterruption",
            ),
            (HvRegisterName::X64_RAX, 0x0002_0000, "HvX64RegisterRax"),
            (HvRegisterName::X64_R15, 0x0002_000F, "HvX64RegisterR15"),
            (HvRegisterName::X64_RIP, 0x0002_0010, "HvX64RegisterRip"),
            (
                HvRegisterName::X64_RFLAGS,
                0x0002_0011,
                "HvX64RegisterRflags",
            ),
            (HvRegisterName::X64_XMM15, 0x0003_000F, "HvX64RegisterXmm15"),
            (
                HvRegisterName::X64_XMM_CONTROL_STATUS,
                0x0003_0019,
                "HvX64RegisterXmmControlStatus",
            ),
            (HvRegisterName::X64_CR0, 0x0004_0000, "HvX64RegisterCr0"),
            (HvRegisterName::X64_CR8, 0x0004_0004, "HvX64RegisterCr8"),
            (HvRegisterName::X64_DR7, 0x0005_0005, "HvX64RegisterDr7"),
            (HvRegisterName::X64_CS, 0x0006_0001, "HvX64RegisterCs"),
            (HvRegisterName::X64_TR, 0x0006_0007, "HvX64RegisterTr"),
            (HvRegisterName::X64_GDTR, 0x0007_0001, "HvX64RegisterGdtr"),
            (HvRegisterName::X64_EFER, 0x0008_0001, "HvX64RegisterEfer"),
            (
                HvRegisterName::X64_APIC_BASE,
                0x0008_0003,
                "HvX64RegisterApicBase",
            ),
            (
                HvRegisterName::X64_MSR_MTRR_FIX4K_F8000,
                0x0008_007A,
                "HvX64RegisterMsrMtrrFix4kF8000",
            ),
            (
                HvRegisterName::X64_TSC_AUX,
                0x0008_007B,
                "HvX64RegisterTscAux",
            ),
            (HvRegisterName::X64_U_CET, 0x0008_008C, "HvX64RegisterUCet"),
            (
                HvRegisterName::X64_AMD_VM_CR,
                0x0008_00B4,
                "HvX64RegisterAmdVmCr",
            ),
            (
                HvRegisterName::X64_APIC_ICR,
                0x0008_4830,
                "HvX64RegisterApicIcr",
            ),
            (
                HvRegisterName::X64_HYPERCALL,
                0x0009_0001,
                "HvX64RegisterHypercall",
            ),
            (
                HvRegisterName::X64_SYNTHETIC_EOI,
                0x0009_0010,
                "HvX64RegisterSyntheticEoi",
            ),
            (
                HvRegisterName::X64_SEV_AVIC_GPA,
                0x0009_0043,
                "HvX64RegisterSevAvicGpa",
            ),
            (
                HvRegisterName::X64_CR_INTERCEPT_CONTROL,
                0x000E_0000,
                "HvX64RegisterCrInterceptControl",
            ),
            (HvRegisterName::X64_GHCB, 0x0009_0019, "HvX64RegisterGhcb"),
            // TLFS 6.0b §7.9 only.
            (
                HvRegisterName::X64_YMM0_LOW,
                0x000C_0000,
                "HvX64RegisterYmm0Low",
            ),
            (
                HvRegisterName::X64_YMM15_HIGH,
                0x000C_001F,
                "HvX64RegisterYmm15High",
            ),
            (
                HvRegisterName::POWER_STATE_CONFIG_C1,
                0x0000_0220,
                "HvRegisterPowerStateConfigC1",
            ),
        ];
        for &(name, value, tlfs) in rows {
            assert_eq!(name.0, value, "{tlfs}");
            assert_eq!(HvRegisterName(value).name(), Some(tlfs));
        }
    }

    #[test]
    fn unknown_round_trips() {
        for raw in [0x0000_0005_u32, 0x0002_0012, 0x0004_0006, 0xFFFF_FFFF] {
            let name = HvRegisterName::from(raw);
            assert_eq!(name.name(), None, "{raw:#x}");
            assert_eq!(u32::from(name), raw);
        }
    }

    #[test]
    fn names_and_values_unique() {
        let all = HvRegisterName::ALL;
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
                assert_ne!(a.name(), b.name());
            }
        }
    }
}
