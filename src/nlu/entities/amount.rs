//! Money: "$42.50", "£20", "20€", "42 dollars", "forty two dollars and fifty cents", "twenty dollars
//! fifty", "a hundred bucks", "20 euros", "fifty cents".
//!
//! Currencies are US dollars, pounds sterling and euros (ISO "USD", "GBP", "EUR"). "Pounds" is read as
//! money: on a support line it is far likelier than weight. Cents after the main unit are read when
//! named ("and fifty cents", "fifty p") or, unnamed, when they are 10–99 ("twenty dollars fifty"), so
//! "twenty dollars two days ago" keeps its "two" out of the amount.
//!
//! Not handled: amounts without a currency word ("it was forty two fifty"), other currencies, "5k".

use super::words::{number, numeral, word, Token};
use super::{kind, Candidate, EntityValue};

/// The currency a word names.
fn currency_word(w: &str) -> Option<&'static str> {
    match w {
        "dollar" | "dollars" | "buck" | "bucks" | "usd" => Some("USD"),
        "pound" | "pounds" | "quid" | "gbp" | "sterling" => Some("GBP"),
        "euro" | "euros" | "eur" => Some("EUR"),
        _ => None,
    }
}

fn minor_unit_word(w: &str) -> bool {
    matches!(w, "cent" | "cents" | "pence" | "penny" | "p")
}

/// Whether a word names money: "dollars", "cents". Lets other extractors leave amounts alone.
pub(super) fn is_money_word(w: &str) -> bool {
    currency_word(w).is_some() || minor_unit_word(w)
}

fn currency_symbol(c: char) -> Option<&'static str> {
    match c {
        '$' => Some("USD"),
        '£' => Some("GBP"),
        '€' => Some("EUR"),
        _ => None,
    }
}

/// "$42.50", "£1,000", "20€": the currency and amount a single written token holds.
fn symbol_amount(raw: &str) -> Option<(&'static str, f64)> {
    let first = raw.chars().next()?;
    let last = raw.chars().next_back()?;
    if let Some(currency) = currency_symbol(first) {
        return numeral(&raw[first.len_utf8()..]).map(|v| (currency, v));
    }
    let currency = currency_symbol(last)?;
    numeral(&raw[..raw.len() - last.len_utf8()]).map(|v| (currency, v))
}

pub(super) fn extract(tokens: &[Token], out: &mut Vec<Candidate>) {
    let mut i = 0;
    while i < tokens.len() {
        match amount_at(tokens, i) {
            Some((amount, currency, end)) => {
                let money = EntityValue::Money { amount: round_cents(amount), currency: currency.to_string() };
                out.push(Candidate::new(kind::AMOUNT, money, tokens[i].start, tokens[end - 1].end));
                i = end;
            }
            None => i += 1,
        }
    }
}

/// Binary floating point cannot hold most cents exactly; round so 42.5 prints as 42.5, not 42.4999….
fn round_cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}

/// The amount starting at token `i`: (amount, currency, end token).
fn amount_at(tokens: &[Token], i: usize) -> Option<(f64, &'static str, usize)> {
    if let Some((currency, value)) = symbol_amount(tokens[i].raw) {
        // "$20 dollars" says the currency twice; take both words.
        let end = if currency_word(word(tokens, i + 1)) == Some(currency) { i + 2 } else { i + 1 };
        return Some((value, currency, end));
    }
    let n = number(tokens, i)?;
    let after = i + n.len;
    if let Some(currency) = currency_word(word(tokens, after)) {
        let (cents, end) = cents_after(tokens, after + 1).unwrap_or((0.0, after + 1));
        return Some((n.value + cents / 100.0, currency, end));
    }
    // "fifty cents" alone; the currency of cents is the dollar, of pence the pound.
    let w = word(tokens, after);
    if minor_unit_word(w) && n.value < 100.0 {
        let currency = if matches!(w, "pence" | "penny" | "p") { "GBP" } else { "USD" };
        return Some((n.value / 100.0, currency, after + 1));
    }
    None
}

/// Cents after the main unit: "and fifty cents", "fifty cents", "and fifty", "fifty". Unnamed cents
/// must be 10–99 and not be followed by a currency word ("twenty dollars and ten pounds" is two amounts).
fn cents_after(tokens: &[Token], i: usize) -> Option<(f64, usize)> {
    let k = if word(tokens, i) == "and" { i + 1 } else { i };
    let n = number(tokens, k)?;
    let cents = n.integer().filter(|c| *c < 100)?;
    let after = k + n.len;
    let next = word(tokens, after);
    if minor_unit_word(next) {
        return Some((cents as f64, after + 1));
    }
    (cents >= 10 && currency_word(next).is_none()).then_some((cents as f64, after))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{found, one};
    use super::super::{kind, EntityValue};

    fn money(amount: f64, currency: &str) -> Vec<(String, EntityValue)> {
        one(kind::AMOUNT, EntityValue::Money { amount, currency: currency.to_string() })
    }

    #[test]
    fn written_amounts_with_a_symbol() {
        assert_eq!(found("$42.50"), money(42.5, "USD"));
        assert_eq!(found("it was $1,000."), money(1000.0, "USD"));
        assert_eq!(found("£20"), money(20.0, "GBP"));
        assert_eq!(found("20€ please"), money(20.0, "EUR"));
    }

    #[test]
    fn spoken_amounts_with_a_currency_word() {
        assert_eq!(found("42 dollars"), money(42.0, "USD"));
        assert_eq!(found("forty two dollars and fifty cents"), money(42.5, "USD"));
        assert_eq!(found("twenty dollars fifty"), money(20.5, "USD"));
        assert_eq!(found("a hundred bucks"), money(100.0, "USD"));
        assert_eq!(found("20 euros"), money(20.0, "EUR"));
        assert_eq!(found("two hundred and five pounds"), money(205.0, "GBP"));
        assert_eq!(found("fifty cents"), money(0.5, "USD"));
    }

    #[test]
    fn small_words_after_an_amount_are_not_cents() {
        let got = found("twenty dollars two days ago");
        assert_eq!(got[0], money(20.0, "USD")[0]);
    }

    #[test]
    fn plain_numbers_are_numbers_unless_part_of_something_else() {
        assert_eq!(found("two hundred and five"), one(kind::NUMBER, EntityValue::Number(205.0)));
        assert_eq!(found("I called three times"), one(kind::NUMBER, EntityValue::Number(3.0)));
    }
}
