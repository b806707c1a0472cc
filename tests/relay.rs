//! The relay, in process: a real relay server on 127.0.0.1 in front of the sandbox, and devices
//! that enroll and deliver through the same outbox the app uses. A recording proxy between the
//! devices and the relay holds every byte they exchanged, so "no request contains the key" is
//! checked on the wire, not assumed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use helpdesk_core::clock::SystemClock;
use helpdesk_core::form::TicketForm;
use helpdesk_core::outbox::{self, DeliveryResult, DeliveryTiming, Outbox, Submitted};
use helpdesk_core::paths::AppPaths;
use helpdesk_core::relay::config::Limits;
use helpdesk_core::relay::protocol::{Refusal, RelayedState};
use helpdesk_core::relay::server::{RelayOptions, RelayRules};
use helpdesk_core::relay::store::Store;
use helpdesk_core::relay::{device, server, RelayClient, RelayError, RelayState};
use helpdesk_core::sandbox::Sandbox;
use helpdesk_core::secrets::Keychain;
use helpdesk_core::settings::Settings;
use helpdesk_core::submit::{new_reference, RetryPolicy, SavedSubmission, Submission, Target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util;

/// Where the relay keeps its records: every test here runs on both.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(unix), allow(dead_code))]
enum Storage {
    /// One file, one instance.
    Sqlite,
    /// A fresh database on the test Postgres (`HELPDESK_TEST_POSTGRES_URL`), as several
    /// instances share it.
    Postgres,
}

/// Each test, once per storage: `relay::on_sqlite::…` and `relay::on_postgres::…`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Storage::Sqlite).await;
            })*
        }
        // The relay on Postgres is a Linux server's; the Windows test binaries under Wine
        // cannot reach the test cluster's Unix socket.
        #[cfg(unix)]
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::Storage::Postgres).await;
            })*
        }
    };
}

on_both!(
    a_pc_enrolls_once_and_its_ticket_is_filed_under_its_enrolled_customer,
    a_resent_reference_returns_the_same_ticket_and_files_nothing_new,
    a_lost_answer_from_the_relay_is_resent_and_still_files_one_ticket,
    a_device_cannot_read_another_devices_ticket,
    a_revoked_device_is_refused_at_once_and_told_to_contact_it,
    an_expired_or_used_up_or_forged_token_enrolls_nothing,
    no_file_the_pc_writes_and_no_byte_it_exchanges_contains_the_atera_key,
    a_device_over_its_ticket_limit_waits_and_nothing_is_lost,
    an_oversized_request_is_refused_with_its_own_code,
    health_and_metrics_report_the_queue_and_the_devices,
    the_relays_form_settings_override_the_local_ones_and_the_policy_locks_still_win,
    one_poll_by_the_relay_brings_every_devices_status_and_replies_and_wakes_its_events,
    an_atera_webhook_at_the_secret_url_wakes_the_poller_and_a_wrong_secret_is_not_found,
    a_device_cannot_name_the_contact_or_skip_the_rules_in_what_it_sends,
    the_rules_run_on_the_relay_for_every_device_and_an_exception_reaches_the_user,
);

mod admin;

const WEBHOOK_SECRET: &str = "test-webhook-secret-0123456789abcdef";

const FAST: RetryPolicy = RetryPolicy {
    max_attempts: 2,
    base_delay: Duration::from_millis(5),
    max_delay: Duration::from_millis(20),
    max_total: Duration::from_secs(10),
};

/// A keychain that lives in the test.
#[derive(Default)]
struct TestKeychain(Mutex<Option<String>>);

impl Keychain for TestKeychain {
    fn get(&self) -> Result<Option<String>, String> {
        Ok(self.0.lock().unwrap().clone())
    }
    fn set(&self, key: &str) -> Result<(), String> {
        *self.0.lock().unwrap() = Some(key.into());
        Ok(())
    }
    fn delete(&self) -> Result<(), String> {
        *self.0.lock().unwrap() = None;
        Ok(())
    }
}

/// Forwards to the relay and records both directions; can drop one answer on the floor.
struct Proxy {
    addr: SocketAddr,
    wire: Arc<Mutex<Vec<u8>>>,
    drop_next_answer: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let wire = Arc::new(Mutex::new(Vec::new()));
        let drop_next_answer = Arc::new(AtomicBool::new(false));
        let (w, d) = (wire.clone(), drop_next_answer.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (w, d) = (w.clone(), d.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let w2 = w.clone();
                    let up = tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n) = cr.read(&mut buf).await {
                            if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            w2.lock().unwrap().extend_from_slice(&buf[..n]);
                        }
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = sr.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if d.swap(false, Ordering::SeqCst) {
                            // The relay answered; the device never hears it.
                            break;
                        }
                        w.lock().unwrap().extend_from_slice(&buf[..n]);
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    up.abort();
                });
            }
        });
        Self {
            addr,
            wire,
            drop_next_answer,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn wire_text(&self) -> String {
        String::from_utf8_lossy(&self.wire.lock().unwrap()).into_owned()
    }
}

struct Relay {
    sandbox: Sandbox,
    state: Arc<RelayState>,
    proxy: Proxy,
    customer: i64,
    /// Where its records are, for another instance on the same ones (on Postgres, Unix only).
    #[cfg_attr(not(unix), allow(dead_code))]
    records: Records,
    #[cfg_attr(not(unix), allow(dead_code))]
    limits: Limits,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// One relay's records: a SQLite file, or a database on the test Postgres.
#[derive(Clone)]
enum Records {
    Sqlite(std::path::PathBuf),
    #[cfg_attr(not(unix), allow(dead_code))]
    Postgres(String),
}

async fn relay_with(storage: Storage, limits: Limits) -> Relay {
    relay_with_rules(storage, limits, None).await
}

/// A relay whose dispatcher rules are `script` (its `rules_file`), or the ones its admins save
/// when `None`; evaluated by the real `helpdesk-relay` binary re-run as the rules child.
async fn relay_with_rules(storage: Storage, limits: Limits, script: Option<&str>) -> Relay {
    let sandbox = util::sandbox().await;
    let customer = sandbox.add_customer("Acme Dental");
    let dir = tempfile::tempdir().unwrap();
    let records = match storage {
        Storage::Sqlite => Records::Sqlite(dir.path().join("relay.sqlite3")),
        Storage::Postgres => Records::Postgres(util::postgres_database()),
    };
    let (state, stop, upstream) = instance(&sandbox, &records, limits.clone(), script).await;
    let proxy = Proxy::start(upstream).await;
    Relay {
        sandbox,
        state,
        proxy,
        customer,
        records,
        limits,
        _dir: dir,
        _stop: stop,
    }
}

/// One relay process's state over `records`, serving on a port of 127.0.0.1.
async fn instance(
    sandbox: &Sandbox,
    records: &Records,
    limits: Limits,
    script: Option<&str>,
) -> (
    Arc<RelayState>,
    tokio::sync::oneshot::Sender<()>,
    SocketAddr,
) {
    let timing = DeliveryTiming {
        list_lag: Duration::from_millis(50),
        scan_gap: Duration::from_millis(50),
        ..DeliveryTiming::default()
    };
    let mut settings = util::settings_for(sandbox);
    settings.branding.company_name = "Northwind IT (from the relay)".into();
    let (store, queue) = match records {
        Records::Sqlite(db) => (
            Store::open(db).unwrap(),
            Outbox::open_with(db, Arc::new(SystemClock), timing).unwrap(),
        ),
        Records::Postgres(url) => (
            Store::open_postgres(url).unwrap(),
            Outbox::open_postgres(url, Arc::new(SystemClock), timing).unwrap(),
        ),
    };
    let state = RelayState::new(
        store,
        queue,
        util::client_for(sandbox, util::KEY),
        settings,
        RelayRules {
            file: script.map(|script| ("rules.py".into(), script.into())),
            ..RelayRules::stored(env!("CARGO_BIN_EXE_helpdesk-relay"))
        },
        RelayOptions {
            limits,
            // The tests poll by hand (`poll_once`) or by webhook.
            poll_every: Duration::from_secs(3600),
            webhook_secret: Some(WEBHOOK_SECRET.into()),
        },
        Arc::new(SystemClock),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(state.clone(), listener, async {
        let _ = stopped.await;
    }));
    (state, stop, upstream)
}

async fn relay(storage: Storage) -> Relay {
    relay_with(storage, Limits::default()).await
}

impl Relay {
    fn token(&self, uses: u32) -> String {
        let now = helpdesk_core::clock::Clock::now(&SystemClock);
        self.state
            .store
            .create_token(self.customer, "Acme Dental", now, now + 3600, uses)
            .unwrap()
            .token
    }
}

/// One PC in relay mode: its own config directory, keychain and outbox.
struct Pc {
    paths: AppPaths,
    settings: Settings,
    keychain: TestKeychain,
    outbox: Outbox,
    _dir: tempfile::TempDir,
}

impl Pc {
    fn new(relay: &Relay, token: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::isolated(dir.path().to_path_buf());
        let mut settings = Settings::default();
        settings.relay.url = relay.proxy.url();
        settings.relay.enrollment_token = token.into();
        let outbox = Outbox::open(&outbox::outbox_file(&paths.data_dir)).unwrap();
        Self {
            paths,
            settings,
            keychain: TestKeychain::default(),
            outbox,
            _dir: dir,
        }
    }

    async fn client(&self) -> Result<RelayClient, RelayError> {
        device::connect(&self.paths, &self.settings, &self.keychain).await
    }

    async fn file(&self, n: usize) -> Result<Submitted, helpdesk_core::submit::SubmitError> {
        let target = Target::Relay(self.client().await?);
        let delivery = target.delivery(&self.settings, None, "0.1.0", FAST);
        let inventory = util::inventory("FRONTDESK-01", "aa:bb:cc:dd:ee:01");
        let submission = Submission {
            form: form(n),
            reference: new_reference(),
            screenshots: &[],
            inventory: Some(&inventory),
        };
        outbox::submit(&self.outbox, &self.settings, submission, Ok(&delivery)).await
    }
}

fn form(n: usize) -> TicketForm {
    TicketForm {
        name: format!("Dana Front {n}"),
        email: format!("dana{n}@acme-dental.example"),
        description: format!("The printer at the front desk jams ({n})"),
        ..Default::default()
    }
}

/// Ticket `n` as the PC's outbox saves it (a new reference), before any delivery.
fn saved(n: usize) -> SavedSubmission {
    SavedSubmission::new(
        &Settings::default(),
        Submission {
            form: form(n),
            reference: new_reference(),
            screenshots: &[],
            inventory: None,
        },
    )
    .unwrap()
}

fn sent(result: Submitted) -> helpdesk_core::submit::SubmitOutcome {
    match result {
        Submitted::Sent(outcome) => outcome,
        Submitted::Queued { detail, .. } => panic!("expected a filed ticket, got queued: {detail}"),
    }
}

fn refusal(e: &RelayError) -> Refusal {
    match e {
        RelayError::Refused { code, .. } => *code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn a_pc_enrolls_once_and_its_ticket_is_filed_under_its_enrolled_customer(storage: Storage) {
    let relay = relay(storage).await;
    let pc = Pc::new(&relay, &relay.token(1));
    let outcome = sent(pc.file(1).await.unwrap());
    assert!(!outcome.held_by_relay, "the relay answered after filing");
    let tickets = relay.sandbox.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(outcome.ticket_id, tickets[0].ticket_id);
    // The requester was created under the customer the token named, not one the PC claimed.
    let contact = relay
        .sandbox
        .contacts()
        .into_iter()
        .find(|c| c.email == "dana1@acme-dental.example")
        .expect("the requester was created");
    assert_eq!(contact.customer_id, relay.customer);
    // A second ticket needs no token: the credential from the keychain is enough.
    let mut no_token = pc.settings.clone();
    no_token.relay.enrollment_token.clear();
    let again = device::connect(&pc.paths, &no_token, &pc.keychain)
        .await
        .unwrap();
    assert_eq!(again.device().await.unwrap().customer_id, relay.customer);
    assert_eq!(relay.state.store.devices().unwrap().len(), 1);
}

async fn a_resent_reference_returns_the_same_ticket_and_files_nothing_new(storage: Storage) {
    let relay = relay(storage).await;
    let pc = Pc::new(&relay, &relay.token(1));
    let first = sent(pc.file(1).await.unwrap());
    let saved: SavedSubmission = pc.outbox.submission(&first.reference).unwrap();
    let client = pc.client().await.unwrap();
    for _ in 0..3 {
        let again = client.submit(&saved, Duration::from_secs(5)).await.unwrap();
        assert_eq!(again.state, RelayedState::Filed);
        assert_eq!(again.ticket_id, Some(first.ticket_id));
    }
    assert_eq!(relay.sandbox.tickets().len(), 1);
    assert_eq!(util::posts(&relay.sandbox, "/api/v3/tickets").len(), 1);
}

async fn a_lost_answer_from_the_relay_is_resent_and_still_files_one_ticket(storage: Storage) {
    let relay = relay(storage).await;
    let pc = Pc::new(&relay, &relay.token(1));
    // Enroll first, so the lost answer is the ticket's.
    pc.client().await.unwrap();
    relay.proxy.drop_next_answer.store(true, Ordering::SeqCst);
    let queued = pc.file(1).await.unwrap();
    let reference = match queued {
        Submitted::Queued { reference, .. } => reference,
        Submitted::Sent(_) => panic!("the answer was dropped; the PC cannot know it was filed"),
    };
    // The relay filed it although the PC never heard.
    assert_eq!(relay.sandbox.tickets().len(), 1);
    let target = Target::Relay(pc.client().await.unwrap());
    let delivery = target.delivery(&pc.settings, None, "0.1.0", FAST);
    let results = pc.outbox.deliver_due(&delivery, true).await.unwrap();
    assert!(
        matches!(&results[..], [DeliveryResult::Sent { reference: r, outcome }] if *r == reference && outcome.ticket_id == relay.sandbox.tickets()[0].ticket_id),
        "{results:?}"
    );
    assert_eq!(relay.sandbox.tickets().len(), 1);
}

async fn a_device_cannot_read_another_devices_ticket(storage: Storage) {
    let relay = relay(storage).await;
    let token = relay.token(2);
    let (a, b) = (Pc::new(&relay, &token), Pc::new(&relay, &token));
    let filed = sent(a.file(1).await.unwrap());
    let b_client = b.client().await.unwrap();
    assert_eq!(
        refusal(&b_client.ticket(&filed.reference).await.unwrap_err()),
        Refusal::NotFound
    );
    assert!(b_client.tickets().await.unwrap().tickets.is_empty());
    // B cannot take A's reference over either.
    let saved = a.outbox.submission(&filed.reference).unwrap();
    assert_eq!(
        refusal(&b_client.submit(&saved, Duration::ZERO).await.unwrap_err()),
        Refusal::ReferenceTaken
    );
    let a_list = a.client().await.unwrap().tickets().await.unwrap().tickets;
    assert_eq!(a_list.len(), 1);
    assert_eq!(a_list[0].ticket_id, Some(filed.ticket_id));
}

async fn a_revoked_device_is_refused_at_once_and_told_to_contact_it(storage: Storage) {
    let relay = relay(storage).await;
    let pc = Pc::new(&relay, &relay.token(1));
    sent(pc.file(1).await.unwrap());
    let identity = pc.client().await.unwrap().device().await.unwrap();
    assert!(relay
        .state
        .store
        .revoke(
            &identity.device_id,
            helpdesk_core::clock::Clock::now(&SystemClock)
        )
        .unwrap());
    let error = pc.client().await.unwrap().tickets().await.unwrap_err();
    assert_eq!(refusal(&error), Refusal::DeviceRevoked);
    assert!(device::credential_refused(&error));
    match pc.file(2).await.unwrap() {
        Submitted::Queued {
            reason,
            waits_for_admin,
            ..
        } => {
            assert!(waits_for_admin, "a revoked PC does not retry by itself");
            assert!(reason.contains("contact your IT provider"), "{reason}");
        }
        Submitted::Sent(_) => panic!("a revoked device filed a ticket"),
    }
    assert_eq!(relay.sandbox.tickets().len(), 1);
}

async fn an_expired_or_used_up_or_forged_token_enrolls_nothing(storage: Storage) {
    let relay = relay(storage).await;
    let used = relay.token(1);
    Pc::new(&relay, &used).client().await.unwrap();
    let error = Pc::new(&relay, &used).client().await.unwrap_err();
    assert_eq!(refusal(&error), Refusal::TokenUsedUp);
    let now = helpdesk_core::clock::Clock::now(&SystemClock);
    let expired = relay
        .state
        .store
        .create_token(relay.customer, "Acme Dental", now - 7200, now - 1, 5)
        .unwrap()
        .token;
    let error = Pc::new(&relay, &expired).client().await.unwrap_err();
    assert_eq!(refusal(&error), Refusal::TokenExpired);
    assert!(error.user_message().contains("expired"));
    let forged = format!("{}x", &used[..used.len() - 1]);
    let error = Pc::new(&relay, &forged).client().await.unwrap_err();
    assert_eq!(refusal(&error), Refusal::TokenUnknown);
    assert_eq!(relay.state.store.devices().unwrap().len(), 1);
}

async fn no_file_the_pc_writes_and_no_byte_it_exchanges_contains_the_atera_key(storage: Storage) {
    let relay = relay(storage).await;
    let pc = Pc::new(&relay, &relay.token(1));
    for n in 0..2 {
        sent(pc.file(n).await.unwrap());
    }
    pc.client().await.unwrap().tickets().await.unwrap();
    pc.client().await.unwrap().settings().await.unwrap();
    let wire = relay.proxy.wire_text();
    assert!(
        wire.contains("POST /v1/tickets"),
        "the proxy saw the traffic"
    );
    assert!(
        !wire.contains(util::KEY),
        "the Atera key crossed the PC's wire"
    );
    let mut files = vec![pc._dir.path().to_path_buf()];
    let mut scanned = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            scanned += 1;
            assert!(
                !String::from_utf8_lossy(&bytes).contains(util::KEY),
                "{} holds the Atera key",
                path.display()
            );
        }
    }
    assert!(scanned >= 1, "the outbox was written");
    // The keychain holds the device's credential, not the key.
    let credential = pc.keychain.get().unwrap().unwrap();
    assert!(credential.starts_with("hbd1."));
}

async fn a_device_over_its_ticket_limit_waits_and_nothing_is_lost(storage: Storage) {
    let relay = relay_with(
        storage,
        Limits {
            submissions_per_hour: 1,
            ..Limits::default()
        },
    )
    .await;
    let pc = Pc::new(&relay, &relay.token(1));
    sent(pc.file(1).await.unwrap());
    match pc.file(2).await.unwrap() {
        Submitted::Queued {
            waits_for_admin,
            error,
            ..
        } => {
            assert!(!waits_for_admin, "a rate limit passes by itself");
            assert!(error.rate_limit().is_some(), "{error}");
        }
        Submitted::Sent(_) => panic!("the limit did not hold"),
    }
    assert!(
        pc.outbox.paused_until().unwrap().is_some(),
        "the PC waits as asked"
    );
    assert_eq!(pc.outbox.unsent_count().unwrap(), 1);
    assert_eq!(relay.sandbox.tickets().len(), 1);
}

async fn an_oversized_request_is_refused_with_its_own_code(storage: Storage) {
    let relay = relay(storage).await;
    let pc = Pc::new(&relay, &relay.token(1));
    let client = pc.client().await.unwrap();
    let first = sent(pc.file(1).await.unwrap());
    let mut saved = pc.outbox.submission(&first.reference).unwrap();
    saved.reference = new_reference();
    saved.form.description = "x".repeat(helpdesk_core::relay::protocol::MAX_REQUEST_BYTES + 1);
    let error = client.submit(&saved, Duration::ZERO).await.unwrap_err();
    assert_eq!(refusal(&error), Refusal::TooLarge);
    assert!(error.user_message().contains("screenshot"));
}

async fn health_and_metrics_report_the_queue_and_the_devices(storage: Storage) {
    let relay = relay(storage).await;
    let pc = Pc::new(&relay, &relay.token(1));
    sent(pc.file(1).await.unwrap());
    let _ = Pc::new(&relay, "hbe1.nope.nope").client().await;
    let base = relay.proxy.url();
    let http = reqwest::Client::new();
    let health: serde_json::Value = http
        .get(format!("{base}healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["queue_depth"], 0);
    let metrics = http
        .get(format!("{base}metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "helpdesk_relay_queue_depth 0",
        "helpdesk_relay_devices 1",
        "helpdesk_relay_submissions_total 1",
        "helpdesk_relay_refusals_total{code=\"token_unknown\"} 1",
        "helpdesk_relay_deliveries_total{result=\"sent\"} 1",
        "helpdesk_relay_atera_delivery_seconds_count 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in\n{metrics}"
        );
    }
    // The audit log names devices and references, never ticket text.
    let audit = relay.state.store.audit_log().unwrap();
    assert!(audit.iter().any(|e| e.event == "filed"));
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains("printer"), "ticket text in the audit log");
}

async fn the_relays_form_settings_override_the_local_ones_and_the_policy_locks_still_win(
    storage: Storage,
) {
    let relay = relay(storage).await;
    let pc = Pc::new(&relay, &relay.token(1));
    std::fs::write(
        pc.paths.settings_file(),
        "[branding]\ncompany_name = \"Set on this PC\"\n[form]\nrequire_phone = true\n",
    )
    .unwrap();
    let policy_file = pc._dir.path().join("policy.toml");
    let write_policy = |extra: &str| {
        std::fs::write(
            &policy_file,
            format!(
                "{extra}[settings.relay]\nurl = \"{}\"\nenrollment_token = \"x\"\n",
                relay.proxy.url()
            ),
        )
        .unwrap();
        helpdesk_core::policy::Policy::load(&policy_file).unwrap()
    };
    let policy = write_policy("");
    let local = Settings::load_with(&pc.paths, &policy).unwrap();
    assert_eq!(local.branding.company_name, "Set on this PC");
    assert!(local.form.require_phone);
    let client = pc.client().await.unwrap();
    assert!(
        device::refresh_pushed_settings(&pc.paths, &client, Duration::ZERO)
            .await
            .unwrap()
    );
    let pushed = Settings::load_with(&pc.paths, &policy).unwrap();
    assert_eq!(
        pushed.branding.company_name,
        "Northwind IT (from the relay)"
    );
    assert!(
        !pushed.form.require_phone,
        "the relay's form replaces the PC's"
    );
    // A fresh cache is not fetched again.
    assert!(
        !device::refresh_pushed_settings(&pc.paths, &client, Duration::from_secs(600))
            .await
            .unwrap()
    );
    // What the machine policy locks stays the policy's.
    let locked = write_policy(
        "locked = [\"branding.company_name\"]\n[settings.branding]\ncompany_name = \"Policy MSP\"\n",
    );
    let settled = Settings::load_with(&pc.paths, &locked).unwrap();
    assert_eq!(settled.branding.company_name, "Policy MSP");
}

async fn one_poll_by_the_relay_brings_every_devices_status_and_replies_and_wakes_its_events(
    storage: Storage,
) {
    let relay = relay(storage).await;
    let token = relay.token(10);
    let pcs: Vec<Pc> = (0..10).map(|_| Pc::new(&relay, &token)).collect();
    let mut filed = Vec::new();
    for (n, pc) in pcs.iter().enumerate() {
        filed.push(sent(pc.file(n).await.unwrap()));
    }
    let (a, a_ticket) = (&pcs[0], &filed[0]);
    let a_client = a.client().await.unwrap();
    let seq = a_client.events(0, Duration::ZERO).await.unwrap().seq;
    // Nothing new: the long poll waits, then says so.
    assert!(
        !a_client
            .events(seq, Duration::from_millis(50))
            .await
            .unwrap()
            .changed
    );
    let b_client = pcs[1].client().await.unwrap();
    let b_seq = b_client.events(0, Duration::ZERO).await.unwrap().seq;

    relay
        .sandbox
        .set_ticket_status(a_ticket.ticket_id, "Pending");
    relay.sandbox.add_technician_comment(
        a_ticket.ticket_id,
        "Sam Tech",
        "Try turning it off and on",
        false,
    );
    let before = relay.sandbox.requests().len();
    relay.state.poll_once().await;
    let poll_requests = relay.sandbox.requests().len() - before;
    eprintln!("one fleet poll for 10 devices: {poll_requests} requests to Atera");
    // One pass for ten devices: a list page and the changed ticket's thread, not ten polls.
    assert!(
        poll_requests <= 4,
        "{poll_requests} requests for one fleet poll"
    );

    let events = a_client.events(seq, Duration::from_secs(5)).await.unwrap();
    assert!(events.changed);
    let status = a_client.ticket(&a_ticket.reference).await.unwrap();
    assert_eq!(status.status.as_deref(), Some("Pending"));
    let reply = status.last_reply.clone().expect("the technician's reply");
    assert_eq!(reply.text, "Try turning it off and on");
    assert!(status.unread);
    // The PC's My tickets merges it with its outbox, and its notification names the reply.
    let before_list = vec![helpdesk_core::relay::protocol::TicketStatus {
        status: Some("Open".into()),
        last_reply: None,
        ..status.clone()
    }];
    let changes = device::changes(&before_list, std::slice::from_ref(&status));
    assert_eq!(changes.len(), 2, "{changes:?}");
    let mine = device::my_tickets(&a.outbox, std::slice::from_ref(&status)).unwrap();
    assert_eq!(mine[0].status.as_deref(), Some("Pending"));
    // Another device's events did not fire.
    assert!(
        !b_client
            .events(b_seq, Duration::from_millis(50))
            .await
            .unwrap()
            .changed
    );

    // The thread and a reply go through the relay, for the device that filed the ticket only.
    let thread = a_client.thread(&a_ticket.reference).await.unwrap();
    assert!(thread
        .iter()
        .any(|c| c.is_technician && c.text.contains("turning it off")));
    assert_eq!(
        refusal(&b_client.thread(&a_ticket.reference).await.unwrap_err()),
        Refusal::NotFound
    );
    assert_eq!(
        refusal(
            &b_client
                .reply(&a_ticket.reference, "mine now")
                .await
                .unwrap_err()
        ),
        Refusal::NotFound
    );
    a_client
        .reply(&a_ticket.reference, "It works again, thanks")
        .await
        .unwrap();
    let comments = util::posts(
        &relay.sandbox,
        &format!("/api/v3/tickets/{}/comments", a_ticket.ticket_id),
    );
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.contains("It works again"));
}

async fn an_atera_webhook_at_the_secret_url_wakes_the_poller_and_a_wrong_secret_is_not_found(
    storage: Storage,
) {
    let relay = relay(storage).await;
    let pc = Pc::new(&relay, &relay.token(1));
    let filed = sent(pc.file(1).await.unwrap());
    // The relay's regular poll has seen the new ticket once (its first status is no news).
    relay.state.poll_once().await;
    let state = relay.state.clone();
    tokio::spawn(state.run_polling());
    let client = pc.client().await.unwrap();
    let seq = client.events(0, Duration::ZERO).await.unwrap().seq;
    let http = reqwest::Client::new();
    let base = relay.proxy.url();
    let wrong = http
        .post(format!(
            "{base}v1/atera-webhook/not-the-secret-at-all-0123456789"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    relay.sandbox.set_ticket_status(filed.ticket_id, "Closed");
    let right = http
        .post(format!("{base}v1/atera-webhook/{WEBHOOK_SECRET}"))
        .body(r#"{"TicketID": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 204);
    // The poller runs every hour here: only the webhook can have brought the change this fast.
    let events = client.events(seq, Duration::from_secs(20)).await.unwrap();
    assert!(events.changed, "the webhook did not wake the poller");
    let status = client.ticket(&filed.reference).await.unwrap();
    assert_eq!(status.status.as_deref(), Some("Closed"));
}

async fn a_device_cannot_name_the_contact_or_skip_the_rules_in_what_it_sends(storage: Storage) {
    let relay = relay(storage).await;
    let other_customer = relay.sandbox.add_customer("Someone Else Ltd");
    let victim =
        relay
            .sandbox
            .add_contact(other_customer, "Vic", "Tim", "vic@someone-else.example");
    let pc = Pc::new(&relay, &relay.token(1));
    let client = pc.client().await.unwrap();
    let mut saved = saved(1);
    saved.contact = Some(helpdesk_core::submit::ContactMatch::Existing {
        end_user_id: victim,
        name: "Vic Tim".into(),
        customer: None,
    });
    let status = client.submit(&saved, Duration::from_secs(5)).await.unwrap();
    assert_eq!(status.state, RelayedState::Filed);
    let ticket = &relay.sandbox.tickets()[0];
    assert_ne!(
        ticket.request_json["EndUserID"].as_i64(),
        Some(victim),
        "the ticket was filed as another customer's contact"
    );
    let requester = relay
        .sandbox
        .contacts()
        .into_iter()
        .find(|c| c.email == "dana1@acme-dental.example")
        .expect("the relay matched the requester itself");
    assert_eq!(requester.customer_id, relay.customer);
}

async fn the_rules_run_on_the_relay_for_every_device_and_an_exception_reaches_the_user(
    storage: Storage,
) {
    let relay = relay_with_rules(
        storage,
        Limits::default(),
        Some("if 'jams' in msg: priority = 'High'\nif 'blocked.example' in email: exception = 'Tickets from this address go to the front desk.'\n"),
    )
    .await;
    let pc = Pc::new(&relay, &relay.token(1));
    sent(pc.file(1).await.unwrap());
    assert_eq!(relay.sandbox.tickets()[0].priority, "High");
    // An exception stops the ticket on the relay; the PC's form hears the rule's words.
    let target = Target::Relay(pc.client().await.unwrap());
    let delivery = target.delivery(&pc.settings, None, "0.1.0", FAST);
    let submission = Submission {
        form: TicketForm {
            email: "someone@blocked.example".into(),
            ..form(2)
        },
        reference: new_reference(),
        screenshots: &[],
        inventory: None,
    };
    match outbox::submit(&pc.outbox, &pc.settings, submission, Ok(&delivery)).await {
        Err(helpdesk_core::submit::SubmitError::Blocked(reason)) => {
            assert_eq!(reason, "Tickets from this address go to the front desk.")
        }
        other => panic!("expected the rule's exception, got {other:?}"),
    }
    assert_eq!(relay.sandbox.tickets().len(), 1);
}
