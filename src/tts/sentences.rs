//! Splitting written text into sentences, so each can be synthesised (and heard) on its own.
//!
//! The split is made on the raw text, before normalisation, so the punctuation is still there to
//! judge: a period ends a sentence only when whitespace follows it ("$42.50" and "acme.com" stay
//! whole), the next word does not start in lower case ("approx. five"), and the word before it is not
//! an abbreviation that leads into what follows ("Dr. Smith", "e.g. fees", "No. 5", "J. Smith").

/// The longest sentence handed to the voice in one run, in characters. Longer ones are cut at a
/// comma (or failing that a space) so one run never gets a huge input, and the first audio of a long
/// unpunctuated text is not held back until all of it is synthesised.
pub const MAX_SENTENCE_CHARS: usize = 300;

/// Abbreviations that lead into the next word and so never end a sentence.
const LEADING_ABBREVIATIONS: &[&str] = &["mr", "mrs", "ms", "mx", "prof", "e.g", "i.e", "vs", "approx", "cf"];

/// Characters that may close a sentence after its final punctuation: `He said "yes."`.
fn is_closing(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '’' | ')' | ']')
}

fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}

/// Split `text` into sentences, trimmed, in order. Fragments with no letters or digits ("?!...") are
/// dropped, so an empty result means there is nothing to say.
pub fn split_sentences(text: &str) -> Vec<String> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let byte_at = |i: usize| chars.get(i).map_or(text.len(), |&(b, _)| b);
    let mut pieces: Vec<&str> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if is_terminal(c) {
            let mut j = i;
            while j < chars.len() && is_terminal(chars[j].1) {
                j += 1;
            }
            let run = &text[pos..byte_at(j)];
            while j < chars.len() && is_closing(chars[j].1) {
                j += 1;
            }
            let followed_by_space = chars.get(j).is_none_or(|&(_, next)| next.is_whitespace());
            if followed_by_space && ends_sentence(run, &text[start..pos], &text[byte_at(j)..]) {
                pieces.push(&text[start..byte_at(j)]);
                start = byte_at(j);
            }
            i = j;
            continue;
        }
        if c == '\n' && newline_ends_sentence(&text[start..pos], &text[pos + 1..]) {
            pieces.push(&text[start..pos]);
            start = pos + 1;
        }
        i += 1;
    }
    pieces.push(&text[start..]);

    pieces
        .into_iter()
        .map(str::trim)
        .filter(|piece| piece.chars().any(char::is_alphanumeric))
        .flat_map(split_long)
        .collect()
}

/// Whether the punctuation `run` (".", "?!", "...") ends a sentence, given the sentence text before it
/// and the text after it.
fn ends_sentence(run: &str, before: &str, after: &str) -> bool {
    let next = after.trim_start().trim_start_matches(['"', '\'', '(']);
    // "approx. five", "Well... maybe": a lower-case word carries the sentence on.
    if next.chars().next().is_some_and(char::is_lowercase) {
        return false;
    }
    if run != "." {
        return true;
    }
    let word_start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let (head, word) = before.split_at(word_start);
    let word = word.trim_start_matches(|c: char| !c.is_alphanumeric());
    let lower = word.to_lowercase();
    if LEADING_ABBREVIATIONS.contains(&lower.as_str()) {
        return false;
    }
    if lower == "no" && next.starts_with(|c: char| c.is_ascii_digit() || c == '#') {
        return false; // "No. 5"
    }
    if lower == "dr" || lower == "st" {
        // "Dr. Smith" / "St. Louis" lead on; "Elm Dr. Call us" / "Main St. Thanks" end.
        return !reads_as_title(head, after);
    }
    // An initial ("J. Smith") or a list number at the start of a line ("1. Open the app").
    let mut letters = word.chars();
    if let (Some(only), None) = (letters.next(), letters.next()) {
        if only.is_uppercase() {
            return false;
        }
    }
    if head.trim().is_empty() && !word.is_empty() && word.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    true
}

/// A line break ends a sentence at a blank line, before a list item, or before a capitalised line; a
/// line that simply wraps on in lower case carries the sentence on.
fn newline_ends_sentence(before: &str, after: &str) -> bool {
    if before.trim().is_empty() {
        return false;
    }
    let after = after.trim_start_matches([' ', '\t', '\r']);
    if after.starts_with('\n') || before.trim_end().ends_with(':') {
        return true;
    }
    let bullet = after.starts_with(['-', '*', '•']);
    let digits = after.trim_start_matches(|c: char| c.is_ascii_digit());
    let numbered = digits.len() < after.len() && digits.starts_with(['.', ')']);
    bullet || numbered || after.starts_with(char::is_uppercase)
}

/// Whether "Dr." / "St." (whose sentence text before it is `before`) reads as a title ("Doctor",
/// "Saint") rather than a street ("Drive", "Street"). A title leads into a capitalised name; a street
/// follows a capitalised name or a house number ("5 Elm Dr."), except that a capitalised first word
/// of the sentence is just a capitalised first word ("Ask Dr. Smith").
pub(crate) fn reads_as_title(before: &str, after: &str) -> bool {
    let next_is_name = after.trim_start().starts_with(char::is_uppercase);
    if !next_is_name {
        return false;
    }
    let words: Vec<&str> = before.split_whitespace().collect();
    let after_street_name = match words.as_slice() {
        [.., _, last] => {
            last.chars().all(|c| c.is_ascii_digit())
                || (last.starts_with(char::is_uppercase) && last.chars().all(char::is_alphabetic))
        }
        _ => false,
    };
    !after_street_name
}

/// Cut a sentence longer than [`MAX_SENTENCE_CHARS`] at its last clause punctuation (or space) before
/// the limit, repeatedly.
fn split_long(sentence: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = sentence;
    while rest.chars().count() > MAX_SENTENCE_CHARS {
        let limit = rest.char_indices().nth(MAX_SENTENCE_CHARS).map_or(rest.len(), |(b, _)| b);
        let window = &rest[..limit];
        // Prefer a clause break that leaves a reasonable first part, then any space, then a hard cut.
        let clause = window
            .match_indices([',', ';', ':'])
            .map(|(i, _)| i + 1)
            .rev()
            .find(|&i| i > limit / 3 && rest[i..].starts_with(char::is_whitespace));
        let cut = clause.or_else(|| window.rfind(char::is_whitespace).filter(|&i| i > 0)).unwrap_or(limit);
        let (head, tail) = rest.split_at(cut);
        out.push(head.trim().to_string());
        rest = tail.trim_start();
    }
    if !rest.trim().is_empty() {
        out.push(rest.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_sentence_ends() {
        assert_eq!(
            split_sentences("Thank you for calling Acme Bank. Your balance is $42.50. Anything else? Great!"),
            ["Thank you for calling Acme Bank.", "Your balance is $42.50.", "Anything else?", "Great!"]
        );
    }

    #[test]
    fn keeps_abbreviations_and_amounts_whole() {
        assert_eq!(
            split_sentences("Dr. Smith will call you. It costs $4.50, e.g. for a card. Mr. J. Jones agreed."),
            ["Dr. Smith will call you.", "It costs $4.50, e.g. for a card.", "Mr. J. Jones agreed."]
        );
        assert_eq!(split_sentences("It takes approx. five days."), ["It takes approx. five days."]);
        assert_eq!(split_sentences("See No. 5 on the list. Thanks."), ["See No. 5 on the list.", "Thanks."]);
        assert_eq!(split_sentences("Visit St. Louis soon."), ["Visit St. Louis soon."]);
        assert_eq!(split_sentences("We are at 5 Elm St. Call us."), ["We are at 5 Elm St.", "Call us."]);
        assert_eq!(split_sentences("Email help@acme.com today."), ["Email help@acme.com today."]);
    }

    #[test]
    fn ellipses_quotes_and_lines() {
        assert_eq!(
            split_sentences("Well... maybe. He said \"yes.\" Then left."),
            ["Well... maybe.", "He said \"yes.\"", "Then left."]
        );
        assert_eq!(split_sentences("Steps:\n1. Open the app\n2. Tap Pay"), ["Steps:", "1. Open the app", "2. Tap Pay"]);
        assert_eq!(split_sentences("Your balance\nis low."), ["Your balance\nis low."]);
    }

    #[test]
    fn drops_unspeakable_fragments() {
        assert!(split_sentences("").is_empty());
        assert!(split_sentences("?!...").is_empty());
        assert_eq!(split_sentences("Hi. ... Bye."), ["Hi.", "Bye."]);
    }

    #[test]
    fn cuts_long_sentences() {
        let long = "word, ".repeat(200);
        let parts = split_sentences(&long);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_SENTENCE_CHARS));
        let unbroken = "x".repeat(1000);
        assert!(split_sentences(&unbroken).iter().all(|p| p.chars().count() <= MAX_SENTENCE_CHARS));
    }
}
