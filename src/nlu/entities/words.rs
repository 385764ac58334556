//! Words and numbers as a recogniser writes them: the tokens every extractor reads, and the spoken
//! number grammar they share ("forty two", "a hundred and five", "double two", "oh" as zero).
//!
//! A token is a whitespace-separated chunk with its surrounding punctuation trimmed, so "Tuesday." and
//! "(555)" read as "tuesday" and "555", while the byte span still points into the caller's text.
//! Spelled-out hyphenated words ("twenty-five", "e-mail") split into their parts; chunks with digits
//! ("555-1234", "AB-12345", "2026-03-04") stay whole for the extractors that read them.

/// One word of the input.
#[derive(Debug, Clone)]
pub(crate) struct Token<'a> {
    /// The word as written, punctuation trimmed.
    pub raw: &'a str,
    /// Lower case, curly apostrophes straightened: what the grammars compare against.
    pub norm: String,
    pub start: usize,
    pub end: usize,
    /// Sentence or clause punctuation (`, . ! ? ; :`) followed the word: a boundary for yes/no.
    pub clause_end: bool,
}

/// Split text into tokens with byte spans. Never panics: every slice is cut at a char boundary.
pub(crate) fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut chunk_start = None;
    // A trailing sentinel space closes the last chunk.
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        match (c.is_whitespace(), chunk_start) {
            (false, None) => chunk_start = Some(i),
            (true, Some(start)) => {
                push_chunk(text, start, i, &mut tokens);
                chunk_start = None;
            }
            _ => {}
        }
    }
    tokens
}

fn is_clause_mark(c: char) -> bool {
    matches!(c, ',' | '.' | '!' | '?' | ';' | ':')
}

fn push_chunk<'a>(text: &'a str, start: usize, end: usize, tokens: &mut Vec<Token<'a>>) {
    let chunk = &text[start..end];
    // Currency symbols and a leading "+" carry meaning ("$20", "20€", "+44"); other surrounding marks do not.
    let keep_front = |c: char| c.is_alphanumeric() || matches!(c, '$' | '£' | '€' | '+');
    let Some(lead) = chunk.find(keep_front) else {
        // A chunk of punctuation alone ("-", ",", an emoji) can still end the clause before it.
        if chunk.chars().any(is_clause_mark) {
            if let Some(last) = tokens.last_mut() {
                last.clause_end = true;
            }
        }
        return;
    };
    let body = &chunk[lead..];
    let body_end = body
        .char_indices()
        .rev()
        .find(|&(_, c)| c.is_alphanumeric() || matches!(c, '%' | '$' | '£' | '€'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    if body_end == 0 {
        return; // only a "+": nothing to read
    }
    let clause_end = body[body_end..].chars().any(is_clause_mark);
    let body = &body[..body_end];
    let body_start = start + lead;
    if body.contains('-') && !body.chars().any(|c| c.is_ascii_digit()) {
        let mut offset = 0;
        let parts: Vec<&str> = body.split('-').collect();
        let last_nonempty = parts.iter().rposition(|p| !p.is_empty());
        for (n, part) in parts.iter().enumerate() {
            if !part.is_empty() {
                let s = body_start + offset;
                tokens.push(token(part, s, clause_end && Some(n) == last_nonempty));
            }
            offset += part.len() + 1;
        }
    } else {
        tokens.push(token(body, body_start, clause_end));
    }
}

fn token(raw: &str, start: usize, clause_end: bool) -> Token<'_> {
    let norm = raw.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
    Token { raw, norm, start, end: start + raw.len(), clause_end }
}

/// The norm of token `i`, or "" past the end, so lookahead needs no bounds checks.
pub(crate) fn word<'t>(tokens: &'t [Token], i: usize) -> &'t str {
    tokens.get(i).map_or("", |t| t.norm.as_str())
}

/// Whether any of the `n` tokens before `i` is one of `words`.
pub(crate) fn preceded_by(tokens: &[Token], i: usize, n: usize, words: &[&str]) -> bool {
    let end = i.min(tokens.len());
    tokens[end.saturating_sub(n)..end].iter().any(|t| words.contains(&t.norm.as_str()))
}

const UNITS: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
const TEENS: [&str; 10] =
    ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"];
const TENS: [&str; 8] = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];

fn position(list: &[&str], w: &str) -> Option<u64> {
    list.iter().position(|x| *x == w).map(|i| i as u64)
}

/// "zero".."nine" (and the British "nought").
pub(crate) fn unit_word(w: &str) -> Option<u64> {
    if w == "nought" {
        return Some(0);
    }
    position(&UNITS, w)
}

/// "ten".."nineteen".
pub(crate) fn teen_word(w: &str) -> Option<u64> {
    position(&TEENS, w).map(|i| 10 + i)
}

/// "twenty".."ninety".
pub(crate) fn tens_word(w: &str) -> Option<u64> {
    position(&TENS, w).map(|i| 20 + 10 * i)
}

/// "1".."99" from words that English joins: "seven", "twelve", "forty", "forty two". Returns the value
/// and how many tokens it took.
pub(crate) fn small_number(tokens: &[Token], i: usize) -> Option<(u64, usize)> {
    let w = word(tokens, i);
    if let Some(t) = tens_word(w) {
        return match unit_word(word(tokens, i + 1)) {
            Some(u) if u > 0 => Some((t + u, 2)),
            _ => Some((t, 1)),
        };
    }
    teen_word(w).or_else(|| unit_word(w)).map(|v| (v, 1))
}

/// A plain numeral: "42", "42.50", "1,000", "1,000,000.5". Rejects anything else ("4a", "1,00").
pub(crate) fn numeral(s: &str) -> Option<f64> {
    let (whole, fraction) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    if fraction.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let groups: Vec<&str> = whole.split(',').collect();
    let grouped_ok = groups.iter().enumerate().all(|(n, g)| {
        let len_ok = if n == 0 { (1..=3).contains(&g.len()) || groups.len() == 1 } else { g.len() == 3 };
        len_ok && !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit())
    });
    if !grouped_ok {
        return None;
    }
    let digits: String = whole.chars().filter(|c| *c != ',').collect();
    let text = match fraction {
        Some(f) => format!("{digits}.{f}"),
        None => digits,
    };
    text.parse().ok()
}

/// A number found at a token, how many tokens it took, and whether it was spelled out in words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Number {
    pub value: f64,
    pub len: usize,
    pub spelled: bool,
}

impl Number {
    /// The value when it is a whole number that fits `u64`.
    pub(crate) fn integer(&self) -> Option<u64> {
        (self.value.fract() == 0.0 && self.value >= 0.0 && self.value < u64::MAX as f64).then_some(self.value as u64)
    }
}

fn scale_word(w: &str) -> Option<u64> {
    match w {
        "thousand" => Some(1_000),
        "million" => Some(1_000_000),
        "billion" => Some(1_000_000_000),
        _ => None,
    }
}

/// What the last word of a spoken number was: it decides which words may follow.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Unit,
    Teen,
    Tens,
    Hundred,
    Scale(u64),
}

fn teen_or_tens(w: &str) -> Option<(Part, u64)> {
    teen_word(w).map(|v| (Part::Teen, v)).or_else(|| tens_word(w).map(|v| (Part::Tens, v)))
}

/// The longest number starting at token `i`: a numeral ("42.50", "1,000", "5 thousand") or English
/// words joined the way English joins them ("forty two", "a hundred and five", "two thousand twenty
/// six", "four point five"). "four five" is two numbers, not forty-five: digit strings are
/// `digit_run`'s business.
pub(crate) fn number(tokens: &[Token], i: usize) -> Option<Number> {
    if let Some(value) = numeral(word(tokens, i)) {
        // "5 thousand", "2 hundred": a numeral with a spoken multiplier.
        let multiplier = match word(tokens, i + 1) {
            "hundred" => Some(100),
            w => scale_word(w),
        };
        return Some(match multiplier {
            Some(m) => Number { value: value * m as f64, len: 2, spelled: false },
            None => Number { value, len: 1, spelled: false },
        });
    }
    let (mut total, mut current) = (0u64, 0u64);
    let mut last: Option<Part> = None;
    let mut j = i;
    loop {
        let w = word(tokens, j);
        let next = word(tokens, j + 1);
        let next_is_multiplier = next == "hundred" || scale_word(next).is_some();
        // "a hundred", "a thousand": "a" or "an" is one only right before a multiplier.
        if last.is_none() && matches!(w, "a" | "an") && next_is_multiplier {
            current = 1;
            last = Some(Part::Unit);
            j += 1;
            continue;
        }
        // "two hundred and five": "and" joins only after a multiplier and before more number words.
        let after_multiplier = matches!(last, Some(Part::Hundred | Part::Scale(_)));
        if w == "and" && after_multiplier && small_number(tokens, j + 1).is_some() {
            j += 1;
            continue;
        }
        let joined = if let Some(u) = unit_word(w) {
            match last {
                None => Some((Part::Unit, current + u)),
                Some(Part::Tens) if u > 0 && current % 10 == 0 => Some((Part::Unit, current + u)),
                Some(Part::Hundred | Part::Scale(_)) if u > 0 => Some((Part::Unit, current + u)),
                _ => None,
            }
        } else if let Some((part, v)) = teen_or_tens(w) {
            match last {
                None | Some(Part::Hundred | Part::Scale(_)) => Some((part, current + v)),
                _ => None,
            }
        } else if w == "hundred" {
            match last {
                None => Some((Part::Hundred, 100)),
                // "twenty five hundred" is 2500; "two hundred five hundred" is not a number.
                Some(Part::Unit | Part::Teen | Part::Tens) if current > 0 && current < 100 => {
                    Some((Part::Hundred, current * 100))
                }
                _ => None,
            }
        } else if let Some(s) = scale_word(w) {
            // Scales only fall: "two million three thousand", never "three thousand two million".
            let falls = match last {
                Some(Part::Scale(prev)) => s < prev,
                _ => total == 0 || total % (s * 1000) == 0,
            };
            if falls && last != Some(Part::Scale(s)) {
                total += current.max(1) * s;
                current = 0;
                Some((Part::Scale(s), 0))
            } else {
                None
            }
        } else {
            None
        };
        match joined {
            Some((part, value)) => {
                current = value;
                last = Some(part);
                j += 1;
            }
            None => break,
        }
    }
    last?;
    let mut value = (total + current) as f64;
    // "four point five", "point" then digits one by one.
    if word(tokens, j) == "point" {
        let mut fraction = String::new();
        let mut k = j + 1;
        while let Some(d) = unit_word(word(tokens, k)).or((word(tokens, k) == "oh").then_some(0)) {
            fraction.push(char::from(b'0' + d as u8));
            k += 1;
        }
        if let Ok(f) = format!("0.{fraction}").parse::<f64>() {
            if !fraction.is_empty() {
                value += f;
                j = k;
            }
        }
    }
    Some(Number { value, len: j - i, spelled: true })
}

/// A spoken digit string: "four five six seven", "4 5 6 7", "45 67", "double two", "oh one two",
/// "555-123-4567".
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DigitRun {
    pub digits: String,
    /// Token range `[first, end)`.
    pub first: usize,
    pub end: usize,
    /// How many separately spoken pieces made it ("45 67" is two, "double two" one).
    pub pieces: usize,
    /// Whether "double" or "triple" appeared: a sure sign of a digit string even when short.
    pub repeated: bool,
}

/// Digits a numeral token holds when it is only digits and phone punctuation ("555-1234", "(555)").
fn numeral_digits(raw: &str) -> Option<String> {
    let ok = raw.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | '(' | ')' | '+'));
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    (ok && !digits.is_empty()).then_some(digits)
}

/// One piece of a digit string at token `i`: its digits and how many tokens it took. `so_far` is the
/// digits already in the run: pairs like "twelve" or "thirty four" count only after three digits
/// ("five five five twelve thirty four"), so that "three thirty" stays a time and "twenty five" a number.
fn digit_piece(tokens: &[Token], i: usize, so_far: usize) -> Option<(String, usize, bool)> {
    let w = word(tokens, i);
    let single = |w: &str| unit_word(w).or(matches!(w, "oh" | "o").then_some(0));
    if let Some(d) = unit_word(w) {
        return Some((d.to_string(), 1, false));
    }
    if matches!(w, "oh" | "o") {
        return Some(("0".into(), 1, false));
    }
    if let Some(times) = match w {
        "double" => Some(2),
        "triple" => Some(3),
        _ => None,
    } {
        let next = word(tokens, i + 1);
        let d = single(next).or_else(|| (next.len() == 1).then(|| next.parse().ok()).flatten())?;
        return Some((d.to_string().repeat(times), 2, true));
    }
    if let Some(digits) = tokens.get(i).and_then(|t| numeral_digits(t.raw)) {
        return Some((digits, 1, false));
    }
    if so_far >= 3 {
        if let Some((v, len)) = small_number(tokens, i) {
            if v >= 10 {
                return Some((v.to_string(), len, false));
            }
        }
    }
    None
}

/// The digit string starting at token `i`, if one does. "oh" counts as zero only beside a real digit
/// ("oh one two", never "oh I see"), and an "oh" followed by a comma is the interjection ("Oh, 4 5").
pub(crate) fn digit_run(tokens: &[Token], i: usize) -> Option<DigitRun> {
    let mut run = DigitRun { digits: String::new(), first: i, end: i, pieces: 0, repeated: false };
    let mut real_digit = false;
    let mut j = i;
    while let Some((digits, len, repeated)) = digit_piece(tokens, j, run.digits.len()) {
        let is_oh = matches!(word(tokens, j), "oh" | "o");
        if is_oh && tokens[j].clause_end {
            break;
        }
        real_digit |= !is_oh || repeated;
        run.digits.push_str(&digits);
        run.pieces += 1;
        run.repeated |= repeated;
        j += len;
        run.end = j;
    }
    // Trailing "oh"s with no digit after them may still be zeros ("one two oh"); a run of "oh"s alone is not.
    (real_digit && run.pieces > 0).then_some(run)
}

/// Day-of-month ordinals: "first".."thirty first", "twenty-third", "3rd", "21st". Value and tokens taken.
pub(crate) fn ordinal(tokens: &[Token], i: usize) -> Option<(u64, usize)> {
    const UNIT_ORDINALS: [&str; 10] =
        ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"];
    let w = word(tokens, i);
    let simple = |w: &str| -> Option<u64> {
        if let Some(u) = position(&UNIT_ORDINALS, w).filter(|u| *u > 0) {
            return Some(u);
        }
        if let Some(t) = w.strip_suffix("th").and_then(|b| if b == "twelf" { Some(12) } else { teen_word(b) }) {
            return Some(t);
        }
        w.strip_suffix("ieth").and_then(|b| tens_word(&format!("{b}y")))
    };
    if let Some(v) = simple(w) {
        return Some((v, 1));
    }
    if let Some(t) = tens_word(w) {
        if let Some(u) = position(&UNIT_ORDINALS, word(tokens, i + 1)).filter(|u| *u > 0) {
            return Some((t + u, 2));
        }
    }
    // Numerals with an English suffix: "3rd", "21st", "12th".
    let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &w[digits.len()..];
    if matches!(suffix, "st" | "nd" | "rd" | "th") && !digits.is_empty() && digits.len() <= 2 {
        return digits.parse().ok().map(|v| (v, 1));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norms(text: &str) -> Vec<String> {
        tokenize(text).into_iter().map(|t| t.norm).collect()
    }

    #[test]
    fn tokens_trim_punctuation_but_keep_spans_into_the_input() {
        let text = "Yes, it's (555) 123-4567. Twenty-five!";
        let tokens = tokenize(text);
        assert_eq!(norms(text), ["yes", "it's", "555", "123-4567", "twenty", "five"]);
        assert!(tokens[0].clause_end);
        assert!(!tokens[4].clause_end && tokens[5].clause_end);
        for t in &tokens {
            assert_eq!(&text[t.start..t.end], t.raw);
        }
    }

    #[test]
    fn spoken_numbers_join_the_way_english_does() {
        let value = |text: &str| number(&tokenize(text), 0).map(|n| (n.value, n.len));
        assert_eq!(value("two hundred and five"), Some((205.0, 4)));
        assert_eq!(value("a hundred bucks"), Some((100.0, 2)));
        assert_eq!(value("forty two dollars"), Some((42.0, 2)));
        assert_eq!(value("two thousand twenty six"), Some((2026.0, 4)));
        assert_eq!(value("four five"), Some((4.0, 1)));
        assert_eq!(value("four point five"), Some((4.5, 3)));
        assert_eq!(value("1,000"), Some((1000.0, 1)));
        assert_eq!(value("a few"), None);
    }

    #[test]
    fn digit_runs_read_oh_and_double_only_as_digits_do() {
        let run = |text: &str| digit_run(&tokenize(text), 0).map(|r| r.digits);
        assert_eq!(run("oh one two"), Some("012".into()));
        assert_eq!(run("double two"), Some("22".into()));
        assert_eq!(run("oh I see"), None);
        assert_eq!(run("five five five twelve thirty four"), Some("5551234".into()));
    }
}
