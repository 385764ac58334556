//! Placing a call the way a phone line does: recorded caller turns streamed as 20 ms frames in the
//! call's encoding and rate, silence between turns, the assistant's replies "played" (in real time, or
//! at once when pacing is FAST), then a hang-up. Used by `helpline call`, the end-to-end tests and
//! `helpline bench calls`, so all three measure the same thing.
//!
//! Turn latency is measured here, at the client: from sending the last voiced frame of a caller turn
//! (or its DTMF) to receiving the first audio of the reply: what a caller would hear as the pause. When
//! the assistant answers at a pause inside the recording ("No, that's all. … Thank you."), it is the
//! last voiced frame before the answer.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

use super::proto as pb;
use super::wire;
use crate::audio::{frames, Audio, AudioError, Encoding};
use crate::call::Pacing;
use crate::call::{EndReason, TurnTiming};

/// One thing the caller does.
#[derive(Debug, Clone)]
pub enum CallerTurn {
    /// The caller says this (a recording; `source` names it in the conversation log).
    Speech { source: String, audio: Audio },
    /// The caller presses these keys.
    Dtmf(String),
}

/// A call to place.
#[derive(Debug, Clone)]
pub struct CallPlan {
    pub call_id: String,
    pub caller: Option<String>,
    pub called: Option<String>,
    pub encoding: Encoding,
    pub sample_rate: u32,
    pub pacing: Pacing,
    pub metadata: BTreeMap<String, String>,
    pub turns: Vec<CallerTurn>,
    /// Longest wait for the assistant to finish answering (the greeting, or a turn) before the caller
    /// goes on anyway.
    pub reply_timeout: Duration,
}

/// Long enough for a reply on a busy 2-core machine (several seconds of synthesis at worst), short
/// enough that a call the server never answers fails in a test's lifetime.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// Quiet time after the last reply finished before the caller speaks again. The replies of one turn
/// follow each other without a gap (the next is announced before the last chunk of the one before),
/// so a short settle is enough to tell "the assistant has finished" from "between two sentences".
const SETTLE: Duration = Duration::from_millis(300);

/// How long the caller waits for `CallEnded` after hanging up.
const END_TIMEOUT: Duration = Duration::from_secs(10);

/// A frame is "voiced" above this RMS (−40 dBFS): well above line noise, well below quiet speech.
const VOICED_RMS: f32 = 0.01;

const FRAME: Duration = Duration::from_millis(crate::audio::FRAME_MS as u64);

impl CallPlan {
    /// A call with these turns: 8 kHz mu-law, as most phone lines deliver it, in real time.
    pub fn new(call_id: impl Into<String>, turns: Vec<CallerTurn>) -> Self {
        Self {
            call_id: call_id.into(),
            caller: None,
            called: None,
            encoding: Encoding::Mulaw,
            sample_rate: 8000,
            pacing: Pacing::Realtime,
            metadata: BTreeMap::new(),
            turns,
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
        }
    }
}

/// What happened on the call, as the caller's side saw it, in order. Printed by `helpline call` (one
/// JSON object a line with `--json`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ClientEvent {
    Connected {
        server: String,
        call_id: String,
    },
    /// The caller starts a turn (`turn` counts from 1).
    CallerTurn {
        turn: usize,
        source: String,
        audio_ms: u64,
    },
    SpeechStarted {
        at_ms: u64,
    },
    SpeechEnded {
        at_ms: u64,
    },
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
        intent: String,
        confidence: f32,
        out_of_scope: bool,
        entities: Vec<String>,
    },
    ReplyText {
        at_ms: u64,
        reply_id: u64,
        text: String,
        barge_in_allowed: bool,
    },
    /// The first reply audio after a caller turn: the pause the caller heard.
    TurnLatency {
        turn: usize,
        latency_ms: f64,
    },
    ReplyFinished {
        reply_id: u64,
        audio_ms: u64,
        interrupted: bool,
    },
    StopPlayback {
        at_ms: u64,
        reply_id: u64,
    },
    Handoff {
        at_ms: u64,
        queue_entry_id: i64,
        queue: String,
        skill: String,
        position: u32,
        estimated_wait_s: u64,
        reasons: Vec<String>,
        summary: String,
    },
    Error {
        at_ms: u64,
        code: String,
        message: String,
        fatal: bool,
    },
    /// The assistant did not finish answering within the reply timeout; the caller goes on.
    NoReply {
        turn: usize,
        waited_ms: u64,
    },
    Ended {
        at_ms: u64,
        reason: String,
        turns: Vec<TurnTiming>,
    },
}

/// One caller turn as measured at the client.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TurnReport {
    pub source: String,
    /// Last voiced frame (or DTMF) sent before the reply → first reply audio received; None when no
    /// reply came.
    pub latency_ms: Option<f64>,
    /// What the server heard (its final transcripts during this turn).
    pub transcript: Vec<String>,
    /// What the assistant said in answer.
    pub replies: Vec<String>,
}

/// The whole call, for tests and the benchmark.
#[derive(Debug, Clone)]
pub struct CallReport {
    pub call_id: String,
    pub events: Vec<ClientEvent>,
    /// What the assistant said before the caller's first turn.
    pub greeting: Vec<String>,
    pub turns: Vec<TurnReport>,
    pub handoff: Option<pb::Handoff>,
    /// In-stream errors the server sent.
    pub errors: Vec<pb::Error>,
    /// Why the call ended; None if the stream closed without `CallEnded`.
    pub end: Option<EndReason>,
    /// The server's timing record from `CallEnded`.
    pub server_timings: Vec<TurnTiming>,
    /// Everything the assistant said, as the caller heard it (the call's rate).
    pub reply_audio: Audio,
}

impl CallReport {
    /// Every reply audio chunk that arrived, in seconds.
    pub fn reply_seconds(&self) -> f64 {
        self.reply_audio.duration_s()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {endpoint}: {reason}; is `helpline serve` running there?")]
    Connect { endpoint: String, reason: String },
    #[error("the server refused the call: {} ({:?})", .0.message(), .0.code())]
    Refused(tonic::Status),
    #[error("the call's stream broke: {} ({:?})", .0.message(), .0.code())]
    Stream(tonic::Status),
    #[error("caller turn {turn} ({source_name}): {error}")]
    Audio { turn: usize, source_name: String, error: AudioError },
    #[error("the call has no turns; give at least one caller recording or DTMF turn")]
    NoTurns,
}

/// A caller turn ready to send: its frames and which of them are voiced.
enum Prepared {
    Speech { source: String, frames: Vec<Vec<u8>>, voiced: Vec<bool>, audio_ms: u64 },
    Dtmf(String),
}

fn prepare(turn: usize, caller_turn: &CallerTurn, plan: &CallPlan) -> Result<Prepared, ClientError> {
    match caller_turn {
        CallerTurn::Dtmf(digits) => Ok(Prepared::Dtmf(digits.clone())),
        CallerTurn::Speech { source, audio } => {
            let narrow = audio.to_rate(plan.sample_rate).map_err(|error| ClientError::Audio {
                turn,
                source_name: source.clone(),
                error,
            })?;
            let samples: Vec<Vec<f32>> = frames::frames(&narrow.samples, plan.sample_rate).collect();
            let rms = |f: &[f32]| (f.iter().map(|s| s * s).sum::<f32>() / f.len().max(1) as f32).sqrt();
            Ok(Prepared::Speech {
                source: source.clone(),
                frames: samples.iter().map(|f| plan.encoding.encode(f)).collect(),
                voiced: samples.iter().map(|f| rms(f) > VOICED_RMS).collect(),
                audio_ms: (narrow.duration_s() * 1000.0).round() as u64,
            })
        }
    }
}

/// Where the caller is in the call.
enum Phase {
    /// Listening to the assistant (the greeting when `turn` is 0, else the answer to caller turn
    /// `turn`), the line carrying silence.
    Listening { turn: usize, since: Instant },
    /// Sending caller turn `turn`'s frames.
    Speaking { turn: usize, frame: usize },
    /// Hung up; waiting for `CallEnded`.
    HungUp { since: Instant },
    /// Handed off: the platform would transfer the caller; wait for `CallEnded`.
    Transferring,
}

/// Replies of the current listening phase.
#[derive(Default)]
struct Listening {
    /// Reply id → finished?
    replies: BTreeMap<u64, bool>,
    /// When the caller will have heard every chunk received so far.
    heard_until: Option<Instant>,
    audio_ms: BTreeMap<u64, f64>,
}

impl Listening {
    fn done(&self, now: Instant) -> bool {
        !self.replies.is_empty()
            && self.replies.values().all(|finished| *finished)
            && self.heard_until.is_none_or(|until| now >= until + SETTLE)
    }
}

/// Place `plan` on the server at `endpoint` (e.g. "http://127.0.0.1:50051"); `on_event` sees every
/// event as it happens (for printing), and the report collects them.
pub async fn place_call(
    endpoint: &str,
    plan: CallPlan,
    mut on_event: impl FnMut(&ClientEvent),
) -> Result<CallReport, ClientError> {
    if plan.turns.is_empty() {
        return Err(ClientError::NoTurns);
    }
    let prepared = plan
        .turns
        .iter()
        .enumerate()
        .map(|(i, t)| prepare(i + 1, t, &plan))
        .collect::<Result<Vec<_>, _>>()?;
    let mut client = pb::phone_line_client::PhoneLineClient::connect(endpoint.to_string())
        .await
        .map_err(|error| ClientError::Connect { endpoint: endpoint.to_string(), reason: error_chain(&error) })?
        .max_decoding_message_size(usize::MAX);
    let (outbound, requests) = mpsc::channel::<pb::CallerMessage>(64);
    let setup = pb::CallSetup {
        call_id: plan.call_id.clone(),
        caller_number: plan.caller.clone().unwrap_or_default(),
        called_number: plan.called.clone().unwrap_or_default(),
        encoding: match plan.encoding {
            Encoding::Mulaw => pb::AudioEncoding::Mulaw,
            Encoding::Alaw => pb::AudioEncoding::Alaw,
            Encoding::S16le => pb::AudioEncoding::Linear16,
        } as i32,
        sample_rate_hz: plan.sample_rate,
        channel: pb::Channel::Voice as i32,
        metadata: plan.metadata.clone().into_iter().collect(),
        pacing: match plan.pacing {
            Pacing::Realtime => pb::Pacing::Realtime,
            Pacing::Fast => pb::Pacing::Fast,
        } as i32,
    };
    let send = |message| pb::CallerMessage { client_message_id: String::new(), message: Some(message) };
    // The channel was just made with room: the set-up cannot fail to queue.
    let _ = outbound.send(send(pb::caller_message::Message::Setup(setup))).await;
    let mut inbound = client.converse(ReceiverStream::new(requests)).await.map_err(ClientError::Refused)?.into_inner();

    let mut report = CallReport {
        call_id: plan.call_id.clone(),
        events: Vec::new(),
        greeting: Vec::new(),
        turns: Vec::new(),
        handoff: None,
        errors: Vec::new(),
        end: None,
        server_timings: Vec::new(),
        reply_audio: Audio::new(Vec::new(), plan.sample_rate),
    };
    let mut emit = |report: &mut CallReport, event: ClientEvent| {
        on_event(&event);
        report.events.push(event);
    };
    emit(&mut report, ClientEvent::Connected { server: endpoint.to_string(), call_id: plan.call_id.clone() });

    let started = Instant::now();
    let silence = plan.encoding.encode(&vec![0.0; crate::audio::frame_len(plan.sample_rate)]);
    let mut sequence = 0u64;
    let mut next_tick = started;
    let mut phase = Phase::Listening { turn: 0, since: started };
    let mut listening = Listening::default();
    // When the latest voiced frame (or DTMF) of the current turn went out. The first audio of a reply
    // newer than the turn (the assistant may answer at a pause, before the recording ends) gives the
    // turn's latency: the silence the caller heard after their last word before the answer.
    let mut turn_sent: Option<Instant> = None;
    let mut turn_answered = false;
    let (mut newest_reply, mut replies_before_turn) = (0u64, 0u64);
    // PlaybackFinished reports due once the caller has heard a reply to its end.
    let mut playback_done: VecDeque<(Instant, u64, bool)> = VecDeque::new();

    loop {
        let fast_speaking = plan.pacing == Pacing::Fast && matches!(phase, Phase::Speaking { .. });
        let wake = if fast_speaking { Instant::now() } else { next_tick };
        tokio::select! {
            biased;
            message = inbound.message() => {
                let message = match message {
                    Ok(Some(message)) => message,
                    Ok(None) => break,
                    Err(status) => return Err(ClientError::Stream(status)),
                };
                let now = Instant::now();
                let current_turn = match phase { Phase::Listening { turn, .. } | Phase::Speaking { turn, .. } => turn, _ => 0 };
                if let Some(event) = message.event {
                    use pb::assistant_message::Event;
                    let at_ms = message.at_ms;
                    match event {
                        Event::SpeechStarted(_) => emit(&mut report, ClientEvent::SpeechStarted { at_ms }),
                        Event::SpeechEnded(_) => emit(&mut report, ClientEvent::SpeechEnded { at_ms }),
                        Event::PartialTranscript(p) => emit(&mut report, ClientEvent::PartialTranscript { at_ms, text: p.text, stability: p.stability }),
                        Event::FinalTranscript(t) => {
                            if let Some(turn) = report.turns.last_mut() {
                                turn.transcript.push(t.text.clone());
                            }
                            emit(&mut report, ClientEvent::FinalTranscript { at_ms, text: t.text, confidence: t.confidence });
                        }
                        Event::Understanding(u) => emit(&mut report, ClientEvent::Understood {
                            at_ms,
                            intent: u.intent,
                            confidence: u.confidence,
                            out_of_scope: u.out_of_scope,
                            entities: u.entities.iter().map(|e| format!("{}={}", e.kind, e.value)).collect(),
                        }),
                        Event::ReplyText(r) => {
                            newest_reply = newest_reply.max(r.reply_id);
                            listening.replies.entry(r.reply_id).or_insert(false);
                            match report.turns.last_mut() {
                                Some(turn) if current_turn > 0 => turn.replies.push(r.text.clone()),
                                _ => report.greeting.push(r.text.clone()),
                            }
                            emit(&mut report, ClientEvent::ReplyText { at_ms, reply_id: r.reply_id, text: r.text, barge_in_allowed: r.barge_in_allowed });
                        }
                        Event::ReplyAudio(chunk) => {
                            newest_reply = newest_reply.max(chunk.reply_id);
                            let answer = chunk.reply_id > replies_before_turn && !turn_answered;
                            if let Some(sent) = turn_sent.filter(|_| answer) {
                                turn_answered = true;
                                let latency_ms = now.duration_since(sent).as_secs_f64() * 1000.0;
                                if let Some(turn) = report.turns.last_mut() {
                                    turn.latency_ms = Some(latency_ms);
                                }
                                emit(&mut report, ClientEvent::TurnLatency { turn: current_turn, latency_ms });
                            }
                            let samples = plan.encoding.decode(&chunk.audio).unwrap_or_default();
                            let length = Duration::from_secs_f64(samples.len() as f64 / f64::from(plan.sample_rate));
                            report.reply_audio.samples.extend_from_slice(&samples);
                            *listening.audio_ms.entry(chunk.reply_id).or_default() += length.as_secs_f64() * 1000.0;
                            listening.replies.entry(chunk.reply_id).or_insert(false);
                            // In real time the caller hears each chunk after the ones before it.
                            let heard = match plan.pacing {
                                Pacing::Realtime => listening.heard_until.map_or(now, |until| until.max(now)) + length,
                                Pacing::Fast => now,
                            };
                            listening.heard_until = Some(heard);
                            if chunk.last {
                                listening.replies.insert(chunk.reply_id, true);
                                playback_done.push_back((heard, chunk.reply_id, false));
                            }
                        }
                        Event::StopPlayback(stop) => {
                            listening.replies.insert(stop.reply_id, true);
                            playback_done.push_back((now, stop.reply_id, true));
                            emit(&mut report, ClientEvent::StopPlayback { at_ms, reply_id: stop.reply_id });
                        }
                        Event::Handoff(handoff) => {
                            emit(&mut report, ClientEvent::Handoff {
                                at_ms,
                                queue_entry_id: handoff.queue_entry_id,
                                queue: handoff.queue.clone(),
                                skill: handoff.skill.clone(),
                                position: handoff.position,
                                estimated_wait_s: handoff.estimated_wait_s,
                                reasons: handoff.reasons.clone(),
                                summary: handoff.summary.clone(),
                            });
                            report.handoff = Some(handoff);
                            phase = Phase::Transferring;
                        }
                        Event::Error(error) => {
                            let code = pb::ErrorCode::try_from(error.code).map_or("unknown", |c| c.as_str_name()).to_string();
                            emit(&mut report, ClientEvent::Error { at_ms, code, message: error.message.clone(), fatal: error.fatal });
                            report.errors.push(error);
                        }
                        Event::CallEnded(ended) => {
                            report.end = wire::end_reason_from(ended.reason);
                            report.server_timings = ended.turns.iter().map(wire::turn_timing_from).collect();
                            let reason = report.end.map_or("unspecified", |r| r.as_str()).to_string();
                            let turns = report.server_timings.clone();
                            emit(&mut report, ClientEvent::Ended { at_ms, reason, turns });
                            break;
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                if !fast_speaking {
                    next_tick += FRAME;
                    // A client that fell far behind (a busy host) does not try to catch up in a burst.
                    if next_tick + FRAME * 5 < now {
                        next_tick = now;
                    }
                }
                while playback_done.front().is_some_and(|(at, _, _)| *at <= now) {
                    if let Some((_, reply_id, interrupted)) = playback_done.pop_front() {
                        let audio_ms = listening.audio_ms.get(&reply_id).copied().unwrap_or(0.0).round() as u64;
                        emit(&mut report, ClientEvent::ReplyFinished { reply_id, audio_ms, interrupted });
                        let finished = pb::PlaybackFinished { reply_id, interrupted };
                        let _ = outbound.send(send(pb::caller_message::Message::PlaybackFinished(finished))).await;
                    }
                }
                let elapsed_ms = |at: Instant| now.duration_since(at).as_millis() as u64;
                let mut frame_out = None;
                match &mut phase {
                    Phase::Listening { turn, since } => {
                        let timed_out = now.duration_since(*since) > plan.reply_timeout;
                        if listening.done(now) || timed_out {
                            if timed_out {
                                emit(&mut report, ClientEvent::NoReply { turn: *turn, waited_ms: elapsed_ms(*since) });
                            }
                            let next = *turn + 1;
                            listening = Listening::default();
                            turn_sent = None;
                            turn_answered = false;
                            replies_before_turn = newest_reply;
                            match prepared.get(next - 1) {
                                None => {
                                    let _ = outbound.send(send(pb::caller_message::Message::HangUp(pb::HangUp {}))).await;
                                    phase = Phase::HungUp { since: now };
                                }
                                Some(Prepared::Dtmf(digits)) => {
                                    emit(&mut report, ClientEvent::CallerTurn { turn: next, source: format!("dtmf {digits}"), audio_ms: 0 });
                                    report.turns.push(TurnReport { source: format!("dtmf {digits}"), ..Default::default() });
                                    let dtmf = pb::Dtmf { digits: digits.clone() };
                                    let _ = outbound.send(send(pb::caller_message::Message::Dtmf(dtmf))).await;
                                    turn_sent = Some(Instant::now());
                                    phase = Phase::Listening { turn: next, since: now };
                                    frame_out = Some(&silence);
                                }
                                Some(Prepared::Speech { source, audio_ms, .. }) => {
                                    emit(&mut report, ClientEvent::CallerTurn { turn: next, source: source.clone(), audio_ms: *audio_ms });
                                    report.turns.push(TurnReport { source: source.clone(), ..Default::default() });
                                    phase = Phase::Speaking { turn: next, frame: 0 };
                                }
                            }
                        } else {
                            frame_out = Some(&silence);
                        }
                    }
                    Phase::HungUp { since } => {
                        if now.duration_since(*since) > END_TIMEOUT {
                            break;
                        }
                    }
                    Phase::Transferring | Phase::Speaking { .. } => {}
                }
                if let Phase::Speaking { turn, frame } = &mut phase {
                    if let Some(Prepared::Speech { frames, voiced, .. }) = prepared.get(*turn - 1) {
                        frame_out = frames.get(*frame);
                        if voiced.get(*frame) == Some(&true) && !turn_answered {
                            turn_sent = Some(now);
                        }
                        *frame += 1;
                        if *frame >= frames.len() {
                            phase = Phase::Listening { turn: *turn, since: now };
                        }
                    }
                }
                if let Some(audio) = frame_out {
                    let chunk = pb::AudioChunk {
                        audio: audio.clone(),
                        sequence,
                        client_timestamp_ms: now.duration_since(started).as_millis() as i64,
                    };
                    sequence += 1;
                    if outbound.send(send(pb::caller_message::Message::Audio(chunk))).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    Ok(report)
}

/// An error with its causes, as one line (tonic's transport errors hide the useful part in the source).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
