//! The generator's YAML config file: where the transactions table is and how to reach it.
//!
//! ```yaml
//! endpoint: 127.0.0.1:8000        # optional: host:port or URL; absent = real AWS
//! region: eu-west-1               # required
//! credentials:                    # optional; absent = the default credential chain
//!   access_key_id: local          #   either static keys (session_token optional) ...
//!   secret_access_key: local
//! # credentials: { profile: dev } #   ... or a named profile
//! table: TransactionsTable        # required
//! ```
//!
//! Every refusal names the offending key (`config key `region`: missing`), so that the command
//! line can print it as is and exit with status 2.

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region};
use serde::Deserialize;
use serde_norway::{Mapping, Value};
use std::fmt;
use std::path::{Path, PathBuf};

/// A config file that was read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The endpoint as a URL (`host:port` gains `http://`); `None` means real AWS.
    pub endpoint: Option<String>,
    pub region: String,
    pub credentials: Option<CredentialSource>,
    pub table: String,
}

/// Where the credentials come from when the file names them.
#[derive(Clone, PartialEq, Eq)]
pub enum CredentialSource {
    Static {
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    },
    Profile(String),
}

impl fmt::Debug for CredentialSource {
    /// Shows the access key id and profile name, never the secret or the session token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Static {
                access_key_id,
                session_token,
                ..
            } => f
                .debug_struct("Static")
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &"***")
                .field("session_token", &session_token.as_ref().map(|_| "***"))
                .finish(),
            CredentialSource::Profile(name) => f.debug_tuple("Profile").field(name).finish(),
        }
    }
}

/// Why a config file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file is not valid YAML: {0}")]
    Syntax(String),
    #[error("config: {0}")]
    Shape(String),
    #[error("config key `{key}`: {problem}")]
    Key { key: String, problem: String },
}

impl ConfigError {
    fn key(key: &str, problem: impl Into<String>) -> Self {
        ConfigError::Key {
            key: key.to_owned(),
            problem: problem.into(),
        }
    }

    /// The key the error is about, if it is about one.
    pub fn key_name(&self) -> Option<&str> {
        match self {
            ConfigError::Key { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// The file's shape. Unknown keys are refused: a typo must not silently fall back to a default
/// (a misspelt `endpoint` would otherwise write to real AWS).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    endpoint: Option<String>,
    region: Option<String>,
    credentials: Option<CredentialsFile>,
    table: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    profile: Option<String>,
}

const TOP_KEYS: [&str; 4] = ["endpoint", "region", "credentials", "table"];
const CREDENTIAL_KEYS: [&str; 4] = [
    "access_key_id",
    "secret_access_key",
    "session_token",
    "profile",
];

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let value: Value =
            serde_norway::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        let value = match value {
            // An empty file is an empty mapping: it then fails on the first required key.
            Value::Null => Value::Mapping(Mapping::new()),
            Value::Mapping(map) => Value::Mapping(check_shape(map)?),
            _ => {
                return Err(ConfigError::Shape(format!(
                    "must be a YAML mapping with the keys {}",
                    TOP_KEYS.join(", ")
                )));
            }
        };
        // `check_shape` has made every value the type the struct expects, so this cannot fail
        // on a key's type; any error left is reported as it comes.
        let file: ConfigFile =
            serde_norway::from_value(value).map_err(|e| ConfigError::Shape(e.to_string()))?;
        file.validate()
    }
}

/// Refuses unknown keys and values of the wrong type, naming the key; drops `null` values so
/// that `region:` with nothing after it counts as missing.
fn check_shape(map: Mapping) -> Result<Mapping, ConfigError> {
    let mut checked = Mapping::new();
    for (key, value) in map {
        let name = key_name(&key, "")?;
        if !TOP_KEYS.contains(&name.as_str()) {
            return Err(unknown(&name, &TOP_KEYS));
        }
        let value = match (name.as_str(), value) {
            (_, Value::Null) => continue,
            ("endpoint", Value::String(s)) => Value::String(s),
            ("endpoint", _) => return Err(ConfigError::key("endpoint", ENDPOINT_PROBLEM)),
            ("credentials", Value::Mapping(inner)) => {
                Value::Mapping(check_credentials_shape(inner)?)
            }
            ("credentials", _) => {
                return Err(ConfigError::key(
                    "credentials",
                    "must be a mapping: {access_key_id, secret_access_key, session_token?} or {profile}",
                ));
            }
            (_, Value::String(s)) => Value::String(s),
            (_, _) => return Err(ConfigError::key(&name, "must be a string")),
        };
        checked.insert(Value::String(name), value);
    }
    Ok(checked)
}

fn check_credentials_shape(map: Mapping) -> Result<Mapping, ConfigError> {
    let mut checked = Mapping::new();
    for (key, value) in map {
        let name = key_name(&key, "credentials.")?;
        let path = format!("credentials.{name}");
        if !CREDENTIAL_KEYS.contains(&name.as_str()) {
            return Err(unknown(&path, &CREDENTIAL_KEYS));
        }
        match value {
            Value::Null => {}
            Value::String(s) => {
                checked.insert(Value::String(name), Value::String(s));
            }
            _ => return Err(ConfigError::key(&path, "must be a string")),
        }
    }
    Ok(checked)
}

fn key_name(key: &Value, prefix: &str) -> Result<String, ConfigError> {
    match key {
        Value::String(s) => Ok(s.clone()),
        other => {
            let shown = serde_norway::to_string(other)
                .map_or_else(|_| "?".to_owned(), |s| s.trim().to_owned());
            Err(ConfigError::key(
                &format!("{prefix}{shown}"),
                "keys must be strings",
            ))
        }
    }
}

fn unknown(key: &str, expected: &[&str]) -> ConfigError {
    ConfigError::key(
        key,
        format!("unknown key (expected one of {})", expected.join(", ")),
    )
}

const ENDPOINT_PROBLEM: &str =
    "not a host:port or URL (e.g. 127.0.0.1:8000 or http://localhost:8000)";

impl ConfigFile {
    fn validate(self) -> Result<Config, ConfigError> {
        let endpoint = self.endpoint.as_deref().map(endpoint_url).transpose()?;
        let region = required("region", self.region)?;
        if !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(ConfigError::key(
                "region",
                "not an AWS region name (e.g. eu-west-1)",
            ));
        }
        let table = required("table", self.table)?;
        let table_name_ok = (3..=255).contains(&table.len())
            && table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !table_name_ok {
            return Err(ConfigError::key(
                "table",
                "not a DynamoDB table name (3 to 255 characters of a-z, A-Z, 0-9, _, - and .)",
            ));
        }
        let credentials = self
            .credentials
            .map(CredentialsFile::validate)
            .transpose()?;
        Ok(Config {
            endpoint,
            region,
            credentials,
            table,
        })
    }
}

impl CredentialsFile {
    fn validate(self) -> Result<CredentialSource, ConfigError> {
        let has_keys = self.access_key_id.is_some()
            || self.secret_access_key.is_some()
            || self.session_token.is_some();
        match (self.profile, has_keys) {
            (Some(_), true) => Err(ConfigError::key(
                "credentials",
                "give either access_key_id + secret_access_key (+ session_token) or profile, not both",
            )),
            (Some(profile), false) => Ok(CredentialSource::Profile(non_empty(
                "credentials.profile",
                profile,
            )?)),
            (None, _) => Ok(CredentialSource::Static {
                access_key_id: required("credentials.access_key_id", self.access_key_id)?,
                secret_access_key: required(
                    "credentials.secret_access_key",
                    self.secret_access_key,
                )?,
                session_token: self
                    .session_token
                    .map(|t| non_empty("credentials.session_token", t))
                    .transpose()?,
            }),
        }
    }
}

fn required(key: &str, value: Option<String>) -> Result<String, ConfigError> {
    non_empty(key, value.ok_or_else(|| ConfigError::key(key, "missing"))?)
}

fn non_empty(key: &str, value: String) -> Result<String, ConfigError> {
    let value = value.trim().to_owned();
    if value.is_empty() {
        Err(ConfigError::key(key, "must not be empty"))
    } else {
        Ok(value)
    }
}

/// `host:port` becomes `http://host:port`; `http(s)://host[:port][/path]` is kept as is.
fn endpoint_url(text: &str) -> Result<String, ConfigError> {
    let text = text.trim();
    let bad = || ConfigError::key("endpoint", ENDPOINT_PROBLEM);
    let plausible_host = |host: &str| {
        !host.is_empty()
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':')
            })
    };
    if let Some((scheme, rest)) = text.split_once("://") {
        if scheme != "http" && scheme != "https" {
            return Err(bad());
        }
        let authority = rest.split('/').next().unwrap_or_default();
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if !authority.ends_with(']') => {
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(bad)?;
                host
            }
            _ => authority,
        };
        return if plausible_host(host) {
            Ok(text.trim_end_matches('/').to_owned())
        } else {
            Err(bad())
        };
    }
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    port.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(bad)?;
    if plausible_host(host) {
        Ok(format!("http://{text}"))
    } else {
        Err(bad())
    }
}

/// A DynamoDB client for the config: its region, its endpoint (if any) and its credentials
/// (static keys, a named profile, or the default chain).
pub async fn client(config: &Config) -> Client {
    Client::new(&sdk_config(config).await)
}

/// The SDK configuration the config names (also for reading CARD_DATA_KEY from Secrets
/// Manager with the same credentials).
pub async fn sdk_config(config: &Config) -> aws_config::SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(config.region.clone()));
    if let Some(endpoint) = &config.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    match &config.credentials {
        Some(CredentialSource::Static {
            access_key_id,
            secret_access_key,
            session_token,
        }) => {
            loader = loader.credentials_provider(Credentials::new(
                access_key_id,
                secret_access_key,
                session_token.clone(),
                None,
                "payrail-generator-config",
            ));
        }
        Some(CredentialSource::Profile(name)) => loader = loader.profile_name(name),
        None => {}
    }
    loader.load().await
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "endpoint: 127.0.0.1:8000\nregion: eu-west-1\ncredentials:\n  access_key_id: local\n  secret_access_key: local\ntable: TransactionsTable\n";

    fn refused_key(text: &str) -> Option<String> {
        match Config::parse(text) {
            Err(e) => e.key_name().map(str::to_owned),
            Ok(_) => None,
        }
    }

    fn message(text: &str) -> String {
        Config::parse(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_complete_config_is_accepted_and_host_port_becomes_a_url() {
        let config = Config::parse(GOOD).map_err(|e| e.to_string());
        assert_eq!(
            config,
            Ok(Config {
                endpoint: Some("http://127.0.0.1:8000".to_owned()),
                region: "eu-west-1".to_owned(),
                credentials: Some(CredentialSource::Static {
                    access_key_id: "local".to_owned(),
                    secret_access_key: "local".to_owned(),
                    session_token: None,
                }),
                table: "TransactionsTable".to_owned(),
            })
        );
    }

    #[test]
    fn the_committed_example_config_is_valid() {
        let text = include_str!("../../generator.example.yaml");
        let config = Config::parse(text).map_err(|e| e.to_string());
        assert_eq!(
            config.map(|c| (c.endpoint, c.table)),
            Ok((
                Some("http://127.0.0.1:8000".to_owned()),
                "TransactionsTable".to_owned()
            ))
        );
    }

    #[test]
    fn endpoint_and_credentials_may_be_left_out_for_real_aws() {
        let config = Config::parse("region: us-east-1\ntable: payrail-prod-transactions\n")
            .map_err(|e| e.to_string());
        assert_eq!(
            config.map(|c| (c.endpoint, c.credentials)),
            Ok((None, None))
        );
    }

    #[test]
    fn full_urls_are_kept_as_endpoints() {
        for url in [
            "http://localhost:8000",
            "https://dynamodb.eu-west-1.amazonaws.com",
            "http://[::1]:8000/",
        ] {
            let text = format!("endpoint: {url}\nregion: eu-west-1\ntable: t_1\n");
            assert_eq!(
                Config::parse(&text)
                    .map(|c| c.endpoint)
                    .map_err(|e| e.to_string()),
                Ok(Some(url.trim_end_matches('/').to_owned()))
            );
        }
    }

    #[test]
    fn a_profile_is_accepted_as_credentials() {
        let config =
            Config::parse("region: eu-west-1\ncredentials: { profile: dev }\ntable: tbl\n")
                .map_err(|e| e.to_string());
        assert_eq!(
            config.map(|c| c.credentials),
            Ok(Some(CredentialSource::Profile("dev".to_owned())))
        );
    }

    #[test]
    fn a_missing_region_is_refused_naming_region() {
        let text = "table: TransactionsTable\n";
        assert_eq!(message(text), "config key `region`: missing");
    }

    #[test]
    fn a_missing_or_empty_table_is_refused_naming_table() {
        assert_eq!(
            message("region: eu-west-1\n"),
            "config key `table`: missing"
        );
        assert_eq!(
            message("region: eu-west-1\ntable: ''\n"),
            "config key `table`: must not be empty"
        );
        assert_eq!(
            refused_key("region: eu-west-1\ntable:\n").as_deref(),
            Some("table")
        );
        assert_eq!(
            refused_key("region: eu-west-1\ntable: 'no spaces allowed'\n").as_deref(),
            Some("table")
        );
    }

    #[test]
    fn a_bad_endpoint_is_refused_naming_endpoint() {
        for bad in [
            "localhost",
            "127.0.0.1:notaport",
            "127.0.0.1:0",
            "ftp://host:21",
            "http://",
            ":8000",
            "8000",
            "[a, b]",
        ] {
            let text = format!("endpoint: {bad}\nregion: eu-west-1\ntable: tbl\n");
            assert!(
                message(&text).starts_with("config key `endpoint`: not a host:port or URL"),
                "{bad}: {}",
                message(&text)
            );
        }
    }

    #[test]
    fn a_region_of_the_wrong_type_or_form_is_refused_naming_region() {
        assert_eq!(
            message("region: 5\ntable: tbl\n"),
            "config key `region`: must be a string"
        );
        assert_eq!(
            refused_key("region: [eu-west-1]\ntable: tbl\n").as_deref(),
            Some("region")
        );
        assert_eq!(
            refused_key("region: EU West\ntable: tbl\n").as_deref(),
            Some("region")
        );
    }

    #[test]
    fn an_unknown_key_is_refused_naming_it() {
        let text = "endpont: 127.0.0.1:8000\nregion: eu-west-1\ntable: tbl\n";
        assert_eq!(
            message(text),
            "config key `endpont`: unknown key (expected one of endpoint, region, credentials, table)"
        );
        assert_eq!(
            refused_key("region: eu-west-1\ntable: tbl\ncredentials: { profile: x, role: y }\n")
                .as_deref(),
            Some("credentials.role")
        );
    }

    #[test]
    fn incomplete_or_mixed_credentials_are_refused_naming_the_key() {
        let base = "region: eu-west-1\ntable: tbl\n";
        assert_eq!(
            message(&format!("{base}credentials: {{ access_key_id: a }}\n")),
            "config key `credentials.secret_access_key`: missing"
        );
        assert_eq!(
            refused_key(&format!("{base}credentials: {{ secret_access_key: s }}\n")).as_deref(),
            Some("credentials.access_key_id")
        );
        assert_eq!(
            refused_key(&format!(
                "{base}credentials: {{ profile: p, access_key_id: a }}\n"
            ))
            .as_deref(),
            Some("credentials")
        );
        assert_eq!(
            refused_key(&format!("{base}credentials: dev\n")).as_deref(),
            Some("credentials")
        );
        assert_eq!(
            refused_key(&format!("{base}credentials: {{ profile: 7 }}\n")).as_deref(),
            Some("credentials.profile")
        );
    }

    #[test]
    fn a_file_that_is_not_a_mapping_or_not_yaml_is_refused_without_panicking() {
        assert!(matches!(
            Config::parse("- a\n- b\n"),
            Err(ConfigError::Shape(_))
        ));
        assert!(matches!(
            Config::parse("region: [unclosed\n"),
            Err(ConfigError::Syntax(_))
        ));
        assert_eq!(message(""), "config key `region`: missing");
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let Ok(config) =
            Config::parse(&GOOD.replace("secret_access_key: local", "secret_access_key: s3cr3t"))
        else {
            unreachable!("valid config")
        };
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }
}
