//! BER-TLV parsing: whole buffers, nested values, and the DER length peek used while reading
//! certificate files. Must return errors, never panic or loop.
#![no_main]

use legitimera_card::tlv;
use libfuzzer_sys::fuzz_target;

fn walk(input: &[u8], depth: usize) {
    let Ok(items) = tlv::parse_all(input) else {
        return;
    };
    for item in items {
        if item.is_constructed() && depth < 16 {
            walk(item.value, depth + 1);
        }
        let _ = item.children();
    }
}

fuzz_target!(|data: &[u8]| {
    walk(data, 0);
    if let Ok((first, rest)) = tlv::parse_one(data) {
        assert!(first.value.len() + rest.len() < data.len());
    }
    if let Ok(total) = tlv::total_len(data) {
        assert!(total >= 2);
    }
    let _ = tlv::find(data, 0x53);
});
