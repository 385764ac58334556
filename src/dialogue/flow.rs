//! Flow files: what each thing a caller wants sets in motion, step by step. Read once at load,
//! checked against the line's intents, entity types and actions, then run by the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::condition::Condition;
use super::template::Template;
use super::LineError;
use crate::handoff::Reason;
use crate::nlu::data::{yaml_message, Entries, SourceLocation};

/// Names a template or condition may use besides the flow's own slots.
const SCOPE_ROOTS: &[&str] = &["profile", "result", "results", "options", "last_contact", "session"];
/// What `{profile.*}` offers (see `Engine::scope`).
pub const PROFILE_FIELDS: &[&str] =
    &["id", "name", "first_name", "address", "phone", "preferred_language", "preferred_channel", "accounts", "cards"];
/// Where `collect` can take its choices from, in the caller's profile.
pub const OPTION_SOURCES: &[&str] = &["accounts", "credit_accounts", "cards", "active_cards", "inactive_cards"];
/// Entity kinds a `collect` may ask for besides the NLU's: the caller's whole words.
pub const FREE_TEXT: &str = "text";

#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    /// How the assistant refers to the flow when coming back to it ("Now, back to {description}").
    pub description: String,
    /// The intent that starts it, if any (by default the intent with the flow's name).
    pub intent: Option<String>,
    /// Where this flow's hand-offs go, overriding the line's.
    pub handoff: HandoffTarget,
    pub steps: Vec<Step>,
    pub location: SourceLocation,
}

#[derive(Debug, Clone, Default)]
pub struct HandoffTarget {
    pub queue: Option<String>,
    pub skill: Option<String>,
    pub priority: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: Option<String>,
    /// Run the step only when this holds.
    pub when: Option<Condition>,
    pub kind: StepKind,
    pub location: SourceLocation,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    Say {
        text: Template,
        barge_in: bool,
    },
    Collect(Box<Collect>),
    Action {
        name: String,
        args: Vec<(String, Template)>,
        on_error: OnError,
    },
    Set(Vec<(String, Template)>),
    /// The first branch whose condition holds jumps to its step index; none holding goes on.
    Branch(Vec<(Condition, usize)>),
    Goto(usize),
    Flow(String),
    /// Answer the caller's last words from the knowledge base.
    Answer,
    Handoff {
        target: HandoffTarget,
        say: Option<Template>,
        reason: Reason,
    },
    End {
        say: Option<Template>,
        outcome: super::Outcome,
        hang_up: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Apologise and hand the caller to a person (the default: a caller is never left hanging).
    Handoff,
    /// Say sorry and go on with the next step.
    Continue,
}

#[derive(Debug, Clone)]
pub struct Collect {
    pub slot: String,
    pub entity: String,
    /// Choices from the caller's profile (one choice fills the slot without asking).
    pub options: Option<String>,
    pub prompt: Template,
    pub reprompt: Template,
    pub confirm: Option<Template>,
    pub validate: Option<(Condition, Template)>,
    pub max_attempts: Option<u32>,
    /// Said when `options` has no choice at all; the flow then ends.
    pub none: Option<Template>,
    pub barge_in: bool,
}

/// What the rest of the line offers flows, for checking them.
pub struct Known<'a> {
    pub intents: &'a [String],
    pub entity_kinds: &'a BTreeSet<String>,
    pub actions: &'a BTreeSet<String>,
    /// Flows started from elsewhere than an intent or a step (e.g. a returning caller's follow-up).
    pub started_elsewhere: &'a BTreeSet<String>,
}

/// Read and check a flows file.
pub fn load(path: &Path, known: &Known) -> Result<BTreeMap<String, Flow>, LineError> {
    let text = super::line::read_text(path)?;
    let at = |line: u64| SourceLocation { file: path.to_path_buf(), line: usize::try_from(line).unwrap_or(0) };
    let file: FlowsFile = serde_saphyr::from_str(&text)
        .map_err(|e| LineError::At { location: at(e.location().map_or(0, |l| l.line())), message: yaml_message(&e) })?;
    if let Some(version) = &file.version {
        if version.value != 1 {
            return Err(LineError::at(
                at(version.referenced.line()),
                format!("version {} is not supported; write version: 1", version.value),
            ));
        }
    }
    let specs = file.flows.0;
    let names: BTreeSet<String> = specs.iter().map(|(name, _)| name.value.clone()).collect();
    let mut flows = BTreeMap::new();
    for (name, spec) in specs {
        let location = at(name.referenced.line());
        if flows.contains_key(&name.value) {
            return Err(LineError::at(location, format!("flow `{}` is defined twice", name.value)));
        }
        let flow = compile_flow(&name.value, spec, location, &names, known, &at)?;
        flows.insert(name.value, flow);
    }
    check_reachable(&flows, known)?;
    Ok(flows)
}

fn compile_flow(
    name: &str,
    spec: FlowSpec,
    location: SourceLocation,
    flow_names: &BTreeSet<String>,
    known: &Known,
    at: &dyn Fn(u64) -> SourceLocation,
) -> Result<Flow, LineError> {
    let intent = match spec.intent {
        Some(intent) => {
            if !known.intents.contains(&intent.value) {
                return Err(LineError::at(
                    at(intent.referenced.line()),
                    format!(
                        "flow `{name}` is started by intent `{}`, which the NLU data does not define; intents: {}",
                        intent.value,
                        known.intents.join(", ")
                    ),
                ));
            }
            Some(intent.value)
        }
        None => known.intents.iter().any(|i| i == name).then(|| name.to_string()),
    };
    if spec.steps.is_empty() {
        return Err(LineError::at(location, format!("flow `{name}` has no steps")));
    }
    // Step ids first, so a goto may jump forward.
    let mut ids = BTreeMap::new();
    for (index, step) in spec.steps.iter().enumerate() {
        if let Some(id) = &step.value.id {
            if ids.insert(id.clone(), index).is_some() {
                return Err(LineError::at(
                    at(step.referenced.line()),
                    format!("step id `{id}` is used twice in flow `{name}`"),
                ));
            }
        }
    }
    let slots: BTreeSet<String> = spec
        .steps
        .iter()
        .flat_map(|s| s.value.collect.iter().cloned().chain(s.value.set.iter().flat_map(|m| m.keys().cloned())))
        .collect();
    let mut steps = Vec::new();
    for spanned in spec.steps {
        let location = at(spanned.referenced.line());
        let fail = |message: String| LineError::at(location.clone(), message);
        let check = Checker { flow: name, slots: &slots };
        let step = spanned.value;
        let target = |id: &str| {
            ids.get(id).copied().ok_or_else(|| {
                fail(format!(
                    "no step with id `{id}` in flow `{name}`; step ids: {}",
                    ids.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })
        };
        let when = step.when.as_deref().map(|c| check.condition(c)).transpose().map_err(&fail)?;
        let mut kinds = Vec::new();
        if let Some(text) = &step.say {
            kinds.push(StepKind::Say {
                text: check.template(text).map_err(&fail)?,
                barge_in: step.barge_in.unwrap_or(true),
            });
        }
        if let Some(slot) = &step.collect {
            let entity = step.entity.clone().unwrap_or_else(|| FREE_TEXT.to_string());
            if entity != FREE_TEXT && !known.entity_kinds.contains(&entity) {
                return Err(fail(format!(
                    "collect `{slot}` asks for entity `{entity}`, which is not known; entities: {FREE_TEXT} (the caller's words), {}",
                    known.entity_kinds.iter().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            if let Some(source) = &step.options {
                if !OPTION_SOURCES.contains(&source.as_str()) {
                    return Err(fail(format!(
                        "options `{source}` is not known; allowed: {}",
                        OPTION_SOURCES.join(", ")
                    )));
                }
            }
            let prompt = step
                .prompt
                .as_deref()
                .ok_or_else(|| fail(format!("collect `{slot}` needs a prompt: what to ask")))?;
            let prompt = check.template(prompt).map_err(&fail)?;
            let reprompt = match &step.reprompt {
                Some(text) => check.template(text).map_err(&fail)?,
                None => prompt.clone(),
            };
            let validate = match &step.validate {
                Some(v) => {
                    Some((check.condition(&v.when).map_err(&fail)?, check.template(&v.otherwise).map_err(&fail)?))
                }
                None => None,
            };
            kinds.push(StepKind::Collect(Box::new(Collect {
                slot: slot.clone(),
                entity,
                options: step.options.clone(),
                prompt,
                reprompt,
                confirm: step.confirm.as_deref().map(|t| check.template(t)).transpose().map_err(&fail)?,
                validate,
                max_attempts: step.max_attempts,
                none: step.none.as_deref().map(|t| check.template(t)).transpose().map_err(&fail)?,
                barge_in: step.barge_in.unwrap_or(true),
            })));
        } else if step.prompt.is_some() || step.entity.is_some() || step.options.is_some() || step.confirm.is_some() {
            return Err(fail(
                "prompt, reprompt, entity, options, confirm, validate and none belong to a collect step".into(),
            ));
        }
        if let Some(action) = &step.action {
            if !known.actions.contains(action) {
                return Err(fail(format!(
                    "action `{action}` is neither built in nor configured in line.yml; actions: {}",
                    known.actions.iter().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            let args = step.args.clone().unwrap_or_default();
            let args = args
                .into_iter()
                .map(|(k, v)| Ok((k, check.template(&v)?)))
                .collect::<Result<_, String>>()
                .map_err(&fail)?;
            let on_error = match step.on_error.as_deref() {
                None | Some("handoff") => OnError::Handoff,
                Some("continue") => OnError::Continue,
                Some(other) => {
                    return Err(fail(format!("on_error `{other}` is not known; allowed: handoff, continue")))
                }
            };
            kinds.push(StepKind::Action { name: action.clone(), args, on_error });
        }
        if let Some(set) = &step.set {
            let pairs = set
                .iter()
                .map(|(k, v)| Ok((k.clone(), check.template(v)?)))
                .collect::<Result<_, String>>()
                .map_err(&fail)?;
            kinds.push(StepKind::Set(pairs));
        }
        if let Some(branches) = &step.branch {
            let mut compiled = Vec::new();
            for b in branches {
                compiled.push((check.condition(&b.when).map_err(&fail)?, target(&b.goto)?));
            }
            kinds.push(StepKind::Branch(compiled));
        }
        if let Some(id) = &step.goto {
            kinds.push(StepKind::Goto(target(id)?));
        }
        if let Some(other) = &step.flow {
            if !flow_names.contains(other) {
                return Err(fail(format!(
                    "flow `{other}` does not exist; flows: {}",
                    flow_names.iter().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            kinds.push(StepKind::Flow(other.clone()));
        }
        if let Some(source) = &step.answer {
            if source != "faq" {
                return Err(fail(format!("answer `{source}` is not known; allowed: faq")));
            }
            kinds.push(StepKind::Answer);
        }
        if let Some(h) = &step.handoff {
            let reason = match h.reason.as_deref() {
                None => Reason::FlowHandoff,
                Some(r) => serde_json::from_value(serde_json::Value::String(r.into())).map_err(|_| {
                    fail(format!(
                        "hand-off reason `{r}` is not known; see handoff::Reason (e.g. flow_handoff, explicit_request)"
                    ))
                })?,
            };
            let target = HandoffTarget { queue: h.queue.clone(), skill: h.skill.clone(), priority: h.priority };
            kinds.push(StepKind::Handoff {
                target,
                say: h.say.as_deref().map(|t| check.template(t)).transpose().map_err(&fail)?,
                reason,
            });
        }
        if let Some(end) = &step.end {
            let outcome = match end.outcome.as_deref() {
                None | Some("resolved") => super::Outcome::Resolved,
                Some("abandoned") => super::Outcome::Abandoned,
                Some(other) => {
                    return Err(fail(format!("end outcome `{other}` is not known; allowed: resolved, abandoned")))
                }
            };
            let say = end.say.as_deref().map(|t| check.template(t)).transpose().map_err(&fail)?;
            kinds.push(StepKind::End { say, outcome, hang_up: end.hang_up.unwrap_or(false) });
        }
        let kind = match kinds.len() {
            1 => kinds.pop().expect("one kind"),
            0 => return Err(fail(format!("a step must do one thing; write one of: {STEP_KINDS}"))),
            _ => {
                return Err(fail(format!("a step does one thing, this one does {}; split it into steps", kinds.len())))
            }
        };
        steps.push(Step { id: step.id, when, kind, location });
    }
    let handoff = spec
        .handoff
        .map(|h| HandoffTarget { queue: h.queue, skill: h.skill, priority: h.priority })
        .unwrap_or_default();
    let description = spec.description.unwrap_or_else(|| name.replace('_', " "));
    Ok(Flow { name: name.to_string(), description, intent, handoff, steps, location })
}

const STEP_KINDS: &str = "say, collect, action, set, branch, goto, flow, answer, handoff, end";

/// Checks templates and conditions name only things the flow can know.
struct Checker<'a> {
    flow: &'a str,
    slots: &'a BTreeSet<String>,
}

impl Checker<'_> {
    fn template(&self, source: &str) -> Result<Template, String> {
        let template = Template::parse(source)?;
        for path in template.paths() {
            self.path(path)?;
        }
        Ok(template)
    }

    fn condition(&self, source: &str) -> Result<Condition, String> {
        let condition = Condition::parse(source)?;
        for path in condition.paths() {
            self.path(path)?;
        }
        Ok(condition)
    }

    fn path(&self, path: &str) -> Result<(), String> {
        let mut parts = path.split('.');
        let root = parts.next().unwrap_or_default();
        if root == "profile" {
            if let Some(field) = parts.next() {
                if !PROFILE_FIELDS.contains(&field) {
                    return Err(format!(
                        "`{path}`: the profile has no field `{field}`; fields: {}",
                        PROFILE_FIELDS.join(", ")
                    ));
                }
            }
            return Ok(());
        }
        if SCOPE_ROOTS.contains(&root) || self.slots.contains(root) {
            return Ok(());
        }
        Err(format!(
            "`{{{path}}}` names slot `{root}`, which flow `{}` never collects or sets (its slots: {}); other names: {}",
            self.flow,
            if self.slots.is_empty() {
                "none".to_string()
            } else {
                self.slots.iter().cloned().collect::<Vec<_>>().join(", ")
            },
            SCOPE_ROOTS.iter().map(|r| format!("{r}.*")).collect::<Vec<_>>().join(", ")
        ))
    }
}

/// Every flow must be startable: by an intent, by another flow's `flow:` step, or from line.yml.
fn check_reachable(flows: &BTreeMap<String, Flow>, known: &Known) -> Result<(), LineError> {
    let called: BTreeSet<&str> = flows
        .values()
        .flat_map(|f| f.steps.iter())
        .filter_map(|s| match &s.kind {
            StepKind::Flow(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    for flow in flows.values() {
        if flow.intent.is_none()
            && !called.contains(flow.name.as_str())
            && !known.started_elsewhere.contains(&flow.name)
        {
            return Err(LineError::at(
                flow.location.clone(),
                format!(
                    "flow `{}` is unreachable: no intent starts it (give it `intent:` or name it after an intent) and no step calls it",
                    flow.name
                ),
            ));
        }
    }
    Ok(())
}

// The file as written.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowsFile {
    version: Option<Spanned<u32>>,
    flows: Entries<FlowSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowSpec {
    description: Option<String>,
    intent: Option<Spanned<String>>,
    handoff: Option<HandoffSpec>,
    steps: Vec<Spanned<StepSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandoffSpec {
    queue: Option<String>,
    skill: Option<String>,
    priority: Option<i32>,
    say: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    id: Option<String>,
    #[serde(rename = "if")]
    when: Option<String>,
    say: Option<String>,
    barge_in: Option<bool>,
    collect: Option<String>,
    entity: Option<String>,
    options: Option<String>,
    prompt: Option<String>,
    reprompt: Option<String>,
    confirm: Option<String>,
    validate: Option<ValidateSpec>,
    max_attempts: Option<u32>,
    none: Option<String>,
    action: Option<String>,
    args: Option<BTreeMap<String, String>>,
    on_error: Option<String>,
    set: Option<BTreeMap<String, String>>,
    branch: Option<Vec<BranchSpec>>,
    goto: Option<String>,
    flow: Option<String>,
    answer: Option<String>,
    handoff: Option<HandoffSpec>,
    end: Option<EndSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateSpec {
    #[serde(rename = "if")]
    when: String,
    #[serde(rename = "else")]
    otherwise: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BranchSpec {
    #[serde(rename = "if")]
    when: String,
    goto: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndSpec {
    say: Option<String>,
    outcome: Option<String>,
    hang_up: Option<bool>,
}
