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

#[test]
fn every_capability_error_is_a_named_status() {
    for error in cap_errors() {
        let code = 0x100 + u64::from(error.code());
        assert!(
            Status::from_code(code).is_some(),
            "{error:?} ({code:#x}) is not in Status"
        );
    }
}

#[test]
fn every_ipc_error_is_a_named_status() {
    for error in ipc_errors() {
        let code = 0x200 + u64::from(error.code());
        assert!(
            Status::from_code(code).is_some(),
            "{error:?} ({code:#x}) is not in Status"
        );
    }
}
