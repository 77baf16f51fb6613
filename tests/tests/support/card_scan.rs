//! The card-data scan: finds, in any text, a full card number a test used, a wallet token it
//! sent, or a CVC value next to a CVC-like key. Short digit strings occur everywhere (amounts,
//! ports, timestamps), so a CVC is only looked for as the value of a `cvc`/`cvv`-like key.

use std::collections::HashSet;

/// What must never appear in clear.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// Full card numbers (PANs), digits only.
    pub numbers: HashSet<String>,
    /// The CVCs sent (for the report: any 3–4 digit value of a CVC key is a leak anyway).
    pub cvcs: HashSet<String>,
    /// Wallet tokens; each starts with [`TOKEN_PREFIX`].
    pub tokens: HashSet<String>,
}

/// Every wallet token a test makes starts with this, so that the scan can find them cheaply.
pub const TOKEN_PREFIX: &str = "wtk_";

/// Keys whose value is a CVC, lower case.
const CVC_KEYS: [&str; 6] = ["cvc", "cvv", "csc", "cvc2", "cvv2", "security_code"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// Where: a file, a table item, a response, a queue message.
    pub source: String,
    pub kind: &'static str,
    /// The text around it, with the secret itself masked, for the failure message.
    pub around: String,
}

impl std::fmt::Display for Leak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in {}: …{}…", self.kind, self.source, self.around)
    }
}

impl Secrets {
    pub fn add_number(&mut self, number: &str) {
        self.numbers.insert(number.to_owned());
    }

    /// The leaks in `text`, which came from `source`.
    pub fn scan(&self, source: &str, text: &str) -> Vec<Leak> {
        let mut leaks = Vec::new();
        let leak = |kind, start: usize, end: usize| Leak {
            source: source.to_owned(),
            kind,
            around: masked_context(text, start, end),
        };
        for (start, run) in digit_runs(text, 12) {
            if let Some((offset, len)) = self.number_in(run) {
                leaks.push(leak(
                    "full card number",
                    start + offset,
                    start + offset + len,
                ));
            }
        }
        for (start, _) in text.match_indices(TOKEN_PREFIX) {
            let end = text[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(text.len(), |n| start + n);
            if self.tokens.contains(&text[start..end]) {
                leaks.push(leak("wallet token", start, end));
            }
        }
        let lower = text.to_ascii_lowercase();
        for key in CVC_KEYS {
            for (at, _) in lower.match_indices(key) {
                let before = lower[..at].chars().next_back();
                if before.is_some_and(|c| c.is_ascii_alphanumeric()) {
                    continue; // part of a longer word
                }
                if let Some((start, end)) = cvc_value(&lower, at + key.len()) {
                    let kind = if self.cvcs.contains(&text[start..end]) {
                        "CVC sent to the API"
                    } else {
                        "CVC-like value"
                    };
                    leaks.push(leak(kind, start, end));
                }
            }
        }
        leaks
    }

    /// A card number inside a run of digits: (offset, length).
    fn number_in(&self, run: &str) -> Option<(usize, usize)> {
        (12..=19.min(run.len())).find_map(|len| {
            (0..=run.len() - len).find_map(|offset| {
                self.numbers
                    .contains(&run[offset..offset + len])
                    .then_some((offset, len))
            })
        })
    }
}

/// Runs of at least `min` ASCII digits: (byte offset, run).
fn digit_runs(text: &str, min: usize) -> impl Iterator<Item = (usize, &str)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                if i - start >= min {
                    return Some((start, &text[start..i]));
                }
            } else {
                i += 1;
            }
        }
        None
    })
}

/// After a CVC key ending at `from`: the key's value when it is 3 or 4 digits, reached over
/// quotes, escapes, spaces and one `:` or `=` (`"cvc":"123"`, `cvc=123`, `\"cvc\": \"1234\"`).
fn cvc_value(lower: &str, from: usize) -> Option<(usize, usize)> {
    let rest = &lower[from..];
    let skipped = rest
        .find(|c: char| !matches!(c, '"' | '\'' | '\\' | ' ' | ':' | '='))
        .unwrap_or(rest.len());
    let separator = &rest[..skipped];
    if !separator.contains([':', '=']) || skipped > 8 {
        return None;
    }
    let start = from + skipped;
    let digits = lower[start..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len() - start);
    (3..=4).contains(&digits).then_some((start, start + digits))
}

fn masked_context(text: &str, start: usize, end: usize) -> String {
    let floor = |mut i: usize| {
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let from = floor(start.saturating_sub(40));
    let to = floor((end + 40).min(text.len()));
    format!(
        "{}{}{}",
        &text[from..start],
        "#".repeat(end - start),
        &text[end..to]
    )
}
