use super::{ValidationError, bounded_text};

pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_LENGTH: usize = 32;

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, ValidationError> {
                bounded_text($field, value, $min, $max).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }
    };
}

text_newtype!(
    /// 1–200 characters.
    Title, "title", 1, 200
);
text_newtype!(
    /// Up to 500 characters; may be empty.
    Description, "description", 0, 500
);
text_newtype!(
    /// 1–100,000 characters of Markdown.
    Body, "body", 1, 100_000
);
text_newtype!(
    /// 1–5,000 characters.
    CommentBody, "body", 1, 5_000
);

/// Up to ten distinct tags, each 1–32 characters of lowercase letters, digits
/// and `-`. Input is trimmed and lowercased; duplicates collapse, order is kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TagList(Vec<String>);

impl TagList {
    pub fn parse(values: &[String]) -> Result<Self, ValidationError> {
        let mut tags: Vec<String> = Vec::with_capacity(values.len());
        for value in values {
            let tag = value.trim().to_lowercase();
            if tag.is_empty() || tag.chars().count() > MAX_TAG_LENGTH {
                return Err(ValidationError::new(
                    "tags",
                    format!("each tag must be 1 to {MAX_TAG_LENGTH} characters"),
                ));
            }
            if !tag.chars().all(|c| c.is_alphanumeric() || c == '-') {
                return Err(ValidationError::new(
                    "tags",
                    format!("tag \"{tag}\" may contain only letters, digits and '-'"),
                ));
            }
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(ValidationError::new(
                "tags",
                format!("an article may have at most {MAX_TAGS} tags"),
            ));
        }
        Ok(Self(tags))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// The URL slug for a title: lowercase ASCII words joined by `-`, at most 80
/// characters. The caller makes it unique.
pub fn slugify(title: &Title) -> String {
    let slug = slug::slugify(title.as_str());
    let mut slug: String = slug.chars().take(80).collect();
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        "article".to_owned()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_must_not_be_blank() {
        assert_eq!(Title::parse("  Hi ").unwrap().as_str(), "Hi");
        assert_eq!(Title::parse("   ").unwrap_err().field, "title");
        assert!(Title::parse(&"x".repeat(201)).is_err());
    }

    #[test]
    fn tags_are_normalised_deduplicated_and_bounded() {
        let tags = TagList::parse(&["Rust".into(), " rust ".into(), "web-dev".into()]).unwrap();
        assert_eq!(tags.as_slice(), ["rust", "web-dev"]);
        assert!(TagList::parse(&["".into()]).is_err());
        assert!(TagList::parse(&["a b".into()]).is_err());
        let many: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert_eq!(TagList::parse(&many).unwrap_err().field, "tags");
    }

    #[test]
    fn slugs_are_url_safe_and_never_empty() {
        let title = Title::parse("Hello, World! Ünïcode").unwrap();
        assert_eq!(slugify(&title), "hello-world-unicode");
        assert_eq!(slugify(&Title::parse("!!!").unwrap()), "article");
        let long = Title::parse(&"word ".repeat(40)).unwrap();
        assert!(slugify(&long).len() <= 80 && !slugify(&long).ends_with('-'));
    }
}
