//! `HV_STATUS`: the result code of every hypercall.
//!
//! TLFS md `datatypes/hv_status.md` gives only the type (`typedef UINT16
//! HV_STATUS`); the values come from TLFS 6.0b §18 (Appendix B: Hypercall
//! Status Code Reference).

use tessera_open_enum::open_enum;

open_enum! {
    name;
    /// `HV_STATUS` (`UINT16`): status code returned in bits 15:0 of the
    /// hypercall result value.
    ///
    /// TLFS md `datatypes/hv_status.md`; values from TLFS 6.0b §18
    /// (Appendix B). Open: a value not named here is still representable.
    pub struct HvStatus(u16);

    /// The operation succeeded.
    SUCCESS = 0x0000 => "HV_STATUS_SUCCESS",
    /// The specified hypercall code is not supported.
    INVALID_HYPERCALL_CODE = 0x0002 => "HV_STATUS_INVALID_HYPERCALL_CODE",
    /// The rep count was incorrect, or a reserved bit in the hypercall
    /// input value was non-zero.
    INVALID_HYPERCALL_INPUT = 0x0003 => "HV_STATUS_INVALID_HYPERCALL_INPUT",
    /// An input/output GPA was not 8-byte aligned or a parameter list
    /// spanned a page boundary.
    INVALID_ALIGNMENT = 0x0004 => "HV_STATUS_INVALID_ALIGNMENT",
    /// One or more input parameters were invalid.
    INVALID_PARAMETER = 0x0005 => "HV_STATUS_INVALID_PARAMETER",
    /// The caller did not possess sufficient access rights.
    ACCESS_DENIED = 0x0006 => "HV_STATUS_ACCESS_DENIED",
    /// The partition's state was not appropriate for the operation.
    INVALID_PARTITION_STATE = 0x0007 => "HV_STATUS_INVALID_PARTITION_STATE",
    /// The operation could not be performed.
    OPERATION_DENIED = 0x0008 => "HV_STATUS_OPERATION_DENIED",
    /// The partition property ID is not recognized.
    UNKNOWN_PROPERTY = 0x0009 => "HV_STATUS_UNKNOWN_PROPERTY",
    /// A partition property value is out of range.
    PROPERTY_VALUE_OUT_OF_RANGE = 0x000A => "HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE",
    /// Insufficient memory exists for the call to succeed.
    INSUFFICIENT_MEMORY = 0x000B => "HV_STATUS_INSUFFICIENT_MEMORY",
    /// The maximum partition depth has been exceeded.
    PARTITION_TOO_DEEP = 0x000C => "HV_STATUS_PARTITION_TOO_DEEP",
    /// The specified partition ID is invalid.
    INVALID_PARTITION_ID = 0x000D => "HV_STATUS_INVALID_PARTITION_ID",
    /// The specified VP index is invalid.
    INVALID_VP_INDEX = 0x000E => "HV_STATUS_INVALID_VP_INDEX",
    /// The specified port ID is not unique or does not exist.
    INVALID_PORT_ID = 0x0011 => "HV_STATUS_INVALID_PORT_ID",
    /// The specified connection ID is not unique or does not exist.
    INVALID_CONNECTION_ID = 0x0012 => "HV_STATUS_INVALID_CONNECTION_ID",
    /// The target port does not have sufficient buffers for the caller to
    /// post a message.
    ///
    /// TLFS 6.0b Appendix B prints this row as `0x0033`, which is also the
    /// value of `HV_STATUS_INSUFFICIENT_BUFFER` in the same table, while the
    /// table's own sequence skips from `0x0012` to `0x0014`. `0x0013` is the
    /// value (it is also Microsoft's `HvGdk.h` value).
    INSUFFICIENT_BUFFERS = 0x0013 => "HV_STATUS_INSUFFICIENT_BUFFERS",
    /// An external interrupt has not previously been asserted and
    /// acknowledged prior to clearing it.
    NOT_ACKNOWLEDGED = 0x0014 => "HV_STATUS_NOT_ACKNOWLEDGED",
    /// A virtual processor is not in the correct state for the operation.
    INVALID_VP_STATE = 0x0015 => "HV_STATUS_INVALID_VP_STATE",
    /// A previously-asserted external interrupt was acknowledged and has not
    /// yet been cleared.
    ACKNOWLEDGED = 0x0016 => "HV_STATUS_ACKNOWLEDGED",
    /// The save/restore sequence was not started properly.
    INVALID_SAVE_RESTORE_STATE = 0x0017 => "HV_STATUS_INVALID_SAVE_RESTORE_STATE",
    /// A required feature of the SynIC was disabled.
    INVALID_SYNIC_STATE = 0x0018 => "HV_STATUS_INVALID_SYNIC_STATE",
    /// The object or value was already in use.
    OBJECT_IN_USE = 0x0019 => "HV_STATUS_OBJECT_IN_USE",
    /// Invalid proximity domain information.
    INVALID_PROXIMITY_DOMAIN_INFO = 0x001A => "HV_STATUS_INVALID_PROXIMITY_DOMAIN_INFO",
    /// No data was available.
    NO_DATA = 0x001B => "HV_STATUS_NO_DATA",
    /// The debugging connection has recorded no receive activity.
    INACTIVE = 0x001C => "HV_STATUS_INACTIVE",
    /// A resource is unavailable for allocation.
    NO_RESOURCES = 0x001D => "HV_STATUS_NO_RESOURCES",
    /// A hypervisor feature is not available to the caller.
    FEATURE_UNAVAILABLE = 0x001E => "HV_STATUS_FEATURE_UNAVAILABLE",
    /// The debug packet returned is only a partial packet.
    PARTIAL_PACKET = 0x001F => "HV_STATUS_PARTIAL_PACKET",
    /// The supplied restore state requires an unsupported processor feature.
    PROCESSOR_FEATURE_NOT_SUPPORTED = 0x0020 => "HV_STATUS_PROCESSOR_FEATURE_NOT_SUPPORTED",
    /// The processor's cache line flush size is not supported.
    PROCESSOR_CACHE_LINE_FLUSH_SIZE_INCOMPATIBLE = 0x0030
        => "HV_STATUS_PROCESSOR_CACHE_LINE_FLUSH_SIZE_INCOMPATIBLE",
    /// The buffer was too small to contain all of the requested data.
    INSUFFICIENT_BUFFER = 0x0033 => "HV_STATUS_INSUFFICIENT_BUFFER",
    /// The processor architecture is not supported.
    INCOMPATIBLE_PROCESSOR = 0x0037 => "HV_STATUS_INCOMPATIBLE_PROCESSOR",
    /// All I/O remapping domains are in use.
    INSUFFICIENT_DEVICE_DOMAINS = 0x0038 => "HV_STATUS_INSUFFICIENT_DEVICE_DOMAINS",
    /// Generic logical processor CPUID feature set validation error.
    CPUID_FEATURE_VALIDATION_ERROR = 0x003C => "HV_STATUS_CPUID_FEATURE_VALIDATION_ERROR",
    /// CPUID XSAVE feature validation error.
    CPUID_XSAVE_FEATURE_VALIDATION_ERROR = 0x003D
        => "HV_STATUS_CPUID_XSAVE_FEATURE_VALIDATION_ERROR",
    /// Processor startup timed out.
    PROCESSOR_STARTUP_TIMEOUT = 0x003E => "HV_STATUS_PROCESSOR_STARTUP_TIMEOUT",
    /// SMX enabled by the BIOS.
    SMX_ENABLED = 0x003F => "HV_STATUS_SMX_ENABLED",
    /// The specified LP index is invalid.
    INVALID_LP_INDEX = 0x0041 => "HV_STATUS_INVALID_LP_INDEX",
    /// The supplied register value is invalid.
    INVALID_REGISTER_VALUE = 0x0050 => "HV_STATUS_INVALID_REGISTER_VALUE",
    /// The VTL state conflicts with the requested operation.
    ///
    /// **Not in the reference as a value**: the TLFS names this status (TLFS
    /// md `hypercalls/HvCallStartVirtualProcessor.md`, TLFS 6.0b §15.15) but
    /// Appendix B has no row for it. `0x0051` is the value in Microsoft's
    /// `HvGdk.h`.
    INVALID_VTL_STATE = 0x0051 => "HV_STATUS_INVALID_VTL_STATE",
    /// NX not detected on the machine.
    NX_NOT_DETECTED = 0x0055 => "HV_STATUS_NX_NOT_DETECTED",
    /// The supplied device ID is invalid.
    INVALID_DEVICE_ID = 0x0057 => "HV_STATUS_INVALID_DEVICE_ID",
    /// The operation is not allowed in the current device state.
    INVALID_DEVICE_STATE = 0x0058 => "HV_STATUS_INVALID_DEVICE_STATE",
    /// The device had pending page requests which were discarded.
    PENDING_PAGE_REQUESTS = 0x0059 => "HV_STATUS_PENDING_PAGE_REQUESTS",
    /// The page request specifies an access the guest may not perform.
    PAGE_REQUEST_INVALID = 0x0060 => "HV_STATUS_PAGE_REQUEST_INVALID",
    /// The requested operation failed.
    OPERATION_FAILED = 0x0071 => "HV_STATUS_OPERATION_FAILED",
    /// Not allowed while a virtual processor has nested virtualization
    /// active.
    NOT_ALLOWED_WITH_NESTED_VIRT_ACTIVE = 0x0072
        => "HV_STATUS_NOT_ALLOWED_WITH_NESTED_VIRT_ACTIVE",
}

impl HvStatus {
    /// `true` for [`HvStatus::SUCCESS`].
    #[must_use]
    pub const fn is_success(self) -> bool {
        self.0 == Self::SUCCESS.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (value, name) pairs transcribed by hand from TLFS 6.0b Appendix B
    /// (with the `0x0013` correction documented on `INSUFFICIENT_BUFFERS`).
    const APPENDIX_B: &[(u16, &str)] = &[
        (0x0000, "HV_STATUS_SUCCESS"),
        (0x0002, "HV_STATUS_INVALID_HYPERCALL_CODE"),
        (0x0003, "HV_STATUS_INVALID_HYPERCALL_INPUT"),
        (0x0004, "HV_STATUS_INVALID_ALIGNMENT"),
        (0x0005, "HV_STATUS_INVALID_PARAMETER"),
        (0x0006, "HV_STATUS_ACCESS_DENIED"),
        (0x0007, "HV_STATUS_INVALID_PARTITION_STATE"),
        (0x0008, "HV_STATUS_OPERATION_DENIED"),
        (0x0009, "HV_STATUS_UNKNOWN_PROPERTY"),
        (0x000A, "HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE"),
        (0x000B, "HV_STATUS_INSUFFICIENT_MEMORY"),
        (0x000C, "HV_STATUS_PARTITION_TOO_DEEP"),
        (0x000D, "HV_STATUS_INVALID_PARTITION_ID"),
        (0x000E, "HV_STATUS_INVALID_VP_INDEX"),
        (0x0011, "HV_STATUS_INVALID_PORT_ID"),
        (0x0012, "HV_STATUS_INVALID_CONNECTION_ID"),
        (0x0013, "HV_STATUS_INSUFFICIENT_BUFFERS"),
        (0x0014, "HV_STATUS_NOT_ACKNOWLEDGED"),
        (0x0015, "HV_STATUS_INVALID_VP_STATE"),
        (0x0016, "HV_STATUS_ACKNOWLEDGED"),
        (0x0017, "HV_STATUS_INVALID_SAVE_RESTORE_STATE"),
        (0x0018, "HV_STATUS_INVALID_SYNIC_STATE"),
        (0x0019, "HV_STATUS_OBJECT_IN_USE"),
        (0x001A, "HV_STATUS_INVALID_PROXIMITY_DOMAIN_INFO"),
        (0x001B, "HV_STATUS_NO_DATA"),
        (0x001C, "HV_STATUS_INACTIVE"),
        (0x001D, "HV_STATUS_NO_RESOURCES"),
        (0x001E, "HV_STATUS_FEATURE_UNAVAILABLE"),
        (0x001F, "HV_STATUS_PARTIAL_PACKET"),
        (0x0020, "HV_STATUS_PROCESSOR_FEATURE_NOT_SUPPORTED"),
        (
            0x0030,
            "HV_STATUS_PROCESSOR_CACHE_LINE_FLUSH_SIZE_INCOMPATIBLE",
        ),
        (0x0033, "HV_STATUS_INSUFFICIENT_BUFFER"),
        (0x0037, "HV_STATUS_INCOMPATIBLE_PROCESSOR"),
        (0x0038, "HV_STATUS_INSUFFICIENT_DEVICE_DOMAINS"),
        (0x003C, "HV_STATUS_CPUID_FEATURE_VALIDATION_ERROR"),
        (0x003D, "HV_STATUS_CPUID_XSAVE_FEATURE_VALIDATION_ERROR"),
        (0x003E, "HV_STATUS_PROCESSOR_STARTUP_TIMEOUT"),
        (0x003F, "HV_STATUS_SMX_ENABLED"),
        (0x0041, "HV_STATUS_INVALID_LP_INDEX"),
        (0x0050, "HV_STATUS_INVALID_REGISTER_VALUE"),
        (0x0055, "HV_STATUS_NX_NOT_DETECTED"),
        (0x0057, "HV_STATUS_INVALID_DEVICE_ID"),
        (0x0058, "HV_STATUS_INVALID_DEVICE_STATE"),
        (0x0059, "HV_STATUS_PENDING_PAGE_REQUESTS"),
        (0x0060, "HV_STATUS_PAGE_REQUEST_INVALID"),
        (0x0071, "HV_STATUS_OPERATION_FAILED"),
        (0x0072, "HV_STATUS_NOT_ALLOWED_WITH_NESTED_VIRT_ACTIVE"),
    ];

    #[test]
    fn appendix_b_values() {
        for &(value, name) in APPENDIX_B {
            assert_eq!(HvStatus(value).name(), Some(name), "{value:#06x}");
        }
        // Everything named is in Appendix B, except the one documented
        // addition.
        assert_eq!(HvStatus::ALL.len(), APPENDIX_B.len() + 1);
        assert_eq!(HvStatus::INVALID_VTL_STATE.0, 0x0051);
    }

    #[test]
    fn spot_values() {
        assert_eq!(HvStatus::SUCCESS.0, 0);
        assert_eq!(HvStatus::INVALID_HYPERCALL_CODE.0, 2);
        assert_eq!(HvStatus::INVALID_HYPERCALL_INPUT.0, 3);
        assert_eq!(HvStatus::INVALID_SYNIC_STATE.0, 0x18);
        assert_eq!(HvStatus::INSUFFICIENT_BUFFERS.0, 0x13);
        assert!(HvStatus::SUCCESS.is_success());
        assert!(!HvStatus::ACCESS_DENIED.is_success());
    }

    #[test]
    fn unknown_round_trips() {
        // 0x0001 is "Reserved" in Appendix B: representable, unnamed.
        for raw in [0x0001_u16, 0x000F, 0x0010, 0x1234, 0xFFFF] {
            let status = HvStatus::from(raw);
            assert_eq!(status.name(), None);
            assert_eq!(u16::from(status), raw);
            assert_eq!(status.into_bits(), raw);
        }
    }

    #[test]
    fn names_and_values_unique() {
        for (i, a) in HvStatus::ALL.iter().enumerate() {
            for b in &HvStatus::ALL[i + 1..] {
                assert_ne!(a, b);
                assert_ne!(a.name(), b.name());
            }
        }
    }
}
