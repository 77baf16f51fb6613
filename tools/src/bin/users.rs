//! `users`: adds, disables, enables and lists the API's users in any stage's users table.
//!
//! ```text
//! users add     --config stage.yaml --username alice --role merchant --merchant "Alice's Shop"
//! users add     --config stage.yaml --username alice2 --role merchant --merchant-id mer_…
//! users add     --config stage.yaml --username ops --role admin
//! users rename-merchant --config stage.yaml --merchant-id mer_… --merchant "Alice's Store"
//! users disable --config stage.yaml --username alice
//! users enable  --config stage.yaml --username alice
//! users list    --config stage.yaml
//! ```
//!
//! The config file is the generator's (endpoint, region, credentials), with `table` naming the
//! users table (the stack's `UsersTableName` output). `add` reads the password from standard
//! input (first line), or prompts for it without echo on a terminal; it is stored only as an
//! argon2id hash. Exit status: 0 done, 1 the operation failed, 2 bad arguments or config.
//!
//! A merchant user acts for a merchant id (`mer_…`), which owns its payments: `add --merchant
//! NAME` creates a new merchant with a new id, `add --merchant-id ID` adds a user to an existing
//! merchant (its name taken from the merchant's users). A name another merchant already has is
//! refused (a stream payment's vendor must name one merchant), and so is `upstream` in any case
//! (the reserved merchant of the stream's unclaimed payments, which only admins act for).
//! `rename-merchant` changes the display name of every user of a merchant; what it owns stays.

use clap::{Parser, Subcommand, ValueEnum};
use payrail_shared::auth::{Role, hash_password};
use payrail_shared::domain::{Clock, MerchantId, SystemClock};
use payrail_shared::users::{
    DynamoUsers, FindUser, User, UserWriteError, Username, check_merchant_name,
};
use payrail_tools::generator::{Config, client, error_chain};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "users",
    version,
    about = "Manage the API's users in a stage's users table"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Adds a user; the password comes from standard input.
    Add {
        #[command(flatten)]
        target: Target,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The name of a new merchant the user acts for (merchants only).
        #[arg(long)]
        merchant: Option<String>,
        /// The id of an existing merchant the user joins (merchants only; instead of a new one).
        #[arg(long, value_parser = parse_merchant_id)]
        merchant_id: Option<MerchantId>,
        /// Create the user disabled.
        #[arg(long)]
        disabled: bool,
        /// Succeed without change when the user exists (for seeding scripts).
        #[arg(long)]
        exists_ok: bool,
    },
    /// Disables a user: no new token; tokens already issued run out within their lifetime.
    Disable {
        #[command(flatten)]
        target: Target,
    },
    /// Enables a disabled user.
    Enable {
        #[command(flatten)]
        target: Target,
    },
    /// Renames a merchant: every user of it gets the new display name; what it owns stays.
    RenameMerchant {
        #[arg(long, value_name = "FILE.yaml")]
        config: PathBuf,
        #[arg(long, value_parser = parse_merchant_id)]
        merchant_id: MerchantId,
        /// The new name.
        #[arg(long)]
        merchant: String,
    },
    /// Lists every user (never their password hashes).
    List {
        #[arg(long, value_name = "FILE.yaml")]
        config: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct Target {
    /// YAML file naming the endpoint, region, credentials and users table.
    #[arg(long, value_name = "FILE.yaml")]
    config: PathBuf,
    #[arg(long, value_parser = parse_username)]
    username: Username,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Merchant,
    Admin,
}

fn parse_username(raw: &str) -> Result<Username, String> {
    Username::parse(raw)
}

fn parse_merchant_id(raw: &str) -> Result<MerchantId, String> {
    match MerchantId::parse(raw) {
        Ok(id) if id.is_upstream() => {
            Err("mer_upstream is the reserved upstream merchant: only admins act for it".to_owned())
        }
        Ok(id) => Ok(id),
        Err(e) => Err(e.to_string()),
    }
}

/// Shortest password `add` accepts.
const MIN_PASSWORD_CHARS: usize = 8;

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse().command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("users: {message}");
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

async fn users(config: &Path) -> Result<DynamoUsers, Failure> {
    let config = Config::load(config).map_err(|e| (2, e.to_string()))?;
    Ok(DynamoUsers::new(
        client(&config).await,
        config.table.clone(),
    ))
}

fn failed(err: &(dyn std::error::Error + 'static)) -> Failure {
    (1, error_chain(err))
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Add {
            target,
            role,
            merchant,
            merchant_id,
            disabled,
            exists_ok,
        } => {
            let wanted = match (role, merchant, merchant_id) {
                (RoleArg::Admin, None, None) => None,
                (RoleArg::Admin, _, _) => {
                    return Err((
                        2,
                        "an admin acts for no merchant: drop --merchant and --merchant-id"
                            .to_owned(),
                    ));
                }
                (RoleArg::Merchant, None, None) => {
                    return Err((
                        2,
                        "a merchant user needs --merchant NAME (a new merchant) or --merchant-id ID (an existing one)"
                            .to_owned(),
                    ));
                }
                (RoleArg::Merchant, name, id) => Some((
                    name.map(|n| check_merchant_name(&n))
                        .transpose()
                        .map_err(|e| (2, e))?,
                    id,
                )),
            };
            let password = read_password()?;
            let store = users(&target.config).await?;
            if exists_ok
                && store
                    .find(&target.username)
                    .await
                    .map_err(|e| failed(&e))?
                    .is_some()
            {
                println!("exists {} (left unchanged)", target.username);
                return Ok(());
            }
            let (role, merchant) = match wanted {
                None => (Role::Admin, None),
                Some((name, id)) => {
                    let all = store.list().await.map_err(|e| failed(&e))?;
                    (Role::Merchant, Some(merchant_for(&all, name, id)?))
                }
            };
            let (merchant, merchant_id) = merchant.unzip();
            let user = User {
                username: target.username.clone(),
                password_hash: hash_password(&password).map_err(|e| failed(&e))?,
                role,
                merchant,
                merchant_id,
                enabled: !disabled,
                created_at: SystemClock.now(),
            };
            match store.add(&user).await {
                Ok(()) => {
                    // The registry item makes the id known to the stream's consumers; writing
                    // it again for a joining user is harmless (same id, same name).
                    if let (Some(name), Some(id)) = (&user.merchant, &user.merchant_id) {
                        store
                            .register_merchant(id, name)
                            .await
                            .map_err(|e| failed(&e))?;
                    }
                    println!("added {} ({})", user.username, describe(&user));
                }
                Err(UserWriteError::Exists(name)) if exists_ok => {
                    println!("exists {name} (left unchanged)");
                }
                Err(e) => return Err(failed(&e)),
            }
        }
        Command::RenameMerchant {
            config,
            merchant_id,
            merchant,
        } => {
            let name = check_merchant_name(&merchant).map_err(|e| (2, e))?;
            let store = users(&config).await?;
            let all = store.list().await.map_err(|e| failed(&e))?;
            if let Some(other) = holder_of(&all, &name).filter(|other| *other != &merchant_id) {
                return Err((1, taken(&name, other)));
            }
            let members: Vec<&User> = all
                .iter()
                .filter(|u| u.merchant_id.as_ref() == Some(&merchant_id))
                .collect();
            if members.is_empty() {
                return Err((1, format!("no merchant {merchant_id}")));
            }
            for user in &members {
                store
                    .set_merchant_name(&user.username, &merchant_id, &name)
                    .await
                    .map_err(|e| failed(&e))?;
            }
            store
                .register_merchant(&merchant_id, &name)
                .await
                .map_err(|e| failed(&e))?;
            println!(
                "renamed {merchant_id} to {name:?} ({} user(s)); it owns what it owned",
                members.len()
            );
        }
        Command::Disable { target } => {
            let store = users(&target.config).await?;
            store
                .set_enabled(&target.username, false)
                .await
                .map_err(|e| failed(&e))?;
            println!("disabled {}", target.username);
        }
        Command::Enable { target } => {
            let store = users(&target.config).await?;
            store
                .set_enabled(&target.username, true)
                .await
                .map_err(|e| failed(&e))?;
            println!("enabled {}", target.username);
        }
        Command::List { config } => {
            let store = users(&config).await?;
            let all = store.list().await.map_err(|e| failed(&e))?;
            println!(
                "{:<24} {:<9} {:<8} {:<36} merchant",
                "username", "role", "enabled", "merchant_id"
            );
            for user in &all {
                println!(
                    "{:<24} {:<9} {:<8} {:<36} {}",
                    user.username.as_str(),
                    role_name(user.role),
                    user.enabled,
                    user.merchant_id.as_ref().map_or("-", MerchantId::as_str),
                    user.merchant.as_deref().unwrap_or("-")
                );
            }
            println!("{} user(s)", all.len());
        }
    }
    Ok(())
}

/// The merchant id that already goes by `name`, if any.
fn holder_of<'a>(all: &'a [User], name: &str) -> Option<&'a MerchantId> {
    all.iter()
        .filter(|u| u.merchant.as_deref() == Some(name))
        .find_map(|u| u.merchant_id.as_ref())
}

fn taken(name: &str, holder: &MerchantId) -> String {
    format!(
        "the merchant name {name:?} is merchant {holder}'s: add a user to it with --merchant-id {holder}, or choose another name"
    )
}

/// The (name, id) a new merchant user acts for: a new id for a new name, or an existing
/// merchant's id (and its name) to join it.
fn merchant_for(
    all: &[User],
    name: Option<String>,
    id: Option<MerchantId>,
) -> Result<(String, MerchantId), Failure> {
    match (name, id) {
        (Some(name), None) => match holder_of(all, &name) {
            Some(holder) => Err((1, taken(&name, holder))),
            None => Ok((name, MerchantId::new())),
        },
        (name, Some(id)) => {
            let Some(existing) = all
                .iter()
                .find(|u| u.merchant_id.as_ref() == Some(&id))
                .and_then(|u| u.merchant.clone())
            else {
                return Err((
                    1,
                    format!("no merchant {id}: create it with --merchant NAME"),
                ));
            };
            match name {
                Some(name) if name != existing => Err((
                    2,
                    format!(
                        "merchant {id} is named {existing:?}: drop --merchant or rename it with rename-merchant"
                    ),
                )),
                _ => Ok((existing, id)),
            }
        }
        (None, None) => Err((2, "no merchant given".to_owned())),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Merchant => "merchant",
        Role::Admin => "admin",
    }
}

fn describe(user: &User) -> String {
    let mut text = role_name(user.role).to_owned();
    if let (Some(m), Some(id)) = (&user.merchant, &user.merchant_id) {
        text.push_str(&format!(" of {m:?}, merchant id {id}"));
    }
    if !user.enabled {
        text.push_str(", disabled");
    }
    text
}

/// The password: prompted twice without echo on a terminal, else the first line of stdin.
fn read_password() -> Result<String, Failure> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ").map_err(|e| failed(&e))?;
        let again = rpassword::prompt_password("again: ").map_err(|e| failed(&e))?;
        if first != again {
            return Err((2, "the passwords differ".to_owned()));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| failed(&e))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err((
            2,
            format!("the password must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(password)
}
