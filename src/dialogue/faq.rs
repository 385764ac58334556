//! FAQ answers: a line's knowledge base, matched by meaning with the NLU's sentence encoder.
//!
//! A line's `faq.yml` lists entries (an id, the ways callers ask, one spoken answer) and optional
//! short documents, answered paragraph by paragraph:
//!
//! ```yaml
//! version: 1             # optional; 1 is the only version so far
//! threshold: 0.65        # optional (default: DEFAULT_THRESHOLD); below it, no guessing
//! entries:
//!   - id: branch_hours
//!     questions: [what time do you open, are you open on saturday]   # two or more
//!     answer: Our branches are open nine to five on weekdays.
//! documents:             # optional
//!   - id: fees
//!     title: Account fees
//!     text: |
//!       Paragraph one ...
//!
//!       Paragraph two ...
//! ```
//!
//! Every question, answer sentence and passage is encoded once at load; a caller's question is
//! encoded and compared (cosine) with all of them. An answer scores by its nearest text, blended
//! with its second nearest (an answer near several of its phrasings is surer than one that a single
//! phrasing happens to resemble), plus a share for the question's topic words that appear in the
//! answer's texts (rare words count more: "swift", "overdraft", "Labor Day" are the words MiniLM
//! weighs too lightly). The best answer is given unless it scores under [`DEFAULT_THRESHOLD`], or a
//! different answer is nearly as good while both are weak (the [`AMBIGUITY_MARGIN`] rule): a wrong
//! answer read aloud on a call costs more than "I don't know". Each of these rules was kept because it
//! measured better on held-out questions (`tests/faq.rs`), not because it sounds right.
//!
//! A passage is compared as a whole (with its document's title in front) and sentence by sentence:
//! a question usually asks about one sentence of it. The whole passage is the answer.
//!
//! Checks at load, each naming file and line: unknown keys (with the allowed ones), malformed YAML,
//! an unsupported `version`, a threshold outside (0, 1), an id that is not plain or is used twice,
//! an entry with fewer than [`MIN_QUESTIONS`] questions, an empty question, answer or document, the
//! same question under two entries, a passage over [`MAX_PASSAGE_WORDS`] words, a file with nothing
//! to answer.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::nlu::data::{self, DataError, SourceLocation};
use crate::nlu::encoder::{EncoderError, SentenceEncoder};

/// The YAML format version this code reads.
pub const SUPPORTED_VERSION: u32 = 1;

/// The least score at which the knowledge base answers.
///
/// Measured with `tests/faq.rs` on Acme Bank's `faq.yml`: 84 held-out paraphrases of its questions
/// and 50 questions it must refuse (other banking requests such as "I lost my card", small talk);
/// `cargo test --release --test faq -- --ignored --nocapture` prints the sweep. Paraphrases answered
/// right / questions refused: 0.55: 0.929 / 0.840 (too many guesses); 0.58: 0.929 / 0.900;
/// 0.60: 0.929 / 0.920; 0.61: 0.917 / 0.940; 0.63: 0.893 / 0.940; 0.66: 0.869 / 0.960 (too many
/// refusals). 0.61 is where both are over 90 % with the fewest wrong answers (2 of 84).
pub const DEFAULT_THRESHOLD: f32 = 0.61;

/// Two different answers whose scores are closer than this are a tie: the caller's question could
/// be either, so neither is read out unless the best clears the threshold by [`AMBIGUITY_BAND`].
/// Measured with the threshold: at 0.61 it refuses one more wrong paraphrase and one more question
/// the FAQ does not answer, at no cost in right answers.
pub const AMBIGUITY_MARGIN: f32 = 0.03;

/// Above `threshold + AMBIGUITY_BAND` the best answer is close enough to the question to be read
/// even when another answer is nearly as close (two entries that both answer it).
pub const AMBIGUITY_BAND: f32 = 0.1;

/// The weight of an answer's second-nearest text in its score (the nearest has the rest). A small
/// gain, measured with word overlap: one more paraphrase of 84 right at the chosen threshold than
/// the nearest text alone (0).
const RUNNER_UP_WEIGHT: f32 = 0.25;

/// The weight of word overlap in the score. Measured from 0 to 0.3: the lower of the two rates at
/// the best threshold rises from 0.88 (0) to 0.92 (0.15 to 0.25) and falls again at 0.3, where
/// shared words start to outweigh meaning.
const WORD_OVERLAP_WEIGHT: f32 = 0.2;

/// Words that say nothing about what is asked, left out of word overlap.
const STOP_WORDS: &[&str] = &[
    "a", "about", "am", "an", "and", "any", "are", "at", "be", "by", "can", "can't", "could", "did", "do", "does",
    "don't", "for", "from", "get", "has", "have", "how", "i", "i'd", "i'm", "if", "in", "into", "is", "it", "it's",
    "i've", "just", "like", "many", "me", "much", "my", "need", "of", "on", "or", "our", "out", "please", "should",
    "so", "some", "that", "the", "there", "this", "to", "too", "up", "us", "want", "was", "we", "what", "what's",
    "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
];

/// An entry needs this many phrasings: one phrasing matches its own wording, two start to cover
/// how callers ask.
pub const MIN_QUESTIONS: usize = 2;

/// A passage is read aloud whole and encoded whole: 80 words is about 30 seconds of speech, and
/// stays under the encoder's 128 word pieces (about 90 words), past which text is cut off unseen.
pub const MAX_PASSAGE_WORDS: usize = 80;

/// One answer to a caller's question.
#[derive(Debug, Clone, PartialEq)]
pub struct FaqAnswer {
    /// The entry's id, or `document#n` for the n-th paragraph (from 1) of a document.
    pub id: String,
    /// What to say.
    pub answer: String,
    /// The written question (or passage sentence) nearest the caller's.
    pub matched: String,
    /// How well the answer fits: cosine similarities blended with word overlap (see the module
    /// documentation); above 1 for a question the file lists word for word, and compared with
    /// the threshold.
    pub score: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum FaqError {
    /// The file cannot be read, is not UTF-8, or an id is not a plain name.
    #[error(transparent)]
    Read(#[from] DataError),
    /// Malformed YAML, a value of the wrong type, or an unknown key (serde names the allowed ones).
    #[error("{location}: {message}")]
    Yaml { location: SourceLocation, message: String },
    #[error("{location}: version {found} is not supported; allowed: {SUPPORTED_VERSION}")]
    UnsupportedVersion { location: SourceLocation, found: u32 },
    #[error(
        "{location}: threshold {found} is out of range; use a cosine similarity between 0 and 1 \
         (leave it out for the measured default, {DEFAULT_THRESHOLD})"
    )]
    InvalidThreshold { location: SourceLocation, found: f32 },
    #[error("{second}: id `{id}` is already used at {first}; give each entry and document its own id")]
    DuplicateId { id: String, first: SourceLocation, second: SourceLocation },
    #[error(
        "{location}: entry `{id}` has {found} question(s); write at least {MIN_QUESTIONS} ways a caller \
         might ask it"
    )]
    TooFewQuestions { location: SourceLocation, id: String, found: usize },
    #[error("{location}: the {what} of `{id}` is empty; write it, or remove the line")]
    Empty { location: SourceLocation, id: String, what: &'static str },
    #[error("{0}")]
    SharedQuestion(Box<SharedQuestion>),
    #[error(
        "{location}: paragraph {paragraph} of document `{id}` has {words} words; keep each paragraph \
         under {MAX_PASSAGE_WORDS} words (it is read aloud whole) by splitting it with a blank line"
    )]
    PassageTooLong { location: SourceLocation, id: String, paragraph: usize, words: usize },
    #[error("{}: no entries and no documents; add at least one entry under `entries`", file.display())]
    Nothing { file: PathBuf },
    #[error("cannot encode the FAQ of {}: {source}", file.display())]
    EncodeFile { file: PathBuf, source: EncoderError },
    #[error("cannot encode the question {question:?}: {source}")]
    EncodeQuestion { question: String, source: EncoderError },
}

/// One question written under two entries: the knowledge base could not tell which answer it means.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedQuestion {
    pub question: String,
    pub first_id: String,
    pub first: SourceLocation,
    pub second_id: String,
    pub second: SourceLocation,
}

impl fmt::Display for SharedQuestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: question {:?} of entry `{}` is also under `{}` at {}; a question must lead to one answer",
            self.second, self.question, self.second_id, self.first_id, self.first
        )
    }
}

/// Something the knowledge base can say: an entry's answer or a document's paragraph.
#[derive(Debug)]
struct Answer {
    id: String,
    text: String,
    /// The topic words (stemmed) of all its texts, for word overlap.
    words: HashSet<String>,
}

/// A text compared with callers' questions, and the answer it leads to.
#[derive(Debug)]
struct Key {
    text: String,
    answer: usize,
    /// Written as a caller's question (not an answer sentence or a passage).
    asked: bool,
}

/// A line's FAQ, encoded and ready to answer.
pub struct KnowledgeBase {
    encoder: Arc<SentenceEncoder>,
    threshold: f32,
    answers: Vec<Answer>,
    keys: Vec<Key>,
    /// Unit vectors, one per key, in key order.
    vectors: Vec<Vec<f32>>,
    words: TopicWords,
}

impl fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnowledgeBase")
            .field("threshold", &self.threshold)
            .field("answers", &self.answers.len())
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl KnowledgeBase {
    /// Reads and checks `path`, then encodes every question and passage.
    pub fn load(path: &Path, encoder: Arc<SentenceEncoder>) -> Result<KnowledgeBase, FaqError> {
        let parsed = parse(path, &data::read_utf8(path)?)?;
        let texts: Vec<String> = parsed.keys.iter().map(|k| k.text.clone()).collect();
        let encode_err = |source| FaqError::EncodeFile { file: path.to_path_buf(), source };
        let vectors = encoder.encode_all(&texts, |_| {}).map_err(encode_err)?;
        let vectors = vectors.to_vec2::<f32>().map_err(|e| encode_err(EncoderError::Encode(e.to_string())))?;
        let words = TopicWords::new();
        let mut answers = parsed.answers;
        for key in &parsed.keys {
            answers[key.answer].words.extend(words.of(&key.text));
        }
        let words = words.with_rarity(&answers);
        Ok(KnowledgeBase { encoder, threshold: parsed.threshold, answers, keys: parsed.keys, vectors, words })
    }

    /// The number of answers: entries, plus one per document paragraph.
    /// The questions written in the file, as callers would ask them (the line teaches its intent
    /// model to recognise them as the `faq` intent).
    pub fn questions(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter(|k| k.asked).map(|k| k.text.as_str())
    }

    pub fn len(&self) -> usize {
        self.answers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }

    /// The score below which nothing is answered.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The answer to `question`, or None when nothing in the knowledge base answers it with enough
    /// confidence (see [`choose`]).
    pub fn answer(&self, question: &str) -> Result<Option<FaqAnswer>, FaqError> {
        let candidates = self.candidates(question, 2)?;
        let chosen = choose(&candidates, self.threshold);
        tracing::debug!(
            question,
            best = ?candidates.first().map(|c| (&c.id, c.score)),
            runner_up = ?candidates.get(1).map(|c| (&c.id, c.score)),
            answered = chosen.is_some(),
            "faq"
        );
        Ok(chosen.cloned())
    }

    /// The `n` best answers to `question`, best first, whatever their score (one per entry or
    /// paragraph, each with its nearest text): for debugging a knowledge base and for tests. Empty
    /// when the question has no words.
    pub fn candidates(&self, question: &str, n: usize) -> Result<Vec<FaqAnswer>, FaqError> {
        let question = question.trim();
        if question.is_empty() || n == 0 {
            return Ok(Vec::new());
        }
        let encode_err = |source| FaqError::EncodeQuestion { question: question.to_string(), source };
        let vector = self.encoder.encode(&[question]).map_err(encode_err)?;
        let vector = vector.to_vec2::<f32>().map_err(|e| encode_err(EncoderError::Encode(e.to_string())))?;
        let Some(vector) = vector.first() else { return Ok(Vec::new()) };

        // The two nearest keys of each answer. Every answer has two keys or more (an entry's
        // questions; a passage whole and by sentence), so every answer is scored alike.
        let mut nearest: Vec<[Option<(f32, usize)>; 2]> = vec![[None, None]; self.answers.len()];
        for (index, (key, key_vector)) in self.keys.iter().zip(&self.vectors).enumerate() {
            let score = dot(vector, key_vector);
            let [first, second] = &mut nearest[key.answer];
            if first.is_none_or(|(s, _)| score > s) {
                *second = *first;
                *first = Some((score, index));
            } else if second.is_none_or(|(s, _)| score > s) {
                *second = Some((score, index));
            }
        }
        let question_words = self.words.of(question);
        let mut ranked: Vec<(f32, usize)> = nearest
            .into_iter()
            .enumerate()
            .filter_map(|(answer, [first, second])| {
                let (first, key) = first?;
                let second = second.map_or(first, |(s, _)| s);
                let overlap = self.words.overlap(&question_words, &self.answers[answer].words);
                let score =
                    (1.0 - RUNNER_UP_WEIGHT) * first + RUNNER_UP_WEIGHT * second + WORD_OVERLAP_WEIGHT * overlap;
                Some((score, key))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(ranked
            .into_iter()
            .take(n)
            .map(|(score, key)| {
                let answer = &self.answers[self.keys[key].answer];
                FaqAnswer {
                    id: answer.id.clone(),
                    answer: answer.text.clone(),
                    matched: self.keys[key].text.clone(),
                    score,
                }
            })
            .collect())
    }
}

/// The rules that decide whether the best candidate is read out. `candidates` are one per answer,
/// best first (as [`KnowledgeBase::candidates`] gives them):
///
/// - below `threshold`, nothing is answered: the question is not near anything written;
/// - when the runner-up (a different answer) is within [`AMBIGUITY_MARGIN`] and the best is under
///   `threshold + AMBIGUITY_BAND`, nothing is answered: the question sits between two answers and
///   near neither, so either could be wrong.
pub fn choose(candidates: &[FaqAnswer], threshold: f32) -> Option<&FaqAnswer> {
    let best = candidates.first()?;
    if best.score < threshold {
        return None;
    }
    if let Some(runner_up) = candidates.get(1) {
        if best.score - runner_up.score < AMBIGUITY_MARGIN && best.score < threshold + AMBIGUITY_BAND {
            return None;
        }
    }
    Some(best)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Word overlap between a question and an answer's texts: the share of the question's topic words
/// (stemmed, stop words left out) found in the answer, each weighted by its rarity among answers
/// (inverse document frequency), so "card", in many answers, counts less than "swift".
struct TopicWords {
    stemmer: rust_stemmers::Stemmer,
    /// ln(answers / answers with the word); a word in no answer has the highest rarity.
    rarity: HashMap<String, f32>,
    unseen_rarity: f32,
}

impl TopicWords {
    fn new() -> Self {
        Self {
            stemmer: rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English),
            rarity: HashMap::new(),
            unseen_rarity: 0.0,
        }
    }

    fn with_rarity(mut self, answers: &[Answer]) -> Self {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for answer in answers {
            for word in &answer.words {
                *counts.entry(word).or_default() += 1;
            }
        }
        let total = answers.len().max(1) as f32;
        self.rarity = counts.into_iter().map(|(word, n)| (word.to_string(), (total / n as f32).ln())).collect();
        self.unseen_rarity = total.ln();
        self
    }

    /// The topic words of `text`, stemmed, in order (repeats kept).
    fn of(&self, text: &str) -> Vec<String> {
        text.to_lowercase()
            .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
            .map(|word| word.trim_matches(['\'', '’']).replace('’', "'"))
            .filter(|word| !word.is_empty() && !STOP_WORDS.contains(&word.as_str()))
            .map(|word| self.stemmer.stem(&word.replace('\'', "")).into_owned())
            .collect()
    }

    /// The rarity-weighted share of `question` found in `answer`, in [0, 1].
    fn overlap(&self, question: &[String], answer: &HashSet<String>) -> f32 {
        let rarity = |word: &String| self.rarity.get(word).copied().unwrap_or(self.unseen_rarity);
        let total: f32 = question.iter().map(rarity).sum();
        if total <= 0.0 {
            return 0.0;
        }
        question.iter().filter(|word| answer.contains(*word)).map(rarity).sum::<f32>() / total
    }
}

/// The file's content, checked, before encoding.
struct Parsed {
    threshold: f32,
    answers: Vec<Answer>,
    keys: Vec<Key>,
}

/// Reads and checks the text of `path`.
fn parse(path: &Path, text: &str) -> Result<Parsed, FaqError> {
    let at = |line: u64| SourceLocation { file: path.to_path_buf(), line: usize::try_from(line).unwrap_or(0) };
    // Empty list items (`- `) read as "" so they are reported as empty questions with their line,
    // rather than as serde's "invalid type: null".
    let options = serde_saphyr::options! { null_as_string: true, with_snippet: false };
    let file: FaqFile = if text.trim().is_empty() {
        FaqFile::default()
    } else {
        serde_saphyr::from_str_with_options(text, options).map_err(|e| FaqError::Yaml {
            location: at(e.location().map_or(0, |l| l.line())),
            message: data::yaml_message(&e),
        })?
    };

    if let Some(version) = &file.version {
        if version.value != SUPPORTED_VERSION {
            return Err(FaqError::UnsupportedVersion { location: at(version.referenced.line()), found: version.value });
        }
    }
    let threshold = match &file.threshold {
        Some(t) if !(t.value > 0.0 && t.value < 1.0) => {
            return Err(FaqError::InvalidThreshold { location: at(t.referenced.line()), found: t.value })
        }
        Some(t) => t.value,
        None => DEFAULT_THRESHOLD,
    };

    let mut parsed = Parsed { threshold, answers: Vec::new(), keys: Vec::new() };
    let mut ids: HashMap<String, SourceLocation> = HashMap::new();
    let mut claim_id = |id: &Spanned<String>| -> Result<String, FaqError> {
        let location = at(id.referenced.line());
        let name = id.value.trim().to_string();
        data::check_name(&name, "FAQ id", true, &location)?;
        if let Some(first) = ids.get(&name) {
            return Err(FaqError::DuplicateId { id: name, first: first.clone(), second: location });
        }
        ids.insert(name.clone(), location);
        Ok(name)
    };
    let non_empty = |text: &Spanned<String>, id: &str, what: &'static str| -> Result<String, FaqError> {
        let trimmed = text.value.trim();
        if trimmed.is_empty() {
            return Err(FaqError::Empty { location: at(text.referenced.line()), id: id.to_string(), what });
        }
        Ok(trimmed.to_string())
    };

    // normalised question → (entry id, where it was written)
    let mut asked: HashMap<String, (String, SourceLocation)> = HashMap::new();
    for entry in file.entries.unwrap_or_default() {
        let id = claim_id(&entry.id)?;
        let answer = non_empty(&entry.answer, &id, "answer")?;
        if entry.questions.len() < MIN_QUESTIONS {
            return Err(FaqError::TooFewQuestions {
                location: at(entry.id.referenced.line()),
                id,
                found: entry.questions.len(),
            });
        }
        let index = parsed.answers.len();
        for question in &entry.questions {
            let text = non_empty(question, &id, "question")?;
            let location = at(question.referenced.line());
            match asked.get(&data::normalize(&text)) {
                Some((first_id, _)) if *first_id == id => continue, // written twice in one entry: harmless
                Some((first_id, first)) => {
                    return Err(FaqError::SharedQuestion(Box::new(SharedQuestion {
                        question: text,
                        first_id: first_id.clone(),
                        first: first.clone(),
                        second_id: id,
                        second: location,
                    })))
                }
                None => {
                    asked.insert(data::normalize(&text), (id.clone(), location));
                    parsed.keys.push(Key { text, answer: index, asked: true });
                }
            }
        }
        // The answer's own sentences are matched too: they name what it is about in words the
        // questions may not use ("Labor Day", "paycheck").
        parsed
            .keys
            .extend(crate::tts::split_sentences(&answer).into_iter().map(|text| Key { text, answer: index, asked: false }));
        parsed.answers.push(Answer { id, text: answer, words: HashSet::new() });
    }

    for document in file.documents.unwrap_or_default() {
        let id = claim_id(&document.id)?;
        let title = non_empty(&document.title, &id, "title")?;
        non_empty(&document.text, &id, "text")?;
        for (number, (offset, paragraph)) in paragraphs(&document.text.value).into_iter().enumerate() {
            let number = number + 1;
            let words = paragraph.split_whitespace().count();
            if words > MAX_PASSAGE_WORDS {
                // A block scalar (`text: |`) is located at its first line, so lines count on from there.
                let location = at(document.text.referenced.line() + offset as u64);
                return Err(FaqError::PassageTooLong { location, id, paragraph: number, words });
            }
            let index = parsed.answers.len();
            parsed.keys.push(Key { text: format!("{title}: {paragraph}"), answer: index, asked: false });
            parsed
                .keys
                .extend(crate::tts::split_sentences(&paragraph).into_iter().map(|text| Key { text, answer: index, asked: false }));
            parsed.answers.push(Answer { id: format!("{id}#{number}"), text: paragraph, words: HashSet::new() });
        }
    }

    if parsed.answers.is_empty() {
        return Err(FaqError::Nothing { file: path.to_path_buf() });
    }
    Ok(parsed)
}

/// A document's paragraphs (split at blank lines), each on one line, with the number of lines of
/// `text` before it (to locate it in the file).
fn paragraphs(text: &str) -> Vec<(usize, String)> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut first_line = 0;
    for (index, line) in text.lines().map(str::trim).chain(std::iter::once("")).enumerate() {
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push((first_line, current.join(" ")));
                current.clear();
            }
        } else {
            if current.is_empty() {
                first_line = index;
            }
            current.push(line);
        }
    }
    paragraphs
}

// The file as written. Lists are `Option` so a key left with nothing under it (all its items
// commented out) reads as empty rather than failing.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FaqFile {
    version: Option<Spanned<u32>>,
    threshold: Option<Spanned<f32>>,
    entries: Option<Vec<YamlEntry>>,
    documents: Option<Vec<YamlDocument>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlEntry {
    id: Spanned<String>,
    questions: Vec<Spanned<String>>,
    answer: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlDocument {
    id: Spanned<String>,
    title: Spanned<String>,
    text: Spanned<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(yaml: &str) -> Result<Parsed, FaqError> {
        parse(Path::new("lines/test/faq.yml"), yaml)
    }

    fn error(yaml: &str) -> String {
        match parse_str(yaml) {
            Ok(_) => panic!("expected an error for:\n{yaml}"),
            Err(e) => e.to_string(),
        }
    }

    const HOURS: &str = "  - id: branch_hours\n    questions: [when do you open, what are your hours]\n    \
                         answer: Nine to five.\n";

    fn candidate(id: &str, score: f32) -> FaqAnswer {
        FaqAnswer { id: id.into(), answer: format!("{id} answer"), matched: format!("{id} question"), score }
    }

    #[test]
    fn entries_and_document_paragraphs_become_answers() {
        let yaml = format!(
            "version: 1\nthreshold: 0.7\nentries:\n{HOURS}documents:\n  - id: fees\n    title: Account fees\n    \
             text: |\n      Checking costs $12 a month.\n      It is waived with direct deposit.\n\n      \
             ATMs outside the network cost $3.\n"
        );
        let parsed = parse_str(&yaml).expect("valid");
        assert_eq!(parsed.threshold, 0.7);
        let ids: Vec<&str> = parsed.answers.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["branch_hours", "fees#1", "fees#2"]);
        assert_eq!(parsed.answers[1].text, "Checking costs $12 a month. It is waived with direct deposit.");
        let keys: Vec<(&str, usize)> = parsed.keys.iter().map(|k| (k.text.as_str(), k.answer)).collect();
        assert_eq!(
            keys,
            [
                ("when do you open", 0),
                ("what are your hours", 0),
                ("Nine to five.", 0),
                ("Account fees: Checking costs $12 a month. It is waived with direct deposit.", 1),
                ("Checking costs $12 a month.", 1),
                ("It is waived with direct deposit.", 1),
                ("Account fees: ATMs outside the network cost $3.", 2),
                ("ATMs outside the network cost $3.", 2),
            ]
        );
    }

    #[test]
    fn the_threshold_defaults_to_the_measured_one() {
        let parsed = parse_str(&format!("entries:\n{HOURS}")).expect("valid");
        assert_eq!(parsed.threshold, DEFAULT_THRESHOLD);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line_and_the_allowed_keys() {
        let message = error(&format!("version: 1\nentries:\n{HOURS}    answers: oops\n"));
        assert!(message.starts_with("lines/test/faq.yml:6: unknown key `answers`; allowed keys:"), "{message}");
        assert!(message.contains("questions"), "{message}");
        let message = error("version: 1\nfaq: []\n");
        assert!(message.starts_with("lines/test/faq.yml:2: unknown key `faq`"), "{message}");
        assert!(message.contains("entries") && message.contains("documents"), "{message}");
    }

    #[test]
    fn an_unsupported_version_or_threshold_is_refused() {
        let message = error(&format!("version: 2\nentries:\n{HOURS}"));
        assert!(message.starts_with("lines/test/faq.yml:1: version 2 is not supported"), "{message}");
        for bad in ["0", "1.5", "-0.2"] {
            let message = error(&format!("threshold: {bad}\nentries:\n{HOURS}"));
            assert!(message.starts_with("lines/test/faq.yml:1: threshold"), "{message}");
            assert!(message.contains("between 0 and 1"), "{message}");
        }
    }

    #[test]
    fn an_entry_needs_two_questions_and_an_answer() {
        let message = error("entries:\n  - id: hours\n    questions: [when do you open]\n    answer: Nine.\n");
        assert!(message.starts_with("lines/test/faq.yml:2: entry `hours` has 1 question(s)"), "{message}");
        let message = error("entries:\n  - id: hours\n    questions: [a, b]\n    answer: \"  \"\n");
        assert!(message.starts_with("lines/test/faq.yml:4: the answer of `hours` is empty"), "{message}");
        let message = error("entries:\n  - id: hours\n    questions:\n      - when\n      -\n    answer: Nine.\n");
        assert!(message.starts_with("lines/test/faq.yml:5: the question of `hours` is empty"), "{message}");
        let message = error("entries:\n  - id: hours\n    answer: Nine.\n");
        assert!(message.contains("missing field `questions`"), "{message}");
    }

    #[test]
    fn ids_are_plain_and_used_once() {
        let message = error(&format!("entries:\n{HOURS}{HOURS}"));
        assert!(message.starts_with("lines/test/faq.yml:5: id `branch_hours` is already used at"), "{message}");
        assert!(message.contains("faq.yml:2"), "{message}");
        let message = error("entries:\n  - id: branch hours\n    questions: [a, b]\n    answer: Nine.\n");
        assert!(message.starts_with("lines/test/faq.yml:2: FAQ id name \"branch hours\""), "{message}");
        let document = "documents:\n  - id: branch_hours\n    title: Hours\n    text: Nine to five.\n";
        let message = error(&format!("entries:\n{HOURS}{document}"));
        assert!(message.contains("id `branch_hours` is already used"), "{message}");
    }

    #[test]
    fn a_question_under_two_entries_is_refused() {
        let other = "  - id: weekend\n    questions: [When do you  OPEN, saturday hours]\n    answer: Nine to one.\n";
        let message = error(&format!("entries:\n{HOURS}{other}"));
        assert!(message.starts_with("lines/test/faq.yml:6: question \"When do you  OPEN\""), "{message}");
        assert!(message.contains("also under `branch_hours` at lines/test/faq.yml:3"), "{message}");
    }

    #[test]
    fn a_long_paragraph_is_refused() {
        let long = "word ".repeat(MAX_PASSAGE_WORDS + 1);
        let yaml =
            format!("documents:\n  - id: fees\n    title: Fees\n    text: |\n      Short one.\n\n      {long}\n");
        let message = error(&yaml);
        assert!(message.starts_with("lines/test/faq.yml:7: paragraph 2 of document `fees` has 81 words"), "{message}");
    }

    #[test]
    fn a_file_with_nothing_to_answer_is_refused() {
        for yaml in ["", "version: 1\n", "entries: []\ndocuments:\n"] {
            assert!(error(yaml).contains("no entries and no documents"), "{yaml:?}");
        }
    }

    #[test]
    fn malformed_yaml_is_located() {
        let message = error("entries:\n  - id: x\n    questions: [a, b\n    answer: y\n");
        assert!(message.starts_with("lines/test/faq.yml:"), "{message}");
    }

    #[test]
    fn the_best_candidate_is_read_when_it_clears_the_threshold() {
        let candidates = [candidate("hours", 0.8), candidate("fees", 0.5)];
        assert_eq!(choose(&candidates, 0.6).map(|c| c.id.as_str()), Some("hours"));
        assert_eq!(choose(&candidates, 0.85), None);
        assert_eq!(choose(&[], 0.6), None);
        assert_eq!(choose(&candidates[..1], 0.6).map(|c| c.id.as_str()), Some("hours"));
    }

    #[test]
    fn a_weak_near_tie_between_two_answers_is_not_guessed() {
        let t = 0.6;
        let tie = [candidate("atm_limit", t + 0.02), candidate("transfer_limit", t + 0.02 - AMBIGUITY_MARGIN / 2.0)];
        assert_eq!(choose(&tie, t), None);
        // A clear winner, or a tie well above the threshold, is answered.
        let clear = [candidate("atm_limit", t + 0.02), candidate("transfer_limit", t - 0.1)];
        assert!(choose(&clear, t).is_some());
        let strong =
            [candidate("atm_limit", t + AMBIGUITY_BAND + 0.01), candidate("transfer_limit", t + AMBIGUITY_BAND)];
        assert!(choose(&strong, t).is_some());
    }

    #[test]
    fn word_overlap_weighs_rare_topic_words_over_common_ones() {
        let words = TopicWords::new();
        assert_eq!(words.of("What's the SWIFT code for wires?"), ["swift", "code", "wire"]);
        let answer = |texts: &[&str]| Answer {
            id: String::new(),
            text: String::new(),
            words: texts.iter().flat_map(|t| words.of(t)).collect(),
        };
        let answers = [answer(&["swift code"]), answer(&["card arrives"]), answer(&["lost card"])];
        let words = words.with_rarity(&answers);
        let question = words.of("my card's swift code");
        let on_swift = words.overlap(&question, &answers[0].words);
        let on_card = words.overlap(&question, &answers[1].words);
        assert!(on_swift > 2.0 * on_card && on_card > 0.0, "{on_swift} vs {on_card}");
        assert_eq!(words.overlap(&words.of("what is it"), &answers[0].words), 0.0, "stop words only");
    }

    #[test]
    fn paragraphs_split_at_blank_lines() {
        assert_eq!(paragraphs("a\nb\n\n\n  c  \n\n"), [(0, "a b".to_string()), (4, "c".to_string())]);
        assert!(paragraphs("\n \n").is_empty());
    }

    #[test]
    fn a_knowledge_base_can_be_shared_between_call_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<KnowledgeBase>();
    }
}
