//! Two `helpdesk-relay serve` processes on one Postgres (as behind a load balancer), each with
//! its own PCs, SIGKILLed at random points while both deliver from the shared queue: each ticket
//! is filed exactly once, whichever instance takes it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::relay::{assert_filed_once, inject_post_faults, relay_pc, settle, submit, RelayProcess};
use super::{text, TestSandbox};

/// The test Postgres of `tests/run-all.sh` (`src-tauri/scripts/test-postgres.sh`).
const POSTGRES_ENV: &str = "HELPDESK_TEST_POSTGRES_URL";

/// A new, empty database on the test Postgres; its connection string.
fn postgres_database() -> String {
    let server = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
        panic!(
            "{POSTGRES_ENV} is not set: start a throwaway Postgres with \
             `eval \"$(bash src-tauri/scripts/test-postgres.sh start)\"` (tests/run-all.sh does)"
        )
    });
    let name = format!(
        "hb_shared_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let out = Command::new("psql")
        .arg(&server)
        .args(["-qc", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql runs (Debian's postgresql-client)");
    assert!(out.status.success(), "psql: {}", text(&out.stderr));
    format!("{server} dbname={name}")
}

/// Eight tickets from two PCs, one on each instance, while faults slow and cut Atera's answers
/// and one instance or the other is SIGKILLed after a random number of Atera requests (and
/// started again). The two instances compete for every due ticket: the claim (a row lock taken
/// with `SKIP LOCKED`) lets one of them deliver it, and the one that takes over after a kill
/// confirms before it resends.
#[test]
fn two_relay_instances_on_one_postgres_file_each_ticket_exactly_once_through_kills() {
    let sandbox = TestSandbox::start();
    let customer = sandbox.get().add_customer("Acme Dental");
    let storage = format!("[storage]\npostgres_url = \"{}\"\n", postgres_database());
    let mut relays = [
        RelayProcess::start_with(&sandbox, &storage),
        RelayProcess::start_with(&sandbox, &storage),
    ];
    // A token made on one instance enrolls a PC on the other: the devices are shared.
    let token = relays[0].token(customer, 2);
    let pcs = [relay_pc(&relays[0], &token), relay_pc(&relays[1], &token)];
    inject_post_faults(&sandbox, 15);
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut kills = [0; 2];
    for n in 0..8 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let (config, policy) = &pcs[n % 2];
        let victim = ((seed >> 8) % 2) as usize;
        let after = sandbox.get().requests().len() + 1 + (seed % 5) as usize;
        let mut app = submit(config.path(), policy, n)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while app.try_wait().unwrap().is_none() && Instant::now() < deadline {
            if sandbox.get().requests().len() >= after {
                relays[victim].kill();
                kills[victim] += 1;
                relays[victim].spawn();
                break;
            }
            std::thread::yield_now();
        }
        let _ = app.wait();
    }
    assert!(
        kills.iter().sum::<u32>() >= 4 && kills.iter().all(|k| *k >= 1),
        "kills per instance: {kills:?}"
    );
    let devices = relays[1].devices();
    assert_eq!(devices.len(), 2, "both PCs, seen from either instance");
    let expected = settle(
        &[
            (pcs[0].0.path(), pcs[0].1.as_path()),
            (pcs[1].0.path(), pcs[1].1.as_path()),
        ],
        8,
    );
    assert_filed_once(&sandbox, &expected);
    // Both instances' audit logs are the one shared log: every reference received and filed.
    let audit = relays[0].run(&["audit", "--json"]);
    for reference in &expected {
        assert!(audit.contains(reference.as_str()), "{reference} in {audit}");
    }
}
