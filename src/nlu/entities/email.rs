//! Email addresses, written ("j.smith@example.com") or spelled out as a caller says them ("j dot smith
//! at example dot com", "john underscore doe at mail dot co dot uk", "j o h n at gmail dot com").
//!
//! A spelled address is read around each "at": the domain after it is labels joined by "dot" and
//! ending in an alphabetic top-level label; the local part before it runs back to the first word that
//! cannot be part of an address ("is", "my", "email", punctuation). Local-part words joined by "dot",
//! "underscore", "dash" or "plus" keep the symbol; words said one after another ("john smith at") are
//! glued together, a guess given confidence 0.8.
//!
//! "I looked at google dot com" must not become an address, so a local part of plain words (no
//! separator, no digit, not spelled letter by letter) counts only when "email", "mail" or "address" was
//! said shortly before.

use std::sync::LazyLock;

use regex::Regex;

use super::words::{word, Token};
use super::{kind, Candidate, EntityValue};

/// Confidence of an address whose local part glued separate words together.
const GLUED_WORDS: f32 = 0.8;

/// How many words back "email" may have been said and still introduce the address.
const CUE_REACH: usize = 12;

/// The longest local part read back from "at", in tokens: "j dot s m i t h" is seven.
const MAX_LOCAL_TOKENS: usize = 12;

/// A written address. Deliberately plain: the point is to find one in speech-to-text, not to validate.
static WRITTEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    )
    .expect("the address pattern is valid")
});

/// Words that can never be part of a local part; reading back from "at" stops at them. Single letters
/// ("i", the "e" of "e-mail") are not here: spelled addresses are made of them.
const STOP: &[&str] = &[
    "is", "it's", "its", "was", "my", "email", "mail", "address", "to", "at", "me", "the", "and", "or", "use", "try",
    "it", "be", "send", "that's", "please", "you", "can", "reach", "contact", "on", "under", "of",
];

/// Spoken separators and the symbol each stands for.
fn separator(w: &str) -> Option<char> {
    match w {
        "dot" | "period" | "point" => Some('.'),
        "underscore" => Some('_'),
        "dash" | "hyphen" | "minus" => Some('-'),
        "plus" => Some('+'),
        _ => None,
    }
}

/// A token that can be a label of an address: letters, digits and the symbols addresses allow.
fn label(t: &Token) -> bool {
    t.norm.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
        && t.norm.starts_with(|c: char| c.is_ascii_alphanumeric())
}

pub(super) fn extract(text: &str, tokens: &[Token], out: &mut Vec<Candidate>) {
    for m in WRITTEN.find_iter(text) {
        let address = m.as_str().to_lowercase();
        out.push(Candidate::new(kind::EMAIL, EntityValue::Text(address), m.start(), m.end()));
    }
    for (at, t) in tokens.iter().enumerate() {
        if t.norm == "at" {
            if let Some(c) = spelled(tokens, at) {
                out.push(c);
            }
        }
    }
}

/// The spelled address around the "at" at token `at`.
fn spelled(tokens: &[Token], at: usize) -> Option<Candidate> {
    let (domain, end) = domain_after(tokens, at + 1)?;
    let first = local_start(tokens, at)?;
    let local_tokens = &tokens[first..at];
    let mut local = String::new();
    let mut glued = false;
    let mut previous_was_word = false;
    for t in local_tokens {
        match separator(&t.norm) {
            Some(symbol) => {
                local.push(symbol);
                previous_was_word = false;
            }
            None => {
                // Two words in a row with no separator are a guess; spelled letters ("j o h n") and
                // digits after a name ("connor 84") are not.
                let is_word = t.norm.chars().count() > 1 && t.norm.chars().all(char::is_alphabetic);
                glued |= previous_was_word && is_word;
                local.push_str(&t.norm);
                previous_was_word = is_word;
            }
        }
    }
    let ends_ok = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphanumeric()) && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    if !ends_ok(&local) || local.contains("..") {
        return None;
    }
    // Words with nothing between them are likely just a sentence ("I looked at google dot com"), unless
    // "email" was said: an address shows itself by a separator, a digit or letters spelled one by one.
    let structured =
        local.chars().any(|c| !c.is_alphabetic()) || local_tokens.iter().all(|t| t.norm.chars().count() == 1);
    let cued = tokens[first.saturating_sub(CUE_REACH)..first]
        .iter()
        .any(|t| matches!(t.norm.as_str(), "email" | "mail" | "address" | "e-mail"));
    if !structured && !cued {
        return None;
    }
    let value = EntityValue::Text(format!("{local}@{domain}"));
    let candidate = Candidate::new(kind::EMAIL, value, tokens[first].start, tokens[end - 1].end);
    Some(if glued { candidate.with_confidence(GLUED_WORDS) } else { candidate })
}

/// The first token of the local part before the "at" at `at`, reading back to a stop word.
fn local_start(tokens: &[Token], at: usize) -> Option<usize> {
    let mut first = at;
    while first > 0 && at - first < MAX_LOCAL_TOKENS {
        let t = &tokens[first - 1];
        let stop = STOP.contains(&t.norm.as_str()) || !label(t) && separator(&t.norm).is_none() || t.clause_end;
        if stop {
            break;
        }
        first -= 1;
    }
    // A separator cannot start the local part ("dot smith at").
    while first < at && separator(&tokens[first].norm).is_some() {
        first += 1;
    }
    (first < at).then_some(first)
}

/// "example dot com", "mail dot co dot uk", "example.com": the domain and the token after it.
fn domain_after(tokens: &[Token], start: usize) -> Option<(String, usize)> {
    let mut domain = String::new();
    let mut k = start;
    loop {
        let t = tokens.get(k).filter(|t| label(t))?;
        domain.push_str(&t.norm);
        k += 1;
        let more = word(tokens, k) == "dot" && tokens.get(k + 1).is_some_and(label) && !tokens[k - 1].clause_end;
        if !more {
            break;
        }
        domain.push('.');
        k += 1;
    }
    let top = domain.rsplit('.').next()?;
    let well_formed = domain.contains('.')
        && top.len() >= 2
        && top.chars().all(|c| c.is_ascii_alphabetic())
        && !domain.contains("..")
        && domain.split('.').all(|l| !l.is_empty());
    well_formed.then_some((domain, k))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{found, one, text, today};
    use super::super::{kind, EntityExtractor};

    #[test]
    fn written_addresses_are_found_and_lowercased() {
        assert_eq!(found("it's J.Smith@Example.com thanks"), one(kind::EMAIL, text("j.smith@example.com")));
    }

    #[test]
    fn spelled_addresses_read_dot_and_at() {
        assert_eq!(found("j dot smith at example dot com"), one(kind::EMAIL, text("j.smith@example.com")));
        assert_eq!(
            found("my email is john underscore doe at mail dot co dot uk"),
            one(kind::EMAIL, text("john_doe@mail.co.uk"))
        );
        assert_eq!(found("j o h n at gmail dot com"), one(kind::EMAIL, text("john@gmail.com")));
        assert_eq!(found("it's j.smith at example.com"), one(kind::EMAIL, text("j.smith@example.com")));
        let e = EntityExtractor::default().extract("sarah dot connor 84 at yahoo dot com", today());
        assert_eq!((e[0].value.clone(), e[0].confidence), (text("sarah.connor84@yahoo.com"), 1.0));
    }

    #[test]
    fn the_span_starts_at_the_address_not_the_sentence() {
        let e = EntityExtractor::default().extract("sure my email is j dot smith at example dot com", today());
        let email = e.iter().find(|e| e.kind == kind::EMAIL).expect("an email");
        assert_eq!(email.text, "j dot smith at example dot com");
    }

    #[test]
    fn glued_words_are_a_guess_and_plain_sentences_are_not_addresses() {
        let e = EntityExtractor::default().extract("email address is john smith at gmail dot com", today());
        assert_eq!(e[0].value, text("johnsmith@gmail.com"));
        assert!(e[0].confidence < 1.0);
        assert!(found("I looked at google dot com").is_empty());
        assert!(found("meet me at the office").is_empty());
    }
}
