//! The engine: one session per conversation, turn by turn.
//!
//! A turn reads like this: understand the caller's words in the context of the question pending;
//! apply the hand-off policy (an explicit request, an upset caller, a recogniser that keeps mishearing);
//! then either fill the pending slot, take a global behaviour (help, repeat, start over, goodbye), a
//! digression (an FAQ answer or another flow, after which the first flow resumes), or start the flow
//! the intent names; then run flow steps until one needs the caller again. Everything said by either
//! side is written to the store as it happens, and the session's state is saved at the end of the turn.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::actions;
use super::collect::{self, Fill};
use super::flow::{Flow, HandoffTarget, OnError, Step, StepKind};
use super::line::{Line, FAQ_INTENT, GLOBAL_INTENTS};
use super::template::display;
use super::{CallerInput, Channel, DigitSpec, Event, Expectation, Outcome, Reply, SessionStart};
use crate::handoff::{HandoffPacket, HandoffTicket, PacketTurn, RankedIntent, Reason};
use crate::nlu::{DialogueContext, Parse};
use crate::store::{Contact, Customer, NewQueueEntry, SessionRecord, Speaker, Store, StoreError, TurnRecord};

/// How sure the understanding must be before an answer to a pending question is taken as a wish to
/// do something else: on the sample line, answers ("twenty dollars", "coffee hub", a street address)
/// scored at most 0.73 for some flow's intent, while real switches ("actually I lost my debit card")
/// scored 0.78 and up.
const DIGRESSION_CONFIDENCE: f32 = 0.75;
/// Steps one turn may run before the engine decides a flow loops (a goto cycle with no question).
const MAX_STEPS_PER_TURN: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum DialogueError {
    #[error("session {0} has ended; start a new session")]
    Finished(String),
    #[error("no session {0} in the store")]
    UnknownSession(String),
    #[error("session {id} cannot be resumed: its saved state is unreadable ({reason})")]
    BadState { id: String, reason: String },
    #[error("flow `{flow}` loops: {steps} steps ran in one turn without asking the caller anything (check its gotos)")]
    Loop { flow: String, steps: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Understanding(#[from] crate::nlu::NluError),
}

/// The flow engine for one line, shared by all its sessions.
pub struct Engine {
    line: Arc<Line>,
    store: Arc<dyn Store>,
}

/// One conversation's state. Saved in the store after every turn, so a chat can continue as a call.
pub struct Session {
    state: State,
    customer: Option<Customer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    id: String,
    channel: Channel,
    caller: Option<String>,
    customer_id: Option<String>,
    started_at: DateTime<Utc>,
    stack: Vec<Frame>,
    pending: Option<Pending>,
    counters: Counters,
    sentiments: Vec<f32>,
    last_intents: Vec<RankedIntent>,
    last_words: String,
    /// The last question asked, for "repeat that" and re-prompts.
    last_prompt: Option<Reply>,
    /// Every slot filled in this session (display text), for the agent.
    filled: BTreeMap<String, String>,
    /// The first flow the caller asked for: what the contact was about.
    topic: Option<String>,
    resolved_any: bool,
    finished: bool,
    version: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Frame {
    flow: String,
    step: usize,
    slots: Map<String, Value>,
    result: Value,
    results: Map<String, Value>,
    attempts: u32,
    /// Started by another flow's `flow:` step (it returns there), rather than by the caller.
    called: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
enum Pending {
    /// The top frame's current step (a collect) asked its question; `confirming` once it asked to confirm.
    Collect {
        confirming: bool,
    },
    /// The greeting asked whether the call is about the last contact's topic.
    LastContact {
        flow: String,
    },
    AnythingElse,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Counters {
    no_input: u32,
    low_asr: u32,
    low_intent: u32,
    out_of_scope: u32,
}

impl Session {
    pub fn id(&self) -> &str {
        &self.state.id
    }

    pub fn channel(&self) -> Channel {
        self.state.channel
    }

    pub fn customer(&self) -> Option<&Customer> {
        self.customer.as_ref()
    }

    pub fn is_finished(&self) -> bool {
        self.state.finished
    }

    /// Slots filled so far, as they would be said.
    pub fn slots(&self) -> &BTreeMap<String, String> {
        &self.state.filled
    }

    /// The flow the caller is in, if any.
    pub fn flow(&self) -> Option<&str> {
        self.state.stack.last().map(|f| f.flow.as_str())
    }

    /// What the session waits for next.
    pub fn expecting(&self, line: &Line) -> Expectation {
        let Some(Pending::Collect { confirming: false }) = self.state.pending else {
            return Expectation::default();
        };
        let Some(collect) = self.state.stack.last().and_then(|f| current_step(line, f)).and_then(|s| match &s.kind {
            StepKind::Collect(c) => Some(c.clone()),
            _ => None,
        }) else {
            return Expectation::default();
        };
        let digits = match collect.entity.as_str() {
            "card_last_four" => Some(DigitSpec { min: 4, max: 4 }),
            "phone_number" => Some(DigitSpec { min: 7, max: 15 }),
            "digits" | "order_id" | "ticket_id" => Some(DigitSpec { min: 1, max: 20 }),
            _ => None,
        };
        Expectation { entity: Some(collect.entity.clone()), digits }
    }
}

fn current_step<'a>(line: &'a Line, frame: &Frame) -> Option<&'a Step> {
    line.flows.get(&frame.flow).and_then(|f| f.steps.get(frame.step))
}

/// What a turn produced, and what must be persisted with it.
struct Turn {
    events: Vec<Event>,
}

impl Turn {
    fn new() -> Self {
        Self { events: Vec::new() }
    }
}

impl Engine {
    pub fn new(line: Arc<Line>, store: Arc<dyn Store>) -> Self {
        Self { line, store }
    }

    pub fn line(&self) -> &Line {
        &self.line
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Open a session: recognise the caller and greet them (by name, and about their last contact
    /// when it was recent and about something the line follows up on).
    pub fn start(&self, start: SessionStart) -> Result<(Session, Vec<Event>), DialogueError> {
        let id = start.session_id.clone().unwrap_or_else(new_session_id);
        let customer = match (start.metadata.get("customer_id"), &start.caller) {
            (Some(id), _) => self.store.customer(id)?,
            (None, Some(phone)) => self.store.customer_by_phone(phone)?,
            (None, None) => None,
        };
        let now = Utc::now();
        self.store.open_session(&SessionRecord {
            id: id.clone(),
            line: self.line.name.clone(),
            channel: start.channel.as_str().into(),
            caller: start.caller.clone(),
            customer_id: customer.as_ref().map(|c| c.id.clone()),
            started_at: now,
            ended_at: None,
            outcome: None,
            state: None,
            version: 0,
        })?;
        let mut session = Session {
            state: State {
                id,
                channel: start.channel,
                caller: start.caller,
                customer_id: customer.as_ref().map(|c| c.id.clone()),
                started_at: now,
                stack: Vec::new(),
                pending: None,
                counters: Counters::default(),
                sentiments: Vec::new(),
                last_intents: Vec::new(),
                last_words: String::new(),
                last_prompt: None,
                filled: BTreeMap::new(),
                topic: None,
                resolved_any: false,
                finished: false,
                version: 0,
            },
            customer,
        };
        let mut turn = Turn::new();
        let messages = &self.line.messages;
        let greeting = if session.customer.is_some() { &messages.greeting_known } else { &messages.greeting_unknown };
        let scope = self.scope(&session);
        let mut text = greeting.render(&scope);
        match self.followup(&session) {
            Some((flow, question)) => {
                text = format!("{text} {question}");
                session.state.pending = Some(Pending::LastContact { flow });
            }
            None => text = format!("{text} {}", messages.ask.render(&scope)),
        }
        self.say_prompt(&mut session, &mut turn, text, true)?;
        self.save(&mut session)?;
        Ok((session, turn.events))
    }

    /// Pick up a session saved in the store (e.g. moving from chat to voice).
    pub fn resume(&self, session_id: &str) -> Result<Session, DialogueError> {
        let record = self.store.session(session_id)?.ok_or_else(|| DialogueError::UnknownSession(session_id.into()))?;
        let state = record.state.as_deref().ok_or_else(|| DialogueError::UnknownSession(session_id.into()))?;
        let mut state: State = serde_json::from_str(state)
            .map_err(|e| DialogueError::BadState { id: session_id.into(), reason: e.to_string() })?;
        state.version = record.version;
        if state.finished || record.ended_at.is_some() {
            return Err(DialogueError::Finished(session_id.into()));
        }
        let customer = match &state.customer_id {
            Some(id) => self.store.customer(id)?,
            None => None,
        };
        Ok(Session { state, customer })
    }

    /// One caller turn.
    pub fn turn(&self, session: &mut Session, input: CallerInput) -> Result<Vec<Event>, DialogueError> {
        if session.state.finished {
            return Err(DialogueError::Finished(session.state.id.clone()));
        }
        // Another process (a chat window, a second call leg) may have moved this session on since
        // we loaded it: refuse before doing anything, so the two never interleave half-turns.
        if let Some(record) = self.store.session(&session.state.id)? {
            if record.version != session.state.version {
                return Err(StoreError::Conflict {
                    id: session.state.id.clone(),
                    expected: session.state.version,
                    found: record.version,
                }
                .into());
            }
        }
        let mut turn = Turn::new();
        match input {
            CallerInput::NoInput => self.on_no_input(session, &mut turn)?,
            CallerInput::Digits(digits) => self.on_words(session, &mut turn, &digits, None, true)?,
            CallerInput::Utterance { text, asr_confidence } => {
                self.on_words(session, &mut turn, &text, asr_confidence, false)?
            }
        }
        self.save(session)?;
        Ok(turn.events)
    }

    /// The caller hung up (or closed the chat).
    pub fn hang_up(&self, session: &mut Session) -> Result<Vec<Event>, DialogueError> {
        if session.state.finished {
            return Ok(Vec::new());
        }
        let mut turn = Turn::new();
        // A caller who hangs up after being helped, while asked "anything else?", was resolved.
        let outcome = if session.state.resolved_any && session.state.stack.is_empty() {
            Outcome::Resolved
        } else {
            Outcome::Abandoned
        };
        self.finish(session, &mut turn, outcome, "the caller hung up")?;
        self.save(session)?;
        Ok(turn.events)
    }

    /// A stage outside the engine failed (recognition, synthesis, the network): the caller hears a short
    /// apology and is handed to a human with the transcript so far. Never fails itself.
    pub fn fail(&self, session: &mut Session, what: &str) -> Vec<Event> {
        if session.state.finished {
            return Vec::new();
        }
        let mut turn = Turn::new();
        self.note(session, &format!("error: {what}"));
        let apology = self.line.messages.apology.render(&self.scope(session));
        let result = self
            .say(session, &mut turn, apology.clone(), false)
            .and_then(|()| self.handoff(session, &mut turn, &[Reason::SystemError], &HandoffTarget::default(), None))
            .and_then(|()| self.save(session));
        if let Err(error) = result {
            // Even the store failed: the caller still hears the apology, and the call ends.
            tracing::error!("session {}: could not hand off after \"{what}\": {error}", session.state.id);
            session.state.finished = true;
            let mut events = vec![Event::Reply(Reply { text: apology, barge_in: false })];
            events.push(Event::Ended { outcome: Outcome::Failed, reason: format!("{what}; hand-off failed: {error}") });
            return events;
        }
        turn.events
    }

    // ---- a caller turn ----

    fn on_no_input(&self, session: &mut Session, turn: &mut Turn) -> Result<(), DialogueError> {
        self.note(session, "no input");
        session.state.counters.no_input += 1;
        if session.state.counters.no_input >= self.line.policy.max_no_input {
            return self.handoff(session, turn, &[Reason::NoInput], &self.flow_target(session), None);
        }
        let nudge = self.line.messages.no_input.render(&self.scope(session));
        self.say(session, turn, nudge, true)?;
        self.repeat_prompt(session, turn)
    }

    fn on_words(
        &self,
        session: &mut Session,
        turn: &mut Turn,
        text: &str,
        asr_confidence: Option<f32>,
        keyed: bool,
    ) -> Result<(), DialogueError> {
        let expectation = session.expecting(&self.line);
        let context = DialogueContext { expected_entity: expectation.entity.clone() };
        let words = if keyed { text.trim_end_matches('#').to_string() } else { text.to_string() };
        let parse = self.line.understanding.parse_in(&words, &context)?;
        self.record_caller(session, text, asr_confidence, &parse, keyed)?;
        turn.events.push(Event::Understood { parse: Box::new(parse.clone()), asr_confidence });
        session.state.counters.no_input = 0;
        session.state.last_words = words.clone();
        if !keyed {
            session.state.sentiments.push(parse.sentiment.score);
        }
        session.state.last_intents = parse
            .intents
            .iter()
            .map(|i| RankedIntent { intent: i.intent.clone(), confidence: i.confidence })
            .collect();

        // The hand-off policy comes first: nothing is acted on that was not heard, and a caller who
        // asks for a person, or is upset, is not made to answer another question.
        let policy = &self.line.policy;
        if asr_confidence.is_some_and(|c| c < policy.min_asr_confidence) {
            session.state.counters.low_asr += 1;
            if session.state.counters.low_asr >= policy.low_asr_turns {
                return self.handoff(session, turn, &[Reason::LowAsrConfidence], &self.flow_target(session), None);
            }
            let sorry = self.line.messages.not_heard.render(&self.scope(session));
            self.say(session, turn, sorry, true)?;
            return self.repeat_prompt(session, turn);
        }
        session.state.counters.low_asr = 0;
        let top = parse.intent.as_ref().filter(|i| i.confidence >= policy.min_intent_confidence);
        let collecting = matches!(session.state.pending, Some(Pending::Collect { .. }));
        // While a question is pending, an answer that fits it wins over the intent the classifier
        // guesses for it (bare digits and street names often score as "talk to agent"); the words
        // "a person, please" always count, and so does 0 on the keypad, the operator key.
        let agent_intent = !keyed && !collecting && top.is_some_and(|i| i.intent == "talk_to_agent");
        let operator_key = keyed && words.trim() == "0" && !collecting;
        let mut reasons = Vec::new();
        if agent_intent || operator_key || parse.sentiment.wants_human {
            reasons.push(Reason::ExplicitRequest);
        }
        if self.upset(session) {
            reasons.push(Reason::NegativeSentiment);
        }
        if !reasons.is_empty() {
            return self.handoff(session, turn, &reasons, &self.flow_target(session), None);
        }

        match session.state.pending.clone() {
            Some(Pending::Collect { confirming }) => self.on_answer(session, turn, &parse, keyed, confirming),
            Some(Pending::LastContact { flow }) => {
                session.state.pending = None;
                match collect::yes_no(&parse) {
                    Some(true) => self.start_flow(session, turn, &flow, None, false),
                    Some(false) => {
                        let ask = self.line.messages.ask.render(&self.scope(session));
                        self.say_prompt(session, turn, format!("Okay. {ask}"), true)
                    }
                    None => self.route(session, turn, &parse),
                }
            }
            Some(Pending::AnythingElse) => {
                session.state.pending = None;
                let intent = top.map(|i| i.intent.as_str());
                match (collect::yes_no(&parse), intent) {
                    (Some(false), None | Some("deny" | "goodbye")) | (_, Some("goodbye")) => {
                        self.goodbye(session, turn)
                    }
                    (Some(true), None | Some("affirm")) => {
                        let ask = self.line.messages.ask.render(&self.scope(session));
                        self.say_prompt(session, turn, ask, true)
                    }
                    _ => self.route(session, turn, &parse),
                }
            }
            None => self.route(session, turn, &parse),
        }
    }

    /// The caller answered (or did not answer) the pending question of a collect step.
    fn on_answer(
        &self,
        session: &mut Session,
        turn: &mut Turn,
        parse: &Parse,
        keyed: bool,
        confirming: bool,
    ) -> Result<(), DialogueError> {
        let Some((flow, step)) = self.top_step(session) else {
            session.state.pending = None;
            return self.route(session, turn, parse);
        };
        let StepKind::Collect(spec) = &step.kind else {
            session.state.pending = None;
            return self.route(session, turn, parse);
        };
        let options = collect::options(spec, session.customer.as_ref());
        let frame = session.state.stack.last().expect("a frame with a collect step");
        let current = frame.slots.get(&spec.slot).cloned();
        let fill = if confirming {
            collect::confirmation(spec, parse, current.as_ref(), &options)
        } else {
            collect::fill(spec, parse, keyed, &options)
        };
        match fill {
            Fill::Value(value) => self.accept(session, turn, spec, value),
            Fill::Confirmed => {
                session.state.pending = None;
                self.advance(session);
                self.run(session, turn)
            }
            Fill::Rejected => {
                // "No" to "you want to block your debit card?": forget it and ask again.
                if let Some(frame) = session.state.stack.last_mut() {
                    frame.slots.remove(&spec.slot);
                }
                session.state.filled.remove(&spec.slot);
                session.state.pending = Some(Pending::Collect { confirming: false });
                let scope = self.scope(session);
                let text = format!("Okay. {}", spec.prompt.render(&self.with_options(scope, &options)));
                self.say_prompt(session, turn, text, spec.barge_in)
            }
            Fill::Nothing => {
                let confident =
                    parse.intent.as_ref().filter(|i| i.confidence >= self.line.policy.min_intent_confidence);
                if !keyed && confident.is_some_and(|i| i.intent == "talk_to_agent") {
                    return self.handoff(session, turn, &[Reason::ExplicitRequest], &self.flow_target(session), None);
                }
                if self.global(session, turn, parse)? || self.digress(session, turn, parse, flow)? {
                    return Ok(());
                }
                self.no_match(session, turn, None)
            }
        }
    }

    /// A value for the pending slot: validate, then confirm or go on.
    fn accept(
        &self,
        session: &mut Session,
        turn: &mut Turn,
        spec: &collect::Spec,
        value: Value,
    ) -> Result<(), DialogueError> {
        self.set_slot(session, &spec.slot, value);
        if let Some((condition, otherwise)) = &spec.validate {
            let scope = self.scope(session);
            if !condition.holds(&scope) {
                let message = otherwise.render(&scope);
                if let Some(frame) = session.state.stack.last_mut() {
                    frame.slots.remove(&spec.slot);
                }
                session.state.filled.remove(&spec.slot);
                return self.no_match(session, turn, Some(message));
            }
        }
        if let Some(frame) = session.state.stack.last_mut() {
            frame.attempts = 0;
        }
        if let Some(confirm) = &spec.confirm {
            session.state.pending = Some(Pending::Collect { confirming: true });
            let text = confirm.render(&self.scope(session));
            return self.say_prompt(session, turn, text, spec.barge_in);
        }
        session.state.pending = None;
        self.advance(session);
        self.run(session, turn)
    }

    /// The answer did not fit: re-prompt, or hand off after too many tries.
    fn no_match(&self, session: &mut Session, turn: &mut Turn, message: Option<String>) -> Result<(), DialogueError> {
        let Some((_, step)) = self.top_step(session) else { return Ok(()) };
        let StepKind::Collect(spec) = &step.kind else { return Ok(()) };
        let attempts = {
            let frame = session.state.stack.last_mut().expect("frame");
            frame.attempts += 1;
            frame.attempts
        };
        let limit = spec.max_attempts.unwrap_or(self.line.policy.max_no_match);
        if attempts >= limit {
            if let Some(message) = message {
                self.say(session, turn, message, true)?;
            }
            return self.handoff(session, turn, &[Reason::NoMatch], &self.flow_target(session), None);
        }
        let options = collect::options(spec, session.customer.as_ref());
        let scope = self.with_options(self.scope(session), &options);
        let sorry = message.unwrap_or_else(|| self.line.messages.not_understood.render(&scope));
        let text = format!("{sorry} {}", spec.reprompt.render(&scope));
        session.state.pending = Some(Pending::Collect { confirming: false });
        self.say_prompt(session, turn, text, spec.barge_in)
    }

    /// Help, repeat, start over, goodbye: available anywhere. Returns whether one was taken.
    fn global(&self, session: &mut Session, turn: &mut Turn, parse: &Parse) -> Result<bool, DialogueError> {
        let Some(intent) = parse.intent.as_ref().filter(|i| i.confidence >= self.line.policy.min_intent_confidence)
        else {
            return Ok(false);
        };
        let scope = self.scope(session);
        match intent.intent.as_str() {
            "help" => {
                let help = self.line.messages.help.render(&scope);
                self.say(session, turn, help, true)?;
                if session.state.pending.is_some() {
                    self.repeat_prompt(session, turn)?;
                } else {
                    let ask = self.line.messages.ask.render(&scope);
                    self.say_prompt(session, turn, ask, true)?;
                }
            }
            "repeat" => self.repeat_prompt(session, turn)?,
            "start_over" => {
                session.state.stack.clear();
                session.state.pending = None;
                let text = format!(
                    "{} {}",
                    self.line.messages.start_over.render(&scope),
                    self.line.messages.ask.render(&scope)
                );
                self.say_prompt(session, turn, text, true)?;
            }
            "goodbye" => self.goodbye(session, turn)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Mid-flow, the caller asked something else: answer it from the FAQ, or run its flow, then come
    /// back to where the first flow was. Returns whether it was a digression.
    fn digress(
        &self,
        session: &mut Session,
        turn: &mut Turn,
        parse: &Parse,
        current: &Flow,
    ) -> Result<bool, DialogueError> {
        let confident = parse.intent.as_ref().filter(|i| i.confidence >= self.line.policy.min_intent_confidence);
        let switching = parse.intent.as_ref().filter(|i| i.confidence >= DIGRESSION_CONFIDENCE);
        if let Some(flow) = switching.and_then(|i| self.line.flow_for_intent.get(&i.intent)) {
            if flow != &current.name && !session.state.stack.iter().any(|f| &f.flow == flow) {
                return self.start_flow(session, turn, &flow.clone(), Some(parse), false).map(|()| true);
            }
        }
        let asks_faq = confident.is_some_and(|i| i.intent == FAQ_INTENT);
        if asks_faq || confident.is_none() || parse.out_of_scope {
            if let Some(answer) = self.faq_answer(&parse.text) {
                self.say(session, turn, answer, true)?;
                let resume = self.line.messages.resume.render(&json!({"flow": current.description}));
                self.say(session, turn, resume, true)?;
                return self.repeat_prompt(session, turn).map(|()| true);
            }
        }
        Ok(false)
    }

    /// No question pending: what does the caller want?
    fn route(&self, session: &mut Session, turn: &mut Turn, parse: &Parse) -> Result<(), DialogueError> {
        let policy = &self.line.policy;
        if self.global(session, turn, parse)? {
            return Ok(());
        }
        let Some(intent) = parse.intent.clone() else {
            if let Some(answer) = self.faq_answer(&parse.text) {
                session.state.counters.out_of_scope = 0;
                return self.answered(session, turn, answer);
            }
            if !parse.text.chars().any(char::is_alphanumeric) {
                let sorry = self.line.messages.not_heard.render(&self.scope(session));
                self.say(session, turn, sorry, true)?;
                return self.repeat_prompt(session, turn);
            }
            session.state.counters.out_of_scope += 1;
            if session.state.counters.out_of_scope >= policy.out_of_scope_turns {
                return self.handoff(session, turn, &[Reason::OutOfScope], &HandoffTarget::default(), None);
            }
            let scope = self.scope(session);
            let text =
                format!("{} {}", self.line.messages.out_of_scope.render(&scope), self.line.messages.ask.render(&scope));
            return self.say_prompt(session, turn, text, true);
        };
        session.state.counters.out_of_scope = 0;
        if intent.confidence < policy.min_intent_confidence {
            if let Some(answer) = self.faq_answer(&parse.text) {
                return self.answered(session, turn, answer);
            }
            session.state.counters.low_intent += 1;
            if session.state.counters.low_intent >= policy.low_intent_turns {
                return self.handoff(session, turn, &[Reason::LowIntentConfidence], &HandoffTarget::default(), None);
            }
            let text = self.line.messages.rephrase.render(&self.scope(session));
            return self.say_prompt(session, turn, text, true);
        }
        session.state.counters.low_intent = 0;
        if intent.intent == FAQ_INTENT {
            return match self.faq_answer(&parse.text) {
                Some(answer) => self.answered(session, turn, answer),
                None => {
                    let text = self.line.messages.rephrase.render(&self.scope(session));
                    self.say_prompt(session, turn, text, true)
                }
            };
        }
        if let Some(flow) = self.line.flow_for_intent.get(&intent.intent).cloned() {
            return self.start_flow(session, turn, &flow, Some(parse), false);
        }
        if GLOBAL_INTENTS.contains(&intent.intent.as_str()) {
            // greet, affirm or deny with nothing pending.
            let ask = self.line.messages.ask.render(&self.scope(session));
            return self.say_prompt(session, turn, ask, true);
        }
        match self.faq_answer(&parse.text) {
            Some(answer) => self.answered(session, turn, answer),
            None => {
                let text = self.line.messages.rephrase.render(&self.scope(session));
                self.say_prompt(session, turn, text, true)
            }
        }
    }

    /// An FAQ answer outside any flow, then "anything else?".
    fn answered(&self, session: &mut Session, turn: &mut Turn, answer: String) -> Result<(), DialogueError> {
        self.say(session, turn, answer, true)?;
        session.state.resolved_any = true;
        self.anything_else(session, turn)
    }

    fn anything_else(&self, session: &mut Session, turn: &mut Turn) -> Result<(), DialogueError> {
        session.state.pending = Some(Pending::AnythingElse);
        let text = self.line.messages.anything_else.render(&self.scope(session));
        self.say_prompt(session, turn, text, true)
    }

    fn goodbye(&self, session: &mut Session, turn: &mut Turn) -> Result<(), DialogueError> {
        let text = self.line.messages.goodbye.render(&self.scope(session));
        self.say(session, turn, text, true)?;
        let outcome = if session.state.resolved_any { Outcome::Resolved } else { Outcome::Abandoned };
        self.finish(session, turn, outcome, "the conversation ended")
    }

    // ---- flows ----

    /// Push `flow` (filling what the caller already said) and run it.
    fn start_flow(
        &self,
        session: &mut Session,
        turn: &mut Turn,
        flow: &str,
        parse: Option<&Parse>,
        called: bool,
    ) -> Result<(), DialogueError> {
        session.state.pending = None;
        if session.state.topic.is_none() {
            session.state.topic = Some(flow.to_string());
        }
        session.state.stack.push(Frame {
            flow: flow.to_string(),
            step: 0,
            slots: Map::new(),
            result: Value::Null,
            results: Map::new(),
            attempts: 0,
            called,
        });
        // "I lost my debit card": the card type is already said; the collect step will not ask.
        if let (Some(parse), Some(definition)) = (parse, self.line.flows.get(flow)) {
            for step in &definition.steps {
                if let StepKind::Collect(spec) = &step.kind {
                    let options = collect::options(spec, session.customer.as_ref());
                    if let Some(value) = collect::prefill(spec, parse, &options) {
                        self.set_slot(session, &spec.slot, value);
                    }
                }
            }
        }
        self.run(session, turn)
    }

    /// Run steps until one waits for the caller, the flow ends, or the session does.
    fn run(&self, session: &mut Session, turn: &mut Turn) -> Result<(), DialogueError> {
        let mut steps_run = 0;
        loop {
            if session.state.finished || session.state.pending.is_some() {
                return Ok(());
            }
            let Some(frame) = session.state.stack.last() else {
                return Ok(());
            };
            let flow = self.line.flows.get(&frame.flow).expect("flows are checked at load");
            steps_run += 1;
            if steps_run > MAX_STEPS_PER_TURN {
                return Err(DialogueError::Loop { flow: flow.name.clone(), steps: steps_run });
            }
            let Some(step) = flow.steps.get(frame.step) else {
                self.flow_done(session, turn)?;
                continue;
            };
            if step.when.as_ref().is_some_and(|c| !c.holds(&self.scope(session))) {
                self.advance(session);
                continue;
            }
            self.step(session, turn, flow, step)?;
        }
    }

    fn step(&self, session: &mut Session, turn: &mut Turn, flow: &Flow, step: &Step) -> Result<(), DialogueError> {
        match &step.kind {
            StepKind::Say { text, barge_in } => {
                let text = text.render(&self.scope(session));
                self.say(session, turn, text, *barge_in)?;
                self.advance(session);
            }
            StepKind::Collect(spec) => {
                let options = collect::options(spec, session.customer.as_ref());
                let filled = session.state.stack.last().is_some_and(|f| f.slots.contains_key(&spec.slot));
                if spec.options.is_some() && options.is_empty() {
                    let text = match &spec.none {
                        Some(none) => none.render(&self.scope(session)),
                        None => self.line.messages.out_of_scope.render(&self.scope(session)),
                    };
                    self.say(session, turn, text, true)?;
                    return self.end_flow(session, Outcome::Resolved);
                }
                if !filled && options.len() == 1 && spec.options.is_some() {
                    // One account, one card: nothing to ask.
                    self.set_slot(session, &spec.slot, options[0].clone());
                }
                if session.state.stack.last().is_some_and(|f| f.slots.contains_key(&spec.slot)) {
                    match &spec.confirm {
                        Some(confirm) => {
                            session.state.pending = Some(Pending::Collect { confirming: true });
                            let text = confirm.render(&self.scope(session));
                            self.say_prompt(session, turn, text, spec.barge_in)?;
                        }
                        _ => self.advance(session),
                    }
                    return Ok(());
                }
                session.state.pending = Some(Pending::Collect { confirming: false });
                let text = spec.prompt.render(&self.with_options(self.scope(session), &options));
                self.say_prompt(session, turn, text, spec.barge_in)?;
            }
            StepKind::Action { name, args, on_error } => {
                let scope = self.scope(session);
                let args: BTreeMap<String, String> = args.iter().map(|(k, v)| (k.clone(), v.render(&scope))).collect();
                let outcome = actions::run(&self.line, self.store.as_ref(), name, &args, session.customer.as_ref());
                match outcome {
                    Ok(result) => {
                        turn.events.push(Event::Action { name: name.clone(), ok: true, detail: result.to_string() });
                        self.note(session, &format!("action {name}: ok {result}"));
                        if let Some(id) = result.get("customer_id").and_then(Value::as_str) {
                            session.state.customer_id = Some(id.to_string());
                        }
                        if let Some(frame) = session.state.stack.last_mut() {
                            frame.results.insert(name.clone(), result.clone());
                            frame.result = result;
                        }
                        self.refresh_customer(session)?;
                        self.advance(session);
                    }
                    Err(error) => {
                        let detail = error.to_string();
                        tracing::warn!("session {}: {detail}", session.state.id);
                        turn.events.push(Event::Action { name: name.clone(), ok: false, detail: detail.clone() });
                        self.note(session, &format!("action {name} failed: {detail}"));
                        let apology = self.line.messages.apology.render(&self.scope(session));
                        self.say(session, turn, apology, false)?;
                        match on_error {
                            OnError::Handoff => {
                                return self.handoff(session, turn, &[Reason::ActionFailed], &flow.handoff, None);
                            }
                            OnError::Continue => self.advance(session),
                        }
                    }
                }
            }
            StepKind::Set(pairs) => {
                let scope = self.scope(session);
                let values: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.clone(), v.render(&scope))).collect();
                for (slot, value) in values {
                    self.set_slot(session, &slot, Value::String(value));
                }
                self.advance(session);
            }
            StepKind::Branch(branches) => {
                let scope = self.scope(session);
                let target = branches.iter().find(|(c, _)| c.holds(&scope)).map(|(_, t)| *t);
                match target {
                    Some(index) => self.jump(session, index),
                    None => self.advance(session),
                }
            }
            StepKind::Goto(index) => self.jump(session, *index),
            StepKind::Flow(name) => {
                self.advance(session);
                let name = name.clone();
                session.state.stack.push(Frame {
                    flow: name,
                    step: 0,
                    slots: Map::new(),
                    result: Value::Null,
                    results: Map::new(),
                    attempts: 0,
                    called: true,
                });
            }
            StepKind::Answer => {
                let words = session.state.last_words.clone();
                let text = match self.faq_answer(&words) {
                    Some(answer) => answer,
                    None => self.line.messages.out_of_scope.render(&self.scope(session)),
                };
                self.say(session, turn, text, true)?;
                self.advance(session);
            }
            StepKind::Handoff { target, say, reason } => {
                let say = say.as_ref().map(|t| t.render(&self.scope(session)));
                let target = merge_target(target, &flow.handoff);
                return self.handoff(session, turn, &[*reason], &target, say);
            }
            StepKind::End { say, outcome, hang_up } => {
                if let Some(say) = say {
                    let text = say.render(&self.scope(session));
                    self.say(session, turn, text, true)?;
                }
                if *outcome == Outcome::Resolved {
                    session.state.resolved_any = true;
                }
                if *hang_up {
                    return self.goodbye(session, turn);
                }
                self.end_flow(session, *outcome)?;
            }
        }
        Ok(())
    }

    /// The top flow ran out of steps (or ended): return to the flow below, or ask "anything else?".
    fn flow_done(&self, session: &mut Session, turn: &mut Turn) -> Result<(), DialogueError> {
        let Some(done) = session.state.stack.pop() else { return Ok(()) };
        session.state.pending = None;
        match session.state.stack.last() {
            Some(parent) if !done.called => {
                // The caller interrupted the flow below with this one: say where we are going back to.
                let description = self.line.flows.get(&parent.flow).map(|f| f.description.clone()).unwrap_or_default();
                let resume = self.line.messages.resume.render(&json!({"flow": description}));
                self.say(session, turn, resume, true)?;
            }
            Some(_) => {}
            None => self.anything_else(session, turn)?,
        }
        Ok(())
    }

    fn end_flow(&self, session: &mut Session, outcome: Outcome) -> Result<(), DialogueError> {
        if outcome == Outcome::Resolved {
            session.state.resolved_any = true;
        }
        // Jump past the last step; `run` then sees the flow done.
        if let Some(frame) = session.state.stack.last_mut() {
            frame.step = usize::MAX;
        }
        Ok(())
    }

    fn advance(&self, session: &mut Session) {
        if let Some(frame) = session.state.stack.last_mut() {
            frame.step = frame.step.saturating_add(1);
            frame.attempts = 0;
        }
    }

    fn jump(&self, session: &mut Session, index: usize) {
        if let Some(frame) = session.state.stack.last_mut() {
            frame.step = index;
            frame.attempts = 0;
        }
    }

    /// The flow and step the session is on; borrowed from the line, never from the session.
    fn top_step(&self, session: &Session) -> Option<(&Flow, &Step)> {
        let frame = session.state.stack.last()?;
        let flow = self.line.flows.get(&frame.flow)?;
        Some((flow, flow.steps.get(frame.step)?))
    }

    fn set_slot(&self, session: &mut Session, slot: &str, value: Value) {
        session.state.filled.insert(slot.to_string(), display(&value));
        if let Some(frame) = session.state.stack.last_mut() {
            frame.slots.insert(slot.to_string(), value);
        }
    }

    // ---- hand-off and the end ----

    fn handoff(
        &self,
        session: &mut Session,
        turn: &mut Turn,
        reasons: &[Reason],
        target: &HandoffTarget,
        say: Option<String>,
    ) -> Result<(), DialogueError> {
        if let Some(text) = say {
            self.say(session, turn, text, true)?;
        }
        let policy = &self.line.policy;
        let queue = target.queue.clone().unwrap_or_else(|| policy.queue.clone());
        let skill = target.skill.clone().or_else(|| policy.skill.clone());
        let bonus = reasons.iter().filter_map(|r| policy.priorities.get(r)).max().copied().unwrap_or(0);
        let priority = target.priority.unwrap_or(policy.priority) + bonus;
        self.note(session, &format!("hand-off: {}", reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")));
        let mut packet = self.packet(session, reasons, &queue, skill.clone(), priority)?;
        let entry = self.store.enqueue(&NewQueueEntry {
            session_id: session.state.id.clone(),
            queue: queue.clone(),
            skill,
            priority,
            packet: serde_json::to_value(&packet).unwrap_or(Value::Null),
        })?;
        let wait = spoken_wait(entry.estimated_wait_s.unwrap_or(0));
        let scope = json!({"position": entry.position.unwrap_or(1), "wait": wait, "queue": queue});
        let text = self.line.messages.handoff.render(&scope);
        self.say(session, turn, text.clone(), false)?;
        packet.transcript.push(PacketTurn {
            speaker: "assistant".into(),
            text,
            asr_confidence: None,
            intent: None,
            intent_confidence: None,
            sentiment: None,
        });
        turn.events.push(Event::Handoff(Box::new(HandoffTicket { packet, entry })));
        let reason = format!("handed off: {}", reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "));
        self.finish(session, turn, Outcome::HandedOff, &reason)
    }

    fn packet(
        &self,
        session: &Session,
        reasons: &[Reason],
        queue: &str,
        skill: Option<String>,
        priority: i32,
    ) -> Result<HandoffPacket, DialogueError> {
        let transcript: Vec<PacketTurn> = self
            .store
            .transcript(&session.state.id)?
            .into_iter()
            .map(|t| PacketTurn {
                speaker: match t.speaker {
                    Speaker::Caller => "caller",
                    Speaker::Assistant => "assistant",
                    Speaker::System => "system",
                }
                .into(),
                text: t.text,
                asr_confidence: t.asr_confidence,
                intent: t.intent,
                intent_confidence: t.intent_confidence,
                sentiment: t.sentiment,
            })
            .collect();
        // The flow the caller asked for, not a helper it called (identify): that is what they want.
        let flow = session
            .state
            .stack
            .iter()
            .rev()
            .find(|f| !f.called)
            .map(|f| f.flow.clone())
            .or_else(|| session.state.topic.clone());
        let summary = crate::handoff::summary(
            session.customer.as_ref(),
            session.state.caller.as_deref(),
            flow.as_deref().and_then(|f| self.line.flows.get(f)).map(|f| f.description.as_str()),
            &session.state.filled,
            reasons,
            &session.state.sentiments,
        );
        Ok(HandoffPacket {
            session_id: session.state.id.clone(),
            line: self.line.name.clone(),
            channel: session.state.channel.as_str().into(),
            caller: session.state.caller.clone(),
            reasons: reasons.to_vec(),
            summary,
            flow,
            slots: session.state.filled.clone(),
            intents: session.state.last_intents.clone(),
            sentiment_trend: session.state.sentiments.clone(),
            transcript,
            customer: session.customer.clone(),
            queue: queue.into(),
            skill,
            priority,
        })
    }

    /// Close the session, and record the contact so the caller's next call knows about it.
    fn finish(
        &self,
        session: &mut Session,
        turn: &mut Turn,
        outcome: Outcome,
        reason: &str,
    ) -> Result<(), DialogueError> {
        session.state.finished = true;
        session.state.pending = None;
        self.store.close_session(&session.state.id, outcome.as_str())?;
        if let Some(customer) = &session.state.customer_id {
            let summary = match &session.state.topic {
                Some(topic) => format!("{topic}: {}", outcome.as_str().replace('_', " ")),
                None => outcome.as_str().replace('_', " "),
            };
            self.store.record_contact(
                customer,
                &Contact {
                    session_id: session.state.id.clone(),
                    at: Utc::now(),
                    channel: session.state.channel.as_str().into(),
                    topic: session.state.topic.clone(),
                    outcome: outcome.as_str().into(),
                    summary,
                },
            )?;
        }
        turn.events.push(Event::Ended { outcome, reason: reason.into() });
        Ok(())
    }

    fn upset(&self, session: &Session) -> bool {
        let policy = &self.line.policy;
        match session.state.sentiments.as_slice() {
            [.., previous, last] => *last < policy.sentiment_below || previous - last >= policy.sentiment_drop,
            [last] => *last < policy.sentiment_below,
            [] => false,
        }
    }

    fn flow_target(&self, session: &Session) -> HandoffTarget {
        session
            .state
            .stack
            .last()
            .and_then(|f| self.line.flows.get(&f.flow))
            .map(|f| f.handoff.clone())
            .unwrap_or_default()
    }

    // ---- what is said, and the scope templates read ----

    /// Say something that is a question: it is what "repeat that" and re-prompts say again.
    fn say_prompt(
        &self,
        session: &mut Session,
        turn: &mut Turn,
        text: String,
        barge_in: bool,
    ) -> Result<(), DialogueError> {
        session.state.last_prompt = Some(Reply { text: text.clone(), barge_in });
        self.say(session, turn, text, barge_in)
    }

    fn say(&self, session: &mut Session, turn: &mut Turn, text: String, barge_in: bool) -> Result<(), DialogueError> {
        if text.trim().is_empty() {
            return Ok(());
        }
        self.store.append_turn(&TurnRecord {
            session_id: session.state.id.clone(),
            seq: 0,
            at: Utc::now(),
            speaker: Speaker::Assistant,
            text: text.clone(),
            asr_confidence: None,
            intent: None,
            intent_confidence: None,
            sentiment: None,
            meta: Value::Null,
        })?;
        turn.events.push(Event::Reply(Reply { text, barge_in }));
        Ok(())
    }

    fn repeat_prompt(&self, session: &mut Session, turn: &mut Turn) -> Result<(), DialogueError> {
        match session.state.last_prompt.clone() {
            Some(prompt) => self.say(session, turn, prompt.text, prompt.barge_in),
            None => {
                let ask = self.line.messages.ask.render(&self.scope(session));
                self.say_prompt(session, turn, ask, true)
            }
        }
    }

    fn record_caller(
        &self,
        session: &Session,
        text: &str,
        asr_confidence: Option<f32>,
        parse: &Parse,
        keyed: bool,
    ) -> Result<(), DialogueError> {
        let meta = json!({
            "intents": parse.intents,
            "entities": parse.entities,
            "out_of_scope": parse.out_of_scope,
            "keypad": keyed,
        });
        self.store.append_turn(&TurnRecord {
            session_id: session.state.id.clone(),
            seq: 0,
            at: Utc::now(),
            speaker: Speaker::Caller,
            text: if keyed { format!("[keypad] {text}") } else { text.to_string() },
            asr_confidence,
            intent: parse.intent.as_ref().map(|i| i.intent.clone()),
            intent_confidence: parse.intent.as_ref().map(|i| i.confidence),
            sentiment: Some(parse.sentiment.score),
            meta,
        })?;
        Ok(())
    }

    /// A line in the transcript that neither side said (actions, errors, hand-offs); never fails a turn.
    fn note(&self, session: &Session, text: &str) {
        let record = TurnRecord {
            session_id: session.state.id.clone(),
            seq: 0,
            at: Utc::now(),
            speaker: Speaker::System,
            text: text.into(),
            asr_confidence: None,
            intent: None,
            intent_confidence: None,
            sentiment: None,
            meta: Value::Null,
        };
        if let Err(error) = self.store.append_turn(&record) {
            tracing::error!("session {}: could not record \"{text}\": {error}", session.state.id);
        }
    }

    fn refresh_customer(&self, session: &mut Session) -> Result<(), DialogueError> {
        session.customer = match &session.state.customer_id {
            Some(id) => self.store.customer(id)?,
            None => None,
        };
        Ok(())
    }

    fn faq_answer(&self, words: &str) -> Option<String> {
        let faq = self.line.faq.as_ref()?;
        // Trimmed as the intent classifier reads it, so the encoder's cache serves both.
        match faq.answer(words.trim()) {
            Ok(answer) => answer.map(|a| a.answer),
            Err(error) => {
                tracing::warn!("the knowledge base failed on \"{words}\": {error}");
                None
            }
        }
    }

    /// A returning caller's recent contact the line follows up on: (flow, question).
    fn followup(&self, session: &Session) -> Option<(String, String)> {
        let contact = session.customer.as_ref()?.last_contact.as_ref()?;
        let topic = contact.topic.as_deref()?;
        let flow = self.line.followups.topics.get(topic)?;
        let age = Utc::now().signed_duration_since(contact.at);
        if age.num_days() > self.line.followups.max_days {
            return None;
        }
        let about = self
            .line
            .flows
            .get(topic)
            .map(|f| f.description.trim_start_matches("your ").to_string())
            .unwrap_or_else(|| topic.replace('_', " "));
        let day = if age.num_days() < 7 {
            contact.at.format("%A").to_string()
        } else {
            actions::day(contact.at.date_naive())
        };
        let scope =
            json!({"last_contact": {"topic": about, "day": day}, "profile": profile(session.customer.as_ref())});
        Some((flow.clone(), self.line.messages.last_contact.render(&scope)))
    }

    /// Everything templates and conditions may read.
    fn scope(&self, session: &Session) -> Value {
        let mut scope = Map::new();
        if let Some(frame) = session.state.stack.last() {
            scope.extend(frame.slots.clone());
            scope.insert("result".into(), frame.result.clone());
            scope.insert("results".into(), Value::Object(frame.results.clone()));
        }
        scope.insert("profile".into(), profile(session.customer.as_ref()));
        scope.insert("session".into(), json!({"id": session.state.id, "channel": session.state.channel.as_str()}));
        Value::Object(scope)
    }

    fn with_options(&self, mut scope: Value, options: &[Value]) -> Value {
        scope["options"] = Value::Array(options.to_vec());
        scope
    }

    /// Save the state; the store refuses if another turn saved in between.
    fn save(&self, session: &mut Session) -> Result<(), DialogueError> {
        let state = serde_json::to_string(&session.state).expect("session state is plain data");
        session.state.version = self.store.save_session_state(&session.state.id, &state, session.state.version)?;
        Ok(())
    }
}

fn merge_target(step: &HandoffTarget, flow: &HandoffTarget) -> HandoffTarget {
    HandoffTarget {
        queue: step.queue.clone().or_else(|| flow.queue.clone()),
        skill: step.skill.clone().or_else(|| flow.skill.clone()),
        priority: step.priority.or(flow.priority),
    }
}

/// The caller's profile as templates see it (`{profile.first_name}`), or null when unknown.
pub(crate) fn profile(customer: Option<&Customer>) -> Value {
    let Some(c) = customer else { return Value::Null };
    json!({
        "id": c.id,
        "name": c.name,
        "first_name": c.name.split_whitespace().next().unwrap_or(&c.name),
        "address": c.address,
        "phone": c.phone_numbers.first(),
        "preferred_language": c.preferred_language,
        "preferred_channel": c.preferred_channel,
        "accounts": c.accounts.iter().map(collect::account_option).collect::<Vec<_>>(),
        "cards": c.cards.iter().map(collect::card_option).collect::<Vec<_>>(),
    })
}

/// "about two minutes": a wait as a caller wants to hear it.
fn spoken_wait(seconds: u64) -> String {
    match seconds {
        0..=59 => "less than a minute".into(),
        60..=119 => "about a minute".into(),
        s => format!("about {} minutes", (s + 30) / 60),
    }
}

fn new_session_id() -> String {
    format!("s-{}-{:08x}", Utc::now().format("%Y%m%d%H%M%S"), fastrand::u32(..))
}
