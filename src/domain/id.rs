use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::ValidationError;

/// The object types that can be refetched through `node`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    User,
    Article,
    Comment,
}

impl NodeKind {
    fn name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Article => "Article",
            Self::Comment => "Comment",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "User" => Some(Self::User),
            "Article" => Some(Self::Article),
            "Comment" => Some(Self::Comment),
            _ => None,
        }
    }
}

/// A global object id: the type name and the row id, base64url-encoded so
/// clients treat it as opaque and ids of different types never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalId {
    pub kind: NodeKind,
    pub id: i64,
}

impl GlobalId {
    pub fn new(kind: NodeKind, id: i64) -> Self {
        Self { kind, id }
    }

    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.kind.name(), self.id))
    }

    /// Decodes any global id; `field` names the argument for the error.
    pub fn decode(field: &'static str, value: &str) -> Result<Self, ValidationError> {
        let invalid =
            || ValidationError::new(field, format!("{} is not a valid id", super::quoted(value)));
        let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (kind, id) = text.split_once(':').ok_or_else(invalid)?;
        let kind = NodeKind::from_name(kind).ok_or_else(invalid)?;
        let id = id
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(invalid)?;
        Ok(Self { kind, id })
    }

    /// Decodes an id that must denote an object of `kind`.
    pub fn decode_as(
        field: &'static str,
        value: &str,
        kind: NodeKind,
    ) -> Result<i64, ValidationError> {
        let id = Self::decode(field, value)?;
        if id.kind != kind {
            return Err(ValidationError::new(
                field,
                format!(
                    "{} is not the id of a {}",
                    super::quoted(value),
                    kind.name()
                ),
            ));
        }
        Ok(id.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = GlobalId::new(NodeKind::Article, 42);
        assert_eq!(GlobalId::decode("id", &id.encode()).unwrap(), id);
        assert_eq!(
            GlobalId::decode_as("id", &id.encode(), NodeKind::Article).unwrap(),
            42
        );
        assert!(GlobalId::decode_as("id", &id.encode(), NodeKind::User).is_err());
        for bad in ["", "!!", "QXJ0aWNsZQ", "VXNlcjp4", "VXNlcjotMQ"] {
            assert!(GlobalId::decode("id", bad).is_err(), "{bad}");
        }
    }
}
