//! The sample line's scripted conversations (tests/conversations/*.yml), replayed against the real
//! engine: real intent model, real knowledge base, real SQLite store, real local HTTP servers for
//! webhooks. One test per file, sharing one loaded line.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use helpline::dialogue::script::{self, Script};
use helpline::dialogue::Line;
use helpline::models::ModelDir;
use helpline::nlu::encoder::SentenceEncoder;

struct Shared {
    models: ModelDir,
    encoder: Arc<SentenceEncoder>,
    line: Arc<Line>,
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let models = ModelDir::locate(None).expect("models: run scripts/setup.sh");
        let encoder = Arc::new(SentenceEncoder::load(&models).expect("MiniLM encoder"));
        let line = Line::load(&repo("lines/acme-bank"), encoder.clone(), &models).unwrap_or_else(|e| panic!("{e}"));
        Shared { models, encoder, line: Arc::new(line) }
    })
}

fn replay(file: &str) {
    let shared = shared();
    let path = repo("tests/conversations").join(file);
    let script = Script::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let outcome =
        script::run_isolated(&shared.models, &shared.encoder, &shared.line, &repo("lines/acme-bank"), &script)
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        outcome.passed(),
        "{}:\n{}\n\nconversation:\n{}",
        outcome.name,
        outcome.failures.join("\n"),
        outcome.transcript.join("\n")
    );
}

#[test]
fn there_are_at_least_25_conversations_and_each_has_a_test() {
    let mut files: Vec<String> = std::fs::read_dir(repo("tests/conversations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "only {} conversations", files.len());
    let source = std::fs::read_to_string(repo("tests/conversations.rs")).unwrap();
    for file in files {
        assert!(source.contains(&format!("\"{file}\"")), "{file} has no test in tests/conversations.rs");
    }
}

#[test]
fn balance_choose_account() {
    replay("01-balance-choose-account.yml");
}

#[test]
fn balance_said_upfront() {
    replay("02-balance-said-upfront.yml");
}

#[test]
fn unknown_caller_identified() {
    replay("03-unknown-caller-identified.yml");
}

#[test]
fn unknown_caller_keys_phone() {
    replay("04-unknown-caller-keys-phone.yml");
}

#[test]
fn unknown_caller_not_found() {
    replay("05-unknown-caller-not-found.yml");
}

#[test]
fn lost_card_confirm() {
    replay("06-lost-card-confirm.yml");
}

#[test]
fn lost_card_correction() {
    replay("07-lost-card-correction.yml");
}

#[test]
fn card_already_blocked() {
    replay("08-card-already-blocked.yml");
}

#[test]
fn card_by_last_four() {
    replay("09-card-by-last-four.yml");
}

#[test]
fn activate_card() {
    replay("10-activate-card.yml");
}

#[test]
fn activate_card_keypad() {
    replay("11-activate-card-keypad.yml");
}

#[test]
fn activate_card_wrong_digits() {
    replay("12-activate-card-wrong-digits.yml");
}

#[test]
fn recent_transactions() {
    replay("13-recent-transactions.yml");
}

#[test]
fn dispute_webhook_fails() {
    replay("14-dispute-webhook-fails.yml");
}

#[test]
fn dispute_webhook_ok() {
    replay("15-dispute-webhook-ok.yml");
}

#[test]
fn dispute_cancelled() {
    replay("16-dispute-cancelled.yml");
}

#[test]
fn payment_due() {
    replay("17-payment-due.yml");
}

#[test]
fn payment_due_no_credit() {
    replay("18-payment-due-no-credit.yml");
}

#[test]
fn branch_hours() {
    replay("19-branch-hours.yml");
}

#[test]
fn faq_digression() {
    replay("20-faq-digression.yml");
}

#[test]
fn flow_digression() {
    replay("21-flow-digression.yml");
}

#[test]
fn update_address() {
    replay("22-update-address.yml");
}

#[test]
fn agent_request() {
    replay("23-agent-request.yml");
}

#[test]
fn angry_caller() {
    replay("24-angry-caller.yml");
}

#[test]
fn low_asr_confidence() {
    replay("25-low-asr-confidence.yml");
}

#[test]
fn out_of_scope() {
    replay("26-out-of-scope.yml");
}

#[test]
fn no_input() {
    replay("27-no-input.yml");
}

#[test]
fn no_match() {
    replay("28-no-match.yml");
}

#[test]
fn help_repeat_start_over() {
    replay("29-help-repeat-start-over.yml");
}

#[test]
fn returning_caller() {
    replay("30-returning-caller.yml");
}

#[test]
fn goodbye() {
    replay("31-goodbye.yml");
}

#[test]
fn low_intent_confidence() {
    replay("32-low-intent-confidence.yml");
}
