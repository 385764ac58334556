//! A line: the files a business writes to describe its support line. (Being written: the face is fixed.)

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::models::ModelDir;
use crate::nlu::encoder::SentenceEncoder;

#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// Settings of the line's voice channel.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceSettings {
    /// Silence after a reply before the caller is re-prompted.
    pub no_input_timeout_ms: u64,
    /// Calls longer than this are wrapped up and handed off.
    pub max_call_seconds: u64,
}

/// A loaded, validated line.
pub struct Line {
    pub name: String,
    pub voice: VoiceSettings,
}

impl Line {
    /// Load and validate every file of the line directory `dir`; trains its intent model if needed.
    pub fn load(_dir: &Path, _encoder: Arc<SentenceEncoder>, _models: &ModelDir) -> Result<Line, LineError> {
        todo!()
    }
}
