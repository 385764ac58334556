//! Transcribing a whole recording: voice detection cuts it into utterances, each is recognised alone.
//!
//! This is how `helpline transcribe` and the benchmarks see a file, and it is the same gating a live
//! call uses: silence and noise between utterances never reach the decoder.

use std::sync::Arc;

use super::{AsrError, Recognizer, Segment, Transcript, SAMPLE_RATE};
use crate::audio::{Audio, AudioError};
use crate::vad::{speech_segments, SileroModel, SpeechSegment, VadConfig, VadError};

/// Speech segments closer than this are recognised together: a pause this short is a breath inside a
/// sentence, and Whisper transcribes a sentence better whole than in pieces.
const JOIN_GAP_S: f64 = 1.5;
/// Recordings are brought up to a −1 dBFS peak, by at most 30 dB (the quietest real callers in the
/// evaluation set peak around −28 dBFS).
const PEAK_TARGET: f32 = 0.9;
const MAX_GAIN_DB: f32 = 30.0;
/// The longest stretch recognised at once, safely inside Whisper's 30 s window.
const MAX_GROUP_S: f64 = 25.0;

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Vad(#[from] VadError),
    #[error(transparent)]
    Asr(#[from] AsrError),
}

/// Voice detection settings for cutting a recording into utterances, after faster-whisper's: generous
/// padding (400 ms) so soft onsets and short words survive the cut (with Silero's 30 ms, isolated spoken
/// digits lost their first phoneme and were misheard), speech as short as 100 ms kept (a digit can be
/// 200 ms), and a full second of silence before an utterance ends. Live calls endpoint differently.
pub fn recording_vad_config() -> VadConfig {
    VadConfig { min_speech_ms: 100, min_silence_ms: 1000, speech_pad_ms: 400, ..VadConfig::default() }
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

/// `audio` as the recogniser takes it: 16 kHz, level raised (the same for a recording and a call's turn).
pub fn ready_for_recognition(audio: &Audio) -> Result<Audio, crate::audio::AudioError> {
    Ok(audio.to_rate(SAMPLE_RATE)?.with_peak_at(PEAK_TARGET, MAX_GAIN_DB))
}

/// Transcribe `audio` (any rate): resample to 16 kHz, find the speech, recognise each utterance.
pub fn transcribe_recording(
    recognizer: &dyn Recognizer,
    vad: &Arc<SileroModel>,
    vad_config: &VadConfig,
    audio: &Audio,
) -> Result<RecordingTranscript, RecordingError> {
    let wideband = ready_for_recognition(audio)?;
    let utterances = group_for_recognition(&speech_segments(vad, &wideband.samples, SAMPLE_RATE, vad_config)?);
    let mut texts = Vec::new();
    let mut segments = Vec::new();
    let (mut weighted, mut words) = (0.0f32, 0usize);
    for utterance in &utterances {
        let start = utterance.start_sample as usize;
        let end = (utterance.end_sample as usize).min(wideband.samples.len());
        let Transcript { text, confidence, segments: parts } = recognizer.recognize(&wideband.samples[start..end])?;
        tracing::debug!(start_s = utterance.start_s(SAMPLE_RATE), end_s = utterance.end_s(SAMPLE_RATE), %text, "utterance");
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

/// Transcribe `audio` (any rate, at most 30 s) in one recognition, without voice detection.
pub fn transcribe_whole(recognizer: &dyn Recognizer, audio: &Audio) -> Result<RecordingTranscript, RecordingError> {
    let wideband = audio.to_rate(SAMPLE_RATE)?;
    let Transcript { text, confidence, segments } = recognizer.recognize(&wideband.samples)?;
    Ok(RecordingTranscript { text, confidence, duration_s: audio.duration_s(), segments })
}

/// Join neighbouring speech segments into stretches for the recogniser (each encode costs the same
/// whatever its length, so fewer, fuller windows are both faster and more accurate); long silences
/// still separate them, so silence never fills a window.
fn group_for_recognition(segments: &[SpeechSegment]) -> Vec<SpeechSegment> {
    let rate = f64::from(SAMPLE_RATE);
    let mut groups: Vec<SpeechSegment> = Vec::new();
    for segment in segments {
        match groups.last_mut() {
            Some(group)
                if (segment.start_sample.saturating_sub(group.end_sample)) as f64 / rate <= JOIN_GAP_S
                    && (segment.end_sample - group.start_sample) as f64 / rate <= MAX_GROUP_S =>
            {
                group.end_sample = segment.end_sample;
            }
            _ => groups.push(*segment),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start_s: f64, end_s: f64) -> SpeechSegment {
        SpeechSegment { start_sample: (start_s * 16_000.0) as u64, end_sample: (end_s * 16_000.0) as u64 }
    }

    #[test]
    fn close_segments_are_joined_and_long_silences_or_long_stretches_split_them() {
        let groups =
            group_for_recognition(&[seg(0.0, 2.0), seg(2.5, 4.0), seg(8.0, 9.0), seg(9.2, 20.0), seg(20.5, 34.0)]);
        assert_eq!(groups, vec![seg(0.0, 4.0), seg(8.0, 20.0), seg(20.5, 34.0)]);
    }
}
