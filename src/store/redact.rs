//! Redaction of long digit strings (card, account and phone numbers) from what the store keeps.
//!
//! A run of digits is numerals and spoken digit words ("four five six seven"), possibly separated by
//! spaces or dashes, as recognisers write numbers out ("4111 1111 1111 1111", "4-5-6-7", "four five
//! six"). A run of at least [`Redaction::min_digits`] digits is replaced by `[redacted ••••1234]`,
//! keeping its last four, which is how an agent refers to a card or account anyway. Shorter runs stay:
//! a card's last four, an amount or a date spoken in words are what agents need to read.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// The privacy rule for transcripts: which digit runs are too long to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redaction {
    /// Off keeps every transcript word for word (for a line that stores no card data at all).
    pub enabled: bool,
    /// Runs of this many digits or more are redacted. Eight is shorter than any card (13–19 digits),
    /// account (8–17) or phone number (10+) and longer than anything an agent reads back: a last four,
    /// an amount, a date, a PIN (the PIN is never kept in any case).
    pub min_digits: usize,
}

impl Default for Redaction {
    fn default() -> Self {
        Redaction { enabled: true, min_digits: 8 }
    }
}

/// How many digits a redacted run keeps.
const KEPT: usize = 4;

/// The smallest useful `min_digits`: a run of four or fewer would be "redacted" to all of its digits.
pub const MIN_RUN: usize = KEPT + 1;

/// One numeral or one spoken digit word (or a "double"/"triple" that repeats the next digit). ASCII
/// digits only, so the digits of a run are one byte each and its last four a plain slice.
static ITEM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[0-9]+|\b(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple)\b")
        .expect("the digit pattern compiles")
});

/// What may stand between the digits of one run.
fn is_separator(gap: &str) -> bool {
    !gap.is_empty() && gap.chars().all(|c| c == ' ' || c == '\t' || c == '-')
}

/// ISO dates ("2026-11-23") have eight digits and dashes, but are not account numbers.
static ISO_DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$").expect("the date pattern compiles"));

impl Redaction {
    /// The text with every long digit run replaced by `[redacted ••••NNNN]`.
    pub fn apply(&self, text: &str) -> String {
        if !self.enabled {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for run in digit_runs(text) {
            let span = &text[run.start..run.end];
            if run.digits.len() < self.min_digits.max(MIN_RUN) || ISO_DATE.is_match(span) {
                continue;
            }
            out.push_str(&text[copied..run.start]);
            out.push_str("[redacted ••••");
            out.push_str(&run.digits[run.digits.len() - KEPT..]);
            out.push(']');
            copied = run.end;
        }
        out.push_str(&text[copied..]);
        out
    }

    /// Redacts every string inside a JSON value (a turn's n-best and entities hold the caller's words
    /// too).
    pub fn apply_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) => *text = self.apply(text),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|item| self.apply_json(item)),
            serde_json::Value::Object(fields) => fields.values_mut().for_each(|field| self.apply_json(field)),
            _ => {}
        }
    }
}

/// A run of digit items in the text: its byte range and the digits it spells.
struct DigitRun {
    start: usize,
    end: usize,
    digits: String,
}

/// One numeral or word: the digits it spells, or a repetition of the digit after it.
enum Item {
    Digits(String),
    Repeat(usize),
}

/// Every maximal run of digit items joined by separators, in order.
fn digit_runs(text: &str) -> Vec<DigitRun> {
    let items: Vec<(Range<usize>, Item)> = ITEM
        .find_iter(text)
        .map(|found| {
            let word = found.as_str().to_ascii_lowercase();
            let item = match word.as_str() {
                "double" => Item::Repeat(2),
                "triple" => Item::Repeat(3),
                _ => Item::Digits(spelled(&word)),
            };
            (found.range(), item)
        })
        .collect();
    let mut runs = Vec::new();
    let mut current: Option<DigitRun> = None;
    let mut i = 0;
    while i < items.len() {
        let (range, item) = &items[i];
        if !current.as_ref().is_some_and(|run| is_separator(&text[run.end..range.start])) {
            runs.extend(current.take());
        }
        let (digits, end, next) = match item {
            Item::Digits(digits) => (digits.clone(), range.end, i + 1),
            Item::Repeat(times) => match items.get(i + 1) {
                Some((following, Item::Digits(digit)))
                    if digit.len() == 1 && is_separator(&text[range.end..following.start]) =>
                {
                    (digit.repeat(*times), following.end, i + 2)
                }
                // "double" before anything but one digit is just a word: it ends the run.
                _ => {
                    runs.extend(current.take());
                    i += 1;
                    continue;
                }
            },
        };
        match current.as_mut() {
            Some(run) => {
                run.end = end;
                run.digits.push_str(&digits);
            }
            None => current = Some(DigitRun { start: range.start, end, digits }),
        }
        i = next;
    }
    runs.extend(current);
    runs
}

/// The digits a numeral or a spoken digit word stands for.
fn spelled(word: &str) -> String {
    let digit = match word {
        "zero" | "oh" => '0',
        "one" => '1',
        "two" => '2',
        "three" => '3',
        "four" => '4',
        "five" => '5',
        "six" => '6',
        "seven" => '7',
        "eight" => '8',
        "nine" => '9',
        numeral => return numeral.to_string(),
    };
    digit.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> String {
        Redaction::default().apply(text)
    }

    #[test]
    fn a_card_number_keeps_only_its_last_four() {
        assert_eq!(redact("my card is 4111 1111 1111 1234."), "my card is [redacted ••••1234].");
        assert_eq!(redact("4111-1111-1111-1234"), "[redacted ••••1234]");
        assert_eq!(redact("account 12345678 please"), "account [redacted ••••5678] please");
    }

    #[test]
    fn spoken_digit_runs_are_redacted_too() {
        assert_eq!(redact("it's four five six seven eight nine one two"), "it's [redacted ••••8912]");
        assert_eq!(redact("Four five 6 7 eight nine oh two thanks"), "[redacted ••••8902] thanks");
        assert_eq!(redact("five five double five one two three four"), "[redacted ••••1234]");
    }

    #[test]
    fn short_runs_that_agents_need_are_kept() {
        for kept in [
            "the card ending 1234",
            "a charge of $89.99 on the 23rd",
            "ending in four five six seven",
            "I paid 1,250.00 and then 300",
            "my date of birth is 1980-04-12",
            "seven digits 1234567",
            "call me at 2 or 3",
        ] {
            assert_eq!(redact(kept), kept);
        }
    }

    #[test]
    fn runs_are_broken_by_words_and_punctuation() {
        assert_eq!(redact("card 1234 and account 5678"), "card 1234 and account 5678");
        assert_eq!(redact("1234, 5678"), "1234, 5678");
        assert_eq!(redact("double trouble 1234"), "double trouble 1234");
        assert_eq!(redact("someone phoned 1234"), "someone phoned 1234");
        assert_eq!(redact("١٢٣٤٥٦٧٨٩ or 1٢3٤5٦7٨9"), "١٢٣٤٥٦٧٨٩ or 1٢3٤5٦7٨9", "other scripts' digits pass untouched");
    }

    #[test]
    fn redaction_can_be_turned_off_or_tightened() {
        let off = Redaction { enabled: false, ..Redaction::default() };
        assert_eq!(off.apply("4111 1111 1111 1234"), "4111 1111 1111 1234");
        let strict = Redaction { enabled: true, min_digits: 6 };
        assert_eq!(strict.apply("pin hint 123456"), "pin hint [redacted ••••3456]");
        assert_eq!(strict.apply("12345"), "12345");
    }

    #[test]
    fn strings_inside_json_are_redacted() {
        let mut meta = serde_json::json!({
            "nbest": ["card 4111111111111234", "card four one"],
            "entities": [{"type": "card_number", "value": "4111111111111234", "start": 5}],
        });
        Redaction::default().apply_json(&mut meta);
        assert_eq!(meta["nbest"][0], "card [redacted ••••1234]");
        assert_eq!(meta["nbest"][1], "card four one");
        assert_eq!(meta["entities"][0]["value"], "[redacted ••••1234]");
        assert_eq!(meta["entities"][0]["start"], 5);
    }
}
