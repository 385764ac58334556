//! What Helpline remembers: customers and their accounts, sessions and their transcripts, call
//! records, and the queue of calls waiting for a human agent.
//!
//! [`Store`] is the one interface the dialogue engine, the call service and the agent side use; the
//! embedded default is SQLite ([`SqliteStore`], with migrations), and a scale-out engine (Postgres) can
//! follow behind the same trait without touching the dialogue.
//!
//! Every write of a caller's words goes through [`Store::append_turn`], so privacy rules (redaction of
//! long digit strings, retention) apply in exactly one place.

mod redact;
mod seed;
mod sqlite;
mod validate;

pub use redact::Redaction;
pub use seed::{seed, SeedError};
pub use sqlite::{SqliteStore, StoreConfig};

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Where the store lives unless told otherwise: `$HELPLINE_STORE`, else `var/helpline.db` under the
/// working directory (the folder is ignored by git; the file is created on first use).
pub fn default_path() -> PathBuf {
    match std::env::var_os("HELPLINE_STORE") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from("var/helpline.db"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error(
        "the database {path} is corrupt or not a Helpline database ({reason}); move it aside (nothing in it \
         is deleted) and start again to create a fresh one"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "the database {path} was written by a newer Helpline (schema version {found}, this build knows up to \
         {known}); use that version or a fresh database file"
    )]
    TooNew { path: PathBuf, found: i64, known: i64 },
    #[error("no {what} with id {id}")]
    NotFound { what: &'static str, id: String },
    #[error("session {id} was changed by another turn (version {expected} expected, {found} found); retry the turn")]
    Conflict { id: String, expected: i64, found: i64 },
    #[error("queue entry {id} is {status}; it must be {expected} to {action} it")]
    QueueState { id: i64, status: QueueStatus, expected: QueueStatus, action: &'static str },
    /// Data the store refuses to keep (an empty id, a phone number of another customer, ...).
    #[error("{what}: {problem}")]
    Invalid { what: String, problem: String },
    #[error("database error: {0}")]
    Database(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A person who calls the line, as the bank knows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub id: String,
    pub name: String,
    /// E.164 numbers ("+15551234567"); a caller is recognised by any of them.
    pub phone_numbers: Vec<String>,
    #[serde(default = "default_language")]
    pub preferred_language: String,
    /// voice, sms or email: how they like to be contacted back.
    #[serde(default = "default_channel")]
    pub preferred_channel: String,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub consent: Consent,
    #[serde(default)]
    pub accounts: Vec<Account>,
    #[serde(default)]
    pub cards: Vec<Card>,
    /// Read from the tickets table; ignored on upsert.
    #[serde(default)]
    pub open_tickets: Vec<Ticket>,
    /// The latest recorded contact; ignored on upsert.
    #[serde(default)]
    pub last_contact: Option<Contact>,
}

fn default_language() -> String {
    "en".into()
}

fn default_channel() -> String {
    "voice".into()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// May the call be recorded and its transcript kept beyond the retention period?
    #[serde(default)]
    pub recording: bool,
    #[serde(default)]
    pub marketing: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub id: String,
    /// checking, savings or credit.
    pub kind: String,
    pub last_four: String,
    pub balance_cents: i64,
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default)]
    pub payment_due: Option<NaiveDate>,
    #[serde(default)]
    pub minimum_due_cents: Option<i64>,
    /// Transactions to seed with the account; read back with [`Store::recent_transactions`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transactions: Vec<Transaction>,
}

fn default_currency() -> String {
    "USD".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Card {
    pub id: String,
    /// debit or credit.
    pub kind: String,
    #[serde(default)]
    pub brand: Option<String>,
    pub last_four: String,
    pub status: CardStatus,
    #[serde(default)]
    pub account_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    Active,
    Blocked,
    /// Issued, not yet activated by the customer.
    Inactive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    pub id: String,
    #[serde(default)]
    pub account_id: String,
    pub posted: NaiveDate,
    pub description: String,
    /// Negative for money out.
    pub amount_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ticket {
    pub id: String,
    /// Filled from the customer when seeded under one.
    #[serde(default)]
    pub customer_id: String,
    /// e.g. dispute, address_change, card_block.
    pub kind: String,
    pub summary: String,
    /// open or closed.
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// One finished contact, so the next call knows what the last one was about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub session_id: String,
    pub at: DateTime<Utc>,
    pub channel: String,
    /// The flow or intent the contact was about, e.g. dispute_charge.
    pub topic: Option<String>,
    /// resolved, handed_off, abandoned or failed.
    pub outcome: String,
    pub summary: String,
}

/// One conversation on the line, by voice or text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: String,
    pub line: String,
    /// voice or text.
    pub channel: String,
    pub caller: Option<String>,
    pub customer_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Set when the session is closed: resolved, handed_off, abandoned, failed.
    pub outcome: Option<String>,
    /// The dialogue engine's state (JSON), saved after every turn.
    pub state: Option<String>,
    /// Bumped on every state save; a save naming an older version is refused.
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Caller,
    Assistant,
    /// Things neither side said: actions, hand-offs, errors.
    System,
}

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnRecord {
    pub session_id: String,
    /// Assigned by the store in order of appending (1, 2, …); ignored on append.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub speaker: Speaker,
    pub text: String,
    pub asr_confidence: Option<f32>,
    pub intent: Option<String>,
    pub intent_confidence: Option<f32>,
    pub sentiment: Option<f32>,
    /// Anything else worth keeping (n-best, entities, timings), as JSON.
    pub meta: serde_json::Value,
}

/// How a voice call went, written as the call goes and completed when it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub session_id: String,
    /// The telephony platform's id for the call.
    pub call_id: String,
    pub caller: Option<String>,
    pub called: Option<String>,
    pub encoding: String,
    pub sample_rate: u32,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// e.g. caller_hung_up, handed_off, completed, max_duration, error: <what>.
    pub end_reason: Option<String>,
    /// Per-turn latency shares and totals, as JSON.
    pub timings: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueStatus {
    Waiting,
    Claimed,
    Completed,
}

impl std::fmt::Display for QueueStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Waiting => "waiting",
            Self::Claimed => "claimed",
            Self::Completed => "completed",
        })
    }
}

/// A hand-off to put in the agents' queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewQueueEntry {
    pub session_id: String,
    pub queue: String,
    pub skill: Option<String>,
    /// Higher is served first; equal priorities are served oldest first.
    pub priority: i32,
    /// The hand-off packet (handoff::HandoffPacket as JSON).
    pub packet: serde_json::Value,
}

/// A call in (or through) the agents' queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub id: i64,
    pub session_id: String,
    pub queue: String,
    pub skill: Option<String>,
    pub priority: i32,
    pub status: QueueStatus,
    pub enqueued_at: DateTime<Utc>,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub notes: Option<String>,
    pub packet: serde_json::Value,
    /// 1-based place among waiting entries of its queue (None unless waiting).
    pub position: Option<usize>,
    /// Position × the median handling time of recently completed entries (None unless waiting).
    pub estimated_wait_s: Option<u64>,
}

/// Which queue entries to list.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    /// Only this queue; all queues when None.
    pub queue: Option<String>,
    /// Completed entries too (newest first after the open ones).
    pub include_completed: bool,
}

/// The one interface to what Helpline remembers. Methods take `&self`: implementations synchronise
/// inside, so one store is shared by every session and call.
pub trait Store: Send + Sync {
    /// Insert or replace a customer with their accounts (and seeded transactions) and cards.
    fn upsert_customer(&self, customer: &Customer) -> StoreResult<()>;
    /// The customer with this phone number; numbers are compared by their digits, so "+1 (555) 123-4567"
    /// and "15551234567" match "+15551234567".
    fn customer_by_phone(&self, phone: &str) -> StoreResult<Option<Customer>>;
    fn customer(&self, id: &str) -> StoreResult<Option<Customer>>;
    fn customer_count(&self) -> StoreResult<usize>;
    fn set_card_status(&self, card_id: &str, status: CardStatus) -> StoreResult<Card>;
    fn set_address(&self, customer_id: &str, address: &str) -> StoreResult<()>;
    /// Newest first.
    fn recent_transactions(&self, account_id: &str, limit: usize) -> StoreResult<Vec<Transaction>>;
    /// Open a ticket with a new id ("TKT-000001", ...), created now.
    fn create_ticket(&self, customer_id: &str, kind: &str, summary: &str) -> StoreResult<Ticket>;
    /// Insert or replace a ticket exactly as given (seeding, imports from the bank's systems).
    fn upsert_ticket(&self, ticket: &Ticket) -> StoreResult<()>;
    /// Record how a session went for a customer; recording the same session again replaces it.
    fn record_contact(&self, customer_id: &str, contact: &Contact) -> StoreResult<()>;

    /// Start a session record (version 0, no state).
    fn open_session(&self, session: &SessionRecord) -> StoreResult<()>;
    fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>>;
    /// Save the engine's state if the stored version is still `expected_version`; returns the new one.
    fn save_session_state(&self, id: &str, state: &str, expected_version: i64) -> StoreResult<i64>;
    fn close_session(&self, id: &str, outcome: &str) -> StoreResult<()>;
    /// Append one transcript line (redaction applies here); returns its sequence number.
    fn append_turn(&self, turn: &TurnRecord) -> StoreResult<i64>;
    fn transcript(&self, session_id: &str) -> StoreResult<Vec<TurnRecord>>;
    /// Insert or replace the record of a voice call.
    fn save_call(&self, call: &CallRecord) -> StoreResult<()>;
    fn call(&self, call_id: &str) -> StoreResult<Option<CallRecord>>;

    fn enqueue(&self, entry: &NewQueueEntry) -> StoreResult<QueueEntry>;
    fn queue_entry(&self, id: i64) -> StoreResult<Option<QueueEntry>>;
    /// Waiting entries by priority then age, then claimed ones, then (if asked) completed ones.
    fn queue_entries(&self, filter: &QueueFilter) -> StoreResult<Vec<QueueEntry>>;
    /// Claim a waiting entry for an agent.
    fn claim(&self, id: i64, agent: &str) -> StoreResult<QueueEntry>;
    /// Claim the next waiting entry (highest priority, oldest) of `queue` (any when None) whose skill
    /// is one of `skills` or none (any skill when `skills` is empty).
    fn claim_next(&self, agent: &str, queue: Option<&str>, skills: &[String]) -> StoreResult<Option<QueueEntry>>;
    /// Close a claimed entry with what the agent did.
    fn complete(&self, id: i64, outcome: &str, notes: Option<&str>) -> StoreResult<QueueEntry>;

    /// Delete transcripts, sessions and completed queue entries that ended before `cutoff`, except those
    /// of customers who consented to recording; returns how many sessions went.
    fn purge_before(&self, cutoff: DateTime<Utc>) -> StoreResult<usize>;
}
