//! The dialogue engine's edges, with the real sample line: malformed line files are refused with file
//! and line, a finished session takes no more turns, two turns racing on one session cannot both
//! land, a failure elsewhere hands the caller off with the transcript kept, and `helpline chat`
//! drives the same engine from a pipe.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};

use helpline::dialogue::{CallerInput, Channel, DialogueError, Engine, Event, Line, SessionStart};
use helpline::handoff::Reason;
use helpline::models::ModelDir;
use helpline::nlu::encoder::SentenceEncoder;
use helpline::store::{self, SqliteStore, Store, StoreError};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

struct Shared {
    models: ModelDir,
    encoder: Arc<SentenceEncoder>,
    line: Arc<Line>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let models = ModelDir::locate(None).expect("models: run scripts/setup.sh");
        let encoder = Arc::new(SentenceEncoder::load(&models).expect("encoder"));
        let line = Line::load(&repo("lines/acme-bank"), encoder.clone(), &models).unwrap_or_else(|e| panic!("{e}"));
        Shared { models, encoder, line: Arc::new(line) }
    })
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("helpline-dialogue-{name}-{}-{:x}", std::process::id(), fastrand::u32(..)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn engine(name: &str) -> (Engine, Arc<dyn Store>) {
    let store = SqliteStore::open(&temp_dir(name).join("helpline.db")).unwrap();
    store::seed(&store, &repo("lines/acme-bank/customers.yml")).unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    (Engine::new(shared().line.clone(), store.clone()), store)
}

fn start(engine: &Engine, caller: &str) -> helpline::dialogue::Session {
    let start = SessionStart {
        session_id: None,
        channel: Channel::Text,
        caller: Some(caller.into()),
        called: None,
        metadata: BTreeMap::new(),
    };
    engine.start(start).unwrap().0
}

fn say(text: &str) -> CallerInput {
    CallerInput::Utterance { text: text.into(), asr_confidence: Some(0.9) }
}

/// A copy of the sample line with `flows.yml` replaced by `flows`; the error loading it.
fn load_error_with_flows(flows: &str) -> String {
    let dir = temp_dir("line");
    for file in ["line.yml", "nlu.yml", "faq.yml", "customers.yml"] {
        std::fs::copy(repo("lines/acme-bank").join(file), dir.join(file)).unwrap();
    }
    std::fs::write(dir.join("flows.yml"), flows).unwrap();
    let shared = shared();
    match Line::load(&dir, shared.encoder.clone(), &shared.models) {
        Ok(_) => panic!("the line loaded despite:\n{flows}"),
        Err(error) => error.to_string(),
    }
}

const GOOD_HEAD: &str = "version: 1\nflows:\n  talk_to_agent:\n    steps:\n      - handoff: {reason: explicit_request}\n";

#[test]
fn a_malformed_flow_file_is_refused_with_its_file_line_and_what_is_allowed() {
    let unknown_key = load_error_with_flows(&format!("{GOOD_HEAD}  check_balance:\n    steps:\n      - sya: hello\n"));
    assert!(unknown_key.contains("flows.yml:8"), "{unknown_key}");
    assert!(unknown_key.contains("unknown key `sya`") && unknown_key.contains("say"), "{unknown_key}");

    let unknown_slot =
        load_error_with_flows(&format!("{GOOD_HEAD}  check_balance:\n    steps:\n      - say: Your balance is {{amount}}\n"));
    assert!(unknown_slot.contains("flows.yml:8"), "{unknown_slot}");
    assert!(unknown_slot.contains("never collects or sets"), "{unknown_slot}");

    let unreachable = load_error_with_flows(&format!("{GOOD_HEAD}  orphan:\n    steps:\n      - say: nobody comes here\n"));
    assert!(unreachable.contains("flows.yml:6") && unreachable.contains("unreachable"), "{unreachable}");

    let unknown_action = load_error_with_flows(&format!("{GOOD_HEAD}  check_balance:\n    steps:\n      - action: launch_rocket\n"));
    assert!(unknown_action.contains("launch_rocket") && unknown_action.contains("lookup_balance"), "{unknown_action}");

    let unknown_goto = load_error_with_flows(&format!("{GOOD_HEAD}  check_balance:\n    steps:\n      - goto: nowhere\n"));
    assert!(unknown_goto.contains("no step with id `nowhere`"), "{unknown_goto}");

    let two_things = load_error_with_flows(&format!(
        "{GOOD_HEAD}  check_balance:\n    steps:\n      - say: hi\n        action: lookup_balance\n"
    ));
    assert!(two_things.contains("does one thing"), "{two_things}");

    let unknown_intent =
        load_error_with_flows(&format!("{GOOD_HEAD}  balance:\n    intent: money_please\n    steps:\n      - say: hi\n"));
    assert!(unknown_intent.contains("money_please") && unknown_intent.contains("check_balance"), "{unknown_intent}");

    let bad_condition = load_error_with_flows(&format!(
        "{GOOD_HEAD}  check_balance:\n    steps:\n      - say: hi\n        if: profile = 'x'\n"
    ));
    assert!(bad_condition.contains("cannot read condition"), "{bad_condition}");
}

#[test]
fn a_finished_session_takes_no_more_turns_and_says_so() {
    let (engine, _) = engine("finished");
    let mut session = start(&engine, "+15550001111");
    let events = engine.turn(&mut session, say("goodbye")).unwrap();
    assert!(events.iter().any(|e| matches!(e, Event::Ended { .. })), "{events:?}");
    let error = engine.turn(&mut session, say("hello again")).unwrap_err();
    assert!(matches!(error, DialogueError::Finished(_)), "{error}");
    assert!(error.to_string().contains("has ended"), "{error}");
    let resumed = engine.resume(session.id()).err().expect("a finished session cannot be resumed");
    assert!(matches!(resumed, DialogueError::Finished(_)), "{resumed}");
}

#[test]
fn two_turns_racing_on_one_session_cannot_both_land() {
    let (engine, store) = engine("race");
    let first = start(&engine, "+15550001111");
    let id = first.id().to_string();
    // The same conversation open in two places (a chat window and a call leg).
    let mut here = engine.resume(&id).unwrap();
    let mut there = engine.resume(&id).unwrap();
    engine.turn(&mut here, say("what's my balance")).unwrap();
    let error = engine.turn(&mut there, say("i lost my card")).unwrap_err();
    assert!(matches!(error, DialogueError::Store(StoreError::Conflict { .. })), "{error}");
    // The state is the first turn's: the balance flow is waiting for an account.
    let mut again = engine.resume(&id).unwrap();
    assert_eq!(again.flow(), Some("check_balance"));
    let events = engine.turn(&mut again, say("savings")).unwrap();
    assert!(events.iter().any(|e| matches!(e, Event::Action { name, ok: true, .. } if name == "lookup_balance")));
    let lines = store.transcript(&id).unwrap();
    assert!(!lines.iter().any(|t| t.text.contains("lost my card")), "the refused turn left nothing behind");
}

#[test]
fn a_failure_elsewhere_hands_off_with_an_apology_and_the_transcript_kept() {
    let (engine, store) = engine("fail");
    let mut session = start(&engine, "+15551234567");
    engine.turn(&mut session, say("my debit card was stolen")).unwrap();
    let events = engine.fail(&mut session, "speech synthesis failed: the voice model stopped");
    let replies: Vec<&str> =
        events.iter().filter_map(|e| if let Event::Reply(r) = e { Some(r.text.as_str()) } else { None }).collect();
    assert!(replies.iter().any(|r| r.contains("something went wrong")), "{replies:?}");
    let ticket = events
        .iter()
        .find_map(|e| if let Event::Handoff(t) = e { Some(t.clone()) } else { None })
        .expect("a hand-off");
    assert_eq!(ticket.packet.reasons, vec![Reason::SystemError]);
    assert_eq!(ticket.packet.flow.as_deref(), Some("lost_or_stolen_card"));
    assert_eq!(ticket.packet.slots.get("card").map(String::as_str), Some("debit card ending 1234"));
    assert!(ticket.packet.transcript.iter().any(|t| t.speaker == "caller" && t.text == "my debit card was stolen"));
    assert!(ticket.packet.transcript.iter().any(|t| t.speaker == "system" && t.text.contains("speech synthesis failed")));
    assert!(session.is_finished());
    let entry = store.queue_entry(ticket.entry.id).unwrap().expect("in the queue");
    assert_eq!(entry.packet["reasons"][0], "system_error");
}

#[test]
fn a_returning_caller_is_greeted_by_name_and_the_contact_is_recorded() {
    let (engine, store) = engine("contact");
    let mut session = start(&engine, "+15557654321");
    engine.turn(&mut session, say("activate my card")).unwrap();
    engine.turn(&mut session, CallerInput::Digits("5566#".into())).unwrap();
    engine.turn(&mut session, say("no that's all")).unwrap();
    assert!(session.is_finished());
    let omar = store.customer("cust-omar").unwrap().unwrap();
    let contact = omar.last_contact.expect("the contact was recorded");
    assert_eq!(contact.topic.as_deref(), Some("activate_card"));
    assert_eq!(contact.outcome, "resolved");
    assert_eq!(omar.cards[0].status, helpline::store::CardStatus::Active);
}

#[test]
fn chat_reads_turns_from_a_pipe_and_prints_one_json_event_per_line() {
    let dir = temp_dir("chat");
    let mut child = Command::new(env!("CARGO_BIN_EXE_helpline"))
        .args(["chat", "--caller", "+15551234567", "--json", "--line"])
        .arg(repo("lines/acme-bank"))
        .arg("--store")
        .arg(dir.join("helpline.db"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"my debit card was stolen\nyes\nno thanks\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events: Vec<serde_json::Value> =
        String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"reply"), "{kinds:?}");
    assert!(kinds.contains(&"understood") && kinds.contains(&"action"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"ended"), "{kinds:?}");
    assert!(events.iter().any(|e| e["event"] == "action" && e["name"] == "block_card" && e["ok"] == true));
    assert_eq!(events.last().unwrap()["outcome"], "resolved");
}
