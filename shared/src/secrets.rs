//! Keys read once per cold start: the token signing key and the cursor key.
//!
//! In AWS a function's environment holds the ARN of a Secrets Manager secret (the template's
//! `!Ref Secret`), never the value: a value in the environment is readable by anyone allowed to
//! read the function's configuration, and changes only on a deploy. The function reads the
//! secret at cold start. In the local stack the same variable holds the value itself
//! (run.sh / test-env.sh generate it), so nothing local needs Secrets Manager.
//!
//! Rotation stages a new value as `AWSPENDING`, then promotes it to `AWSCURRENT` (the old one
//! becomes `AWSPREVIOUS`): signers use the current value only, verifiers accept all three, so
//! no valid token is refused while a rotation is under way (runbook in docs/design.md).

use aws_config::SdkConfig;
use std::fmt;

/// A secret's bytes. Debug never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        SecretValue(bytes.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("secret {name} ({arn}) could not be read: {cause}")]
    Fetch {
        name: &'static str,
        arn: String,
        cause: String,
    },
    #[error("secret {name} ({arn}) has no string value")]
    NotAString { name: &'static str, arn: String },
}

/// Where a secret comes from, as its environment variable says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The variable holds the value (the local stack).
    Inline(SecretValue),
    /// The variable holds a Secrets Manager ARN (a deployed stage).
    SecretsManager(String),
}

/// Version stages a verifier accepts, current first.
const VERIFYING_STAGES: [&str; 3] = ["AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"];

impl SecretSource {
    /// Reads the variable `name`: an ARN (`arn:...:secretsmanager:...`) names a secret, anything
    /// else is the value itself.
    pub fn from_env(name: &'static str) -> Result<Self, SecretError> {
        let value = std::env::var(name).map_err(|_| SecretError::Missing(name))?;
        Ok(Self::parse(value))
    }

    pub fn parse(value: String) -> Self {
        if value.starts_with("arn:") && value.contains(":secretsmanager:") {
            SecretSource::SecretsManager(value)
        } else {
            SecretSource::Inline(SecretValue::new(value))
        }
    }

    /// The value to sign with.
    pub async fn current(
        &self,
        name: &'static str,
        sdk: &SdkConfig,
    ) -> Result<SecretValue, SecretError> {
        match self {
            SecretSource::Inline(value) => Ok(value.clone()),
            SecretSource::SecretsManager(arn) => {
                let client = aws_sdk_secretsmanager::Client::new(sdk);
                fetch(&client, name, arn, "AWSCURRENT")
                    .await?
                    .ok_or_else(|| SecretError::Fetch {
                        name,
                        arn: arn.clone(),
                        cause: "no AWSCURRENT version".to_owned(),
                    })
            }
        }
    }

    /// Every value to verify with: current, then pending and previous when a rotation has
    /// left them (fetched concurrently, one round trip of cold-start time).
    pub async fn verifying(
        &self,
        name: &'static str,
        sdk: &SdkConfig,
    ) -> Result<Vec<SecretValue>, SecretError> {
        match self {
            SecretSource::Inline(value) => Ok(vec![value.clone()]),
            SecretSource::SecretsManager(arn) => {
                let client = aws_sdk_secretsmanager::Client::new(sdk);
                let fetched = futures::future::join_all(
                    VERIFYING_STAGES
                        .iter()
                        .map(|stage| fetch(&client, name, arn, stage)),
                )
                .await;
                let mut values = Vec::new();
                for value in fetched {
                    if let Some(value) = value?
                        && !values.contains(&value)
                    {
                        values.push(value);
                    }
                }
                if values.is_empty() {
                    return Err(SecretError::Fetch {
                        name,
                        arn: arn.clone(),
                        cause: "no version to verify with".to_owned(),
                    });
                }
                Ok(values)
            }
        }
    }
}

/// One version stage of a secret; `None` when no version carries that stage.
async fn fetch(
    client: &aws_sdk_secretsmanager::Client,
    name: &'static str,
    arn: &str,
    stage: &str,
) -> Result<Option<SecretValue>, SecretError> {
    let result = client
        .get_secret_value()
        .secret_id(arn)
        .version_stage(stage)
        .send()
        .await;
    match result {
        Ok(output) => output
            .secret_string
            .map(|s| Some(SecretValue::new(s)))
            .ok_or_else(|| SecretError::NotAString {
                name,
                arn: arn.to_owned(),
            }),
        Err(err) if stage != "AWSCURRENT" && is_not_found(&err) => Ok(None),
        Err(err) => Err(SecretError::Fetch {
            name,
            arn: arn.to_owned(),
            cause: aws_sdk_secretsmanager::error::DisplayErrorContext(err).to_string(),
        }),
    }
}

fn is_not_found(
    err: &aws_sdk_secretsmanager::error::SdkError<
        aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError,
    >,
) -> bool {
    err.as_service_error()
        .is_some_and(|e| e.is_resource_not_found_exception())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arn_names_a_secret_and_anything_else_is_the_value() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:payrail-dev-key-AbCdEf";
        assert_eq!(
            SecretSource::parse(arn.to_owned()),
            SecretSource::SecretsManager(arn.to_owned())
        );
        assert_eq!(
            SecretSource::parse("arn-looking but local".to_owned()),
            SecretSource::Inline(SecretValue::new("arn-looking but local"))
        );
    }

    #[test]
    fn debug_never_shows_the_value() {
        let shown = format!("{:?}", SecretSource::parse("hunter2hunter2".to_owned()));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
