//! Numbers as English words, the way a US phone agent says them: cardinals ("one thousand two hundred
//! fifty", no "and"), ordinals ("twenty-second"), years ("twenty twenty-six"), digit strings ("four five
//! six") and fractions ("three quarters").
//!
//! Written here rather than taken from a crate because the handful of readings a phone line needs are
//! small, and each is tested below.

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
const SCALES: [(u64, &str); 6] = [
    (1_000_000_000_000_000_000, "quintillion"),
    (1_000_000_000_000_000, "quadrillion"),
    (1_000_000_000_000, "trillion"),
    (1_000_000_000, "billion"),
    (1_000_000, "million"),
    (1_000, "thousand"),
];

/// "forty-two", "one thousand two hundred fifty", "zero".
pub fn cardinal(n: u64) -> String {
    if n == 0 {
        return ONES[0].to_string();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut rest = n;
    for (scale, name) in SCALES {
        if rest >= scale {
            parts.push(format!("{} {name}", below_thousand(rest / scale)));
            rest %= scale;
        }
    }
    if rest > 0 {
        parts.push(below_thousand(rest));
    }
    parts.join(" ")
}

/// 1..=999 in words.
fn below_thousand(n: u64) -> String {
    let hundreds = n / 100;
    let rest = n % 100;
    let mut words = String::new();
    if hundreds > 0 {
        words.push_str(ONES[hundreds as usize]);
        words.push_str(" hundred");
    }
    if rest > 0 {
        if !words.is_empty() {
            words.push(' ');
        }
        words.push_str(&below_hundred(rest));
    }
    words
}

/// 0..=99 in words, tens and units joined by a hyphen ("forty-two").
fn below_hundred(n: u64) -> String {
    if n < 20 {
        ONES[n as usize].to_string()
    } else if n.is_multiple_of(10) {
        TENS[(n / 10) as usize].to_string()
    } else {
        format!("{}-{}", TENS[(n / 10) as usize], ONES[(n % 10) as usize])
    }
}

/// "first", "twenty-second", "one hundredth".
pub fn ordinal(n: u64) -> String {
    let words = cardinal(n);
    // Only the last word changes: "twenty-two" → "twenty-second", "one hundred" → "one hundredth".
    let split = words.rfind([' ', '-']).map_or(0, |i| i + 1);
    let (head, last) = words.split_at(split);
    let last = match last {
        "one" => "first".to_string(),
        "two" => "second".to_string(),
        "three" => "third".to_string(),
        "five" => "fifth".to_string(),
        "eight" => "eighth".to_string(),
        "nine" => "ninth".to_string(),
        "twelve" => "twelfth".to_string(),
        other => match other.strip_suffix('y') {
            Some(stem) => format!("{stem}ieth"),
            None => format!("{other}th"),
        },
    };
    format!("{head}{last}")
}

/// A year as people say it: "nineteen ninety-nine", "two thousand five", "twenty twenty-six",
/// "nineteen hundred", "nineteen oh five". Outside 1100..=2099 it is an ordinary number.
pub fn year(n: u64) -> String {
    match n {
        2000..=2009 => cardinal(n),
        1100..=2099 => {
            let (century, rest) = (n / 100, n % 100);
            match rest {
                0 => format!("{} hundred", cardinal(century)),
                1..=9 => format!("{} oh {}", cardinal(century), cardinal(rest)),
                _ => format!("{} {}", cardinal(century), cardinal(rest)),
            }
        }
        _ => cardinal(n),
    }
}

/// Each digit as a word, space-separated: "4567" → "four five six seven". Non-digits are skipped.
pub fn digits(s: &str) -> String {
    s.chars().filter_map(|c| c.to_digit(10)).map(|d| ONES[d as usize]).collect::<Vec<_>>().join(" ")
}

/// A long digit string read digit by digit in groups a listener can follow, groups separated by commas
/// (which become short pauses): up to 5 digits is one group, longer strings split into groups of 3 or 4
/// with the shorter groups first, so 10 digits read 3-3-4 like a US phone number and 16 read 4-4-4-4
/// like a card.
pub fn grouped_digits(s: &str) -> String {
    let only: Vec<char> = s.chars().filter(char::is_ascii_digit).collect();
    let n = only.len();
    if n <= 5 {
        return digits(s);
    }
    let groups = n.div_ceil(4);
    let (small, extra) = (n / groups, n % groups);
    // `extra` groups get one more digit; put them last.
    let mut out = Vec::with_capacity(groups);
    let mut at = 0;
    for g in 0..groups {
        let size = if g >= groups - extra { small + 1 } else { small };
        let chunk: String = only[at..at + size].iter().collect();
        out.push(digits(&chunk));
        at += size;
    }
    out.join(", ")
}

/// A number written with a decimal point, digits after the point read one by one:
/// "3.14" → "three point one four". `whole` may hold thousands commas. None if it is not such a number.
pub fn decimal(whole: &str, fraction: &str) -> Option<String> {
    let whole = parse_grouped(whole)?;
    if fraction.is_empty() || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(format!("{} point {}", cardinal(whole), digits(fraction)))
}

/// "1,250" or "1250" → 1250; None for anything else (or a value too large for u64).
pub fn parse_grouped(s: &str) -> Option<u64> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit() || c == ',') {
        return None;
    }
    s.replace(',', "").parse().ok()
}

/// "one half", "three quarters", "two thirds", "five eighths".
pub fn fraction(numerator: u64, denominator: u64) -> String {
    let plural = numerator != 1;
    let name = match (denominator, plural) {
        (2, false) => "half".to_string(),
        (2, true) => "halves".to_string(),
        (4, false) => "quarter".to_string(),
        (4, true) => "quarters".to_string(),
        (_, false) => ordinal(denominator),
        (_, true) => format!("{}s", ordinal(denominator)),
    };
    format!("{} {name}", cardinal(numerator))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinals() {
        assert_eq!(cardinal(0), "zero");
        assert_eq!(cardinal(7), "seven");
        assert_eq!(cardinal(42), "forty-two");
        assert_eq!(cardinal(90), "ninety");
        assert_eq!(cardinal(105), "one hundred five");
        assert_eq!(cardinal(1250), "one thousand two hundred fifty");
        assert_eq!(cardinal(10_000), "ten thousand");
        assert_eq!(cardinal(3_000_017), "three million seventeen");
        assert!(cardinal(u64::MAX).starts_with("eighteen quintillion"));
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal(1), "first");
        assert_eq!(ordinal(2), "second");
        assert_eq!(ordinal(3), "third");
        assert_eq!(ordinal(4), "fourth");
        assert_eq!(ordinal(12), "twelfth");
        assert_eq!(ordinal(20), "twentieth");
        assert_eq!(ordinal(22), "twenty-second");
        assert_eq!(ordinal(31), "thirty-first");
        assert_eq!(ordinal(100), "one hundredth");
        assert_eq!(ordinal(101), "one hundred first");
    }

    #[test]
    fn years() {
        assert_eq!(year(2026), "twenty twenty-six");
        assert_eq!(year(2000), "two thousand");
        assert_eq!(year(2005), "two thousand five");
        assert_eq!(year(1999), "nineteen ninety-nine");
        assert_eq!(year(1900), "nineteen hundred");
        assert_eq!(year(1905), "nineteen oh five");
        assert_eq!(year(800), "eight hundred");
    }

    #[test]
    fn digit_strings() {
        assert_eq!(digits("4567"), "four five six seven");
        assert_eq!(grouped_digits("12345"), "one two three four five");
        assert_eq!(grouped_digits("12345678"), "one two three four, five six seven eight");
        assert_eq!(grouped_digits("5551234567"), "five five five, one two three, four five six seven");
        assert_eq!(grouped_digits("1234567890123456").matches(", ").count(), 3);
        assert_eq!(grouped_digits("123456"), "one two three, four five six");
    }

    #[test]
    fn decimals_and_fractions() {
        assert_eq!(decimal("3", "14").as_deref(), Some("three point one four"));
        assert_eq!(decimal("1,000", "5").as_deref(), Some("one thousand point five"));
        assert_eq!(decimal("x", "5"), None);
        assert_eq!(fraction(3, 4), "three quarters");
        assert_eq!(fraction(1, 2), "one half");
        assert_eq!(fraction(2, 3), "two thirds");
        assert_eq!(fraction(1, 8), "one eighth");
    }
}
