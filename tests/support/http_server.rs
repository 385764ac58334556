//! A real HTTP server on 127.0.0.1 for tests of webhook actions: it answers each request with what a
//! handler decides, and records what it received.
//!
//! ```ignore
//! mod support;
//! use support::http_server::{spawn_test_server, Reply};
//!
//! let server = spawn_test_server(|request, _| Reply::json(200, serde_json::json!({"balance": 42})));
//! let hook = Webhook::new("balance", WebhookConfig::new(server.url("/balance")))?;
//! assert_eq!(server.hits(), 1);
//! ```
//!
//! Built on `tiny_http` (a small, well-kept synchronous server) so HTTP parsing is not hand-written.
//! Every request is answered on its own thread, so a handler that delays its reply (to test a
//! client's timeout) does not hold up the next request. The server stops when dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path with its query string, e.g. `/lookup?id=7`.
    pub url: String,
    /// `(name, value)` in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body read as JSON (None when it is not).
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub content_type: &'static str,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self { status, body: body.to_string(), content_type: "application/json", delay: Duration::ZERO }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Self { status, body: body.to_string(), content_type: "text/plain", delay: Duration::ZERO }
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A running server; stops accepting when dropped.
pub struct TestServer {
    base: String,
    hits: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Request>>>,
    server: Arc<tiny_http::Server>,
    accept: Option<JoinHandle<()>>,
}

impl TestServer {
    /// The server's address with `path` (which starts with `/`), e.g. `http://127.0.0.1:41234/lookup`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// How many requests have arrived so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The requests received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Starts a server on a free port of 127.0.0.1. `handler` gets each request and its number (from 1,
/// in order of arrival) and says what to answer.
pub fn spawn_test_server<F>(handler: F) -> TestServer
where
    F: Fn(&Request, usize) -> Reply + Send + Sync + 'static,
{
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind a test server on 127.0.0.1"));
    let port = server.server_addr().to_ip().expect("an IP address").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let handler = Arc::new(handler);
    let accept = {
        let (server, hits, requests) = (Arc::clone(&server), Arc::clone(&hits), Arc::clone(&requests));
        std::thread::spawn(move || {
            // `recv` returns an error once `unblock` is called from `drop`.
            while let Ok(mut incoming) = server.recv() {
                let number = hits.fetch_add(1, Ordering::SeqCst) + 1;
                let mut body = String::new();
                let _ = incoming.as_reader().read_to_string(&mut body);
                let request = Request {
                    method: incoming.method().to_string(),
                    url: incoming.url().to_string(),
                    headers: incoming
                        .headers()
                        .iter()
                        .map(|h| (h.field.as_str().to_string(), h.value.as_str().to_string()))
                        .collect(),
                    body,
                };
                if let Ok(mut all) = requests.lock() {
                    all.push(request.clone());
                }
                let handler = Arc::clone(&handler);
                std::thread::spawn(move || {
                    let reply = handler(&request, number);
                    std::thread::sleep(reply.delay);
                    let content_type = tiny_http::Header::from_bytes("Content-Type", reply.content_type)
                        .expect("a valid content type");
                    let response = tiny_http::Response::from_string(reply.body)
                        .with_status_code(reply.status)
                        .with_header(content_type);
                    // The client may have given up (a timeout test): nothing to do about it.
                    let _ = incoming.respond(response);
                });
            }
        })
    };
    TestServer { base: format!("http://127.0.0.1:{port}"), hits, requests, server, accept: Some(accept) }
}
