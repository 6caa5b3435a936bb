//! Every error the kernel can put in `rax` is a status this ABI names: the
//! capability errors as 0x100 + code, the IPC errors as 0x200 + code
//! (`kernel/src/ipc_glue.rs`), so no component ever sees an unknown status.

use tessera_abi::Status;
use tessera_capability::CapError;
use tessera_ipc::IpcError;

/// Every capability error; the match makes a new one a compile error here.
fn cap_errors() -> [CapError; 11] {
    let all = [
        CapError::InvalidCSpace,
        CapError::InvalidSelector,
        CapError::EmptySlot,
        CapError::SlotOccupied,
        CapError::WrongType,
        CapError::InsufficientRights,
        CapError::RightsNotApplicable,
        CapError::AlreadyBadged,
        CapError::BadgeNotApplicable,
        CapError::QuotaExhausted,
        CapError::OutOfMemory,
    ];
    for error in all {
        match error {
            CapError::InvalidCSpace
            | CapError::InvalidSelector
            | CapError::EmptySlot
            | CapError::SlotOccupied
            | CapError::WrongType
            | CapError::InsufficientRights
            | CapError::RightsNotApplicable
            | CapError::AlreadyBadged
            | CapError::BadgeNotApplicable
            | CapError::QuotaExhausted
            | CapError::OutOfMemory => {}
        }
    }
    all
}

/// Every IPC error; the match makes a new one a compile error here.
fn ipc_errors() -> [IpcError; 15] {
    let all = [
        IpcError::InvalidThread,
        IpcError::NotRunnable,
        IpcError::WakeupPending,
        IpcError::StaleEndpoint,
        IpcError::StaleNotification,
        IpcError::ServerDied,
        IpcError::EndpointDestroyed,
        IpcError::NotificationDestroyed,
        IpcError::NoCaller,
        IpcError::ReplyPending,
        IpcError::AboveCeiling,
        IpcError::BelowCeiling,
        IpcError::NotOwner,
        IpcError::MessageTooLong,
        IpcError::OutOfMemory,
    ];
    for error in all {
        match error {
            IpcError::InvalidThread
            | IpcError::NotRunnable
            | IpcError::WakeupPending
            | IpcError::StaleEndpoint
            | IpcError::StaleNotification
            | IpcError::ServerDied
            | IpcError::EndpointDestroyed
            | IpcError::NotificationDestroyed
            | IpcError::NoCaller
            | IpcError::ReplyPending
            | IpcError::AboveCeiling
            | IpcError::BelowCeiling
            | IpcError::NotOwner
            | IpcError::MessageTooLong
            | IpcError::OutOfMemory => {}
        }
    }
    all
}

/// Every `(name, code)` of one error group is a named status at `base + code`.
fn assert_named(base: u64, errors: impl IntoIterator<Item = (String, u32)>) {
    for (error, code) in errors {
        let code = base + u64::from(code);
        assert!(
            Status::from_code(code).is_some(),
            "{error} ({code:#x}) is not in Status"
        );
    }
}

#[test]
fn every_capability_error_is_a_named_status() {
    assert_named(0x100, cap_errors().map(|e| (format!("{e:?}"), e.code())));
}

#[test]
fn every_ipc_error_is_a_named_status() {
    assert_named(0x200, ipc_errors().map(|e| (format!("{e:?}"), e.code())));
}
