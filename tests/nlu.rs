//! End-to-end understanding with the real sentence encoder: a small model is trained on the committed
//! Acme Bank data once, and every test asks it about utterances it never saw.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use helpline::models::ModelDir;
use helpline::nlu::classifier::TrainConfig;
use helpline::nlu::data::TrainingData;
use helpline::nlu::encoder::SentenceEncoder;
use helpline::nlu::{self, report, Understanding};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn understanding() -> &'static Understanding {
    static MODEL: OnceLock<Understanding> = OnceLock::new();
    MODEL.get_or_init(|| {
        let models = ModelDir::locate(None).expect("models (run scripts/setup.sh)");
        let encoder = Arc::new(SentenceEncoder::load(&models).expect("sentence encoder"));
        let (training, _) = TrainingData::load(&repo("lines/acme-bank/nlu.yml")).expect("acme.yml");
        let classifier =
            nlu::train(&encoder, &training, None, &TrainConfig::default(), &mut |_, _, _| {}).expect("train");
        let dir = std::env::temp_dir().join(format!("helpline-nlu-test-{}", std::process::id()));
        nlu::save(&classifier, &training, &dir).expect("save");
        Understanding::load(encoder, &dir).expect("load")
    })
}

fn held_out() -> TrainingData {
    TrainingData::load(&repo("tests/data/nlu/acme_test.jsonl")).expect("acme_test.jsonl").0
}

#[test]
fn held_out_utterances_are_understood() {
    let predictions = nlu::predict_all(understanding(), &held_out()).expect("predict");
    let evaluation = report::evaluate(&predictions);
    let misses: Vec<String> = predictions
        .iter()
        .filter(|p| p.gold != p.predicted)
        .map(|p| format!("{:?}: {} heard as {}", p.text, p.gold, p.predicted))
        .collect();
    eprintln!("{}\n{}", report::format_table(&evaluation), misses.join("\n"));
    assert!(evaluation.in_scope_accuracy >= 0.85, "in-scope accuracy {:.2}", evaluation.in_scope_accuracy);
    assert!(evaluation.oos_recall.unwrap_or(0.0) >= 0.8, "out-of-scope recall {:?}", evaluation.oos_recall);
}

#[test]
fn confidence_orders_with_accuracy_on_held_out_data() {
    let mut predictions = nlu::predict_all(understanding(), &held_out()).expect("predict");
    predictions.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let half = predictions.len() / 2;
    let accuracy = |ps: &[report::Prediction]| ps.iter().filter(|p| p.is_correct()).count() as f64 / ps.len() as f64;
    let (confident, unsure) = (accuracy(&predictions[..half]), accuracy(&predictions[half..]));
    assert!(confident >= unsure, "the more confident half is right {confident:.2}, the less confident {unsure:.2}");
    assert!(report::evaluate(&predictions).ece <= 0.15, "calibration error too high");
}

#[test]
fn a_caller_turn_yields_intent_entities_and_sentiment() {
    let parse = understanding()
        .parse("i lost my card yesterday can you block the one ending in four five six seven")
        .expect("parse");
    assert_eq!(parse.intent.as_ref().map(|i| i.intent.as_str()), Some("lost_or_stolen_card"), "{parse:?}");
    assert!(
        parse.entities.iter().any(|e| e.kind == "card_last_four" && e.text.contains("four five six seven")),
        "{:?}",
        parse.entities
    );
    assert!(parse.entities.iter().any(|e| e.kind == "date"), "{:?}", parse.entities);
    let angry = understanding()
        .parse("this is ridiculous third time i'm calling get me a real person")
        .expect("parse");
    assert!(
        angry.sentiment.score < -0.3 && angry.sentiment.frustration && angry.sentiment.wants_human,
        "{:?}",
        angry.sentiment
    );
}

#[test]
fn a_bare_answer_is_read_as_what_the_conversation_asked_for() {
    let u = understanding();
    let free = u.parse("four five six seven").expect("parse");
    assert!(free.entities.iter().any(|e| e.kind == "digits"), "{:?}", free.entities);
    let asked = nlu::DialogueContext { expected_entity: Some("card_last_four".into()) };
    let answer = u.parse_in("four five six seven", &asked).expect("parse");
    assert!(!answer.out_of_scope, "an expected answer is in scope");
    let card = answer.entities.iter().find(|e| e.kind == "card_last_four").expect("read as the card's last four");
    assert_eq!(serde_json::to_value(&card.value).expect("json"), "4567");
    let wrong = u.parse_in("four five six", &asked).expect("parse");
    assert!(wrong.entities.iter().all(|e| e.kind != "card_last_four"), "three digits are not a last four");
}

#[test]
fn out_of_scope_requests_are_rejected_and_empty_text_gets_no_guess() {
    for text in ["what's the capital of australia", "book me a table for two at an italian place"] {
        let parse = understanding().parse(text).expect("parse");
        assert!(parse.out_of_scope && parse.intent.is_none(), "{text:?} → {:?}", parse.intent);
    }
    for text in ["", "   ", "?!"] {
        let parse = understanding().parse(text).expect("parse");
        assert!(parse.intent.is_none() && parse.intents.is_empty() && !parse.out_of_scope, "{text:?}");
    }
    let long = "please block my card ".repeat(300);
    let parse = understanding().parse(&long).expect("long input is read, not refused");
    assert!(!parse.warnings.is_empty());
}

fn helpline(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_helpline")).args(args).output().expect("run helpline")
}

#[test]
fn the_nlu_commands_train_parse_and_evaluate_from_files() {
    let dir = std::env::temp_dir().join(format!("helpline-nlu-cli-{}", std::process::id()));
    let model = dir.join("model");
    let data = repo("lines/acme-bank/nlu.yml");
    let out = helpline(&["nlu", "train", "--data", data.to_str().unwrap(), "--out", model.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = helpline(&["nlu", "parse", "--model", model.to_str().unwrap(), "--json", "what's my checking balance"]);
    let parse: serde_json::Value = serde_json::from_slice(&out.stdout).expect("parse JSON");
    assert_eq!(parse["intent"]["intent"], "check_balance", "{parse}");
    assert_eq!(parse["entities"][0]["value"], "checking", "{parse}");

    let report_dir = dir.join("report");
    let test = repo("tests/data/nlu/acme_test.jsonl");
    let out = helpline(&[
        "nlu",
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        test.to_str().unwrap(),
        "--json",
        "--report",
        report_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let evaluation: serde_json::Value = serde_json::from_slice(&out.stdout).expect("eval JSON");
    for key in ["accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision", "ece", "p50_ms"] {
        assert!(evaluation.get(key).is_some(), "missing {key}");
    }
    for file in ["confusion.csv", "confusion.png", "reliability.png", "per_intent.csv", "errors.jsonl", "summary.json"]
    {
        assert!(report_dir.join(file).is_file(), "missing {file}");
    }

    let out = helpline(&["nlu", "eval", "--folds", "3", "--data", data.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let folds: serde_json::Value = serde_json::from_slice(&out.stdout).expect("folds JSON");
    assert!(folds["accuracy"].as_f64().unwrap_or(0.0) > 0.7, "{folds}");
}

#[test]
fn bad_training_files_and_stale_models_give_clear_errors() {
    let dir = std::env::temp_dir().join(format!("helpline-nlu-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conflict = dir.join("conflict.yml");
    std::fs::write(
        &conflict,
        "intents:\n  a:\n    examples: [block my card, hello there]\n  b:\n    examples: [Block my card]\n",
    )
    .unwrap();
    let out =
        helpline(&["nlu", "train", "--data", conflict.to_str().unwrap(), "--out", dir.join("m").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("conflict.yml") && !err.contains("panicked"), "{err}");

    let model = dir.join("stale");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::write(model.join("model.json"), r#"{"format_version": 0}"#).unwrap();
    let out = helpline(&["nlu", "parse", "--model", model.to_str().unwrap(), "hello"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("nlu train"), "{err}");
}
