//! `make bench` measurements that need Rust: the sequential PutItem baseline for the generator,
//! the items read per item returned of each report beside a Scan answering the same question,
//! the authorizer's cost (in process, and through the local stack), and the DynamoDB capacity
//! each payment path consumes.

use clap::{Parser, Subcommand};
use payrail_shared::domain::{CardType, Clock, Country, FingerprintKey, SystemClock};
use payrail_tools::bench::stream::{StreamTarget, stream_throughput};
use payrail_tools::bench::{
    ReportCase, auth, capacity, counters, payments_api, report_ratios, sequential_put,
};
use payrail_tools::generator::{Config, client};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "payrail benchmarks against DynamoDB (the local one or AWS)")]
struct Cli {
    /// Generator-style YAML naming endpoint, region, credentials and table (the DynamoDB
    /// benchmarks).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes generator payments one PutItem at a time, for comparison with the generator.
    SequentialPut {
        #[arg(long, default_value_t = 5000)]
        count: u64,
    },
    /// Items read per item returned for each report, beside a Scan with a filter.
    Reports,
    /// Token verification as the authorizer does it, and one argon2id password check.
    AuthVerify {
        #[arg(long, default_value_t = 100_000)]
        iterations: usize,
    },
    /// Latency the authorizer adds per request through the local stack.
    AuthLatency {
        /// The API (API Gateway emulation).
        #[arg(long)]
        api_url: String,
        /// The Lambda invoke API (cargo lambda watch).
        #[arg(long)]
        lambda_url: String,
        /// The demo admin's password.
        #[arg(long, default_value = "password")]
        password: String,
        #[arg(long, default_value_t = 300)]
        requests: usize,
    },
    /// Online payments sent into the online queue, timed until all are final in the table
    /// (AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL_DYNAMODB name the emulators).
    Stream {
        #[arg(long)]
        queue_url: String,
        #[arg(long)]
        table: String,
        #[arg(long, default_value_t = 1000)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Gives up after this many seconds.
        #[arg(long, default_value_t = 600)]
        deadline: u64,
        /// A name for the printed row.
        #[arg(long, default_value = "stream")]
        label: String,
    },
    /// Cold start of every function of the template beside a hello-world `lambda_http`
    /// binary: process start to init done and to first response, peak memory, sizes.
    ColdStart {
        #[arg(long, default_value = "template.yaml")]
        template: PathBuf,
        /// Table and queue name prefix of the local stack the functions talk to.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Where the release binaries are.
        #[arg(long, default_value = "target/release")]
        bin_dir: PathBuf,
        #[arg(long, default_value = "events")]
        events: PathBuf,
        /// The hello-world baseline binary (payrail-hello-lambda).
        #[arg(long, default_value = "target/release/hello-lambda")]
        hello: PathBuf,
        /// Launches per function (the median is shown).
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Variables of the functions' environment that take the caller's value when set
        /// (space-separated; the local stack's STACK_ENV_OVERRIDES).
        #[arg(long, default_value = "")]
        env_overrides: String,
        /// Each function's output goes to <LOG_DIR>/<binary>.log.
        #[arg(long)]
        log_dir: Option<PathBuf>,
    },
    /// DynamoDB capacity units each payment path consumes (payrail's handlers and validator in
    /// process, metered), and what they cost on-demand. AWS_ENDPOINT_URL_DYNAMODB and
    /// AWS_ENDPOINT_URL_SQS name the stack's emulators; the gateway is simulated in process.
    Capacity {
        /// Table name prefix of the local stack (its TransactionsTable and AccountsTable).
        #[arg(long, default_value = "")]
        prefix: String,
        /// Payments per path.
        #[arg(long, default_value_t = 100)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Share of online payments the simulated gateway declines.
        #[arg(long, default_value_t = 0.1)]
        decline_rate: f64,
    },
    /// p50/p99 of POST /payments (offline, online) and GET /payments/{id} through the stack.
    PaymentsLatency {
        #[arg(long)]
        api_url: String,
        #[arg(long, default_value = "password")]
        password: String,
        #[arg(long, default_value_t = 200)]
        requests: usize,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::AuthVerify { iterations } => Some(auth_verify(*iterations)),
        Command::AuthLatency {
            api_url,
            lambda_url,
            password,
            requests,
        } => Some(
            auth::stack_latency(api_url, lambda_url, password, *requests)
                .await
                .map(|l| {
                    let row = |name: &str, m: auth::Micros| {
                        println!(
                            "| {name} | {:.2} | {:.2} | {:.2} |",
                            m.p50 / 1000.0,
                            m.p99 / 1000.0,
                            m.mean / 1000.0
                        );
                    };
                    println!("| through the local stack ({requests} requests) | p50 ms | p99 ms | mean ms |");
                    println!("|---|---:|---:|---:|");
                    row("GET /transactions/count with a token (authorizer + function)", l.protected_request);
                    row("the authorizer step alone (its invoke round trip)", l.authorizer_invoke);
                    row("POST /auth/token, right password (50 times)", l.token_request);
                    row("POST /auth/token, unknown user (4 times: the login limits)", l.unknown_user);
                    row("POST /auth/token, wrong password (4 times: the login limits)", l.wrong_password);
                }),
        ),
        Command::Stream {
            queue_url,
            table,
            count,
            seed,
            deadline,
            label,
        } => Some(stream(queue_url, table, *count, *seed, *deadline, label).await),
        Command::Capacity {
            prefix,
            count,
            seed,
            decline_rate,
        } => {
            let options = capacity::CapacityOptions {
                prefix: prefix.clone(),
                count: *count,
                seed: *seed,
                decline_rate: *decline_rate,
            };
            Some(
                capacity::measure(&options)
                    .await
                    .map(|rows| capacity::print(&rows, prefix)),
            )
        }
        Command::PaymentsLatency {
            api_url,
            password,
            requests,
        } => Some(
            payments_api::payments_latency(api_url, password, *requests)
                .await
                .map(|l| {
                    let row = |name: &str, m: auth::Micros| {
                        println!(
                            "| {name} | {:.1} | {:.1} | {:.1} |",
                            m.p50 / 1000.0,
                            m.p99 / 1000.0,
                            m.mean / 1000.0
                        );
                    };
                    println!("| through the local stack, one at a time | p50 ms | p99 ms | mean ms |");
                    println!("|---|---:|---:|---:|");
                    row(&format!("POST /payments offline → 201 ({requests})"), l.create_offline);
                    row(&format!("POST /payments online → 202 ({requests})"), l.create_online);
                    row(&format!("GET /payments/{{id}} ({})", 2 * requests + 2), l.get);
                }),
        ),
        Command::ColdStart {
            template,
            prefix,
            bin_dir,
            events,
            hello,
            runs,
            env_overrides,
            log_dir,
        } => Some(
            cold_start(
                template,
                prefix,
                ColdStartFiles {
                    bin_dir,
                    events,
                    hello,
                    log_dir: log_dir.as_deref(),
                },
                *runs,
                &env_overrides
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            )
            .await,
        ),
        _ => None,
    };
    if let Some(result) = result {
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("bench: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let Some(config_path) = cli.config.as_deref() else {
        eprintln!("bench: this benchmark needs --config FILE.yaml");
        return ExitCode::from(2);
    };
    let config = match Config::load(config_path) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("bench: {err}");
            return ExitCode::from(2);
        }
    };
    let client = client(&config).await;
    let result = match cli.command {
        Command::SequentialPut { count } => {
            let key = FingerprintKey::new(b"bench".to_vec());
            sequential_put(&client, &config.table, count, key)
                .await
                .map(|rate| {
                    println!("sequential PutItem: {count} items, {rate:.0} items/s");
                })
        }
        Command::AuthVerify { .. }
        | Command::AuthLatency { .. }
        | Command::Stream { .. }
        | Command::ColdStart { .. }
        | Command::Capacity { .. }
        | Command::PaymentsLatency { .. } => Ok(()),
        Command::Reports => reports(&client, &config.table).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench: {err}");
            ExitCode::FAILURE
        }
    }
}

fn print_report_rows(rows: &[payrail_tools::bench::ReportRow]) {
    println!(
        "| report | returned | items read | read/returned | queries | Scan+filter read | Scan read/returned |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.3} | {} | {} | {:.1} |",
            r.name,
            r.returned,
            r.items_read,
            r.items_read as f64 / r.returned.max(1) as f64,
            r.queries,
            r.scan_read,
            r.scan_read as f64 / r.returned.max(1) as f64
        );
    }
}

/// Every report case; then the counts again after the seeded day counters are spread over
/// their shards as API payments leave them (what sharding costs a count).
async fn reports(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let now = SystemClock.now();
    print_report_rows(&report_ratios(client, table, now, &cases()).await?);
    let (before, after) = counters::spread(client, table).await?;
    println!();
    println!(
        "counts with the day counters sharded as the API writes them ({before} counter items → {after}, up to {} per day):",
        payrail_shared::store::keys::AGGREGATE_SHARDS
    );
    let counts: Vec<ReportCase> = cases()
        .into_iter()
        .filter(|c| c.name.starts_with("count"))
        .map(|c| {
            let name = format!("{}, sharded", c.name);
            c.named(name)
        })
        .collect();
    print_report_rows(&report_ratios(client, table, now, &counts).await?);
    Ok(())
}

fn cases() -> Vec<ReportCase> {
    let gb = Country::parse("GB").ok();
    let mut cases = Vec::new();
    for days in [7u16, 30, 90] {
        cases.push(ReportCase::list(days, 1000).named(format!("list, last {days} days")));
        cases.push(
            ReportCase::list(days, 1000)
                .card_type(CardType::Visa)
                .named(format!("list, visa, {days} days")),
        );
        cases.push(
            ReportCase::list(days, 1000)
                .country(gb)
                .named(format!("list, country GB, {days} days")),
        );
        cases.push(
            ReportCase::list(days, 1000)
                .amount(10_000, 50_000)
                .named(format!("list, amount 10000..50000, {days} days")),
        );
    }
    cases.push(ReportCase::list(90, 100).named("list, last 90 days, pages of 100".to_owned()));
    for days in [1u16, 7, 30, 90, 365] {
        cases.push(
            ReportCase::count(days, CardType::Visa).named(format!("count visa, {days} days")),
        );
    }
    cases
}

fn auth_verify(iterations: usize) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let verify = auth::verify_timing(iterations)?;
    let password = auth::password_timing(20)?;
    println!("| in process | p50 µs | p99 µs | mean µs |");
    println!("|---|---:|---:|---:|");
    println!(
        "| token verification, {iterations} times (HS256 signature, algorithm, exp) | {:.2} | {:.2} | {:.2} |",
        verify.p50, verify.p99, verify.mean
    );
    println!(
        "| argon2id password check, 20 times (m=19 MiB, t=2, p=1) | {:.0} | {:.0} | {:.0} |",
        password.p50, password.p99, password.mean
    );
    Ok(())
}

async fn stream(
    queue_url: &str,
    table: &str,
    count: usize,
    seed: u64,
    deadline: u64,
    label: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let target = StreamTarget {
        sqs: &sqs,
        dynamodb: &dynamodb,
        queue_url,
        table,
        deadline: std::time::Duration::from_secs(deadline),
    };
    let run = stream_throughput(&target, count, seed).await?;
    println!(
        "{label}: {} payments final in {:.2} s: {:.1} payments/s ({:?})",
        run.payments,
        run.elapsed.as_secs_f64(),
        run.per_second(),
        run.statuses
    );
    Ok(())
}

/// Cold start targets (issue 5): within 2x the hello-world figure and under 50 ms; zipped
/// package at most 8 MB; peak memory at most 40 MB.
const COLD_START_LIMIT_MS: f64 = 50.0;
const COLD_START_HELLO_FACTOR: f64 = 2.0;
const ZIPPED_LIMIT_BYTES: u64 = 8 * 1024 * 1024;
const PEAK_RSS_LIMIT_KIB: u64 = 40 * 1024;

/// Where `cold-start` finds what it launches and puts what they print.
struct ColdStartFiles<'a> {
    bin_dir: &'a std::path::Path,
    events: &'a std::path::Path,
    hello: &'a std::path::Path,
    log_dir: Option<&'a std::path::Path>,
}

async fn cold_start(
    template: &std::path::Path,
    prefix: &str,
    files: ColdStartFiles<'_>,
    runs: usize,
    overrides: &[String],
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let ColdStartFiles {
        bin_dir,
        events,
        hello,
        log_dir,
    } = files;
    use payrail_tools::bench::cold_start::{Launch, launches_from_template, summarize};
    let template = payrail_tools::local::template::Template::load(template)?;
    if let Some(dir) = log_dir {
        std::fs::create_dir_all(dir)?;
    }
    let launches = launches_from_template(&template, prefix, bin_dir, events, overrides, log_dir)?;
    let baseline = Launch {
        name: "hello-lambda".to_owned(),
        binary: hello.to_path_buf(),
        event: payrail_tools::bench::cold_start::sample_event(events, "api-docs")
            .ok_or("no events/api-docs*.json for the hello-world baseline")?,
        environment: Default::default(),
        memory_mb: 128,
        log: log_dir.map(|dir| dir.join("hello-lambda.log")),
    };
    let hello = summarize(&baseline, runs).await?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let hello_init_ms = ms(hello.init_median);
    let hello_first_ms = ms(hello.first_response_median);
    println!(
        "| function ({runs} launches each) | init ms | × hello init | first response ms (median) | max | × hello first response | peak RSS MiB | binary MiB | zipped MiB | within targets |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut misses = Vec::new();
    // One launch at a time: they never compete for the CPU.
    let mut summaries = vec![hello];
    for launch in &launches {
        summaries.push(summarize(launch, runs).await?);
    }
    for s in &summaries {
        let init = ms(s.init_median);
        let first = ms(s.first_response_median);
        let init_factor = init / hello_init_ms;
        let mut missed = Vec::new();
        if s.name != "hello-lambda" {
            if first > COLD_START_LIMIT_MS {
                missed.push("≥ 50 ms");
            }
            if init_factor > COLD_START_HELLO_FACTOR {
                missed.push("init > 2× hello");
            }
        }
        if s.zipped_bytes > ZIPPED_LIMIT_BYTES {
            missed.push("zip > 8 MB");
        }
        if s.peak_rss_kib > PEAK_RSS_LIMIT_KIB {
            missed.push("> 40 MB");
        }
        if !s.answered {
            missed.push("answered with an error");
        }
        println!(
            "| {} | {:.1} | {:.2} | {:.1} | {:.1} | {:.2} | {:.1} | {:.2} | {:.2} | {} |",
            s.name,
            init,
            init_factor,
            first,
            ms(s.first_response_max),
            first / hello_first_ms,
            s.peak_rss_kib as f64 / 1024.0,
            mib(s.binary_bytes),
            mib(s.zipped_bytes),
            if missed.is_empty() {
                "yes".to_owned()
            } else {
                missed.join(", ")
            }
        );
        if !missed.is_empty() {
            misses.push(s.name.clone());
        }
    }
    println!();
    println!(
        "init step by step (medians, ms; before main = the measured init minus the steps the function logged):"
    );
    println!("| function | init | before main | steps in main |");
    println!("|---|---:|---:|---|");
    for s in &summaries {
        let (Some(steps), Some(before_main)) = (&s.steps_median, s.before_main_median) else {
            continue;
        };
        let listed: Vec<String> = steps
            .steps
            .iter()
            .map(|(step, took)| format!("{step} {took:.2}"))
            .collect();
        println!(
            "| {} | {:.2} | {:.2} | {} |",
            s.name,
            ms(s.init_median),
            ms(before_main),
            listed.join(" · ")
        );
    }
    if misses.is_empty() {
        println!("every function within the targets");
    } else {
        println!("outside a target: {}", misses.join(", "));
    }
    Ok(())
}
