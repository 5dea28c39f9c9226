//! `cargo xtask bundle`: the release app as `.deb` and `.rpm`, built by the Tauri bundler
//! (tauri-cli, pinned, installed under the target dir); `--repo DIR` also publishes a signed
//! apt repository; `--test` proves the packages on this machine (install, start, purge, no
//! leftovers; the same from the repository; a tampered repository refused; the updater's
//! signature check on the artifacts just built). No AppImage: its tools are downloaded at build
//! time. Keys made here live in temporary directories and are never written to the tree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::e2e_env::tempfile_dir::TempDir;
use crate::e2e_env::DesktopSession;
use crate::{packages, root, run, target_dir, without_cargo_run_env};

/// The Tauri CLI this project bundles with (a 3.0 alpha exists: never take "the latest").
pub const TAURI_CLI_VERSION: &str = "2.12.4";
/// The Debian package's name (the bundler kebab-cases `productName`).
const PACKAGE: &str = "legitimera";
/// The updater's public key (the content of `tauri signer generate`'s `.pub` file), put into
/// the app's config at build time. The private key stays in `TAURI_SIGNING_PRIVATE_KEY`.
const UPDATER_PUBKEY_ENV: &str = "LEGITIMERA_UPDATER_PUBKEY";
/// The GnuPG key (fingerprint or ID, in the caller's own keyring) that signs `--repo`; without
/// it a throwaway key is made.
const REPO_KEY_ENV: &str = "LEGITIMERA_REPO_SIGNING_KEY";
/// What the repository calls its one suite.
const SUITE: &str = "stable";
/// Strings that only test machinery and demo-only commands put into a binary: none may be in
/// the release app. Each is in a debug build of the app or of the crate named.
const TEST_MACHINERY: &[&str] = &[
    "legitimera_vcard",
    "legitimera_testkit",
    "crates/vcard/",
    "crates/testkit/",
    "bankid/src/simulator",
    "demo/outbox",
    "demo/bankid/",
];

struct Options {
    repo: Option<PathBuf>,
    test: bool,
}

pub fn command(args: &[String], install: bool) -> Result<()> {
    let mut options = Options {
        repo: None,
        test: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--repo" => {
                let dir = args.next().context("--repo needs a directory")?;
                options.repo = Some(std::path::absolute(dir)?);
            }
            "--test" => options.test = true,
            "--no-install" => {}
            other => bail!("cargo xtask bundle: unexpected {other}"),
        }
    }
    let needed: Vec<&str> = packages::BUILD
        .iter()
        .chain(packages::BUNDLE)
        .copied()
        .collect();
    packages::ensure(&needed, install)?;
    if options.test {
        ensure!(
            crate::packages::is_root(),
            "--test installs packages with apt-get: run it as root (in a throwaway machine or container)"
        );
    }
    let cli = ensure_tauri_cli()?;
    let keys = TempDir::new("legitimera-keys-")?;
    let signing = updater_signing(&cli, &keys, options.test)?;
    // The test signs the .rpm as a release does (TAURI_SIGNING_RPM_KEY), with a throwaway key
    // whose public half it then checks the signature with. Signing is bundling, not compiling:
    // the key makes nothing rebuild.
    let rpm_key = if options.test {
        Some(RpmKey::new(keys.path())?)
    } else {
        None
    };
    let started = Instant::now();
    let built = build(&cli, signing.as_ref(), rpm_key.as_ref())?;
    let build_time = started.elapsed();
    report(&built, build_time)?;
    if let Some(dir) = &options.repo {
        let key = RepoKey::from_env_or_new(keys.path())?;
        publish_repo(dir, &built.deb, &key)?;
    }
    if options.test {
        let signing = signing.context("the test build is always signed for updates")?;
        test_updater(&built, &signing, &cli, keys.path())?;
        check_rpm(&built.rpm, rpm_key.as_ref())?;
        let scratch = TempDir::new("legitimera-bundle-test-")?;
        install_test(
            "the .deb with apt-get",
            &Install::File(built.deb.clone()),
            None,
        )?;
        let key = RepoKey::from_env_or_new(keys.path())?;
        let repo = match &options.repo {
            Some(dir) => dir.clone(),
            None => {
                let dir = scratch.path().join("repo");
                publish_repo(&dir, &built.deb, &key)?;
                dir
            }
        };
        install_test(
            "from the signed apt repository",
            &Install::Repository(repo.clone()),
            Some(scratch.path()),
        )?;
        tampered_repositories_are_refused(&repo, &key, scratch.path(), keys.path())?;
        println!("\nbundle test passed");
    }
    Ok(())
}

/// tauri-cli at the pinned version, in `<target dir>/tools/tauri-cli-<version>`: npm's
/// `@tauri-apps/cli` (the same CLI, prebuilt: a few seconds) where npm exists, else built with
/// `cargo install --locked` (about 10 minutes on an idle machine, far longer on a busy one).
fn ensure_tauri_cli() -> Result<PathBuf> {
    let install_root = target_dir()
        .join("tools")
        .join(format!("tauri-cli-{TAURI_CLI_VERSION}"));
    let from_npm = install_root.join("node_modules").join(".bin").join("tauri");
    let from_cargo = install_root.join("bin").join("cargo-tauri");
    if let Some(found) = [&from_npm, &from_cargo].into_iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    std::fs::create_dir_all(&install_root)?;
    let npm = Command::new("npm").arg("--version").output();
    if npm.is_ok_and(|out| out.status.success()) {
        println!(
            "\n==> installing tauri-cli {TAURI_CLI_VERSION} (npm @tauri-apps/cli, a few seconds)"
        );
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&install_root)
            .arg(format!("@tauri-apps/cli@{TAURI_CLI_VERSION}"))
            .status()
            .context("could not run npm install")?;
        ensure!(
            status.success(),
            "npm install @tauri-apps/cli failed ({status})"
        );
        ensure!(
            from_npm.is_file(),
            "@tauri-apps/cli was installed but {from_npm:?} is missing"
        );
        return Ok(from_npm);
    }
    println!("\n==> installing tauri-cli {TAURI_CLI_VERSION} (no npm: cargo install --locked, about 10 minutes once)");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["install", "tauri-cli", "--locked", "--version"])
        .arg(format!("={TAURI_CLI_VERSION}"))
        .arg("--root")
        .arg(&install_root)
        // Its own target dir: the workspace's must not be locked or polluted by it.
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .context("could not run cargo install")?;
    ensure!(
        status.success(),
        "cargo install tauri-cli failed ({status})"
    );
    ensure!(
        from_cargo.is_file(),
        "tauri-cli was installed but {from_cargo:?} is missing"
    );
    Ok(from_cargo)
}

/// The updater's key pair for this build: the private key from the builder's environment
/// (`TAURI_SIGNING_PRIVATE_KEY`, with `LEGITIMERA_UPDATER_PUBKEY` beside it), or for `--test` a
/// throwaway pair made with `tauri signer generate --ci`. None: the build makes no update
/// artifacts and the app has no key, so it never updates itself.
struct Signing {
    /// The private key: its content, or the path of its file.
    private_key: String,
    password: String,
    /// The public key's content (what `plugins.updater.pubkey` holds).
    pubkey: String,
}

fn updater_signing(cli: &Path, keys: &TempDir, test: bool) -> Result<Option<Signing>> {
    if let Ok(private_key) = std::env::var("TAURI_SIGNING_PRIVATE_KEY") {
        let pubkey = std::env::var(UPDATER_PUBKEY_ENV).with_context(|| {
            format!("TAURI_SIGNING_PRIVATE_KEY is set: set {UPDATER_PUBKEY_ENV} to the content of its .pub file too")
        })?;
        return Ok(Some(Signing {
            private_key,
            password: std::env::var("TAURI_SIGNING_PRIVATE_KEY_PASSWORD").unwrap_or_default(),
            pubkey,
        }));
    }
    if !test {
        println!(
            "\nno TAURI_SIGNING_PRIVATE_KEY: no update artifacts, and this build never updates itself"
        );
        return Ok(None);
    }
    let key = generate_updater_key(cli, &keys.path().join("updater.key"))?;
    Ok(Some(key))
}

/// `tauri signer generate --ci`: a minisign key pair with an empty password.
fn generate_updater_key(cli: &Path, path: &Path) -> Result<Signing> {
    let output = Command::new(cli)
        .args(["signer", "generate", "--ci", "--force", "-w"])
        .arg(path)
        .output()
        .context("could not run tauri signer generate")?;
    ensure!(
        output.status.success(),
        "tauri signer generate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pubkey = std::fs::read_to_string(path.with_extension("key.pub"))?;
    Ok(Signing {
        private_key: path.display().to_string(),
        password: String::new(),
        pubkey: pubkey.trim().to_owned(),
    })
}

struct Built {
    deb: PathBuf,
    rpm: PathBuf,
}

/// `cargo tauri build --bundles deb,rpm` for the app package only; with a signing key, the
/// public key goes into `plugins.updater.pubkey` and `.sig` files are made beside the packages.
fn build(cli: &Path, signing: Option<&Signing>, rpm_key: Option<&RpmKey>) -> Result<Built> {
    let out = target_dir().join("release").join("bundle");
    // Old packages must not pass for new ones.
    for kind in ["deb", "rpm"] {
        let _ = std::fs::remove_dir_all(out.join(kind));
    }
    let mut command = Command::new(cli);
    command
        .current_dir(root())
        .args(["build", "--bundles", "deb,rpm", "--ci"]);
    without_cargo_run_env(&mut command);
    match signing {
        Some(signing) => {
            let config = serde_json::json!({
                "bundle": {"createUpdaterArtifacts": true},
                "plugins": {"updater": {"pubkey": signing.pubkey}},
            });
            command
                .arg("--config")
                .arg(config.to_string())
                .env("TAURI_SIGNING_PRIVATE_KEY", &signing.private_key)
                .env("TAURI_SIGNING_PRIVATE_KEY_PASSWORD", &signing.password);
        }
        None => {
            command
                .env_remove("TAURI_SIGNING_PRIVATE_KEY")
                .env_remove("TAURI_SIGNING_PRIVATE_KEY_PASSWORD");
        }
    }
    if let Some(rpm_key) = rpm_key {
        command
            .env(RPM_KEY_ENV, &rpm_key.secret)
            .env_remove("TAURI_SIGNING_RPM_KEY_PASSPHRASE");
    }
    // Only the app: the workspace root's other members are not part of it.
    command.args(["--", "-p", "legitimera"]);
    run(
        "release app and packages (cargo tauri build --bundles deb,rpm)",
        &mut command,
    )?;
    Ok(Built {
        deb: only_file(&out.join("deb"), "deb")?,
        rpm: only_file(&out.join("rpm"), "rpm")?,
    })
}

fn only_file(dir: &Path, extension: &str) -> Result<PathBuf> {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("no {dir:?}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!("expected one .{extension} in {dir:?}, found {found:?}"),
    }
}

/// Goal: a package is at most this big (a download on an old shared computer's connection).
const MAX_PACKAGE_BYTES: u64 = 10_000_000;

fn report(built: &Built, build_time: Duration) -> Result<()> {
    println!("\n==> packages ({:.0} s)", build_time.as_secs_f64());
    for path in [&built.deb, &built.rpm] {
        let size = std::fs::metadata(path)?.len();
        println!(
            "  {:>6.1} MB  {} ({size} bytes)",
            size as f64 / 1e6,
            path.display()
        );
        let signature = signature_path(path);
        if signature.is_file() {
            println!("             {} (updater signature)", signature.display());
        }
        ensure!(
            size <= MAX_PACKAGE_BYTES,
            "{} is {size} bytes, over the goal of {MAX_PACKAGE_BYTES}",
            path.display()
        );
    }
    Ok(())
}

fn signature_path(package: &Path) -> PathBuf {
    let mut name = package.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// The GnuPG key that signs the repository: the caller's (`LEGITIMERA_REPO_SIGNING_KEY`, from
/// their own keyring) or a throwaway one in a temporary GNUPGHOME.
struct RepoKey {
    /// None: the caller's own GNUPGHOME.
    home: Option<PathBuf>,
    id: String,
}

impl RepoKey {
    fn from_env_or_new(scratch: &Path) -> Result<RepoKey> {
        if let Ok(id) = std::env::var(REPO_KEY_ENV) {
            return Ok(RepoKey { home: None, id });
        }
        RepoKey::new(
            &scratch.join("gnupg-repo"),
            "Legitimera test repository",
            "ed25519",
        )
    }

    /// A new signing key (`algorithm` as gpg names it) without a passphrase, in its own
    /// GNUPGHOME; the one already there if there is one.
    fn new(home: &Path, name: &str, algorithm: &str) -> Result<RepoKey> {
        if home.is_dir() {
            let key = RepoKey {
                home: Some(home.to_owned()),
                id: String::new(),
            };
            return key.with_fingerprint();
        }
        std::fs::create_dir_all(home)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700))?;
        }
        let key = RepoKey {
            home: Some(home.to_owned()),
            id: String::new(),
        };
        run_quietly(
            "gpg --quick-gen-key",
            key.gpg().args([
                "--passphrase",
                "",
                "--quick-gen-key",
                &format!("{name} <repository@legitimera.invalid>"),
                algorithm,
                "sign",
                "1d",
            ]),
        )?;
        key.with_fingerprint()
    }

    fn with_fingerprint(mut self) -> Result<RepoKey> {
        let output = self
            .gpg()
            .args(["--list-secret-keys", "--with-colons"])
            .output()?;
        let listing = String::from_utf8_lossy(&output.stdout);
        self.id = listing
            .lines()
            .find_map(|line| line.strip_prefix("fpr:"))
            .and_then(|rest| rest.split(':').find(|field| !field.is_empty()))
            .context("the new key has no fingerprint")?
            .to_owned();
        Ok(self)
    }

    fn gpg(&self) -> Command {
        let mut command = Command::new("gpg");
        command.args(["--batch", "--yes", "--pinentry-mode", "loopback"]);
        if let Some(home) = &self.home {
            command.env("GNUPGHOME", home);
        }
        command
    }

    fn apply(&self, command: &mut Command) {
        if let Some(home) = &self.home {
            command.env("GNUPGHOME", home);
        }
    }
}

impl Drop for RepoKey {
    fn drop(&mut self) {
        if let Some(home) = &self.home {
            let _ = Command::new("gpgconf")
                .args(["--kill", "gpg-agent"])
                .env("GNUPGHOME", home)
                .status();
        }
    }
}

/// The public key file clients pin with `Signed-By:`.
const KEYRING_FILE: &str = "legitimera-archive-keyring.gpg";

/// An apt repository in `dir` (reprepro), with the package, `InRelease`/`Release.gpg` signed by
/// `key`, and the public key beside it as `legitimera-archive-keyring.gpg`.
fn publish_repo(dir: &Path, deb: &Path, key: &RepoKey) -> Result<()> {
    std::fs::create_dir_all(dir.join("conf"))?;
    std::fs::write(
        dir.join("conf").join("distributions"),
        format!(
            "Origin: Legitimera\nLabel: Legitimera\nCodename: {SUITE}\nArchitectures: amd64 arm64\n\
             Components: main\nDescription: Legitimera packages\nSignWith: {}\n",
            key.id
        ),
    )?;
    let mut reprepro = Command::new("reprepro");
    key.apply(&mut reprepro);
    reprepro
        .arg("--basedir")
        .arg(dir)
        .args(["--export=force", "includedeb", SUITE])
        .arg(deb);
    run_quietly("reprepro includedeb", &mut reprepro)?;
    let exported = key
        .gpg()
        .args(["--export", &key.id])
        .output()
        .context("gpg --export")?;
    ensure!(
        exported.status.success() && !exported.stdout.is_empty(),
        "gpg --export gave no key"
    );
    std::fs::write(dir.join(KEYRING_FILE), exported.stdout)?;
    println!(
        "\n==> signed apt repository in {} (key {}, public key {KEYRING_FILE})",
        dir.display(),
        key.id
    );
    Ok(())
}

/// Runs a command, showing its output only when it fails.
fn run_quietly(step: &str, command: &mut Command) -> Result<String> {
    let output = command
        .output()
        .with_context(|| format!("{step}: could not start"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    ensure!(output.status.success(), "{step} failed: {text}");
    Ok(text)
}

/// The updater's own verification on what this build produced, through the app's adapter
/// (tests/updater). Needs no root and no display.
fn test_updater(built: &Built, signing: &Signing, cli: &Path, keys: &Path) -> Result<()> {
    let wrong = generate_updater_key(cli, &keys.join("wrong.key"))?;
    let mut test = crate::cargo();
    test.args([
        "test",
        "--release",
        "-p",
        "legitimera-updater-test",
        "--features",
        "bundle-test",
        "--",
        "--include-ignored",
    ])
    .env("LEGITIMERA_UPDATE_PACKAGE", &built.deb)
    .env(UPDATER_PUBKEY_ENV, &signing.pubkey)
    .env("LEGITIMERA_UPDATER_WRONG_PUBKEY", &wrong.pubkey);
    run(
        "updater: signed update accepted, tampered or wrongly keyed refused (tests/updater)",
        &mut test,
    )
}

/// `TAURI_SIGNING_RPM_KEY`: the ASCII-armoured PGP secret key the bundler signs the .rpm with.
const RPM_KEY_ENV: &str = "TAURI_SIGNING_RPM_KEY";

/// A throwaway RSA key for signing the test's .rpm, and its public half for checking it.
struct RpmKey {
    secret: String,
    public: PathBuf,
    _gpg: RepoKey,
}

impl RpmKey {
    fn new(scratch: &Path) -> Result<RpmKey> {
        let key = RepoKey::new(
            &scratch.join("gnupg-rpm"),
            "Legitimera test packages",
            "rsa3072",
        )?;
        let secret = run_quietly(
            "gpg --export-secret-keys",
            key.gpg().args([
                "--passphrase",
                "",
                "--armor",
                "--export-secret-keys",
                &key.id,
            ]),
        )?;
        let public = scratch.join("rpm-key.asc");
        run_quietly(
            "gpg --export",
            key.gpg()
                .args(["--armor", "--output"])
                .arg(&public)
                .args(["--export", &key.id]),
        )?;
        Ok(RpmKey {
            secret,
            public,
            _gpg: key,
        })
    }
}

/// The .rpm is well-formed and declares its run-time needs; signed by the test's key, rpm
/// verifies it against that key in a database of its own (the system's is not touched).
fn check_rpm(rpm: &Path, key: Option<&RpmKey>) -> Result<()> {
    let requires = run_quietly(
        "rpm -qp --requires",
        Command::new("rpm").args(["-qp", "--requires"]).arg(rpm),
    )?;
    let recommends = run_quietly(
        "rpm -qp --recommends",
        Command::new("rpm").args(["-qp", "--recommends"]).arg(rpm),
    )?;
    for needed in [
        "libwebkit2gtk-4.1.so.0()(64bit)",
        "libgtk-3.so.0()(64bit)",
        "libpcsclite.so.1()(64bit)",
        "libdbus-1.so.3()(64bit)",
    ] {
        ensure!(
            requires.lines().any(|line| line.trim() == needed),
            "the .rpm does not require {needed}: {requires}"
        );
    }
    ensure!(
        recommends.lines().any(|line| line.trim() == "pcsc-lite"),
        "the .rpm does not recommend pcsc-lite: {recommends}"
    );
    println!("\n==> .rpm requires webkit2gtk, gtk, libpcsclite, libdbus; recommends pcsc-lite");
    if let Some(key) = key {
        let db = TempDir::new("legitimera-rpmdb-")?;
        let in_db = |command: &mut Command| {
            command.arg("--dbpath").arg(db.path());
        };
        let mut init = Command::new("rpm");
        in_db(&mut init);
        run_quietly("rpm --initdb", init.arg("--initdb"))?;
        let mut import = Command::new("rpm");
        in_db(&mut import);
        run_quietly("rpm --import", import.arg("--import").arg(&key.public))?;
        let mut check = Command::new("rpm");
        in_db(&mut check);
        let checked = run_quietly("rpm -K", check.arg("-K").arg(rpm))?;
        ensure!(
            checked.contains("signatures OK"),
            "rpm did not verify the .rpm's signature: {checked}"
        );
        println!("  rpm -K with the signing key: {}", checked.trim());
    }
    Ok(())
}

enum Install {
    /// `apt-get install ./file.deb`.
    File(PathBuf),
    /// `apt-get install legitimera` from a `file:` source pinned with `Signed-By`.
    Repository(PathBuf),
}

/// Installs, checks what was installed, starts the app under Xvfb, purges, and looks for
/// leftovers in /usr and /etc.
fn install_test(what: &str, install: &Install, scratch: Option<&Path>) -> Result<()> {
    println!("\n==> install test: {what}");
    ensure!(
        !is_installed(PACKAGE),
        "{PACKAGE} is installed already: purge it first (apt-get purge {PACKAGE})"
    );
    let before = tree(&["/usr", "/etc"]);
    match install {
        Install::File(deb) => {
            apt(&[], &["install", "-y", "-q"], &[deb.as_os_str()])?;
        }
        Install::Repository(repo) => {
            let scratch = scratch.context("a repository install needs a scratch dir")?;
            let apt_dirs = AptDirs::new(&scratch.join("apt-good"), repo)?;
            let updated = apt_dirs.update()?;
            ensure!(
                updated.status.success(),
                "apt-get update from the signed repository failed: {}",
                updated.text
            );
            apt(&apt_dirs.options(), &["install", "-y", "-q", PACKAGE], &[])?;
            let policy = run_quietly(
                "apt-cache policy",
                Command::new("apt-cache")
                    .args(apt_dirs.options())
                    .args(["policy", PACKAGE]),
            )?;
            ensure!(
                policy.contains("file:"),
                "apt did not install it from the repository: {policy}"
            );
        }
    }
    let files = installed_files()?;
    let result = check_installed(&files);
    let purged = apt(&[], &["purge", "-y", "-q", PACKAGE], &[]);
    result?;
    purged?;
    ensure!(
        !is_installed(PACKAGE),
        "{PACKAGE} is still installed after purge"
    );
    let left: Vec<&PathBuf> = files
        .iter()
        .filter(|path| !before.contains(*path) && path.symlink_metadata().is_ok())
        .collect();
    ensure!(left.is_empty(), "purge left the package's files: {left:?}");
    let after = tree(&["/usr", "/etc"]);
    let new: Vec<&PathBuf> = after.difference(&before).collect();
    ensure!(
        new.is_empty(),
        "purge left new paths in /usr or /etc: {new:?}"
    );
    println!("  purged: every installed file is gone, nothing new in /usr or /etc");
    Ok(())
}

/// What an installed package must look like, and a short start under Xvfb.
fn check_installed(files: &[PathBuf]) -> Result<()> {
    let bin = Path::new("/usr/bin/legitimera");
    ensure!(
        files.iter().any(|f| f == bin),
        "no /usr/bin/legitimera in {files:?}"
    );
    ensure!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "desktop")),
        "no .desktop file in {files:?}"
    );
    let status = run_quietly("dpkg -s", Command::new("dpkg").args(["-s", PACKAGE]))?;
    for needed in [
        "libwebkit2gtk-4.1-0",
        "libgtk-3-0",
        "libpcsclite1",
        "libdbus-1-3",
    ] {
        ensure!(
            status
                .lines()
                .any(|l| l.starts_with("Depends:") && l.contains(needed)),
            "the package does not depend on {needed}: {status}"
        );
    }
    ensure!(
        status
            .lines()
            .any(|l| l.starts_with("Recommends:") && l.contains("pcscd")),
        "the package does not recommend pcscd: {status}"
    );
    let version = run_quietly("legitimera --version", Command::new(bin).arg("--version"))?;
    ensure!(
        version.trim() == format!("legitimera {}", env!("CARGO_PKG_VERSION")),
        "legitimera --version said {version:?}"
    );
    let binary = std::fs::read(bin)?;
    let found: Vec<&str> = TEST_MACHINERY
        .iter()
        .copied()
        .filter(|needle| contains(&binary, needle.as_bytes()))
        .collect();
    ensure!(
        found.is_empty(),
        "the installed app contains test machinery: {found:?}"
    );
    // The bundler marks the binary with its package type by overwriting this placeholder; the
    // updater installs .deb updates only when the mark is there.
    ensure!(
        !contains(&binary, b"__TAURI_BUNDLE_TYPE_VAR_UNK"),
        "the installed binary is not marked as a .deb install (updates would not install)"
    );
    println!("  installed: /usr/bin/legitimera {}, depends and recommends as declared, no test machinery", version.trim());
    smoke(bin)
}

/// Starts the installed app under Xvfb: it must show its window and still run a few seconds
/// later; then it is asked to end (SIGTERM, as a logout does).
fn smoke(bin: &Path) -> Result<()> {
    let _lock = display_lock()?;
    let session = DesktopSession::start()?;
    let mut command = Command::new(bin);
    session.apply(&mut command);
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut app = KillOnDrop(
        command
            .spawn()
            .context("could not start the installed app")?,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = app.0.try_wait()? {
            bail!("the installed app exited at start ({status})");
        }
        let windows = Command::new("xwininfo")
            .args(["-root", "-tree", "-display", session.display()])
            .output()?;
        if String::from_utf8_lossy(&windows.stdout).contains("\"Legitimera\"") {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the installed app showed no window in 30 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_secs(3));
    if let Some(status) = app.0.try_wait()? {
        bail!("the installed app exited after showing its window ({status})");
    }
    Command::new("kill")
        .args(["-TERM", &app.0.id().to_string()])
        .status()?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.0.try_wait()?.is_none() {
        ensure!(
            Instant::now() < deadline,
            "the installed app did not end on SIGTERM in 15 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("  started under Xvfb: window \"Legitimera\" shown, still running 3 s later, ended on SIGTERM");
    Ok(())
}

/// `LEGITIMERA_HW_LOCK`: a file to hold an exclusive lock on while the display and the app run,
/// where several test runs share one machine (unset: no lock).
const HW_LOCK_ENV: &str = "LEGITIMERA_HW_LOCK";

// `File::lock` is newer than the workspace's rust-version; xtask runs on the toolchain that
// builds the app, which tauri-plugin-updater already holds to 1.90 or later.
#[allow(clippy::incompatible_msrv)]
fn display_lock() -> Result<Option<std::fs::File>> {
    let Some(path) = std::env::var_os(HW_LOCK_ENV) else {
        return Ok(None);
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("{HW_LOCK_ENV}: {path:?}"))?;
    println!("  waiting for {path:?} …");
    file.lock()
        .with_context(|| format!("could not lock {HW_LOCK_ENV}"))?;
    Ok(Some(file))
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|out| out.status.success() && out.stdout.ends_with(b"install ok installed"))
        .unwrap_or(false)
}

/// `dpkg -L`: the package's files and directories.
fn installed_files() -> Result<Vec<PathBuf>> {
    let listing = run_quietly("dpkg -L", Command::new("dpkg").args(["-L", PACKAGE]))?;
    Ok(listing
        .lines()
        .filter(|line| line.starts_with('/') && *line != "/.")
        .map(PathBuf::from)
        .collect())
}

/// `roots` and every path below them (not following links).
fn tree(roots: &[&str]) -> BTreeSet<PathBuf> {
    let mut stack: Vec<PathBuf> = roots.iter().map(PathBuf::from).collect();
    let mut found: BTreeSet<PathBuf> = stack.iter().cloned().collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path.clone());
            }
            found.insert(path);
        }
    }
    found
}

/// apt-get as root, waiting for the dpkg lock rather than failing on it.
fn apt(options: &[String], args: &[&str], paths: &[&std::ffi::OsStr]) -> Result<()> {
    let mut command = Command::new("apt-get");
    command
        .args(["-o", "DPkg::Lock::Timeout=600"])
        .args(options)
        .args(args)
        .args(paths)
        .env("DEBIAN_FRONTEND", "noninteractive");
    run_quietly(&format!("apt-get {}", args.join(" ")), &mut command).map(|_| ())
}

/// apt pointed at one repository only, with its own lists and no shared caches, so neither the
/// system's sources nor its package lists are touched.
struct AptDirs {
    dir: PathBuf,
}

struct Answer {
    status: std::process::ExitStatus,
    text: String,
}

impl AptDirs {
    fn new(dir: &Path, repo: &Path) -> Result<AptDirs> {
        let parts = dir.join("sources.list.d");
        std::fs::create_dir_all(&parts)?;
        std::fs::create_dir_all(dir.join("lists").join("partial"))?;
        std::fs::write(dir.join("sources.list"), "")?;
        // The deb822 source IT writes to /etc/apt/sources.list.d/legitimera.sources.
        std::fs::write(
            parts.join("legitimera.sources"),
            format!(
                "Types: deb\nURIs: file:{}\nSuites: {SUITE}\nComponents: main\nSigned-By: {}\n",
                repo.display(),
                repo.join(KEYRING_FILE).display()
            ),
        )?;
        Ok(AptDirs {
            dir: dir.to_owned(),
        })
    }

    fn options(&self) -> Vec<String> {
        let set = |key: &str, value: &Path| ["-o".to_owned(), format!("{key}={}", value.display())];
        [
            set("Dir::Etc::SourceList", &self.dir.join("sources.list")),
            set("Dir::Etc::SourceParts", &self.dir.join("sources.list.d")),
            set("Dir::State::Lists", &self.dir.join("lists")),
            set("Dir::Cache::pkgcache", Path::new("")),
            set("Dir::Cache::srcpkgcache", Path::new("")),
        ]
        .concat()
    }

    fn update(&self) -> Result<Answer> {
        let output = Command::new("apt-get")
            .args(self.options())
            .args(["update", "-q"])
            .output()
            .context("could not run apt-get update")?;
        Ok(Answer {
            status: output.status,
            text: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        })
    }
}

/// A copy of the repository with its package list changed after signing, and one signed by
/// another key: `apt-get update` must refuse both, so the package cannot be installed from them.
fn tampered_repositories_are_refused(
    repo: &Path,
    key: &RepoKey,
    scratch: &Path,
    keys: &Path,
) -> Result<()> {
    println!("\n==> tampered repositories");
    let copy = |name: &str| -> Result<PathBuf> {
        let to = scratch.join(name);
        run_quietly("cp -a", Command::new("cp").arg("-a").arg(repo).arg(&to))?;
        // reprepro's own state is not part of what clients read.
        let _ = std::fs::remove_dir_all(to.join("db"));
        let _ = std::fs::remove_dir_all(to.join("conf"));
        Ok(to)
    };
    let lists = copy("repo-modified-packages")?;
    let packages_dir = lists.join(format!("dists/{SUITE}/main/binary-amd64"));
    let packages = packages_dir.join("Packages");
    let text = std::fs::read_to_string(&packages)?;
    ensure!(
        text.contains("Package: legitimera"),
        "no package in {packages:?}"
    );
    // What an attacker on a mirror would do: change the package list (here one field; a real
    // attack would point it at another .deb) and keep the signed Release as it was.
    let changed = text.replace("Priority: optional", "Priority: required");
    ensure!(changed != text, "nothing to change in {packages:?}");
    std::fs::write(&packages, &changed)?;
    for compressed in ["Packages.gz", "Packages.xz"] {
        let path = packages_dir.join(compressed);
        if path.exists() {
            std::fs::remove_file(&path)?;
            let tool = if compressed.ends_with(".gz") {
                "gzip"
            } else {
                "xz"
            };
            run_quietly(tool, Command::new(tool).args(["-k", "-f"]).arg(&packages))?;
        }
    }
    refused(
        &lists,
        "a Packages file changed after signing",
        &["Hash Sum mismatch", "File has unexpected size"],
        scratch,
    )?;

    let resigned = copy("repo-other-key")?;
    let other = RepoKey::new(&keys.join("gnupg-other"), "Someone else", "ed25519")?;
    ensure!(other.id != key.id, "the other key is the same key");
    let release = resigned.join(format!("dists/{SUITE}"));
    run_quietly(
        "gpg --clearsign",
        other
            .gpg()
            .args(["--local-user", &other.id, "--clearsign", "--output"])
            .arg(release.join("InRelease"))
            .arg(release.join("Release")),
    )?;
    run_quietly(
        "gpg --detach-sign",
        other
            .gpg()
            .args([
                "--local-user",
                &other.id,
                "--armor",
                "--detach-sign",
                "--output",
            ])
            .arg(release.join("Release.gpg"))
            .arg(release.join("Release")),
    )?;
    refused(
        &resigned,
        "Release signed by another key",
        &["NO_PUBKEY", "not signed"],
        scratch,
    )?;
    Ok(())
}

/// `apt-get update` from `repo` (pinned to the real key) fails with one of `expected`, and the
/// package has no candidate from it.
fn refused(repo: &Path, what: &str, expected: &[&str], scratch: &Path) -> Result<()> {
    let name = repo
        .file_name()
        .context("a repository dir has a name")?
        .to_string_lossy()
        .into_owned();
    // Pinned to the genuine key, as a client configured for the genuine repository is.
    let genuine_key = repo.join(KEYRING_FILE);
    ensure!(genuine_key.is_file(), "no {KEYRING_FILE} in {repo:?}");
    let apt_dirs = AptDirs::new(&scratch.join(format!("apt-{name}")), repo)?;
    let answer = apt_dirs.update()?;
    ensure!(
        !answer.status.success(),
        "apt-get update accepted {what}: {}",
        answer.text
    );
    let reason = expected
        .iter()
        .find(|e| answer.text.contains(**e))
        .with_context(|| {
            format!(
                "apt-get update refused {what}, but not for the expected reason: {}",
                answer.text
            )
        })?;
    let policy = Command::new("apt-cache")
        .args(apt_dirs.options())
        .args(["policy", PACKAGE])
        .output()?;
    let policy = String::from_utf8_lossy(&policy.stdout);
    ensure!(
        !policy.contains("file:"),
        "apt still offers the package from {what}: {policy}"
    );
    println!("  refused by apt-get update: {what} ({reason})");
    Ok(())
}
