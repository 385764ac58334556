//! Deciding what to say next: a declarative flow engine on text turns.
//!
//! A line (a directory of files a business writes, see [`line`]) maps intents to flows of steps: say,
//! collect a slot, call an action, branch, set, hand off, end. The [`Engine`] runs one [`Session`] per
//! conversation: it understands each caller turn in the context of the step it is on, fills slots,
//! runs actions, answers questions mid-flow and resumes, and hands the conversation to a human when
//! the line's hand-off policy says so. It knows nothing of audio or gRPC: a voice call and a chat feed
//! it the same [`CallerInput`]s, so a session can move between channels without losing its state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::handoff::HandoffTicket;
use crate::nlu::Parse;

/// How the caller reaches the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Voice,
    Text,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Voice => "voice",
            Self::Text => "text",
        }
    }
}

/// Who is calling and how, known before the first word.
#[derive(Debug, Clone)]
pub struct SessionStart {
    /// The platform's id for the session (a call id); one is made up when None.
    pub session_id: Option<String>,
    pub channel: Channel,
    /// The caller's number (E.164), used to recognise a known customer.
    pub caller: Option<String>,
    /// The number the caller dialled.
    pub called: Option<String>,
    /// Anything the platform knows (e.g. an account id from an earlier IVR menu).
    pub metadata: BTreeMap<String, String>,
}

/// One thing the caller did.
#[derive(Debug, Clone, PartialEq)]
pub enum CallerInput {
    /// Words, from the recogniser (with its confidence) or typed (confidence None).
    Utterance { text: String, asr_confidence: Option<f32> },
    /// Keypad digits (DTMF), 0-9 * # A-D.
    Digits(String),
    /// The caller said nothing for the line's no-input timeout.
    NoInput,
}

/// Something the assistant says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    /// May the caller interrupt it? False on e.g. a legal notice.
    pub barge_in: bool,
}

/// What a turn produced, in order.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// How the caller's turn was understood.
    Understood { parse: Box<Parse>, asr_confidence: Option<f32> },
    /// A backend action ran.
    Action { name: String, ok: bool, detail: String },
    /// Speak (or print) this.
    Reply(Reply),
    /// The conversation goes to a human agent.
    Handoff(Box<HandoffTicket>),
    /// The session is over.
    Ended { outcome: Outcome, reason: String },
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Resolved,
    HandedOff,
    /// The caller left before the flow finished.
    Abandoned,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resolved => "resolved",
            Self::HandedOff => "handed_off",
            Self::Abandoned => "abandoned",
            Self::Failed => "failed",
        }
    }
}

/// What the session waits for next: the call service uses it for endpointing and barge-in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// The entity kind the current step collects, e.g. `card_last_four`.
    pub entity: Option<String>,
    /// A digit string is being collected: wait longer before ending the caller's turn, and let DTMF
    /// end it at once; the number of digits expected when known.
    pub digits: Option<DigitSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigitSpec {
    pub min: usize,
    pub max: usize,
}

mod engine;
pub mod faq;
pub mod line;
pub mod webhook;

pub use engine::{DialogueError, Engine, Session};
pub use line::{Line, LineError};
