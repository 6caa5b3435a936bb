//! The partition's Hv#1 configuration and the hypervisor CPUID leaves it
//! produces.
//!
//! TLFS md `feature-discovery.md`; TLFS 6.0b §2; Requirements § Hypervisor
//! CPUID Leaves.

mod config;
mod feature_error;
mod features;
mod implemented;
mod leaves;
mod validate;
mod words;

pub use config::{Hv1Config, SystemIdentity, VP_LIMIT_UNLIMITED, VendorId};
pub use feature_error::FeatureError;
pub use features::{
    DEFAULT_SPINLOCK_RETRIES, FeatureScope, NOT_WIRED_FEATURES, NOT_WIRED_REASON,
    SUPPORTED_FEATURES,
};
pub use implemented::{
    CpuidRegister, IMPLEMENTED_FEATURES_ECX, IMPLEMENTED_FEATURES_EDX, IMPLEMENTED_PRIVILEGES,
    IMPLEMENTED_RECOMMENDATIONS, MODELLED_FEATURES_EDX, MODELLED_PRIVILEGES,
    MODELLED_RECOMMENDATIONS,
};
pub use leaves::{HV1_MAX_LEAF, cpuid, is_hypervisor_leaf, with_hypervisor_present};
pub use validate::{Violation, Violations};
