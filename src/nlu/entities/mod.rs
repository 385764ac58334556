//! Entities: the facts inside what a caller said, normalised so the dialogue can use them.
//!
//! Input is text as a recogniser or a chat user writes it: often no punctuation, and numbers as words,
//! as digits or mixed ("four five six 7", "twenty dollars fifty", "j dot smith at example dot com").
//! Each extractor is one file and reads the same tokens ([`words`]):
//!
//! - [`digits`]: spoken digit strings, and from their context card last-fours and phone numbers.
//! - [`amount`]: money in symbols or words, in dollars, pounds or euros.
//! - [`number`]: any other number ("two hundred and five").
//! - [`datetime`]: dates (relative to a given today) and times of day.
//! - [`email`]: addresses written or spelled out.
//! - [`ids`]: order and ticket ids after the words that introduce them.
//! - [`yesno`]: answers that affirm or deny.
//! - [`custom`]: the deployment's own entity lists (synonyms, fuzzy matches, patterns).
//!
//! Every extractor proposes candidates; [`EntityExtractor::extract`] then keeps the longest, and on a
//! tie the most specific (see [`specificity`]), so an amount is never also a number and a card's last
//! four never also plain digits. Extraction knows nothing of intents or the dialogue: it reads text.
//!
//! Every extractor scans the tokens once with a bounded look-around, so extraction is linear in the
//! input (custom fuzzy matching is linear times the number of single-word synonyms), and no input,
//! empty, huge, or full of emoji, makes it panic.

mod amount;
mod custom;
mod datetime;
mod digits;
mod email;
mod ids;
mod number;
mod words;
mod yesno;

use std::collections::BTreeMap;

use chrono::NaiveDate;

pub use custom::{CustomEntity, CustomValue};

/// The kinds built in, as written in [`Entity::kind`]; a custom entity's kind is its name.
pub mod kind {
    pub const DIGITS: &str = "digits";
    pub const NUMBER: &str = "number";
    pub const AMOUNT: &str = "amount";
    pub const DATE: &str = "date";
    pub const TIME: &str = "time";
    pub const PHONE_NUMBER: &str = "phone_number";
    pub const EMAIL: &str = "email";
    pub const CARD_LAST_FOUR: &str = "card_last_four";
    pub const ORDER_ID: &str = "order_id";
    pub const TICKET_ID: &str = "ticket_id";
    pub const AFFIRM: &str = "affirm";
    pub const DENY: &str = "deny";
}

/// One thing found in the text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Entity {
    /// One of [`kind`], or a custom entity's name.
    pub kind: String,
    /// The normalised value.
    pub value: EntityValue,
    /// The words as said.
    pub text: String,
    /// Byte span of `text` in the input.
    pub start: usize,
    pub end: usize,
    /// 1.0 for exact patterns; lower for fuzzy matches and guesses (see each extractor).
    pub confidence: f32,
}

/// A normalised value. Serialised without a tag: a string, a number, `{amount, currency}` or a bool.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum EntityValue {
    Text(String),
    Number(f64),
    /// `currency` is ISO 4217: "USD", "GBP", "EUR".
    Money {
        amount: f64,
        currency: String,
    },
    /// ISO `yyyy-mm-dd`.
    Date(String),
    /// 24-hour `HH:MM`.
    Time(String),
    Bool(bool),
}

/// A candidate as an extractor proposes it: kind, value, span and confidence; the text is filled in
/// from the span once candidates are resolved.
pub(crate) struct Candidate {
    pub kind: String,
    pub value: EntityValue,
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
}

impl Candidate {
    pub(crate) fn new(kind: &str, value: EntityValue, start: usize, end: usize) -> Self {
        Candidate { kind: kind.to_string(), value, start, end, confidence: 1.0 }
    }

    pub(crate) fn with_confidence(mut self, confidence: f32) -> Self {
        self.confidence = confidence;
        self
    }
}

/// Finds entities in text. Build once (custom lists are compiled here) and share.
pub struct EntityExtractor {
    custom: Vec<custom::Compiled>,
}

impl Default for EntityExtractor {
    /// Built-in kinds only.
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl EntityExtractor {
    pub fn new(custom: Vec<CustomEntity>) -> Self {
        EntityExtractor { custom: custom.into_iter().map(custom::Compiled::new).collect() }
    }

    /// Every entity in `text`, sorted by start, none overlapping. `today` anchors relative dates
    /// ("tomorrow", "next Tuesday"), so results are reproducible.
    pub fn extract(&self, text: &str, today: NaiveDate) -> Vec<Entity> {
        let tokens = words::tokenize(text);
        let mut candidates = Vec::new();
        digits::extract(&tokens, &mut candidates);
        amount::extract(&tokens, &mut candidates);
        number::extract(&tokens, &mut candidates);
        datetime::extract(&tokens, today, &mut candidates);
        email::extract(text, &tokens, &mut candidates);
        ids::extract(&tokens, &mut candidates);
        yesno::extract(&tokens, &mut candidates);
        for entity in &self.custom {
            entity.extract(text, &tokens, &mut candidates);
        }
        resolve(text, candidates)
    }
}

/// How specific a kind is, to break ties between candidates over the same words: a card's last four is
/// digits too, but saying so tells the dialogue more. Custom kinds sit below the exact built-in patterns
/// and above the generic ones, since a deployment names them on purpose.
fn specificity(kind: &str) -> u8 {
    match kind {
        kind::EMAIL => 10,
        kind::ORDER_ID | kind::TICKET_ID => 9,
        kind::CARD_LAST_FOUR | kind::PHONE_NUMBER => 8,
        kind::AMOUNT => 7,
        kind::DATE | kind::TIME => 6,
        kind::DIGITS => 4,
        kind::NUMBER => 3,
        kind::AFFIRM | kind::DENY => 2,
        _ => 5, // custom
    }
}

/// Keep the best candidates that do not overlap: longest first, then most specific, then most
/// confident. Taken spans live in a map from start to end; since they never overlap, only the one
/// starting last before a candidate's end can overlap it, so each check is one lookup.
fn resolve(text: &str, mut candidates: Vec<Candidate>) -> Vec<Entity> {
    candidates.sort_by(|a, b| {
        (b.end - b.start)
            .cmp(&(a.end - a.start))
            .then(specificity(&b.kind).cmp(&specificity(&a.kind)))
            .then(b.confidence.total_cmp(&a.confidence))
            .then(a.start.cmp(&b.start))
    });
    let mut taken: BTreeMap<usize, usize> = BTreeMap::new();
    let mut kept = Vec::new();
    for c in candidates {
        let overlaps = taken.range(..c.end).next_back().is_some_and(|(_, &end)| end > c.start);
        let Some(said) = text.get(c.start..c.end) else { continue };
        if overlaps || c.start >= c.end {
            continue;
        }
        taken.insert(c.start, c.end);
        kept.push(Entity {
            kind: c.kind,
            value: c.value,
            text: said.to_string(),
            start: c.start,
            end: c.end,
            confidence: c.confidence,
        });
    }
    kept.sort_by_key(|e| (e.start, e.end));
    kept
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The fixed today of every test: Wednesday 25 November 2026.
    pub(crate) fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).expect("a real date")
    }

    /// (kind, value) of each entity the default extractor finds.
    pub(crate) fn found(text: &str) -> Vec<(String, EntityValue)> {
        EntityExtractor::default().extract(text, today()).into_iter().map(|e| (e.kind, e.value)).collect()
    }

    pub(crate) fn text(s: &str) -> EntityValue {
        EntityValue::Text(s.to_string())
    }

    pub(crate) fn one(kind: &str, value: EntityValue) -> Vec<(String, EntityValue)> {
        vec![(kind.to_string(), value)]
    }

    #[test]
    fn overlapping_candidates_keep_the_longest_and_then_the_most_specific() {
        // "twenty dollars" is an amount; its "twenty" is not also a number.
        assert_eq!(
            found("it was twenty dollars"),
            one(kind::AMOUNT, EntityValue::Money { amount: 20.0, currency: "USD".into() })
        );
        // The same words are digits and a card's last four: the card wins.
        assert_eq!(found("card ending in four five six seven"), one(kind::CARD_LAST_FOUR, text("4567")));
    }

    #[test]
    fn results_are_sorted_by_start_and_spans_point_at_the_words_said() {
        let input = "yes my number is five five five one two three four five six seven and the order number is AB12345";
        let entities = EntityExtractor::default().extract(input, today());
        let kinds: Vec<&str> = entities.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, [kind::AFFIRM, kind::PHONE_NUMBER, kind::ORDER_ID]);
        for e in &entities {
            assert_eq!(&input[e.start..e.end], e.text);
        }
        assert_eq!(entities[1].text, "five five five one two three four five six seven");
        assert!(entities.windows(2).all(|w| w[0].end <= w[1].start));
    }

    #[test]
    fn values_serialise_without_a_tag() {
        let e = EntityExtractor::default().extract("$42.50", today());
        let json = serde_json::to_value(&e[0]).expect("serialisable");
        assert_eq!(json["value"], serde_json::json!({"amount": 42.5, "currency": "USD"}));
        assert_eq!(json["kind"], "amount");
    }

    #[test]
    fn empty_and_blank_input_find_nothing() {
        assert!(found("").is_empty());
        assert!(found("   \t\n  ").is_empty());
        assert!(found("...,,, -- !!").is_empty());
    }

    #[test]
    fn emoji_and_other_scripts_neither_panic_nor_shift_spans() {
        let input = "👍 yes 😀 café naïve 日本語 $20 🎉🎉 four five six seven👋";
        let entities = EntityExtractor::default().extract(input, today());
        for e in &entities {
            assert_eq!(&input[e.start..e.end], e.text);
        }
        let kinds: Vec<&str> = entities.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, [kind::AFFIRM, kind::AMOUNT, kind::DIGITS]);
    }

    #[test]
    fn a_five_thousand_character_input_is_read_quickly_and_whole() {
        let sentence = "yes the order number is AB12345 and twenty dollars fifty on the third of March 😀 ";
        let input: String = sentence.repeat(5_000 / sentence.len() + 1);
        assert!(input.len() >= 5_000);
        let started = std::time::Instant::now();
        let entities = EntityExtractor::default().extract(&input, today());
        // Generous bound: it takes a few milliseconds; a quadratic slip would take far longer.
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "took {:?}", started.elapsed());
        let amounts = entities.iter().filter(|e| e.kind == kind::AMOUNT).count();
        assert_eq!(amounts, input.matches("twenty dollars fifty").count());
    }

    #[test]
    fn junk_never_panics() {
        let extractor = EntityExtractor::default();
        let inputs = [
            "at",
            "at dot",
            "dot at dot",
            "double",
            "triple",
            "oh",
            "point",
            "and",
            "a",
            "$",
            "£.",
            "$.5",
            "1/",
            "/1/",
            "99/99/9999",
            "the of",
            "ending in",
            "order number",
            "ticket",
            "in weeks",
            "half past",
            "quarter to",
            "next",
            "march",
            "the thirty first of february",
            "12:99",
            "25:00 pm",
            "99999999999999999999999 dollars",
            "a thousand million billion",
            "\u{0}\u{feff}",
            "é-",
            "-é",
            "'",
            "’",
            "nine point",
            "x@y",
            "@",
            "a@b.c",
        ];
        for input in inputs {
            let _ = extractor.extract(input, today());
        }
        // Every char boundary of a mixed string, as prefixes.
        let mixed = "ó 4 5 6 7 at ex dot com 😀 $3 the 3rd of may";
        for (i, _) in mixed.char_indices() {
            let _ = extractor.extract(&mixed[..i], today());
        }
    }
}
