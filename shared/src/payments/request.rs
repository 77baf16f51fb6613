//! The body of POST /payments, parsed into domain types: a Luhn-valid card whose brand comes from
//! its number, an expiry not in the past, a CVC of the brand's length (checked, then dropped: it
//! is never stored or sent anywhere), or a wallet with its token.

use crate::domain::{
    AccountId, CardNumber, CardType, Country, Currency, MinorUnits, PaymentMethod, PaymentType,
    Timestamp,
};
use crate::http::body::{self, Fields, boolean, integer, parsed, text};
use crate::http::{ApiError, FieldError};
use crate::redact::scrub_card_numbers;
use serde::Deserialize;
use std::fmt;
use utoipa::ToSchema;

/// A wallet's payment token: sensitive like a card number, so it prints masked.
#[derive(Clone, PartialEq, Eq)]
pub struct WalletToken(String);

impl WalletToken {
    pub fn new(token: String) -> Self {
        WalletToken(token)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WalletToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WalletToken(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInput {
    pub number: CardNumber,
    pub exp_month: u8,
    pub exp_year: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instrument {
    Card(CardInput),
    Wallet {
        provider: CardType,
        token: WalletToken,
    },
}

impl Instrument {
    pub fn card_number(&self) -> Option<&CardNumber> {
        match self {
            Instrument::Card(card) => Some(&card.number),
            Instrument::Wallet { .. } => None,
        }
    }

    pub fn card_type(&self) -> CardType {
        match self {
            Instrument::Card(card) => card.number.brand(),
            Instrument::Wallet { provider, .. } => *provider,
        }
    }
}

/// A valid request to create a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePayment {
    pub account_id: AccountId,
    pub amount: MinorUnits,
    pub currency: Currency,
    pub payment_type: PaymentType,
    pub method: PaymentMethod,
    pub instrument: Instrument,
    pub address: String,
    pub country: Country,
    pub vendor: Option<String>,
    pub process: bool,
}

/// Card details as a client sends them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CardBody {
    /// The full card number (PAN), 12 to 19 digits, Luhn-valid; never returned or stored in clear.
    #[schema(example = "4242424242424242", pattern = "^[0-9]{12,19}$")]
    number: String,
    #[schema(minimum = 1, maximum = 12, example = 12)]
    exp_month: u8,
    #[schema(minimum = 2000, maximum = 2100, example = 2030)]
    exp_year: u16,
    /// 3 digits, 4 for amex; checked, then dropped: never stored.
    #[schema(example = "123", pattern = "^[0-9]{3,4}$")]
    cvc: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct WalletBody {
    #[schema(value_type = String, example = "apple_pay")]
    provider: WalletProvider,
    /// The wallet's payment token.
    #[schema(min_length = 1, max_length = 2048)]
    token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WalletProvider {
    Paypal,
    ApplePay,
    GooglePay,
}

/// Body of POST /payments. `card` goes with `credit_card` / `debit_card`, `wallet` with `wallet`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CreatePaymentBody {
    #[schema(minimum = 1, example = 42)]
    account_id: u64,
    /// Minor units of `currency` (GBP 133.70 → 13370), greater than zero.
    #[schema(minimum = 1, maximum = 999_999_999_999_999_i64, example = 13370)]
    amount: u64,
    #[schema(example = "GBP", pattern = "^[A-Z]{3}$")]
    currency: String,
    payment_type: PaymentType,
    method: PaymentMethod,
    card: Option<CardBody>,
    wallet: Option<WalletBody>,
    #[schema(min_length = 1, max_length = 512, example = "1 High Street, London")]
    address: String,
    /// ISO 3166-1 alpha-2, upper case; `UK` is taken as `GB`.
    #[schema(example = "GB", pattern = "^[A-Z]{2}$")]
    country: String,
    /// Defaults to the authenticated merchant's name.
    #[schema(min_length = 1, max_length = 128)]
    vendor: Option<String>,
    /// `false` stores the payment as `created`, to be processed by POST /payments/{id}/process.
    #[schema(default = true)]
    process: Option<bool>,
}

const FIELDS: [&str; 11] = [
    "account_id",
    "amount",
    "currency",
    "payment_type",
    "method",
    "card",
    "wallet",
    "address",
    "country",
    "vendor",
    "process",
];

fn enum_value<T: for<'de> Deserialize<'de>>(
    expected: &'static str,
) -> impl Fn(&serde_json::Value) -> Result<T, String> {
    move |value| {
        serde_json::from_value::<T>(value.clone()).map_err(|_| format!("must be one of {expected}"))
    }
}

impl CreatePayment {
    /// Parses the body; `now` decides whether a card has expired.
    pub fn parse(body: &[u8], now: Timestamp) -> Result<CreatePayment, ApiError> {
        let object = body::object(body)?;
        let mut errors: Vec<FieldError> = Vec::new();
        let mut f = Fields::new(&object, &FIELDS, &mut errors);
        let account_id = f.required("account_id", integer(1, i64::MAX.unsigned_abs()));
        let amount = f.required("amount", |v| {
            integer(1, MinorUnits::MAX)(v)
                .and_then(|n| MinorUnits::new(n).map_err(|e| e.to_string()))
        });
        let currency = f.required("currency", parsed(Currency::parse));
        let payment_type = f.required("payment_type", enum_value::<PaymentType>("online, offline"));
        let method = f.required(
            "method",
            enum_value::<PaymentMethod>("credit_card, debit_card, wallet"),
        );
        let instrument = match method {
            Some(PaymentMethod::Wallet) => {
                if f.is_present("card") {
                    f.error("card", "must be absent when method is wallet");
                }
                if !f.is_present("wallet") {
                    f.error("wallet", "is required when method is wallet");
                }
                f.object("wallet", &["provider", "token"], |w| {
                    let provider = w.required(
                        "provider",
                        enum_value::<WalletProvider>("paypal, apple_pay, google_pay"),
                    );
                    let token = w.required("token", text(2048));
                    Some(Instrument::Wallet {
                        provider: match provider? {
                            WalletProvider::Paypal => CardType::Paypal,
                            WalletProvider::ApplePay => CardType::ApplePay,
                            WalletProvider::GooglePay => CardType::GooglePay,
                        },
                        token: WalletToken::new(token?),
                    })
                })
            }
            Some(PaymentMethod::CreditCard | PaymentMethod::DebitCard) => {
                if f.is_present("wallet") {
                    f.error("wallet", "must be absent when method is a card");
                }
                if !f.is_present("card") {
                    f.error(
                        "card",
                        "is required when method is credit_card or debit_card",
                    );
                }
                f.object("card", &["number", "exp_month", "exp_year", "cvc"], |c| {
                    card(c, now)
                })
            }
            None => None,
        };
        // Free text is stored, listed and logged: a card number typed into it is scrubbed.
        let address = f
            .required("address", text(512))
            .map(|a| scrub_card_numbers(&a));
        let country = f.required("country", parsed(Country::parse));
        let vendor = f
            .optional("vendor", text(128))
            .map(|v| scrub_card_numbers(&v));
        let process = f.optional("process", boolean).unwrap_or(true);
        let parsed = (|| {
            Some(CreatePayment {
                account_id: AccountId::new(account_id?),
                amount: amount?,
                currency: currency?,
                payment_type: payment_type?,
                method: method?,
                instrument: instrument?,
                address: address?,
                country: country?,
                vendor,
                process,
            })
        })();
        match parsed {
            Some(request) if errors.is_empty() => Ok(request),
            _ if errors.is_empty() => Err(ApiError::invalid("body", "is invalid")),
            _ => Err(ApiError::Invalid(errors)),
        }
    }
}

fn card(c: &mut Fields<'_>, now: Timestamp) -> Option<Instrument> {
    let number = c.required("number", parsed(CardNumber::parse));
    let exp_month = c.required("exp_month", integer(1, 12));
    let exp_year = c.required("exp_year", integer(2000, 2100));
    let cvc = c.required("cvc", |v| match v.as_str() {
        Some(s) if s.chars().all(|ch| ch.is_ascii_digit()) => Ok(s.len()),
        _ => Err("must be a string of digits".to_owned()),
    });
    if let (Some(month), Some(year)) = (exp_month, exp_year) {
        let (this_year, this_month) = now.year_month();
        let year = i64::try_from(year).unwrap_or(i64::MAX);
        if (year, month) < (i64::from(this_year), u64::from(this_month)) {
            c.error("exp_year", "the card has expired");
        }
    }
    if let (Some(number), Some(cvc_len)) = (&number, cvc) {
        let expected = if number.brand() == CardType::Amex {
            4
        } else {
            3
        };
        if cvc_len != expected {
            c.error(
                "cvc",
                format!("must be {expected} digits for {}", number.brand()),
            );
        }
    } else if let Some(len) = cvc
        && !(3..=4).contains(&len)
    {
        c.error("cvc", "must be 3 or 4 digits");
    }
    Some(Instrument::Card(CardInput {
        number: number?,
        exp_month: u8::try_from(exp_month?).ok()?,
        exp_year: u16::try_from(exp_year?).ok()?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // 2026-11-21T00:00:00Z
    const NOW: Timestamp = Timestamp::from_millis(1_795_219_200_000);

    fn valid() -> serde_json::Value {
        json!({
            "account_id": 42, "amount": 13370, "currency": "GBP", "payment_type": "online",
            "method": "credit_card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
            "address": "1 High Street", "country": "UK"
        })
    }

    fn fields_of(body: serde_json::Value) -> Vec<String> {
        match CreatePayment::parse(body.to_string().as_bytes(), NOW) {
            Err(ApiError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => vec![format!("{other:?}")],
        }
    }

    #[test]
    fn parses_a_card_payment_with_its_brand_from_the_number() -> Result<(), ApiError> {
        let p = CreatePayment::parse(valid().to_string().as_bytes(), NOW)?;
        assert_eq!(p.instrument.card_type(), CardType::Visa);
        assert_eq!(p.country.to_string(), "GB");
        assert!(p.process);
        assert!(!format!("{p:?}").contains("4242424242424242"));
        Ok(())
    }

    #[test]
    fn a_card_number_typed_into_the_address_or_vendor_is_scrubbed() -> Result<(), ApiError> {
        let mut body = valid();
        body["address"] = json!("1 High St, card 4111 1111 1111 1111");
        body["vendor"] = json!("shop 5555555555554444");
        let p = CreatePayment::parse(body.to_string().as_bytes(), NOW)?;
        assert_eq!(p.address, "1 High St, card [redacted]");
        assert_eq!(p.vendor.as_deref(), Some("shop [redacted]"));
        Ok(())
    }

    #[test]
    fn names_every_bad_field() {
        let body = json!({
            "account_id": 0, "amount": 1.5, "currency": "gbp", "payment_type": "cash",
            "method": "credit_card",
            "card": {"number": "4242424242424241", "exp_month": 13, "exp_year": 2030, "cvc": "12a"},
            "address": "", "country": "XX", "vendor": 5, "process": "yes", "tip": 1
        });
        assert_eq!(
            fields_of(body),
            vec![
                "tip",
                "account_id",
                "amount",
                "currency",
                "payment_type",
                "card.number",
                "card.exp_month",
                "card.cvc",
                "address",
                "country",
                "vendor",
                "process"
            ]
        );
    }

    #[test]
    fn refuses_an_expired_card_but_not_one_expiring_this_month() {
        let mut body = valid();
        body["card"]["exp_year"] = json!(2026);
        body["card"]["exp_month"] = json!(10);
        assert_eq!(fields_of(body.clone()), vec!["card.exp_year"]);
        body["card"]["exp_month"] = json!(11);
        assert!(CreatePayment::parse(body.to_string().as_bytes(), NOW).is_ok());
    }

    #[test]
    fn cvc_length_follows_the_brand() {
        let mut body = valid();
        body["card"]["cvc"] = json!("1234");
        assert_eq!(fields_of(body.clone()), vec!["card.cvc"]);
        body["card"]["number"] = json!("378282246310005");
        assert!(CreatePayment::parse(body.to_string().as_bytes(), NOW).is_ok());
        body["card"]["cvc"] = json!("123");
        assert_eq!(fields_of(body), vec!["card.cvc"]);
    }

    #[test]
    fn wallets_need_a_provider_and_token_and_no_card() {
        let mut body = valid();
        body["method"] = json!("wallet");
        assert_eq!(fields_of(body.clone()), vec!["card", "wallet"]);
        body.as_object_mut().map(|o| o.remove("card"));
        body["wallet"] = json!({"provider": "apple_pay", "token": "tok_1"});
        let parsed = CreatePayment::parse(body.to_string().as_bytes(), NOW);
        assert!(matches!(
            parsed.map(|p| p.instrument.card_type()),
            Ok(CardType::ApplePay)
        ));
        body["wallet"] = json!({"provider": "venmo"});
        assert_eq!(fields_of(body), vec!["wallet.provider", "wallet.token"]);
    }

    #[test]
    fn a_card_method_needs_a_card() {
        let mut body = valid();
        body.as_object_mut().map(|o| o.remove("card"));
        assert_eq!(fields_of(body), vec!["card"]);
    }
}
