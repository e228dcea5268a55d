//! The token limit: checked on a document's text before it is parsed, so
//! the work of parsing, validating and walking any document is bounded by
//! a count the server chose, not by the body size the client filled.
//! Apollo Router refuses documents the same way, with the same default.

use apollo_parser::{Lexer, TokenKind};
use async_graphql::ServerError;

use super::errors;

/// The default most tokens: Apollo Router's `parser_max_tokens`. The
/// largest operation in `playground/operations/` has a few hundred.
pub const DEFAULT_MAX_TOKENS: usize = 15_000;

/// Refuses `query` if it has more than `limit` tokens. Whitespace, commas
/// and comments are not counted (they cost the parser next to nothing);
/// lexing stops at the first token over the limit.
pub(super) fn check(query: &str, limit: usize) -> Result<(), ServerError> {
    let significant = Lexer::new(query)
        .filter_map(Result::ok)
        .filter(|token| {
            !matches!(
                token.kind(),
                TokenKind::Whitespace | TokenKind::Comment | TokenKind::Comma | TokenKind::Eof
            )
        })
        .take(limit.saturating_add(1))
        .count();
    if significant > limit {
        return Err(errors::coded(
            format!("a document may have at most {limit} tokens"),
            errors::GRAPHQL_VALIDATION_FAILED,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_the_parser_reads() {
        // `{`, `a`, `b`, `}`: four, whatever the trivia between them.
        assert!(check("{ a, b } # note", 4).is_ok());
        assert!(check("{ a b c }", 4).is_err());
        assert!(check(&"# only a comment\n".repeat(10_000), 4).is_ok());
    }
}
