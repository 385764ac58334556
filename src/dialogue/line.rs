//! A line: the files a business writes to describe its support line, loaded and checked once.
//!
//! A line directory holds `line.yml` (messages, hand-off policy, voice settings, actions, and where
//! the other files are), the NLU training data, the flows, the FAQ and the sample customers. Loading
//! checks everything together, so a flow naming an intent the NLU does not know, a template naming
//! a slot nobody fills, or an action nobody configured is an error at start-up with file and line,
//! never a surprise on a call. The intent model is trained on first load and cached under the models
//! directory, keyed by a hash of the training data, so editing `nlu.yml` retrains and nothing else does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::faq::KnowledgeBase;
use super::flow::{self, Flow, Known};
use super::template::Template;
use super::webhook::{Webhook, WebhookConfig};
use crate::handoff::Reason;
use crate::models::ModelDir;
use crate::nlu::classifier::TrainConfig;
use crate::nlu::data::{yaml_message, SourceLocation, TrainingData};
use crate::nlu::encoder::SentenceEncoder;
use crate::nlu::{self, Understanding};

/// Actions the engine runs on the embedded store (see `actions.rs`).
pub const BUILT_IN_ACTIONS: &[&str] = &[
    "identify_customer",
    "lookup_balance",
    "block_card",
    "activate_card",
    "recent_transactions",
    "payment_due",
    "create_ticket",
    "update_address",
];

/// Intents the engine handles itself, in any flow.
pub const GLOBAL_INTENTS: &[&str] =
    &["greet", "goodbye", "affirm", "deny", "help", "repeat", "start_over", "talk_to_agent", FAQ_INTENT];

/// The intent the line's FAQ questions are taught as, so the classifier tells "what's your routing
/// number" from the flows' intents instead of forcing it into the nearest one (Rasa's retrieval intent).
pub const FAQ_INTENT: &str = "faq";

#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("{location}: {message}")]
    At { location: SourceLocation, message: String },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a line directory: it has no line.yml (the sample line is lines/acme-bank)")]
    NotALine { path: PathBuf },
    #[error("the line's intent model: {0}")]
    Nlu(#[from] crate::nlu::NluError),
    #[error("the line's training data: {0}")]
    Data(#[from] crate::nlu::data::DataError),
    #[error("the line's knowledge base: {0}")]
    Faq(#[from] super::faq::FaqError),
}

impl LineError {
    pub(crate) fn at(location: SourceLocation, message: String) -> Self {
        Self::At { location, message }
    }
}

/// Settings of the line's voice channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceSettings {
    /// Silence after a reply before the caller is re-prompted.
    pub no_input_timeout_ms: u64,
    /// Calls longer than this are wrapped up and handed off.
    pub max_call_seconds: u64,
    /// When the answer to a caller's turn is still not ready this long after the turn began (a slow
    /// backend action), the `one_moment` message is said.
    pub hold_after_ms: u64,
}

impl Default for VoiceSettings {
    fn default() -> Self {
        Self { no_input_timeout_ms: 6000, max_call_seconds: 900, hold_after_ms: 1500 }
    }
}

/// When to hand a caller to a person, and where to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HandoffPolicy {
    pub queue: String,
    pub skill: Option<String>,
    pub priority: i32,
    pub min_asr_confidence: f32,
    pub low_asr_turns: u32,
    pub min_intent_confidence: f32,
    pub low_intent_turns: u32,
    pub out_of_scope_turns: u32,
    pub max_no_match: u32,
    pub max_no_input: u32,
    pub sentiment_below: f32,
    pub sentiment_drop: f32,
    /// Extra priority by reason, e.g. upset callers first.
    pub priorities: BTreeMap<Reason, i32>,
}

impl Default for HandoffPolicy {
    fn default() -> Self {
        Self {
            queue: "general".into(),
            skill: None,
            priority: 0,
            min_asr_confidence: 0.45,
            low_asr_turns: 2,
            min_intent_confidence: 0.5,
            low_intent_turns: 2,
            out_of_scope_turns: 2,
            max_no_match: 3,
            max_no_input: 3,
            sentiment_below: -0.6,
            sentiment_drop: 0.9,
            priorities: BTreeMap::new(),
        }
    }
}

/// What the assistant says outside flows.
#[derive(Debug, Clone)]
pub struct Messages {
    pub greeting_known: Template,
    pub greeting_unknown: Template,
    pub last_contact: Template,
    pub ask: Template,
    pub anything_else: Template,
    pub help: Template,
    pub not_understood: Template,
    pub not_heard: Template,
    pub rephrase: Template,
    pub out_of_scope: Template,
    pub no_input: Template,
    pub resume: Template,
    pub start_over: Template,
    pub goodbye: Template,
    pub apology: Template,
    pub handoff: Template,
    /// Said on a call when the answer to a turn is slow to come (a slow backend), so the caller never
    /// hears dead air. Plain text: it is said before the turn's answer, and its slots, are known.
    pub one_moment: String,
}

/// An action configured in line.yml: a webhook, and what to use when its URL is not configured.
pub struct ConfiguredAction {
    /// None when the URL names an environment variable that is not set.
    pub webhook: Option<Webhook>,
    pub fallback: Option<String>,
}

/// A loaded, validated line.
pub struct Line {
    pub name: String,
    pub dir: PathBuf,
    pub voice: VoiceSettings,
    pub policy: HandoffPolicy,
    pub messages: Messages,
    pub flows: BTreeMap<String, Flow>,
    /// Intent → flow it starts.
    pub flow_for_intent: BTreeMap<String, String>,
    pub followups: Followups,
    pub actions: BTreeMap<String, ConfiguredAction>,
    pub understanding: Understanding,
    pub faq: Option<KnowledgeBase>,
    /// The sample customers to seed the store with, if the line has them.
    pub customers: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Followups {
    #[serde(default = "default_followup_days")]
    pub max_days: i64,
    #[serde(default)]
    pub topics: BTreeMap<String, String>,
}

fn default_followup_days() -> i64 {
    14
}

impl Line {
    /// Load and validate every file of the line directory `dir`; trains its intent model if needed.
    pub fn load(dir: &Path, encoder: Arc<SentenceEncoder>, models: &ModelDir) -> Result<Line, LineError> {
        Self::load_with(dir, encoder, models, &BTreeMap::new())
    }

    /// As [`Line::load`], with webhook URLs overridden by action name (for tests and `helpline test`).
    pub fn load_with(
        dir: &Path,
        encoder: Arc<SentenceEncoder>,
        models: &ModelDir,
        webhook_urls: &BTreeMap<String, String>,
    ) -> Result<Line, LineError> {
        let path = dir.join("line.yml");
        if !path.is_file() {
            return Err(LineError::NotALine { path: dir.to_path_buf() });
        }
        let text = read_text(&path)?;
        let at = |line: u64| SourceLocation { file: path.clone(), line: usize::try_from(line).unwrap_or(0) };
        let spec: LineSpec = serde_saphyr::from_str(&text)
            .map_err(|e| LineError::at(at(e.location().map_or(0, |l| l.line())), yaml_message(&e)))?;
        if spec.version != 1 {
            return Err(LineError::at(at(1), format!("version {} is not supported; write version: 1", spec.version)));
        }
        let messages = spec.messages.compile().map_err(|m| LineError::at(at(0), format!("messages: {m}")))?;

        let faq = match &spec.faq {
            Some(file) => Some(KnowledgeBase::load(&dir.join(file), encoder.clone())?),
            None => None,
        };
        let nlu_path = dir.join(&spec.nlu);
        let (mut training, _warnings) = TrainingData::load(&nlu_path)?;
        if let Some(faq) = &faq {
            add_faq_examples(&mut training, faq, &dir.join(spec.faq.as_deref().unwrap_or(Path::new("faq.yml"))));
        }
        let understanding = understanding_for(&training, &nlu_path, encoder.clone(), models)?;
        let intents: Vec<String> = understanding.labels().to_vec();
        let mut entity_kinds: BTreeSet<String> = [
            nlu::entities::kind::DIGITS,
            nlu::entities::kind::NUMBER,
            nlu::entities::kind::AMOUNT,
            nlu::entities::kind::DATE,
            nlu::entities::kind::TIME,
            nlu::entities::kind::PHONE_NUMBER,
            nlu::entities::kind::EMAIL,
            nlu::entities::kind::CARD_LAST_FOUR,
            nlu::entities::kind::ORDER_ID,
            nlu::entities::kind::TICKET_ID,
            nlu::entities::kind::AFFIRM,
        ]
        .iter()
        .map(|k| k.to_string())
        .collect();
        entity_kinds.extend(training.entity_types.iter().map(|e| e.name.clone()));

        let mut actions = BTreeMap::new();
        for (name, action) in spec.actions {
            let url = match webhook_urls.get(&name) {
                Some(url) => Some(url.clone()),
                None => expand_env(&action.webhook.url),
            };
            let webhook = match url {
                Some(url) => Some(
                    Webhook::new(&name, WebhookConfig { url, ..action.webhook })
                        .map_err(|e| LineError::at(at(0), format!("action `{name}`: {e}")))?,
                ),
                None => None,
            };
            if let Some(fallback) = &action.fallback {
                if !BUILT_IN_ACTIONS.contains(&fallback.as_str()) {
                    return Err(LineError::at(
                        at(0),
                        format!(
                            "action `{name}`: fallback `{fallback}` is not a built-in action; built in: {}",
                            BUILT_IN_ACTIONS.join(", ")
                        ),
                    ));
                }
            }
            if webhook.is_none() && action.fallback.is_none() {
                return Err(LineError::at(
                    at(0),
                    format!("action `{name}`: its URL `{}` names an environment variable that is not set, and it has no fallback", action.webhook.url),
                ));
            }
            actions.insert(name, ConfiguredAction { webhook, fallback: action.fallback });
        }
        let action_names: BTreeSet<String> =
            BUILT_IN_ACTIONS.iter().map(|a| a.to_string()).chain(actions.keys().cloned()).collect();
        let started_elsewhere: BTreeSet<String> = spec.followups.topics.values().cloned().collect();
        let known = Known {
            intents: &intents,
            entity_kinds: &entity_kinds,
            actions: &action_names,
            started_elsewhere: &started_elsewhere,
        };
        let flows = flow::load(&dir.join(&spec.flows), &known)?;
        for target in &started_elsewhere {
            if !flows.contains_key(target) {
                return Err(LineError::at(
                    at(0),
                    format!("followups name flow `{target}`, which the flows file does not define"),
                ));
            }
        }
        let flow_for_intent: BTreeMap<String, String> =
            flows.values().filter_map(|f| f.intent.clone().map(|i| (i, f.name.clone()))).collect();
        for intent in &intents {
            if !flow_for_intent.contains_key(intent)
                && !GLOBAL_INTENTS.contains(&intent.as_str())
                && intent != nlu::data::OUT_OF_SCOPE
            {
                tracing::warn!(
                    "{}: intent `{intent}` starts no flow; callers asking for it get the FAQ or a rephrase",
                    path.display()
                );
            }
        }
        let customers = spec.customers.map(|c| dir.join(c));
        Ok(Line {
            name: spec.name,
            dir: dir.to_path_buf(),
            voice: spec.voice,
            policy: spec.handoff,
            messages,
            flows,
            flow_for_intent,
            followups: spec.followups,
            actions,
            understanding,
            faq,
            customers,
        })
    }
}

/// Teach the FAQ's questions as the `faq` intent (unless the line defines that intent itself); a
/// question already written under another intent stays there.
fn add_faq_examples(training: &mut TrainingData, faq: &KnowledgeBase, file: &Path) {
    if training.examples.iter().any(|e| e.intent == FAQ_INTENT) {
        return;
    }
    let known: BTreeSet<String> = training.examples.iter().map(|e| nlu::data::normalize(&e.text)).collect();
    let questions: Vec<String> =
        faq.questions().filter(|q| !known.contains(&nlu::data::normalize(q))).map(String::from).collect();
    for text in questions {
        training.examples.push(nlu::data::Example {
            text,
            intent: FAQ_INTENT.into(),
            source: SourceLocation { file: file.to_path_buf(), line: 0 },
        });
    }
}

/// The trained intent model for `training`, from the cache or trained now (seconds for a line's data).
fn understanding_for(
    training: &TrainingData,
    source: &Path,
    encoder: Arc<SentenceEncoder>,
    models: &ModelDir,
) -> Result<Understanding, LineError> {
    // The cache key is what the model learns from: every example and its intent, in order.
    let mut hasher = Sha256::new();
    for example in &training.examples {
        hasher.update(example.intent.as_bytes());
        hasher.update([0]);
        hasher.update(example.text.as_bytes());
        hasher.update([0]);
    }
    if let Ok(bytes) = std::fs::read(source) {
        hasher.update(&bytes);
    }
    let digest = hex::encode(&hasher.finalize()[..8]);
    let dir = models.root().join("lines").join(format!("{digest}-v{}", nlu::classifier::FORMAT_VERSION));
    if let Ok(understanding) = Understanding::load(encoder.clone(), &dir) {
        return Ok(understanding);
    }
    tracing::info!("training the line's intent model from {} into {}", source.display(), dir.display());
    let classifier = nlu::train(&encoder, training, None, &TrainConfig::default(), &mut |_, _, _| {})?;
    nlu::save(&classifier, training, &dir)?;
    Ok(Understanding::load(encoder, &dir)?)
}

/// `${NAME}` → the variable's value (None when unset or empty); anything else as written.
fn expand_env(url: &str) -> Option<String> {
    match url.strip_prefix("${").and_then(|rest| rest.strip_suffix('}')) {
        Some(name) => std::env::var(name).ok().filter(|v| !v.is_empty()),
        None => Some(url.to_string()),
    }
}

pub(crate) fn read_text(path: &Path) -> Result<String, LineError> {
    std::fs::read_to_string(path).map_err(|e| LineError::Io { path: path.to_path_buf(), source: e })
}

// line.yml as written.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineSpec {
    version: u32,
    name: String,
    nlu: PathBuf,
    flows: PathBuf,
    faq: Option<PathBuf>,
    customers: Option<PathBuf>,
    #[serde(default)]
    messages: MessageSpec,
    #[serde(default)]
    voice: VoiceSettings,
    #[serde(default)]
    followups: Followups,
    #[serde(default)]
    handoff: HandoffPolicy,
    #[serde(default)]
    actions: BTreeMap<String, ActionSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionSpec {
    webhook: WebhookConfig,
    fallback: Option<String>,
}

/// Every message has an English default, so a line only writes the ones it wants different.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct MessageSpec {
    greeting_known: String,
    greeting_unknown: String,
    last_contact: String,
    ask: String,
    anything_else: String,
    help: String,
    not_understood: String,
    not_heard: String,
    rephrase: String,
    out_of_scope: String,
    no_input: String,
    resume: String,
    start_over: String,
    goodbye: String,
    apology: String,
    handoff: String,
    one_moment: String,
}

impl Default for MessageSpec {
    fn default() -> Self {
        Self {
            greeting_known: "Hello {profile.first_name}, thanks for calling.".into(),
            greeting_unknown: "Thanks for calling.".into(),
            last_contact: "Are you calling about your {last_contact.topic} from {last_contact.day}?".into(),
            ask: "How can I help you today?".into(),
            anything_else: "Is there anything else I can help you with?".into(),
            help: "You can tell me what you need in a few words, or ask for an agent.".into(),
            not_understood: "Sorry, I didn't quite get that.".into(),
            not_heard: "Sorry, I didn't catch that.".into(),
            rephrase: "Sorry, could you say that another way?".into(),
            out_of_scope: "I'm sorry, that's not something I can help with.".into(),
            no_input: "Are you still there?".into(),
            resume: "Now, back to {flow}.".into(),
            start_over: "Okay, let's start again.".into(),
            goodbye: "Thank you for calling. Goodbye.".into(),
            apology: "I'm sorry, something went wrong on our side.".into(),
            handoff: "I'm transferring you to a colleague who can help. You're number {position} in the queue.".into(),
            one_moment: "One moment, please.".into(),
        }
    }
}

impl MessageSpec {
    fn compile(self) -> Result<Messages, String> {
        let t = |name: &str, source: &str| Template::parse(source).map_err(|e| format!("{name}: {e}"));
        Ok(Messages {
            greeting_known: t("greeting_known", &self.greeting_known)?,
            greeting_unknown: t("greeting_unknown", &self.greeting_unknown)?,
            last_contact: t("last_contact", &self.last_contact)?,
            ask: t("ask", &self.ask)?,
            anything_else: t("anything_else", &self.anything_else)?,
            help: t("help", &self.help)?,
            not_understood: t("not_understood", &self.not_understood)?,
            not_heard: t("not_heard", &self.not_heard)?,
            rephrase: t("rephrase", &self.rephrase)?,
            out_of_scope: t("out_of_scope", &self.out_of_scope)?,
            no_input: t("no_input", &self.no_input)?,
            resume: t("resume", &self.resume)?,
            start_over: t("start_over", &self.start_over)?,
            goodbye: t("goodbye", &self.goodbye)?,
            apology: t("apology", &self.apology)?,
            handoff: t("handoff", &self.handoff)?,
            one_moment: if self.one_moment.contains('{') {
                return Err("one_moment: it is said before the turn's answer is known, so it cannot use \
                            {placeholders}; write plain text, e.g. \"One moment, please.\""
                    .into());
            } else {
                self.one_moment
            },
        })
    }
}
