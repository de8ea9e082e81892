//! HMAC-SHA256 request signing: `X-Signature: sha256=<hex>` over `timestamp + "." + body`,
//! with the timestamp (unix seconds) in `X-Timestamp`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-signature";
/// Header carrying the signed timestamp.
pub const TIMESTAMP_HEADER: &str = "x-timestamp";

/// `sha256=<hex of HMAC-SHA256(secret, timestamp + "." + body)>`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature made by [`sign`] in constant time (for backends written in Rust and tests).
pub fn verify(secret: &[u8], timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex_sig) = signature.strip_prefix("sha256=") else { return false };
    let Ok(bytes) = hex::decode(hex_sig) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_known_vector_and_verifies() {
        // Computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
        let sig = sign(b"secret", "1700000000", b"{}");
        assert_eq!(sig, "sha256=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163");
        assert!(verify(b"secret", "1700000000", b"{}", &sig));
        assert!(!verify(b"other", "1700000000", b"{}", &sig));
        assert!(!verify(b"secret", "1700000001", b"{}", &sig));
    }
}
