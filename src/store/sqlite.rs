//! The embedded store: one SQLite file, shared by every process of the line (`helpline serve` writes
//! sessions and hand-offs while agents run `helpline queue claim` against the same file).
//!
//! - WAL mode, so readers never wait for the writer and a claim does not stall a call's turn writes.
//! - A busy timeout, so a process that finds the file locked waits its turn instead of failing.
//! - Every multi-statement write is one IMMEDIATE transaction: it takes the write lock before it
//!   reads, so what it read cannot change under it in another process (a claim, a version check).
//! - Migrations by `rusqlite_migration` (schema version in SQLite's `user_version`), plus an
//!   `application_id` so another program's SQLite file is refused rather than "migrated".

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, SubsecRound, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior};
use rusqlite_migration::{Migrations, M};

use super::redact::{Redaction, MIN_RUN};
use super::validate::{check_customer, phone_digits};
use super::{
    Account, CallRecord, Card, CardStatus, Consent, Contact, Customer, NewQueueEntry, QueueEntry, QueueFilter,
    QueueStatus, SessionRecord, Speaker, Store, StoreError, StoreResult, Ticket, Transaction as Posting, TurnRecord,
};

/// The schema, one migration per step; a migration once released is never edited, only followed.
static MIGRATIONS: LazyLock<Migrations<'static>> =
    LazyLock::new(|| Migrations::new(vec![M::up(include_str!("migrations/0001_initial.sql"))]));

/// The schema version this build creates and reads (the number of migrations).
const SCHEMA_VERSION: i64 = 1;

/// "HPLN", set by the first migration.
const APPLICATION_ID: i64 = 0x4850_4C4E;

/// How long a process waits for another's write lock before giving up. Writes hold the lock for
/// milliseconds (a turn, a claim); five seconds rides out a WAL checkpoint or a large purge while still
/// failing a stuck call rather than hanging it.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The estimate of one caller's handling time until the queue has completed entries to measure: three
/// minutes is a short banking call at a human agent (card activation, a balance, a dispute taken
/// down), so a caller is told a wait in the right range rather than none at all.
const DEFAULT_HANDLING_S: f64 = 180.0;

/// How many recent completed entries the handling-time median is taken over: enough that one long
/// call does not move it, few enough that it follows the day's pace.
const HANDLING_SAMPLE: i64 = 20;

/// What the store does beyond storing: today, its privacy rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreConfig {
    pub redaction: Redaction,
}

/// The embedded default store.
pub struct SqliteStore {
    path: PathBuf,
    config: StoreConfig,
    /// rusqlite's `Connection` is `Send` but not `Sync`; one connection behind a mutex is all one
    /// process needs (every statement takes well under a millisecond).
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).field("config", &self.config).finish()
    }
}

/// A failure inside one operation: SQLite's own (mapped once, knowing the file) or already ours.
enum Failure {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Failure {
    fn from(error: rusqlite::Error) -> Self {
        Failure::Sql(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

type Op<T> = Result<T, Failure>;

fn invalid(what: impl Into<String>, problem: impl Into<String>) -> Failure {
    Failure::Store(StoreError::Invalid { what: what.into(), problem: problem.into() })
}

fn not_found(what: &'static str, id: impl Into<String>) -> Failure {
    Failure::Store(StoreError::NotFound { what, id: id.into() })
}

impl SqliteStore {
    /// Open (or create) the database at `path` with the default privacy rules.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        Self::open_with(path, StoreConfig::default())
    }

    /// Open (or create) the database at `path`: parent folders are created, the schema migrated to
    /// this build's version. A file that is not a Helpline database is left exactly as it was.
    pub fn open_with(path: &Path, config: StoreConfig) -> StoreResult<SqliteStore> {
        if config.redaction.enabled && config.redaction.min_digits < MIN_RUN {
            return Err(StoreError::Invalid {
                what: "redaction.min_digits".into(),
                problem: format!(
                    "{} is too small: a redacted run keeps its last four digits, so it must be longer \
                     than four; use {MIN_RUN} or more",
                    config.redaction.min_digits
                ),
            });
        }
        let open_error = |reason: String| StoreError::Open { path: path.to_path_buf(), reason };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| open_error(format!("cannot create the folder {}: {e}", parent.display())))?;
        }
        let mut conn = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
        prepare(path, &mut conn).map_err(|failure| store_error(path, failure))?;
        Ok(SqliteStore { path: path.to_path_buf(), config, conn: Mutex::new(conn) })
    }

    /// Where the database file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run one operation on the connection.
    fn with<T>(&self, op: impl FnOnce(&mut Connection) -> Op<T>) -> StoreResult<T> {
        // A panic elsewhere while holding the lock leaves the connection usable (an open transaction
        // rolled back when its guard dropped), so a poisoned lock is not a reason to stop serving.
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        op(&mut conn).map_err(|failure| store_error(&self.path, failure))
    }
}

/// Connection settings, the identity check and migrations, before the store is used.
fn prepare(path: &Path, conn: &mut Connection) -> Op<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // The first read of the file: a file that is not SQLite fails here, before anything is written.
    // One statement, so one snapshot: another process migrating the file meanwhile is seen either
    // not at all or completely.
    let (application_id, version, tables): (i64, i64, i64) = conn.query_row(
        "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version), \
         (SELECT count(*) FROM sqlite_master)",
        [],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    if application_id != 0 && application_id != APPLICATION_ID {
        return Err(corrupt(path, format!("it belongs to another application (application_id {application_id:#x})")));
    }
    if application_id == 0 && (version != 0 || tables != 0) {
        return Err(corrupt(
            path,
            format!("it is an SQLite database of another program ({tables} tables, no Helpline mark)"),
        ));
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew { path: path.to_path_buf(), found: version, known: SCHEMA_VERSION }.into());
    }
    // WAL lets agents' reads run beside the line's writes; NORMAL sync is WAL's durable-on-crash
    // setting (a power cut may lose the last transaction, never corrupt the file).
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(invalid(
            format!("the database {}", path.display()),
            format!("it cannot use write-ahead logging (journal mode stays {mode}); put it on a local disk"),
        ));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // Transactions opened with `transaction()` take the write lock up front (see the module
    // comment); migrations use that too, so two processes opening a fresh file take turns.
    conn.set_transaction_behavior(TransactionBehavior::Immediate);
    if let Err(error) = MIGRATIONS.to_latest(conn) {
        // Another process may have migrated between our version check and our lock: then the
        // schema is there and our attempt failed harmlessly (its transaction rolled back).
        let now: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if now != SCHEMA_VERSION {
            return Err(Failure::Store(StoreError::Open {
                path: path.to_path_buf(),
                reason: format!("migrating the schema from version {version} failed: {error}"),
            }));
        }
    }
    Ok(())
}

fn corrupt(path: &Path, reason: String) -> Failure {
    Failure::Store(StoreError::Corrupt { path: path.to_path_buf(), reason })
}

/// SQLite's errors in Helpline's words, naming the file.
fn store_error(path: &Path, failure: Failure) -> StoreError {
    let error = match failure {
        Failure::Store(error) => return error,
        Failure::Sql(error) => error,
    };
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            StoreError::Corrupt { path: path.to_path_buf(), reason: error.to_string() }
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Database(format!(
            "{} stayed locked by another process for more than {} s ({error}); retry, or look for a \
             stuck helpline process holding it",
            path.display(),
            BUSY_TIMEOUT.as_secs()
        )),
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            StoreError::Open { path: path.to_path_buf(), reason: error.to_string() }
        }
        _ => StoreError::Database(format!("{error} (in {})", path.display())),
    }
}

// ---------------------------------------------------------------------------------------------------
// Values as stored.

/// A time as RFC 3339 UTC text with microseconds: fixed width, so text order is time order.
struct Time(DateTime<Utc>);

impl ToSql for Time {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.to_rfc3339_opts(SecondsFormat::Micros, true)))
    }
}

impl FromSql for Time {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        DateTime::parse_from_rfc3339(text)
            .map(|time| Time(time.with_timezone(&Utc)))
            .map_err(|e| FromSqlError::Other(format!("time {text:?} is not RFC 3339: {e}").into()))
    }
}

fn time(at: &DateTime<Utc>) -> Time {
    Time(*at)
}

fn now() -> Time {
    Time(Utc::now())
}

/// A calendar date as "YYYY-MM-DD".
struct Day(NaiveDate);

impl ToSql for Day {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.format("%Y-%m-%d").to_string()))
    }
}

impl FromSql for Day {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Day)
            .map_err(|e| FromSqlError::Other(format!("date {text:?} is not YYYY-MM-DD: {e}").into()))
    }
}

/// A JSON document as text.
struct Json(serde_json::Value);

impl ToSql for Json {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.to_string()))
    }
}

impl FromSql for Json {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        serde_json::from_str(value.as_str()?).map(Json).map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// The snake_case names the face's enums serialize to, as stored in CHECK-constrained text columns.
macro_rules! text_enum {
    ($type:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl ToSql for $type {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(match self { $(<$type>::$variant => $name),+ }))
            }
        }
        impl FromSql for $type {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                match value.as_str()? {
                    $($name => Ok(<$type>::$variant),)+
                    other => Err(FromSqlError::Other(
                        format!(concat!("unknown ", stringify!($type), " {:?}"), other).into(),
                    )),
                }
            }
        }
    };
}

text_enum!(CardStatus { Active => "active", Blocked => "blocked", Inactive => "inactive" });
text_enum!(Speaker { Caller => "caller", Assistant => "assistant", System => "system" });
text_enum!(QueueStatus { Waiting => "waiting", Claimed => "claimed", Completed => "completed" });

// ---------------------------------------------------------------------------------------------------
// Rows.

const CARD_COLUMNS: &str = "id, kind, brand, last_four, status, account_id";

fn card_row(row: &Row) -> rusqlite::Result<Card> {
    Ok(Card {
        id: row.get(0)?,
        kind: row.get(1)?,
        brand: row.get(2)?,
        last_four: row.get(3)?,
        status: row.get(4)?,
        account_id: row.get(5)?,
    })
}

const TICKET_COLUMNS: &str = "id, customer_id, kind, summary, status, created_at";

fn ticket_row(row: &Row) -> rusqlite::Result<Ticket> {
    Ok(Ticket {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        kind: row.get(2)?,
        summary: row.get(3)?,
        status: row.get(4)?,
        created_at: row.get::<_, Time>(5)?.0,
    })
}

const SESSION_COLUMNS: &str = "id, line, channel, caller, customer_id, started_at, ended_at, outcome, state, version";

fn session_row(row: &Row) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id: row.get(0)?,
        line: row.get(1)?,
        channel: row.get(2)?,
        caller: row.get(3)?,
        customer_id: row.get(4)?,
        started_at: row.get::<_, Time>(5)?.0,
        ended_at: row.get::<_, Option<Time>>(6)?.map(|t| t.0),
        outcome: row.get(7)?,
        state: row.get(8)?,
        version: row.get(9)?,
    })
}

const QUEUE_COLUMNS: &str =
    "id, session_id, queue, skill, priority, status, enqueued_at, claimed_by, claimed_at, completed_at, outcome, \
     notes, packet";

fn queue_row(row: &Row) -> rusqlite::Result<QueueEntry> {
    Ok(QueueEntry {
        id: row.get(0)?,
        session_id: row.get(1)?,
        queue: row.get(2)?,
        skill: row.get(3)?,
        priority: row.get(4)?,
        status: row.get(5)?,
        enqueued_at: row.get::<_, Time>(6)?.0,
        claimed_by: row.get(7)?,
        claimed_at: row.get::<_, Option<Time>>(8)?.map(|t| t.0),
        completed_at: row.get::<_, Option<Time>>(9)?.map(|t| t.0),
        outcome: row.get(10)?,
        notes: row.get(11)?,
        packet: row.get::<_, Json>(12)?.0,
        position: None,
        estimated_wait_s: None,
    })
}

/// The order in which waiting entries are served: highest priority, then oldest, then first inserted.
const SERVICE_ORDER: &str = "priority DESC, enqueued_at, id";

// ---------------------------------------------------------------------------------------------------
// Customers.

fn load_customer(conn: &Connection, id: &str) -> Op<Option<Customer>> {
    let Some(mut customer) = conn
        .query_row(
            "SELECT id, name, preferred_language, preferred_channel, address, consent_recording, consent_marketing \
             FROM customers WHERE id = ?1",
            [id],
            |row| {
                Ok(Customer {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    phone_numbers: Vec::new(),
                    preferred_language: row.get(2)?,
                    preferred_channel: row.get(3)?,
                    address: row.get(4)?,
                    consent: Consent { recording: row.get(5)?, marketing: row.get(6)? },
                    accounts: Vec::new(),
                    cards: Vec::new(),
                    open_tickets: Vec::new(),
                    last_contact: None,
                })
            },
        )
        .optional()?
    else {
        return Ok(None);
    };
    customer.phone_numbers = conn
        .prepare_cached("SELECT number FROM phone_numbers WHERE customer_id = ?1 ORDER BY position")?
        .query_map([id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    customer.accounts = conn
        .prepare_cached(
            "SELECT id, kind, last_four, balance_cents, currency, payment_due, minimum_due_cents \
             FROM accounts WHERE customer_id = ?1 ORDER BY position",
        )?
        .query_map([id], |row| {
            Ok(Account {
                id: row.get(0)?,
                kind: row.get(1)?,
                last_four: row.get(2)?,
                balance_cents: row.get(3)?,
                currency: row.get(4)?,
                payment_due: row.get::<_, Option<Day>>(5)?.map(|d| d.0),
                minimum_due_cents: row.get(6)?,
                transactions: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    customer.cards = conn
        .prepare_cached(&format!("SELECT {CARD_COLUMNS} FROM cards WHERE customer_id = ?1 ORDER BY position"))?
        .query_map([id], card_row)?
        .collect::<rusqlite::Result<_>>()?;
    customer.open_tickets = conn
        .prepare_cached(&format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE customer_id = ?1 AND status = 'open' ORDER BY created_at, id"
        ))?
        .query_map([id], ticket_row)?
        .collect::<rusqlite::Result<_>>()?;
    customer.last_contact = conn
        .query_row(
            "SELECT session_id, at, channel, topic, outcome, summary FROM contacts WHERE customer_id = ?1 \
             ORDER BY at DESC LIMIT 1",
            [id],
            |row| {
                Ok(Contact {
                    session_id: row.get(0)?,
                    at: row.get::<_, Time>(1)?.0,
                    channel: row.get(2)?,
                    topic: row.get(3)?,
                    outcome: row.get(4)?,
                    summary: row.get(5)?,
                })
            },
        )
        .optional()?;
    Ok(Some(customer))
}

/// Who owns a row of `table` (accounts, cards, phone numbers, transactions), if it exists.
fn owner(tx: &Transaction, sql: &str, key: &str) -> Op<Option<String>> {
    Ok(tx.query_row(sql, [key], |row| row.get(0)).optional()?)
}

fn upsert_customer(tx: &Transaction, customer: &Customer) -> Op<()> {
    check_customer(customer)?;
    let id = customer.id.as_str();
    let foreign = |what: &str, key: &str, other: String| {
        invalid(
            format!("customer {id}"),
            format!("{what} {key} already belongs to {other}; ids and phone numbers identify one customer each"),
        )
    };
    for number in &customer.phone_numbers {
        let sql = "SELECT customer_id FROM phone_numbers WHERE digits = ?1";
        if let Some(other) = owner(tx, sql, &phone_digits(number))?.filter(|o| o != id) {
            return Err(foreign("phone number", number, format!("customer {other}")));
        }
    }
    for account in &customer.accounts {
        if let Some(other) =
            owner(tx, "SELECT customer_id FROM accounts WHERE id = ?1", &account.id)?.filter(|o| o != id)
        {
            return Err(foreign("account", &account.id, format!("customer {other}")));
        }
        for posting in &account.transactions {
            let sql = "SELECT account_id FROM transactions WHERE id = ?1";
            if let Some(other) = owner(tx, sql, &posting.id)?.filter(|o| *o != account.id) {
                return Err(foreign("transaction", &posting.id, format!("account {other}")));
            }
        }
    }
    for card in &customer.cards {
        if let Some(other) = owner(tx, "SELECT customer_id FROM cards WHERE id = ?1", &card.id)?.filter(|o| o != id) {
            return Err(foreign("card", &card.id, format!("customer {other}")));
        }
    }

    tx.execute(
        "INSERT INTO customers (id, name, preferred_language, preferred_channel, address, consent_recording, \
         consent_marketing) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (id) DO UPDATE SET name = ?2, preferred_language = ?3, preferred_channel = ?4, address = ?5, \
         consent_recording = ?6, consent_marketing = ?7",
        params![
            id,
            customer.name,
            customer.preferred_language,
            customer.preferred_channel,
            customer.address,
            customer.consent.recording,
            customer.consent.marketing
        ],
    )?;
    tx.execute("DELETE FROM phone_numbers WHERE customer_id = ?1", [id])?;
    for (position, number) in customer.phone_numbers.iter().enumerate() {
        tx.execute(
            "INSERT INTO phone_numbers (digits, number, customer_id, position) VALUES (?1, ?2, ?3, ?4)",
            params![phone_digits(number), number, id, position as i64],
        )?;
    }
    // Cards first: a card may point at an account that is about to go.
    let card_ids = serde_json::json!(customer.cards.iter().map(|c| &c.id).collect::<Vec<_>>()).to_string();
    tx.execute(
        "DELETE FROM cards WHERE customer_id = ?1 AND id NOT IN (SELECT value FROM json_each(?2))",
        params![id, card_ids],
    )?;
    let account_ids = serde_json::json!(customer.accounts.iter().map(|a| &a.id).collect::<Vec<_>>()).to_string();
    tx.execute(
        "DELETE FROM accounts WHERE customer_id = ?1 AND id NOT IN (SELECT value FROM json_each(?2))",
        params![id, account_ids],
    )?;
    for (position, account) in customer.accounts.iter().enumerate() {
        tx.execute(
            "INSERT INTO accounts (id, customer_id, position, kind, last_four, balance_cents, currency, payment_due, \
             minimum_due_cents) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (id) DO UPDATE SET position = ?3, kind = ?4, last_four = ?5, balance_cents = ?6, \
             currency = ?7, payment_due = ?8, minimum_due_cents = ?9",
            params![
                account.id,
                id,
                position as i64,
                account.kind,
                account.last_four,
                account.balance_cents,
                account.currency,
                account.payment_due.map(Day),
                account.minimum_due_cents
            ],
        )?;
        // Transactions are only added or corrected, never removed here: a customer read back from
        // the store carries none, and upserting it again must not wipe the account's history.
        for posting in &account.transactions {
            tx.execute(
                "INSERT INTO transactions (id, account_id, posted, description, amount_cents) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (id) DO UPDATE SET posted = ?3, description = ?4, amount_cents = ?5",
                params![posting.id, account.id, Day(posting.posted), posting.description, posting.amount_cents],
            )?;
        }
    }
    for (position, card) in customer.cards.iter().enumerate() {
        tx.execute(
            "INSERT INTO cards (id, customer_id, position, kind, brand, last_four, status, account_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (id) DO UPDATE SET position = ?3, kind = ?4, brand = ?5, last_four = ?6, status = ?7, \
             account_id = ?8",
            params![card.id, id, position as i64, card.kind, card.brand, card.last_four, card.status, card.account_id],
        )?;
    }
    Ok(())
}

fn customer_exists(conn: &Connection, id: &str) -> Op<()> {
    let found = conn.query_row("SELECT 1 FROM customers WHERE id = ?1", [id], |_| Ok(())).optional()?;
    found.ok_or_else(|| not_found("customer", id))
}

fn session_exists(conn: &Connection, id: &str) -> Op<()> {
    let found = conn.query_row("SELECT 1 FROM sessions WHERE id = ?1", [id], |_| Ok(())).optional()?;
    found.ok_or_else(|| not_found("session", id))
}

// ---------------------------------------------------------------------------------------------------
// Queue.

fn queue_entry(conn: &Connection, id: i64) -> Op<Option<QueueEntry>> {
    let entry = conn
        .query_row(&format!("SELECT {QUEUE_COLUMNS} FROM queue WHERE id = ?1"), [id], queue_row)
        .optional()?;
    let Some(mut entry) = entry else { return Ok(None) };
    if entry.status == QueueStatus::Waiting {
        let ahead: i64 = conn.query_row(
            "SELECT count(*) FROM queue WHERE status = 'waiting' AND queue = ?1 AND \
             (priority > ?2 OR (priority = ?2 AND (enqueued_at < ?3 OR (enqueued_at = ?3 AND id < ?4))))",
            params![entry.queue, entry.priority, time(&entry.enqueued_at), entry.id],
            |row| row.get(0),
        )?;
        let handling = handling_time_s(conn, &entry.queue)?;
        place(&mut entry, ahead as usize + 1, handling);
    }
    Ok(Some(entry))
}

fn place(entry: &mut QueueEntry, position: usize, handling_s: f64) {
    entry.position = Some(position);
    entry.estimated_wait_s = Some((position as f64 * handling_s).round() as u64);
}

/// The median time from claim to completion of the queue's last completed entries, in seconds.
fn handling_time_s(conn: &Connection, queue: &str) -> Op<f64> {
    let mut durations: Vec<f64> = conn
        .prepare_cached(
            "SELECT claimed_at, completed_at FROM queue WHERE queue = ?1 AND status = 'completed' \
             AND claimed_at IS NOT NULL AND completed_at IS NOT NULL ORDER BY completed_at DESC LIMIT ?2",
        )?
        .query_map(params![queue, HANDLING_SAMPLE], |row| {
            let (claimed, completed): (Time, Time) = (row.get(0)?, row.get(1)?);
            Ok((completed.0 - claimed.0).num_milliseconds().max(0) as f64 / 1000.0)
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(median(&mut durations).unwrap_or(DEFAULT_HANDLING_S))
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[middle] } else { (values[middle - 1] + values[middle]) / 2.0 })
}

/// Move an entry from one state to the next, refusing any other starting state.
fn transition(
    tx: &Transaction,
    id: i64,
    from: QueueStatus,
    action: &'static str,
    update: &str,
    values: &[&dyn ToSql],
) -> Op<()> {
    let status: Option<QueueStatus> =
        tx.query_row("SELECT status FROM queue WHERE id = ?1", [id], |row| row.get(0)).optional()?;
    match status {
        None => Err(not_found("queue entry", id.to_string())),
        Some(status) if status != from => Err(StoreError::QueueState { id, status, expected: from, action }.into()),
        Some(_) => {
            let mut all: Vec<&dyn ToSql> = vec![&id];
            all.extend_from_slice(values);
            tx.execute(update, all.as_slice())?;
            Ok(())
        }
    }
}

fn require(what: &str, value: &str) -> Op<()> {
    if value.trim().is_empty() {
        return Err(invalid(what, "is empty"));
    }
    Ok(())
}

impl SqliteStore {
    /// The hand-off packet's transcript, redacted like the turns it was built from: a packet put
    /// together from the engine's memory must not carry what the transcript table would not.
    fn redact_packet(&self, packet: &serde_json::Value) -> serde_json::Value {
        let mut packet = packet.clone();
        if let Some(turns) = packet.get_mut("transcript").and_then(|t| t.as_array_mut()) {
            for turn in turns {
                if let Some(text) = turn.get_mut("text") {
                    self.config.redaction.apply_json(text);
                }
            }
        }
        packet
    }
}

impl Store for SqliteStore {
    fn upsert_customer(&self, customer: &Customer) -> StoreResult<()> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            upsert_customer(&tx, customer)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn customer_by_phone(&self, phone: &str) -> StoreResult<Option<Customer>> {
        let digits = phone_digits(phone);
        if digits.is_empty() {
            return Ok(None);
        }
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let id: Option<String> = tx
                .query_row("SELECT customer_id FROM phone_numbers WHERE digits = ?1", [digits], |row| row.get(0))
                .optional()?;
            match id {
                Some(id) => load_customer(&tx, &id),
                None => Ok(None),
            }
        })
    }

    fn customer(&self, id: &str) -> StoreResult<Option<Customer>> {
        self.with(|conn| {
            // One read snapshot, so the profile is never half of one write and half of the next.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            load_customer(&tx, id)
        })
    }

    fn customer_count(&self) -> StoreResult<usize> {
        let count: i64 =
            self.with(|conn| Ok(conn.query_row("SELECT count(*) FROM customers", [], |row| row.get(0))?))?;
        Ok(count as usize)
    }

    fn set_card_status(&self, card_id: &str, status: CardStatus) -> StoreResult<Card> {
        self.with(|conn| {
            let card = conn
                .query_row(
                    &format!("UPDATE cards SET status = ?2 WHERE id = ?1 RETURNING {CARD_COLUMNS}"),
                    params![card_id, status],
                    card_row,
                )
                .optional()?;
            card.ok_or_else(|| not_found("card", card_id))
        })
    }

    fn set_address(&self, customer_id: &str, address: &str) -> StoreResult<()> {
        self.with(|conn| {
            match conn.execute("UPDATE customers SET address = ?2 WHERE id = ?1", params![customer_id, address])? {
                0 => Err(not_found("customer", customer_id)),
                _ => Ok(()),
            }
        })
    }

    fn recent_transactions(&self, account_id: &str, limit: usize) -> StoreResult<Vec<Posting>> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let found = tx.query_row("SELECT 1 FROM accounts WHERE id = ?1", [account_id], |_| Ok(())).optional()?;
            found.ok_or_else(|| not_found("account", account_id))?;
            let postings = tx
                .prepare_cached(
                    "SELECT id, account_id, posted, description, amount_cents FROM transactions \
                     WHERE account_id = ?1 ORDER BY posted DESC, rowid DESC LIMIT ?2",
                )?
                .query_map(params![account_id, i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
                    Ok(Posting {
                        id: row.get(0)?,
                        account_id: row.get(1)?,
                        posted: row.get::<_, Day>(2)?.0,
                        description: row.get(3)?,
                        amount_cents: row.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(postings)
        })
    }

    fn create_ticket(&self, customer_id: &str, kind: &str, summary: &str) -> StoreResult<Ticket> {
        self.with(|conn| {
            require("ticket kind", kind)?;
            let tx = conn.transaction()?;
            customer_exists(&tx, customer_id)?;
            // Readable, sequential ids ("TKT-000042") an agent can say on the phone; the write lock
            // held by this transaction makes the next number safe across processes.
            let next: i64 = tx.query_row("SELECT count(*) + 1 FROM tickets", [], |row| row.get(0))?;
            let mut number = next;
            let id = loop {
                let id = format!("TKT-{number:06}");
                let taken = tx.query_row("SELECT 1 FROM tickets WHERE id = ?1", [&id], |_| Ok(())).optional()?;
                if taken.is_none() {
                    break id;
                }
                number += 1;
            };
            let ticket = Ticket {
                id,
                customer_id: customer_id.to_string(),
                kind: kind.to_string(),
                summary: summary.to_string(),
                status: "open".into(),
                // As stored (microseconds), so the ticket returned equals the ticket read back.
                created_at: Utc::now().trunc_subsecs(6),
            };
            insert_ticket(&tx, &ticket)?;
            tx.commit()?;
            Ok(ticket)
        })
    }

    fn upsert_ticket(&self, ticket: &Ticket) -> StoreResult<()> {
        self.with(|conn| {
            require("ticket id", &ticket.id)?;
            let tx = conn.transaction()?;
            customer_exists(&tx, &ticket.customer_id)?;
            insert_ticket(&tx, ticket)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn record_contact(&self, customer_id: &str, contact: &Contact) -> StoreResult<()> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            customer_exists(&tx, customer_id)?;
            tx.execute(
                "INSERT INTO contacts (customer_id, session_id, at, channel, topic, outcome, summary) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (customer_id, session_id) DO UPDATE SET at = ?3, channel = ?4, topic = ?5, \
                 outcome = ?6, summary = ?7",
                params![
                    customer_id,
                    contact.session_id,
                    time(&contact.at),
                    contact.channel,
                    contact.topic,
                    contact.outcome,
                    contact.summary
                ],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn open_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.with(|conn| {
            require("session id", &session.id)?;
            let tx = conn.transaction()?;
            if let Some(customer) = &session.customer_id {
                customer_exists(&tx, customer)?;
            }
            if session_exists(&tx, &session.id).is_ok() {
                return Err(invalid(format!("session {}", session.id), "already exists; each session needs a new id"));
            }
            tx.execute(
                "INSERT INTO sessions (id, line, channel, caller, customer_id, started_at, ended_at, outcome, state, \
                 version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, 0)",
                params![
                    session.id,
                    session.line,
                    session.channel,
                    session.caller,
                    session.customer_id,
                    time(&session.started_at),
                    session.ended_at.as_ref().map(time),
                    session.outcome
                ],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        self.with(|conn| {
            Ok(conn
                .query_row(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"), [id], session_row)
                .optional()?)
        })
    }

    fn save_session_state(&self, id: &str, state: &str, expected_version: i64) -> StoreResult<i64> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let found: Option<i64> =
                tx.query_row("SELECT version FROM sessions WHERE id = ?1", [id], |row| row.get(0)).optional()?;
            match found {
                None => Err(not_found("session", id)),
                Some(found) if found != expected_version => {
                    Err(StoreError::Conflict { id: id.to_string(), expected: expected_version, found }.into())
                }
                Some(found) => {
                    tx.execute(
                        "UPDATE sessions SET state = ?2, version = ?3 WHERE id = ?1",
                        params![id, state, found + 1],
                    )?;
                    tx.commit()?;
                    Ok(found + 1)
                }
            }
        })
    }

    fn close_session(&self, id: &str, outcome: &str) -> StoreResult<()> {
        self.with(|conn| {
            let closed = conn.execute(
                "UPDATE sessions SET ended_at = COALESCE(ended_at, ?2), outcome = ?3 WHERE id = ?1",
                params![id, now(), outcome],
            )?;
            match closed {
                0 => Err(not_found("session", id)),
                _ => Ok(()),
            }
        })
    }

    fn append_turn(&self, turn: &TurnRecord) -> StoreResult<i64> {
        let text = self.config.redaction.apply(&turn.text);
        let mut meta = turn.meta.clone();
        self.config.redaction.apply_json(&mut meta);
        self.with(|conn| {
            let tx = conn.transaction()?;
            session_exists(&tx, &turn.session_id)?;
            let seq: i64 = tx.query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM turns WHERE session_id = ?1",
                [&turn.session_id],
                |row| row.get(0),
            )?;
            tx.execute(
                "INSERT INTO turns (session_id, seq, at, speaker, text, asr_confidence, intent, intent_confidence, \
                 sentiment, meta) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    turn.session_id,
                    seq,
                    time(&turn.at),
                    turn.speaker,
                    text,
                    turn.asr_confidence,
                    turn.intent,
                    turn.intent_confidence,
                    turn.sentiment,
                    Json(meta)
                ],
            )?;
            tx.commit()?;
            Ok(seq)
        })
    }

    fn transcript(&self, session_id: &str) -> StoreResult<Vec<TurnRecord>> {
        self.with(|conn| {
            let turns = conn
                .prepare_cached(
                    "SELECT session_id, seq, at, speaker, text, asr_confidence, intent, intent_confidence, sentiment, \
                     meta FROM turns WHERE session_id = ?1 ORDER BY seq",
                )?
                .query_map([session_id], |row| {
                    Ok(TurnRecord {
                        session_id: row.get(0)?,
                        seq: row.get(1)?,
                        at: row.get::<_, Time>(2)?.0,
                        speaker: row.get(3)?,
                        text: row.get(4)?,
                        asr_confidence: row.get(5)?,
                        intent: row.get(6)?,
                        intent_confidence: row.get(7)?,
                        sentiment: row.get(8)?,
                        meta: row.get::<_, Json>(9)?.0,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(turns)
        })
    }

    fn save_call(&self, call: &CallRecord) -> StoreResult<()> {
        self.with(|conn| {
            require("call id", &call.call_id)?;
            let tx = conn.transaction()?;
            session_exists(&tx, &call.session_id)?;
            tx.execute(
                "INSERT INTO calls (call_id, session_id, caller, called, encoding, sample_rate, started_at, ended_at, \
                 end_reason, timings) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (call_id) DO UPDATE SET session_id = ?2, caller = ?3, called = ?4, encoding = ?5, \
                 sample_rate = ?6, started_at = ?7, ended_at = ?8, end_reason = ?9, timings = ?10",
                params![
                    call.call_id,
                    call.session_id,
                    call.caller,
                    call.called,
                    call.encoding,
                    call.sample_rate,
                    time(&call.started_at),
                    call.ended_at.as_ref().map(time),
                    call.end_reason,
                    Json(call.timings.clone())
                ],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn call(&self, call_id: &str) -> StoreResult<Option<CallRecord>> {
        self.with(|conn| {
            let call = conn
                .query_row(
                    "SELECT call_id, session_id, caller, called, encoding, sample_rate, started_at, ended_at, end_reason, \
                     timings FROM calls WHERE call_id = ?1",
                    [call_id],
                    |row| {
                        Ok(CallRecord {
                            call_id: row.get(0)?,
                            session_id: row.get(1)?,
                            caller: row.get(2)?,
                            called: row.get(3)?,
                            encoding: row.get(4)?,
                            sample_rate: row.get(5)?,
                            started_at: row.get::<_, Time>(6)?.0,
                            ended_at: row.get::<_, Option<Time>>(7)?.map(|t| t.0),
                            end_reason: row.get(8)?,
                            timings: row.get::<_, Json>(9)?.0,
                        })
                    },
                )
                .optional()?;
            Ok(call)
        })
    }

    fn enqueue(&self, entry: &NewQueueEntry) -> StoreResult<QueueEntry> {
        let packet = self.redact_packet(&entry.packet);
        self.with(|conn| {
            require("queue name", &entry.queue)?;
            let tx = conn.transaction()?;
            let id: i64 = tx.query_row(
                "INSERT INTO queue (session_id, queue, skill, priority, status, enqueued_at, packet) \
                 VALUES (?1, ?2, ?3, ?4, 'waiting', ?5, ?6) RETURNING id",
                params![entry.session_id, entry.queue, entry.skill, entry.priority, now(), Json(packet)],
                |row| row.get(0),
            )?;
            let entry = queue_entry(&tx, id)?.ok_or_else(|| not_found("queue entry", id.to_string()))?;
            tx.commit()?;
            Ok(entry)
        })
    }

    fn queue_entry(&self, id: i64) -> StoreResult<Option<QueueEntry>> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            queue_entry(&tx, id)
        })
    }

    fn queue_entries(&self, filter: &QueueFilter) -> StoreResult<Vec<QueueEntry>> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let mut entries: Vec<QueueEntry> = tx
                .prepare_cached(&format!(
                    "SELECT {QUEUE_COLUMNS} FROM queue WHERE (?1 IS NULL OR queue = ?1) AND (?2 OR status != 'completed') \
                     ORDER BY CASE status WHEN 'waiting' THEN 0 WHEN 'claimed' THEN 1 ELSE 2 END, \
                     CASE WHEN status = 'waiting' THEN -priority END, \
                     CASE WHEN status = 'waiting' THEN enqueued_at END, \
                     CASE WHEN status = 'claimed' THEN claimed_at END, \
                     CASE WHEN status = 'completed' THEN completed_at END DESC, id"
                ))?
                .query_map(params![filter.queue, filter.include_completed], queue_row)?
                .collect::<rusqlite::Result<_>>()?;
            // Waiting entries come first, in service order, so positions are a count per queue.
            let mut handling: HashMap<String, f64> = HashMap::new();
            let mut waiting: HashMap<String, usize> = HashMap::new();
            for entry in entries.iter_mut().filter(|e| e.status == QueueStatus::Waiting) {
                let handling_s = match handling.get(&entry.queue) {
                    Some(seconds) => *seconds,
                    None => {
                        let seconds = handling_time_s(&tx, &entry.queue)?;
                        handling.insert(entry.queue.clone(), seconds);
                        seconds
                    }
                };
                let position = waiting.entry(entry.queue.clone()).or_insert(0);
                *position += 1;
                place(entry, *position, handling_s);
            }
            Ok(entries)
        })
    }

    fn claim(&self, id: i64, agent: &str) -> StoreResult<QueueEntry> {
        self.with(|conn| {
            require("agent name", agent)?;
            let tx = conn.transaction()?;
            transition(
                &tx,
                id,
                QueueStatus::Waiting,
                "claim",
                "UPDATE queue SET status = 'claimed', claimed_by = ?2, claimed_at = ?3 WHERE id = ?1",
                &[&agent, &now()],
            )?;
            let entry = queue_entry(&tx, id)?.ok_or_else(|| not_found("queue entry", id.to_string()))?;
            tx.commit()?;
            Ok(entry)
        })
    }

    fn claim_next(&self, agent: &str, queue: Option<&str>, skills: &[String]) -> StoreResult<Option<QueueEntry>> {
        let skills = serde_json::json!(skills).to_string();
        self.with(|conn| {
            require("agent name", agent)?;
            // One IMMEDIATE transaction: the choice and the claim happen under the write lock, so two
            // agents (threads or processes) can never take the same entry.
            let tx = conn.transaction()?;
            let id: Option<i64> = tx
                .query_row(
                    &format!(
                        "UPDATE queue SET status = 'claimed', claimed_by = ?1, claimed_at = ?2 WHERE id = ( \
                         SELECT id FROM queue WHERE status = 'waiting' AND (?3 IS NULL OR queue = ?3) \
                         AND (?4 = '[]' OR skill IS NULL OR skill IN (SELECT value FROM json_each(?4))) \
                         ORDER BY {SERVICE_ORDER} LIMIT 1) AND status = 'waiting' RETURNING id"
                    ),
                    params![agent, now(), queue, skills],
                    |row| row.get(0),
                )
                .optional()?;
            let Some(id) = id else { return Ok(None) };
            let entry = queue_entry(&tx, id)?;
            tx.commit()?;
            Ok(entry)
        })
    }

    fn complete(&self, id: i64, outcome: &str, notes: Option<&str>) -> StoreResult<QueueEntry> {
        self.with(|conn| {
            require("outcome", outcome)?;
            let tx = conn.transaction()?;
            transition(
                &tx,
                id,
                QueueStatus::Claimed,
                "complete",
                "UPDATE queue SET status = 'completed', completed_at = ?2, outcome = ?3, notes = ?4 WHERE id = ?1",
                &[&now(), &outcome, &notes],
            )?;
            let entry = queue_entry(&tx, id)?.ok_or_else(|| not_found("queue entry", id.to_string()))?;
            tx.commit()?;
            Ok(entry)
        })
    }

    fn purge_before(&self, cutoff: DateTime<Utc>) -> StoreResult<usize> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            // Sessions still open are never purged, however old: a call in progress keeps its record.
            let expired = "SELECT s.id FROM sessions s LEFT JOIN customers c ON c.id = s.customer_id \
                           WHERE s.ended_at IS NOT NULL AND s.ended_at < ?1 AND COALESCE(c.consent_recording, 0) = 0";
            tx.execute(
                &format!("DELETE FROM queue WHERE status = 'completed' AND session_id IN ({expired})"),
                [time(&cutoff)],
            )?;
            // Turns and calls go with their session (ON DELETE CASCADE).
            let sessions = tx.execute(&format!("DELETE FROM sessions WHERE id IN ({expired})"), [time(&cutoff)])?;
            tx.commit()?;
            Ok(sessions)
        })
    }
}

fn insert_ticket(tx: &Transaction, ticket: &Ticket) -> Op<()> {
    tx.execute(
        "INSERT INTO tickets (id, customer_id, kind, summary, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (id) DO UPDATE SET customer_id = ?2, kind = ?3, summary = ?4, status = ?5, created_at = ?6",
        params![ticket.id, ticket.customer_id, ticket.kind, ticket.summary, ticket.status, time(&ticket.created_at)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn temp_db(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("helpline-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("nested").join("helpline.db")
    }

    fn store(name: &str) -> SqliteStore {
        SqliteStore::open(&temp_db(name)).expect("open a fresh store")
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("test time").with_timezone(&Utc)
    }

    fn jane() -> Customer {
        Customer {
            id: "cust-jane".into(),
            name: "Jane Doe".into(),
            phone_numbers: vec!["+15551234567".into(), "+15550009999".into()],
            preferred_language: "en".into(),
            preferred_channel: "voice".into(),
            address: Some("12 Elm Street".into()),
            consent: Consent { recording: false, marketing: true },
            accounts: vec![
                Account {
                    id: "acc-chk".into(),
                    kind: "checking".into(),
                    last_four: "4567".into(),
                    balance_cents: 234_567,
                    currency: "USD".into(),
                    payment_due: None,
                    minimum_due_cents: None,
                    transactions: vec![
                        Posting {
                            id: "t1".into(),
                            account_id: String::new(),
                            posted: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
                            description: "Payroll".into(),
                            amount_cents: 286_500,
                        },
                        Posting {
                            id: "t2".into(),
                            account_id: String::new(),
                            posted: NaiveDate::from_ymd_opt(2026, 11, 12).unwrap(),
                            description: "Groceries".into(),
                            amount_cents: -8_734,
                        },
                    ],
                },
                Account {
                    id: "acc-cc".into(),
                    kind: "credit".into(),
                    last_four: "3321".into(),
                    balance_cents: -51_240,
                    currency: "USD".into(),
                    payment_due: NaiveDate::from_ymd_opt(2026, 12, 18),
                    minimum_due_cents: Some(3_500),
                    transactions: Vec::new(),
                },
            ],
            cards: vec![Card {
                id: "card-debit".into(),
                kind: "debit".into(),
                brand: Some("Visa".into()),
                last_four: "1234".into(),
                status: CardStatus::Active,
                account_id: Some("acc-chk".into()),
            }],
            open_tickets: Vec::new(),
            last_contact: None,
        }
    }

    /// The customer as the store gives it back: transactions are read separately.
    fn as_read(mut customer: Customer) -> Customer {
        customer.accounts.iter_mut().for_each(|a| a.transactions.clear());
        customer
    }

    fn session(id: &str, customer: Option<&str>) -> SessionRecord {
        SessionRecord {
            id: id.into(),
            line: "acme-bank".into(),
            channel: "voice".into(),
            caller: Some("+15551234567".into()),
            customer_id: customer.map(String::from),
            started_at: at("2026-11-23T15:40:00Z"),
            ended_at: None,
            outcome: None,
            state: None,
            version: 0,
        }
    }

    fn turn(session: &str, speaker: Speaker, text: &str) -> TurnRecord {
        TurnRecord {
            session_id: session.into(),
            seq: 0,
            at: at("2026-11-23T15:40:05Z"),
            speaker,
            text: text.into(),
            asr_confidence: Some(0.93),
            intent: Some("dispute_charge".into()),
            intent_confidence: Some(0.88),
            sentiment: Some(-0.25),
            meta: json!({"nbest": [text]}),
        }
    }

    fn handoff(session: &str, queue: &str, skill: Option<&str>, priority: i32) -> NewQueueEntry {
        NewQueueEntry {
            session_id: session.into(),
            queue: queue.into(),
            skill: skill.map(String::from),
            priority,
            packet: json!({"summary": format!("{session} wants a person"), "caller": "+15551234567"}),
        }
    }

    #[test]
    fn everything_written_is_there_after_a_restart() {
        let path = temp_db("reopen");
        let customer = jane();
        let (waiting, claimed) = {
            let store = SqliteStore::open(&path).expect("open");
            store.upsert_customer(&customer).unwrap();
            store.create_ticket("cust-jane", "dispute", "a charge of $89.99 from StreamFlix").unwrap();
            store.open_session(&session("s1", Some("cust-jane"))).unwrap();
            assert_eq!(store.save_session_state("s1", r#"{"flow":"dispute"}"#, 0).unwrap(), 1);
            store.append_turn(&turn("s1", Speaker::Caller, "I want to dispute a charge")).unwrap();
            store.append_turn(&turn("s1", Speaker::Assistant, "Which charge?")).unwrap();
            let call = CallRecord {
                session_id: "s1".into(),
                call_id: "call-1".into(),
                caller: Some("+15551234567".into()),
                called: Some("+18005550100".into()),
                encoding: "mulaw".into(),
                sample_rate: 8000,
                started_at: at("2026-11-23T15:40:00Z"),
                ended_at: None,
                end_reason: None,
                timings: json!({"turns": [{"asr_ms": 120}]}),
            };
            store.save_call(&call).unwrap();
            store.close_session("s1", "handed_off").unwrap();
            let waiting = store.enqueue(&handoff("s1", "cards", Some("disputes"), 1)).unwrap();
            store.enqueue(&handoff("s2", "cards", None, 0)).unwrap();
            let claimed = store.claim_next("alice", Some("cards"), &[]).unwrap().expect("one to claim");
            (waiting, claimed)
        };
        assert_eq!(claimed.id, waiting.id, "the higher priority goes first");

        let store = SqliteStore::open(&path).expect("reopen");
        let read = store.customer("cust-jane").unwrap().expect("customer survives");
        assert_eq!(read.open_tickets.len(), 1);
        assert_eq!(Customer { open_tickets: Vec::new(), ..read }, as_read(customer));
        assert_eq!(store.recent_transactions("acc-chk", 10).unwrap().len(), 2);
        let s1 = store.session("s1").unwrap().expect("session survives");
        assert_eq!(
            (s1.version, s1.state.as_deref(), s1.outcome.as_deref()),
            (1, Some(r#"{"flow":"dispute"}"#), Some("handed_off"))
        );
        let lines = store.transcript("s1").unwrap();
        assert_eq!(
            lines.iter().map(|t| (t.seq, t.text.as_str())).collect::<Vec<_>>(),
            [(1, "I want to dispute a charge"), (2, "Which charge?")]
        );
        assert_eq!(lines[0].asr_confidence, Some(0.93));
        assert_eq!(store.call("call-1").unwrap().expect("call survives").timings["turns"][0]["asr_ms"], 120);
        let entries = store.queue_entries(&QueueFilter::default()).unwrap();
        assert_eq!(entries.len(), 2, "the queue survives a restart");
        assert_eq!(entries[0].status, QueueStatus::Waiting);
        assert_eq!(entries[0].position, Some(1));
        assert_eq!(entries[1].claimed_by.as_deref(), Some("alice"));
        assert_eq!(entries[1].packet, waiting.packet);
    }

    #[test]
    fn a_stale_version_is_refused_and_the_stored_state_kept() {
        let store = store("conflict");
        store.open_session(&session("s1", None)).unwrap();
        assert_eq!(store.save_session_state("s1", "first", 0).unwrap(), 1);
        assert_eq!(store.save_session_state("s1", "second", 1).unwrap(), 2);
        let err = store.save_session_state("s1", "stale", 1).expect_err("stale version");
        assert!(matches!(err, StoreError::Conflict { expected: 1, found: 2, .. }), "{err}");
        assert!(err.to_string().contains("retry"), "{err}");
        let stored = store.session("s1").unwrap().unwrap();
        assert_eq!((stored.state.as_deref(), stored.version), (Some("second"), 2));
        assert!(matches!(store.save_session_state("nope", "x", 0), Err(StoreError::NotFound { what: "session", .. })));
    }

    #[test]
    fn claims_go_by_priority_then_age_and_positions_follow() {
        let store = store("order");
        let old_low = store.enqueue(&handoff("a", "cards", None, 0)).unwrap();
        let high = store.enqueue(&handoff("b", "cards", None, 5)).unwrap();
        let new_low = store.enqueue(&handoff("c", "cards", None, 0)).unwrap();
        let other_queue = store.enqueue(&handoff("d", "loans", None, 9)).unwrap();
        assert_eq!((old_low.position, high.position, new_low.position), (Some(1), Some(1), Some(3)));
        assert_eq!(other_queue.position, Some(1), "positions count within a queue");
        assert_eq!(store.queue_entry(old_low.id).unwrap().unwrap().position, Some(2), "moved behind the urgent one");

        let listed = store.queue_entries(&QueueFilter { queue: Some("cards".into()), ..Default::default() }).unwrap();
        assert_eq!(
            listed.iter().map(|e| (e.id, e.position)).collect::<Vec<_>>(),
            [(high.id, Some(1)), (old_low.id, Some(2)), (new_low.id, Some(3))]
        );
        let order: Vec<i64> =
            std::iter::from_fn(|| store.claim_next("bob", Some("cards"), &[]).unwrap()).map(|e| e.id).collect();
        assert_eq!(order, [high.id, old_low.id, new_low.id]);
        assert!(store.claim_next("bob", Some("cards"), &[]).unwrap().is_none());
    }

    #[test]
    fn claims_respect_skills_and_states() {
        let store = store("skills");
        let spanish = store.enqueue(&handoff("a", "cards", Some("spanish"), 5)).unwrap();
        let general = store.enqueue(&handoff("b", "cards", None, 0)).unwrap();
        let fraud = store.enqueue(&handoff("c", "cards", Some("fraud"), 1)).unwrap();
        let claimed = store.claim_next("ann", None, &["fraud".to_string()]).unwrap().unwrap();
        assert_eq!(claimed.id, fraud.id, "skills the agent lacks are left for others");
        assert_eq!(claimed.position, None);
        assert_eq!(store.claim_next("ann", None, &["fraud".to_string()]).unwrap().unwrap().id, general.id);
        assert!(store.claim_next("ann", None, &["fraud".to_string()]).unwrap().is_none());
        assert_eq!(store.claim_next("ann", None, &[]).unwrap().unwrap().id, spanish.id, "no skills: any entry");

        let err = store.claim(general.id, "zoe").expect_err("already claimed");
        assert!(
            matches!(err, StoreError::QueueState { status: QueueStatus::Claimed, expected: QueueStatus::Waiting, .. }),
            "{err}"
        );
        let done = store.complete(general.id, "resolved", Some("activated the card")).unwrap();
        assert_eq!(
            (done.status, done.outcome.as_deref(), done.notes.as_deref()),
            (QueueStatus::Completed, Some("resolved"), Some("activated the card"))
        );
        let err = store.complete(general.id, "resolved", None).expect_err("completed twice");
        assert!(err.to_string().contains("must be claimed to complete"), "{err}");
        let waiting = store.enqueue(&handoff("d", "cards", None, 0)).unwrap();
        assert!(matches!(store.complete(waiting.id, "resolved", None), Err(StoreError::QueueState { .. })));
        assert!(matches!(store.claim(9999, "zoe"), Err(StoreError::NotFound { .. })));
        assert!(matches!(store.claim(waiting.id, " "), Err(StoreError::Invalid { .. })));
    }

    #[test]
    fn the_estimated_wait_is_position_times_the_median_handling_time() {
        let store = store("wait");
        let first = store.enqueue(&handoff("a", "cards", None, 0)).unwrap();
        let second = store.enqueue(&handoff("b", "cards", None, 0)).unwrap();
        assert_eq!(first.estimated_wait_s, Some(180), "no history: three minutes each");
        assert_eq!(second.estimated_wait_s, Some(360));

        // Three handled calls of 60, 100 and 400 seconds: the median (100) ignores the long one.
        for (n, seconds) in [60, 100, 400].into_iter().enumerate() {
            let entry = store.enqueue(&handoff(&format!("h{n}"), "cards", None, 99)).unwrap();
            store.claim(entry.id, "ann").unwrap();
            store.complete(entry.id, "resolved", None).unwrap();
            let claimed = at("2026-11-23T10:00:00Z");
            store
                .with(|conn| {
                    conn.execute(
                        "UPDATE queue SET claimed_at = ?2, completed_at = ?3 WHERE id = ?1",
                        params![entry.id, time(&claimed), time(&(claimed + chrono::Duration::seconds(seconds)))],
                    )?;
                    Ok(())
                })
                .unwrap();
        }
        let waiting = store.queue_entries(&QueueFilter::default()).unwrap();
        assert_eq!(waiting.iter().map(|e| e.estimated_wait_s).collect::<Vec<_>>(), [Some(100), Some(200)]);
        assert_eq!(store.queue_entry(second.id).unwrap().unwrap().estimated_wait_s, Some(200));
        let all = store.queue_entries(&QueueFilter { include_completed: true, ..Default::default() }).unwrap();
        assert_eq!(all.len(), 5);
        assert!(all[2..].iter().all(|e| e.status == QueueStatus::Completed && e.position.is_none()));
    }

    #[test]
    fn concurrent_claims_never_hand_out_the_same_entry() {
        let path = temp_db("threads");
        let shared = Arc::new(SqliteStore::open(&path).expect("open"));
        let entries: Vec<i64> = (0..40)
            .map(|n| shared.enqueue(&handoff(&format!("s{n}"), "cards", None, n % 3)).unwrap().id)
            .collect();
        // Four agents share one store (threads) and two more open the file themselves (as separate
        // `helpline queue claim` processes would).
        let mut agents = Vec::new();
        for agent in 0..6 {
            let store: Arc<dyn Store> =
                if agent < 4 { shared.clone() } else { Arc::new(SqliteStore::open(&path).expect("second connection")) };
            agents.push(std::thread::spawn(move || {
                let name = format!("agent-{agent}");
                std::iter::from_fn(|| store.claim_next(&name, None, &[]).expect("claim"))
                    .map(|e| e.id)
                    .collect::<Vec<_>>()
            }));
        }
        let mut claimed: Vec<i64> = agents.into_iter().flat_map(|a| a.join().expect("agent thread")).collect();
        assert_eq!(claimed.len(), entries.len(), "every entry claimed exactly once");
        claimed.sort_unstable();
        claimed.dedup();
        assert_eq!(claimed, entries);
    }

    #[test]
    fn processes_opening_a_fresh_file_at_once_all_get_the_schema() {
        let path = temp_db("fresh-race");
        let openers: Vec<_> = (0..6)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || SqliteStore::open(&path).map(|store| store.customer_count()))
            })
            .collect();
        for opener in openers {
            assert_eq!(opener.join().expect("opener").expect("open").expect("count"), 0);
        }
    }

    #[test]
    fn purging_keeps_what_consent_allows_and_what_is_still_open() {
        let store = store("purge");
        store.upsert_customer(&jane()).unwrap();
        let mut maria = jane();
        maria.id = "cust-maria".into();
        maria.phone_numbers = vec!["+15553339999".into()];
        maria.accounts.clear();
        maria.cards.clear();
        maria.consent.recording = true;
        store.upsert_customer(&maria).unwrap();

        for (id, customer) in
            [("old-jane", Some("cust-jane")), ("old-maria", Some("cust-maria")), ("old-anon", None), ("live", None)]
        {
            store.open_session(&session(id, customer)).unwrap();
            store.append_turn(&turn(id, Speaker::Caller, "hello")).unwrap();
        }
        store
            .save_call(&CallRecord {
                session_id: "old-jane".into(),
                call_id: "call-old".into(),
                caller: None,
                called: None,
                encoding: "pcm".into(),
                sample_rate: 16000,
                started_at: at("2026-11-23T15:40:00Z"),
                ended_at: None,
                end_reason: None,
                timings: json!({}),
            })
            .unwrap();
        let done = store.enqueue(&handoff("old-jane", "cards", None, 0)).unwrap();
        store.claim(done.id, "ann").unwrap();
        store.complete(done.id, "resolved", None).unwrap();
        let still_waiting = store.enqueue(&handoff("old-anon", "cards", None, 0)).unwrap();
        for id in ["old-jane", "old-maria", "old-anon"] {
            store.close_session(id, "resolved").unwrap();
        }

        assert_eq!(
            store.purge_before(Utc::now() - chrono::Duration::days(1)).unwrap(),
            0,
            "nothing ended that long ago"
        );
        assert_eq!(store.purge_before(Utc::now() + chrono::Duration::seconds(1)).unwrap(), 2);
        assert!(store.session("old-jane").unwrap().is_none());
        assert!(store.transcript("old-jane").unwrap().is_empty());
        assert!(store.call("call-old").unwrap().is_none());
        assert!(store.queue_entry(done.id).unwrap().is_none(), "completed hand-offs go with the session");
        assert!(store.queue_entry(still_waiting.id).unwrap().is_some(), "a caller still waiting is never dropped");
        assert!(store.session("old-anon").unwrap().is_none());
        assert_eq!(store.transcript("old-maria").unwrap().len(), 1, "consent to recording keeps the transcript");
        assert!(store.session("live").unwrap().is_some(), "an open session is never purged");
        assert!(store.customer("cust-jane").unwrap().is_some(), "customers are not transcripts");
    }

    #[test]
    fn long_numbers_are_redacted_on_the_way_in_and_last_fours_kept() {
        let store = store("redact");
        store.open_session(&session("s1", None)).unwrap();
        let mut said = turn("s1", Speaker::Caller, "my card is 4111 1111 1111 1234 and the one ending 9876");
        said.meta = json!({"entities": [{"card_number": "4111111111111234"}]});
        store.append_turn(&said).unwrap();
        store
            .append_turn(&turn("s1", Speaker::Caller, "account four five six seven eight nine one two"))
            .unwrap();
        store.append_turn(&turn("s1", Speaker::Caller, "a charge of 89.99 on card 1234")).unwrap();
        let lines = store.transcript("s1").unwrap();
        assert_eq!(lines[0].text, "my card is [redacted ••••1234] and the one ending 9876");
        assert_eq!(lines[0].meta["entities"][0]["card_number"], "[redacted ••••1234]");
        assert_eq!(lines[1].text, "account [redacted ••••8912]");
        assert_eq!(lines[2].text, "a charge of 89.99 on card 1234");

        let off = StoreConfig { redaction: Redaction { enabled: false, ..Redaction::default() } };
        let verbatim = SqliteStore::open_with(&temp_db("redact-off"), off).unwrap();
        verbatim.open_session(&session("s1", None)).unwrap();
        verbatim.append_turn(&turn("s1", Speaker::Caller, "4111 1111 1111 1234")).unwrap();
        assert_eq!(verbatim.transcript("s1").unwrap()[0].text, "4111 1111 1111 1234");

        let pointless = StoreConfig { redaction: Redaction { enabled: true, min_digits: 4 } };
        let err = SqliteStore::open_with(&temp_db("redact-4"), pointless).expect_err("min_digits 4");
        assert!(err.to_string().contains("min_digits"), "{err}");
    }

    #[test]
    fn the_packet_transcript_is_redacted_like_the_turns() {
        let store = store("packet");
        let mut entry = handoff("s1", "cards", None, 0);
        entry.packet["transcript"] = json!([{"speaker": "caller", "text": "it's 4111111111111234"}]);
        let stored = store.enqueue(&entry).unwrap();
        assert_eq!(stored.packet["transcript"][0]["text"], "it's [redacted ••••1234]");
        assert_eq!(stored.packet["caller"], "+15551234567", "the number to call back stays");
    }

    #[test]
    fn turns_are_numbered_per_session() {
        let store = store("seq");
        store.open_session(&session("a", None)).unwrap();
        store.open_session(&session("b", None)).unwrap();
        assert_eq!(store.append_turn(&turn("a", Speaker::Caller, "one")).unwrap(), 1);
        assert_eq!(store.append_turn(&turn("b", Speaker::Caller, "one")).unwrap(), 1);
        assert_eq!(store.append_turn(&turn("a", Speaker::System, "two")).unwrap(), 2);
        assert_eq!(store.transcript("a").unwrap()[1].speaker, Speaker::System);
        assert!(matches!(store.append_turn(&turn("zzz", Speaker::Caller, "x")), Err(StoreError::NotFound { .. })));
        assert!(matches!(store.open_session(&session("a", None)), Err(StoreError::Invalid { .. })));
    }

    #[test]
    fn callers_are_matched_on_the_digits_of_their_number() {
        let store = store("phones");
        store.upsert_customer(&jane()).unwrap();
        for number in ["+15551234567", "15551234567", "+1 (555) 123-4567", "1-555-123-4567", "+15550009999"] {
            let found = store.customer_by_phone(number).unwrap();
            assert_eq!(found.map(|c| c.id).as_deref(), Some("cust-jane"), "{number}");
        }
        for number in ["+15551234568", "5551234567", "", "anonymous"] {
            assert!(store.customer_by_phone(number).unwrap().is_none(), "{number}");
        }
        let mut thief = jane();
        thief.id = "cust-other".into();
        thief.accounts.clear();
        thief.cards.clear();
        thief.phone_numbers = vec!["1 555 123 4567".into()];
        let err = store.upsert_customer(&thief).expect_err("someone else's number");
        assert!(err.to_string().contains("already belongs to customer cust-jane"), "{err}");
    }

    #[test]
    fn upserting_replaces_accounts_and_cards_but_keeps_history() {
        let store = store("upsert");
        store.upsert_customer(&jane()).unwrap();
        let mut changed = as_read(store.customer("cust-jane").unwrap().unwrap());
        changed.accounts.truncate(1);
        changed.cards[0].status = CardStatus::Blocked;
        changed.name = "Jane Q. Doe".into();
        store.upsert_customer(&changed).unwrap();
        let read = store.customer("cust-jane").unwrap().unwrap();
        assert_eq!(read, changed);
        assert_eq!(store.recent_transactions("acc-chk", 10).unwrap().len(), 2, "history is not wiped");
        assert!(matches!(store.recent_transactions("acc-cc", 10), Err(StoreError::NotFound { .. })));
        assert_eq!(store.customer_count().unwrap(), 1);

        let card = store.set_card_status("card-debit", CardStatus::Active).unwrap();
        assert_eq!(card.status, CardStatus::Active);
        store.set_address("cust-jane", "9 Oak Road").unwrap();
        assert_eq!(store.customer("cust-jane").unwrap().unwrap().address.as_deref(), Some("9 Oak Road"));
        assert!(matches!(
            store.set_card_status("nope", CardStatus::Active),
            Err(StoreError::NotFound { what: "card", .. })
        ));

        let mut bad = jane();
        bad.cards[0].account_id = Some("acc-missing".into());
        assert!(store.upsert_customer(&bad).unwrap_err().to_string().contains("acc-missing"));
    }

    #[test]
    fn transactions_come_newest_first() {
        let store = store("txns");
        store.upsert_customer(&jane()).unwrap();
        let recent = store.recent_transactions("acc-chk", 1).unwrap();
        assert_eq!(recent.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["t2"]);
        assert_eq!(recent[0].account_id, "acc-chk");
    }

    #[test]
    fn tickets_and_contacts_make_up_the_profile() {
        let store = store("tickets");
        store.upsert_customer(&jane()).unwrap();
        let first = store.create_ticket("cust-jane", "dispute", "StreamFlix $89.99").unwrap();
        let second = store.create_ticket("cust-jane", "address_change", "moved").unwrap();
        assert_ne!(first.id, second.id);
        store.upsert_ticket(&Ticket { status: "closed".into(), ..second.clone() }).unwrap();
        for (session, hour) in [("s-old", 9), ("s-new", 15)] {
            let contact = Contact {
                session_id: session.into(),
                at: Utc.with_ymd_and_hms(2026, 11, 23, hour, 0, 0).unwrap(),
                channel: "voice".into(),
                topic: Some("dispute_charge".into()),
                outcome: "handed_off".into(),
                summary: session.into(),
            };
            store.record_contact("cust-jane", &contact).unwrap();
            store.record_contact("cust-jane", &contact).unwrap();
        }
        let jane = store.customer("cust-jane").unwrap().unwrap();
        assert_eq!(jane.open_tickets, [first]);
        assert_eq!(jane.last_contact.map(|c| c.session_id).as_deref(), Some("s-new"));
        assert!(matches!(store.create_ticket("nobody", "x", "y"), Err(StoreError::NotFound { what: "customer", .. })));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
        let path = temp_db("garbage");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let garbage: Vec<u8> = (0..8192u32).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        std::fs::write(&path, &garbage).unwrap();
        let err = SqliteStore::open(&path).expect_err("garbage is not a database");
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()) && message.contains("move it aside"), "{message}");
        assert_eq!(std::fs::read(&path).unwrap(), garbage, "nothing in the file is changed");
    }

    #[test]
    fn another_programs_database_is_refused() {
        let path = temp_db("foreign");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        Connection::open(&path).unwrap().execute_batch("CREATE TABLE notes (body TEXT)").unwrap();
        let err = SqliteStore::open(&path).expect_err("not ours");
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn a_schema_from_a_newer_build_is_refused() {
        let path = temp_db("newer");
        drop(SqliteStore::open(&path).unwrap());
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let err = SqliteStore::open(&path).expect_err("too new");
        assert!(matches!(err, StoreError::TooNew { found: 99, known: SCHEMA_VERSION, .. }), "{err}");
    }

    #[test]
    fn the_median_of_an_even_count_is_the_middle_pair_mean() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }
}
