//! Webhook actions: a flow's call to the business's own service, JSON in and a JSON object out.
//!
//! A line names each action and says where it goes:
//!
//! ```yaml
//! lookup_account:
//!   url: https://crm.acme.example/api/lookup
//!   method: POST            # POST (default), GET or PUT
//!   timeout_ms: 2000        # per attempt; more than 0, at most 30000
//!   retries: 2              # extra attempts after a connection error, a timeout or a 5xx
//!   backoff_ms: 200         # wait before the first retry, doubling before each next one
//!   headers: { Authorization: Bearer ... }
//! ```
//!
//! POST and PUT send the payload as the JSON body; GET sends each field of the payload object as a
//! query parameter (strings as they are, other values as JSON). The answer must be a JSON object (an
//! empty body, as with 204 No Content, reads as `{}`).
//!
//! Retries are for failures that may pass: the connection failed, no answer came in time, or the
//! service answered 5xx. A 4xx means the request itself is wrong and an answer that is not a JSON
//! object means the service is, so neither is retried. Redirects are not followed: a webhook that
//! moved is a configuration to fix, and following one would turn a POST into a GET.
//!
//! The call blocks. The dialogue engine is synchronous and the call service runs it on a worker
//! thread, so `ureq` fits: a small, well-kept blocking client with per-request time limits, and no
//! async runtime to start inside a turn. Its rustls TLS needs no system library.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ureq::http::{HeaderName, HeaderValue, Uri};

/// The longest attempt a line may configure: a caller on the phone waits through it.
pub const MAX_TIMEOUT_MS: u64 = 30_000;

/// The longest a whole call may take, retries and backoffs included (see
/// [`WebhookConfig::deadline`]): past a minute of silence callers hang up.
pub const MAX_DEADLINE: Duration = Duration::from_secs(60);

/// A response body longer than this is not read: a webhook answers with a few fields for the flow,
/// and a runaway body should not fill memory.
const MAX_BODY_BYTES: u64 = 1 << 20;

/// How much of a response body an error quotes.
const EXCERPT_CHARS: usize = 200;

/// The HTTP method of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    #[serde(alias = "post")]
    Post,
    #[serde(alias = "get")]
    Get,
    #[serde(alias = "put")]
    Put,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Post => "POST",
            Self::Get => "GET",
            Self::Put => "PUT",
        })
    }
}

/// One webhook as it sits in a line file.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://`, with a host.
    pub url: String,
    #[serde(default)]
    pub method: Method,
    /// Time limit of one attempt, from connecting to the last byte of the answer.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts after the first one, on a connection error, a timeout or a 5xx answer.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Wait before the first retry; doubles before each next one.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    /// Sent with every request (e.g. `Authorization`); `Content-Type` and `Accept` default to JSON.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Two seconds: a backend lookup that takes longer leaves the caller in silence too long, and with
/// two retries the worst case (6.6 s) is still a pause a caller sits through.
fn default_timeout_ms() -> u64 {
    2000
}

fn default_retries() -> u32 {
    2
}

/// 200 ms: long enough for a restarting service or a dropped connection to come back, short
/// enough that a retry is not heard as a pause.
fn default_backoff_ms() -> u64 {
    200
}

impl WebhookConfig {
    /// A POST to `url` with the default timeout, retries and backoff.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            method: Method::default(),
            timeout_ms: default_timeout_ms(),
            retries: default_retries(),
            backoff_ms: default_backoff_ms(),
            headers: BTreeMap::new(),
        }
    }

    /// The longest a call can take: `timeout_ms × (retries + 1)` for the attempts, plus
    /// `backoff_ms × (2^retries − 1)` for the waits between them. [`Webhook::call`] never runs past it.
    pub fn deadline(&self) -> Duration {
        let attempts = u64::from(self.retries).saturating_add(1);
        let doublings = 1u64.checked_shl(self.retries).unwrap_or(u64::MAX).saturating_sub(1);
        let ms = self.timeout_ms.saturating_mul(attempts).saturating_add(self.backoff_ms.saturating_mul(doublings));
        Duration::from_millis(ms)
    }
}

/// Header values may be secrets (`Authorization`): debug output names the headers only.
impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("method", &self.method)
            .field("timeout_ms", &self.timeout_ms)
            .field("retries", &self.retries)
            .field("backoff_ms", &self.backoff_ms)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook `{action}`: {field} {reason}")]
    InvalidConfig { action: String, field: &'static str, reason: String },
    #[error(
        "webhook `{action}` ({method} {url}): no answer within {timeout_ms} ms, {attempts} attempt(s); \
         check that the service is up, or raise `timeout_ms` if it is just slow"
    )]
    Timeout { action: String, method: Method, url: String, timeout_ms: u64, attempts: u32 },
    #[error(
        "webhook `{action}` ({method} {url}) answered HTTP {code} after {attempts} attempt(s): {body:?}; {}",
        status_hint(*code)
    )]
    Status { action: String, method: Method, url: String, code: u16, body: String, attempts: u32 },
    #[error(
        "webhook `{action}` ({method} {url}) answered with a body that is not JSON ({reason}): {body:?}; \
         the service must answer with a JSON object"
    )]
    InvalidJson { action: String, method: Method, url: String, reason: String, body: String, attempts: u32 },
    #[error(
        "webhook `{action}` ({method} {url}) answered with a JSON {found}, not an object; the service \
         must answer with a JSON object (`{{...}}`) whose fields the flow can use"
    )]
    NotAnObject { action: String, method: Method, url: String, found: &'static str, attempts: u32 },
    #[error(
        "webhook `{action}` ({method} {url}): cannot connect ({reason}), {attempts} attempt(s); check the \
         url and that the service is running"
    )]
    Connect { action: String, method: Method, url: String, reason: String, attempts: u32 },
    /// A failure retrying cannot fix: TLS, a malformed answer, a payload GET cannot send.
    #[error("webhook `{action}` ({method} {url}): {reason} ({attempts} attempt(s))")]
    Request { action: String, method: Method, url: String, reason: String, attempts: u32 },
}

impl WebhookError {
    /// How many requests were sent before giving up (0 for a configuration error).
    pub fn attempts(&self) -> u32 {
        match self {
            Self::InvalidConfig { .. } => 0,
            Self::Timeout { attempts, .. }
            | Self::Status { attempts, .. }
            | Self::InvalidJson { attempts, .. }
            | Self::NotAnObject { attempts, .. }
            | Self::Connect { attempts, .. }
            | Self::Request { attempts, .. } => *attempts,
        }
    }
}

fn status_hint(code: u16) -> &'static str {
    match code {
        300..=399 => "redirects are not followed; put the address it redirects to in `url`",
        401 | 403 => "the service refused the credentials; check the `headers` (e.g. Authorization)",
        400..=499 => "the service refused the request; check the url and the payload it expects",
        _ => "the service failed; it may be down or overloaded",
    }
}

/// A named, validated webhook, ready to call. Cheap to share: calls do not change it.
#[derive(Debug)]
pub struct Webhook {
    name: String,
    config: WebhookConfig,
    agent: ureq::Agent,
}

/// Why one attempt failed, before it is known whether it was the last.
enum Failure {
    Timeout,
    Status { code: u16, body: String },
    InvalidJson { reason: String, body: String },
    NotAnObject { found: &'static str },
    Connect { reason: String },
    Request { reason: String },
}

impl Failure {
    /// Failures that may pass: the connection, the time limit, the service's own error.
    fn may_pass(&self) -> bool {
        match self {
            Self::Timeout | Self::Connect { .. } => true,
            Self::Status { code, .. } => *code >= 500,
            Self::InvalidJson { .. } | Self::NotAnObject { .. } | Self::Request { .. } => false,
        }
    }
}

impl Webhook {
    /// Checks `config` (URL scheme and host, timeout, deadline, header names and values).
    pub fn new(name: impl Into<String>, config: WebhookConfig) -> Result<Webhook, WebhookError> {
        let name = name.into();
        validate(&name, &config)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Status codes are read here: 4xx and 5xx are handled differently, and their bodies quoted.
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("helpline/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Webhook { name, config, agent })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// Sends `payload`, retrying as configured, and returns the service's JSON object. Returns within
    /// [`WebhookConfig::deadline`].
    ///
    /// Every attempt of one call carries the same `Idempotency-Key` header: a retry after a timeout
    /// or a 5xx may reach a service that already acted on the first attempt, and the key lets it
    /// recognise the repeat rather than, say, book the appointment twice.
    pub fn call(&self, payload: &Value) -> Result<Value, WebhookError> {
        let idempotency_key = format!("{:032x}", fastrand::u128(..));
        let started = Instant::now();
        let deadline = self.config.deadline();
        let mut backoff = Duration::from_millis(self.config.backoff_ms);
        let mut attempts = 0;
        loop {
            attempts += 1;
            // Each attempt gets its own timeout, cut short if the whole call's deadline comes first.
            let limit = Duration::from_millis(self.config.timeout_ms).min(deadline.saturating_sub(started.elapsed()));
            let failure = match self.attempt(payload, &idempotency_key, limit) {
                Ok(object) => return Ok(Value::Object(object)),
                Err(failure) => failure,
            };
            let remaining = deadline.saturating_sub(started.elapsed());
            if !failure.may_pass() || attempts > self.config.retries || remaining <= backoff {
                return Err(self.error(failure, attempts));
            }
            tracing::warn!(action = %self.name, url = %self.config.url, attempts, "webhook failed; retrying");
            std::thread::sleep(backoff);
            backoff = backoff.saturating_mul(2);
        }
    }

    /// One request and its answer, within `limit`.
    fn attempt(&self, payload: &Value, idempotency_key: &str, limit: Duration) -> Result<Map<String, Value>, Failure> {
        let sent = match self.config.method {
            Method::Get => {
                let query = query_pairs(payload).map_err(|reason| Failure::Request { reason })?;
                let request = self.with_headers(self.agent.get(&self.config.url), idempotency_key).query_pairs(query);
                request.config().timeout_global(Some(limit)).build().call()
            }
            Method::Post | Method::Put => {
                let request = match self.config.method {
                    Method::Put => self.agent.put(&self.config.url),
                    _ => self.agent.post(&self.config.url),
                };
                let request = self.with_headers(request, idempotency_key);
                request.config().timeout_global(Some(limit)).build().send(payload.to_string())
            }
        };
        let mut response = sent.map_err(transport_failure)?;
        let code = response.status().as_u16();
        let location = response.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_string);
        let body = response.body_mut().with_config().limit(MAX_BODY_BYTES).read_to_vec().map_err(|e| match e {
            // The answer was cut off by the time limit.
            ureq::Error::Timeout(_) => Failure::Timeout,
            e => Failure::Request { reason: format!("cannot read the answer (HTTP {code}): {e}") },
        })?;

        if !(200..300).contains(&code) {
            let body = match location {
                Some(location) if (300..400).contains(&code) => format!("redirects to {location}"),
                _ => excerpt(&body),
            };
            return Err(Failure::Status { code, body });
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(object)) => Ok(object),
            Ok(other) => Err(Failure::NotAnObject { found: json_kind(&other) }),
            Err(e) => Err(Failure::InvalidJson { reason: e.to_string(), body: excerpt(&body) }),
        }
    }

    /// The error to report for the last attempt's failure.
    fn error(&self, failure: Failure, attempts: u32) -> WebhookError {
        let (action, method, url) = (self.name.clone(), self.config.method, self.config.url.clone());
        match failure {
            Failure::Timeout => {
                WebhookError::Timeout { action, method, url, timeout_ms: self.config.timeout_ms, attempts }
            }
            Failure::Status { code, body } => WebhookError::Status { action, method, url, code, body, attempts },
            Failure::InvalidJson { reason, body } => {
                WebhookError::InvalidJson { action, method, url, reason, body, attempts }
            }
            Failure::NotAnObject { found } => WebhookError::NotAnObject { action, method, url, found, attempts },
            Failure::Connect { reason } => WebhookError::Connect { action, method, url, reason, attempts },
            Failure::Request { reason } => WebhookError::Request { action, method, url, reason, attempts },
        }
    }

    /// The configured headers, the call's idempotency key, and JSON as the content type and what is
    /// accepted unless the line says otherwise (a header is added, not replaced, so a default the
    /// line also sets would be sent twice).
    fn with_headers<B>(&self, request: ureq::RequestBuilder<B>, idempotency_key: &str) -> ureq::RequestBuilder<B> {
        let configured = |name: &str| self.config.headers.keys().any(|k| k.eq_ignore_ascii_case(name));
        let mut request = request.header("Idempotency-Key", idempotency_key);
        if !configured("accept") {
            request = request.header("Accept", "application/json");
        }
        if self.config.method != Method::Get && !configured("content-type") {
            request = request.header("Content-Type", "application/json");
        }
        for (name, value) in &self.config.headers {
            request = request.header(name, value);
        }
        request
    }
}

/// What a client error means for the attempt.
fn transport_failure(error: ureq::Error) -> Failure {
    match error {
        ureq::Error::Timeout(_) => Failure::Timeout,
        ureq::Error::Io(_) | ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            Failure::Connect { reason: error.to_string() }
        }
        other => Failure::Request { reason: other.to_string() },
    }
}

/// Checks a configuration once, at load, so a call never fails for a reason visible beforehand.
fn validate(action: &str, config: &WebhookConfig) -> Result<(), WebhookError> {
    let invalid =
        |field: &'static str, reason: String| WebhookError::InvalidConfig { action: action.to_string(), field, reason };
    // `ureq` parses URLs with the `http` crate's `Uri`; checking with the same parser means a URL
    // accepted here is one the client can send to.
    let uri: Uri = config.url.parse().map_err(|e| {
        invalid("url", format!("{:?} is not a valid URL ({e}); write it as https://host/path", config.url))
    })?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(invalid("url", format!("{:?} uses {other}:; use http or https", config.url))),
        None => return Err(invalid("url", format!("{:?} has no scheme; write it as https://host/path", config.url))),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("url", format!("{:?} has no host; write it as https://host/path", config.url)));
    }
    if config.timeout_ms == 0 || config.timeout_ms > MAX_TIMEOUT_MS {
        return Err(invalid(
            "timeout_ms",
            format!("is {}; use more than 0 and at most {MAX_TIMEOUT_MS} (30 s)", config.timeout_ms),
        ));
    }
    let deadline = config.deadline();
    if deadline > MAX_DEADLINE {
        return Err(invalid(
            "retries",
            format!(
                "{} with timeout_ms {} and backoff_ms {} let one call take up to {:.1} s (timeout × (retries + 1) \
                 + backoffs); keep it under {} s by lowering retries or timeout_ms",
                config.retries,
                config.timeout_ms,
                config.backoff_ms,
                deadline.as_secs_f64(),
                MAX_DEADLINE.as_secs()
            ),
        ));
    }
    for (name, value) in &config.headers {
        HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid("headers", format!("name {name:?} is not a valid HTTP header name")))?;
        HeaderValue::from_str(value).map_err(|_| {
            invalid("headers", format!("value of {name:?} has characters a header cannot carry (e.g. a line break)"))
        })?;
    }
    Ok(())
}

/// The payload of a GET as query parameters.
fn query_pairs(payload: &Value) -> Result<Vec<(String, String)>, String> {
    match payload {
        Value::Null => Ok(Vec::new()),
        Value::Object(fields) => Ok(fields
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (key.clone(), value)
            })
            .collect()),
        other => Err(format!(
            "a GET sends its payload as query parameters, so the payload must be a JSON object, not {}",
            json_kind(other)
        )),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The start of a body, on one line, for an error message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_yaml(yaml: &str) -> Result<WebhookConfig, String> {
        serde_saphyr::from_str(yaml).map_err(|e| e.to_string())
    }

    fn invalid(config: WebhookConfig) -> String {
        match Webhook::new("lookup_account", config) {
            Err(e @ WebhookError::InvalidConfig { .. }) => e.to_string(),
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn a_line_file_entry_reads_with_defaults() {
        let config = from_yaml("url: https://crm.acme.example/api/lookup\n").expect("parse");
        assert_eq!(config, WebhookConfig::new("https://crm.acme.example/api/lookup"));
        assert_eq!((config.method, config.timeout_ms, config.retries, config.backoff_ms), (Method::Post, 2000, 2, 200));
        // 3 attempts of 2 s, and 200 + 400 ms of waiting between them.
        assert_eq!(config.deadline(), Duration::from_millis(6600));
    }

    #[test]
    fn every_field_can_be_set() {
        let yaml = "url: http://localhost:8080/x\nmethod: get\ntimeout_ms: 500\nretries: 0\nbackoff_ms: 0\n\
                    headers:\n  Authorization: Bearer abc\n";
        let config = from_yaml(yaml).expect("parse");
        assert_eq!(config.method, Method::Get);
        assert_eq!(config.deadline(), Duration::from_millis(500));
        assert_eq!(config.headers.get("Authorization").map(String::as_str), Some("Bearer abc"));
        assert!(Webhook::new("x", config).is_ok());
    }

    #[test]
    fn unknown_keys_and_methods_are_refused() {
        let error = from_yaml("url: http://x.example\ntimeout: 5\n").expect_err("unknown key");
        assert!(error.contains("unknown field `timeout`") && error.contains("timeout_ms"), "{error}");
        let error = from_yaml("url: http://x.example\nmethod: DELETE\n").expect_err("unknown method");
        assert!(error.contains("DELETE") && error.contains("POST"), "{error}");
    }

    #[test]
    fn urls_must_be_http_or_https_with_a_host() {
        let message = invalid(WebhookConfig::new("ftp://files.acme.example/x"));
        assert!(message.contains("`lookup_account`") && message.contains("use http or https"), "{message}");
        let message = invalid(WebhookConfig::new("crm.acme.example/api"));
        assert!(message.contains("https://host/path"), "{message}");
        assert!(invalid(WebhookConfig::new("http://")).contains("not a valid URL"));
        assert!(invalid(WebhookConfig::new("not a url")).contains("not a valid URL"));
        assert!(Webhook::new("ok", WebhookConfig::new("https://crm.acme.example:8443/api?v=2")).is_ok());
    }

    #[test]
    fn timeouts_must_be_between_zero_and_thirty_seconds() {
        for timeout_ms in [0, 30_001] {
            let message = invalid(WebhookConfig { timeout_ms, ..WebhookConfig::new("http://x.example") });
            assert!(message.contains("timeout_ms is") && message.contains("at most 30000"), "{message}");
        }
        let longest = WebhookConfig { timeout_ms: 30_000, retries: 0, ..WebhookConfig::new("http://x.example") };
        assert!(Webhook::new("x", longest).is_ok());
    }

    #[test]
    fn a_call_that_could_keep_a_caller_waiting_over_a_minute_is_refused() {
        let config = WebhookConfig { timeout_ms: 30_000, retries: 2, ..WebhookConfig::new("http://x.example") };
        let message = invalid(config);
        assert!(message.contains("90.6 s") && message.contains("lowering retries or timeout_ms"), "{message}");
        // Absurd retry counts do not overflow the arithmetic.
        let config = WebhookConfig { retries: u32::MAX, ..WebhookConfig::new("http://x.example") };
        assert!(invalid(config).contains("retries"));
    }

    #[test]
    fn header_names_and_values_are_checked() {
        let mut config = WebhookConfig::new("http://x.example");
        config.headers.insert("Bad Header".into(), "x".into());
        assert!(invalid(config.clone()).contains("\"Bad Header\" is not a valid HTTP header name"));
        config.headers.clear();
        config.headers.insert("X-Token".into(), "a\nb".into());
        assert!(invalid(config).contains("value of \"X-Token\""));
    }

    #[test]
    fn debug_output_hides_header_values() {
        let mut config = WebhookConfig::new("http://x.example");
        config.headers.insert("Authorization".into(), "Bearer secret-token".into());
        let debug = format!("{config:?}");
        assert!(debug.contains("Authorization") && !debug.contains("secret-token"), "{debug}");
    }

    #[test]
    fn a_get_payload_must_be_an_object_or_null() {
        assert_eq!(query_pairs(&Value::Null), Ok(vec![]));
        let pairs = query_pairs(&serde_json::json!({"a": "x y", "b": 2, "c": null, "d": [1]})).expect("object");
        let expected = [("a", "x y"), ("b", "2"), ("c", ""), ("d", "[1]")];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_string(), v.to_string())));
        assert!(query_pairs(&serde_json::json!([1, 2])).expect_err("array").contains("not array"));
    }

    #[test]
    fn bodies_are_quoted_short_and_on_one_line() {
        assert_eq!(excerpt(b"  Internal\n  error \n"), "Internal error");
        let long = "x".repeat(500);
        let quoted = excerpt(long.as_bytes());
        assert_eq!(quoted.chars().count(), EXCERPT_CHARS + 1);
        assert!(quoted.ends_with('…'));
    }

    #[test]
    fn only_failures_that_may_pass_are_retried() {
        assert!(Failure::Timeout.may_pass());
        assert!(Failure::Connect { reason: String::new() }.may_pass());
        assert!(Failure::Status { code: 502, body: String::new() }.may_pass());
        assert!(!Failure::Status { code: 404, body: String::new() }.may_pass());
        assert!(!Failure::Status { code: 301, body: String::new() }.may_pass());
        assert!(!Failure::InvalidJson { reason: String::new(), body: String::new() }.may_pass());
        assert!(!Failure::NotAnObject { found: "array" }.may_pass());
    }

    #[test]
    fn a_webhook_can_be_shared_between_call_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Webhook>();
    }
}
