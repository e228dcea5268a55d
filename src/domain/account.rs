use super::{ValidationError, bounded_text};

/// 3–32 characters of ASCII letters, digits, `_` and `-`, stored lowercase so
/// `Alice` and `alice` cannot be two different people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let value = bounded_text("username", value, 3, 32)?;
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ValidationError::new(
                "username",
                "username may contain only letters, digits, '_' and '-'",
            ));
        }
        Ok(Self(value.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A syntactically valid address, stored lowercase in ASCII. Compatibility
/// forms are folded first (NFKC: full-width `ａｄａ` is `ada`), and what is
/// still not ASCII is refused, so no address can pass for another with
/// look-alike letters of another script (Cyrillic `а` for Latin `a`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        use unicode_normalization::UnicodeNormalization;
        let value: String = value.trim().nfkc().collect::<String>().to_lowercase();
        if !value.is_ascii() {
            return Err(ValidationError::new(
                "email",
                "email must be written in ASCII letters, digits and symbols",
            ));
        }
        if value.len() > 254 || !email_address::EmailAddress::is_valid(&value) {
            return Err(ValidationError::new(
                "email",
                "email is not a valid address",
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A new password: 8–128 characters, and not easy to guess: zxcvbn (the
/// estimator Dropbox maintains, with the common-password, name and word
/// lists) must rate it at least 3 of 4, "safely unguessable" by an online
/// attacker. Never trimmed: spaces are part of it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let length = value.chars().count();
        if length < 8 {
            return Err(ValidationError::new(
                "password",
                "password must be at least 8 characters",
            ));
        }
        if length > 128 {
            return Err(ValidationError::new(
                "password",
                "password must be at most 128 characters",
            ));
        }
        if zxcvbn::zxcvbn(value, &[]).score() < zxcvbn::Score::Three {
            return Err(ValidationError::new(
                "password",
                "password is too easy to guess: it is common, or a simple pattern; a few unrelated words make a strong one",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Up to 1000 characters; empty means "no bio".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bio(Option<String>);

impl Bio {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let value = bounded_text("bio", value, 0, 1000)?;
        Ok(Self((!value.is_empty()).then_some(value)))
    }

    pub fn into_inner(self) -> Option<String> {
        self.0
    }
}

/// An absolute http(s) URL of at most 2048 characters; empty means "no image".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUrl(Option<String>);

impl ImageUrl {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let value = bounded_text("image", value, 0, 2048)?;
        if value.is_empty() {
            return Ok(Self(None));
        }
        match url::Url::parse(&value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(Self(Some(value))),
            _ => Err(ValidationError::new(
                "image",
                "image must be an absolute http or https URL",
            )),
        }
    }

    pub fn into_inner(self) -> Option<String> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_restricted() {
        assert_eq!(Username::parse(" Alice_1 ").unwrap().as_str(), "alice_1");
        assert_eq!(Username::parse("al").unwrap_err().field, "username");
        assert!(Username::parse("a b c").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
    }

    #[test]
    fn emails_must_have_a_valid_shape() {
        assert_eq!(
            Email::parse("A@Example.com").unwrap().as_str(),
            "a@example.com"
        );
        for bad in ["", "no-at", "a@", "@b.c", "a b@c.d"] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
        // Full-width forms fold to ASCII; other scripts' look-alikes are
        // refused.
        assert_eq!(
            Email::parse("ａｄａ@ｅｘａｍｐｌｅ.com").unwrap().as_str(),
            "ada@example.com"
        );
        for look_alike in [
            "\u{430}da@example.com",
            "ada@ex\u{430}mple.com",
            "ad\u{3b1}@example.com",
        ] {
            assert!(Email::parse(look_alike).is_err(), "{look_alike}");
        }
    }

    #[test]
    fn passwords_have_length_bounds_and_hide_in_debug() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        for weak in [
            "password",
            "aaaaaaaa",
            "12345678",
            "qwertyuiop",
            "Password1!",
        ] {
            assert!(Password::parse(weak).is_err(), "{weak}");
        }
        let password = Password::parse("correct horse battery staple").unwrap();
        assert_eq!(format!("{password:?}"), "Password(***)");
    }

    #[test]
    fn images_must_be_http_urls() {
        assert!(ImageUrl::parse("javascript:alert(1)").is_err());
        assert!(ImageUrl::parse("/relative.png").is_err());
        assert_eq!(ImageUrl::parse("").unwrap().into_inner(), None);
        assert!(ImageUrl::parse("https://img.example/a.png").is_ok());
    }
}
