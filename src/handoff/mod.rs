//! Handing a conversation to a human agent: why (reason codes from the line's policy), and the packet
//! an agent reads so the caller never repeats themselves. The queue itself lives in the store.

use serde::{Deserialize, Serialize};

use crate::store::{Customer, QueueEntry};

/// Why a conversation went to a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

/// Five seconds of reading for the agent: who is calling, what they want, what they said so far, why
/// they are here, and their mood. Built from the session, never from free text, so it cannot mislead.
pub fn summary(
    customer: Option<&Customer>,
    caller: Option<&str>,
    wants: Option<&str>,
    slots: &std::collections::BTreeMap<String, String>,
    reasons: &[Reason],
    sentiments: &[f32],
) -> String {
    let who = match (customer, caller) {
        (Some(c), Some(number)) => format!("{} (known caller, {number})", c.name),
        (Some(c), None) => format!("{} (known customer)", c.name),
        (None, Some(number)) => format!("Unknown caller {number}"),
        (None, None) => "Unknown caller".to_string(),
    };
    let mut parts = vec![who];
    parts.push(match wants {
        Some(what) => format!("wants: {}", what.trim_start_matches("your ")),
        None => "wants: not yet known".to_string(),
    });
    if !slots.is_empty() {
        parts.push(slots.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "));
    }
    let why: Vec<&str> = reasons.iter().map(|r| reason_text(*r)).collect();
    parts.push(format!("why a person: {}", why.join("; ")));
    if let Some(last) = sentiments.last() {
        let mood = match *last {
            s if s <= -0.5 => "upset",
            s if s < -0.1 => "unhappy",
            s if s > 0.3 => "positive",
            _ => "calm",
        };
        let falling = sentiments.len() >= 2 && sentiments[sentiments.len() - 2] - last >= 0.3;
        parts.push(format!("mood: {mood} ({last:+.2}{})", if falling { ", falling" } else { "" }));
    }
    if let Some(contact) = customer.and_then(|c| c.last_contact.as_ref()) {
        parts.push(format!(
            "last contact {}: {}",
            contact.at.format("%b %-d"),
            contact.topic.as_deref().unwrap_or("general").replace('_', " ")
        ));
    }
    parts.join(" · ")
}

fn reason_text(reason: Reason) -> &'static str {
    match reason {
        Reason::ExplicitRequest => "asked for a person",
        Reason::LowAsrConfidence => "hard to hear",
        Reason::LowIntentConfidence => "request unclear",
        Reason::OutOfScope => "asked for things this line does not do",
        Reason::NoMatch => "answers did not fit the questions",
        Reason::NoInput => "went silent",
        Reason::NegativeSentiment => "upset",
        Reason::ActionFailed => "a bank system failed",
        Reason::FlowHandoff => "needs a specialist",
        Reason::SystemError => "an assistant failure",
    }
}
