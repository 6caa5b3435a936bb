//! A translation for a reader that holds no reference to the tables: the
//! kernel's lock-free exit path reads them (with volatile loads) while
//! another CPU may be editing them under the kernel lock. The walk is the
//! processor's: every entry is read once, through `read`.
//!
//! The caller keeps every frame it may reach alive for the duration (the
//! kernel counts such a CPU as still running the guest, so an unmapping CPU
//! waits for it before frames go back to the pool), and treats the answer
//! as a hardware walk's: right at some moment during the call.
use super::bits::{ADDRESS_MASK, PRESENT};
use super::{GuestRights, Level, Translation, is_leaf, leaf_base, leaf_size};

/// Translates `gpa` in the nested table whose root is `root`, reading each
/// entry with `read(physical address of the entry)`. `None` where nothing
/// is mapped (or a 1 GiB leaf, which this crate never makes).
pub fn translate_shared(root: u64, gpa: u64, read: impl Fn(u64) -> u64) -> Option<Translation> {
    if gpa >> 48 != 0 {
        return None;
    }
    let mut table = root;
    for level in Level::ALL {
        let entry = read(table + level.index(gpa) as u64 * 8);
        if entry & PRESENT == 0 {
            return None;
        }
        if is_leaf(entry, level) {
            if level == Level::Pdpt {
                return None;
            }
            let size = leaf_size(level);
            return Some(Translation {
                hpa: leaf_base(entry, level) | (gpa & (size.bytes() - 1)),
                rights: GuestRights::from_leaf(entry),
                size,
            });
        }
        table = entry & ADDRESS_MASK;
    }
    None
}
