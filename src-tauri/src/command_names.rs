// The commands the webview may call. Included by build.rs (for the ACL manifest, so each needs
// a grant in capabilities/) and by lib.rs (for the capability test): one list, not two.
pub const COMMANDS: &[&str] = &["app_info", "backend_status", "retry_backend"];
