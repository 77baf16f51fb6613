//! The local stack: DynamoDB tables, function environment and the HTTP API, all read from
//! `template.yaml`, so that nothing the template defines is defined a second time for local use.
//!
//! - [`tables`]: the `AWS::DynamoDB::Table` resources, created in DynamoDB Local;
//! - [`env`]: the functions' environment variables, resolved for the local stack;
//! - [`apigw`]: an API Gateway HTTP API (payload format 2.0) in front of `cargo lambda watch`;
//! - [`template`]: parsing the template and resolving its intrinsics.
//!
//! The `local-stack` binary exposes each as a subcommand; `infra/local/*.sh` use them.

pub mod apigw;
pub mod env;
pub mod tables;
pub mod template;

pub use apigw::{RouteTable, routes_from_template, serve};
pub use env::function_environment;
pub use tables::{TableDef, create_tables, tables_from_template};
pub use template::Template;
