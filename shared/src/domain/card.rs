//! Card data whose types make leaking impossible: a `CardNumber` is Luhn-checked when parsed,
//! knows its brand from the BIN, and prints masked; only `CardSummary` (BIN + last 4) is stored.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

/// The payment brand of a transaction: a card scheme (detected from the number, never trusted
/// from input) or a wallet provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum CardType {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Jcb,
    Diners,
    Unionpay,
    Paypal,
    ApplePay,
    GooglePay,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be one of visa, mastercard, amex, discover, jcb, diners, unionpay, paypal, apple_pay, google_pay"
)]
pub struct InvalidCardType;

impl CardType {
    pub const ALL: [CardType; 10] = [
        CardType::Visa,
        CardType::Mastercard,
        CardType::Amex,
        CardType::Discover,
        CardType::Jcb,
        CardType::Diners,
        CardType::Unionpay,
        CardType::Paypal,
        CardType::ApplePay,
        CardType::GooglePay,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            CardType::Visa => "visa",
            CardType::Mastercard => "mastercard",
            CardType::Amex => "amex",
            CardType::Discover => "discover",
            CardType::Jcb => "jcb",
            CardType::Diners => "diners",
            CardType::Unionpay => "unionpay",
            CardType::Paypal => "paypal",
            CardType::ApplePay => "apple_pay",
            CardType::GooglePay => "google_pay",
        }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidCardType> {
        CardType::ALL
            .into_iter()
            .find(|t| t.as_str() == value)
            .ok_or(InvalidCardType)
    }

    pub fn is_wallet(&self) -> bool {
        matches!(
            self,
            CardType::Paypal | CardType::ApplePay | CardType::GooglePay
        )
    }

    /// The card lengths the scheme issues.
    fn lengths(&self) -> std::ops::RangeInclusive<usize> {
        match self {
            CardType::Visa => 13..=19,
            CardType::Mastercard => 16..=16,
            CardType::Amex => 15..=15,
            CardType::Diners => 14..=19,
            CardType::Discover | CardType::Jcb | CardType::Unionpay => 16..=19,
            CardType::Paypal | CardType::ApplePay | CardType::GooglePay => 0..=0,
        }
    }

    /// The brand a card number belongs to, from its leading digits (issuer identification).
    pub fn from_bin(digits: &str) -> Option<CardType> {
        let prefix = |n: usize| digits.get(..n).and_then(|p| p.parse::<u32>().ok());
        let within = |n: usize, lo: u32, hi: u32| prefix(n).is_some_and(|p| (lo..=hi).contains(&p));
        if digits.starts_with('4') {
            Some(CardType::Visa)
        } else if within(2, 51, 55) || within(4, 2221, 2720) {
            Some(CardType::Mastercard)
        } else if within(2, 34, 34) || within(2, 37, 37) {
            Some(CardType::Amex)
        } else if within(4, 6011, 6011)
            || within(3, 644, 649)
            || within(2, 65, 65)
            || within(6, 622126, 622925)
        {
            Some(CardType::Discover)
        } else if within(4, 3528, 3589) {
            Some(CardType::Jcb)
        } else if within(3, 300, 305)
            || within(4, 3095, 3095)
            || within(2, 36, 36)
            || within(2, 38, 39)
        {
            Some(CardType::Diners)
        } else if within(2, 62, 62) || within(2, 81, 81) {
            Some(CardType::Unionpay)
        } else {
            None
        }
    }
}

impl fmt::Display for CardType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCardNumber {
    #[error("must contain only digits (spaces and hyphens between groups are allowed)")]
    NotDigits,
    #[error("has a length no card scheme issues")]
    BadLength,
    #[error("fails the Luhn check")]
    Luhn,
    #[error("belongs to no supported card scheme")]
    UnknownBrand,
}

/// A full card number (PAN). Debug and Display print it masked; the digits are reachable only
/// through [`CardNumber::expose`], and there is deliberately no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber {
    digits: String,
    brand: CardType,
}

impl CardNumber {
    pub fn parse(input: &str) -> Result<Self, InvalidCardNumber> {
        let digits: String = input.chars().filter(|c| *c != ' ' && *c != '-').collect();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidCardNumber::NotDigits);
        }
        if !(12..=19).contains(&digits.len()) {
            return Err(InvalidCardNumber::BadLength);
        }
        if !luhn_valid(&digits) {
            return Err(InvalidCardNumber::Luhn);
        }
        let brand = CardType::from_bin(&digits).ok_or(InvalidCardNumber::UnknownBrand)?;
        if !brand.lengths().contains(&digits.len()) {
            return Err(InvalidCardNumber::BadLength);
        }
        Ok(CardNumber { digits, brand })
    }

    pub fn brand(&self) -> CardType {
        self.brand
    }

    /// The first six digits: the issuer identification number.
    pub fn bin(&self) -> &str {
        &self.digits[..6]
    }

    pub fn last4(&self) -> &str {
        &self.digits[self.digits.len() - 4..]
    }

    /// BIN + one `*` per hidden digit + last 4, e.g. `411111******1111`.
    pub fn masked(&self) -> String {
        let hidden = self.digits.len() - 10;
        format!("{}{}{}", self.bin(), "*".repeat(hidden), self.last4())
    }

    /// The full number, for the one place that must send it (the gateway call, encrypted at rest).
    pub fn expose(&self) -> &str {
        &self.digits
    }

    /// A keyed fingerprint: equal for equal numbers, useless without the key. A plain hash would
    /// not do: the space of valid numbers behind one BIN is small enough to brute-force.
    pub fn fingerprint(&self, key: &FingerprintKey) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key.0) else {
            return String::new();
        };
        mac.update(self.digits.as_bytes());
        let tag = mac.finalize().into_bytes();
        tag.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self.masked())
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// The key behind card fingerprints. Debug never shows it.
#[derive(Clone)]
pub struct FingerprintKey(Vec<u8>);

impl FingerprintKey {
    pub fn new(bytes: Vec<u8>) -> Self {
        FingerprintKey(bytes)
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintKey(***)")
    }
}

/// The key behind idempotency request digests: a request body holds card data, so its digest
/// is keyed like a fingerprint (an unkeyed hash of it could be brute-forced back to the number
/// and CVC). Derived for this purpose only, never stored. Debug never shows it.
#[derive(Clone)]
pub struct RequestDigestKey(Vec<u8>);

impl RequestDigestKey {
    pub fn new(bytes: Vec<u8>) -> Self {
        RequestDigestKey(bytes)
    }

    /// HMAC-SHA256 of `message`, hex.
    pub fn digest(&self, message: &[u8]) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(message);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl fmt::Debug for RequestDigestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestDigestKey(***)")
    }
}

/// What payrail keeps of a card: never the full number, never the CVC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSummary {
    pub brand: CardType,
    pub bin: String,
    pub last4: String,
    pub masked: String,
    pub exp_month: u8,
    pub exp_year: u16,
    /// Empty when none was derived (a generated card without the functions' key).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fingerprint: String,
}

impl CardSummary {
    pub fn of(number: &CardNumber, exp_month: u8, exp_year: u16, key: &FingerprintKey) -> Self {
        CardSummary {
            fingerprint: number.fingerprint(key),
            ..Self::without_fingerprint(number, exp_month, exp_year)
        }
    }

    /// The summary without a fingerprint: where the functions' key is not at hand, none rather
    /// than one under another key (it would match nothing the API derives).
    pub fn without_fingerprint(number: &CardNumber, exp_month: u8, exp_year: u16) -> Self {
        CardSummary {
            brand: number.brand(),
            bin: number.bin().to_owned(),
            last4: number.last4().to_owned(),
            masked: number.masked(),
            exp_month,
            exp_year,
            fingerprint: String::new(),
        }
    }
}

/// The Luhn (mod 10) check every card number carries in its last digit.
pub fn luhn_valid(digits: &str) -> bool {
    luhn_sum(digits.bytes().rev(), false).is_multiple_of(10)
}

/// The check digit that makes `partial` followed by it Luhn-valid.
pub fn luhn_check_digit(partial: &str) -> u8 {
    let sum = luhn_sum(partial.bytes().rev(), true);
    ((10 - sum % 10) % 10) as u8
}

fn luhn_sum(reversed: impl Iterator<Item = u8>, double_first: bool) -> u32 {
    reversed
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if (i % 2 == 1) != double_first {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn detects_the_brand_of_well_known_test_numbers() {
        let cases = [
            ("4111111111111111", CardType::Visa),
            ("5555555555554444", CardType::Mastercard),
            ("2223003122003222", CardType::Mastercard),
            ("378282246310005", CardType::Amex),
            ("6011111111111117", CardType::Discover),
            ("3566002020360505", CardType::Jcb),
            ("36227206271667", CardType::Diners),
            ("6200000000000005", CardType::Unionpay),
        ];
        for (number, brand) in cases {
            assert_eq!(
                CardNumber::parse(number).map(|n| n.brand()),
                Ok(brand),
                "{number}"
            );
        }
    }

    #[test]
    fn rejects_a_card_number_failing_luhn() {
        assert_eq!(
            CardNumber::parse("4111111111111112"),
            Err(InvalidCardNumber::Luhn)
        );
    }

    #[test]
    fn rejects_non_digits_and_bad_lengths() {
        assert_eq!(
            CardNumber::parse("4111x11111111111"),
            Err(InvalidCardNumber::NotDigits)
        );
        assert_eq!(CardNumber::parse(""), Err(InvalidCardNumber::NotDigits));
        assert_eq!(CardNumber::parse("42"), Err(InvalidCardNumber::BadLength));
    }

    #[test]
    fn never_prints_the_full_number() {
        let number = CardNumber::parse("4111 1111 1111 1111").map_err(|e| e.to_string());
        let Ok(number) = number else {
            unreachable!("valid test number")
        };
        assert_eq!(number.to_string(), "411111******1111");
        assert_eq!(format!("{number:?}"), "CardNumber(411111******1111)");
        assert_eq!(number.expose(), "4111111111111111");
    }

    #[test]
    fn fingerprints_depend_on_the_key() {
        let Ok(number) = CardNumber::parse("4111111111111111") else {
            unreachable!()
        };
        let a = number.fingerprint(&FingerprintKey::new(b"one".to_vec()));
        let b = number.fingerprint(&FingerprintKey::new(b"two".to_vec()));
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(!a.contains("1111"));
    }

    proptest! {
        #[test]
        fn a_check_digit_makes_any_prefix_luhn_valid(partial in "[0-9]{11,18}") {
            let full = format!("{partial}{}", luhn_check_digit(&partial));
            prop_assert!(luhn_valid(&full));
        }

        #[test]
        fn changing_one_digit_breaks_luhn(partial in "[0-9]{15}", pos in 0usize..16, delta in 1u8..10) {
            let full = format!("{partial}{}", luhn_check_digit(&partial));
            let mut bytes = full.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(!luhn_valid(&changed));
        }

        #[test]
        fn masked_output_keeps_only_bin_and_last_four(input in "4[0-9]{14}") {
            let number = format!("{input}{}", luhn_check_digit(&input));
            let parsed = CardNumber::parse(&number).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(parsed.masked().len(), 16);
            let printed = format!("{parsed:?}{parsed}");
            prop_assert!(!printed.contains(&number));
        }
    }
}
