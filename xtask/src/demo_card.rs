//! The demo's card reader: a real one when a reader that is not vpcd's virtual one is
//! connected; otherwise pcscd (started when it is not running) with the virtual card `vcard` in
//! vpcd's first reader, whose test CA the demo backend is told to trust. Everything started
//! here is stopped on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context, Result};

use legitimera_testkit::pcscd::Pcscd;

/// The virtual card's PIN (its default): printed for whoever runs the demo.
pub const DEMO_PIN: &str = "123456";
/// vpcd's readers are named "Virtual PCD 00 00", "Virtual PCD 00 01".
const VIRTUAL_READER_PREFIX: &str = "Virtual PCD";

/// What the demo's SITHS login uses.
pub struct DemoCard {
    vcard: Option<Child>,
    ca_file: Option<PathBuf>,
    _pcscd: Option<Pcscd>,
    /// Arguments for the demo server (the test CA as a SITHS trust anchor).
    pub server_args: Vec<String>,
}

/// The readers `card-info` lists: `None` when the PC/SC service is not running.
fn readers(card_info: &Path) -> Result<Option<Vec<String>>> {
    let output = Command::new(card_info)
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("could not run {}", card_info.display()))?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("{} printed no JSON", card_info.display()))?;
    match report["error"]["code"].as_str() {
        Some("no_pcsc_service") => return Ok(None),
        Some("no_reader") => return Ok(Some(Vec::new())),
        Some(other) => bail!("card-info failed: {other}"),
        None => {}
    }
    let names = report["readers"]
        .as_array()
        .map(|readers| {
            readers
                .iter()
                .filter_map(|reader| reader["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(names))
}

impl DemoCard {
    /// Finds a real reader, or sets up pcscd and the virtual card; says which on stdout.
    /// `server` is where the demo server will listen (`http://127.0.0.1:PORT`): the virtual
    /// card's CA publishes its CRL there, so the server can check revocation.
    pub fn start(bin: &Path, server: &str) -> Result<Self> {
        let real: Vec<String> = readers(&bin.join("card-info"))?
            .unwrap_or_default()
            .into_iter()
            .filter(|name| !name.starts_with(VIRTUAL_READER_PREFIX))
            .collect();
        if !real.is_empty() {
            println!(
                "\nSITHS: using the card reader{} {}. A real SITHS card logs in only when the demo \
                 backend trusts its CAs: set LEGITIMERA_SITHS_TRUST_ANCHORS to their PEM files.",
                if real.len() == 1 { "" } else { "s" },
                real.join(", ")
            );
            return Ok(DemoCard {
                vcard: None,
                ca_file: None,
                _pcscd: None,
                server_args: Vec::new(),
            });
        }
        let pcscd = Pcscd::ensure()?;
        let ca_file = std::env::temp_dir().join(format!(
            "legitimera-demo-siths-ca-{}.pem",
            std::process::id()
        ));
        let mut vcard = Command::new(bin.join("vcard"))
            .arg("--ca-out")
            .arg(&ca_file)
            .arg("--pin")
            .arg(DEMO_PIN)
            .arg("--demo-server")
            .arg(server)
            .stdout(Stdio::piped())
            .spawn()
            .context("could not start the virtual card (vcard)")?;
        let mut line = String::new();
        if let Some(stdout) = vcard.stdout.take() {
            BufReader::new(stdout).read_line(&mut line)?;
        }
        if !line.starts_with("virtual card in") || !ca_file.is_file() {
            let _ = vcard.kill();
            let _ = vcard.wait();
            bail!("the virtual card did not start (said {line:?})");
        }
        println!(
            "\nSITHS: no card reader is connected, so the demo uses a virtual SITHS card \
             (Anna Testsson, HSA-id SE2321000016-1234) in pcscd's virtual reader \
             \"Virtual PCD 00 00\". Its PIN is {DEMO_PIN}. The demo backend trusts its test CA \
             ({}).",
            ca_file.display()
        );
        Ok(DemoCard {
            server_args: vec![
                "--siths-trust-anchors".into(),
                ca_file.display().to_string(),
                "--siths-issuing-cas".into(),
                ca_file.display().to_string(),
            ],
            vcard: Some(vcard),
            ca_file: Some(ca_file),
            _pcscd: Some(pcscd),
        })
    }
}

impl Drop for DemoCard {
    fn drop(&mut self) {
        if let Some(mut vcard) = self.vcard.take() {
            let _ = vcard.kill();
            let _ = vcard.wait();
        }
        if let Some(ca_file) = self.ca_file.take() {
            let _ = std::fs::remove_file(ca_file);
        }
    }
}
