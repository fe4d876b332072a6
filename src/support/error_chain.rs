//! An error and its causes as one line (`what failed: why: why`), for a log
//! field or a one-line message. The one joiner: every room uses it, so the
//! convention holds everywhere. herald's own errors say what failed and
//! keep why as their source, never in their message; a foreign error that
//! prints its source too (sqlx does) is not repeated, and a message spread
//! over lines (a TOML parse error) is joined onto one.

/// `error: cause: cause`, on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        let text = one_line(&cause.to_string());
        if !parts
            .last()
            .is_some_and(|previous| previous.contains(&text))
        {
            parts.push(text);
        }
        next = cause.source();
    }
    parts.join(": ")
}

/// `text` with its line breaks (and the indentation after them) as single spaces.
fn one_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the config")]
    struct Outer(#[source] std::io::Error);

    /// A foreign-style error that prints its source in its own message.
    #[derive(Debug, thiserror::Error)]
    #[error("query failed: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn causes_follow_in_order() {
        let e = Outer(std::io::Error::other("disk on fire"));
        assert_eq!(error_chain(&e), "reading the config: disk on fire");
    }

    #[test]
    fn a_cause_already_printed_is_not_repeated() {
        let e = Repeats(std::io::Error::other("disk on fire"));
        assert_eq!(error_chain(&e), "query failed: disk on fire");
    }

    #[test]
    fn the_line_stays_one_line() {
        let e = Outer(std::io::Error::other(
            "parse error at line 1\n  |\n1 | x = \n",
        ));
        assert_eq!(
            error_chain(&e),
            "reading the config: parse error at line 1 | 1 | x ="
        );
    }
}
