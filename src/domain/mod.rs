//! Parse, don't validate: values that cross into the service layer are newtypes
//! whose constructors enforce the rules, so an invalid one cannot exist.

mod account;
mod article;
pub mod cursor;
mod id;
pub mod search;

pub use account::{Bio, Email, ImageUrl, Password, Username};
pub use article::{Body, CommentBody, Description, TagList, Title, slugify};
pub use cursor::{Cursor, CursorKey, PageRequest};
pub use id::{GlobalId, NodeKind};
pub use search::SearchText;

/// An input that broke a rule. `field` is the GraphQL name of the offending
/// argument or input field, reported to the client as `extensions.field`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Trims `value` and checks its length in characters (not bytes).
fn bounded_text(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<String, ValidationError> {
    let value = value.trim();
    let length = value.chars().count();
    if length < min {
        return Err(if min == 1 {
            ValidationError::new(field, format!("{field} must not be empty"))
        } else {
            ValidationError::new(field, format!("{field} must be at least {min} characters"))
        });
    }
    if length > max {
        return Err(ValidationError::new(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// `value` quoted for an error message, cut to its first 40 characters: a
/// client's input is echoed back to it, but never a whole overlong one.
pub(crate) fn quoted(value: &str) -> String {
    const SHOWN: usize = 40;
    match value.char_indices().nth(SHOWN) {
        None => format!("{value:?}"),
        Some((end, _)) => format!("{:?}…", &value[..end]),
    }
}
