//! `helpline serve`: the gRPC phone-line service.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use helpline::models::ModelDir;
use helpline::service::{ServeConfig, ServeOverrides};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:50051].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The line directory to answer for [default: lines/acme-bank].
    #[arg(long)]
    line: Option<PathBuf>,
    /// The SQLite database [default: $HELPLINE_STORE, else var/helpline.db].
    #[arg(long)]
    store: Option<PathBuf>,
    /// Calls at once; more are refused (RESOURCE_EXHAUSTED) [default: 8].
    #[arg(long)]
    max_calls: Option<usize>,
    /// Threads for recognition and synthesis together [default: the number of cores].
    #[arg(long)]
    workers: Option<usize>,
    /// Whisper model [default: tiny.en].
    #[arg(long, value_parser = ["tiny.en", "base"])]
    asr_model: Option<String>,
    /// A TOML file with the same settings (listen, line, store, max_calls, workers, asr_model); flags
    /// given here override it.
    #[arg(long)]
    config: Option<PathBuf>,
}

impl ServeArgs {
    pub fn resolve(self) -> Result<ServeConfig> {
        let overrides = ServeOverrides {
            listen: self.listen,
            line: self.line,
            store: self.store,
            max_calls: self.max_calls,
            workers: self.workers,
            asr_model: self.asr_model,
        };
        Ok(ServeConfig::resolve(self.config.as_deref(), overrides)?)
    }
}

/// A runtime for the server and its calls: the speech work runs on the switchboard's own workers, so
/// the async threads only move messages.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub fn run(models: &ModelDir, args: ServeArgs) -> Result<()> {
    let config = args.resolve()?;
    runtime()?.block_on(helpline::service::serve(config, models.clone()))?;
    Ok(())
}
