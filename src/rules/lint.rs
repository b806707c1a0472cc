//! Static checks and source rewrites on a rule script, without running it.
//!
//! A small Python tokenizer (names, numbers, strings, operators, logical lines) is enough for:
//! - lint: `x is 'literal'` / `x is not 5` → "use == instead of is";
//! - read-only assignments: `hostname = ...`, `for name in ...`, `email += ...` at module level
//!   (or in a function that declares the name `global`);
//! - rewrites that keep every line where it was: `import textwrap` (monty has no such module;
//!   the prelude provides it) and `'...' % args` (monty has no `%` for strings).

use std::collections::HashSet;

use super::{variables, DiagnosticKind, RuleDiagnostic};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Name,
    Number,
    Str,
    Op,
    /// The end of a logical line.
    Newline,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub kind: Kind,
    /// Byte offsets into the source.
    pub start: usize,
    pub end: usize,
    /// 1-based line and character column of the first character.
    pub line: u32,
    pub col: u32,
}

const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

const OPS3: [&str; 5] = ["**=", "//=", ">>=", "<<=", "..."];
const OPS2: [&str; 19] = [
    "==", "!=", "<=", ">=", ":=", "->", "**", "//", "<<", ">>", "+=", "-=", "*=", "/=", "%=", "&=",
    "|=", "^=", "@=",
];
const AUG_OPS: [&str; 13] = [
    "+=", "-=", "*=", "/=", "//=", "%=", "**=", ">>=", "<<=", "&=", "|=", "^=", "@=",
];

fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

fn is_string_prefix(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "r" | "u" | "b" | "f" | "br" | "rb" | "fr" | "rf" | "t" | "tr" | "rt"
    )
}

/// Splits `src` into tokens. Never fails: what it cannot read becomes an operator token, and an
/// unterminated string runs to the end of its line (or of the source, when triple-quoted).
pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    let bytes = src.as_bytes();
    let mut tokens: Vec<Token> = Vec::new();
    let mut depth: usize = 0;
    let mut line: u32 = 1;
    let mut line_start: usize = 0;
    let mut i = 0;
    let col_of = |pos: usize, line_start: usize| -> u32 {
        u32::try_from(src[line_start..pos].chars().count() + 1).unwrap_or(u32::MAX)
    };
    let push_newline = |tokens: &mut Vec<Token>, pos: usize, line: u32, col: u32| {
        if tokens.last().is_some_and(|t| t.kind != Kind::Newline) {
            tokens.push(Token {
                kind: Kind::Newline,
                start: pos,
                end: pos,
                line,
                col,
            });
        }
    };
    while i < bytes.len() {
        let c = src[i..].chars().next().unwrap_or(' ');
        match c {
            '\n' => {
                if depth == 0 {
                    push_newline(&mut tokens, i, line, col_of(i, line_start));
                }
                i += 1;
                line += 1;
                line_start = i;
            }
            ' ' | '\t' | '\r' | '\x0c' => i += 1,
            '#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            '\\' if bytes.get(i + 1) == Some(&b'\n')
                || (bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n')) =>
            {
                i += if bytes[i + 1] == b'\r' { 3 } else { 2 };
                line += 1;
                line_start = i;
            }
            '\'' | '"' => {
                let (start, col, start_line) = (i, col_of(i, line_start), line);
                i = scan_string(src, i, &mut line, &mut line_start);
                tokens.push(Token {
                    kind: Kind::Str,
                    start,
                    end: i,
                    line: start_line,
                    col,
                });
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while let Some(ch) = src[i..].chars().next() {
                    if ch.is_alphanumeric() || ch == '_' {
                        i += ch.len_utf8();
                    } else {
                        break;
                    }
                }
                let col = col_of(start, line_start);
                if matches!(bytes.get(i), Some(b'\'' | b'"')) && is_string_prefix(&src[start..i]) {
                    let start_line = line;
                    i = scan_string(src, i, &mut line, &mut line_start);
                    tokens.push(Token {
                        kind: Kind::Str,
                        start,
                        end: i,
                        line: start_line,
                        col,
                    });
                } else {
                    tokens.push(Token {
                        kind: Kind::Name,
                        start,
                        end: i,
                        line,
                        col,
                    });
                }
            }
            c if c.is_ascii_digit()
                || (c == '.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < bytes.len() {
                    let b = bytes[i];
                    let exponent_sign = (b == b'+' || b == b'-')
                        && matches!(bytes[i - 1], b'e' | b'E')
                        && !src[start..i].starts_with("0x");
                    if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || exponent_sign {
                        i += 1;
                    } else {
                        break;
                    }
                }
                tokens.push(Token {
                    kind: Kind::Number,
                    start,
                    end: i,
                    line,
                    col: col_of(start, line_start),
                });
            }
            _ => {
                let start = i;
                let rest = &src[i..];
                let len = if OPS3.iter().any(|op| rest.starts_with(op)) {
                    3
                } else if OPS2.iter().any(|op| rest.starts_with(op)) {
                    2
                } else {
                    c.len_utf8()
                };
                match c {
                    '(' | '[' | '{' => depth += 1,
                    ')' | ']' | '}' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                i += len;
                tokens.push(Token {
                    kind: Kind::Op,
                    start,
                    end: i,
                    line,
                    col: col_of(start, line_start),
                });
            }
        }
    }
    let end = src.len();
    push_newline(&mut tokens, end, line, col_of(end, line_start));
    tokens
}

/// Scans a string starting at its opening quote; returns the offset after it.
fn scan_string(src: &str, open: usize, line: &mut u32, line_start: &mut usize) -> usize {
    let bytes = src.as_bytes();
    let quote = bytes[open];
    let triple = bytes.get(open + 1) == Some(&quote) && bytes.get(open + 2) == Some(&quote);
    let mut i = open + if triple { 3 } else { 1 };
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            if bytes.get(i + 1) == Some(&b'\n') {
                *line += 1;
                *line_start = i + 2;
            }
            i += 2;
            continue;
        }
        if b == b'\n' {
            if !triple {
                return i;
            }
            *line += 1;
            *line_start = i + 1;
        }
        if b == quote {
            if !triple {
                return i + 1;
            }
            if bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote) {
                return i + 3;
            }
        }
        i += 1;
    }
    bytes.len().min(i)
}

/// A tokenized script.
pub(crate) struct Script<'a> {
    pub src: &'a str,
    pub tokens: Vec<Token>,
}

impl<'a> Script<'a> {
    pub fn new(src: &'a str) -> Self {
        Self {
            src,
            tokens: tokenize(src),
        }
    }

    fn text(&self, i: usize) -> &'a str {
        self.tokens.get(i).map_or("", |t| &self.src[t.start..t.end])
    }

    fn is_op(&self, i: usize, op: &str) -> bool {
        self.tokens.get(i).is_some_and(|t| t.kind == Kind::Op) && self.text(i) == op
    }

    fn is_name(&self, i: usize, name: &str) -> bool {
        self.tokens.get(i).is_some_and(|t| t.kind == Kind::Name) && self.text(i) == name
    }

    fn kind(&self, i: usize) -> Option<Kind> {
        self.tokens.get(i).map(|t| t.kind)
    }

    /// The index of the bracket closing the one at `open` (or the end of the range).
    fn matching(&self, open: usize, end: usize) -> usize {
        let mut depth = 0usize;
        for j in open..end {
            if self.kind(j) == Some(Kind::Op) {
                match self.text(j) {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return j;
                        }
                    }
                    _ => {}
                }
            }
        }
        end.saturating_sub(1).max(open)
    }

    /// Token ranges of the logical lines (without their `Newline`).
    fn logical_lines(&self) -> Vec<(usize, usize)> {
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, t) in self.tokens.iter().enumerate() {
            if t.kind == Kind::Newline {
                if i > start {
                    lines.push((start, i));
                }
                start = i + 1;
            }
        }
        lines
    }

    /// Splits `[start, end)` at depth-0 occurrences of `sep`.
    fn split_depth0(&self, start: usize, end: usize, sep: &str) -> Vec<(usize, usize)> {
        let mut parts = Vec::new();
        let mut depth = 0usize;
        let mut from = start;
        for j in start..end {
            if self.kind(j) != Some(Kind::Op) {
                continue;
            }
            match self.text(j) {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" => depth = depth.saturating_sub(1),
                s if s == sep && depth == 0 => {
                    parts.push((from, j));
                    from = j + 1;
                }
                _ => {}
            }
        }
        parts.push((from, end));
        parts
    }

    /// The index of the `:` ending a compound statement's header, if the line starts one.
    fn header_colon(&self, start: usize, end: usize) -> Option<usize> {
        let first = self.text(start);
        let first = if first == "async" {
            self.text(start + 1)
        } else {
            first
        };
        if !matches!(
            first,
            "if" | "elif"
                | "else"
                | "while"
                | "for"
                | "try"
                | "except"
                | "finally"
                | "with"
                | "def"
                | "class"
        ) {
            return None;
        }
        let mut depth = 0usize;
        let mut lambdas = 0usize;
        for j in start..end {
            match (self.kind(j), self.text(j)) {
                (Some(Kind::Op), "(" | "[" | "{") => depth += 1,
                (Some(Kind::Op), ")" | "]" | "}") => depth = depth.saturating_sub(1),
                (Some(Kind::Name), "lambda") if depth == 0 => lambdas += 1,
                (Some(Kind::Op), ":") if depth == 0 => {
                    if lambdas == 0 {
                        return Some(j);
                    }
                    lambdas -= 1;
                }
                _ => {}
            }
        }
        None
    }
}

/// One statement of a logical line: a compound header or a simple statement.
struct Stmt {
    start: usize,
    end: usize,
    header: bool,
}

/// The statements of a logical line, and its indentation.
fn statements(s: &Script<'_>, start: usize, end: usize) -> Vec<Stmt> {
    let mut out = Vec::new();
    let mut rest = start;
    if let Some(colon) = s.header_colon(start, end) {
        out.push(Stmt {
            start,
            end: colon,
            header: true,
        });
        rest = colon + 1;
    }
    if rest < end {
        for (a, b) in s.split_depth0(rest, end, ";") {
            if a < b {
                out.push(Stmt {
                    start: a,
                    end: b,
                    header: false,
                });
            }
        }
    }
    out
}

/// Names bound by an assignment target such as `a`, `a, b`, `(a, [b, *c])`; not `a.b`, `a[0]`.
fn target_names(s: &Script<'_>, start: usize, end: usize) -> Vec<usize> {
    let mut names = Vec::new();
    let mut j = start;
    while j < end {
        let t = s.tokens[j];
        if t.kind == Kind::Name && !is_keyword(s.text(j)) && !(j > start && s.is_op(j - 1, ".")) {
            let mut k = j + 1;
            let mut trailer = false;
            while k < end {
                if s.is_op(k, ".") {
                    trailer = true;
                    k += 2;
                } else if s.is_op(k, "(") || s.is_op(k, "[") {
                    trailer = true;
                    k = s.matching(k, end) + 1;
                } else {
                    break;
                }
            }
            if !trailer {
                names.push(j);
            }
            j = k;
            continue;
        }
        j += 1;
    }
    names
}

/// Names an import statement binds.
fn import_bindings(s: &Script<'_>, start: usize, end: usize) -> Vec<usize> {
    let mut names = Vec::new();
    let from = s.is_name(start, "from");
    let list_start = if from {
        (start..end)
            .find(|&j| s.is_name(j, "import"))
            .map_or(end, |j| j + 1)
    } else {
        start + 1
    };
    for (a, b) in s.split_depth0(list_start, end, ",") {
        let toks: Vec<usize> = (a..b).filter(|&j| s.kind(j) == Some(Kind::Name)).collect();
        if let Some(pos) = toks.iter().position(|&j| s.text(j) == "as") {
            if let Some(&alias) = toks.get(pos + 1) {
                names.push(alias);
            }
        } else if let Some(&first) = toks.first() {
            names.push(first);
        }
    }
    names
}

/// `NAME :=` anywhere in the range.
fn walrus_names(s: &Script<'_>, start: usize, end: usize) -> Vec<usize> {
    (start..end)
        .filter(|&j| s.kind(j) == Some(Kind::Name) && s.is_op(j + 1, ":="))
        .collect()
}

/// Names bound by one statement (at whatever scope it is in).
fn bound_names(s: &Script<'_>, st: &Stmt) -> Vec<usize> {
    let (start, end) = (st.start, st.end);
    let first = if s.is_name(start, "async") {
        start + 1
    } else {
        start
    };
    let mut names = walrus_names(s, start, end);
    if st.header {
        match s.text(first) {
            "for" => {
                let in_at = s
                    .split_depth0(first + 1, end, "in")
                    .first()
                    .map_or(end, |p| p.1);
                names.extend(target_names(s, first + 1, in_at));
            }
            "with" | "except" => {
                for j in first..end {
                    if s.is_name(j, "as") {
                        let stop = (j + 1..end).find(|&k| s.is_op(k, ",")).unwrap_or(end);
                        names.extend(target_names(s, j + 1, stop));
                    }
                }
            }
            "def" | "class" if s.kind(first + 1) == Some(Kind::Name) => names.push(first + 1),
            _ => {}
        }
        return names;
    }
    match s.text(first) {
        "import" | "from" => return import_bindings(s, start, end),
        "global" | "nonlocal" | "del" | "return" | "pass" | "raise" | "assert" | "break"
        | "continue" => return names,
        _ => {}
    }
    // Augmented assignment, annotation, or a chain of `=`.
    let mut depth = 0usize;
    let mut eqs = Vec::new();
    for j in start..end {
        if s.kind(j) == Some(Kind::Name) && s.text(j) == "lambda" && depth == 0 {
            break;
        }
        if s.kind(j) != Some(Kind::Op) {
            continue;
        }
        match s.text(j) {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth = depth.saturating_sub(1),
            op if depth == 0 && AUG_OPS.contains(&op) => {
                names.extend(target_names(s, start, j));
                return names;
            }
            ":" if depth == 0 && eqs.is_empty() => {
                names.extend(target_names(s, start, j));
                return names;
            }
            "=" if depth == 0 => eqs.push(j),
            _ => {}
        }
    }
    let mut from = start;
    for &eq in &eqs {
        names.extend(target_names(s, from, eq));
        from = eq + 1;
    }
    names
}

/// Assignments to read-only variables at module level (or declared `global` in a function).
pub(crate) fn read_only_assignments(s: &Script<'_>) -> Vec<RuleDiagnostic> {
    struct Scope {
        indent: u32,
        globals: HashSet<String>,
    }
    let mut scopes: Vec<Scope> = Vec::new();
    let mut out = Vec::new();
    for (start, end) in s.logical_lines() {
        let indent = s.tokens[start].col;
        while scopes.last().is_some_and(|sc| sc.indent >= indent) {
            scopes.pop();
        }
        for st in statements(s, start, end) {
            let first = if s.is_name(st.start, "async") {
                st.start + 1
            } else {
                st.start
            };
            if !st.header && s.is_name(first, "global") {
                if let Some(scope) = scopes.last_mut() {
                    for j in first + 1..st.end {
                        if s.kind(j) == Some(Kind::Name) {
                            scope.globals.insert(s.text(j).to_owned());
                        }
                    }
                }
                continue;
            }
            for j in bound_names(s, &st) {
                let name = s.text(j);
                let module_level = scopes.last().is_none_or(|sc| sc.globals.contains(name));
                if module_level && variables::READ_ONLY.contains(&name) {
                    let t = s.tokens[j];
                    out.push(RuleDiagnostic {
                        line: t.line,
                        column: t.col,
                        message: format!("`{name}` is read-only: this assignment is ignored and the ticket keeps the original value"),
                        kind: DiagnosticKind::ReadOnly,
                    });
                }
            }
            if st.header && matches!(s.text(first), "def" | "class") {
                scopes.push(Scope {
                    indent,
                    globals: HashSet::new(),
                });
            }
        }
    }
    out
}

/// Whether the token at `j` can follow a complete operand (so a literal before it stands alone).
fn ends_operand(s: &Script<'_>, j: usize) -> bool {
    match s.kind(j) {
        None | Some(Kind::Newline) => true,
        Some(Kind::Name) => matches!(
            s.text(j),
            "and" | "or" | "if" | "else" | "is" | "in" | "not" | "for"
        ),
        Some(Kind::Op) => matches!(
            s.text(j),
            ")" | "]" | "}" | "," | ":" | ";" | "==" | "!=" | "<" | ">" | "<=" | ">=" | "="
        ),
        _ => false,
    }
}

/// Whether the token at `j` can precede a complete operand (so a literal after it stands alone).
fn starts_operand(s: &Script<'_>, j: Option<usize>) -> bool {
    let Some(j) = j else { return true };
    match s.kind(j) {
        None | Some(Kind::Newline) => true,
        Some(Kind::Name) => is_keyword(s.text(j)),
        Some(Kind::Op) => matches!(
            s.text(j),
            "(" | "[" | "{" | "," | ":" | ";" | "=" | "==" | "!=" | "<" | ">" | "<=" | ">=" | ":="
        ),
        _ => false,
    }
}

/// The token range of a literal operand starting at `j` (`'a'`, `'a' 'b'`, `5`, `-5`), if it is one.
fn literal_after(s: &Script<'_>, j: usize) -> Option<usize> {
    let mut k = j;
    if s.is_op(k, "-") || s.is_op(k, "+") {
        k += 1;
        if s.kind(k) != Some(Kind::Number) {
            return None;
        }
    }
    match s.kind(k) {
        Some(Kind::Number) => k += 1,
        Some(Kind::Str) => {
            while s.kind(k) == Some(Kind::Str) {
                k += 1;
            }
        }
        _ => return None,
    }
    ends_operand(s, k).then_some(k)
}

/// `is` / `is not` with a string or number literal on either side.
pub(crate) fn is_literal_comparisons(s: &Script<'_>) -> Vec<RuleDiagnostic> {
    let mut out = Vec::new();
    for j in 0..s.tokens.len() {
        if !s.is_name(j, "is") {
            continue;
        }
        let negated = s.is_name(j + 1, "not");
        let right = literal_after(s, if negated { j + 2 } else { j + 1 }).is_some();
        let left = j > 0 && matches!(s.kind(j - 1), Some(Kind::Str | Kind::Number)) && {
            let mut k = j - 1;
            while k > 0 && s.kind(k) == Some(Kind::Str) && s.kind(k - 1) == Some(Kind::Str) {
                k -= 1;
            }
            let before = k.checked_sub(1);
            let before = if before.is_some_and(|b| {
                (s.is_op(b, "-") || s.is_op(b, "+")) && s.kind(k) == Some(Kind::Number)
            }) {
                before.and_then(|b| b.checked_sub(1))
            } else {
                before
            };
            starts_operand(s, before)
        };
        if right || left {
            let t = s.tokens[j];
            let (bad, good) = if negated {
                ("is not", "!=")
            } else {
                ("is", "==")
            };
            out.push(RuleDiagnostic {
                line: t.line,
                column: t.col,
                message: format!(
                    "`{bad}` with a literal compares identity, not value, and may be False for equal text: use {good} instead of {bad}"
                ),
                kind: DiagnosticKind::Lint,
            });
        }
    }
    out
}

/// All warnings [`super::check`] reports: read-only assignments and lint, in source order.
pub(crate) fn warnings(src: &str) -> Vec<RuleDiagnostic> {
    let s = Script::new(src);
    let mut out = read_only_assignments(&s);
    out.extend(is_literal_comparisons(&s));
    out.sort_by_key(|d| (d.line, d.column));
    out
}

struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// The textwrap names a `from textwrap import *` brings in.
const TEXTWRAP_NAMES: [&str; 6] = ["TextWrapper", "wrap", "fill", "shorten", "dedent", "indent"];

/// `import textwrap[ as x]` and `from textwrap import ...` become assignments from the prelude's
/// `textwrap`.
fn textwrap_import_edit(s: &Script<'_>, st: &Stmt) -> Option<Edit> {
    let (start, end) = (st.start, st.end);
    let mut assigns: Vec<(String, String)> = Vec::new();
    let mut kept: Vec<String> = Vec::new();
    if s.is_name(start, "import") {
        for (a, b) in s.split_depth0(start + 1, end, ",") {
            if s.is_name(a, "textwrap") && (a + 1 == b || s.is_name(a + 1, "as")) {
                let alias = if a + 1 == b {
                    "textwrap"
                } else {
                    s.text(a + 2)
                };
                if alias != "textwrap" {
                    assigns.push((alias.to_owned(), "textwrap".to_owned()));
                }
            } else if a < b {
                kept.push(s.src[s.tokens[a].start..s.tokens[b - 1].end].to_owned());
            }
        }
        if kept.len() == s.split_depth0(start + 1, end, ",").len() {
            return None;
        }
    } else if s.is_name(start, "from")
        && s.is_name(start + 1, "textwrap")
        && s.is_name(start + 2, "import")
    {
        let (from, to) = if s.is_op(start + 3, "(") {
            (start + 4, end.saturating_sub(1))
        } else {
            (start + 3, end)
        };
        for (a, b) in s.split_depth0(from, to, ",") {
            let toks: Vec<usize> = (a..b).collect();
            match toks.as_slice() {
                [star] if s.text(*star) == "*" => {
                    assigns.extend(
                        TEXTWRAP_NAMES
                            .iter()
                            .map(|n| ((*n).to_owned(), format!("textwrap.{n}"))),
                    );
                }
                [name] => assigns.push((
                    s.text(*name).to_owned(),
                    format!("textwrap.{}", s.text(*name)),
                )),
                [name, as_kw, alias] if s.text(*as_kw) == "as" => {
                    assigns.push((
                        s.text(*alias).to_owned(),
                        format!("textwrap.{}", s.text(*name)),
                    ));
                }
                _ => {}
            }
        }
    } else {
        return None;
    }
    let mut parts = Vec::new();
    if !kept.is_empty() {
        parts.push(format!("import {}", kept.join(", ")));
    }
    parts.extend(assigns.iter().map(|(l, r)| format!("{l} = {r}")));
    if parts.is_empty() {
        parts.push("pass".to_owned());
    }
    let (a, b) = (s.tokens[start].start, s.tokens[end - 1].end);
    Some(Edit {
        start: a,
        end: b,
        text: keep_shape(&s.src[a..b], parts.join("; ")),
    })
}

/// Pads a one-line replacement to the original's width, or adds the original's line breaks.
fn keep_shape(original: &str, mut text: String) -> String {
    let newlines = original.matches('\n').count();
    if newlines == 0 {
        let (have, want) = (text.chars().count(), original.chars().count());
        if have < want {
            text.push_str(&" ".repeat(want - have));
        }
    } else {
        // A bracketed continuation; the replacement's `;`-list stays valid on one line.
        text.push_str(&"\n".repeat(newlines));
    }
    text
}

/// The end (exclusive token index) of the operand after a `%`: a power-level expression
/// (unary operators, an atom, trailers, and `** operand` chains).
fn operand_end(s: &Script<'_>, mut k: usize, end: usize) -> Option<usize> {
    loop {
        while s.is_op(k, "-") || s.is_op(k, "+") || s.is_op(k, "~") {
            k += 1;
        }
        match s.kind(k) {
            Some(Kind::Name)
                if !is_keyword(s.text(k)) || matches!(s.text(k), "True" | "False" | "None") =>
            {
                k += 1
            }
            Some(Kind::Number) => k += 1,
            Some(Kind::Str) => {
                while s.kind(k) == Some(Kind::Str) {
                    k += 1;
                }
            }
            Some(Kind::Op) if matches!(s.text(k), "(" | "[" | "{") => k = s.matching(k, end) + 1,
            _ => return None,
        }
        loop {
            if s.is_op(k, ".") && s.kind(k + 1) == Some(Kind::Name) {
                k += 2;
            } else if s.is_op(k, "(") || s.is_op(k, "[") {
                k = s.matching(k, end) + 1;
            } else {
                break;
            }
        }
        if s.is_op(k, "**") {
            k += 1;
        } else {
            return (k <= end).then_some(k);
        }
    }
}

/// `'fmt' % args` with a string literal on the left → `_hb_pct_format('fmt', args)`.
fn percent_edits(s: &Script<'_>) -> Vec<Edit> {
    let mut edits: Vec<Edit> = Vec::new();
    let n = s.tokens.len();
    let mut j = 0;
    while j < n {
        if s.kind(j) != Some(Kind::Str) {
            j += 1;
            continue;
        }
        let first = j;
        while s.kind(j + 1) == Some(Kind::Str) {
            j += 1;
        }
        let last = j;
        let tighter_before = first > 0
            && s.kind(first - 1) == Some(Kind::Op)
            && matches!(s.text(first - 1), "*" | "/" | "//" | "%" | "@" | "." | "**");
        let is_bytes = s.text(first).to_ascii_lowercase().starts_with('b')
            || s.text(first).to_ascii_lowercase().starts_with("rb");
        if s.is_op(last + 1, "%") && !tighter_before && !is_bytes {
            if let Some(op_end) = operand_end(s, last + 2, n) {
                if op_end > last + 2 {
                    // Only the `%` changes (to `,`), so line breaks inside stay where they were.
                    let (a, b) = (s.tokens[first].start, s.tokens[op_end - 1].end);
                    let pct = s.tokens[last + 1];
                    let (fmt, arg) = (&s.src[a..pct.start], &s.src[pct.end..b]);
                    edits.push(Edit {
                        start: a,
                        end: b,
                        text: format!("_hb_pct_format({fmt},{arg})"),
                    });
                    j = op_end;
                    continue;
                }
            }
        }
        j += 1;
    }
    edits
}

fn apply(src: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| e.start);
    let mut out = String::with_capacity(src.len() + 64);
    let mut at = 0;
    for e in edits {
        if e.start < at {
            continue; // nested in an earlier edit: the next pass gets it
        }
        out.push_str(&src[at..e.start]);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(&src[at..]);
    out
}

/// The script as the interpreter runs it: same lines, with the unsupported `import textwrap`
/// and string `%` rewritten.
pub(crate) fn rewrite(src: &str) -> String {
    let mut text = {
        let s = Script::new(src);
        let mut edits = Vec::new();
        for (start, end) in s.logical_lines() {
            for st in statements(&s, start, end) {
                if !st.header {
                    edits.extend(textwrap_import_edit(&s, &st));
                }
            }
        }
        apply(src, edits)
    };
    // `%` rewrites may nest (`'%s' % ('%d' % n)`): a few passes reach the inner ones.
    for _ in 0..8 {
        let edits = percent_edits(&Script::new(&text));
        if edits.is_empty() {
            break;
        }
        text = apply(&text, edits);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<String> {
        let s = Script::new(src);
        (0..s.tokens.len()).map(|i| s.text(i).to_owned()).collect()
    }

    #[test]
    fn tokenizer_handles_strings_comments_and_continuations() {
        assert_eq!(
            texts("x = 'a#b' # c\ny = (1,\n 2)\n"),
            ["x", "=", "'a#b'", "", "y", "=", "(", "1", ",", "2", ")", ""]
        );
        assert_eq!(
            texts("s = '''a\nb''' + f\"{x}\" \\\n + r'\\''"),
            ["s", "=", "'''a\nb'''", "+", "f\"{x}\"", "+", "r'\\''", ""]
        );
        let s = Script::new("a = 1\nif x:\n    é = 'ü' ; b = 2e-3\n");
        let t = s
            .tokens
            .iter()
            .find(|t| s.src[t.start..t.end] == *"2e-3")
            .unwrap();
        assert_eq!((t.line, t.col), (3, 19));
    }

    fn read_only_lines(src: &str) -> Vec<(u32, u32)> {
        read_only_assignments(&Script::new(src))
            .iter()
            .map(|d| (d.line, d.column))
            .collect()
    }

    #[test]
    fn read_only_assignments_are_found_where_they_bind_globals() {
        assert_eq!(read_only_lines("hostname = 'x'\n"), [(1, 1)]);
        assert_eq!(
            read_only_lines("if a: email = 'x'; name += 'y'\n"),
            [(1, 7), (1, 20)]
        );
        assert_eq!(
            read_only_lines("a = ip = 1\nx, (os, y) = 1, (2, 3)\n"),
            [(1, 5), (2, 5)]
        );
        assert_eq!(read_only_lines("for name in names:\n    pass\n"), [(1, 5)]);
        assert_eq!(
            read_only_lines("d[hostname] = 1\nx.email = 2\nf(name=1)\nif name == 'x': pass\n"),
            Vec::<(u32, u32)>::new()
        );
        assert_eq!(
            read_only_lines("def f(name):\n    name = 1\n    mac = 2\nmac: str = 'x'\n"),
            [(4, 1)]
        );
        assert_eq!(
            read_only_lines("def f():\n    global ip\n    ip = 1\n"),
            [(3, 5)]
        );
        assert_eq!(
            read_only_lines("x = [name for name in y]\nif (os := 'w'): pass\n"),
            [(2, 5)]
        );
        assert_eq!(
            read_only_lines("import re as username\nf = lambda mac=1: mac\n"),
            [(1, 14)]
        );
        assert_eq!(
            read_only_lines("priority = 'High'\nmsg += '!'\n"),
            Vec::<(u32, u32)>::new()
        );
    }

    fn lint_cols(src: &str) -> Vec<(u32, u32)> {
        is_literal_comparisons(&Script::new(src))
            .iter()
            .map(|d| (d.line, d.column))
            .collect()
    }

    #[test]
    fn is_with_literals_is_flagged() {
        assert_eq!(lint_cols("if priority is 'High': pass\n"), [(1, 13)]);
        assert_eq!(
            lint_cols("a = x is not 5\nb = 'a' is y\nc = x is -1\n"),
            [(1, 7), (2, 9), (3, 7)]
        );
        assert_eq!(
            lint_cols("a = x is None\nb = x is y\nc = x is 'a'.upper()\nd = x + 'a' is y\n"),
            Vec::<(u32, u32)>::new()
        );
        let d = &is_literal_comparisons(&Script::new("x is not 'a'"))[0];
        assert!(
            d.message.contains("use != instead of is not"),
            "{}",
            d.message
        );
    }

    #[test]
    fn textwrap_imports_are_rewritten_in_place() {
        assert_eq!(rewrite("import textwrap\nx = 1"), "pass           \nx = 1");
        assert_eq!(
            rewrite("import textwrap as tw; y = 2"),
            "tw = textwrap        ; y = 2"
        );
        assert_eq!(rewrite("import re, textwrap"), "import re          ");
        assert_eq!(
            rewrite("from textwrap import wrap, shorten as s"),
            "wrap = textwrap.wrap; s = textwrap.shorten"
        );
        assert_eq!(
            rewrite("if a:\n    from textwrap import (wrap,\n        fill)\n"),
            "if a:\n    wrap = textwrap.wrap; fill = textwrap.fill\n\n"
        );
        assert_eq!(
            rewrite("import re\ns = 'import textwrap'"),
            "import re\ns = 'import textwrap'"
        );
    }

    #[test]
    fn string_percent_is_rewritten() {
        assert_eq!(
            rewrite("s = 'a %s' % name + 'x'"),
            "s = _hb_pct_format('a %s' , name) + 'x'"
        );
        assert_eq!(
            rewrite("s = '%s-%d'%(a, b)"),
            "s = _hb_pct_format('%s-%d',(a, b))"
        );
        assert_eq!(
            rewrite("s = '%s' % x.y(1)[0] * 2"),
            "s = _hb_pct_format('%s' , x.y(1)[0]) * 2"
        );
        assert_eq!(
            rewrite("s = '%s' % ('%d' % n)"),
            "s = _hb_pct_format('%s' , (_hb_pct_format('%d' , n)))"
        );
        assert_eq!(
            rewrite("n = a % 3\nm = 'x' * 2 % 3\nb = b'%d' % 1"),
            "n = a % 3\nm = 'x' * 2 % 3\nb = b'%d' % 1"
        );
        assert_eq!(
            rewrite("s = ('%s' %\n x)\ny = 1"),
            "s = (_hb_pct_format('%s' ,\n x))\ny = 1"
        );
    }
}
