//! A bounded cache of rendered prompts. A phone line says the same few things all day ("Thank you for
//! calling Acme Bank.", "Is there anything else?"), so their encoded audio is kept and reused instead of
//! being synthesised again.
//!
//! Keyed by the prompt text and a format key chosen by the caller (say `"mulaw-8k"`), so one prompt can
//! be held in several encodings. Bounded by total bytes; the least recently used prompts go first.
//! The recency order is `lru`'s; the byte budget is kept here, since prompts differ a lot in size.

use std::sync::{Arc, Mutex};

/// Rendered audio shared between the cache and the callers playing it.
pub type Rendered = Arc<Vec<u8>>;

/// A least-recently-used cache of rendered prompts, safe to share between calls (`&self` methods).
pub struct PromptCache {
    max_bytes: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    /// Unbounded by count: eviction is by bytes, below.
    entries: lru::LruCache<(String, String), Rendered>,
    bytes: usize,
    hits: u64,
    misses: u64,
}

/// Counters for benchmarks and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: usize,
    pub bytes: usize,
    pub hits: u64,
    pub misses: u64,
}

impl PromptCache {
    /// A cache holding at most `max_bytes` of audio. A single prompt bigger than that is never kept.
    pub fn new(max_bytes: usize) -> Self {
        let entries = lru::LruCache::unbounded();
        Self { max_bytes, inner: Mutex::new(Inner { entries, bytes: 0, hits: 0, misses: 0 }) }
    }

    /// The cached audio for `text` in `format`, if any (and mark it recently used).
    pub fn get(&self, text: &str, format: &str) -> Option<Rendered> {
        let mut inner = self.lock();
        // The key is an owned pair; building it costs two small allocations, negligible next to audio.
        let found = inner.entries.get(&(text.to_string(), format.to_string())).map(Arc::clone);
        if found.is_some() {
            inner.hits += 1;
        } else {
            inner.misses += 1;
        }
        found
    }

    /// Keep `audio` for `text` in `format`, evicting the least recently used prompts to make room.
    /// Returns the shared audio either way.
    pub fn insert(&self, text: &str, format: &str, audio: Vec<u8>) -> Rendered {
        let audio = Arc::new(audio);
        let size = audio.len();
        if size > self.max_bytes {
            return audio;
        }
        let mut inner = self.lock();
        let key = (text.to_string(), format.to_string());
        if let Some(old) = inner.entries.pop(&key) {
            inner.bytes -= old.len();
        }
        while inner.bytes + size > self.max_bytes {
            let Some((_, evicted)) = inner.entries.pop_lru() else { break };
            inner.bytes -= evicted.len();
        }
        inner.bytes += size;
        inner.entries.put(key, Arc::clone(&audio));
        audio
    }

    /// The cached audio, or `render()`'s, which is then cached. `render` runs without the cache locked,
    /// so other prompts can be served meanwhile; two callers missing the same prompt at once both
    /// render it, and the second result is kept.
    pub fn get_or_render<E>(
        &self,
        text: &str,
        format: &str,
        render: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Rendered, E> {
        if let Some(audio) = self.get(text, format) {
            return Ok(audio);
        }
        Ok(self.insert(text, format, render()?))
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats { entries: inner.entries.len(), bytes: inner.bytes, hits: inner.hits, misses: inner.misses }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The state is consistent after every statement, so a panic elsewhere cannot leave it broken.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_by_text_and_format() {
        let cache = PromptCache::new(100);
        cache.insert("Hello.", "mulaw-8k", vec![1; 10]);
        assert_eq!(cache.get("Hello.", "mulaw-8k").as_deref(), Some(&vec![1; 10]));
        assert!(cache.get("Hello.", "wav-22k").is_none());
        assert!(cache.get("Goodbye.", "mulaw-8k").is_none());
        assert_eq!(cache.stats(), CacheStats { entries: 1, bytes: 10, hits: 1, misses: 2 });
    }

    #[test]
    fn evicts_least_recently_used_by_bytes() {
        let cache = PromptCache::new(25);
        cache.insert("a", "f", vec![0; 10]);
        cache.insert("b", "f", vec![0; 10]);
        assert!(cache.get("a", "f").is_some()); // "b" is now the oldest
        cache.insert("c", "f", vec![0; 10]);
        assert!(cache.get("a", "f").is_some());
        assert!(cache.get("b", "f").is_none());
        assert!(cache.get("c", "f").is_some());
        assert_eq!(cache.stats().bytes, 20);
        // Replacing an entry does not count it twice; an oversized prompt is returned but not kept.
        cache.insert("c", "f", vec![0; 5]);
        assert_eq!(cache.stats().bytes, 15);
        assert_eq!(cache.insert("huge", "f", vec![0; 26]).len(), 26);
        assert!(cache.get("huge", "f").is_none());
    }

    #[test]
    fn renders_once() {
        let cache = PromptCache::new(1000);
        let mut renders = 0;
        for _ in 0..3 {
            let audio = cache
                .get_or_render("Hi.", "f", || {
                    renders += 1;
                    Ok::<_, ()>(vec![7; 4])
                })
                .expect("render succeeds");
            assert_eq!(*audio, vec![7; 4]);
        }
        assert_eq!(renders, 1);
        assert!(cache.get_or_render("Bad.", "f", || Err("failed")).is_err());
        assert!(cache.get("Bad.", "f").is_none());
    }
}
