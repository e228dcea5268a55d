//! What someone typed into a search box, read as web search engines read
//! it: words must all appear, `"quoted words"` appear together, `or`
//! between two terms lets either do, and `-word` must not appear. Nothing
//! typed is syntax that can fail: anything that is not a word is a
//! separator, and a search with no word in it finds nothing.

/// Terms past this many are ignored, as web search engines do (Google
/// reads 32 words): more make a slower query and never a better one.
pub const MAX_TERMS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText {
    /// The text as typed, cut to [`MAX_TERMS`] terms (Postgres's
    /// `websearch_to_tsquery` reads it so).
    text: String,
    /// Groups that must all match; each matches when any of its phrases
    /// does.
    required: Vec<Vec<Phrase>>,
    /// Phrases that must not match.
    excluded: Vec<Phrase>,
}

/// Words that must appear in this order.
type Phrase = Vec<String>;

impl SearchText {
    /// `None` when the text holds no word, so nothing can match.
    pub fn parse(typed: &str) -> Option<Self> {
        let terms = terms(typed);
        let text = terms
            .iter()
            .map(|term| term.raw.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let mut required: Vec<Vec<Phrase>> = Vec::new();
        let mut excluded = Vec::new();
        let mut joined = false;
        for term in terms {
            // `or` joins its neighbours; with none before it, it joins
            // nothing and is not a word either.
            if term.is_or() {
                joined = !required.is_empty();
                continue;
            }
            let phrase = words(&term.text);
            if phrase.is_empty() {
                continue;
            }
            if term.negated {
                excluded.push(phrase);
            } else if joined && let Some(last) = required.last_mut() {
                last.push(phrase);
            } else {
                required.push(vec![phrase]);
            }
            joined = false;
        }
        (!required.is_empty() || !excluded.is_empty()).then_some(Self {
            text,
            required,
            excluded,
        })
    }

    /// The text for Postgres's `websearch_to_tsquery`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The search as FTS5 match expressions: what must match, and what must
    /// not. Every word is quoted, so no word is read as an operator.
    pub fn fts5(&self) -> (Option<String>, Option<String>) {
        let phrase = |words: &Phrase| format!("\"{}\"", words.join(" "));
        let any = |phrases: &[Phrase]| {
            let alternatives: Vec<String> = phrases.iter().map(phrase).collect();
            match alternatives.len() {
                1 => alternatives.into_iter().collect(),
                _ => format!("({})", alternatives.join(" OR ")),
            }
        };
        let required: Vec<String> = self.required.iter().map(|group| any(group)).collect();
        let required = (!required.is_empty()).then(|| required.join(" AND "));
        let excluded = (!self.excluded.is_empty()).then(|| any(&self.excluded));
        (required, excluded)
    }
}

struct Term {
    raw: String,
    text: String,
    negated: bool,
    quoted: bool,
}

impl Term {
    fn is_or(&self) -> bool {
        !self.quoted && !self.negated && self.text.eq_ignore_ascii_case("or")
    }
}

/// The typed text in terms: whitespace-separated words, or quoted runs, a
/// leading `-` negating either; at most [`MAX_TERMS`] of them.
fn terms(typed: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    let mut rest = typed.trim_start();
    while !rest.is_empty() && terms.len() < MAX_TERMS {
        let negated = rest.starts_with('-');
        let body = if negated { &rest[1..] } else { rest };
        let (text, raw_len, quoted) = match body.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').unwrap_or(quoted.len());
                let closing = usize::from(end < quoted.len());
                (&quoted[..end], 1 + end + closing, true)
            }
            None => {
                let end = body.find(char::is_whitespace).unwrap_or(body.len());
                (&body[..end], end, false)
            }
        };
        let consumed = usize::from(negated) + raw_len;
        terms.push(Term {
            raw: rest[..consumed].to_owned(),
            text: text.to_owned(),
            negated,
            quoted,
        });
        rest = rest[consumed..].trim_start();
    }
    terms
}

/// The words of `text`: its runs of letters and digits, lowercased.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fts5(typed: &str) -> (Option<String>, Option<String>) {
        SearchText::parse(typed).expect("words").fts5()
    }

    fn some(text: &str) -> Option<String> {
        Some(text.to_owned())
    }

    #[test]
    fn words_must_all_appear() {
        assert_eq!(
            fts5("Rust  caching"),
            (some("\"rust\" AND \"caching\""), None)
        );
    }

    #[test]
    fn quotes_or_and_minus_read_as_people_type_them() {
        assert_eq!(
            fts5("\"keyset pagination\" postgres or sqlite -mysql"),
            (
                some("\"keyset pagination\" AND (\"postgres\" OR \"sqlite\")"),
                some("\"mysql\"")
            )
        );
        assert_eq!(fts5("-draft"), (None, some("\"draft\"")));
        assert_eq!(fts5("or rust"), (some("\"rust\""), None));
    }

    #[test]
    fn nothing_typed_is_syntax() {
        for typed in ["%", "_", "\"", "-", "--", "\"\"", "  ", "( ) : * ^ NEAR"] {
            let parsed = SearchText::parse(typed);
            if let Some(parsed) = parsed {
                let (required, excluded) = parsed.fts5();
                for expression in required.iter().chain(&excluded) {
                    // Every word is quoted, so FTS5 reads no operator.
                    assert!(expression.contains('"'), "{typed}: {expression}");
                }
            }
        }
        assert_eq!(SearchText::parse("%"), None);
        assert_eq!(SearchText::parse("-"), None);
        // Within a term, what is not a word separates words of one phrase.
        assert_eq!(fts5("100%_done"), (some("\"100 done\""), None));
        assert_eq!(fts5("\"unclosed quote"), (some("\"unclosed quote\""), None));
    }

    #[test]
    fn terms_past_the_limit_are_ignored() {
        let typed = "word ".repeat(10_000);
        let parsed = SearchText::parse(&typed).unwrap();
        assert_eq!(parsed.text().split(' ').count(), MAX_TERMS);
        assert_eq!(
            parsed.fts5().0.unwrap().matches("AND").count(),
            MAX_TERMS - 1
        );
    }
}
