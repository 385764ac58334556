//! A deployment's own entities: named lists of values with synonyms ("account_type": checking =
//! "checking", "current account", "cheque account"), and regular expressions.
//!
//! Synonyms match whole words, case-insensitively, multi-word ones included; the longest synonym at a
//! position wins. A single word the recogniser got slightly wrong ("checkin" for "checking") matches
//! fuzzily: normalised Damerau-Levenshtein similarity (`strsim`) of at least [`FUZZY_THRESHOLD`], with
//! the similarity as confidence. Words under four letters are never matched fuzzily, on either side:
//! one wrong letter in a three-letter word makes another word. Multi-word synonyms match exactly only.
//!
//! A pattern's whole match is the value, with confidence 1.0.

use std::collections::HashMap;

use regex::Regex;

use super::words::{tokenize, Token};
use super::{Candidate, EntityValue};

/// Lowest similarity for a fuzzy match. One wrong letter in a word of five or more letters passes
/// ("checkin"/"checking" 0.875, "savins"/"savings" 0.857); two in an eight-letter word (0.75) is as often
/// a different word, so it does not.
const FUZZY_THRESHOLD: f64 = 0.8;

/// Shortest word, in letters, that may match fuzzily.
const MIN_FUZZY_LETTERS: usize = 4;

/// A named entity type of the deployment's own.
#[derive(Debug, Clone)]
pub struct CustomEntity {
    /// The kind reported for its matches, e.g. "account_type".
    pub name: String,
    pub values: Vec<CustomValue>,
    /// Each match of each pattern is an entity whose value is the matched text.
    pub patterns: Vec<Regex>,
}

/// One canonical value and the other ways of saying it.
#[derive(Debug, Clone)]
pub struct CustomValue {
    /// Reported as the entity's value; also matched itself.
    pub value: String,
    pub synonyms: Vec<String>,
}

/// A custom entity prepared for matching: synonyms as token sequences, indexed by first word.
pub(super) struct Compiled {
    name: String,
    values: Vec<String>,
    /// First word → (all words, index into `values`), longest first.
    phrases: HashMap<String, Vec<(Vec<String>, usize)>>,
    /// Single words long enough to match fuzzily, with their value index.
    fuzzy: Vec<(String, usize)>,
    patterns: Vec<Regex>,
}

impl Compiled {
    pub(super) fn new(entity: CustomEntity) -> Self {
        let mut phrases: HashMap<String, Vec<(Vec<String>, usize)>> = HashMap::new();
        let mut fuzzy = Vec::new();
        for (index, v) in entity.values.iter().enumerate() {
            for said in std::iter::once(&v.value).chain(&v.synonyms) {
                // Read synonyms the way input is read, so "Cheque-Account" matches "cheque account".
                let words: Vec<String> = tokenize(said).into_iter().map(|t| t.norm).collect();
                let Some(first) = words.first().cloned() else { continue };
                if words.len() == 1 && first.chars().count() >= MIN_FUZZY_LETTERS {
                    fuzzy.push((first.clone(), index));
                }
                phrases.entry(first).or_default().push((words, index));
            }
        }
        for list in phrases.values_mut() {
            list.sort_by_key(|(words, _)| std::cmp::Reverse(words.len()));
        }
        let values = entity.values.into_iter().map(|v| v.value).collect();
        Compiled { name: entity.name, values, phrases, fuzzy, patterns: entity.patterns }
    }

    pub(super) fn extract(&self, text: &str, tokens: &[Token], out: &mut Vec<Candidate>) {
        let mut i = 0;
        while i < tokens.len() {
            if let Some((len, index)) = self.exact_at(tokens, i) {
                let value = EntityValue::Text(self.values[index].clone());
                out.push(Candidate::new(&self.name, value, tokens[i].start, tokens[i + len - 1].end));
                i += len;
                continue;
            }
            if let Some((index, similarity)) = self.fuzzy_match(&tokens[i].norm) {
                let value = EntityValue::Text(self.values[index].clone());
                let candidate = Candidate::new(&self.name, value, tokens[i].start, tokens[i].end);
                out.push(candidate.with_confidence(similarity as f32));
            }
            i += 1;
        }
        for pattern in &self.patterns {
            for m in pattern.find_iter(text).filter(|m| !m.is_empty()) {
                let value = EntityValue::Text(m.as_str().to_string());
                out.push(Candidate::new(&self.name, value, m.start(), m.end()));
            }
        }
    }

    /// The longest synonym starting at token `i`: its length in tokens and its value index.
    fn exact_at(&self, tokens: &[Token], i: usize) -> Option<(usize, usize)> {
        let candidates = self.phrases.get(&tokens[i].norm)?;
        candidates.iter().find_map(|(words, index)| {
            let said = tokens.get(i..i + words.len())?;
            said.iter().zip(words).all(|(t, w)| t.norm == *w).then_some((words.len(), *index))
        })
    }

    /// The single-word synonym most like `word`, if similar enough.
    fn fuzzy_match(&self, word: &str) -> Option<(usize, f64)> {
        let letters = word.chars().count();
        if letters < MIN_FUZZY_LETTERS || !word.chars().all(char::is_alphabetic) {
            return None;
        }
        self.fuzzy
            .iter()
            // Words whose lengths differ by more than a fifth cannot reach the threshold; skip the work.
            .filter(|(w, _)| {
                let other = w.chars().count();
                (letters.min(other) as f64) >= FUZZY_THRESHOLD * letters.max(other) as f64
            })
            .map(|(w, index)| (*index, strsim::normalized_damerau_levenshtein(word, w)))
            .filter(|(_, similarity)| *similarity >= FUZZY_THRESHOLD)
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::super::tests::today;
    use super::super::{kind, EntityExtractor, EntityValue};
    use super::{CustomEntity, CustomValue};

    fn value(value: &str, synonyms: &[&str]) -> CustomValue {
        CustomValue { value: value.into(), synonyms: synonyms.iter().map(|s| s.to_string()).collect() }
    }

    fn extractor() -> EntityExtractor {
        EntityExtractor::new(vec![
            CustomEntity {
                name: "account_type".into(),
                values: vec![
                    value("checking", &["current account", "cheque account"]),
                    value("savings", &["savings account", "deposit account", "isa"]),
                ],
                patterns: vec![],
            },
            CustomEntity {
                name: "policy".into(),
                values: vec![],
                patterns: vec![Regex::new(r"\bPOL-\d{4}\b").expect("valid pattern")],
            },
        ])
    }

    fn found(text: &str) -> Vec<(String, EntityValue, f32)> {
        extractor().extract(text, today()).into_iter().map(|e| (e.kind, e.value, e.confidence)).collect()
    }

    fn exact(kind: &str, value: &str) -> (String, EntityValue, f32) {
        (kind.to_string(), EntityValue::Text(value.to_string()), 1.0)
    }

    #[test]
    fn values_and_synonyms_match_whole_words_in_any_case() {
        assert_eq!(found("my Checking please"), [exact("account_type", "checking")]);
        assert_eq!(found("the current account"), [exact("account_type", "checking")]);
        assert_eq!(found("move it to my savings account"), [exact("account_type", "savings")]);
        assert_eq!(found("an ISA"), [exact("account_type", "savings")]);
        // Inside another word is not a match.
        assert!(found("a visa card").is_empty());
    }

    #[test]
    fn a_misrecognised_word_matches_fuzzily_with_lower_confidence() {
        let got = found("my checkin account");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, EntityValue::Text("checking".into()));
        assert!((0.85..1.0).contains(&got[0].2), "confidence {}", got[0].2);
    }

    #[test]
    fn short_and_distant_words_never_match_fuzzily() {
        // "is" is one letter from "isa" but far too short to guess from.
        assert!(found("it is").is_empty());
        assert!(found("chicken").is_empty());
    }

    #[test]
    fn patterns_find_their_matches() {
        assert_eq!(found("policy POL-1234 please"), [exact("policy", "POL-1234")]);
    }

    #[test]
    fn custom_and_built_in_entities_live_side_by_side() {
        let got = found("yes my savings");
        assert_eq!(got, [(kind::AFFIRM.to_string(), EntityValue::Bool(true), 1.0), exact("account_type", "savings")]);
    }
}
