//! Rewriting written text as the words a phone agent would say, so espeak-ng reads it naturally:
//! money, dates, times, fractions, ordinals, percentages, account and phone numbers, abbreviations,
//! email addresses and web addresses.
//!
//! The rules run in a fixed order, most specific first, and each replaces its digits with words, so a
//! later rule never sees what an earlier one has read: "$42.50" is money before "42.50" could be a
//! decimal, "3/4/2026" is a date before "3/4" could be a fraction. Works on one sentence at a time
//! (see [`super::split_sentences`]): a few readings look at the rest of the sentence ("Dr." is
//! "Doctor" before a name, "Drive" after a street name).

use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::numbers::{cardinal, decimal, digits, fraction, grouped_digits, ordinal, parse_grouped, year};
use super::sentences::reads_as_title;

/// Rewrite `text` as speakable words. Never fails: what no rule recognises is left for espeak-ng, and
/// symbols it cannot say are dropped.
pub fn normalize_for_speech(text: &str) -> String {
    let mut s = clean_characters(text);
    for rule in RULES {
        s = rule(&s);
    }
    tidy(&s)
}

/// The rules, in the order they run.
const RULES: &[fn(&str) -> String] = &[
    list_markers,
    emails_and_web_addresses,
    abbreviations,
    money,
    phone_numbers,
    digit_cues,
    dates,
    ranges,
    times,
    fractions,
    dashed_numbers,
    spaced_digit_groups,
    percentages,
    ordinals,
    years_after_prepositions,
    decimals,
    long_digit_strings,
    codes,
    negative_numbers,
    plain_numbers,
    symbols,
];

/// A regex compiled on first use. The patterns are constants, checked by the tests.
macro_rules! regex {
    ($pattern:expr) => {{
        static RE: LazyLock<Regex> = LazyLock::new(|| Regex::new($pattern).expect("valid regex"));
        &*RE
    }};
}

/// Capture group `i` as text ("" when it did not take part in the match).
fn group<'a>(c: &Captures<'a>, i: usize) -> &'a str {
    c.get(i).map_or("", |m| m.as_str())
}

/// Capture group `i` as a number, if it is one.
fn number(c: &Captures, i: usize) -> Option<u64> {
    parse_grouped(group(c, i))
}

/// Where the whole match starts and ends.
fn span(c: &Captures) -> (usize, usize) {
    c.get(0).map_or((0, 0), |m| (m.start(), m.end()))
}

/// Whether only closing punctuation and space follow position `end` of `s`: an abbreviation there
/// swallowed the sentence's full stop and must give it back.
fn at_sentence_end(s: &str, end: usize) -> bool {
    s.get(end..)
        .is_some_and(|rest| rest.chars().all(|c| c.is_whitespace() || matches!(c, '"' | '\'' | ')')))
}

/// Typographic characters to plain ones: curly quotes, dashes, ellipsis, non-breaking spaces.
fn clean_characters(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' => out.push('\''),
            '\u{201C}' | '\u{201D}' => out.push('"'),
            '\u{2013}' | '\u{2212}' => out.push('-'), // en dash, minus sign: ranges and negatives
            '\u{2014}' => out.push_str(", "),         // em dash: a pause
            '\u{2026}' => out.push_str("..."),
            '\u{00D7}' => out.push_str(" times "),
            c if c.is_whitespace() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// "- item" and "* item" lose their bullet; "1. Open the app" reads "one, Open the app".
fn list_markers(s: &str) -> String {
    let s = regex!(r"^\s*[-*•]\s+").replace(s, "");
    regex!(r"^\s*(\d{1,2})[.)]\s+").replace(&s, "$1, ").into_owned()
}

/// "help@acme.com" → "help at acme dot com"; "www.acme.com/help" → "w w w dot acme dot com slash help".
fn emails_and_web_addresses(s: &str) -> String {
    let s = regex!(r"\b([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b")
        .replace_all(s, |c: &Captures| format!("{} at {}", spell_address(group(c, 1)), spell_address(group(c, 2))));
    regex!(
        r"(?i)\b(?:https?://)?((?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|co|us|uk|ca|gov|edu|info|biz|app))\b(/[A-Za-z0-9_/-]*)?"
    )
    .replace_all(&s, |c: &Captures| {
        let host = group(c, 1);
        let host = match host.get(..4) {
            Some(www) if www.eq_ignore_ascii_case("www.") => format!("w w w.{}", &host[4..]),
            _ => host.to_string(),
        };
        let path = spell_address(group(c, 2));
        if path.is_empty() {
            spell_address(&host)
        } else {
            format!("{} {path}", spell_address(&host))
        }
    })
    .into_owned()
}

/// The punctuation inside an address, as words.
fn spell_address(part: &str) -> String {
    let mut out = String::new();
    for c in part.chars() {
        match c {
            '.' => out.push_str(" dot "),
            '/' => out.push_str(" slash "),
            '-' => out.push_str(" dash "),
            '_' => out.push_str(" underscore "),
            '+' => out.push_str(" plus "),
            c => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Titles, Latin abbreviations, street words, "No. 5", "#5", "PIN".
fn abbreviations(s: &str) -> String {
    let s = regex!(r"\b(Mrs|Mr|Ms|Prof|Dr|St|Jr|Sr|Ave|Blvd|Rd|Apt|Dept|Ste|Inc|Ltd|Corp)\.").replace_all(
        s,
        |c: &Captures| {
            let (start, end) = span(c);
            let word = match group(c, 1) {
                "Mr" => "Mister",
                "Mrs" => "Missus",
                "Ms" => "Miz",
                "Prof" => "Professor",
                "Jr" => "Junior",
                "Sr" => "Senior",
                "Ave" => "Avenue",
                "Blvd" => "Boulevard",
                "Rd" => "Road",
                "Apt" => "Apartment",
                "Dept" => "Department",
                "Ste" => "Suite",
                "Inc" => "Incorporated",
                "Ltd" => "Limited",
                "Corp" => "Corporation",
                "Dr" if reads_as_title(&s[..start], &s[end..]) => "Doctor",
                "Dr" => "Drive",
                "St" if reads_as_title(&s[..start], &s[end..]) => "Saint",
                _ => "Street",
            };
            let stop = if at_sentence_end(s, end) { "." } else { "" };
            format!("{word}{stop}")
        },
    );
    // Titles written without a full stop (British style): "Dr Smith", "Mr Jones".
    let s = regex!(r"\b(Mrs|Mr|Ms|Dr)\s+([A-Z])").replace_all(&s, |c: &Captures| {
        let title = match group(c, 1) {
            "Mrs" => "Missus",
            "Mr" => "Mister",
            "Ms" => "Miz",
            _ => "Doctor",
        };
        format!("{title} {}", group(c, 2))
    });
    let s = regex!(r"(?i)\b(e\.g|i\.e|etc|approx|vs)\.|\b(approx|vs)\b").replace_all(&s, |c: &Captures| {
        let (_, end) = span(c);
        let abbreviation = if c.get(1).is_some() { group(c, 1) } else { group(c, 2) };
        let words = match abbreviation.to_lowercase().as_str() {
            "e.g" => "for example",
            "i.e" => "that is",
            "etc" => "et cetera",
            "approx" => "approximately",
            _ => "versus",
        };
        let stop = if c.get(1).is_some() && at_sentence_end(&s, end) { "." } else { "" };
        format!("{words}{stop}")
    });
    let s = regex!(r"\b[Nn]o\.\s?(\d)").replace_all(&s, "number $1");
    let s = regex!(r"#\s?(\d)").replace_all(&s, "number $1");
    let s = regex!(r"\bPIN(s?)\b").replace_all(&s, "pin$1");
    regex!(r"\bIDs\b").replace_all(&s, "I Ds").into_owned()
}

/// "$42.50" → "forty-two dollars and fifty cents", "£5" → "five pounds", "€1.5 million" → "one point
/// five million euros".
fn money(s: &str) -> String {
    regex!(r"(-\s?)?([$£€])\s?(-\s?)?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:\s?(thousand|million|billion|trillion)\b)?")
        .replace_all(s, |c: &Captures| {
            let Some(whole) = number(c, 4) else { return group(c, 0).to_string() };
            let (major, majors, minor, minors) = match group(c, 2) {
                "£" => ("pound", "pounds", "penny", "pence"),
                "€" => ("euro", "euros", "cent", "cents"),
                _ => ("dollar", "dollars", "cent", "cents"),
            };
            // "-$12" and "$-12" are both negative.
            let sign = if c.get(1).is_some() || c.get(3).is_some() { "minus " } else { "" };
            let cents = group(c, 5);
            let scale = group(c, 6);
            if !scale.is_empty() || cents.len() > 2 {
                // "$1.5 million", "$3.999": a quantity, not dollars and cents.
                let amount = if cents.is_empty() {
                    cardinal(whole)
                } else {
                    decimal(group(c, 4), cents).unwrap_or_else(|| cardinal(whole))
                };
                let scale = if scale.is_empty() { String::new() } else { format!(" {scale}") };
                return format!("{sign}{amount}{scale} {majors}");
            }
            // "$4.5" means four dollars fifty.
            let cents: u64 = match cents.len() {
                0 => 0,
                1 => cents.parse::<u64>().unwrap_or(0) * 10,
                _ => cents.parse().unwrap_or(0),
            };
            let major_words = format!("{} {}", cardinal(whole), if whole == 1 { major } else { majors });
            let minor_words = format!("{} {}", cardinal(cents), if cents == 1 { minor } else { minors });
            let amount = match (whole, cents) {
                (_, 0) => major_words,
                (0, _) => minor_words,
                _ => format!("{major_words} and {minor_words}"),
            };
            format!("{sign}{amount}")
        })
        .into_owned()
}

/// "(555) 123-4567" and "555.123.4567" → "five five five, one two three, four five six seven", with a
/// leading "1" or "+1" country code read as "one, ...".
fn phone_numbers(s: &str) -> String {
    regex!(r"(?:(\+1|\b1)[\s.-]?)?(?:\((\d{3})\)\s*(\d{3})[-.\s](\d{4})\b|\b(\d{3})\.(\d{3})\.(\d{4})\b)")
        .replace_all(s, |c: &Captures| {
            let groups: Vec<String> = (1..=7).map(|i| group(c, i)).filter(|g| !g.is_empty()).map(digits).collect();
            groups.join(", ")
        })
        .into_owned()
}

/// Numbers that are read digit by digit whatever their length because of the words before them:
/// "card ending in 4242" → "four two four two", "code 123"; and a card's expiry, "expires 12/27" →
/// "expires twelve twenty-seven" (not a date in December).
fn digit_cues(s: &str) -> String {
    let s = regex!(
        r"(?i)\b(ending(?:\s+(?:in|with))?|ends\s+(?:in|with)|last\s+(?:four|4)(?:\s+digits)?(?:\s+(?:are|of))?|code(?:\s+is)?|pin(?:\s+is)?|extension|ext\.?|zip(?:\s+code)?(?:\s+is)?|(?:confirmation|reference|ticket|case|order|account)\s+(?:number\s+)?(?:is\s+)?)\s*(\d{3,4})\b"
    )
    .replace_all(s, |c: &Captures| format!("{} {}", group(c, 1).trim_end(), digits(group(c, 2))));
    regex!(r"(?i)\b(expires|expiry|expiration(?:\s+date)?|exp\.?)(\s*:?\s*)(0?[1-9]|1[0-2])/(\d{2})\b")
        .replace_all(&s, |c: &Captures| {
            let year = number(c, 4).map_or_else(String::new, |y| match y {
                0..=9 => format!("oh {}", cardinal(y)),
                _ => cardinal(y),
            });
            format!("{}{}{} {year}", group(c, 1), group(c, 2), number(c, 3).map_or_else(String::new, cardinal))
        })
        .into_owned()
}

const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// Ranges read with "to": "Mon-Fri" → "Monday to Friday", "9am-5pm" and "8:00-17:30" → "... to ...".
/// (Number ranges such as "3-5 days" are read by [`dashed_numbers`].)
fn ranges(s: &str) -> String {
    let s = regex!(
        r"\b(Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)\.?\s?-\s?(Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)\b"
    )
    .replace_all(s, |c: &Captures| {
        let day = |abbreviation: &str| DAYS.iter().find(|d| d.starts_with(&abbreviation[..3])).copied().unwrap_or("");
        format!("{} to {}", day(group(c, 1)), day(group(c, 2)))
    });
    regex!(r"\b(\d{1,2}(?::\d{2})?\s?(?:[AaPp]\.?\s?[Mm]\b\.?)?)\s?-\s?(\d{1,2}(?::\d{2})?(?:\s?[AaPp]\.?\s?[Mm]\b)?)")
        .replace_all(&s, |c: &Captures| {
            let is_time = |t: &str| t.contains(':') || t.to_lowercase().contains('m');
            if is_time(group(c, 1)) || is_time(group(c, 2)) {
                format!("{} to {}", group(c, 1).trim_end(), group(c, 2))
            } else {
                group(c, 0).to_string()
            }
        })
        .into_owned()
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// "March fourth" (with ", twenty twenty-six" when there is a year), or None for an impossible date.
fn date_words(month: u64, day: u64, year_number: Option<u64>) -> Option<String> {
    let name = MONTHS.get(usize::try_from(month).ok()?.checked_sub(1)?)?;
    if !(1..=31).contains(&day) {
        return None;
    }
    Some(match year_number {
        Some(y) => format!("{name} {}, {}", ordinal(day), year(y)),
        None => format!("{name} {}", ordinal(day)),
    })
}

/// "2026-03-04", "03/04/2026" (US month first; day first when the first number cannot be a month),
/// "March 4, 2026", "4 March 2026".
fn dates(s: &str) -> String {
    let s = regex!(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b").replace_all(s, |c: &Captures| {
        match (number(c, 1), number(c, 2), number(c, 3)) {
            (Some(y), Some(m), Some(d)) => date_words(m, d, Some(y)),
            _ => None,
        }
        .unwrap_or_else(|| group(c, 0).to_string())
    });
    let s = regex!(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b").replace_all(&s, |c: &Captures| {
        let (Some(a), Some(b), Some(y)) = (number(c, 1), number(c, 2), number(c, 3)) else {
            return group(c, 0).to_string();
        };
        let y = if group(c, 3).len() == 2 { 2000 + y } else { y };
        let (month, day) = if a > 12 && b <= 12 { (b, a) } else { (a, b) };
        date_words(month, day, Some(y)).unwrap_or_else(|| group(c, 0).replace('/', " slash "))
    });
    const MONTH: &str = r"(Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b\.?";
    static MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!(r"\b{MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?")).expect("valid regex")
    });
    static DAY_MONTH: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!(r"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH}(?:,?\s+(\d{{4}})\b)?"))
            .expect("valid regex")
    });
    let month_number =
        |name: &str| MONTHS.iter().position(|m| m.starts_with(&name[..3.min(name.len())])).map(|i| i as u64 + 1);
    let s = MONTH_DAY.replace_all(&s, |c: &Captures| {
        month_number(group(c, 1))
            .and_then(|m| date_words(m, number(c, 2)?, number(c, 3)))
            .unwrap_or_else(|| group(c, 0).to_string())
    });
    DAY_MONTH
        .replace_all(&s, |c: &Captures| {
            let (Some(m), Some(d)) = (month_number(group(c, 2)), number(c, 1)) else {
                return group(c, 0).to_string();
            };
            match (date_words(m, d, None), number(c, 3)) {
                (Some(_), Some(y)) => format!("the {} of {}, {}", ordinal(d), MONTHS[m as usize - 1], year(y)),
                (Some(_), None) => format!("the {} of {}", ordinal(d), MONTHS[m as usize - 1]),
                _ => group(c, 0).to_string(),
            }
        })
        .into_owned()
}

/// "3:30 pm" → "three thirty p m", "3:05" → "three oh five", "9 a.m." → "nine a m", "15:00" → "fifteen
/// hundred", "12:00" → "twelve o'clock".
fn times(s: &str) -> String {
    let s = regex!(r"\b([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?(?:\s?([AaPp])\.?\s?[Mm]\b)?").replace_all(
        s,
        |c: &Captures| {
            let (Some(hour), Some(minute)) = (number(c, 1), number(c, 2)) else {
                return group(c, 0).to_string();
            };
            let meridiem = group(c, 3).to_lowercase();
            let minutes = match minute {
                0 if !meridiem.is_empty() => String::new(),
                0 if (1..=12).contains(&hour) => " o'clock".to_string(),
                0 => " hundred".to_string(),
                1..=9 => format!(" oh {}", cardinal(minute)),
                _ => format!(" {}", cardinal(minute)),
            };
            let meridiem = if meridiem.is_empty() { String::new() } else { format!(" {meridiem} m") };
            format!("{}{minutes}{meridiem}", cardinal(hour))
        },
    );
    regex!(r"\b(1[0-2]|0?[1-9])\s?([AaPp])\.?\s?[Mm]\b")
        .replace_all(&s, |c: &Captures| {
            let hour = number(c, 1).unwrap_or(0);
            format!("{} {} m", cardinal(hour), group(c, 2).to_lowercase())
        })
        .into_owned()
}

/// "3/4" → "three quarters", "1 1/2" → "one and one half", "24/7" → "twenty-four seven", "3/17" →
/// "March seventeenth", "9/20" → "nine out of twenty".
fn fractions(s: &str) -> String {
    let s = regex!(r"\b(\d+)\s(\d{1,2})/(\d{1,2})\b").replace_all(s, |c: &Captures| {
        match (number(c, 1), number(c, 2), number(c, 3)) {
            (Some(whole), Some(n), Some(d)) if n < d && d >= 2 => {
                format!("{} and {}", cardinal(whole), fraction(n, d))
            }
            _ => group(c, 0).to_string(),
        }
    });
    regex!(r"\b(\d{1,3})/(\d{1,3})\b")
        .replace_all(&s, |c: &Captures| {
            let (Some(n), Some(d)) = (number(c, 1), number(c, 2)) else {
                return group(c, 0).to_string();
            };
            if (n, d) == (24, 7) || n == d {
                // "24/7", "50/50"
                return format!("{} {}", cardinal(n), cardinal(d));
            }
            if (2..=16).contains(&d) {
                return fraction(n, d);
            }
            if let Some(date) = date_words(n, d, None) {
                return date;
            }
            if n <= d && d > 0 {
                format!("{} out of {}", cardinal(n), cardinal(d))
            } else {
                format!("{} slash {}", cardinal(n), cardinal(d))
            }
        })
        .into_owned()
}

/// Digits joined by dashes. A short ascending pair is a range ("5-10" → "five to ten", "2020-2024"
/// → "twenty twenty to twenty twenty-four"); anything else is an account, card or phone number read
/// digit by digit, a pause at each dash ("1234-5678" → "one two three four, five six seven eight").
fn dashed_numbers(s: &str) -> String {
    regex!(r"\b\d+(?:-\d+)+\b")
        .replace_all(s, |c: &Captures| {
            let text = group(c, 0);
            let parts: Vec<&str> = text.split('-').collect();
            if let [a, b] = parts.as_slice() {
                if let (Some(x), Some(y)) = (parse_grouped(a), parse_grouped(b)) {
                    if a.len() <= 3 && b.len() <= 3 && x < y {
                        return format!("{} to {}", cardinal(x), cardinal(y));
                    }
                    if a.len() == 4 && b.len() == 4 && x < y && (1900..=2099).contains(&x) && y <= 2099 {
                        return format!("{} to {}", year(x), year(y));
                    }
                }
            }
            parts.iter().map(|p| grouped_digits(p)).collect::<Vec<_>>().join(", ")
        })
        .into_owned()
}

/// A card or account number typed in space-separated groups, "1234 5678 9012 3456": digit by digit,
/// a pause at each group. Needs at least 8 digits so "100 200" stays two numbers.
fn spaced_digit_groups(s: &str) -> String {
    regex!(r"\b\d{3,4}(?: \d{3,4})+\b")
        .replace_all(s, |c: &Captures| {
            let text = group(c, 0);
            if text.chars().filter(char::is_ascii_digit).count() < 8 {
                return text.to_string();
            }
            text.split(' ').map(digits).collect::<Vec<_>>().join(", ")
        })
        .into_owned()
}

/// "15%" → "fifteen percent", "2.5 %" → "two point five percent".
fn percentages(s: &str) -> String {
    regex!(r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s?%")
        .replace_all(s, |c: &Captures| {
            let amount = match (number(c, 1), c.get(2)) {
                (_, Some(frac)) => decimal(group(c, 1), frac.as_str()),
                (Some(n), None) => Some(cardinal(n)),
                _ => None,
            };
            amount.map_or_else(|| group(c, 0).to_string(), |words| format!("{words} percent"))
        })
        .into_owned()
}

/// "1st" → "first", "22nd" → "twenty-second".
fn ordinals(s: &str) -> String {
    regex!(r"\b(\d{1,3}(?:,\d{3})+|\d+)(?i:st|nd|rd|th)\b")
        .replace_all(s, |c: &Captures| number(c, 1).map_or_else(|| group(c, 0).to_string(), ordinal))
        .into_owned()
}

/// A four-digit number after "in", "since", "from" and the like is a year: "since 1999" → "since
/// nineteen ninety-nine". Elsewhere "2026 points" stays a quantity.
fn years_after_prepositions(s: &str) -> String {
    regex!(r"(?i)\b(in|since|from|until|till|by|year|before|after|during|through|of)\s+(1[1-9]\d\d|20\d\d)\b")
        .replace_all(s, |c: &Captures| format!("{} {}", group(c, 1), number(c, 2).map_or_else(String::new, year)))
        .into_owned()
}

/// "3.14" → "three point one four".
fn decimals(s: &str) -> String {
    regex!(r"\b(\d{1,3}(?:,\d{3})+|\d+)\.(\d+)\b")
        .replace_all(s, |c: &Captures| decimal(group(c, 1), group(c, 2)).unwrap_or_else(|| group(c, 0).to_string()))
        .into_owned()
}

/// Five or more digits in a row are an account, card, order or ZIP number, read digit by digit in
/// groups: "12345678" → "one two three four, five six seven eight".
fn long_digit_strings(s: &str) -> String {
    regex!(r"\b\d{5,}\b").replace_all(s, |c: &Captures| grouped_digits(group(c, 0))).into_owned()
}

/// Reference codes mixing letters and digits, "AB12CD34" → "A B one two C D three four". Only when the
/// letter runs are short, so words such as "Windows10" are left alone.
fn codes(s: &str) -> String {
    regex!(r"\b[A-Za-z0-9]{4,}\b")
        .replace_all(s, |c: &Captures| {
            let code = group(c, 0);
            let has_digit = code.chars().any(|ch| ch.is_ascii_digit());
            let has_letter = code.chars().any(|ch| ch.is_ascii_alphabetic());
            let longest_letter_run = code.split(|ch: char| ch.is_ascii_digit()).map(str::len).max().unwrap_or(0);
            if !(has_digit && has_letter) || longest_letter_run > 3 {
                return code.to_string();
            }
            code.chars()
                .map(|ch| match ch.to_digit(10) {
                    Some(d) => cardinal(u64::from(d)),
                    None => ch.to_ascii_uppercase().to_string(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .into_owned()
}

/// "-5" → "minus 5" (read as a number by the next rule).
fn negative_numbers(s: &str) -> String {
    regex!(r"(^|[\s(])-(\d)").replace_all(s, "${1}minus $2").into_owned()
}

/// Whatever digits are left: "1,250" → "one thousand two hundred fifty", "42" → "forty-two".
fn plain_numbers(s: &str) -> String {
    regex!(r"\b\d{1,3}(?:,\d{3})+\b|\b\d+\b")
        .replace_all(s, |c: &Captures| {
            let text = group(c, 0);
            // "007" is read as it is written, digit by digit.
            match parse_grouped(text) {
                Some(n) if !(text.len() > 1 && text.starts_with('0')) => cardinal(n),
                _ => digits(text),
            }
        })
        .into_owned()
}

/// Symbols with a spoken name.
fn symbols(s: &str) -> String {
    let s = regex!(r"\s*&\s*").replace_all(s, " and ");
    let s = regex!(r"°\s?([CF])\b").replace_all(&s, |c: &Captures| {
        if group(c, 1) == "C" { " degrees Celsius" } else { " degrees Fahrenheit" }.to_string()
    });
    let s = regex!(r"\s\+\s|\s=\s|%|°|@").replace_all(&s, |c: &Captures| {
        match group(c, 0).trim() {
            "+" => " plus ",
            "=" => " equals ",
            "%" => " percent",
            "°" => " degrees",
            _ => " at ",
        }
        .to_string()
    });
    // "and/or" → "and or"; a slash left between other things is said.
    let s = regex!(r"\b([A-Za-z]+)/([A-Za-z]+)\b").replace_all(&s, "$1 $2");
    s.replace('/', " slash ")
}

/// Drop what espeak-ng would read out as a symbol name or stumble on (emoji, markdown `*` `_` `#`,
/// brackets, stray currency signs), turn spaced dashes into pauses, and tidy spaces and commas.
fn tidy(s: &str) -> String {
    let kept: String = s
        .chars()
        .map(|c| if c.is_alphanumeric() || c.is_whitespace() || ".,;:?!'-".contains(c) { c } else { ' ' })
        .collect();
    let s = regex!(r"\s+-+\s+|^-+\s*|\s*-+$").replace_all(&kept, ", ");
    let s = regex!(r"\s+").replace_all(&s, " ");
    let s = regex!(r"\s+([,.;:?!])").replace_all(&s, "$1");
    // Runs such as ", ," or ",." left where symbols were removed keep only their strongest mark.
    let s = regex!(r"[,;:]+(?:\s*[,;:]+)*")
        .replace_all(&s, |c: &Captures| group(c, 0).chars().next().map_or(String::new(), String::from));
    let s = regex!(r"[,;:]\s*([.?!])").replace_all(&s, "$1");
    s.trim().trim_start_matches([',', ';', ':', '.', '!', '?', ' ']).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn says(text: &str) -> String {
        normalize_for_speech(text)
    }

    #[test]
    fn money() {
        assert_eq!(says("Your balance is $42.50."), "Your balance is forty-two dollars and fifty cents.");
        assert_eq!(says("$5"), "five dollars");
        assert_eq!(says("$1"), "one dollar");
        assert_eq!(says("$0.99"), "ninety-nine cents");
        assert_eq!(says("$1,250.00"), "one thousand two hundred fifty dollars");
        assert_eq!(says("£3.01"), "three pounds and one penny");
        assert_eq!(says("€20"), "twenty euros");
        assert_eq!(says("$1.5 million"), "one point five million dollars");
        assert_eq!(says("-$5"), "minus five dollars");
        assert_eq!(says("$-12.00"), "minus twelve dollars");
    }

    #[test]
    fn fractions_and_dates() {
        assert_eq!(says("Add 3/4 of a cup."), "Add three quarters of a cup.");
        assert_eq!(says("1/2"), "one half");
        assert_eq!(says("2 1/2 hours"), "two and one half hours");
        assert_eq!(says("We are open 24/7."), "We are open twenty-four seven.");
        assert_eq!(says("Due 03/04/2026."), "Due March fourth, twenty twenty-six.");
        assert_eq!(says("Due 25/12/2026."), "Due December twenty-fifth, twenty twenty-six.");
        assert_eq!(says("2026-03-04"), "March fourth, twenty twenty-six");
        assert_eq!(says("on March 4, 2026"), "on March fourth, twenty twenty-six");
        assert_eq!(says("on 4 March"), "on the fourth of March");
        assert_eq!(says("since 1999"), "since nineteen ninety-nine");
    }

    #[test]
    fn ordinals_times_percentages() {
        assert_eq!(says("the 1st and 22nd"), "the first and twenty-second");
        assert_eq!(says("Call at 3:30 pm."), "Call at three thirty p m.");
        assert_eq!(says("at 3:30 p.m. tomorrow"), "at three thirty p m. tomorrow");
        assert_eq!(says("at 9am"), "at nine a m");
        assert_eq!(says("3:05"), "three oh five");
        assert_eq!(says("12:00"), "twelve o'clock");
        assert_eq!(says("open 9am-5pm, Mon-Fri."), "open nine a m to five p m, Monday to Friday.");
        assert_eq!(says("Hours: 8:00-17:30"), "Hours: eight o'clock to seventeen thirty");
        assert_eq!(says("15%"), "fifteen percent");
        assert_eq!(says("2.5% APR"), "two point five percent APR");
    }

    #[test]
    fn abbreviations() {
        assert_eq!(says("Dr. Smith will call."), "Doctor Smith will call.");
        assert_eq!(says("We are on 5 Elm Dr."), "We are on five Elm Drive.");
        assert_eq!(says("123 Main St."), "one hundred twenty-three Main Street.");
        assert_eq!(says("Visit St. Louis."), "Visit Saint Louis.");
        assert_eq!(says("Mr. and Mrs. Jones, Ms. Lee"), "Mister and Missus Jones, Miz Lee");
        assert_eq!(says("fees, e.g. late fees, etc."), "fees, for example late fees, et cetera.");
        assert_eq!(says("approx. 5 days"), "approximately five days");
        assert_eq!(says("No. 5"), "number five");
        assert_eq!(says("Order #12"), "Order number twelve");
        assert_eq!(says("Enter your PIN and ID."), "Enter your pin and ID.");
    }

    #[test]
    fn digit_strings() {
        assert_eq!(says("account 12345678"), "account one two three four, five six seven eight");
        assert_eq!(says("card 1234-5678"), "card one two three four, five six seven eight");
        assert_eq!(says("Call (555) 123-4567."), "Call five five five, one two three, four five six seven.");
        assert_eq!(says("Call 1-800-555-1234"), "Call one, eight zero zero, five five five, one two three four");
        assert_eq!(
            says("card 4111 1111 1111 1111"),
            "card four one one one, one one one one, one one one one, one one one one"
        );
        assert_eq!(says("5-10 days"), "five to ten days");
        assert_eq!(says("ref AB12CD34"), "ref A B one two C D three four");
        assert_eq!(says("Call 1 (800) 555-0199."), "Call one, eight zero zero, five five five, zero one nine nine.");
        assert_eq!(says("card ending in 4242"), "card ending in four two four two");
        assert_eq!(says("Your order number is 5821."), "Your order number is five eight two one.");
        assert_eq!(says("It expires 12/27."), "It expires twelve twenty-seven.");
    }

    #[test]
    fn plain_numbers() {
        assert_eq!(says("10,000 characters"), "ten thousand characters");
        assert_eq!(says("1,250"), "one thousand two hundred fifty");
        assert_eq!(says("3.14"), "three point one four");
        assert_eq!(says("-5 degrees"), "minus five degrees");
        assert_eq!(says("-3°C"), "minus three degrees Celsius");
        assert_eq!(says("a 50/50 chance"), "a fifty fifty chance");
        assert_eq!(says("It is 42."), "It is forty-two.");
    }

    #[test]
    fn symbols_and_addresses() {
        assert_eq!(says("Email help@acme.com."), "Email help at acme dot com.");
        assert_eq!(says("Visit www.acme.com/help."), "Visit w w w dot acme dot com slash help.");
        assert_eq!(says("Tom & Jerry"), "Tom and Jerry");
        assert_eq!(says("and/or"), "and or");
        assert_eq!(says("**Note** — read this 👍"), "Note, read this");
        assert_eq!(says("- first item"), "first item");
        assert_eq!(says("1. Open the app"), "one, Open the app");
        assert_eq!(says("“Quoted” text…"), "Quoted text...");
    }

    #[test]
    fn nothing_speakable_stays_empty() {
        assert_eq!(says("?!..."), "");
        assert_eq!(says("   "), "");
        assert_eq!(says("***"), "");
    }

    #[test]
    fn odd_input_never_panics() {
        let odd = [
            "$99999999999999999999999.99",
            "99999999999999999999999th",
            "0/0 1/0 13/45/2026 2026-13-45 25:99 99:99 pm",
            "No. #",
            "Dr.",
            "St. ",
            "-",
            "$",
            "1.2.3.4",
            "e\u{301}\u{301}\u{301} 👍🏽 \u{0}\u{7f} \u{202e}abc",
            "你好，世界。",
            "١٢٣٤٥",
            "€.50 £-3",
            "4 Mayor 5 Mar",
        ];
        for text in odd {
            let spoken = normalize_for_speech(text);
            assert!(!spoken.contains("  "), "{text:?} → {spoken:?}");
        }
        assert_eq!(says("99999999999999999999999th"), "nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine nine T H");
    }
}
