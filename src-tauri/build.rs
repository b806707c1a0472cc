fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(&[
        "get_form_state",
        "get_screenshot",
        "save_draft",
        "submit_ticket",
        "close_form",
        "form_painted",
        "admin_status",
        "admin_set_password",
        "admin_unlock",
        "admin_lock",
        "admin_get_settings",
        "admin_validate",
        "admin_save",
        "admin_set_api_key",
        "admin_test_connection",
        "admin_check_rules",
        "admin_test_rules",
        "admin_save_rules",
        "admin_sample_input",
    ])))
    .expect("tauri build script");
}
