//! Speech to text.
//!
//! [`Recognizer`] is the one face the rest of Helpline uses: give it one utterance (mono 16 kHz, already
//! cut by the voice detector), get a [`Transcript`] with text, a confidence and timed segments. The
//! whisper.cpp backend ([`WhisperRecognizer`]) loads its model once and shares it; each concurrent
//! recognition makes its own decoder state. [`guards`] holds the checks that keep
//! Whisper's known hallucinations ("Thank you.", "you you you") out of a caller's transcript.

pub mod guards;
pub mod recording;
mod whisper;

pub use whisper::{AudioContext, WhisperConfig, WhisperRecognizer};

/// The sample rate every recogniser takes: Whisper's, and the VAD's wideband rate.
pub const SAMPLE_RATE: u32 = 16_000;

/// What a caller said in one utterance.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Transcript {
    /// The words, trimmed; empty when nothing was said (or only a hallucination was rejected).
    pub text: String,
    /// 0..1: the geometric mean of the text tokens' probabilities; 0 for an empty transcript.
    pub confidence: f32,
    pub segments: Vec<Segment>,
}

/// A stretch of the utterance with its own timing, as the decoder produced it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Segment {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
}

/// Turns one utterance of speech into text. Implementations are shared by all calls and must allow
/// several recognitions at once.
pub trait Recognizer: Send + Sync {
    /// `samples`: mono audio at [`SAMPLE_RATE`], at most [`MAX_UTTERANCE_S`] long.
    fn recognize(&self, samples: &[f32]) -> Result<Transcript, AsrError>;
}

/// Whisper sees 30 s at a time; longer audio must be split into utterances first (the VAD does this).
pub const MAX_UTTERANCE_S: f64 = 30.0;

#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    #[error("cannot load Whisper model {path}: {reason}; it may be corrupt: run `helpline models fetch --force` to fetch and convert it again")]
    Load { path: std::path::PathBuf, reason: String },
    #[error("an utterance of {seconds:.1} s is longer than the {max} s a recognition takes; split it with voice detection first")]
    TooLong { seconds: f64, max: f64 },
    #[error("recognition failed: {0}")]
    Decode(String),
    #[error("recognition was aborted because its transcript was no longer needed")]
    Aborted,
}
