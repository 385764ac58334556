//! `helpline models list | fetch | check`.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Subcommand;

use helpline::models::{self, fetch, ModelDir};

#[derive(Subcommand)]
pub enum ModelsAction {
    /// What each model is and whether it is installed.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Fetch, verify and convert models (the default set, or those named).
    Fetch {
        /// Models to fetch (e.g. `base`); default: every model marked default in the manifest.
        names: Vec<String>,
        /// Download and convert again even if the files are in place.
        #[arg(long)]
        force: bool,
    },
    /// Verify installed files against their checksums; non-zero exit if any is missing or corrupt.
    Check { names: Vec<String> },
}

pub fn run(dir: Option<&Path>, action: ModelsAction) -> Result<()> {
    let models = match dir {
        Some(path) => ModelDir::at(path),
        None => ModelDir::locate(None)?,
    };
    let manifest = fetch::Manifest::load(&models)?;
    match action {
        ModelsAction::List { json } => {
            for entry in &manifest.models {
                let reports = fetch::check(&models, &[entry])?;
                let installed = reports.iter().all(|r| r.state == fetch::FileState::Ok);
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"name": entry.name, "what": entry.what, "default": entry.default,
                            "installed": installed, "files": reports})
                    );
                } else {
                    let state = if installed { "installed" } else { "not installed" };
                    let default = if entry.default { "" } else { " (optional)" };
                    println!("{:<12} {:<14} {}{}", entry.name, state, entry.what, default);
                }
            }
        }
        ModelsAction::Fetch { names, force } => {
            let entries = manifest.select(&names)?;
            let started = Instant::now();
            let done = fetch::fetch(&models, &entries, force)?;
            for line in &done {
                println!("{line}");
            }
            if done.is_empty() {
                println!("all models already in place and verified ({:.1} s)", started.elapsed().as_secs_f64());
            } else {
                println!("done in {:.1} s", started.elapsed().as_secs_f64());
            }
        }
        ModelsAction::Check { names } => {
            let entries = manifest.select(&names)?;
            let reports = fetch::check(&models, &entries)?;
            let bad: Vec<_> = reports.iter().filter(|r| r.state != fetch::FileState::Ok).collect();
            for report in &reports {
                println!(
                    "{:<10} {:<12} {}",
                    format!("{:?}", report.state).to_lowercase(),
                    report.model,
                    report.path.display()
                );
            }
            if !bad.is_empty() {
                bail!("{} model file(s) missing or corrupt: run `helpline models fetch --force`", bad.len());
            }
            models::init_onnx_runtime(&models)?;
            println!("ONNX Runtime loads from {}", models.onnx_runtime().display());
        }
    }
    Ok(())
}
