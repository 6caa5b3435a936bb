//! Links the kernel with the layout in `boot/kernel.ld` and rebuilds when the
//! boot assembly changes (it is included with `include_str!`, which cargo
//! tracks, but the linker script is not).
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let boot = manifest_dir
        .join("../boot")
        .canonicalize()
        .expect("boot/ next to kernel/");
    let linker_script = boot.join("kernel.ld");
    println!("cargo:rerun-if-changed={}", linker_script.display());
    if std::env::var("TARGET").as_deref() == Ok("x86_64-unknown-none") {
        println!("cargo:rustc-link-arg-bins=-T{}", linker_script.display());
        println!("cargo:rustc-link-arg-bins=--gc-sections");
    }
}
