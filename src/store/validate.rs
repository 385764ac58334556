//! Rules every stored customer obeys, checked before anything is written (by any store, and by the
//! seed loader before it writes the first customer of a file).

use std::collections::{HashMap, HashSet};

use super::{Customer, StoreError};

/// A phone number as it is matched: its digits only, so "+1 (555) 123-4567" is "15551234567".
pub(crate) fn phone_digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

fn invalid(what: impl Into<String>, problem: impl Into<String>) -> StoreError {
    StoreError::Invalid { what: what.into(), problem: problem.into() }
}

fn is_last_four(text: &str) -> bool {
    text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Everything about a customer that must hold before any of it is written.
pub(crate) fn check_customer(customer: &Customer) -> Result<(), StoreError> {
    let who = format!("customer {}", customer.id);
    if customer.id.trim().is_empty() {
        return Err(invalid("customer", "the id is empty; give every customer an id such as cust-jane"));
    }
    if customer.name.trim().is_empty() {
        return Err(invalid(who, "the name is empty"));
    }
    if !["voice", "sms", "email"].contains(&customer.preferred_channel.as_str()) {
        return Err(invalid(
            who,
            format!("preferred_channel {:?} is not allowed; use voice, sms or email", customer.preferred_channel),
        ));
    }
    let mut seen = HashMap::new();
    for number in &customer.phone_numbers {
        let digits = phone_digits(number);
        if digits.is_empty() {
            return Err(invalid(who, format!("phone number {number:?} has no digits; write it as +15551234567")));
        }
        if let Some(first) = seen.insert(digits, number) {
            return Err(invalid(who, format!("phone numbers {first:?} and {number:?} are the same number")));
        }
    }
    let mut accounts = HashSet::new();
    for account in &customer.accounts {
        if !accounts.insert(account.id.as_str()) {
            return Err(invalid(who, format!("account id {} appears twice", account.id)));
        }
        if !is_last_four(&account.last_four) {
            return Err(invalid(
                format!("{who}, account {}", account.id),
                format!("last_four {:?} must be exactly four digits", account.last_four),
            ));
        }
        for posting in &account.transactions {
            if !posting.account_id.is_empty() && posting.account_id != account.id {
                return Err(invalid(
                    format!("{who}, transaction {}", posting.id),
                    format!(
                        "it is listed under account {} but names account {}; leave account_id out under an account",
                        account.id, posting.account_id
                    ),
                ));
            }
        }
    }
    let mut cards = HashSet::new();
    for card in &customer.cards {
        if !cards.insert(card.id.as_str()) {
            return Err(invalid(who, format!("card id {} appears twice", card.id)));
        }
        if !is_last_four(&card.last_four) {
            return Err(invalid(
                format!("{who}, card {}", card.id),
                format!("last_four {:?} must be exactly four digits", card.last_four),
            ));
        }
        if let Some(account) = card.account_id.as_deref().filter(|a| !accounts.contains(a)) {
            return Err(invalid(
                format!("{who}, card {}", card.id),
                format!("account_id {account} is not one of this customer's accounts"),
            ));
        }
    }
    Ok(())
}
