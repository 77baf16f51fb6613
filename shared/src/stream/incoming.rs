//! A stream message read into a payment: every field checked as the API checks it, the card's
//! brand taken from its number (never from the message), the card opened from its sealed form
//! (or taken as sent, for upstream producers that send it in clear).

use crate::domain::{
    AccountId, CardNumber, CardSummary, CardType, Country, Currency, FingerprintKey, MerchantId,
    MinorUnits, Payment, PaymentId, PaymentMethod, PaymentStatus, Timestamp,
};
use crate::gateway::Charged;
use crate::payments::request::WalletToken;
use crate::payments::{SealCards, StreamMessage};
use crate::users::OwnerClaim;

/// Values a message may leave out (upstream producers send only the SPEC §4 core).
pub const DEFAULT_CURRENCY: &str = "EUR";
pub const DEFAULT_COUNTRY: &str = "DE";
/// The vendor of a message that names none: also the reserved upstream merchant's name, which
/// no merchant user may take (`users::check_merchant_name`).
pub const DEFAULT_VENDOR: &str = "upstream";

/// What a message says about its owner, for the merchant registry to resolve
/// ([`crate::users::ResolveOwner`]): its merchant id, else payrail's older producers' merchant
/// name, else its vendor.
pub fn owner_claim(message: &StreamMessage) -> OwnerClaim<'_> {
    OwnerClaim {
        merchant_id: message.merchant_id.as_deref(),
        merchant_name: message.merchant.as_deref(),
        vendor: message.vendor.as_deref(),
    }
}

/// Earliest upstream `created_at` taken as given: 2000-01-01T00:00:00Z in unix ms. Anything
/// earlier is a unit mistake (a time in seconds reads as January 1970) or a zero.
pub const CREATED_AT_FLOOR_MS: i64 = 946_684_800_000;
/// How far past payrail's clock an upstream `created_at` may be: the producers' clock skew.
/// Anything later is a unit mistake (a time in microseconds reads as the year 50 000) and
/// would push the account's `last_payment_date` so far ahead that no later payment moves it.
pub const CREATED_AT_SKEW_MS: i64 = 5 * 60 * 1000;

/// The message's `created_at` if it is a plausible unix-ms time (from [`CREATED_AT_FLOOR_MS`]
/// to `now` + [`CREATED_AT_SKEW_MS`]), else `None`. No unit is guessed: a value off by 1000
/// one way or the other is not corrected, it is replaced (see [`read`]).
pub fn plausible_created_at(sent: i64, now: Timestamp) -> Option<Timestamp> {
    let latest = now.millis().saturating_add(CREATED_AT_SKEW_MS);
    (CREATED_AT_FLOOR_MS..=latest)
        .contains(&sent)
        .then_some(Timestamp::from_millis(sent))
}

/// A message that can never be processed, however often it is retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid stream message: {0}")]
pub struct Invalid(pub String);

/// The body parsed, with the payment id when at least that could be read.
pub fn parse(body: &str) -> Result<StreamMessage, (Option<PaymentId>, Invalid)> {
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let parsed = serde_path_to_error::deserialize::<_, StreamMessage>(&mut deserializer)
        .map_err(|e| describe(&e))
        .and_then(|message| {
            deserializer
                .end()
                .map(|()| message)
                .map_err(|e| format!("body: trailing characters at {}", position(&e)))
        });
    parsed.map_err(|text| {
        let id = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v["payment_id"]
                    .as_str()
                    .and_then(|s| PaymentId::parse(s).ok())
            });
        (id, Invalid(text))
    })
}

fn position(err: &serde_json::Error) -> String {
    format!("line {} column {}", err.line(), err.column())
}

/// What was wrong, naming the field (or the position) but never quoting a value: serde's own
/// messages quote the offending value ("invalid type: string \"4111…\""), and this text is
/// logged and stored with the payment, where card data must never go.
fn describe(err: &serde_path_to_error::Error<serde_json::Error>) -> String {
    use serde_json::error::Category;
    let inner = err.inner();
    match inner.classify() {
        Category::Syntax | Category::Io => format!("body: not valid JSON at {}", position(inner)),
        Category::Eof => format!("body: ends early at {}", position(inner)),
        Category::Data => {
            let path = err.path().to_string();
            if path != "." {
                return format!("{path}: wrong type or invalid value");
            }
            // At the top level: a field left out ("missing field `amount`" names only the
            // struct's own field name), or a body that is not an object at all.
            let message = inner.to_string();
            match message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split_once('`'))
            {
                Some((field, _)) => format!("{field}: is required"),
                None => "body: must be a JSON object".to_owned(),
            }
        }
    }
}

/// Whether `credit_card` is a sealed value (`v1.<kid>.<payload>`) rather than a clear number.
fn is_sealed(value: &str) -> bool {
    value.starts_with("v1.")
}

pub struct Incoming {
    pub payment: Payment,
    pub charged: Charged,
    /// The sealed form to keep on a pending payment.
    pub sealed: String,
    /// The message's `created_at` when it was not plausible ([`plausible_created_at`]) and the
    /// time of reading was taken instead: the consumer reports it.
    pub implausible_created_at: Option<i64>,
}

impl Incoming {
    /// What to report about the message though it was taken, if anything.
    pub fn note(&self) -> Option<String> {
        self.implausible_created_at.map(|sent| {
            format!(
                "created_at {sent} is not a unix-ms time from 2000-01-01 to now + 5 min (seconds or \
                 microseconds?): the payment is dated when it was read instead"
            )
        })
    }
}

/// The payment a message describes, in `status`, owned by `owner` (resolved from
/// [`owner_claim`]), created now unless the message says when.
pub fn read(
    message: &StreamMessage,
    status: PaymentStatus,
    owner: &MerchantId,
    cards: &impl SealCards,
    fingerprint_key: &FingerprintKey,
    now: Timestamp,
) -> Result<Incoming, Invalid> {
    let id =
        PaymentId::parse(&message.payment_id).map_err(|e| Invalid(format!("payment_id {e}")))?;
    let amount = MinorUnits::new(message.amount).map_err(|e| Invalid(format!("amount {e}")))?;
    let currency = Currency::parse(message.currency.as_deref().unwrap_or(DEFAULT_CURRENCY))
        .map_err(|e| Invalid(format!("currency {e}")))?;
    let country = Country::parse(message.country.as_deref().unwrap_or(DEFAULT_COUNTRY))
        .map_err(|e| Invalid(format!("country {e}")))?;
    let method = match message.method.as_deref() {
        None | Some("credit_card") => PaymentMethod::CreditCard,
        Some("debit_card") => PaymentMethod::DebitCard,
        Some("wallet") => PaymentMethod::Wallet,
        Some(_) => {
            return Err(Invalid(
                "method must be credit_card, debit_card or wallet".into(),
            ));
        }
    };
    let (clear, sealed) = if is_sealed(&message.credit_card) {
        let clear = cards
            .open(&message.credit_card, &id)
            .map_err(|e| Invalid(format!("credit_card: {e}")))?;
        (clear, message.credit_card.clone())
    } else {
        let sealed = cards
            .seal(&message.credit_card, &id)
            .map_err(|e| Invalid(format!("credit_card: {e}")))?;
        (message.credit_card.clone(), sealed)
    };
    let (charged, card_type, card) = match method {
        PaymentMethod::Wallet => {
            let provider = message
                .card_type
                .as_deref()
                .and_then(|t| CardType::parse(t).ok())
                .filter(CardType::is_wallet)
                .ok_or_else(|| Invalid("card_type must name the wallet provider".into()))?;
            (Charged::Wallet(WalletToken::new(clear)), provider, None)
        }
        _ => {
            let number =
                CardNumber::parse(&clear).map_err(|e| Invalid(format!("credit_card {e}")))?;
            let summary = CardSummary::of(
                &number,
                message.exp_month.unwrap_or(0),
                message.exp_year.unwrap_or(0),
                fingerprint_key,
            );
            let brand = number.brand();
            (Charged::Card(number), brand, Some(summary))
        }
    };
    let vendor = message
        .vendor
        .clone()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_VENDOR.to_owned());
    // An implausible date does not make the message less of a payment (SPEC §4 refuses only
    // what cannot be one): it is dated when read, like a message without a date, and reported.
    let implausible_created_at = message
        .created_at
        .filter(|sent| plausible_created_at(*sent, now).is_none());
    let created_at = message
        .created_at
        .and_then(|sent| plausible_created_at(sent, now))
        .unwrap_or(now);
    let payment = Payment {
        id,
        account_id: AccountId::new(message.account_id.get()),
        payment_type: message.payment_type,
        method,
        card_type,
        card,
        amount,
        currency,
        merchant: Some(owner.to_string()),
        vendor,
        address: message.address.clone().unwrap_or_default(),
        country,
        status,
        created_at,
        updated_at: now,
        refunded_amount: 0,
        failure: None,
    };
    if payment.account_id.get() == 0 {
        return Err(Invalid("account_id must be positive".into()));
    }
    Ok(Incoming {
        payment,
        charged,
        sealed,
        implausible_created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAN: &str = "4111111111111111";

    fn invalid(body: &str) -> String {
        match parse(body) {
            Err((_, Invalid(text))) => text,
            Ok(message) => format!("parsed: {message:?}"),
        }
    }

    #[test]
    fn names_the_field_never_its_value() {
        let id = "6f1c2b7e-9d4a-4e0b-8c3f-2a5d7e9b1c40";
        let core = format!(r#""payment_id": "{id}", "account_id": 1, "credit_card": "{PAN}""#);
        for (body, names) in [
            (
                format!(r#"{{{core}, "payment_type": "online", "amount": "{PAN}"}}"#),
                "amount",
            ),
            (
                format!(r#"{{{core}, "payment_type": "{PAN}", "amount": 1}}"#),
                "payment_type",
            ),
            (
                format!(r#"{{{core}, "payment_type": "online", "amount": 1, "currency": {PAN}}}"#),
                "currency",
            ),
            (
                format!(r#"{{{core}, "amount": 1}}"#),
                "payment_type: is required",
            ),
            (format!(r#""{PAN}""#), "body: must be a JSON object"),
            // serde reads a struct from an array too: the position is named.
            (format!(r#"[{PAN}]"#), "[0]: wrong type"),
            (format!(r#"{{"credit_card": "{PAN}""#), "body: ends early"),
            (
                format!(r#"{{"credit_card": "{PAN}" x}}"#),
                "body: not valid JSON at line 1",
            ),
            (
                format!(r#"{{{core}, "payment_type": "online", "amount": 1}} {PAN}"#),
                "body: trailing characters",
            ),
        ] {
            let text = invalid(&body);
            assert!(text.starts_with(names), "{names}: {text}");
            assert!(!text.contains("4111"), "the value leaked: {text}");
        }
    }

    struct Clear;

    impl SealCards for Clear {
        fn seal(
            &self,
            number: &str,
            _id: &PaymentId,
        ) -> Result<String, crate::payments::SealingError> {
            Ok(format!("v1.test.{number}"))
        }

        fn open(
            &self,
            sealed: &str,
            _id: &PaymentId,
        ) -> Result<String, crate::payments::SealingError> {
            Ok(sealed.trim_start_matches("v1.test.").to_owned())
        }
    }

    fn read_created_at(created_at: Option<i64>, now: i64) -> Result<(i64, Option<i64>), Invalid> {
        let body = serde_json::json!({
            "payment_id": "6f1c2b7e-9d4a-4e0b-8c3f-2a5d7e9b1c40", "account_id": 3,
            "payment_type": "offline", "credit_card": PAN, "amount": 100,
            "created_at": created_at,
        });
        let message = parse(&body.to_string()).map_err(|(_, invalid)| invalid)?;
        let incoming = read(
            &message,
            PaymentStatus::Succeeded,
            &MerchantId::upstream(),
            &Clear,
            &FingerprintKey::new(b"test".to_vec()),
            Timestamp::from_millis(now),
        )?;
        Ok((
            incoming.payment.created_at.millis(),
            incoming.implausible_created_at,
        ))
    }

    #[test]
    fn an_implausible_created_at_is_replaced_by_the_time_of_reading_and_noted() {
        let now = 1_800_000_000_000;
        // Kept: a plausible past date, the floor, a few minutes of skew.
        for sent in [
            now - 86_400_000,
            CREATED_AT_FLOOR_MS,
            now + CREATED_AT_SKEW_MS,
        ] {
            assert_eq!(read_created_at(Some(sent), now), Ok((sent, None)), "{sent}");
        }
        // Replaced: microseconds (year ~59 000 as ms), seconds (1970 as ms), zero, negative,
        // beyond the skew.
        for sent in [
            now * 1000,
            now / 1000,
            0,
            -1,
            now + CREATED_AT_SKEW_MS + 1,
            i64::MAX,
        ] {
            assert_eq!(
                read_created_at(Some(sent), now),
                Ok((now, Some(sent))),
                "{sent}"
            );
        }
        assert_eq!(read_created_at(None, now), Ok((now, None)));
    }

    #[test]
    fn keeps_the_payment_id_of_an_invalid_message() {
        let body = r#"{"payment_id": "6f1c2b7e-9d4a-4e0b-8c3f-2a5d7e9b1c40", "amount": -1}"#;
        let id = parse(body).err().and_then(|(id, _)| id);
        assert_eq!(
            id.map(|i| i.to_string()).as_deref(),
            Some("6f1c2b7e-9d4a-4e0b-8c3f-2a5d7e9b1c40")
        );
    }
}
