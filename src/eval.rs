//! Word error rate, with the normalisation that makes it fair.
//!
//! A recogniser writing "5" for "five", "Mr" for "mister" or "4567" for "four five six seven" has not
//! made an error a caller would notice. Both sides are normalised the same way before words are aligned,
//! in the spirit of Whisper's English text normaliser: lower case, punctuation removed, common
//! abbreviations expanded, every number written as digits (spelled numbers parsed, "oh" in a digit string
//! read as zero) and digit strings compared digit by digit, so "1,0001. 90210" and "one zero zero zero one nine
//! oh two one oh" are the same ten digits.

/// Abbreviations a recogniser writes for words a reference spells out.
const ABBREVIATIONS: &[(&str, &str)] =
    &[("mr", "mister"), ("mrs", "missus"), ("dr", "doctor"), ("ok", "okay"), ("st", "saint"), ("vs", "versus")];

/// Contractions and their full forms: "I'm" and "I am" are the same words to a caller.
const CONTRACTIONS: &[(&str, &str)] = &[
    ("i'm", "i am"),
    ("it's", "it is"),
    ("that's", "that is"),
    ("what's", "what is"),
    ("there's", "there is"),
    ("you're", "you are"),
    ("we're", "we are"),
    ("they're", "they are"),
    ("i've", "i have"),
    ("i'll", "i will"),
    ("i'd", "i would"),
    ("don't", "do not"),
    ("doesn't", "does not"),
    ("didn't", "did not"),
    ("can't", "can not"),
    ("cannot", "can not"),
    ("won't", "will not"),
    ("isn't", "is not"),
    ("aren't", "are not"),
    ("let's", "let us"),
    ("em", "them"), // "'em", after quotes are trimmed
];

/// Normalise text for scoring: the words, lower case, with every number as digits.
pub fn normalize(text: &str) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    for raw in text.split(|c: char| c.is_whitespace() || matches!(c, '-' | '/' | '_' | '\u{2014}')) {
        let mut token = String::new();
        let chars: Vec<char> = raw.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            let between_digits = |i: usize| {
                i > 0 && i + 1 < chars.len() && chars[i - 1].is_ascii_digit() && chars[i + 1].is_ascii_digit()
            };
            match c {
                '\u{2019}' | '\u{2018}' | '\'' => token.push('\''),
                // Thousands separators vanish; a decimal point inside a number stays.
                ',' if between_digits(i) => {}
                '.' if between_digits(i) => token.push('.'),
                c if c.is_alphanumeric() => token.extend(c.to_lowercase()),
                '%' => token.push_str(" percent"),
                '$' => {}
                _ => token.push(' '),
            }
        }
        let dollars = raw.starts_with('$');
        for word in token.split_whitespace() {
            let word = word.trim_matches('\'');
            split_digits_from_letters(word, &mut tokens);
        }
        if dollars {
            tokens.push("dollars".into());
        }
    }
    let expanded: Vec<String> = tokens
        .into_iter()
        .flat_map(|t| {
            let long = ABBREVIATIONS.iter().chain(CONTRACTIONS).find(|(short, _)| *short == t).map(|(_, long)| *long);
            match long {
                Some(long) => long.split(' ').map(str::to_string).collect(),
                None => vec![t],
            }
        })
        .collect();
    digits_one_by_one(numbers_as_digits(&expanded))
}

/// "9am" → "9", "am"; ordinals like "21st" stay whole (they become "21th").
fn split_digits_from_letters(word: &str, out: &mut Vec<String>) {
    let digits: String = word.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let rest = &word[digits.len()..];
    if digits.is_empty() || rest.is_empty() {
        if !word.is_empty() {
            out.push(word.to_string());
        }
    } else if ["st", "nd", "rd", "th"].contains(&rest) {
        out.push(format!("{digits}th"));
    } else {
        out.push(digits);
        out.push(rest.to_string());
    }
}

#[derive(Clone, Copy, PartialEq)]
enum NumberWord {
    Unit(u64),
    Teen(u64),
    Tens(u64),
    Hundred,
    Scale(u64),
}

fn number_word(word: &str) -> Option<(NumberWord, bool)> {
    const UNITS: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
    const TEENS: [&str; 10] =
        ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"];
    const TENS: [&str; 8] = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    const UNIT_ORDINALS: [&str; 10] =
        ["zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"];
    let find = |list: &[&str], w: &str| list.iter().position(|x| *x == w).map(|i| i as u64);
    if let Some(i) = find(&UNITS, word) {
        return Some((NumberWord::Unit(i), false));
    }
    if let Some(i) = find(&UNIT_ORDINALS, word) {
        return Some((NumberWord::Unit(i), true));
    }
    if let Some(i) = find(&TEENS, word) {
        return Some((NumberWord::Teen(10 + i), false));
    }
    if let Some(base) = word.strip_suffix("th").and_then(|w| find(&TEENS, if w == "twelf" { "twelve" } else { w })) {
        return Some((NumberWord::Teen(10 + base), true));
    }
    if let Some(i) = find(&TENS, word) {
        return Some((NumberWord::Tens(20 + 10 * i), false));
    }
    if let Some(i) = word.strip_suffix("ieth").and_then(|w| find(&TENS, &format!("{w}y"))) {
        return Some((NumberWord::Tens(20 + 10 * i), true));
    }
    match word {
        "hundred" => Some((NumberWord::Hundred, false)),
        "hundredth" => Some((NumberWord::Hundred, true)),
        "thousand" => Some((NumberWord::Scale(1_000), false)),
        "million" => Some((NumberWord::Scale(1_000_000), false)),
        "billion" => Some((NumberWord::Scale(1_000_000_000), false)),
        _ => None,
    }
}

/// Replace runs of spelled numbers with digits. Words join into one number only where English would
/// ("twenty six", "two thousand and five"); anything else starts a new number ("four five" is 4, 5).
fn numbers_as_digits(tokens: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut group: Option<(u64, u64, NumberWord)> = None; // (total of scales, current, last word)
    let flush = |group: &mut Option<(u64, u64, NumberWord)>, out: &mut Vec<String>, ordinal: bool| {
        if let Some((total, current, _)) = group.take() {
            out.push(format!("{}{}", total + current, if ordinal { "th" } else { "" }));
        }
    };
    let is_numeric = |t: &str| t.chars().next().is_some_and(|c| c.is_ascii_digit()) || number_word(t).is_some();
    for (i, token) in tokens.iter().enumerate() {
        // "oh" is zero only inside a digit string.
        let near_number = (i > 0 && is_numeric(&tokens[i - 1])) || tokens.get(i + 1).is_some_and(|t| is_numeric(t));
        let parsed = if token == "oh" && near_number { Some((NumberWord::Unit(0), false)) } else { number_word(token) };
        // "a hundred and five" is one number; "one and three" are two.
        let after_multiplier = matches!(group, Some((_, _, NumberWord::Hundred | NumberWord::Scale(_))));
        if token == "and" && after_multiplier && tokens.get(i + 1).is_some_and(|t| number_word(t).is_some()) {
            continue;
        }
        let Some((word, ordinal)) = parsed else {
            flush(&mut group, &mut out, false);
            out.push(token.clone());
            continue;
        };
        let joined = match (group, word) {
            (Some((t, c, NumberWord::Tens(_))), NumberWord::Unit(u)) if u > 0 && c % 10 == 0 => Some((t, c + u)),
            (Some((t, c, NumberWord::Hundred | NumberWord::Scale(_))), NumberWord::Unit(u)) if u > 0 => {
                Some((t, c + u))
            }
            (Some((t, c, NumberWord::Hundred | NumberWord::Scale(_))), NumberWord::Teen(v) | NumberWord::Tens(v)) => {
                Some((t, c + v))
            }
            (Some((t, c, NumberWord::Unit(_) | NumberWord::Teen(_) | NumberWord::Tens(_))), NumberWord::Hundred)
                if c % 100 > 0 =>
            {
                Some((t, c - c % 100 + (c % 100) * 100))
            }
            (Some((t, c, _)), NumberWord::Scale(s)) if c > 0 => Some((t + c * s, 0)),
            _ => None,
        };
        match joined {
            Some((t, c)) => group = Some((t, c, word)),
            None => {
                flush(&mut group, &mut out, false);
                group = match word {
                    NumberWord::Unit(v) | NumberWord::Teen(v) | NumberWord::Tens(v) => Some((0, v, word)),
                    NumberWord::Hundred => Some((0, 100, word)),
                    NumberWord::Scale(s) => Some((s, 0, word)),
                };
            }
        }
        if ordinal {
            flush(&mut group, &mut out, true);
        }
    }
    flush(&mut group, &mut out, false);
    out
}

/// Write every digit-only token as single digits: a digit string is the same however it was grouped
/// ("4567", "45 67", "four five six seven"), and each digit a caller reads out counts as one word.
fn digits_one_by_one(tokens: Vec<String>) -> Vec<String> {
    tokens
        .into_iter()
        .flat_map(|token| {
            if !token.is_empty() && token.chars().all(|c| c.is_ascii_digit()) {
                token.chars().map(String::from).collect::<Vec<_>>()
            } else {
                vec![token]
            }
        })
        .collect()
}

/// A recording with the words spoken in it, from a committed evaluation manifest.
#[derive(Debug, Clone)]
pub struct Clip {
    pub file: std::path::PathBuf,
    pub text: String,
}

/// Read a JSONL manifest of `{"file", "text", …}` lines; files are relative to the manifest's folder.
pub fn load_clips(manifest: &std::path::Path) -> Result<Vec<Clip>, String> {
    let folder = manifest.parent().unwrap_or(std::path::Path::new("."));
    let text = std::fs::read_to_string(manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let entry: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", manifest.display(), i + 1))?;
            let field = |name: &str| {
                entry[name]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{}:{}: missing the string field `{name}`", manifest.display(), i + 1))
            };
            Ok(Clip { file: folder.join(field("file")?), text: field("text")? })
        })
        .collect()
}

/// The committed word-error-rate corpus: real read speech, commands and digit strings.
pub fn committed_corpus() -> Result<Vec<Clip>, String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("audio-samples");
    let mut clips = load_clips(&root.join("manifest.jsonl"))?;
    clips.extend(load_clips(&root.join("digits/manifest.jsonl"))?);
    Ok(clips)
}

/// Word-level edit counts of a hypothesis against a reference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WordErrors {
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    pub reference_words: usize,
}

impl WordErrors {
    pub fn errors(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    /// Errors per reference word; a corpus WER is the sum of errors over the sum of reference words.
    pub fn rate(&self) -> f64 {
        if self.reference_words == 0 {
            return if self.insertions == 0 { 0.0 } else { 1.0 };
        }
        self.errors() as f64 / self.reference_words as f64
    }
}

impl std::ops::AddAssign for WordErrors {
    fn add_assign(&mut self, other: Self) {
        self.substitutions += other.substitutions;
        self.deletions += other.deletions;
        self.insertions += other.insertions;
        self.reference_words += other.reference_words;
    }
}

/// Align normalised words by edit distance and count each kind of error.
pub fn word_errors(reference: &str, hypothesis: &str) -> WordErrors {
    let r = normalize(reference);
    let h = normalize(hypothesis);
    // cost[i][j] = (edits, subs, dels, ins) aligning r[..i] with h[..j].
    let mut row: Vec<(usize, usize, usize, usize)> = (0..=h.len()).map(|j| (j, 0, 0, j)).collect();
    for i in 1..=r.len() {
        let mut prev_diag = row[0];
        row[0] = (i, 0, i, 0);
        for j in 1..=h.len() {
            let above = row[j];
            let candidates = [
                if r[i - 1] == h[j - 1] {
                    prev_diag
                } else {
                    (prev_diag.0 + 1, prev_diag.1 + 1, prev_diag.2, prev_diag.3)
                },
                (above.0 + 1, above.1, above.2 + 1, above.3),
                (row[j - 1].0 + 1, row[j - 1].1, row[j - 1].2, row[j - 1].3 + 1),
            ];
            prev_diag = above;
            row[j] = candidates.into_iter().min_by_key(|c| c.0).unwrap_or(above);
        }
    }
    let (_, substitutions, deletions, insertions) = row[h.len()];
    WordErrors { substitutions, deletions, insertions, reference_words: r.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_punctuation_and_numerals_do_not_count_as_errors() {
        assert_eq!(word_errors("I owe five dollars.", "i owe $5").errors(), 0);
        assert_eq!(word_errors("It's the twenty-first of March", "It’s the 21st of march!").errors(), 0);
        assert_eq!(word_errors("one two three four five six", "123456").errors(), 0);
        assert_eq!(word_errors("two thousand twenty six", "2026").errors(), 0);
        assert_eq!(word_errors("one zero zero zero one nine oh two one oh", "1,0001. 90210.").errors(), 0);
        assert_eq!(word_errors("ends in 4 5 6 7", "ends in 4567").errors(), 0);
        assert_eq!(word_errors("Mister Johnson and Doctor Smith", "Mr. Johnson and Dr Smith").errors(), 0);
        assert_eq!(word_errors("opens at 9 am", "opens at 9am").errors(), 0);
        assert_eq!(word_errors("in nineteen eighty four", "in 1984").errors(), 0);
        assert_eq!(word_errors("a hundred and twenty five dollars", "a 125 dollars").errors(), 0);
        assert_eq!(word_errors("$1,250.42", "1250.42 dollars").errors(), 0);
        assert_eq!(word_errors("platforms one and three", "platforms 1 and 3").errors(), 0);
        assert_eq!(word_errors("Lord, but I'm glad; God bless 'em", "Lord but I am glad God bless them").errors(), 0);
    }

    #[test]
    fn substitutions_deletions_and_insertions_are_counted() {
        let e = word_errors("block my debit card now", "block a debit card now please");
        assert_eq!((e.substitutions, e.deletions, e.insertions, e.reference_words), (1, 0, 1, 5));
        let e = word_errors("block my card", "block card");
        assert_eq!((e.deletions, e.errors()), (1, 1));
        assert!((word_errors("a b c d", "").rate() - 1.0).abs() < 1e-9);
    }
}
