//! The switchboard: the models, the dialogue engine and the worker pool every call shares, and the
//! one entry point that runs a call. (Being written: the face is fixed.)

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{CallInput, CallOutput, CallSetup, EndReason};
use crate::dialogue::Engine;
use crate::models::ModelDir;

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

/// Everything calls share; cheap to clone behind an `Arc`.
pub struct Switchboard {
    engine: Arc<Engine>,
    config: SwitchboardConfig,
}

impl Switchboard {
    /// Load the speech models once for all calls.
    pub fn load(_models: &ModelDir, engine: Arc<Engine>, config: SwitchboardConfig) -> Result<Self, CallError> {
        Ok(Self { engine, config })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn config(&self) -> &SwitchboardConfig {
        &self.config
    }

    /// Whether a call with this set-up can be taken (encoding and rate), before any audio flows.
    pub fn check_setup(&self, _setup: &CallSetup) -> Result<(), CallError> {
        todo!()
    }

    /// Run one call to its end: read `inputs` until hang-up or close, send everything the caller should
    /// hear and see on `outputs` (the last output is `CallEnded`). Never panics on client input.
    pub async fn run(
        self: Arc<Self>,
        _setup: CallSetup,
        _inputs: mpsc::Receiver<CallInput>,
        _outputs: mpsc::Sender<CallOutput>,
    ) -> EndReason {
        todo!()
    }
}
