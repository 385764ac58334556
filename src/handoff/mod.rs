//! Handing a conversation to a human agent: why (reason codes from the line's policy), and the packet
//! an agent reads so the caller never repeats themselves. The queue itself lives in the store.

use serde::{Deserialize, Serialize};

use crate::store::{Customer, QueueEntry};

/// Why a conversation went to a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The caller asked for a person.
    ExplicitRequest,
    /// The recogniser was unsure of what it heard, turn after turn.
    LowAsrConfidence,
    /// The understanding was unsure of what the caller wants.
    LowIntentConfidence,
    /// The caller asked for things this line does not handle.
    OutOfScope,
    /// The caller's answers did not fit what was asked, too many times.
    NoMatch,
    /// The caller said nothing, too many times.
    NoInput,
    /// The caller is upset, or getting upset fast.
    NegativeSentiment,
    /// A backend action failed.
    ActionFailed,
    /// The flow itself hands off (e.g. a fraud case goes to a specialist).
    FlowHandoff,
    /// Something in Helpline failed mid-call (recognition, synthesis, the store).
    SystemError,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExplicitRequest => "explicit_request",
            Self::LowAsrConfidence => "low_asr_confidence",
            Self::LowIntentConfidence => "low_intent_confidence",
            Self::OutOfScope => "out_of_scope",
            Self::NoMatch => "no_match",
            Self::NoInput => "no_input",
            Self::NegativeSentiment => "negative_sentiment",
            Self::ActionFailed => "action_failed",
            Self::FlowHandoff => "flow_handoff",
            Self::SystemError => "system_error",
        }
    }
}

/// One turn of the transcript as an agent sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PacketTurn {
    /// caller, assistant or system.
    pub speaker: String,
    pub text: String,
    pub asr_confidence: Option<f32>,
    pub intent: Option<String>,
    pub intent_confidence: Option<f32>,
    pub sentiment: Option<f32>,
}

/// One ranked intent of the caller's last turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedIntent {
    pub intent: String,
    pub confidence: f32,
}

/// Everything an agent needs to take over without asking again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffPacket {
    pub session_id: String,
    pub line: String,
    pub channel: String,
    pub caller: Option<String>,
    pub reasons: Vec<Reason>,
    /// Five seconds of reading: who, what they want, what was done, why a human.
    pub summary: String,
    /// The flow the caller was in (or last in), if any.
    pub flow: Option<String>,
    /// Slots filled so far, as said or as looked up.
    pub slots: std::collections::BTreeMap<String, String>,
    /// Intent n-best of the caller's last understood turn.
    pub intents: Vec<RankedIntent>,
    /// Sentiment of each caller turn, oldest first (−1..1).
    pub sentiment_trend: Vec<f32>,
    pub transcript: Vec<PacketTurn>,
    /// The caller's profile, when they were recognised.
    pub customer: Option<Customer>,
    pub queue: String,
    pub skill: Option<String>,
    pub priority: i32,
}

/// A hand-off as it landed in the queue.
#[derive(Debug, Clone, Serialize)]
pub struct HandoffTicket {
    pub packet: HandoffPacket,
    pub entry: QueueEntry,
}
