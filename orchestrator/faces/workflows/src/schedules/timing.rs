//! When a schedule fires: a cron pattern in a time zone, or a fixed interval.
//!
//! Cron (`minute hour day month day_of_week`, standard meaning: lists, ranges, steps,
//! month and day names, and a day matching when either the day of the month or the day
//! of the week does, when both are restricted) is evaluated on the zone's wall clock.
//! Daylight-saving changes as cron users expect them: a wall-clock time skipped by a
//! change (02:30 on a spring-forward night) fires once, at the change (03:00); a
//! wall-clock time that occurs twice (01:30 on a fall-back night) fires once, at its
//! first occurrence.
//!
//! An interval fires every `seconds + 60·minutes + 3600·hours + 86400·days` from an
//! anchor (the schedule's creation, or its last resume), so its ticks are fixed instants
//! every orchestrator computes alike.

use chrono::{
    DateTime, Duration as ChronoDuration, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use utoipa::ToSchema;

/// The five cron fields (each defaults to `*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CronConfig {
    #[serde(default = "star")]
    pub minute: String,
    #[serde(default = "star")]
    pub hour: String,
    #[serde(default = "star")]
    pub day: String,
    #[serde(default = "star")]
    pub month: String,
    #[serde(default = "star")]
    pub day_of_week: String,
}

fn star() -> String {
    "*".into()
}

/// An interval; at least one second in all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntervalConfig {
    #[serde(default)]
    pub seconds: u64,
    #[serde(default)]
    pub minutes: u64,
    #[serde(default)]
    pub hours: u64,
    #[serde(default)]
    pub days: u64,
}

/// Longest interval: a little over ten years.
const MAX_INTERVAL_MS: u64 = 3650 * 86_400_000;

impl IntervalConfig {
    /// The interval in ms, if it is at least a second and at most ten years.
    pub fn millis(&self) -> Option<u64> {
        let secs = self
            .seconds
            .checked_add(self.minutes.checked_mul(60)?)?
            .checked_add(self.hours.checked_mul(3600)?)?
            .checked_add(self.days.checked_mul(86_400)?)?;
        let ms = secs.checked_mul(1000)?;
        (1000..=MAX_INTERVAL_MS).contains(&ms).then_some(ms)
    }
}

/// A parsed timing.
#[derive(Debug, Clone)]
pub enum Timing {
    Cron { cron: Box<Cron>, tz: Tz },
    Interval { every_ms: i64, anchor_ms: i64 },
}

/// What is wrong with a timing: the field and why.
#[derive(Debug, Clone, PartialEq)]
pub struct TimingError {
    pub field: String,
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> TimingError {
    TimingError {
        field: field.into(),
        message: message.into(),
    }
}

/// A time zone by its IANA name (`Europe/Paris`); `UTC` when none is given.
pub fn zone(name: Option<&str>) -> Result<Tz, TimingError> {
    match name {
        None => Ok(Tz::UTC),
        Some(n) => Tz::from_str(n).map_err(|_| {
            err(
                "timezone",
                format!("`{n}` is not an IANA time zone name (e.g. `Europe/Paris`, `UTC`)"),
            )
        }),
    }
}

/// A cron pattern from its five fields; the error names the field that does not parse.
pub fn cron(c: &CronConfig) -> Result<Cron, TimingError> {
    let fields = [
        ("minute", &c.minute),
        ("hour", &c.hour),
        ("day", &c.day),
        ("month", &c.month),
        ("day_of_week", &c.day_of_week),
    ];
    for (name, value) in fields {
        let v = value.trim();
        if v.is_empty() || v.contains(char::is_whitespace) {
            return Err(err(
                &format!("cron_config.{name}"),
                "one cron field: a value, list, range or step without spaces",
            ));
        }
        // Each field alone, with the others as `*`, to name the one that is wrong.
        let mut probe = ["*"; 5].map(str::to_string);
        let i = fields.iter().position(|(n, _)| *n == name).unwrap_or(0);
        probe[i] = v.to_string();
        if let Err(e) = Cron::from_str(&probe.join(" ")) {
            return Err(err(
                &format!("cron_config.{name}"),
                format!("`{v}` is not a valid {name} field: {e}"),
            ));
        }
    }
    let pattern = fields
        .iter()
        .map(|(_, v)| v.trim())
        .collect::<Vec<_>>()
        .join(" ");
    Cron::from_str(&pattern).map_err(|e| err("cron_config", format!("`{pattern}`: {e}")))
}

fn naive_utc(ms: i64) -> Option<NaiveDateTime> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|d| d.naive_utc())
}

/// The instant a wall-clock time in `tz` stands for: its first occurrence; in a gap,
/// the instant the gap ends.
fn instant(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Tz>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t),
        LocalResult::Ambiguous(first, _) => Some(first),
        LocalResult::None => (1..=24 * 60).find_map(|m| {
            let later = local + ChronoDuration::minutes(m);
            match tz.from_local_datetime(&later) {
                LocalResult::None => None,
                // The first wall-clock minute after the gap: the change itself.
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
            }
        }),
    }
}

impl Timing {
    /// The first fire time strictly after `after_ms` (epoch ms), if there is one.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        match self {
            Timing::Interval {
                every_ms,
                anchor_ms,
            } => {
                if after_ms < *anchor_ms {
                    return Some(*anchor_ms);
                }
                let k = (after_ms - anchor_ms) / every_ms + 1;
                anchor_ms.checked_add(k.checked_mul(*every_ms)?)
            }
            Timing::Cron { cron, tz } => {
                let after = DateTime::<Utc>::from_timestamp_millis(after_ms)?.with_timezone(tz);
                // Walk the wall clock: the next matching local minute whose instant is
                // after `after` (a repeated hour's second pass matches nothing new).
                // Cron ticks are whole seconds: search from the second `after` is in.
                let mut local = after.naive_local().with_nanosecond(0)?;
                for _ in 0..1000 {
                    let next = cron
                        .find_next_occurrence(&Utc.from_utc_datetime(&local), false)
                        .ok()?
                        .naive_utc();
                    let at = instant(*tz, next)?;
                    if at.timestamp_millis() > after_ms {
                        return Some(at.timestamp_millis());
                    }
                    local = next;
                }
                None
            }
        }
    }
}

/// The wall-clock time of `ms` in `tz`, for messages and views.
pub fn local_text(ms: i64, tz: Tz) -> String {
    naive_utc(ms)
        .map(|n| Utc.from_utc_datetime(&n).with_timezone(&tz).to_rfc3339())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        match tz.with_ymd_and_hms(y, mo, d, h, mi, 0) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.timestamp_millis(),
            LocalResult::None => panic!("no such local time"),
        }
    }

    fn at(c: &str, tz: &str) -> Timing {
        let f: Vec<&str> = c.split(' ').collect();
        let cfg = CronConfig {
            minute: f[0].into(),
            hour: f[1].into(),
            day: f[2].into(),
            month: f[3].into(),
            day_of_week: f[4].into(),
        };
        Timing::Cron {
            cron: Box::new(cron(&cfg).unwrap()),
            tz: zone(Some(tz)).unwrap(),
        }
    }

    fn utc_text(ms: i64) -> String {
        DateTime::<Utc>::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    #[test]
    fn cron_fields_lists_ranges_steps_and_names() {
        let t = at("*/15 9-17 * JAN-MAR MON,FRI", "UTC");
        // Thursday 2026-01-01 10:07 → Friday 2026-01-02 09:00.
        let next = t.next_after(ms(Tz::UTC, 2026, 1, 1, 10, 7)).unwrap();
        assert_eq!(utc_text(next), "2026-01-02 09:00");
        let next = t.next_after(next).unwrap();
        assert_eq!(utc_text(next), "2026-01-02 09:15");
        // Day of month or day of week, when both are restricted (cron's rule).
        let t = at("0 0 13 * FRI", "UTC");
        let next = t.next_after(ms(Tz::UTC, 2026, 1, 1, 0, 0)).unwrap();
        assert_eq!(
            utc_text(next),
            "2026-01-02 00:00",
            "a Friday before the 13th"
        );
    }

    #[test]
    fn a_zone_moves_the_instants() {
        let t = at("0 6 * * *", "Europe/Paris");
        let next = t.next_after(ms(Tz::UTC, 2026, 7, 1, 12, 0)).unwrap();
        assert_eq!(utc_text(next), "2026-07-02 04:00", "06:00 CEST");
        let next = t.next_after(ms(Tz::UTC, 2026, 12, 1, 12, 0) + 638).unwrap();
        assert_eq!(utc_text(next), "2026-12-02 05:00", "06:00 CET");
        assert_eq!(
            next % 60_000,
            0,
            "on the minute, whatever the ms of the start"
        );
    }

    #[test]
    fn daylight_saving_gaps_fire_at_the_change_and_repeats_once() {
        let ny = zone(Some("America/New_York")).unwrap();
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that night.
        let t = at("30 2 * * *", "America/New_York");
        let next = t.next_after(ms(ny, 2026, 3, 7, 12, 0)).unwrap();
        assert_eq!(
            utc_text(next),
            "2026-03-08 07:00",
            "at the change, 03:00 EDT"
        );
        let after = t.next_after(next).unwrap();
        assert_eq!(utc_text(after), "2026-03-09 06:30", "then 02:30 EDT again");
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
        let t = at("30 1 * * *", "America/New_York");
        let first = t.next_after(ms(ny, 2026, 10, 31, 12, 0)).unwrap();
        assert_eq!(
            utc_text(first),
            "2026-11-01 05:30",
            "01:30 EDT, the first one"
        );
        let next = t.next_after(first).unwrap();
        assert_eq!(utc_text(next), "2026-11-02 06:30", "not 01:30 EST again");
        // Every minute through the gap: one fire at the change, none skipped after.
        let t = at("* * * * *", "America/New_York");
        let before_gap = ms(ny, 2026, 3, 8, 1, 59);
        let next = t.next_after(before_gap).unwrap();
        assert_eq!(utc_text(next), "2026-03-08 07:00");
        assert_eq!(utc_text(t.next_after(next).unwrap()), "2026-03-08 07:01");
    }

    #[test]
    fn intervals_tick_from_their_anchor() {
        let every = IntervalConfig {
            seconds: 30,
            minutes: 1,
            ..IntervalConfig::default()
        };
        assert_eq!(every.millis(), Some(90_000));
        assert_eq!(
            IntervalConfig::default().millis(),
            None,
            "at least a second"
        );
        let huge = IntervalConfig {
            days: u64::MAX,
            ..IntervalConfig::default()
        };
        assert_eq!(huge.millis(), None);
        let t = Timing::Interval {
            every_ms: 90_000,
            anchor_ms: 1_000,
        };
        assert_eq!(t.next_after(0), Some(1_000));
        assert_eq!(t.next_after(1_000), Some(91_000));
        assert_eq!(t.next_after(91_001), Some(181_000));
    }

    #[test]
    fn bad_fields_and_zones_are_named() {
        let bad = CronConfig {
            hour: "25".into(),
            ..serde_json::from_str("{}").unwrap()
        };
        assert_eq!(cron(&bad).unwrap_err().field, "cron_config.hour");
        let spaced = CronConfig {
            minute: "0 5".into(),
            ..serde_json::from_str("{}").unwrap()
        };
        assert_eq!(cron(&spaced).unwrap_err().field, "cron_config.minute");
        assert_eq!(zone(Some("Mars/Olympus")).unwrap_err().field, "timezone");
        assert_eq!(zone(None).unwrap(), Tz::UTC);
    }
}
