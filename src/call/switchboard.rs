//! The switchboard: the models, the dialogue engine and the worker pool every call shares, and the
//! one entry point that runs a call.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::pool::WorkerPool;
use super::recognition::PooledRecognizer;
use super::{CallInput, CallOutput, CallSetup, EndReason};
use crate::asr::{WhisperConfig, WhisperRecognizer};
use crate::dialogue::Engine;
use crate::models::ModelDir;
use crate::tts::{PiperVoice, Synthesizer};
use crate::vad::SileroModel;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The set-up asks for something this service does not do (encoding, rate).
    #[error("{0}")]
    Unsupported(String),
    #[error("cannot load the speech models: {0}")]
    Models(String),
}

/// How calls are run.
#[derive(Debug, Clone)]
pub struct SwitchboardConfig {
    /// Whisper model name in the models directory (tiny.en by default).
    pub asr_model: String,
    /// Threads for recognition and synthesis together; the worker pool never runs more at once.
    pub workers: usize,
    /// Longest call; past it the caller is handed off politely.
    pub max_call_seconds: u64,
}

impl Default for SwitchboardConfig {
    /// tiny.en, one worker per core, an hour (a line's own `max_call_seconds` is usually shorter, and
    /// the shorter of the two applies).
    fn default() -> Self {
        Self {
            asr_model: "tiny.en".into(),
            workers: std::thread::available_parallelism().map_or(2, usize::from),
            max_call_seconds: 3_600,
        }
    }
}

/// The speech models every call shares, loaded once (cloning shares them).
#[derive(Clone)]
pub struct SpeechModels {
    pub vad: Arc<SileroModel>,
    pub recognizer: Arc<dyn PooledRecognizer>,
    pub voice: Arc<dyn Synthesizer>,
}

impl SpeechModels {
    /// Whisper `asr_model`, Silero VAD and the Piper voice from `models`.
    pub fn load(models: &ModelDir, asr_model: &str) -> Result<Self, CallError> {
        let failed = |what: &str, error: &dyn std::fmt::Display| CallError::Models(format!("{what}: {error}"));
        // One thread each: the pool decides how many threads a recognition gets; the voice's ONNX
        // session fixes its threads at load, and one keeps it from competing with recognitions.
        let recognizer = WhisperRecognizer::load(models, asr_model, WhisperConfig { threads: 1, ..Default::default() })
            .map_err(|e| failed("Whisper", &e))?;
        // One thread: a 32 ms chunk takes a fraction of a millisecond (see `vad`).
        let vad = SileroModel::load(models, 1).map_err(|e| failed("Silero VAD", &e))?;
        let voice = PiperVoice::load(models, 1).map_err(|e| failed("Piper voice", &e))?;
        Ok(Self { vad: Arc::new(vad), recognizer: Arc::new(recognizer), voice: Arc::new(voice) })
    }
}

/// Everything calls share; cheap to clone behind an `Arc`.
pub struct Switchboard {
    engine: Arc<Engine>,
    config: SwitchboardConfig,
    pub(super) speech: SpeechModels,
    pub(super) pool: WorkerPool,
}

/// The sample rates a call may use: telephone narrowband, and wideband (which the models take as is).
const RATES: [u32; 2] = [8_000, 16_000];

impl Switchboard {
    /// Load the speech models once for all calls.
    pub fn load(models: &ModelDir, engine: Arc<Engine>, config: SwitchboardConfig) -> Result<Self, CallError> {
        let speech = SpeechModels::load(models, &config.asr_model)?;
        Ok(Self::with_models(speech, engine, config))
    }

    /// A switchboard on models already loaded (shared with another switchboard, or a test's).
    pub fn with_models(speech: SpeechModels, engine: Arc<Engine>, config: SwitchboardConfig) -> Self {
        let pool = WorkerPool::new(config.workers);
        Self { engine, config, speech, pool }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn config(&self) -> &SwitchboardConfig {
        &self.config
    }

    /// Whether a call with this set-up can be taken (encoding and rate), before any audio flows.
    pub fn check_setup(&self, setup: &CallSetup) -> Result<(), CallError> {
        if setup.call_id.trim().is_empty() {
            return Err(CallError::Unsupported(
                "the call set-up has an empty call_id; give every call the platform's id for it".into(),
            ));
        }
        // Every `Encoding` (mu-law, A-law, linear 16-bit) is taken; the rate is what can be wrong.
        if !RATES.contains(&setup.sample_rate) {
            return Err(CallError::Unsupported(format!(
                "call {}: sample_rate {} Hz is not supported; send 8000 Hz (telephone) or 16000 Hz (wideband) audio",
                setup.call_id, setup.sample_rate
            )));
        }
        Ok(())
    }

    /// Run one call to its end: read `inputs` until hang-up or close, send everything the caller should
    /// hear and see on `outputs` (the last output is `CallEnded`). Never panics on client input.
    pub async fn run(
        self: Arc<Self>,
        setup: CallSetup,
        inputs: mpsc::Receiver<CallInput>,
        outputs: mpsc::Sender<CallOutput>,
    ) -> EndReason {
        super::orchestrator::run(self, setup, inputs, outputs).await
    }
}
