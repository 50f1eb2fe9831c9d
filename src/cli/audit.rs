//! `certbound audit`: the audit trail out of the database.

use std::io::Write;

use clap::Subcommand;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::CliResult;
use crate::store::Store;

/// Rows read per query while exporting.
const PAGE: i64 = 1_000;

#[derive(Subcommand, Debug)]
pub(super) enum AuditCommand {
    /// Write audit events as JSON lines, oldest first.
    Export {
        /// From when: an RFC 3339 time (2026-12-01T00:00:00Z), a span back from now (90s, 30m,
        /// 24h, 7d), or Unix seconds.
        #[arg(long)]
        since: String,
    },
}

pub(super) async fn run(cmd: AuditCommand, store: &Store) -> CliResult {
    match cmd {
        AuditCommand::Export { since } => {
            let since = parse_since(&since, crate::now())?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut after: Option<i64> = None;
            loop {
                let page = store.audit_events_after(since * 1000, after, PAGE).await?;
                for event in &page {
                    serde_json::to_writer(&mut out, event)?;
                    out.write_all(b"\n")?;
                }
                match page.last() {
                    Some(last) if page.len() as i64 == PAGE => after = Some(last.id),
                    _ => break,
                }
            }
            out.flush()?;
            Ok(())
        }
    }
}

/// Unix seconds for `--since`.
fn parse_since(since: &str, now: i64) -> Result<i64, String> {
    let bad = || format!("--since {since:?}: give an RFC 3339 time, a span such as 24h, or Unix seconds");
    if let Ok(at) = OffsetDateTime::parse(since, &Rfc3339) {
        return Ok(at.unix_timestamp());
    }
    if let Ok(seconds) = since.parse::<i64>() {
        return Ok(seconds);
    }
    let unit = since.chars().last().ok_or_else(bad)?;
    let amount: i64 = since[..since.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    amount
        .checked_mul(seconds)
        .and_then(|span| now.checked_sub(span))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_takes_times_spans_and_seconds() {
        assert_eq!(parse_since("2026-12-01T00:00:00Z", 0), Ok(1_796_083_200));
        assert_eq!(parse_since("24h", 100_000), Ok(100_000 - 86_400));
        assert_eq!(parse_since("90s", 100), Ok(10));
        assert_eq!(parse_since("1700000000", 0), Ok(1_700_000_000));
        for bad in ["", "h", "3w", "-", "9999999999999999999d", "yesterday"] {
            assert!(parse_since(bad, 0).is_err(), "{bad}");
        }
    }
}
