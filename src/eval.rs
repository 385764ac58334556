//! Word error rate, with the normalisation that makes it fair.
//!
//! A recogniser writing "5" for "five", "Mr" for "mister" or "account's" with a curly apostrophe has not
//! made an error a caller would notice. Both sides are normalised the same way before words are
//! aligned: lower case, punctuation removed, numerals spelled out, hyphens split.

/// Normalise text for scoring: lower case, no punctuation, digits spelled out, hyphenated words split.
pub fn normalize(text: &str) -> Vec<String> {
    let cleaned: String = text
        .chars()
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' => '\'',
            '-' | '/' | '_' => ' ',
            _ => c,
        })
        .collect();
    let mut words = Vec::new();
    for raw in cleaned.split_whitespace() {
        let token: String = raw
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '\'' || *c == '%' || *c == '$')
            .collect::<String>()
            .to_lowercase();
        let token = token.trim_matches('\'');
        if token.is_empty() {
            continue;
        }
        let (dollars, token) = match token.strip_prefix('$') {
            Some(rest) => (true, rest),
            None => (false, token),
        };
        let (percent, token) = match token.strip_suffix('%') {
            Some(rest) => (true, rest),
            None => (false, token),
        };
        let digits: String = token.chars().filter(|c| *c != ',').collect();
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            words.extend(spell_digits_as_spoken(&digits));
        } else if let Some(ordinal) = spell_ordinal(token) {
            words.extend(ordinal);
        } else {
            words.push(token.replace(['$', '%'], ""));
        }
        if dollars {
            words.push("dollars".into());
        }
        if percent {
            words.push("percent".into());
        }
    }
    words.retain(|w| !w.is_empty());
    words
}

/// How a digit string is said: a number up to four digits ("2026" → "two thousand twenty six"), a longer
/// string digit by digit (account and phone numbers are read that way), leading zeros as "zero".
fn spell_digits_as_spoken(digits: &str) -> Vec<String> {
    if digits.len() > 4 || (digits.len() > 1 && digits.starts_with('0')) {
        return digits.chars().map(|d| spell_number(u64::from(d as u8 - b'0'))).collect();
    }
    let n: u64 = digits.parse().unwrap_or(0);
    spell_number(n).split_whitespace().map(str::to_string).collect()
}

fn spell_ordinal(token: &str) -> Option<Vec<String>> {
    let number: String = token.chars().take_while(char::is_ascii_digit).collect();
    let suffix = &token[number.len()..];
    if number.is_empty() || !["st", "nd", "rd", "th"].contains(&suffix) {
        return None;
    }
    let mut words: Vec<String> = spell_number(number.parse().ok()?).split_whitespace().map(str::to_string).collect();
    let last = words.pop()?;
    words.push(ordinal_word(&last));
    Some(words)
}

fn ordinal_word(cardinal: &str) -> String {
    match cardinal {
        "one" => "first".into(),
        "two" => "second".into(),
        "three" => "third".into(),
        "five" => "fifth".into(),
        "eight" => "eighth".into(),
        "nine" => "ninth".into(),
        "twelve" => "twelfth".into(),
        w if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        w => format!("{w}th"),
    }
}

/// English words for a number, without "and" or hyphens ("two thousand twenty six").
pub fn spell_number(n: u64) -> String {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    fn below_thousand(n: u64, out: &mut Vec<&'static str>) {
        if n >= 100 {
            out.push(ONES[(n / 100) as usize]);
            out.push("hundred");
        }
        let rest = n % 100;
        if rest >= 20 {
            out.push(TENS[(rest / 10) as usize]);
            if rest % 10 != 0 {
                out.push(ONES[(rest % 10) as usize]);
            }
        } else if rest > 0 || n == 0 {
            out.push(ONES[rest as usize]);
        }
    }
    if n == 0 {
        return "zero".into();
    }
    let mut out = Vec::new();
    for (scale, name) in
        [(1_000_000_000_000u64, "trillion"), (1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand")]
    {
        if n / scale % 1000 > 0 {
            below_thousand(n / scale % 1000, &mut out);
            out.push(name);
        }
    }
    if n % 1000 > 0 {
        below_thousand(n % 1000, &mut out);
    }
    out.join(" ")
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
    }

    #[test]
    fn substitutions_deletions_and_insertions_are_counted() {
        let e = word_errors("block my debit card now", "block a debit card now please");
        assert_eq!((e.substitutions, e.deletions, e.insertions, e.reference_words), (1, 0, 1, 5));
        let e = word_errors("block my card", "block card");
        assert_eq!((e.deletions, e.errors()), (1, 1));
        assert!((word_errors("a b c d", "").rate() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn numbers_are_spelled_the_way_people_say_them() {
        assert_eq!(spell_number(42), "forty two");
        assert_eq!(spell_number(1250), "one thousand two hundred fifty");
        assert_eq!(spell_number(3_000_007), "three million seven");
    }
}
