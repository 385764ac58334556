//! The gRPC wire end to end: the real server (Acme Bank's sample line, real models, a fresh SQLite
//! store) on a loopback port, driven by real gRPC clients: health, reflection, every bad input the
//! protocol names, whole calls from recorded caller audio (several turns, a hand-off read back from the
//! agents' queue, DTMF filling a slot, a caller barging in over a reply in real time), and a Python
//! client generated from the proto.
//!
//! One server per test binary, so the models load once; tests share it (the call-limit test has its own
//! one-slot server over the same switchboard).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Status, Streaming};

use helpline::audio;
use helpline::call::{EndReason, Pacing};
use helpline::models::ModelDir;
use helpline::service::proto as pb;
use helpline::service::{
    self, Assistant, CallPlan, CallReport, CallerTurn, RunningServer, ServeConfig, ServeOverrides,
};
use helpline::store::Store;

struct Shared {
    runtime: tokio::runtime::Runtime,
    server: RunningServer,
    /// A second server over the same switchboard that takes one call at a time.
    one_slot: RunningServer,
    /// Both servers' store: each call's record says how it ended.
    store: Arc<dyn Store>,
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        // RUST_LOG=helpline=debug shows what the server did.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let store = std::env::temp_dir().join(format!("helpline-service-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&store);
        let config = ServeConfig::resolve(
            None,
            ServeOverrides {
                line: Some(repo("lines/acme-bank")),
                store: Some(store.join("helpline.db")),
                max_calls: Some(8),
                ..Default::default()
            },
        )
        .expect("config");
        let models = ModelDir::locate(None).expect("models (run scripts/setup.sh)");
        let assistant = Assistant::load(&config, &models).expect("load the line and models");
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        let store = assistant.store.clone();
        let (server, one_slot) = runtime.block_on(async {
            let listener = service::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
            let server =
                service::start(listener, assistant.switchboard.clone(), assistant.store.clone(), 8).await.unwrap();
            let listener = service::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
            let one_slot = service::start(listener, assistant.switchboard, assistant.store, 1).await.unwrap();
            (server, one_slot)
        });
        Shared { runtime, server, one_slot, store }
    })
}

fn run<T>(test: impl std::future::Future<Output = T>) -> T {
    shared().runtime.block_on(test)
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
            caller_number: "+15551234567".into(),
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

/// Open a call whose first messages are `first`; the sender sends more.
async fn open(
    server: &RunningServer,
    first: Vec<pb::CallerMessage>,
) -> (mpsc::Sender<pb::CallerMessage>, Result<Streaming<pb::AssistantMessage>, Status>) {
    let mut client = pb::phone_line_client::PhoneLineClient::new(channel(server).await);
    let (sender, requests) = mpsc::channel(512);
    for m in first {
        sender.send(m).await.unwrap();
    }
    let response = client.converse(ReceiverStream::new(requests)).await.map(|r| r.into_inner());
    (sender, response)
}

/// Read until `done` (that message included); fails after 60 s (models on a busy 2-core machine).
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
    tokio::time::timeout(Duration::from_secs(60), reading).await.expect("timed out");
    seen
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

fn is_error(m: &pb::AssistantMessage) -> bool {
    matches!(m.event, Some(pb::assistant_message::Event::Error(_)))
}

fn is_reply_audio(m: &pb::AssistantMessage) -> bool {
    matches!(m.event, Some(pb::assistant_message::Event::ReplyAudio(_)))
}

fn speech(file: &str) -> CallerTurn {
    CallerTurn::Speech {
        source: file.into(),
        audio: audio::wav::read(&repo(&format!("audio-samples/{file}"))).unwrap(),
    }
}

fn place(plan: CallPlan) -> CallReport {
    run(async { service::place_call(&shared().server.endpoint(), plan, |_| {}).await.expect("call") })
}

/// How the store's record of a call says it ended (None while it goes on).
fn end_reason(call_id: &str) -> Option<String> {
    shared().store.call(call_id).expect("store").and_then(|record| record.end_reason)
}

fn fast_call(call_id: &str, caller: Option<&str>, turns: Vec<CallerTurn>) -> CallPlan {
    CallPlan { caller: caller.map(str::to_string), pacing: Pacing::Fast, ..CallPlan::new(call_id, turns) }
}

#[test]
fn health_reports_both_services_serving() {
    run(async {
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel(&shared().server).await);
        for service in ["helpline.v1.PhoneLine", "helpline.v1.AgentQueue"] {
            let request = tonic_health::pb::HealthCheckRequest { service: service.into() };
            let status = health.check(request).await.unwrap().into_inner().status;
            assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32, "{service}");
        }
    })
}

#[test]
fn reflection_lists_the_services_and_describes_them() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    run(async {
        let mut reflection = ServerReflectionClient::new(channel(&shared().server).await);
        let ask = |request| ServerReflectionRequest { host: String::new(), message_request: Some(request) };
        let requests = [
            ask(MessageRequest::ListServices(String::new())),
            ask(MessageRequest::FileContainingSymbol("helpline.v1.AgentQueue".into())),
        ];
        let mut answers = reflection.server_reflection_info(tokio_stream::iter(requests)).await.unwrap().into_inner();
        let Some(MessageResponse::ListServicesResponse(list)) =
            answers.message().await.unwrap().unwrap().message_response
        else {
            panic!("not a service list")
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for expected in ["helpline.v1.PhoneLine", "helpline.v1.AgentQueue", "grpc.health.v1.Health"] {
            assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
        }
        let Some(MessageResponse::FileDescriptorResponse(files)) =
            answers.message().await.unwrap().unwrap().message_response
        else {
            panic!("no file descriptor for helpline.v1.AgentQueue")
        };
        assert!(!files.file_descriptor_proto.is_empty());
    })
}

#[test]
fn a_call_that_does_not_open_with_its_setup_is_invalid_argument() {
    run(async {
        let (_sender, response) = open(&shared().server, vec![audio("", vec![0xff; 160], 0)]).await;
        let status = response.expect_err("audio first must be refused");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "the first message of a call must be CallSetup; got AudioChunk");
    })
}

#[test]
fn an_unsupported_rate_is_invalid_argument_naming_the_rates_taken() {
    run(async {
        let first = vec![setup("rate", pb::AudioEncoding::Mulaw, 11_025, pb::Pacing::Fast)];
        let status = open(&shared().server, first).await.1.expect_err("11025 Hz must be refused");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("11025") && status.message().contains("8000"), "{status:?}");
        assert!(status.message().contains("16000"), "{status:?}");
    })
}

#[test]
fn odd_oversized_and_empty_chunks_are_reported_in_the_stream_and_the_call_goes_on() {
    run(async {
        let first = vec![
            setup("chunks", pb::AudioEncoding::Linear16, 16_000, pb::Pacing::Fast),
            audio("empty", Vec::new(), 0),
            audio("odd", vec![0; 641], 1),
            audio("long", vec![0; 48_000], 2), // 1.5 s of 16 kHz linear PCM
        ];
        let (sender, response) = open(&shared().server, first).await;
        let mut stream = response.unwrap();
        let mut count = 0;
        let seen = read_until(&mut stream, |m| {
            count += usize::from(is_error(m));
            count == 3
        })
        .await;
        let errors = errors(&seen);
        assert_eq!(errors[0].0, "empty", "the wire's own error echoes the message id");
        let text: Vec<&str> = errors.iter().map(|(_, e)| e.message.as_str()).collect();
        assert!(text.iter().any(|t| t.contains("641 bytes")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("1000 ms")), "{text:?}");
        for (_, error) in &errors {
            assert_eq!(error.code, pb::ErrorCode::InvalidInput as i32, "{error:?}");
            assert!(!error.fatal, "{error:?}");
        }
        sender.send(message("bye", pb::caller_message::Message::HangUp(pb::HangUp {}))).await.unwrap();
        let seen =
            read_until(&mut stream, |m| matches!(m.event, Some(pb::assistant_message::Event::CallEnded(_)))).await;
        assert_eq!(seen.last().unwrap().client_message_id, "bye");
        assert_eq!(end_reason("chunks").as_deref(), Some("caller_hung_up"), "bad chunks did not end the call");
    })
}

#[test]
fn keys_outside_the_keypad_are_reported_in_the_stream() {
    run(async {
        let dtmf = pb::caller_message::Message::Dtmf(pb::Dtmf { digits: "12x".into() });
        let first = vec![setup("keys", pb::AudioEncoding::Mulaw, 8000, pb::Pacing::Fast), message("bad-keys", dtmf)];
        let mut stream = open(&shared().server, first).await.1.unwrap();
        let seen = read_until(&mut stream, is_error).await;
        let (id, error) = &errors(&seen)[0];
        assert_eq!(id, "bad-keys");
        assert!(error.message.contains("'x'") && !error.fatal, "{error:?}");
    })
}

#[test]
fn audio_faster_than_real_time_on_a_realtime_call_is_refused_in_the_stream() {
    run(async {
        let mut first = vec![setup("rush", pb::AudioEncoding::Mulaw, 8000, pb::Pacing::Realtime)];
        first.extend((0..250).map(|i| audio("", vec![0xff; 160], i))); // five seconds at once
        let mut stream = open(&shared().server, first).await.1.unwrap();
        let seen = read_until(&mut stream, is_error).await;
        let (_, error) = errors(&seen).remove(0);
        assert_eq!(error.code, pb::ErrorCode::TooFast as i32, "{error:?}");
    })
}

#[test]
fn calls_beyond_the_limit_get_resource_exhausted_and_a_vanished_client_frees_its_slot() {
    run(async {
        let server = &shared().one_slot;
        let (sender, response) =
            open(server, vec![setup("first", pb::AudioEncoding::Mulaw, 8000, pb::Pacing::Fast)]).await;
        let mut stream = response.unwrap();
        // Mid-reply: the greeting's first audio has arrived, more is coming.
        read_until(&mut stream, is_reply_audio).await;
        let status = open(server, vec![setup("second", pb::AudioEncoding::Mulaw, 8000, pb::Pacing::Fast)])
            .await
            .1
            .expect_err("the only slot is taken");
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(status.message().contains("--max-calls"), "{status:?}");

        // The platform vanishes mid-reply: the call ends (client_gone) and frees its slot; the server stays up.
        drop(stream);
        drop(sender);
        let mut next = None;
        for _ in 0..300 {
            match open(server, vec![setup("third", pb::AudioEncoding::Mulaw, 8000, pb::Pacing::Fast)]).await {
                (sender, Ok(stream)) => {
                    next = Some((sender, stream));
                    break;
                }
                (_, Err(status)) if status.code() == Code::ResourceExhausted => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                (_, Err(status)) => panic!("{status:?}"),
            }
        }
        let (_sender, mut next) = next.expect("the vanished call's slot is free within 30 s");
        read_until(&mut next, is_reply_audio).await;
        assert_eq!(end_reason("first").as_deref(), Some("client_gone"), "the call record says how it ended");
    })
}

/// Sends bytes that are not a protobuf message as the gRPC request body.
#[derive(Clone, Copy)]
struct GarbageCodec;

struct GarbageEncoder;

impl tonic::codec::Encoder for GarbageEncoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Codec for GarbageCodec {
    type Encode = Vec<u8>;
    type Decode = pb::AssistantMessage;
    type Encoder = GarbageEncoder;
    type Decoder = <tonic_prost::ProstCodec<pb::CallerMessage, pb::AssistantMessage> as tonic::codec::Codec>::Decoder;
    fn encoder(&mut self) -> GarbageEncoder {
        GarbageEncoder
    }
    fn decoder(&mut self) -> Self::Decoder {
        tonic::codec::Codec::decoder(&mut tonic_prost::ProstCodec::<pb::CallerMessage, pb::AssistantMessage>::default())
    }
}

#[test]
fn garbage_bytes_get_a_grpc_error_and_the_server_survives() {
    run(async {
        let mut grpc = tonic::client::Grpc::new(channel(&shared().server).await);
        grpc.ready().await.unwrap();
        let path = tonic::codegen::http::uri::PathAndQuery::from_static("/helpline.v1.PhoneLine/Converse");
        let garbage = vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99];
        let request = tonic::Request::new(tokio_stream::iter([garbage]));
        let result = grpc.streaming(request, path, GarbageCodec).await;
        let status = match result {
            Err(status) => status,
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Err(status) => break status,
                        Ok(Some(_)) => {}
                        Ok(None) => panic!("garbage was answered without an error"),
                    }
                }
            }
        };
        assert_ne!(status.code(), Code::Ok);
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel(&shared().server).await);
        let request = tonic_health::pb::HealthCheckRequest { service: "helpline.v1.PhoneLine".into() };
        assert!(health.check(request).await.is_ok(), "the server must survive garbage");
    })
}

#[test]
fn a_known_caller_blocks_a_stolen_card_over_three_spoken_turns() {
    let report = place(fast_call(
        "three-turns",
        Some("+15551234567"),
        vec![speech("caller-stolen-card-8k.wav"), speech("caller-yes-8k.wav"), speech("caller-no-thanks-8k.wav")],
    ));
    assert_eq!(report.end, Some(EndReason::Completed), "{:#?}", report.events);
    assert!(!report.greeting.is_empty(), "the assistant greets first");
    let heard = report.turns[0].transcript.join(" ").to_lowercase();
    assert!(heard.contains("stolen"), "heard {heard:?}");
    assert!(report.turns[0].replies.join(" ").contains("block"), "{:?}", report.turns[0]);
    assert!(report.turns[1].replies.join(" ").contains("blocked"), "{:?}", report.turns[1]);
    for (i, turn) in report.turns.iter().enumerate() {
        assert!(turn.latency_ms.is_some(), "turn {} got no reply audio: {turn:?}", i + 1);
    }
    assert_eq!(report.server_timings.len(), 3, "one timing record per caller turn");
    assert!(report.reply_seconds() > 5.0, "the replies were heard: {:.1} s", report.reply_seconds());
}

#[test]
fn a_caller_asking_for_a_person_is_handed_off_and_the_agent_reads_the_packet() {
    let report = place(fast_call("agent", Some("+15551234567"), vec![speech("caller-agent-8k.wav")]));
    let handoff = report.handoff.clone().unwrap_or_else(|| panic!("no hand-off: {:#?}", report.events));
    assert_eq!(report.end, Some(EndReason::HandedOff));
    assert!(handoff.reasons.iter().any(|r| r == "explicit_request"), "{handoff:?}");
    let packet = run(async {
        let mut agents = pb::agent_queue_client::AgentQueueClient::new(channel(&shared().server).await);
        let request = pb::GetHandoffRequest { id: handoff.queue_entry_id };
        agents.get_handoff(request).await.expect("the packet").into_inner()
    });
    assert_eq!(packet.queue_entry_id, handoff.queue_entry_id);
    assert_eq!(packet.caller, "+15551234567");
    assert!(packet.reasons.iter().any(|r| r == "explicit_request"));
    assert!(
        packet.transcript.iter().any(|t| t.speaker == "caller" && t.text.to_lowercase().contains("agent")),
        "{packet:?}"
    );
    let json: serde_json::Value = serde_json::from_str(&packet.packet_json).unwrap();
    assert_eq!(json["queue"], serde_json::Value::String(packet.queue.clone()));
}

/// Barge-in on the wire, in real time as a phone line sends it: one second into the greeting the caller
/// says "I want to speak to an agent". The server names the reply to stop as soon as it detects the
/// speech, sends no more of that reply's audio, and the interruption is a real turn (a hand-off).
#[test]
fn a_caller_speaking_over_the_greeting_stops_it_and_is_heard() {
    use pb::assistant_message::Event;
    run(async {
        let first = vec![setup("barge-in", pb::AudioEncoding::Mulaw, 8000, pb::Pacing::Realtime)];
        let (sender, response) = open(&shared().server, first).await;
        let mut stream = response.unwrap();
        let mut heard = read_until(&mut stream, is_reply_audio).await;

        // One second more of the greeting, the words, then five seconds of quiet while the caller waits.
        const RATE: u32 = 8000;
        let words = audio::wav::read(&repo("audio-samples/caller-agent-8k.wav")).unwrap().to_rate(RATE).unwrap();
        let mut samples = vec![0.0; RATE as usize];
        samples.extend(&words.samples);
        samples.extend(vec![0.0; 5 * RATE as usize]);
        let frames: Vec<Vec<u8>> =
            audio::frames::frames(&samples, RATE).map(|frame| audio::Encoding::Mulaw.encode(&frame)).collect();
        let caller = tokio::spawn(async move {
            let mut frame_clock = tokio::time::interval(Duration::from_millis(audio::FRAME_MS.into()));
            for (sequence, frame) in frames.into_iter().enumerate() {
                frame_clock.tick().await;
                if sender.send(audio("", frame, sequence as u64)).await.is_err() {
                    break;
                }
            }
            sender // the caller stays on the line until the call has ended
        });
        heard.extend(read_until(&mut stream, |m| matches!(m.event, Some(Event::CallEnded(_)))).await);
        drop(caller.await.unwrap());

        let log = format!("{heard:#?}");
        let (stop_index, stopped) = heard
            .iter()
            .enumerate()
            .find_map(|(i, m)| match &m.event {
                Some(Event::StopPlayback(stop)) => Some((i, stop.reply_id)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no reply was stopped:\n{log}"));
        let announced = heard[..stop_index]
            .iter()
            .any(|m| matches!(&m.event, Some(Event::ReplyText(r)) if r.reply_id == stopped && r.barge_in_allowed));
        assert!(announced, "the stopped reply {stopped} is one the caller was hearing:\n{log}");
        let after_stop = heard[stop_index..]
            .iter()
            .any(|m| matches!(&m.event, Some(Event::ReplyAudio(a)) if a.reply_id == stopped));
        assert!(!after_stop, "audio of reply {stopped} followed its StopPlayback:\n{log}");
        let speech_at = heard[..stop_index]
            .iter()
            .rev()
            .find(|m| matches!(m.event, Some(Event::SpeechStarted(_))))
            .map(|m| m.at_ms)
            .unwrap_or_else(|| panic!("StopPlayback before any SpeechStarted:\n{log}"));
        assert!(
            heard[stop_index].at_ms - speech_at <= 200,
            "the reply was stopped {} ms after the speech was detected:\n{log}",
            heard[stop_index].at_ms - speech_at
        );
        let finals: Vec<&str> = heard
            .iter()
            .filter_map(|m| match &m.event {
                Some(Event::FinalTranscript(t)) => Some(t.text.as_str()),
                _ => None,
            })
            .collect();
        assert!(finals.iter().any(|t| t.to_lowercase().contains("agent")), "{finals:?}");
        assert!(heard.iter().any(|m| matches!(m.event, Some(Event::Handoff(_)))), "{log}");
        assert_eq!(end_reason("barge-in").as_deref(), Some("handed_off"));
    })
}

/// Real people's recordings (not synthesised), sent as a phone line carries them (8 kHz mu-law): asked
/// twice for something the bank's line does not do, the assistant hands the caller to a person.
#[test]
fn real_recorded_callers_asking_what_the_line_cannot_do_are_handed_to_a_person() {
    let report = place(fast_call(
        "real-voices",
        Some("+15551234567"),
        vec![speech("clips/whatstheweatherlike.wav"), speech("clips/brooklyn_bridge_audio.wav")],
    ));
    let heard = |turn: usize| report.turns[turn].transcript.join(" ").to_lowercase();
    assert!(heard(0).contains("weather"), "{:?}", report.turns[0]);
    assert!(heard(1).contains("bridge"), "{:?}", report.turns[1]);
    assert!(report.turns[0].replies.join(" ").contains("not something I can help with"), "{:?}", report.turns[0]);
    let handoff = report.handoff.clone().unwrap_or_else(|| panic!("no hand-off: {:#?}", report.events));
    assert!(handoff.reasons.iter().any(|r| r == "out_of_scope"), "{handoff:?}");
    assert_eq!(report.end, Some(EndReason::HandedOff));
}

#[test]
fn keyed_digits_fill_the_phone_number_of_an_unknown_caller() {
    let report = place(fast_call(
        "keys-fill-a-slot",
        None,
        vec![speech("caller-stolen-card-8k.wav"), CallerTurn::Dtmf("5551234567#".into())],
    ));
    assert!(report.turns[0].replies.join(" ").contains("phone number"), "{:?}", report.turns[0]);
    let after_keys = report.turns[1].replies.join(" ");
    assert!(after_keys.contains("Jane"), "the keyed number identifies Jane: {after_keys:?}");
    assert!(report.turns[1].latency_ms.is_some());
}

#[test]
fn a_python_client_generated_from_the_proto_places_a_call() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let importable = std::process::Command::new(&python).args(["-c", "import grpc_tools, grpc"]).output();
    match importable {
        Ok(out) if out.status.success() => {}
        _ => panic!("{python} cannot import grpc_tools and grpc; run scripts/setup.sh (it pip-installs grpcio-tools)"),
    }
    let server = shared().server.addr().to_string();
    let out = std::process::Command::new(&python)
        .arg(repo("tests/python/place_call.py"))
        .args(["--server", &server, "--wav"])
        .arg(repo("audio-samples/caller-stolen-card-8k.wav"))
        .output()
        .expect("run the Python client");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the Python call failed:\n{stdout}\n{stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("a JSON summary");
    assert_eq!(summary["ended"], "END_REASON_CALLER_HUNG_UP", "{summary}");
    assert!(summary["reply_audio_bytes"].as_u64().unwrap_or(0) > 0, "{summary}");
}

#[test]
fn the_call_command_prints_the_conversation_as_json_lines() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_helpline"))
        .args(["call", "--json", "--server", &shared().server.addr().to_string(), "--caller", "+15551234567"])
        .arg(repo("audio-samples/caller-stolen-card-8k.wav"))
        .output()
        .expect("run helpline call");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    for kind in ["connected", "caller_turn", "final_transcript", "reply_text", "turn_latency", "ended"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
}
