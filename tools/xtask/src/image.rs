//! The GRUB rescue ISO: a staging directory with `boot/grub/grub.cfg` (rendered from
//! `boot/grub.cfg.in`), the kernel and the modules, packed by `grub-mkrescue`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cargo_build::KERNEL;
use crate::deployment::Deployment;
use crate::workspace::Workspace;

/// The `grub.cfg` template, relative to the workspace root.
pub const GRUB_TEMPLATE: &str = "boot/grub.cfg.in";
const CMDLINE_PLACEHOLDER: &str = "@KERNEL_CMDLINE@";
const MODULES_PLACEHOLDER: &str = "@MODULES@";

/// Builds `<target>/tessera/<deployment>.iso` around `kernel` and returns its path.
pub fn make_iso(
    workspace: &Workspace,
    deployment: &Deployment,
    kernel: &Path,
) -> Result<PathBuf, String> {
    let template_path = workspace.root.join(GRUB_TEMPLATE);
    let template = fs::read_to_string(&template_path)
        .map_err(|e| format!("cannot read {}: {e}", template_path.display()))?;
    let module_names: Vec<&str> = deployment.modules.iter().map(|m| m.name.as_str()).collect();
    let grub_cfg = render_grub_cfg(&template, &deployment.cmdline, &module_names)
        .map_err(|e| format!("{}: {e}", template_path.display()))?;

    let out_dir = workspace.out_dir();
    let staging = out_dir.join(format!("{}.iso.d", deployment.name));
    let iso = out_dir.join(format!("{}.iso", deployment.name));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| io_error(&staging, e))?;
    }
    let boot = staging.join("boot");
    let grub_dir = boot.join("grub");
    fs::create_dir_all(&grub_dir).map_err(|e| io_error(&grub_dir, e))?;
    write(&grub_dir.join("grub.cfg"), grub_cfg.as_bytes())?;
    // GRUB reads what the ISO holds through the BIOS, a sector at a time:
    // the kernel's debug information (14 of its 14.3 MB) is left on the
    // host, for debuggers. Under nested KVM, reading it took GRUB long
    // enough, with no serial output, to look stuck.
    crate::elf_strip::write_loadable_copy(kernel, &boot.join(KERNEL))?;
    for module in &deployment.modules {
        copy(&module.source, &boot.join(&module.name))?;
    }

    let output = Command::new("grub-mkrescue")
        .arg("-o")
        .arg(&iso)
        .arg(&staging)
        .output()
        .map_err(|e| format!("cannot run grub-mkrescue: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "grub-mkrescue failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    println!("xtask: image {}", iso.display());
    Ok(iso)
}

/// Fills in the template: `@KERNEL_CMDLINE@` becomes the command line, and `@MODULES@`
/// becomes one line `  module2 /boot/<name> <name>` per module. A line holding only
/// `@MODULES@` is replaced whole, so no modules leave no blank line. Comment lines
/// (`#`) are copied as they are.
pub fn render_grub_cfg(template: &str, cmdline: &str, modules: &[&str]) -> Result<String, String> {
    let is_comment = |line: &&str| line.trim_start().starts_with('#');
    let has = |placeholder| {
        template
            .lines()
            .any(|line| !is_comment(&line) && line.contains(placeholder))
    };
    if !has(CMDLINE_PLACEHOLDER) {
        return Err(format!("the template has no {CMDLINE_PLACEHOLDER}"));
    }
    if !modules.is_empty() && !has(MODULES_PLACEHOLDER) {
        return Err(format!(
            "the template has no {MODULES_PLACEHOLDER}, but the deployment has modules"
        ));
    }
    let module_lines: Vec<String> = modules
        .iter()
        .map(|name| format!("  module2 /boot/{name} {name}"))
        .collect();
    let mut out = String::new();
    for line in template.lines() {
        if is_comment(&line) {
            out.push_str(line);
        } else if line.trim() == MODULES_PLACEHOLDER {
            for module_line in &module_lines {
                out.push_str(module_line);
                out.push('\n');
            }
            continue;
        } else {
            out.push_str(
                &line
                    .replace(CMDLINE_PLACEHOLDER, cmdline)
                    .replace(MODULES_PLACEHOLDER, &module_lines.join("\n")),
            );
        }
        out.push('\n');
    }
    Ok(out)
}

fn write(path: &Path, contents: &[u8]) -> Result<(), String> {
    fs::write(path, contents).map_err(|e| io_error(path, e))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

fn io_error(path: &Path, error: std::io::Error) -> String {
    format!("{}: {error}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "\
# Rendered from @KERNEL_CMDLINE@ and @MODULES@.
set timeout=0
menuentry \"Tessera\" {
  multiboot2 /boot/tessera-kernel @KERNEL_CMDLINE@
@MODULES@
  boot
}
";

    #[test]
    fn renders_without_modules() {
        let cfg = render_grub_cfg(TEMPLATE, "log=info debug-exit=0xf4", &[]).unwrap();
        assert_eq!(
            cfg,
            "\
# Rendered from @KERNEL_CMDLINE@ and @MODULES@.
set timeout=0
menuentry \"Tessera\" {
  multiboot2 /boot/tessera-kernel log=info debug-exit=0xf4
  boot
}
"
        );
    }

    #[test]
    fn renders_one_line_per_module() {
        let cfg = render_grub_cfg(TEMPLATE, "log=debug", &["pm", "synic"]).unwrap();
        assert!(cfg.contains(
            "  multiboot2 /boot/tessera-kernel log=debug\n  module2 /boot/pm pm\n  module2 /boot/synic synic\n  boot\n"
        ));
        assert!(!cfg.lines().skip(1).any(|line| line.contains('@')));
    }

    #[test]
    fn indented_modules_placeholder_is_replaced_whole() {
        let cfg = render_grub_cfg("x @KERNEL_CMDLINE@\n    @MODULES@\ny\n", "c", &["m"]).unwrap();
        assert_eq!(cfg, "x c\n  module2 /boot/m m\ny\n");
    }

    #[test]
    fn rejects_template_without_cmdline() {
        assert!(render_grub_cfg("multiboot2 /boot/tessera-kernel\n", "c", &[]).is_err());
        assert!(render_grub_cfg("# @KERNEL_CMDLINE@\nmultiboot2 /k\n", "c", &[]).is_err());
    }

    #[test]
    fn rejects_modules_without_placeholder() {
        assert!(render_grub_cfg("k @KERNEL_CMDLINE@\n", "c", &["m"]).is_err());
        assert!(render_grub_cfg("k @KERNEL_CMDLINE@\n", "c", &[]).is_ok());
    }
}
