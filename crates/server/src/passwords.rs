//! Password policy and hashing: argon2id (m = 19 MiB, t = 2, p = 1, OWASP) on a pool of one
//! thread per core, so a login never stalls the async workers, each thread hashing in working
//! memory it keeps and zeroizes after every hash; a bounded queue in front of it (full: the
//! request is `503 overloaded`, not queued without end), and a hash whose client has left is
//! skipped; the common-password list. Passwords are NFKC-normalized before anything looks at
//! them, and a hash made with older parameters is replaced at the next right password. Never
//! logs a password or a hash.

use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock, PoisonError};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use legitimera_protocol::{FieldError, Password, SecretString};
use unicode_normalization::UnicodeNormalization as _;
use zeroize::{Zeroize, Zeroizing};

/// OWASP's argon2id parameters: 19 MiB of memory, 2 passes, 1 lane.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const LANES: u32 = 1;

/// Built by `examples/common_passwords.rs` (see there for how); one lowercase entry a line.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// The password as typed, NFKC-normalized, then held to the length rules: what is hashed and
/// checked against the list. The same password typed on macOS (decomposed, NFD) and Windows
/// (composed, NFC) is then the same, as are full-width and ordinary letters.
pub fn normalize(input: &SecretString) -> Result<Password, FieldError> {
    let normalized = Zeroizing::new(input.expose().nfkc().collect::<String>());
    Password::parse(&SecretString::new(normalized.as_str()))
}

/// What checking a login's password found.
#[derive(Debug)]
pub enum Verified {
    Wrong,
    /// Right. `rehash`: the stored hash should be replaced by a hash of this (normalized)
    /// password: it was made with older parameters, or of the password before normalization.
    Right {
        rehash: Option<Password>,
    },
}

/// Whether `stored` was made with other than today's algorithm and parameters.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let current = Params::try_from(&parsed)
        .ok()
        .map(|p| (p.m_cost(), p.t_cost(), p.p_cost()));
    parsed.algorithm != Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13.into())
        || current != Some((MEMORY_KIB, ITERATIONS, LANES))
}

/// Whether a password is on the shipped list of common passwords (compared lowercased).
pub fn is_common(password: &Password) -> bool {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let list = LIST.get_or_init(|| COMMON_PASSWORDS.lines().collect());
    let lowered = zeroize::Zeroizing::new(password.expose().to_lowercase());
    list.contains(lowered.as_str())
}

/// How many entries the common-password list holds.
pub fn common_list_len() -> usize {
    COMMON_PASSWORDS.lines().count()
}

/// Hashes that may wait for a hashing thread, per thread. Each takes tens of milliseconds, so
/// a full queue is a second or two of work: a request beyond it is better told to come back.
pub const QUEUED_PER_THREAD: usize = 32;

/// Why a hash was not made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    #[error("too many password hashes are waiting")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Hashes and verifies passwords off the async workers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hasher {
    /// A real hash of a random password, verified against when the account does not exist,
    /// so an unknown e-mail costs as much time as a wrong password.
    dummy_hash: Arc<str>,
    pool: Arc<HashPool>,
}

type Job = Box<dyn FnOnce() + Send>;

/// One hashing thread per core, fed from one queue. Each hash is pure CPU, so more at a time
/// would only share the cores and hold 19 MiB apiece; and a thread that finds the next job
/// waiting starts it at once, where a hand-off through the blocking pool costs two wake-ups,
/// each a wait for a core on a busy machine. The threads end when the last `Hasher` goes.
#[derive(Debug)]
struct HashPool {
    jobs: mpsc::SyncSender<Job>,
    /// Hashes not made because nobody waited for them any more.
    skipped: Arc<AtomicU64>,
}

impl HashPool {
    fn start(threads: usize, queued: usize) -> anyhow::Result<Self> {
        let (sender, receiver) = mpsc::sync_channel::<Job>(queued);
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..threads {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || loop {
                    let next = receiver
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .recv();
                    let Ok(job) = next else {
                        return;
                    };
                    // A panic loses that one answer (its caller sees an error), not the thread.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                })?;
        }
        Ok(HashPool {
            jobs: sender,
            skipped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Runs `work` on a hashing thread and waits for its answer; `Busy` at once when the
    /// queue is full. If the caller stops waiting (the client left and its request was
    /// dropped) before a thread gets to the work, it is skipped.
    async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<R> + Send + 'static,
    ) -> Result<R, HashError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let skipped = Arc::clone(&self.skipped);
        let job: Job = Box::new(move || {
            if answer.is_closed() {
                skipped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let _ = answer.send(work());
        });
        self.jobs.try_send(job).map_err(|error| match error {
            mpsc::TrySendError::Full(_) => HashError::Busy,
            mpsc::TrySendError::Disconnected(_) => {
                HashError::Failed(anyhow::anyhow!("the hashing threads are gone"))
            }
        })?;
        Ok(answered
            .await
            .map_err(|_| anyhow::anyhow!("a hashing thread failed"))??)
    }
}

impl Hasher {
    /// One hashing thread per core, [`QUEUED_PER_THREAD`] waiting hashes per thread.
    pub fn new() -> anyhow::Result<Self> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_capacity(threads, threads * QUEUED_PER_THREAD)
    }

    /// `threads` hashing threads and room for `queued` hashes waiting for them.
    pub fn with_capacity(threads: usize, queued: usize) -> anyhow::Result<Self> {
        let random = SaltString::generate(&mut OsRng);
        let dummy_hash = hash_now(random.as_str().as_bytes())?;
        Ok(Hasher {
            dummy_hash: dummy_hash.into(),
            pool: Arc::new(HashPool::start(threads, queued)?),
        })
    }

    /// Hashes skipped so far because nobody waited for them any more.
    pub fn skipped(&self) -> u64 {
        self.pool.skipped.load(Ordering::Relaxed)
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) for a new password.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        self.pool
            .run(move || hash_now(password.expose().as_bytes()))
            .await
    }

    /// A login's password against the account's stored hash (`None`: unknown account, the
    /// same work, `Wrong`). Normalized first; a hash made before passwords were normalized is
    /// also tried with the password as typed (only when that differs), and then replaced.
    pub async fn verify_login(
        &self,
        input: &SecretString,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        let Ok(password) = normalize(input) else {
            return Ok(Verified::Wrong);
        };
        let known = stored.is_some();
        if self.verify(password.clone(), stored.clone()).await? {
            let outdated = stored.as_deref().is_some_and(needs_rehash);
            return Ok(Verified::Right {
                rehash: outdated.then_some(password),
            });
        }
        let as_typed = Password::parse(input).ok().filter(|raw| *raw != password);
        if let (true, Some(raw)) = (known, as_typed) {
            if self.verify(raw, stored).await? {
                return Ok(Verified::Right {
                    rehash: Some(password),
                });
            }
        }
        Ok(Verified::Wrong)
    }

    /// Whether `password` matches `stored`; with no stored hash, spends the same time and says no.
    pub async fn verify(
        &self,
        password: Password,
        stored: Option<String>,
    ) -> Result<bool, HashError> {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = self
            .pool
            .run(move || verify_now(password.expose().as_bytes(), &stored))
            .await?;
        Ok(known && matches)
    }
}

fn params() -> anyhow::Result<Params> {
    Params::new(MEMORY_KIB, ITERATIONS, LANES, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))
}

thread_local! {
    /// This thread's argon2 working memory, kept from one hash to the next: a fresh 19 MiB
    /// per hash cost page faults and zero-filling on every login. Zeroized after each use;
    /// freed when the thread ends (the hashing threads live as long as the `Hasher`).
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `work` with `blocks` argon2 blocks of this thread's working memory, then zeroizes them.
fn with_memory<R>(blocks: usize, work: impl FnOnce(&mut [Block]) -> R) -> R {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        let used = &mut memory[..blocks];
        let result = work(used);
        for block in used.iter_mut() {
            block.as_mut().zeroize();
        }
        result
    })
}

/// argon2 of `password` and `salt` (raw bytes) into `out`, in this thread's working memory.
fn hash_into(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> anyhow::Result<()> {
    with_memory(params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, salt, out, blocks)
    })
    .map_err(|e| anyhow::anyhow!("argon2: {e}"))
}

/// Hashes on the current thread: call from the blocking pool (or a benchmark). The same PHC
/// string `argon2`'s own `hash_password` makes.
pub fn hash_now(password: &[u8]) -> anyhow::Result<String> {
    let params = params()?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let raw_salt = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    hash_into(&argon2, &params, password, raw_salt, &mut out)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| anyhow::anyhow!("argon2: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("argon2: {e}"))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `stored` (with the parameters stored in it),
/// on the current thread; the comparison is constant-time (`Output`'s `==`).
pub fn verify_now(password: &[u8], stored: &str) -> anyhow::Result<bool> {
    let bad = |e: argon2::password_hash::Error| anyhow::anyhow!("stored hash: {e}");
    let parsed = PasswordHash::new(stored).map_err(bad)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        anyhow::bail!("stored hash without salt or hash");
    };
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(bad)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| anyhow::anyhow!("stored hash: {e}"))?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(bad)?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let raw_salt = salt.decode_b64(&mut salt_bytes).map_err(bad)?;
    let mut out = zeroize::Zeroizing::new(vec![0u8; expected.len()]);
    hash_into(&argon2, &params, password, raw_salt, &mut out)?;
    Ok(Output::new(&out).map_err(bad)? == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(text: &str) -> Password {
        Password::parse(&text.into()).unwrap()
    }

    #[test]
    fn list_is_large_and_has_the_obvious_ones() {
        assert!(common_list_len() >= 10_000, "{}", common_list_len());
        for common in [
            "password",
            "12345678",
            "qwertyuiop",
            "lösenord123",
            "Sommar2024",
            "PASSWORD1",
        ] {
            assert!(is_common(&password(common)), "{common}");
        }
        assert!(!is_common(&password("korrekt häst batteri häftklammer")));
    }

    #[tokio::test]
    async fn hash_then_verify_with_owasp_parameters() {
        let hasher = Hasher::new().unwrap();
        let hash = hasher
            .hash(password("en lång fras att minnas"))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(hasher
            .verify(password("en lång fras att minnas"), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!hasher
            .verify(password("en annan fras"), Some(hash))
            .await
            .unwrap());
    }

    #[test]
    fn hashes_agree_with_the_argon2_crate_both_ways() {
        // The thread-local working memory must not change a single bit of the PHC strings.
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let crate_argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params().unwrap());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = crate_argon2
            .hash_password(b"en fras", &salt)
            .unwrap()
            .to_string();
        assert!(verify_now(b"en fras", &theirs).unwrap());
        assert!(!verify_now(b"en annan", &theirs).unwrap());
        let ours = hash_now(b"en fras").unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(crate_argon2.verify_password(b"en fras", &parsed).is_ok());
        assert!(crate_argon2.verify_password(b"en annan", &parsed).is_err());
        // A hash made with other (weaker, older) parameters still verifies.
        let small = Params::new(1024, 1, 1, None).unwrap();
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, small)
            .hash_password(b"gammal", &salt)
            .unwrap()
            .to_string();
        assert!(verify_now(b"gammal", &other).unwrap());
    }

    #[test]
    fn working_memory_is_zeroized_after_use() {
        hash_now(b"hemligt").unwrap();
        MEMORY.with(|memory| {
            let memory = memory.borrow();
            assert!(memory.len() >= params().unwrap().block_count());
            assert!(memory
                .iter()
                .all(|block| block.as_ref().iter().all(|word| *word == 0)));
        });
    }

    #[tokio::test]
    async fn a_full_queue_is_busy_and_a_hash_nobody_waits_for_is_skipped() {
        let hasher = Hasher::with_capacity(1, 1).unwrap();
        // One hash on the thread, one waiting: the next has no room.
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Mutex::new(hold);
        let blocker = hasher.pool.run(move || {
            let _ = hold.lock().unwrap().recv();
            Ok(())
        });
        let mut blocker = Box::pin(blocker);
        // Polled once: the job is on the thread (or queued).
        let _ = futures_poll_once(&mut blocker).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let mut waiting = Box::pin(hasher.hash(password("en fras som väntar")));
        let _ = futures_poll_once(&mut waiting).await;
        let busy = hasher.hash(password("ingen plats kvar")).await;
        assert!(matches!(busy, Err(HashError::Busy)), "{busy:?}");
        // The waiting client leaves: its hash is never made.
        drop(waiting);
        release.send(()).unwrap();
        blocker.await.unwrap();
        // The thread takes the skipped job off the queue right after answering the blocker.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let after = hasher.hash(password("nu finns det plats")).await;
        assert!(after.is_ok());
        assert_eq!(hasher.skipped(), 1);
    }

    /// Polls a future once (so its job is handed to the pool) without waiting for it.
    async fn futures_poll_once<F: std::future::Future + Unpin>(future: &mut F) {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let _ = std::pin::Pin::new(future).poll(&mut context);
    }

    #[test]
    fn nfd_nfc_and_full_width_passwords_normalize_alike() {
        let nfc = normalize(&"lösenordsfras åäö".into()).unwrap();
        let nfd = normalize(&"lo\u{308}senordsfras a\u{30a}a\u{308}o\u{308}".into()).unwrap();
        assert_eq!(nfc, nfd);
        assert_eq!(nfc.expose(), "lösenordsfras åäö");
        let wide = normalize(&"ｐａｓｓｗｏｒｄ".into()).unwrap();
        assert_eq!(wide.expose(), "password");
        assert!(is_common(&wide));
        assert!(is_common(&normalize(&"Lo\u{308}senord123".into()).unwrap()));
    }

    #[test]
    fn older_parameters_need_a_rehash_and_todays_do_not() {
        assert!(!needs_rehash(&hash_now(b"en fras").unwrap()));
        let salt = SaltString::generate(&mut OsRng);
        let small = Params::new(1024, 1, 1, None).unwrap();
        use argon2::password_hash::PasswordHasher as _;
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, small)
            .hash_password(b"gammal", &salt)
            .unwrap()
            .to_string();
        assert!(needs_rehash(&old));
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, params().unwrap())
            .hash_password(b"gammal", &salt)
            .unwrap()
            .to_string();
        assert!(needs_rehash(&argon2i));
    }

    #[tokio::test]
    async fn a_hash_of_the_password_as_typed_still_verifies_and_asks_for_a_rehash() {
        let hasher = Hasher::new().unwrap();
        let typed = "lo\u{308}senordsfras";
        let before_normalizing = hash_now(typed.as_bytes()).unwrap();
        let verified = hasher
            .verify_login(&typed.into(), Some(before_normalizing.clone()))
            .await
            .unwrap();
        let Verified::Right { rehash: Some(new) } = verified else {
            panic!("{verified:?}");
        };
        assert_eq!(new.expose(), "lösenordsfras");
        let today = hash_now(new.expose().as_bytes()).unwrap();
        let again = hasher
            .verify_login(&typed.into(), Some(today))
            .await
            .unwrap();
        assert!(
            matches!(again, Verified::Right { rehash: None }),
            "{again:?}"
        );
        let wrong = hasher
            .verify_login(&"fel lösenord".into(), Some(before_normalizing))
            .await
            .unwrap();
        assert!(matches!(wrong, Verified::Wrong));
    }

    #[tokio::test]
    async fn unknown_account_never_verifies() {
        let hasher = Hasher::new().unwrap();
        assert!(!hasher
            .verify(password("whatever it is"), None)
            .await
            .unwrap());
    }
}
