//! Guest images given as files: a manifest anywhere, an image beside it,
//! checked by loading it the way the partition manager will.

use std::path::{Path, PathBuf};

use tessera_boot_plan::{BootPlan, GrantKind, GuestFormat, Rights, SLOT_CONSOLE};
use tessera_manifest::{ModuleKind, NamedFile, check, compile, load};

mod common;
use common::minimal_bzimage;

/// A static x86-64 ELF executable: one PT_LOAD segment of `code` at
/// `address`, entered at its start.
fn minimal_elf64(address: u64, code: &[u8]) -> Vec<u8> {
    let mut elf = vec![0u8; 64 + 56];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2; // 64-bit
    elf[5] = 1; // little-endian
    elf[6] = 1; // version
    elf[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf[18..20].copy_from_slice(&0x3Eu16.to_le_bytes()); // x86-64
    elf[20..24].copy_from_slice(&1u32.to_le_bytes());
    elf[24..32].copy_from_slice(&address.to_le_bytes()); // entry
    elf[32..40].copy_from_slice(&64u64.to_le_bytes()); // program headers
    elf[52..54].copy_from_slice(&64u16.to_le_bytes()); // header size
    elf[54..56].copy_from_slice(&56u16.to_le_bytes()); // program header size
    elf[56..58].copy_from_slice(&1u16.to_le_bytes()); // one
    let ph = &mut elf[64..120];
    ph[..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    ph[4..8].copy_from_slice(&5u32.to_le_bytes()); // R+X
    ph[8..16].copy_from_slice(&0x1000u64.to_le_bytes()); // file offset
    ph[16..24].copy_from_slice(&address.to_le_bytes());
    ph[24..32].copy_from_slice(&address.to_le_bytes());
    ph[32..40].copy_from_slice(&(code.len() as u64).to_le_bytes());
    ph[40..48].copy_from_slice(&(code.len() as u64).to_le_bytes());
    ph[48..56].copy_from_slice(&0x1000u64.to_le_bytes());
    elf.resize(0x1000, 0);
    elf.extend_from_slice(code);
    elf
}

/// A fresh directory outside the repository.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("manifest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn manifest(memory: &str, image: &str) -> String {
    format!(
        r#"[deployment]
component-memory = "600 MiB"
cpus = 2

[component.partition-manager]
image = "partition-manager"
memory = "520 MiB"
priority = 10
console = true
provides = ["exits"]

[component.devices]
image = "devices"
memory = "512 KiB"
priority = 10
console = true
console-input = true
provides = ["io"]

[partition.mine]
manager = "partition-manager"
image = "{image}"
memory = "{memory}"
vps = 2
cpus = [0, 1]
routes = [
  {{ exit = "lifecycle", to = "partition-manager.exits" }},
  {{ exit = "io", ports = "0xf4", to = "partition-manager.exits", state = ["rax"] }},
  {{ exit = "io", ports = "0x3f8-0x3ff", to = "devices.io", state = ["rax"] }},
]
"#
    )
}

#[test]
fn an_image_file_beside_a_manifest_outside_the_tree_loads() {
    let dir = temp_dir("guest-file");
    std::fs::write(dir.join("guest.elf"), minimal_elf64(0x100000, &[0xF4])).unwrap();
    let path = dir.join("my.toml");
    std::fs::write(&path, manifest("512 MiB", "./guest.elf")).unwrap();
    let deployment = load(&path);
    let _ = std::fs::remove_dir_all(&dir);
    let deployment = deployment.unwrap_or_else(|e| panic!("{}", tessera_manifest::render(&e)));
    assert_eq!(deployment.name, "my");
    assert_eq!(deployment.guest_images, ["image-1"]);
    assert!(deployment.guest_crates().is_empty(), "nothing to build");
    let partition = &deployment.partitions[0];
    assert_eq!(partition.image, "image-1");
    assert_eq!(
        partition.image_file.as_deref(),
        Some(dir.join("./guest.elf").as_path())
    );
    assert_eq!(partition.memory, 512 << 20);
    assert_eq!(partition.vp_cpus, [0, 1]);
    let modules = deployment.modules();
    let guest = modules.iter().find(|m| m.name == "image-1").unwrap();
    assert_eq!(guest.kind, ModuleKind::GuestImage);
    assert_eq!(
        guest.source.as_deref(),
        Some(dir.join("./guest.elf").as_path())
    );
    // The console's input: READ on devices' console grant.
    let plan = compile(&deployment);
    let plan = BootPlan::parse(&plan).unwrap();
    let devices = plan.components().find(|c| c.name == "devices").unwrap();
    let console = plan
        .grants_of(devices.index)
        .find(|g| g.kind == GrantKind::Console)
        .unwrap();
    assert_eq!(console.slot, SLOT_CONSOLE);
    assert_eq!(console.rights, Rights::WRITE.union(Rights::READ));
}

#[test]
fn an_image_that_does_not_fit_its_memory_is_refused_with_the_loaders_reason() {
    let dir = temp_dir("guest-too-big");
    // Linked at 64 MiB, in a partition of 16 MiB.
    std::fs::write(dir.join("guest.elf"), minimal_elf64(64 << 20, &[0xF4])).unwrap();
    let path = dir.join("my.toml");
    std::fs::write(&path, manifest("16 MiB", "./guest.elf")).unwrap();
    let errors = load(&path).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    let [error] = errors.as_slice() else {
        panic!("one error expected: {}", tessera_manifest::render(&errors));
    };
    assert_eq!(error.check, check::GUEST_IMAGE_FILE);
    assert_eq!(error.entry, "partition.mine.image");
    assert_eq!(error.line, Some(22), "{error}");
    assert!(
        error.message.starts_with(
            "Tessera cannot load `./guest.elf` as a guest of format elf64 with 16 MiB of memory: "
        ),
        "{error}"
    );
}

#[test]
fn two_partitions_share_one_file_and_crates_keep_their_names() {
    let dir = temp_dir("guest-shared");
    std::fs::write(dir.join("g"), minimal_elf64(0x100000, &[0xF4])).unwrap();
    let text = manifest("16 MiB", "./g").replace("console-input = true\n", "")
        + r#"
[partition.again]
manager = "partition-manager"
image = "./g"
memory = "16 MiB"
routes = [{ exit = "lifecycle", to = "partition-manager.exits" }]

[partition.crate]
manager = "partition-manager"
image = "hello"
memory = "16 MiB"
routes = [{ exit = "lifecycle", to = "partition-manager.exits" }]
"#;
    let path = dir.join("shared.toml");
    std::fs::write(&path, text).unwrap();
    let deployment = load(&path);
    let _ = std::fs::remove_dir_all(&dir);
    let deployment = deployment.unwrap_or_else(|e| panic!("{}", tessera_manifest::render(&e)));
    assert_eq!(deployment.guest_images, ["image-1", "hello"]);
    assert_eq!(deployment.guest_crates(), ["hello"]);
    assert_eq!(deployment.guest_files.len(), 1);
    let images: Vec<&str> = deployment
        .partitions
        .iter()
        .map(|p| p.image.as_str())
        .collect();
    assert_eq!(images, ["image-1", "image-1", "hello"]);
    assert!(Path::new(&deployment.guest_files[0].path).ends_with("g"));
}

fn linux_manifest(memory: &str, linux: &str) -> String {
    manifest(memory, "X").replace(r#"image = "X""#, &format!("linux = {linux}"))
}

#[test]
fn a_linux_guest_is_its_kernel_file_and_its_initrd_module() {
    let dir = temp_dir("linux");
    std::fs::write(dir.join("vmlinuz"), minimal_bzimage(0x80_0000, &[0xF4; 64])).unwrap();
    std::fs::write(dir.join("initrd.cpio"), b"070701...").unwrap();
    let path = dir.join("linux.toml");
    let text = linux_manifest(
        "64 MiB",
        r#"{ kernel = "./vmlinuz", initrd = "./initrd.cpio", cmdline = "console=ttyS0" }"#,
    );
    std::fs::write(&path, text).unwrap();
    let deployment = load(&path);
    let deployment = deployment.unwrap_or_else(|e| panic!("{}", tessera_manifest::render(&e)));
    let partition = &deployment.partitions[0];
    assert_eq!(partition.format, GuestFormat::Linux);
    assert_eq!(partition.image, "image-1");
    assert_eq!(partition.cmdline, "console=ttyS0");
    assert_eq!(partition.modules.len(), 1);
    assert_eq!(partition.modules[0].path, dir.join("./initrd.cpio"));
    assert_eq!(partition.modules[0].cmdline, "");
    let modules = deployment.modules();
    let kernel = modules.iter().find(|m| m.name == "image-1").unwrap();
    assert_eq!(kernel.kind, ModuleKind::GuestImage);
    assert_eq!(
        kernel.source.as_deref(),
        Some(dir.join("./vmlinuz").as_path())
    );
    let initrd = modules.iter().find(|m| m.name == "module-1").unwrap();
    assert_eq!(initrd.kind, ModuleKind::GuestModule);
    assert_eq!(
        initrd.source.as_deref(),
        Some(dir.join("./initrd.cpio").as_path())
    );

    let plan = compile(&deployment);
    let plan = BootPlan::parse(&plan).unwrap();
    let p = plan.partitions().next().unwrap();
    assert_eq!(p.format, GuestFormat::Linux);
    assert_eq!(p.cmdline, "console=ttyS0");
    let module = plan.guest_modules_of(p.index).next().unwrap();
    assert_eq!(plan.image(module.image).unwrap().name, "module-1");

    // 16 MiB at 16 MiB does not fit in 24 MiB: the loader's reason.
    std::fs::write(
        dir.join("vmlinuz"),
        minimal_bzimage(0x100_0000, &[0xF4; 64]),
    )
    .unwrap();
    let text = linux_manifest("24 MiB", r#"{ kernel = "./vmlinuz" }"#);
    std::fs::write(&path, text).unwrap();
    let errors = load(&path).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    let [error] = errors.as_slice() else {
        panic!("one error expected: {}", tessera_manifest::render(&errors));
    };
    assert_eq!(error.check, check::GUEST_IMAGE_FILE);
    assert_eq!(error.entry, "partition.mine.linux.kernel");
    assert!(
        error
            .message
            .starts_with("Tessera cannot boot `./vmlinuz` with 24 MiB of memory: "),
        "{error}"
    );
    assert!(error.message.contains("init_size"), "{error}");
}

#[test]
fn a_kernel_named_as_an_image_is_pointed_to_linux() {
    let dir = temp_dir("linux-as-image");
    std::fs::write(dir.join("vmlinuz"), minimal_bzimage(0x80_0000, &[0xF4; 64])).unwrap();
    let path = dir.join("my.toml");
    std::fs::write(&path, manifest("64 MiB", "./vmlinuz")).unwrap();
    let errors = load(&path).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(errors.len(), 1, "{}", tessera_manifest::render(&errors));
    assert!(
        errors[0]
            .help
            .contains("it is a Linux kernel: write linux = {"),
        "{}",
        errors[0]
    );
}

#[test]
fn named_kernels_and_initramfs_come_from_the_resolver() {
    let dir = temp_dir("linux-named");
    let kernel = dir.join("fetched-vmlinuz");
    let initramfs = dir.join("built.cpio");
    std::fs::write(&kernel, minimal_bzimage(0x80_0000, &[0xF4; 64])).unwrap();
    std::fs::write(&initramfs, b"070701").unwrap();
    let path = dir.join("named.toml");
    let text = linux_manifest(
        "64 MiB",
        r#"{ kernel = "debian:linux-image-cloud-amd64", initrd = "initramfs:linux" }"#,
    );
    std::fs::write(&path, &text).unwrap();
    let resolve = |named: NamedFile<'_>| match named {
        NamedFile::Debian("linux-image-cloud-amd64") => Ok(kernel.clone()),
        NamedFile::Initramfs("linux") => Ok(initramfs.clone()),
        other => Err(format!("no {other}")),
    };
    let deployment = tessera_manifest::load_with(&path, &resolve)
        .unwrap_or_else(|e| panic!("{}", tessera_manifest::render(&e)));
    let modules = deployment.modules();
    let image = modules.iter().find(|m| m.name == "image-1").unwrap();
    assert_eq!(image.source.as_deref(), Some(kernel.as_path()));
    let module = modules.iter().find(|m| m.name == "module-1").unwrap();
    assert_eq!(module.source.as_deref(), Some(initramfs.as_path()));
    assert_eq!(deployment.partitions[0].modules[0].file, "initramfs:linux");

    // Without a resolver (plain `load`), or one that fails: the reason.
    let errors = load(&path).unwrap_err();
    assert_eq!(errors.len(), 2, "{}", tessera_manifest::render(&errors));
    assert!(errors[0].message.starts_with(
        "cannot get the kernel `debian:linux-image-cloud-amd64`: `debian:linux-image-cloud-amd64` \
         is fetched or built by cargo xtask"
    ));
    let refuse = |_: NamedFile<'_>| Err("apt-get download failed".to_owned());
    let errors = tessera_manifest::load_with(&path, &refuse).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(errors[0].check, check::GUEST_IMAGE_FILE);
    assert_eq!(errors[0].entry, "partition.mine.linux.kernel");
    assert!(
        errors[0].message.ends_with(": apt-get download failed"),
        "{}",
        errors[0]
    );
}
