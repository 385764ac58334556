//! The wire's rules over real gRPC on loopback, with a scripted call behind the service instead of the
//! switchboard, so every protocol rule is checked in milliseconds without models; the agents' queue
//! is the real SQLite store in a temporary folder. (`tests/service.rs` runs the same wire with the real
//! switchboard and models.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Status, Streaming};

use super::proto as pb;
use super::{start, CallRunner, RunningServer};
use crate::call::{CallError, CallInput, CallOutput, CallSetup, EndReason, TurnTiming};
use crate::handoff::{HandoffPacket, Reason};
use crate::store::{NewQueueEntry, QueueEntry, SqliteStore, Store};

/// A call that greets, echoes DTMF and text, reports how much audio reached it, streams a long reply on
/// request, and records how each call ended.
#[derive(Default)]
struct Scripted {
    ended: Mutex<Vec<(String, EndReason)>>,
}

impl Scripted {
    fn end_of(&self, call_id: &str) -> Option<EndReason> {
        self.ended.lock().ok()?.iter().find(|(id, _)| id == call_id).map(|(_, reason)| *reason)
    }
}

impl CallRunner for Scripted {
    fn check_setup(&self, setup: &CallSetup) -> Result<(), CallError> {
        match setup.metadata.get("refuse") {
            Some(why) => Err(CallError::Unsupported(why.clone())),
            None => Ok(()),
        }
    }

    async fn run(
        self: Arc<Self>,
        setup: CallSetup,
        mut inputs: mpsc::Receiver<CallInput>,
        outputs: mpsc::Sender<CallOutput>,
    ) -> EndReason {
        let started = std::time::Instant::now();
        let at = move || started.elapsed().as_millis() as u64;
        let frame = setup.encoding.encode(&[0.0; 160]);
        let mut reply_id = 0;
        let say = |reply_id: u64, text: String, chunks: usize| {
            let outputs = outputs.clone();
            let frame = frame.clone();
            async move {
                let _ = outputs.send(CallOutput::ReplyText { at_ms: at(), reply_id, text, barge_in: true }).await;
                for seq in 0..chunks as u64 {
                    let last = seq + 1 == chunks as u64;
                    let audio = CallOutput::ReplyAudio { at_ms: at(), reply_id, seq, audio: frame.clone(), last };
                    let _ = outputs.send(audio).await;
                    if chunks > 1 {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        };
        reply_id += 1;
        say(reply_id, "Hello".into(), 1).await;
        let mut audio_bytes = 0;
        let reason = loop {
            match inputs.recv().await {
                None => break EndReason::ClientGone,
                Some(CallInput::HangUp) => break EndReason::CallerHungUp,
                Some(CallInput::ServiceStopping) => break EndReason::HandedOff,
                Some(CallInput::Audio(bytes)) => audio_bytes += bytes.len(),
                Some(CallInput::PlaybackFinished { .. }) => {}
                Some(CallInput::Dtmf(digits)) => {
                    let _ = outputs
                        .send(CallOutput::FinalTranscript { at_ms: at(), text: digits.clone(), confidence: 1.0 })
                        .await;
                    reply_id += 1;
                    say(reply_id, format!("you pressed {digits}"), 1).await;
                }
                Some(CallInput::Text(text)) => {
                    reply_id += 1;
                    match text.as_str() {
                        "audio?" => say(reply_id, format!("{audio_bytes} bytes"), 1).await,
                        "long" => say(reply_id, "a long story".into(), 200).await,
                        _ => say(reply_id, text, 1).await,
                    }
                }
            }
        };
        if let Ok(mut ended) = self.ended.lock() {
            ended.push((setup.call_id.clone(), reason));
        }
        let turns = vec![TurnTiming::default()];
        let _ = outputs.send(CallOutput::CallEnded { at_ms: at(), reason, turns }).await;
        reason
    }
}

struct Harness {
    server: RunningServer,
    calls: Arc<Scripted>,
    queue: Arc<SqliteStore>,
}

async fn harness(max_calls: usize) -> Harness {
    let calls = Arc::new(Scripted::default());
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "helpline-wire-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let queue = Arc::new(SqliteStore::open(&dir.join("helpline.db")).unwrap());
    let listener = super::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let server = start(listener, calls.clone(), queue.clone(), max_calls).await.unwrap();
    Harness { server, calls, queue }
}

async fn channel(server: &RunningServer) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(server.endpoint()).unwrap().connect().await.unwrap()
}

fn message(id: &str, message: pb::caller_message::Message) -> pb::CallerMessage {
    pb::CallerMessage { client_message_id: id.into(), message: Some(message) }
}

fn setup(call_id: &str, encoding: pb::AudioEncoding, rate: u32, pacing: pb::Pacing) -> pb::CallerMessage {
    message(
        "",
        pb::caller_message::Message::Setup(pb::CallSetup {
            call_id: call_id.into(),
            encoding: encoding as i32,
            sample_rate_hz: rate,
            pacing: pacing as i32,
            ..Default::default()
        }),
    )
}

fn audio(id: &str, bytes: Vec<u8>, sequence: u64) -> pb::CallerMessage {
    message(id, pb::caller_message::Message::Audio(pb::AudioChunk { audio: bytes, sequence, client_timestamp_ms: 0 }))
}

fn text(text: &str) -> pb::CallerMessage {
    message("", pb::caller_message::Message::Text(pb::TextTurn { text: text.into() }))
}

/// Open a call whose first messages are `first`; the sender sends more.
async fn call(
    server: &RunningServer,
    first: Vec<pb::CallerMessage>,
) -> (mpsc::Sender<pb::CallerMessage>, Result<Streaming<pb::AssistantMessage>, Status>) {
    let mut client = pb::phone_line_client::PhoneLineClient::connect(server.endpoint()).await.unwrap();
    let (sender, requests) = mpsc::channel(256);
    for m in first {
        sender.send(m).await.unwrap();
    }
    let response = client.converse(ReceiverStream::new(requests)).await.map(|r| r.into_inner());
    (sender, response)
}

/// Read until `done` says so (that message included); fails the test after 10 s.
async fn read_until(
    stream: &mut Streaming<pb::AssistantMessage>,
    mut done: impl FnMut(&pb::AssistantMessage) -> bool,
) -> Vec<pb::AssistantMessage> {
    let mut seen = Vec::new();
    let reading = async {
        while let Some(message) = stream.message().await.expect("stream error") {
            let finished = done(&message);
            seen.push(message);
            if finished {
                return;
            }
        }
        panic!("the stream ended first: {seen:?}");
    };
    tokio::time::timeout(Duration::from_secs(10), reading).await.expect("timed out");
    seen
}

fn reply_text(m: &pb::AssistantMessage) -> Option<&str> {
    match &m.event {
        Some(pb::assistant_message::Event::ReplyText(r)) => Some(&r.text),
        _ => None,
    }
}

fn errors(messages: &[pb::AssistantMessage]) -> Vec<(String, pb::Error)> {
    messages
        .iter()
        .filter_map(|m| match &m.event {
            Some(pb::assistant_message::Event::Error(e)) => Some((m.client_message_id.clone(), e.clone())),
            _ => None,
        })
        .collect()
}

fn is_call_ended(m: &pb::AssistantMessage) -> bool {
    matches!(m.event, Some(pb::assistant_message::Event::CallEnded(_)))
}

#[tokio::test]
async fn health_says_both_services_are_serving() {
    let h = harness(2).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel(&h.server).await);
    for service in super::server::SERVICE_NAMES.into_iter().chain([""]) {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest { service: service.into() })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32, "{service}");
    }
}

#[tokio::test]
async fn reflection_lists_the_phone_line_and_the_agent_queue() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let h = harness(2).await;
    let mut reflection = ServerReflectionClient::new(channel(&h.server).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("not a service list")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in ["helpline.v1.PhoneLine", "helpline.v1.AgentQueue", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
}

#[tokio::test]
async fn a_call_must_open_with_its_setup() {
    let h = harness(2).await;
    let (_sender, response) = call(&h.server, vec![audio("", vec![0xff; 160], 0)]).await;
    let status = response.expect_err("audio first must be refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "the first message of a call must be CallSetup; got AudioChunk");
}

#[tokio::test]
async fn a_voice_setup_without_an_encoding_is_refused_naming_the_encodings() {
    let h = harness(2).await;
    let (_sender, response) =
        call(&h.server, vec![setup("e", pb::AudioEncoding::Unspecified, 8000, pb::Pacing::Fast)]).await;
    let status = response.expect_err("no encoding");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("AUDIO_ENCODING_MULAW") && status.message().contains("AUDIO_ENCODING_LINEAR16"),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_setup_the_call_cannot_take_is_invalid_argument_with_its_reason() {
    let h = harness(2).await;
    let mut refused = setup("x", pb::AudioEncoding::Alaw, 8000, pb::Pacing::Fast);
    if let Some(pb::caller_message::Message::Setup(s)) = &mut refused.message {
        s.metadata.insert("refuse".into(), "A-law is not taken on this line".into());
    }
    let status = call(&h.server, vec![refused]).await.1.expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("A-law is not taken on this line"), "{status:?}");
}

#[tokio::test]
async fn an_empty_chunk_is_reported_in_the_stream_and_other_chunks_reach_the_call() {
    let h = harness(2).await;
    let first = vec![
        setup("chunks", pb::AudioEncoding::Linear16, 16_000, pb::Pacing::Fast),
        audio("empty", Vec::new(), 0),
        audio("odd", vec![0; 641], 1), // the call judges lengths against its encoding
        audio("good", vec![0; 640], 2),
        text("audio?"),
    ];
    let (_sender, response) = call(&h.server, first).await;
    let mut stream = response.unwrap();
    let seen = read_until(&mut stream, |m| reply_text(m).is_some_and(|t| t.ends_with("bytes"))).await;
    assert_eq!(seen.iter().rev().find_map(reply_text), Some("1281 bytes"));
    let errors = errors(&seen);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (id, error) = &errors[0];
    assert_eq!(id, "empty", "the error echoes the chunk's message id");
    assert_eq!(error.code, pb::ErrorCode::InvalidInput as i32);
    assert!(!error.fatal, "a bad chunk does not end the call");
    assert!(error.message.contains("AudioChunk 0 is empty"), "{error:?}");
}

#[tokio::test]
async fn keypad_digits_outside_the_keypad_are_refused() {
    let h = harness(2).await;
    let dtmf =
        |id: &str, digits: &str| message(id, pb::caller_message::Message::Dtmf(pb::Dtmf { digits: digits.into() }));
    let first =
        vec![setup("keys", pb::AudioEncoding::Mulaw, 8000, pb::Pacing::Fast), dtmf("bad", "12x"), dtmf("good", "12#")];
    let mut stream = call(&h.server, first).await.1.unwrap();
    let seen = read_until(&mut stream, |m| reply_text(m) == Some("you pressed 12#")).await;
    let errors = errors(&seen);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "bad");
    assert!(errors[0].1.message.contains("Dtmf.digits") && errors[0].1.message.contains("'x'"), "{errors:?}");
}

#[tokio::test]
async fn calls_beyond_the_limit_get_resource_exhausted_and_a_freed_slot_is_reused() {
    let h = harness(1).await;
    let (first_sender, first) =
        call(&h.server, vec![setup("one", pb::AudioEncoding::Mulaw, 8000, pb::Pacing::Fast)]).await;
    let mut first = first.unwrap();
    read_until(&mut first, |m| reply_text(m) == Some("Hello")).await;
    let status = call(&h.server, vec![setup("two", pb::AudioEncoding::Mulaw, 8000, pb::Pacing::Fast)])
        .await
        .1
        .expect_err("full");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.message().contains("all 1 call slots") && status.message().contains("--max-calls"), "{status:?}");
    first_sender.send(message("", pb::caller_message::Message::HangUp(pb::HangUp {}))).await.unwrap();
    read_until(&mut first, is_call_ended).await;
    // The slot is freed once the call has finished; give the forwarder a moment to release it.
    let mut third = None;
    for _ in 0..50 {
        match call(&h.server, vec![setup("three", pb::AudioEncoding::Mulaw, 8000, pb::Pacing::Fast)]).await.1 {
            Ok(stream) => {
                third = Some(stream);
                break;
            }
            Err(status) if status.code() == Code::ResourceExhausted => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(status) => panic!("{status:?}"),
        }
    }
    read_until(third.as_mut().expect("the freed slot takes a new call"), |m| reply_text(m) == Some("Hello")).await;
}

#[tokio::test]
async fn hang_up_ends_the_call_and_call_ended_echoes_its_id() {
    let h = harness(2).await;
    let first = vec![
        setup("bye", pb::AudioEncoding::Mulaw, 8000, pb::Pacing::Fast),
        message("hang-up-1", pb::caller_message::Message::HangUp(pb::HangUp {})),
    ];
    let mut stream = call(&h.server, first).await.1.unwrap();
    let seen = read_until(&mut stream, is_call_ended).await;
    let ended = seen.last().unwrap();
    assert_eq!(ended.client_message_id, "hang-up-1");
    let Some(pb::assistant_message::Event::CallEnded(ended)) = &ended.event else { unreachable!() };
    assert_eq!(ended.reason, pb::EndReason::CallerHungUp as i32);
    assert_eq!(ended.turns.len(), 1, "the timing record comes with CallEnded");
    assert!(stream.message().await.unwrap().is_none(), "the stream ends after CallEnded");
}

#[tokio::test]
async fn a_platform_that_vanishes_mid_reply_ends_the_call_as_client_gone_and_the_server_stays_up() {
    let h = harness(2).await;
    let (sender, response) =
        call(&h.server, vec![setup("vanish", pb::AudioEncoding::Mulaw, 8000, pb::Pacing::Fast), text("long")]).await;
    let mut stream = response.unwrap();
    read_until(&mut stream, |m| reply_text(m) == Some("a long story")).await;
    drop(stream);
    drop(sender);
    let mut reason = None;
    for _ in 0..100 {
        reason = h.calls.end_of("vanish");
        if reason.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(reason, Some(EndReason::ClientGone));
    let mut next = call(&h.server, vec![setup("after", pb::AudioEncoding::Mulaw, 8000, pb::Pacing::Fast)])
        .await
        .1
        .unwrap();
    read_until(&mut next, |m| reply_text(m) == Some("Hello")).await;
}

#[tokio::test]
async fn shutting_down_ends_calls_in_progress_with_call_ended() {
    let h = harness(2).await;
    let (_sender, response) =
        call(&h.server, vec![setup("late", pb::AudioEncoding::Mulaw, 8000, pb::Pacing::Fast)]).await;
    let mut stream = response.unwrap();
    read_until(&mut stream, |m| reply_text(m) == Some("Hello")).await;
    let stopping = tokio::spawn(h.server.shutdown());
    let seen = read_until(&mut stream, is_call_ended).await;
    assert!(errors(&seen).iter().any(|(_, e)| e.fatal && e.message.contains("shutting down")), "{seen:?}");
    stopping.await.unwrap().unwrap();
}

fn packet() -> HandoffPacket {
    HandoffPacket {
        session_id: "s-1".into(),
        line: "acme-bank".into(),
        channel: "voice".into(),
        caller: Some("+15551234567".into()),
        reasons: vec![Reason::ExplicitRequest],
        summary: "Caller reports a stolen card and asked for a person.".into(),
        flow: Some("block_card".into()),
        slots: BTreeMap::from([("card_last_four".to_string(), "4821".to_string())]),
        intents: Vec::new(),
        sentiment_trend: vec![-0.4],
        transcript: Vec::new(),
        customer: None,
        queue: "cards".into(),
        skill: Some("fraud".into()),
        priority: 5,
    }
}

fn enqueue(queue: &SqliteStore, packet: &HandoffPacket) -> QueueEntry {
    queue
        .enqueue(&NewQueueEntry {
            session_id: packet.session_id.clone(),
            queue: packet.queue.clone(),
            skill: packet.skill.clone(),
            priority: packet.priority,
            packet: serde_json::to_value(packet).unwrap(),
        })
        .unwrap()
}

#[tokio::test]
async fn an_agent_claims_reads_and_completes_a_handoff() {
    let h = harness(1).await;
    let entry = enqueue(&h.queue, &packet());
    let mut agents = pb::agent_queue_client::AgentQueueClient::connect(h.server.endpoint()).await.unwrap();
    let listed = agents
        .list(pb::ListRequest { queue: "cards".into(), include_completed: false })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.entries.len(), 1);
    assert_eq!(listed.entries[0].summary, "Caller reports a stolen card and asked for a person.");
    assert_eq!(listed.entries[0].position, 1);

    let packet = agents.get_handoff(pb::GetHandoffRequest { id: entry.id }).await.unwrap().into_inner();
    assert_eq!(packet.reasons, ["explicit_request"]);
    assert_eq!(packet.slots.get("card_last_four").map(String::as_str), Some("4821"));
    assert_eq!(packet.skill, "fraud");
    let json: HandoffPacket = serde_json::from_str(&packet.packet_json).unwrap();
    assert_eq!(json.session_id, "s-1");

    let next = pb::claim_request::Target::Next(pb::NextEntry { queue: "cards".into(), skills: vec!["fraud".into()] });
    let claimed = agents
        .claim(pb::ClaimRequest { agent: "ana".into(), target: Some(next.clone()) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (claimed.id, claimed.status, claimed.claimed_by.as_str()),
        (entry.id, pb::QueueStatus::Claimed as i32, "ana")
    );
    let again = agents
        .claim(pb::ClaimRequest { agent: "bo".into(), target: Some(pb::claim_request::Target::Id(entry.id)) })
        .await;
    assert_eq!(again.unwrap_err().code(), Code::FailedPrecondition, "a claimed call cannot be claimed again");
    let none = agents.claim(pb::ClaimRequest { agent: "bo".into(), target: Some(next) }).await.unwrap_err();
    assert_eq!(none.code(), Code::NotFound);

    let done = pb::CompleteRequest { id: entry.id, outcome: "resolved".into(), notes: "card blocked".into() };
    let completed = agents.complete(done).await.unwrap().into_inner();
    assert_eq!((completed.status, completed.outcome.as_str()), (pb::QueueStatus::Completed as i32, "resolved"));
    assert!(completed.completed_at.is_some());
}

#[tokio::test]
async fn agent_queue_requests_missing_what_they_need_are_invalid_or_not_found() {
    let h = harness(1).await;
    let mut agents = pb::agent_queue_client::AgentQueueClient::connect(h.server.endpoint()).await.unwrap();
    let no_agent = agents.claim(pb::ClaimRequest { agent: " ".into(), target: Some(pb::claim_request::Target::Id(1)) });
    assert_eq!(no_agent.await.unwrap_err().code(), Code::InvalidArgument);
    let no_target = agents.claim(pb::ClaimRequest { agent: "ana".into(), target: None }).await.unwrap_err();
    assert!(no_target.message().contains("set id") && no_target.code() == Code::InvalidArgument, "{no_target:?}");
    let missing = agents.get_handoff(pb::GetHandoffRequest { id: 42 }).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert!(missing.message().contains("42"), "{missing:?}");
    let no_outcome = agents.complete(pb::CompleteRequest { id: 1, outcome: String::new(), notes: String::new() });
    assert_eq!(no_outcome.await.unwrap_err().code(), Code::InvalidArgument);
}

#[tokio::test]
async fn watching_the_queue_sends_it_now_and_again_when_it_changes() {
    let h = harness(1).await;
    let mut agents = pb::agent_queue_client::AgentQueueClient::connect(h.server.endpoint()).await.unwrap();
    let mut updates = agents.watch(pb::WatchRequest::default()).await.unwrap().into_inner();
    let first = updates.message().await.unwrap().unwrap();
    assert!(first.entries.is_empty());
    let entry = enqueue(&h.queue, &packet());
    let next = tokio::time::timeout(Duration::from_secs(5), updates.message()).await.unwrap().unwrap().unwrap();
    assert_eq!(next.entries.iter().map(|e| e.id).collect::<Vec<_>>(), [entry.id]);
    h.queue.claim(entry.id, "ana").unwrap();
    let claimed = tokio::time::timeout(Duration::from_secs(5), updates.message()).await.unwrap().unwrap().unwrap();
    assert_eq!(claimed.entries[0].status, pb::QueueStatus::Claimed as i32);
}
