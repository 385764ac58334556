//! One file per command family of the `helpline` binary; `main.rs` only parses and dispatches.

pub mod call;
pub mod chat;
pub mod models;
pub mod nlu;
pub mod queue;
pub mod serve;
pub mod speech;
pub mod talk;
