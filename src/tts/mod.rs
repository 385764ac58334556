//! Text to speech: the [`Synthesizer`] trait, and [`PiperVoice`], a Piper voice run through ONNX
//! Runtime with espeak-ng phonemes.
//!
//! Text goes through three steps. [`split_sentences`] cuts the written text into sentences (without
//! being fooled by "Dr." or "$42.50"); [`normalize_for_speech`] rewrites each as the words a phone agent
//! would say ("forty-two dollars and fifty cents"); the voice turns each into audio, handing every
//! sentence to the caller as soon as it is ready so the caller hears the first while the rest are made.
//! [`PromptCache`] keeps rendered audio of prompts that are said again and again.

mod cache;
mod espeak;
mod normalize;
mod numbers;
mod piper;
mod sentences;

use std::ops::ControlFlow;
use std::path::PathBuf;

pub use cache::{CacheStats, PromptCache, Rendered};
pub use normalize::normalize_for_speech;
pub use piper::{config_path, PiperVoice, VoiceConfig};
pub use sentences::{split_sentences, MAX_SENTENCE_CHARS};

use crate::models::ModelError;

/// The longest text one call will synthesise, in characters: about five minutes of speech. No phone prompt
/// is that long; text beyond it (a statement, terms and conditions) belongs in a message, not a call.
pub const MAX_TEXT_CHARS: usize = 4_000;

/// The pause [`Synthesizer::synthesize_all`] puts between sentences, in milliseconds.
pub const SENTENCE_PAUSE_MS: u32 = 200;

/// One sentence of synthesised speech.
#[derive(Debug, Clone)]
pub struct SpokenSentence {
    /// The sentence as written in the input (before normalisation).
    pub text: String,
    /// Mono audio at the synthesiser's sample rate, in -1.0..=1.0.
    pub samples: Vec<f32>,
}

/// Something that turns text into speech.
pub trait Synthesizer: Send + Sync {
    /// Sample rate of the audio this synthesiser produces, in Hz.
    fn sample_rate(&self) -> u32;

    /// Synthesise `text` sentence by sentence, calling `on_sentence` with each sentence's audio as soon
    /// as it is ready. Return [`ControlFlow::Break`] from the callback to stop early (the caller barged
    /// in); the remaining sentences are then not synthesised.
    fn synthesize(
        &self,
        text: &str,
        on_sentence: &mut dyn FnMut(SpokenSentence) -> ControlFlow<()>,
    ) -> Result<(), TtsError>;

    /// All of `text` as one clip, sentences joined by a short pause ([`SENTENCE_PAUSE_MS`]).
    fn synthesize_all(&self, text: &str) -> Result<Vec<f32>, TtsError> {
        let pause = vec![0.0; (self.sample_rate() * SENTENCE_PAUSE_MS / 1000) as usize];
        let mut audio = Vec::new();
        self.synthesize(text, &mut |sentence| {
            if !audio.is_empty() {
                audio.extend_from_slice(&pause);
            }
            audio.extend_from_slice(&sentence.samples);
            ControlFlow::Continue(())
        })?;
        Ok(audio)
    }
}

/// Why text could not be spoken, or a voice could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error("nothing to say: the text has no speakable words")]
    NothingToSay,
    #[error(
        "the text is {chars} characters long, over the limit of {limit}; split it into smaller pieces (a paragraph at a time) and synthesise each"
    )]
    TooLong { chars: usize, limit: usize },
    /// A model file or ONNX Runtime is missing; the message names the command that fetches it.
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("could not read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "the Piper voice config {path} is not valid at line {line}, column {column}: {reason}; fetch it again with `helpline models fetch`"
    )]
    Config { path: PathBuf, line: usize, column: usize, reason: String },
    #[error("the Piper voice config {path} cannot be used: {reason}; fetch it again with `helpline models fetch`")]
    ConfigContent { path: PathBuf, reason: String },
    #[error("could not load the Piper voice {path}: {reason}; if the file is damaged, fetch it again with `helpline models fetch`")]
    LoadVoice { path: PathBuf, reason: String },
    #[error("the Piper voice failed on the sentence {sentence:?}: {reason}")]
    Inference { sentence: String, reason: String },
    #[error("espeak-ng: {0}")]
    Espeak(String),
}

/// Check `text` and turn it into (sentence as written, sentence as spoken) pairs, erring before any
/// audio is made if there is nothing to say or too much.
fn prepare(text: &str) -> Result<Vec<(String, String)>, TtsError> {
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(TtsError::TooLong { chars, limit: MAX_TEXT_CHARS });
    }
    let mut pieces = split_sentences(text);
    if let Some(first) = pieces.first().cloned() {
        if let Some((clause, rest)) = split_first_clause(&first) {
            pieces.splice(0..1, [clause, rest]);
        }
    }
    let sentences: Vec<(String, String)> = pieces
        .into_iter()
        .map(|written| {
            let spoken = normalize_for_speech(&written);
            (written, spoken)
        })
        .filter(|(_, spoken)| spoken.chars().any(char::is_alphanumeric))
        .collect();
    if sentences.is_empty() {
        return Err(TtsError::NothingToSay);
    }
    Ok(sentences)
}

/// Words a clause needs before it is worth speaking on its own.
const MIN_CLAUSE_WORDS: usize = 3;

/// Cut a long first sentence after its first clause ("Thank you for calling Acme Bank, | how can I help
/// you today?"), so the caller hears audio after one clause's synthesis rather than the whole
/// sentence's. The comma stays with the clause, so the voice still pauses there. Only the first
/// sentence is cut: later ones are synthesised while earlier ones play.
fn split_first_clause(sentence: &str) -> Option<(String, String)> {
    let cut = sentence.match_indices([',', ';', ':']).map(|(i, _)| i + 1).find(|&end| {
        sentence[end..].starts_with(' ')
            && sentence[..end].split_whitespace().count() >= MIN_CLAUSE_WORDS
            && sentence[end..].split_whitespace().count() >= MIN_CLAUSE_WORDS - 1
    })?;
    Some((sentence[..cut].to_string(), sentence[cut..].trim_start().to_string()))
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::time::Instant;

    use super::*;
    use crate::models::{init_onnx_runtime, ModelDir};

    fn models() -> ModelDir {
        ModelDir::at(concat!(env!("CARGO_MANIFEST_DIR"), "/models"))
    }

    /// The real voice, loaded once for all tests.
    fn voice() -> &'static PiperVoice {
        static VOICE: OnceLock<PiperVoice> = OnceLock::new();
        VOICE.get_or_init(|| {
            PiperVoice::load(&models(), 2)
                .unwrap_or_else(|e| panic!("the Piper voice must be set up for these tests: {e}"))
        })
    }

    fn rms(samples: &[f32]) -> f32 {
        (samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32).sqrt()
    }

    #[test]
    fn speaks_sentence_by_sentence() {
        let voice = voice();
        assert_eq!(voice.sample_rate(), 22_050);
        let mut sentences = Vec::new();
        voice
            .synthesize("Thank you for calling Acme Bank. Your balance is $42.50.", &mut |s| {
                sentences.push(s);
                ControlFlow::Continue(())
            })
            .expect("synthesis works");
        assert_eq!(sentences.len(), 2);
        assert_eq!(sentences[1].text, "Your balance is $42.50.");
        for sentence in &sentences {
            let seconds = sentence.samples.len() as f32 / 22_050.0;
            assert!((0.5..6.0).contains(&seconds), "{:?} lasts {seconds} s", sentence.text);
            assert!(rms(&sentence.samples) > 0.02, "{:?} is nearly silent", sentence.text);
            assert!(sentence.samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
        }
    }

    #[test]
    fn stops_when_the_caller_barges_in() {
        let mut heard = 0;
        voice()
            .synthesize("One. Two. Three.", &mut |_| {
                heard += 1;
                ControlFlow::Break(())
            })
            .expect("synthesis works");
        assert_eq!(heard, 1);
    }

    #[test]
    fn a_long_first_sentence_is_spoken_clause_first() {
        let cut = split_first_clause("Thank you for calling Acme Bank, how can I help you today?");
        assert_eq!(cut, Some(("Thank you for calling Acme Bank,".into(), "how can I help you today?".into())));
        assert_eq!(split_first_clause("Yes, I can help."), None, "too short to cut");
        assert_eq!(split_first_clause("Your balance is $1,250.42 today, thanks."), None, "no cut inside a number");
        let pieces = prepare("Thank you for calling Acme Bank, how can I help you today? Goodbye.").expect("prepare");
        assert_eq!(pieces.len(), 3);
    }

    #[test]
    fn synthesize_all_joins_with_a_pause() {
        let voice = voice();
        let one = voice.synthesize_all("Hello there.").expect("synthesis works");
        let two = voice.synthesize_all("Hello there. Goodbye now.").expect("synthesis works");
        let pause = (22_050 * SENTENCE_PAUSE_MS / 1000) as usize;
        assert!(two.len() > one.len() + pause);
    }

    #[test]
    fn keeps_clause_punctuation_in_phoneme_ids() {
        let voice = voice();
        let config = voice.config();
        let ids = voice.phoneme_ids("Hello, world.").expect("phonemes");
        let comma = config.ids(",")[2];
        let period = config.ids(".")[2];
        assert!(ids.contains(&comma), "no comma id in {ids:?}");
        assert!(ids.contains(&period), "no period id in {ids:?}");
        // ^ _ ... $ with a pad after every phoneme.
        assert_eq!(&ids[..2], &config.ids("")[..2]);
        assert_eq!(ids.last(), config.ids("").last());
        assert_eq!(voice.phonemes("Hello, world. How are you?").expect("phonemes"), "həlˈoʊ, wˈɜːld. hˈaʊ ɑːɹ juː?");
    }

    #[test]
    fn rejects_bad_input() {
        let voice = voice();
        for nothing in ["", "   ", "?!...", "*** 👍"] {
            let err = voice.synthesize_all(nothing).expect_err("nothing to say");
            assert!(matches!(err, TtsError::NothingToSay), "{nothing:?}: {err}");
            assert!(err.to_string().contains("no speakable words"));
        }
        let long = "word ".repeat(2_000);
        let err = voice.synthesize_all(&long).expect_err("too long");
        assert!(matches!(err, TtsError::TooLong { chars: 10_000, limit: MAX_TEXT_CHARS }), "{err}");
        assert!(err.to_string().contains("10000") && err.to_string().contains("split"), "{err}");
    }

    #[test]
    fn odd_text_is_spoken_or_refused_never_a_panic() {
        let voice = voice();
        for text in ["你好，世界。", "١٢٣٤٥", "\u{0}\u{7f}abc", "e\u{301}\u{301}", "Ok 👍🏽.", "((( ))) [x]", "ʔʔʔ ɹɹɹ"]
        {
            match voice.synthesize_all(text) {
                Ok(audio) => assert!(audio.iter().all(|s| s.is_finite()), "{text:?}"),
                Err(TtsError::NothingToSay) => {}
                Err(e) => panic!("{text:?}: {e}"),
            }
        }
    }

    #[test]
    fn missing_model_names_the_file_and_the_fix() {
        let err = PiperVoice::load(&ModelDir::at("/nonexistent/models"), 1).err().expect("no model there");
        let message = err.to_string();
        assert!(message.contains("/nonexistent/models/piper/en_US-joe-medium.onnx"), "{message}");
        assert!(message.contains("helpline models fetch"), "{message}");
    }

    #[test]
    fn corrupt_config_names_the_file_and_line() {
        let models = models();
        let runtime = init_onnx_runtime(&models).expect("ONNX Runtime is set up");
        let dir = std::env::temp_dir().join(format!("helpline-tts-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let json = dir.join("corrupt.onnx.json");
        std::fs::write(&json, "{\n  \"audio\": {\"sample_rate\": 22050},\n  \"phoneme_id_map\": {\"_\": [0],\n")
            .expect("write");
        let err = PiperVoice::load_from(runtime, &models.piper_voice(), &json, 1).err().expect("corrupt config");
        let message = err.to_string();
        assert!(matches!(err, TtsError::Config { line: 4, .. }), "{message}");
        assert!(message.contains("corrupt.onnx.json") && message.contains("line 4"), "{message}");

        std::fs::write(&json, r#"{"audio": {"sample_rate": 22050}, "phoneme_id_map": {"a": [1]}}"#).expect("write");
        let err = PiperVoice::load_from(runtime, &models.piper_voice(), &json, 1).err().expect("no pad symbol");
        assert!(err.to_string().contains("phoneme_id_map has no '^'"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Load time, time to first sentence and real-time factor on this machine:
    /// `cargo test --release --lib tts::tests::timings -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timings() {
        let text = "Thank you for calling Acme Bank. Your balance is $42.50, and your next payment of \
                    $120 is due on 03/04/2026. Is there anything else I can help you with today?";
        for threads in [1, 2] {
            let started = Instant::now();
            let voice = PiperVoice::load(&models(), threads).expect("voice loads");
            let load = started.elapsed().as_secs_f64();
            voice.synthesize_all("Warm up.").expect("synthesis works");
            // Best of three, so a busy moment on a shared machine does not count.
            let (mut first, mut total, mut audio_seconds) = (f64::MAX, f64::MAX, 0.0);
            for _ in 0..3 {
                let mut first_this = None;
                audio_seconds = 0.0;
                let started = Instant::now();
                voice
                    .synthesize(text, &mut |s| {
                        first_this.get_or_insert(started.elapsed().as_secs_f64());
                        audio_seconds += s.samples.len() as f64 / f64::from(voice.sample_rate());
                        ControlFlow::Continue(())
                    })
                    .expect("synthesis works");
                total = total.min(started.elapsed().as_secs_f64());
                first = first.min(first_this.unwrap_or(0.0));
            }
            println!(
                "threads {threads}: load {load:.2} s, first sentence {first:.3} s, {audio_seconds:.2} s of audio in {total:.3} s, RTF {:.3}",
                total / audio_seconds
            );
        }
    }
}
