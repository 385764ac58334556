//! Training data a business writes for its line: intents with example utterances, entity types and
//! out-of-scope examples, validated once at load time so a mistake is reported with its file and line
//! before any training starts.
//!
//! Two formats, chosen by extension:
//!
//! - `.yml` / `.yaml`, the format a person edits (a simpler cousin of Rasa's `nlu.yml`):
//!
//!   ```yaml
//!   version: 1                        # optional; 1 is the only version so far
//!   intents:
//!     check_balance:
//!       examples:
//!         - what's my balance
//!         - how much money do i have
//!   entities:                         # optional
//!     account_type:
//!       values:                       # canonical value: the words callers use for it
//!         checking: [checking, current account]
//!         savings: [savings, savings account]
//!       patterns: ["(?i)acc(ount)? type \\w+"]   # optional, Rust regex syntax
//!   out_of_scope:                     # optional: things this line does not handle
//!     - what's the weather
//!   ```
//!
//! - `.jsonl`, one `{"text": ..., "label": ...}` object per line, as the public benchmarks ship
//!   (BANKING77, CLINC150, where the label `oos` marks out of scope). `"intent"` is accepted in place
//!   of `"label"` (SNIPS, Bitext) and other fields are ignored.
//!
//! Checks, each naming file and line. Errors stop loading: an unknown key (with the allowed keys),
//! malformed YAML or a value of the wrong type, bytes that are not UTF-8, an unsupported `version`,
//! an intent name that is not plain (letters, digits, `_-.`) or is the reserved `oos`, the same
//! example under two intents (a conflict, both places listed), a JSONL line that is not an object
//! with string `text` and `label`, a pattern that is not a valid regex, a synonym under two values,
//! an entity type defined twice. Warnings let it go on: an empty example (skipped), a duplicate
//! within one intent (kept once), an intent with fewer than [`RECOMMENDED_EXAMPLES`] examples.
//! Examples compare case- and space-insensitively.
//!
//! Why `serde-saphyr`: `serde_yaml` is deprecated, and of its successors `serde-saphyr` is the one
//! whose serde deserializer hands out a line for every value (`Spanned<T>`), so the file is read
//! into typed structs that reject unknown keys (the serde way, with serde's "expected one of ..."
//! message) and every example still knows its own line, duplicates included. `serde_yaml_ng` and
//! `serde_norway` only locate errors; `saphyr` / `yaml-rust2` locate nodes but would mean
//! hand-walking an untyped tree.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

/// The label of examples the line does not handle (CLINC150's convention).
pub const OUT_OF_SCOPE: &str = "oos";

/// The YAML format version this code reads.
pub const SUPPORTED_VERSION: u32 = 1;

/// Fewer examples than this draws a warning: five is the least that lets 5-fold cross-validation
/// test every intent in every fold.
pub const RECOMMENDED_EXAMPLES: usize = 5;

/// One training utterance and the intent it expresses.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    /// The intent name, or [`OUT_OF_SCOPE`] for something the line does not handle.
    pub intent: String,
    pub source: SourceLocation,
}

/// Where something was written: a file and a 1-based line (0 when the line is unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceLocation {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

/// A kind of thing callers mention (an account type, a card type), for the entity extractors.
#[derive(Debug, Clone)]
pub struct EntityType {
    pub name: String,
    /// `(canonical value, surface forms)`. The surface forms always include the canonical value
    /// itself, so an extractor only has to match the list.
    pub values: Vec<(String, Vec<String>)>,
    /// Regular expressions (Rust `regex` syntax), checked to compile at load time.
    pub patterns: Vec<String>,
}

/// Everything a line was trained on: examples in file order, and entity types.
#[derive(Debug, Clone, Default)]
pub struct TrainingData {
    pub examples: Vec<Example>,
    pub entity_types: Vec<EntityType>,
}

/// Something worth fixing that does not stop loading (the offending example is skipped or kept as
/// the message says).
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub location: SourceLocation,
    pub message: String,
    pub kind: WarningKind,
}

/// What a warning is about, so a caller can ignore what does not concern it (evaluation data need not
/// have enough examples per intent to train on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// Something in the file was skipped or merged.
    Content,
    /// An intent has fewer examples than training needs.
    FewExamples,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: warning: {}", self.location, self.message)
    }
}

/// The same example text under two different intents: a classifier cannot learn both.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub text: String,
    pub first_intent: String,
    pub first: SourceLocation,
    pub second_intent: String,
    pub second: SourceLocation,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is under `{}` at {} and under `{}` at {}",
            self.text, self.first_intent, self.first, self.second_intent, self.second
        )
    }
}

/// One synonym listed under two values of an entity type: an extractor could not tell which is meant.
#[derive(Debug, Clone, PartialEq)]
pub struct SynonymClash {
    pub entity: String,
    pub synonym: String,
    pub first_value: String,
    pub first: SourceLocation,
    pub second_value: String,
    pub second: SourceLocation,
}

impl fmt::Display for SynonymClash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: synonym {:?} of entity type `{}` is listed under both `{}` ({}) and `{}`; \
             a synonym must name one value",
            self.second, self.synonym, self.entity, self.first_value, self.first, self.second_value
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {}: {source}", file.display())]
    Io { file: PathBuf, source: std::io::Error },
    #[error(
        "{}: unsupported file type; allowed: .yml or .yaml (Helpline training format) and .jsonl \
         (one {{\"text\", \"label\"}} object per line)",
        file.display()
    )]
    UnsupportedFormat { file: PathBuf },
    #[error("{location}: not valid UTF-8 (byte {column} of the line); save the file as UTF-8")]
    NotUtf8 { location: SourceLocation, column: usize },
    /// Malformed YAML, a value of the wrong type, or an unknown key (serde names the allowed ones).
    #[error("{location}: {message}")]
    Yaml { location: SourceLocation, message: String },
    #[error("{location}: version {found} is not supported; allowed: {SUPPORTED_VERSION}")]
    UnsupportedVersion { location: SourceLocation, found: u32 },
    #[error("{location}: {kind} name {name:?} is not allowed: {reason}")]
    InvalidName { location: SourceLocation, kind: &'static str, name: String, reason: String },
    #[error(
        "{} example(s) appear under two different intents (a conflict); keep each under one intent:\n  {}",
        .0.len(),
        .0.iter().map(Conflict::to_string).collect::<Vec<_>>().join("\n  ")
    )]
    Conflicts(Vec<Conflict>),
    #[error(
        "{location}: {reason}; each line must be a JSON object with string fields \"text\" and \"label\" \
         (or \"intent\")"
    )]
    InvalidJsonLine { location: SourceLocation, reason: String },
    #[error(
        "{location}: pattern {pattern:?} of entity type `{entity}` is not a valid regular expression \
         (patterns use Rust regex syntax):\n{reason}"
    )]
    InvalidPattern { location: SourceLocation, entity: String, pattern: String, reason: String },
    #[error("{0}")]
    AmbiguousSynonym(Box<SynonymClash>),
    #[error("{second}: entity type `{name}` is already defined at {first}; define each entity type once")]
    DuplicateEntityType { name: String, first: SourceLocation, second: SourceLocation },
}

impl TrainingData {
    /// Reads one file, `.yml`/`.yaml` or `.jsonl` by extension.
    pub fn load(path: &Path) -> Result<(Self, Vec<Warning>), DataError> {
        Self::load_all(&[path.to_path_buf()])
    }

    /// Reads several files as one data set. Checks that span files (conflicts, duplicates,
    /// too few examples, entity types defined twice) run over the merged whole.
    pub fn load_all(paths: &[PathBuf]) -> Result<(Self, Vec<Warning>), DataError> {
        let mut builder = Builder::default();
        for path in paths {
            builder.add_file(path)?;
        }
        builder.finish()
    }

    /// The intent names, sorted, without [`OUT_OF_SCOPE`].
    pub fn intents(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.examples.iter().filter(|e| e.intent != OUT_OF_SCOPE).map(|e| e.intent.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// A stratified split: `fraction` of each intent's examples (at least 1 when the intent has ≥ 2)
    /// into the second set, deterministic given `seed`.
    ///
    /// Out-of-scope examples are a stratum of their own. At least one example of every intent stays
    /// in the first set, so training never loses an intent; a `fraction` ≤ 0 (or NaN) moves nothing.
    /// Both sets keep the file order and all entity types.
    pub fn split(&self, fraction: f64, seed: u64) -> (TrainingData, TrainingData) {
        let mut held_out = vec![false; self.examples.len()];
        for (intent, mut indices) in self.strata() {
            let n = indices.len();
            let take = if n < 2 || fraction.is_nan() || fraction <= 0.0 {
                0
            } else {
                ((n as f64 * fraction).round() as usize).clamp(1, n - 1)
            };
            shuffle(&mut indices, seed, &intent);
            for &i in &indices[..take] {
                held_out[i] = true;
            }
        }
        self.partition(|i| held_out[i])
    }

    /// `k` stratified folds for cross-validation: `(train, test)` pairs whose test sets are disjoint
    /// and together cover every example. Deterministic given `seed`; `k < 2` gives no folds.
    pub fn folds(&self, k: usize, seed: u64) -> Vec<(TrainingData, TrainingData)> {
        if k < 2 {
            return Vec::new();
        }
        let mut fold_of = vec![0; self.examples.len()];
        // Deal examples round-robin, carrying on from where the previous intent stopped, so folds
        // stay the same size even when many intents have fewer than `k` examples.
        let mut next = 0;
        for (intent, mut indices) in self.strata() {
            shuffle(&mut indices, seed, &intent);
            for i in indices {
                fold_of[i] = next % k;
                next += 1;
            }
        }
        (0..k).map(|fold| self.partition(|i| fold_of[i] == fold)).collect()
    }

    /// Example indices grouped by intent, intents sorted so the result does not depend on hashing.
    fn strata(&self) -> Vec<(String, Vec<usize>)> {
        let mut by_intent: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, example) in self.examples.iter().enumerate() {
            by_intent.entry(&example.intent).or_default().push(i);
        }
        let mut strata: Vec<(String, Vec<usize>)> =
            by_intent.into_iter().map(|(intent, indices)| (intent.to_string(), indices)).collect();
        strata.sort_by(|a, b| a.0.cmp(&b.0));
        strata
    }

    /// `(examples where !second(i), examples where second(i))`, both with every entity type.
    fn partition(&self, second: impl Fn(usize) -> bool) -> (TrainingData, TrainingData) {
        let mut first_set = TrainingData { examples: Vec::new(), entity_types: self.entity_types.clone() };
        let mut second_set = first_set.clone();
        for (i, example) in self.examples.iter().enumerate() {
            let set = if second(i) { &mut second_set } else { &mut first_set };
            set.examples.push(example.clone());
        }
        (first_set, second_set)
    }
}

/// Shuffles one intent's indices with a generator seeded by `seed` and the intent's name, so adding
/// an intent to the data does not reshuffle the others.
fn shuffle(indices: &mut [usize], seed: u64, intent: &str) {
    fastrand::Rng::with_seed(seed ^ fnv1a(intent)).shuffle(indices);
}

/// FNV-1a: a hash fixed by its definition, unlike `DefaultHasher`, whose output may change between
/// Rust releases (and with it every split).
fn fnv1a(text: &str) -> u64 {
    text.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// The form two examples are compared in: case and spacing do not make a different utterance.
pub(crate) fn normalize(text: &str) -> String {
    text.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>().join(" ")
}

/// Accumulates files, then runs the checks that need the whole data set.
#[derive(Default)]
struct Builder {
    examples: Vec<Example>,
    entity_types: Vec<(EntityType, SourceLocation)>,
    warnings: Vec<Warning>,
}

impl Builder {
    fn add_file(&mut self, path: &Path) -> Result<(), DataError> {
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let text = match extension.as_deref() {
            Some("yml" | "yaml" | "jsonl") => read_utf8(path)?,
            _ => return Err(DataError::UnsupportedFormat { file: path.to_path_buf() }),
        };
        if extension.as_deref() == Some("jsonl") {
            self.add_jsonl(path, &text)
        } else {
            self.add_yaml(path, &text)
        }
    }

    fn add_jsonl(&mut self, path: &Path, text: &str) -> Result<(), DataError> {
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let location = SourceLocation { file: path.to_path_buf(), line: index + 1 };
            let (text, label) = parse_jsonl_line(line)
                .map_err(|reason| DataError::InvalidJsonLine { location: location.clone(), reason })?;
            // Labels are taken as published (BANKING77 has `reverted_card_payment?`); only an empty
            // one is refused, since it would make an unnamed intent.
            if label.trim().is_empty() {
                return Err(DataError::InvalidJsonLine { location, reason: "the label is empty".into() });
            }
            self.add_example(text, label.trim().to_string(), location);
        }
        Ok(())
    }

    fn add_yaml(&mut self, path: &Path, text: &str) -> Result<(), DataError> {
        let at = |line: u64| SourceLocation { file: path.to_path_buf(), line: usize::try_from(line).unwrap_or(0) };
        if text.trim().is_empty() {
            self.warnings.push(Warning {
                location: at(0),
                message: "the file is empty".into(),
                kind: WarningKind::Content,
            });
            return Ok(());
        }
        // Empty list items (`- `) would otherwise fail as "null into string"; reading them as text
        // lets us skip them with a warning instead.
        let options = serde_saphyr::options! { null_as_string: true, with_snippet: false };
        let file: YamlFile = serde_saphyr::from_str_with_options(text, options).map_err(|e| DataError::Yaml {
            location: at(e.location().map_or(0, |l| l.line())),
            message: yaml_message(&e),
        })?;

        if let Some(version) = &file.version {
            if version.value != SUPPORTED_VERSION {
                return Err(DataError::UnsupportedVersion {
                    location: at(version.referenced.line()),
                    found: version.value,
                });
            }
        }
        for (name, intent) in file.intents.unwrap_or_default().0 {
            check_name(&name.value, "intent", false, &at(name.referenced.line()))?;
            for example in intent.examples {
                self.add_example(example.value, name.value.clone(), at(example.referenced.line()));
            }
        }
        for example in file.out_of_scope.unwrap_or_default() {
            self.add_example(example.value, OUT_OF_SCOPE.to_string(), at(example.referenced.line()));
        }
        for (name, entity) in file.entities.unwrap_or_default().0 {
            let location = at(name.referenced.line());
            check_name(&name.value, "entity type", true, &location)?;
            let entity_type = self.entity_type(name.value, entity, &at)?;
            self.entity_types.push((entity_type, location));
        }
        Ok(())
    }

    /// Builds one entity type: compiles its patterns and checks that no synonym names two values.
    fn entity_type(
        &mut self,
        name: String,
        entity: YamlEntity,
        at: &impl Fn(u64) -> SourceLocation,
    ) -> Result<EntityType, DataError> {
        let mut patterns = Vec::new();
        for pattern in entity.patterns.unwrap_or_default() {
            if let Err(e) = regex::Regex::new(&pattern.value) {
                return Err(DataError::InvalidPattern {
                    location: at(pattern.referenced.line()),
                    entity: name,
                    pattern: pattern.value,
                    reason: e.to_string(),
                });
            }
            patterns.push(pattern.value);
        }

        let mut values = Vec::new();
        // normalized synonym → (canonical value, where it was written)
        let mut owner: HashMap<String, (String, SourceLocation)> = HashMap::new();
        for (canonical, synonyms) in entity.values.unwrap_or_default().0 {
            let canonical_at = at(canonical.referenced.line());
            let mut forms: Vec<String> = Vec::new();
            let listed = synonyms.unwrap_or_default().into_iter().map(|s| (s.value, at(s.referenced.line())));
            for (form, location) in std::iter::once((canonical.value.clone(), canonical_at)).chain(listed) {
                let form = form.trim().to_string();
                if form.is_empty() {
                    self.warn(
                        location,
                        format!("empty synonym for `{}` of entity type `{name}` skipped", canonical.value),
                    );
                    continue;
                }
                match owner.get(&normalize(&form)) {
                    Some((value, _)) if *value == canonical.value => continue, // listed twice, harmless
                    Some((value, first)) => {
                        return Err(DataError::AmbiguousSynonym(Box::new(SynonymClash {
                            entity: name,
                            synonym: form,
                            first_value: value.clone(),
                            first: first.clone(),
                            second_value: canonical.value,
                            second: location,
                        })))
                    }
                    None => {
                        owner.insert(normalize(&form), (canonical.value.clone(), location));
                        forms.push(form);
                    }
                }
            }
            values.push((canonical.value, forms));
        }
        Ok(EntityType { name, values, patterns })
    }

    fn add_example(&mut self, text: String, intent: String, source: SourceLocation) {
        let text = text.trim();
        if text.is_empty() {
            self.warn(source, format!("empty example under `{intent}` skipped"));
            return;
        }
        self.examples.push(Example { text: text.to_string(), intent, source });
    }

    fn warn(&mut self, location: SourceLocation, message: String) {
        self.warnings.push(Warning { location, message, kind: WarningKind::Content });
    }

    fn finish(mut self) -> Result<(TrainingData, Vec<Warning>), DataError> {
        let mut examples: Vec<Example> = Vec::with_capacity(self.examples.len());
        let mut first_seen: HashMap<String, usize> = HashMap::new(); // normalized text → index in `examples`
        let mut conflicts = Vec::new();
        for example in std::mem::take(&mut self.examples) {
            let key = normalize(&example.text);
            let Some(&earlier) = first_seen.get(&key) else {
                first_seen.insert(key, examples.len());
                examples.push(example);
                continue;
            };
            let earlier = &examples[earlier];
            if earlier.intent == example.intent {
                // Kept once: a duplicate would weigh double in training and could land on both sides
                // of a split, inflating accuracy.
                let message =
                    format!("duplicate of the example at {} under `{}`; skipped", earlier.source, earlier.intent);
                self.warn(example.source, message);
            } else {
                conflicts.push(Conflict {
                    text: example.text,
                    first_intent: earlier.intent.clone(),
                    first: earlier.source.clone(),
                    second_intent: example.intent,
                    second: example.source,
                });
            }
        }
        if !conflicts.is_empty() {
            return Err(DataError::Conflicts(conflicts));
        }

        let mut counts: Vec<(&str, usize, &SourceLocation)> = Vec::new();
        for example in &examples {
            match counts.iter_mut().find(|(intent, _, _)| *intent == example.intent) {
                Some(count) => count.1 += 1,
                None => counts.push((&example.intent, 1, &example.source)),
            }
        }
        for (intent, count, location) in counts {
            if intent != OUT_OF_SCOPE && count < RECOMMENDED_EXAMPLES {
                let more = RECOMMENDED_EXAMPLES - count;
                let message = format!(
                    "intent `{intent}` has only {count} example(s); add at least {more} more for reliable training"
                );
                self.warnings.push(Warning { location: location.clone(), message, kind: WarningKind::FewExamples });
            }
        }

        let mut entity_types: Vec<EntityType> = Vec::new();
        let mut defined: HashMap<String, SourceLocation> = HashMap::new();
        for (entity_type, location) in self.entity_types {
            if let Some(first) = defined.get(&entity_type.name) {
                return Err(DataError::DuplicateEntityType {
                    name: entity_type.name,
                    first: first.clone(),
                    second: location,
                });
            }
            defined.insert(entity_type.name.clone(), location);
            entity_types.push(entity_type);
        }
        Ok((TrainingData { examples, entity_types }, self.warnings))
    }
}

/// Reads a file as UTF-8 (dropping a byte-order mark), locating the first bad byte if it is not.
pub(crate) fn read_utf8(path: &Path) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io { file: path.to_path_buf(), source })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text)),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            let location = SourceLocation { file: path.to_path_buf(), line };
            Err(DataError::NotUtf8 { location, column: valid.len() - line_start + 1 })
        }
    }
}

/// `(text, label)` from one JSONL line, or why not.
fn parse_jsonl_line(line: &str) -> Result<(String, String), String> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("not valid JSON ({e})"))?;
    let object = value.as_object().ok_or_else(|| "not a JSON object".to_string())?;
    let field = |name: &str| match object.get(name) {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("\"{name}\" is {other}, not a string")),
    };
    let text = field("text")?.ok_or_else(|| "no \"text\" field".to_string())?;
    let label = match field("label")? {
        Some(label) => label,
        None => field("intent")?.ok_or_else(|| "no \"label\" field".to_string())?,
    };
    Ok((text, label))
}

/// Intent and entity type names end up in flows, reports and model files: keep them plain.
/// Only names written in YAML are checked; JSONL labels are taken as published.
pub(crate) fn check_name(name: &str, kind: &'static str, allow_oos: bool, location: &SourceLocation) -> Result<(), DataError> {
    let reason = if name.is_empty() {
        "it is empty".to_string()
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        "use only letters, digits, '_', '-' and '.'".to_string()
    } else if name == OUT_OF_SCOPE && !allow_oos {
        format!("`{OUT_OF_SCOPE}` is reserved; put out-of-scope examples under the top-level `out_of_scope` key")
    } else {
        return Ok(());
    };
    Err(DataError::InvalidName { location: location.clone(), kind, name: name.to_string(), reason })
}

/// serde-saphyr's message, reworded for the person editing the file rather than a programmer, and
/// without its own location suffix (we print `file:line` in front).
pub(crate) fn yaml_message(error: &serde_saphyr::Error) -> String {
    let message = error.without_snippet().to_string();
    let message = match message.rfind(" at line ") {
        Some(cut) => &message[..cut],
        None => &message,
    };
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(", set DuplicateKeyPolicy").next().unwrap_or(rest);
        return format!("key `{key}` appears twice at this level; merge the two entries");
    }
    match message {
        "expected sequence start" => "expected a list here (`- item` lines, or `[a, b]`)".to_string(),
        "expected mapping start" => "expected a mapping here (`key: value` lines)".to_string(),
        // serde's own wording, from `deny_unknown_fields`.
        _ => message
            .replacen("unknown field", "unknown key", 1)
            .replacen(", expected one of", "; allowed keys:", 1),
    }
}

// The file as written. Every map uses `Option` so a key left with nothing under it (all its items
// commented out) reads as empty rather than failing.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlFile {
    version: Option<Spanned<u32>>,
    intents: Option<Entries<YamlIntent>>,
    entities: Option<Entries<YamlEntity>>,
    out_of_scope: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlIntent {
    examples: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlEntity {
    values: Option<Entries<Option<Vec<Spanned<String>>>>>,
    patterns: Option<Vec<Spanned<String>>>,
}

/// A YAML mapping kept in file order with each key's line (a `HashMap` or `BTreeMap` loses both).
pub(crate) struct Entries<V>(pub(crate) Vec<(Spanned<String>, V)>);

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of names to entries")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `content` to a fresh file named `name` and loads it.
    fn load_str(name: &str, content: &[u8]) -> Result<(TrainingData, Vec<Warning>), DataError> {
        let dir = std::env::temp_dir().join(format!("helpline-data-{}-{}", std::process::id(), fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let result = TrainingData::load(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        result
    }

    fn intent_yaml(intent: &str, n: usize) -> String {
        let mut s = format!("  {intent}:\n    examples:\n");
        for i in 0..n {
            s += &format!("      - {intent} example number {i}\n");
        }
        s
    }

    fn acme_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("lines/acme-bank/nlu.yml")
    }

    #[test]
    fn yaml_examples_carry_their_intent_and_line() {
        let yaml = "version: 1\nintents:\n  greet:\n    examples:\n      - hi there\n      - hello\n\
                    \x20 bye:\n    examples: [goodbye, see you]\nout_of_scope:\n  - what's the weather\n";
        let (data, _) = load_str("a.yml", yaml.as_bytes()).unwrap();
        let got: Vec<(&str, &str, usize)> =
            data.examples.iter().map(|e| (e.text.as_str(), e.intent.as_str(), e.source.line)).collect();
        assert_eq!(
            got,
            [
                ("hi there", "greet", 5),
                ("hello", "greet", 6),
                ("goodbye", "bye", 8),
                ("see you", "bye", 8),
                ("what's the weather", OUT_OF_SCOPE, 10)
            ]
        );
        assert_eq!(data.intents(), ["bye", "greet"]);
    }

    #[test]
    fn yes_no_and_numbers_read_as_text_not_booleans() {
        let yaml = "intents:\n  affirm:\n    examples:\n      - yes\n      - true\n      - 1234\n      - no way\n";
        let (data, _) = load_str("a.yaml", yaml.as_bytes()).unwrap();
        let texts: Vec<&str> = data.examples.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["yes", "true", "1234", "no way"]);
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_the_key_its_line_and_the_allowed_keys() {
        let yaml = "version: 1\nintents:\n  greet:\n    exampels:\n      - hi\n";
        let message = load_str("a.yml", yaml.as_bytes()).unwrap_err().to_string();
        assert!(message.contains("a.yml:4"), "{message}");
        assert!(message.contains("exampels") && message.contains("examples"), "{message}");

        let message = load_str("a.yml", b"intents: {}\nentitys: {}\n").unwrap_err().to_string();
        assert!(message.contains("a.yml:2"), "{message}");
        for allowed in ["entitys", "version", "intents", "entities", "out_of_scope"] {
            assert!(message.contains(allowed), "{message}");
        }
    }

    #[test]
    fn malformed_yaml_is_an_error_with_its_line() {
        let err = load_str("a.yml", b"intents:\n  greet:\n    examples:\n      - [unclosed\n").unwrap_err();
        assert!(matches!(err, DataError::Yaml { ref location, .. } if location.line >= 4), "{err}");
    }

    #[test]
    fn an_unsupported_version_is_an_error() {
        let err = load_str("a.yml", b"version: 2\nintents: {}\n").unwrap_err();
        assert!(matches!(err, DataError::UnsupportedVersion { found: 2, .. }), "{err}");
        assert!(err.to_string().contains("allowed: 1"), "{err}");
    }

    #[test]
    fn non_utf8_bytes_are_an_error_naming_file_and_line() {
        let err = load_str("bad.yml", b"intents:\n  greet:\n    examples:\n      - caf\xe9\n").unwrap_err();
        match &err {
            DataError::NotUtf8 { location, column } => {
                assert!(location.file.ends_with("bad.yml"));
                assert_eq!((location.line, *column), (4, 12));
            }
            other => panic!("expected NotUtf8, got {other}"),
        }
        let err = load_str("bad.jsonl", b"{\"text\": \"ok\", \"label\": \"a\"}\n\xff\n").unwrap_err();
        assert!(err.to_string().contains("bad.jsonl:2"), "{err}");
    }

    #[test]
    fn an_empty_example_is_skipped_with_a_warning() {
        let yaml = format!("intents:\n{}  empty:\n    examples:\n      - \"   \"\n      -\n", intent_yaml("greet", 5));
        let (data, warnings) = load_str("a.yml", yaml.as_bytes()).unwrap();
        assert_eq!(data.examples.len(), 5);
        let empty: Vec<usize> =
            warnings.iter().filter(|w| w.message.contains("empty example")).map(|w| w.location.line).collect();
        assert_eq!(empty, [11, 12]);
    }

    #[test]
    fn the_same_text_under_two_intents_is_a_conflict_listing_both_places() {
        let yaml =
            "intents:\n  a:\n    examples:\n      - Check  my Balance\n  b:\n    examples:\n      - check my balance\n";
        let err = load_str("c.yml", yaml.as_bytes()).unwrap_err();
        let DataError::Conflicts(conflicts) = &err else { panic!("expected a conflict, got {err}") };
        assert_eq!(conflicts.len(), 1);
        assert_eq!((conflicts[0].first.line, conflicts[0].second.line), (4, 7));
        let message = err.to_string();
        assert!(message.contains("c.yml:4") && message.contains("c.yml:7"), "{message}");
    }

    #[test]
    fn an_out_of_scope_example_that_is_also_an_intent_example_is_a_conflict() {
        let yaml = "intents:\n  a:\n    examples: [hello]\nout_of_scope: [HELLO]\n";
        assert!(matches!(load_str("c.yml", yaml.as_bytes()), Err(DataError::Conflicts(_))));
    }

    #[test]
    fn a_duplicate_within_one_intent_is_kept_once_with_a_warning_at_the_second_line() {
        let yaml = format!("intents:\n{}", intent_yaml("greet", 5)) + "      - greet  EXAMPLE number 0\n";
        let (data, warnings) = load_str("d.yml", yaml.as_bytes()).unwrap();
        assert_eq!(data.examples.len(), 5);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].location.line, 9);
        assert!(warnings[0].message.contains("d.yml:4"), "{}", warnings[0].message);
    }

    #[test]
    fn an_intent_with_one_example_draws_a_warning_asking_for_more() {
        let yaml = format!("intents:\n{}{}", intent_yaml("greet", 5), intent_yaml("lonely", 1));
        let (data, warnings) = load_str("w.yml", yaml.as_bytes()).unwrap();
        assert_eq!(data.examples.len(), 6);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].message.contains("`lonely` has only 1 example"), "{}", warnings[0]);
        assert!(warnings[0].message.contains("add at least 4 more"), "{}", warnings[0]);
    }

    #[test]
    fn reserved_and_odd_intent_names_are_errors() {
        let err = load_str("n.yml", b"intents:\n  oos:\n    examples: [hi]\n").unwrap_err();
        assert!(err.to_string().contains("out_of_scope"), "{err}");
        let err = load_str("n.yml", b"intents:\n  check balance:\n    examples: [hi]\n").unwrap_err();
        assert!(matches!(err, DataError::InvalidName { ref location, .. } if location.line == 2), "{err}");
    }

    #[test]
    fn jsonl_reads_label_or_intent_and_ignores_other_fields() {
        let jsonl =
            "{\"text\": \"hi\", \"label\": \"greet\"}\n\n{\"text\": \"bye\", \"intent\": \"bye\", \"slots\": []}\r\n";
        let (data, _) = load_str("b.jsonl", jsonl.as_bytes()).unwrap();
        let got: Vec<(&str, &str, usize)> =
            data.examples.iter().map(|e| (e.text.as_str(), e.intent.as_str(), e.source.line)).collect();
        assert_eq!(got, [("hi", "greet", 1), ("bye", "bye", 3)]);
    }

    #[test]
    fn a_bad_jsonl_line_is_an_error_with_its_line_number() {
        for bad in [
            "[1, 2]",
            "{\"text\": 5, \"label\": \"a\"}",
            "{\"text\": \"hi\"}",
            "{\"text\": \"hi\", \"label\": \" \"}",
            "{not json",
        ] {
            let content = format!("{{\"text\": \"fine\", \"label\": \"a\"}}\n{bad}\n");
            let err = load_str("j.jsonl", content.as_bytes()).unwrap_err();
            assert!(matches!(err, DataError::InvalidJsonLine { ref location, .. } if location.line == 2), "{err}");
            assert!(err.to_string().contains("j.jsonl:2"), "{err}");
        }
    }

    #[test]
    fn an_invalid_regex_pattern_is_an_error_with_its_line() {
        let yaml = "intents: {}\nentities:\n  account:\n    patterns:\n      - \"ok\\\\d+\"\n      - \"(unclosed\"\n";
        let err = load_str("p.yml", yaml.as_bytes()).unwrap_err();
        assert!(matches!(err, DataError::InvalidPattern { ref location, .. } if location.line == 6), "{err}");
    }

    #[test]
    fn entity_values_include_the_canonical_form_and_reject_ambiguous_synonyms() {
        let yaml =
            "entities:\n  account_type:\n    values:\n      checking: [current account, Checking]\n      savings:\n";
        let (data, _) = load_str("e.yml", yaml.as_bytes()).unwrap();
        let values = &data.entity_types[0].values;
        assert_eq!(values[0], ("checking".to_string(), vec!["checking".to_string(), "current account".to_string()]));
        assert_eq!(values[1], ("savings".to_string(), vec!["savings".to_string()]));

        let yaml = "entities:\n  account_type:\n    values:\n      checking: [main]\n      savings: [MAIN]\n";
        let err = load_str("e.yml", yaml.as_bytes()).unwrap_err();
        assert!(matches!(err, DataError::AmbiguousSynonym(ref clash) if clash.second.line == 5), "{err}");
    }

    #[test]
    fn unsupported_extensions_and_missing_files_are_errors() {
        assert!(matches!(load_str("a.txt", b"hi"), Err(DataError::UnsupportedFormat { .. })));
        let err = TrainingData::load(Path::new("/nonexistent/helpline.yml")).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }), "{err}");
    }

    #[test]
    fn load_all_merges_files_and_checks_across_them() {
        // A second copy repeats every example (warnings) and every entity type (an error).
        let err = TrainingData::load_all(&[acme_path(), acme_path()]).unwrap_err();
        assert!(matches!(err, DataError::DuplicateEntityType { .. }), "{err}");

        let dir = std::env::temp_dir().join(format!("helpline-merge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.yml"), dir.join("b.jsonl"));
        std::fs::write(&a, format!("intents:\n{}", intent_yaml("greet", 5))).unwrap();
        std::fs::write(&b, "{\"text\": \"greet example number 0\", \"label\": \"bye\"}\n").unwrap();
        let err = TrainingData::load_all(&[a.clone(), b.clone()]).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        let message = err.to_string();
        assert!(message.contains("a.yml:4") && message.contains("b.jsonl:1"), "{message}");
    }

    #[test]
    fn the_acme_sample_loads_cleanly() {
        let (data, warnings) = TrainingData::load(&acme_path()).unwrap_or_else(|e| panic!("{e}"));
        assert!(warnings.is_empty(), "{warnings:#?}");
        assert_eq!(data.intents().len(), 16);
        for intent in data.intents() {
            let n = data.examples.iter().filter(|e| e.intent == intent).count();
            assert!((12..=20).contains(&n), "{intent} has {n} examples");
        }
        assert!(data.examples.iter().filter(|e| e.intent == OUT_OF_SCOPE).count() >= 12);
        let names: Vec<&str> = data.entity_types.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["account_type", "card_type"]);
    }

    /// Reads the team's evaluation data, which a fresh clone does not have: run it with `--ignored`.
    #[test]
    #[ignore = "needs the team's evaluation data in ../shared/data/nlu"]
    fn the_public_benchmarks_load_without_conflicts() {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/nlu");
        let sets = [
            vec!["banking77/train.jsonl"],
            vec!["clinc150/train.jsonl", "clinc150/oos_train.jsonl"],
            vec!["snips/train_full.jsonl"],
        ];
        for files in sets {
            let paths: Vec<PathBuf> = files.iter().map(|f| base.join(f)).collect();
            let (data, _) = TrainingData::load_all(&paths).unwrap_or_else(|e| panic!("{e}"));
            assert!(data.intents().len() >= 7, "{files:?}");
        }
    }

    fn synthetic(counts: &[(&str, usize)]) -> TrainingData {
        let examples = counts
            .iter()
            .flat_map(|&(intent, n)| {
                (0..n).map(move |i| Example {
                    text: format!("{intent} {i}"),
                    intent: intent.to_string(),
                    source: SourceLocation { file: PathBuf::from("x.yml"), line: i + 1 },
                })
            })
            .collect();
        TrainingData { examples, entity_types: Vec::new() }
    }

    fn count(data: &TrainingData, intent: &str) -> usize {
        data.examples.iter().filter(|e| e.intent == intent).count()
    }

    #[test]
    fn split_is_stratified_keeps_every_intent_in_training_and_is_deterministic() {
        let data = synthetic(&[("a", 10), ("b", 2), ("c", 1), (OUT_OF_SCOPE, 5)]);
        let (train, test) = data.split(0.2, 7);
        assert_eq!((count(&test, "a"), count(&test, "b"), count(&test, "c"), count(&test, OUT_OF_SCOPE)), (2, 1, 0, 1));
        assert_eq!(train.examples.len() + test.examples.len(), data.examples.len());
        assert_eq!(count(&train, "c"), 1);

        let again = data.split(0.2, 7).1;
        assert_eq!(test.examples, again.examples);
        let other_seeds: Vec<_> = (0..5).map(|seed| data.split(0.2, seed).1.examples).collect();
        assert!(other_seeds.iter().any(|e| *e != test.examples), "the seed should matter");

        assert_eq!(data.split(1.0, 0).0.examples.len(), 4, "one of each intent stays for training");
        assert!(data.split(0.0, 0).1.examples.is_empty());
        assert!(data.split(f64::NAN, 0).1.examples.is_empty());
    }

    #[test]
    fn folds_partition_the_data_with_balanced_intents() {
        let data = synthetic(&[("a", 10), ("b", 3), ("c", 5)]);
        let folds = data.folds(5, 1);
        assert_eq!(folds.len(), 5);
        let mut seen: Vec<String> = Vec::new();
        for (train, test) in &folds {
            assert_eq!(train.examples.len() + test.examples.len(), 18);
            assert_eq!(count(test, "a"), 2);
            assert!(count(test, "c") == 1);
            assert!(test.examples.iter().all(|e| !train.examples.contains(e)));
            seen.extend(test.examples.iter().map(|e| e.text.clone()));
        }
        seen.sort();
        let mut all: Vec<String> = data.examples.iter().map(|e| e.text.clone()).collect();
        all.sort();
        assert_eq!(seen, all, "every example is tested exactly once");
        assert_eq!(data.folds(5, 1)[2].1.examples, folds[2].1.examples);
        assert!(data.folds(1, 1).is_empty());
    }
}
