//! Log output. Values an attacker controls (a `client_id`, a certificate subject, an error
//! quoting a request) reach log lines; in the human format a newline in one would start a forged
//! line and an escape sequence would drive the operator's terminal. Every field value is written
//! with its control characters escaped; the JSON format escapes them by being JSON.

use std::fmt::Write;

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{debug_fn, Writer};
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub(super) fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("CERTBOUND_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.fmt_fields(escaped_fields()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// `name=value` pairs (the message bare), each value with its control characters escaped.
fn escaped_fields() -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    debug_fn(|writer: &mut Writer<'_>, field, value| {
        let text = escape(&format!("{value:?}"));
        if field.name() == "message" {
            writer.write_str(&text)
        } else {
            write!(writer, "{field}={text}")
        }
    })
    .delimited(" ")
}

/// Control characters (C0, DEL, C1), line and paragraph separators and bidirectional
/// overrides as `\n`, `\r`, `\t` or `\u{…}`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_cannot_start_a_line_or_reach_the_terminal() {
        assert_eq!(escape("tpp\n2026-12-01 INFO forged"), "tpp\\n2026-12-01 INFO forged");
        assert_eq!(escape("a\rb\tc"), "a\\rb\\tc");
        assert_eq!(escape("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(escape("x\u{85}y\u{2028}z\u{202e}"), "x\\u{85}y\\u{2028}z\\u{202e}");
        assert_eq!(escape("CN=Bank Ä, O=x"), "CN=Bank Ä, O=x");
    }
}
