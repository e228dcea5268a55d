//! Credentials: password hashing and the tokens that prove who is calling.

pub mod password;
pub mod tokens;
