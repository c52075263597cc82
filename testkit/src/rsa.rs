//! An RSA key pair as PEM, made on the spot: what Atlassian signs install tokens with.
//! Shared by the tests, the benchmarks and the example peers.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;

/// A private key (PKCS#8) and its public key (SPKI), both PEM.
pub struct RsaKeys {
    pub private_pem: String,
    pub public_pem: String,
}

/// Wraps DER in PEM armour with 64-character lines.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Makes a fresh 2048-bit RSA key pair.
pub fn new_rsa_keys() -> Result<RsaKeys, String> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| format!("RSA key: {e}"))?;
    let private: Pkcs8V1Der = pair.as_der().map_err(|e| format!("PKCS#8: {e}"))?;
    let public: PublicKeyX509Der = pair
        .public_key()
        .as_der()
        .map_err(|e| format!("SPKI: {e}"))?;
    Ok(RsaKeys {
        private_pem: pem("PRIVATE KEY", private.as_ref()),
        public_pem: pem("PUBLIC KEY", public.as_ref()),
    })
}
