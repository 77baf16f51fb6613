//! Reading `template.yaml` and resolving its CloudFormation intrinsics for the local stack.
//!
//! The template is parsed into a [`serde_norway::Value`]. CloudFormation's short-form tags
//! (`!Ref X`, `!Sub "..."`, `!GetAtt A.B`, `!If [...]`, …) arrive as [`Value::Tagged`] and the
//! long forms (`{Ref: X}`, `{"Fn::Sub": ...}`) as one-key mappings; [`intrinsic`] recognises both.
//!
//! [`Resolver`] evaluates what can be known on a laptop: `Ref` to a parameter (its `Default`),
//! to a DynamoDB table (its local name: prefix + logical id) and to the pseudo parameters,
//! `Fn::Sub`, `Fn::If` (with the template's `Conditions` evaluated on parameter defaults),
//! `Fn::Join`, `Fn::Select`, `Fn::FindInMap`, `Fn::Equals/Not/And/Or`, and an SQS queue's
//! local identity ([`LocalQueue`]: `Ref` → its URL when the SQS endpoint is known,
//! `Fn::GetAtt .Arn` / `.QueueName` / `.QueueUrl`). Anything that only exists in a deployed
//! stack (other `Fn::GetAtt`, `Ref` to other resources, `{{resolve:...}}` dynamic references)
//! is [`ResolveError::Unresolvable`], so callers can fall back to something else.

use std::path::Path;

use anyhow::Context as _;
use serde_norway::{Mapping, Value};

/// Resource type of a DynamoDB table.
pub const TABLE_TYPE: &str = "AWS::DynamoDB::Table";
/// Resource type of an SQS queue.
pub const QUEUE_TYPE: &str = "AWS::SQS::Queue";
/// Resource type of a SAM function.
pub const FUNCTION_TYPE: &str = "AWS::Serverless::Function";

/// Local value of the `AWS::AccountId` pseudo parameter.
pub const LOCAL_ACCOUNT_ID: &str = "123456789012";
/// Local value of the `AWS::StackName` pseudo parameter.
pub const LOCAL_STACK_NAME: &str = "payrail-local";

/// A parsed SAM/CloudFormation template.
#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
}

/// One entry of the template's `Resources`.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    pub logical_id: &'a str,
    /// The whole resource node (`Type`, `Properties`, `Metadata`, …).
    pub value: &'a Value,
    pub kind: &'a str,
    /// `Properties` (Null when absent).
    pub properties: &'a Value,
    /// `Metadata` (Null when absent).
    pub metadata: &'a Value,
}

static NULL: Value = Value::Null;

impl Template {
    /// Reads and parses a template file.
    pub fn load(path: impl AsRef<Path>) -> anyhow::Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the template {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("cannot parse the template {}", path.display()))
    }

    /// Parses template text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let root: Value = serde_norway::from_str(text)?;
        if !root.is_mapping() {
            anyhow::bail!("a template is a YAML mapping");
        }
        Ok(Self { root })
    }

    /// The whole document.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// Every resource, in template order.
    pub fn resources(&self) -> impl Iterator<Item = Resource<'_>> {
        self.root
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter_map(|(k, v)| {
                Some(Resource {
                    logical_id: k.as_str()?,
                    value: v,
                    kind: v.get("Type").and_then(Value::as_str).unwrap_or_default(),
                    properties: v.get("Properties").unwrap_or(&NULL),
                    metadata: v.get("Metadata").unwrap_or(&NULL),
                })
            })
    }

    /// The resources of one type, in template order.
    pub fn resources_of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = Resource<'a>> {
        self.resources().filter(move |r| r.kind == kind)
    }

    /// One resource by logical id.
    pub fn resource(&self, logical_id: &str) -> Option<Resource<'_>> {
        self.resources().find(|r| r.logical_id == logical_id)
    }

    /// A parameter's declaration, if the template declares it.
    pub fn parameter(&self, name: &str) -> Option<&Value> {
        self.root.get("Parameters").and_then(|p| p.get(name))
    }

    /// `Globals.Function`, Null when absent.
    pub fn function_globals(&self) -> &Value {
        self.root
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .unwrap_or(&NULL)
    }

    fn condition(&self, name: &str) -> Option<&Value> {
        self.root.get("Conditions").and_then(|c| c.get(name))
    }

    fn mapping(&self, name: &str) -> Option<&Value> {
        self.root.get("Mappings").and_then(|c| c.get(name))
    }
}

/// Recognises an intrinsic function in either form and returns its normalised name
/// (`Ref`, `Condition`, or `Fn::X`) and its argument.
pub fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let name = match name {
                "Ref" | "Condition" => name.to_owned(),
                other if other.starts_with("Fn::") => other.to_owned(),
                other => format!("Fn::{other}"),
            };
            Some((name, &tagged.value))
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            let k = k.as_str()?;
            (k == "Ref" || k == "Condition" || k.starts_with("Fn::")).then(|| (k.to_owned(), v))
        }
        _ => None,
    }
}

/// Why a value could not be resolved.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    /// The value only exists in a deployed stack (the string says what it is).
    #[error("{0} cannot be resolved locally")]
    Unresolvable(String),
    /// The template itself is wrong or uses something this resolver does not know.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> ResolveError {
    ResolveError::Invalid(msg.into())
}

const MAX_DEPTH: usize = 64;

/// Evaluates intrinsics for the local stack. See the module documentation.
#[derive(Debug, Clone)]
pub struct Resolver<'t> {
    template: &'t Template,
    prefix: String,
    region: String,
    sqs_endpoint: Option<String>,
}

/// Where the local stack's copy of a template queue lives: the name is prefix + logical id
/// (+ `.fifo` for a FIFO queue, which SQS requires), and the URL and ARN are the shapes moto
/// (and SQS) give: `{endpoint}/{account}/{name}` and `arn:aws:sqs:{region}:{account}:{name}`,
/// with the local account id (moto's default account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalQueue {
    pub name: String,
    pub arn: String,
    /// None when the SQS endpoint is not known.
    pub url: Option<String>,
}

impl LocalQueue {
    /// The local identity of the queue `logical_id` (`fifo`: whether it is a FIFO queue).
    pub fn new(
        prefix: &str,
        logical_id: &str,
        fifo: bool,
        region: &str,
        endpoint: Option<&str>,
    ) -> Self {
        let name = format!("{prefix}{logical_id}{}", if fifo { ".fifo" } else { "" });
        Self {
            arn: format!("arn:aws:sqs:{region}:{LOCAL_ACCOUNT_ID}:{name}"),
            url: endpoint.map(|e| format!("{}/{LOCAL_ACCOUNT_ID}/{name}", e.trim_end_matches('/'))),
            name,
        }
    }
}

impl<'t> Resolver<'t> {
    /// `prefix` is prepended to table logical ids; `region` is the value of `AWS::Region`.
    pub fn new(template: &'t Template, prefix: &str, region: &str) -> Self {
        Self {
            template,
            prefix: prefix.to_owned(),
            region: region.to_owned(),
            sqs_endpoint: None,
        }
    }

    /// The SQS endpoint (`AWS_ENDPOINT_URL_SQS`) that makes `!Ref <Queue>` resolvable: without
    /// it a queue's URL is [`ResolveError::Unresolvable`] (its ARN and name are still known).
    #[must_use]
    pub fn with_sqs_endpoint(mut self, endpoint: Option<String>) -> Self {
        self.sqs_endpoint = endpoint;
        self
    }

    /// The local identity of the template's queue `logical_id`, None if it is not a queue.
    pub fn local_queue(&self, logical_id: &str) -> Option<LocalQueue> {
        let queue = self.template.resource(logical_id)?;
        if queue.kind != QUEUE_TYPE {
            return None;
        }
        let fifo = queue
            .properties
            .get("FifoQueue")
            .is_some_and(|v| matches!(self.resolve_bool(v), Ok(Some(true))));
        Some(LocalQueue::new(
            &self.prefix,
            logical_id,
            fifo,
            &self.region,
            self.sqs_endpoint.as_deref(),
        ))
    }

    /// Deep-resolves a value. `Ok(None)` is `AWS::NoValue` (the property is to be dropped).
    pub fn resolve(&self, value: &Value) -> Result<Option<Value>, ResolveError> {
        self.resolve_at(value, 0)
    }

    /// Resolves a value that must be a scalar and renders it as a string
    /// (numbers and booleans as YAML writes them). `Ok(None)` is `AWS::NoValue`.
    pub fn resolve_string(&self, value: &Value) -> Result<Option<String>, ResolveError> {
        match self.resolve(value)? {
            None => Ok(None),
            Some(v) => scalar_string(&v)
                .map(Some)
                .ok_or_else(|| invalid(format!("expected a scalar, found {}", describe(&v)))),
        }
    }

    /// Resolves a value that must be a boolean (`true`/`false`, also as strings).
    pub fn resolve_bool(&self, value: &Value) -> Result<Option<bool>, ResolveError> {
        match self.resolve(value)? {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(invalid(format!(
                "expected a boolean, found {}",
                describe(&other)
            ))),
        }
    }

    /// Resolves a value that must be an integer (numbers or numeric strings).
    pub fn resolve_i64(&self, value: &Value) -> Result<Option<i64>, ResolveError> {
        match self.resolve_string(value)? {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| invalid(format!("expected an integer, found {s:?}"))),
        }
    }

    /// Evaluates a named condition of the template's `Conditions`.
    pub fn condition(&self, name: &str) -> Result<bool, ResolveError> {
        self.condition_at(name, 0)
    }

    fn condition_at(&self, name: &str, depth: usize) -> Result<bool, ResolveError> {
        let body = self
            .template
            .condition(name)
            .ok_or_else(|| invalid(format!("unknown condition {name:?}")))?;
        self.bool_at(body, depth + 1)
    }

    fn bool_at(&self, value: &Value, depth: usize) -> Result<bool, ResolveError> {
        match self.resolve_at(value, depth)? {
            Some(Value::Bool(b)) => Ok(b),
            Some(Value::String(s)) if s == "true" => Ok(true),
            Some(Value::String(s)) if s == "false" => Ok(false),
            other => Err(invalid(format!(
                "a condition must be a boolean, found {}",
                other.as_ref().map_or("AWS::NoValue".into(), describe)
            ))),
        }
    }

    fn resolve_at(&self, value: &Value, depth: usize) -> Result<Option<Value>, ResolveError> {
        if depth > MAX_DEPTH {
            return Err(invalid("intrinsics nested too deeply (a cycle?)"));
        }
        if let Some((name, arg)) = intrinsic(value) {
            return self.intrinsic_at(&name, arg, depth + 1);
        }
        match value {
            Value::String(s) if s.contains("{{resolve:") => Err(ResolveError::Unresolvable(
                format!("the dynamic reference {s:?}"),
            )),
            Value::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(v) = self.resolve_at(item, depth + 1)? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::Sequence(out)))
            }
            Value::Mapping(m) => {
                let mut out = Mapping::new();
                for (k, v) in m {
                    if let Some(v) = self.resolve_at(v, depth + 1)? {
                        out.insert(k.clone(), v);
                    }
                }
                Ok(Some(Value::Mapping(out)))
            }
            Value::Tagged(t) => Err(invalid(format!("unknown tag {}", t.tag))),
            other => Ok(Some(other.clone())),
        }
    }

    fn intrinsic_at(
        &self,
        name: &str,
        arg: &Value,
        depth: usize,
    ) -> Result<Option<Value>, ResolveError> {
        match name {
            "Ref" => {
                let target = arg
                    .as_str()
                    .ok_or_else(|| invalid("!Ref takes a logical id"))?;
                self.reference(target).map(|v| v.map(Value::String))
            }
            "Condition" => {
                let cond = arg
                    .as_str()
                    .ok_or_else(|| invalid("Condition takes a condition name"))?;
                self.condition_at(cond, depth).map(|b| Some(Value::Bool(b)))
            }
            "Fn::Sub" => self.sub(arg, depth).map(|s| Some(Value::String(s))),
            "Fn::If" => {
                let items = seq_of(arg, 3, "!If")?;
                let cond = items[0]
                    .as_str()
                    .ok_or_else(|| invalid("!If takes a condition name first"))?;
                let branch = if self.condition_at(cond, depth)? {
                    &items[1]
                } else {
                    &items[2]
                };
                self.resolve_at(branch, depth)
            }
            "Fn::Equals" => {
                let items = seq_of(arg, 2, "!Equals")?;
                let a = self.resolve_at(&items[0], depth)?;
                let b = self.resolve_at(&items[1], depth)?;
                let (a, b) = (
                    a.as_ref().and_then(scalar_string),
                    b.as_ref().and_then(scalar_string),
                );
                Ok(Some(Value::Bool(a == b)))
            }
            "Fn::Not" => {
                let items = seq_of(arg, 1, "!Not")?;
                Ok(Some(Value::Bool(!self.bool_at(&items[0], depth)?)))
            }
            "Fn::And" | "Fn::Or" => {
                let items = arg
                    .as_sequence()
                    .ok_or_else(|| invalid(format!("{name} takes a list")))?;
                let mut acc = name == "Fn::And";
                for item in items {
                    let b = self.bool_at(item, depth)?;
                    acc = if name == "Fn::And" {
                        acc && b
                    } else {
                        acc || b
                    };
                }
                Ok(Some(Value::Bool(acc)))
            }
            "Fn::Join" => {
                let items = seq_of(arg, 2, "!Join")?;
                let delimiter = items[0]
                    .as_str()
                    .ok_or_else(|| invalid("!Join takes a delimiter first"))?;
                let list = self.resolve_at(&items[1], depth)?;
                let parts = list
                    .as_ref()
                    .and_then(Value::as_sequence)
                    .ok_or_else(|| invalid("!Join takes a list second"))?;
                let strings = parts
                    .iter()
                    .map(|p| {
                        scalar_string(p).ok_or_else(|| invalid("!Join takes a list of scalars"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Some(Value::String(strings.join(delimiter))))
            }
            "Fn::Select" => {
                let items = seq_of(arg, 2, "!Select")?;
                let index = self
                    .resolve_at(&items[0], depth)?
                    .as_ref()
                    .and_then(scalar_string)
                    .and_then(|s| s.parse::<usize>().ok())
                    .ok_or_else(|| invalid("!Select takes an index first"))?;
                let list = self.resolve_at(&items[1], depth)?;
                let item = list
                    .as_ref()
                    .and_then(Value::as_sequence)
                    .and_then(|l| l.get(index))
                    .cloned()
                    .ok_or_else(|| invalid(format!("!Select index {index} is out of range")))?;
                Ok(Some(item))
            }
            "Fn::FindInMap" => {
                let items = seq_of(arg, 3, "!FindInMap")?;
                let mut keys = Vec::with_capacity(3);
                for item in items {
                    let key = self
                        .resolve_at(item, depth)?
                        .as_ref()
                        .and_then(scalar_string)
                        .ok_or_else(|| invalid("!FindInMap takes three names"))?;
                    keys.push(key);
                }
                let found = self
                    .template
                    .mapping(&keys[0])
                    .and_then(|m| m.get(keys[1].as_str()))
                    .and_then(|m| m.get(keys[2].as_str()))
                    .ok_or_else(|| invalid(format!("!FindInMap {keys:?} finds nothing")))?;
                self.resolve_at(found, depth)
            }
            "Fn::GetAtt" => {
                if let Some(value) = self.queue_attribute(arg) {
                    return Ok(Some(Value::String(value)));
                }
                let what = match arg {
                    Value::String(s) => s.clone(),
                    Value::Sequence(parts) => parts
                        .iter()
                        .filter_map(scalar_string)
                        .collect::<Vec<_>>()
                        .join("."),
                    other => describe(other),
                };
                Err(ResolveError::Unresolvable(format!("!GetAtt {what}")))
            }
            other => Err(ResolveError::Unresolvable(other.to_owned())),
        }
    }

    /// `Ref` semantics for the local stack.
    fn reference(&self, target: &str) -> Result<Option<String>, ResolveError> {
        match target {
            "AWS::NoValue" => return Ok(None),
            "AWS::Region" => return Ok(Some(self.region.clone())),
            "AWS::AccountId" => return Ok(Some(LOCAL_ACCOUNT_ID.to_owned())),
            "AWS::StackName" => return Ok(Some(LOCAL_STACK_NAME.to_owned())),
            "AWS::Partition" => return Ok(Some("aws".to_owned())),
            "AWS::URLSuffix" => return Ok(Some("amazonaws.com".to_owned())),
            _ => {}
        }
        if let Some(param) = self.template.parameter(target) {
            return match param.get("Default") {
                Some(default) => self.resolve_string(default),
                None => Err(ResolveError::Unresolvable(format!(
                    "!Ref {target} (a parameter without a Default)"
                ))),
            };
        }
        match self.template.resource(target) {
            Some(r) if r.kind == TABLE_TYPE => Ok(Some(format!("{}{}", self.prefix, target))),
            Some(r) if r.kind == QUEUE_TYPE => match self.local_queue(target).and_then(|q| q.url) {
                Some(url) => Ok(Some(url)),
                None => Err(ResolveError::Unresolvable(format!(
                    "!Ref {target} (a queue URL, known once AWS_ENDPOINT_URL_SQS is set)"
                ))),
            },
            Some(r) => Err(ResolveError::Unresolvable(format!(
                "!Ref {target} (a {})",
                r.kind
            ))),
            None => Err(invalid(format!(
                "!Ref {target}: no such parameter or resource"
            ))),
        }
    }

    /// `!GetAtt <Queue>.Arn|QueueName|QueueUrl` of a template queue, when known locally.
    fn queue_attribute(&self, arg: &Value) -> Option<String> {
        let (id, attribute) = match arg {
            Value::String(s) => s.split_once('.')?,
            Value::Sequence(parts) if parts.len() == 2 => (parts[0].as_str()?, parts[1].as_str()?),
            _ => return None,
        };
        let queue = self.local_queue(id)?;
        match attribute {
            "Arn" => Some(queue.arn),
            "QueueName" => Some(queue.name),
            "QueueUrl" => queue.url,
            _ => None,
        }
    }

    fn sub(&self, arg: &Value, depth: usize) -> Result<String, ResolveError> {
        let (text, vars) = match arg {
            Value::String(s) => (s.as_str(), None),
            Value::Sequence(items) if items.len() == 2 => (
                items[0]
                    .as_str()
                    .ok_or_else(|| invalid("!Sub takes a string first"))?,
                Some(&items[1]),
            ),
            _ => return Err(invalid("!Sub takes a string or [string, variables]")),
        };
        if text.contains("{{resolve:") {
            return Err(ResolveError::Unresolvable(format!(
                "the dynamic reference {text:?}"
            )));
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| invalid(format!("unterminated ${{ in !Sub {text:?}")))?;
            let var = &after[..end];
            if let Some(literal) = var.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = vars.and_then(|v| v.get(var)) {
                let s = self
                    .resolve_at(value, depth)?
                    .as_ref()
                    .and_then(scalar_string)
                    .ok_or_else(|| invalid(format!("!Sub variable {var} is not a scalar")))?;
                out.push_str(&s);
            } else if var.contains('.') && !var.starts_with("AWS::") {
                let value = self
                    .queue_attribute(&Value::String(var.to_owned()))
                    .ok_or_else(|| ResolveError::Unresolvable(format!("!GetAtt {var}")))?;
                out.push_str(&value);
            } else {
                match self.reference(var)? {
                    Some(s) => out.push_str(&s),
                    None => return Err(invalid("AWS::NoValue inside !Sub")),
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn seq_of<'v>(arg: &'v Value, len: usize, what: &str) -> Result<&'v [Value], ResolveError> {
    match arg.as_sequence() {
        Some(items) if items.len() == len => Ok(items),
        _ => Err(invalid(format!("{what} takes a list of {len}"))),
    }
}

/// A scalar as a string; None for sequences, mappings, null and tags.
pub fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A short description of a value for error messages.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("{} ...", t.tag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Stage: { Type: String, Default: dev }
  NoDefault: { Type: String }
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  NotProd: { "Fn::Not": [{ Condition: IsProd }] }
Mappings:
  Sizes: { dev: { Memory: 128 } }
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Queue:
    Type: AWS::SQS::Queue
"#;

    fn template() -> anyhow::Result<Template> {
        Template::parse(TEMPLATE)
    }

    fn yaml(text: &str) -> anyhow::Result<Value> {
        Ok(serde_norway::from_str(text)?)
    }

    #[test]
    fn short_and_long_intrinsic_forms_are_both_recognised() -> anyhow::Result<()> {
        let short = yaml("!GetAtt Table.Arn")?;
        let long = yaml("{ 'Fn::GetAtt': [Table, Arn] }")?;
        assert_eq!(intrinsic(&short).map(|(n, _)| n), Some("Fn::GetAtt".into()));
        assert_eq!(intrinsic(&long).map(|(n, _)| n), Some("Fn::GetAtt".into()));
        assert_eq!(intrinsic(&yaml("{ a: b }")?), None);
        Ok(())
    }

    #[test]
    fn refs_resolve_to_parameter_defaults_table_names_and_pseudo_parameters() -> anyhow::Result<()>
    {
        let t = template()?;
        let r = Resolver::new(&t, "p_", "eu-west-1");
        assert_eq!(r.resolve_string(&yaml("!Ref Stage")?)?, Some("dev".into()));
        assert_eq!(
            r.resolve_string(&yaml("!Ref Table")?)?,
            Some("p_Table".into())
        );
        assert_eq!(
            r.resolve_string(&yaml("!Sub '${AWS::Region}-${Stage}-${!Literal}'")?)?,
            Some("eu-west-1-dev-${Literal}".into())
        );
        assert_eq!(r.resolve(&yaml("!Ref AWS::NoValue")?)?, None);
        Ok(())
    }

    #[test]
    fn conditions_and_find_in_map_are_evaluated_on_parameter_defaults() -> anyhow::Result<()> {
        let t = template()?;
        let r = Resolver::new(&t, "", "eu-west-1");
        assert_eq!(
            r.resolve_string(&yaml("!If [IsProd, a, b]")?)?,
            Some("b".into())
        );
        assert_eq!(
            r.resolve_string(&yaml("!If [NotProd, a, b]")?)?,
            Some("a".into())
        );
        assert_eq!(
            r.resolve_i64(&yaml("!FindInMap [Sizes, !Ref Stage, Memory]")?)?,
            Some(128)
        );
        Ok(())
    }

    #[test]
    fn deployed_only_values_are_unresolvable_not_invalid() -> anyhow::Result<()> {
        let t = template()?;
        let r = Resolver::new(&t, "", "eu-west-1");
        for text in [
            "!GetAtt Table.Arn",
            "!Ref Queue",
            "!GetAtt Queue.QueueUrl",
            "!Ref NoDefault",
            "!Sub '{{resolve:secretsmanager:${Queue}:SecretString}}'",
            "'{{resolve:ssm:/x}}'",
            "!Sub '${Table.Arn}'",
        ] {
            let result = r.resolve(&yaml(text)?);
            assert!(
                matches!(result, Err(ResolveError::Unresolvable(_))),
                "{text}: {result:?}"
            );
        }
        assert!(matches!(
            r.resolve(&yaml("!Ref Nowhere")?),
            Err(ResolveError::Invalid(_))
        ));
        Ok(())
    }

    #[test]
    fn a_queue_resolves_to_its_local_url_arn_and_name() -> anyhow::Result<()> {
        let t = template()?;
        let r = Resolver::new(&t, "p_", "eu-west-1")
            .with_sqs_endpoint(Some("http://127.0.0.1:9324/".into()));
        assert_eq!(
            r.resolve_string(&yaml("!Ref Queue")?)?,
            Some("http://127.0.0.1:9324/123456789012/p_Queue".into())
        );
        assert_eq!(
            r.resolve_string(&yaml("!GetAtt Queue.Arn")?)?,
            Some("arn:aws:sqs:eu-west-1:123456789012:p_Queue".into())
        );
        assert_eq!(
            r.resolve_string(&yaml("{ 'Fn::GetAtt': [Queue, QueueName] }")?)?,
            Some("p_Queue".into())
        );
        assert_eq!(
            r.resolve_string(&yaml("!Sub '${Queue}?x'")?)?,
            Some("http://127.0.0.1:9324/123456789012/p_Queue?x".into())
        );
        Ok(())
    }
}
