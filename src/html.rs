//! HTML escaping for everything that goes into a ticket body or a sandbox page.
//!
//! Every user-typed or machine-collected string passes through [`escape`] before it is placed in
//! HTML. Nothing here builds markup.

/// Escapes text for an HTML text node or a double- or single-quoted attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes text and turns line breaks into `<br>`, for multi-line user text.
pub fn escape_multiline(text: &str) -> String {
    let normalised = text.replace("\r\n", "\n");
    normalised
        .lines()
        .map(escape)
        .collect::<Vec<_>>()
        .join("<br>\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
    }

    #[test]
    fn multiline_text_keeps_its_line_breaks_and_stays_escaped() {
        assert_eq!(
            escape_multiline("a<b\r\nc\n\nd"),
            "a&lt;b<br>\nc<br>\n<br>\nd"
        );
    }
}
