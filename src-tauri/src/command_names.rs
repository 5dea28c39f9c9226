// The commands the webview may call. Included by build.rs (for the ACL manifest, so each needs
// a grant in capabilities/) and by lib.rs (for the capability test): one list, not two.
pub const COMMANDS: &[&str] = &[
    "app_info",
    "backend_status",
    "retry_backend",
    "register",
    "submit_code",
    "resend_code",
    "login_password",
    "login_sms",
    "login_resend",
    "start_phone_change",
    "session_info",
    "cases",
    "user_activity",
    "keep_session",
    "set_language",
    "logout",
    "demo_outbox",
    "bankid_start",
    "bankid_cancel",
    "demo_bankid_app",
];
