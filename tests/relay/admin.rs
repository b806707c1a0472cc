//! The relay's admin API, as the admin window uses it: the rules are read, checked, tested and
//! saved on the relay, and the next ticket any instance files runs the saved version.

use helpdesk_core::relay::admin_client::{admin_message, RelayAdmin};
use helpdesk_core::rules::{DiagnosticKind, RuleInput};
use helpdesk_core::secrets::ApiKey;

use super::*;

on_both!(
    an_admin_saves_rules_on_the_relay_and_the_next_ticket_runs_them,
    a_save_on_top_of_an_older_version_is_refused_and_says_who_saved_since,
    a_script_that_cannot_run_is_not_saved_and_says_where,
    the_admin_api_takes_a_live_admin_token_and_nothing_else,
    rules_from_the_relays_rules_file_are_read_only_from_the_admin_window,
    two_instances_delivering_the_same_due_tickets_at_once_file_each_once,
);

const HIGH_FOR_JAMS: &str = "if 'jams' in msg:\n    priority = 'High'\n";

impl Relay {
    fn admin(&self, name: &str) -> (RelayAdmin, String) {
        let now = helpdesk_core::clock::Clock::now(&SystemClock);
        let issued = self.state.store.create_admin(name, now).unwrap();
        let client =
            RelayAdmin::new(&self.proxy.url(), &ApiKey::new(&issued.token).unwrap()).unwrap();
        (client, issued.token)
    }
}

fn sample() -> RuleInput {
    RuleInput {
        name: "Dana Front".into(),
        email: "dana@acme-dental.example".into(),
        priority: "Medium".into(),
        r#type: "Problem".into(),
        impact: "Minor".into(),
        status: "Open".into(),
        subject: "Printer".into(),
        msg: "The printer at the front desk jams".into(),
        ..RuleInput::default()
    }
}

async fn an_admin_saves_rules_on_the_relay_and_the_next_ticket_runs_them(storage: Storage) {
    let relay = relay(storage).await;
    let (admin, token) = relay.admin("Dana");
    let before = admin.rules().await.unwrap();
    assert_eq!(
        (before.version, before.script.as_str(), before.editable),
        (0, "", true)
    );
    assert_eq!(before.admin, "Dana");
    // The same Test Rules view: the relay runs the script against the sample and says what changed.
    let outcome = admin.test(HIGH_FOR_JAMS, &sample()).await.unwrap();
    assert_eq!(outcome.priority, "High");
    assert_eq!(outcome.changed, ["priority"]);
    assert!(admin.check(HIGH_FOR_JAMS).await.unwrap().ok);
    // Before the save the relay files as sent.
    let pc = Pc::new(&relay, &relay.token(2));
    sent(pc.file(1).await.unwrap());
    assert_eq!(relay.sandbox.tickets()[0].priority, "Medium");
    let saved = admin.save(HIGH_FOR_JAMS, before.version).await.unwrap();
    assert_eq!((saved.version, saved.script.as_str()), (1, HIGH_FOR_JAMS));
    assert!(
        saved
            .saved_by
            .as_deref()
            .is_some_and(|by| by.starts_with("Dana (")),
        "{saved:?}"
    );
    sent(pc.file(2).await.unwrap());
    assert_eq!(relay.sandbox.tickets()[1].priority, "High");
    // The save is in the audit log, without the script; the admin's token reached no one else.
    let audit = relay.state.store.audit_log().unwrap();
    let line = audit.iter().find(|e| e.event == "rules-saved").unwrap();
    assert!(!line.detail.clone().unwrap_or_default().contains("jams"));
    let secret = token.rsplit('.').next().unwrap();
    for request in relay.sandbox.requests() {
        assert!(!format!("{request:?}").contains(secret));
    }
}

async fn a_save_on_top_of_an_older_version_is_refused_and_says_who_saved_since(storage: Storage) {
    let relay = relay(storage).await;
    let (dana, _) = relay.admin("Dana");
    let (sam, _) = relay.admin("Sam");
    let opened_by_dana = dana.rules().await.unwrap().version;
    let opened_by_sam = sam.rules().await.unwrap().version;
    dana.save(HIGH_FOR_JAMS, opened_by_dana).await.unwrap();
    let e = sam
        .save("impact = 'Major'\n", opened_by_sam)
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), Refusal::Conflict);
    let message = admin_message(&e);
    assert!(
        message.starts_with("Dana (")
            && message.contains("version 1")
            && message.contains("reload"),
        "{message}"
    );
    let now = sam.rules().await.unwrap();
    assert_eq!((now.version, now.script.as_str()), (1, HIGH_FOR_JAMS));
    // Reloaded, Sam's change goes on top.
    assert_eq!(
        sam.save("impact = 'Major'\n", now.version)
            .await
            .unwrap()
            .version,
        2
    );
}

async fn a_script_that_cannot_run_is_not_saved_and_says_where(storage: Storage) {
    let relay = relay(storage).await;
    let (admin, _) = relay.admin("Dana");
    let broken = "priority = 'High'\nif msg\n    impact = 'Major'\n";
    let check = admin.check(broken).await.unwrap();
    assert!(!check.ok);
    assert_eq!(check.diagnostics[0].kind, DiagnosticKind::Syntax);
    assert_eq!(check.diagnostics[0].line, 2);
    let e = admin.save(broken, 0).await.unwrap_err();
    assert_eq!(refusal(&e), Refusal::Invalid);
    assert!(
        admin_message(&e).starts_with("Line 2, column"),
        "{}",
        admin_message(&e)
    );
    assert_eq!(admin.rules().await.unwrap().version, 0, "nothing was saved");
    // Empty rules are fine: tickets are filed as sent.
    assert_eq!(admin.save("", 0).await.unwrap().version, 1);
}

async fn the_admin_api_takes_a_live_admin_token_and_nothing_else(storage: Storage) {
    let relay = relay(storage).await;
    let (admin, token) = relay.admin("Dana");
    let pc = Pc::new(&relay, &relay.token(1));
    let device = pc.client().await.unwrap();
    let credential = pc
        .keychain
        .get()
        .unwrap()
        .expect("the device credential is in its keychain");
    let http = reqwest::Client::new();
    let rules_url = format!("{}v1/admin/rules", relay.proxy.url());
    let code_of = |body: &str| -> String {
        serde_json::from_str::<serde_json::Value>(body).unwrap()["error"]["code"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // No token, a device's credential, the admin's id with another secret, an unknown id: all
    // unauthenticated.
    let id = token.split('.').nth(1).unwrap();
    for auth in [
        None,
        Some(credential.clone()),
        Some(format!("hba1.{id}.{}", "A".repeat(43))),
        Some(format!("hba1.{}.{}", "0".repeat(16), "A".repeat(43))),
    ] {
        let mut request = http.get(&rules_url);
        if let Some(auth) = &auth {
            request = request.bearer_auth(auth);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 401, "{auth:?}");
        let body = answer.text().await.unwrap();
        assert_eq!(code_of(&body), "unauthenticated");
        assert!(body.contains("helpdesk-relay admin create"), "{body}");
    }
    // An admin token is not a device: it cannot file or read tickets.
    let as_device = http
        .get(format!("{}v1/tickets", relay.proxy.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(as_device.status(), 401);
    assert!(device.tickets().await.is_ok());
    // A revoked admin is refused at once.
    assert!(admin.rules().await.is_ok());
    let now = helpdesk_core::clock::Clock::now(&SystemClock);
    assert!(relay.state.store.revoke_admin(id, now).unwrap());
    let e = admin.rules().await.unwrap_err();
    assert_eq!(refusal(&e), Refusal::Forbidden);
    assert!(
        admin_message(&e).contains("revoked"),
        "{}",
        admin_message(&e)
    );
}

async fn rules_from_the_relays_rules_file_are_read_only_from_the_admin_window(storage: Storage) {
    let relay = relay_with_rules(storage, Limits::default(), Some(HIGH_FOR_JAMS)).await;
    let (admin, _) = relay.admin("Dana");
    let doc = admin.rules().await.unwrap();
    assert_eq!(doc.script, HIGH_FOR_JAMS);
    assert!(!doc.editable);
    assert!(doc.source.contains("rules.py"), "{}", doc.source);
    let e = admin.save("pass\n", doc.version).await.unwrap_err();
    assert_eq!(refusal(&e), Refusal::ReadOnly);
    assert!(
        admin_message(&e).contains("rules_file"),
        "{}",
        admin_message(&e)
    );
    // Testing still works: the admin tries a change before putting it in the file.
    let outcome = admin.test(HIGH_FOR_JAMS, &sample()).await.unwrap();
    assert_eq!(outcome.priority, "High");
}

/// Two relay instances on one Postgres: rules saved through one are the rules a ticket filed
/// by the other runs.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_saved_on_one_instance_run_for_tickets_the_other_instance_files() {
    let relay = relay(Storage::Postgres).await;
    let (other, _stop, other_addr) =
        instance(&relay.sandbox, &relay.records, relay.limits.clone(), None).await;
    let (admin, _) = relay.admin("Dana");
    admin.save(HIGH_FOR_JAMS, 0).await.unwrap();
    // The other instance started before the save; it reads the saved rules, not a copy of its
    // own.
    let seen = other.current_rules().unwrap().expect("the saved rules");
    assert_eq!(seen.script, HIGH_FOR_JAMS);
    let mut pc = Pc::new(&relay, &relay.token(1));
    pc.settings.relay.url = format!("http://{other_addr}/");
    sent(pc.file(1).await.unwrap());
    let tickets = relay.sandbox.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].priority, "High");
}

/// Two instances saving on top of the same version at the same moment: one saves, the other is
/// told of a conflict (never a database error, never both).
#[cfg(unix)]
#[test]
fn two_instances_saving_the_same_version_at_once_save_it_once() {
    let url = util::postgres_database();
    let stores = [
        Store::open_postgres(&url).unwrap(),
        Store::open_postgres(&url).unwrap(),
    ];
    let who = stores[0]
        .authenticate_admin(&stores[0].create_admin("Dana", 1).unwrap().token, 1)
        .unwrap();
    for round in 0..20 {
        let base = stores[0].rules().unwrap().map_or(0, |r| r.version);
        let barrier = std::sync::Barrier::new(2);
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = stores
                .iter()
                .enumerate()
                .map(|(n, store)| {
                    let (barrier, who) = (&barrier, &who);
                    scope.spawn(move || {
                        barrier.wait();
                        store.save_rules(&format!("# instance {n}\n"), base, who, 10)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let saved = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(saved, 1, "round {round}: {results:?}");
        assert!(
            results.iter().any(|r| matches!(
                r,
                Err(helpdesk_core::relay::store::StoreError::Refused(
                    Refusal::Conflict
                ))
            )),
            "round {round}: {results:?}"
        );
        assert_eq!(stores[1].rules().unwrap().unwrap().version, base + 1);
    }
}

/// Two instances over one store delivering the same due tickets at the same moment (their
/// delivery passes run side by side over one queue): each ticket is filed once. On Postgres the
/// claim (`FOR UPDATE SKIP LOCKED`) keeps them apart, and under it the steps towards a POST
/// (composing, ready→posting) are updates conditional on the stage they leave; on SQLite the
/// machine-wide delivery lock serializes the processes sharing the file (the app and its CLI).
/// The process test with kills (`tests/app/relay_shared.rs`) proves the takeover after a kill;
/// this one proves the race.
async fn two_instances_delivering_the_same_due_tickets_at_once_file_each_once(storage: Storage) {
    let relay = relay(storage).await;
    let (other, _stop, _) =
        instance(&relay.sandbox, &relay.records, relay.limits.clone(), None).await;
    let pc = Pc::new(&relay, &relay.token(1));
    let device = pc.client().await.unwrap().device().await.unwrap();
    let now = helpdesk_core::clock::Clock::now(&SystemClock);
    // Queued as the submit endpoint queues them, but without waking either instance's loop: the
    // two passes below are the only deliveries, and they run at once.
    let mut references = Vec::new();
    for n in 0..12 {
        let saved = saved(n);
        assert!(relay
            .state
            .store
            .claim(&saved.reference, &device.device_id, now)
            .unwrap());
        relay.state.queue.enqueue(&saved).unwrap();
        references.push(saved.reference);
    }
    let (a, b) = (relay.state.clone(), other.clone());
    let (_, _) = tokio::join!(
        tokio::spawn(async move { a.deliver_due().await }),
        tokio::spawn(async move { b.deliver_due().await }),
    );
    // Whatever one pass left (a ticket the other held), the next passes finish.
    for _ in 0..3 {
        relay.state.deliver_due().await;
        other.deliver_due().await;
    }
    let tickets = relay.sandbox.tickets();
    for reference in &references {
        let filed = tickets
            .iter()
            .filter(|t| t.request_json.to_string().contains(reference.as_str()))
            .count();
        assert_eq!(filed, 1, "{reference} was filed {filed} times");
    }
    assert_eq!(tickets.len(), references.len());
}
