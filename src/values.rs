//! Atera's ticket enums (priority, type, impact) and how people's names and legacy names map to them.
//!
//! One normaliser is used everywhere a value enters the app: the form, the CLI, settings, and rules.
//! It must not know about HTTP or the UI.

use serde::{Deserialize, Serialize};

/// A value with Atera's wire name and the name people see.
pub trait AteraChoice: Sized + Copy + 'static {
    /// Every value, in the order Atera lists them.
    const ALL: &'static [Self];
    /// What the field is called in messages ("priority").
    const FIELD: &'static str;
    /// The value Atera's API expects (`SiteDown`).
    fn api_value(self) -> &'static str;
    /// The name shown to people (`Site Down`).
    fn label(self) -> &'static str;
    /// Older names found in old docs and vendor rules, lower-case and without spaces.
    fn legacy(key: &str) -> Option<Self>;

    /// Accepts the API value, the people's name or a legacy name, in any case, ignoring spaces,
    /// dashes and underscores.
    fn parse(input: &str) -> Option<Self> {
        let key = normalise_key(input);
        if key.is_empty() {
            return None;
        }
        Self::ALL
            .iter()
            .copied()
            .find(|v| normalise_key(v.api_value()) == key || normalise_key(v.label()) == key)
            .or_else(|| Self::legacy(&key))
    }
}

fn normalise_key(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

macro_rules! choice_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal, [$($variant:ident => $api:literal, $label:literal);+ $(;)?], legacy { $($lk:literal => $lv:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $($variant),+ }

        impl AteraChoice for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),+];
            const FIELD: &'static str = $field;
            fn api_value(self) -> &'static str { match self { $(Self::$variant => $api),+ } }
            fn label(self) -> &'static str { match self { $(Self::$variant => $label),+ } }
            fn legacy(key: &str) -> Option<Self> {
                match key { $($lk => Some(Self::$lv),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.api_value()) }
        }
    };
}

choice_enum!(
    /// `TicketPriorityOptions`.
    Priority, "priority",
    [Low => "Low", "Low"; Medium => "Medium", "Medium"; High => "High", "High"; Critical => "Critical", "Critical"],
    legacy { "urgent" => Critical, "normal" => Medium }
);
choice_enum!(
    /// `TicketTypesForAPI`.
    TicketType, "type",
    [Incident => "Incident", "Incident"; Problem => "Problem", "Problem"; Request => "Request", "Request"; Change => "Change", "Change"],
    legacy { "servicerequest" => Request, "alert" => Incident, "changerequest" => Change }
);
choice_enum!(
    /// `TicketsImpactOptions`.
    Impact, "impact",
    [NoImpact => "NoImpact", "No Impact"; Minor => "Minor", "Minor"; Major => "Major", "Major";
     SiteDown => "SiteDown", "Site Down"; ServerIssue => "ServerIssue", "Server Issue"; Crisis => "Crisis", "Crisis"],
    legacy { "none" => NoImpact, "low" => Minor, "high" => Major }
);

/// A choice as the UI shows it: the API value and the people's name.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChoiceOption {
    pub value: &'static str,
    pub label: &'static str,
}

/// All options of one enum, for pickers.
pub fn options<T: AteraChoice>() -> Vec<ChoiceOption> {
    T::ALL
        .iter()
        .map(|v| ChoiceOption {
            value: v.api_value(),
            label: v.label(),
        })
        .collect()
}

/// A value that could not be mapped and what replaced it; rendered in the ticket's
/// "Submission errors" note so nothing fails silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replacement {
    pub field: String,
    pub given: String,
    pub used: String,
}

/// Maps `input` or falls back to `default`, recording the replacement.
pub fn normalise_or_default<T: AteraChoice>(
    input: &str,
    default: T,
    replaced: &mut Vec<Replacement>,
) -> T {
    if input.trim().is_empty() {
        return default;
    }
    T::parse(input).unwrap_or_else(|| {
        replaced.push(Replacement {
            field: T::FIELD.to_string(),
            given: input.to_string(),
            used: default.api_value().to_string(),
        });
        default
    })
}

/// The status sent with new tickets when nothing else is configured.
pub const DEFAULT_STATUS: &str = "Open";

/// Normalises a free-text status: the four built-in ones get Atera's spelling; custom statuses
/// pass through trimmed; empty means `Open`.
pub fn normalise_status(input: &str) -> String {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return DEFAULT_STATUS.to_string();
    }
    ["Open", "Pending", "Resolved", "Closed"]
        .into_iter()
        .find(|s| s.eq_ignore_ascii_case(trimmed))
        .map_or_else(|| trimmed.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_api_values_people_names_and_legacy_names_in_any_case() {
        assert_eq!(Impact::parse("SiteDown"), Some(Impact::SiteDown));
        assert_eq!(Impact::parse("site down"), Some(Impact::SiteDown));
        assert_eq!(Impact::parse("No impact"), Some(Impact::NoImpact));
        assert_eq!(Impact::parse("server_issue"), Some(Impact::ServerIssue));
        assert_eq!(Priority::parse("URGENT"), Some(Priority::Critical));
        assert_eq!(Priority::parse(" high "), Some(Priority::High));
        assert_eq!(
            TicketType::parse("Service Request"),
            Some(TicketType::Request)
        );
        assert_eq!(TicketType::parse("alert"), Some(TicketType::Incident));
        assert_eq!(Priority::parse("sometime"), None);
        assert_eq!(Priority::parse(""), None);
    }

    #[test]
    fn unmappable_value_falls_back_to_default_and_is_recorded() {
        let mut replaced = Vec::new();
        let p = normalise_or_default("Whenever", Priority::Medium, &mut replaced);
        assert_eq!(p, Priority::Medium);
        assert_eq!(
            replaced,
            vec![Replacement {
                field: "priority".into(),
                given: "Whenever".into(),
                used: "Medium".into()
            }]
        );
        assert_eq!(
            normalise_or_default("", Impact::Minor, &mut replaced),
            Impact::Minor
        );
        assert_eq!(replaced.len(), 1, "an empty value is not an error");
    }

    #[test]
    fn status_keeps_custom_values_and_fixes_case_of_builtin_ones() {
        assert_eq!(normalise_status("pending"), "Pending");
        assert_eq!(
            normalise_status("  Waiting for parts "),
            "Waiting for parts"
        );
        assert_eq!(normalise_status(""), "Open");
    }

    #[test]
    fn options_list_api_values_with_people_names() {
        let impacts = options::<Impact>();
        assert_eq!(impacts.len(), 6);
        assert_eq!(
            impacts[3],
            ChoiceOption {
                value: "SiteDown",
                label: "Site Down"
            }
        );
    }
}
