//! Linux kernel modules from an unpacked kernel package: found by name
//! under `lib/modules/RELEASE/kernel/`, ordered so that each comes after
//! the modules it depends on (the `depends=` entry of its `.modinfo`
//! section, which `depmod` reads too), ready for `insmod` one by one.
//! A module file compressed with xz (`.ko.xz`) is decompressed.

use std::collections::BTreeMap;
use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// A module ready to go into an initramfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module's name with `_` (as `/sys/module/` spells it).
    pub name: String,
    /// The uncompressed `.ko`.
    pub bytes: Vec<u8>,
}

/// `wanted` (module names, `-` or `_`) and every module they depend on,
/// each after its dependencies, from the tree `kernel_dir`
/// (`lib/modules/RELEASE/kernel`).
pub fn load_order(kernel_dir: &Path, wanted: &[&str]) -> Result<Vec<Module>, String> {
    let mut files = BTreeMap::new();
    index(kernel_dir, &mut files)?;
    let mut order = Vec::new();
    for name in wanted {
        visit(&canonical(name), &files, &mut order, &mut Vec::new())?;
    }
    Ok(order)
}

/// Module name → file, for every `.ko` and `.ko.xz` under `dir`.
fn index(dir: &Path, files: &mut BTreeMap<String, PathBuf>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            index(&path, files)?;
            continue;
        }
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let stem = file_name
            .strip_suffix(".ko")
            .or_else(|| file_name.strip_suffix(".ko.xz"));
        if let Some(stem) = stem {
            files.insert(canonical(stem), path);
        }
    }
    Ok(())
}

fn visit(
    name: &str,
    files: &BTreeMap<String, PathBuf>,
    order: &mut Vec<Module>,
    path: &mut Vec<String>,
) -> Result<(), String> {
    if order.iter().any(|m| m.name == name) {
        return Ok(());
    }
    if path.iter().any(|n| n == name) {
        return Err(format!(
            "modules depend on each other in a cycle: {}",
            path.join(" -> ")
        ));
    }
    let file = files
        .get(name)
        .ok_or_else(|| format!("the kernel package has no module {name}"))?;
    let bytes = read_module(file)?;
    let depends = modinfo(&bytes)
        .map_err(|e| format!("{}: {e}", file.display()))?
        .into_iter()
        .filter(|(key, _)| key == "depends")
        .flat_map(|(_, value)| {
            value
                .split(',')
                .filter(|d| !d.is_empty())
                .map(canonical)
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>();
    path.push(name.to_string());
    for dependency in &depends {
        visit(dependency, files, order, path)?;
    }
    path.pop();
    order.push(Module {
        name: name.to_string(),
        bytes,
    });
    Ok(())
}

fn read_module(file: &Path) -> Result<Vec<u8>, String> {
    let bytes = fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    if file.extension().is_some_and(|ext| ext == "xz") {
        let mut plain = Vec::new();
        lzma_rs::xz_decompress(&mut Cursor::new(bytes), &mut plain)
            .map_err(|e| format!("{}: {e:?}", file.display()))?;
        return Ok(plain);
    }
    Ok(bytes)
}

/// Module names are spelt with `-` or `_`; the kernel uses `_`.
fn canonical(name: &str) -> String {
    name.replace('-', "_")
}

/// The `key=value` entries of the `.modinfo` section of a little-endian
/// ELF64 module.
pub fn modinfo(elf: &[u8]) -> Result<Vec<(String, String)>, String> {
    let u16_at = |at: usize| {
        elf.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        elf.get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let u64_at = |at: usize| {
        elf.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
    };
    if elf.get(..6) != Some(b"\x7fELF\x02\x01") {
        return Err("not a little-endian ELF64 file".into());
    }
    let bad = || "its section headers lie outside the file".to_string();
    let shoff = u64_at(0x28).ok_or_else(bad)?;
    let shentsize = usize::from(u16_at(0x3a).ok_or_else(bad)?);
    let shnum = usize::from(u16_at(0x3c).ok_or_else(bad)?);
    let shstrndx = usize::from(u16_at(0x3e).ok_or_else(bad)?);
    let section = |index: usize| -> Option<(usize, &[u8])> {
        let header = shoff.checked_add(index.checked_mul(shentsize)?)?;
        let name = u32_at(header)? as usize;
        let offset = u64_at(header + 0x18)?;
        let size = u64_at(header + 0x20)?;
        Some((name, elf.get(offset..offset.checked_add(size)?)?))
    };
    let (_, names) = section(shstrndx).ok_or_else(bad)?;
    for index in 0..shnum {
        let (name_at, data) = section(index).ok_or_else(bad)?;
        let name = names.get(name_at..).unwrap_or(&[]);
        if name.starts_with(b".modinfo\0") {
            return Ok(data
                .split(|&b| b == 0)
                .filter_map(|entry| {
                    let entry = String::from_utf8_lossy(entry);
                    let (key, value) = entry.split_once('=')?;
                    Some((key.to_string(), value.to_string()))
                })
                .collect());
        }
    }
    Err("it has no .modinfo section".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch;

    /// A minimal ELF64 with a `.modinfo` section (and the section names).
    fn module_elf(modinfo: &str) -> Vec<u8> {
        let info = modinfo.replace(';', "\0").into_bytes();
        let names = b"\0.modinfo\0.shstrtab\0";
        let mut elf = vec![0u8; 64];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let info_at = elf.len();
        elf.extend_from_slice(&info);
        let names_at = elf.len();
        elf.extend_from_slice(names);
        let shoff = elf.len();
        let mut header = |name: u32, offset: usize, size: usize| {
            let mut sh = [0u8; 64];
            sh[..4].copy_from_slice(&name.to_le_bytes());
            sh[0x18..0x20].copy_from_slice(&(offset as u64).to_le_bytes());
            sh[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            elf.extend_from_slice(&sh);
        };
        header(0, 0, 0);
        header(1, info_at, info.len());
        header(10, names_at, names.len());
        elf[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        elf[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        elf[0x3e..0x40].copy_from_slice(&2u16.to_le_bytes());
        elf
    }

    #[test]
    fn reads_modinfo_entries() {
        let elf = module_elf("parmtype=nested:int;depends=kvm;name=kvm_amd;");
        assert_eq!(
            modinfo(&elf).unwrap(),
            [
                ("parmtype".into(), "nested:int".into()),
                ("depends".into(), "kvm".into()),
                ("name".into(), "kvm_amd".into()),
            ]
        );
        assert!(modinfo(b"not an elf").is_err());
        assert!(modinfo(&elf[..100]).is_err());
    }

    /// The KVM modules as Debian's kernels lay them out.
    fn kvm_tree(dir: &Path) -> PathBuf {
        let kernel = dir.join("lib/modules/6.1.0-50-cloud-amd64/kernel");
        for (path, info) in [
            ("arch/x86/kvm/kvm-amd.ko", "depends=kvm,ccp;name=kvm_amd"),
            ("arch/x86/kvm/kvm.ko", "depends=irqbypass;name=kvm"),
            ("virt/lib/irqbypass.ko", "depends=;name=irqbypass"),
            ("drivers/crypto/ccp/ccp.ko", "depends=;name=ccp"),
            ("loop/a.ko", "depends=b"),
            ("loop/b.ko", "depends=a"),
        ] {
            let file = kernel.join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, module_elf(info)).unwrap();
        }
        kernel
    }

    #[test]
    fn dependencies_load_first() {
        let kernel = kvm_tree(&scratch::dir("kmod-order"));
        let names: Vec<String> = load_order(&kernel, &["kvm-amd"])
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["irqbypass", "kvm", "ccp", "kvm_amd"]);
        let names: Vec<String> = load_order(&kernel, &["kvm", "kvm_amd"])
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["irqbypass", "kvm", "ccp", "kvm_amd"]);
    }

    #[test]
    fn missing_modules_and_cycles_are_errors() {
        let kernel = kvm_tree(&scratch::dir("kmod-errors"));
        let error = load_order(&kernel, &["kvm-intel"]).unwrap_err();
        assert_eq!(error, "the kernel package has no module kvm_intel");
        let error = load_order(&kernel, &["a"]).unwrap_err();
        assert!(error.contains("cycle: a -> b"), "{error}");
    }

    #[test]
    fn xz_modules_are_decompressed() {
        let dir = scratch::dir("kmod-xz");
        let elf = module_elf("depends=;name=tiny");
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut Cursor::new(&elf), &mut xz).unwrap();
        fs::write(dir.join("tiny.ko.xz"), xz).unwrap();
        let modules = load_order(&dir, &["tiny"]).unwrap();
        assert_eq!(modules[0].bytes, elf);
    }
}
