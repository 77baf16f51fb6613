//! The fault tests' harness (tests/tests/stream_faults.rs), for the stack that
//! `PAYRAIL_FAULT_STACK=1 infra/local/test-env.sh` starts: emulator control (the stop-/start-
//! scripts stack.sh writes), a merchant client that retries POST /payments with its
//! Idempotency-Key as a real client would, an upstream producer that retries its sends as the
//! AWS SDK would, and the reads the checks need (the table, the aggregates, the simulator's
//! charges).

use super::api::Error;
use aws_sdk_dynamodb::types::AttributeValue;
use payrail_shared::auth::{ActingFor, Role, SigningKey, TokenIssuer};
use payrail_shared::cards::CardCipher;
use payrail_shared::domain::{Clock, MerchantId, SystemClock};
use payrail_shared::secrets::SecretValue;
use payrail_shared::store::{PaymentItem, keys};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

/// The variable that makes the fault tests run (they skip without it).
pub const FAULT_STACK: &str = "PAYRAIL_FAULT_STACK";

pub const MERCHANT: &str = "Alice's Shop";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emulator {
    Sqs,
    DynamoDb,
}

impl Emulator {
    pub fn name(self) -> &'static str {
        match self {
            Emulator::Sqs => "sqs",
            Emulator::DynamoDb => "dynamodb",
        }
    }

    fn scripts(self) -> (&'static str, &'static str) {
        match self {
            Emulator::Sqs => ("PAYRAIL_STOP_SQS", "PAYRAIL_START_SQS"),
            Emulator::DynamoDb => ("PAYRAIL_STOP_DYNAMODB", "PAYRAIL_START_DYNAMODB"),
        }
    }
}

/// What one POST /payments cost before its 2xx: the error statuses seen on the way.
#[derive(Debug, Clone, Default)]
pub struct Answers {
    pub statuses: Vec<u16>,
    pub transport_errors: u32,
}

pub struct FaultStack {
    pub api_url: String,
    pub simulator_url: String,
    pub http: reqwest::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub table: String,
    pub online_queue: String,
    pub offline_queue: String,
    pub dead_letter_queues: Vec<String>,
    pub cipher: CardCipher,
    /// The demo merchant's (alice's) id, read from the users table.
    pub merchant_id: MerchantId,
    issuer: TokenIssuer,
}

fn var(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("{name} must be set by test-env.sh").into())
}

impl FaultStack {
    /// The stack, or `None` (and a note) unless `PAYRAIL_FAULT_STACK` is set: the fault tests
    /// stop emulators, so they run only in a stack of their own.
    pub async fn from_env() -> Result<Option<FaultStack>, Error> {
        if std::env::var(FAULT_STACK).map_or(true, |v| v.is_empty()) {
            eprintln!(
                "skipping: {FAULT_STACK} is not set (run through `make test`, which starts a \
                 stack of their own for the fault tests)"
            );
            return Ok(None);
        }
        let region = aws_config::Region::new(
            std::env::var("AWS_REGION").unwrap_or_else(|_| "eu-west-1".into()),
        );
        let credentials =
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "tests");
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(region)
            .credentials_provider(credentials)
            .load()
            .await;
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&config)
                .endpoint_url(var("PAYRAIL_TEST_DYNAMODB_ENDPOINT")?)
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&config)
                .endpoint_url(var("PAYRAIL_SQS_ENDPOINT")?)
                .build(),
        );
        let cipher =
            CardCipher::from_secrets(&SecretValue::new(var("CARD_DATA_KEY")?.into_bytes()), &[])?;
        let issuer = TokenIssuer::new(
            &SigningKey::new(var("TOKEN_SIGNING_KEY")?.into_bytes())?,
            30,
            super::stack_token_scope()?,
        );
        let merchant_id = super::merchant_id_of(&dynamodb, "alice").await?;
        Ok(Some(FaultStack {
            merchant_id,
            api_url: var("PAYRAIL_API_URL")?,
            simulator_url: var("PAYRAIL_SIMULATOR_URL")?,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(90))
                .build()?,
            dynamodb,
            sqs,
            table: var("TRANSACTIONS_TABLE")?,
            online_queue: var("ONLINE_QUEUE_URL")?,
            offline_queue: var("OFFLINE_QUEUE_URL")?,
            dead_letter_queues: vec![
                var("ONLINE_DEAD_LETTER_QUEUE_URL")?,
                var("OFFLINE_DEAD_LETTER_QUEUE_URL")?,
            ],
            cipher,
            issuer,
        }))
    }

    async fn control(&self, script_var: &str) -> Result<(), Error> {
        let script = PathBuf::from(var(script_var)?);
        let status = tokio::process::Command::new(&script).status().await?;
        if !status.success() {
            return Err(format!("{} failed: {status}", script.display()).into());
        }
        Ok(())
    }

    /// Stops the emulator (returns once its process is gone).
    pub async fn stop(&self, emulator: Emulator) -> Result<(), Error> {
        self.control(emulator.scripts().0).await
    }

    /// Starts it again on its port (returns once it answers; SQS with its queues again).
    pub async fn start(&self, emulator: Emulator) -> Result<(), Error> {
        self.control(emulator.scripts().1).await
    }

    /// A fresh merchant token, signed with the stack's key as POST /auth/token would sign it
    /// (that route needs DynamoDB, which a test may have stopped).
    fn bearer(&self) -> Result<String, Error> {
        let token = self.issuer.issue(
            "alice",
            Role::Merchant,
            Some(ActingFor {
                id: &self.merchant_id,
                name: MERCHANT,
            }),
            SystemClock.now(),
        )?;
        Ok(format!("Bearer {}", token.access_token))
    }

    /// POST /payments until a 2xx, retrying with the same Idempotency-Key and body after a 409
    /// (in flight), a 503 or a 500 (each problem+json), or no answer at all; any other answer is
    /// an error, as is no 2xx by `deadline`. Returns the 2xx's body and what came before it.
    pub async fn create_until_accepted(
        &self,
        body: &Value,
        key: &str,
        deadline: Instant,
    ) -> Result<(Value, Answers), Error> {
        let mut answers = Answers::default();
        let mut pause = Duration::from_millis(200);
        loop {
            let sent = self
                .http
                .post(format!("{}/payments", self.api_url))
                .header("authorization", self.bearer()?)
                .header("idempotency-key", key)
                .json(body)
                .send()
                .await;
            match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let content_type = response
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let text = response.text().await?;
                    if (200..300).contains(&status) {
                        return Ok((serde_json::from_str(&text)?, answers));
                    }
                    if !matches!(status, 409 | 500 | 503)
                        || content_type != "application/problem+json"
                    {
                        return Err(format!(
                            "POST /payments ({key}) answered {status} {content_type}: {text}"
                        )
                        .into());
                    }
                    answers.statuses.push(status);
                }
                Err(_) => answers.transport_errors += 1,
            }
            if Instant::now() + pause > deadline {
                return Err(format!("POST /payments ({key}): no 2xx in time: {answers:?}").into());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Sends `body` to `queue` until SQS confirms it (retrying as the SDK would, with backoff),
    /// or fails at `deadline`. Returns how many attempts failed.
    pub async fn send_until_confirmed(
        &self,
        queue: &str,
        body: &str,
        deadline: Instant,
    ) -> Result<u32, Error> {
        let mut failures = 0;
        let mut pause = Duration::from_millis(200);
        loop {
            let sent = self
                .sqs
                .send_message()
                .queue_url(queue)
                .message_body(body)
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(failures),
                Err(err) if Instant::now() + pause > deadline => {
                    return Err(format!(
                        "no send confirmed in time: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(err)
                    )
                    .into());
                }
                Err(_) => failures += 1,
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    async fn scan(
        &self,
        filter: &str,
        values: HashMap<String, AttributeValue>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, Error> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(&self.table)
                .filter_expression(filter)
                .set_expression_attribute_values(Some(values.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Every payment item in the table.
    pub async fn payments(&self) -> Result<Vec<PaymentItem>, Error> {
        let raw = self
            .scan(
                "begins_with(pk, :p)",
                HashMap::from([(":p".to_owned(), AttributeValue::S("PAY#".into()))]),
            )
            .await?;
        raw.into_iter()
            .map(|item| Ok(serde_dynamo::from_item(item)?))
            .collect()
    }

    /// The aggregate counters as stored, the shards of a day summed: (pk, day) → attribute
    /// (`n`, `c_GB`, ...) → count.
    pub async fn aggregates(
        &self,
    ) -> Result<BTreeMap<(String, String), BTreeMap<String, u64>>, Error> {
        let raw = self
            .scan(
                "begins_with(pk, :p)",
                HashMap::from([(":p".to_owned(), AttributeValue::S("AGG#".into()))]),
            )
            .await?;
        let mut out = BTreeMap::new();
        for item in raw {
            let text = |name: &str| match item.get(name) {
                Some(AttributeValue::S(s)) => s.clone(),
                _ => String::new(),
            };
            let day = keys::aggregate_day(&text("sk")).map(|d| d.to_string());
            let counts: &mut BTreeMap<String, u64> = out
                .entry((text("pk"), day.unwrap_or_default()))
                .or_default();
            for (name, value) in &item {
                if let AttributeValue::N(n) = value
                    && let Ok(n) = n.parse::<u64>()
                    && n > 0
                {
                    *counts.entry(name.clone()).or_default() += n;
                }
            }
        }
        Ok(out)
    }

    /// The simulator's ledger (GET /charges): one entry per payment id it was asked to charge.
    pub async fn charges(&self) -> Result<Vec<Value>, Error> {
        Ok(self
            .http
            .get(format!("{}/charges", self.simulator_url))
            .send()
            .await?
            .json()
            .await?)
    }

    /// The gateway simulator's behaviour (GET /behaviour).
    pub async fn behaviour(&self) -> Result<Value, Error> {
        Ok(self
            .http
            .get(format!("{}/behaviour", self.simulator_url))
            .send()
            .await?
            .json()
            .await?)
    }

    /// Changes the gateway simulator's behaviour (PUT /behaviour).
    pub async fn set_behaviour(&self, behaviour: &Value) -> Result<(), Error> {
        let response = self
            .http
            .put(format!("{}/behaviour", self.simulator_url))
            .json(behaviour)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("PUT /behaviour: {}", response.text().await?).into());
        }
        Ok(())
    }

    /// What the log service received (GET /logs).
    pub async fn logs(&self) -> Result<Vec<Value>, Error> {
        Ok(self
            .http
            .get(format!("{}/logs", self.simulator_url))
            .send()
            .await?
            .json()
            .await?)
    }

    /// Messages resting in the dead-letter queues (visible or not).
    pub async fn dead_letters(&self) -> Result<u64, Error> {
        use aws_sdk_sqs::types::QueueAttributeName;
        let mut total = 0;
        for queue in &self.dead_letter_queues {
            let attributes = self
                .sqs
                .get_queue_attributes()
                .queue_url(queue)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await?
                .attributes
                .unwrap_or_default();
            total += attributes
                .values()
                .filter_map(|v| v.parse::<u64>().ok())
                .sum::<u64>();
        }
        Ok(total)
    }
}
