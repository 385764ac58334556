//! The gRPC wire: how a telephony platform talks to Helpline, and how agents take handed-off calls.
//!
//! `proto/helpline.proto` is the contract (every message documented there; a call's message sequence
//! and the error table are in `proto/README.md`). This module serves it with tonic:
//!
//! - [`converse`]: `PhoneLine.Converse`, one bidirectional stream per call. It checks each platform
//!   message ([`wire`]) and hands the call to a [`converse::CallRunner`] (the
//!   [`Switchboard`](crate::call::Switchboard)); it holds no dialogue or speech logic.
//! - [`agent_queue`]: `AgentQueue` over the [`Store`](crate::store::Store)'s queue.
//! - [`server`]: start-up (store, line, engine, models), listening with gRPC health and reflection on,
//!   graceful shutdown.
//! - [`client`]: placing a call from recorded audio as a phone would: used by `helpline call`, the
//!   end-to-end tests and `helpline bench calls`.
//! - [`config`]: `helpline serve`'s TOML configuration.

pub mod agent_queue;
pub mod client;
pub mod config;
pub mod converse;
pub mod server;
pub mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use client::{place_call, CallPlan, CallReport, CallerTurn, ClientError, ClientEvent};
pub use config::{ConfigError, ServeConfig, ServeOverrides};
pub use converse::{CallRunner, PhoneLineService};
pub use server::{bind, serve, start, Assistant, RunningServer};

/// The generated protobuf messages, tonic client and server (package `helpline.v1`).
#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("helpline.v1");

    /// The compiled `helpline.proto` (with its imports), served by gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("helpline_descriptor");
}

/// Why the server could not start or stopped badly; each names what and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot create the database folder {path}: {source}")]
    StoreFolder { path: PathBuf, source: std::io::Error },
    #[error("cannot seed the store with the line's customers: {0}")]
    Seed(#[from] crate::store::SeedError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot load the sentence encoder: {0}")]
    Encoder(#[from] crate::nlu::encoder::EncoderError),
    #[error("cannot load the line: {0}")]
    Line(#[from] crate::dialogue::LineError),
    #[error(transparent)]
    Call(#[from] crate::call::CallError),
    #[error("cannot listen on {addr}: {source}; is another server running there? pick another address with --listen")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the listening socket failed: {0}")]
    Listener(std::io::Error),
    #[error("cannot set up gRPC reflection: {0}")]
    Reflection(tonic_reflection::server::Error),
    #[error("the gRPC server failed: {0}")]
    Transport(tonic::transport::Error),
    #[error("the server stopped unexpectedly: {0}")]
    Stopped(String),
}

#[cfg(test)]
mod tests;
