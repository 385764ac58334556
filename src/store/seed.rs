//! Seeding a store with a line's customers from YAML (`lines/<line>/customers.yml`), for demos and
//! tests: a list of [`Customer`]s as the face defines them, with optional `open_tickets` and
//! `last_contact`. Seeding is an upsert, so running it twice changes nothing.
//!
//! The whole file is checked before the first customer is written (unknown keys, dates, duplicate ids
//! and phone numbers, the store's own rules), and every error names the file and line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::validate::{check_customer, phone_digits};
use super::{Customer, Store, StoreError};
use crate::nlu::data::SourceLocation;

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read {}: {source}", file.display())]
    Io { file: PathBuf, source: std::io::Error },
    /// Malformed YAML, a value of the wrong type (a bad date), or an unknown key.
    #[error("{location}: {message}")]
    Yaml { location: SourceLocation, message: String },
    #[error("{location}: customer id {id} is already used at line {first}; give each customer its own id")]
    DuplicateId { location: SourceLocation, id: String, first: usize },
    #[error(
        "{location}: phone number {number} is already customer {owner}'s (line {first}); a number identifies \
         one customer, so remove it from one of them"
    )]
    DuplicatePhone { location: SourceLocation, number: String, owner: String, first: usize },
    #[error("{location}: ticket id {id} is already used at line {first}; give each ticket its own id")]
    DuplicateTicket { location: SourceLocation, id: String, first: usize },
    /// The store refused the customer (its own rules, or a conflict with what is already stored).
    #[error("{location}: {source}")]
    Store { location: SourceLocation, source: StoreError },
}

/// Where each customer's id, phone numbers and tickets are written, read in a second pass over the
/// file: `Customer` itself carries no lines, and the checks below want the exact one.
#[derive(Deserialize)]
struct Lines {
    #[serde(default)]
    phone_numbers: Vec<Spanned<String>>,
    #[serde(default)]
    open_tickets: Vec<TicketLines>,
}

#[derive(Deserialize)]
struct TicketLines {
    id: Spanned<String>,
}

/// Upsert every customer of the YAML file at `path` (with their tickets and last contact); returns how
/// many customers the file holds.
pub fn seed(store: &dyn Store, path: &Path) -> Result<usize, SeedError> {
    let text = std::fs::read_to_string(path).map_err(|source| SeedError::Io { file: path.to_path_buf(), source })?;
    let at = |line: u64| SourceLocation { file: path.to_path_buf(), line: usize::try_from(line).unwrap_or(0) };
    if text.trim().is_empty() {
        return Ok(0);
    }
    let yaml_error = |e: serde_saphyr::Error| SeedError::Yaml {
        location: at(e.location().map_or(0, |l| l.line())),
        message: yaml_message(&e),
    };
    let customers: Vec<Spanned<Customer>> = serde_saphyr::from_str(&text).map_err(yaml_error)?;
    let lines: Vec<Lines> = serde_saphyr::from_str(&text).map_err(yaml_error)?;

    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut numbers: HashMap<String, (&str, usize)> = HashMap::new();
    let mut tickets: HashMap<&str, usize> = HashMap::new();
    for (customer, lines) in customers.iter().zip(&lines) {
        let line = customer.referenced.line();
        let location = at(line);
        let id = customer.value.id.as_str();
        let line = location.line;
        if let Some(first) = ids.insert(id, line) {
            return Err(SeedError::DuplicateId { location, id: id.to_string(), first });
        }
        check_customer(&customer.value).map_err(|source| SeedError::Store { location: location.clone(), source })?;
        for number in &lines.phone_numbers {
            let here = at(number.referenced.line());
            if let Some((owner, first)) = numbers.insert(phone_digits(&number.value), (id, here.line)) {
                return Err(SeedError::DuplicatePhone {
                    location: here,
                    number: number.value.clone(),
                    owner: owner.to_string(),
                    first,
                });
            }
        }
        for ticket in &lines.open_tickets {
            let here = at(ticket.id.referenced.line());
            if let Some(first) = tickets.insert(ticket.id.value.as_str(), here.line) {
                return Err(SeedError::DuplicateTicket { location: here, id: ticket.id.value.clone(), first });
            }
        }
    }

    for customer in &customers {
        let location = at(customer.referenced.line());
        let customer = &customer.value;
        let stored = |source| SeedError::Store { location: location.clone(), source };
        store.upsert_customer(customer).map_err(stored)?;
        for ticket in &customer.open_tickets {
            let mut ticket = ticket.clone();
            if ticket.customer_id.is_empty() {
                ticket.customer_id.clone_from(&customer.id);
            }
            store.upsert_ticket(&ticket).map_err(stored)?;
        }
        if let Some(contact) = &customer.last_contact {
            store.record_contact(&customer.id, contact).map_err(stored)?;
        }
    }
    Ok(customers.len())
}

/// The NLU files' YAML wording (`nlu::data::yaml_message`), with a hint where a date or time did not
/// parse.
fn yaml_message(error: &serde_saphyr::Error) -> String {
    let message = crate::nlu::data::yaml_message(error);
    // chrono's parse errors, which say nothing of the format they wanted.
    const CHRONO: [&str; 6] = [
        "input contains invalid characters",
        "premature end of input",
        "trailing input",
        "input is out of range",
        "input is not enough",
        "no possible date and time",
    ];
    if CHRONO.iter().any(|phrase| message.contains(phrase)) {
        return format!(
            "{message}: dates are written 2026-11-23 and times 2026-11-23T14:05:00Z (RFC 3339, with a zone)"
        );
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SqliteStore, Store};

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("helpline-seed-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn seed_text(name: &str, yaml: &str) -> (SqliteStore, Result<usize, SeedError>) {
        let dir = temp(name);
        let file = dir.join("customers.yml");
        std::fs::write(&file, yaml).expect("write yaml");
        let store = SqliteStore::open(&dir.join("store.db")).expect("open store");
        let result = seed(&store, &file);
        (store, result)
    }

    fn sample() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("lines/acme-bank/customers.yml")
    }

    #[test]
    fn the_acme_bank_customers_seed_and_seeding_twice_changes_nothing() {
        let dir = temp("acme");
        let store = SqliteStore::open(&dir.join("store.db")).expect("open");
        let count = seed(&store, &sample()).expect("seed acme");
        assert!(count >= 4, "{count} customers");
        let jane = store.customer("cust-jane").unwrap().expect("jane");
        let history = store.recent_transactions(&jane.accounts[0].id, 100).unwrap();

        assert_eq!(seed(&store, &sample()).expect("seed again"), count);
        assert_eq!(store.customer_count().unwrap(), count);
        assert_eq!(store.customer("cust-jane").unwrap().as_ref(), Some(&jane));
        assert_eq!(store.recent_transactions(&jane.accounts[0].id, 100).unwrap(), history);
    }

    #[test]
    fn jane_is_recognised_with_her_dispute_and_last_contact() {
        let dir = temp("jane");
        let store = SqliteStore::open(&dir.join("store.db")).expect("open");
        seed(&store, &sample()).expect("seed acme");
        let jane = store.customer_by_phone("+1 (555) 123-4567").unwrap().expect("jane by phone");
        assert_eq!(jane.name, "Jane Doe");
        assert_eq!(jane.open_tickets.len(), 1);
        assert_eq!(jane.open_tickets[0].kind, "dispute");
        assert!(jane.open_tickets[0].summary.contains("$89.99 from StreamFlix"));
        let contact = jane.last_contact.expect("last contact");
        assert_eq!(contact.topic.as_deref(), Some("dispute_charge"));
        assert_eq!(contact.outcome, "handed_off");
        let credit = jane.accounts.iter().find(|a| a.kind == "credit").expect("credit account");
        assert_eq!(credit.balance_cents, -51240);
        assert_eq!(credit.minimum_due_cents, Some(3500));

        let omar = store.customer_by_phone("15557654321").unwrap().expect("omar");
        assert_eq!(omar.cards[0].status, crate::store::CardStatus::Inactive);
    }

    #[test]
    fn an_unknown_key_is_reported_with_its_line_and_the_allowed_keys() {
        let yaml = "- id: cust-a\n  name: A\n  phone_numbers: ['+15550000001']\n  nickname: Al\n";
        let (store, result) = seed_text("unknown", yaml);
        let err = result.expect_err("unknown key");
        let text = err.to_string();
        assert!(matches!(err, SeedError::Yaml { ref location, .. } if location.line == 4), "{text}");
        assert!(text.contains("customers.yml:4") && text.contains("nickname") && text.contains("allowed"), "{text}");
        assert_eq!(store.customer_count().unwrap(), 0, "nothing is written from a bad file");
    }

    #[test]
    fn a_bad_date_is_reported_with_its_line_and_the_format() {
        let yaml = "- id: cust-a\n  name: A\n  phone_numbers: ['+15550000001']\n  accounts:\n    - id: acc-1\n      \
                    kind: credit\n      last_four: '1234'\n      balance_cents: 0\n      payment_due: 2026-13-01\n";
        let (_, result) = seed_text("date", yaml);
        let err = result.expect_err("bad date");
        let text = err.to_string();
        assert!(matches!(err, SeedError::Yaml { ref location, .. } if location.line == 9), "{text}");
        assert!(text.contains("2026-11-23"), "{text}");
    }

    #[test]
    fn duplicate_ids_and_phone_numbers_name_both_lines() {
        let yaml = "- id: cust-a\n  name: A\n  phone_numbers: ['+15550000001']\n\
                    - id: cust-a\n  name: B\n  phone_numbers: ['+15550000002']\n";
        let err = seed_text("dup-id", yaml).1.expect_err("duplicate id");
        assert!(matches!(err, SeedError::DuplicateId { ref location, first: 1, .. } if location.line == 4), "{err}");

        let yaml = "- id: cust-a\n  name: A\n  phone_numbers:\n    - '+15550000001'\n\
                    - id: cust-b\n  name: B\n  phone_numbers:\n    - '+1 555 000 0002'\n    - '1 (555) 000-0001'\n";
        let (store, result) = seed_text("dup-phone", yaml);
        let err = result.expect_err("duplicate phone");
        assert!(
            matches!(err, SeedError::DuplicatePhone { ref location, first: 4, ref owner, .. }
                if location.line == 9 && owner == "cust-a"),
            "{err}"
        );
        assert!(err.to_string().contains("customers.yml:9"), "{err}");
        assert_eq!(store.customer_count().unwrap(), 0);
    }

    #[test]
    fn the_stores_own_rules_point_at_the_customer() {
        let yaml = "- id: cust-a\n  name: A\n  phone_numbers: ['+15550000001']\n\
                    - id: cust-b\n  name: B\n  phone_numbers: ['+15550000002']\n  preferred_channel: fax\n";
        let err = seed_text("rules", yaml).1.expect_err("bad channel");
        assert!(matches!(err, SeedError::Store { ref location, .. } if location.line == 4), "{err}");
        assert!(err.to_string().contains("voice, sms or email"), "{err}");
    }

    #[test]
    fn an_unknown_key_in_a_ticket_and_a_time_without_zone_are_reported() {
        let yaml = "- id: cust-a\n  name: A\n  phone_numbers: ['+15550000001']\n  open_tickets:\n    - id: t1\n      \
                    kind: dispute\n      summary: x\n      status: open\n      created_at: 2026-11-23T10:00:00Z\n      \
                    color: red\n";
        let err = seed_text("ticket-key", yaml).1.expect_err("unknown ticket key");
        assert!(matches!(err, SeedError::Yaml { ref location, .. } if location.line == 10), "{err}");
        let yaml = yaml.replace("T10:00:00Z", "").replace("      color: red\n", "");
        let err = seed_text("ticket-time", &yaml).1.expect_err("a date is not a time");
        assert!(matches!(err, SeedError::Yaml { ref location, .. } if location.line == 9), "{err}");
        assert!(err.to_string().contains("2026-11-23T14:05:00Z"), "{err}");
    }

    #[test]
    fn a_missing_file_says_which() {
        let dir = temp("missing");
        let store = SqliteStore::open(&dir.join("store.db")).expect("open");
        let err = seed(&store, &dir.join("nope.yml")).expect_err("missing");
        assert!(err.to_string().contains("nope.yml"), "{err}");
    }
}
