//! Voice activity detection: which stretches of a caller's audio are speech.
//!
//! Helpline uses this for two jobs. Live, a [`VoiceDetector`] watches the caller's stream and reports
//! [`VadEvent::SpeechStart`] (the caller began talking: barge in over the assistant's voice) and
//! [`VadEvent::SpeechEnd`] (the caller finished a turn: send the utterance to the recogniser). Offline,
//! [`speech_segments`] splits a long recording into utterances for `transcribe`. Either way silence and line
//! noise never reach Whisper, which would otherwise "hear" words in them.
//!
//! The model is Silero VAD (v5/v6) run through ONNX Runtime. It scores 32 ms chunks (512 samples at 16 kHz,
//! 256 at 8 kHz) with a speech probability, carrying a recurrent state and the previous chunk's last 64 (32)
//! samples from call to call, exactly as the official `OnnxWrapper` does. Turning probabilities into
//! segments follows Silero's `get_speech_timestamps`, with these defaults ([`VadConfig::default`]):
//!
//! - `threshold` 0.5 and `neg_threshold` 0.35 (= threshold − 0.15): Silero's defaults. Speech starts above
//!   0.5 but only stops below 0.35, so a syllable that dips to 0.4 does not end the segment (hysteresis).
//! - `min_speech_ms` 250: Silero's default; a cough, a click or a line pop shorter than this is not speech.
//! - `min_silence_ms` 500: Silero's default is 100 ms, which splits at every breath. On a phone call a turn
//!   ends when the caller has been quiet for about half a second; callers reading out digits pause longer
//!   between groups, so that dialogue step raises it with [`VoiceDetector::set_min_silence_ms`].
//! - `speech_pad_ms` 30: Silero's default; segments grow by 30 ms each side so soft word onsets and endings
//!   (a leading "f", a trailing "s") are not clipped.
//! - `max_utterance_s` 25: Silero has no limit by default. Whisper sees at most 30 s at a time, so a longer
//!   stretch of speech is split, preferably at its longest pause (as Silero does with `max_speech_duration_s`).
//!
//! Positions are sample indices from the start of the stream, at the stream's own rate.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use ort::session::Session;
use ort::value::Tensor;

use crate::models::{init_onnx_runtime, ModelDir, ModelError};

/// How speech probabilities become speech segments. Unset fields take their defaults.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VadConfig {
    /// A chunk whose speech probability reaches this starts (or continues) speech.
    pub threshold: f32,
    /// Speech ends only after probabilities fall below this (hysteresis; below `threshold`).
    pub neg_threshold: f32,
    /// Speech shorter than this is ignored.
    pub min_speech_ms: u32,
    /// Silence this long ends a segment (the end of the caller's turn).
    pub min_silence_ms: u32,
    /// Each segment is widened by this much on both sides.
    pub speech_pad_ms: u32,
    /// Longer speech is split so that no segment (padding included) is longer than this.
    pub max_utterance_s: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            neg_threshold: 0.35,
            min_speech_ms: 250,
            min_silence_ms: 500,
            speech_pad_ms: 30,
            max_utterance_s: 25.0,
        }
    }
}

impl VadConfig {
    /// Reject settings that would make the detector meaningless (or never end a segment).
    fn validate(&self) -> Result<(), VadError> {
        let invalid = |reason: String| Err(VadError::InvalidConfig { reason });
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return invalid(format!("threshold is {}; it must be in (0, 1], e.g. 0.5", self.threshold));
        }
        if !(self.neg_threshold >= 0.0 && self.neg_threshold <= self.threshold) {
            return invalid(format!(
                "neg_threshold is {} with threshold {}; it must be between 0 and threshold, e.g. threshold - 0.15",
                self.neg_threshold, self.threshold
            ));
        }
        // A segment must be able to hold the shortest speech plus its padding on both sides, and at least one
        // 32 ms chunk, or every split would produce a piece too short to keep.
        let floor_ms = f64::from(self.min_speech_ms) + 2.0 * f64::from(self.speech_pad_ms) + 32.0;
        let max_ms = f64::from(self.max_utterance_s) * 1000.0;
        if !max_ms.is_finite() || max_ms <= floor_ms {
            return invalid(format!(
                "max_utterance_s is {}; it must be finite and longer than min_speech_ms + 2 × speech_pad_ms + 32 ms \
                 ({:.3} s), e.g. 25",
                self.max_utterance_s,
                floor_ms / 1000.0
            ));
        }
        Ok(())
    }
}

/// What a [`VoiceDetector`] noticed. Positions are sample indices since the start of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began at `at_sample` (already padded). Reported once the speech has lasted `min_speech_ms`,
    /// so `at_sample` lies in the past.
    SpeechStart { at_sample: u64 },
    /// The segment that began at `start_sample` (the matching `SpeechStart`) ended at `end_sample`
    /// (exclusive, padded). Reported once `min_silence_ms` of silence has followed it, or when the segment
    /// reached `max_utterance_s`, or at [`VoiceDetector::flush`].
    SpeechEnd { start_sample: u64, end_sample: u64 },
}

/// One stretch of speech, `start_sample..end_sample` (end exclusive) at the recording's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeechSegment {
    pub start_sample: u64,
    pub end_sample: u64,
}

impl SpeechSegment {
    pub fn start_s(&self, sample_rate: u32) -> f64 {
        self.start_sample as f64 / f64::from(sample_rate)
    }

    pub fn end_s(&self, sample_rate: u32) -> f64 {
        self.end_sample as f64 / f64::from(sample_rate)
    }

    pub fn duration_s(&self, sample_rate: u32) -> f64 {
        self.end_sample.saturating_sub(self.start_sample) as f64 / f64::from(sample_rate)
    }
}

/// A problem loading the voice activity model or running it.
#[derive(Debug, thiserror::Error)]
pub enum VadError {
    #[error("unsupported sample rate {rate} Hz for voice detection: use 8000 or 16000 (resample first)")]
    UnsupportedSampleRate { rate: u32 },
    #[error("invalid voice detection settings: {reason}")]
    InvalidConfig { reason: String },
    /// The model file or ONNX Runtime is missing; the message names the command that fetches them.
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(
        "could not load the Silero VAD model {path}: {reason}; the file may be damaged: run `helpline models fetch` \
         to fetch it again"
    )]
    Load { path: PathBuf, reason: String },
    #[error(
        "{path} is not the Silero VAD v5/v6 model Helpline expects ({detail}); run `helpline models fetch` to \
         replace it"
    )]
    UnexpectedModel { path: PathBuf, detail: String },
    #[error("voice detection failed while running the Silero VAD model: {reason}")]
    Inference { reason: String },
}

fn inference_error(error: impl std::fmt::Display) -> VadError {
    VadError::Inference { reason: error.to_string() }
}

/// The Silero model's input and output names, in the order the graph declares them. Inputs are passed by
/// position, so [`SileroModel::load`] checks the order once.
const INPUT_NAMES: [&str; 3] = ["input", "state", "sr"];
const OUTPUT_NAMES: [&str; 2] = ["output", "stateN"];
/// The recurrent state: two layers × batch 1 × 128.
const STATE_SHAPE: [usize; 3] = [2, 1, 128];
const STATE_LEN: usize = 2 * 128;

/// The loaded Silero VAD network, shared (in an [`Arc`]) by every [`VoiceDetector`] of the process.
///
/// The model is stateless between calls: each detector keeps its own recurrent state and context, so one
/// session serves any number of concurrent streams. ONNX Runtime's `run` is not safe to call concurrently
/// on one session (ort takes `&mut`), so calls are serialised by a mutex; a 32 ms chunk takes well under a
/// millisecond, so streams barely wait for one another.
pub struct SileroModel {
    session: Mutex<Session>,
    path: PathBuf,
}

impl std::fmt::Debug for SileroModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SileroModel").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SileroModel {
    /// Load `vad/silero_vad.onnx` from `models`, loading ONNX Runtime first if this process has not yet.
    ///
    /// `threads` is ONNX Runtime's intra-op thread count; pass 1. The network is tiny (a 32 ms chunk is a
    /// fraction of a millisecond of work), so extra threads only add hand-off overhead and steal cores from
    /// Whisper. 0 is taken as 1.
    pub fn load(models: &ModelDir, threads: usize) -> Result<Self, VadError> {
        // Check the file before touching the runtime, so a missing model is reported as such.
        let path = models.require("Silero voice activity model", models.silero_vad())?;
        let environment = init_onnx_runtime(models)?;
        let load_error = |e: &dyn std::fmt::Display| VadError::Load { path: path.clone(), reason: e.to_string() };
        let session = Session::builder(environment)
            .map_err(|e| load_error(&e))?
            .with_intra_threads(threads.max(1))
            .map_err(|e| load_error(&e))?
            .with_inter_threads(1)
            .map_err(|e| load_error(&e))?
            .commit_from_file(&path)
            .map_err(|e| load_error(&e))?;
        check_signature(&session, &path)?;
        Ok(Self { session: Mutex::new(session), path })
    }

    /// Where the model was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run one chunk: read `io.input` (context + chunk) and `io.state`, write the new state back into
    /// `io.state` and return the speech probability.
    fn infer(&self, io: &mut ChunkIo) -> Result<f32, VadError> {
        // A panic elsewhere while holding the lock cannot leave the session half-updated (ONNX Runtime keeps no
        // state between runs), so a poisoned lock is still usable.
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let outputs = session.run(ort::inputs![&io.input, &io.state, &io.sr]).map_err(inference_error)?;
        let (_, probability) = outputs[0].try_extract_tensor::<f32>().map_err(inference_error)?;
        let (_, new_state) = outputs[1].try_extract_tensor::<f32>().map_err(inference_error)?;
        let (Some(&probability), true) = (probability.first(), new_state.len() == STATE_LEN) else {
            return Err(VadError::Inference {
                reason: format!(
                    "unexpected output sizes ({} probabilities, {} state values; expected 1 and {STATE_LEN})",
                    probability.len(),
                    new_state.len()
                ),
            });
        };
        let (_, state) = io.state.try_extract_tensor_mut().map_err(inference_error)?;
        state.copy_from_slice(new_state);
        if !probability.is_finite() {
            return Err(VadError::Inference {
                reason: format!("the model returned a speech probability of {probability}"),
            });
        }
        Ok(probability.clamp(0.0, 1.0))
    }
}

/// Make sure the file is the v5/v6 model (inputs `input`, `state`, `sr`; outputs `output`, `stateN`) and not,
/// say, v4, whose `h`/`c` inputs would fail on every chunk with a less helpful message.
fn check_signature(session: &Session, path: &Path) -> Result<(), VadError> {
    let inputs: Vec<&str> = session.inputs().iter().map(|outlet| outlet.name()).collect();
    let outputs: Vec<&str> = session.outputs().iter().map(|outlet| outlet.name()).collect();
    if inputs != INPUT_NAMES || outputs != OUTPUT_NAMES {
        return Err(VadError::UnexpectedModel {
            path: path.to_path_buf(),
            detail: format!(
                "inputs {inputs:?} and outputs {outputs:?}, expected inputs {INPUT_NAMES:?} and outputs {OUTPUT_NAMES:?}"
            ),
        });
    }
    Ok(())
}

/// The tensors fed to the model, owned by one stream and reused for every chunk (no allocation per chunk).
struct ChunkIo {
    /// `[1, context + window]`: the previous chunk's last `context` samples, then the new chunk.
    input: Tensor<f32>,
    /// `[2, 1, 128]`: the recurrent state, overwritten by each run's `stateN`.
    state: Tensor<f32>,
    /// Scalar sample rate.
    sr: Tensor<i64>,
}

impl ChunkIo {
    fn new(geometry: Geometry) -> Result<Self, VadError> {
        let input_len = geometry.context + geometry.window;
        Ok(Self {
            input: Tensor::from_array(([1, input_len], vec![0.0_f32; input_len])).map_err(inference_error)?,
            state: Tensor::from_array((STATE_SHAPE, vec![0.0_f32; STATE_LEN])).map_err(inference_error)?,
            sr: Tensor::from_array(([0_usize; 0], vec![i64::from(geometry.rate)])).map_err(inference_error)?,
        })
    }

    /// Forget the stream: zero context and recurrent state.
    fn clear(&mut self) -> Result<(), VadError> {
        // The element type must be named: `fill(0.0)` alone would infer f64 and fail at run time.
        self.input.try_extract_tensor_mut::<f32>().map_err(inference_error)?.1.fill(0.0);
        self.state.try_extract_tensor_mut::<f32>().map_err(inference_error)?.1.fill(0.0);
        Ok(())
    }

    /// Shift the last chunk's tail into the context slot and copy `chunk` after it, replacing anything that is
    /// not a finite number in −1..1: NaN becomes silence, everything else is clipped, as a sound card would.
    fn load_chunk(&mut self, chunk: &[f32], geometry: Geometry) -> Result<(), VadError> {
        let (_, data) = self.input.try_extract_tensor_mut().map_err(inference_error)?;
        let total = data.len();
        data.copy_within(total - geometry.context.., 0);
        let fresh = &mut data[geometry.context..];
        for (slot, &sample) in fresh.iter_mut().zip(chunk) {
            *slot = if sample.is_nan() { 0.0 } else { sample.clamp(-1.0, 1.0) };
        }
        // A short final chunk (at flush) is padded with silence, as Silero pads the last window.
        fresh[chunk.len().min(geometry.window)..].fill(0.0);
        Ok(())
    }
}

/// Chunk sizes for one sample rate, as Silero v5 requires them.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    rate: u32,
    /// Samples scored per model call (32 ms).
    window: usize,
    /// Samples of the previous chunk prepended to each call (4 ms).
    context: usize,
}

impl Geometry {
    fn for_rate(rate: u32) -> Result<Self, VadError> {
        match rate {
            16_000 => Ok(Self { rate, window: 512, context: 64 }),
            8_000 => Ok(Self { rate, window: 256, context: 32 }),
            _ => Err(VadError::UnsupportedSampleRate { rate }),
        }
    }
}

/// The config in samples at the stream's rate.
#[derive(Debug, Clone, Copy)]
struct Limits {
    min_speech: u64,
    min_silence: u64,
    pad: u64,
    /// Longest unpadded segment: `max_utterance_s` less padding on both sides.
    max_speech: u64,
}

/// Silence shorter than this inside long speech is not a good place to force a split (Silero's
/// `min_silence_at_max_speech`, 98 ms).
const MIN_SPLIT_PAUSE_MS: u32 = 98;

fn ms_to_samples(ms: u32, rate: u32) -> u64 {
    u64::from(ms) * u64::from(rate) / 1000
}

impl Limits {
    fn new(config: &VadConfig, rate: u32) -> Self {
        let pad = ms_to_samples(config.speech_pad_ms, rate);
        // Validated finite and positive; `as` saturates for absurdly large values.
        let max_total = (f64::from(config.max_utterance_s) * f64::from(rate)) as u64;
        Self {
            min_speech: ms_to_samples(config.min_speech_ms, rate),
            min_silence: ms_to_samples(config.min_silence_ms, rate),
            pad,
            max_speech: max_total.saturating_sub(2 * pad),
        }
    }
}

/// The segment being tracked (positions unpadded, in samples).
#[derive(Debug, Clone, Copy)]
struct OpenSegment {
    /// First sample of the first chunk that crossed `threshold`.
    start: u64,
    /// The padded start, once `SpeechStart` has been reported (speech lasted `min_speech`).
    reported_start: Option<u64>,
    /// Where the current run of sub-`neg_threshold` chunks began, if the segment is in a pause.
    silence_since: Option<u64>,
}

/// Voice activity for one audio stream (one call leg). Feed it samples with [`push`](Self::push) as they
/// arrive, in pieces of any size; it scores them in 32 ms chunks and reports speech starts and ends.
pub struct VoiceDetector {
    model: Arc<SileroModel>,
    geometry: Geometry,
    config: VadConfig,
    limits: Limits,
    io: ChunkIo,
    /// Samples received but not yet scored (fewer than one chunk).
    pending: Vec<f32>,
    /// Samples scored so far (the stream position of `pending[0]`).
    scored: u64,
    last_probability: f32,
    open: Option<OpenSegment>,
    /// Pauses (start, end) of at least [`MIN_SPLIT_PAUSE_MS`] inside the open segment: where to split it if
    /// it grows past `max_utterance_s`. Kept here, not in the segment, to reuse the allocation.
    pauses: Vec<(u64, u64)>,
    /// Padded end of the last reported segment: the next one's padding may not reach back past it.
    last_end: u64,
}

impl std::fmt::Debug for VoiceDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceDetector")
            .field("sample_rate", &self.geometry.rate)
            .field("config", &self.config)
            .field("position", &(self.scored + self.pending.len() as u64))
            .field("speaking", &self.is_speaking())
            .finish_non_exhaustive()
    }
}

impl VoiceDetector {
    /// A detector for a stream at `sample_rate` (8000 or 16000 Hz).
    pub fn new(model: Arc<SileroModel>, sample_rate: u32, config: VadConfig) -> Result<Self, VadError> {
        let geometry = Geometry::for_rate(sample_rate)?;
        config.validate()?;
        Ok(Self {
            model,
            geometry,
            limits: Limits::new(&config, sample_rate),
            config,
            io: ChunkIo::new(geometry)?,
            pending: Vec::with_capacity(geometry.window),
            scored: 0,
            last_probability: 0.0,
            open: None,
            pauses: Vec::new(),
            last_end: 0,
        })
    }

    /// Add samples (mono, −1..1, at the detector's rate) and return what they revealed. Any length works;
    /// samples are scored once a full 32 ms chunk has gathered, so events lag the audio by up to a chunk plus
    /// `min_speech_ms` (start) or `min_silence_ms` (end). NaN samples count as silence and values outside
    /// −1..1 are clipped. After an error (ONNX Runtime failed) the stream's events are incomplete: call
    /// [`reset`](Self::reset) before reusing the detector.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<VadEvent>, VadError> {
        let mut events = Vec::new();
        let window = self.geometry.window;
        let mut rest = samples;
        // Top up a partial chunk left by the last call first.
        if !self.pending.is_empty() {
            let take = (window - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() < window {
                return Ok(events);
            }
            let chunk = std::mem::take(&mut self.pending);
            let scored = self.score(&chunk, &mut events);
            self.pending = chunk;
            self.pending.clear();
            scored?;
        }
        // Then whole chunks straight from the caller's slice, without copying them into `pending`.
        let mut chunks = rest.chunks_exact(window);
        for chunk in &mut chunks {
            self.score(chunk, &mut events)?;
        }
        self.pending.extend_from_slice(chunks.remainder());
        Ok(events)
    }

    /// End of stream: score any partial chunk, close an open segment (reporting it if it is long enough)
    /// and reset the detector, so it can serve a new stream from sample 0.
    pub fn flush(&mut self) -> Vec<VadEvent> {
        let mut events = Vec::new();
        if !self.pending.is_empty() {
            let chunk = std::mem::take(&mut self.pending);
            // An inference failure here only loses the last few milliseconds: the open segment still closes.
            if let Err(error) = self.score(&chunk, &mut events) {
                tracing::warn!(%error, "voice detection could not score the final partial chunk");
                self.scored += chunk.len() as u64;
            }
            self.pending = chunk;
        }
        let end_of_stream = self.scored;
        if let Some(segment) = self.open.take() {
            let end = segment.silence_since.unwrap_or(end_of_stream);
            self.close(segment, end, end_of_stream, &mut events);
        }
        self.reset();
        events
    }

    /// The speech probability of the most recently scored chunk (0 before any).
    pub fn speech_probability_last(&self) -> f32 {
        self.last_probability
    }

    /// Whether a reported segment is open: a `SpeechStart` has been returned and its `SpeechEnd` has not.
    pub fn is_speaking(&self) -> bool {
        self.open.is_some_and(|segment| segment.reported_start.is_some())
    }

    /// Where the pause the caller is in now began (unpadded), while a reported segment is open and its
    /// silence has not yet lasted `min_silence_ms`; `None` while they speak or when no segment is open.
    /// A pause that goes on becomes the segment's end, at this sample plus `speech_pad_ms`.
    pub fn pause_started_at(&self) -> Option<u64> {
        self.open
            .filter(|segment| segment.reported_start.is_some())
            .and_then(|segment| segment.silence_since)
    }

    /// Change how much silence ends a turn, from the next chunk on (e.g. longer while the caller reads out
    /// a card number in groups).
    pub fn set_min_silence_ms(&mut self, ms: u32) {
        self.config.min_silence_ms = ms;
        self.limits.min_silence = ms_to_samples(ms, self.geometry.rate);
    }

    /// The settings in force.
    pub fn config(&self) -> &VadConfig {
        &self.config
    }

    pub fn sample_rate(&self) -> u32 {
        self.geometry.rate
    }

    /// Forget the stream (model state, buffered samples, open segment); positions restart at 0. Settings,
    /// including a changed `min_silence_ms`, are kept.
    pub fn reset(&mut self) {
        if let Err(error) = self.io.clear() {
            // Only possible if ONNX Runtime cannot hand out its own CPU buffer; rebuild the tensors instead.
            tracing::warn!(%error, "could not clear voice detection tensors; recreating them");
            if let Ok(io) = ChunkIo::new(self.geometry) {
                self.io = io;
            }
        }
        self.pending.clear();
        self.scored = 0;
        self.last_probability = 0.0;
        self.open = None;
        self.pauses.clear();
        self.last_end = 0;
    }

    /// Score one chunk (`window` samples, or fewer at flush) and advance the segment state machine.
    fn score(&mut self, chunk: &[f32], events: &mut Vec<VadEvent>) -> Result<(), VadError> {
        self.io.load_chunk(chunk, self.geometry)?;
        let probability = self.model.infer(&mut self.io)?;
        let chunk_start = self.scored;
        self.scored += chunk.len() as u64;
        self.last_probability = probability;
        self.advance(chunk_start, self.scored, probability, events);
        Ok(())
    }

    /// The segment logic of Silero's `get_speech_timestamps`, made incremental: one chunk
    /// `chunk_start..chunk_end` with speech probability `p`.
    fn advance(&mut self, chunk_start: u64, chunk_end: u64, p: f32, events: &mut Vec<VadEvent>) {
        let Some(mut segment) = self.open else {
            if p >= self.config.threshold {
                self.open = Some(OpenSegment { start: chunk_start, reported_start: None, silence_since: None });
                self.pauses.clear();
                self.confirm_and_limit(chunk_start, chunk_end, events);
            }
            return;
        };
        if p >= self.config.threshold {
            // Speech resumed: remember a long enough pause as a place to split later.
            if let Some(since) = segment.silence_since.take() {
                if chunk_start - since >= ms_to_samples(MIN_SPLIT_PAUSE_MS, self.geometry.rate) {
                    self.pauses.push((since, chunk_start));
                }
            }
        } else if p < self.config.neg_threshold && segment.silence_since.is_none() {
            segment.silence_since = Some(chunk_start);
        }
        // Between the two thresholds nothing changes: speech continues, or a pause goes on being a pause.
        self.open = Some(segment);
        if let Some(since) = segment.silence_since {
            if chunk_end - since >= self.limits.min_silence {
                self.open = None;
                self.close(segment, since, chunk_end, events);
                return;
            }
        }
        self.confirm_and_limit(chunk_start, chunk_end, events);
    }

    /// Report the open segment once it has lasted `min_speech`, and split it if it outgrew `max_speech`.
    fn confirm_and_limit(&mut self, chunk_start: u64, chunk_end: u64, events: &mut Vec<VadEvent>) {
        let Some(mut segment) = self.open else { return };
        if segment.reported_start.is_none()
            && segment.silence_since.is_none()
            && chunk_end - segment.start >= self.limits.min_speech
        {
            let at_sample = self.padded_start(segment.start);
            segment.reported_start = Some(at_sample);
            self.open = Some(segment);
            events.push(VadEvent::SpeechStart { at_sample });
        }
        if chunk_end - segment.start > self.limits.max_speech {
            self.split(segment, chunk_start, chunk_end, events);
        }
    }

    /// The open segment has grown too long: end it at its longest pause (or the pause it is in now), or,
    /// in a pause-free monologue, cut it at the current chunk and carry on with a new segment.
    fn split(&mut self, segment: OpenSegment, chunk_start: u64, chunk_end: u64, events: &mut Vec<VadEvent>) {
        let longest = self.pauses.iter().copied().max_by_key(|&(start, end)| (end - start, start));
        let current = segment.silence_since.map(|since| (since, chunk_end));
        match (longest, current) {
            // In a pause at least as long as any earlier one: end here, as if the silence had run its course.
            (longest, Some((since, _))) if longest.is_none_or(|(start, end)| end - start <= chunk_end - since) => {
                self.open = None;
                self.close(segment, since, chunk_end, events);
            }
            (Some((pause_start, pause_end)), _) => {
                // Share the pause between the two segments' paddings.
                let pad = self.limits.pad.min((pause_end - pause_start) / 2);
                self.open = None;
                self.close(segment, pause_start, pause_start + pad, events);
                self.last_end = pause_end - pad;
                self.pauses.retain(|&(start, _)| start >= pause_end);
                let rest = OpenSegment { start: pause_end, reported_start: None, silence_since: segment.silence_since };
                self.open = Some(rest);
                // The speech after the pause is reported once it, too, has lasted `min_speech`.
                self.confirm_and_limit(chunk_start, chunk_end, events);
            }
            (None, _) => {
                self.open = None;
                self.close(segment, chunk_start, chunk_start, events);
                self.pauses.clear();
                // Speech goes on without a break, so the new segment is reported at once, unpadded.
                self.last_end = chunk_start;
                events.push(VadEvent::SpeechStart { at_sample: chunk_start });
                self.open =
                    Some(OpenSegment { start: chunk_start, reported_start: Some(chunk_start), silence_since: None });
            }
        }
    }

    /// End `segment` at `end` (unpadded); `limit` is how far its padding may reach (audio seen so far).
    /// Speech shorter than `min_speech` is dropped without a word.
    fn close(&mut self, segment: OpenSegment, end: u64, limit: u64, events: &mut Vec<VadEvent>) {
        let start_sample = match segment.reported_start {
            Some(start) => start,
            None if end.saturating_sub(segment.start) >= self.limits.min_speech => {
                // Long enough, but not yet reported: it ends at the end of the stream or at a forced split.
                let at_sample = self.padded_start(segment.start);
                events.push(VadEvent::SpeechStart { at_sample });
                at_sample
            }
            None => return,
        };
        let end_sample = (end + self.limits.pad).min(limit).max(start_sample);
        self.last_end = end_sample;
        events.push(VadEvent::SpeechEnd { start_sample, end_sample });
    }

    fn padded_start(&self, start: u64) -> u64 {
        start.saturating_sub(self.limits.pad).max(self.last_end)
    }
}

/// Split a whole recording into speech segments (offline, e.g. for `transcribe`): the segments a
/// [`VoiceDetector`] reports for the same audio, so live and offline behaviour agree.
pub fn speech_segments(
    model: &Arc<SileroModel>,
    samples: &[f32],
    sample_rate: u32,
    config: &VadConfig,
) -> Result<Vec<SpeechSegment>, VadError> {
    let mut detector = VoiceDetector::new(Arc::clone(model), sample_rate, config.clone())?;
    let mut events = detector.push(samples)?;
    events.extend(detector.flush());
    Ok(events
        .into_iter()
        .filter_map(|event| match event {
            VadEvent::SpeechEnd { start_sample, end_sample } => Some(SpeechSegment { start_sample, end_sample }),
            VadEvent::SpeechStart { .. } => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;
    use std::time::Instant;

    /// One model for all tests, loaded once (as the assistant does).
    fn model() -> Arc<SileroModel> {
        static MODEL: OnceLock<Arc<SileroModel>> = OnceLock::new();
        Arc::clone(MODEL.get_or_init(|| {
            let models = ModelDir::at(Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
            Arc::new(SileroModel::load(&models, 1).expect("Silero VAD model (run `helpline models fetch`)"))
        }))
    }

    /// A 16-bit mono WAV from `audio-samples/`, as −1..1 samples, with its rate.
    fn sample(name: &str) -> (Vec<f32>, u32) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio-samples").join(name);
        let mut reader = hound::WavReader::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let spec = reader.spec();
        assert_eq!((spec.channels, spec.bits_per_sample), (1, 16), "{name} must be mono 16-bit");
        let samples = reader.samples::<i16>().map(|s| f32::from(s.expect("readable sample")) / 32768.0).collect();
        (samples, spec.sample_rate)
    }

    /// Deterministic uniform noise in −amplitude..amplitude (a tiny LCG: no dependency, same every run).
    fn white_noise(len: usize, amplitude: f32) -> Vec<f32> {
        let mut seed: u32 = 0x1234_5678;
        (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((seed >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * amplitude
            })
            .collect()
    }

    /// Crude 2:1 decimation (average each pair, a weak low-pass) — good enough for a test only.
    fn decimate_by_2(samples: &[f32]) -> Vec<f32> {
        samples.chunks_exact(2).map(|pair| (pair[0] + pair[1]) / 2.0).collect()
    }

    fn padded_with_silence(speech: &[f32], pad: usize) -> Vec<f32> {
        let mut audio = vec![0.0; pad];
        audio.extend_from_slice(speech);
        audio.resize(audio.len() + pad, 0.0);
        audio
    }

    fn segments_from_events(events: &[VadEvent]) -> Vec<SpeechSegment> {
        events
            .iter()
            .filter_map(|event| match *event {
                VadEvent::SpeechEnd { start_sample, end_sample } => Some(SpeechSegment { start_sample, end_sample }),
                VadEvent::SpeechStart { .. } => None,
            })
            .collect()
    }

    /// Segments are ordered, disjoint, non-empty and inside the audio.
    fn assert_well_formed(segments: &[SpeechSegment], audio_len: usize) {
        let mut previous_end = 0;
        for segment in segments {
            assert!(segment.start_sample >= previous_end, "overlap or disorder: {segments:?}");
            assert!(segment.end_sample > segment.start_sample, "empty segment: {segments:?}");
            assert!(segment.end_sample <= audio_len as u64, "segment past the end: {segments:?}");
            previous_end = segment.end_sample;
        }
    }

    /// One speech clip between 1 s of silence each side gives one segment at the true boundaries.
    fn assert_one_segment_at_boundaries(speech: &[f32], rate: u32) {
        let pad = rate as usize;
        let audio = padded_with_silence(speech, pad);
        let segments = speech_segments(&model(), &audio, rate, &VadConfig::default()).expect("segments");
        assert_eq!(segments.len(), 1, "expected one segment at {rate} Hz, got {segments:?}");
        let tolerance = 0.150;
        let (true_start, true_end) = (1.0, 1.0 + speech.len() as f64 / f64::from(rate));
        let segment = segments[0];
        eprintln!(
            "{rate} Hz: {:.3}..{:.3} s, speech {true_start:.3}..{true_end:.3} s",
            segment.start_s(rate),
            segment.end_s(rate)
        );
        assert!(
            (segment.start_s(rate) - true_start).abs() <= tolerance,
            "start {:.3} s, speech starts at {true_start:.3} s",
            segment.start_s(rate)
        );
        assert!(
            (segment.end_s(rate) - true_end).abs() <= tolerance,
            "end {:.3} s, speech ends at {true_end:.3} s",
            segment.end_s(rate)
        );
    }

    #[test]
    fn silence_and_quiet_noise_are_not_speech() {
        for rate in [8_000, 16_000] {
            let len = 5 * rate as usize;
            for (what, audio) in [("silence", vec![0.0; len]), ("noise at -46 dBFS", white_noise(len, 0.005))] {
                let segments = speech_segments(&model(), &audio, rate, &VadConfig::default()).expect("segments");
                assert!(segments.is_empty(), "{what} at {rate} Hz gave {segments:?}");

                let mut detector = VoiceDetector::new(model(), rate, VadConfig::default()).expect("detector");
                let mut events = detector.push(&audio).expect("push");
                assert!(!detector.is_speaking());
                assert!(detector.speech_probability_last() < 0.5, "{what}: {}", detector.speech_probability_last());
                events.extend(detector.flush());
                assert!(events.is_empty(), "{what} at {rate} Hz gave {events:?}");
            }
        }
    }

    #[test]
    fn clean_clip_at_16k_is_one_segment_at_the_true_boundaries() {
        let (speech, rate) = sample("arctic_a0001_trimmed_16k.wav");
        assert_eq!(rate, 16_000);
        assert_one_segment_at_boundaries(&speech, rate);
    }

    #[test]
    fn clean_clip_at_8k_is_one_segment_at_the_true_boundaries() {
        let (speech, rate) = sample("arctic_a0001_trimmed_16k.wav");
        assert_eq!(rate, 16_000);
        assert_one_segment_at_boundaries(&decimate_by_2(&speech), 8_000);
    }

    #[test]
    fn phone_call_splits_into_turns_and_longer_silence_merges_them() {
        // The caller's channel: short turns while the agent talks, then a long uninterrupted explanation.
        for (name, at_least) in [("phone_call_turns_8k.wav", 4), ("phone_call_monologue_8k.wav", 2)] {
            let (audio, rate) = sample(name);
            assert_eq!(rate, 8_000);
            let config = VadConfig::default();
            let segments = speech_segments(&model(), &audio, rate, &config).expect("segments");
            eprintln!("{name}: {:?}", segments.iter().map(|s| (s.start_s(rate), s.end_s(rate))).collect::<Vec<_>>());
            assert!(segments.len() >= at_least, "{name}: expected several turns, got {segments:?}");
            assert_well_formed(&segments, audio.len());
            for segment in &segments {
                assert!(segment.duration_s(rate) <= f64::from(config.max_utterance_s), "{name}: {segment:?} too long");
            }

            let patient = VadConfig { min_silence_ms: 1500, ..VadConfig::default() };
            let merged = speech_segments(&model(), &audio, rate, &patient).expect("segments");
            assert!(merged.len() <= segments.len(), "{name}: {} > {}", merged.len(), segments.len());
            assert_well_formed(&merged, audio.len());
        }
    }

    #[test]
    fn long_speech_is_split_at_pauses_below_max_utterance() {
        let (audio, rate) = sample("phone_call_monologue_8k.wav");
        let unlimited = speech_segments(&model(), &audio, rate, &VadConfig::default()).expect("segments");
        let longest = unlimited.iter().map(|s| s.duration_s(rate)).fold(0.0, f64::max);
        let config = VadConfig { max_utterance_s: 3.0, ..VadConfig::default() };
        assert!(
            longest > 2.0 * f64::from(config.max_utterance_s),
            "the excerpt needs a long turn; longest {longest:.2} s"
        );

        let split = speech_segments(&model(), &audio, rate, &config).expect("segments");
        eprintln!("split at 3 s: {:?}", split.iter().map(|s| (s.start_s(rate), s.end_s(rate))).collect::<Vec<_>>());
        assert!(split.len() > unlimited.len(), "{split:?}");
        assert_well_formed(&split, audio.len());
        for segment in &split {
            assert!(segment.duration_s(rate) <= f64::from(config.max_utterance_s), "{segment:?} too long");
        }
        // Splitting only cuts speech into pieces: everything the unlimited pass found stays covered, except
        // what falls into the pauses it chose.
        let covered = |segments: &[SpeechSegment]| segments.iter().map(|s| s.end_sample - s.start_sample).sum::<u64>();
        assert!(covered(&split) as f64 >= 0.8 * covered(&unlimited) as f64);
    }

    #[test]
    fn pause_free_speech_is_cut_hard_at_max_utterance() {
        // Concatenated clean sentences with no gaps: a pause-free monologue.
        let (speech, rate) = sample("arctic_a0001_trimmed_16k.wav");
        let audio: Vec<f32> = speech.iter().chain(&speech).chain(&speech).copied().collect();
        let config = VadConfig { max_utterance_s: 2.0, ..VadConfig::default() };
        let segments = speech_segments(&model(), &audio, rate, &config).expect("segments");
        assert!(segments.len() >= 5, "{segments:?}");
        assert_well_formed(&segments, audio.len());
        for segment in &segments {
            assert!(segment.duration_s(rate) <= 2.0, "{segment:?} too long");
        }
    }

    #[test]
    fn streaming_in_odd_pieces_matches_one_push() {
        let (audio, rate) = sample("phone_call_turns_8k.wav");
        let mut whole = VoiceDetector::new(model(), rate, VadConfig::default()).expect("detector");
        let mut expected = whole.push(&audio).expect("push");
        expected.extend(whole.flush());
        assert!(expected.len() >= 6, "{expected:?}");

        let mut streaming = VoiceDetector::new(model(), rate, VadConfig::default()).expect("detector");
        let mut events = Vec::new();
        let mut open = false;
        for piece in audio.chunks(137) {
            for event in streaming.push(piece).expect("push") {
                // Starts and ends alternate, and is_speaking agrees with them.
                match event {
                    VadEvent::SpeechStart { .. } => {
                        assert!(!open, "two starts in a row: {events:?}")
                    }
                    VadEvent::SpeechEnd { .. } => assert!(open, "end without start: {events:?}"),
                }
                open = matches!(event, VadEvent::SpeechStart { .. });
                events.push(event);
            }
            assert_eq!(streaming.is_speaking(), open);
        }
        events.extend(streaming.flush());
        assert_eq!(events, expected);
        // Each end names the start it closes.
        for pair in events.chunks(2) {
            match pair {
                [VadEvent::SpeechStart { at_sample }, VadEvent::SpeechEnd { start_sample, .. }] => {
                    assert_eq!(at_sample, start_sample)
                }
                other => panic!("unpaired events {other:?}"),
            }
        }
    }

    #[test]
    fn reset_and_flush_start_a_fresh_stream() {
        let (audio, rate) = sample("phone_call_turns_8k.wav");
        let mut detector = VoiceDetector::new(model(), rate, VadConfig::default()).expect("detector");
        let mut first = detector.push(&audio).expect("push");
        first.extend(detector.flush());
        // flush reset the detector: the same audio again gives the same events from sample 0.
        let mut second = detector.push(&audio).expect("push");
        second.extend(detector.flush());
        assert_eq!(first, second);
        // reset mid-stream forgets everything.
        detector.push(&audio[..audio.len() / 2]).expect("push");
        detector.reset();
        let mut third = detector.push(&audio).expect("push");
        third.extend(detector.flush());
        assert_eq!(first, third);
    }

    #[test]
    fn raising_min_silence_mid_stream_holds_the_turn_open() {
        let (audio, rate) = sample("phone_call_turns_8k.wav");
        let base = speech_segments(&model(), &audio, rate, &VadConfig::default()).expect("segments");
        let mut detector = VoiceDetector::new(model(), rate, VadConfig::default()).expect("detector");
        detector.set_min_silence_ms(3000);
        assert_eq!(detector.config().min_silence_ms, 3000);
        let mut events = detector.push(&audio).expect("push");
        events.extend(detector.flush());
        let patient = segments_from_events(&events);
        assert!(patient.len() < base.len(), "{patient:?} vs {base:?}");
    }

    #[test]
    fn model_is_shareable_and_detectors_can_move_between_threads() {
        fn shared<T: Send + Sync>() {}
        fn movable<T: Send>() {}
        shared::<SileroModel>();
        movable::<VoiceDetector>();
        // Two streams on two threads share one model and do not disturb each other's state.
        let (audio, rate) = sample("phone_call_turns_8k.wav");
        let expected = speech_segments(&model(), &audio, rate, &VadConfig::default()).expect("segments");
        let results: Vec<Vec<SpeechSegment>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2)
                .map(|_| scope.spawn(|| speech_segments(&model(), &audio, rate, &VadConfig::default())))
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread").expect("segments")).collect()
        });
        for segments in results {
            assert_eq!(segments, expected);
        }
    }

    #[test]
    fn unsupported_sample_rate_is_an_error_naming_the_fix() {
        let error = VoiceDetector::new(model(), 44_100, VadConfig::default()).expect_err("44.1 kHz");
        assert!(matches!(error, VadError::UnsupportedSampleRate { rate: 44_100 }));
        assert!(error.to_string().contains("use 8000 or 16000"), "{error}");
        let error = speech_segments(&model(), &[0.0; 4410], 44_100, &VadConfig::default()).expect_err("44.1 kHz");
        assert!(matches!(error, VadError::UnsupportedSampleRate { .. }));
    }

    #[test]
    fn missing_model_names_the_fetch_command() {
        let error = SileroModel::load(&ModelDir::at("/nonexistent/helpline-models"), 1).expect_err("no model");
        assert!(matches!(error, VadError::Model(ModelError::Missing { .. })), "{error:?}");
        assert!(error.to_string().contains("helpline models fetch"), "{error}");
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let bad = [
            VadConfig { threshold: 0.0, ..VadConfig::default() },
            VadConfig { threshold: f32::NAN, ..VadConfig::default() },
            VadConfig { neg_threshold: 0.6, ..VadConfig::default() },
            VadConfig { max_utterance_s: 0.2, ..VadConfig::default() },
            VadConfig { max_utterance_s: f32::INFINITY, ..VadConfig::default() },
        ];
        for config in bad {
            let error = VoiceDetector::new(model(), 16_000, config.clone()).expect_err("invalid");
            assert!(matches!(error, VadError::InvalidConfig { .. }), "{config:?}: {error}");
        }
        let parsed: VadConfig = serde_json::from_str(r#"{"min_silence_ms": 1200}"#).expect("partial config");
        assert_eq!(parsed, VadConfig { min_silence_ms: 1200, ..VadConfig::default() });
        assert!(serde_json::from_str::<VadConfig>(r#"{"min_silence": 1200}"#).is_err());
    }

    #[test]
    fn nan_infinite_and_out_of_range_samples_do_not_panic() {
        let (speech, rate) = sample("arctic_a0001_trimmed_16k.wav");
        let mut audio = padded_with_silence(&speech, rate as usize);
        for (i, sample) in audio.iter_mut().enumerate().step_by(97) {
            *sample = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e9][i % 4];
        }
        let mut detector = VoiceDetector::new(model(), rate, VadConfig::default()).expect("detector");
        let mut events = detector.push(&audio).expect("push");
        assert!(detector.speech_probability_last().is_finite());
        events.extend(detector.flush());
        assert_well_formed(&segments_from_events(&events), audio.len());

        let all_nan = vec![f32::NAN; 3 * rate as usize + 100];
        assert!(speech_segments(&model(), &all_nan, rate, &VadConfig::default()).expect("segments").is_empty());
        assert!(speech_segments(&model(), &[], rate, &VadConfig::default()).expect("segments").is_empty());
    }

    /// `cargo test --release --lib vad::tests::inference_time -- --ignored --nocapture`
    #[test]
    #[ignore = "timing report, not a check"]
    fn inference_time() {
        let (audio, rate) = sample("phone_call_monologue_8k.wav");
        let audio16 = padded_with_silence(&sample("arctic_a0001_trimmed_16k.wav").0, 16_000);
        for (audio, rate) in [(audio, rate), (audio16, 16_000)] {
            let mut detector = VoiceDetector::new(model(), rate, VadConfig::default()).expect("detector");
            let window = Geometry::for_rate(rate).expect("rate").window;
            detector.push(&audio[..window * 10]).expect("warm-up");
            let started = Instant::now();
            let chunks = audio.len() / window;
            detector.push(&audio[..chunks * window]).expect("push");
            let per_chunk = started.elapsed().as_secs_f64() / chunks as f64;
            eprintln!("{rate} Hz: {:.3} ms per {window}-sample chunk ({chunks} chunks)", per_chunk * 1000.0);
        }
    }
}
