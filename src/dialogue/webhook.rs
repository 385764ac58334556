//! TEMPORARY placeholder (replaced by the faq branch).
use std::collections::BTreeMap;
#[derive(Debug, thiserror::Error)]
#[error("webhook")]
pub struct WebhookError;
#[derive(Debug, Clone, serde::Deserialize)]
pub struct WebhookConfig { pub url: String, #[serde(default)] pub timeout_ms: u64, #[serde(default)] pub retries: u32, #[serde(default)] pub headers: BTreeMap<String, String> }
pub struct Webhook;
impl Webhook {
    pub fn new(_name: &str, _c: WebhookConfig) -> Result<Webhook, WebhookError> { Ok(Webhook) }
    pub fn call(&self, _p: &serde_json::Value) -> Result<serde_json::Value, WebhookError> { Err(WebhookError) }
}
