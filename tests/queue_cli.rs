//! `helpline queue` as an agent meets it: a store file seeded with the Acme Bank customers and a few
//! hand-offs, then the real binary listing, claiming and completing them, in text and JSON.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use helpline::store::{self, NewQueueEntry, QueueStatus, SqliteStore, Store};

fn helpline(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_helpline"))
        .args(args)
        .arg("--store")
        .arg(store)
        // The default store must not be what these tests touch.
        .env_remove("HELPLINE_STORE")
        .output()
        .expect("run helpline")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn succeeded(out: &Output) -> String {
    assert!(out.status.success(), "expected success: {}{}", stdout(out), stderr(out));
    stdout(out)
}

/// A fresh store with the sample customers and three hand-offs: an urgent dispute for Jane, an older
/// card activation for Omar, and an unrecognised caller in another queue.
fn seeded_store(name: &str) -> (PathBuf, [i64; 3]) {
    let dir = std::env::temp_dir().join(format!("helpline-queue-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("helpline.db");
    let db = SqliteStore::open(&path).expect("open store");
    let customers = Path::new(env!("CARGO_MANIFEST_DIR")).join("lines/acme-bank/customers.yml");
    store::seed(&db, &customers).expect("seed the sample customers");
    let jane = db.customer("cust-jane").unwrap().expect("jane");
    let omar = db.customer("cust-omar").unwrap().expect("omar");

    let omar_entry = db
        .enqueue(&NewQueueEntry {
            session_id: "s-omar".into(),
            queue: "cards".into(),
            skill: None,
            priority: 0,
            packet: json!({
                "caller": "+15557654321",
                "summary": "Omar Haddad wants to activate his new debit card ending 5566; verification failed twice.",
                "reasons": ["no_match"],
                "flow": "activate_card",
                "slots": {"card_last_four": "5566"},
                "transcript": [
                    {"speaker": "caller", "text": "I need to activate my new card"},
                    {"speaker": "assistant", "text": "Sure. What is your date of birth?"}
                ],
                "customer": omar,
            }),
        })
        .unwrap();
    let jane_entry = db
        .enqueue(&NewQueueEntry {
            session_id: "s-jane".into(),
            queue: "cards".into(),
            skill: Some("disputes".into()),
            priority: 2,
            packet: json!({
                "caller": "+15551234567",
                "summary": "Jane Doe disputes a $89.99 StreamFlix charge on the card ending 9876; asked for a person.",
                "reasons": ["explicit_request", "negative_sentiment"],
                "flow": "dispute_charge",
                "slots": {"amount": "89.99", "merchant": "StreamFlix"},
                "intents": [{"intent": "dispute_charge", "confidence": 0.91}],
                "transcript": [
                    {"speaker": "caller", "text": "There's a charge from StreamFlix I never made"},
                    {"speaker": "caller", "text": "my card number is 5500 0000 0000 9876"},
                    {"speaker": "caller", "text": "just get me a person"}
                ],
                "customer": jane,
            }),
        })
        .unwrap();
    let unknown_entry = db
        .enqueue(&NewQueueEntry {
            session_id: "s-unknown".into(),
            queue: "general".into(),
            skill: None,
            priority: 0,
            packet: json!({"caller": "+15550007777", "summary": "Caller asked about mortgage rates (out of scope)."}),
        })
        .unwrap();
    (path, [jane_entry.id, omar_entry.id, unknown_entry.id])
}

#[test]
fn list_shows_waiting_calls_in_service_order_with_positions_and_waits() {
    let (store, [jane, omar, unknown]) = seeded_store("list");
    let text = succeeded(&helpline(&store, &["queue", "list"]));
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 4, "a header and three entries:\n{text}");
    assert!(rows[0].contains("ID") && rows[0].contains("EST.WAIT") && rows[0].contains("SUMMARY"), "{text}");
    assert!(rows[1].trim_start().starts_with(&jane.to_string()) && rows[1].contains("StreamFlix"), "{text}");
    assert!(rows[1].contains("disputes") && rows[1].contains("+15551234567") && rows[1].contains("3m00s"), "{text}");
    assert!(rows[2].contains(&omar.to_string()) && rows[2].contains("6m00s"), "second in line: {text}");
    assert!(rows[3].contains(&unknown.to_string()) && rows[3].contains("general"), "{text}");

    let only_general = succeeded(&helpline(&store, &["queue", "list", "--queue", "general"]));
    assert_eq!(only_general.lines().count(), 2, "{only_general}");
    let empty = succeeded(&helpline(&store, &["queue", "list", "--queue", "loans"]));
    assert_eq!(empty.trim(), "no calls in queue loans");
}

#[test]
fn list_json_prints_one_entry_per_line() {
    let (store, [jane, omar, _]) = seeded_store("list-json");
    let text = succeeded(&helpline(&store, &["queue", "list", "--json", "--queue", "cards"]));
    let entries: Vec<Value> =
        text.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert_eq!(entries.len(), 2);
    assert_eq!((entries[0]["id"].as_i64(), entries[0]["position"].as_u64()), (Some(jane), Some(1)));
    assert_eq!((entries[1]["id"].as_i64(), entries[1]["estimated_wait_s"].as_u64()), (Some(omar), Some(360)));
    assert_eq!(entries[0]["status"], "waiting");
    assert_eq!(
        entries[0]["packet"]["transcript"][1]["text"], "my card number is [redacted ••••9876]",
        "a full card number never reaches the queue"
    );
}

#[test]
fn claim_takes_the_most_urgent_call_and_prints_its_packet() {
    let (store, [jane, omar, _]) = seeded_store("claim");
    let text = succeeded(&helpline(&store, &["queue", "claim", "--agent", "alice", "--queue", "cards"]));
    assert!(text.contains(&format!("claimed entry {jane} for alice")), "{text}");
    for needle in [
        "Jane Doe (cust-jane), +15551234567",
        "summary:    Jane Doe disputes a $89.99 StreamFlix charge",
        "reasons:    explicit_request, negative_sentiment",
        "flow:       dispute_charge",
        "amount = 89.99; merchant = StreamFlix",
        "dispute_charge 0.91",
        "caller:    just get me a person",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }

    // The next agent, asking for JSON, gets the next call.
    let out = succeeded(&helpline(&store, &["queue", "claim", "--agent", "bob", "--json"]));
    let entry: Value = serde_json::from_str(&out).expect("claim --json prints the entry");
    assert_eq!((entry["id"].as_i64(), entry["claimed_by"].as_str()), (Some(omar), Some("bob")));
    assert_eq!(entry["status"], "claimed");

    let db = SqliteStore::open(&store).unwrap();
    assert_eq!(db.queue_entry(jane).unwrap().unwrap().status, QueueStatus::Claimed);
}

#[test]
fn claiming_with_nothing_waiting_exits_1_with_a_clear_message() {
    let (store, [_, _, unknown]) = seeded_store("empty");
    for _ in 0..2 {
        succeeded(&helpline(&store, &["queue", "claim", "--agent", "carol", "--queue", "cards"]));
    }
    let out = helpline(&store, &["queue", "claim", "--agent", "carol", "--queue", "cards"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no call is waiting in queue cards"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());

    let out = helpline(&store, &["queue", "claim", "--agent", "carol", "--skill", "spanish", "--queue", "loans"]);
    assert!(stderr(&out).contains("no call is waiting in queue loans for skills spanish"), "{}", stderr(&out));

    // A specific entry claimed twice says what state it is in.
    succeeded(&helpline(&store, &["queue", "claim", &unknown.to_string(), "--agent", "dan"]));
    let out = helpline(&store, &["queue", "claim", &unknown.to_string(), "--agent", "erin"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("queue entry {unknown} is claimed; it must be waiting")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn complete_closes_a_claimed_call_with_its_outcome() {
    let (store, [jane, omar, _]) = seeded_store("complete");
    succeeded(&helpline(&store, &["queue", "claim", &jane.to_string(), "--agent", "alice"]));
    let text = succeeded(&helpline(
        &store,
        &["queue", "complete", &jane.to_string(), "--outcome", "resolved", "--notes", "provisional credit issued"],
    ));
    assert!(text.contains(&format!("completed entry {jane} (resolved) after")) && text.contains("alice"), "{text}");

    let out = helpline(&store, &["queue", "complete", &omar.to_string(), "--outcome", "resolved"]);
    assert_eq!(out.status.code(), Some(1), "a waiting call cannot be completed");
    assert!(stderr(&out).contains("must be claimed to complete"), "{}", stderr(&out));

    succeeded(&helpline(&store, &["queue", "claim", &omar.to_string(), "--agent", "bob"]));
    let out =
        succeeded(&helpline(&store, &["queue", "complete", &omar.to_string(), "--outcome", "callback", "--json"]));
    let entry: Value = serde_json::from_str(&out).expect("complete --json prints the entry");
    assert_eq!((entry["status"].as_str(), entry["outcome"].as_str()), (Some("completed"), Some("callback")));

    let open = succeeded(&helpline(&store, &["queue", "list"]));
    assert_eq!(open.lines().count(), 2, "completed calls are hidden by default:\n{open}");
    let all = succeeded(&helpline(&store, &["queue", "list", "--all"]));
    assert_eq!(all.lines().count(), 4, "{all}");
    assert!(all.contains("completed"), "{all}");
}

#[test]
fn a_corrupt_store_file_is_a_clear_error_not_a_crash() {
    let dir = std::env::temp_dir().join(format!("helpline-queue-cli-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("garbage.db");
    std::fs::write(&path, vec![0x5a; 4096]).unwrap();
    let out = helpline(&path, &["queue", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("garbage.db") && err.contains("corrupt") && !err.contains("panicked"), "{err}");
}

#[test]
fn agents_claiming_at_once_from_separate_processes_never_share_a_call() {
    let (store, first) = seeded_store("race");
    let db = SqliteStore::open(&store).unwrap();
    let mut entries: Vec<i64> = first.to_vec();
    for n in 0..9 {
        let entry = NewQueueEntry {
            session_id: format!("s-race-{n}"),
            queue: "general".into(),
            skill: None,
            priority: n % 2,
            packet: json!({"summary": format!("caller {n}")}),
        };
        entries.push(db.enqueue(&entry).unwrap().id);
    }
    drop(db);
    // One process per waiting call plus two more, all started before any finishes.
    let agents: Vec<_> = (0..entries.len() + 2)
        .map(|n| {
            Command::new(env!("CARGO_BIN_EXE_helpline"))
                .args(["queue", "claim", "--json", "--agent", &format!("agent-{n}"), "--store"])
                .arg(&store)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start an agent")
        })
        .collect();
    let mut claimed = Vec::new();
    let mut turned_away = 0;
    for agent in agents {
        let out = agent.wait_with_output().expect("agent finished");
        match out.status.code() {
            Some(0) => claimed.push(serde_json::from_str::<Value>(&stdout(&out)).unwrap()["id"].as_i64().unwrap()),
            Some(1) if stderr(&out).contains("no call is waiting") => turned_away += 1,
            _ => panic!("agent failed: {}", stderr(&out)),
        }
    }
    claimed.sort_unstable();
    entries.sort_unstable();
    assert_eq!(claimed, entries, "each call claimed once, none twice");
    assert_eq!(turned_away, 2);
}
