use super::*;

#[test]
fn backoff_grows_to_a_cap_and_honours_retry_after() {
    let server = SubmitError::Atera(AteraError::Server {
        status: 503,
        detail: None,
    });
    assert_eq!(next_wait(1, &server), Duration::from_secs(30));
    assert_eq!(next_wait(2, &server), Duration::from_secs(60));
    assert_eq!(next_wait(20, &server), MAX_BACKOFF);
    let limited = SubmitError::Atera(AteraError::RateLimited {
        retry_after: Some(Duration::from_secs(120)),
    });
    assert_eq!(next_wait(1, &limited), Duration::from_secs(120));
}

#[test]
fn an_absurd_retry_after_means_the_cap_and_never_overflows() {
    let absurd = SubmitError::Atera(AteraError::RateLimited {
        retry_after: Some(Duration::from_secs(u64::MAX)),
    });
    assert_eq!(next_wait(1, &absurd), MAX_RETRY_AFTER);
    let zero = SubmitError::Atera(AteraError::RateLimited {
        retry_after: Some(Duration::ZERO),
    });
    assert_eq!(next_wait(1, &zero), Duration::from_secs(1));
    let policy = crate::submit::RetryPolicy::default();
    assert!(
        policy.delay(
            1,
            &AteraError::RateLimited {
                retry_after: Some(Duration::from_secs(u64::MAX))
            }
        ) <= policy.max_total
    );
}

#[test]
fn only_lasting_refusals_stop_automatic_retries() {
    assert!(keeps_retrying(&SubmitError::Atera(AteraError::Timeout(
        Duration::from_secs(1)
    ))));
    assert!(keeps_retrying(&SubmitError::Atera(
        AteraError::Unauthorized {
            status: 401,
            detail: None
        }
    )));
    assert!(!keeps_retrying(&SubmitError::Atera(
        AteraError::Validation {
            detail: "bad".into()
        }
    )));
}

fn saved(reference: &str) -> SavedSubmission {
    SavedSubmission::new(
        &Settings::default(),
        Submission {
            form: crate::form::TicketForm {
                name: "Ada".into(),
                email: "ada@example.com".into(),
                description: "Printer jammed".into(),
                ..Default::default()
            },
            reference: reference.into(),
            screenshots: &[],
            inventory: None,
        },
    )
    .unwrap()
}

#[test]
fn the_database_is_private_from_its_first_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = outbox_file(dir.path());
    let outbox = Outbox::open(&path).unwrap();
    outbox.enqueue(&saved("HB-20261203-AAAAAA")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [path.clone(), path.with_extension("sqlite3-wal")] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }
}

#[test]
fn a_clock_that_went_backwards_does_not_strand_entries() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(2_000_000_000));
    let outbox = Outbox::open_with(
        &outbox_file(dir.path()),
        clock.clone(),
        DeliveryTiming::default(),
    )
    .unwrap();
    outbox.enqueue(&saved("HB-20261203-BBBBBB")).unwrap();
    outbox
        .db()
        .execute(
            "UPDATE outbox SET next_attempt_at = next_attempt_at + 600",
            params![],
        )
        .unwrap();
    assert!(
        outbox.due(clock.now(), false).unwrap().is_empty(),
        "waits its 10 minutes"
    );
    // The wall clock is set back a day: the entry's time is now "a day and 10 minutes" away,
    // more than any wait the outbox schedules, so it is due.
    clock.advance(-86_400);
    assert_eq!(outbox.due(clock.now(), false).unwrap().len(), 1);
    assert_eq!(outbox.next_due_at().unwrap(), Some(clock.now()));
}

#[test]
fn an_unreadable_entry_is_set_aside_and_a_posted_one_never_is() {
    let outbox = Outbox::in_memory().unwrap();
    outbox.enqueue(&saved("HB-20261203-CCCCCC")).unwrap();
    outbox.enqueue(&saved("HB-20261203-DDDDDD")).unwrap();
    outbox
        .db()
        .execute(
            "UPDATE outbox SET stage = 'posting' WHERE reference = 'HB-20261203-DDDDDD'",
            params![],
        )
        .unwrap();
    let error = SubmitError::Storage("x".into());
    outbox.set_aside("HB-20261203-CCCCCC", &error).unwrap();
    outbox.set_aside("HB-20261203-DDDDDD", &error).unwrap();
    assert_eq!(outbox.stage("HB-20261203-CCCCCC").unwrap(), Stage::Failed);
    assert_eq!(outbox.stage("HB-20261203-DDDDDD").unwrap(), Stage::Posting);
}

#[test]
fn rows_of_the_old_schema_are_migrated_without_losing_a_possible_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let path = outbox_file(dir.path());
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE outbox (reference TEXT PRIMARY KEY, created_at TEXT NOT NULL, subject TEXT NOT NULL,
                requester_email TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at INTEGER NOT NULL, last_error TEXT, ticket_id INTEGER, ticket_number TEXT,
                submission TEXT NOT NULL);
             INSERT INTO outbox VALUES ('A', '2026-12-01T00:00:00Z', 's', 'e', 'pending', 0, 0, NULL, NULL, NULL, '{}');
             INSERT INTO outbox VALUES ('B', '2026-12-01T00:00:00Z', 's', 'e', 'sending', 1, 0, NULL, NULL, NULL, '{}');
             INSERT INTO outbox VALUES ('C', '2026-12-01T00:00:00Z', 's', 'e', 'sent', 1, 0, NULL, 5, '5', '{}');",
        )
        .unwrap();
    }
    let outbox = Outbox::open(&path).unwrap();
    assert_eq!(outbox.stage("A").unwrap(), Stage::New);
    assert_eq!(outbox.stage("B").unwrap(), Stage::Posting);
    assert_eq!(outbox.stage("C").unwrap(), Stage::Sent);
}
