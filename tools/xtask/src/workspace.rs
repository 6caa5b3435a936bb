//! Where things are: the workspace root, cargo's target directory, and the directory
//! under it where xtask puts images and logs.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace on disk.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The directory holding the workspace `Cargo.toml`.
    pub root: PathBuf,
    /// Cargo's target directory (`CARGO_TARGET_DIR`, or what `cargo metadata` says).
    pub target_dir: PathBuf,
}

impl Workspace {
    /// Finds the workspace root (two levels above this crate) and the target directory.
    pub fn locate() -> Result<Self, String> {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest_dir
            .ancestors()
            .nth(2)
            .ok_or_else(|| format!("{} has no grandparent", manifest_dir.display()))?
            .to_path_buf();
        let target_dir = match env::var_os("CARGO_TARGET_DIR").filter(|dir| !dir.is_empty()) {
            Some(dir) => absolute_target_dir(&root, Path::new(&dir))?,
            None => target_dir_from_metadata(&root)?,
        };
        Ok(Self { root, target_dir })
    }

    /// A `cargo` command run in the workspace root, building into our target directory.
    pub fn cargo(&self) -> Command {
        let mut command = Command::new(cargo_program());
        command
            .current_dir(&self.root)
            .env("CARGO_TARGET_DIR", &self.target_dir);
        command
    }

    /// Where xtask writes its own outputs (ISOs, staging directories, logs).
    pub fn out_dir(&self) -> PathBuf {
        self.target_dir.join("tessera")
    }

    /// Where serial and QEMU logs go.
    pub fn logs_dir(&self) -> PathBuf {
        self.out_dir().join("logs")
    }
}

/// A `CARGO_TARGET_DIR` as an absolute path.
///
/// Cargo reads a relative one against the directory it was started in. `cargo
/// xtask` runs in that directory, but cargo starts unit tests in their
/// package's directory (`tools/xtask`), where the same relative path would
/// name a second target directory inside the source tree (downloads and
/// unpacked packages once landed there); tests take the workspace root, where
/// cargo is usually started.
fn absolute_target_dir(root: &Path, dir: &Path) -> Result<PathBuf, String> {
    let base = if cfg!(test) {
        root.to_path_buf()
    } else {
        env::current_dir().map_err(|e| format!("current directory: {e}"))?
    };
    Ok(base.join(dir))
}

/// The cargo that runs us (`CARGO`), so that nested builds use the same toolchain.
fn cargo_program() -> OsString {
    env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn target_dir_from_metadata(root: &Path) -> Result<PathBuf, String> {
    let output = Command::new(cargo_program())
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let json = String::from_utf8_lossy(&output.stdout);
    json_string_field(&json, "target_directory")
        .map(PathBuf::from)
        .ok_or_else(|| "cargo metadata printed no target_directory".to_string())
}

/// The value of the first string field `"key": "..."` in a JSON text, unescaped.
///
/// Enough JSON for one field of `cargo metadata`, whose keys never appear inside
/// string values before `target_directory` is reached at the top level.
fn json_string_field(json: &str, key: &str) -> Option<String> {
    let needle = format!("\"{key}\"");
    let mut rest = json;
    loop {
        let at = rest.find(&needle)?;
        rest = &rest[at + needle.len()..];
        let value = rest
            .trim_start()
            .strip_prefix(':')
            .and_then(|after_colon| after_colon.trim_start().strip_prefix('"'));
        if let Some(value) = value {
            return unescape_json_string(value);
        }
    }
}

/// Reads a JSON string body (after the opening quote) up to its closing quote.
fn unescape_json_string(body: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = body.chars();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                '/' => out.push('/'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let unit = u16::from_str_radix(&hex, 16).ok()?;
                    // Paths with characters outside the BMP are not worth a surrogate decoder.
                    out.push(char::from_u32(u32::from(unit))?);
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_target_dir_is_read_against_the_root_in_tests() {
        let root = Path::new("/checkout");
        assert_eq!(
            absolute_target_dir(root, Path::new("target")).unwrap(),
            Path::new("/checkout/target")
        );
        assert_eq!(
            absolute_target_dir(root, Path::new("/elsewhere/target")).unwrap(),
            Path::new("/elsewhere/target")
        );
    }

    #[test]
    fn finds_target_directory_in_cargo_metadata() {
        let json = r#"{"packages":[],"workspace_members":["a"],"target_directory":"/work/main/target","version":1}"#;
        assert_eq!(
            json_string_field(json, "target_directory").as_deref(),
            Some("/work/main/target")
        );
    }

    #[test]
    fn unescapes_json_strings() {
        let json = r#"{"target_directory" : "C:\\t\"x\"\/\u0041"}"#;
        assert_eq!(
            json_string_field(json, "target_directory").as_deref(),
            Some("C:\\t\"x\"/A")
        );
    }

    #[test]
    fn missing_or_unterminated_fields_are_none() {
        assert_eq!(json_string_field(r#"{"a":"b"}"#, "target_directory"), None);
        assert_eq!(
            json_string_field(r#"{"target_directory":"/x"#, "target_directory"),
            None
        );
    }

    #[test]
    fn skips_non_string_occurrences_of_the_key() {
        let json =
            r#"{"k":"target_directory","target_directory":null,"x":{"target_directory":"/t"}}"#;
        assert_eq!(
            json_string_field(json, "target_directory").as_deref(),
            Some("/t")
        );
    }
}
