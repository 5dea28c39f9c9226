//! SITHS revocation lists: fetched over HTTP from the distribution points of certificates that
//! already chain to a trust anchor (never from a URL a stranger's certificate names), kept until
//! their nextUpdate, refreshed in the background before then. The lists' signatures are checked
//! where they are used (`verify::check_revocation`, against the issuer on the verified path); a
//! list that fails there is dropped so the next login fetches it again. Logs the URLs (they name
//! a CA, not a person), never a certificate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use webpki::{CertRevocationList, OwnedCertRevocationList};
use x509_parser::prelude::FromDer as _;
use x509_parser::revocation_list::CertificateRevocationList;

/// A fetch of a CRL gives up after this long.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// A CRL larger than this is refused (SITHS's are a few megabytes at most).
const MAX_CRL_BYTES: usize = 32 * 1024 * 1024;
/// At most this many distribution points are remembered (only trusted CAs' are ever asked).
const MAX_URLS: usize = 64;

/// One distribution point's list, as last fetched.
#[derive(Debug, Clone)]
pub struct Cached {
    pub crl: Arc<CertRevocationList<'static>>,
    /// thisUpdate and nextUpdate, Unix seconds.
    pub this_update: i64,
    pub next_update: i64,
    /// When it was fetched, Unix seconds.
    pub fetched_at: i64,
}

impl Cached {
    /// Still usable at `now`: before its nextUpdate.
    pub fn fresh_at(&self, now: i64) -> bool {
        now < self.next_update
    }

    /// Time to fetch the next one: three quarters of the way to nextUpdate.
    fn due_at(&self, now: i64) -> bool {
        let lifetime = (self.next_update - self.fetched_at).max(0);
        now >= self.fetched_at + lifetime * 3 / 4
    }
}

#[derive(Debug, Default)]
struct Entry {
    /// Held while fetching, so concurrent logins wait for one download.
    cached: tokio::sync::Mutex<Option<Cached>>,
    /// The issuer the list must come from (DER name), as the certificate that named it says.
    issuer: Vec<u8>,
}

/// Why no list could be had: said in the log and, shortened, in the refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrlError {
    #[error("fetching {url} failed: {reason}")]
    Fetch { url: String, reason: String },
    #[error("the CRL at {url} does not parse: {reason}")]
    Malformed { url: String, reason: String },
    #[error("the CRL at {url} is from another issuer than the certificate's")]
    WrongIssuer { url: String },
    #[error("the CRL at {url} is past its nextUpdate")]
    Stale { url: String },
    #[error("too many CRL distribution points")]
    TooMany,
}

/// The lists by distribution point URL.
#[derive(Debug)]
pub struct CrlCache {
    client: reqwest::Client,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
}

impl CrlCache {
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        Ok(CrlCache {
            client,
            entries: Mutex::new(HashMap::new()),
        })
    }

    fn entry(&self, url: &str, issuer: &[u8]) -> Result<Arc<Entry>, CrlError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = entries.get(url) {
            return Ok(Arc::clone(entry));
        }
        if entries.len() >= MAX_URLS {
            return Err(CrlError::TooMany);
        }
        let entry = Arc::new(Entry {
            cached: tokio::sync::Mutex::new(None),
            issuer: issuer.to_vec(),
        });
        entries.insert(url.to_owned(), Arc::clone(&entry));
        Ok(entry)
    }

    /// The list at `url` for certificates issued by `issuer`, fresh at `now`: the cached one
    /// before its nextUpdate, otherwise fetched now.
    pub async fn get(&self, url: &str, issuer: &[u8], now: i64) -> Result<Cached, CrlError> {
        let entry = self.entry(url, issuer)?;
        let mut cached = entry.cached.lock().await;
        if let Some(fresh) = cached.as_ref().filter(|c| c.fresh_at(now)) {
            return Ok(fresh.clone());
        }
        let fetched = self.fetch(url, &entry.issuer, now).await?;
        *cached = Some(fetched.clone());
        Ok(fetched)
    }

    /// Forgets the list at `url` (it failed its signature check): the next use fetches it.
    pub async fn forget(&self, url: &str) {
        let entry = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(url)
            .cloned();
        if let Some(entry) = entry {
            *entry.cached.lock().await = None;
        }
    }

    /// Fetches again every list that is three quarters of the way to its nextUpdate (or that
    /// could not be had last time), so logins seldom wait for a download.
    pub async fn refresh_due(&self, now: i64) {
        let entries: Vec<(String, Arc<Entry>)> = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(url, entry)| (url.clone(), Arc::clone(entry)))
            .collect();
        for (url, entry) in entries {
            let due = entry
                .cached
                .lock()
                .await
                .as_ref()
                .is_none_or(|cached| cached.due_at(now));
            if !due {
                continue;
            }
            match self.fetch(&url, &entry.issuer, now).await {
                Ok(fetched) => *entry.cached.lock().await = Some(fetched),
                Err(error) => tracing::warn!(%error, "could not refresh a SITHS CRL"),
            }
        }
    }

    async fn fetch(&self, url: &str, issuer: &[u8], now: i64) -> Result<Cached, CrlError> {
        let failed = |reason: String| CrlError::Fetch {
            url: url.to_owned(),
            reason,
        };
        let started = std::time::Instant::now();
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?
        {
            if body.len() + chunk.len() > MAX_CRL_BYTES {
                return Err(failed("larger than 32 MB".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let cached = parse(url, &body, issuer, now)?;
        tracing::info!(
            url,
            bytes = body.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            next_update = cached.next_update,
            "fetched a SITHS CRL"
        );
        Ok(cached)
    }
}

/// A downloaded list: parsed for use (webpki) and for its times (x509-parser), from `issuer`,
/// not yet past its nextUpdate. Public for the fuzzer (`internal::parse_crl`).
pub fn parse(url: &str, der: &[u8], issuer: &[u8], now: i64) -> Result<Cached, CrlError> {
    let malformed = |reason: String| CrlError::Malformed {
        url: url.to_owned(),
        reason,
    };
    let (_, parsed) =
        CertificateRevocationList::from_der(der).map_err(|e| malformed(e.to_string()))?;
    if parsed.issuer().as_raw() != issuer {
        return Err(CrlError::WrongIssuer {
            url: url.to_owned(),
        });
    }
    let next_update = parsed
        .next_update()
        .ok_or_else(|| malformed("no nextUpdate".into()))?
        .timestamp();
    let this_update = parsed.last_update().timestamp();
    if now >= next_update {
        return Err(CrlError::Stale {
            url: url.to_owned(),
        });
    }
    let owned = OwnedCertRevocationList::from_der(der).map_err(|e| malformed(format!("{e:?}")))?;
    Ok(Cached {
        crl: Arc::new(CertRevocationList::from(owned)),
        this_update,
        next_update,
        fetched_at: now,
    })
}
