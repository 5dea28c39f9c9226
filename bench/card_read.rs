//! Card inserted → certificate ready to show, through real pcscd and the virtual card over
//! vpcd: the watcher's `CardInserted`, connect, one transaction that finds the application
//! and reads the authentication certificate, and `CertificateInfo` from its DER. Also the
//! APDUs and milliseconds to read the certificate against the floor: the fewest APDUs a
//! reader of that card kind can send (short APDUs, ≤ 256 bytes an answer) × one measured
//! round trip. APDUs are counted by the virtual card itself, not by the code under test.
//! pcscd learns of a card in a reader without card-event interrupts (vpcd is one) by polling
//! it every 400 ms (PCSCLITE_STATUS_POLL_RATE); a card put in right after a removal was seen
//! would always wait the whole poll, so insertion i comes (i / INSERTIONS) × 400 ms after it,
//! spread over the poll as a person's hand is.
//! Bounded: `INSERTIONS` per card kind (default 20), RSA-2048 keys (`KEY=p256` for P-256).
//! Needs pcscd and vsmartcard-vpcd; starts `pcscd -f` when it is not running and stops it at
//! the end (`legitimera_testkit::pcscd`). Run: `cargo bench -p legitimera-bench --bench card_read`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use legitimera_bench::Summary;
use legitimera_card::{
    apdu, piv, pkcs15, CardEvent, CardKind, CertificateInfo, KeyRole, Pcsc, Watcher,
};
use legitimera_testkit::pcscd::Pcscd;
use legitimera_vcard::{self as vcard, CardKeys, CertificateTimes, Config, Identity, VirtualCard};

const ROUND_TRIPS: usize = 200;
const EVENT_LIMIT: Duration = Duration::from_secs(10);
/// pcscd's presence poll for readers that do not report card events themselves.
const PRESENCE_POLL: Duration = Duration::from_millis(400);
/// The largest answer a short APDU carries.
const SHORT_ANSWER: usize = 256;

fn wait_for(events: &Receiver<CardEvent>, reader: &str, inserted: bool) {
    let deadline = Instant::now() + EVENT_LIMIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events
            .recv_timeout(left)
            .expect("no card event within 10 s")
        {
            CardEvent::CardInserted { reader: r, .. } if inserted && r == reader => return,
            CardEvent::CardRemoved { reader: r } if !inserted && r == reader => return,
            _ => {}
        }
    }
}

/// The fewest short APDUs that read the authentication certificate of a card of `kind` whose
/// layout the reader does not know in advance (it knows the kind).
fn floor_apdus(kind: CardKind, identity: &Identity, compress: bool) -> usize {
    let der = &identity.certificates.authentication;
    let answers = |len: usize| len.div_ceil(SHORT_ANSWER);
    match kind {
        // SELECT PIV; GET DATA 5FC105 and the GET RESPONSEs for the whole object.
        CardKind::Piv => 1 + answers(piv::certificate_object(der, compress).unwrap().len()),
        // SELECT the application; SELECT + READ BINARY the ODF and the CDF (each a single
        // answer here); SELECT the certificate file and READ BINARY it.
        CardKind::Pkcs15 => {
            // The directory files as the virtual card writes them (vcard.rs).
            let odf = pkcs15::encode_odf([0; 2], [0; 2], [0; 2]).len();
            let cdf = [
                pkcs15::encode_certificate_entry("Legitimering", &[0x45], [0; 2]),
                pkcs15::encode_certificate_entry("Underskrift", &[0x46], [0; 2]),
            ]
            .concat()
            .len();
            1 + (1 + answers(odf)) + (1 + answers(cdf)) + 1 + answers(der.len())
        }
    }
}

/// One PC/SC round trip: SELECT of the card's own application, a few bytes each way.
fn round_trip(reader: &str, kind: CardKind) -> Summary {
    let context = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let name = std::ffi::CString::new(reader).unwrap();
    let card = context
        .connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .unwrap();
    let aid: &[u8] = match kind {
        CardKind::Piv => &piv::AID,
        CardKind::Pkcs15 => &pkcs15::AID,
    };
    let select = apdu::select_aid(aid).unwrap();
    let mut buffer = [0u8; pcsc::MAX_BUFFER_SIZE];
    let mut times = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let started = Instant::now();
        let answer = card.transmit(select.as_bytes(), &mut buffer).unwrap();
        times.push(started.elapsed());
        assert_eq!(answer[answer.len() - 2..], [0x90, 0x00]);
    }
    let _ = card.disconnect(pcsc::Disposition::LeaveCard);
    Summary::of(times)
}

struct Insertion {
    to_event: Duration,
    to_ready: Duration,
    read: Duration,
    apdus_card: u64,
    apdus_session: u32,
}

fn main() {
    let insertions: usize = std::env::var("INSERTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let p256 = std::env::var("KEY").is_ok_and(|key| key == "p256");
    let _pcscd = Pcscd::ensure().expect("pcscd with vpcd (install pcscd and vsmartcard-vpcd)");
    let keys = if p256 {
        CardKeys::generate_p256()
    } else {
        CardKeys::generate_rsa2048().unwrap()
    };
    let identity = Arc::new(Identity::generate(keys, CertificateTimes::Valid).unwrap());
    let reader = vcard::reader_name(vcard::VPCD_PORT);
    let (watcher, events) = Watcher::with_channel();
    println!(
        "card inserted → authentication certificate ready to show; {} keys, certificate {} bytes, {insertions} insertions per card",
        if p256 { "P-256" } else { "RSA-2048" },
        identity.certificates.authentication.len()
    );

    for (kind, compress, label) in [
        (CardKind::Piv, false, "PIV"),
        (CardKind::Piv, true, "PIV, gzip-compressed certificates"),
        (CardKind::Pkcs15, false, "PKCS#15"),
    ] {
        let config = Config {
            kind,
            compress_certificates: compress,
            ..Config::default()
        };
        let mut card = VirtualCard::start(config, identity.clone()).unwrap();
        wait_for(&events, &reader, true);
        let pcsc = Pcsc::establish().unwrap();
        let round_trip = round_trip(&reader, kind);

        let mut runs = Vec::with_capacity(insertions);
        for insertion in 0..insertions {
            card.pull_out();
            wait_for(&events, &reader, false);
            std::thread::sleep(PRESENCE_POLL.mul_f64(insertion as f64 / insertions as f64));
            let apdus_before = card.apdu_count();
            let inserted = Instant::now();
            card.insert();
            wait_for(&events, &reader, true);
            let event = Instant::now();
            let mut connected = pcsc.connect(&reader).unwrap();
            let (der, read, apdus_session) = connected
                .with_session(|session| {
                    let der = session.certificate(KeyRole::Authentication)?;
                    Ok((der, event.elapsed(), session.apdu_count()))
                })
                .unwrap();
            let info = CertificateInfo::from_der(&der).unwrap();
            let ready = Instant::now();
            drop(connected);
            assert_eq!(info.key_usage.role(), Some(KeyRole::Authentication));
            runs.push(Insertion {
                to_event: event - inserted,
                to_ready: ready - inserted,
                read,
                apdus_card: card.apdu_count() - apdus_before,
                apdus_session,
            });
        }
        drop(card);
        wait_for(&events, &reader, false);

        let floor = floor_apdus(kind, &identity, compress);
        let apdus = runs[0].apdus_card;
        assert!(
            runs.iter().all(|run| run.apdus_card == apdus),
            "the same card should take the same APDUs every time"
        );
        let to_event = Summary::of(runs.iter().map(|r| r.to_event).collect());
        let to_ready = Summary::of(runs.iter().map(|r| r.to_ready).collect());
        let read = Summary::of(runs.iter().map(|r| r.read).collect());
        let floor_time = round_trip.median * floor as u32;
        println!("\n{label}:");
        println!("  inserted → CardInserted event:      {to_event}");
        println!("  inserted → certificate ready:       {to_ready}");
        println!("  event → certificate read (connect, transaction, APDUs): {read}");
        println!("  one round trip (SELECT, {ROUND_TRIPS}×):        {round_trip}");
        println!(
            "  APDUs to read it: {apdus} (the card's count; the session counted {}); floor {floor}; ratio {:.2}",
            runs[0].apdus_session,
            apdus as f64 / floor as f64
        );
        println!(
            "  read median {:.2} ms vs floor {floor} × {:.3} ms = {:.2} ms; ratio {:.2}",
            ms(read.median),
            ms(round_trip.median),
            ms(floor_time),
            read.median.as_secs_f64() / floor_time.as_secs_f64()
        );
    }
    watcher.stop();
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
