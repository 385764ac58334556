//! Transcribing a whole recording: voice detection cuts it into utterances, each is recognised alone.
//!
//! This is how `helpline transcribe` and the benchmarks see a file, and it is the same gating a live
//! call uses: silence and noise between utterances never reach the decoder.

use std::sync::Arc;

use super::{AsrError, Recognizer, Segment, Transcript, SAMPLE_RATE};
use crate::audio::{Audio, AudioError};
use crate::vad::{speech_segments, SileroModel, VadConfig, VadError};

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Vad(#[from] VadError),
    #[error(transparent)]
    Asr(#[from] AsrError),
}

/// The transcript of a recording: its utterances' text joined, with segment times in the recording.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecordingTranscript {
    pub text: String,
    /// Mean of the utterances' confidences weighted by their word counts; 0 when nothing was said.
    pub confidence: f32,
    pub duration_s: f64,
    pub segments: Vec<Segment>,
}

/// Transcribe `audio` (any rate): resample to 16 kHz, find the speech, recognise each utterance.
pub fn transcribe_recording(
    recognizer: &dyn Recognizer,
    vad: &Arc<SileroModel>,
    vad_config: &VadConfig,
    audio: &Audio,
) -> Result<RecordingTranscript, RecordingError> {
    let wideband = audio.to_rate(SAMPLE_RATE)?;
    let utterances = speech_segments(vad, &wideband.samples, SAMPLE_RATE, vad_config)?;
    let mut texts = Vec::new();
    let mut segments = Vec::new();
    let (mut weighted, mut words) = (0.0f32, 0usize);
    for utterance in &utterances {
        let start = utterance.start_sample as usize;
        let end = (utterance.end_sample as usize).min(wideband.samples.len());
        let Transcript { text, confidence, segments: parts } = recognizer.recognize(&wideband.samples[start..end])?;
        if text.is_empty() {
            continue;
        }
        let offset = start as f64 / f64::from(SAMPLE_RATE);
        let n = text.split_whitespace().count();
        weighted += confidence * n as f32;
        words += n;
        texts.push(text);
        segments.extend(parts.into_iter().map(|s| Segment {
            start_s: offset + s.start_s,
            end_s: (offset + s.end_s).min(end as f64 / f64::from(SAMPLE_RATE)),
            text: s.text,
        }));
    }
    Ok(RecordingTranscript {
        text: texts.join(" "),
        confidence: if words == 0 { 0.0 } else { weighted / words as f32 },
        duration_s: audio.duration_s(),
        segments,
    })
}
