//! The checks, in the order they run: the OpenAPI document, a merchant token, an offline
//! payment with an Idempotency-Key and its replay, reading it back, an online payment followed
//! until the gateway has answered, and, with admin credentials, the two reports.

use super::client::{ApiClient, Reply, Session};
use super::{Backoff, CheckLine, SMOKE_VENDOR, SmokeConfig, SmokeError, TEST_CARD_NUMBER};
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How long a completed payment may take to show in the report (its indexes are eventually
/// consistent in DynamoDB).
const REPORT_DEADLINE: Duration = Duration::from_secs(30);
/// At most this many report pages are read looking for the smoke payment.
const REPORT_PAGES: usize = 5;

type Report<'r> = &'r mut dyn FnMut(&CheckLine);

fn fail(check: &str, reason: impl Into<String>) -> SmokeError {
    SmokeError::Body {
        check: check.to_owned(),
        reason: reason.into(),
    }
}

/// Fails `check` unless `body[field]` is `expected`.
fn expect_field(
    check: &str,
    body: &Value,
    field: &str,
    expected: &Value,
) -> Result<(), SmokeError> {
    let got = body.pointer(field).unwrap_or(&Value::Null);
    if got == expected {
        return Ok(());
    }
    Err(fail(
        check,
        format!("{field} is {got}, expected {expected}"),
    ))
}

pub struct Smoke<'a> {
    config: &'a SmokeConfig,
    api: ApiClient<'a>,
    merchant: Session<'a>,
    /// A random amount, so this run's payment can be picked out of the report.
    amount: u64,
    /// Tells this run's idempotency keys from any other run's.
    run_id: String,
}

impl<'a> Smoke<'a> {
    pub fn new(config: &'a SmokeConfig) -> Result<Smoke<'a>, SmokeError> {
        Ok(Smoke {
            config,
            api: ApiClient::new(&config.base_url, TEST_CARD_NUMBER, config.request_timeout)?,
            merchant: Session::new(&config.merchant),
            amount: rand::rng().random_range(100..100_000),
            run_id: uuid::Uuid::new_v4().to_string(),
        })
    }

    pub async fn run(mut self, report: Report<'_>) -> Result<(), SmokeError> {
        self.openapi(report).await?;

        let check = "POST /auth/token (merchant)";
        let reply = self.merchant.log_in(&self.api, check).await?;
        report(&line(
            check,
            &reply,
            format!("as {}", self.config.merchant.username),
        ));

        let offline = self.create_offline(report).await?;
        self.get_payment(&offline, report).await?;
        let online = self
            .create(report, "POST /payments (online)", "online")
            .await?;
        self.follow_until_final(&online, report).await?;

        match &self.config.admin {
            Some(admin) => {
                let mut admin = Session::new(admin);
                let check = "POST /auth/token (admin)";
                let reply = admin.log_in(&self.api, check).await?;
                report(&line(
                    check,
                    &reply,
                    format!(
                        "as {}",
                        self.config
                            .admin
                            .as_ref()
                            .map_or("", |a| a.username.as_str())
                    ),
                ));
                self.transactions(&mut admin, &offline, report).await?;
                self.count(&mut admin, report).await?;
            }
            None => report(&CheckLine {
                name: "reports",
                latency: Duration::ZERO,
                detail: "no admin credentials given".to_owned(),
                skipped: true,
            }),
        }
        Ok(())
    }

    async fn openapi(&self, report: Report<'_>) -> Result<(), SmokeError> {
        let check = "GET /openapi.json";
        let reply = self
            .api
            .send(check, Method::GET, "/openapi.json", |r| r)
            .await?;
        reply.expect_status(check, StatusCode::OK)?;
        let document = reply.json(check)?;
        let version = document["openapi"].as_str().unwrap_or_default();
        if !version.starts_with("3.1") {
            return Err(fail(
                check,
                format!("openapi is {:?}, expected 3.1.x", version),
            ));
        }
        for path in [
            "/payments",
            "/payments/{id}",
            "/transactions",
            "/transactions/count",
        ] {
            if document["paths"].get(path).is_none() {
                return Err(fail(check, format!("the document has no path {path}")));
            }
        }
        report(&line(check, &reply, format!("OpenAPI {version}")));
        Ok(())
    }

    fn payment_body(&self, payment_type: &str) -> Value {
        let exp_year = time::OffsetDateTime::now_utc().year() + 3;
        json!({
            "account_id": self.config.account_id,
            "amount": self.amount,
            "currency": "GBP",
            "payment_type": payment_type,
            "method": "credit_card",
            "card": {"number": TEST_CARD_NUMBER, "exp_month": 12, "exp_year": exp_year, "cvc": "123"},
            "address": "payrail smoke test",
            "country": "GB",
            "vendor": SMOKE_VENDOR,
        })
    }

    async fn post_payment(
        &mut self,
        check: &str,
        body: &Value,
        key: &str,
    ) -> Result<Reply, SmokeError> {
        let bearer = self.merchant.bearer(&self.api, check).await?;
        self.api
            .send(check, Method::POST, "/payments", |r| {
                r.header("authorization", bearer)
                    .header("idempotency-key", key)
                    .json(body)
            })
            .await
    }

    /// Creates a payment and checks what comes back; returns its id.
    async fn create(
        &mut self,
        report: Report<'_>,
        check: &'static str,
        payment_type: &str,
    ) -> Result<String, SmokeError> {
        let (expected_status, expected) = match payment_type {
            "offline" => (StatusCode::CREATED, "succeeded"),
            _ => (StatusCode::ACCEPTED, "pending"),
        };
        let body = self.payment_body(payment_type);
        let key = format!("smoke-{}-{payment_type}", self.run_id);
        let reply = self.post_payment(check, &body, &key).await?;
        reply.expect_status(check, expected_status)?;
        let payment = reply.json(check)?;
        self.check_payment(check, &payment, expected)?;
        let id = payment["id"].as_str().unwrap_or_default().to_owned();
        let location = format!("/payments/{id}");
        if reply.header("location") != Some(location.as_str()) {
            return Err(fail(
                check,
                format!(
                    "Location is {:?}, expected {location}",
                    reply.header("location")
                ),
            ));
        }
        report(&line(check, &reply, format!("{id} {expected}")));
        Ok(id)
    }

    /// The offline payment, then the same request again: the first answer replayed.
    async fn create_offline(&mut self, report: Report<'_>) -> Result<String, SmokeError> {
        let id = self
            .create(report, "POST /payments (offline)", "offline")
            .await?;
        let check = "POST /payments (replayed)";
        let body = self.payment_body("offline");
        let key = format!("smoke-{}-offline", self.run_id);
        let reply = self.post_payment(check, &body, &key).await?;
        reply.expect_status(check, StatusCode::CREATED)?;
        if reply.header("idempotent-replayed") != Some("true") {
            return Err(fail(
                check,
                "no `Idempotent-Replayed: true` header on the repeated request",
            ));
        }
        expect_field(check, &reply.json(check)?, "/id", &json!(id))?;
        report(&line(
            check,
            &reply,
            "same payment, Idempotent-Replayed: true".to_owned(),
        ));
        Ok(id)
    }

    /// What every view of a smoke payment must show: its fields as sent, the card masked.
    fn check_payment(&self, check: &str, payment: &Value, status: &str) -> Result<(), SmokeError> {
        let id = payment["id"].as_str().unwrap_or_default();
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(fail(check, format!("id {id:?} is not a UUID")));
        }
        let last4 = &TEST_CARD_NUMBER[TEST_CARD_NUMBER.len() - 4..];
        let masked = format!("{}******{last4}", &TEST_CARD_NUMBER[..6]);
        for (field, expected) in [
            ("/status", json!(status)),
            ("/account_id", json!(self.config.account_id)),
            ("/amount", json!(self.amount)),
            ("/currency", json!("GBP")),
            ("/vendor", json!(SMOKE_VENDOR)),
            ("/card_type", json!("visa")),
            ("/card/last4", json!(last4)),
            ("/card/masked", json!(masked)),
        ] {
            expect_field(check, payment, field, &expected)?;
        }
        Ok(())
    }

    async fn get(&mut self, check: &str, id: &str) -> Result<(Reply, Value), SmokeError> {
        let bearer = self.merchant.bearer(&self.api, check).await?;
        let reply = self
            .api
            .send(check, Method::GET, &format!("/payments/{id}"), |r| {
                r.header("authorization", bearer)
            })
            .await?;
        reply.expect_status(check, StatusCode::OK)?;
        let payment = reply.json(check)?;
        expect_field(check, &payment, "/id", &json!(id))?;
        Ok((reply, payment))
    }

    async fn get_payment(&mut self, id: &str, report: Report<'_>) -> Result<(), SmokeError> {
        let check = "GET /payments/{id}";
        let (reply, payment) = self.get(check, id).await?;
        self.check_payment(check, &payment, "succeeded")?;
        report(&line(check, &reply, "succeeded, card masked".to_owned()));
        Ok(())
    }

    /// Reads the online payment with growing pauses until the gateway's answer is in:
    /// `succeeded`, or `declined` (a live gateway declines the test card). `failed` or a
    /// payment still pending at the deadline fails the check.
    async fn follow_until_final(&mut self, id: &str, report: Report<'_>) -> Result<(), SmokeError> {
        let check = "online payment final";
        let started = Instant::now();
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
        let mut reads = 0;
        loop {
            let (_, payment) = self.get(check, id).await?;
            reads += 1;
            let status = payment["status"].as_str().unwrap_or_default().to_owned();
            match status.as_str() {
                "succeeded" | "declined" => {
                    self.check_payment(check, &payment, &status)?;
                    report(&CheckLine {
                        name: check,
                        latency: started.elapsed(),
                        detail: format!("{status} after {reads} read(s)"),
                        skipped: false,
                    });
                    return Ok(());
                }
                "pending" | "created" => {}
                _ => {
                    return Err(fail(
                        check,
                        format!("the payment is {status}: {}", payment["failure"]),
                    ));
                }
            }
            let left = self.config.online_timeout.saturating_sub(started.elapsed());
            let Some(wait) = backoff.next_wait(left) else {
                return Err(SmokeError::TimedOut {
                    check: check.to_owned(),
                    reason: format!("payment {id} still {status} after {reads} read(s)"),
                    waited: started.elapsed(),
                });
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// GET /transactions?days=1 narrowed to this run's amount: the offline payment must be in
    /// it, completed and marked as a smoke payment.
    async fn transactions(
        &self,
        admin: &mut Session<'_>,
        id: &str,
        report: Report<'_>,
    ) -> Result<(), SmokeError> {
        let check = "GET /transactions?days=1";
        let started = Instant::now();
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
        let mut last_latency;
        loop {
            let mut cursor: Option<String> = None;
            let mut rows = 0;
            for _ in 0..REPORT_PAGES {
                let amount = self.amount.to_string();
                let mut query = vec![
                    ("days", "1"),
                    ("card_type", "visa"),
                    ("min_amount", amount.as_str()),
                    ("max_amount", amount.as_str()),
                    ("limit", "1000"),
                ];
                if let Some(cursor) = cursor.as_deref() {
                    query.push(("cursor", cursor));
                }
                let bearer = admin.bearer(&self.api, check).await?;
                let reply = self
                    .api
                    .send(check, Method::GET, "/transactions", |r| {
                        r.header("authorization", bearer).query(&query)
                    })
                    .await?;
                reply.expect_status(check, StatusCode::OK)?;
                last_latency = reply.latency;
                let page = reply.json(check)?;
                let data = page["data"]
                    .as_array()
                    .ok_or_else(|| fail(check, "no data array"))?;
                rows += data.len();
                if let Some(found) = data.iter().find(|row| row["id"] == id) {
                    expect_field(check, found, "/vendor", &json!(SMOKE_VENDOR))?;
                    expect_field(check, found, "/status", &json!("succeeded"))?;
                    report(&CheckLine {
                        name: check,
                        latency: last_latency,
                        detail: format!(
                            "the offline payment listed ({rows} row(s) read, {:.1?} in all)",
                            started.elapsed()
                        ),
                        skipped: false,
                    });
                    return Ok(());
                }
                match page["next_cursor"].as_str() {
                    Some(next) if page["has_more"] == true => cursor = Some(next.to_owned()),
                    _ => break,
                }
            }
            let left = REPORT_DEADLINE.saturating_sub(started.elapsed());
            let Some(wait) = backoff.next_wait(left) else {
                return Err(SmokeError::TimedOut {
                    check: check.to_owned(),
                    reason: format!(
                        "payment {id} is not in the report ({rows} row(s) of amount {} read)",
                        self.amount
                    ),
                    waited: started.elapsed(),
                });
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// GET /transactions/count?days=1&card_type=visa: at least this run's payment.
    async fn count(&self, admin: &mut Session<'_>, report: Report<'_>) -> Result<(), SmokeError> {
        let check = "GET /transactions/count";
        let bearer = admin.bearer(&self.api, check).await?;
        let reply = self
            .api
            .send(
                check,
                Method::GET,
                "/transactions/count?days=1&card_type=visa",
                |r| r.header("authorization", bearer),
            )
            .await?;
        reply.expect_status(check, StatusCode::OK)?;
        let answer = reply.json(check)?;
        expect_field(check, &answer, "/days", &json!(1))?;
        expect_field(check, &answer, "/card_type", &json!("visa"))?;
        let count = answer["count"]
            .as_u64()
            .ok_or_else(|| fail(check, "count is not an integer"))?;
        if count == 0 {
            return Err(fail(
                check,
                "count is 0, but this run's payment is a visa payment of today",
            ));
        }
        report(&line(
            check,
            &reply,
            format!("{count} visa payment(s) today"),
        ));
        Ok(())
    }
}

fn line(name: &'static str, reply: &Reply, detail: String) -> CheckLine {
    CheckLine {
        name,
        latency: reply.latency,
        detail,
        skipped: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smoke::{Credentials, Password};

    fn config() -> SmokeConfig {
        let credentials = Credentials {
            username: "smoke".to_owned(),
            password: Password::new("secret".to_owned()),
        };
        SmokeConfig {
            base_url: "http://127.0.0.1:9".to_owned(),
            merchant: credentials,
            admin: None,
            account_id: 42,
            online_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn a_smoke_payment_is_marked_with_the_smoke_vendor_and_account() -> Result<(), SmokeError> {
        let config = config();
        let smoke = Smoke::new(&config)?;
        let body = smoke.payment_body("offline");
        assert_eq!(body["vendor"], SMOKE_VENDOR);
        assert_eq!(body["account_id"], 42);
        assert_eq!(body["card"]["number"], TEST_CARD_NUMBER);
        Ok(())
    }

    #[test]
    fn a_payment_view_with_another_vendor_fails_the_check() -> Result<(), SmokeError> {
        let config = config();
        let smoke = Smoke::new(&config)?;
        let view = json!({
            "id": uuid::Uuid::new_v4().to_string(), "status": "succeeded", "account_id": 42,
            "amount": smoke.amount, "currency": "GBP", "vendor": "Alice's Shop", "card_type": "visa",
            "card": {"last4": "1881", "masked": "401288******1881"},
        });
        let err = smoke.check_payment("check", &view, "succeeded").err();
        assert!(
            matches!(&err, Some(SmokeError::Body { reason, .. }) if reason.starts_with("/vendor")),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn the_password_is_not_in_debug_output() {
        assert!(!format!("{:?}", config()).contains("secret"));
    }

    #[tokio::test]
    async fn an_unreachable_api_fails_the_first_check_naming_it() -> Result<(), SmokeError> {
        let config = config();
        let err = super::super::run(&config, &mut |_| {}).await.err();
        assert!(
            matches!(&err, Some(SmokeError::Request { check, .. }) if check == "GET /openapi.json"),
            "{err:?}"
        );
        Ok(())
    }
}
