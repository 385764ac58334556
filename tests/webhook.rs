//! Webhook actions against a real HTTP server on 127.0.0.1 (`tests/support/http_server.rs`).

mod support;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use helpline::dialogue::webhook::{Method, Webhook, WebhookConfig, WebhookError};
use serde_json::json;
use support::http_server::{spawn_test_server, Reply};

/// Short timings so failing paths finish fast: 3 attempts, 20 + 40 ms of backoff.
fn config(url: String) -> WebhookConfig {
    WebhookConfig { timeout_ms: 300, backoff_ms: 20, ..WebhookConfig::new(url) }
}

#[test]
fn a_json_object_answer_is_returned_and_the_payload_arrives_as_json() {
    let server = spawn_test_server(|_, _| Reply::json(200, json!({"balance": 1250.5, "currency": "USD"})));
    let mut config = config(server.url("/balance"));
    config.headers = BTreeMap::from([("Authorization".to_string(), "Bearer test-token".to_string())]);
    let hook = Webhook::new("check_balance", config).expect("valid config");

    let answer = hook.call(&json!({"account": "12345678", "caller": "+15551234567"})).expect("call");

    assert_eq!(answer, json!({"balance": 1250.5, "currency": "USD"}));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!((request.method.as_str(), request.url.as_str()), ("POST", "/balance"));
    assert_eq!(request.json(), Some(json!({"account": "12345678", "caller": "+15551234567"})));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), Some("Bearer test-token"));
    assert!(request.header("idempotency-key").is_some_and(|k| k.len() == 32));
}

#[test]
fn a_get_sends_the_payload_as_query_parameters() {
    let server = spawn_test_server(|_, _| Reply::json(200, json!({"open": true})));
    let hook = Webhook::new("branch_open", WebhookConfig { method: Method::Get, ..config(server.url("/branch")) })
        .expect("valid config");

    let answer = hook.call(&json!({"branch": "Main St & 5th", "day": 6, "holiday": false})).expect("call");

    assert_eq!(answer, json!({"open": true}));
    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.url, "/branch?branch=Main%20St%20%26%205th&day=6&holiday=false");
    assert_eq!(request.body, "");
}

#[test]
fn a_put_sends_the_payload_as_its_body() {
    let server = spawn_test_server(|_, _| Reply::json(200, json!({"updated": true})));
    let hook = Webhook::new("update_address", WebhookConfig { method: Method::Put, ..config(server.url("/address")) })
        .expect("valid config");
    assert_eq!(hook.call(&json!({"zip": "62705"})).expect("call"), json!({"updated": true}));
    let request = &server.requests()[0];
    assert_eq!((request.method.as_str(), request.json()), ("PUT", Some(json!({"zip": "62705"}))));
}

#[test]
fn a_configured_content_type_replaces_the_json_default() {
    let server = spawn_test_server(|_, _| Reply::json(200, json!({})));
    let mut config = config(server.url("/hook"));
    config.headers.insert("content-type".into(), "application/vnd.acme+json".into());
    Webhook::new("custom_type", config).expect("valid config").call(&json!({})).expect("call");
    let request = &server.requests()[0];
    let types: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(types, ["application/vnd.acme+json"]);
    assert_eq!(request.header("accept"), Some("application/json"));
}

#[test]
fn an_empty_answer_reads_as_an_empty_object() {
    let server = spawn_test_server(|_, _| Reply::text(204, ""));
    let hook = Webhook::new("log_callback", config(server.url("/log"))).expect("valid config");
    assert_eq!(hook.call(&json!({})).expect("call"), json!({}));
}

#[test]
fn a_server_error_is_retried_and_the_retry_succeeds() {
    let server = spawn_test_server(|_, attempt| match attempt {
        1 => Reply::text(500, "database restarting"),
        _ => Reply::json(200, json!({"ok": true})),
    });
    let hook = Webhook::new("book_appointment", config(server.url("/book"))).expect("valid config");

    assert_eq!(hook.call(&json!({"slot": "10:30"})).expect("call"), json!({"ok": true}));
    assert_eq!(server.hits(), 2);
    let requests = server.requests();
    // Both attempts carry the same key, so the service can tell a retry from a second booking.
    assert_eq!(requests[0].header("idempotency-key"), requests[1].header("idempotency-key"));
}

#[test]
fn a_server_that_always_fails_is_tried_retries_plus_one_times() {
    let server = spawn_test_server(|_, _| Reply::text(503, "Service Unavailable"));
    let hook = Webhook::new("book_appointment", config(server.url("/book"))).expect("valid config");

    let error = hook.call(&json!({})).expect_err("503 every time");

    assert_eq!(server.hits(), 3);
    assert_eq!(error.attempts(), 3);
    assert!(matches!(&error, WebhookError::Status { code: 503, body, .. } if body == "Service Unavailable"), "{error}");
    let message = error.to_string();
    assert!(message.contains("`book_appointment`") && message.contains(&server.url("/book")), "{message}");
    assert!(message.contains("HTTP 503 after 3 attempt(s)"), "{message}");
}

#[test]
fn a_client_error_is_not_retried() {
    let server = spawn_test_server(|_, _| Reply::json(404, json!({"error": "no such account"})));
    let hook = Webhook::new("lookup_account", config(server.url("/accounts"))).expect("valid config");

    let error = hook.call(&json!({"account": "0"})).expect_err("404");

    assert_eq!(server.hits(), 1);
    assert!(matches!(&error, WebhookError::Status { code: 404, attempts: 1, .. }), "{error}");
    assert!(error.to_string().contains(r#"no such account"#), "the body is quoted: {error}");
}

#[test]
fn an_answer_that_is_not_json_is_an_error_and_not_retried() {
    let server = spawn_test_server(|_, _| Reply::text(200, "<html>Welcome to nginx!</html>"));
    let hook = Webhook::new("lookup_account", config(server.url("/accounts"))).expect("valid config");

    let error = hook.call(&json!({})).expect_err("HTML is not JSON");

    assert_eq!(server.hits(), 1);
    assert!(matches!(&error, WebhookError::InvalidJson { attempts: 1, .. }), "{error}");
    assert!(error.to_string().contains("Welcome to nginx"), "the body is quoted: {error}");
}

#[test]
fn an_answer_that_is_json_but_not_an_object_is_an_error() {
    let server = spawn_test_server(|_, _| Reply::json(200, json!([1, 2, 3])));
    let hook = Webhook::new("lookup_account", config(server.url("/accounts"))).expect("valid config");
    let error = hook.call(&json!({})).expect_err("an array");
    assert!(matches!(&error, WebhookError::NotAnObject { found: "array", attempts: 1, .. }), "{error}");
}

#[test]
fn a_slow_server_times_out_within_the_deadline() {
    let server = spawn_test_server(|_, _| Reply::json(200, json!({"late": true})).after(Duration::from_secs(5)));
    let config =
        WebhookConfig { timeout_ms: 100, retries: 1, backoff_ms: 20, ..WebhookConfig::new(server.url("/slow")) };
    let deadline = config.deadline();
    let hook = Webhook::new("slow_lookup", config).expect("valid config");

    let started = Instant::now();
    let error = hook.call(&json!({})).expect_err("too slow");
    let took = started.elapsed();

    assert!(matches!(&error, WebhookError::Timeout { timeout_ms: 100, attempts: 2, .. }), "{error}");
    assert_eq!(deadline, Duration::from_millis(220));
    // Slack for thread scheduling on a busy machine; far below the server's 5 s.
    assert!(took < deadline + Duration::from_millis(500), "took {took:?}, deadline {deadline:?}");
    assert_eq!(server.hits(), 2);
}

#[test]
fn a_refused_connection_is_retried_then_reported() {
    // A port that was just free: bind, note it, close.
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let hook = Webhook::new("lookup_account", config(url.clone())).expect("valid config");

    let error = hook.call(&json!({})).expect_err("nothing listens");

    assert!(matches!(&error, WebhookError::Connect { attempts: 3, .. }), "{error}");
    assert!(error.to_string().contains(&url), "{error}");
}
