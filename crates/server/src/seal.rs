//! Secrets sealed at rest: CRM credentials, RingCentral credentials and webhook secrets are
//! stored encrypted with ChaCha20-Poly1305 under a key from the environment, each bound (as
//! associated data) to the account, rep and name it belongs to, so a sealed value copied to
//! another account's row does not open.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the sealing key must be 32 bytes as 64 hex characters or base64")]
    BadKey,
    #[error("a sealed value did not open (wrong key, or it belongs to another owner)")]
    Open,
    #[error("randomness unavailable: {0}")]
    Random(String),
}

#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A key as 64 hex characters or standard base64 of 32 bytes.
    pub fn from_text(text: &str) -> Result<Sealer, SealError> {
        let t = text.trim();
        let bytes = hex::decode(t).ok().filter(|b| b.len() == 32).or_else(|| B64.decode(t).ok().filter(|b| b.len() == 32)).ok_or(SealError::BadKey)?;
        Ok(Sealer { cipher: ChaCha20Poly1305::new(Key::from_slice(&bytes)) })
    }

    /// `base64(nonce || ciphertext)` of `plain`, bound to `owner`.
    pub fn seal(&self, owner: &str, plain: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; 12];
        getrandom::getrandom(&mut nonce).map_err(|e| SealError::Random(e.to_string()))?;
        let sealed = self.cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad: owner.as_bytes() }).map_err(|_| SealError::Open)?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(B64.encode(out))
    }

    pub fn open(&self, owner: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let bytes = B64.decode(sealed.trim()).map_err(|_| SealError::Open)?;
        if bytes.len() < 12 + 16 {
            return Err(SealError::Open);
        }
        let (nonce, body) = bytes.split_at(12);
        self.cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: owner.as_bytes() }).map_err(|_| SealError::Open)
    }

    pub fn open_text(&self, owner: &str, sealed: &str) -> Result<String, SealError> {
        String::from_utf8(self.open(owner, sealed)?).map_err(|_| SealError::Open)
    }
}

/// Random bytes as hex (instance ids, boot ids, delivery ids).
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    // getrandom only fails where the OS has no entropy source; an instance id then still
    // differs by the time and pid mixed in below.
    if getrandom::getrandom(&mut b).is_err() {
        let seed = std::process::id() as u64 ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        for (i, x) in b.iter_mut().enumerate() {
            *x = (seed >> ((i % 8) * 8)) as u8 ^ i as u8;
        }
    }
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_for_their_owner() {
        let s = Sealer::from_text(&"ab".repeat(32)).unwrap();
        let sealed = s.seal("acme/bob/hs", b"token").unwrap();
        assert!(!sealed.contains("token"));
        assert_eq!(s.open("acme/bob/hs", &sealed).unwrap(), b"token");
        assert!(s.open("other/bob/hs", &sealed).is_err());
        let other = Sealer::from_text(&"cd".repeat(32)).unwrap();
        assert!(other.open("acme/bob/hs", &sealed).is_err());
        assert!(Sealer::from_text("short").is_err());
    }
}
