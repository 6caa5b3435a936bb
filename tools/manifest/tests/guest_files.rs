//! Guest images given as files: a manifest anywhere, an image beside it,
//! checked by loading it the way the partition manager will.

use std::path::{Path, PathBuf};

use tessera_boot_plan::{BootPlan, GrantKind, Rights, SLOT_CONSOLE};
use tessera_manifest::{ModuleKind, check, compile, load};

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
