fn main() {
    // `release.sh build --version X.Y.Z` builds a release with another version without editing
    // Cargo.toml; the app reports it in `--version`, tickets and to the updater.
    println!("cargo:rerun-if-env-changed=HELPDESK_BUTTON_RELEASE_VERSION");
    let version = std::env::var("HELPDESK_BUTTON_RELEASE_VERSION")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| std::env::var("CARGO_PKG_VERSION").expect("cargo sets the version"));
    println!("cargo:rustc-env=HELPDESK_BUTTON_VERSION={}", version.trim());
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
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
            "admin_relay_sign_in",
            "admin_relay_sign_out",
            "admin_relay_rules",
            "admin_relay_check_rules",
            "admin_relay_test_rules",
            "admin_relay_save_rules",
            "my_tickets_list",
            "my_tickets_thread",
            "my_tickets_reply",
            "my_tickets_retry",
            "my_tickets_refresh",
            "admin_update_status",
            "admin_check_updates",
            "admin_install_update",
        ]),
    ))
    .expect("tauri build script");
}
