//! A small builder for DynamoDB expressions with placeholder names and values.

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct Expr {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
    key_conditions: Vec<String>,
    filters: Vec<String>,
}

impl Expr {
    pub fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub fn key(&mut self, condition: String) {
        self.key_conditions.push(condition);
    }

    pub fn filter(&mut self, condition: String) {
        self.filters.push(condition);
    }

    pub fn key_condition(&self) -> String {
        self.key_conditions.join(" AND ")
    }

    pub fn filter_expression(&self) -> Option<String> {
        (!self.filters.is_empty()).then(|| self.filters.join(" AND "))
    }

    pub fn has_filter(&self) -> bool {
        !self.filters.is_empty()
    }
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
