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

/// The code a right password needs after many wrong ones.
pub fn login_code(code: &OneTimeCode) -> Mail {
    Mail {
        subject: "Din inloggningskod / Your login code",
        body: format!(
            "Många felaktiga lösenord har prövats för ditt konto, så inloggningen behöver också \
             den här koden: {code}. Den gäller i 10 minuter.\n\
             Försöker du inte logga in? Då vet någon annan kanske ditt lösenord: byt det.\n\n\
             Many wrong passwords were tried for your account, so logging in also needs this \
             code: {code}. It is valid for 10 minutes.\n\
             Not logging in? Someone else may know your password: change it.\n",
            code = code.expose()
        ),
    }
}

/// To the owner (at most once a day) when wrong passwords pile up.
pub fn many_failed_logins() -> Mail {
    Mail {
        subject: "Många felaktiga lösenord / Many wrong passwords",
        body: "Någon har prövat många felaktiga lösenord för ditt konto. Kontot är inte spärrat, \
               men nästa inloggning behöver också en kod som vi skickar till den här adressen. \
               Var det inte du är ditt lösenord ändå säkert så länge ingen annan läser din \
               e-post; byt det gärna till ett längre.\n\n\
               Someone has tried many wrong passwords for your account. The account is not \
               locked, but the next login also needs a code we send to this address. If it was \
               not you, your password stays safe as long as nobody else reads your e-mail; \
               consider changing it to a longer one.\n"
            .to_owned(),
    }
}

pub fn password_reset_code(code: &OneTimeCode) -> Mail {
    Mail {
        subject: "Nytt lösenord / New password",
        body: format!(
            "Din kod för att välja ett nytt lösenord är {code}. Den gäller i 10 minuter.\n\
             Har du inte bett om ett nytt lösenord kan du strunta i det här meddelandet: \
             ditt lösenord är oförändrat.\n\n\
             Your code to choose a new password is {code}. It is valid for 10 minutes.\n\
             If you did not ask for a new password, you can ignore this message: your \
             password is unchanged.\n",
            code = code.expose()
        ),
    }
}

/// Sent instead of a code when someone asks to reset the password of an address without an
/// account, so the answer can be the same either way.
pub fn no_account_to_reset() -> Mail {
    Mail {
        subject: "Nytt lösenord / New password",
        body: "Någon bad om ett nytt lösenord för den här e-postadressen, men det finns inget \
               konto med den. Var det du kan du skapa ett konto. Annars kan du strunta i det \
               här meddelandet.\n\n\
               Someone asked for a new password for this e-mail address, but there is no \
               account with it. If it was you, you can create an account. Otherwise you can \
               ignore this message.\n"
            .to_owned(),
    }
}

/// After a password reset or change: the owner hears of it whoever did it.
pub fn password_changed() -> Mail {
    Mail {
        subject: "Ditt lösenord är bytt / Your password was changed",
        body: "Lösenordet till ditt konto har just bytts, och alla andra inloggningar har \
               avslutats. Var det inte du? Välj \"Glömt lösenordet?\" i Legitimera för att \
               välja ett nytt, och kontakta oss.\n\n\
               The password of your account was just changed, and every other login was \
               ended. Not you? Choose \"Forgot your password?\" in Legitimera to choose a new \
               one, and contact us.\n"
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
