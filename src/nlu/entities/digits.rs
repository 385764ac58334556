//! Spoken digit strings, and what their context makes them: a card's last four or a phone number.
//!
//! "four five six seven", "4 5 6 7", "four five six 7", "45 67", "double two", "triple five", "oh one
//! two" and "555-123-4567" are all digit strings (see [`words::digit_run`]). A run counts when it has
//! two or more pieces, a "double"/"triple", or four or more digits in one numeral; a lone "42" is a
//! number, not a digit string.
//!
//! - `card_last_four`: exactly four digits after "ending (in)", "ends (in/with)" or "last four (digits)".
//! - `phone_number`: ten digits starting 2–9 or eleven starting 1 (the North American shape) unless an
//!   id word like "account" or "order" came just before, or seven
//!   to fifteen after "phone", "mobile", "cell", "call/reach/text me", or "number" when no id word such
//!   as "order" or "account" comes before it. Eleven digits with a leading 1 become "+1…"; a number
//!   written with "+" keeps it; anything else stays bare digits.
//! - `digits`: every other digit string.
//!
//! Not handled: "hundred" inside a digit string ("one eight hundred …"), letters as in "b as in boy".

use super::words::{self, digit_run, preceded_by, word, Token};
use super::{kind, Candidate, EntityValue};

/// Words right before a run (within a few tokens) that make four digits a card's last four.
const CARD_CUES: &[&str] = &["ending", "ends", "end", "last"];

/// Words that make the digits after them a phone number.
const PHONE_CUES: &[&str] = &["phone", "mobile", "cell", "cellphone", "telephone", "call", "reach", "text", "callback"];

/// Words before "number" that make it some other number: "order number 5551234567" is an order.
const NOT_PHONE: &[&str] = &[
    "order",
    "case",
    "ticket",
    "account",
    "reference",
    "confirmation",
    "card",
    "tracking",
    "member",
    "membership",
    "policy",
    "customer",
    "routing",
    "serial",
    "model",
    "pin",
    "invoice",
    "claim",
];

/// How far back a cue may stand: "the card ending in", "my cell number is".
const CUE_REACH: usize = 4;

pub(super) fn extract(tokens: &[Token], out: &mut Vec<Candidate>) {
    let mut i = 0;
    while i < tokens.len() {
        if is_last_four_cue(tokens, i) {
            i += 1;
            continue;
        }
        let Some(run) = digit_run(tokens, i) else {
            i += 1;
            continue;
        };
        let is_digit_string = run.pieces >= 2 || run.repeated || run.digits.len() >= 4;
        if run.digits.len() >= 2 && is_digit_string {
            let (kind, value) = classify(tokens, &run);
            let (start, end) = (tokens[run.first].start, tokens[run.end - 1].end);
            out.push(Candidate::new(kind, EntityValue::Text(value), start, end));
        }
        i = run.end.max(i + 1);
    }
}

/// Whether token `i` is the "four" of "last four": part of the cue, neither digit nor number.
pub(super) fn is_last_four_cue(tokens: &[Token], i: usize) -> bool {
    i > 0 && word(tokens, i - 1) == "last" && matches!(word(tokens, i), "four" | "4")
}

fn classify(tokens: &[Token], run: &words::DigitRun) -> (&'static str, String) {
    let digits = &run.digits;
    let first = run.first;
    if digits.len() == 4 && preceded_by(tokens, first, CUE_REACH, CARD_CUES) {
        return (kind::CARD_LAST_FOUR, digits.clone());
    }
    let bytes = digits.as_bytes();
    // "account number 9876543210" has a phone's shape but says what it is.
    let named_otherwise = preceded_by(tokens, first, CUE_REACH, NOT_PHONE);
    let north_american = !named_otherwise
        && match bytes.len() {
            10 => bytes[0] >= b'2',
            11 => bytes[0] == b'1' && bytes[1] >= b'2',
            _ => false,
        };
    let cued = (7..=15).contains(&digits.len())
        && (preceded_by(tokens, first, CUE_REACH, PHONE_CUES) || number_cue(tokens, first));
    if north_american || cued {
        let written_plus = tokens[first].raw.starts_with('+');
        let phone =
            if written_plus || (bytes.len() == 11 && bytes[0] == b'1') { format!("+{digits}") } else { digits.clone() };
        return (kind::PHONE_NUMBER, phone);
    }
    (kind::DIGITS, digits.clone())
}

/// "my number is …", "the number …": "number" shortly before, with no id word before it.
fn number_cue(tokens: &[Token], first: usize) -> bool {
    (first.saturating_sub(CUE_REACH)..first)
        .any(|n| tokens[n].norm == "number" && !preceded_by(tokens, n, 2, NOT_PHONE))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{found, one, text};
    use super::super::{kind, EntityExtractor};

    #[test]
    fn digit_strings_are_read_in_words_digits_or_both() {
        for said in ["four five six seven", "4 5 6 7", "four five six 7", "4567", "45 67"] {
            assert_eq!(found(said), one(kind::DIGITS, text("4567")), "{said}");
        }
    }

    #[test]
    fn double_and_triple_repeat_the_next_digit() {
        assert_eq!(found("double two"), one(kind::DIGITS, text("22")));
        assert_eq!(found("the code is triple five double oh one"), one(kind::DIGITS, text("555001")));
    }

    #[test]
    fn oh_is_zero_only_inside_a_digit_string() {
        assert_eq!(found("oh one two"), one(kind::DIGITS, text("012")));
        assert_eq!(found("one two oh"), one(kind::DIGITS, text("120")));
        assert_eq!(found("zero one two"), one(kind::DIGITS, text("012")));
        assert!(found("oh I see").is_empty());
        assert!(found("oh okay that is fine").iter().all(|(k, _)| k != kind::DIGITS));
    }

    #[test]
    fn four_digits_after_ending_in_or_last_four_are_a_cards_last_four() {
        assert_eq!(found("the card ending in four five six seven"), one(kind::CARD_LAST_FOUR, text("4567")));
        assert_eq!(found("last four are 4 5 6 7"), one(kind::CARD_LAST_FOUR, text("4567")));
        assert_eq!(found("last four four five six seven"), one(kind::CARD_LAST_FOUR, text("4567")));
        assert_eq!(found("it ends with 1234"), one(kind::CARD_LAST_FOUR, text("1234")));
        // Five digits are not a last four, whatever came before.
        assert_eq!(found("ending in one two three four five"), one(kind::DIGITS, text("12345")));
    }

    #[test]
    fn north_american_numbers_and_cued_numbers_are_phone_numbers() {
        assert_eq!(
            found("one five five five one two three four five six seven"),
            one(kind::PHONE_NUMBER, text("+15551234567"))
        );
        assert_eq!(
            found("five five five one two three four five six seven"),
            one(kind::PHONE_NUMBER, text("5551234567"))
        );
        assert_eq!(found("(555) 123-4567"), one(kind::PHONE_NUMBER, text("5551234567")));
        assert_eq!(found("call me at five five five double one two three"), one(kind::PHONE_NUMBER, text("5551123")));
        assert_eq!(found("my number is +44 20 7946 0958"), one(kind::PHONE_NUMBER, text("+442079460958")));
        // An account number is not a phone number, even after "number" or in a phone's shape.
        assert_eq!(found("account number 1 2 3 4 5 6 7 8"), one(kind::DIGITS, text("12345678")));
        assert_eq!(found("my account number is 9 8 7 6 5 4 3 2 1 0"), one(kind::DIGITS, text("9876543210")));
    }

    #[test]
    fn the_span_covers_exactly_the_digits_said() {
        let said = "my pin is four five six seven thanks";
        let e = EntityExtractor::default().extract(said, super::super::tests::today());
        assert_eq!(e[0].text, "four five six seven");
    }
}
