//! Access tokens are short-lived HS256 JWTs carrying the user id and the
//! session (the refresh-token row) they were issued with, so ending the
//! session ends its access tokens at once.
//! Refresh tokens are 256 random bits handed to the client once; the server
//! keeps only their SHA-256, so a database leak yields no usable token.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: i64,
    iat: i64,
    exp: i64,
}

/// What a valid access token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: i64,
    pub session_id: i64,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the access token is invalid or expired")]
    Invalid,
    #[error("signing the access token failed: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
}

impl TokenKeys {
    pub fn new(secret: &[u8], access_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
        }
    }

    /// A signed access token for `user_id` in session `session_id`, and
    /// the moment it expires.
    pub fn issue_access(
        &self,
        user_id: i64,
        session_id: i64,
    ) -> Result<(String, DateTime<Utc>), TokenError> {
        let now = Utc::now();
        let expires_at = now + self.access_ttl;
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session_id,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, expires_at))
    }

    /// The claims of a valid, unexpired access token.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?;
        Ok(AccessClaims {
            user_id: data.claims.sub.parse().map_err(|_| TokenError::Invalid)?,
            session_id: data.claims.sid,
            expires_at: DateTime::from_timestamp(data.claims.exp, 0).ok_or(TokenError::Invalid)?,
        })
    }
}

/// A fresh refresh token and its hash.
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// An opaque id for a family of rotated refresh tokens.
pub fn new_family_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_verify_only_with_the_right_key() {
        let keys = TokenKeys::new(
            b"a-secret-of-enough-length-for-tests!",
            Duration::minutes(15),
        );
        let (token, expires_at) = keys.issue_access(7, 3).unwrap();
        let claims = keys.verify_access(&token).unwrap();
        assert_eq!((claims.user_id, claims.session_id), (7, 3));
        assert!(expires_at > Utc::now() + Duration::minutes(14));
        let other = TokenKeys::new(
            b"another-secret-of-enough-length!!!!",
            Duration::minutes(15),
        );
        assert!(other.verify_access(&token).is_err());
        assert!(keys.verify_access("not.a.jwt").is_err());
    }

    #[test]
    fn expired_access_tokens_are_rejected() {
        let keys = TokenKeys::new(
            b"a-secret-of-enough-length-for-tests!",
            Duration::minutes(-10),
        );
        let (token, _) = keys.issue_access(7, 3).unwrap();
        assert!(keys.verify_access(&token).is_err());
    }

    #[test]
    fn refresh_tokens_are_256_bits_and_stored_hashed() {
        let (token, hash) = new_refresh_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
        assert_eq!(hash, hash_refresh_token(&token));
        assert_eq!(hash.len(), 64);
        assert_ne!(new_refresh_token().0, token);
    }
}
