//! A function's binary run as Lambda runs it: `AWS_LAMBDA_RUNTIME_API` pointing at the Runtime
//! API of `payrail_tools::runtime_api`, everything it writes (stdout and stderr) kept whole.

use payrail_tools::runtime_api::RuntimeApi;
use serde_json::{Value, json};
use std::process::Stdio;
use tokio::io::AsyncReadExt;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A running function binary.
pub struct Function {
    api: RuntimeApi,
    child: tokio::process::Child,
    stdout: tokio::task::JoinHandle<std::io::Result<String>>,
    stderr: tokio::task::JoinHandle<std::io::Result<String>>,
}

fn read_all(
    pipe: Option<impl tokio::io::AsyncRead + Unpin + Send + 'static>,
) -> Result<tokio::task::JoinHandle<std::io::Result<String>>, Error> {
    let mut pipe = pipe.ok_or("no pipe")?;
    Ok(tokio::spawn(async move {
        let mut text = String::new();
        pipe.read_to_string(&mut text).await?;
        Ok(text)
    }))
}

impl Function {
    /// Starts `binary` (from the debug build) as stage `stage`, with RUST_LOG=info unless `env`
    /// says otherwise; the rest of the environment is the test's (test-env.sh's).
    pub async fn start(stage: &str, binary: &str, env: &[(&str, &str)]) -> Result<Function, Error> {
        let api = RuntimeApi::serve(format!(
            "arn:aws:lambda:eu-west-1:123456789012:function:payrail-{stage}-{binary}"
        ))
        .await?;
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| super::repo_root().join("target"));
        let mut command = tokio::process::Command::new(target.join("debug").join(binary));
        command
            .env("AWS_LAMBDA_RUNTIME_API", api.address().to_string())
            .env(
                "AWS_LAMBDA_FUNCTION_NAME",
                format!("payrail-{stage}-{binary}"),
            )
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("STAGE", stage)
            .env("RUST_LOG", "info");
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = read_all(child.stdout.take())?;
        let stderr = read_all(child.stderr.take())?;
        Ok(Function {
            api,
            child,
            stdout,
            stderr,
        })
    }

    /// The function's answer to `event`, or `{"invocation_error": ...}` when it posted an error.
    pub async fn invoke(&self, id: &str, event: Value) -> Result<Value, Error> {
        let answered = self.api.invoke(id, serde_json::to_vec(&event)?.into());
        let answer = tokio::time::timeout(std::time::Duration::from_secs(120), answered).await??;
        if answer.error {
            let text = String::from_utf8_lossy(&answer.body).into_owned();
            return Ok(json!({ "invocation_error": text }));
        }
        Ok(serde_json::from_slice(&answer.body).unwrap_or(Value::Null))
    }

    /// Stops the function; its stdout.
    pub async fn stop(self) -> Result<String, Error> {
        Ok(self.stop_all().await?.0)
    }

    /// Stops the function; its stdout and its stderr.
    pub async fn stop_all(mut self) -> Result<(String, String), Error> {
        self.child.kill().await?;
        Ok((self.stdout.await??, self.stderr.await??))
    }
}
