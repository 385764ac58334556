//! Recognition inside a call: an utterance at the call's rate becomes Whisper's input, and consecutive
//! partial transcripts say how settled the words are.

use super::pool::Cancel;
use crate::asr::{AsrError, AudioContext, Transcript, WhisperConfig, WhisperRecognizer};
use crate::audio::{Audio, AudioError};

/// Which recognition of an utterance this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// The caller finished (or paused long enough that they may have): the transcript the dialogue
    /// acts on.
    Final,
    /// The same, while the dialogue waits for a digit string (an account or card number).
    FinalDigits,
    /// The caller is still speaking: a provisional transcript, shown and then replaced.
    Partial,
}

impl Pass {
    pub fn is_final(self) -> bool {
        matches!(self, Pass::Final | Pass::FinalDigits)
    }

    /// How much of Whisper's window this pass computes.
    ///
    /// The window fitted to the utterance (10 s floor) costs 306 ms instead of 1153 ms for a 3 s
    /// utterance on two threads (`bench speech`), which is what lets a reply start within a second of
    /// the caller's last word. Over the committed clips through 8 kHz mu-law it changed one name and,
    /// on one digit string, repeated the last digits past the end of the speech; so a digit string,
    /// where one wrong digit fails the turn, keeps the full window. It can afford it: the caller's
    /// turn only ends after 1.5 s of silence there, and its recognition starts at the first pause.
    pub fn window(self) -> AudioContext {
        match self {
            Pass::Final | Pass::Partial => AudioContext::Fit { floor: FITTED_WINDOW_FLOOR_FRAMES },
            Pass::FinalDigits => AudioContext::Full,
        }
    }
}

/// The floor of a fitted window: 10 s. A 5 s floor made short clips loop ("5 5 5 5 …") in trials.
const FITTED_WINDOW_FLOOR_FRAMES: u16 = 500;

/// A recogniser the worker pool can tell how many threads one recognition may use.
///
/// The seam exists because the pool, not the model, decides threads; the second implementation is the
/// tests' recogniser that fails or panics on cue, to check that a broken stage hands the caller off.
pub trait PooledRecognizer: Send + Sync {
    /// Recognise `samples` (16 kHz) with `threads`, stopping early with [`AsrError::Aborted`] once
    /// `cancel` is raised (the result is no longer wanted, or optional work must yield its thread).
    fn recognize(&self, samples: &[f32], threads: usize, pass: Pass, cancel: &Cancel) -> Result<Transcript, AsrError>;
}

impl PooledRecognizer for WhisperRecognizer {
    fn recognize(&self, samples: &[f32], threads: usize, pass: Pass, cancel: &Cancel) -> Result<Transcript, AsrError> {
        // A copy sharing the loaded model: only the settings differ (no model load, no allocation of note).
        let config = WhisperConfig { threads: threads.max(1), audio_context: pass.window(), ..self.config().clone() };
        self.with_config(config).recognize_abortable(samples, cancel.flag())
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
