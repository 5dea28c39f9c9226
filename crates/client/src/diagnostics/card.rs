//! The card side of the diagnostics: the PC/SC service, the readers, the card (kind, PIN tries
//! left, asked without spending one) and its authentication certificate (validity, key usage,
//! issuer; trust, revocation and policy as the backend answers where it offers the check).
//! Reads the card in shared mode, never sends a PIN, and keeps the holder out of the texts.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use legitimera_card::{
    CardContents, CardKind, CertificateInfo, Error as CardError, KeyRole, KeyUsage, Pcsc,
    PinStatus, Validity,
};
use time::OffsetDateTime;

use super::backend::{self, RevocationAnswer, SithsCheck};
use super::{tr, CheckId, Findings, Identity, Options, Outcome, Status};
use crate::locale::Language;

/// Runs blocking PC/SC work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CardError> + Send + 'static,
) -> Result<T, CardError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|_| Err(CardError::Pcsc("the PC/SC task ended".into())))
}

fn service_advice(lang: Language) -> String {
    if cfg!(target_os = "windows") {
        tr!(
            lang,
            "Starta tjänsten Smartkort (SCardSvr) under Tjänster, eller starta om datorn. Hjälper det inte, kontakta IT-supporten.",
            "Start the Smart Card service (SCardSvr) in Services, or restart the computer. If that does not help, contact IT support."
        )
    } else if cfg!(target_os = "macos") {
        tr!(
            lang,
            "Korttjänsten (CryptoTokenKit) svarar inte. Koppla ur och in kortläsaren och starta om datorn; hjälper det inte, kontakta IT-supporten.",
            "The smart card service (CryptoTokenKit) does not answer. Unplug and replug the reader and restart the computer; if that does not help, contact IT support."
        )
    } else if ["/usr/sbin/pcscd", "/usr/local/sbin/pcscd", "/sbin/pcscd"]
        .iter()
        .any(|path| std::path::Path::new(path).exists())
    {
        tr!(
            lang,
            "Tjänsten pcscd körs inte. Starta den: sudo systemctl enable --now pcscd.socket",
            "The pcscd service is not running. Start it: sudo systemctl enable --now pcscd.socket"
        )
    } else {
        tr!(
            lang,
            "Tjänsten pcscd är inte installerad. Installera paketet pcscd (och drivrutinen för kortläsaren, ofta libccid) och starta den: sudo systemctl enable --now pcscd.socket",
            "The pcscd service is not installed. Install the pcscd package (and the reader's driver, often libccid) and start it: sudo systemctl enable --now pcscd.socket"
        )
    }
}

pub(super) async fn pcsc_service(lang: Language, findings: &mut Findings) -> Outcome {
    let id = CheckId::PcscService;
    let result = blocking(|| Pcsc::establish().and_then(|pcsc| pcsc.readers().map(drop))).await;
    findings.service = Some(result.is_ok());
    match result {
        Ok(()) => Outcome::new(
            id,
            lang,
            Status::Ok,
            tr!(
                lang,
                "Korttjänsten svarar",
                "The smart card service answers"
            ),
        ),
        Err(error) => Outcome::new(
            id,
            lang,
            Status::Failed,
            tr!(
                lang,
                "Korttjänsten svarar inte",
                "The smart card service does not answer"
            ),
        )
        .detail(error.to_string())
        .advice(service_advice(lang)),
    }
}

pub(super) async fn readers(lang: Language, findings: &mut Findings) -> Outcome {
    let id = CheckId::Readers;
    if findings.service != Some(true) {
        return Outcome::skipped(
            id,
            lang,
            tr!(
                lang,
                "Korttjänsten svarar inte",
                "The smart card service does not answer"
            ),
        );
    }
    let readers = match blocking(|| Pcsc::establish()?.readers()).await {
        Ok(readers) => readers,
        Err(error) => {
            return Outcome::new(
                id,
                lang,
                Status::Failed,
                tr!(
                    lang,
                    "Kortläsarna kunde inte listas",
                    "The card readers could not be listed"
                ),
            )
            .detail(error.to_string())
            .advice(service_advice(lang))
        }
    };
    findings.readers = readers.iter().map(|r| r.name.clone()).collect();
    if readers.is_empty() {
        return Outcome::new(id, lang, Status::Failed, tr!(lang, "Ingen kortläsare hittades", "No card reader was found"))
            .advice(tr!(
                lang,
                "Kontrollera att kortläsaren sitter i: koppla ur och in sladden, prova en annan USB-port direkt i datorn (inte via en USB-hubb eller dockningsstation). Är läsaren ny kan den behöva en drivrutin – kontakta IT-supporten.",
                "Check that the card reader is connected: unplug and replug the cable, try another USB port directly on the computer (not through a USB hub or docking station). A new reader may need a driver – contact IT support."
            ));
    }
    let lines: Vec<String> = readers
        .iter()
        .map(|reader| {
            let name = &reader.name;
            if reader.card_present {
                tr!(lang, "{name}: kort isatt", "{name}: card inserted")
            } else {
                tr!(lang, "{name}: inget kort", "{name}: no card")
            }
        })
        .collect();
    let count = readers.len();
    Outcome::new(
        id,
        lang,
        Status::Ok,
        tr!(
            lang,
            "{count} kortläsare hittades",
            "{count} card reader(s) found"
        ),
    )
    .detail(lines.join("\n"))
}

fn kind_name(kind: CardKind) -> &'static str {
    match kind {
        CardKind::Piv => "PIV",
        CardKind::Pkcs15 => "PKCS#15",
    }
}

pub(super) async fn card(lang: Language, findings: &mut Findings) -> Outcome {
    let id = CheckId::Card;
    if findings.readers.is_empty() {
        return Outcome::skipped(
            id,
            lang,
            tr!(
                lang,
                "Ingen kortläsare att läsa kortet i",
                "No card reader to read the card in"
            ),
        );
    }
    let read = blocking(|| {
        let pcsc = Pcsc::establish()?;
        let reader = pcsc.reader_with_card()?;
        let contents = pcsc.read_card(&reader)?;
        Ok((reader, contents))
    })
    .await;
    let (reader, contents) = match read {
        Ok(read) => read,
        Err(error) => return card_error(lang, &error),
    };
    let kind = kind_name(contents.kind);
    let outcome = match contents.pin {
        PinStatus::Blocked => Outcome::new(id, lang, Status::Failed, tr!(lang, "PIN-koden är spärrad", "The PIN is blocked"))
            .detail(tr!(lang, "{kind}-kort i {reader}", "{kind} card in {reader}"))
            .advice(tr!(
                lang,
                "Lås upp kortet med PUK-koden (den finns i kodbrevet du fick med kortet), eller vänd dig till din kortadministratör (id-kortsadministratören i din organisation).",
                "Unblock the card with the PUK (it is in the code letter that came with the card), or ask your card administrator (the ID card administrator in your organisation)."
            )),
        PinStatus::TriesLeft { tries_left: 1 } => Outcome::new(id, lang, Status::Warning, tr!(lang, "Ett PIN-försök kvar", "One PIN try left"))
            .detail(tr!(lang, "{kind}-kort i {reader}", "{kind} card in {reader}"))
            .advice(tr!(
                lang,
                "Nästa felaktiga PIN-kod spärrar kortet. Är du osäker på koden, kontakta din kortadministratör innan du försöker igen.",
                "The next wrong PIN blocks the card. If you are not sure of the PIN, contact your card administrator before you try again."
            )),
        PinStatus::TriesLeft { tries_left } => Outcome::new(
            id,
            lang,
            Status::Ok,
            tr!(lang, "{kind}-kort, {tries_left} PIN-försök kvar", "{kind} card, {tries_left} PIN tries left"),
        )
        .detail(tr!(lang, "{kind}-kort i {reader}", "{kind} card in {reader}")),
        PinStatus::Verified => Outcome::new(id, lang, Status::Ok, tr!(lang, "{kind}-kort, PIN-koden är redan angiven", "{kind} card, PIN already verified"))
            .detail(tr!(lang, "{kind}-kort i {reader}", "{kind} card in {reader}")),
    };
    findings.card = Some((reader, contents));
    outcome
}

fn card_error(lang: Language, error: &CardError) -> Outcome {
    let id = CheckId::Card;
    let (summary, advice) = match error {
        CardError::NoCard => (
            tr!(lang, "Inget kort i läsaren", "No card in the reader"),
            tr!(lang, "Sätt i ditt e-tjänstekort med chippet först och uppåt.", "Insert your e-service ID card, chip first and facing up."),
        ),
        CardError::CardBusy => (
            tr!(lang, "Ett annat program använder kortet", "Another program is using the card"),
            tr!(
                lang,
                "Stäng andra program som använder kortet (till exempel en webbläsare inloggad med kortet). Håller Net iD kortet låst, starta om datorn.",
                "Close other programs that use the card (a web browser logged in with it, for example). If Net iD keeps the card locked, restart the computer."
            ),
        ),
        CardError::UnsupportedCard(_) => (
            tr!(lang, "Kortet är inget e-tjänstekort som Legitimera kan läsa", "The card is not an e-service ID card Legitimera can read"),
            tr!(lang, "Kontrollera att det är ditt SITHS-kort som sitter i läsaren.", "Check that it is your SITHS card in the reader."),
        ),
        CardError::CardRemoved | CardError::CardReset => (
            tr!(lang, "Kortet togs ur eller återställdes medan det lästes", "The card was removed or reset while being read"),
            tr!(lang, "Låt kortet sitta kvar och kör felsökningen igen.", "Leave the card in and run the troubleshooting again."),
        ),
        _ => (
            tr!(lang, "Kortet svarar inte som det ska", "The card does not answer as it should"),
            tr!(
                lang,
                "Ta ur kortet, torka av chippet och sätt i det igen. Hjälper det inte, kontakta din kortadministratör.",
                "Take the card out, wipe the chip and insert it again. If that does not help, contact your card administrator."
            ),
        ),
    };
    Outcome::new(id, lang, Status::Failed, summary)
        .detail(error.to_string())
        .advice(advice)
}

fn date(moment: OffsetDateTime) -> String {
    let day = moment.date();
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

pub(super) async fn certificate(options: &Options, findings: &mut Findings) -> Outcome {
    let lang = options.language;
    let id = CheckId::Certificate;
    let Some((_, contents)) = &findings.card else {
        return Outcome::skipped(
            id,
            lang,
            tr!(
                lang,
                "Inget kort att läsa certifikatet från",
                "No card to read the certificate from"
            ),
        );
    };
    let Some(der) = authentication_der(contents) else {
        return Outcome::new(
            id,
            lang,
            Status::Failed,
            tr!(
                lang,
                "Kortet har inget legitimeringscertifikat",
                "The card has no authentication certificate"
            ),
        )
        .advice(tr!(
            lang,
            "Kontakta din kortadministratör.",
            "Contact your card administrator."
        ));
    };
    let (identity, mut outcome) = certificate_check(lang, &der, OffsetDateTime::now_utc());
    let Some(identity) = identity else {
        return outcome;
    };
    findings.identity = Some(identity);
    if let Some(api) = &options.api {
        let check = backend::siths_check(api, &[BASE64.encode(&der)]).await;
        add_backend_verdict(lang, &mut outcome, check);
    }
    outcome
}

/// The check on the authentication certificate's DER as the card gave it, before the backend
/// is asked: the holder (for the report's identity, never its texts) and the local verdict at
/// `now`; without a holder when the certificate cannot be read (a failed outcome). Public for
/// the fuzzer (`internal::certificate_check`).
pub fn certificate_check(
    lang: Language,
    der: &[u8],
    now: OffsetDateTime,
) -> (Option<Identity>, Outcome) {
    let info = match CertificateInfo::from_der(der) {
        Ok(info) => info,
        Err(error) => {
            let outcome = Outcome::new(
                CheckId::Certificate,
                lang,
                Status::Failed,
                tr!(
                    lang,
                    "Certifikatet på kortet kan inte läsas",
                    "The certificate on the card cannot be read"
                ),
            )
            .detail(error.to_string())
            .advice(tr!(
                lang,
                "Kontakta din kortadministratör.",
                "Contact your card administrator."
            ));
            return (None, outcome);
        }
    };
    let identity = Identity {
        name: info.holder.clone(),
        hsa_id: info.hsa_id.as_ref().map(|id| id.as_str().to_owned()),
    };
    (Some(identity), local_verdict(lang, &info, now))
}

fn authentication_der(contents: &CardContents) -> Option<Vec<u8>> {
    contents
        .certificates
        .iter()
        .find(|certificate| certificate.role == KeyRole::Authentication)
        .map(|certificate| certificate.der.clone())
}

/// What the app can tell of the certificate itself: validity, expiry within 30 days, key usage.
/// Public for the fuzzer (`internal::certificate_verdict`).
pub fn local_verdict(lang: Language, info: &CertificateInfo, now: OffsetDateTime) -> Outcome {
    let id = CheckId::Certificate;
    let issuer = &info.issuer;
    let (from, to) = (date(info.not_before), date(info.not_after));
    let usage = match info.key_usage {
        KeyUsage::Authentication => tr!(lang, "legitimering", "authentication"),
        KeyUsage::Signing => tr!(lang, "underskrift", "signing"),
        KeyUsage::Other => tr!(lang, "okänd", "unknown"),
    };
    let mut detail = vec![
        tr!(lang, "Utfärdare: {issuer}", "Issuer: {issuer}"),
        tr!(
            lang,
            "Giltigt från {from} till {to}",
            "Valid from {from} to {to}"
        ),
        tr!(lang, "Användning: {usage}", "Key usage: {usage}"),
    ];
    if let Some(organisation) = &info.organisation {
        detail.push(tr!(
            lang,
            "Organisation: {organisation}",
            "Organisation: {organisation}"
        ));
    }
    let renew = tr!(
        lang,
        "Beställ ett nytt kort hos din kortadministratör.",
        "Order a new card from your card administrator."
    );
    let outcome = match info.validity_at(now) {
        Validity::Expired => Outcome::new(id, lang, Status::Failed, tr!(lang, "Certifikatet gick ut {to}", "The certificate expired on {to}")).advice(renew),
        Validity::NotYetValid => Outcome::new(id, lang, Status::Failed, tr!(lang, "Certifikatet gäller först från {from}", "The certificate is not valid until {from}"))
            .advice(tr!(lang, "Kontrollera att datorns datum och klocka stämmer; annars vänta tills certifikatet börjar gälla.", "Check the computer's date and time; otherwise wait until the certificate becomes valid.")),
        Validity::ExpiresSoon { days } => Outcome::new(id, lang, Status::Warning, tr!(lang, "Certifikatet går ut om {days} dagar ({to})", "The certificate expires in {days} days ({to})")).advice(renew),
        Validity::Valid => Outcome::new(id, lang, Status::Ok, tr!(lang, "Certifikatet gäller till {to}", "The certificate is valid until {to}")),
    };
    let outcome = if info.key_usage != KeyUsage::Authentication && outcome.status != Status::Failed
    {
        Outcome::new(
            id,
            lang,
            Status::Failed,
            tr!(
                lang,
                "Certifikatet är inte ett legitimeringscertifikat",
                "The certificate is not an authentication certificate"
            ),
        )
        .advice(tr!(
            lang,
            "Kontakta din kortadministratör.",
            "Contact your card administrator."
        ))
    } else {
        outcome
    };
    outcome.detail(detail.join("\n"))
}

/// Adds what the backend's `POST /api/v1/siths/check` said (or that it does not offer it).
fn add_backend_verdict(lang: Language, outcome: &mut Outcome, check: SithsCheck) {
    let mut line = |text: String| {
        outcome.detail.push('\n');
        outcome.detail.push_str(&text);
    };
    let answer = match check {
        SithsCheck::NotOffered => {
            line(tr!(
                lang,
                "Spärr och tillit: tjänsten erbjuder ingen certifikatkontroll; kontrollerades inte",
                "Revocation and trust: the service offers no certificate check; not checked"
            ));
            return;
        }
        SithsCheck::Unavailable(why) => {
            line(tr!(
                lang,
                "Spärr och tillit kunde inte kontrolleras: {why}",
                "Revocation and trust could not be checked: {why}"
            ));
            return;
        }
        SithsCheck::Answered(answer) => answer,
    };
    line(if answer.trusted {
        tr!(
            lang,
            "Tjänsten litar på certifikatets utfärdare",
            "The service trusts the certificate's issuer"
        )
    } else {
        tr!(
            lang,
            "Tjänsten litar inte på certifikatets utfärdare",
            "The service does not trust the certificate's issuer"
        )
    });
    match answer.revoked {
        RevocationAnswer::Good => line(tr!(lang, "Inte spärrat", "Not revoked")),
        RevocationAnswer::Revoked => line(tr!(lang, "Spärrat", "Revoked")),
        RevocationAnswer::Unknown => line(tr!(
            lang,
            "Spärrstatus kunde inte kontrolleras",
            "Revocation status could not be checked"
        )),
    }
    if answer.policy == Some(false) {
        line(tr!(
            lang,
            "Certifikatet är inte ett sådant som tjänsten tar emot",
            "The certificate is not one the service accepts"
        ));
    }
    let refused = if answer.revoked == RevocationAnswer::Revoked {
        Some((
            tr!(
                lang,
                "Certifikatet är spärrat",
                "The certificate is revoked"
            ),
            tr!(
                lang,
                "Ditt kort är spärrat. Kontakta din kortadministratör för ett nytt kort.",
                "Your card is revoked. Contact your card administrator for a new card."
            ),
        ))
    } else if !answer.trusted || answer.policy == Some(false) {
        Some((
            tr!(lang, "Tjänsten tar inte emot certifikatet", "The service does not accept the certificate"),
            tr!(lang, "Kontrollera att det är ditt SITHS-kort för legitimering, annars kontakta din kortadministratör.", "Check that it is your SITHS card for authentication, otherwise contact your card administrator."),
        ))
    } else {
        None
    };
    if let Some((summary, advice)) = refused {
        outcome.status = Status::Failed;
        outcome.summary = summary;
        outcome.advice = advice;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use legitimera_vcard::{CardKeys, CertificateTimes, Identity as CardIdentity};

    fn info(times: CertificateTimes) -> CertificateInfo {
        let identity = CardIdentity::generate(CardKeys::generate_p256(), times).expect("identity");
        CertificateInfo::from_der(&identity.certificates.authentication).expect("certificate")
    }

    #[test]
    fn expired_soon_and_wrong_usage_are_told_without_the_holder() {
        let valid = info(CertificateTimes::Valid);
        let now = OffsetDateTime::now_utc();
        let ok = local_verdict(Language::Sv, &valid, now);
        assert_eq!(ok.status, Status::Ok);
        assert!(
            ok.detail.contains("SITHS e-id Person HSA-id 3 CA v1 TEST"),
            "{}",
            ok.detail
        );
        let soon = local_verdict(
            Language::En,
            &valid,
            valid.not_after - time::Duration::days(10),
        );
        assert_eq!(soon.status, Status::Warning);
        assert!(
            soon.summary.starts_with("The certificate expires in"),
            "{}",
            soon.summary
        );
        let expired = local_verdict(Language::Sv, &info(CertificateTimes::Expired), now);
        assert_eq!(expired.status, Status::Failed);
        assert!(
            expired.summary.starts_with("Certifikatet gick ut"),
            "{}",
            expired.summary
        );
        let mut signing = valid.clone();
        signing.key_usage = KeyUsage::Signing;
        assert_eq!(
            local_verdict(Language::Sv, &signing, now).status,
            Status::Failed
        );
        for outcome in [ok, soon, expired] {
            let all = format!("{} {} {}", outcome.summary, outcome.detail, outcome.advice);
            assert!(
                !all.contains("Anna") && !all.contains("SE2321000016"),
                "{all}"
            );
        }
    }

    #[test]
    fn the_backend_verdict_can_fail_a_locally_valid_certificate() {
        let valid = info(CertificateTimes::Valid);
        let mut outcome = local_verdict(Language::En, &valid, OffsetDateTime::now_utc());
        add_backend_verdict(
            Language::En,
            &mut outcome,
            SithsCheck::Answered(super::super::SithsCheckAnswer {
                trusted: true,
                revoked: RevocationAnswer::Revoked,
                policy: Some(true),
            }),
        );
        assert_eq!(outcome.status, Status::Failed);
        assert_eq!(outcome.summary, "The certificate is revoked");
        let mut outcome = local_verdict(Language::En, &valid, OffsetDateTime::now_utc());
        add_backend_verdict(Language::En, &mut outcome, SithsCheck::NotOffered);
        assert_eq!(outcome.status, Status::Ok);
        assert!(outcome.detail.contains("offers no certificate check"));
    }
}
