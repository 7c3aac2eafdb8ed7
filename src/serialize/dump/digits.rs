//! The dump's numbers and times: decimal digits two at a time, and ISO times whose date part
//! is kept from the previous time of the same day (groups in id order were mostly created
//! on the same few days; the time of day is ~40 instructions, the civil date ~250).

use dataflows::model::time::{iso_bytes, MICROS_PER_SECOND};
use dataflows::model::Micros;

/// "00" to "99".
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

#[inline(always)]
fn pair(n: u32) -> [u8; 2] {
    let at = 2 * n as usize;
    [PAIRS[at], PAIRS[at + 1]]
}

/// `n` in decimal.
pub(super) fn number(out: &mut Vec<u8>, mut n: u64) {
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while n >= 100 {
        at -= 2;
        digits[at..at + 2].copy_from_slice(&pair((n % 100) as u32));
        n /= 100;
    }
    if n >= 10 {
        at -= 2;
        digits[at..at + 2].copy_from_slice(&pair(n as u32));
    } else {
        at -= 1;
        digits[at] = b'0' + n as u8;
    }
    out.extend_from_slice(&digits[at..]);
}

const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// The date part (`YYYY-MM-DDT`) of the last four-digit-year day formatted.
#[derive(Default)]
pub(crate) struct IsoDays {
    day: Option<i64>,
    date: [u8; 11],
}

impl IsoDays {
    /// `format_iso(t)` as a JSON string: the digits, or the padded text of a year outside
    /// four digits.
    pub(super) fn write(&mut self, out: &mut Vec<u8>, t: Micros) {
        let day = t.div_euclid(MICROS_PER_DAY);
        if self.day != Some(day) {
            match iso_bytes(t) {
                Ok(digits) => {
                    self.date.copy_from_slice(&digits[..11]);
                    self.day = Some(day);
                }
                // A year outside four digits (a function of the day: never cached).
                Err(text) => return super::string(out, &text),
            }
        }
        let in_day = t.rem_euclid(MICROS_PER_DAY);
        let seconds = (in_day / MICROS_PER_SECOND) as u32;
        let fraction = (in_day % MICROS_PER_SECOND) as u32;
        let mut text = *b"\"0000-00-00T00:00:00.000000Z\"";
        text[1..12].copy_from_slice(&self.date);
        text[12..14].copy_from_slice(&pair(seconds / 3600));
        text[15..17].copy_from_slice(&pair(seconds % 3600 / 60));
        text[18..20].copy_from_slice(&pair(seconds % 60));
        text[21..23].copy_from_slice(&pair(fraction / 10_000));
        text[23..25].copy_from_slice(&pair(fraction / 100 % 100));
        text[25..27].copy_from_slice(&pair(fraction % 100));
        out.extend_from_slice(&text);
    }
}

#[cfg(test)]
mod tests {
    use dataflows::model::format_iso;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn numbers_are_written_as_to_string_writes_them() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut cases: Vec<u64> = vec![0, u64::MAX, u64::MAX - 1];
        let mut power = 1u64;
        while let Some(next) = power.checked_mul(10) {
            cases.extend([power - 1, power, power + 1, 5 * power, next - 1]);
            power = next;
        }
        cases.extend((0..1000).chain((0..20_000).map(|_| rng.random::<u64>() >> rng.random_range(0..64))));
        for n in cases {
            let mut out = b"x".to_vec();
            number(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }

    #[test]
    fn times_are_written_as_format_iso_writes_them() {
        let mut rng = StdRng::seed_from_u64(6);
        let mut days = IsoDays::default();
        let mut t: Micros = 0;
        for step in 0..60_000 {
            t = match step % 6 {
                // Runs within a day, across midnight, and jumps: years of four digits, before
                // 1970, and outside four digits (both signs), then back to a cached day.
                0..=2 => t.saturating_add(rng.random_range(0..4 * 3_600_000_000)),
                3 => t - rng.random_range(0..3 * MICROS_PER_DAY),
                4 => rng.random_range(-62_200_000_000_000_000..253_500_000_000_000_000),
                _ => match rng.random_range(0..6) {
                    0 => rng.random_range(-1_000_000_000_000_000_000..-62_200_000_000_000_000),
                    1 => rng.random_range(253_400_000_000_000_000..1_000_000_000_000_000_000),
                    2 => -1,
                    3 => MICROS_PER_DAY * rng.random_range(-3..3) + rng.random_range(-2..2),
                    _ => t,
                },
            };
            let mut out = Vec::new();
            days.write(&mut out, t);
            assert_eq!(
                String::from_utf8(out).expect("UTF-8"),
                serde_json::to_string(&format_iso(t)).expect("JSON"),
                "{t}"
            );
        }
    }
}
