//! Whether Net iD (SecMaker/Pointsharp's card middleware) is installed, and its version where
//! readable. Missing Net iD is a warning, not a failure: Legitimera reads the card itself, but
//! logins in a web browser need it. Only looks: it loads no module and changes nothing.

use std::path::{Path, PathBuf};

use super::{tr, CheckId, Outcome, Status};
use crate::locale::Language;

/// The PKCS#11 module names Net iD installs on Linux (Enterprise, and the newer Client).
const LINUX_MODULES: [&str; 2] = ["libiidp11.so", "libnetid.so"];

/// Where to look, so tests can point at a folder of their own.
#[derive(Debug, Clone, Default)]
pub struct NetIdPlaces {
    /// Library directories that may hold the PKCS#11 module.
    pub lib_dirs: Vec<PathBuf>,
    /// Configuration files whose presence means an installation (`/etc/netid.conf`, `iid.conf`).
    pub config_files: Vec<PathBuf>,
    /// p11-kit module registrations (`*.module`).
    pub module_dirs: Vec<PathBuf>,
    /// Windows: `%ProgramFiles%\Net iD`.
    pub program_dir: Option<PathBuf>,
    /// Debian's package records (`/var/lib/dpkg`): the version of the package that installed
    /// a module found, where dpkg installed it.
    pub dpkg_dir: Option<PathBuf>,
}

impl NetIdPlaces {
    pub fn for_this_machine() -> Self {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let mut lib_dirs: Vec<PathBuf> = [
            "/usr/lib",
            "/usr/lib64",
            "/usr/local/lib",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib/pkcs11",
            "/usr/lib/x86_64-linux-gnu/pkcs11",
            "/usr/lib64/pkcs11",
        ]
        .into_iter()
        .map(PathBuf::from)
        .collect();
        let mut config_files = vec![
            PathBuf::from("/etc/netid.conf"),
            PathBuf::from("/etc/iid.conf"),
        ];
        if let Some(home) = &home {
            lib_dirs.push(home.join(".iid/lib"));
            config_files.push(home.join(".iid/iid.conf"));
        }
        // Net iD reads its configuration where these variables point.
        for variable in ["iidconfig", "iidconfiglocal"] {
            if let Some(path) = std::env::var_os(variable) {
                config_files.push(PathBuf::from(path));
            }
        }
        NetIdPlaces {
            lib_dirs,
            config_files,
            module_dirs: vec![
                PathBuf::from("/usr/share/p11-kit/modules"),
                PathBuf::from("/etc/pkcs11/modules"),
            ],
            program_dir: std::env::var_os("ProgramFiles")
                .map(|dir| PathBuf::from(dir).join("Net iD")),
            dpkg_dir: cfg!(target_os = "linux").then(|| PathBuf::from("/var/lib/dpkg")),
        }
    }
}

/// What was found, as lines for the detail.
#[derive(Debug, Default)]
struct Found {
    lines: Vec<String>,
    version: Option<String>,
}

pub(super) async fn check(lang: Language, places: &NetIdPlaces) -> Outcome {
    let places = places.clone();
    let found = tokio::task::spawn_blocking(move || look(lang, &places))
        .await
        .unwrap_or_default();
    let id = CheckId::NetId;
    let not_confirmed = if cfg!(target_os = "macos") {
        tr!(
            lang,
            "\nPå macOS finns inga bekräftade installationssökvägar för Net iD; kontrollen letar efter program som heter Net iD i /Applications och kan missa en installation.",
            "\nOn macOS there are no confirmed installation paths for Net iD; the check looks for applications named Net iD in /Applications and may miss an installation."
        )
    } else {
        String::new()
    };
    if found.lines.is_empty() {
        return Outcome::new(id, lang, Status::Warning, tr!(lang, "Net iD hittades inte", "Net iD was not found"))
            .detail(tr!(
                lang,
                "Legitimera läser kortet själv och behöver inte Net iD. Inloggning med kortet i en webbläsare (till exempel på SITHS testsida) kräver däremot Net iD.{not_confirmed}",
                "Legitimera reads the card itself and does not need Net iD. Logging in with the card in a web browser (on the SITHS test page, for example) does need Net iD.{not_confirmed}"
            ))
            .advice(tr!(
                lang,
                "Behöver du logga in med kortet i webbläsaren, be IT-supporten installera Net iD.",
                "If you need to log in with the card in a web browser, ask IT support to install Net iD."
            ));
    }
    let summary = match &found.version {
        Some(version) => tr!(
            lang,
            "Net iD är installerat (version {version})",
            "Net iD is installed (version {version})"
        ),
        None => tr!(lang, "Net iD är installerat", "Net iD is installed"),
    };
    let mut detail = found.lines.join("\n");
    if found.version.is_none() {
        detail.push_str(&tr!(
            lang,
            "\nVersionen gick inte att läsa.",
            "\nThe version could not be read."
        ));
    }
    detail.push_str(&not_confirmed);
    Outcome::new(id, lang, Status::Ok, summary).detail(detail)
}

fn look(lang: Language, places: &NetIdPlaces) -> Found {
    let mut found = Found::default();
    for dir in &places.lib_dirs {
        for module in LINUX_MODULES {
            let path = dir.join(module);
            if path.exists() {
                let shown = path.display();
                found.lines.push(tr!(
                    lang,
                    "PKCS#11-modul: {shown}",
                    "PKCS#11 module: {shown}"
                ));
                if found.version.is_none() {
                    found.version = places
                        .dpkg_dir
                        .as_deref()
                        .and_then(|dpkg| dpkg_version(dpkg, &path));
                }
            }
        }
    }
    for file in &places.config_files {
        if file.is_file() {
            let shown = file.display();
            found.lines.push(tr!(
                lang,
                "Inställningar: {shown}",
                "Configuration: {shown}"
            ));
        }
    }
    for dir in &places.module_dirs {
        for (path, module) in p11_registrations(dir) {
            let shown = path.display();
            found.lines.push(tr!(
                lang,
                "p11-kit-registrering: {shown} (module: {module})",
                "p11-kit registration: {shown} (module: {module})"
            ));
        }
    }
    if let Some(dir) = &places.program_dir {
        for file in ["iidp11.dll", "iid.dll", "iidcsp.dll", "iidxmd.dll"] {
            let path = dir.join(file);
            if path.exists() {
                let shown = path.display();
                found.lines.push(tr!(lang, "Fil: {shown}", "File: {shown}"));
            }
        }
    }
    windows_registry(lang, &mut found);
    macos_applications(lang, &mut found);
    found
}

/// The version of the Debian package that installed `module`, from dpkg's own records: the
/// package whose file list (`info/<package>.list`) holds the path, and that package's
/// `Version` in `status` while it is installed. None when dpkg did not install it (a copy in
/// `~/.iid/lib`, an RPM system).
fn dpkg_version(dpkg: &Path, module: &Path) -> Option<String> {
    let [wanted, alias] = dpkg_names(module);
    let owner = std::fs::read_dir(dpkg.join("info"))
        .ok()?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "list"))
        .find(|path| {
            std::fs::read_to_string(path)
                .is_ok_and(|list| list.lines().any(|line| line == wanted || line == alias))
        })?;
    // `info/netid.list`, or `info/netid:amd64.list` for a multi-arch package.
    let stem = owner.file_stem()?.to_string_lossy().into_owned();
    let package = stem.split(':').next()?;
    let status = std::fs::read_to_string(dpkg.join("status")).ok()?;
    status.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':').map(str::trim))
        };
        let installed = field("Status").is_some_and(|s| s.ends_with(" installed"));
        (field("Package")? == package && installed)
            .then(|| field("Version").map(str::to_owned))
            .flatten()
    })
}

/// The names dpkg may have listed `path` under: itself, and with merged /usr the same file
/// under /lib for /usr/lib (and the other way round).
fn dpkg_names(path: &Path) -> [String; 2] {
    let path = path.to_string_lossy().into_owned();
    let alias = match path.strip_prefix("/usr/") {
        Some(rest) => format!("/{rest}"),
        None => format!("/usr{path}"),
    };
    [path, alias]
}

/// p11-kit `*.module` files whose `module:` names a Net iD library.
fn p11_registrations(dir: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(PathBuf, String)> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "module"))
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let module = text.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == "module").then(|| value.trim().to_owned())
            })?;
            let file = Path::new(&module)
                .file_name()?
                .to_string_lossy()
                .into_owned();
            LINUX_MODULES
                .contains(&file.as_str())
                .then_some((path, module))
        })
        .collect();
    found.sort();
    found
}

#[cfg(target_os = "windows")]
fn windows_registry(lang: Language, found: &mut Found) {
    use winreg::enums::HKEY_LOCAL_MACHINE;
    use winreg::RegKey;
    let machine = RegKey::predef(HKEY_LOCAL_MACHINE);
    for key in [
        r"SOFTWARE\SecMaker\NetiD\Enterprise",
        r"SOFTWARE\Policies\SecMaker\NetiD\Enterprise",
        r"SOFTWARE\Policies\Pointsharp\NetiD\Client",
    ] {
        if let Ok(opened) = machine.open_subkey(key) {
            found.lines.push(tr!(
                lang,
                "Registernyckel: HKLM\\{key}",
                "Registry key: HKLM\\{key}"
            ));
            if found.version.is_none() {
                found.version = opened.get_value::<String, _>("Version").ok();
            }
        }
    }
}

#[cfg(not(target_os = "windows"))]
fn windows_registry(_lang: Language, _found: &mut Found) {}

#[cfg(target_os = "macos")]
fn macos_applications(lang: Language, found: &mut Found) {
    let Ok(entries) = std::fs::read_dir("/Applications") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("Net iD") {
            found.lines.push(tr!(
                lang,
                "Program: /Applications/{name}",
                "Application: /Applications/{name}"
            ));
        }
    }
}

#[cfg(not(target_os = "macos"))]
fn macos_applications(_lang: Language, _found: &mut Found) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(root: &Path) -> NetIdPlaces {
        NetIdPlaces {
            lib_dirs: vec![root.join("usr/lib"), root.join("home/.iid/lib")],
            config_files: vec![root.join("etc/netid.conf")],
            module_dirs: vec![root.join("usr/share/p11-kit/modules")],
            program_dir: None,
            dpkg_dir: Some(root.join("var/lib/dpkg")),
        }
    }

    /// dpkg's records of a package that installed `module`, `state` as in its Status line.
    fn dpkg_installed(root: &Path, package: &str, module: &str, state: &str) {
        let info = root.join("var/lib/dpkg/info");
        std::fs::create_dir_all(&info).expect("mkdir");
        std::fs::write(
            info.join(format!("{package}:amd64.list")),
            format!("/.\n/usr\n/usr/lib\n{module}\n"),
        )
        .expect("write");
        std::fs::write(
            info.join("opensc.list"),
            "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so\n",
        )
        .expect("write");
        std::fs::write(
            root.join("var/lib/dpkg/status"),
            format!(
                "Package: opensc\nStatus: install ok installed\nVersion: 0.23.0-0.3\n\n\
                 Package: {package}\nStatus: {state}\nArchitecture: amd64\nVersion: 6.8.5.20\n\n"
            ),
        )
        .expect("write");
    }

    #[tokio::test]
    async fn the_version_is_read_from_the_package_that_installed_the_module() {
        let root = tempfile::tempdir().expect("tempdir");
        let lib = root.path().join("usr/lib");
        std::fs::create_dir_all(&lib).expect("mkdir");
        std::fs::write(lib.join("libiidp11.so"), b"").expect("write");
        let listed = lib.join("libiidp11.so").to_string_lossy().into_owned();
        dpkg_installed(
            root.path(),
            "netid-enterprise",
            &listed,
            "install ok installed",
        );
        let outcome = check(Language::En, &places(root.path())).await;
        assert_eq!(outcome.status, Status::Ok);
        assert!(outcome.summary.contains("6.8.5.20"), "{}", outcome.summary);
        assert!(
            !outcome.detail.contains("could not be read"),
            "{}",
            outcome.detail
        );
    }

    #[test]
    fn dpkg_may_list_a_file_under_lib_or_usr_lib() {
        let names = dpkg_names(Path::new("/usr/lib/x86_64-linux-gnu/libiidp11.so"));
        assert_eq!(names[1], "/lib/x86_64-linux-gnu/libiidp11.so");
        let names = dpkg_names(Path::new("/lib/libnetid.so"));
        assert_eq!(names[1], "/usr/lib/libnetid.so");
    }

    #[tokio::test]
    async fn a_removed_package_or_a_module_dpkg_does_not_know_has_no_version() {
        let root = tempfile::tempdir().expect("tempdir");
        let lib = root.path().join("usr/lib");
        std::fs::create_dir_all(&lib).expect("mkdir");
        std::fs::write(lib.join("libiidp11.so"), b"").expect("write");
        let module = lib.join("libiidp11.so").to_string_lossy().into_owned();
        dpkg_installed(
            root.path(),
            "netid-enterprise",
            &module,
            "deinstall ok config-files",
        );
        let outcome = check(Language::En, &places(root.path())).await;
        assert_eq!(outcome.status, Status::Ok);
        assert!(!outcome.summary.contains("6.8.5.20"), "{}", outcome.summary);
        assert!(
            outcome.detail.contains("could not be read"),
            "{}",
            outcome.detail
        );

        let unknown = tempfile::tempdir().expect("tempdir");
        let lib = unknown.path().join("home/.iid/lib");
        std::fs::create_dir_all(&lib).expect("mkdir");
        std::fs::write(lib.join("libnetid.so"), b"").expect("write");
        dpkg_installed(
            unknown.path(),
            "netid-enterprise",
            "/usr/lib/libnetid.so",
            "install ok installed",
        );
        let outcome = check(Language::En, &places(unknown.path())).await;
        assert!(!outcome.summary.contains("6.8.5.20"), "{}", outcome.summary);
    }

    #[tokio::test]
    async fn missing_net_id_is_a_warning_that_explains_browser_logins() {
        let root = tempfile::tempdir().expect("tempdir");
        let outcome = check(Language::Sv, &places(root.path())).await;
        assert_eq!(outcome.status, Status::Warning);
        assert!(outcome.detail.contains("webbläsare"), "{}", outcome.detail);
    }

    #[tokio::test]
    async fn a_per_user_module_and_a_p11_kit_registration_are_found() {
        let root = tempfile::tempdir().expect("tempdir");
        let lib = root.path().join("home/.iid/lib");
        std::fs::create_dir_all(&lib).expect("mkdir");
        std::fs::write(lib.join("libiidp11.so"), b"").expect("write");
        let modules = root.path().join("usr/share/p11-kit/modules");
        std::fs::create_dir_all(&modules).expect("mkdir");
        std::fs::write(
            modules.join("netid.module"),
            "module: /usr/lib/pkcs11/libnetid.so\n",
        )
        .expect("write");
        std::fs::write(modules.join("opensc.module"), "module: opensc-pkcs11.so\n").expect("write");
        let outcome = check(Language::En, &places(root.path())).await;
        assert_eq!(outcome.status, Status::Ok);
        assert!(
            outcome.detail.contains("libiidp11.so"),
            "{}",
            outcome.detail
        );
        assert!(
            outcome.detail.contains("netid.module"),
            "{}",
            outcome.detail
        );
        assert!(!outcome.detail.contains("opensc"), "{}", outcome.detail);
    }
}
