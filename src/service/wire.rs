//! Protobuf ↔ call: the checks every platform message passes before it reaches the call, and the
//! translation of the call's [`CallOutput`]s into [`pb::AssistantMessage`]s. Pure functions and one small
//! pacing meter; no I/O, so every rule here is unit-tested without a server.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::proto as pb;
use crate::audio::Encoding;
use crate::call::{CallInput, CallOutput, CallSetup, EndReason, ErrorCode, TurnTiming};
use crate::dialogue::Channel;
use crate::nlu::entities::EntityValue;
use crate::nlu::Parse;

/// Rates a call may use: narrowband telephony and wideband (HD voice). The recogniser runs at 16 kHz and
/// the voice model at 22.05 kHz; both convert from these exactly, and nothing else reaches a phone line.
pub const SAMPLE_RATES: [u32; 2] = [8_000, 16_000];

/// Longest audio chunk accepted. Platforms send 20 ms; one second bounds what a single message can make
/// the server buffer, and a caller's barge-in is never noticed later than one chunk.
pub const MAX_CHUNK: Duration = Duration::from_secs(1);

/// Digits a telephone keypad sends (RFC 4733 events 0-15).
pub const DTMF_KEYS: &str = "0123456789*#ABCD";

/// A message the platform should not have sent. The set-up kinds end the stream with a gRPC status
/// before the call starts; the others are reported in the stream and the message is dropped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WireError {
    #[error("the first message of a call must be CallSetup; got {got}")]
    FirstNotSetup { got: &'static str },
    #[error("the stream closed before a CallSetup; send CallSetup as the first message")]
    NoSetup,
    #[error(
        "CallSetup.encoding is not set; set it to AUDIO_ENCODING_MULAW, AUDIO_ENCODING_ALAW or \
         AUDIO_ENCODING_LINEAR16 (the encoding of the caller's audio, also used for the replies)"
    )]
    NoEncoding,
    #[error("CallSetup.{field} has the unknown value {value}; {allowed}")]
    UnknownEnum { field: &'static str, value: i32, allowed: &'static str },
    #[error(
        "CallSetup.sample_rate_hz is {rate}; this service takes 8000 (telephony) or 16000 (wideband), \
         for the caller's audio and the replies alike"
    )]
    BadRate { rate: u32 },
    #[error("the call was refused: {0}")]
    Refused(String),

    #[error("AudioChunk {sequence} is empty; send the caller's audio in 20 ms chunks")]
    EmptyChunk { sequence: u64 },
    #[error(
        "AudioChunk {sequence} has {len} bytes; LINEAR16 audio is 2 bytes a sample, so a chunk must have an even \
         number of bytes (was the encoding meant to be mu-law or A-law?); the chunk was dropped"
    )]
    OddChunk { sequence: u64, len: usize },
    #[error(
        "AudioChunk {sequence} holds {ms} ms of audio; at most 1000 ms a chunk (20 ms is usual); the chunk was \
         dropped, split it and send it again"
    )]
    LongChunk { sequence: u64, ms: u64 },
    #[error(
        "AudioChunk {sequence} arrived {ahead_ms} ms ahead of real time on a PACING_REALTIME call; the chunk was \
         dropped. Send audio as it is spoken, or open the call with pacing PACING_FAST for recordings"
    )]
    TooFast { sequence: u64, ahead_ms: u64 },
    #[error("Dtmf.digits is empty; send the keys pressed, from 0-9 * # A-D")]
    EmptyDtmf,
    #[error("Dtmf.digits {digits:?} has {key:?}, which is not a keypad key; keys are 0-9 * # A B C D")]
    BadDtmf { digits: String, key: char },
    #[error("TextTurn.text is empty; send what the caller wrote")]
    EmptyText,
    #[error("a call has one CallSetup, sent first; this one was ignored")]
    SecondSetup,
    #[error("the CallerMessage has no message set; set one of setup, audio, dtmf, text, playback_finished, hang_up")]
    EmptyMessage,
    #[error("{got} after HangUp was ignored; the call is ending")]
    AfterHangUp { got: &'static str },
}

impl WireError {
    /// The in-stream error code of a per-message problem.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::TooFast { .. } => ErrorCode::TooFast,
            _ => ErrorCode::InvalidInput,
        }
    }

    /// The gRPC status of a problem that keeps the call from starting.
    pub fn status(&self) -> tonic::Status {
        tonic::Status::invalid_argument(self.to_string())
    }
}

/// The protobuf name of a caller message, for error messages that say what arrived.
pub fn kind_name(message: &pb::caller_message::Message) -> &'static str {
    use pb::caller_message::Message;
    match message {
        Message::Setup(_) => "CallSetup",
        Message::Audio(_) => "AudioChunk",
        Message::Dtmf(_) => "Dtmf",
        Message::Text(_) => "TextTurn",
        Message::PlaybackFinished(_) => "PlaybackFinished",
        Message::HangUp(_) => "HangUp",
    }
}

/// How fast a call's audio may arrive (the call's own `Pacing`, which `CallSetup` carries).
pub use crate::call::Pacing;

/// A checked set-up: the call's and the wire's own settings.
#[derive(Debug, Clone)]
pub struct Opening {
    pub setup: CallSetup,
    pub pacing: Pacing,
}

/// Check a `CallSetup` and turn it into the call's set-up. A text call may leave the audio unset (it
/// gets 8 kHz mu-law, never used); a voice call must name both.
pub fn opening(setup: pb::CallSetup, make_call_id: impl FnOnce() -> String) -> Result<Opening, WireError> {
    let channel = match pb::Channel::try_from(setup.channel) {
        Ok(pb::Channel::Voice) => Channel::Voice,
        Ok(pb::Channel::Text) => Channel::Text,
        Err(_) => {
            return Err(WireError::UnknownEnum {
                field: "channel",
                value: setup.channel,
                allowed: "use CHANNEL_VOICE or CHANNEL_TEXT",
            })
        }
    };
    let pacing = match pb::Pacing::try_from(setup.pacing) {
        Ok(pb::Pacing::Realtime) => Pacing::Realtime,
        Ok(pb::Pacing::Fast) => Pacing::Fast,
        Err(_) => {
            return Err(WireError::UnknownEnum {
                field: "pacing",
                value: setup.pacing,
                allowed: "use PACING_REALTIME or PACING_FAST",
            })
        }
    };
    let encoding = match pb::AudioEncoding::try_from(setup.encoding) {
        Ok(pb::AudioEncoding::Mulaw) => Encoding::Mulaw,
        Ok(pb::AudioEncoding::Alaw) => Encoding::Alaw,
        Ok(pb::AudioEncoding::Linear16) => Encoding::S16le,
        Ok(pb::AudioEncoding::Unspecified) if channel == Channel::Text => Encoding::Mulaw,
        Ok(pb::AudioEncoding::Unspecified) => return Err(WireError::NoEncoding),
        Err(_) => {
            return Err(WireError::UnknownEnum {
                field: "encoding",
                value: setup.encoding,
                allowed: "use AUDIO_ENCODING_MULAW, AUDIO_ENCODING_ALAW or AUDIO_ENCODING_LINEAR16",
            })
        }
    };
    let sample_rate = match setup.sample_rate_hz {
        0 if channel == Channel::Text => SAMPLE_RATES[0],
        rate if SAMPLE_RATES.contains(&rate) => rate,
        rate => return Err(WireError::BadRate { rate }),
    };
    let non_empty = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let call_id = non_empty(setup.call_id).unwrap_or_else(make_call_id);
    Ok(Opening {
        setup: CallSetup {
            call_id,
            caller: non_empty(setup.caller_number),
            called: non_empty(setup.called_number),
            encoding,
            sample_rate,
            channel,
            metadata: setup.metadata.into_iter().collect::<BTreeMap<_, _>>(),
            pacing,
        },
        pacing,
    })
}

/// Check one audio chunk against the call's encoding and rate; its length in audio time when good.
pub fn check_chunk(chunk: &pb::AudioChunk, setup: &CallSetup) -> Result<Duration, WireError> {
    let sequence = chunk.sequence;
    let len = chunk.audio.len();
    if len == 0 {
        return Err(WireError::EmptyChunk { sequence });
    }
    let width = setup.encoding.bytes_per_sample();
    if !len.is_multiple_of(width) {
        return Err(WireError::OddChunk { sequence, len });
    }
    let samples = (len / width) as u64;
    let duration = Duration::from_micros(samples * 1_000_000 / u64::from(setup.sample_rate.max(1)));
    if duration > MAX_CHUNK {
        return Err(WireError::LongChunk { sequence, ms: duration.as_millis() as u64 });
    }
    Ok(duration)
}

/// Check keypad digits: not empty, each one a keypad key (letters in either case).
pub fn check_dtmf(digits: &str) -> Result<String, WireError> {
    let digits = digits.trim();
    if digits.is_empty() {
        return Err(WireError::EmptyDtmf);
    }
    let upper = digits.to_ascii_uppercase();
    if let Some(key) = upper.chars().find(|c| !DTMF_KEYS.contains(*c)) {
        return Err(WireError::BadDtmf { digits: digits.to_string(), key });
    }
    Ok(upper)
}

/// Turn one checked caller message into the call's input (set-up and errors are the caller's concern).
pub fn call_input(message: pb::caller_message::Message) -> Result<CallInput, WireError> {
    use pb::caller_message::Message;
    match message {
        Message::Setup(_) => Err(WireError::SecondSetup),
        Message::Audio(chunk) => Ok(CallInput::Audio(chunk.audio)),
        Message::Dtmf(dtmf) => check_dtmf(&dtmf.digits).map(CallInput::Dtmf),
        Message::Text(text) if text.text.trim().is_empty() => Err(WireError::EmptyText),
        Message::Text(text) => Ok(CallInput::Text(text.text)),
        Message::PlaybackFinished(done) => Ok(CallInput::PlaybackFinished { reply_id: done.reply_id }),
        Message::HangUp(_) => Ok(CallInput::HangUp),
    }
}

/// How far a REALTIME call's audio may run ahead of the wall clock. Real platforms send a 20 ms packet
/// every 20 ms, but jitter buffers, retransmits and a busy client let packets bunch up; one second is far
/// beyond any jitter (buffers hold 60–200 ms) while still catching a sender with no pacing at all
/// within its first second of audio.
pub const PACING_ALLOWANCE: Duration = Duration::from_secs(1);

/// Wall-clock time a quiet sender may bank: a client that stalls (e.g. its host is busy) and then sends
/// the backlog at once is not too fast. Bounded so a long pause cannot buy minutes of burst.
pub const PACING_CREDIT: Duration = Duration::from_secs(1);

/// Measures whether a REALTIME call's audio arrives faster than it is spoken: the audio received minus
/// the wall time passed (the lead) may not exceed [`PACING_ALLOWANCE`]; idle time lowers the lead by at
/// most [`PACING_CREDIT`] below zero.
#[derive(Debug, Clone, Default)]
pub struct PaceMeter {
    /// Audio time received minus wall time passed, in microseconds (negative: behind real time).
    lead_us: i64,
    last: Option<Instant>,
}

impl PaceMeter {
    /// Account a chunk of `audio` arriving at `now`: Ok if within pace, else how far ahead it would be
    /// (the chunk is then not counted: the caller drops it).
    pub fn admit(&mut self, now: Instant, audio: Duration) -> Result<(), Duration> {
        let elapsed = self.last.map_or(0, |last| now.saturating_duration_since(last).as_micros() as i64);
        self.last = Some(now);
        let lead = (self.lead_us - elapsed).max(-(PACING_CREDIT.as_micros() as i64)) + audio.as_micros() as i64;
        if lead > PACING_ALLOWANCE.as_micros() as i64 {
            self.lead_us = lead - audio.as_micros() as i64;
            return Err(Duration::from_micros(lead as u64));
        }
        self.lead_us = lead;
        Ok(())
    }
}

/// A message of the server's own (not the call's), e.g. an in-stream error about one caller message.
pub fn error_message(at_ms: u64, client_message_id: String, error: &WireError) -> pb::AssistantMessage {
    pb::AssistantMessage {
        at_ms,
        client_message_id,
        event: Some(pb::assistant_message::Event::Error(pb::Error {
            code: error_code(error.code()) as i32,
            message: error.to_string(),
            fatal: false,
        })),
    }
}

fn error_code(code: ErrorCode) -> pb::ErrorCode {
    match code {
        ErrorCode::InvalidInput => pb::ErrorCode::InvalidInput,
        ErrorCode::TooFast => pb::ErrorCode::TooFast,
        ErrorCode::Internal => pb::ErrorCode::Internal,
    }
}

pub fn end_reason(reason: EndReason) -> pb::EndReason {
    match reason {
        EndReason::Completed => pb::EndReason::Completed,
        EndReason::CallerHungUp => pb::EndReason::CallerHungUp,
        EndReason::HandedOff => pb::EndReason::HandedOff,
        EndReason::MaxDuration => pb::EndReason::MaxDuration,
        EndReason::ClientGone => pb::EndReason::ClientGone,
        EndReason::Error => pb::EndReason::Error,
    }
}

/// The wire's end reason read back into the call's (None for UNSPECIFIED or a newer server's value).
pub fn end_reason_from(reason: i32) -> Option<EndReason> {
    Some(match pb::EndReason::try_from(reason).ok()? {
        pb::EndReason::Unspecified => return None,
        pb::EndReason::Completed => EndReason::Completed,
        pb::EndReason::CallerHungUp => EndReason::CallerHungUp,
        pb::EndReason::HandedOff => EndReason::HandedOff,
        pb::EndReason::MaxDuration => EndReason::MaxDuration,
        pb::EndReason::ClientGone => EndReason::ClientGone,
        pb::EndReason::Error => EndReason::Error,
    })
}

pub fn turn_timing(timing: &TurnTiming) -> pb::TurnTiming {
    pb::TurnTiming {
        endpoint_ms: timing.endpoint_ms,
        recognition_ms: timing.recognition_ms,
        understanding_ms: timing.understanding_ms,
        first_synthesis_ms: timing.first_synthesis_ms,
        first_audio_ms: timing.first_audio_ms,
    }
}

pub fn turn_timing_from(timing: &pb::TurnTiming) -> TurnTiming {
    TurnTiming {
        endpoint_ms: timing.endpoint_ms,
        recognition_ms: timing.recognition_ms,
        understanding_ms: timing.understanding_ms,
        first_synthesis_ms: timing.first_synthesis_ms,
        first_audio_ms: timing.first_audio_ms,
    }
}

/// An entity's normalised value as one string: dates, times and text as they are, money as
/// "12.50 USD", numbers without a trailing ".0", yes/no as "true"/"false".
pub fn entity_value(value: &EntityValue) -> String {
    match value {
        EntityValue::Text(s) | EntityValue::Date(s) | EntityValue::Time(s) => s.clone(),
        EntityValue::Number(n) => n.to_string(),
        EntityValue::Money { amount, currency } => format!("{amount:.2} {currency}"),
        EntityValue::Bool(b) => b.to_string(),
    }
}

fn understanding(parse: &Parse) -> pb::Understanding {
    pb::Understanding {
        intent: parse.intent.as_ref().map(|i| i.intent.clone()).unwrap_or_default(),
        confidence: parse.intent.as_ref().map_or(0.0, |i| i.confidence),
        n_best: parse
            .intents
            .iter()
            .map(|i| pb::IntentScore { intent: i.intent.clone(), confidence: i.confidence })
            .collect(),
        entities: parse
            .entities
            .iter()
            .map(|e| pb::Entity {
                kind: e.kind.clone(),
                value: entity_value(&e.value),
                text: e.text.clone(),
                confidence: e.confidence,
            })
            .collect(),
        sentiment: parse.sentiment.score,
        out_of_scope: parse.out_of_scope,
    }
}

/// The call's output as the platform receives it.
pub fn assistant_message(output: CallOutput) -> pb::AssistantMessage {
    use pb::assistant_message::Event;
    let (at_ms, event) = match output {
        CallOutput::SpeechStarted { at_ms } => (at_ms, Event::SpeechStarted(pb::SpeechStarted {})),
        CallOutput::SpeechEnded { at_ms } => (at_ms, Event::SpeechEnded(pb::SpeechEnded {})),
        CallOutput::PartialTranscript { at_ms, text, stability } => {
            (at_ms, Event::PartialTranscript(pb::PartialTranscript { text, stability }))
        }
        CallOutput::FinalTranscript { at_ms, text, confidence } => {
            (at_ms, Event::FinalTranscript(pb::FinalTranscript { text, confidence }))
        }
        CallOutput::Understood { at_ms, parse } => (at_ms, Event::Understanding(understanding(&parse))),
        CallOutput::ReplyText { at_ms, reply_id, text, barge_in } => {
            (at_ms, Event::ReplyText(pb::ReplyText { reply_id, text, barge_in_allowed: barge_in }))
        }
        CallOutput::ReplyAudio { at_ms, reply_id, seq, audio, last } => {
            (at_ms, Event::ReplyAudio(pb::ReplyAudio { reply_id, sequence: seq, audio, last }))
        }
        CallOutput::StopPlayback { at_ms, reply_id } => (at_ms, Event::StopPlayback(pb::StopPlayback { reply_id })),
        CallOutput::Handoff { at_ms, ticket } => {
            let entry = &ticket.entry;
            let packet = &ticket.packet;
            (
                at_ms,
                Event::Handoff(pb::Handoff {
                    queue_entry_id: entry.id,
                    queue: entry.queue.clone(),
                    skill: entry.skill.clone().unwrap_or_default(),
                    position: entry.position.unwrap_or(0) as u32,
                    estimated_wait_s: entry.estimated_wait_s.unwrap_or(0),
                    reasons: packet.reasons.iter().map(|r| r.as_str().to_string()).collect(),
                    summary: packet.summary.clone(),
                    // The packet is plain data (strings, numbers, maps): serialising it cannot fail.
                    packet_json: serde_json::to_string(packet).unwrap_or_default(),
                }),
            )
        }
        CallOutput::Error { at_ms, code, message, fatal } => {
            (at_ms, Event::Error(pb::Error { code: error_code(code) as i32, message, fatal }))
        }
        CallOutput::CallEnded { at_ms, reason, turns } => (
            at_ms,
            Event::CallEnded(pb::CallEnded {
                reason: end_reason(reason) as i32,
                turns: turns.iter().map(turn_timing).collect(),
            }),
        ),
    };
    pb::AssistantMessage { at_ms, client_message_id: String::new(), event: Some(event) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn setup(encoding: pb::AudioEncoding, rate: u32) -> pb::CallSetup {
        pb::CallSetup {
            call_id: "c-1".into(),
            caller_number: "+15551234567".into(),
            encoding: encoding as i32,
            sample_rate_hz: rate,
            ..Default::default()
        }
    }

    fn call(encoding: Encoding, rate: u32) -> CallSetup {
        CallSetup {
            call_id: "c".into(),
            caller: None,
            called: None,
            encoding,
            sample_rate: rate,
            channel: Channel::Voice,
            metadata: BTreeMap::new(),
            pacing: Pacing::Realtime,
        }
    }

    #[test]
    fn a_caller_message_survives_the_wire_byte_for_byte() {
        let mut setup = setup(pb::AudioEncoding::Mulaw, 8000);
        setup.metadata.insert("account_id".into(), "A-1001".into());
        let message = pb::CallerMessage {
            client_message_id: "m1".into(),
            message: Some(pb::caller_message::Message::Setup(setup)),
        };
        let bytes = message.encode_to_vec();
        assert_eq!(pb::CallerMessage::decode(bytes.as_slice()).unwrap(), message);
        let audio = pb::CallerMessage {
            client_message_id: String::new(),
            message: Some(pb::caller_message::Message::Audio(pb::AudioChunk {
                audio: vec![0xff; 160],
                sequence: 7,
                client_timestamp_ms: 140,
            })),
        };
        assert_eq!(pb::CallerMessage::decode(audio.encode_to_vec().as_slice()).unwrap(), audio);
    }

    #[test]
    fn garbage_bytes_do_not_decode_as_a_caller_message() {
        assert!(pb::CallerMessage::decode(&[0xff, 0xff, 0xff, 0x0f, 0x01][..]).is_err());
    }

    #[test]
    fn a_voice_setup_names_its_encoding_and_a_telephone_rate() {
        let opened = opening(setup(pb::AudioEncoding::Linear16, 16_000), || "made-up".into()).unwrap();
        assert_eq!(opened.setup.encoding, Encoding::S16le);
        assert_eq!(opened.setup.sample_rate, 16_000);
        assert_eq!(opened.setup.call_id, "c-1");
        assert_eq!(opened.setup.caller.as_deref(), Some("+15551234567"));
        assert_eq!(opened.setup.called, None, "an empty number is withheld, not \"\"");
        assert_eq!(opened.pacing, Pacing::Realtime, "real time is the default");

        let err = opening(setup(pb::AudioEncoding::Mulaw, 44_100), String::new).unwrap_err();
        assert_eq!(err, WireError::BadRate { rate: 44_100 });
        assert!(err.to_string().contains("8000") && err.to_string().contains("16000"), "{err}");
        let err = opening(setup(pb::AudioEncoding::Unspecified, 8000), String::new).unwrap_err();
        assert!(err.to_string().contains("AUDIO_ENCODING_MULAW"), "{err}");
        let mut odd = setup(pb::AudioEncoding::Mulaw, 8000);
        odd.encoding = 42;
        assert!(matches!(opening(odd, String::new), Err(WireError::UnknownEnum { field: "encoding", value: 42, .. })));
    }

    #[test]
    fn a_setup_without_a_call_id_gets_one_made_up() {
        let mut bare = setup(pb::AudioEncoding::Alaw, 8000);
        bare.call_id = "  ".into();
        assert_eq!(opening(bare, || "made-up".into()).unwrap().setup.call_id, "made-up");
    }

    #[test]
    fn a_text_call_needs_no_audio_settings() {
        let text = pb::CallSetup { channel: pb::Channel::Text as i32, ..Default::default() };
        let opened = opening(text, || "t".into()).unwrap();
        assert_eq!(opened.setup.channel, Channel::Text);
        assert_eq!(opened.setup.sample_rate, 8000);
    }

    #[test]
    fn chunks_must_be_whole_samples_and_at_most_a_second() {
        let chunk = |len: usize| pb::AudioChunk { audio: vec![0; len], sequence: 3, client_timestamp_ms: 0 };
        let pcm = call(Encoding::S16le, 16_000);
        assert_eq!(check_chunk(&chunk(640), &pcm), Ok(Duration::from_millis(20)));
        assert_eq!(check_chunk(&chunk(641), &pcm), Err(WireError::OddChunk { sequence: 3, len: 641 }));
        assert_eq!(check_chunk(&chunk(0), &pcm), Err(WireError::EmptyChunk { sequence: 3 }));
        assert_eq!(check_chunk(&chunk(32_000), &pcm), Ok(Duration::from_secs(1)), "exactly a second is fine");
        assert!(matches!(check_chunk(&chunk(32_002), &pcm), Err(WireError::LongChunk { ms: 1000, .. })));
        let mulaw = call(Encoding::Mulaw, 8000);
        assert_eq!(check_chunk(&chunk(161), &mulaw), Ok(Duration::from_micros(20_125)), "one byte a sample");
        assert!(matches!(check_chunk(&chunk(8001), &mulaw), Err(WireError::LongChunk { .. })));
    }

    #[test]
    fn dtmf_is_keypad_keys_only() {
        assert_eq!(check_dtmf("1234#"), Ok("1234#".into()));
        assert_eq!(check_dtmf("*9ab"), Ok("*9AB".into()), "letters in either case");
        assert_eq!(check_dtmf(""), Err(WireError::EmptyDtmf));
        let err = check_dtmf("12x4").unwrap_err();
        assert_eq!(err, WireError::BadDtmf { digits: "12x4".into(), key: 'X' });
        assert!(err.to_string().contains("0-9 * # A B C D"), "{err}");
        assert!(matches!(check_dtmf("1E"), Err(WireError::BadDtmf { key: 'E', .. })));
    }

    #[test]
    fn caller_messages_become_call_inputs() {
        use pb::caller_message::Message;
        assert_eq!(call_input(Message::Dtmf(pb::Dtmf { digits: "42#".into() })), Ok(CallInput::Dtmf("42#".into())));
        assert_eq!(call_input(Message::HangUp(pb::HangUp {})), Ok(CallInput::HangUp));
        assert_eq!(
            call_input(Message::PlaybackFinished(pb::PlaybackFinished { reply_id: 4, interrupted: true })),
            Ok(CallInput::PlaybackFinished { reply_id: 4 })
        );
        assert_eq!(call_input(Message::Text(pb::TextTurn { text: " ".into() })), Err(WireError::EmptyText));
        assert_eq!(call_input(Message::Setup(pb::CallSetup::default())), Err(WireError::SecondSetup));
    }

    #[test]
    fn real_time_audio_with_jitter_is_within_pace() {
        let mut meter = PaceMeter::default();
        let start = Instant::now();
        let frame = Duration::from_millis(20);
        // 10 s of frames sent every 20 ms, each delayed 0-15 ms on its way.
        for i in 0..500u64 {
            let delay = [0, 15, 3, 9][i as usize % 4];
            let at = start + Duration::from_millis(i * 20 + delay);
            assert_eq!(meter.admit(at, frame), Ok(()), "frame {i}");
        }
    }

    #[test]
    fn a_stalled_sender_may_catch_up_but_an_unpaced_one_is_caught() {
        let frame = Duration::from_millis(20);
        let start = Instant::now();
        // Silent for a second (a busy host), then the backlog of 50 frames at once.
        let mut meter = PaceMeter::default();
        meter.admit(start, frame).unwrap();
        let late = start + Duration::from_millis(1000);
        for i in 0..50 {
            assert_eq!(meter.admit(late, frame), Ok(()), "backlog frame {i}");
        }
        // No pacing at all: 3 s of audio in one instant; the second past the allowance is refused.
        let mut meter = PaceMeter::default();
        let accepted = (0..150).filter(|_| meter.admit(start, frame).is_ok()).count();
        assert_eq!(accepted, 50, "one second of allowance");
        // A refused chunk is not counted: once real time catches up, audio is accepted again.
        assert_eq!(meter.admit(start + Duration::from_millis(100), frame), Ok(()));
    }

    #[test]
    fn entity_values_read_as_one_string() {
        assert_eq!(entity_value(&EntityValue::Money { amount: 12.5, currency: "USD".into() }), "12.50 USD");
        assert_eq!(entity_value(&EntityValue::Number(4.0)), "4");
        assert_eq!(entity_value(&EntityValue::Bool(true)), "true");
        assert_eq!(entity_value(&EntityValue::Date("2025-03-14".into())), "2025-03-14");
    }

    #[test]
    fn call_outputs_become_assistant_messages() {
        use pb::assistant_message::Event;
        let message = assistant_message(CallOutput::ReplyAudio {
            at_ms: 1200,
            reply_id: 2,
            seq: 5,
            audio: vec![1, 2, 3],
            last: true,
        });
        assert_eq!(message.at_ms, 1200);
        assert_eq!(
            message.event,
            Some(Event::ReplyAudio(pb::ReplyAudio { reply_id: 2, sequence: 5, audio: vec![1, 2, 3], last: true }))
        );
        let ended = assistant_message(CallOutput::CallEnded {
            at_ms: 9000,
            reason: EndReason::HandedOff,
            turns: vec![TurnTiming { recognition_ms: 120.0, ..Default::default() }],
        });
        let Some(Event::CallEnded(ended)) = ended.event else { panic!("not CallEnded: {ended:?}") };
        assert_eq!(end_reason_from(ended.reason), Some(EndReason::HandedOff));
        assert_eq!(turn_timing_from(&ended.turns[0]).recognition_ms, 120.0);
    }

    #[test]
    fn every_end_reason_round_trips() {
        for reason in [
            EndReason::Completed,
            EndReason::CallerHungUp,
            EndReason::HandedOff,
            EndReason::MaxDuration,
            EndReason::ClientGone,
            EndReason::Error,
        ] {
            assert_eq!(end_reason_from(end_reason(reason) as i32), Some(reason));
        }
        assert_eq!(end_reason_from(0), None);
    }
}
