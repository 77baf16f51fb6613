//! Test helpers: the emulators `make test` started, fresh tables made from template.yaml, and
//! payments built to order.
#![allow(dead_code)]

pub mod api;
pub mod card_scan;
pub mod conflicts;
pub mod faults;
pub mod function;
pub mod payments;
pub mod simulator;
pub mod stream;

use aws_sdk_dynamodb::Client;
use payrail_shared::domain::{
    AccountId, CardNumber, CardSummary, CardType, Country, Currency, FingerprintKey, MinorUnits,
    Payment, PaymentId, PaymentMethod, PaymentStatus, PaymentType, Timestamp,
    card::luhn_check_digit,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// The environment variable naming an emulator or the local stack; `None` (and a note) when
/// the test runs outside `make test`, a failure when `make test` promised it.
pub fn service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            assert!(
                std::env::var("PAYRAIL_REQUIRE_EMULATORS").is_err(),
                "{var} must be set: run the tests through `make test`"
            );
            eprintln!("skipping: {var} is not set (run through `make test`)");
            None
        }
    }
}

pub async fn dynamodb() -> Option<Client> {
    Some(Client::new(&dynamodb_config().await?))
}

/// The SDK configuration for the test DynamoDB, for a client built with more settings.
pub async fn dynamodb_config() -> Option<aws_config::SdkConfig> {
    let endpoint = service("PAYRAIL_TEST_DYNAMODB_ENDPOINT")?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .load()
        .await;
    Some(config)
}

/// The merchant id of a user in the stack's users table (`USERS_TABLE`): the demo merchants'
/// ids are made when the stack seeds them.
pub async fn merchant_id_of(
    client: &Client,
    username: &str,
) -> Result<payrail_shared::domain::MerchantId, Box<dyn std::error::Error + Send + Sync>> {
    use payrail_shared::users::{DynamoUsers, FindUser, Username};
    let table = std::env::var("USERS_TABLE").map_err(|_| "USERS_TABLE must be set")?;
    let user = DynamoUsers::new(client.clone(), table)
        .find(&Username::parse(username)?)
        .await?
        .ok_or_else(|| format!("no user {username}"))?;
    Ok(user
        .merchant_id
        .ok_or_else(|| format!("{username} has no merchant id"))?)
}

/// A merchant user of a test's own in the stack's users table, password the demo password:
/// `merchant` names it, `id` is its merchant id (a new merchant when `None`). Returns the
/// username (leaked: a session names its user for the test's lifetime) and the id.
pub async fn add_merchant_user(
    prefix: &str,
    merchant: &str,
    id: Option<payrail_shared::domain::MerchantId>,
) -> Result<
    (&'static str, payrail_shared::domain::MerchantId),
    Box<dyn std::error::Error + Send + Sync>,
> {
    use payrail_shared::auth::{Role, hash_password};
    use payrail_shared::domain::{Clock, SystemClock};
    use payrail_shared::users::{DynamoUsers, User, Username};
    let client = dynamodb().await.ok_or("no DynamoDB")?;
    let users = DynamoUsers::new(client, std::env::var("USERS_TABLE")?);
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let username = format!("{prefix}-{tag}");
    let id = id.unwrap_or_default();
    users
        .add(&User {
            username: Username::parse(&username)?,
            password_hash: hash_password(&api::Api::demo_password())?,
            role: Role::Merchant,
            merchant: Some(merchant.to_owned()),
            merchant_id: Some(id.clone()),
            enabled: true,
            created_at: SystemClock.now(),
        })
        .await?;
    users.register_merchant(&id, merchant).await?;
    Ok((Box::leak(username.into_boxed_str()), id))
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The template's TransactionsTable and AccountsTable under a fresh prefix: their names.
pub async fn fresh_payment_tables(
    client: &Client,
) -> Result<(String, String), Box<dyn std::error::Error + Send + Sync>> {
    let template =
        payrail_tools::local::template::Template::load(repo_root().join("template.yaml"))?;
    let tables: Vec<_> = payrail_tools::local::tables::tables_from_template(&template)?
        .into_iter()
        .filter(|t| t.logical_id == "TransactionsTable" || t.logical_id == "AccountsTable")
        .collect();
    let prefix = format!("c{}_", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    payrail_tools::local::tables::create_tables(client, &tables, &prefix).await?;
    Ok((
        format!("{prefix}TransactionsTable"),
        format!("{prefix}AccountsTable"),
    ))
}

/// The `iss` and `aud` the stack's token functions use: template.yaml's values, resolved as
/// the local stack resolves the functions' environment.
pub fn stack_token_scope()
-> Result<payrail_shared::auth::TokenScope, Box<dyn std::error::Error + Send + Sync>> {
    use payrail_tools::local::template::{Resolver, Template};
    let template = Template::load(repo_root().join("template.yaml"))?;
    let function = template
        .resource("AuthTokenFunction")
        .ok_or("template.yaml has no AuthTokenFunction")?;
    let variables = &function.properties["Environment"]["Variables"];
    let resolver = Resolver::new(&template, "", "eu-west-1");
    let resolve = |name: &str| -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        Ok(resolver
            .resolve_string(&variables[name])?
            .ok_or_else(|| format!("AuthTokenFunction has no {name}"))?)
    };
    Ok(payrail_shared::auth::TokenScope {
        issuer: resolve("TOKEN_ISSUER")?,
        audience: resolve("TOKEN_AUDIENCE")?,
    })
}

/// Creates the template's TransactionsTable under a fresh prefix and returns its name.
pub async fn fresh_transactions_table(
    client: &Client,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let template =
        payrail_tools::local::template::Template::load(repo_root().join("template.yaml"))?;
    let tables: Vec<_> = payrail_tools::local::tables::tables_from_template(&template)?
        .into_iter()
        .filter(|t| t.logical_id == "TransactionsTable")
        .collect();
    let prefix = format!("t{}_", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    payrail_tools::local::tables::create_tables(client, &tables, &prefix).await?;
    Ok(format!("{prefix}TransactionsTable"))
}

pub const COUNTRIES: [(&str, &str); 6] = [
    ("GB", "GBP"),
    ("DE", "EUR"),
    ("FR", "EUR"),
    ("US", "USD"),
    ("JP", "JPY"),
    ("IE", "EUR"),
];

/// A card number of the brand: a known prefix, random middle, Luhn check digit.
pub fn card_number(rng: &mut ChaCha8Rng, brand: CardType) -> Option<CardNumber> {
    let (prefix, len) = match brand {
        CardType::Visa => ("4", 16),
        CardType::Mastercard => ("51", 16),
        CardType::Amex => ("37", 15),
        CardType::Discover => ("6011", 16),
        CardType::Jcb => ("3530", 16),
        CardType::Diners => ("36", 14),
        CardType::Unionpay => ("62", 16),
        _ => return None,
    };
    let mut digits = prefix.to_owned();
    while digits.len() < len - 1 {
        digits.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    let check = luhn_check_digit(&digits);
    CardNumber::parse(&format!("{digits}{check}")).ok()
}

/// A payment with everything random but what is given.
pub fn payment(rng: &mut ChaCha8Rng, created_at: Timestamp, status: PaymentStatus) -> Payment {
    let card_type = CardType::ALL[rng.random_range(0..CardType::ALL.len())];
    let (country, currency) = COUNTRIES[rng.random_range(0..COUNTRIES.len())];
    let number = card_number(rng, card_type);
    let key = FingerprintKey::new(b"test fingerprint key".to_vec());
    let card = number.as_ref().map(|n| CardSummary::of(n, 12, 2031, &key));
    Payment {
        id: PaymentId::new(),
        account_id: AccountId::new(rng.random_range(1..50)),
        payment_type: if rng.random_bool(0.5) {
            PaymentType::Online
        } else {
            PaymentType::Offline
        },
        method: if card.is_some() {
            PaymentMethod::CreditCard
        } else {
            PaymentMethod::Wallet
        },
        card_type,
        card,
        amount: MinorUnits::new(rng.random_range(1..200_000)).unwrap_or_else(|_| unreachable!()),
        currency: Currency::parse(currency).unwrap_or_else(|_| unreachable!()),
        vendor: "Test Vendor".to_owned(),
        address: "1 Test Street".to_owned(),
        country: Country::parse(country).unwrap_or_else(|_| unreachable!()),
        status,
        created_at,
        updated_at: created_at,
        refunded_amount: 0,
        failure: None,
        merchant: None,
    }
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Writes every payment through the same transactional path the functions use.
pub async fn write_all(client: &Client, table: &str, payments: &[Payment]) -> TestResult {
    use futures::TryStreamExt;
    futures::stream::iter(
        payments
            .iter()
            .map(Ok::<_, payrail_shared::store::StoreError>),
    )
    .try_for_each_concurrent(16, |p| async move {
        payrail_shared::store::record_payment(client, table, p)
            .await
            .map(|_| ())
    })
    .await?;
    Ok(())
}
