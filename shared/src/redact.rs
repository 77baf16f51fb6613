//! Defense in depth for text that leaves payrail (log-service entries, gateway reasons, error
//! details): whatever its source, a card number cannot pass through it.
//!
//! Typed code never formats a full number (`CardNumber` prints masked), but free text from a
//! third party can echo one back: a gateway error that quotes the request, an exception text.

/// What replaces a scrubbed run of digits.
pub const REDACTED: &str = "[redacted]";

/// Fewest digits in a run that is scrubbed: the shortest card number is 12 digits.
pub const MIN_SCRUBBED_DIGITS: usize = 12;

/// Replaces every run of 12 or more ASCII digits with [`REDACTED`]. Digits separated only by
/// spaces or dashes count as one run (`4111 1111-1111 1111`), so a number cannot escape by its
/// grouping. Runs longer than 19 digits are scrubbed too: a card number glued to other digits
/// is still a card number. Shorter numbers (amounts, status codes, counts) are kept.
pub fn scrub_card_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !is_digit(chars.get(i)) {
            out.extend(chars.get(i));
            i += 1;
            continue;
        }
        let (end, digits) = digit_run(&chars, i);
        if digits >= MIN_SCRUBBED_DIGITS {
            out.push_str(REDACTED);
        } else {
            out.extend(chars.get(i..end).unwrap_or_default());
        }
        i = end;
    }
    out
}

/// The end (exclusive, after the last digit) and digit count of the run starting at `start`.
fn digit_run(chars: &[char], start: usize) -> (usize, usize) {
    let (mut end, mut digits, mut j) = (start, 0, start);
    while j < chars.len() {
        if is_digit(chars.get(j)) {
            digits += 1;
            j += 1;
            end = j;
        } else if is_separator(chars.get(j)) {
            j += 1;
        } else {
            break;
        }
    }
    (end, digits)
}

fn is_digit(c: Option<&char>) -> bool {
    c.is_some_and(char::is_ascii_digit)
}

fn is_separator(c: Option<&char>) -> bool {
    matches!(c, Some(' ' | '-'))
}

/// Fewest characters in a word that [`scrub_tokens`] takes for a token.
pub const MIN_TOKEN_CHARS: usize = 20;

/// Replaces every token-like word with [`REDACTED`]: a run of at least [`MIN_TOKEN_CHARS`]
/// letters, digits, `_`, `-`, `+`, `/` or `=` that holds both a letter and a digit (wallet and
/// network tokens, API keys, sealed values, base64). Words of prose never hold digits; ids such
/// as UUIDs are scrubbed too, which costs nothing where this is used (a gateway's free text:
/// the payment id travels in its own field).
pub fn scrub_tokens(text: &str) -> String {
    let is_token_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '=');
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let token = word.chars().count() >= MIN_TOKEN_CHARS
            && word.chars().any(|c| c.is_ascii_digit())
            && word.chars().any(|c| c.is_ascii_alphabetic());
        out.push_str(if token { REDACTED } else { word });
        word.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Text from a third party that may echo what payrail sent it: every occurrence of each of
/// `sent` (the card number or wallet token of the request, compared ignoring ASCII case)
/// replaced with [`REDACTED`], then token-like words ([`scrub_tokens`]). Card-like digits are
/// left to [`short_text`] / [`scrub_card_numbers`]. Secrets shorter than 4 characters are not
/// searched for: they would match ordinary words.
pub fn scrub_secrets(text: &str, sent: &[&str]) -> String {
    let mut out = text.to_owned();
    let mut sent: Vec<&str> = sent.iter().copied().filter(|s| s.len() >= 4).collect();
    // Longest first, so that a secret inside another is not left half-replaced.
    sent.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in sent {
        out = replace_ignoring_case(&out, secret);
    }
    scrub_tokens(&out)
}

fn replace_ignoring_case(text: &str, secret: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let needle = secret.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    // ASCII lowering keeps byte offsets, so positions in `lower` are positions in `text`.
    while let Some(found) = lower.get(rest..).and_then(|l| l.find(&needle)) {
        out.push_str(text.get(rest..rest + found).unwrap_or_default());
        out.push_str(REDACTED);
        rest += found + needle.len();
    }
    out.push_str(text.get(rest..).unwrap_or_default());
    out
}

/// `text` scrubbed, with runs of whitespace collapsed, cut to at most `max_chars` characters
/// (an ellipsis marks a cut): fit for a log line or a stored failure message.
pub fn short_text(text: &str, max_chars: usize) -> String {
    let scrubbed = scrub_card_numbers(text);
    let collapsed = scrubbed.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max_chars {
        return collapsed;
    }
    let mut cut: String = collapsed
        .chars()
        .take(max_chars.saturating_sub(1))
        .collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The longest run of digits in `text` where spaces and dashes between digits are ignored.
    fn longest_digit_run(text: &str) -> usize {
        let chars: Vec<char> = text.chars().collect();
        (0..chars.len())
            .filter(|i| is_digit(chars.get(*i)))
            .map(|i| digit_run(&chars, i).1)
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn removes_card_numbers_however_they_are_grouped() {
        for text in [
            "card 4111111111111111 declined",
            "card 4111 1111 1111 1111 declined",
            "card 4111-1111-1111-1111 declined",
            "card 4111 - 1111 - 1111 - 1111 declined",
            "card=378282246310005;",
        ] {
            let scrubbed = scrub_card_numbers(text);
            assert!(scrubbed.contains(REDACTED), "{scrubbed}");
            assert!(
                longest_digit_run(&scrubbed) < MIN_SCRUBBED_DIGITS,
                "{scrubbed}"
            );
        }
        assert_eq!(
            scrub_card_numbers("card 4111 1111 1111 1111 declined"),
            "card [redacted] declined"
        );
    }

    #[test]
    fn keeps_short_numbers_and_text_without_digits() {
        let text = "gateway answered 503 after 10000 ms for 1337 GBP, attempt 3 of 5";
        assert_eq!(scrub_card_numbers(text), text);
        assert_eq!(
            scrub_card_numbers("no digits – ünïcödé"),
            "no digits – ünïcödé"
        );
        assert_eq!(scrub_card_numbers(""), "");
    }

    #[test]
    fn short_text_collapses_whitespace_and_cuts_with_an_ellipsis() {
        assert_eq!(short_text("  a \n\t b  ", 10), "a b");
        assert_eq!(short_text("abcdefghij", 5), "abcd…");
        assert_eq!(short_text("pan 4111111111111111", 100), "pan [redacted]");
    }

    #[test]
    fn scrubs_the_sent_wallet_token_and_token_like_words_but_keeps_prose() {
        let token = "wtk_9f8e7d6c5b4a";
        let echoed = format!("wallet token {token} refused; WTK_9F8E7D6C5B4A again");
        assert_eq!(
            scrub_secrets(&echoed, &[token]),
            "wallet token [redacted] refused; [redacted] again"
        );
        assert_eq!(
            scrub_secrets("network token tok_1a2b3c4d5e6f7g8h9i0j expired", &[]),
            "network token [redacted] expired"
        );
        let prose = "the issuer declined the transaction: insufficient_funds_for_this_amount";
        assert_eq!(scrub_secrets(prose, &[]), prose);
        assert_eq!(scrub_secrets("code 42 of 503", &["42"]), "code 42 of 503");
        assert_eq!(scrub_secrets("", &[token]), "");
    }

    fn grouped(digits: &str, separators: &[u8]) -> String {
        let mut out = String::new();
        for (i, d) in digits.chars().enumerate() {
            if i > 0 {
                match separators.get(i).copied().unwrap_or(0) % 4 {
                    1 => out.push(' '),
                    2 => out.push('-'),
                    3 => out.push_str(" - "),
                    _ => {}
                }
            }
            out.push(d);
        }
        out
    }

    proptest! {
        #[test]
        fn no_run_of_twelve_or_more_digits_survives(
            before in ".{0,40}",
            digits in "[0-9]{12,19}",
            separators in proptest::collection::vec(any::<u8>(), 19),
            after in ".{0,40}",
        ) {
            let text = format!("{before}{}{after}", grouped(&digits, &separators));
            let scrubbed = scrub_card_numbers(&text);
            prop_assert!(longest_digit_run(&scrubbed) < MIN_SCRUBBED_DIGITS, "{}", scrubbed);
            prop_assert!(!scrubbed.contains(&digits));
        }

        #[test]
        fn scrubbing_is_idempotent_and_keeps_digit_free_text(text in "[^0-9]{0,80}", any_text in ".{0,80}") {
            prop_assert_eq!(scrub_card_numbers(&text), text);
            let once = scrub_card_numbers(&any_text);
            prop_assert_eq!(scrub_card_numbers(&once), once.clone());
            prop_assert!(longest_digit_run(&once) < MIN_SCRUBBED_DIGITS);
        }
    }
}
