//! `vcard`: runs the virtual card in pcscd's virtual reader until stopped (Ctrl-C), for the
//! demo and manual checks. Writes the test CA certificate (PEM) where `--ca-out` says, so the
//! server can trust it. With `--demo-server URL` the card's certificates name that demo
//! server's CRL route as their distribution point, and the CA publishes its CRL there (as soon
//! as the server answers, then every hour), so the server can check revocation.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use legitimera_card::CardKind;
use legitimera_vcard::{CardKeys, CertificateTimes, Config, Identity, TestCa, VirtualCard};

const USAGE: &str =
    "usage: vcard [--kind piv|pkcs15] [--key rsa|p256] [--port 35963] [--pin 123456]
             [--expired | --not-yet-valid] [--blocked] [--garbage] [--compress] [--ca-out FILE]
             [--demo-server http://127.0.0.1:PORT [--revoked]]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("vcard: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut config = Config::default();
    let mut rsa = false;
    let mut times = CertificateTimes::Valid;
    let (mut blocked, mut garbage) = (false, false);
    let mut ca_out = None;
    let mut demo_server: Option<String> = None;
    let mut revoked = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--kind" => {
                config.kind = match value()?.as_str() {
                    "piv" => CardKind::Piv,
                    "pkcs15" => CardKind::Pkcs15,
                    other => return Err(format!("unknown kind {other}")),
                }
            }
            "--key" => rsa = value()? == "rsa",
            "--port" => config.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--pin" => config.pin = value()?,
            "--expired" => times = CertificateTimes::Expired,
            "--not-yet-valid" => times = CertificateTimes::NotYetValid,
            "--blocked" => blocked = true,
            "--garbage" => garbage = true,
            "--compress" => config.compress_certificates = true,
            "--ca-out" => ca_out = Some(value()?),
            "--demo-server" => demo_server = Some(value()?),
            "--revoked" => revoked = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let keys = if rsa {
        CardKeys::generate_rsa2048().map_err(|e| e.to_string())?
    } else {
        CardKeys::generate_p256()
    };
    let ca = TestCa::generate().map_err(|e| e.to_string())?;
    let crl_url = demo_server.as_deref().map(|server| ca.crl_url(server));
    let identity = Arc::new(
        Identity::issued_by(ca, keys, times, crl_url.as_deref()).map_err(|e| e.to_string())?,
    );
    if let Some(server) = demo_server {
        let identity = Arc::clone(&identity);
        // The server starts after the card (it is told to trust the CA file written below):
        // publish as soon as it answers, then again well before the CRL's day is up.
        std::thread::spawn(move || loop {
            match identity.publish_crl(&server, revoked) {
                Ok(()) => std::thread::sleep(Duration::from_secs(3600)),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        });
    }
    if let Some(path) = ca_out {
        std::fs::write(&path, identity.ca.pem()).map_err(|e| format!("{path}: {e}"))?;
    }
    let card = VirtualCard::start(config, identity).map_err(|e| e.to_string())?;
    if blocked {
        card.block_pin();
    }
    card.set_garbage(garbage);
    println!(
        "virtual card in \"{}\"; Ctrl-C to take it out",
        card.reader_name()
    );
    loop {
        std::thread::park();
    }
}
