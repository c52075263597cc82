//! The Connect checks a request pays for, one by one: canonical request and qsh of a realistic
//! iframe URL, HS256 verification of its token, and RS256 verification of an install token
//! with the key already cached (and, for comparison, parsing that key from PEM).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::DecodingKey;
use todo_connect::connect::{jwt, qsh};

use testkit::confluence::{self, MACRO_PATH, SHARED_SECRET};
use testkit::keys::{INSTALL_KID, install_keys};
use testkit::{ADDON_KEY, SITE_URL};

/// The realistic macro view's iframe URL, its token valid for an hour.
fn macro_uri(task_id: i64) -> String {
    confluence::macro_uri(task_id, ADDON_KEY, 3600).expect("macro URL")
}

fn qsh_benches(c: &mut Criterion) {
    // The query as it reaches the server: the token is part of it and must be left out.
    let uri = macro_uri(42);
    let (path, query) = uri.split_once('?').expect("query");
    assert_eq!(path, MACRO_PATH);
    let mut group = c.benchmark_group("qsh");
    group.bench_function("canonical_request", |b| {
        b.iter(|| qsh::canonical_request(black_box("GET"), black_box(path), black_box(query), ""))
    });
    let canonical = qsh::canonical_request("GET", path, query, "");
    group.bench_function("hash", |b| b.iter(|| qsh::hash(black_box(&canonical))));
    group.bench_function("canonical_request+hash", |b| {
        b.iter(|| qsh::qsh(black_box("GET"), black_box(path), black_box(query), ""))
    });
    group.finish();
}

fn hs256_benches(c: &mut Criterion) {
    let uri = macro_uri(42);
    let (path, query) = uri.split_once('?').expect("query");
    let token = query.rsplit_once("jwt=").expect("jwt").1.to_string();
    let key = DecodingKey::from_secret(SHARED_SECRET.as_bytes()).expect("HMAC key");
    let mut group = c.benchmark_group("hs256");
    group.bench_function("verify_hs256", |b| {
        b.iter(|| jwt::verify_hs256(black_box(&token), &key).expect("valid"))
    });
    // What the extractor does per request before the database: the token read once (header
    // and claims), the issuer picking the key, signature and expiry, then the qsh compared
    // with the request's.
    group.bench_function("extractor_token_pipeline", |b| {
        b.iter(|| {
            let token = black_box(token.as_str());
            let unverified = jwt::read_hs256(token).expect("HS256 token");
            black_box(unverified.issuer());
            let claims = unverified.verify(&key).expect("valid");
            let expected = qsh::qsh("GET", path, query, "");
            assert_eq!(claims.qsh.as_deref(), Some(expected.as_str()));
        })
    });
    group.finish();
}

fn rs256_benches(c: &mut Criterion) {
    let keys = install_keys();
    let token =
        confluence::install_token(SITE_URL, &keys.private_pem, INSTALL_KID).expect("install token");
    let key = DecodingKey::from_rsa_pem(keys.public_pem.as_bytes()).expect("PEM");
    let mut group = c.benchmark_group("rs256");
    group.bench_function("verify_rs256_cached_key", |b| {
        b.iter(|| jwt::verify_rs256(black_box(&token), &key, SITE_URL).expect("valid"))
    });
    group.bench_function("decoding_key_from_pem", |b| {
        b.iter(|| DecodingKey::from_rsa_pem(black_box(keys.public_pem.as_bytes())).expect("PEM"))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = qsh_benches, hs256_benches, rs256_benches
}
criterion_main!(benches);
