//! Money as integer minor units with an ISO 4217 currency. Never floats.

use serde::{Deserialize, Serialize};
use std::fmt;

/// ISO 4217 codes payrail accepts, with their minor-unit exponent (JPY has none, KWD has three).
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EGP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("MAD", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("NGN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PEN", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("QAR", 2),
    ("RON", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("USD", 2),
    ("VND", 0),
    ("ZAR", 2),
];

/// An ISO 4217 currency code, upper case, from the list payrail supports.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct Currency(&'static str);

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an ISO 4217 currency code in upper case, such as GBP, EUR, USD or JPY")]
pub struct InvalidCurrency;

impl Currency {
    pub fn parse(code: &str) -> Result<Self, InvalidCurrency> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(c, _)| Currency(c))
            .ok_or(InvalidCurrency)
    }

    pub fn code(&self) -> &'static str {
        self.0
    }

    /// Digits after the decimal point: 100 minor units of GBP are 1.00 GBP, of JPY 100 JPY.
    pub fn exponent(&self) -> u8 {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == self.0)
            .map_or(2, |(_, e)| *e)
    }

    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES.iter().map(|(c, _)| Currency(c))
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.0.to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A strictly positive amount in minor units of some currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct MinorUnits(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAmount {
    #[error("must be greater than zero")]
    NotPositive,
    #[error("must be at most {max}", max = MinorUnits::MAX)]
    TooLarge,
}

impl MinorUnits {
    /// The largest amount accepted: well inside JSON's exact integer range (2^53).
    pub const MAX: u64 = 999_999_999_999_999;

    pub fn new(value: u64) -> Result<Self, InvalidAmount> {
        match value {
            0 => Err(InvalidAmount::NotPositive),
            v if v > Self::MAX => Err(InvalidAmount::TooLarge),
            v => Ok(MinorUnits(v)),
        }
    }

    pub fn get(&self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for MinorUnits {
    type Error = InvalidAmount;
    fn try_from(value: u64) -> Result<Self, Self::Error> {
        MinorUnits::new(value)
    }
}

impl From<MinorUnits> for u64 {
    fn from(value: MinorUnits) -> Self {
        value.0
    }
}

/// An amount with its currency: what a payment is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount: MinorUnits,
    pub currency: Currency,
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = u32::from(self.currency.exponent());
        let scale = 10u64.pow(exponent);
        let (major, minor) = (self.amount.get() / scale, self.amount.get() % scale);
        if exponent == 0 {
            write!(f, "{major} {}", self.currency)
        } else {
            write!(
                f,
                "{major}.{minor:0width$} {}",
                self.currency,
                width = exponent as usize
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn knows_the_minor_unit_exponent_of_each_currency() {
        assert_eq!(Currency::parse("GBP").map(|c| c.exponent()), Ok(2));
        assert_eq!(Currency::parse("JPY").map(|c| c.exponent()), Ok(0));
        assert_eq!(Currency::parse("KWD").map(|c| c.exponent()), Ok(3));
    }

    #[test]
    fn rejects_lower_case_and_unknown_codes() {
        assert_eq!(Currency::parse("gbp"), Err(InvalidCurrency));
        assert_eq!(Currency::parse("XYZ"), Err(InvalidCurrency));
        assert_eq!(Currency::parse(""), Err(InvalidCurrency));
    }

    #[test]
    fn formats_money_with_the_currency_exponent() -> Result<(), InvalidAmount> {
        let gbp = Money {
            amount: MinorUnits::new(13370)?,
            currency: Currency("GBP"),
        };
        let jpy = Money {
            amount: MinorUnits::new(500)?,
            currency: Currency("JPY"),
        };
        assert_eq!(gbp.to_string(), "133.70 GBP");
        assert_eq!(jpy.to_string(), "500 JPY");
        Ok(())
    }

    #[test]
    fn rejects_zero_and_oversized_amounts() {
        assert_eq!(MinorUnits::new(0), Err(InvalidAmount::NotPositive));
        assert_eq!(
            MinorUnits::new(MinorUnits::MAX + 1),
            Err(InvalidAmount::TooLarge)
        );
    }

    proptest! {
        #[test]
        fn currency_parse_accepts_exactly_the_listed_codes(code in "[A-Za-z]{0,4}") {
            let listed = CURRENCIES.iter().any(|(c, _)| *c == code);
            prop_assert_eq!(Currency::parse(&code).is_ok(), listed);
        }

        #[test]
        fn amounts_round_trip_through_json(v in 1u64..=MinorUnits::MAX) {
            let amount = MinorUnits::new(v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let json = serde_json::to_string(&amount).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(json, v.to_string());
        }
    }
}
