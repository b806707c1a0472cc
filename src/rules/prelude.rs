//! Python source run before every rule script: the built-ins monty lacks.
//!
//! - `textwrap` (`wrap`, `fill`, `shorten`, `dedent`, `indent`, `TextWrapper`): CPython's
//!   algorithm, ported without regular expressions; `import textwrap` is rewritten to use it.
//! - `wrap(text, width=70, ...)`: the same as `textwrap.wrap`, always defined.
//! - `format(value, spec)`: the builtin.
//! - `_hb_pct_format(fmt, args)`: `fmt % args` for strings, which the rewrite in `lint` calls.
//!
//! The script's line numbers stay right: the engine subtracts [`prelude_lines`].

/// The prelude source; ends with a newline.
pub(crate) const PRELUDE: &str = include_str!("prelude.py");

/// How many lines the prelude adds before the script.
pub(crate) fn prelude_lines() -> u32 {
    u32::try_from(PRELUDE.matches('\n').count()).unwrap_or(u32::MAX)
}
