//! `owners backfill` against the local DynamoDB, on data written exactly as the code before
//! owner ids wrote it (raw items: merchant users without `merchant_id`, payments and
//! account–merchant links keyed by the merchant's name, an Idempotency-Key record under the
//! name): users first (`--users-only`), then every step, then every step again, which changes
//! nothing. Runs when `PAYRAIL_TEST_DYNAMODB_ENDPOINT` is set (`make test` sets it).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use payrail_shared::domain::{
    AccountId, CardType, Country, Currency, MerchantId, MinorUnits, Payment, PaymentId,
    PaymentMethod, PaymentStatus, PaymentType, RequestDigestKey, Timestamp,
};
use payrail_shared::payments::idempotency::{
    Begin, DynamoIdempotency, IdempotencyKey, RequestDigest, Scope, StoredResponse,
};
use payrail_shared::store::PaymentItem;
use payrail_shared::store::keys::payment_pk;
use payrail_shared::users::{DynamoUsers, FindUser, Username};
use payrail_tools::generator::{Config, client};
use payrail_tools::local::tables::{create_tables, tables_from_template};
use payrail_tools::local::template::Template;
use payrail_tools::owners::{OwnersBackfilled, Steps, backfill_owners};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Item = HashMap<String, AttributeValue>;

const CAROL: &str = "Carol's Cakes";
const DAVE: &str = "Dave's Diner";
const TWINS: &str = "Twins";

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A user item as the `users` command wrote it before owner ids (no `merchant_id`), or, with
/// `id`, one given an id by hand.
fn user(name: &str, merchant: Option<&str>, id: Option<&MerchantId>) -> Item {
    let mut item = HashMap::from([
        ("username".to_owned(), s(name)),
        (
            "password_hash".to_owned(),
            s("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"),
        ),
        (
            "role".to_owned(),
            s(if merchant.is_some() {
                "merchant"
            } else {
                "admin"
            }),
        ),
        ("enabled".to_owned(), AttributeValue::Bool(true)),
        ("created_at".to_owned(), n(1_700_000_000_000)),
    ]);
    if let Some(merchant) = merchant {
        item.insert("merchant".to_owned(), s(merchant));
    }
    if let Some(id) = id {
        item.insert("merchant_id".to_owned(), s(id.as_str()));
    }
    item
}

fn payment(
    account: u64,
    owner: Option<&str>,
    status: PaymentStatus,
    at: Timestamp,
) -> Result<Payment, Box<dyn std::error::Error>> {
    Ok(Payment {
        id: PaymentId::new(),
        account_id: AccountId::new(account),
        payment_type: PaymentType::Offline,
        method: PaymentMethod::Wallet,
        card_type: CardType::Paypal,
        card: None,
        amount: MinorUnits::new(1_250)?,
        currency: Currency::parse("GBP")?,
        vendor: owner.unwrap_or("Somewhere").to_owned(),
        address: "1 Test Street".to_owned(),
        country: Country::parse("GB")?,
        status,
        created_at: at,
        updated_at: at,
        refunded_amount: 0,
        failure: None,
        merchant: owner.map(str::to_owned),
    })
}

/// A name-keyed account–merchant link as the payment writes before owner ids left it.
fn name_link(account: u64, merchant: &str, date: Option<Timestamp>) -> Item {
    let mut item = HashMap::from([
        ("pk".to_owned(), s(&format!("ACCT#{account}"))),
        ("sk".to_owned(), s(&format!("MERCHANT#{merchant}"))),
        ("link_merchant".to_owned(), s(merchant)),
    ]);
    if let Some(date) = date {
        item.insert("last_payment_date".to_owned(), n(date.millis()));
    }
    item
}

async fn put(client: &Client, table: &str, item: Item) -> TestResult {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await?;
    Ok(())
}

async fn get(
    client: &Client,
    table: &str,
    key: &[(&str, &str)],
) -> Result<Option<Item>, Box<dyn std::error::Error>> {
    let mut request = client.get_item().table_name(table).consistent_read(true);
    for (name, value) in key {
        request = request.key(*name, s(value));
    }
    Ok(request.send().await?.item)
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// Every item of a table, in a comparable form.
async fn snapshot(client: &Client, table: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await?;
        for item in page.items.unwrap_or_default() {
            // serde_json's maps are sorted: nested maps compare too.
            items.push(serde_dynamo::from_item::<_, serde_json::Value>(item)?.to_string());
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    items.sort();
    Ok(items)
}

/// The links of `account`: merchant (from `sk`) → `last_payment_date`.
async fn links_of(
    client: &Client,
    table: &str,
    account: u64,
) -> Result<BTreeMap<String, Option<i64>>, Box<dyn std::error::Error>> {
    let found = client
        .query()
        .table_name(table)
        .consistent_read(true)
        .key_condition_expression("pk = :pk AND begins_with(sk, :m)")
        .expression_attribute_values(":pk", s(&format!("ACCT#{account}")))
        .expression_attribute_values(":m", s("MERCHANT#"))
        .send()
        .await?;
    Ok(found
        .items
        .unwrap_or_default()
        .iter()
        .map(|item| {
            let merchant = text(item, "sk").unwrap_or_default();
            (
                merchant.trim_start_matches("MERCHANT#").to_owned(),
                number(item, "last_payment_date"),
            )
        })
        .collect())
}

#[tokio::test]
async fn backfill_moves_users_payments_links_and_idempotency_records_from_names_to_ids()
-> TestResult {
    let Ok(endpoint) = std::env::var("PAYRAIL_TEST_DYNAMODB_ENDPOINT") else {
        assert!(
            std::env::var("PAYRAIL_REQUIRE_EMULATORS").is_err(),
            "PAYRAIL_TEST_DYNAMODB_ENDPOINT must be set: run the tests through `make test`"
        );
        return Ok(());
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = Template::load(root.join("template.yaml"))?;
    let tables: Vec<_> = tables_from_template(&template)?
        .into_iter()
        .filter(|t| matches!(t.logical_id.as_str(), "UsersTable" | "TransactionsTable"))
        .collect();
    let prefix = format!("owners-test-{}-", uuid::Uuid::new_v4().simple());
    let users_table = format!("{prefix}UsersTable");
    let table = format!("{prefix}TransactionsTable");
    let yaml = format!(
        "endpoint: {endpoint}\nregion: eu-west-1\ncredentials: {{ access_key_id: local, secret_access_key: local }}\ntable: {table}\n"
    );
    let dynamodb = client(&Config::parse(&yaml)?).await;
    create_tables(&dynamodb, &tables, &prefix).await?;

    // Users as before owner ids: two users of one merchant name (one merchant), another
    // merchant, an admin; and two merchants given ids by hand under one name.
    let (twin_a, twin_b) = (MerchantId::new(), MerchantId::new());
    for item in [
        user("carol", Some(CAROL), None),
        user("carol-2", Some(CAROL), None),
        user("dave", Some(DAVE), None),
        user("root", None, None),
        user("twin-a", Some(TWINS), Some(&twin_a)),
        user("twin-b", Some(TWINS), Some(&twin_b)),
    ] {
        put(&dynamodb, &users_table, item).await?;
    }

    // Payments owned by names, and their name-keyed links.
    let t = |ms: i64| Timestamp::from_millis(1_760_000_000_000 + ms);
    let carol_old = payment(1, Some(CAROL), PaymentStatus::Succeeded, t(1))?;
    let carol_new = payment(1, Some(CAROL), PaymentStatus::Succeeded, t(5))?;
    let dave_open = payment(2, Some(DAVE), PaymentStatus::Created, t(2))?;
    let upstream = payment(3, Some("upstream"), PaymentStatus::Succeeded, t(3))?;
    let kiosk = payment(3, Some("Corner Kiosk"), PaymentStatus::Succeeded, t(4))?;
    let twins = payment(4, Some(TWINS), PaymentStatus::Succeeded, t(6))?;
    let history = payment(5, None, PaymentStatus::Succeeded, t(7))?;
    let all = [
        &carol_old, &carol_new, &dave_open, &upstream, &kiosk, &twins, &history,
    ];
    for p in all {
        put(
            &dynamodb,
            &table,
            serde_dynamo::to_item(PaymentItem::of((*p).clone()))?,
        )
        .await?;
    }
    for item in [
        name_link(1, CAROL, Some(t(5))),
        name_link(2, DAVE, None),
        name_link(3, "upstream", Some(t(3))),
        name_link(3, "Corner Kiosk", Some(t(4))),
        name_link(4, TWINS, Some(t(6))),
    ] {
        put(&dynamodb, &table, item).await?;
    }

    // A completed Idempotency-Key record of carol's first payment under her name.
    let digest_key = RequestDigestKey::new(vec![7; 32]);
    let body = json!({"account_id": 1, "amount": 1250, "currency": "GBP"});
    let stored_digest = format!("hmac1:{}", digest_key.digest(&serde_json::to_vec(&body)?));
    let response = StoredResponse {
        status: 201,
        body: json!({"id": carol_old.id.to_string(), "status": "succeeded"}).to_string(),
        location: Some(format!("/payments/{}", carol_old.id)),
    };
    let key = format!("order-{}", uuid::Uuid::new_v4().simple());
    let now = Timestamp::from_millis(i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?);
    let mut record: Item = HashMap::from([
        (
            "pk".to_owned(),
            s(&format!("IDEM#{}:{CAROL}#{key}", CAROL.len())),
        ),
        ("sk".to_owned(), s("IDEM")),
        ("digest".to_owned(), s(&stored_digest)),
        ("resource_id".to_owned(), s(&carol_old.id.to_string())),
        ("created_at".to_owned(), n(now.millis() - 60_000)),
        (
            "expires_at".to_owned(),
            n((now.millis() + 23 * 3_600_000) / 1000),
        ),
    ]);
    record.insert(
        "response".to_owned(),
        serde_dynamo::to_attribute_value(&response)?,
    );
    put(&dynamodb, &table, record).await?;
    let idempotency = DynamoIdempotency::new(dynamodb.clone(), &table);
    let replay = |merchant: MerchantId| {
        let idempotency = idempotency.clone();
        let digest = RequestDigest::of(&body, &digest_key);
        let key = IdempotencyKey::parse(&key);
        async move {
            idempotency
                .begin(Scope::Payment, &merchant, &key?, &digest, now)
                .await
                .map_err(|e| -> Box<dyn std::error::Error> { e.into() })
        }
    };

    // 1. Users only: ids and registry items, nothing else.
    let before = snapshot(&dynamodb, &table).await?;
    let users_only = backfill_owners(&dynamodb, &users_table, &table, Steps::UsersOnly).await?;
    assert_eq!(
        users_only,
        OwnersBackfilled {
            users: 3,
            ..OwnersBackfilled::default()
        }
    );
    assert_eq!(
        snapshot(&dynamodb, &table).await?,
        before,
        "transactions untouched"
    );
    let users = DynamoUsers::new(dynamodb.clone(), &users_table);
    let id_of = |found: Option<payrail_shared::users::User>| {
        found.and_then(|u| u.merchant_id).ok_or("no merchant id")
    };
    let carol = id_of(users.find(&Username::parse("carol")?).await?)?;
    let carol_2 = id_of(users.find(&Username::parse("carol-2")?).await?)?;
    let dave = id_of(users.find(&Username::parse("dave")?).await?)?;
    assert_eq!(carol, carol_2, "users of one name were one merchant");
    assert_ne!(carol, dave);
    assert!(!carol.is_upstream() && !dave.is_upstream());
    let root = users.find(&Username::parse("root")?).await?.ok_or("root")?;
    assert_eq!(root.merchant_id, None, "an admin has no merchant");
    assert_eq!(
        id_of(users.find(&Username::parse("twin-a")?).await?)?,
        twin_a,
        "an id given by hand stays"
    );
    for (id, name) in [
        (&carol, CAROL),
        (&dave, DAVE),
        (&twin_a, TWINS),
        (&twin_b, TWINS),
    ] {
        let item = get(&dynamodb, &users_table, &[("username", id.as_str())])
            .await?
            .ok_or(format!("no registry item of {id}"))?;
        assert_eq!(text(&item, "merchant"), Some(name), "{id}");
        assert_eq!(text(&item, "merchant_id"), Some(id.as_str()));
    }
    let id_record = format!("IDEM#{}:{carol}#{key}", carol.as_str().len());
    let under_id = get(&dynamodb, &table, &[("pk", &id_record), ("sk", "IDEM")]).await?;
    assert!(under_id.is_none(), "no record under the id yet");

    // 2. Every step.
    let done = backfill_owners(&dynamodb, &users_table, &table, Steps::All).await?;
    assert_eq!(done.users, 0);
    assert_eq!(done.payments, 5, "{done:?}");
    assert_eq!(
        done.to_upstream, 2,
        "upstream and an unknown name: {done:?}"
    );
    assert_eq!(done.ambiguous, [payment_pk(&twins.id)]);
    assert_eq!((done.links, done.old_links), (3, 5), "{done:?}");
    assert_eq!(done.idempotency, 1);
    let upstream_id = MerchantId::upstream();
    for (p, owner) in [
        (&carol_old, Some(carol.as_str())),
        (&carol_new, Some(carol.as_str())),
        (&dave_open, Some(dave.as_str())),
        (&upstream, Some(upstream_id.as_str())),
        (&kiosk, Some(upstream_id.as_str())),
        (&twins, Some(TWINS)),
        (&history, None),
    ] {
        let item = get(
            &dynamodb,
            &table,
            &[("pk", &payment_pk(&p.id)), ("sk", "PAYMENT")],
        )
        .await?
        .ok_or("payment gone")?;
        assert_eq!(text(&item, "merchant"), owner, "{}", p.vendor);
        let version = number(&item, "version").unwrap_or_default();
        assert_eq!(
            version,
            i64::from(owner.is_some_and(|o| o != TWINS)),
            "{}",
            p.vendor
        );
    }
    assert_eq!(
        links_of(&dynamodb, &table, 1).await?,
        BTreeMap::from([(carol.to_string(), Some(t(5).millis()))])
    );
    assert_eq!(
        links_of(&dynamodb, &table, 2).await?,
        BTreeMap::from([(dave.to_string(), None)])
    );
    assert_eq!(
        links_of(&dynamodb, &table, 3).await?,
        BTreeMap::from([(upstream_id.to_string(), Some(t(4).millis()))])
    );
    assert_eq!(links_of(&dynamodb, &table, 4).await?, BTreeMap::new());
    assert_eq!(links_of(&dynamodb, &table, 5).await?, BTreeMap::new());
    // The retry of carol's request, under her id: the first answer.
    assert_eq!(
        replay(carol.clone()).await?,
        Begin::Replay(response.clone())
    );

    // 3. Again: nothing left to change.
    let settled = snapshot(&dynamodb, &table).await?;
    let users_settled = snapshot(&dynamodb, &users_table).await?;
    let again = backfill_owners(&dynamodb, &users_table, &table, Steps::All).await?;
    assert_eq!(
        (
            again.users,
            again.payments,
            again.old_links,
            again.idempotency
        ),
        (0, 0, 0, 0),
        "{again:?}"
    );
    assert_eq!(again.ambiguous, [payment_pk(&twins.id)], "still listed");
    assert_eq!(snapshot(&dynamodb, &table).await?, settled);
    assert_eq!(snapshot(&dynamodb, &users_table).await?, users_settled);

    for name in [&table, &users_table] {
        dynamodb.delete_table().table_name(name).send().await?;
    }
    Ok(())
}
