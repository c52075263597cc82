//! Fuzzes Connect's token checks, HS256 and RS256: the size and header checks, the one-pass
//! HS256 read that picks the key by issuer, then signature and claims.
//! Invariants: never panics; a token read as HS256 has a header whose `alg` is HS256; nothing
//! a fuzzer writes verifies (it cannot forge an HMAC or an RSA signature); a `kid` accepted for
//! a key URL cannot walk paths.
#![no_main]

use std::sync::OnceLock;

use jsonwebtoken::{Algorithm, DecodingKey};
use libfuzzer_sys::fuzz_target;
use todo_connect::fuzzing::jwt;

fn keys() -> &'static (DecodingKey, DecodingKey) {
    static KEYS: OnceLock<(DecodingKey, DecodingKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let hs = DecodingKey::from_secret(b"fuzz-shared-secret").expect("HMAC key");
        let rs = DecodingKey::from_rsa_pem(include_bytes!("../keys/install_public.pem"))
            .expect("the committed install key");
        (hs, rs)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let (hs, rs) = keys();
    let header = jwt::decode_header(token);
    if let Ok(read) = jwt::read_hs256(token) {
        assert!(token.len() <= jwt::MAX_TOKEN_LEN);
        let _ = read.issuer().len();
        if let Ok(header) = &header {
            assert_eq!(header.alg, Algorithm::HS256, "read as HS256: {token}");
        }
        assert!(
            read.verify(hs).is_err(),
            "forged HS256 token verified: {token}"
        );
    }
    assert!(
        jwt::verify_hs256(token, hs).is_err(),
        "forged HS256 token verified: {token}"
    );
    assert!(
        jwt::verify_rs256(token, rs, "https://todo.example.com").is_err(),
        "forged RS256 token verified: {token}"
    );
    if let Some(kid) = header.ok().and_then(|h| h.kid)
        && jwt::valid_kid(&kid)
    {
        assert!(!kid.starts_with('/') && !kid.contains(".."), "{kid:?}");
        assert!(
            kid.bytes().all(|b| b.is_ascii_graphic() && b != b'\\'),
            "{kid:?}"
        );
    }
});
