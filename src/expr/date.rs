//! Twig's `date` filter and `date()` function with PHP format letters.
//!
//! Inputs (spec section 4): `'now'`, an integer timestamp (or a string of
//! digits), `'@<int>'`, `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` and RFC 3339.
//! Anything else is an error, as PHP's `DateTime` parser would reject most
//! of it too. A value without a zone is read in the scenario's timezone, and
//! every date is shown in the scenario's timezone (or the filter's argument).

use std::fmt::Write;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use minijinja::value::Value as MV;
use minijinja::Error;

use super::php::{self, invalid, Num};
use super::runtime::Ctx;

fn parse_error(s: &str) -> Error {
    invalid(format!(
        "Failed to parse time string ({s}): expected 'now', a timestamp, '@<timestamp>', YYYY-MM-DD, 'YYYY-MM-DD HH:MM[:SS]' or RFC 3339"
    ))
}

fn from_timestamp(ts: i64) -> Result<DateTime<Utc>, Error> {
    DateTime::from_timestamp(ts, 0)
        .ok_or_else(|| invalid(format!("timestamp {ts} is out of range")))
}

/// Reads a date value as an instant.
fn instant(ctx: &Ctx, v: Option<&MV>, tz: Tz) -> Result<DateTime<Utc>, Error> {
    let Some(v) = v else { return Ok(ctx.now) };
    if let Some(n) = php::num_of(v) {
        return from_timestamp(match n {
            Num::I(i) => i,
            Num::F(f) => f.floor() as i64,
        });
    }
    let Some(raw) = v.as_str() else {
        return Err(invalid(format!(
            "the date filter cannot read a value of type {}",
            php::type_name(v)
        )));
    };
    let s = raw.trim();
    if s.eq_ignore_ascii_case("now") || s.is_empty() {
        return Ok(ctx.now);
    }
    let digits = |t: &str| {
        let body = t.strip_prefix('-').unwrap_or(t);
        !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit())
    };
    if digits(s) {
        return s
            .parse()
            .map_err(|_| parse_error(s))
            .and_then(from_timestamp);
    }
    if let Some(ts) = s.strip_prefix('@') {
        if digits(ts) {
            return ts
                .parse()
                .map_err(|_| parse_error(s))
                .and_then(from_timestamp);
        }
        return Err(parse_error(s));
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&Utc));
    }
    let local = if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0)
    } else {
        [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    };
    let local = local.ok_or_else(|| parse_error(s))?;
    // In a DST gap PHP moves forward; take the earliest valid reading.
    tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|d| d.with_timezone(&Utc))
        .ok_or_else(|| parse_error(s))
}

fn zone(ctx: &Ctx, tz: Option<&MV>) -> Result<Tz, Error> {
    match tz {
        None => Ok(ctx.timezone),
        Some(v) => {
            let name = php::to_str(v);
            name.parse::<Tz>()
                .map_err(|_| invalid(format!("unknown or bad timezone ({name})")))
        }
    }
}

/// `value|date(format, timezone)`.
pub(crate) fn date_filter(
    ctx: &Ctx,
    v: &MV,
    format: Option<&str>,
    tz: Option<&MV>,
) -> Result<MV, Error> {
    let tz = zone(ctx, tz)?;
    let subject = if v.is_none() || v.is_undefined() {
        None
    } else {
        Some(v)
    };
    let at = instant(ctx, subject, ctx.timezone)?.with_timezone(&tz);
    Ok(MV::from(format_date(&at, format.unwrap_or("F j, Y H:i"))))
}

/// `date(value, timezone)`: steptalk has no date objects, so this returns
/// the timestamp (it compares, and `|date(...)` formats it).
pub(crate) fn date_function(ctx: &Ctx, v: Option<&MV>, tz: Option<&MV>) -> Result<MV, Error> {
    let tz = zone(ctx, tz)?;
    Ok(MV::from(instant(ctx, v, tz)?.timestamp()))
}

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn offset_text(secs: i32, colon: bool) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.abs();
    if colon {
        format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
    } else {
        format!("{sign}{:02}{:02}", a / 3600, (a % 3600) / 60)
    }
}

/// Formats with PHP's `date()` letters.
pub(crate) fn format_date(d: &DateTime<Tz>, format: &str) -> String {
    let mut out = String::new();
    let mut chars = format.chars();
    let offset = d.offset().fix().local_minus_utc();
    let days_in_month = |y: i32, m: u32| {
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        NaiveDate::from_ymd_opt(ny, nm, 1)
            .and_then(|n| n.pred_opt())
            .map_or(31, |p| p.day())
    };
    let leap = |y: i32| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let hour12 = |h: u32| if h % 12 == 0 { 12 } else { h % 12 };
    while let Some(c) = chars.next() {
        let _ = match c {
            'd' => write!(out, "{:02}", d.day()),
            'D' => write!(
                out,
                "{}",
                &DAYS[d.weekday().num_days_from_monday() as usize][..3]
            ),
            'j' => write!(out, "{}", d.day()),
            'l' => write!(out, "{}", DAYS[d.weekday().num_days_from_monday() as usize]),
            'N' => write!(out, "{}", d.weekday().number_from_monday()),
            'S' => write!(
                out,
                "{}",
                match d.day() {
                    1 | 21 | 31 => "st",
                    2 | 22 => "nd",
                    3 | 23 => "rd",
                    _ => "th",
                }
            ),
            'w' => write!(out, "{}", d.weekday().num_days_from_sunday()),
            'z' => write!(out, "{}", d.ordinal0()),
            'W' => write!(out, "{:02}", d.iso_week().week()),
            'F' => write!(out, "{}", MONTHS[d.month0() as usize]),
            'm' => write!(out, "{:02}", d.month()),
            'M' => write!(out, "{}", &MONTHS[d.month0() as usize][..3]),
            'n' => write!(out, "{}", d.month()),
            't' => write!(out, "{}", days_in_month(d.year(), d.month())),
            'L' => write!(out, "{}", u8::from(leap(d.year()))),
            'o' => write!(out, "{}", d.iso_week().year()),
            'Y' => write!(out, "{}", d.year()),
            'y' => write!(out, "{:02}", d.year().rem_euclid(100)),
            'a' => write!(out, "{}", if d.hour() < 12 { "am" } else { "pm" }),
            'A' => write!(out, "{}", if d.hour() < 12 { "AM" } else { "PM" }),
            'g' => write!(out, "{}", hour12(d.hour())),
            'G' => write!(out, "{}", d.hour()),
            'h' => write!(out, "{:02}", hour12(d.hour())),
            'H' => write!(out, "{:02}", d.hour()),
            'i' => write!(out, "{:02}", d.minute()),
            's' => write!(out, "{:02}", d.second()),
            'u' => write!(out, "{:06}", d.timestamp_subsec_micros()),
            'v' => write!(out, "{:03}", d.timestamp_subsec_millis()),
            'e' => write!(out, "{}", d.timezone().name()),
            'T' => write!(out, "{}", d.offset()),
            'P' => write!(out, "{}", offset_text(offset, true)),
            'p' if offset == 0 => write!(out, "Z"),
            'p' => write!(out, "{}", offset_text(offset, true)),
            'O' => write!(out, "{}", offset_text(offset, false)),
            'Z' => write!(out, "{offset}"),
            'c' => write!(out, "{}", format_date(d, "Y-m-d\\TH:i:sP")),
            'r' => write!(out, "{}", format_date(d, "D, d M Y H:i:s O")),
            'U' => write!(out, "{}", d.timestamp()),
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
                Ok(())
            }
            other => {
                out.push(other);
                Ok(())
            }
        };
    }
    out
}
