//! The whisper.cpp recogniser, through `whisper-rs`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState};

use super::guards;
use super::{AsrError, Recognizer, Segment, Transcript, MAX_UTTERANCE_S, SAMPLE_RATE};
use crate::models::ModelDir;

/// How much of Whisper's 30 s encoder window to compute.
///
/// whisper.cpp encodes the full window (1500 frames of 20 ms) for every utterance, which dominates the
/// cost of a 2 s phrase. Encoding only the utterance's own length is faster but was seen to make short
/// clips loop ("5 5 5 5 …"), so a shortened window always keeps a floor; `helpline bench speech`
/// measures speed and word error rate per setting before one is adopted as the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum AudioContext {
    /// The whole 30 s window (whisper's trained condition, the safe default).
    Full,
    /// The utterance's length plus a margin, never fewer than `floor` frames (50 frames = 1 s).
    Fit { floor: u16 },
}

/// Silence left after the utterance inside a shortened window, telling the decoder that speech ended.
/// With 1 s, a 5 s floor gave 17 % WER on the corpus through 8 kHz mu-law; with 3 s, 4.9 % (bench speech).
const MARGIN_FRAMES: i32 = 150;

impl AudioContext {
    /// Encoder frames for an utterance of `samples` at 16 kHz; 0 means "the whole window".
    fn frames_for(self, samples: usize) -> i32 {
        match self {
            AudioContext::Full => 0,
            AudioContext::Fit { floor } => {
                // 50 encoder frames a second, plus a margin of silence that tells the decoder speech ended.
                let needed = (samples as f64 / f64::from(SAMPLE_RATE) * 50.0).ceil() as i32 + MARGIN_FRAMES;
                needed.max(i32::from(floor)).min(1500)
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct WhisperConfig {
    /// Threads for one recognition. Two threads on a two-core machine stalled 2–10× in trials when
    /// anything else ran, so callers choose deliberately (see BENCHMARKS.md).
    pub threads: usize,
    pub audio_context: AudioContext,
    /// Words that help the decoder with a line's vocabulary (Whisper's initial prompt). Empty by default:
    /// a prompt carried across utterances is a known source of repeated hallucinations.
    pub prompt: String,
}

impl Default for WhisperConfig {
    fn default() -> Self {
        Self { threads: 2, audio_context: AudioContext::Full, prompt: String::new() }
    }
}

/// whisper.cpp with one shared model and a decoder state of its own for every recognition.
///
/// A state is made fresh for each recognition rather than pooled: it costs 2–12 ms against hundreds for
/// the recognition, and it makes results reproducible. whisper.cpp's temperature fallback samples from a
/// random generator kept in the state, so a reused state made the same audio transcribe differently
/// depending on what it had decoded before.
pub struct WhisperRecognizer {
    context: Arc<WhisperContext>,
    config: WhisperConfig,
}

impl WhisperRecognizer {
    /// Load `name` (`tiny.en`, `base`) from the models directory.
    pub fn load(models: &ModelDir, name: &str, config: WhisperConfig) -> Result<Self, AsrError> {
        let path = models.require("Whisper model", models.whisper(name))?;
        Self::load_file(&path, config)
    }

    pub fn load_file(path: &Path, config: WhisperConfig) -> Result<Self, AsrError> {
        whisper_rs::install_logging_hooks();
        let path_str = path
            .to_str()
            .ok_or_else(|| AsrError::Load { path: path.into(), reason: "the path is not valid UTF-8".into() })?;
        let context = WhisperContext::new_with_params(path_str, WhisperContextParameters::default())
            .map_err(|e| AsrError::Load { path: path.into(), reason: e.to_string() })?;
        Ok(Self { context: Arc::new(context), config })
    }

    pub fn config(&self) -> &WhisperConfig {
        &self.config
    }

    /// A copy sharing the same loaded model with other settings (e.g. thread count for a benchmark).
    pub fn with_config(&self, config: WhisperConfig) -> Self {
        Self { context: Arc::clone(&self.context), config }
    }

    /// Recognise `samples` unless `abort` is raised first: whisper.cpp checks it between the steps of
    /// its encoder and decoder, so an aborted recognition gives its thread back within milliseconds
    /// ([`AsrError::Aborted`]). A partial transcript nobody needs any more must not hold a core that a
    /// caller's final transcript is waiting for.
    pub fn recognize_abortable(&self, samples: &[f32], abort: Arc<AtomicBool>) -> Result<Transcript, AsrError> {
        self.run(samples, Some(abort))
    }

    fn run(&self, samples: &[f32], abort: Option<Arc<AtomicBool>>) -> Result<Transcript, AsrError> {
        if abort.as_ref().is_some_and(|abort| abort.load(Ordering::Relaxed)) {
            return Err(AsrError::Aborted); // cancelled while it waited for a thread
        }
        let seconds = samples.len() as f64 / f64::from(SAMPLE_RATE);
        if seconds > MAX_UTTERANCE_S {
            return Err(AsrError::TooLong { seconds, max: MAX_UTTERANCE_S });
        }
        // Near-silence never reaches the decoder: it is where Whisper invents "Thank you."
        if guards::is_too_quiet(samples) {
            return Ok(Transcript::default());
        }
        // whisper.cpp refuses clips under 1 s (and decodes them poorly); pad short ones with silence.
        let mut padded;
        let input = if samples.len() < SAMPLE_RATE as usize + SAMPLE_RATE as usize / 10 {
            padded = samples.to_vec();
            padded.resize(SAMPLE_RATE as usize * 11 / 10, 0.0);
            &padded[..]
        } else {
            samples
        };
        let mut state = self
            .context
            .create_state()
            .map_err(|e| AsrError::Decode(format!("creating a decoder state: {e}")))?;
        let mut params = self.params(input.len());
        if let Some(abort) = &abort {
            // whisper-rs 0.16's `set_abort_callback_safe` hands whisper.cpp a pointer to a boxed trait
            // object but reads it back as the closure type, so every recognition aborted at once (also
            // found in silverstein/minutes#951); the flag is passed directly instead.
            // SAFETY: the callback only reads the flag, and `abort` keeps it alive until `full` returns.
            unsafe {
                params.set_abort_callback(Some(abort_when_raised));
                params.set_abort_callback_user_data(Arc::as_ptr(abort).cast_mut().cast());
            }
        }
        let decoded = state.full(params, input);
        if abort.is_some_and(|abort| abort.load(Ordering::Relaxed)) {
            return Err(AsrError::Aborted);
        }
        decoded.map_err(|e| AsrError::Decode(e.to_string()))?;
        Ok(guards::reject_hallucinations(read_transcript(&state, self.context.token_eot())))
    }

    fn params(&self, samples: usize) -> FullParams<'_, '_> {
        // Greedy decoding with whisper.cpp's temperature fallback: when a decode looks degenerate
        // (entropy or log-probability below its threshold) it retries at higher temperature.
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(self.config.threads.max(1) as i32);
        // Always name the language: with none, whisper.cpp runs language detection (a second full
        // encode) even for an English-only model, which doubled every recognition's cost.
        params.set_language(Some("en"));
        params.set_translate(false);
        // No context from earlier utterances: carried text is how one hallucination becomes many.
        params.set_no_context(true);
        params.set_single_segment(false);
        params.set_suppress_blank(true);
        params.set_suppress_nst(true);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        params.set_no_speech_thold(guards::NO_SPEECH_PROBABILITY);
        params.set_logprob_thold(guards::MIN_AVG_LOGPROB);
        params.set_entropy_thold(guards::MAX_ENTROPY);
        params.set_temperature_inc(0.2);
        params.set_audio_ctx(self.config.audio_context.frames_for(samples));
        if !self.config.prompt.is_empty() {
            params.set_initial_prompt(&self.config.prompt);
        }
        params
    }
}

impl Recognizer for WhisperRecognizer {
    fn recognize(&self, samples: &[f32]) -> Result<Transcript, AsrError> {
        self.run(samples, None)
    }
}

/// whisper.cpp's abort hook: stop when the `AtomicBool` behind `flag` is raised.
unsafe extern "C" fn abort_when_raised(flag: *mut std::ffi::c_void) -> bool {
    // SAFETY: `run` passes a pointer to an `AtomicBool` it keeps alive for the whole recognition.
    let flag = unsafe { &*(flag as *const AtomicBool) };
    flag.load(Ordering::Relaxed)
}

/// Collect segments and token statistics from a finished decode.
fn read_transcript(state: &WhisperState, eot: i32) -> guards::Decoded {
    let mut decoded = guards::Decoded::default();
    for segment in state.as_iter() {
        let text = segment.to_str_lossy().map(|t| t.trim().to_string()).unwrap_or_default();
        let mut logprobs = Vec::new();
        for i in 0..segment.n_tokens() {
            if let Some(token) = segment.get_token(i) {
                // Special and timestamp tokens (ids at or above end-of-text) carry no words.
                if token.token_id() < eot {
                    logprobs.push(token.token_probability().max(1e-6).ln());
                }
            }
        }
        decoded.segments.push(guards::DecodedSegment {
            segment: Segment {
                // whisper.cpp timestamps are in 10 ms units.
                start_s: segment.start_timestamp() as f64 / 100.0,
                end_s: segment.end_timestamp() as f64 / 100.0,
                text,
            },
            no_speech_probability: segment.no_speech_probability(),
            token_logprobs: logprobs,
        });
    }
    decoded
}
