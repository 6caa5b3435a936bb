//! For init only: the boot modules the kernel hands the component that
//! builds the deployment (ABI: `tessera_abi::init`).

use alloc::string::String;
use alloc::vec::Vec;
use tessera_abi::init::MODULE_WORDS;

use crate::syscall::{init_boot_words, init_module_bytes};

/// One boot module: its name (the module string's last word) and bytes.
#[derive(Debug)]
pub struct BootModule {
    pub name: String,
    pub bytes: &'static [u8],
}

/// The boot modules in order (0 is the boot plan, the last is init).
pub fn modules() -> Vec<BootModule> {
    let words = init_boot_words();
    words
        .get(2..)
        .unwrap_or(&[])
        .chunks_exact(MODULE_WORDS)
        .map(|module| {
            let name: Vec<u8> = module[2..]
                .iter()
                .flat_map(|word| word.to_le_bytes())
                .take_while(|&byte| byte != 0)
                .collect();
            BootModule {
                name: String::from_utf8_lossy(&name).into_owned(),
                bytes: init_module_bytes(module[0], module[1]),
            }
        })
        .collect()
}
