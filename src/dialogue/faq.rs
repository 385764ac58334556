//! TEMPORARY placeholder (replaced by the faq branch).
use std::path::Path;
use std::sync::Arc;
use crate::nlu::encoder::SentenceEncoder;
#[derive(Debug, thiserror::Error)]
#[error("faq")]
pub struct FaqError;
pub struct FaqAnswer { pub id: String, pub answer: String, pub matched: String, pub score: f32 }
pub struct KnowledgeBase;
impl KnowledgeBase {
    pub fn load(_path: &Path, _encoder: Arc<SentenceEncoder>) -> Result<KnowledgeBase, FaqError> { Ok(KnowledgeBase) }
    pub fn answer(&self, _q: &str) -> Result<Option<FaqAnswer>, FaqError> { Ok(None) }
}
