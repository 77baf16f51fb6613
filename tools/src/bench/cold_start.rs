//! Cold start: a function's binary launched as Lambda launches it, against a Runtime API
//! endpoint served here, timed from process start to the first `GET .../invocation/next`
//! (its init: what Lambda bills as Init Duration) and to its first response (init plus
//! the handler's first event). Peak memory is the process's high-water mark (`VmHWM`) when
//! that response arrives.
//!
//! The function's own account of its init (the steps `telemetry::InitTimer` logs as it becomes
//! ready) is read back from its output when a log file is given: the time before `main` is the
//! measured init minus the time its steps took.
//!
//! The Runtime API is [`crate::runtime_api`]: the event is queued once (a second `next` waits
//! until the process is killed); an init error (`/runtime/init/error`) ends the run as a
//! failure.

use super::BenchResult;
use crate::local::env::function_environment;
use crate::local::template::{FUNCTION_TYPE, Template};
use crate::runtime_api::{RuntimeApi, RuntimeApiError};
use axum::body::Bytes;
use payrail_shared::telemetry::READY_MESSAGE;
use serde_norway::Value;
use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const REQUEST_ID: &str = "cold-start-bench-0001";

/// One function to launch.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The binary's name (and the function's, for its environment).
    pub name: String,
    pub binary: PathBuf,
    /// The first event it gets.
    pub event: PathBuf,
    /// Its environment, besides the Runtime API's own variables.
    pub environment: BTreeMap<String, String>,
    pub memory_mb: u32,
    /// Where its stdout and stderr go (appended); discarded when `None`.
    pub log: Option<PathBuf>,
}

/// One launch's figures.
#[derive(Debug, Clone)]
pub struct ColdStart {
    pub init: Duration,
    /// What the function logged about its init, if it logs it and its output was kept.
    pub steps: Option<InitSteps>,
    pub first_response: Duration,
    /// Peak resident memory at the first response, KiB.
    pub peak_rss_kib: u64,
    /// Whether the first invocation answered through `/response` (not `/error`).
    pub answered: bool,
}

/// A function's init as it logged it ([`payrail_shared::telemetry::InitTimer`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InitSteps {
    /// From the start of `main` to ready, ms.
    pub in_main_ms: f64,
    /// Each step and its ms, in order.
    pub steps: Vec<(String, f64)>,
}

/// The last "ready" line in a function's output, if any.
pub fn init_steps(output: &str) -> Option<InitSteps> {
    let line = output
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["fields"]["message"] == READY_MESSAGE)?;
    let fields = &line["fields"];
    let steps = fields["steps_ms"]
        .as_str()?
        .split_whitespace()
        .filter_map(|pair| {
            let (step, ms) = pair.split_once('=')?;
            Some((step.to_owned(), ms.parse().ok()?))
        })
        .collect();
    Some(InitSteps {
        in_main_ms: fields["init_ms"].as_f64()?,
        steps,
    })
}

/// What was appended to `log` from byte `from` on.
fn output_since(log: &FsPath, from: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(log).ok()?;
    file.seek(SeekFrom::Start(from)).ok()?;
    let mut output = String::new();
    file.read_to_string(&mut output).ok()?;
    Some(output)
}

/// Launches the function once and measures its cold start.
pub async fn cold_start(launch: &Launch) -> BenchResult<ColdStart> {
    let event = Bytes::from(
        std::fs::read(&launch.event)
            .map_err(|e| format!("cannot read {}: {e}", launch.event.display()))?,
    );
    let api = RuntimeApi::serve(format!(
        "arn:aws:lambda:eu-west-1:123456789012:function:{}",
        launch.name
    ))
    .await?;
    let address = api.address();
    let log_start = launch
        .log
        .as_deref()
        .and_then(|log| std::fs::metadata(log).ok())
        .map_or(0, |meta| meta.len());
    let started = Instant::now();
    let mut child = tokio::process::Command::new(&launch.binary)
        .env_clear()
        .envs(&launch.environment)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // Lambda always sets the region and the role's credentials; without them the SDK
        // spends init probing the instance metadata service.
        .envs(lambda_provided_aws_variables())
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &launch.name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            launch.memory_mb.to_string(),
        )
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", launch.name),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "cold-start-bench")
        .env("LAMBDA_TASK_ROOT", ".")
        .stdin(Stdio::null())
        .stdout(output(launch.log.as_deref())?)
        .stderr(output(launch.log.as_deref())?)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", launch.binary.display()))?;
    let pid = child.id();
    let answered =
        tokio::time::timeout(Duration::from_secs(30), api.invoke(REQUEST_ID, event)).await;
    let peak_rss_kib = pid.and_then(peak_rss_kib).unwrap_or(0);
    let _ = child.kill().await;
    let answer = match answered {
        Ok(Ok(answer)) => answer,
        Ok(Err(RuntimeApiError::Init(why))) => {
            return Err(format!("{}: init failed: {why}", launch.name).into());
        }
        Ok(Err(err)) => return Err(format!("{}: {err}", launch.name).into()),
        Err(_) => return Err(format!("{}: no response within 30 s", launch.name).into()),
    };
    let init = api.first_next().unwrap_or(answer.at);
    let steps = launch
        .log
        .as_deref()
        .and_then(|log| output_since(log, log_start))
        .and_then(|output| init_steps(&output));
    Ok(ColdStart {
        init: init.duration_since(started),
        steps,
        first_response: answer.at.duration_since(started),
        peak_rss_kib,
        answered: !answer.error,
    })
}

/// The caller's AWS variables Lambda would provide (region, credentials) and the emulator
/// endpoints, with the region defaulting to the local stack's.
fn lambda_provided_aws_variables() -> BTreeMap<String, String> {
    let mut variables: BTreeMap<String, String> = std::env::vars()
        .filter(|(key, _)| {
            matches!(
                key.as_str(),
                "AWS_REGION"
                    | "AWS_DEFAULT_REGION"
                    | "AWS_ACCESS_KEY_ID"
                    | "AWS_SECRET_ACCESS_KEY"
                    | "AWS_SESSION_TOKEN"
            ) || key.starts_with("AWS_ENDPOINT_URL")
        })
        .collect();
    let region = variables
        .get("AWS_REGION")
        .or_else(|| variables.get("AWS_DEFAULT_REGION"))
        .cloned()
        .unwrap_or_else(|| "eu-west-1".to_owned());
    variables.insert("AWS_REGION".to_owned(), region);
    variables
}

fn output(log: Option<&FsPath>) -> std::io::Result<Stdio> {
    match log {
        Some(path) => Ok(std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?
            .into()),
        None => Ok(Stdio::null()),
    }
}

/// The process's peak resident set so far (`VmHWM` of /proc/<pid>/status), KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The figures of several launches of one function.
#[derive(Debug, Clone)]
pub struct Summary {
    pub name: String,
    pub runs: usize,
    pub init_median: Duration,
    /// The median of each logged init step, and of the time before `main` (the measured init
    /// minus the steps), when the function logs its steps.
    pub steps_median: Option<InitSteps>,
    pub before_main_median: Option<Duration>,
    pub first_response_median: Duration,
    pub first_response_max: Duration,
    pub peak_rss_kib: u64,
    pub binary_bytes: u64,
    pub zipped_bytes: u64,
    pub answered: bool,
}

/// Launches the function `runs` times, one after another.
pub async fn summarize(launch: &Launch, runs: usize) -> BenchResult<Summary> {
    let mut results = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        results.push(cold_start(launch).await?);
    }
    let median = |mut values: Vec<Duration>| {
        values.sort();
        values[values.len() / 2]
    };
    let logged: Vec<(Duration, &InitSteps)> = results
        .iter()
        .filter_map(|r| r.steps.as_ref().map(|steps| (r.init, steps)))
        .collect();
    let (steps_median, before_main_median) = if logged.len() == results.len() {
        let before_main = logged
            .iter()
            .map(|(init, steps)| {
                init.saturating_sub(Duration::from_secs_f64(steps.in_main_ms / 1e3))
            })
            .collect();
        (Some(median_steps(&logged)), Some(median(before_main)))
    } else {
        (None, None)
    };
    Ok(Summary {
        name: launch.name.clone(),
        runs: results.len(),
        init_median: median(results.iter().map(|r| r.init).collect()),
        steps_median,
        before_main_median,
        first_response_median: median(results.iter().map(|r| r.first_response).collect()),
        first_response_max: results
            .iter()
            .map(|r| r.first_response)
            .max()
            .unwrap_or_default(),
        peak_rss_kib: results.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0),
        binary_bytes: std::fs::metadata(&launch.binary).map(|m| m.len())?,
        zipped_bytes: zipped_bytes(&launch.binary)?,
        answered: results.iter().all(|r| r.answered),
    })
}

/// Each step's median over the launches (every launch logs the same steps in the same order).
fn median_steps(logged: &[(Duration, &InitSteps)]) -> InitSteps {
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let first = logged[0].1;
    InitSteps {
        in_main_ms: median(logged.iter().map(|(_, s)| s.in_main_ms).collect()),
        steps: first
            .steps
            .iter()
            .enumerate()
            .map(|(i, (step, _))| {
                let values = logged
                    .iter()
                    .filter_map(|(_, s)| s.steps.get(i).map(|(_, ms)| *ms))
                    .collect();
                (step.clone(), median(values))
            })
            .collect(),
    }
}

/// The size of the deployment package Lambda gets: the binary as `bootstrap` in a deflated zip
/// (as `sam build` with cargo-lambda and `cargo lambda build --output-format zip` make it).
pub fn zipped_bytes(binary: &FsPath) -> BenchResult<u64> {
    use std::io::Write;
    let content = std::fs::read(binary)?;
    let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    archive.start_file("bootstrap", options)?;
    archive.write_all(&content)?;
    Ok(archive.finish()?.into_inner().len() as u64)
}

/// The sample event a function's binary is launched with: `events/<binary>.json`, else the
/// first of `events/<binary>-*.json` by name.
pub fn sample_event(events: &FsPath, binary: &str) -> Option<PathBuf> {
    let exact = events.join(format!("{binary}.json"));
    if exact.is_file() {
        return Some(exact);
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(events)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{binary}-")) && n.ends_with(".json"))
        })
        .collect();
    candidates.sort();
    candidates.into_iter().next()
}

/// Every function of the template, with its binary in `bin_dir`, its first event from
/// `events`, its memory size, and the local stack's environment (see [`function_environment`]),
/// in which the variables named in `overrides` take the caller's value when it has one (as
/// the local stack's STACK_ENV_OVERRIDES do).
pub fn launches_from_template(
    template: &Template,
    prefix: &str,
    bin_dir: &FsPath,
    events: &FsPath,
    overrides: &[String],
    log_dir: Option<&FsPath>,
) -> BenchResult<Vec<Launch>> {
    let mut environment = function_environment(template, prefix, &|k| std::env::var(k).ok())
        .map_err(|e| format!("{e:#}"))?;
    for key in overrides {
        if let Ok(value) = std::env::var(key) {
            environment.insert(key.clone(), value);
        }
    }
    let global_memory = memory_of(template.function_globals());
    let mut launches = Vec::new();
    for function in template.resources_of_type(FUNCTION_TYPE) {
        let binary = function
            .metadata
            .get("BuildProperties")
            .and_then(|p| p.get("Binary"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                format!(
                    "{} has no Metadata.BuildProperties.Binary",
                    function.logical_id
                )
            })?;
        let event = sample_event(events, binary)
            .ok_or_else(|| format!("no sample event for {binary} in {}", events.display()))?;
        launches.push(Launch {
            name: binary.to_owned(),
            binary: bin_dir.join(binary),
            event,
            environment: environment.clone(),
            memory_mb: memory_of(function.properties)
                .or(global_memory)
                .unwrap_or(128),
            log: log_dir.map(|dir| dir.join(format!("{binary}.log"))),
        });
    }
    Ok(launches)
}

fn memory_of(properties: &Value) -> Option<u32> {
    properties
        .get("MemorySize")
        .and_then(Value::as_u64)
        .and_then(|m| u32::try_from(m).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exact_event_is_preferred_then_the_first_variant() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("cold-start-events-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        for name in ["a.json", "a-x.json", "b-z.json", "b-y.json", "bc.json"] {
            std::fs::write(dir.join(name), "{}")?;
        }
        assert_eq!(sample_event(&dir, "a"), Some(dir.join("a.json")));
        assert_eq!(sample_event(&dir, "b"), Some(dir.join("b-y.json")));
        assert_eq!(sample_event(&dir, "c"), None);
        std::fs::remove_dir_all(&dir)
    }

    #[test]
    fn the_ready_line_gives_the_init_steps() {
        let output = concat!(
            "{\"_aws\":{\"Timestamp\":1}}\n",
            "not json\n",
            "{\"level\":\"INFO\",\"fields\":{\"message\":\"cold start ready\",",
            "\"init_ms\":3.5,\"steps_ms\":\"telemetry=0.250 aws_config=2.000\"}}\n",
            "{\"level\":\"INFO\",\"fields\":{\"message\":\"something else\"}}\n",
        );
        assert_eq!(
            init_steps(output),
            Some(InitSteps {
                in_main_ms: 3.5,
                steps: vec![
                    ("telemetry".to_owned(), 0.25),
                    ("aws_config".to_owned(), 2.0)
                ],
            })
        );
        assert_eq!(init_steps("{\"fields\":{\"message\":\"x\"}}"), None);
    }

    #[test]
    fn the_package_is_the_binary_deflated_as_bootstrap() -> BenchResult<()> {
        let file = std::env::temp_dir().join(format!("cold-start-zip-{}", std::process::id()));
        std::fs::write(&file, vec![b'x'; 100_000])?;
        let zipped = zipped_bytes(&file)?;
        std::fs::remove_file(&file)?;
        assert!(zipped > 0 && zipped < 10_000, "{zipped}");
        Ok(())
    }
}
