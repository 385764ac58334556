//! How `helpline serve` is set up: a TOML file with the same settings as the flags, flags winning.
//! Every setting has a default, so `helpline serve` alone works from the repository root.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The server's settings. Unknown keys are refused, so a typo never silently falls back to a default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The line directory (flows, intents, prompts) the server answers for.
    pub line: PathBuf,
    /// The SQLite database: customers, sessions, call records, the agents' queue ($HELPLINE_STORE, else
    /// var/helpline.db).
    pub store: PathBuf,
    /// Calls at once; more are refused with RESOURCE_EXHAUSTED rather than slowing every call down.
    pub max_calls: usize,
    /// Threads for recognition and synthesis together.
    pub workers: usize,
    /// Whisper model name in the models directory.
    pub asr_model: String,
}

/// Calls at once by default: what a machine of 8 or more cores takes. On 2 cores `helpline bench calls`
/// measured replies slowing from 4 calls on and turns going unanswered at 8 (BENCHMARKS.md), so small
/// machines should set max_calls lower: a refused call can go to an agent; a slow one only frustrates.
pub const DEFAULT_MAX_CALLS: usize = 8;

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            line: PathBuf::from("lines/acme-bank"),
            store: crate::store::default_path(),
            max_calls: DEFAULT_MAX_CALLS,
            workers: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            asr_model: "tiny.en".into(),
        }
    }
}

/// A bad configuration file or setting; each names the file or flag and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("{field} must be at least 1 (from {origin}); {hint}")]
    Zero { field: &'static str, origin: String, hint: &'static str },
    #[error("the line directory {path} does not exist (from {origin}); pass --line with a line directory such as lines/acme-bank, or run from the repository root")]
    NoLine { path: PathBuf, origin: String },
}

/// Settings given on the command line; each one given overrides the file.
#[derive(Debug, Clone, Default)]
pub struct ServeOverrides {
    pub listen: Option<SocketAddr>,
    pub line: Option<PathBuf>,
    pub store: Option<PathBuf>,
    pub max_calls: Option<usize>,
    pub workers: Option<usize>,
    pub asr_model: Option<String>,
}

impl ServeConfig {
    /// Parse a config file's text; `path` names it in errors (toml reports line and column).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: path.to_path_buf(),
            reason: error.to_string().trim_end().to_string(),
        })
    }

    /// The defaults, then the file (if any), then the flags; checked once here.
    pub fn resolve(file: Option<&Path>, overrides: ServeOverrides) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
                Self::parse(&text, path)?
            }
            None => Self::default(),
        };
        let origin = |flag: bool, name: &str| match (flag, file) {
            (true, _) => format!("--{name}"),
            (false, Some(path)) => format!("{}, key {}", path.display(), name.replace('-', "_")),
            (false, None) => "the default".to_string(),
        };
        let (max_calls_flag, workers_flag, line_flag) =
            (overrides.max_calls.is_some(), overrides.workers.is_some(), overrides.line.is_some());
        config.listen = overrides.listen.unwrap_or(config.listen);
        config.line = overrides.line.unwrap_or(config.line);
        config.store = overrides.store.unwrap_or(config.store);
        config.max_calls = overrides.max_calls.unwrap_or(config.max_calls);
        config.workers = overrides.workers.unwrap_or(config.workers);
        config.asr_model = overrides.asr_model.unwrap_or(config.asr_model);
        if config.max_calls == 0 {
            return Err(ConfigError::Zero {
                field: "max_calls",
                origin: origin(max_calls_flag, "max-calls"),
                hint: "it is how many calls the server takes at once",
            });
        }
        if config.workers == 0 {
            return Err(ConfigError::Zero {
                field: "workers",
                origin: origin(workers_flag, "workers"),
                hint: "it is how many threads recognise and synthesise speech",
            });
        }
        if !config.line.is_dir() {
            return Err(ConfigError::NoLine { path: config.line.clone(), origin: origin(line_flag, "line") });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_sets_what_it_names_and_leaves_the_rest_default() {
        let config = ServeConfig::parse("listen = \"0.0.0.0:6000\"\nmax_calls = 2\n", Path::new("h.toml")).unwrap();
        assert_eq!(config.listen, "0.0.0.0:6000".parse().unwrap());
        assert_eq!(config.max_calls, 2);
        assert_eq!(config.asr_model, "tiny.en");
        assert_eq!(config.line, PathBuf::from("lines/acme-bank"));
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_line() {
        let err = ServeConfig::parse("listen = \"127.0.0.1:1\"\nmax_cals = 2\n", Path::new("helpline.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("helpline.toml") && err.contains("max_cals") && err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_wrong_type_is_refused_with_the_key() {
        let err = ServeConfig::parse("max_calls = \"many\"\n", Path::new("h.toml")).unwrap_err().to_string();
        assert!(err.contains("max_calls"), "{err}");
    }

    #[test]
    fn flags_override_the_file_and_zero_calls_names_where_it_came_from() {
        let dir = std::env::temp_dir().join(format!("helpline-serve-config-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("line")).unwrap();
        let file = dir.join("helpline.toml");
        let line = dir.join("line");
        std::fs::write(&file, format!("line = {:?}\nmax_calls = 3\nworkers = 1\n", line.display().to_string()))
            .unwrap();
        let config =
            ServeConfig::resolve(Some(&file), ServeOverrides { max_calls: Some(5), ..Default::default() }).unwrap();
        assert_eq!((config.max_calls, config.workers), (5, 1));
        let err = ServeConfig::resolve(Some(&file), ServeOverrides { max_calls: Some(0), ..Default::default() })
            .unwrap_err()
            .to_string();
        assert!(err.contains("--max-calls"), "{err}");
        std::fs::write(&file, format!("line = {:?}\nworkers = 0\n", line.display().to_string())).unwrap();
        let err = ServeConfig::resolve(Some(&file), ServeOverrides::default()).unwrap_err().to_string();
        assert!(err.contains("helpline.toml, key workers"), "{err}");
        let err =
            ServeConfig::resolve(None, ServeOverrides { line: Some(dir.join("no-such-line")), ..Default::default() })
                .unwrap_err()
                .to_string();
        assert!(err.contains("no-such-line") && err.contains("--line"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
