//! Order and ticket ids after the words that introduce them: "order number AB12345", "ticket 7 3 8 2",
//! "case number one two three four five", "order number a b one two three", "reference alpha bravo
//! four two". The value is upper case letters and digits with no spaces ("AB12345").
//!
//! "order" and "confirmation" introduce an `order_id`; "ticket", "case", "reference" and "incident" a
//! `ticket_id`. After the cue ("number", "id", "no", "is" may follow it), the id is read from digit
//! strings (as in [`super::digits`]), written ids with a digit ("AB12345", "AB-12345"), single letters
//! and NATO alphabet words. An id needs a digit and at least three characters, so "I want to order two
//! pizzas" has no order id. A single letter or an all-capitals word ("AB") joins only when more of the
//! id follows it, so "ticket a few days ago" has none either.

use super::words::{digit_run, word, Token};
use super::{kind, Candidate, EntityValue};

/// Cue words and the kind of id they introduce.
fn cue(w: &str) -> Option<&'static str> {
    match w {
        "order" | "confirmation" => Some(kind::ORDER_ID),
        "ticket" | "case" | "reference" | "incident" => Some(kind::TICKET_ID),
        _ => None,
    }
}

/// Words that may stand between the cue and the id: "order number is", "case id", "ticket no".
const FILLERS: &[&str] = &["number", "num", "no", "id", "code", "is", "was", "it's", "its", "of"];

/// How many filler words may follow the cue.
const MAX_FILLERS: usize = 3;

/// NATO spelling words, as callers spell letters over a bad line.
fn nato(w: &str) -> Option<char> {
    const WORDS: [&str; 26] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima",
        "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey",
        "xray", "yankee", "zulu",
    ];
    WORDS.iter().position(|x| *x == w).map(|i| char::from(b'A' + i as u8))
}

/// Shortest id worth reporting: two characters are as often noise as an id.
const MIN_ID_CHARS: usize = 3;

pub(super) fn extract(tokens: &[Token], out: &mut Vec<Candidate>) {
    let mut i = 0;
    while i < tokens.len() {
        let Some(kind) = cue(word(tokens, i)) else {
            i += 1;
            continue;
        };
        let mut k = i + 1;
        while k - i <= MAX_FILLERS && FILLERS.contains(&word(tokens, k)) {
            k += 1;
        }
        match id_at(tokens, k) {
            Some((id, end)) => {
                let value = EntityValue::Text(id);
                out.push(Candidate::new(kind, value, tokens[k].start, tokens[end - 1].end));
                i = end;
            }
            None => i += 1,
        }
    }
}

/// A piece of an id at token `k`: its characters, tokens taken, and whether it is only letters (which
/// must be followed by more of the id to count).
fn id_piece(tokens: &[Token], k: usize) -> Option<(String, usize, bool)> {
    let t = tokens.get(k)?;
    if let Some(run) = digit_run(tokens, k) {
        return Some((run.digits, run.end - k, false));
    }
    let written: String = t.raw.chars().filter(|c| *c != '-').collect();
    let alphanumeric = !written.is_empty() && written.chars().all(|c| c.is_ascii_alphanumeric());
    if alphanumeric && written.chars().any(|c| c.is_ascii_digit()) {
        return Some((written.to_uppercase(), 1, false));
    }
    if let Some(letter) = nato(&t.norm) {
        return Some((letter.to_string(), 1, true));
    }
    // A spelled letter ("a b") or a written prefix in capitals ("AB 12345").
    let capitals = (2..=4).contains(&written.len()) && written.chars().all(|c| c.is_ascii_uppercase());
    if alphanumeric && (written.len() == 1 || capitals) {
        return Some((written.to_uppercase(), 1, true));
    }
    None
}

/// The id starting at token `k` and the token after it. Letters are held back until a digit or
/// written id follows them, so the id ends at its last sure piece: trailing spoken letters are dropped
/// ("ticket 4 5 6 a" is 456), the price of not swallowing "ticket a few days ago".
fn id_at(tokens: &[Token], k: usize) -> Option<(String, usize)> {
    let mut id = String::new();
    let mut held_letters = String::new();
    let (mut j, mut end) = (k, k);
    while let Some((chars, len, is_letter)) = id_piece(tokens, j) {
        j += len;
        if is_letter {
            held_letters.push_str(&chars);
        } else {
            id.push_str(&held_letters);
            id.push_str(&chars);
            held_letters.clear();
            end = j;
        }
    }
    let ok = id.chars().count() >= MIN_ID_CHARS && id.chars().any(|c| c.is_ascii_digit());
    ok.then_some((id, end))
}

#[cfg(test)]
mod tests {
    use super::super::kind;
    use super::super::tests::{found, one, text};

    #[test]
    fn order_ids_are_read_after_order_number() {
        assert_eq!(found("order number AB12345"), one(kind::ORDER_ID, text("AB12345")));
        assert_eq!(found("my order number is a b one two three"), one(kind::ORDER_ID, text("AB123")));
        assert_eq!(found("order AB-12345 please"), one(kind::ORDER_ID, text("AB12345")));
        assert_eq!(found("confirmation code alpha bravo four two"), one(kind::ORDER_ID, text("AB42")));
    }

    #[test]
    fn ticket_and_case_numbers_are_ticket_ids() {
        assert_eq!(found("ticket 7 3 8 2"), one(kind::TICKET_ID, text("7382")));
        assert_eq!(found("case number one two three four five"), one(kind::TICKET_ID, text("12345")));
    }

    #[test]
    fn words_after_a_cue_that_are_not_an_id_are_left_alone() {
        assert!(found("I want to order pizza").is_empty());
        assert!(found("I opened a ticket a few days ago").iter().all(|(k, _)| k != kind::TICKET_ID));
        // Trailing letters with no digit after them are not part of the id.
        assert_eq!(found("ticket 4 5 6 a"), one(kind::TICKET_ID, text("456")));
    }
}
