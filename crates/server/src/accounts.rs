//! Accounts: finding one by e-mail or id, creating one with its person, and replacing the
//! two-step phone, over `store::accounts`. Holds personal data: `Debug` shows only the id.

use std::fmt;

use legitimera_protocol::{Email, PhoneNumber};

use crate::error::Result;
use crate::store;
use crate::AppState;

pub struct Account {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub phone: Option<String>,
    /// Wrong passwords since the last login that got through.
    pub failed_logins: i64,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl From<store::accounts::Row> for Account {
    fn from(row: store::accounts::Row) -> Self {
        Account {
            id: row.id,
            email: row.email,
            password_hash: row.password_hash,
            phone: row.phone,
            failed_logins: row.failed_logins,
        }
    }
}

impl Account {
    /// The two-step number (stored as a parsed E.164 number).
    pub fn phone(&self) -> Option<PhoneNumber> {
        self.phone
            .as_deref()
            .and_then(|p| PhoneNumber::parse(p).ok())
    }
}

pub async fn find_by_email(state: &AppState, email: &Email) -> Result<Option<Account>> {
    Ok(store::accounts::find_by_email(state.pool(), email.as_str())
        .await?
        .map(Account::from))
}

pub async fn find_by_id(state: &AppState, id: i64) -> Result<Option<Account>> {
    Ok(store::accounts::find_by_id_in(state.store(), id)
        .await?
        .map(Account::from))
}

pub async fn set_phone(state: &AppState, account_id: i64, phone: &PhoneNumber) -> Result<()> {
    store::accounts::set_phone(state.pool(), account_id, phone.as_str()).await?;
    Ok(())
}
