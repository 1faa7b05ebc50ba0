//! Device identity proofs: Ed25519 signatures over the v3 (or v2) connect payload.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};

use super::ids::DeviceId;

/// How far `signedAt` may be from the server's clock.
pub const SIGNATURE_MAX_SKEW_MS: i64 = 2 * 60 * 1000;

/// The `device` object of a `connect` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceProof {
    pub id: String,
    pub public_key: String,
    pub signature: String,
    pub signed_at_ms: i64,
    pub nonce: Option<String>,
}

/// The other connect fields the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedFields<'a> {
    pub client_id: &'a str,
    pub client_mode: &'a str,
    pub role: &'a str,
    pub scopes: &'a [String],
    /// The auth token actually sent (gateway token or device token), or empty.
    pub token: &'a str,
    pub platform: &'a str,
    pub device_family: &'a str,
}

impl SignedFields<'_> {
    /// `v3|deviceId|clientId|clientMode|role|scopes|signedAtMs|token|nonce|platform|deviceFamily`
    pub fn v3_payload(&self, device_id: &str, signed_at_ms: i64, nonce: &str) -> String {
        format!(
            "{}|{}|{}",
            self.v2_payload(device_id, signed_at_ms, nonce).replacen("v2|", "v3|", 1),
            normalise(self.platform),
            normalise(self.device_family)
        )
    }

    /// `v2|deviceId|clientId|clientMode|role|scopes|signedAtMs|token|nonce`
    pub fn v2_payload(&self, device_id: &str, signed_at_ms: i64, nonce: &str) -> String {
        format!(
            "v2|{device_id}|{}|{}|{}|{}|{signed_at_ms}|{}|{nonce}",
            self.client_id,
            self.client_mode,
            self.role,
            self.scopes.join(","),
            self.token
        )
    }
}

fn normalise(field: &str) -> String {
    field.trim().to_ascii_lowercase()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeviceAuthError {
    #[error("device nonce required")]
    NonceRequired,
    #[error("device nonce mismatch")]
    NonceMismatch,
    #[error("device signature invalid")]
    SignatureInvalid,
    #[error("device signature expired")]
    SignatureExpired,
    #[error("device id mismatch")]
    DeviceIdMismatch,
    #[error("device public key invalid")]
    PublicKeyInvalid,
}

impl DeviceAuthError {
    /// The `error.details.code` of the protocol.
    pub fn code(self) -> &'static str {
        match self {
            Self::NonceRequired => "DEVICE_AUTH_NONCE_REQUIRED",
            Self::NonceMismatch => "DEVICE_AUTH_NONCE_MISMATCH",
            Self::SignatureInvalid => "DEVICE_AUTH_SIGNATURE_INVALID",
            Self::SignatureExpired => "DEVICE_AUTH_SIGNATURE_EXPIRED",
            Self::DeviceIdMismatch => "DEVICE_AUTH_DEVICE_ID_MISMATCH",
            Self::PublicKeyInvalid => "DEVICE_AUTH_PUBLIC_KEY_INVALID",
        }
    }

    /// The `error.details.reason`, as OpenClaw spells it.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NonceRequired => "device-nonce-missing",
            Self::NonceMismatch => "device-nonce-mismatch",
            Self::SignatureInvalid => "device-signature",
            Self::SignatureExpired => "device-signature-stale",
            Self::DeviceIdMismatch => "device-id-mismatch",
            Self::PublicKeyInvalid => "device-public-key",
        }
    }
}

/// The signature scheme a valid proof used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    V3,
    V2,
}

/// A device whose proof checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDevice {
    pub id: DeviceId,
    pub public_key: String,
    pub version: SignatureVersion,
}

/// Checks a device proof against the connection's challenge nonce and the server clock.
pub fn verify(
    proof: &DeviceProof,
    fields: &SignedFields<'_>,
    challenge_nonce: &str,
    now_ms: i64,
) -> Result<VerifiedDevice, DeviceAuthError> {
    let nonce = proof.nonce.as_deref().filter(|nonce| !nonce.is_empty());
    let nonce = nonce.ok_or(DeviceAuthError::NonceRequired)?;
    let key_bytes = URL_SAFE_NO_PAD
        .decode(proof.public_key.trim_end_matches('='))
        .map_err(|_| DeviceAuthError::PublicKeyInvalid)?;
    let key_array: [u8; 32] = key_bytes.as_slice().try_into().map_err(|_| DeviceAuthError::PublicKeyInvalid)?;
    let key = VerifyingKey::from_bytes(&key_array).map_err(|_| DeviceAuthError::PublicKeyInvalid)?;
    let device_id = DeviceId::from_public_key(&key_array);
    if device_id.as_str() != proof.id.to_ascii_lowercase() {
        return Err(DeviceAuthError::DeviceIdMismatch);
    }
    if nonce != challenge_nonce {
        return Err(DeviceAuthError::NonceMismatch);
    }
    // `signedAt` comes from the client: `abs_diff` cannot overflow whatever it holds.
    if now_ms.abs_diff(proof.signed_at_ms) > SIGNATURE_MAX_SKEW_MS.unsigned_abs() {
        return Err(DeviceAuthError::SignatureExpired);
    }
    let signature_bytes =
        URL_SAFE_NO_PAD.decode(proof.signature.trim_end_matches('=')).map_err(|_| DeviceAuthError::SignatureInvalid)?;
    let signature = Signature::from_slice(&signature_bytes).map_err(|_| DeviceAuthError::SignatureInvalid)?;
    let v3 = fields.v3_payload(device_id.as_str(), proof.signed_at_ms, nonce);
    let version = if key.verify(v3.as_bytes(), &signature).is_ok() {
        SignatureVersion::V3
    } else {
        let v2 = fields.v2_payload(device_id.as_str(), proof.signed_at_ms, nonce);
        key.verify(v2.as_bytes(), &signature).map_err(|_| DeviceAuthError::SignatureInvalid)?;
        SignatureVersion::V2
    };
    Ok(VerifiedDevice { id: device_id, public_key: proof.public_key.clone(), version })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded from OpenClaw 2026.9.6's own client (shared/fixtures/openclaw-frames.json).
    const PUBLIC_KEY: &str = "5sG6HwPEqpYkK0FnJOIciv4au0Wi5GvQFDa11Y51tj4";
    const DEVICE_ID: &str = "1af30b2cc498ebde5e784e28655f8cf792c6e7a55a2a1de9acfc081b015f8936";
    const SIGNATURE: &str = "kmejdrrR52aJDxBr_OVTsHQjRbbehhfHXQi97fGpwHTRwFdOBE0c9x58AzaJKYWDdCXf0N12N-iD8NtfD3H4CA";
    const SIGNED_AT: i64 = 1_795_966_624_591;
    const NONCE: &str = "934daddb-0187-4ed3-b353-634ed93bb8ab";

    fn scopes() -> Vec<String> {
        vec!["operator.admin".to_owned()]
    }

    fn fields(scopes: &[String]) -> SignedFields<'_> {
        SignedFields {
            client_id: "cli",
            client_mode: "cli",
            role: "operator",
            scopes,
            token: "testtoken123",
            platform: "linux",
            device_family: "Linux",
        }
    }

    fn proof() -> DeviceProof {
        DeviceProof {
            id: DEVICE_ID.into(),
            public_key: PUBLIC_KEY.into(),
            signature: SIGNATURE.into(),
            signed_at_ms: SIGNED_AT,
            nonce: Some(NONCE.into()),
        }
    }

    #[test]
    fn verifies_openclaws_recorded_v3_signature() {
        let scopes = scopes();
        let verified = verify(&proof(), &fields(&scopes), NONCE, SIGNED_AT + 1000).unwrap();
        assert_eq!(verified.id.as_str(), DEVICE_ID);
        assert_eq!(verified.version, SignatureVersion::V3);
    }

    #[test]
    fn builds_the_recorded_v3_payload() {
        let scopes = scopes();
        assert_eq!(
            fields(&scopes).v3_payload(DEVICE_ID, SIGNED_AT, NONCE),
            format!("v3|{DEVICE_ID}|cli|cli|operator|operator.admin|{SIGNED_AT}|testtoken123|{NONCE}|linux|linux")
        );
    }

    #[test]
    fn each_failure_has_its_code() {
        let scopes = scopes();
        let fields = fields(&scopes);
        let check = |proof: DeviceProof, nonce: &str, now: i64| verify(&proof, &fields, nonce, now);
        let now = SIGNED_AT;
        assert_eq!(check(DeviceProof { nonce: None, ..proof() }, NONCE, now), Err(DeviceAuthError::NonceRequired));
        assert_eq!(check(proof(), "other", now), Err(DeviceAuthError::NonceMismatch));
        assert_eq!(check(proof(), NONCE, now + SIGNATURE_MAX_SKEW_MS + 1), Err(DeviceAuthError::SignatureExpired));
        assert_eq!(
            check(DeviceProof { id: "00".repeat(32), ..proof() }, NONCE, now),
            Err(DeviceAuthError::DeviceIdMismatch)
        );
        assert_eq!(
            check(DeviceProof { public_key: "abc".into(), ..proof() }, NONCE, now),
            Err(DeviceAuthError::PublicKeyInvalid)
        );
        let mut tampered = SIGNATURE.to_owned();
        tampered.replace_range(0..1, "l");
        assert_eq!(
            check(DeviceProof { signature: tampered, ..proof() }, NONCE, now),
            Err(DeviceAuthError::SignatureInvalid)
        );
        assert_eq!(DeviceAuthError::SignatureInvalid.code(), "DEVICE_AUTH_SIGNATURE_INVALID");
    }

    #[test]
    fn an_outlandish_signed_at_is_expired_not_a_panic() {
        let scopes = scopes();
        let fields = fields(&scopes);
        let cases =
            [(i64::MAX, SIGNED_AT), (i64::MIN, SIGNED_AT), (-1, SIGNED_AT), (i64::MAX, i64::MIN), (i64::MIN, i64::MAX)];
        for (signed_at_ms, now) in cases {
            let proof = DeviceProof { signed_at_ms, ..proof() };
            assert_eq!(
                verify(&proof, &fields, NONCE, now),
                Err(DeviceAuthError::SignatureExpired),
                "{signed_at_ms} at {now}"
            );
        }
    }

    #[test]
    fn accepts_a_v2_signature() {
        use ed25519_dalek::{Signer, SigningKey};
        let signing = SigningKey::from_bytes(&[7; 32]);
        let public = signing.verifying_key().to_bytes();
        let id = DeviceId::from_public_key(&public);
        let scopes = scopes();
        let fields = fields(&scopes);
        let payload = fields.v2_payload(id.as_str(), 5, "n");
        let proof = DeviceProof {
            id: id.as_str().into(),
            public_key: URL_SAFE_NO_PAD.encode(public),
            signature: URL_SAFE_NO_PAD.encode(signing.sign(payload.as_bytes()).to_bytes()),
            signed_at_ms: 5,
            nonce: Some("n".into()),
        };
        assert_eq!(verify(&proof, &fields, "n", 10).unwrap().version, SignatureVersion::V2);
    }
}
