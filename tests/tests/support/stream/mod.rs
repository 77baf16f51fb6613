//! The payment stream on the local stack, for end-to-end and fault tests: the [`Stack`] as
//! test-env.sh exported it, and a producer that sends N mixed payments through the API and
//! straight into the online and offline queues ([`produce`]), a wait until the stack has settled
//! ([`settle`]), and the checks of the invariants over everything the stack holds ([`check`]).

pub mod check;
pub mod check_logs;
mod check_scan;
pub mod observe;
pub mod produce;
pub mod settle;

use crate::support::api::{Api, Error};
use crate::support::service;
use crate::support::simulator::Simulator;
use payrail_shared::cards::CardCipher;
use payrail_shared::secrets::SecretValue;
use std::collections::HashMap;
use std::path::PathBuf;

/// The template's queues, by the URLs test-env.sh exported.
#[derive(Debug, Clone)]
pub struct Queues {
    pub online: String,
    pub offline: String,
    pub log: String,
    pub online_dlq: String,
    pub offline_dlq: String,
    pub log_dlq: String,
}

/// The local stack test-env.sh started.
pub struct Stack {
    pub api: Api,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub simulator: Simulator,
    pub queues: Queues,
    pub transactions_table: String,
    pub accounts_table: String,
    /// The functions' card cipher (same CARD_DATA_KEY), to seal upstream messages.
    pub cipher: CardCipher,
    /// Every service's log ($STACK_LOG_DIR).
    pub log_dir: PathBuf,
    /// The SQS event sources' record of every delivered message ($PAYRAIL_SQS_RECORD).
    pub record: PathBuf,
}

pub async fn sqs_client(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .load()
        .await;
    aws_sdk_sqs::Client::new(&config)
}

impl Stack {
    /// `None` (the test is skipped) outside test-env.sh.
    pub async fn from_env() -> Result<Option<Stack>, Error> {
        let vars = [
            "PAYRAIL_SQS_ENDPOINT",
            "PAYRAIL_SIMULATOR_URL",
            "ONLINE_QUEUE_URL",
            "OFFLINE_QUEUE_URL",
            "LOG_QUEUE_URL",
            "ONLINE_DEAD_LETTER_QUEUE_URL",
            "OFFLINE_DEAD_LETTER_QUEUE_URL",
            "LOG_DEAD_LETTER_QUEUE_URL",
            "TRANSACTIONS_TABLE",
            "ACCOUNTS_TABLE",
            "CARD_DATA_KEY",
            "STACK_LOG_DIR",
            "PAYRAIL_SQS_RECORD",
        ];
        let mut env = HashMap::new();
        for var in vars {
            let Some(value) = service(var) else {
                return Ok(None);
            };
            env.insert(var, value);
        }
        let (Some(api), Some(dynamodb)) = (Api::new(), crate::support::dynamodb().await) else {
            return Ok(None);
        };
        let var = |name: &str| env.get(name).cloned().unwrap_or_default();
        let cipher = CardCipher::from_secrets(&SecretValue::new(var("CARD_DATA_KEY")), &[])?;
        Ok(Some(Stack {
            api,
            sqs: sqs_client(&var("PAYRAIL_SQS_ENDPOINT")).await,
            dynamodb,
            simulator: Simulator::new(var("PAYRAIL_SIMULATOR_URL")),
            queues: Queues {
                online: var("ONLINE_QUEUE_URL"),
                offline: var("OFFLINE_QUEUE_URL"),
                log: var("LOG_QUEUE_URL"),
                online_dlq: var("ONLINE_DEAD_LETTER_QUEUE_URL"),
                offline_dlq: var("OFFLINE_DEAD_LETTER_QUEUE_URL"),
                log_dlq: var("LOG_DEAD_LETTER_QUEUE_URL"),
            },
            transactions_table: var("TRANSACTIONS_TABLE"),
            accounts_table: var("ACCOUNTS_TABLE"),
            cipher,
            log_dir: PathBuf::from(var("STACK_LOG_DIR")),
            record: PathBuf::from(var("PAYRAIL_SQS_RECORD")),
        }))
    }
}

/// The wall clock in unix ms (what the functions stamp payments with).
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
