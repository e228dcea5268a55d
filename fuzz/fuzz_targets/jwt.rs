//! Access-token verification: any text is refused unless it is a token
//! these keys signed; nothing panics.
#![no_main]

use std::sync::LazyLock;

use folio::auth::tokens::TokenKeys;
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<TokenKeys> = LazyLock::new(|| {
    TokenKeys::new(
        b"fuzzing-secret-that-is-at-least-32-bytes",
        chrono::Duration::minutes(15),
    )
});

fuzz_target!(|text: &str| {
    if let Ok(claims) = KEYS.verify_access(text) {
        // Only a token the keys issued can verify; the fuzzer cannot forge
        // an HMAC, so reaching here means it mutated a real one harmlessly.
        let (issued, _) = KEYS
            .issue_access(claims.user_id, claims.session_id)
            .expect("issued");
        let again = KEYS.verify_access(&issued).expect("verified");
        assert_eq!(
            (again.user_id, again.session_id),
            (claims.user_id, claims.session_id)
        );
    }
});
