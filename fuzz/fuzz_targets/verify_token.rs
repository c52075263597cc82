//! Fuzzes the token verification entry points, HS256 and RS256: header and issuer parsing,
//! then signature and claims checks. Invariant: never panics, and nothing unsigned verifies.
#![no_main]

use std::sync::OnceLock;

use jsonwebtoken::DecodingKey;
use libfuzzer_sys::fuzz_target;
use todo_connect::connect::jwt;

fn keys() -> &'static (DecodingKey, DecodingKey) {
    static KEYS: OnceLock<(DecodingKey, DecodingKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let hs = DecodingKey::from_secret(b"fuzz-shared-secret").unwrap();
        let rs = DecodingKey::from_rsa_pem(include_bytes!("../keys/install_public.pem")).unwrap();
        (hs, rs)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let (hs, rs) = keys();
    let _ = jwt::decode_header(token);
    let _ = jwt::unverified_issuer(token);
    // A fuzzer cannot forge an HMAC or RSA signature: success here would be a bug.
    assert!(jwt::verify_hs256(token, hs).is_err(), "forged HS256 token verified: {token}");
    assert!(jwt::verify_rs256(token, rs, "https://todo.example.com").is_err(), "forged RS256 token verified: {token}");
    let _ = jwt::valid_kid(token);
});
