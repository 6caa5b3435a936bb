//! The build script of every ELF64 test guest (each names this file with
//! `build =` in its Cargo.toml, so there is one copy): links the guest's
//! binary with `elf64-guest.ld`, which puts the image at 1 MiB. The path is
//! absolute because the linker runs in another directory.
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let script = manifest_dir
        .join("../framework/link/elf64-guest.ld")
        .canonicalize()
        .expect("every guest lives in test-guests/, next to framework/");
    println!("cargo:rerun-if-changed={}", script.display());
    if std::env::var("TARGET").as_deref() == Ok("x86_64-unknown-none") {
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
        println!("cargo:rustc-link-arg-bins=--gc-sections");
    }
}
