//! Test support for the tests that need real pcscd with vpcd (whether it runs is
//! `legitimera_testkit::pcscd::require`): one virtual reader per test, cached card identities,
//! and waiting for reader state without sleeping blind.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use legitimera_card::CardKind;
use legitimera_vcard::{self as vcard, CardKeys, CertificateTimes, Config, Identity, VirtualCard};
use pcsc::{Context, ReaderState, Scope, State};

static READERS: [Mutex<()>; 2] = [Mutex::new(()), Mutex::new(())];
const PORTS: [u16; 2] = [vcard::VPCD_PORT, vcard::VPCD_PORT_SECOND];

/// One virtual reader, held for the test's lifetime.
pub struct Slot {
    pub port: u16,
    pub reader: String,
    _guard: MutexGuard<'static, ()>,
}

fn lock(index: usize) -> MutexGuard<'static, ()> {
    READERS[index]
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A free virtual reader (waits for one).
pub fn slot() -> Slot {
    loop {
        for (index, port) in PORTS.iter().enumerate() {
            // A test that failed while holding a reader poisons its lock; the reader is free.
            let guard = match READERS[index].try_lock() {
                Ok(guard) => guard,
                Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => continue,
            };
            let slot = Slot {
                port: *port,
                reader: vcard::reader_name(*port),
                _guard: guard,
            };
            settle(&slot.reader);
            return slot;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Both readers: for tests that touch every reader or pcscd itself.
pub struct Exclusive {
    pub first: Slot,
    _second: MutexGuard<'static, ()>,
}

pub fn exclusive() -> Exclusive {
    let first = lock(0);
    let second = lock(1);
    for port in PORTS {
        settle(&vcard::reader_name(port));
    }
    Exclusive {
        first: Slot {
            port: PORTS[0],
            reader: vcard::reader_name(PORTS[0]),
            _guard: first,
        },
        _second: second,
    }
}

/// vpcd notices a card that went away only at its next presence poll; until then the
/// reader still shows the previous test's card and a new card's commands would go to the
/// dead connection. Wait until the reader is empty before handing it out.
fn settle(reader: &str) {
    wait_for(reader, false, Duration::from_secs(5)).unwrap();
}

/// Key generation is the slow part: one identity per key type for the whole binary.
pub fn identity(rsa: bool) -> Arc<Identity> {
    static RSA: OnceLock<Arc<Identity>> = OnceLock::new();
    static P256: OnceLock<Arc<Identity>> = OnceLock::new();
    let (cell, keys): (_, fn() -> CardKeys) = if rsa {
        (&RSA, || CardKeys::generate_rsa2048().unwrap())
    } else {
        (&P256, CardKeys::generate_p256)
    };
    cell.get_or_init(|| Arc::new(Identity::generate(keys(), CertificateTimes::Valid).unwrap()))
        .clone()
}

/// Starts a virtual card in the slot's reader and waits until pcscd sees it.
pub fn insert(slot: &Slot, kind: CardKind, identity: Arc<Identity>) -> VirtualCard {
    let config = Config {
        kind,
        port: slot.port,
        ..Config::default()
    };
    let card = VirtualCard::start(config, identity).unwrap();
    wait_for(&slot.reader, true, Duration::from_secs(5)).unwrap();
    card
}

/// Waits (blocking in SCardGetStatusChange) until the reader has or lacks a card; returns
/// how long it took.
pub fn wait_for(reader: &str, present: bool, timeout: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let context = Context::establish(Scope::User).map_err(|e| e.to_string())?;
    let mut states = [ReaderState::new(
        std::ffi::CString::new(reader).map_err(|e| e.to_string())?,
        State::UNAWARE,
    )];
    loop {
        let left = timeout.checked_sub(started.elapsed()).ok_or("timed out")?;
        match context.get_status_change(left, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(e.to_string()),
        }
        if states[0].event_state().contains(State::PRESENT) == present {
            return Ok(started.elapsed());
        }
        if started.elapsed() >= timeout {
            return Err(format!(
                "{reader}: card present ≠ {present} after {timeout:?}"
            ));
        }
        states[0].sync_current_state();
    }
}

/// Runs `work` on another thread and fails the test if it takes longer than `limit`: a
/// hung PC/SC call must not hang the suite.
pub fn within<T: Send + 'static>(limit: Duration, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(work());
    });
    receiver
        .recv_timeout(limit)
        .expect("the card operation hung")
}
