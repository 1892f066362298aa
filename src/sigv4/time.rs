//! ISO 8601 basic timestamps (`YYYYMMDDTHHMMSSZ`), converted to and from seconds since the Unix
//! epoch without reading the clock.

use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) use crate::civil::civil;
use crate::civil::days_from_civil;

fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `YYYYMMDDTHHMMSSZ` into seconds since the epoch; `None` for anything else.
pub(crate) fn parse_iso_basic(text: &[u8]) -> Option<i64> {
    let [
        y0,
        y1,
        y2,
        y3,
        mo0,
        mo1,
        d0,
        d1,
        b'T',
        h0,
        h1,
        mi0,
        mi1,
        s0,
        s1,
        b'Z',
    ] = *text
    else {
        return None;
    };
    let y = digits(&[y0, y1, y2, y3])?;
    let mo = digits(&[mo0, mo1])?;
    let d = digits(&[d0, d1])?;
    let h = digits(&[h0, h1])?;
    let mi = digits(&[mi0, mi1])?;
    let s = digits(&[s0, s1])?;
    let valid = (1..=12).contains(&mo)
        && (1..=days_in_month(y, mo)).contains(&d)
        && h < 24
        && mi < 60
        && s < 60;
    valid.then(|| days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Whole seconds since the epoch (times before the epoch count as the epoch).
pub(crate) fn unix_secs(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::error::Timestamp;

    #[test]
    fn round_trips() {
        for text in [
            "20150830T123600Z",
            "19700101T000000Z",
            "20000229T235959Z",
            "20991231T000000Z",
            "19691231T235959Z",
        ] {
            let secs = parse_iso_basic(text.as_bytes()).unwrap();
            assert_eq!(Timestamp(secs).to_string(), text);
        }
        assert_eq!(parse_iso_basic(b"20150830T123600Z"), Some(1_440_938_160));
    }

    #[test]
    fn rejects_invalid() {
        for text in [
            "20150830T123600",
            "2015-08-30T12:36:00Z",
            "20150230T000000Z",
            "20190229T000000Z",
            "20151301T000000Z",
            "20150830T240000Z",
            "20150830T126000Z",
            "20150830T123660Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
        ] {
            assert_eq!(parse_iso_basic(text.as_bytes()), None, "{text}");
        }
    }
}
