#!/usr/bin/env bash
# What CI runs: clippy and rustdoc on the host crates (warnings and broken
# documentation links are errors), then the host unit tests and the QEMU
# system tests, through `cargo xtask test`, whose last line is
# `N passed, M failed`; then the same system tests under KVM with nested SVM,
# inside Debian's Linux booted under TCG (`cargo xtask test --nested`, which
# fetches that kernel and busybox with apt-get download), ending with its own
# `N passed, M failed`.
#
# The machine needs rustup (rust-toolchain.toml pins the toolchain, the
# x86_64-unknown-none target and the components; rustup fetches what is missing).
# xtask installs QEMU and the GRUB tools with apt-get when it runs as root.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "ci: cargo not found: install rustup first" >&2
    exit 1
fi
if command -v rustup >/dev/null 2>&1; then
    # Installs the toolchain, target and components pinned in rust-toolchain.toml
    # if they are not there yet (rustup >= 1.28).
    rustup toolchain install
fi
cargo --version

# The workspace's default members are the host crates.
cargo clippy --all-targets -- -D warnings
RUSTDOCFLAGS="-D rustdoc::broken_intra_doc_links -D rustdoc::private_intra_doc_links" \
    cargo doc --no-deps

cargo xtask test
cargo xtask test --nested
