//! One phone call, top to bottom: caller audio in → voice activity and endpointing → recognition
//! (partials while the caller speaks, a final transcript at the end of the turn) → understanding and
//! dialogue → synthesis streamed per sentence → audio out; barge-in, DTMF, no-input re-prompts,
//! hand-off and hang-up at any point.
//!
//! [`Switchboard`] holds what every call shares (the speech models, the dialogue engine, the worker
//! pool); `orchestrator.rs` is the one function that reads like a call, top to bottom, delegating each stage:
//! [`inputs`] (what the client may send), [`endpoint`] (voice activity, turn ends), [`recognition`]
//! (Whisper's input, partial stability), [`dtmf`] (keyed answers), [`barge_in`] (when the caller's voice
//! stops the assistant's), [`playback`] (reply audio on the line and how far it has played), [`pool`]
//! (the shared workers) and the call record.
//!
//! The call knows nothing of gRPC: the service turns protobuf messages into [`CallInput`]s and
//! [`CallOutput`]s back into protobuf. `helpline call` without `--server` drives the same orchestrator
//! in-process.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::audio::Encoding;
use crate::dialogue::Channel;
use crate::handoff::HandoffTicket;
use crate::nlu::Parse;

/// How the platform opens a call: who, and what the audio is.
#[derive(Debug, Clone)]
pub struct CallSetup {
    /// The platform's id for the call; echoed in every output.
    pub call_id: String,
    pub caller: Option<String>,
    pub called: Option<String>,
    pub encoding: Encoding,
    /// 8000 or 16000.
    pub sample_rate: u32,
    pub channel: Channel,
    pub metadata: BTreeMap<String, String>,
    /// Whether audio arrives in real time (a phone line) or as fast as the client can send it (a file).
    pub pacing: Pacing,
}

/// How the client's audio is paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pacing {
    /// A live line: audio comes at the speed it is spoken, and audio running more than two seconds ahead
    /// of the clock is refused (`TooFast`). A reply counts as played when the client says so, or by its
    /// duration from its first chunk when it does not.
    #[default]
    Realtime,
    /// Recorded audio sent as fast as the client can: no clock check, and a reply counts as played once
    /// it is all sent (unless the client reports `PlaybackFinished` sooner).
    Fast,
}

/// What the platform sends after the set-up.
#[derive(Debug, Clone, PartialEq)]
pub enum CallInput {
    /// Raw caller audio in the set-up's encoding and rate (at most 1 s per chunk).
    Audio(Vec<u8>),
    /// Keypad digits, 0-9 * # A-D.
    Dtmf(String),
    /// A typed turn (the text channel on the same stream).
    Text(String),
    /// The platform finished playing this reply to the caller.
    /// `interrupted`: the platform stopped it early itself (its own barge-in, a transfer tone).
    PlaybackFinished { reply_id: u64, interrupted: bool },
    /// The caller hung up.
    HangUp,
    /// The service is shutting down: the caller is handed to a person at once, with the call's context.
    ServiceStopping,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The conversation reached its end (a flow said goodbye).
    Completed,
    CallerHungUp,
    HandedOff,
    /// The call ran past the line's maximum length.
    MaxDuration,
    /// The client's stream closed without a hang-up.
    ClientGone,
    /// Something failed and the call could not continue.
    Error,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::CallerHungUp => "caller_hung_up",
            Self::HandedOff => "handed_off",
            Self::MaxDuration => "max_duration",
            Self::ClientGone => "client_gone",
            Self::Error => "error",
        }
    }
}

/// Latency of one caller turn, measured inside the server (milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TurnTiming {
    /// From the end of the caller's speech to the end of the turn being declared (endpointing silence).
    pub endpoint_ms: f64,
    /// From the end of the turn being declared to its final transcript (often 0: see the next field).
    pub recognition_ms: f64,
    /// How long before the turn was declared over its recognition began (at the caller's pause); 0
    /// when it began only then.
    pub recognition_lead_ms: f64,
    pub understanding_ms: f64,
    /// Synthesis of the reply's first sentence.
    pub first_synthesis_ms: f64,
    /// From the end of the caller's speech to the first reply audio chunk sent.
    pub first_audio_ms: f64,
}

/// What the assistant sends the platform. Every output carries the call's time (ms since set-up).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CallOutput {
    SpeechStarted {
        at_ms: u64,
    },
    SpeechEnded {
        at_ms: u64,
    },
    /// The caller's words so far; `stability` 0..1 says how unlikely they are to change.
    PartialTranscript {
        at_ms: u64,
        text: String,
        stability: f32,
    },
    FinalTranscript {
        at_ms: u64,
        text: String,
        confidence: f32,
    },
    Understood {
        at_ms: u64,
        parse: Box<Parse>,
    },
    ReplyText {
        at_ms: u64,
        reply_id: u64,
        text: String,
        barge_in: bool,
    },
    /// Reply audio in the set-up's encoding and rate; `last` marks the reply's final chunk.
    ReplyAudio {
        at_ms: u64,
        reply_id: u64,
        seq: u64,
        audio: Vec<u8>,
        last: bool,
    },
    /// Stop playing this reply now (the caller barged in); no more chunks of it follow.
    StopPlayback {
        at_ms: u64,
        reply_id: u64,
    },
    Handoff {
        at_ms: u64,
        ticket: Box<HandoffTicket>,
    },
    /// A problem the client should know about; `fatal` ends the call.
    Error {
        at_ms: u64,
        code: ErrorCode,
        message: String,
        fatal: bool,
    },
    /// The call is over; the timing record follows in the same output.
    CallEnded {
        at_ms: u64,
        reason: EndReason,
        turns: Vec<TurnTiming>,
    },
}

/// In-stream error kinds (the service maps them to gRPC codes where the stream must end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A message the client should not have sent (bad chunk, bad DTMF, message after hang-up).
    InvalidInput,
    /// The client sends audio faster than real time.
    TooFast,
    /// A stage inside Helpline failed; the caller was handed off.
    Internal,
}
pub mod barge_in;
pub mod dtmf;
pub mod endpoint;
pub mod inputs;
mod orchestrator;
pub mod playback;
pub mod pool;
pub mod recognition;
mod record;
mod switchboard;
#[cfg(feature = "talk")]
pub mod talk;

pub use pool::Cancel;
pub use recognition::{Pass, PooledRecognizer};
pub use switchboard::{CallError, SpeechModels, Switchboard, SwitchboardConfig};
