//! Fuzzes Forge Invocation Token verification end to end: the header (`fit::key_id`), the key
//! set the key comes from (Atlassian's JWKS, `n`/`e` in every spelling the lenient decoder
//! takes), the signature and claims (`fit::verify`) and the identity read from them.
//!
//! Input: `[mode, spelling, rest…]`. Mode 0: `rest` is a whole token. Mode 1: `rest` is the
//! claims, signed with the published key. Mode 2: `rest` is `header\nclaims`, signed with the
//! published key. Mode 3: claims signed with a key that is not in the set, under its `kid`.
//!
//! Invariants: never panics; nothing unsigned, tampered with or signed by an unpublished key
//! verifies; the published key verifies in each spelling of its set; a verified token is
//! RS256 with a printable `kid`, from `forge/invocation-token`, for our app; its identity
//! names a well-formed installation, cloud id (the context's when it has one) and account.
#![no_main]

use std::sync::OnceLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use todo_connect::fuzzing::{ApiBaseRule, fit, forge_key_set};
use todo_connect_fuzz::json_tree;

/// Our app, as the tests' harness names it (`aud` of every FIT for us).
const AUDIENCE: &str = "ari:cloud:ecosystem::app/6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
const KID: &str = "forge-fuzz-key-1";

struct Keys {
    published: RsaKeyPair,
    unpublished: RsaKeyPair,
    /// The published key as the app reads it from a set, one per spelling of `n`/`e`.
    spellings: Vec<DecodingKey>,
    unpublished_public: DecodingKey,
}

/// `n` and `e` of a private key, base64url without padding.
fn components(key: &EncodingKey) -> (String, String) {
    let jwk = Jwk::from_encoding_key(key, Algorithm::RS256).expect("RSA JWK");
    let AlgorithmParameters::RSA(rsa) = jwk.algorithm else {
        panic!("not RSA")
    };
    (rsa.n, rsa.e)
}

/// `text` (base64url, no padding) as some key sets write it.
fn spell(text: &str, how: usize) -> String {
    let bytes = URL_SAFE_NO_PAD.decode(text).expect("base64url");
    match how {
        0 => text.to_string(),
        1 => format!("{text}{}", "=".repeat((4 - text.len() % 4) % 4)),
        2 => STANDARD.encode(bytes),
        _ => format!("  {}\n", STANDARD.encode(bytes).trim_end_matches('=')),
    }
}

/// A committed PKCS#8 PEM key, for jsonwebtoken and parsed for signing.
fn pair(pem: &[u8]) -> (EncodingKey, RsaKeyPair) {
    let text = std::str::from_utf8(pem).expect("PEM is text");
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body).expect("PEM body");
    let key = EncodingKey::from_rsa_pem(pem).expect("the committed key");
    (key, RsaKeyPair::from_pkcs8(&der).expect("PKCS#8 RSA key"))
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let (published_key, published) = pair(include_bytes!("../keys/fit_published.pem"));
        let (unpublished_key, unpublished) = pair(include_bytes!("../keys/fit_unpublished.pem"));
        let (n, e) = components(&published_key);
        let spellings = (0..4)
            .map(|how| {
                let set = json!({"keys": [
                    {"kty": "RSA", "kid": "other", "n": "AQAB", "e": "AQAB"},
                    {"kty": "RSA", "kid": KID, "use": "sig", "alg": "RS256",
                     "n": spell(&n, how), "e": spell(&e, how)},
                ]});
                let mut keys = forge_key_set(set.to_string().as_bytes()).expect("a JWKS");
                keys.remove(KID)
                    .expect("the published key is read in every spelling")
            })
            .collect();
        let (n, e) = components(&unpublished_key);
        let unpublished_public = DecodingKey::from_rsa_components(&n, &e).expect("RSA key");
        Keys {
            published,
            unpublished,
            spellings,
            unpublished_public,
        }
    })
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An RS256 JWS of exactly these header and claims bytes (PKCS#1 v1.5 with SHA-256).
fn sign(header: &[u8], claims: &[u8], key: &RsaKeyPair) -> String {
    let message = format!("{}.{}", b64(header), b64(claims));
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        message.as_bytes(),
        &mut signature,
    )
    .expect("RS256 signature");
    format!("{message}.{}", b64(&signature))
}

/// The key the app would verify `token` with: by its `kid`, from the set.
fn verify(token: &str, key: &DecodingKey) -> Result<fit::FitClaims, fit::FitError> {
    match fit::key_id(token)?.as_str() {
        KID => fit::verify(token, key, AUDIENCE),
        _ => Err(fit::FitError::UnknownKeyId),
    }
}

/// What must hold of a token that verified.
fn check_verified(token: &str, claims: &fit::FitClaims) {
    let header = jsonwebtoken::decode_header(token).expect("a verified header");
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some(KID));
    assert_eq!(claims.iss, fit::ISSUER);
    let (_, payload) = token.split_once('.').expect("header.payload.signature");
    let payload = payload.split('.').next().unwrap_or_default();
    let claims_json = URL_SAFE_NO_PAD
        .decode(payload)
        .expect("verified claims are base64url");
    let Some(raw) = json_tree(&claims_json) else {
        return;
    };
    let aud_ok = match &raw["aud"] {
        Value::String(aud) => aud == AUDIENCE,
        // Exactly our app: an array only when it holds our id alone.
        Value::Array(auds) => auds.len() == 1 && auds[0] == AUDIENCE,
        _ => false,
    };
    assert!(aud_ok, "aud {}", raw["aud"]);
    let now = jsonwebtoken::get_current_timestamp() as i64;
    assert!(
        claims.exp >= now - fit::LEEWAY_SECS as i64,
        "expired {}",
        claims.exp
    );
    // As a production server reads it: Atlassian's API origin only.
    let production = ApiBaseRule {
        staging: false,
        loopback: false,
    };
    let Ok(identity) = claims.identity(production) else {
        return;
    };
    let printable = |text: &str, max: usize| {
        (1..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic())
    };
    assert!(printable(&identity.installation_id, 255), "{identity:?}");
    if let Some(cloud) = &identity.cloud_id {
        let shape = cloud
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        assert!((1..=64).contains(&cloud.len()) && shape, "{identity:?}");
    }
    if let Some(context) = raw["context"]["cloudId"].as_str() {
        assert_eq!(identity.cloud_id.as_deref(), Some(context), "{identity:?}");
    }
    if let Some(account) = &identity.account_id {
        assert!(printable(account, 128), "{identity:?}");
    }
    if let Some(api) = &identity.api_base_url {
        assert!(printable(api, 2048), "{identity:?}");
        let rest = api
            .strip_prefix("https://api.atlassian.com/ex/")
            .expect("only Atlassian's API origin is accepted in production");
        let (product, cloud) = rest.split_once('/').expect("ex/<product>/<cloudId>");
        assert!(["confluence", "jira"].contains(&product), "{identity:?}");
        assert_eq!(
            Some(cloud.trim_end_matches('/')),
            identity.cloud_id.as_deref(),
            "the cloud id is the one the apiBaseUrl names"
        );
    }
}

/// A signed token: verified or not, it verifies with no other key, and not once changed.
fn check_signed(token: &str, key: &DecodingKey, at: usize) {
    if let Ok(claims) = verify(token, key) {
        check_verified(token, &claims);
    }
    let keys = keys();
    assert!(
        verify(token, &keys.unpublished_public).is_err(),
        "wrong key: {token}"
    );
    let (message, _) = token.rsplit_once('.').expect("three parts");
    for unsigned in [format!("{message}."), message.to_string()] {
        assert!(verify(&unsigned, key).is_err(), "unsigned: {unsigned}");
    }
    let mut tampered = token.as_bytes().to_vec();
    let i = at % message.len();
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    if let Ok(tampered) = std::str::from_utf8(&tampered) {
        assert!(verify(tampered, key).is_err(), "tampered: {tampered}");
    }
    let (_, payload) = message.split_once('.').expect("header.payload");
    let none = format!(
        "{}.{payload}.",
        b64(br#"{"alg":"none","kid":"forge-fuzz-key-1"}"#)
    );
    assert!(verify(&none, key).is_err(), "alg none: {none}");
}

fuzz_target!(|data: &[u8]| {
    let [mode, spelling, rest @ ..] = data else {
        return;
    };
    let keys = keys();
    let key = &keys.spellings[usize::from(*spelling) % keys.spellings.len()];
    let header = format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{KID}"}}"#);
    let at = usize::from(*spelling);
    match mode % 4 {
        0 => {
            let Ok(token) = std::str::from_utf8(rest) else {
                return;
            };
            let _ = fit::unverified_api_base_url(token);
            assert!(verify(token, key).is_err(), "forged FIT verified: {token}");
        }
        1 => check_signed(&sign(header.as_bytes(), rest, &keys.published), key, at),
        2 => {
            let mut parts = rest.splitn(2, |&b| b == b'\n');
            let (header, claims) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            check_signed(&sign(header, claims, &keys.published), key, at);
        }
        _ => {
            let token = sign(header.as_bytes(), rest, &keys.unpublished);
            assert!(
                verify(&token, key).is_err(),
                "unpublished key verified: {token}"
            );
        }
    }
});
