use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};

use super::ValidationError;

/// Pages hold at most this many items, whatever the client asks for.
pub const MAX_PAGE_SIZE: u64 = 100;
/// The page size when the client gives neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// 0001-01-01 and 9999-12-31 23:59:59.999999 UTC, in microseconds.
const MIN_TIME_MICROS: i64 = -62_135_596_800_000_000;
const MAX_TIME_MICROS: i64 = 253_402_300_799_999_999;

/// The ordering value of a row, besides its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKey {
    /// The list is ordered by id alone.
    None,
    Int(i64),
    Time(DateTime<Utc>),
}

/// A position in one list: the row's (order key, id). The scope names the list
/// and its ordering, so a cursor from another list is refused instead of
/// silently pointing somewhere meaningless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub scope: &'static str,
    pub key: CursorKey,
    pub id: i64,
}

impl Cursor {
    pub fn new(scope: &'static str, key: CursorKey, id: i64) -> Self {
        Self { scope, key, id }
    }

    pub fn encode(&self) -> String {
        let key = match self.key {
            CursorKey::None => String::new(),
            CursorKey::Int(value) => format!("i{value}"),
            CursorKey::Time(value) => format!("t{}", value.timestamp_micros()),
        };
        URL_SAFE_NO_PAD.encode(format!("{}|{key}|{}", self.scope, self.id))
    }

    pub fn decode(
        field: &'static str,
        scope: &'static str,
        value: &str,
    ) -> Result<Self, ValidationError> {
        let invalid = || {
            ValidationError::new(
                field,
                format!("{} is not a valid cursor", super::quoted(value)),
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.splitn(3, '|');
        let (Some(found_scope), Some(key), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        if found_scope != scope {
            return Err(ValidationError::new(
                field,
                format!(
                    "{} is a cursor of another list or ordering",
                    super::quoted(value)
                ),
            ));
        }
        let id = id.parse::<i64>().map_err(|_| invalid())?;
        let key = match key.split_at_checked(1) {
            None => CursorKey::None,
            Some(("i", value)) => CursorKey::Int(value.parse().map_err(|_| invalid())?),
            Some(("t", value)) => {
                let micros: i64 = value.parse().map_err(|_| invalid())?;
                // Years 1 to 9999, which every backend stores; chrono takes
                // times Postgres refuses as out of range.
                if !(MIN_TIME_MICROS..=MAX_TIME_MICROS).contains(&micros) {
                    return Err(invalid());
                }
                CursorKey::Time(DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?)
            }
            Some(_) => return Err(invalid()),
        };
        Ok(Self { scope, key, id })
    }
}

/// Validated Relay pagination arguments for one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items the page holds.
    pub size: u64,
    /// Paginating backwards from the end (`last`/`before`).
    pub backward: bool,
    pub after: Option<Cursor>,
    pub before: Option<Cursor>,
}

impl PageRequest {
    pub fn parse(
        scope: &'static str,
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> Result<Self, ValidationError> {
        let size = |field: &'static str, value: i32| {
            u64::try_from(value)
                .ok()
                .filter(|size| *size <= MAX_PAGE_SIZE)
                .ok_or_else(|| {
                    ValidationError::new(
                        field,
                        format!("{field} must be between 0 and {MAX_PAGE_SIZE}"),
                    )
                })
        };
        let (size, backward) = match (first, last) {
            (Some(_), Some(_)) => {
                return Err(ValidationError::new(
                    "last",
                    "pass either first or last, not both",
                ));
            }
            (Some(first), None) => (size("first", first)?, false),
            (None, Some(last)) => (size("last", last)?, true),
            (None, None) => (DEFAULT_PAGE_SIZE, before.is_some() && after.is_none()),
        };
        Ok(Self {
            size,
            backward,
            after: after
                .map(|value| Cursor::decode("after", scope, value))
                .transpose()?,
            before: before
                .map(|value| Cursor::decode("before", scope, value))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_with_their_scope() {
        let time = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        for key in [CursorKey::None, CursorKey::Int(-3), CursorKey::Time(time)] {
            let cursor = Cursor::new("articles:PUBLISHED_AT", key, 7);
            let decoded = Cursor::decode("after", "articles:PUBLISHED_AT", &cursor.encode());
            assert_eq!(decoded.unwrap(), cursor);
        }
    }

    #[test]
    fn foreign_and_malformed_cursors_are_rejected() {
        let cursor = Cursor::new("tags", CursorKey::Int(1), 1).encode();
        let err = Cursor::decode("after", "comments", &cursor).unwrap_err();
        assert_eq!(err.field, "after");
        for bad in ["", "***", "YWJj", "dGFnc3x4fDE", "dGFnc3xpMXx4"] {
            assert!(Cursor::decode("before", "tags", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(
            PageRequest::parse("s", None, None, None, None)
                .unwrap()
                .size,
            20
        );
        assert!(PageRequest::parse("s", Some(101), None, None, None).is_err());
        assert!(PageRequest::parse("s", Some(-1), None, None, None).is_err());
        assert!(PageRequest::parse("s", Some(1), None, Some(1), None).is_err());
        assert!(
            PageRequest::parse("s", None, None, Some(5), None)
                .unwrap()
                .backward
        );
    }
}
