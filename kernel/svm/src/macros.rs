//! Compile-time layout checks for the VMCB structures.

/// Compile-time offset checks: `assert_offsets!(Type { field: 0x10, ... })`
/// expands to one `const _: () = assert!(offset_of!(Type, field) == 0x10)`
/// per field.
macro_rules! assert_offsets {
    ($ty:ty { $($field:ident : $offset:expr),* $(,)? }) => {
        $(
            const _: () = assert!(
                core::mem::offset_of!($ty, $field) == $offset,
                concat!(stringify!($ty), "::", stringify!($field), " is not at its manual offset"),
            );
        )*
    };
}

pub(crate) use assert_offsets;
