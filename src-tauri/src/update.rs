//! The client's `UpdateSource` as tauri-plugin-updater: it asks the endpoint the client chose,
//! downloads, verifies the minisign signature against the public key in the app's config
//! (`plugins.updater.pubkey`, put there at build time), and installs (`.deb`/`.rpm` through
//! pkexec). Decides nothing: when to look and when to install are `legitimera_client::update`'s.

use std::sync::{Arc, Mutex};

use legitimera_client::update::{Available, UpdatePlan, UpdateSource};
use legitimera_client::{AppError, Events, Policy, Result, Updates};

use crate::start::UpdaterOverride;
use tauri::{AppHandle, Runtime};
use tauri_plugin_updater::{Error as PluginError, Update, UpdaterExt};

/// The plan for this app: machine policy, and the key and endpoint its config carries (or, in
/// a debug build, the command line's).
pub fn plan<R: Runtime>(
    app: &AppHandle<R>,
    policy: &Policy,
    debug: &UpdaterOverride,
) -> UpdatePlan {
    let config = app.config().plugins.0.get("updater");
    let text = |value: Option<&serde_json::Value>| {
        value
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    let pubkey = debug
        .pubkey
        .clone()
        .or_else(|| text(config.and_then(|c| c.get("pubkey"))));
    let built_in = debug.endpoint.clone().or_else(|| {
        text(
            config
                .and_then(|c| c.get("endpoints"))
                .and_then(|endpoints| endpoints.get(0)),
        )
    });
    legitimera_client::update::plan(policy, pubkey.is_some(), built_in.as_deref())
}

/// The app's updates: the plugin's updater where the plan is on, nothing where it is off.
/// `pubkey`: a debug build's key from the command line, instead of the config's.
pub fn updates<R: Runtime>(
    app: &AppHandle<R>,
    plan: UpdatePlan,
    pubkey: Option<String>,
    events: Arc<dyn Events>,
) -> Arc<Updates> {
    let source: Option<Arc<dyn UpdateSource>> = match &plan {
        UpdatePlan::On { endpoint } => match PluginUpdates::new(app.clone(), endpoint) {
            Ok(source) => Some(Arc::new(source.with_pubkey(pubkey))),
            Err(error) => {
                tracing::warn!(%error, "updates are off");
                None
            }
        },
        UpdatePlan::Off { .. } => None,
    };
    Updates::new(plan, source, events)
}

/// The plugin's updater for one endpoint, with the update it found last and, once downloaded
/// and verified, its bytes.
pub struct PluginUpdates<R: Runtime> {
    app: AppHandle<R>,
    endpoint: tauri::Url,
    pubkey: Option<String>,
    found: Mutex<Option<Update>>,
    verified: Mutex<Option<Vec<u8>>>,
}

impl<R: Runtime> std::fmt::Debug for PluginUpdates<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginUpdates")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> PluginUpdates<R> {
    pub fn new(app: AppHandle<R>, endpoint: &str) -> Result<Self> {
        let endpoint = tauri::Url::parse(endpoint)
            .map_err(|error| AppError::UpdateFailed(format!("update endpoint: {error}")))?;
        Ok(PluginUpdates {
            app,
            endpoint,
            pubkey: None,
            found: Mutex::new(None),
            verified: Mutex::new(None),
        })
    }

    /// Verifies with `pubkey` instead of the config's key (debug builds' `--updater-pubkey`).
    pub fn with_pubkey(mut self, pubkey: Option<String>) -> Self {
        self.pubkey = pubkey;
        self
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, Option<Vec<u8>>> {
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn found(&self) -> Option<Update> {
        self.found
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Downloads the update `check` found and verifies its signature: the bytes, or why not.
    pub async fn download(&self) -> Result<Vec<u8>> {
        let update = self.found().ok_or(AppError::NoUpdate)?;
        update
            .download(|_, _| {}, || {})
            .await
            .map_err(plugin_error)
    }
}

#[async_trait::async_trait]
impl<R: Runtime> UpdateSource for PluginUpdates<R> {
    async fn check(&self) -> Result<Option<Available>> {
        let mut builder = self.app.updater_builder();
        if let Some(pubkey) = &self.pubkey {
            builder = builder.pubkey(pubkey.clone());
        }
        let updater = builder
            .endpoints(vec![self.endpoint.clone()])
            .and_then(|builder| builder.build())
            .map_err(plugin_error)?;
        let update = updater.check().await.map_err(plugin_error)?;
        let available = update.as_ref().map(|update| Available {
            version: update.version.clone(),
            notes: update.body.clone(),
        });
        *self
            .found
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = update;
        *self.verified() = None;
        Ok(available)
    }

    async fn fetch(&self) -> Result<()> {
        let bytes = self.download().await?;
        *self.verified() = Some(bytes);
        Ok(())
    }

    async fn install(&self) -> Result<()> {
        let kept = self.verified().take();
        let bytes = match kept {
            Some(bytes) => bytes,
            None => self.download().await?,
        };
        let update = self.found().ok_or(AppError::NoUpdate)?;
        // `install` verifies the bytes again before it hands them to the package manager, which
        // may wait for an administrator's password: off the async threads.
        tauri::async_runtime::spawn_blocking(move || update.install(bytes))
            .await
            .map_err(|error| AppError::UpdateFailed(error.to_string()))?
            .map_err(plugin_error)
    }
}

/// A signature that does not verify is `update_not_trusted`; anything else `update_failed`.
fn plugin_error(error: PluginError) -> AppError {
    match error {
        PluginError::Minisign(_)
        | PluginError::SignedVersionMismatch { .. }
        | PluginError::MissingSignedVersion
        | PluginError::Base64(_)
        | PluginError::SignatureUtf8(_) => AppError::UpdateNotTrusted(error.to_string()),
        other => AppError::UpdateFailed(other.to_string()),
    }
}
