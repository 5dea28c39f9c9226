//! Machine policy: what IT sets for every user of this computer (`policies.json`, Group Policy,
//! a macOS profile), read once at start. Parsing is pure (`Policy::parse`); reading the places
//! is separate (`read`). A bad policy is reported key by key and never stops the app: a key that
//! does not parse is left out, which keeps the safe default (or, for `ComputerMode`, forces
//! `shared`), and never loosens one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::BackendUrl;
use crate::locale::Language;
use crate::settings::{Method, Mode, Settings};

/// The Linux policy file.
pub const LINUX_FILE: &str = "/etc/legitimera/policies/policies.json";
/// The macOS managed preferences (an MDM profile lands here).
pub const MACOS_PLIST: &str = "/Library/Managed Preferences/se.legitimera.desktop.plist";
/// Debug builds only: a folder standing in for `/etc/legitimera/policies` (tests need no root).
pub const POLICY_DIR_ENV: &str = "LEGITIMERA_POLICY_DIR";
/// The longest idle limit a policy may set, in minutes (the server's own limit).
pub const MAX_IDLE_MINUTES: u32 = 30;

/// Every key a policy may hold, in the order reports list them.
pub const KEYS: &[&str] = &[
    "BackendUrl",
    "AllowBackendOverride",
    "LoginMethods",
    "ComputerMode",
    "IdleTimeoutMinutes",
    "Language",
    "PreferredMethod",
    "ContactCentre",
    "DiagnosticsHosts",
    "Updates",
];

/// `ComputerMode`: whether IT decides shared or personal, or leaves it to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComputerMode {
    Shared,
    Personal,
    UserChoice,
}

/// A value IT sets, and whether the user may change it (`{"Value": …, "Locked": bool}`).
/// Unlocked, it is the organisation's default that the user's own choice replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Preset<T> {
    pub value: T,
    pub locked: bool,
}

/// Whom users call for help (shown on the help and error views).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContactCentre {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub hours: Option<String>,
    pub url: Option<String>,
}

/// `Updates`: whether the app updates itself and from where (`update::plan`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Updates {
    pub enabled: bool,
    pub endpoint: Option<String>,
}

/// The policy in force; `None` where no policy sets the key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    pub backend_url: Option<BackendUrl>,
    pub allow_backend_override: Option<bool>,
    pub login_methods: Option<Vec<Method>>,
    pub computer_mode: Option<ComputerMode>,
    pub idle_timeout_minutes: Option<u32>,
    pub language: Option<Preset<Language>>,
    pub preferred_method: Option<Preset<Method>>,
    pub contact_centre: Option<ContactCentre>,
    pub diagnostics_hosts: Option<Vec<String>>,
    pub updates: Option<Updates>,
    /// Where each key that is set came from (a file's path, the registry key).
    pub origins: BTreeMap<&'static str, String>,
}

/// One thing wrong with a policy: the key (empty for the file as a whole) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyError {
    pub key: String,
    pub message: String,
}

impl PolicyError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        PolicyError {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

impl Policy {
    /// Parses a `policies.json`: `{"policies": {…}}` as Firefox writes it, or the keys alone.
    pub fn parse(text: &str) -> (Policy, Vec<PolicyError>) {
        match serde_json::from_str::<Value>(text) {
            Ok(value) => Policy::from_value(value),
            Err(error) => (
                Policy::default(),
                vec![PolicyError::new("", format!("not valid JSON: {error}"))],
            ),
        }
    }

    /// Parses an already-decoded policy (JSON, a plist, the registry turned into JSON).
    pub fn from_value(value: Value) -> (Policy, Vec<PolicyError>) {
        let mut policy = Policy::default();
        let mut errors = Vec::new();
        let Value::Object(mut keys) = value else {
            errors.push(PolicyError::new("", "the policy must be a JSON object"));
            return (policy, errors);
        };
        if keys.len() == 1 {
            if let Some(Value::Object(inner)) = keys.get("policies") {
                keys = inner.clone();
            }
        }
        for (key, value) in keys {
            if let Err(message) = policy.set(&key, value) {
                errors.push(PolicyError::new(&key, message));
            }
        }
        if let (Some(methods), Some(preferred)) = (&policy.login_methods, &policy.preferred_method)
        {
            if !methods.contains(&preferred.value) {
                errors.push(PolicyError::new(
                    "PreferredMethod",
                    "is not one of LoginMethods; ignored",
                ));
                policy.preferred_method = None;
            }
        }
        (policy, errors)
    }

    /// Sets one key. An `Err` says why the value was refused; a clamped value is set *and*
    /// reported.
    fn set(&mut self, key: &str, value: Value) -> Result<(), String> {
        match key {
            "BackendUrl" => {
                let text = string(&value)?;
                if !text
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("https://")
                {
                    return Err("must be an https address".into());
                }
                self.backend_url = Some(BackendUrl::parse(text).map_err(|e| e.to_string())?);
            }
            "AllowBackendOverride" => self.allow_backend_override = Some(boolean(&value)?),
            "LoginMethods" => {
                let Value::Array(items) = value else {
                    return Err("must be a list of login methods".into());
                };
                let mut methods = Vec::new();
                for item in &items {
                    let method = method(item)?;
                    if !methods.contains(&method) {
                        methods.push(method);
                    }
                }
                if methods.is_empty() {
                    return Err("an empty list would allow no login; ignored".into());
                }
                self.login_methods = Some(methods);
            }
            "ComputerMode" => {
                self.computer_mode = Some(match string(&value) {
                    Ok("shared") => ComputerMode::Shared,
                    Ok("personal") => ComputerMode::Personal,
                    Ok("user_choice") => ComputerMode::UserChoice,
                    _ => {
                        // IT meant to decide; the safe reading of a value we cannot read.
                        self.computer_mode = Some(ComputerMode::Shared);
                        return Err(
                            "must be \"shared\", \"personal\" or \"user_choice\"; shared is used"
                                .into(),
                        );
                    }
                });
            }
            "IdleTimeoutMinutes" => {
                let minutes = value
                    .as_u64()
                    .filter(|m| *m >= 1)
                    .ok_or("must be a whole number of minutes from 1 to 30")?;
                if minutes > u64::from(MAX_IDLE_MINUTES) {
                    self.idle_timeout_minutes = Some(MAX_IDLE_MINUTES);
                    return Err(format!(
                        "{minutes} is longer than the longest allowed, {MAX_IDLE_MINUTES}; \
                         {MAX_IDLE_MINUTES} is used"
                    ));
                }
                self.idle_timeout_minutes = u32::try_from(minutes).ok();
            }
            "Language" => {
                self.language = Some(preset(value, |v| match string(v)? {
                    "sv" => Ok(Language::Sv),
                    "en" => Ok(Language::En),
                    _ => Err("Value must be \"sv\" or \"en\"".into()),
                })?);
            }
            "PreferredMethod" => self.preferred_method = Some(preset(value, method)?),
            "ContactCentre" => {
                let mut fields = object(value)?;
                let mut take = |name: &str| -> Result<Option<String>, String> {
                    match fields.remove(name) {
                        None => Ok(None),
                        Some(v) => Ok(Some(string(&v).map_err(|e| format!("{name}: {e}"))?.into())),
                    }
                };
                let centre = ContactCentre {
                    name: take("Name")?,
                    phone: take("Phone")?,
                    hours: take("Hours")?,
                    url: take("Url")?,
                };
                if let Some(url) = &centre.url {
                    if !url.starts_with("https://") {
                        return Err("Url must be an https address".into());
                    }
                }
                unknown_fields(&fields)?;
                self.contact_centre = Some(centre);
            }
            "DiagnosticsHosts" => {
                let Value::Array(items) = value else {
                    return Err("must be a list of host names".into());
                };
                let hosts = items
                    .iter()
                    .map(|item| match string(item) {
                        Ok(host) if !host.is_empty() && !host.contains(['/', ' ']) => {
                            Ok(host.to_owned())
                        }
                        _ => Err(format!("{item} is not a host name (host or host:port)")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                self.diagnostics_hosts = Some(hosts);
            }
            "Updates" => {
                let mut fields = object(value)?;
                let enabled = boolean(&fields.remove("Enabled").ok_or("Enabled is missing")?)
                    .map_err(|e| format!("Enabled: {e}"))?;
                let endpoint = match fields.remove("Endpoint") {
                    None => None,
                    Some(v) => {
                        let url = string(&v).map_err(|e| format!("Endpoint: {e}"))?;
                        if !url.starts_with("https://") {
                            return Err("Endpoint must be an https address".into());
                        }
                        Some(url.to_owned())
                    }
                };
                unknown_fields(&fields)?;
                self.updates = Some(Updates { enabled, endpoint });
            }
            _ => return Err("unknown policy; ignored".into()),
        }
        Ok(())
    }

    /// Whether `key` (one of `KEYS`) is set.
    pub fn has(&self, key: &str) -> bool {
        match key {
            "BackendUrl" => self.backend_url.is_some(),
            "AllowBackendOverride" => self.allow_backend_override.is_some(),
            "LoginMethods" => self.login_methods.is_some(),
            "ComputerMode" => self.computer_mode.is_some(),
            "IdleTimeoutMinutes" => self.idle_timeout_minutes.is_some(),
            "Language" => self.language.is_some(),
            "PreferredMethod" => self.preferred_method.is_some(),
            "ContactCentre" => self.contact_centre.is_some(),
            "DiagnosticsHosts" => self.diagnostics_hosts.is_some(),
            "Updates" => self.updates.is_some(),
            _ => false,
        }
    }

    /// Fills the keys this policy does not set from `weaker` (a lower-priority place).
    fn fill_from(&mut self, weaker: Policy) {
        macro_rules! fill {
            ($($field:ident),*) => { $( if self.$field.is_none() { self.$field = weaker.$field; } )* };
        }
        fill!(
            backend_url,
            allow_backend_override,
            login_methods,
            computer_mode,
            idle_timeout_minutes,
            language,
            preferred_method,
            contact_centre,
            diagnostics_hosts,
            updates
        );
        for (key, origin) in weaker.origins {
            self.origins.entry(key).or_insert(origin);
        }
    }

    fn record_origin(&mut self, origin: &str) {
        for key in KEYS {
            if self.has(key) {
                self.origins.insert(key, origin.to_owned());
            }
        }
    }

    /// Whether a session may use `method`.
    pub fn allows(&self, method: Method) -> bool {
        self.login_methods
            .as_ref()
            .is_none_or(|methods| methods.contains(&method))
    }
}

// ---- policy over the user's settings -------------------------------------------------------

/// Where a setting in force came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Policy,
    User,
    Default,
}

/// One setting in `--policy-report` and "Om Legitimera".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reported {
    pub value: Value,
    pub source: Source,
    pub locked: bool,
}

/// `legitimera --policy-report --json`: every key, and what was wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyReport {
    pub settings: BTreeMap<&'static str, Reported>,
    pub errors: Vec<PolicyError>,
}

impl Policy {
    /// The settings in force: a locked value, or a forced computer mode, beats the user's; an
    /// unlocked value is the organisation's default, which the user's own choice replaces; a
    /// preferred method policy does not allow is dropped.
    pub fn apply(&self, mut settings: Settings) -> Settings {
        if let Some(preset) = self.language {
            if preset.locked || settings.language.is_none() {
                settings.language = Some(preset.value);
            }
        }
        if settings.preferred_method.is_some_and(|m| !self.allows(m)) {
            settings.preferred_method = None;
        }
        if let Some(preset) = self.preferred_method {
            if preset.locked || settings.preferred_method.is_none() {
                settings.preferred_method = Some(preset.value);
            }
        }
        match self.computer_mode {
            Some(ComputerMode::Shared) => {
                settings.mode = Mode::Shared;
                settings.remembered_email = None;
            }
            Some(ComputerMode::Personal) => settings.mode = Mode::Personal,
            Some(ComputerMode::UserChoice) | None => {}
        }
        settings
    }

    pub fn language_locked(&self) -> bool {
        self.language.is_some_and(|p| p.locked)
    }

    pub fn preferred_method_locked(&self) -> bool {
        self.preferred_method.is_some_and(|p| p.locked)
    }

    pub fn mode_locked(&self) -> bool {
        matches!(
            self.computer_mode,
            Some(ComputerMode::Shared | ComputerMode::Personal)
        )
    }

    /// The idle limit policy sets, if any (the app ends a session at the smaller of this and
    /// the server's).
    pub fn idle_limit(&self) -> Option<std::time::Duration> {
        self.idle_timeout_minutes
            .map(|minutes| std::time::Duration::from_secs(u64::from(minutes) * 60))
    }

    /// The allowed login methods, in the chooser's order.
    pub fn login_methods(&self) -> Vec<Method> {
        [
            Method::BankidThis,
            Method::BankidOther,
            Method::Password,
            Method::Siths,
        ]
        .into_iter()
        .filter(|m| self.allows(*m))
        .collect()
    }

    /// Every key with its value in force, where it came from and whether it is locked.
    /// `user`: the stored choices; `backend`: the address chosen at start and where it came
    /// from (`None`: none is configured).
    pub fn report(
        &self,
        errors: &[PolicyError],
        user: &Settings,
        backend: Option<(&BackendUrl, crate::config::BackendSource)>,
    ) -> PolicyReport {
        let default_backend = backend.map(|(url, _)| url.as_str());
        use serde_json::json;
        let from_policy = |value: Value, locked: bool| Reported {
            value,
            source: Source::Policy,
            locked,
        };
        let default = |value: Value| Reported {
            value,
            source: Source::Default,
            locked: false,
        };
        let by_user = |value: Value| Reported {
            value,
            source: Source::User,
            locked: false,
        };
        let mut settings = BTreeMap::new();
        // The address in use: one from the command line or the environment (debug builds, or
        // where policy allows overriding) is the user's, whatever policy names.
        use crate::config::BackendSource;
        let overridden = backend.filter(|(_, source)| {
            matches!(
                source,
                BackendSource::CommandLine | BackendSource::Environment
            )
        });
        settings.insert(
            "BackendUrl",
            match (overridden, &self.backend_url) {
                (Some((url, _)), _) => by_user(json!(url.as_str())),
                (None, Some(url)) => from_policy(json!(url.as_str()), true),
                (None, None) => default(json!(default_backend)),
            },
        );
        settings.insert(
            "AllowBackendOverride",
            match self.allow_backend_override {
                Some(allowed) => from_policy(json!(allowed), true),
                None => default(json!(false)),
            },
        );
        let methods: Vec<&str> = self.login_methods().into_iter().map(method_name).collect();
        settings.insert(
            "LoginMethods",
            match self.login_methods {
                Some(_) => from_policy(json!(methods), true),
                None => default(json!(methods)),
            },
        );
        let user_mode = match user.mode {
            Mode::Shared => default(json!("shared")),
            Mode::Personal => by_user(json!("personal")),
        };
        settings.insert(
            "ComputerMode",
            match self.computer_mode {
                Some(mode @ (ComputerMode::Shared | ComputerMode::Personal)) => {
                    from_policy(to_json(&mode), true)
                }
                Some(ComputerMode::UserChoice) | None => user_mode,
            },
        );
        settings.insert(
            "IdleTimeoutMinutes",
            match self.idle_timeout_minutes {
                Some(minutes) => from_policy(json!(minutes), true),
                None => default(json!(MAX_IDLE_MINUTES)),
            },
        );
        settings.insert(
            "Language",
            preset_report(self.language, user.language, |l| to_json(&l)),
        );
        let user_method = user.preferred_method.filter(|m| self.allows(*m));
        settings.insert(
            "PreferredMethod",
            preset_report(self.preferred_method, user_method, |m| {
                json!(method_name(m))
            }),
        );
        settings.insert(
            "ContactCentre",
            match &self.contact_centre {
                Some(centre) => from_policy(to_json(centre), true),
                None => default(Value::Null),
            },
        );
        settings.insert(
            "DiagnosticsHosts",
            match &self.diagnostics_hosts {
                Some(hosts) => from_policy(json!(hosts), true),
                None => default(json!([])),
            },
        );
        settings.insert(
            "Updates",
            match &self.updates {
                Some(updates) => from_policy(to_json(updates), true),
                None => default(Value::Null),
            },
        );
        PolicyReport {
            settings,
            errors: errors.to_vec(),
        }
    }
}

impl PolicyReport {
    /// `legitimera --policy-report` without `--json`: one line per key, then the errors.
    pub fn to_text(&self, origins: &BTreeMap<&'static str, String>) -> String {
        let mut text = String::new();
        for key in KEYS {
            if let Some(entry) = self.settings.get(key) {
                let source = match entry.source {
                    Source::Policy => "policy",
                    Source::User => "user",
                    Source::Default => "default",
                };
                let lock = if entry.locked { ", locked" } else { "" };
                let origin = origins
                    .get(key)
                    .filter(|_| entry.source == Source::Policy)
                    .map(|o| format!(" ({o})"))
                    .unwrap_or_default();
                text.push_str(&format!(
                    "{key} = {} [{source}{lock}]{origin}\n",
                    entry.value
                ));
            }
        }
        if self.errors.is_empty() {
            text.push_str("No policy errors.\n");
        }
        for error in &self.errors {
            let key = if error.key.is_empty() {
                "(file)"
            } else {
                &error.key
            };
            text.push_str(&format!("error: {key}: {}\n", error.message));
        }
        text
    }
}

fn preset_report<T: Copy>(
    preset: Option<Preset<T>>,
    user: Option<T>,
    to_json: impl Fn(T) -> Value,
) -> Reported {
    match (preset, user) {
        (Some(preset), _) if preset.locked => Reported {
            value: to_json(preset.value),
            source: Source::Policy,
            locked: true,
        },
        (_, Some(value)) => Reported {
            value: to_json(value),
            source: Source::User,
            locked: false,
        },
        (Some(preset), None) => Reported {
            value: to_json(preset.value),
            source: Source::Policy,
            locked: false,
        },
        (None, None) => Reported {
            value: Value::Null,
            source: Source::Default,
            locked: false,
        },
    }
}

/// A plain value as JSON (serializing these types cannot fail).
fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn string(value: &Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("must be text, not {value}"))
}

fn boolean(value: &Value) -> Result<bool, String> {
    // The registry has no booleans: Group Policy writes DWORD 0 or 1.
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        _ => Err(format!("must be true or false, not {value}")),
    }
}

fn object(value: Value) -> Result<Map<String, Value>, String> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(format!("must be an object, not {other}")),
    }
}

fn unknown_fields(rest: &Map<String, Value>) -> Result<(), String> {
    match rest.keys().next() {
        None => Ok(()),
        Some(name) => Err(format!("unknown field {name}")),
    }
}

fn method(value: &Value) -> Result<Method, String> {
    match string(value)? {
        "bankid_this_device" => Ok(Method::BankidThis),
        "bankid_other_device" => Ok(Method::BankidOther),
        "password" => Ok(Method::Password),
        "siths" => Ok(Method::Siths),
        other => Err(format!(
            "{other:?} is not a login method (bankid_this_device, bankid_other_device, \
             password, siths)"
        )),
    }
}

/// The policy's name of a login method.
pub fn method_name(method: Method) -> &'static str {
    match method {
        Method::BankidThis => "bankid_this_device",
        Method::BankidOther => "bankid_other_device",
        Method::Password => "password",
        Method::Siths => "siths",
    }
}

fn preset<T>(
    value: Value,
    parse: impl Fn(&Value) -> Result<T, String>,
) -> Result<Preset<T>, String> {
    let mut fields = object(value)?;
    let value = parse(&fields.remove("Value").ok_or("Value is missing")?)?;
    let locked = match fields.remove("Locked") {
        None => false,
        Some(locked) => boolean(&locked).map_err(|e| format!("Locked: {e}"))?,
    };
    unknown_fields(&fields)?;
    Ok(Preset { value, locked })
}

// ---- reading the places ------------------------------------------------------------------------

/// `LEGITIMERA_POLICY_DIR`, honoured by debug builds only: a release build reads only the
/// places users cannot write.
pub fn dir_override(
    build: crate::config::BuildKind,
    value: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    (build == crate::config::BuildKind::Debug)
        .then_some(value)
        .flatten()
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The policy from every place this OS has, stronger places first, and what was wrong with it.
/// `dir_override`: debug builds' `LEGITIMERA_POLICY_DIR` (the caller decides whether to honour
/// it).
pub fn read(dir_override: Option<PathBuf>) -> (Policy, Vec<PolicyError>) {
    let mut policy = Policy::default();
    let mut errors = Vec::new();
    let mut add = |(mut found, found_errors): (Policy, Vec<PolicyError>), origin: &str| {
        found.record_origin(origin);
        for mut error in found_errors {
            error.message = format!("{origin}: {}", error.message);
            errors.push(error);
        }
        policy.fill_from(found);
    };
    for place in places(dir_override) {
        match place {
            Place::JsonFile(path) => {
                if let Some(found) = read_file(&path) {
                    add(found, &path.display().to_string());
                }
            }
            #[cfg(target_os = "macos")]
            Place::Plist(path) => {
                if let Some(found) = macos::read_plist(&path) {
                    add(found, &path.display().to_string());
                }
            }
            #[cfg(windows)]
            Place::Registry => {
                if let Some(found) = windows::read_registry() {
                    add(found, windows::REGISTRY_KEY);
                }
            }
        }
    }
    (policy, errors)
}

enum Place {
    JsonFile(PathBuf),
    #[cfg(target_os = "macos")]
    Plist(PathBuf),
    #[cfg(windows)]
    Registry,
}

fn places(dir_override: Option<PathBuf>) -> Vec<Place> {
    match dir_override {
        Some(dir) => vec![Place::JsonFile(dir.join("policies.json"))],
        None => system_places(),
    }
}

#[cfg(not(any(windows, target_os = "macos")))]
fn system_places() -> Vec<Place> {
    vec![Place::JsonFile(PathBuf::from(LINUX_FILE))]
}

#[cfg(windows)]
fn system_places() -> Vec<Place> {
    let mut places = vec![Place::Registry];
    places.extend(beside_the_executable());
    places
}

#[cfg(target_os = "macos")]
fn system_places() -> Vec<Place> {
    let mut places = vec![Place::Plist(PathBuf::from(MACOS_PLIST))];
    places.extend(beside_the_executable());
    places
}

/// `distribution/policies.json` beside the executable, as Firefox has it.
#[cfg(any(windows, target_os = "macos"))]
fn beside_the_executable() -> Option<Place> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    Some(Place::JsonFile(
        dir.join("distribution").join("policies.json"),
    ))
}

/// A policy file: `None` when there is none; an unreadable one is an error, not "no policy".
fn read_file(path: &Path) -> Option<(Policy, Vec<PolicyError>)> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(Policy::parse(&text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => Some((
            Policy::default(),
            vec![PolicyError::new("", format!("cannot be read: {error}"))],
        )),
    }
}

#[cfg(target_os = "macos")]
mod macos {
    use super::*;

    /// The MDM profile's keys, as the same JSON shape.
    pub(super) fn read_plist(path: &Path) -> Option<(Policy, Vec<PolicyError>)> {
        if !path.exists() {
            return None;
        }
        Some(match plist::from_file::<_, Value>(path) {
            Ok(value) => {
                let mut value = value;
                // The profile's own bookkeeping, which macOS may keep beside its keys.
                if let Value::Object(keys) = &mut value {
                    keys.retain(|key, _| !key.starts_with("Payload"));
                }
                Policy::from_value(value)
            }
            Err(error) => (
                Policy::default(),
                vec![PolicyError::new("", format!("cannot be read: {error}"))],
            ),
        })
    }
}

#[cfg(windows)]
mod windows {
    use super::*;
    use winreg::enums::HKEY_LOCAL_MACHINE;
    use winreg::types::FromRegValue;
    use winreg::RegKey;

    pub(super) const REGISTRY_KEY: &str = r"HKLM\SOFTWARE\Policies\Legitimera";

    /// The Group Policy key as the same JSON shape: values become keys (DWORD → number,
    /// string → text), subkeys become objects; a subkey of only numbered values (`1`, `2`, …,
    /// as ADMX `list` elements write them) becomes a list.
    pub(super) fn read_registry() -> Option<(Policy, Vec<PolicyError>)> {
        let key = RegKey::predef(HKEY_LOCAL_MACHINE)
            .open_subkey(r"SOFTWARE\Policies\Legitimera")
            .ok()?;
        Some(Policy::from_value(to_json(&key)))
    }

    fn to_json(key: &RegKey) -> Value {
        let mut map = Map::new();
        for (name, value) in key.enum_values().flatten() {
            let json = match u32::from_reg_value(&value) {
                Ok(number) => Value::from(number),
                Err(_) => String::from_reg_value(&value)
                    .map(Value::from)
                    .unwrap_or(Value::Null),
            };
            map.insert(name, json);
        }
        for name in key.enum_keys().flatten() {
            if let Ok(sub) = key.open_subkey(&name) {
                map.insert(name, to_json(&sub));
            }
        }
        let numbered = !map.is_empty() && map.keys().all(|k| k.parse::<u32>().is_ok());
        if numbered {
            let mut items: Vec<(u32, Value)> = map
                .into_iter()
                .filter_map(|(k, v)| k.parse().ok().map(|n| (n, v)))
                .collect();
            items.sort_by_key(|(n, _)| *n);
            return Value::Array(items.into_iter().map(|(_, v)| v).collect());
        }
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> (Policy, Vec<PolicyError>) {
        Policy::parse(&value.to_string())
    }

    fn keys_of(errors: &[PolicyError]) -> Vec<&str> {
        errors.iter().map(|e| e.key.as_str()).collect()
    }

    #[test]
    fn every_key_parses() {
        let (policy, errors) = parse(json!({"policies": {
            "BackendUrl": "https://e-tjanster.example.se",
            "AllowBackendOverride": true,
            "LoginMethods": ["siths", "password"],
            "ComputerMode": "shared",
            "IdleTimeoutMinutes": 15,
            "Language": {"Value": "en", "Locked": true},
            "PreferredMethod": {"Value": "siths", "Locked": false},
            "ContactCentre": {"Name": "IT-support", "Phone": "010-123 45 67",
                              "Hours": "8–17", "Url": "https://support.example.se"},
            "DiagnosticsHosts": ["e-tjanster.example.se", "proxy.example.se:8080"],
            "Updates": {"Enabled": false, "Endpoint": "https://updates.example.se/{{target}}"}
        }}));
        assert_eq!(errors, vec![]);
        assert_eq!(
            policy.backend_url.unwrap().as_str(),
            "https://e-tjanster.example.se/"
        );
        assert_eq!(policy.allow_backend_override, Some(true));
        assert_eq!(
            policy.login_methods,
            Some(vec![Method::Siths, Method::Password])
        );
        assert_eq!(policy.computer_mode, Some(ComputerMode::Shared));
        assert_eq!(policy.idle_timeout_minutes, Some(15));
        assert_eq!(
            policy.language,
            Some(Preset {
                value: Language::En,
                locked: true
            })
        );
        assert_eq!(
            policy.preferred_method,
            Some(Preset {
                value: Method::Siths,
                locked: false
            })
        );
        assert_eq!(
            policy.contact_centre.unwrap().phone.as_deref(),
            Some("010-123 45 67")
        );
        assert_eq!(policy.diagnostics_hosts.unwrap().len(), 2);
        assert!(!policy.updates.unwrap().enabled);
    }

    #[test]
    fn the_keys_alone_parse_as_well_as_firefox_shape() {
        let (policy, errors) = parse(json!({"ComputerMode": "personal"}));
        assert!(errors.is_empty());
        assert_eq!(policy.computer_mode, Some(ComputerMode::Personal));
    }

    #[test]
    fn idle_timeout_45_is_clamped_to_30_and_reported() {
        let (policy, errors) = parse(json!({"IdleTimeoutMinutes": 45}));
        assert_eq!(policy.idle_timeout_minutes, Some(30));
        assert_eq!(keys_of(&errors), vec!["IdleTimeoutMinutes"]);
        assert!(errors[0].message.contains("45"), "{}", errors[0].message);
        for bad in [json!(0), json!(-5), json!("20"), json!(12.5)] {
            let (policy, errors) = parse(json!({ "IdleTimeoutMinutes": bad }));
            assert_eq!(policy.idle_timeout_minutes, None, "{bad}");
            assert_eq!(keys_of(&errors), vec!["IdleTimeoutMinutes"]);
        }
    }

    #[test]
    fn a_bad_policy_is_reported_key_by_key_and_keeps_safe_defaults() {
        let (policy, errors) = parse(json!({
            "BackendUrl": "http://evil.example.se",
            "AllowBackendOverride": "yes",
            "LoginMethods": ["siths", "magic"],
            "ComputerMode": "personl",
            "Language": "en",
            "PreferredMethod": {"Value": "siths", "Locked": "no"},
            "ContactCentre": {"Name": "IT", "Fax": "x"},
            "DiagnosticsHosts": "host",
            "Updates": {"Endpoint": "https://u.example.se"},
            "Homepage": "https://example.se",
            "IdleTimeoutMinutes": 10
        }));
        assert_eq!(errors.len(), 10, "{errors:?}");
        assert!(keys_of(&errors).contains(&"Homepage"));
        assert_eq!(policy.backend_url, None);
        assert_eq!(policy.allow_backend_override, None);
        assert_eq!(policy.login_methods, None);
        // Unreadable, so the safe one: shared.
        assert_eq!(policy.computer_mode, Some(ComputerMode::Shared));
        assert_eq!(policy.language, None);
        assert_eq!(policy.preferred_method, None);
        assert_eq!(policy.contact_centre, None);
        assert_eq!(policy.diagnostics_hosts, None);
        assert_eq!(policy.updates, None);
        // The rest still applies.
        assert_eq!(policy.idle_timeout_minutes, Some(10));
    }

    #[test]
    fn not_json_or_not_an_object_is_one_error_and_no_policy() {
        for text in ["{ nope", "[1, 2]", "\"x\"", ""] {
            let (policy, errors) = Policy::parse(text);
            assert_eq!(policy, Policy::default());
            assert_eq!(keys_of(&errors), vec![""], "{text}");
        }
    }

    #[test]
    fn a_preferred_method_outside_the_allowed_ones_is_dropped() {
        let (policy, errors) = parse(json!({
            "LoginMethods": ["siths"],
            "PreferredMethod": {"Value": "password", "Locked": true}
        }));
        assert_eq!(keys_of(&errors), vec!["PreferredMethod"]);
        assert_eq!(policy.preferred_method, None);
        assert!(policy.allows(Method::Siths));
        assert!(!policy.allows(Method::Password));
        assert!(Policy::default().allows(Method::Password));
    }

    #[test]
    fn registry_dwords_read_as_booleans() {
        let (policy, errors) = parse(json!({
            "AllowBackendOverride": 1,
            "Language": {"Value": "sv", "Locked": 1}
        }));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(policy.allow_backend_override, Some(true));
        assert!(policy.language.unwrap().locked);
    }

    #[test]
    fn the_policy_dir_is_read_and_unreadable_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (policy, errors) = read(Some(dir.path().to_owned()));
        assert_eq!((policy, errors), (Policy::default(), vec![]));

        let file = dir.path().join("policies.json");
        std::fs::write(&file, r#"{"policies": {"ComputerMode": "shared", "X": 1}}"#).unwrap();
        let (policy, errors) = read(Some(dir.path().to_owned()));
        assert_eq!(policy.computer_mode, Some(ComputerMode::Shared));
        assert_eq!(
            policy.origins.get("ComputerMode"),
            Some(&file.display().to_string())
        );
        assert_eq!(keys_of(&errors), vec!["X"]);

        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir(&file).unwrap();
        let (policy, errors) = read(Some(dir.path().to_owned()));
        assert_eq!(policy, Policy::default());
        assert_eq!(keys_of(&errors), vec![""]);
    }

    #[test]
    fn only_debug_builds_honour_the_policy_dir() {
        use crate::config::BuildKind;
        let dir = Some(std::ffi::OsString::from("/tmp/p"));
        assert_eq!(
            dir_override(BuildKind::Debug, dir.clone()),
            Some(PathBuf::from("/tmp/p"))
        );
        let release = BuildKind::Release { built_in: None };
        assert_eq!(dir_override(release, dir), None);
    }

    #[test]
    fn the_report_names_the_backend_in_use_where_policy_lets_it_be_overridden() {
        use crate::config::BackendSource;
        let (policy, errors) = parse(json!({
            "BackendUrl": "https://policy.example.se",
            "AllowBackendOverride": true
        }));
        assert!(errors.is_empty(), "{errors:?}");
        let user = Settings::default();
        let env = BackendUrl::parse("https://test.example.se").unwrap();
        let report = policy.report(&[], &user, Some((&env, BackendSource::Environment)));
        assert_eq!(
            report.settings["BackendUrl"],
            Reported {
                value: json!("https://test.example.se/"),
                source: Source::User,
                locked: false
            }
        );
        // Without an override in force, the policy's address, locked.
        let chosen = policy.backend_url.clone().unwrap();
        let report = policy.report(&[], &user, Some((&chosen, BackendSource::Policy)));
        assert_eq!(
            report.settings["BackendUrl"],
            Reported {
                value: json!("https://policy.example.se/"),
                source: Source::Policy,
                locked: true
            }
        );
        // A debug build's --backend-url without policy is the user's, not the default.
        let cli = BackendUrl::parse("http://127.0.0.1:2222").unwrap();
        let report = Policy::default().report(&[], &user, Some((&cli, BackendSource::CommandLine)));
        assert_eq!(
            report.settings["BackendUrl"].value,
            json!("http://127.0.0.1:2222/")
        );
        assert_eq!(report.settings["BackendUrl"].source, Source::User);
    }

    #[test]
    fn a_stronger_place_wins_key_by_key() {
        let (mut strong, _) = parse(json!({"ComputerMode": "shared"}));
        strong.record_origin("registry");
        let (mut weak, _) = parse(json!({"ComputerMode": "personal", "IdleTimeoutMinutes": 5}));
        weak.record_origin("file");
        strong.fill_from(weak);
        assert_eq!(strong.computer_mode, Some(ComputerMode::Shared));
        assert_eq!(strong.idle_timeout_minutes, Some(5));
        assert_eq!(strong.origins["ComputerMode"], "registry");
        assert_eq!(strong.origins["IdleTimeoutMinutes"], "file");
    }
}
