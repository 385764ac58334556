//! Recognition inside a call: an utterance at the call's rate becomes Whisper's input, and consecutive
//! partial transcripts say how settled the words are.

use crate::asr::{AsrError, AudioContext, Recognizer, Transcript, WhisperConfig, WhisperRecognizer};
use crate::audio::{Audio, AudioError};

/// Which recognition of an utterance this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// The caller finished: the transcript the dialogue acts on.
    Final,
    /// The caller is still speaking: a provisional transcript, shown and then replaced.
    Partial,
}

/// Partials use Whisper's window fitted to the utterance with a 10 s floor rather than the full 30 s:
/// 467 ms instead of 1696 ms for a 3 s utterance on one thread (BENCHMARKS.md). A partial still running
/// when the caller stops shares the cores with the final, so the cheaper it is, the less it delays the
/// final; the 2–3 points of word error it costs on 8 kHz audio are acceptable in a provisional
/// transcript, and the final keeps the full window.
const PARTIAL_WINDOW_FLOOR_FRAMES: u16 = 500;

/// A recogniser the worker pool can tell how many threads one recognition may use.
///
/// The seam exists because the pool, not the model, decides threads; the second implementation is the
/// tests' recogniser that fails or panics on cue, to check that a broken stage hands the caller off.
pub trait PooledRecognizer: Send + Sync {
    fn recognize(&self, samples: &[f32], threads: usize, pass: Pass) -> Result<Transcript, AsrError>;
}

impl PooledRecognizer for WhisperRecognizer {
    fn recognize(&self, samples: &[f32], threads: usize, pass: Pass) -> Result<Transcript, AsrError> {
        // A copy sharing the loaded model: only the settings differ (no model load, no allocation of note).
        let audio_context = match pass {
            Pass::Final => self.config().audio_context,
            Pass::Partial => AudioContext::Fit { floor: PARTIAL_WINDOW_FLOOR_FRAMES },
        };
        let config = WhisperConfig { threads: threads.max(1), audio_context, ..self.config().clone() };
        Recognizer::recognize(&self.with_config(config), samples)
    }
}

/// An utterance at `rate` as the recogniser takes it: 16 kHz, level raised as recordings are (a phone
/// line's level varies a lot from caller to caller, Whisper's accuracy much less so once it is right).
pub fn prepare(samples: Vec<f32>, rate: u32) -> Result<Vec<f32>, AudioError> {
    Ok(crate::asr::recording::ready_for_recognition(&Audio::new(samples, rate))?.samples)
}

/// How settled a partial transcript is, 0..1: the share of its words that the previous partial of the
/// same utterance already had in the same place (their common prefix). Words that survive a second
/// of new audio rarely change again; the first partial has nothing to agree with and scores 0.
pub fn stability(previous: &str, current: &str) -> f32 {
    let words = |text: &str| -> Vec<String> {
        text.split_whitespace()
            .map(|w| w.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect()
    };
    let (before, now) = (words(previous), words(current));
    if now.is_empty() {
        return 0.0;
    }
    let agreed = before.iter().zip(&now).take_while(|(a, b)| a == b).count();
    agreed as f32 / now.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stability_is_the_share_of_words_the_last_partial_agreed_on() {
        assert_eq!(stability("", "I think my"), 0.0);
        assert_eq!(stability("I think my", "I think my card was"), 0.6);
        assert_eq!(stability("I think my card was", "I think my card was stolen."), 5.0 / 6.0);
        assert_eq!(stability("I think, my card", "i think my card"), 1.0, "case and punctuation do not count");
        assert_eq!(stability("I sink", "I think my"), 1.0 / 3.0);
        assert_eq!(stability("anything", ""), 0.0);
    }

    #[test]
    fn utterances_reach_the_recogniser_at_16k_and_a_usable_level() {
        let quiet: Vec<f32> = (0..8_000).map(|i| 0.05 * (i as f32 * 0.3).sin()).collect();
        let prepared = prepare(quiet, 8_000).expect("prepare");
        assert!((prepared.len() as i64 - 16_000).abs() < 10, "{} samples", prepared.len());
        let peak = prepared.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((0.8..=0.95).contains(&peak), "peak {peak}");
    }
}
