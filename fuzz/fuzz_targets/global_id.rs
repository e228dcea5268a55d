//! Global id decoding: any text is an id or a BAD_USER_INPUT, and an id
//! that decodes encodes back to itself.
#![no_main]

use folio::domain::{GlobalId, NodeKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(id) = GlobalId::decode("id", text) {
        assert_eq!(
            GlobalId::decode("id", &id.encode()).expect("re-encoded id"),
            id
        );
    }
    let _ = GlobalId::decode_as("id", text, NodeKind::Article);
});
