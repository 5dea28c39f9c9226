//! Signature formats between host and card: the PKCS#1 v1.5 block a PIV card signs raw, and
//! ECDSA signatures normalised to DER whether the card answers raw `r || s` or DER. Pure.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The DER prefix of a SHA-256 DigestInfo (RFC 8017, section 9.2 note 1).
const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The signature algorithms a card key can have, as the server names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RSA-2048 keys).
    RsaPkcs1Sha256,
    /// ECDSA P-256 with SHA-256, signature in DER.
    EcdsaP256Sha256,
}

/// SHA-256 of the challenge.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// DigestInfo for a SHA-256 digest: what a card that pads itself (PKCS#15) signs.
pub fn digest_info_sha256(digest: &[u8; 32]) -> Vec<u8> {
    [&SHA256_DIGEST_INFO_PREFIX[..], digest].concat()
}

/// The EMSA-PKCS1-v1_5 block `00 01 FF.. 00 DigestInfo` for a key of `key_len` bytes: what a
/// PIV card raises to the private exponent.
pub fn pkcs1_v15_block(digest: &[u8; 32], key_len: usize) -> Result<Vec<u8>> {
    let info = digest_info_sha256(digest);
    // At least 8 bytes of padding (RFC 8017).
    if key_len < info.len() + 11 {
        return Err(Error::card("RSA key too short for SHA-256"));
    }
    let mut block = vec![0xFF; key_len];
    block[0] = 0x00;
    block[1] = 0x01;
    let separator = key_len - info.len() - 1;
    block[separator] = 0x00;
    block[separator + 1..].copy_from_slice(&info);
    Ok(block)
}

/// An ECDSA P-256 signature as DER, from either the raw 64-byte `r || s` (PKCS#15 cards) or
/// DER (PIV); anything else is a card error.
pub fn ecdsa_p256_to_der(from_card: &[u8]) -> Result<Vec<u8>> {
    let signature = if from_card.len() == 64 {
        p256::ecdsa::Signature::from_slice(from_card)
    } else {
        p256::ecdsa::Signature::from_der(from_card)
    }
    .map_err(|_| Error::card("malformed ECDSA signature"))?;
    Ok(signature.to_der().as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::hazmat::PrehashSigner;

    #[test]
    fn pkcs1_block_layout() {
        let digest = sha256(b"challenge");
        let block = pkcs1_v15_block(&digest, 256).unwrap();
        assert_eq!(block.len(), 256);
        assert_eq!(&block[..2], &[0x00, 0x01]);
        assert!(block[2..256 - 52].iter().all(|b| *b == 0xFF));
        assert_eq!(block[256 - 52], 0x00);
        assert_eq!(&block[256 - 51..256 - 32], &SHA256_DIGEST_INFO_PREFIX);
        assert_eq!(&block[256 - 32..], &digest);
    }

    #[test]
    fn pkcs1_block_verifies_with_the_rsa_crate() {
        use rsa::traits::PublicKeyParts;
        let mut rng = rand::thread_rng();
        let key = rsa::RsaPrivateKey::new(&mut rng, 1024).unwrap();
        let digest = sha256(b"challenge");
        let block = pkcs1_v15_block(&digest, key.size()).unwrap();
        let raw = rsa::hazmat::rsa_decrypt_and_check(
            &key,
            Some(&mut rng),
            &rsa::BigUint::from_bytes_be(&block),
        )
        .unwrap();
        let mut signature = raw.to_bytes_be();
        while signature.len() < key.size() {
            signature.insert(0, 0);
        }
        rsa::RsaPublicKey::from(&key)
            .verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest, &signature)
            .unwrap();
        assert_eq!(key.n().bits(), 1024);
    }

    #[test]
    fn ecdsa_raw_and_der_both_become_der() {
        let key = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
        let digest = sha256(b"challenge");
        let signature: p256::ecdsa::Signature = key.sign_prehash(&digest).unwrap();
        let der = signature.to_der().as_bytes().to_vec();
        assert_eq!(ecdsa_p256_to_der(&signature.to_bytes()).unwrap(), der);
        assert_eq!(ecdsa_p256_to_der(&der).unwrap(), der);
        assert!(ecdsa_p256_to_der(&[0x30, 0x02, 0x01]).is_err());
        assert!(
            ecdsa_p256_to_der(&[0; 64]).is_err(),
            "r = s = 0 is not a signature"
        );
    }
}
