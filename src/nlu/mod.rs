//! Understanding callers: intents with calibrated confidence, out-of-scope, entities and sentiment.
//!
//! [`Understanding`] is the one face the rest of Helpline uses: `parse` a caller's words (from ASR or a
//! chat) into a [`Parse`], or `parse_in` a [`DialogueContext`] (what the current step is collecting) so a
//! bare answer is read as that answer. It knows nothing of audio or gRPC.
//!
//! - [`data`]: training files a business writes (YAML) or public benchmarks (JSONL), validated once.
//! - [`encoder`]: all-MiniLM-L6-v2 sentence vectors, run in Rust with `candle`.
//! - [`classifier`]: a softmax layer on those vectors, temperature-calibrated, with an out-of-scope
//!   threshold chosen on held-out data.
//! - [`entities`]: digits, amounts, dates, phone numbers, emails, ids, yes/no and custom lists, on ASR text.
//! - [`sentiment`]: −1..1 with frustration and "get me a person" cues.
//! - [`report`]: the metrics and files of `helpline nlu eval`.

pub mod classifier;
pub mod data;
pub mod encoder;
pub mod entities;
pub mod report;
pub mod sentiment;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use classifier::{ClassifierError, IntentClassifier, IntentScore, TrainConfig};
use data::{TrainingData, OUT_OF_SCOPE};
use encoder::{EncoderError, SentenceEncoder};
use entities::{CustomEntity, CustomValue, Entity, EntityExtractor};
use sentiment::Sentiment;

/// How many ranked intents a parse reports.
const N_BEST: usize = 5;
/// Characters of an utterance that are read for intent; entities and sentiment read everything.
const MAX_INTENT_CHARS: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum NluError {
    #[error(transparent)]
    Encoder(#[from] EncoderError),
    #[error(transparent)]
    Classifier(#[from] ClassifierError),
    #[error("cannot use the entity types saved in {path}: {reason}; retrain with `helpline nlu train`")]
    Entities { path: PathBuf, reason: String },
    #[error("{0}")]
    Data(String),
}

/// What a caller's words mean.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Parse {
    pub text: String,
    /// The best intent, unless the utterance is out of scope or empty.
    pub intent: Option<IntentScore>,
    /// Ranked alternatives with calibrated confidences.
    pub intents: Vec<IntentScore>,
    pub out_of_scope: bool,
    pub entities: Vec<Entity>,
    pub sentiment: Sentiment,
    /// Things the caller of `parse` may want to know (e.g. the text was cut for intent).
    pub warnings: Vec<String>,
}

pub struct Understanding {
    encoder: Arc<SentenceEncoder>,
    classifier: IntentClassifier,
    entities: EntityExtractor,
}

impl Understanding {
    /// A trained model directory (from `helpline nlu train`) with a loaded encoder.
    pub fn load(encoder: Arc<SentenceEncoder>, dir: &Path) -> Result<Self, NluError> {
        let classifier = IntentClassifier::load(dir)?;
        let entities = EntityExtractor::new(load_entity_types(&dir.join("entities.json"))?);
        Ok(Self { encoder, classifier, entities })
    }

    pub fn labels(&self) -> &[String] {
        &self.classifier.meta.labels
    }

    /// Understand one utterance with no expectations. Empty text gets no intent and confidence 0.
    pub fn parse(&self, text: &str) -> Result<Parse, NluError> {
        self.parse_in(text, &DialogueContext::default())
    }

    /// Understand one utterance where the conversation expects something: a bare answer to the
    /// question just asked is in scope, and is read as the kind of thing that was asked for.
    pub fn parse_in(&self, text: &str, context: &DialogueContext) -> Result<Parse, NluError> {
        let mut warnings = Vec::new();
        let trimmed = text.trim();
        let today = chrono::Local::now().date_naive();
        let mut entities = self.entities.extract(text, today);
        let answers_expected = context.expected_entity.as_deref().is_some_and(|kind| read_as(&mut entities, kind));
        let sentiment = sentiment::sentiment(text);
        if !trimmed.chars().any(char::is_alphanumeric) {
            return Ok(Parse {
                text: text.into(),
                intent: None,
                intents: Vec::new(),
                out_of_scope: false,
                entities,
                sentiment,
                warnings,
            });
        }
        let for_intent: String = trimmed.chars().take(MAX_INTENT_CHARS).collect();
        if for_intent.len() < trimmed.len() {
            warnings.push(format!("only the first {MAX_INTENT_CHARS} characters were read for the intent"));
        }
        let vector = self.encoder.encode(&[&for_intent])?;
        let scores = self.classifier.score(&vector)?;
        let (mut ranked, out_of_scope) = match scores.first() {
            Some(scores) => self.classifier.decide(scores),
            None => (Vec::new(), true),
        };
        ranked.truncate(N_BEST);
        let intent = if out_of_scope { None } else { ranked.first().cloned() };
        // "four five six seven" matches no intent, yet is exactly what "the last four digits?" asked for.
        let out_of_scope = out_of_scope && !answers_expected;
        Ok(Parse { text: text.into(), intent, intents: ranked, out_of_scope, entities, sentiment, warnings })
    }
}

/// What the conversation expects next (set by the dialogue engine from the step it is on).
#[derive(Debug, Clone, Default)]
pub struct DialogueContext {
    /// The entity kind a step is collecting, e.g. `card_last_four`, `date`, `affirm`.
    pub expected_entity: Option<String>,
}

/// Whether `entities` answer a request for `kind`, re-reading a bare digit string as that kind where
/// it fits (four digits when the last four of a card were asked for).
fn read_as(entities: &mut [Entity], kind: &str) -> bool {
    if entities
        .iter()
        .any(|e| e.kind == kind || (kind == entities::kind::AFFIRM && e.kind == entities::kind::DENY))
    {
        return true;
    }
    let fits = |e: &Entity| match (kind, &e.value) {
        (entities::kind::CARD_LAST_FOUR, entities::EntityValue::Text(digits)) => digits.len() == 4,
        (entities::kind::PHONE_NUMBER, entities::EntityValue::Text(digits)) => (7..=15).contains(&digits.len()),
        (entities::kind::ORDER_ID | entities::kind::TICKET_ID, _) => true,
        _ => false,
    };
    match entities.iter_mut().find(|e| e.kind == entities::kind::DIGITS && fits(e)) {
        Some(entity) => {
            entity.kind = kind.to_string();
            true
        }
        None => false,
    }
}

/// Predictions of `understanding` on every example of `data`, each timed (for `nlu eval` and benchmarks).
/// An out-of-scope answer is scored with the confidence that it is out of scope.
pub fn predict_all(understanding: &Understanding, data: &TrainingData) -> Result<Vec<report::Prediction>, NluError> {
    data.examples
        .iter()
        .map(|example| {
            let started = std::time::Instant::now();
            let parse = understanding.parse(&example.text)?;
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            let (predicted, confidence) = match (&parse.intent, parse.intents.first()) {
                (Some(top), _) => (top.intent.clone(), top.confidence),
                (None, Some(top)) if top.intent == OUT_OF_SCOPE => (OUT_OF_SCOPE.to_string(), top.confidence),
                (None, Some(top)) => (OUT_OF_SCOPE.to_string(), 1.0 - top.confidence),
                (None, None) => (OUT_OF_SCOPE.to_string(), 0.0),
            };
            Ok(report::Prediction {
                text: example.text.clone(),
                gold: example.intent.clone(),
                predicted,
                confidence,
                latency_ms,
            })
        })
        .collect()
}

/// Train an intent model: encode, fit the softmax layer, then calibrate confidence and choose the
/// out-of-scope threshold on `validation` (or on 10 % held out from `training` when none is given).
pub fn train(
    encoder: &SentenceEncoder,
    training: &TrainingData,
    validation: Option<&TrainingData>,
    config: &TrainConfig,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<IntentClassifier, NluError> {
    let held_out;
    let (fit, check) = match validation {
        Some(v) => (training, v),
        None => {
            let (fit, check) = training.split(0.1, config.seed);
            held_out = (fit, check);
            (&held_out.0, &held_out.1)
        }
    };
    let mut labels = fit.intents();
    if fit.examples.iter().any(|e| e.intent == OUT_OF_SCOPE) {
        labels.push(OUT_OF_SCOPE.to_string());
    }
    if labels.len() < 2 {
        return Err(NluError::Data("training needs at least two intents".into()));
    }
    let index = |intent: &str| labels.iter().position(|l| l == intent).map(|i| i as u32);
    let encode = |data: &TrainingData, stage: &str, progress: &mut dyn FnMut(&str, usize, usize)| {
        let texts: Vec<String> = data.examples.iter().map(|e| e.text.clone()).collect();
        let total = texts.len();
        let mut done = 0;
        encoder.encode_all(&texts, |n| {
            done += n;
            progress(stage, done, total);
        })
    };
    let x = encode(fit, "encoding training examples", progress)?;
    let y: Vec<u32> = fit.examples.iter().map(|e| index(&e.intent).unwrap_or(0)).collect();
    progress("training the intent layer", 0, 1);
    let mut classifier = IntentClassifier::train(&x, &y, labels.clone(), config)?;
    progress("training the intent layer", 1, 1);

    let xv = encode(check, "encoding validation examples", progress)?;
    // Calibrate on the validation examples whose intent the model knows (an unseen intent has no logit).
    let known: Vec<(usize, u32)> =
        check.examples.iter().enumerate().filter_map(|(i, e)| index(&e.intent).map(|g| (i, g))).collect();
    if !known.is_empty() {
        let rows = candle_core::Tensor::new(
            known.iter().map(|(i, _)| *i as u32).collect::<Vec<_>>(),
            &candle_core::Device::Cpu,
        )
        .and_then(|ids| xv.index_select(&ids, 0))
        .map_err(|e| NluError::Data(e.to_string()))?;
        let gold: Vec<u32> = known.iter().map(|(_, g)| *g).collect();
        classifier.calibrate(&rows, &gold)?;
    }
    let scores = classifier.score(&xv)?;
    let rows: Vec<(classifier::Scores, Option<u32>)> = scores
        .into_iter()
        .zip(&check.examples)
        .filter(|(_, e)| e.intent == OUT_OF_SCOPE || index(&e.intent).is_some())
        .map(|(p, e)| (p, if e.intent == OUT_OF_SCOPE { None } else { index(&e.intent) }))
        .collect();
    classifier.choose_threshold(&rows, config.oos_recall_target);
    Ok(classifier)
}

/// Save a trained model with the entity types of its training data.
pub fn save(classifier: &IntentClassifier, training: &TrainingData, dir: &Path) -> Result<(), NluError> {
    classifier.save(dir)?;
    let types: Vec<serde_json::Value> = training
        .entity_types
        .iter()
        .map(|t| {
            serde_json::json!({
                "name": t.name,
                "values": t.values.iter().map(|(v, s)| serde_json::json!({"value": v, "synonyms": s})).collect::<Vec<_>>(),
                "patterns": t.patterns,
            })
        })
        .collect();
    let path = dir.join("entities.json");
    std::fs::write(&path, serde_json::to_string_pretty(&types).unwrap_or_default())
        .map_err(|e| NluError::Entities { path, reason: e.to_string() })
}

fn load_entity_types(path: &Path) -> Result<Vec<CustomEntity>, NluError> {
    let fail = |reason: String| NluError::Entities { path: path.into(), reason };
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let types: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    types
        .iter()
        .map(|t| {
            let name = t["name"].as_str().ok_or_else(|| fail("an entity type has no name".into()))?.to_string();
            let values = t["values"]
                .as_array()
                .map(|vs| {
                    vs.iter()
                        .map(|v| CustomValue {
                            value: v["value"].as_str().unwrap_or_default().to_string(),
                            synonyms: v["synonyms"]
                                .as_array()
                                .map(|s| s.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                                .unwrap_or_default(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let patterns = t["patterns"]
                .as_array()
                .map(|ps| ps.iter().filter_map(|p| p.as_str()).map(regex::Regex::new).collect::<Result<Vec<_>, _>>())
                .transpose()
                .map_err(|e| fail(e.to_string()))?
                .unwrap_or_default();
            Ok(CustomEntity { name, values, patterns })
        })
        .collect()
}
