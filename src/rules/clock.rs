//! Answers to the host calls monty makes for a rule: the clock, and refusals for the rest.

use chrono::{Datelike, NaiveDateTime, Timelike};
use monty_types::{ExtFunctionResult, MontyDate, MontyDateTime, MontyObject, OsFunctionCall};

/// `date.today()` and `datetime.now([tz])` from this machine's clock (naive local time, as in
/// CPython, or aware in the given fixed-offset zone); anything else — files, the environment —
/// is refused with monty's standard error (`PermissionError` for paths).
pub(crate) fn answer(call: &OsFunctionCall) -> ExtFunctionResult {
    match call {
        OsFunctionCall::DateToday => {
            let now = chrono::Local::now().naive_local();
            MontyObject::Date(MontyDate {
                year: now.year(),
                month: small(now.month()),
                day: small(now.day()),
            })
            .into()
        }
        OsFunctionCall::DateTimeNow(None) => {
            datetime(chrono::Local::now().naive_local(), None, None).into()
        }
        OsFunctionCall::DateTimeNow(Some(tz)) => {
            let wall = chrono::Utc::now().naive_utc()
                + chrono::Duration::seconds(i64::from(tz.offset_seconds));
            datetime(wall, Some(tz.offset_seconds), tz.name.clone()).into()
        }
        other => other.on_no_handler().into(),
    }
}

fn small(n: u32) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

fn datetime(
    t: NaiveDateTime,
    offset_seconds: Option<i32>,
    timezone_name: Option<String>,
) -> MontyObject {
    MontyObject::DateTime(MontyDateTime {
        year: t.year(),
        month: small(t.month()),
        day: small(t.day()),
        hour: small(t.hour()),
        minute: small(t.minute()),
        second: small(t.second().min(59)),
        microsecond: (t.nanosecond() / 1000).min(999_999),
        offset_seconds,
        timezone_name: offset_seconds.and(timezone_name),
    })
}
