//! The functions' environment for the local stack, resolved from the template.
//!
//! `cargo lambda watch` gives every function its own process environment, so the local stack
//! runs all functions with one environment: the union of `Globals.Function.Environment` and
//! each function's `Environment`. Values are resolved by [`Resolver`] (`!Ref` to a table →
//! prefix + logical id, `!Ref` to a parameter → its `Default`, `!Ref` to a queue → its local URL
//! on `AWS_ENDPOINT_URL_SQS` (or `AWS_ENDPOINT_URL`), `!GetAtt <Queue>.Arn` → its local ARN, …).
//! A value that only exists in a deployed stack (a `{{resolve:...}}` dynamic reference, other
//! `!GetAtt`s, a queue URL when no SQS endpoint is set, …) is taken
//! from the variable of the same name in the caller's environment, and is an error naming that
//! variable when it is not set there.

use std::collections::BTreeMap;

use anyhow::bail;
use serde_norway::Value;

use super::template::{FUNCTION_TYPE, ResolveError, Resolver, Template};

/// Region used for `AWS::Region` when neither `AWS_REGION` nor `AWS_DEFAULT_REGION` is set.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Resolves the functions' environment. `lookup` reads the caller's environment (pass
/// `|k| std::env::var(k).ok()`); it supplies the values that cannot be resolved locally and
/// `AWS_REGION`.
pub fn function_environment(
    template: &Template,
    prefix: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let region = lookup("AWS_REGION")
        .or_else(|| lookup("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    let sqs_endpoint = lookup("AWS_ENDPOINT_URL_SQS").or_else(|| lookup("AWS_ENDPOINT_URL"));
    let resolver = Resolver::new(template, prefix, &region).with_sqs_endpoint(sqs_endpoint);
    let mut missing: Vec<String> = Vec::new();

    let globals = variables(
        &resolver,
        template.function_globals(),
        "Globals.Function",
        lookup,
        &mut missing,
    )?;
    // Each function's effective environment is the globals overridden by its own variables;
    // the union of those must agree. Values map to the function that set them, for messages.
    let mut merged: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut functions = 0;
    for function in template.resources_of_type(FUNCTION_TYPE) {
        functions += 1;
        let mut effective = globals.clone();
        effective.extend(variables(
            &resolver,
            function.properties,
            function.logical_id,
            lookup,
            &mut missing,
        )?);
        for (key, value) in effective {
            match merged.get(&key) {
                Some((existing, owner)) if *existing != value => bail!(
                    "{key} is {value:?} for {} but {existing:?} for {owner}: the local stack \
                     runs every function with one environment",
                    function.logical_id
                ),
                Some(_) => {}
                None => {
                    merged.insert(key, (value, function.logical_id.to_owned()));
                }
            }
        }
    }
    if functions == 0 {
        merged = globals
            .into_iter()
            .map(|(k, v)| (k, (v, "Globals.Function".to_owned())))
            .collect();
    }
    if !missing.is_empty() {
        missing.sort();
        missing.dedup();
        bail!(
            "set these in the environment, the template's values cannot be resolved locally: {}",
            missing.join("; ")
        );
    }
    for (key, (value, _)) in &merged {
        if value.contains('\n') || value.contains('\r') {
            bail!("{key}: multi-line values cannot be printed as KEY=VALUE lines");
        }
    }
    let mut env: BTreeMap<String, String> = merged.into_iter().map(|(k, (v, _))| (k, v)).collect();
    // What tells the functions they run in the local stack (plain-http simulator URLs allowed);
    // never in template.yaml, so never in a deployed function.
    env.insert(
        payrail_shared::config::LOCAL_STACK_VAR.to_owned(),
        "1".to_owned(),
    );
    Ok(env)
}

fn environment_variables(owner: &Value) -> Option<&Value> {
    owner.get("Environment").and_then(|e| e.get("Variables"))
}

/// The resolved `Environment.Variables` of `owner` (a function's Properties or
/// Globals.Function); unresolvable values not found by `lookup` are added to `missing`.
fn variables(
    resolver: &Resolver<'_>,
    owner: &Value,
    owner_name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    missing: &mut Vec<String>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let Some(vars) = environment_variables(owner) else {
        return Ok(out);
    };
    let Some(vars) = vars.as_mapping() else {
        bail!("{owner_name}: Environment.Variables must be a mapping");
    };
    for (key, value) in vars {
        let Some(key) = key.as_str() else {
            bail!("{owner_name}: environment variable names are strings");
        };
        match resolver.resolve_string(value) {
            Ok(Some(v)) => {
                out.insert(key.to_owned(), v);
            }
            Ok(None) => {}
            Err(ResolveError::Unresolvable(what)) => match lookup(key) {
                Some(v) => {
                    out.insert(key.to_owned(), v);
                }
                None => missing.push(format!("{key} (of {owner_name}: {what})")),
            },
            Err(e @ ResolveError::Invalid(_)) => bail!("{owner_name}: {key}: {e}"),
        }
    }
    Ok(out)
}

/// Renders the environment as `KEY=VALUE` lines.
pub fn render(env: &BTreeMap<String, String>) -> String {
    env.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real_template() -> anyhow::Result<Template> {
        Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
    }

    fn env_with(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    #[test]
    fn a_ref_to_a_table_becomes_the_prefixed_local_table_name() -> anyhow::Result<()> {
        let env = function_environment(&real_template()?, "t7_", &env_with(&SECRETS))?;
        assert_eq!(
            env.get("TRANSACTIONS_TABLE").map(String::as_str),
            Some("t7_TransactionsTable")
        );
        assert_eq!(
            env.get("USERS_TABLE").map(String::as_str),
            Some("t7_UsersTable")
        );
        Ok(())
    }

    #[test]
    fn a_ref_to_a_parameter_becomes_its_default() -> anyhow::Result<()> {
        let env = function_environment(&real_template()?, "", &env_with(&SECRETS))?;
        assert_eq!(env.get("STAGE").map(String::as_str), Some("dev"));
        assert_eq!(env.get("RUST_LOG").map(String::as_str), Some("info"));
        assert_eq!(env.get("TOKEN_TTL_SECONDS").map(String::as_str), Some("30"));
        Ok(())
    }

    #[test]
    fn an_unresolvable_value_is_an_error_naming_the_variable_unless_the_environment_sets_it()
    -> anyhow::Result<()> {
        let template = real_template()?;
        let err = function_environment(&template, "", &env_with(&[]))
            .err()
            .ok_or_else(|| anyhow::anyhow!("expected an error"))?;
        assert!(err.to_string().contains("CURSOR_KEY"), "{err}");
        assert!(err.to_string().contains("TOKEN_SIGNING_KEY"), "{err}");
        assert!(err.to_string().contains("CARD_DATA_KEY"), "{err}");
        assert!(err.to_string().contains("ONLINE_QUEUE_URL"), "{err}");

        let env = function_environment(
            &template,
            "",
            &env_with(&[
                ("CURSOR_KEY", "s3cret"),
                ("TOKEN_SIGNING_KEY", "t0ken"),
                ("CARD_DATA_KEY", "c4rd"),
                ("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9324"),
            ]),
        )?;
        assert_eq!(env.get("CURSOR_KEY").map(String::as_str), Some("s3cret"));
        assert_eq!(
            env.get("TOKEN_SIGNING_KEY").map(String::as_str),
            Some("t0ken")
        );
        Ok(())
    }

    /// The values only a deployed stack has (Secrets Manager ARNs there), set locally.
    const SECRETS: [(&str, &str); 4] = [
        ("CURSOR_KEY", "k"),
        ("TOKEN_SIGNING_KEY", "t"),
        ("CARD_DATA_KEY", "c"),
        ("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9324"),
    ];

    const FUNCTIONS: &str = r#"
Parameters:
  GatewayUrl: { Type: String, Default: "http://127.0.0.1:9090" }
Globals:
  Function:
    Environment:
      Variables: { SHARED: one, NUMBER: 30 }
Resources:
  Queue: { Type: AWS::SQS::Queue }
  A:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          GATEWAY_URL: !Ref GatewayUrl
          QUEUE_URL: !Ref Queue
          OPTIONAL: !Ref AWS::NoValue
  B:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables: { GATEWAY_URL: !Ref GatewayUrl, ARN: !GetAtt Queue.Arn }
"#;

    #[test]
    fn function_variables_are_merged_with_the_globals_and_unresolvable_ones_are_all_named()
    -> anyhow::Result<()> {
        let template = Template::parse(FUNCTIONS)?;
        let err = function_environment(&template, "", &env_with(&[]))
            .err()
            .ok_or_else(|| anyhow::anyhow!("expected an error"))?;
        let msg = err.to_string();
        assert!(msg.contains("QUEUE_URL") && !msg.contains("ARN"), "{msg}");

        let env = function_environment(&template, "", &env_with(&[("QUEUE_URL", "http://q")]))?;
        let expected: BTreeMap<String, String> = [
            ("ARN", "arn:aws:sqs:us-east-1:123456789012:Queue"),
            ("GATEWAY_URL", "http://127.0.0.1:9090"),
            ("NUMBER", "30"),
            // Added to every local function: plain-http third parties allowed.
            ("PAYRAIL_LOCAL_STACK", "1"),
            ("QUEUE_URL", "http://q"),
            ("SHARED", "one"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(env, expected);
        Ok(())
    }

    #[test]
    fn a_queue_becomes_its_local_url_when_the_sqs_endpoint_is_set() -> anyhow::Result<()> {
        let template = Template::parse(FUNCTIONS)?;
        let env = function_environment(
            &template,
            "q_",
            &env_with(&[
                ("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9324"),
                ("AWS_REGION", "eu-west-1"),
            ]),
        )?;
        assert_eq!(
            env.get("QUEUE_URL").map(String::as_str),
            Some("http://127.0.0.1:9324/123456789012/q_Queue")
        );
        assert_eq!(
            env.get("ARN").map(String::as_str),
            Some("arn:aws:sqs:eu-west-1:123456789012:q_Queue")
        );
        Ok(())
    }

    #[test]
    fn two_functions_needing_different_values_for_one_variable_is_an_error() -> anyhow::Result<()> {
        let text = FUNCTIONS.replace(
            "Variables: { GATEWAY_URL: !Ref GatewayUrl,",
            "Variables: { GATEWAY_URL: other,",
        );
        let result = function_environment(
            &Template::parse(&text)?,
            "",
            &env_with(&[("QUEUE_URL", "q"), ("ARN", "a")]),
        );
        assert!(result.is_err(), "{result:?}");
        Ok(())
    }
}
