//! What this computer remembers between runs: the settings (a `SettingsStore`: the Tauri store
//! in the app, a map in tests) and, on a personal computer, trusted-device tokens (a
//! `Keyring`: the OS keyring in the app). Every rule about what may be remembered in which mode
//! lives here; the settings' shape is in `settings`.

use std::sync::{Arc, Mutex};

use legitimera_protocol::{Email, SecretString};

use crate::keyring::{self, Keyring};
use crate::policy::Policy;
use crate::settings::{Mode, Settings, SettingsStore};

pub struct Device {
    store: Arc<dyn SettingsStore>,
    keyring: Arc<dyn Keyring>,
    /// Machine policy: beats what the store holds (`Policy::apply`), and is never written to it.
    policy: Policy,
    /// One writer at a time: read-modify-write of the settings.
    writing: Mutex<()>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("the settings could not be saved: {0}")]
    Store(String),
    #[error(transparent)]
    Keyring(#[from] keyring::KeyringError),
}

impl Device {
    pub fn new(store: Arc<dyn SettingsStore>, keyring: Arc<dyn Keyring>) -> Self {
        Device::governed(store, keyring, Policy::default())
    }

    /// A computer under machine policy.
    pub fn governed(
        store: Arc<dyn SettingsStore>,
        keyring: Arc<dyn Keyring>,
        policy: Policy,
    ) -> Self {
        Device {
            store,
            keyring,
            policy,
            writing: Mutex::new(()),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The settings in force: the user's, with machine policy over them.
    pub fn settings(&self) -> Settings {
        self.policy.apply(self.stored())
    }

    /// The user's own choices, as the store holds them.
    pub fn stored(&self) -> Settings {
        Settings::from_entries(|key| self.store.get(key))
    }

    /// Changes the stored choices (never writing policy's values into them); answers the
    /// settings in force afterwards.
    fn update(&self, change: impl FnOnce(&mut Settings)) -> Result<Settings, DeviceError> {
        let _one_writer = self
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut settings = self.stored();
        change(&mut settings);
        for (key, value) in settings.to_entries() {
            match value {
                Some(value) => self.store.set(key, value),
                None => {
                    self.store.delete(key);
                }
            }
        }
        self.store.save().map_err(DeviceError::Store)?;
        Ok(self.policy.apply(settings))
    }

    /// Saves the user's choices. Leaving personal mode forgets what it remembered (the
    /// tokens are answered so that the caller can tell the server too).
    pub fn choose(
        &self,
        change: impl FnOnce(&mut Settings),
    ) -> Result<(Settings, Vec<SecretString>), DeviceError> {
        let mut forgotten = Vec::new();
        let settings = self.update(|settings| {
            change(settings);
            if self.policy.apply(settings.clone()).mode == Mode::Shared {
                forgotten = self.forget_entries(settings.drop_personal());
            }
        })?;
        Ok((settings, forgotten))
    }

    /// The trusted-device token for `email`, on a personal computer that has one.
    pub fn token_for(&self, email: &Email) -> Option<SecretString> {
        if self.settings().mode != Mode::Personal {
            return None;
        }
        match self.keyring.get(&keyring::entry_name(email)) {
            Ok(token) => token,
            Err(error) => {
                tracing::warn!(%error, "the trusted-device token could not be read");
                None
            }
        }
    }

    /// A login went through on this computer: a personal one remembers the address.
    pub fn logged_in(&self, email: &Email) -> Result<(), DeviceError> {
        if self.settings().mode != Mode::Personal {
            return Ok(());
        }
        self.update(|settings| settings.remembered_email = Some(email.as_str().to_owned()))?;
        Ok(())
    }

    /// Keeps the new trusted-device token for `email` (personal mode only).
    pub fn trust(&self, email: &Email, token: &SecretString) -> Result<(), DeviceError> {
        if self.settings().mode != Mode::Personal {
            return Ok(());
        }
        let name = keyring::entry_name(email);
        self.keyring.set(&name, token)?;
        self.update(|settings| {
            if !settings.keyring_entries.contains(&name) {
                settings.keyring_entries.push(name.clone());
            }
        })?;
        tracing::info!("this device is trusted for two-step verification");
        Ok(())
    }

    /// The server no longer trusts `email`'s token (or the user removed it): forget it here.
    pub fn untrust(&self, email: &Email) -> Result<(), DeviceError> {
        let name = keyring::entry_name(email);
        self.keyring.delete(&name)?;
        self.update(|settings| settings.keyring_entries.retain(|entry| *entry != name))?;
        Ok(())
    }

    /// "Glöm den här enheten": every token and the remembered address go; the tokens are
    /// answered so that the caller can have the server forget them too.
    pub fn forget(&self) -> Result<Vec<SecretString>, DeviceError> {
        let mut forgotten = Vec::new();
        self.update(|settings| forgotten = self.forget_entries(settings.drop_personal()))?;
        tracing::info!(tokens = forgotten.len(), "this device was forgotten");
        Ok(forgotten)
    }

    /// The wipe's part: on a shared computer nothing personal may be left (after a switch
    /// from personal mode or an interrupted run).
    pub fn wipe_if_shared(&self) {
        let settings = self.settings();
        if settings.mode == Mode::Personal {
            return;
        }
        if settings.remembered_email.is_none()
            && settings.keyring_entries.is_empty()
            && self.store.get("remembered_email").is_none()
        {
            return;
        }
        if let Err(error) = self.update(|settings| {
            self.forget_entries(settings.drop_personal());
        }) {
            tracing::warn!(%error, "the personal settings could not be wiped");
        }
    }

    /// Removes `entries` from the keyring; answers the tokens they held.
    fn forget_entries(&self, entries: Vec<String>) -> Vec<SecretString> {
        let mut tokens = Vec::new();
        for name in entries {
            match self.keyring.get(&name) {
                Ok(Some(token)) => tokens.push(token),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "a keyring entry could not be read"),
            }
            if let Err(error) = self.keyring.delete(&name) {
                tracing::warn!(%error, "a keyring entry could not be removed");
            }
        }
        tokens
    }
}
