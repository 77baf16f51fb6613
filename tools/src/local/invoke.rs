//! The client of the Lambda invoke API of `cargo lambda watch`
//! (`POST {lambda_url}/2015-03-31/functions/{binary}/invocations`), shared by the API Gateway
//! and the SQS event-source emulations.

use serde::Serialize;

/// Why an invocation gave no output.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The invoke API could not be reached or did not answer in time.
    #[error("POST {url}: {message}")]
    Unreachable { url: String, message: String },
    /// The function ran and failed (`X-Amz-Function-Error`), or the invoke API refused the call.
    #[error("the function failed ({status}{kind}): {output}")]
    Function {
        status: u16,
        /// `, Unhandled` and the like; empty when the header was absent.
        kind: String,
        output: String,
    },
}

/// Invokes `binary` with `payload` and returns its output as it is.
pub async fn invoke(
    client: &reqwest::Client,
    lambda_url: &str,
    binary: &str,
    payload: &impl Serialize,
) -> Result<Vec<u8>, InvokeError> {
    let url = format!(
        "{}/2015-03-31/functions/{binary}/invocations",
        lambda_url.trim_end_matches('/')
    );
    let unreachable = |e: reqwest::Error| InvokeError::Unreachable {
        url: url.clone(),
        message: e.to_string(),
    };
    let response = client
        .post(&url)
        .json(payload)
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    let function_error = response
        .headers()
        .get("x-amz-function-error")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let output = response.bytes().await.map_err(unreachable)?;
    if !status.is_success() || function_error.is_some() {
        return Err(InvokeError::Function {
            status: status.as_u16(),
            kind: function_error.map(|e| format!(", {e}")).unwrap_or_default(),
            output: String::from_utf8_lossy(&output).into_owned(),
        });
    }
    Ok(output.to_vec())
}
