//! The embedded store: SQLite with migrations. (Being written.)

/// The embedded default store.
pub struct SqliteStore;
