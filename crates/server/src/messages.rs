//! The texts of the e-mails and SMS the server sends, Swedish first and English below. Pure:
//! each returns what to send. A code appears only in the message that delivers it.

use legitimera_protocol::OneTimeCode;

pub struct Mail {
    pub subject: &'static str,
    pub body: String,
}

pub fn registration_code(code: &OneTimeCode) -> Mail {
    Mail {
        subject: "Din kod / Your code",
        body: format!(
            "Din kod för att skapa ett konto är {code}. Den gäller i 10 minuter.\n\
             Om du inte försöker skapa ett konto kan du strunta i det här meddelandet.\n\n\
             Your code to create an account is {code}. It is valid for 10 minutes.\n\
             If you are not creating an account, you can ignore this message.\n",
            code = code.expose()
        ),
    }
}

/// Sent instead of a code when someone registers an address that already has an account, so
/// the answer to the registration can be the same either way.
pub fn already_registered() -> Mail {
    Mail {
        subject: "Du har redan ett konto / You already have an account",
        body: "Någon försökte skapa ett konto med den här e-postadressen, men du har redan ett. \
               Logga in med din e-postadress och ditt lösenord. Var det inte du kan du strunta \
               i det här meddelandet.\n\n\
               Someone tried to create an account with this e-mail address, but you already \
               have one. Log in with your e-mail address and password. If it was not you, you \
               can ignore this message.\n"
            .to_owned(),
    }
}

pub fn phone_change_code(code: &OneTimeCode) -> Mail {
    Mail {
        subject: "Byta telefonnummer / Change phone number",
        body: format!(
            "Din kod för att byta telefonnummer på ditt konto är {code}. Den gäller i 10 minuter.\n\
             Om du inte har bett om att byta nummer: byt lösenord.\n\n\
             Your code to change the phone number on your account is {code}. It is valid for \
             10 minutes.\nIf you did not ask to change the number: change your password.\n",
            code = code.expose()
        ),
    }
}

pub fn sms_code(code: &OneTimeCode) -> String {
    format!(
        "Din kod: {code}. Gäller 10 min. Lämna aldrig ut den. / Your code: {code}. Valid 10 min. Never share it.",
        code = code.expose()
    )
}

pub fn phone_replaced() -> String {
    "Numret för tvåstegsverifiering på ditt konto har bytts till ett annat. Var det inte du? \
     Kontakta oss. / The two-step number on your account was replaced. Not you? Contact us."
        .to_owned()
}
