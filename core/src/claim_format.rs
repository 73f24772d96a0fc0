//! The form a claim's value must take (spec/state.md §3, `ClaimDef.format`), checked before an
//! issuer signs: a ledger only sees digests, so a malformed value caught later cannot be fixed
//! without reissuing.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// What a claim's value must look like.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum ClaimFormat {
    /// Any non-empty text.
    #[default]
    Text = 0,
    /// A calendar date, `YYYY-MM-DD` (ISO 8601), from year 1900 on.
    Date = 1,
    /// A Taiwan unified business number (統一編號): 8 digits whose weighted digit sum is a
    /// multiple of 5 (the Ministry of Finance's rule since 2023, which accepts every number
    /// valid under the earlier multiple-of-10 rule).
    Ubn = 2,
}

impl ClaimFormat {
    /// Checks `value`, saying what was expected when it does not hold.
    pub fn check(self, value: &str) -> Result<(), String> {
        if value.trim().is_empty() {
            return Err("is empty".into());
        }
        match self {
            ClaimFormat::Text => Ok(()),
            ClaimFormat::Date if is_date(value) => Ok(()),
            ClaimFormat::Date => Err(format!("{value:?} is not a date (YYYY-MM-DD)")),
            ClaimFormat::Ubn if is_ubn(value) => Ok(()),
            ClaimFormat::Ubn => Err(format!(
                "{value:?} is not a unified business number (8 digits with a valid check sum)"
            )),
        }
    }
}

fn digits(s: &str) -> Option<Vec<u32>> {
    s.chars().map(|c| c.to_digit(10)).collect()
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (digits(&s[..4]), digits(&s[5..7]), digits(&s[8..])) else {
        return false;
    };
    let year = y.iter().fold(0, |a, d| a * 10 + d);
    let month = m[0] * 10 + m[1];
    let day = d[0] * 10 + d[1];
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1900 && (1..=days).contains(&day)
}

fn is_ubn(s: &str) -> bool {
    const WEIGHTS: [u32; 8] = [1, 2, 1, 2, 1, 2, 4, 1];
    let Some(d) = digits(s).filter(|d| d.len() == 8) else {
        return false;
    };
    // Each product contributes the sum of its digits.
    let sum: u32 = d
        .iter()
        .zip(WEIGHTS)
        .map(|(x, w)| (x * w) / 10 + (x * w) % 10)
        .sum();
    // A 7 in the seventh place gives 28, whose digit sum 10 counts as either 1 or 0.
    sum.is_multiple_of(5) || (d[6] == 7 && (sum + 1).is_multiple_of(5))
}

#[cfg(test)]
mod tests {
    use super::ClaimFormat::*;

    #[test]
    fn dates_are_real_calendar_days() {
        for ok in ["2024-09-01", "2024-02-29", "2000-02-29", "1999-12-31"] {
            assert_eq!(Date.check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-04-31",
            "2024-00-10",
            "2024-9-1",
            "2024/09/01",
            "113-09-01",
            "１２３４-05-06",
            "",
        ] {
            assert!(Date.check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unified_business_numbers_follow_the_check_sum() {
        // 22099131: digit sums 2+4+0+9+9+2+3+1 = 30. 10458574 holds only by the
        // seventh-place-7 rule: its 28 counted as 1 gives 20, as 0 gives 19.
        for ok in ["22099131", "04595257", "10458570", "10458574"] {
            assert_eq!(Ubn.check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "22099132",
            "10458573",
            "2209913",
            "220991311",
            "2209913a",
            "",
        ] {
            assert!(Ubn.check(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        /// Values come from operators' CSV files: any text gets an answer, never a panic, and
        /// a date that holds prints back as itself.
        #[test]
        fn any_text_gets_an_answer(s in "\\PC{0,12}", y in 1900u32..2100, m in 1u32..13, d in 1u32..29) {
            for f in [Text, Date, Ubn] {
                let _ = f.check(&s);
            }
            let date = format!("{y:04}-{m:02}-{d:02}");
            proptest::prop_assert_eq!(Date.check(&date), Ok(()));
        }
    }

    #[test]
    fn text_needs_something() {
        assert!(Text.check("王小明").is_ok());
        assert!(Text.check("  ").is_err());
    }
}
