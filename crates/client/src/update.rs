//! Updates: whether this computer looks for new versions and where (`plan`, from machine
//! policy and what the build carries), when it looks (at start, then daily), and when one may
//! be installed: only after the user said yes, and never while a session is open or a login is
//! under way. Finding, downloading, checking the signature and installing are the host's
//! (`UpdateSource`: tauri-plugin-updater, minisign); this module never installs on its own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::account::Phase;
use crate::error::{AppError, Result};
use crate::events::Events;
use crate::policy::{ComputerMode, Policy};

/// How often a running app looks again after the check at start.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// Whether this computer looks for updates, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UpdatePlan {
    /// Looks at `endpoint` (https; `{{target}}`, `{{arch}}`, `{{current_version}}` filled in).
    On { endpoint: String },
    /// Never looks, and why (shown in "Om Legitimera").
    Off { reason: OffReason },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OffReason {
    /// This build carries no update key: it can verify nothing, so it installs nothing.
    NoKey,
    /// Machine policy: `Updates.Enabled` is false.
    Policy,
    /// Machine policy makes this a shared computer and says nothing of updates: IT updates
    /// shared computers itself.
    SharedComputer,
    /// Neither policy nor the build names an update address.
    NoEndpoint,
}

/// The plan for this computer: policy first (`Updates`), then `ComputerMode: shared` from
/// policy (off unless `Updates` turns it on), then the address built in (`plugins.updater.
/// endpoints`). Without the build's public key nothing could be verified, so nothing is looked
/// for whatever policy says.
pub fn plan(policy: &Policy, has_key: bool, built_in_endpoint: Option<&str>) -> UpdatePlan {
    let off = |reason| UpdatePlan::Off { reason };
    if !has_key {
        return off(OffReason::NoKey);
    }
    let endpoint = match &policy.updates {
        Some(updates) if !updates.enabled => return off(OffReason::Policy),
        Some(updates) => updates.endpoint.as_deref().or(built_in_endpoint),
        None if policy.computer_mode == Some(ComputerMode::Shared) => {
            return off(OffReason::SharedComputer)
        }
        None => built_in_endpoint,
    };
    match endpoint {
        Some(endpoint) if !endpoint.trim().is_empty() => UpdatePlan::On {
            endpoint: endpoint.to_owned(),
        },
        _ => off(OffReason::NoEndpoint),
    }
}

/// A newer version the endpoint announced (not yet downloaded or verified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Available {
    pub version: String,
    pub notes: Option<String>,
}

/// What the UI shows: nothing, "En ny version finns", installing, or installed (the new version
/// starts next time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UpdateView {
    None,
    Available { version: String },
    Installing { version: String },
    Installed { version: String },
}

/// What the host's updater does (tauri-plugin-updater in the app, a fake in tests).
#[async_trait]
pub trait UpdateSource: Send + Sync {
    /// Asks the endpoint whether a newer version exists; remembers it for `install`.
    async fn check(&self) -> Result<Option<Available>>;
    /// Downloads what `check` found and verifies its signature against the build's key,
    /// keeping the bytes for `install`: only a version that verifies is offered.
    async fn fetch(&self) -> Result<()>;
    /// Installs what `check` found (downloading and verifying it again if `fetch` kept
    /// nothing); nothing is installed if the signature does not verify.
    async fn install(&self) -> Result<()>;
}

/// The app's updates: the plan, the state the UI shows, and the host's updater.
pub struct Updates {
    plan: UpdatePlan,
    source: Option<Arc<dyn UpdateSource>>,
    events: Arc<dyn Events>,
    view: Mutex<UpdateView>,
}

impl std::fmt::Debug for Updates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Updates")
            .field("plan", &self.plan)
            .field("view", &self.view())
            .finish_non_exhaustive()
    }
}

impl Updates {
    /// `source` is None where the plan is off (the host builds no updater then).
    pub fn new(
        plan: UpdatePlan,
        source: Option<Arc<dyn UpdateSource>>,
        events: Arc<dyn Events>,
    ) -> Arc<Self> {
        Arc::new(Updates {
            plan,
            source,
            events,
            view: Mutex::new(UpdateView::None),
        })
    }

    pub fn plan(&self) -> &UpdatePlan {
        &self.plan
    }

    pub fn view(&self) -> UpdateView {
        self.view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_view(&self, view: UpdateView) {
        *self
            .view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = view.clone();
        self.events.update_status(&view);
    }

    /// One look at the endpoint; a new version is offered once it is downloaded and its
    /// signature verified, so "En ny version finns" never shows for one that would be refused.
    /// A failure (offline, endpoint down, a bad signature) is logged and tried again at the
    /// next look; it is nothing the user must act on.
    pub async fn check(&self) {
        let Some(source) = self.source.as_ref().filter(|_| self.is_on()) else {
            return;
        };
        if matches!(
            self.view(),
            UpdateView::Installing { .. } | UpdateView::Installed { .. }
        ) {
            return;
        }
        match source.check().await {
            Ok(Some(available)) => match source.fetch().await {
                Ok(()) => {
                    tracing::info!(version = %available.version, "a new version is available");
                    self.set_view(UpdateView::Available {
                        version: available.version,
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, version = %available.version, "a new version is not offered")
                }
            },
            Ok(None) => tracing::debug!("no new version"),
            Err(error) => tracing::warn!(%error, "could not look for updates"),
        }
    }

    /// Looks at start and then every `CHECK_INTERVAL`, for as long as the app runs.
    pub async fn run(self: Arc<Self>) {
        if !self.is_on() {
            tracing::info!(plan = ?self.plan, "updates are off");
            return;
        }
        loop {
            self.check().await;
            tokio::time::sleep(CHECK_INTERVAL).await;
        }
    }

    /// The user said yes. Refused while a session is open or a login is under way (the user
    /// logs out first); otherwise the host downloads, verifies and installs.
    pub async fn install(&self, phase: Phase) -> Result<UpdateView> {
        let UpdateView::Available { version } = self.view() else {
            return Err(AppError::NoUpdate);
        };
        if phase != Phase::LoggedOut {
            return Err(AppError::UpdateWhileSession);
        }
        let source = self.source.as_ref().ok_or(AppError::NoUpdate)?;
        self.set_view(UpdateView::Installing {
            version: version.clone(),
        });
        match source.install().await {
            Ok(()) => {
                tracing::info!(%version, "update installed; it starts next time");
                self.set_view(UpdateView::Installed { version });
                Ok(self.view())
            }
            Err(error) => {
                tracing::warn!(%error, %version, "update not installed");
                self.set_view(UpdateView::Available { version });
                Err(error)
            }
        }
    }

    fn is_on(&self) -> bool {
        matches!(self.plan, UpdatePlan::On { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bankid::BankIdView;
    use crate::connectivity::BackendStatus;
    use crate::events::{SessionEnded, SessionWarning};
    use crate::siths::CardView;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn policy(value: serde_json::Value) -> Policy {
        let (policy, errors) = Policy::parse(&value.to_string());
        assert!(errors.is_empty(), "{errors:?}");
        policy
    }

    const BUILT_IN: Option<&str> = Some("https://updates.example.se/{{target}}/{{arch}}");

    fn on(endpoint: &str) -> UpdatePlan {
        UpdatePlan::On {
            endpoint: endpoint.to_owned(),
        }
    }

    fn off(reason: OffReason) -> UpdatePlan {
        UpdatePlan::Off { reason }
    }

    #[test]
    fn without_policy_a_build_with_a_key_and_an_endpoint_looks() {
        assert_eq!(
            plan(&Policy::default(), true, BUILT_IN),
            on(BUILT_IN.unwrap())
        );
        assert_eq!(
            plan(&Policy::default(), true, None),
            off(OffReason::NoEndpoint)
        );
    }

    #[test]
    fn a_build_without_a_key_never_looks_whatever_policy_says() {
        let enabled = policy(serde_json::json!({
            "Updates": {"Enabled": true, "Endpoint": "https://it.example.se/latest.json"}
        }));
        assert_eq!(plan(&enabled, false, BUILT_IN), off(OffReason::NoKey));
    }

    #[test]
    fn policy_turns_updates_off_and_names_the_endpoint() {
        let disabled = policy(serde_json::json!({"Updates": {"Enabled": false}}));
        assert_eq!(plan(&disabled, true, BUILT_IN), off(OffReason::Policy));
        let own = policy(serde_json::json!({
            "Updates": {"Enabled": true, "Endpoint": "https://it.example.se/latest.json"}
        }));
        assert_eq!(
            plan(&own, true, BUILT_IN),
            on("https://it.example.se/latest.json")
        );
        let enabled = policy(serde_json::json!({"Updates": {"Enabled": true}}));
        assert_eq!(plan(&enabled, true, BUILT_IN), on(BUILT_IN.unwrap()));
    }

    #[test]
    fn shared_computers_managed_by_policy_do_not_look_unless_policy_says_so() {
        let shared = policy(serde_json::json!({"ComputerMode": "shared"}));
        assert_eq!(
            plan(&shared, true, BUILT_IN),
            off(OffReason::SharedComputer)
        );
        let shared_but_enabled = policy(serde_json::json!({
            "ComputerMode": "shared", "Updates": {"Enabled": true}
        }));
        assert_eq!(
            plan(&shared_but_enabled, true, BUILT_IN),
            on(BUILT_IN.unwrap())
        );
        // A user who chose shared mode themselves is not IT: their computer still looks.
        let personal = policy(serde_json::json!({"ComputerMode": "user_choice"}));
        assert_eq!(plan(&personal, true, BUILT_IN), on(BUILT_IN.unwrap()));
    }

    #[derive(Default)]
    struct Told(Mutex<Vec<UpdateView>>);

    impl Events for Told {
        fn backend_status(&self, _: &BackendStatus) {}
        fn session_warning(&self, _: SessionWarning) {}
        fn session_active(&self) {}
        fn session_ended(&self, _: SessionEnded) {}
        fn bankid_status(&self, _: &BankIdView) {}
        fn card_changed(&self, _: &CardView) {}
        fn update_status(&self, view: &UpdateView) {
            self.0.lock().unwrap().push(view.clone());
        }
    }

    /// An endpoint with version 2.0.0, and an installer that counts and may fail as a bad
    /// signature does.
    #[derive(Default)]
    struct Source {
        installs: AtomicUsize,
        refuse: bool,
        /// The download does not verify (another key signed it).
        untrusted: bool,
    }

    #[async_trait]
    impl UpdateSource for Source {
        async fn check(&self) -> Result<Option<Available>> {
            Ok(Some(Available {
                version: "2.0.0".into(),
                notes: None,
            }))
        }
        async fn fetch(&self) -> Result<()> {
            if self.untrusted {
                return Err(AppError::UpdateNotTrusted("signature".into()));
            }
            Ok(())
        }
        async fn install(&self) -> Result<()> {
            if self.refuse {
                return Err(AppError::UpdateNotTrusted("signature".into()));
            }
            self.installs.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn updates(source: Arc<Source>, told: Arc<Told>) -> Arc<Updates> {
        Updates::new(
            on("https://updates.example.se/latest.json"),
            Some(source),
            told,
        )
    }

    #[tokio::test]
    async fn a_new_version_is_shown_and_installed_only_after_yes_with_no_session_open() {
        let source = Arc::new(Source::default());
        let told = Arc::new(Told::default());
        let updates = updates(source.clone(), told.clone());
        assert_eq!(
            updates.install(Phase::LoggedOut).await.unwrap_err().code(),
            legitimera_protocol::ErrorCode::NoUpdate,
            "nothing found yet, nothing to install"
        );
        updates.check().await;
        let available = UpdateView::Available {
            version: "2.0.0".into(),
        };
        assert_eq!(updates.view(), available);
        assert_eq!(
            source.installs.load(Ordering::SeqCst),
            0,
            "never on its own"
        );
        for phase in [Phase::LoggedIn, Phase::LoggingIn, Phase::Ending] {
            let error = updates.install(phase).await.unwrap_err();
            assert_eq!(
                error.code(),
                legitimera_protocol::ErrorCode::UpdateSessionOpen
            );
        }
        assert_eq!(source.installs.load(Ordering::SeqCst), 0);
        let installed = updates.install(Phase::LoggedOut).await.unwrap();
        assert_eq!(
            installed,
            UpdateView::Installed {
                version: "2.0.0".into()
            }
        );
        assert_eq!(source.installs.load(Ordering::SeqCst), 1);
        assert_eq!(
            *told.0.lock().unwrap(),
            vec![
                available,
                UpdateView::Installing {
                    version: "2.0.0".into()
                },
                installed
            ]
        );
        // Installed: no more looking until the next start.
        updates.check().await;
        assert!(matches!(updates.view(), UpdateView::Installed { .. }));
    }

    #[tokio::test]
    async fn an_update_refused_by_its_signature_stays_offered_and_is_reported() {
        let source = Arc::new(Source {
            refuse: true,
            ..Source::default()
        });
        let updates = updates(source.clone(), Arc::new(Told::default()));
        updates.check().await;
        let error = updates.install(Phase::LoggedOut).await.unwrap_err();
        assert_eq!(
            error.code(),
            legitimera_protocol::ErrorCode::UpdateNotTrusted
        );
        assert!(matches!(updates.view(), UpdateView::Available { .. }));
    }

    #[tokio::test]
    async fn a_version_whose_download_does_not_verify_is_never_offered() {
        let source = Arc::new(Source {
            untrusted: true,
            ..Source::default()
        });
        let told = Arc::new(Told::default());
        let updates = updates(source.clone(), told.clone());
        updates.check().await;
        assert_eq!(updates.view(), UpdateView::None);
        assert!(told.0.lock().unwrap().is_empty(), "the UI was told of it");
        assert_eq!(
            updates.install(Phase::LoggedOut).await.unwrap_err().code(),
            legitimera_protocol::ErrorCode::NoUpdate
        );
        assert_eq!(source.installs.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn an_app_whose_plan_is_off_never_asks() {
        let source = Arc::new(Source::default());
        let told = Arc::new(Told::default());
        let updates = Updates::new(off(OffReason::Policy), Some(source), told.clone());
        updates.check().await;
        assert_eq!(updates.view(), UpdateView::None);
        assert!(told.0.lock().unwrap().is_empty());
    }
}
