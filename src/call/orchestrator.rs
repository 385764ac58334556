//! One call, top to bottom.
//!
//! [`run`] opens the session and greets the caller, then loops over three sources until the call ends:
//! the client's inputs (audio, keys, text, playback reports, hang-up), the results of work running
//! elsewhere (recognition and synthesis on the shared pool, dialogue turns on blocking threads), and
//! timers (a reply's estimated end, the inter-digit pause, no-input, the call's maximum length). Each
//! input moves the call along one stage of its path:
//!
//! ```text
//! audio → gate → endpointer → [speech start: barge-in] → utterance → recognition → turn queue
//! keys  → digit collector ──────────────────────────────────────────────────────→ turn queue
//! text  ─────────────────────────────────────────────────────────────────────────→ turn queue
//! turn queue → dialogue engine → events → agenda (say, hand off, end) → synthesis → playback → audio out
//! ```
//!
//! Handlers never wait: they record what happened, queue outputs and start work; the loop sends the
//! outputs, starts whatever can start next and checks whether the call is over. Whatever goes wrong,
//! the last output is `CallEnded`.

use std::collections::{HashMap, VecDeque};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::mpsc;

use super::barge_in::{BargeIn, OnSpeech, OnWords};
use super::dtmf::DigitCollector;
use super::endpoint::{EarlyCut, Endpointer, Heard, Utterance};
use super::inputs::AudioGate;
use super::playback::{for_the_line, Chunk, Playback};
use super::pool::{blocking, Cancel, PoolError};
use super::recognition::{prepare, stability, Pass};
use super::record::CallLog;
use super::switchboard::Switchboard;
use super::{CallInput, CallOutput, CallSetup, EndReason, ErrorCode, TurnTiming};
use crate::asr::{AsrError, Transcript};
use crate::audio::AudioError;
use crate::dialogue::{
    CallerInput, Channel, DialogueError, Engine, Event, Expectation, Outcome, Reply, Session, SessionStart,
};
use crate::handoff::HandoffTicket;
use crate::tts::{TtsError, SENTENCE_PAUSE_MS};
use crate::vad::VadError;

/// Once a call has reached its maximum length, this long is left for the apology and hand-off message
/// (a few sentences, ~10 s) before the call is cut regardless.
const WRAP_UP_GRACE_MS: u64 = 30_000;

/// Caller speech kept after a reply that could not be interrupted ends: less than this is the tail of
/// talking over it, not an answer.
const MIN_HEARD_MS: u64 = 300;

/// A stage of the call that failed.
#[derive(Debug, thiserror::Error)]
enum StageError {
    #[error("recognition failed: {0}")]
    Recognition(#[from] AsrError),
    #[error("synthesis failed: {0}")]
    Synthesis(#[from] TtsError),
    #[error("the dialogue engine failed: {0}")]
    Dialogue(#[from] DialogueError),
    #[error("voice detection failed: {0}")]
    Voice(#[from] VadError),
    #[error("audio conversion failed: {0}")]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Pool(#[from] PoolError),
}

/// The end of a piece of work, sent back to the call's loop.
enum Done {
    Final {
        utterance: Pending,
        result: Result<Transcript, StageError>,
        recognition_ms: f64,
    },
    /// A recognition started at a pause, before the caller's turn was known to have ended.
    Early {
        id: u64,
        result: Result<Transcript, StageError>,
    },
    Partial {
        utterance: u64,
        result: Result<Transcript, StageError>,
    },
    Dialogue {
        job: DialogueJob,
        result: Result<Turned, StageError>,
        understanding_ms: f64,
    },
    Sentence {
        reply_id: u64,
        text: String,
        audio: Vec<u8>,
        synthesis_ms: f64,
    },
    Spoken {
        reply_id: u64,
        result: Result<(), StageError>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DialogueJob {
    /// A caller turn.
    Turn,
    /// `Engine::fail` after a stage failed or the call ran out of time.
    Fail,
}

/// What a dialogue turn gave back.
struct Turned {
    events: Vec<Event>,
    expecting: Expectation,
    finished: bool,
}

/// An utterance waiting for (or in) recognition.
struct Pending {
    samples: Vec<f32>,
    /// Call time the caller stopped speaking, and the silence waited before the turn was declared.
    ended_ms: u64,
    endpoint_ms: f64,
    /// The early recognition that already has (or is making) its transcript, and the call time it began.
    early: Option<(u64, u64)>,
}

impl Pending {
    /// Call time the turn was declared over.
    fn declared_ms(&self) -> u64 {
        self.ended_ms + self.endpoint_ms as u64
    }
}

/// The recognition of the utterance so far, started when the caller paused: if the pause ends their
/// turn, its transcript is the turn's, and the caller does not wait for a recognition started only
/// once the turn was declared over.
struct Early {
    id: u64,
    cut: EarlyCut,
    cancel: Cancel,
    started_ms: u64,
}

/// A caller turn waiting for the dialogue.
struct QueuedTurn {
    input: CallerInput,
    /// Latency so far, for caller turns (not for no-input).
    timing: Option<TurnTiming>,
    /// Call time the caller finished the turn (end of speech, last key, text received).
    ended_ms: u64,
}

/// What the assistant does next, in the order the dialogue said it.
enum Step {
    Say(Reply),
    Handoff(Box<HandoffTicket>),
    End(EndReason),
}

/// Whether the caller can be heard right now, around replies that may not be interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deaf {
    /// The utterance began over such a reply, which is still playing.
    UntilReplyEnds,
    /// The reply ended at this stream sample: what came before is not heard.
    Before(u64),
}

/// Milliseconds since the call was set up: the time every output carries. Uses tokio's clock, so tests
/// can run calls in virtual time.
#[derive(Debug, Clone, Copy)]
struct CallClock {
    start: tokio::time::Instant,
}

impl CallClock {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> tokio::time::Instant {
        self.start + std::time::Duration::from_millis(ms)
    }
}

fn ms_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// Run one call to its end; see [`Switchboard::run`].
pub(super) async fn run(
    board: Arc<Switchboard>,
    setup: CallSetup,
    mut inputs: mpsc::Receiver<CallInput>,
    outputs: mpsc::Sender<CallOutput>,
) -> EndReason {
    let clock = CallClock { start: tokio::time::Instant::now() };
    if let Err(error) = board.check_setup(&setup) {
        let at_ms = clock.now_ms();
        let message = error.to_string();
        let _ = outputs.send(CallOutput::Error { at_ms, code: ErrorCode::InvalidInput, message, fatal: true }).await;
        let _ = outputs.send(CallOutput::CallEnded { at_ms, reason: EndReason::Error, turns: Vec::new() }).await;
        return EndReason::Error;
    }
    let engine = Arc::clone(board.engine());
    let log = CallLog::open(Arc::clone(engine.store()), &setup);
    let ears = match Endpointer::new(Arc::clone(&board.speech.vad), setup.sample_rate) {
        Ok(ears) => ears,
        Err(error) => return abort(&setup, clock, &outputs, log, StageError::from(error)).await,
    };

    // Open the session: the engine recognises the caller and says the greeting.
    let start = SessionStart {
        session_id: Some(setup.call_id.clone()),
        channel: setup.channel,
        caller: setup.caller.clone(),
        called: setup.called.clone(),
        metadata: setup.metadata.clone(),
    };
    let opened = {
        let engine = Arc::clone(&engine);
        blocking("the dialogue engine", move || {
            let (session, events) = engine.start(start)?;
            let expecting = session.expecting(engine.line());
            Ok::<_, DialogueError>((session, events, expecting))
        })
        .await
    };
    let (session, greeting, expecting) =
        match opened.map_err(StageError::from).and_then(|r| r.map_err(StageError::from)) {
            Ok(opened) => opened,
            Err(error) => return abort(&setup, clock, &outputs, log, error).await,
        };

    log.started();
    let mut call = Call::new(board, engine, setup, clock, outputs, session, log, ears);
    call.take_events(greeting, DialogueJob::Turn);
    call.expect(&expecting);
    let reason = call.converse(&mut inputs).await;
    call.close(reason).await
}

/// The call could not even start (no session, so no apology to give): say what failed and end.
async fn abort(
    setup: &CallSetup,
    clock: CallClock,
    outputs: &mpsc::Sender<CallOutput>,
    log: CallLog,
    error: StageError,
) -> EndReason {
    let message = format!("call {}: could not open the conversation: {error}", setup.call_id);
    tracing::error!("{message}");
    let at_ms = clock.now_ms();
    let _ = outputs.send(CallOutput::Error { at_ms, code: ErrorCode::Internal, message, fatal: true }).await;
    log.close(&format!("error: {error}"), &[]).await;
    let _ = outputs.send(CallOutput::CallEnded { at_ms, reason: EndReason::Error, turns: Vec::new() }).await;
    EndReason::Error
}

/// The state of one call.
struct Call {
    board: Arc<Switchboard>,
    engine: Arc<Engine>,
    setup: CallSetup,
    clock: CallClock,
    outputs: mpsc::Sender<CallOutput>,
    /// Outputs made by handlers, sent by the loop.
    outbox: Vec<CallOutput>,
    client_gone: bool,
    /// Locked only on blocking threads; a panic there poisons it, and `Engine::fail` still gets it.
    session: Arc<Mutex<Session>>,
    log: Option<CallLog>,
    turns: Vec<TurnTiming>,
    work: mpsc::UnboundedSender<Done>,
    done: mpsc::UnboundedReceiver<Done>,

    // The caller's side.
    gate: AudioGate,
    ears: Endpointer,
    digits: DigitCollector,
    barge: BargeIn,
    deaf: Option<Deaf>,
    /// Numbers the caller's utterances; partials belong to one.
    utterance: u64,
    /// The open utterance is not heard (the call is wrapping up).
    utterance_ignored: bool,
    to_recognise: VecDeque<Pending>,
    recognising: bool,
    /// The recognition started at the pause the caller is in now.
    early: Option<Early>,
    next_early: u64,
    /// Early recognitions finished, by id, with the call time they finished, until their turn takes them.
    early_results: HashMap<u64, (Result<Transcript, StageError>, u64)>,
    /// The partial recognition in flight, which is cancelled once it is no longer wanted.
    partial: Option<Cancel>,
    last_partial: String,
    /// The dialogue waits for a digit string (a longer pause ends the turn; the full window is used).
    expecting_digits: bool,

    // The dialogue.
    turns_waiting: VecDeque<QueuedTurn>,
    thinking: bool,
    /// When the caller turn being answered began (call time), until its "one moment" is said.
    hold_due_from: Option<u64>,
    failing_in_flight: bool,
    /// The turn whose first reply audio is awaited, with the call time its caller finished.
    awaiting_audio: Option<(TurnTiming, u64)>,

    // The assistant's side.
    agenda: VecDeque<Step>,
    /// What a barge-in cut off, until the caller's words say whether to resume it.
    interrupted: Vec<Reply>,
    mouth: Playback,
    /// The reply being synthesised, and its stop flag.
    synthesis: Option<(u64, Arc<AtomicBool>)>,
    first_sentence_seen: bool,
    next_reply_id: u64,
    /// A reply has played: no-input timing may start.
    spoken_once: bool,

    // The call as a whole.
    ending: Option<EndReason>,
    /// Overrides how the call ends (the maximum length was reached).
    forced_end: Option<EndReason>,
    failing: bool,
    failure: Option<String>,
    /// The dialogue has ended (goodbye, hand-off): what is left is said, not interrupted, and the
    /// caller's words go nowhere.
    session_over: bool,
    hard_stop: bool,
    idle_since_ms: Option<u64>,
    no_input_ms: u64,
    hold_after_ms: u64,
    max_seconds: u64,
}

impl Call {
    #[allow(clippy::too_many_arguments)]
    fn new(
        board: Arc<Switchboard>,
        engine: Arc<Engine>,
        setup: CallSetup,
        clock: CallClock,
        outputs: mpsc::Sender<CallOutput>,
        session: Session,
        log: CallLog,
        ears: Endpointer,
    ) -> Self {
        let voice = engine.line().voice.clone();
        // The shorter of the service's limit and the line's.
        let max_seconds = board.config().max_call_seconds.min(voice.max_call_seconds);
        let (work, done) = mpsc::unbounded_channel();
        Self {
            gate: AudioGate::new(setup.encoding, setup.sample_rate, setup.pacing),
            mouth: Playback::new(setup.encoding, setup.sample_rate, setup.pacing),
            ears,
            board,
            engine,
            setup,
            clock,
            outputs,
            outbox: Vec::new(),
            client_gone: false,
            session: Arc::new(Mutex::new(session)),
            log: Some(log),
            turns: Vec::new(),
            work,
            done,
            digits: DigitCollector::new(),
            barge: BargeIn::new(),
            deaf: None,
            utterance: 0,
            utterance_ignored: false,
            to_recognise: VecDeque::new(),
            recognising: false,
            early: None,
            next_early: 1,
            early_results: HashMap::new(),
            partial: None,
            last_partial: String::new(),
            expecting_digits: false,
            turns_waiting: VecDeque::new(),
            thinking: false,
            hold_due_from: None,
            failing_in_flight: false,
            awaiting_audio: None,
            agenda: VecDeque::new(),
            interrupted: Vec::new(),
            synthesis: None,
            first_sentence_seen: false,
            next_reply_id: 1,
            spoken_once: false,
            ending: None,
            forced_end: None,
            failing: false,
            failure: None,
            session_over: false,
            hard_stop: false,
            idle_since_ms: None,
            no_input_ms: voice.no_input_timeout_ms,
            hold_after_ms: voice.hold_after_ms,
            max_seconds,
        }
    }

    /// The call's loop: until it ends, take whatever comes first.
    async fn converse(&mut self, inputs: &mut mpsc::Receiver<CallInput>) -> EndReason {
        loop {
            self.advance();
            self.flush().await;
            if self.client_gone {
                return self.hang_up(EndReason::ClientGone).await;
            }
            if let Some(reason) = self.finished() {
                return reason;
            }
            let wake = self.clock.at(self.next_deadline_ms());
            tokio::select! {
                input = inputs.recv() => match input {
                    None => return self.hang_up(EndReason::ClientGone).await,
                    Some(CallInput::HangUp) => return self.hang_up(EndReason::CallerHungUp).await,
                    Some(CallInput::ServiceStopping) => return self.service_stopping().await,
                    Some(input) => self.on_input(input),
                },
                Some(done) = self.done.recv() => self.on_done(done),
                () = tokio::time::sleep_until(wake) => self.on_timer(),
            }
        }
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn emit(&mut self, output: impl FnOnce(u64) -> CallOutput) {
        let at_ms = self.now_ms();
        self.outbox.push(output(at_ms));
    }

    async fn flush(&mut self) {
        for output in std::mem::take(&mut self.outbox) {
            if self.client_gone || self.outputs.send(output).await.is_err() {
                self.client_gone = true;
            }
        }
    }

    // ---- Inputs -------------------------------------------------------------------------------------

    fn on_input(&mut self, input: CallInput) {
        match input {
            CallInput::Audio(bytes) => self.on_audio(&bytes),
            CallInput::Dtmf(keys) => self.on_keys(&keys),
            CallInput::Text(text) => self.on_text(text),
            CallInput::PlaybackFinished { reply_id, interrupted } => self.on_playback_finished(reply_id, interrupted),
            CallInput::HangUp | CallInput::ServiceStopping => {
                unreachable!("hang-up and shutdown end the loop before they get here")
            }
        }
    }

    fn on_audio(&mut self, bytes: &[u8]) {
        if self.setup.channel == Channel::Text {
            let message = format!(
                "call {} was opened on the text channel, so audio cannot be heard; send text turns, or open a voice call",
                self.setup.call_id
            );
            self.emit(|at_ms| CallOutput::Error { at_ms, code: ErrorCode::InvalidInput, message, fatal: false });
            return;
        }
        let now = self.now_ms();
        let samples = match self.gate.admit(bytes, now) {
            Ok(Some(samples)) => samples,
            Ok(None) => return,
            Err(rejected) => {
                let (code, message) = (rejected.code(), rejected.to_string());
                self.emit(|at_ms| CallOutput::Error { at_ms, code, message, fatal: false });
                return;
            }
        };
        let heard = match self.ears.push(&samples) {
            Ok(heard) => heard,
            Err(error) => return self.fail(StageError::from(error)),
        };
        for event in heard {
            match event {
                Heard::SpeechStarted { .. } => self.on_speech_started(),
                Heard::Utterance(utterance) => self.on_utterance(utterance),
            }
        }
        self.follow_pause();
        self.start_partial();
    }

    /// The caller may be done: recognise what they said so far now, at their pause, rather than once the
    /// silence has lasted long enough to end the turn. If they go on speaking, that work is cancelled.
    fn follow_pause(&mut self) {
        if let Some(early) = &self.early {
            if self.ears.pause_started_at() == Some(early.cut.pause_sample) {
                return; // still in the pause it was started at
            }
            self.drop_early();
        }
        if self.utterance_ignored || self.wrapping_up() || self.deaf.is_some() {
            return;
        }
        let Some(cut) = self.ears.early_cut_due() else { return };
        // The early recognition supersedes any partial of the same words.
        if let Some(partial) = &self.partial {
            partial.cancel();
        }
        let (id, cancel) = (self.next_early, Cancel::default());
        self.next_early += 1;
        let samples = cut.samples.clone();
        self.early = Some(Early { id, cut, cancel: cancel.clone(), started_ms: self.now_ms() });
        let pass = self.final_pass();
        let (pool, recognizer, rate) =
            (self.board.pool.clone(), Arc::clone(&self.board.speech.recognizer), self.setup.sample_rate);
        let work = self.work.clone();
        tokio::spawn(async move {
            let result = pool
                .run("recognition", 2, move |threads| -> Result<Transcript, StageError> {
                    Ok(recognizer.recognize(&prepare(samples, rate)?, threads, pass, &cancel)?)
                })
                .await
                .map_err(StageError::from)
                .and_then(|r| r);
            let _ = work.send(Done::Early { id, result });
        });
    }

    fn drop_early(&mut self) {
        if let Some(early) = self.early.take() {
            early.cancel.cancel();
        }
    }

    fn final_pass(&self) -> Pass {
        if self.expecting_digits {
            Pass::FinalDigits
        } else {
            Pass::Final
        }
    }

    /// The platform played a reply to its end, or stopped it itself: then no more of it is sent (nor
    /// synthesised), and the call moves on as if it had played out.
    fn on_playback_finished(&mut self, reply_id: u64, interrupted: bool) {
        if interrupted && self.mouth.current_id() == Some(reply_id) {
            self.stop_speaking();
            self.on_played(reply_id);
        } else {
            self.mouth.client_finished(reply_id);
        }
    }

    /// The caller started to speak: barge-in is decided here, not after recognition.
    fn on_speech_started(&mut self) {
        self.emit(|at_ms| CallOutput::SpeechStarted { at_ms });
        self.utterance += 1;
        self.last_partial.clear();
        self.utterance_ignored = self.wrapping_up();
        if self.utterance_ignored {
            return;
        }
        match self.barge.speech_started() {
            OnSpeech::Stop { .. } => self.interrupt(),
            OnSpeech::Ignore { .. } => self.deaf = Some(Deaf::UntilReplyEnds),
            OnSpeech::Listen => {}
        }
    }

    /// Stop the reply on the line and keep what was not heard, until the caller's words say whether it
    /// resumes.
    fn interrupt(&mut self) {
        if let Some(cut) = self.stop_speaking() {
            if !cut.remaining.is_empty() {
                self.interrupted.push(Reply { text: cut.remaining, barge_in: true });
            }
        }
        // The rest of the answer the caller cut into waits with it; hand-offs and ends stay on the agenda.
        let (says, others): (Vec<Step>, Vec<Step>) = self.agenda.drain(..).partition(|s| matches!(s, Step::Say(_)));
        self.interrupted.extend(says.into_iter().filter_map(|step| match step {
            Step::Say(reply) => Some(reply),
            _ => None,
        }));
        self.agenda.extend(others);
    }

    fn on_utterance(&mut self, utterance: Utterance) {
        self.emit(|at_ms| CallOutput::SpeechEnded { at_ms });
        if let Some(partial) = &self.partial {
            partial.cancel(); // the final is on its way
        }
        let early = self.early.take();
        let deaf = self.deaf.take();
        let early = match early {
            Some(early) if deaf.is_none() && early.cut.foresaw(&utterance) => Some((early.id, early.started_ms)),
            Some(early) => {
                early.cancel.cancel();
                None
            }
            None => None,
        };
        if self.utterance_ignored || self.wrapping_up() {
            return;
        }
        let rate = u64::from(self.setup.sample_rate);
        let position = self.ears.position();
        let silence_ms = position.saturating_sub(utterance.end_sample) * 1000 / rate;
        let mut samples = utterance.samples;
        match deaf {
            Some(Deaf::UntilReplyEnds) => return,
            Some(Deaf::Before(sample)) => {
                // Keep only what was said after the reply ended, if it is long enough to be an answer.
                let skip = sample.saturating_sub(utterance.first_sample) as usize;
                let heard_ms = utterance.end_sample.saturating_sub(sample.max(utterance.start_sample)) * 1000 / rate;
                if heard_ms < MIN_HEARD_MS {
                    return;
                }
                samples.drain(..skip.min(samples.len()));
            }
            None => {}
        }
        let ended_ms = self.now_ms().saturating_sub(silence_ms);
        self.to_recognise.push_back(Pending { samples, ended_ms, endpoint_ms: silence_ms as f64, early });
    }

    fn on_keys(&mut self, keys: &str) {
        // Bad keys are the client's mistake whatever the call is doing: say so.
        if let Err(error) = super::dtmf::parse_keys(keys) {
            let message = error.to_string();
            self.emit(|at_ms| CallOutput::Error { at_ms, code: ErrorCode::InvalidInput, message, fatal: false });
            return;
        }
        if self.wrapping_up() {
            return;
        }
        let now = self.now_ms();
        match self.digits.press(keys, now) {
            Err(error) => {
                let message = error.to_string();
                self.emit(|at_ms| CallOutput::Error { at_ms, code: ErrorCode::InvalidInput, message, fatal: false });
            }
            Ok(answers) => {
                self.answered();
                for digits in answers {
                    self.queue_turn(CallerInput::Digits(digits), now, 0.0);
                }
            }
        }
    }

    fn on_text(&mut self, text: String) {
        if text.trim().is_empty() {
            let message = "a text turn was empty; send the caller's words, or nothing".to_string();
            self.emit(|at_ms| CallOutput::Error { at_ms, code: ErrorCode::InvalidInput, message, fatal: false });
            return;
        }
        if self.wrapping_up() {
            return;
        }
        self.answered();
        let now = self.now_ms();
        self.queue_turn(CallerInput::Utterance { text, asr_confidence: None }, now, 0.0);
    }

    /// Keys or text arrived: an answer, never a backchannel. An interruptible reply stops, and nothing
    /// cut off earlier resumes.
    fn answered(&mut self) {
        if self.barge.answered().is_some() {
            self.interrupt();
        }
        self.interrupted.clear();
    }

    fn queue_turn(&mut self, input: CallerInput, ended_ms: u64, endpoint_ms: f64) {
        let timing = TurnTiming { endpoint_ms, ..TurnTiming::default() };
        self.turns_waiting.push_back(QueuedTurn { input, timing: Some(timing), ended_ms });
    }

    // ---- Timers -------------------------------------------------------------------------------------

    fn next_deadline_ms(&self) -> u64 {
        let max_ms = self.max_seconds.saturating_mul(1000);
        let mut deadline = max_ms.saturating_add(WRAP_UP_GRACE_MS);
        if self.forced_end.is_none() {
            deadline = deadline.min(max_ms);
        }
        for candidate in [
            self.mouth.deadline_ms(),
            self.digits.deadline_ms(),
            self.idle_since_ms.map(|since| since + self.no_input_ms),
            self.hold_due_from.map(|since| since + self.hold_after_ms),
        ]
        .into_iter()
        .flatten()
        {
            deadline = deadline.min(candidate);
        }
        deadline
    }

    fn on_timer(&mut self) {
        let now = self.now_ms();
        let max_ms = self.max_seconds.saturating_mul(1000);
        if now >= max_ms.saturating_add(WRAP_UP_GRACE_MS) {
            // The wrap-up itself overran: end now.
            self.hard_stop = true;
            return;
        }
        if now >= max_ms && self.forced_end.is_none() {
            self.forced_end = Some(EndReason::MaxDuration);
            let what = format!("the call reached its maximum length of {} s", self.max_seconds);
            self.failure = Some(what.clone());
            return self.wrap_up(what);
        }
        if let Some(digits) = self.digits.on_timer(now) {
            let ended_ms = now.saturating_sub(super::dtmf::INTER_DIGIT_TIMEOUT_MS);
            self.queue_turn(CallerInput::Digits(digits), ended_ms, super::dtmf::INTER_DIGIT_TIMEOUT_MS as f64);
        }
        if self.hold_due_from.is_some_and(|since| now >= since + self.hold_after_ms) {
            self.hold_due_from = None;
            self.hold_the_line();
        }
        if self.idle_since_ms.is_some_and(|since| now >= since + self.no_input_ms) {
            // No dead air: the dialogue re-prompts (and, past its limit, hands off).
            self.idle_since_ms = None;
            self.turns_waiting
                .push_back(QueuedTurn { input: CallerInput::NoInput, timing: None, ended_ms: now });
        }
    }

    /// The answer to the caller's turn is slow (a backend action): say "one moment" rather than leave
    /// the line silent, unless something is being said already.
    fn hold_the_line(&mut self) {
        if !self.thinking || self.wrapping_up() || self.mouth.current_id().is_some() || !self.agenda.is_empty() {
            return;
        }
        let text = self.engine.line().messages.one_moment.clone();
        self.agenda.push_back(Step::Say(Reply { text, barge_in: true }));
    }

    // ---- Starting work ------------------------------------------------------------------------------

    /// Move everything along that can move now.
    fn advance(&mut self) {
        let now = self.now_ms();
        self.start_recognition();
        self.start_turn();
        // A reply that needs no playing (nothing speakable, a text call) is over as soon as it starts,
        // and the next step can follow at once.
        while let Some(reply_id) = self.mouth.finish_if_played(now) {
            self.on_played(reply_id);
            self.next_step();
        }
        self.next_step();
        let idle = self.is_idle();
        if !idle {
            self.idle_since_ms = None;
        } else if self.idle_since_ms.is_none() {
            self.idle_since_ms = Some(now);
        }
    }

    fn on_played(&mut self, reply_id: u64) {
        self.barge.finished(reply_id);
        self.spoken_once = true;
        if self.deaf == Some(Deaf::UntilReplyEnds) {
            let position = self.ears.position();
            self.deaf = Some(Deaf::Before(position));
        }
    }

    /// Waiting for the caller and nothing else: the no-input clock runs.
    fn is_idle(&self) -> bool {
        self.setup.channel == Channel::Voice
            && self.spoken_once
            && !self.wrapping_up()
            && self.mouth.current_id().is_none()
            && self.agenda.is_empty()
            && !self.thinking
            && self.turns_waiting.is_empty()
            && self.to_recognise.is_empty()
            && !self.recognising
            && !self.ears.is_speaking()
            && !self.barge.is_interrupted()
            && !self.digits.is_gathering()
    }

    fn wrapping_up(&self) -> bool {
        self.failing || self.session_over || self.ending.is_some() || self.forced_end.is_some()
    }

    fn start_recognition(&mut self) {
        if self.recognising {
            return;
        }
        let Some(front) = self.to_recognise.front() else { return };
        if let Some((id, _)) = front.early {
            // Recognised from the pause on: take its transcript once it is there (it usually already is).
            let Some((result, finished_ms)) = self.early_results.remove(&id) else { return };
            let Some(utterance) = self.to_recognise.pop_front() else { return };
            let waited_ms = finished_ms.saturating_sub(utterance.declared_ms());
            return self.on_final(utterance, result, waited_ms as f64);
        }
        let Some(utterance) = self.to_recognise.pop_front() else { return };
        self.recognising = true;
        let samples = utterance.samples.clone();
        let (pool, recognizer, rate) =
            (self.board.pool.clone(), Arc::clone(&self.board.speech.recognizer), self.setup.sample_rate);
        let (work, pass) = (self.work.clone(), self.final_pass());
        tokio::spawn(async move {
            let started = Instant::now();
            // Two threads when the pool is idle: a lone caller's answer comes sooner.
            let result = pool
                .run("recognition", 2, move |threads| -> Result<Transcript, StageError> {
                    Ok(recognizer.recognize(&prepare(samples, rate)?, threads, pass, &Cancel::default())?)
                })
                .await
                .map_err(StageError::from)
                .and_then(|r| r);
            let _ = work.send(Done::Final { utterance, result, recognition_ms: ms_since(started) });
        });
    }

    /// A partial transcript of the utterance in progress, only when a worker is free beyond the one a
    /// final needs, and never while a final of this call is being made or the caller pauses (the early
    /// recognition covers that): partials must not delay finals, and yield their thread when one waits.
    fn start_partial(&mut self) {
        if self.partial.is_some() || self.recognising || self.utterance_ignored || self.wrapping_up() {
            return;
        }
        if self.early.is_some() || self.ears.pause_started_at().is_some() || self.board.pool.idle_threads() < 2 {
            return;
        }
        let Some(samples) = self.ears.partial_due() else { return };
        let (recognizer, rate) = (Arc::clone(&self.board.speech.recognizer), self.setup.sample_rate);
        let cancel = Cancel::default();
        let flag = cancel.clone();
        let Some(job) =
            self.board
                .pool
                .try_run("partial recognition", 1, &cancel, move || -> Result<Transcript, StageError> {
                    Ok(recognizer.recognize(&prepare(samples, rate)?, 1, Pass::Partial, &flag)?)
                })
        else {
            return;
        };
        self.partial = Some(cancel);
        let (work, utterance) = (self.work.clone(), self.utterance);
        tokio::spawn(async move {
            let result = job.await.map_err(StageError::from).and_then(|r| r);
            let _ = work.send(Done::Partial { utterance, result });
        });
    }

    fn start_turn(&mut self) {
        if self.thinking || self.failing_in_flight || self.wrapping_up() {
            return;
        }
        let Some(turn) = self.turns_waiting.pop_front() else { return };
        self.thinking = true;
        if let Some(timing) = turn.timing {
            // A caller waits for this answer: if it is slow, they hear "one moment".
            self.hold_due_from = Some(self.now_ms());
            self.await_audio(timing, turn.ended_ms);
        }
        let input = turn.input;
        self.dialogue(DialogueJob::Turn, move |engine, session| engine.turn(session, input));
    }

    /// Run a dialogue job on a blocking thread; its events come back as `Done::Dialogue`.
    fn dialogue<F>(&mut self, job: DialogueJob, step: F)
    where
        F: FnOnce(&Engine, &mut Session) -> Result<Vec<Event>, DialogueError> + Send + 'static,
    {
        let (engine, session, work) = (Arc::clone(&self.engine), Arc::clone(&self.session), self.work.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let result = blocking("the dialogue engine", move || -> Result<Turned, StageError> {
                let mut session = session.lock().unwrap_or_else(PoisonError::into_inner);
                let events = step(&engine, &mut session)?;
                Ok(Turned { events, expecting: session.expecting(engine.line()), finished: session.is_finished() })
            })
            .await
            .map_err(StageError::from)
            .and_then(|r| r);
            let _ = work.send(Done::Dialogue { job, result, understanding_ms: ms_since(started) });
        });
    }

    /// Take the next steps of the agenda: hand-offs and ends at once, one reply at a time on the line.
    fn next_step(&mut self) {
        while self.mouth.current_id().is_none() && self.synthesis.is_none() && !self.barge.is_interrupted() {
            let Some(step) = self.agenda.pop_front() else { return };
            if let Some(reply) = self.settle(step) {
                self.say(reply);
            }
        }
    }

    /// Act on a hand-off or an end step at once; a reply is handed back to be said (or dropped).
    fn settle(&mut self, step: Step) -> Option<Reply> {
        match step {
            Step::Handoff(ticket) => {
                self.emit(|at_ms| CallOutput::Handoff { at_ms, ticket });
                self.ending = Some(EndReason::HandedOff);
                None
            }
            Step::End(reason) => {
                self.ending.get_or_insert(reason);
                None
            }
            Step::Say(reply) => Some(reply),
        }
    }

    fn say(&mut self, reply: Reply) {
        let reply_id = self.next_reply_id;
        self.next_reply_id += 1;
        let (text, barge_in) = (reply.text.clone(), reply.barge_in && !self.wrapping_up());
        self.emit(|at_ms| CallOutput::ReplyText { at_ms, reply_id, text, barge_in });
        self.mouth.start(reply_id, &reply.text);
        self.barge.speaking(reply_id, barge_in);
        self.first_sentence_seen = false;
        if self.setup.channel == Channel::Text {
            // Nothing to hear: the text is the reply.
            self.mouth.synthesis_done(reply_id, self.now_ms());
            return;
        }
        self.synthesize(reply_id, reply.text);
        // The caller is already talking: they would talk over it, so it counts as interrupted from the
        // start, and their words decide whether it plays.
        if self.ears.is_speaking() && !self.utterance_ignored {
            if let OnSpeech::Stop { .. } = self.barge.speech_started() {
                self.interrupt();
            }
        }
    }

    fn synthesize(&mut self, reply_id: u64, text: String) {
        let stop = Arc::new(AtomicBool::new(false));
        self.synthesis = Some((reply_id, Arc::clone(&stop)));
        let (pool, voice, work) = (self.board.pool.clone(), Arc::clone(&self.board.speech.voice), self.work.clone());
        let (rate, encoding) = (self.setup.sample_rate, self.setup.encoding);
        tokio::spawn(async move {
            let requested = Instant::now();
            let sentences = work.clone();
            let result = pool
                .run("synthesis", 1, move |_threads| -> Result<(), StageError> {
                    let voice_rate = voice.sample_rate();
                    let mut conversion = None;
                    let mut first = true;
                    let spoken = voice.synthesize(&text, &mut |sentence| {
                        if stop.load(Ordering::Relaxed) {
                            return ControlFlow::Break(());
                        }
                        let pause = if first { 0 } else { SENTENCE_PAUSE_MS };
                        match for_the_line(&sentence.samples, voice_rate, rate, encoding, pause) {
                            Ok(audio) => {
                                first = false;
                                let synthesis_ms = ms_since(requested);
                                let sent = sentences.send(Done::Sentence {
                                    reply_id,
                                    text: sentence.text,
                                    audio,
                                    synthesis_ms,
                                });
                                // The call is gone: nobody to speak to.
                                if sent.is_err() {
                                    return ControlFlow::Break(());
                                }
                                ControlFlow::Continue(())
                            }
                            Err(error) => {
                                conversion = Some(error);
                                ControlFlow::Break(())
                            }
                        }
                    });
                    match (spoken, conversion) {
                        (_, Some(error)) => Err(error.into()),
                        // A reply with nothing speakable in it ("…") is skipped, not a failure.
                        (Ok(()) | Err(TtsError::NothingToSay), None) => Ok(()),
                        (Err(error), None) => Err(error.into()),
                    }
                })
                .await
                .map_err(StageError::from)
                .and_then(|r| r);
            let _ = work.send(Done::Spoken { reply_id, result });
        });
    }

    // ---- Work done ----------------------------------------------------------------------------------

    fn on_done(&mut self, done: Done) {
        match done {
            Done::Final { utterance, result, recognition_ms } => self.on_final(utterance, result, recognition_ms),
            Done::Early { id, result } => self.on_early(id, result),
            Done::Partial { utterance, result } => self.on_partial(utterance, result),
            Done::Dialogue { job, result, understanding_ms } => self.on_dialogue(job, result, understanding_ms),
            Done::Sentence { reply_id, text, audio, synthesis_ms } => {
                self.on_sentence(reply_id, &text, audio, synthesis_ms)
            }
            Done::Spoken { reply_id, result } => self.on_spoken(reply_id, result),
        }
    }

    fn on_final(&mut self, utterance: Pending, result: Result<Transcript, StageError>, recognition_ms: f64) {
        self.recognising = false;
        let transcript = match result {
            Ok(transcript) => transcript,
            Err(error) => return self.fail(error),
        };
        if !transcript.text.is_empty() {
            let (text, confidence) = (transcript.text.clone(), transcript.confidence);
            self.emit(|at_ms| CallOutput::FinalTranscript { at_ms, text, confidence });
        }
        if self.wrapping_up() {
            return;
        }
        match self.barge.heard(&transcript.text) {
            OnWords::Resume { .. } => {
                // Only "mhm" (or noise): not an interruption. Pick up from the sentence that was cut.
                for reply in std::mem::take(&mut self.interrupted).into_iter().rev() {
                    self.agenda.push_front(Step::Say(reply));
                }
            }
            OnWords::Turn => {
                self.interrupted.clear();
                if !transcript.text.is_empty() {
                    let input =
                        CallerInput::Utterance { text: transcript.text, asr_confidence: Some(transcript.confidence) };
                    let recognition_lead_ms =
                        utterance.early.map_or(0, |(_, started_ms)| utterance.declared_ms().saturating_sub(started_ms))
                            as f64;
                    let timing = TurnTiming {
                        endpoint_ms: utterance.endpoint_ms,
                        recognition_ms,
                        recognition_lead_ms,
                        ..TurnTiming::default()
                    };
                    self.turns_waiting.push_back(QueuedTurn {
                        input,
                        timing: Some(timing),
                        ended_ms: utterance.ended_ms,
                    });
                }
            }
        }
    }

    /// An early recognition finished: kept if a turn is (or may yet be) waiting for it. While the
    /// caller is still in the pause it was started at, it is also the latest partial transcript.
    fn on_early(&mut self, id: u64, result: Result<Transcript, StageError>) {
        let current = self.early.as_ref().is_some_and(|early| early.id == id);
        if !current && !self.to_recognise.iter().any(|pending| pending.early.is_some_and(|(early, _)| early == id)) {
            return; // the caller went on speaking: superseded
        }
        if current && self.ears.is_speaking() {
            if let Ok(transcript) = &result {
                if !transcript.text.is_empty() {
                    let stability = stability(&self.last_partial, &transcript.text);
                    self.last_partial = transcript.text.clone();
                    let text = transcript.text.clone();
                    self.emit(|at_ms| CallOutput::PartialTranscript { at_ms, text, stability });
                }
            }
        }
        let now = self.now_ms();
        self.early_results.insert(id, (result, now));
    }

    fn on_partial(&mut self, utterance: u64, result: Result<Transcript, StageError>) {
        self.partial = None;
        match result {
            // Only while that utterance is still open: once it has ended, its final is on the way.
            Ok(transcript) if utterance == self.utterance && self.ears.is_speaking() && !transcript.text.is_empty() => {
                let stability = stability(&self.last_partial, &transcript.text);
                self.last_partial = transcript.text.clone();
                let text = transcript.text;
                self.emit(|at_ms| CallOutput::PartialTranscript { at_ms, text, stability });
            }
            Ok(_) | Err(StageError::Recognition(AsrError::Aborted)) => {}
            // A partial is a courtesy: if recognition is really broken, the final says so.
            Err(error) => tracing::warn!(call_id = %self.setup.call_id, %error, "partial transcript failed"),
        }
    }

    fn on_dialogue(&mut self, job: DialogueJob, result: Result<Turned, StageError>, understanding_ms: f64) {
        match job {
            DialogueJob::Turn => {
                self.thinking = false;
                self.hold_due_from = None;
            }
            DialogueJob::Fail => self.failing_in_flight = false,
        }
        let turned = match (result, job) {
            (Ok(turned), _) => turned,
            (Err(error), DialogueJob::Turn) => return self.fail(error),
            (Err(error), DialogueJob::Fail) => {
                // Even the apology failed: nothing more can be said.
                tracing::error!(call_id = %self.setup.call_id, %error, "Engine::fail failed");
                self.ending.get_or_insert(EndReason::Error);
                return;
            }
        };
        // A turn that finished after a failure or the time limit began the wrap-up is not acted on.
        if job == DialogueJob::Turn && (self.failing || self.forced_end.is_some()) {
            return;
        }
        if let Some((timing, _)) = self.awaiting_audio.as_mut() {
            if job == DialogueJob::Turn && timing.understanding_ms == 0.0 {
                timing.understanding_ms = understanding_ms;
            }
        }
        let said = self.take_events(turned.events, job);
        self.session_over |= turned.finished;
        self.expect(&turned.expecting);
        if turned.finished && !self.agenda.iter().any(|s| matches!(s, Step::End(_) | Step::Handoff(_))) {
            self.agenda.push_back(Step::End(EndReason::Completed));
        }
        if !said {
            // No reply to time: the turn's record is complete as it is.
            self.record_awaited_turn();
        }
    }

    /// Queue the dialogue's events on the agenda; returns whether anything is to be said.
    fn take_events(&mut self, events: Vec<Event>, job: DialogueJob) -> bool {
        let mut said = false;
        let mut handed_off = false;
        for event in events {
            match event {
                Event::Understood { parse, .. } => self.emit(|at_ms| CallOutput::Understood { at_ms, parse }),
                Event::Action { name, ok, detail } => {
                    tracing::debug!(call_id = %self.setup.call_id, %name, ok, %detail, "action")
                }
                Event::Reply(reply) => {
                    said = true;
                    self.agenda.push_back(Step::Say(reply));
                }
                Event::Handoff(ticket) => {
                    handed_off = true;
                    self.agenda.push_back(Step::Handoff(ticket));
                }
                Event::Ended { outcome, reason } => {
                    tracing::debug!(call_id = %self.setup.call_id, outcome = outcome.as_str(), %reason, "conversation ended");
                    let end = if outcome == Outcome::HandedOff { EndReason::HandedOff } else { EndReason::Completed };
                    self.agenda.push_back(Step::End(end));
                }
            }
        }
        if job == DialogueJob::Fail && !handed_off {
            // The apology came without a hand-off: the call cannot go on.
            self.agenda.push_back(Step::End(EndReason::Error));
        }
        said
    }

    /// What the session waits for decides how long a pause ends the caller's turn, and whether keys
    /// are gathered into one answer.
    fn expect(&mut self, expecting: &Expectation) {
        self.expecting_digits = expecting.digits.is_some();
        self.ears.expect_digits(self.expecting_digits);
        self.digits.expect(expecting.digits);
    }

    fn on_sentence(&mut self, reply_id: u64, text: &str, audio: Vec<u8>, synthesis_ms: f64) {
        if self.synthesis.as_ref().map(|(id, _)| *id) != Some(reply_id) {
            return; // stopped: nothing more of it is sent
        }
        if !self.first_sentence_seen {
            self.first_sentence_seen = true;
            if let Some((timing, _)) = self.awaiting_audio.as_mut() {
                timing.first_synthesis_ms = synthesis_ms;
            }
        }
        let now = self.now_ms();
        for chunk in self.mouth.sentence(reply_id, text, audio, now) {
            self.send_chunk(reply_id, chunk);
        }
    }

    fn on_spoken(&mut self, reply_id: u64, result: Result<(), StageError>) {
        if self.synthesis.as_ref().map(|(id, _)| *id) != Some(reply_id) {
            return;
        }
        self.synthesis = None;
        if let Err(error) = result {
            return self.fail(error);
        }
        let now = self.now_ms();
        if let Some(chunk) = self.mouth.synthesis_done(reply_id, now) {
            self.send_chunk(reply_id, chunk);
        }
    }

    fn send_chunk(&mut self, reply_id: u64, chunk: Chunk) {
        let Chunk { seq, audio, last } = chunk;
        self.emit(|at_ms| CallOutput::ReplyAudio { at_ms, reply_id, seq, audio, last });
        if let Some((mut timing, ended_ms)) = self.awaiting_audio.take() {
            timing.first_audio_ms = self.now_ms().saturating_sub(ended_ms) as f64;
            self.turns.push(timing);
            self.save_turns();
        }
    }

    /// A new turn's timing starts; one still waiting for audio (its reply was cut) is recorded as is.
    fn await_audio(&mut self, timing: TurnTiming, ended_ms: u64) {
        self.record_awaited_turn();
        self.awaiting_audio = Some((timing, ended_ms));
    }

    fn record_awaited_turn(&mut self) {
        if let Some((timing, _)) = self.awaiting_audio.take() {
            self.turns.push(timing);
            self.save_turns();
        }
    }

    fn save_turns(&mut self) {
        if let Some(log) = self.log.as_mut() {
            log.turns(&self.turns);
        }
    }

    // ---- Failure, hang-up and the end ---------------------------------------------------------------

    /// A stage failed: the caller hears a short apology and is handed to a person; the call then ends.
    fn fail(&mut self, error: StageError) {
        let what = error.to_string();
        tracing::error!(call_id = %self.setup.call_id, error = %what, "a stage of the call failed");
        if self.failing {
            // Failing while failing (the apology cannot be spoken): send what is left and end.
            self.stop_speaking();
            for step in std::mem::take(&mut self.agenda) {
                // What is left to say cannot be said.
                let _ = self.settle(step);
            }
            self.ending.get_or_insert(EndReason::Error);
            return;
        }
        self.failing = true;
        self.failure = Some(what.clone());
        let message =
            format!("call {}: {what}; the caller hears an apology and is handed to an agent", self.setup.call_id);
        self.emit(|at_ms| CallOutput::Error { at_ms, code: ErrorCode::Internal, message, fatal: false });
        self.wrap_up(what);
    }

    /// Stop everything in progress and let the engine apologise and hand off (`Engine::fail`).
    fn wrap_up(&mut self, what: String) {
        self.stop_speaking();
        self.agenda.clear();
        self.interrupted.clear();
        self.turns_waiting.clear();
        self.to_recognise.clear();
        self.digits.clear();
        self.failing_in_flight = true;
        self.dialogue(DialogueJob::Fail, move |engine, session| Ok(engine.fail(session, &what)));
    }

    /// Stop the reply on the line (and its synthesis); where it was cut.
    fn stop_speaking(&mut self) -> Option<super::playback::Cut> {
        if let Some((_, stop)) = self.synthesis.take() {
            stop.store(true, Ordering::Relaxed);
        }
        let now = self.now_ms();
        let cut = self.mouth.stop(now)?;
        let reply_id = cut.reply_id;
        self.emit(|at_ms| CallOutput::StopPlayback { at_ms, reply_id });
        if !self.barge.is_interrupted() {
            self.barge.finished(reply_id);
        }
        Some(cut)
    }

    /// The call is over once it is ending and nothing is left to say (or the wrap-up overran).
    fn finished(&self) -> Option<EndReason> {
        let reason = self.forced_end.or(self.ending)?;
        if self.hard_stop {
            return Some(reason);
        }
        let busy = self.thinking
            || self.failing_in_flight
            || !self.agenda.is_empty()
            || self.mouth.current_id().is_some()
            || self.synthesis.is_some();
        if busy || self.ending.is_none() {
            return None;
        }
        Some(reason)
    }

    /// The caller hung up or the client went away: stop speaking and close the session.
    async fn hang_up(&mut self, reason: EndReason) -> EndReason {
        if let Some((_, stop)) = self.synthesis.take() {
            stop.store(true, Ordering::Relaxed);
        }
        let (engine, session) = (Arc::clone(&self.engine), Arc::clone(&self.session));
        let closed = blocking("the dialogue engine", move || {
            let mut session = session.lock().unwrap_or_else(PoisonError::into_inner);
            if session.is_finished() {
                return Ok(Vec::new());
            }
            engine.hang_up(&mut session)
        })
        .await;
        match closed {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(call_id = %self.setup.call_id, %error, "closing the session failed"),
            Err(error) => tracing::warn!(call_id = %self.setup.call_id, %error, "closing the session failed"),
        }
        reason
    }

    /// The service is shutting down and there is no time left to speak: the caller goes straight to a
    /// person (the platform transfers them), with everything said so far in the hand-off packet.
    async fn service_stopping(&mut self) -> EndReason {
        self.stop_speaking();
        let what = "the service is shutting down".to_string();
        self.failure = Some(what.clone());
        let (engine, session) = (Arc::clone(&self.engine), Arc::clone(&self.session));
        let failed = blocking("the dialogue engine", move || {
            let mut session = session.lock().unwrap_or_else(PoisonError::into_inner);
            engine.fail(&mut session, &what)
        })
        .await;
        let events = match failed {
            Ok(events) => events,
            Err(error) => {
                tracing::error!(call_id = %self.setup.call_id, %error, "no hand-off at shutdown");
                return EndReason::Error;
            }
        };
        let mut reason = EndReason::Error;
        for event in events {
            match event {
                Event::Reply(reply) => {
                    let reply_id = self.next_reply_id;
                    self.next_reply_id += 1;
                    let text = reply.text;
                    self.emit(|at_ms| CallOutput::ReplyText { at_ms, reply_id, text, barge_in: false });
                }
                Event::Handoff(ticket) => {
                    reason = EndReason::HandedOff;
                    self.emit(|at_ms| CallOutput::Handoff { at_ms, ticket });
                }
                _ => {}
            }
        }
        reason
    }

    /// Save the record and send `CallEnded`, the last output.
    async fn close(mut self, reason: EndReason) -> EndReason {
        self.record_awaited_turn();
        let detail = match (reason, &self.failure) {
            (EndReason::Error, Some(what)) => format!("error: {what}"),
            (reason, _) => reason.as_str().to_string(),
        };
        if let Some(log) = self.log.take() {
            log.close(&detail, &self.turns).await;
        }
        let turns = std::mem::take(&mut self.turns);
        self.emit(|at_ms| CallOutput::CallEnded { at_ms, reason, turns });
        self.flush().await;
        tracing::info!(call_id = %self.setup.call_id, reason = reason.as_str(), "call ended");
        reason
    }
}
