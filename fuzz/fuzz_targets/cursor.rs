//! Cursor decoding: any text is a cursor of the list or a BAD_USER_INPUT,
//! and a cursor that decodes encodes back to a cursor that decodes the same.
#![no_main]

use folio::domain::Cursor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    for scope in ["articles:published_at", "comments", "tags"] {
        if let Ok(cursor) = Cursor::decode("after", scope, text) {
            let again =
                Cursor::decode("after", scope, &cursor.encode()).expect("re-encoded cursor");
            assert_eq!(again, cursor);
        }
    }
    let _ = folio::domain::PageRequest::parse("comments", Some(10), Some(text), None, None);
    let _ = folio::domain::PageRequest::parse("comments", None, None, Some(10), Some(text));
});
