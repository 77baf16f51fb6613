//! The account–merchant links every payment writer keeps (shared/src/store/links.rs), against
//! the emulator on fresh tables: the API's and the consumers' store (`DynamoPayments`), the
//! bulk `record_payment`, and `store_failed`. A link exists once the merchant holds a payment of
//! the account (any status) and carries the newest `created_at` of the merchant's completed
//! payments only, whatever order they arrive in.

mod support;

use aws_sdk_dynamodb::Client;
use payrail_shared::accounts::{Account, DynamoAccounts};
use payrail_shared::domain::{AccountId, Payment, PaymentStatus, Timestamp};
use payrail_shared::store::links::DynamoLinks;
use payrail_shared::store::payments::DynamoPayments;
use payrail_shared::store::record_payment;
use support::{TestResult, rng};

struct Fixture {
    payments: DynamoPayments,
    links: DynamoLinks,
    accounts: DynamoAccounts,
    transactions: String,
    client: Client,
}

async fn fixture() -> Result<Option<Fixture>, Box<dyn std::error::Error + Send + Sync>> {
    let Some(client) = support::dynamodb().await else {
        return Ok(None);
    };
    let (transactions, accounts_table) = support::fresh_payment_tables(&client).await?;
    let accounts = DynamoAccounts::new(client.clone(), &accounts_table);
    accounts
        .add(&Account {
            account_id: AccountId::new(7),
            email: "payer@example.com".to_owned(),
            birthdate: "1990-01-01".to_owned(),
            last_payment_date: None,
            created_at: Timestamp::from_millis(1),
        })
        .await?;
    Ok(Some(Fixture {
        payments: DynamoPayments::new(client.clone(), &transactions, accounts.clone()),
        links: DynamoLinks::new(client.clone(), &transactions),
        accounts,
        transactions,
        client,
    }))
}

fn payment(seed: u64, merchant: Option<&str>, at: i64, status: PaymentStatus) -> Payment {
    let mut p = support::payment(&mut rng(seed), Timestamp::from_millis(at), status);
    p.account_id = AccountId::new(7);
    p.merchant = merchant.map(str::to_owned);
    p
}

impl Fixture {
    /// The merchant's date on account 7: `None` no link, `Some(None)` linked and undated.
    async fn link(
        &self,
        merchant: &str,
    ) -> Result<Option<Option<i64>>, payrail_shared::store::StoreError> {
        Ok(self
            .links
            .get(AccountId::new(7), merchant)
            .await?
            .map(|l| l.last_payment_date.map(|t| t.millis())))
    }

    async fn account_date(&self) -> Result<Option<i64>, payrail_shared::store::StoreError> {
        Ok(self
            .accounts
            .get(AccountId::new(7))
            .await?
            .and_then(|a| a.last_payment_date)
            .map(|t| t.millis()))
    }
}

#[tokio::test]
async fn the_payment_store_links_on_the_first_write_and_dates_on_completion_in_any_order()
-> TestResult {
    let Some(f) = fixture().await? else {
        return Ok(());
    };

    // Alice: a newer completed payment, then an older one (which must not move the date back).
    f.payments
        .create(
            &payment(1, Some("A"), 2_000, PaymentStatus::Succeeded),
            None,
        )
        .await?;
    assert_eq!(f.link("A").await?, Some(Some(2_000)));
    let older = payment(2, Some("A"), 1_000, PaymentStatus::Succeeded);
    f.payments.create(&older, None).await?;
    assert!(
        f.payments.get(&older.id).await?.is_some(),
        "the older one is stored"
    );
    assert_eq!(f.link("A").await?, Some(Some(2_000)));
    assert_eq!(f.account_date().await?, Some(2_000));

    // Bob: a created payment links without a date; completing it dates Bob's link only.
    let created = payment(3, Some("B"), 500, PaymentStatus::Created);
    f.payments.create(&created, None).await?;
    assert_eq!(f.link("B").await?, Some(None));
    let stored = f.payments.get(&created.id).await?.ok_or("stored")?;
    let mut done = created.clone();
    done.status = PaymentStatus::Succeeded;
    f.payments.update(&stored, &done, None).await?;
    assert_eq!(f.link("B").await?, Some(Some(500)));
    assert_eq!(f.link("A").await?, Some(Some(2_000)));
    assert_eq!(f.account_date().await?, Some(2_000));

    // A later completed payment of Bob moves both Bob's date and the account's.
    f.payments
        .create(
            &payment(4, Some("B"), 3_000, PaymentStatus::Succeeded),
            None,
        )
        .await?;
    assert_eq!(f.link("B").await?, Some(Some(3_000)));
    assert_eq!(f.link("A").await?, Some(Some(2_000)));
    assert_eq!(f.account_date().await?, Some(3_000));

    // A declined payment of Carol links her, undated.
    f.payments
        .create(&payment(5, Some("C"), 4_000, PaymentStatus::Declined), None)
        .await?;
    assert_eq!(f.link("C").await?, Some(None));
    Ok(())
}

#[tokio::test]
async fn record_payment_links_owned_payments_and_store_failed_and_unowned_ones_link_nothing()
-> TestResult {
    let Some(f) = fixture().await? else {
        return Ok(());
    };

    record_payment(
        &f.client,
        &f.transactions,
        &payment(11, Some("A"), 5_000, PaymentStatus::Succeeded),
    )
    .await?;
    let older = payment(12, Some("A"), 4_000, PaymentStatus::Succeeded);
    let recorded = record_payment(&f.client, &f.transactions, &older).await?;
    assert_eq!(
        recorded,
        payrail_shared::store::Recorded::New,
        "the older one is stored"
    );
    assert_eq!(f.link("A").await?, Some(Some(5_000)));

    // An account that does not exist links no merchant: a later account of that id is
    // another payer.
    let mut orphan = payment(13, Some("D"), 6_000, PaymentStatus::Pending);
    orphan.account_id = AccountId::new(8);
    f.payments
        .store_failed(&orphan, "account 8 does not exist")
        .await?;
    assert!(f.links.get(AccountId::new(8), "D").await?.is_none());

    // A payment without an owner (generated history) links nobody.
    f.payments
        .create(&payment(14, None, 7_000, PaymentStatus::Succeeded), None)
        .await?;
    record_payment(
        &f.client,
        &f.transactions,
        &payment(15, None, 8_000, PaymentStatus::Succeeded),
    )
    .await?;
    let links = f
        .client
        .query()
        .table_name(&f.transactions)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S("ACCT#7".to_owned()),
        )
        .send()
        .await?;
    assert_eq!(links.count, 1, "only A's link: {:?}", links.items);
    Ok(())
}

/// Stores payments as they were before links existed: the payment items alone.
async fn store_without_links(f: &Fixture, payments: &[Payment]) -> TestResult {
    for p in payments {
        let item = serde_dynamo::to_item(payrail_shared::store::PaymentItem::of(p.clone()))?;
        f.client
            .put_item()
            .table_name(&f.transactions)
            .set_item(Some(item))
            .send()
            .await?;
    }
    Ok(())
}

#[tokio::test]
async fn the_backfill_links_existing_payments_with_their_newest_completed_date_idempotently()
-> TestResult {
    let Some(f) = fixture().await? else {
        return Ok(());
    };
    store_without_links(
        &f,
        &[
            payment(21, Some("A"), 1_000, PaymentStatus::Succeeded),
            payment(22, Some("A"), 3_000, PaymentStatus::Refunded),
            payment(23, Some("A"), 9_000, PaymentStatus::Declined),
            payment(24, Some("B"), 2_000, PaymentStatus::Pending),
            payment(25, None, 8_000, PaymentStatus::Succeeded),
        ],
    )
    .await?;
    // C's link was written by a function after the deploy, with a later date than its old
    // payment: the backfill keeps it.
    f.payments
        .create(
            &payment(26, Some("C"), 7_000, PaymentStatus::Succeeded),
            None,
        )
        .await?;
    store_without_links(
        &f,
        &[payment(27, Some("C"), 5_000, PaymentStatus::Succeeded)],
    )
    .await?;

    let first = payrail_tools::links::backfill_links(&f.client, &f.transactions).await?;

    assert_eq!((first.payments, first.unowned, first.links), (7, 1, 3));
    assert_eq!(f.link("A").await?, Some(Some(3_000)), "completed ones only");
    assert_eq!(
        f.link("B").await?,
        Some(None),
        "linked by a pending payment, undated"
    );
    assert_eq!(
        f.link("C").await?,
        Some(Some(7_000)),
        "a later date is kept"
    );
    let again = payrail_tools::links::backfill_links(&f.client, &f.transactions).await?;
    assert_eq!(again, first);
    assert_eq!(f.link("A").await?, Some(Some(3_000)));
    assert_eq!(f.link("C").await?, Some(Some(7_000)));
    Ok(())
}
