//! Demo mode's seeded data: a few people with cases in every status, and an account for each,
//! so a new user can log in and see "Min sida" without any real data; and a sample case for
//! each account registered in the demo, so its Min sida is not empty. The people carry the
//! BankID simulator's demo personnummer, so a demo BankID login shows the same cases. Only
//! ever called in `--demo`. The accounts are documented in docs/api.md.

use legitimera_protocol::{Password, SecretString};
use sqlx::AnyPool;

use crate::passwords::Hasher;
use crate::store;

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "demo-lösenord-2026";

struct DemoCase {
    reference: &'static str,
    kind: &'static str,
    status: &'static str,
    opened_on: &'static str,
    updated_on: &'static str,
    events: &'static [(&'static str, &'static str, &'static str, &'static str)],
}

struct DemoPerson {
    /// The personnummer a BankID login finds this person by: the BankID simulator's demo
    /// people (`legitimera_bankid::simulator::DEMO_PEOPLE`), made up, with valid check digits.
    personal_number: &'static str,
    given_name: &'static str,
    surname: &'static str,
    email: &'static str,
    /// The two-step phone; `None` for an account with password only.
    phone: Option<&'static str>,
    cases: &'static [DemoCase],
}

const PEOPLE: &[DemoPerson] = &[
    DemoPerson {
        personal_number: "199001012385",
        given_name: "Amira",
        surname: "Demosson",
        email: "amira@example.se",
        phone: Some("+46701234567"),
        cases: &[
            DemoCase {
                reference: "2026-104512",
                kind: "work_permit",
                status: "waiting_for_applicant",
                opened_on: "2026-08-14",
                updated_on: "2026-11-02",
                events: &[
                    (
                        "document_request",
                        "2026-11-02",
                        "Skicka in en kopia av ditt anställningsavtal senast den 30 november.",
                        "Send a copy of your employment contract by 30 November.",
                    ),
                    (
                        "message",
                        "2026-09-20",
                        "Vi har tagit emot din ansökan och börjat handlägga den.",
                        "We have received your application and started processing it.",
                    ),
                ],
            },
            DemoCase {
                reference: "2025-087321",
                kind: "residence_permit_family",
                status: "decided",
                opened_on: "2025-03-01",
                updated_on: "2025-10-15",
                events: &[(
                    "decision",
                    "2025-10-15",
                    "Beslut: uppehållstillstånd beviljat till och med 2027-10-14.",
                    "Decision: residence permit granted until 2027-10-14.",
                )],
            },
        ],
    },
    DemoPerson {
        personal_number: "198112289874",
        given_name: "Erik",
        surname: "Provsson",
        email: "erik@example.se",
        phone: None,
        cases: &[DemoCase {
            reference: "2026-200731",
            kind: "citizenship",
            status: "in_progress",
            opened_on: "2026-02-10",
            updated_on: "2026-10-01",
            events: &[(
                "message",
                "2026-10-01",
                "Din ansökan väntar på yttrande från Säkerhetspolisen.",
                "Your application is waiting for a statement from the Security Service.",
            )],
        }],
    },
];

/// Seeds the demo people, their cases and accounts. Idempotent: what exists already is left
/// as it is, so instances sharing one database (`--demo --database-url postgres://…`) may all
/// seed it, at once too.
pub async fn seed(pool: &AnyPool, hasher: &Hasher, now: i64) -> anyhow::Result<()> {
    let password = Password::parse(&SecretString::from(DEMO_PASSWORD))
        .map_err(|e| anyhow::anyhow!("demo password: {e}"))?;
    let password_hash = hasher.hash(password).await?;
    let mut connection = pool.acquire().await?;
    let mut accounts = Vec::new();
    for person in PEOPLE {
        let mut tx = crate::store::begin_write(&mut connection).await?;
        let person_id = store::people::upsert_by_personal_number(
            &mut *tx,
            person.personal_number,
            person.given_name,
            person.surname,
        )
        .await?;
        accounts.push((person_id, person.email, person.phone));
        for case in person.cases {
            store::cases::insert(&mut tx, person_id, &case.as_new(case.reference)).await?;
        }
        tx.commit().await?;
    }
    drop(connection);
    for (person_id, email, phone) in accounts {
        store::accounts::create(pool, email, &password_hash, phone, Some(person_id), now).await?;
    }
    Ok(())
}

/// What a new demo account finds on Min sida: an application that waits for a document, so
/// both the low view (status only) and the stronger one (the request and a message) show.
const SAMPLE_CASE: DemoCase = DemoCase {
    reference: "",
    kind: "work_permit",
    status: "waiting_for_applicant",
    opened_on: "2026-11-02",
    updated_on: "2026-11-20",
    events: &[
        (
            "message",
            "2026-11-20",
            "Hej! Jag är din handläggare. Jag återkommer när vi har fått ditt anställningsavtal.",
            "Hello! I am your case officer. I will be in touch once we have your employment contract.",
        ),
        (
            "document_request",
            "2026-11-20",
            "Skicka in ditt anställningsavtal senast 2026-12-18.",
            "Send your employment contract by 2026-12-18.",
        ),
    ],
};

/// Gives a person registered in demo mode the sample case (reference `2026-9NNNNN`).
pub async fn give_sample_case(pool: &AnyPool, person_id: i64) -> sqlx::Result<()> {
    let reference = format!("2026-9{:05}", person_id % 100_000);
    let mut connection = pool.acquire().await?;
    let mut tx = crate::store::begin_write(&mut connection).await?;
    store::cases::insert(&mut tx, person_id, &SAMPLE_CASE.as_new(&reference)).await?;
    tx.commit().await
}

impl DemoCase {
    fn as_new<'a>(&'a self, reference: &'a str) -> store::cases::NewCase<'a> {
        store::cases::NewCase {
            reference,
            kind: self.kind,
            status: self.status,
            opened_on: self.opened_on,
            updated_on: self.updated_on,
            events: self.events,
        }
    }
}
