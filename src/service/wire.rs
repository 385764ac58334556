//! Protobuf ↔ call: the shape checks every platform message passes before it reaches the call, and the
//! translation of the call's [`CallOutput`]s into [`pb::AssistantMessage`]s. Pure functions, no I/O.
//!
//! What needs the call's own knowledge stays in the call, checked once there: the sample rate it can
//! take (`Switchboard::check_setup`), chunk lengths against the encoding and rate, and real-time pacing
//! (`call::inputs`). Those problems reach the platform as the call's in-stream errors. Keypad keys are
//! checked here with the call's own parser, so the error can echo the message id.

use std::collections::BTreeMap;

use super::proto as pb;
use crate::audio::Encoding;
use crate::call::dtmf::{parse_keys, DtmfError};
use crate::call::{CallInput, CallOutput, CallSetup, EndReason, ErrorCode, Pacing, TurnTiming};
use crate::dialogue::Channel;
use crate::nlu::entities::EntityValue;
use crate::nlu::Parse;

/// The rate a text call gets when its set-up names none: it carries no audio, but the call's face wants
/// one, and narrowband telephony is the least surprising.
const TEXT_CALL_RATE: u32 = 8_000;

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
    #[error("the call was refused: {0}")]
    Refused(String),

    #[error("AudioChunk {sequence} is empty; send the caller's audio in 20 ms chunks")]
    EmptyChunk { sequence: u64 },
    #[error("Dtmf.digits: {0}")]
    Dtmf(#[from] DtmfError),
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
    /// The in-stream error code of a per-message problem: always the platform's mistake.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidInput
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

/// A checked set-up.
#[derive(Debug, Clone)]
pub struct Opening {
    pub setup: CallSetup,
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
        0 if channel == Channel::Text => TEXT_CALL_RATE,
        rate => rate,
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
    })
}

/// Check one audio chunk's shape: it carries audio. (Its length against the encoding and rate, and its
/// pace, are the call's to check.)
pub fn check_chunk(chunk: &pb::AudioChunk) -> Result<(), WireError> {
    if chunk.audio.is_empty() {
        return Err(WireError::EmptyChunk { sequence: chunk.sequence });
    }
    Ok(())
}

/// Check keypad digits with the call's own parser (surrounding spaces ignored, letters in either case).
pub fn check_dtmf(digits: &str) -> Result<String, WireError> {
    Ok(parse_keys(digits.trim())?)
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
        Message::PlaybackFinished(done) => {
            Ok(CallInput::PlaybackFinished { reply_id: done.reply_id, interrupted: done.interrupted })
        }
        Message::HangUp(_) => Ok(CallInput::HangUp),
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
        recognition_lead_ms: timing.recognition_lead_ms,
        understanding_ms: timing.understanding_ms,
        first_synthesis_ms: timing.first_synthesis_ms,
        first_audio_ms: timing.first_audio_ms,
    }
}

pub fn turn_timing_from(timing: &pb::TurnTiming) -> TurnTiming {
    TurnTiming {
        endpoint_ms: timing.endpoint_ms,
        recognition_ms: timing.recognition_ms,
        recognition_lead_ms: timing.recognition_lead_ms,
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
        assert_eq!(opened.setup.pacing, Pacing::Realtime, "real time is the default");
        let mut fast = setup(pb::AudioEncoding::Mulaw, 8000);
        fast.pacing = pb::Pacing::Fast as i32;
        assert_eq!(opening(fast, String::new).unwrap().setup.pacing, Pacing::Fast);
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
    fn dtmf_is_keypad_keys_only() {
        assert_eq!(check_dtmf("1234#"), Ok("1234#".into()));
        assert_eq!(check_dtmf(" *9ab "), Ok("*9AB".into()), "letters in either case, spaces around ignored");
        assert_eq!(check_dtmf(""), Err(WireError::Dtmf(DtmfError::Empty)));
        let err = check_dtmf("12x4").unwrap_err();
        assert!(err.to_string().starts_with("Dtmf.digits: ") && err.to_string().contains("'x'"), "{err}");
        assert!(check_dtmf("1E").is_err());
    }

    #[test]
    fn an_empty_chunk_is_refused_and_any_other_passes_to_the_call() {
        let chunk = |len: usize| pb::AudioChunk { audio: vec![0; len], sequence: 3, client_timestamp_ms: 0 };
        assert_eq!(check_chunk(&chunk(0)), Err(WireError::EmptyChunk { sequence: 3 }));
        assert_eq!(check_chunk(&chunk(641)), Ok(()), "odd lengths are the call's to judge");
    }

    #[test]
    fn caller_messages_become_call_inputs() {
        use pb::caller_message::Message;
        assert_eq!(call_input(Message::Dtmf(pb::Dtmf { digits: "42#".into() })), Ok(CallInput::Dtmf("42#".into())));
        assert_eq!(call_input(Message::HangUp(pb::HangUp {})), Ok(CallInput::HangUp));
        assert_eq!(
            call_input(Message::PlaybackFinished(pb::PlaybackFinished { reply_id: 4, interrupted: true })),
            Ok(CallInput::PlaybackFinished { reply_id: 4, interrupted: true })
        );
        assert_eq!(call_input(Message::Text(pb::TextTurn { text: " ".into() })), Err(WireError::EmptyText));
        assert_eq!(call_input(Message::Setup(pb::CallSetup::default())), Err(WireError::SecondSetup));
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
