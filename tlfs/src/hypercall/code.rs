//! Hypercall call codes.

use tessera_open_enum::open_enum;

open_enum! {
    name;
    /// A hypercall call code (bits 15:0 of the hypercall input value).
    ///
    /// Values: TLFS md `hypercalls/overview.md` (both tables) and the
    /// per-call pages in `hypercalls/`; TLFS 6.0b §17 (Appendix A) for the
    /// calls that the Markdown edition no longer lists, and §3.14 for the
    /// extended hypercalls. TLFS 6.0b spells most names without `Call`
    /// (`HvCreatePartition`); this crate uses the Markdown edition's
    /// `HvCall…` spelling throughout, except for the one legacy code noted
    /// on [`HypercallCode::CONNECT_PORT_V6`].
    ///
    /// Open: a guest can pass any 16-bit value, and an unknown one is still
    /// representable (the hypervisor answers it with
    /// `HV_STATUS_INVALID_HYPERCALL_CODE`).
    pub struct HypercallCode(u16);

    /// Switch the virtual address space (CR3). Simple.
    SWITCH_VIRTUAL_ADDRESS_SPACE = 0x0001 => "HvCallSwitchVirtualAddressSpace",
    /// Flush the virtual TLB of a set of VPs. Simple.
    FLUSH_VIRTUAL_ADDRESS_SPACE = 0x0002 => "HvCallFlushVirtualAddressSpace",
    /// Flush a list of GVA ranges. Rep.
    FLUSH_VIRTUAL_ADDRESS_LIST = 0x0003 => "HvCallFlushVirtualAddressList",
    /// Query a logical processor's run time (TLFS 6.0b Appendix A).
    GET_LOGICAL_PROCESSOR_RUN_TIME = 0x0004 => "HvCallGetLogicalProcessorRunTime",
    /// Notify the hypervisor of a long spinlock acquisition. Simple.
    NOTIFY_LONG_SPIN_WAIT = 0x0008 => "HvCallNotifyLongSpinWait",
    /// TLFS 6.0b Appendix A prints this code as `0x00090`, between `0x0008`
    /// and `0x000b`; `0x0009` is meant.
    PARKED_VIRTUAL_PROCESSORS = 0x0009 => "HvCallParkedVirtualProcessors",
    /// Send a fixed virtual interrupt to a set of VPs. Simple.
    SEND_SYNTHETIC_CLUSTER_IPI = 0x000B => "HvCallSendSyntheticClusterIpi",
    /// Modify VTL protections of GPA pages. Rep.
    MODIFY_VTL_PROTECTION_MASK = 0x000C => "HvCallModifyVtlProtectionMask",
    /// Enable a VTL for a partition. Simple.
    ENABLE_PARTITION_VTL = 0x000D => "HvCallEnablePartitionVtl",
    /// Disable a VTL for a partition (TLFS 6.0b Appendix A).
    DISABLE_PARTITION_VTL = 0x000E => "HvCallDisablePartitionVtl",
    /// Enable a VTL for a VP. Simple.
    ENABLE_VP_VTL = 0x000F => "HvCallEnableVpVtl",
    /// Disable a VTL for a VP (TLFS 6.0b Appendix A).
    DISABLE_VP_VTL = 0x0010 => "HvCallDisableVpVtl",
    /// Call into a higher VTL. Simple.
    VTL_CALL = 0x0011 => "HvCallVtlCall",
    /// Return to a lower VTL. Simple.
    VTL_RETURN = 0x0012 => "HvCallVtlReturn",
    /// [`FLUSH_VIRTUAL_ADDRESS_SPACE`](Self::FLUSH_VIRTUAL_ADDRESS_SPACE)
    /// with a variable-sized `HV_VP_SET`. Simple.
    FLUSH_VIRTUAL_ADDRESS_SPACE_EX = 0x0013 => "HvCallFlushVirtualAddressSpaceEx",
    /// [`FLUSH_VIRTUAL_ADDRESS_LIST`](Self::FLUSH_VIRTUAL_ADDRESS_LIST) with
    /// a variable-sized `HV_VP_SET`. Rep.
    FLUSH_VIRTUAL_ADDRESS_LIST_EX = 0x0014 => "HvCallFlushVirtualAddressListEx",
    /// [`SEND_SYNTHETIC_CLUSTER_IPI`](Self::SEND_SYNTHETIC_CLUSTER_IPI) with
    /// a variable-sized `HV_VP_SET`. Simple.
    SEND_SYNTHETIC_CLUSTER_IPI_EX = 0x0015 => "HvCallSendSyntheticClusterIpiEx",
    /// Create a child partition. Simple.
    CREATE_PARTITION = 0x0040 => "HvCallCreatePartition",
    /// Initialize a partition. Simple.
    INITIALIZE_PARTITION = 0x0041 => "HvCallInitializePartition",
    /// Finalize a partition. Simple.
    FINALIZE_PARTITION = 0x0042 => "HvCallFinalizePartition",
    /// Delete a partition. Simple.
    DELETE_PARTITION = 0x0043 => "HvCallDeletePartition",
    /// Read a partition property. Simple.
    GET_PARTITION_PROPERTY = 0x0044 => "HvCallGetPartitionProperty",
    /// Write a partition property. Simple.
    SET_PARTITION_PROPERTY = 0x0045 => "HvCallSetPartitionProperty",
    /// Return the caller's partition ID (TLFS 6.0b Appendix A).
    GET_PARTITION_ID = 0x0046 => "HvCallGetPartitionId",
    /// Enumerate child partitions. Simple.
    GET_NEXT_CHILD_PARTITION = 0x0047 => "HvCallGetNextChildPartition",
    /// Deposit memory into a partition's pool. Rep.
    DEPOSIT_MEMORY = 0x0048 => "HvCallDepositMemory",
    /// Withdraw memory from a partition's pool. Rep.
    WITHDRAW_MEMORY = 0x0049 => "HvCallWithdrawMemory",
    /// Query a partition's memory pool balance. Simple.
    GET_MEMORY_BALANCE = 0x004A => "HvCallGetMemoryBalance",
    /// Map GPA pages of a partition. Rep.
    MAP_GPA_PAGES = 0x004B => "HvCallMapGpaPages",
    /// Unmap GPA pages of a partition. Rep.
    UNMAP_GPA_PAGES = 0x004C => "HvCallUnmapGpaPages",
    /// Install an intercept. Simple.
    INSTALL_INTERCEPT = 0x004D => "HvCallInstallIntercept",
    /// Create a virtual processor. Simple.
    CREATE_VP = 0x004E => "HvCallCreateVp",
    /// Delete a virtual processor. Simple.
    DELETE_VP = 0x004F => "HvCallDeleteVp",
    /// Read VP registers. Rep.
    GET_VP_REGISTERS = 0x0050 => "HvCallGetVpRegisters",
    /// Write VP registers. Rep.
    SET_VP_REGISTERS = 0x0051 => "HvCallSetVpRegisters",
    /// Translate a GVA. Simple.
    TRANSLATE_VIRTUAL_ADDRESS = 0x0052 => "HvCallTranslateVirtualAddress",
    /// Read guest physical memory (TLFS 6.0b Appendix A).
    READ_GPA = 0x0053 => "HvCallReadGpa",
    /// Write guest physical memory (TLFS 6.0b Appendix A).
    WRITE_GPA = 0x0054 => "HvCallWriteGpa",
    /// Clear a virtual interrupt (TLFS 6.0b Appendix A; `0x0055` before it
    /// is "Deprecated").
    CLEAR_VIRTUAL_INTERRUPT = 0x0056 => "HvCallClearVirtualInterrupt",
    /// Delete a port. Simple.
    DELETE_PORT = 0x0058 => "HvCallDeletePort",
    /// Connect to a port, *as numbered in TLFS 6.0b* (Appendix A:
    /// `0x0059 HvConnectPort`).
    ///
    /// The Markdown edition gives `HvCallConnectPort` the code `0x0096`
    /// ([`CONNECT_PORT`](Self::CONNECT_PORT)); 6.0b lists `0x0057`, the
    /// neighbouring old `HvCreatePort`, as "Deprecated". This constant keeps
    /// the 6.0b code nameable; its name is 6.0b's spelling.
    CONNECT_PORT_V6 = 0x0059 => "HvConnectPort",
    /// Read a port property (TLFS 6.0b Appendix A).
    GET_PORT_PROPERTY = 0x005A => "HvCallGetPortProperty",
    /// Disconnect from a port. Simple.
    DISCONNECT_PORT = 0x005B => "HvCallDisconnectPort",
    /// Post a message to a message port. Simple.
    POST_MESSAGE = 0x005C => "HvCallPostMessage",
    /// Signal an event on an event port. Simple.
    SIGNAL_EVENT = 0x005D => "HvCallSignalEvent",
    /// TLFS 6.0b Appendix A.
    SAVE_PARTITION_STATE = 0x005E => "HvCallSavePartitionState",
    /// TLFS 6.0b Appendix A.
    RESTORE_PARTITION_STATE = 0x005F => "HvCallRestorePartitionState",
    /// TLFS 6.0b Appendix A.
    INITIALIZE_EVENT_LOG_BUFFER_GROUP = 0x0060 => "HvCallInitializeEventLogBufferGroup",
    /// TLFS 6.0b Appendix A.
    FINALIZE_EVENT_LOG_BUFFER_GROUP = 0x0061 => "HvCallFinalizeEventLogBufferGroup",
    /// TLFS 6.0b Appendix A.
    CREATE_EVENT_LOG_BUFFER = 0x0062 => "HvCallCreateEventLogBuffer",
    /// TLFS 6.0b Appendix A.
    DELETE_EVENT_LOG_BUFFER = 0x0063 => "HvCallDeleteEventLogBuffer",
    /// TLFS 6.0b Appendix A.
    MAP_EVENT_LOG_BUFFER = 0x0064 => "HvCallMapEventLogBuffer",
    /// TLFS 6.0b Appendix A.
    UNMAP_EVENT_LOG_BUFFER = 0x0065 => "HvCallUnmapEventLogBuffer",
    /// TLFS 6.0b Appendix A.
    SET_EVENT_LOG_GROUP_SOURCES = 0x0066 => "HvCallSetEventLogGroupSources",
    /// TLFS 6.0b Appendix A.
    RELEASE_EVENT_LOG_BUFFER = 0x0067 => "HvCallReleaseEventLogBuffer",
    /// TLFS 6.0b Appendix A.
    FLUSH_EVENT_LOG_BUFFER = 0x0068 => "HvCallFlushEventLogBuffer",
    /// TLFS 6.0b Appendix A.
    POST_DEBUG_DATA = 0x0069 => "HvCallPostDebugData",
    /// TLFS 6.0b Appendix A.
    RETRIEVE_DEBUG_DATA = 0x006A => "HvCallRetrieveDebugData",
    /// TLFS 6.0b Appendix A.
    RESET_DEBUG_SESSION = 0x006B => "HvCallResetDebugSession",
    /// TLFS 6.0b Appendix A.
    MAP_STATS_PAGE = 0x006C => "HvCallMapStatsPage",
    /// Unmap a statistics page. Simple.
    UNMAP_STATS_PAGE = 0x006D => "HvCallUnmapStatsPage",
    /// Map sparse GPA pages. Rep.
    MAP_SPARSE_GPA_PAGES = 0x006E => "HvCallMapSparseGpaPages",
    /// TLFS 6.0b Appendix A.
    SET_SYSTEM_PROPERTY = 0x006F => "HvCallSetSystemProperty",
    /// TLFS 6.0b Appendix A.
    SET_PORT_PROPERTY = 0x0070 => "HvCallSetPortProperty",
    /// TLFS 6.0b Appendix A.
    ADD_LOGICAL_PROCESSOR = 0x0076 => "HvCallAddLogicalProcessor",
    /// TLFS 6.0b Appendix A.
    REMOVE_LOGICAL_PROCESSOR = 0x0077 => "HvCallRemoveLogicalProcessor",
    /// TLFS 6.0b Appendix A.
    QUERY_NUMA_DISTANCE = 0x0078 => "HvCallQueryNumaDistance",
    /// TLFS 6.0b Appendix A.
    SET_LOGICAL_PROCESSOR_PROPERTY = 0x0079 => "HvCallSetLogicalProcessorProperty",
    /// TLFS 6.0b Appendix A.
    GET_LOGICAL_PROCESSOR_PROPERTY = 0x007A => "HvCallGetLogicalProcessorProperty",
    /// TLFS 6.0b Appendix A.
    GET_SYSTEM_PROPERTY = 0x007B => "HvCallGetSystemProperty",
    /// TLFS 6.0b Appendix A.
    MAP_DEVICE_INTERRUPT = 0x007C => "HvCallMapDeviceInterrupt",
    /// TLFS 6.0b Appendix A.
    UNMAP_DEVICE_INTERRUPT = 0x007D => "HvCallUnmapDeviceInterrupt",
    /// Retarget a device interrupt. Simple.
    RETARGET_DEVICE_INTERRUPT = 0x007E => "HvCallRetargetDeviceInterrupt",
    /// TLFS 6.0b Appendix A.
    MAP_DEVICE_PAGES = 0x0080 => "HvCallMapDevicePages",
    /// TLFS 6.0b Appendix A.
    UNMAP_DEVICE_PAGES = 0x0081 => "HvCallUnmapDevicePages",
    /// TLFS 6.0b Appendix A.
    ATTACH_DEVICE = 0x0082 => "HvCallAttachDevice",
    /// TLFS 6.0b Appendix A.
    DETACH_DEVICE = 0x0083 => "HvCallDetachDevice",
    /// TLFS 6.0b Appendix A.
    NOTIFY_STANDBY_TRANSITION = 0x0084 => "HvCallNotifyStandbyTransition",
    /// TLFS 6.0b Appendix A.
    PREPARE_FOR_SLEEP = 0x0085 => "HvCallPrepareForSleep",
    /// TLFS 6.0b Appendix A.
    PREPARE_FOR_HIBERNATE = 0x0086 => "HvCallPrepareForHibernate",
    /// TLFS 6.0b Appendix A.
    NOTIFY_PARTITION_EVENT = 0x0087 => "HvCallNotifyPartitionEvent",
    /// TLFS 6.0b Appendix A.
    GET_LOGICAL_PROCESSOR_REGISTERS = 0x0088 => "HvCallGetLogicalProcessorRegisters",
    /// TLFS 6.0b Appendix A.
    SET_LOGICAL_PROCESSOR_REGISTERS = 0x0089 => "HvCallSetLogicalProcessorRegisters",
    /// TLFS 6.0b Appendix A (spelled `…Lpsfor…` there).
    QUERY_ASSOCIATED_LPS_FOR_MCA = 0x008A => "HvCallQueryAssociatedLpsforMca",
    /// TLFS 6.0b Appendix A.
    NOTIFY_RING_EMPTY = 0x008B => "HvCallNotifyRingEmpty",
    /// TLFS 6.0b Appendix A.
    INJECT_SYNTHETIC_MACHINE_CHECK = 0x008C => "HvCallInjectSyntheticMachineCheck",
    /// TLFS 6.0b Appendix A.
    SCRUB_PARTITION = 0x008D => "HvCallScrubPartition",
    /// TLFS 6.0b Appendix A.
    COLLECT_LIVEDUMP = 0x008E => "HvCallCollectLivedump",
    /// TLFS 6.0b Appendix A.
    DISABLE_HYPERVISOR = 0x008F => "HvCallDisableHypervisor",
    /// Modify sparse GPA pages. Rep.
    MODIFY_SPARSE_GPA_PAGES = 0x0090 => "HvCallModifySparseGpaPages",
    /// Register an intercept result. Simple.
    REGISTER_INTERCEPT_RESULT = 0x0091 => "HvCallRegisterInterceptResult",
    /// Unregister an intercept result. Simple.
    UNREGISTER_INTERCEPT_RESULT = 0x0092 => "HvCallUnregisterInterceptResult",
    /// Assert a virtual interrupt in a partition. Simple.
    ASSERT_VIRTUAL_INTERRUPT = 0x0094 => "HvCallAssertVirtualInterrupt",
    /// Create a port. Simple.
    CREATE_PORT = 0x0095 => "HvCallCreatePort",
    /// Connect to a port. Simple. (See also
    /// [`CONNECT_PORT_V6`](Self::CONNECT_PORT_V6).)
    CONNECT_PORT = 0x0096 => "HvCallConnectPort",
    /// TLFS 6.0b Appendix A.
    GET_SPA_PAGE_LIST = 0x0097 => "HvCallGetSpaPageList",
    /// Start a virtual processor with an initial context. Simple.
    START_VIRTUAL_PROCESSOR = 0x0099 => "HvCallStartVirtualProcessor",
    /// Map APIC IDs to VP indices. Rep.
    GET_VP_INDEX_FROM_APIC_ID = 0x009A => "HvCallGetVpIndexFromApicId",
    /// Translate a GVA (extended result). Simple.
    TRANSLATE_VIRTUAL_ADDRESS_EX = 0x00AC => "HvCallTranslateVirtualAddressEx",
    /// Check whether an I/O port access is intercepted. Simple.
    CHECK_FOR_IO_INTERCEPT = 0x00AD => "HvCallCheckForIoIntercept",
    /// Flush the guest physical address space (nested). Simple.
    FLUSH_GUEST_PHYSICAL_ADDRESS_SPACE = 0x00AF => "HvCallFlushGuestPhysicalAddressSpace",
    /// Flush a list of guest physical ranges (nested). Rep.
    FLUSH_GUEST_PHYSICAL_ADDRESS_LIST = 0x00B0 => "HvCallFlushGuestPhysicalAddressList",
    /// Signal an event directly on a VP's SINT. Simple.
    SIGNAL_EVENT_DIRECT = 0x00C0 => "HvCallSignalEventDirect",
    /// Post a message directly to a VP's SINT. Simple.
    POST_MESSAGE_DIRECT = 0x00C1 => "HvCallPostMessageDirect",
    /// Map a VP state page. Simple.
    MAP_VP_STATE_PAGE = 0x00E1 => "HvCallMapVpStatePage",
    /// Unmap a VP state page. Simple.
    UNMAP_VP_STATE_PAGE = 0x00E2 => "HvCallUnmapVpStatePage",
    /// Convert an APIC message destination address to a VP set. Simple.
    GET_VP_SET_FROM_MDA = 0x00E5 => "HvCallGetVpSetFromMda",
    /// Read the CPUID values a VP sees. Rep.
    GET_VP_CPUID_VALUES = 0x00F4 => "HvCallGetVpCpuidValues",
    /// Write a partition property with a variable-sized value ("Variable,
    /// simple input").
    SET_PARTITION_PROPERTY_EX = 0x010A => "HvCallSetPartitionPropertyEx",
    /// Install intercepts with extended parameters. Rep.
    INSTALL_INTERCEPT_EX = 0x0110 => "HvCallInstallInterceptEx",
    /// Set the target of a virtual interrupt. Simple.
    SET_VIRTUAL_INTERRUPT_TARGET = 0x011F => "HvCallSetVirtualInterruptTarget",
    /// Map a statistics page (second form). Simple.
    MAP_STATS_PAGE2 = 0x0131 => "HvCallMapStatsPage2",
    /// Query which extended hypercalls are available. Simple.
    EXT_QUERY_CAPABILITIES = 0x8001 => "HvExtCallQueryCapabilities",
    /// Query memory ranges zeroed by the hypervisor at boot. Simple.
    EXT_GET_BOOT_ZEROED_MEMORY = 0x8002 => "HvExtCallGetBootZeroedMemory",
    /// Memory heat hint. Simple.
    EXT_MEMORY_HEAT_HINT = 0x8003 => "HvExtCallMemoryHeatHint",
    /// EPF setup. Simple.
    EXT_EPF_SETUP = 0x8004 => "HvExtCallEpfSetup",
    /// Scheduler assist setup (TLFS 6.0b §3.14 only).
    EXT_SCHEDULER_ASSIST_SETUP = 0x8005 => "HvExtCallSchedulerAssistSetup",
    /// Asynchronous memory heat hint. Simple.
    EXT_MEMORY_HEAT_HINT_ASYNC = 0x8006 => "HvExtCallMemoryHeatHintAsync",
}

/// Whether a hypercall is *simple* (one operation) or *rep* (a list of
/// elements, with a rep count and rep start index).
///
/// TLFS md `hypercall-interface.md` § Hypercall Classes; the class of each
/// call is the "Type" column of `hypercalls/overview.md` and the "Call
/// Code" line of each `hypercalls/*.md` page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HypercallClass {
    /// One operation; rep count and rep start index must be zero.
    Simple,
    /// A list of elements; rep count must be non-zero.
    Rep,
}

impl HypercallCode {
    /// The call's class, where the Markdown edition states it; `None` for
    /// unknown codes and for calls only in TLFS 6.0b Appendix A (whose
    /// Rep/Fast columns did not survive the text extraction).
    #[must_use]
    pub const fn class(self) -> Option<HypercallClass> {
        match self {
            Self::FLUSH_VIRTUAL_ADDRESS_LIST
            | Self::MODIFY_VTL_PROTECTION_MASK
            | Self::FLUSH_VIRTUAL_ADDRESS_LIST_EX
            | Self::DEPOSIT_MEMORY
            | Self::WITHDRAW_MEMORY
            | Self::MAP_GPA_PAGES
            | Self::UNMAP_GPA_PAGES
            | Self::GET_VP_REGISTERS
            | Self::SET_VP_REGISTERS
            | Self::MAP_SPARSE_GPA_PAGES
            | Self::MODIFY_SPARSE_GPA_PAGES
            | Self::GET_VP_INDEX_FROM_APIC_ID
            | Self::FLUSH_GUEST_PHYSICAL_ADDRESS_LIST
            | Self::GET_VP_CPUID_VALUES
            | Self::INSTALL_INTERCEPT_EX => Some(HypercallClass::Rep),
            Self::SWITCH_VIRTUAL_ADDRESS_SPACE
            | Self::FLUSH_VIRTUAL_ADDRESS_SPACE
            | Self::NOTIFY_LONG_SPIN_WAIT
            | Self::SEND_SYNTHETIC_CLUSTER_IPI
            | Self::ENABLE_PARTITION_VTL
            | Self::ENABLE_VP_VTL
            | Self::VTL_CALL
            | Self::VTL_RETURN
            | Self::FLUSH_VIRTUAL_ADDRESS_SPACE_EX
            | Self::SEND_SYNTHETIC_CLUSTER_IPI_EX
            | Self::CREATE_PARTITION
            | Self::INITIALIZE_PARTITION
            | Self::FINALIZE_PARTITION
            | Self::DELETE_PARTITION
            | Self::GET_PARTITION_PROPERTY
            | Self::SET_PARTITION_PROPERTY
            | Self::GET_NEXT_CHILD_PARTITION
            | Self::GET_MEMORY_BALANCE
            | Self::INSTALL_INTERCEPT
            | Self::CREATE_VP
            | Self::DELETE_VP
            | Self::TRANSLATE_VIRTUAL_ADDRESS
            | Self::DELETE_PORT
            | Self::DISCONNECT_PORT
            | Self::POST_MESSAGE
            | Self::SIGNAL_EVENT
            | Self::UNMAP_STATS_PAGE
            | Self::RETARGET_DEVICE_INTERRUPT
            | Self::REGISTER_INTERCEPT_RESULT
            | Self::UNREGISTER_INTERCEPT_RESULT
            | Self::ASSERT_VIRTUAL_INTERRUPT
            | Self::CREATE_PORT
            | Self::CONNECT_PORT
            | Self::START_VIRTUAL_PROCESSOR
            | Self::TRANSLATE_VIRTUAL_ADDRESS_EX
            | Self::CHECK_FOR_IO_INTERCEPT
            | Self::FLUSH_GUEST_PHYSICAL_ADDRESS_SPACE
            | Self::SIGNAL_EVENT_DIRECT
            | Self::POST_MESSAGE_DIRECT
            | Self::MAP_VP_STATE_PAGE
            | Self::UNMAP_VP_STATE_PAGE
            | Self::GET_VP_SET_FROM_MDA
            | Self::SET_PARTITION_PROPERTY_EX
            | Self::SET_VIRTUAL_INTERRUPT_TARGET
            | Self::MAP_STATS_PAGE2
            | Self::EXT_QUERY_CAPABILITIES
            | Self::EXT_GET_BOOT_ZEROED_MEMORY
            | Self::EXT_MEMORY_HEAT_HINT
            | Self::EXT_EPF_SETUP
            | Self::EXT_MEMORY_HEAT_HINT_ASYNC => Some(HypercallClass::Simple),
            _ => None,
        }
    }

    /// `true` for extended hypercalls (call codes above `0x8000`).
    ///
    /// TLFS md `hypercall-interface.md` § Extended Hypercall Interface.
    #[must_use]
    pub const fn is_extended(self) -> bool {
        self.0 > super::HV_EXTENDED_HYPERCALL_BASE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `hypercalls/overview.md`, both tables, transcribed by hand:
    /// (code, name, is rep).
    const OVERVIEW: &[(u16, &str, bool)] = &[
        (0x0001, "HvCallSwitchVirtualAddressSpace", false),
        (0x0002, "HvCallFlushVirtualAddressSpace", false),
        (0x0003, "HvCallFlushVirtualAddressList", true),
        (0x0008, "HvCallNotifyLongSpinWait", false),
        (0x000b, "HvCallSendSyntheticClusterIpi", false),
        (0x000c, "HvCallModifyVtlProtectionMask", true),
        (0x000d, "HvCallEnablePartitionVtl", false),
        (0x000f, "HvCallEnableVpVtl", false),
        (0x0011, "HvCallVtlCall", false),
        (0x0012, "HvCallVtlReturn", false),
        (0x0013, "HvCallFlushVirtualAddressSpaceEx", false),
        (0x0014, "HvCallFlushVirtualAddressListEx", true),
        (0x0015, "HvCallSendSyntheticClusterIpiEx", false),
        (0x0050, "HvCallGetVpRegisters", true),
        (0x0051, "HvCallSetVpRegisters", true),
        (0x005C, "HvCallPostMessage", false),
        (0x005D, "HvCallSignalEvent", false),
        (0x007e, "HvCallRetargetDeviceInterrupt", false),
        (0x0099, "HvCallStartVirtualProcessor", false),
        (0x009A, "HvCallGetVpIndexFromApicId", true),
        (0x00AF, "HvCallFlushGuestPhysicalAddressSpace", false),
        (0x00B0, "HvCallFlushGuestPhysicalAddressList", true),
        (0x8001, "HvExtCallQueryCapabilities", false),
        (0x8002, "HvExtCallGetBootZeroedMemory", false),
        (0x8003, "HvExtCallMemoryHeatHint", false),
        (0x8004, "HvExtCallEpfSetup", false),
        (0x8006, "HvExtCallMemoryHeatHintAsync", false),
    ];

    /// The "Call Code" line of each `hypercalls/*.md` page not already in
    /// the overview table, transcribed by hand: (code, page name, is rep).
    const PAGES: &[(u16, &str, bool)] = &[
        (0x0094, "HvCallAssertVirtualInterrupt", false),
        (0x00AD, "HvCallCheckForIoIntercept", false),
        (0x0096, "HvCallConnectPort", false),
        (0x0040, "HvCallCreatePartition", false),
        (0x0095, "HvCallCreatePort", false),
        (0x004e, "HvCallCreateVp", false),
        (0x0043, "HvCallDeletePartition", false),
        (0x0058, "HvCallDeletePort", false),
        (0x004f, "HvCallDeleteVp", false),
        (0x0048, "HvCallDepositMemory", true),
        (0x005b, "HvCallDisconnectPort", false),
        (0x0042, "HvCallFinalizePartition", false),
        (0x004A, "HvCallGetMemoryBalance", false),
        (0x0047, "HvCallGetNextChildPartition", false),
        (0x0044, "HvCallGetPartitionProperty", false),
        (0x00F4, "HvCallGetVpCpuidValues", true),
        (0x00E5, "HvCallGetVpSetFromMda", false),
        (0x0041, "HvCallInitializePartition", false),
        (0x004d, "HvCallInstallIntercept", false),
        (0x0110, "HvCallInstallInterceptEx", true),
        (0x004B, "HvCallMapGpaPages", true),
        (0x006E, "HvCallMapSparseGpaPages", true),
        (0x0131, "HvCallMapStatsPage2", false),
        (0x00E1, "HvCallMapVpStatePage", false),
        (0x0090, "HvCallModifySparseGpaPages", true),
        (0x00C1, "HvCallPostMessageDirect", false),
        (0x0091, "HvCallRegisterInterceptResult", false),
        (0x0045, "HvCallSetPartitionProperty", false),
        (0x010A, "HvCallSetPartitionPropertyEx", false),
        (0x011F, "HvCallSetVirtualInterruptTarget", false),
        (0x00C0, "HvCallSignalEventDirect", false),
        (0x0052, "HvCallTranslateVirtualAddress", false),
        (0x00AC, "HvCallTranslateVirtualAddressEx", false),
        (0x004C, "HvCallUnmapGpaPages", true),
        (0x006D, "HvCallUnmapStatsPage", false),
        (0x00E2, "HvCallUnmapVpStatePage", false),
        (0x0092, "HvCallUnregisterInterceptResult", false),
        (0x0049, "HvCallWithdrawMemory", true),
    ];

    #[test]
    fn markdown_codes_names_and_classes() {
        for &(code, name, rep) in OVERVIEW.iter().chain(PAGES) {
            let c = HypercallCode(code);
            assert_eq!(c.name(), Some(name), "{code:#06x}");
            let class = if rep {
                HypercallClass::Rep
            } else {
                HypercallClass::Simple
            };
            assert_eq!(c.class(), Some(class), "{name}");
        }
    }

    #[test]
    fn brief_spot_values() {
        assert_eq!(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE.0, 0x0002);
        assert_eq!(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST.0, 0x0003);
        assert_eq!(HypercallCode::NOTIFY_LONG_SPIN_WAIT.0, 0x0008);
        assert_eq!(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI.0, 0x000b);
        assert_eq!(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX.0, 0x0013);
        assert_eq!(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX.0, 0x0014);
        assert_eq!(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI_EX.0, 0x0015);
        assert_eq!(HypercallCode::POST_MESSAGE.0, 0x005c);
        assert_eq!(HypercallCode::SIGNAL_EVENT.0, 0x005d);
        assert_eq!(HypercallCode::EXT_QUERY_CAPABILITIES.0, 0x8001);
    }

    #[test]
    fn v6_appendix_a_spot_values() {
        assert_eq!(HypercallCode(0x0046).name(), Some("HvCallGetPartitionId"));
        assert_eq!(
            HypercallCode(0x0009).name(),
            Some("HvCallParkedVirtualProcessors")
        );
        assert_eq!(HypercallCode(0x0059).name(), Some("HvConnectPort"));
        assert_eq!(
            HypercallCode(0x008F).name(),
            Some("HvCallDisableHypervisor")
        );
        assert_eq!(
            HypercallCode(0x8005).name(),
            Some("HvExtCallSchedulerAssistSetup")
        );
        assert_eq!(HypercallCode(0x0046).class(), None);
    }

    #[test]
    fn unknown_codes_round_trip() {
        // Reserved ranges of Appendix A, and values past the table.
        for raw in [
            0x0000_u16, 0x0005, 0x0016, 0x003F, 0x0071, 0x0098, 0x7FFF, 0x8000, 0xFFFF,
        ] {
            let code = HypercallCode::from(raw);
            assert_eq!(code.name(), None, "{raw:#06x}");
            assert_eq!(code.class(), None);
            assert_eq!(u16::from(code), raw);
        }
    }

    #[test]
    fn extended() {
        assert!(HypercallCode::EXT_QUERY_CAPABILITIES.is_extended());
        assert!(!HypercallCode::POST_MESSAGE.is_extended());
        assert!(!HypercallCode(0x8000).is_extended());
    }

    #[test]
    fn names_and_values_unique() {
        for (i, a) in HypercallCode::ALL.iter().enumerate() {
            for b in &HypercallCode::ALL[i + 1..] {
                assert_ne!(a, b);
                assert_ne!(a.name(), b.name());
            }
        }
    }
}
