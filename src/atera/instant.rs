//! Atera's timestamps as instants. Live tenants send them in several shapes: 0 to 7 fractional
//! digits, with a `Z`, an offset, or no zone at all (which means UTC), and sometimes a bare date.
//! They are compared as instants, never as strings (`…:33.5766667` and `…:33Z` order wrongly as
//! text).

use time::format_description::well_known::Iso8601;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

/// Parses any of Atera's timestamp shapes; `None` for anything else.
pub fn parse_instant(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    if let Ok(t) = OffsetDateTime::parse(text, &Iso8601::DEFAULT) {
        return Some(t);
    }
    if let Ok(t) = PrimitiveDateTime::parse(text, &Iso8601::DEFAULT) {
        return Some(t.assume_utc());
    }
    Date::parse(text, &Iso8601::DEFAULT)
        .ok()
        .map(|d| d.midnight().assume_utc())
}

/// Whether `a` is later than `b`, as instants; a timestamp that cannot be read is earlier than
/// any that can (and two unreadable ones fall back to their text).
pub fn later(a: &str, b: &str) -> bool {
    match (parse_instant(a), parse_instant(b)) {
        (Some(a), Some(b)) => a > b,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => a > b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_atera_sends_reads_as_the_same_instant() {
        let z = parse_instant("2026-07-13T22:36:33Z").unwrap();
        for text in [
            "2026-07-13T22:36:33",
            "2026-07-13T22:36:33.0",
            "2026-07-13T22:36:33.000Z",
            "2026-07-13T22:36:33.0000000",
            "2026-07-13T23:36:33+01:00",
            " 2026-07-13T22:36:33Z ",
        ] {
            assert_eq!(parse_instant(text), Some(z), "{text}");
        }
        let seven = parse_instant("2026-07-13T22:36:33.5766667").unwrap();
        assert!(seven > z && seven - z < time::Duration::seconds(1));
        assert_eq!(
            parse_instant("2026-07-13"),
            Some(parse_instant("2026-07-13T00:00:00Z").unwrap())
        );
        assert_eq!(parse_instant("someday"), None);
        assert_eq!(parse_instant(""), None);
    }

    #[test]
    fn instants_order_where_their_text_would_not() {
        // As text "…33.5766667" sorts before "…33Z" ('.' < 'Z'); as instants it is later.
        assert!(later("2026-07-13T22:36:33.5766667", "2026-07-13T22:36:33Z"));
        assert!(later("2026-07-13T22:36:34+02:00", "2026-07-13T20:36:33Z"));
        assert!(!later("2026-07-13T21:00:00+02:00", "2026-07-13T20:00:00Z"));
        assert!(later("2026-07-13T00:00:00Z", "not a date"));
    }
}
