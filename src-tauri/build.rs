fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(&[
        "get_form_state",
        "get_screenshot",
        "save_draft",
        "submit_ticket",
        "close_form",
        "form_painted",
    ])))
    .expect("tauri build script");
}
