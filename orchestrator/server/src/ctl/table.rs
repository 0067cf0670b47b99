//! Plain-text tables and the small formatting helpers of the CLI's human output.

use serde_json::Value;

/// Left-aligned columns, two spaces apart; the last column is not padded.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// A string field, or `-`.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Null => "-".into(),
        Value::String(_) => "-".into(),
        other => other.to_string(),
    }
}

/// An RFC 3339 timestamp as `YYYY-MM-DD HH:MM:SS` (UTC), or `-`.
pub fn time(v: &Value) -> String {
    match v.as_str() {
        Some(t) if t.len() >= 19 => t[..19].replace('T', " "),
        _ => "-".into(),
    }
}

/// Milliseconds as people read them: `850ms`, `12.3s`, `4m05s`, `2h13m`.
pub fn duration_ms(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{}h{:02}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// Milliseconds since the epoch of an RFC 3339 timestamp of the orchestrator's
/// (`YYYY-MM-DDTHH:MM:SS(.fff)Z`).
pub fn epoch_ms(v: &Value) -> Option<i64> {
    let t = v.as_str()?;
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let ms = match t.get(19..20) {
        Some(".") => num(20..23).unwrap_or(0),
        _ => 0,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_their_columns() {
        let t = render(
            &["ID", "STATUS", "NOTE"],
            &[
                vec!["a".into(), "finished".into(), "x".into()],
                vec!["bbbb".into(), "-".into(), "y".into()],
            ],
        );
        assert_eq!(
            t,
            "ID    STATUS    NOTE\na     finished  x\nbbbb  -         y"
        );
    }

    #[test]
    fn times_and_durations_read_well() {
        assert_eq!(
            time(&json!("2026-12-07T20:41:49.950Z")),
            "2026-12-07 20:41:49"
        );
        assert_eq!(time(&Value::Null), "-");
        assert_eq!(duration_ms(850), "850ms");
        assert_eq!(duration_ms(12_340), "12.3s");
        assert_eq!(duration_ms(245_000), "4m05s");
        assert_eq!(duration_ms(7_980_000), "2h13m");
        assert_eq!(epoch_ms(&json!("1970-01-01T00:00:01.500Z")), Some(1500));
        assert_eq!(
            epoch_ms(&json!("2026-12-07T20:41:49.950Z")),
            Some(1_796_676_109_950)
        );
        assert_eq!(epoch_ms(&json!("soon")), None);
    }
}
