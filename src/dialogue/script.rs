//! Scripted conversations: caller turns and what the assistant must do in reply, replayed against
//! the real engine (real NLU, real store) by `helpline test` and the test suite.
//!
//! ```yaml
//! name: a known caller blocks a stolen debit card
//! caller: "+15551234567"          # optional; the caller's number
//! webhooks:                       # optional: a real local HTTP server answers these actions
//!   file_dispute: {status: 500}
//! turns:
//!   - expect: {says: Hello Jane}  # a turn without caller words checks the greeting
//!   - caller: my debit card was stolen
//!     expect: {intent: lost_or_stolen_card, slots: {card: debit card ending 1234}, says: block}
//!   - keys: "1234#"               # keypad digits; `silence: true` is a no-input timeout
//!   - caller: "yes"
//!     expect: {actions: [block_card], ended: resolved}
//! handoff: {reasons: [explicit_request], queue: cards}   # the packet, field by field
//! ```
//! A file may instead list `sessions:` (each with its own `caller` and `turns`), played in order on
//! one store, so a second call can check that the caller is remembered.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::{CallerInput, Channel, Engine, Event, Line, SessionStart};
use crate::handoff::HandoffTicket;

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{0}")]
    Setup(String),
}

/// One conversation file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    pub name: String,
    #[serde(default)]
    pub caller: Option<String>,
    #[serde(default)]
    pub webhooks: BTreeMap<String, FakeResponse>,
    #[serde(default)]
    pub turns: Vec<ScriptTurn>,
    #[serde(default)]
    pub sessions: Vec<ScriptSession>,
    #[serde(default)]
    pub handoff: Option<ExpectHandoff>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptSession {
    #[serde(default)]
    pub caller: Option<String>,
    pub turns: Vec<ScriptTurn>,
    #[serde(default)]
    pub handoff: Option<ExpectHandoff>,
}

/// How the local test server answers a webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FakeResponse {
    #[serde(default = "ok_status")]
    pub status: u16,
    #[serde(default)]
    pub body: Option<String>,
    /// Answer this late (to test timeouts).
    #[serde(default)]
    pub delay_ms: u64,
}

fn ok_status() -> u16 {
    200
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptTurn {
    #[serde(default)]
    pub caller: Option<String>,
    #[serde(default)]
    pub asr_confidence: Option<f32>,
    #[serde(default)]
    pub keys: Option<String>,
    #[serde(default)]
    pub silence: bool,
    #[serde(default)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub intent: Option<String>,
    /// Substrings (case-insensitive) the assistant's replies in this turn must contain.
    #[serde(default, deserialize_with = "one_or_many")]
    pub says: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub not_says: Vec<String>,
    /// Slots filled so far (as said), checked by value.
    #[serde(default)]
    pub slots: BTreeMap<String, String>,
    /// Actions run in this turn, by name; `!name` means it ran and failed.
    #[serde(default)]
    pub actions: Vec<String>,
    /// The flow the caller is in after the turn (`none` for none).
    pub flow: Option<String>,
    /// Hand-off reasons in this turn.
    #[serde(default)]
    pub handoff: Vec<String>,
    /// The session ended in this turn with this outcome.
    pub ended: Option<String>,
}

/// Expectations on the hand-off packet.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectHandoff {
    #[serde(default)]
    pub reasons: Vec<String>,
    pub queue: Option<String>,
    pub skill: Option<String>,
    pub priority: Option<i32>,
    pub flow: Option<String>,
    #[serde(default)]
    pub slots: BTreeMap<String, String>,
    pub customer: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub summary: Vec<String>,
    /// At least this many transcript lines, with caller turns carrying their confidences.
    pub transcript_min: Option<usize>,
    pub position: Option<usize>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl Script {
    pub fn load(path: &Path) -> Result<Script, ScriptError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScriptError::File { path: path.into(), message: format!("cannot read: {e}") })?;
        let script: Script = serde_saphyr::from_str(&text).map_err(|e| ScriptError::File {
            path: path.into(),
            message: format!("line {}: {}", e.location().map_or(0, |l| l.line()), crate::nlu::data::yaml_message(&e)),
        })?;
        if script.turns.is_empty() == script.sessions.is_empty() {
            return Err(ScriptError::File {
                path: path.into(),
                message: "write either `turns:` or `sessions:`".into(),
            });
        }
        Ok(script)
    }

    fn sessions(&self) -> Vec<ScriptSession> {
        if self.sessions.is_empty() {
            vec![ScriptSession {
                caller: self.caller.clone(),
                turns: self.turns.clone(),
                handoff: self.handoff.clone(),
            }]
        } else {
            self.sessions.clone()
        }
    }
}

/// What went differently from the script.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub name: String,
    pub failures: Vec<String>,
    /// The conversation as it happened, for the report.
    pub transcript: Vec<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A local HTTP server answering every request with one fixed response; lives until dropped.
pub struct FakeServer {
    pub url: String,
    _thread: std::thread::JoinHandle<()>,
}

impl FakeServer {
    pub fn start(response: FakeResponse) -> std::io::Result<FakeServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}/", listener.local_addr()?);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let response = response.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut reader = BufReader::new(match stream.try_clone() {
                        Ok(s) => s,
                        Err(_) => return,
                    });
                    let mut length = 0usize;
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                        if line == "\r\n" {
                            break;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(value) = lower.strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        line.clear();
                    }
                    let mut body = vec![0u8; length.min(1 << 20)];
                    let _ = reader.read_exact(&mut body);
                    std::thread::sleep(Duration::from_millis(response.delay_ms));
                    let payload = response.body.clone().unwrap_or_else(|| {
                        if response.status < 300 {
                            r#"{"ticket_id": "EXT-1001"}"#.into()
                        } else {
                            r#"{"error": "unavailable"}"#.into()
                        }
                    });
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                        response.status,
                        payload.len(),
                        payload
                    );
                });
            }
        });
        Ok(FakeServer { url, _thread: thread })
    }
}

/// Replay `script` on `engine`; the engine's line must already point its webhooks at the servers
/// from [`servers_for`].
pub fn run(engine: &Engine, script: &Script) -> Outcome {
    let mut failures = Vec::new();
    let mut transcript = Vec::new();
    for (index, session_script) in script.sessions().iter().enumerate() {
        let label = if script.sessions.is_empty() { String::new() } else { format!("session {}: ", index + 1) };
        let start = SessionStart {
            session_id: None,
            channel: Channel::Text,
            caller: session_script.caller.clone(),
            called: None,
            metadata: BTreeMap::new(),
        };
        let (mut session, greeting) = match engine.start(start) {
            Ok(started) => started,
            Err(error) => {
                failures.push(format!("{label}could not start: {error}"));
                continue;
            }
        };
        let mut handoff: Option<HandoffTicket> = None;
        let mut pending_greeting = Some(greeting);
        for (number, turn) in session_script.turns.iter().enumerate() {
            let at = format!("{label}turn {}", number + 1);
            let input = match (&turn.caller, &turn.keys, turn.silence) {
                (Some(text), None, false) => {
                    Some(CallerInput::Utterance { text: text.clone(), asr_confidence: turn.asr_confidence })
                }
                (None, Some(keys), false) => Some(CallerInput::Digits(keys.clone())),
                (None, None, true) => Some(CallerInput::NoInput),
                (None, None, false) => None,
                _ => {
                    failures.push(format!("{at}: a turn is one of caller, keys or silence"));
                    continue;
                }
            };
            let events = match input {
                None => pending_greeting.take().unwrap_or_default(),
                Some(input) => {
                    if let Some(greeting) = pending_greeting.take() {
                        log_events(&mut transcript, &greeting);
                    }
                    transcript.push(format!("caller: {}", describe(&input)));
                    match engine.turn(&mut session, input) {
                        Ok(events) => events,
                        Err(error) => {
                            failures.push(format!("{at}: the engine failed: {error}"));
                            break;
                        }
                    }
                }
            };
            log_events(&mut transcript, &events);
            check_turn(&at, &turn.expect, &events, &session, &mut failures);
            if let Some(ticket) = events.iter().find_map(|e| match e {
                Event::Handoff(t) => Some(t.as_ref().clone()),
                _ => None,
            }) {
                handoff = Some(ticket);
            }
        }
        if !session.is_finished() {
            let _ = engine.hang_up(&mut session);
        }
        if let Some(expected) = &session_script.handoff {
            match &handoff {
                Some(ticket) => check_handoff(&label, expected, ticket, &mut failures),
                None => failures.push(format!("{label}expected a hand-off; there was none")),
            }
        }
    }
    Outcome { name: script.name.clone(), failures, transcript }
}

/// Replay `script` on a fresh temporary store seeded with the line's customers, so conversations
/// never see each other; webhooks the script names are answered by local servers.
pub fn run_isolated(
    models: &crate::models::ModelDir,
    encoder: &Arc<crate::nlu::encoder::SentenceEncoder>,
    shared: &Arc<Line>,
    line_dir: &Path,
    script: &Script,
) -> Result<Outcome, ScriptError> {
    let dir = std::env::temp_dir().join(format!("helpline-script-{}-{:08x}", std::process::id(), fastrand::u32(..)));
    let servers = servers_for(script)?;
    let line = line_for(script, shared, &servers, |urls| Line::load_with(line_dir, encoder.clone(), models, urls))?;
    let store =
        crate::store::SqliteStore::open(&dir.join("helpline.db")).map_err(|e| ScriptError::Setup(e.to_string()))?;
    if let Some(customers) = &line.customers {
        crate::store::seed(&store, customers).map_err(|e| ScriptError::Setup(e.to_string()))?;
    }
    let engine = Engine::new(line, Arc::new(store));
    let outcome = run(&engine, script);
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(outcome)
}

/// Start the local servers a script's webhooks need: action name → (url, server).
pub fn servers_for(script: &Script) -> Result<BTreeMap<String, FakeServer>, ScriptError> {
    script
        .webhooks
        .iter()
        .map(|(action, response)| {
            let server = FakeServer::start(response.clone())
                .map_err(|e| ScriptError::Setup(format!("test server for {action}: {e}")))?;
            Ok((action.clone(), server))
        })
        .collect()
}

/// The line for `script`: `shared` unless the script needs webhooks pointed at local servers.
pub fn line_for(
    script: &Script,
    shared: &Arc<Line>,
    servers: &BTreeMap<String, FakeServer>,
    load: impl FnOnce(&BTreeMap<String, String>) -> Result<Line, super::LineError>,
) -> Result<Arc<Line>, ScriptError> {
    if script.webhooks.is_empty() {
        return Ok(shared.clone());
    }
    let urls = servers.iter().map(|(a, s)| (a.clone(), s.url.clone())).collect();
    load(&urls).map(Arc::new).map_err(|e| ScriptError::Setup(e.to_string()))
}

fn describe(input: &CallerInput) -> String {
    match input {
        CallerInput::Utterance { text, asr_confidence: Some(c) } => format!("{text} (heard with confidence {c:.2})"),
        CallerInput::Utterance { text, .. } => text.clone(),
        CallerInput::Digits(d) => format!("[keys {d}]"),
        CallerInput::NoInput => "[silence]".into(),
    }
}

fn log_events(transcript: &mut Vec<String>, events: &[Event]) {
    for event in events {
        match event {
            Event::Reply(reply) => transcript.push(format!("assistant: {}", reply.text)),
            Event::Understood { parse, .. } => transcript.push(format!(
                "  understood: {} {}",
                parse.intent.as_ref().map_or("(none)".to_string(), |i| format!("{} {:.2}", i.intent, i.confidence)),
                if parse.out_of_scope { "out of scope" } else { "" }
            )),
            Event::Action { name, ok, .. } => {
                transcript.push(format!("  action {name}: {}", if *ok { "ok" } else { "failed" }))
            }
            Event::Handoff(t) => transcript.push(format!(
                "  hand-off to {} (position {:?}): {}",
                t.entry.queue, t.entry.position, t.packet.summary
            )),
            Event::Ended { outcome, reason } => transcript.push(format!("  ended: {} ({reason})", outcome.as_str())),
        }
    }
}

fn check_turn(at: &str, expect: &Expect, events: &[Event], session: &super::Session, failures: &mut Vec<String>) {
    let replies: String = events
        .iter()
        .filter_map(|e| if let Event::Reply(r) = e { Some(r.text.as_str()) } else { None })
        .collect::<Vec<_>>()
        .join(" ");
    let lower = replies.to_lowercase();
    for wanted in &expect.says {
        if !lower.contains(&wanted.to_lowercase()) {
            failures.push(format!("{at}: expected the reply to say \"{wanted}\"; it said \"{replies}\""));
        }
    }
    for unwanted in &expect.not_says {
        if lower.contains(&unwanted.to_lowercase()) {
            failures.push(format!("{at}: expected the reply not to say \"{unwanted}\"; it said \"{replies}\""));
        }
    }
    if let Some(intent) = &expect.intent {
        let got = events.iter().find_map(|e| match e {
            Event::Understood { parse, .. } => {
                Some(parse.intent.as_ref().map(|i| i.intent.clone()).unwrap_or_else(|| "none".into()))
            }
            _ => None,
        });
        if got.as_deref() != Some(intent.as_str()) {
            failures.push(format!(
                "{at}: expected intent {intent}; got {}",
                got.unwrap_or_else(|| "no understanding".into())
            ));
        }
    }
    for (slot, value) in &expect.slots {
        match session.slots().get(slot) {
            Some(got) if got.eq_ignore_ascii_case(value) => {}
            got => failures.push(format!("{at}: expected slot {slot} = \"{value}\"; got {got:?}")),
        }
    }
    let ran: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Action { name, ok, .. } => Some(if *ok { name.clone() } else { format!("!{name}") }),
            _ => None,
        })
        .collect();
    for action in &expect.actions {
        if !ran.contains(action) {
            failures.push(format!("{at}: expected action {action}; ran {ran:?}"));
        }
    }
    if let Some(flow) = &expect.flow {
        let got = session.flow().unwrap_or("none");
        if got != flow {
            failures.push(format!("{at}: expected to be in flow {flow}; in {got}"));
        }
    }
    let reasons: Vec<String> = events
        .iter()
        .filter_map(|e| {
            if let Event::Handoff(t) = e {
                Some(t.packet.reasons.iter().map(|r| r.as_str().to_string()).collect::<Vec<_>>())
            } else {
                None
            }
        })
        .flatten()
        .collect();
    for reason in &expect.handoff {
        if !reasons.contains(reason) {
            failures.push(format!("{at}: expected a hand-off for {reason}; hand-off reasons: {reasons:?}"));
        }
    }
    if let Some(outcome) = &expect.ended {
        let got =
            events
                .iter()
                .find_map(|e| if let Event::Ended { outcome, .. } = e { Some(outcome.as_str()) } else { None });
        if got != Some(outcome.as_str()) {
            failures.push(format!(
                "{at}: expected the session to end {outcome}; {}",
                got.map_or("it did not end".into(), |g| format!("it ended {g}"))
            ));
        }
    }
}

fn check_handoff(label: &str, expected: &ExpectHandoff, ticket: &HandoffTicket, failures: &mut Vec<String>) {
    let packet = &ticket.packet;
    let mut fail = |what: String| failures.push(format!("{label}hand-off packet: {what}"));
    let reasons: Vec<&str> = packet.reasons.iter().map(|r| r.as_str()).collect();
    for reason in &expected.reasons {
        if !reasons.contains(&reason.as_str()) {
            fail(format!("expected reason {reason}; reasons {reasons:?}"));
        }
    }
    if let Some(queue) = &expected.queue {
        if &packet.queue != queue || &ticket.entry.queue != queue {
            fail(format!("expected queue {queue}; packet {} / entry {}", packet.queue, ticket.entry.queue));
        }
    }
    if expected.skill.is_some() && packet.skill != expected.skill {
        fail(format!("expected skill {:?}; got {:?}", expected.skill, packet.skill));
    }
    if let Some(priority) = expected.priority {
        if packet.priority != priority {
            fail(format!("expected priority {priority}; got {}", packet.priority));
        }
    }
    if expected.flow.is_some() && packet.flow != expected.flow {
        fail(format!("expected flow {:?}; got {:?}", expected.flow, packet.flow));
    }
    for (slot, value) in &expected.slots {
        match packet.slots.get(slot) {
            Some(got) if got.eq_ignore_ascii_case(value) => {}
            got => fail(format!("expected slot {slot} = \"{value}\"; got {got:?}")),
        }
    }
    if let Some(name) = &expected.customer {
        let got = packet.customer.as_ref().map(|c| c.name.as_str());
        if got != Some(name.as_str()) {
            fail(format!("expected customer {name}; got {got:?}"));
        }
    }
    for part in &expected.summary {
        if !packet.summary.to_lowercase().contains(&part.to_lowercase()) {
            fail(format!("expected the summary to mention \"{part}\"; it reads \"{}\"", packet.summary));
        }
    }
    if let Some(min) = expected.transcript_min {
        if packet.transcript.len() < min {
            fail(format!("expected at least {min} transcript lines; got {}", packet.transcript.len()));
        }
    }
    if let Some(position) = expected.position {
        if ticket.entry.position != Some(position) {
            fail(format!("expected queue position {position}; got {:?}", ticket.entry.position));
        }
    }
    let caller_turns: Vec<_> = packet.transcript.iter().filter(|t| t.speaker == "caller").collect();
    if caller_turns.iter().any(|t| t.sentiment.is_none()) {
        fail("a caller turn in the transcript has no sentiment".into());
    }
    if packet.sentiment_trend.len() > caller_turns.len() {
        fail(format!(
            "sentiment trend has {} points for {} caller turns",
            packet.sentiment_trend.len(),
            caller_turns.len()
        ));
    }
}
