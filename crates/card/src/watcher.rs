//! Follows readers and cards as they come and go and reports it as events named after what
//! the user sees. It blocks in `SCardGetStatusChange` (with the PnP pseudo-reader for reader
//! arrivals) instead of polling, and outlives the PC/SC service: when pcscd stops it waits
//! with backoff and re-establishes the context. It never connects to a card.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use pcsc::{Context, ReaderState, Scope, State};
use serde::Serialize;

use crate::reader::hex;

/// The first wait before re-establishing a lost PC/SC context; doubles up to the maximum.
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// How often a backoff wait looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// What changed, as the app forwards it to the UI (`card-changed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CardEvent {
    ReaderAdded {
        reader: String,
    },
    ReaderRemoved {
        reader: String,
    },
    /// `atr` in upper-case hex.
    CardInserted {
        reader: String,
        atr: String,
    },
    CardRemoved {
        reader: String,
    },
    /// The PC/SC service stopped (or is not running at start). Every reader counts as gone;
    /// no separate removal events follow.
    ServiceLost,
    /// The service is back; `ReaderAdded` and `CardInserted` follow for what is there.
    ServiceBack,
}

/// A running watcher thread. Dropping it stops the thread.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    context: Arc<Mutex<Option<Context>>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("running", &self.is_running())
            .finish()
    }
}

impl Watcher {
    /// Starts watching; `on_event` runs on the watcher thread for every event, in order.
    /// The first events describe what is already there.
    pub fn start(on_event: impl FnMut(CardEvent) + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let context = Arc::new(Mutex::new(None));
        let thread = {
            let stop = Arc::clone(&stop);
            let context = Arc::clone(&context);
            std::thread::Builder::new()
                .name("card-watcher".into())
                .spawn(move || run(on_event, &stop, &context))
                .ok()
        };
        Watcher {
            stop,
            context,
            thread,
        }
    }

    /// Starts watching and delivers events on a channel.
    pub fn with_channel() -> (Self, mpsc::Receiver<CardEvent>) {
        let (sender, receiver) = mpsc::channel();
        let watcher = Watcher::start(move |event| {
            let _ = sender.send(event);
        });
        (watcher, receiver)
    }

    /// Whether the watcher thread is running (it only ends when stopped).
    pub fn is_running(&self) -> bool {
        self.thread
            .as_ref()
            .is_some_and(|thread| !thread.is_finished())
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let Some(thread) = self.thread.take() else {
            return;
        };
        // SCardCancel only wakes a wait in progress: one sent while the thread is between
        // two waits is lost, so repeat it until the thread has seen the stop flag.
        while !thread.is_finished() {
            if let Some(context) = self
                .context
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
            {
                let _ = context.cancel();
            }
            std::thread::sleep(STOP_CHECK);
        }
        let _ = thread.join();
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

enum Ended {
    StopRequested,
    ServiceGone,
}

fn run(mut emit: impl FnMut(CardEvent), stop: &AtomicBool, shared: &Mutex<Option<Context>>) {
    let mut backoff = BACKOFF_START;
    let mut service_up: Option<bool> = None;
    while !stop.load(Ordering::SeqCst) {
        let context = match Context::establish(Scope::User) {
            Ok(context) => context,
            Err(error) => {
                tracing::debug!(%error, "PC/SC context not available");
                if service_up != Some(false) {
                    emit(CardEvent::ServiceLost);
                    service_up = Some(false);
                }
                wait(backoff, stop);
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        backoff = BACKOFF_START;
        *shared.lock().unwrap_or_else(PoisonError::into_inner) = Some(context.clone());
        // A stop between the check above and publishing the context would not cancel it.
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if service_up == Some(false) {
            emit(CardEvent::ServiceBack);
        }
        let ended = watch(&context, &mut emit, stop);
        shared.lock().unwrap_or_else(PoisonError::into_inner).take();
        match ended {
            Ended::StopRequested => return,
            Ended::ServiceGone => {
                emit(CardEvent::ServiceLost);
                service_up = Some(false);
            }
        }
    }
}

fn wait(duration: Duration, stop: &AtomicBool) {
    let mut waited = Duration::ZERO;
    while waited < duration && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(STOP_CHECK);
        waited += STOP_CHECK;
    }
}

/// What the watcher last told about a reader.
struct Known {
    present: bool,
    event_count: u32,
}

fn is_service_gone(error: pcsc::Error) -> bool {
    matches!(
        error,
        pcsc::Error::NoService | pcsc::Error::ServiceStopped | pcsc::Error::InvalidHandle
    )
}

fn watch(context: &Context, emit: &mut impl FnMut(CardEvent), stop: &AtomicBool) -> Ended {
    let mut states = vec![ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE)];
    let mut known: HashMap<String, Known> = HashMap::new();
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ended::StopRequested;
        }
        let names = match context.list_readers_owned() {
            Ok(names) => names,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(error) if is_service_gone(error) => return Ended::ServiceGone,
            Err(error) => {
                tracing::debug!(%error, "listing readers failed");
                Vec::new()
            }
        };
        sync_readers(&mut states, &mut known, &names, emit);
        match context.get_status_change(None, &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Cancelled) if stop.load(Ordering::SeqCst) => {
                return Ended::StopRequested
            }
            Err(error) if is_service_gone(error) => return Ended::ServiceGone,
            // A reader vanished between listing and waiting, or a spurious wake-up: list again.
            Err(pcsc::Error::UnknownReader | pcsc::Error::Timeout | pcsc::Error::Cancelled) => {
                continue
            }
            Err(error) => {
                tracing::debug!(%error, "waiting for a change failed");
                wait(BACKOFF_START, stop);
                continue;
            }
        }
        for state in states.iter_mut() {
            let name = state.name().to_string_lossy().into_owned();
            if let Some(before) = known.get_mut(&name) {
                report_card(&name, state, before, emit);
            }
            state.sync_current_state();
        }
    }
}

/// Adds states for new readers and drops those of readers that are gone, with events.
fn sync_readers(
    states: &mut Vec<ReaderState>,
    known: &mut HashMap<String, Known>,
    names: &[CString],
    emit: &mut impl FnMut(CardEvent),
) {
    let pnp = pcsc::PNP_NOTIFICATION();
    states.retain(|state| {
        let name = state.name();
        if name == pnp || names.iter().any(|listed| listed.as_c_str() == name) {
            return true;
        }
        let name = name.to_string_lossy().into_owned();
        if known.remove(&name).is_some_and(|before| before.present) {
            emit(CardEvent::CardRemoved {
                reader: name.clone(),
            });
        }
        emit(CardEvent::ReaderRemoved { reader: name });
        false
    });
    for listed in names {
        let name = listed.to_string_lossy().into_owned();
        if known.contains_key(&name) {
            continue;
        }
        known.insert(
            name.clone(),
            Known {
                present: false,
                event_count: 0,
            },
        );
        states.push(ReaderState::new(listed.clone(), State::UNAWARE));
        emit(CardEvent::ReaderAdded { reader: name });
    }
}

fn report_card(
    name: &str,
    state: &ReaderState,
    before: &mut Known,
    emit: &mut impl FnMut(CardEvent),
) {
    let event_state = state.event_state();
    if event_state.intersects(State::UNKNOWN | State::UNAVAILABLE | State::IGNORE) {
        return;
    }
    let present = event_state.contains(State::PRESENT);
    let count = state.event_count();
    // Out and in again between two wake-ups: the reader's event counter moved.
    let swapped =
        present && before.present && count != before.event_count && before.event_count != 0;
    if before.present && (!present || swapped) {
        emit(CardEvent::CardRemoved {
            reader: name.to_owned(),
        });
    }
    if present && (!before.present || swapped) {
        emit(CardEvent::CardInserted {
            reader: name.to_owned(),
            atr: hex(state.atr()),
        });
    }
    before.present = present;
    before.event_count = count;
}
