// tauri-build looks for capabilities in ./capabilities by default; ours live in src-tauri/.
// The app manifest lists the app's own commands so that each one needs an explicit grant in a
// capability file: nothing is callable from the webview unless a capability says so.
include!("src/command_names.rs");

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/src/command_names.rs");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
