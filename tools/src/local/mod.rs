//! The local stack: DynamoDB tables, SQS queues, function environment, the HTTP API and the SQS
//! event sources, all read from `template.yaml`, so that nothing the template defines is defined
//! a second time for local use.
//!
//! - [`tables`]: the `AWS::DynamoDB::Table` resources, created in the local DynamoDB;
//! - [`queues`]: the `AWS::SQS::Queue` resources, created in the local SQS (moto);
//! - [`env`]: the functions' environment variables, resolved for the local stack;
//! - [`apigw`]: an API Gateway HTTP API (payload format 2.0) in front of `cargo lambda watch`;
//! - [`sqs`]: Lambda's SQS event source mapping (batches, partial batch failures) in front of
//!   `cargo lambda watch`;
//! - [`schedule`]: EventBridge schedules (`Type: Schedule` events) in front of
//!   `cargo lambda watch`;
//! - [`invoke`]: the client of `cargo lambda watch`'s invoke API they all use;
//! - [`template`]: parsing the template and resolving its intrinsics.
//!
//! The `local-stack` binary exposes each as a subcommand; `infra/local/*.sh` use them.

pub mod apigw;
pub mod env;
pub mod invoke;
pub mod queues;
pub mod schedule;
pub mod sqs;
pub mod tables;
pub mod template;

pub use apigw::{RouteTable, routes_from_template, serve};
pub use env::function_environment;
pub use queues::{QueueDef, create_queues, queues_from_template};
pub use tables::{TableDef, create_tables, tables_from_template};
pub use template::Template;
