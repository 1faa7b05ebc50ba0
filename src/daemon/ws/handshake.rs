//! The `connect` handshake: protocol range, gateway token (or cookie), device signature, and
//! which devices may in without an operator's approval.

use serde_json::{Value, json};

use tokio::sync::watch;

use crate::core::device::{self, DeviceProof, SignedFields, VerifiedDevice};
use crate::core::frames::{ErrorCode, ErrorShape, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};
pub use crate::core::protocol::connect::{ClientInfo, ConnectParams, parse};
use crate::core::scopes::Grants;
use crate::core::secret::Secret;
use crate::core::time::now_ms;
use crate::daemon::pairing::{PairingError, PendingDevice, Resolution};
use crate::daemon::state::{Core, Gateway, Peer};
use crate::daemon::store::TokenGrant;

/// WebSocket close codes the handshake uses.
pub const CLOSE_POLICY: u16 = 1008;
pub const CLOSE_PROTOCOL: u16 = 1002;

/// A connection that passed the handshake.
#[derive(Debug, Clone)]
pub struct Authorized {
    pub protocol: u64,
    pub role: String,
    pub grants: Grants,
    pub auth_method: &'static str,
    pub device: Option<VerifiedDevice>,
    pub client: ClientInfo,
    /// A token issued on this connect, returned once in `hello-ok.auth`.
    pub issued_token: Option<(Secret, i64)>,
    /// What the client announced in `connect.caps`.
    pub caps: Vec<String>,
    /// The device token this connection signed in with, and when it expires: the connection
    /// ends when the token does.
    pub device_token: Option<(Secret, i64)>,
}

impl Authorized {
    /// Records a token issued on this connect. A connection that signed in with a device token
    /// now holds the new one (issuing replaced the old).
    pub fn issue(&mut self, token: Secret, expires_at_ms: i64) {
        if self.device_token.is_some() {
            self.device_token = Some((token.clone(), expires_at_ms));
        }
        self.issued_token = Some((token, expires_at_ms));
    }
}

/// The outcome of a connect.
pub enum Decision {
    Accept(Authorized),
    /// The device waits for an operator on this connection (`caps` has `pairing-wait`).
    Wait {
        accepted: Box<Authorized>,
        request: PendingDevice,
        resolution: watch::Receiver<Option<Resolution>>,
    },
}

/// Why a connect is refused, and how to close the socket after answering.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub error: ErrorShape,
    pub close_code: u16,
}

impl Refusal {
    fn policy(error: ErrorShape) -> Self {
        Self { error, close_code: CLOSE_POLICY }
    }
}

fn auth_error(message: &str, code: &str) -> ErrorShape {
    ErrorShape::invalid(message).with_details(json!({"code": code}))
}

/// The client capability asking the server to hold a connect until an operator answers.
pub const PAIRING_WAIT: &str = "pairing-wait";

/// The shared credential a connect presented; a token is kept to check the device's signature
/// over it.
enum Shared {
    GatewayToken(String),
    Cookie,
    DeviceToken(TokenGrant, String),
}

impl Shared {
    fn method(&self) -> &'static str {
        match self {
            Self::GatewayToken(_) => "token",
            Self::Cookie => "cookie",
            Self::DeviceToken(..) => "device-token",
        }
    }

    /// The token field the device signed: the page's cookie signs an empty one.
    fn signed_token(&self) -> &str {
        match self {
            Self::GatewayToken(token) | Self::DeviceToken(_, token) => token,
            Self::Cookie => "",
        }
    }
}

fn not_paired(message: &str, details: Value) -> Refusal {
    Refusal::policy(ErrorShape::new(ErrorCode::NotPaired, message).with_details(details))
}

/// Decides a connect. `cookie` is whether the upgrade request carried a valid token cookie.
pub async fn authorize(
    gateway: &Gateway,
    peer: Peer,
    cookie: bool,
    nonce: &str,
    params: ConnectParams,
) -> Result<Decision, Refusal> {
    check_protocol(&params)?;
    if let Some(wait) = gateway.auth_limiter.locked(peer.address) {
        let mut error = auth_error(
            &format!("unauthorized: too many failed attempts; retry in {} s", wait.as_secs().max(1)),
            "AUTH_RATE_LIMITED",
        );
        error.retry_after_ms = Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
        return Err(Refusal::policy(error));
    }
    let core = match gateway.core() {
        Ok(core) => core,
        // 1013: try again later.
        Err(starting) => return Err(Refusal { error: starting.into(), close_code: 1013 }),
    };
    let attempt = Attempt { gateway, core, peer, params };
    let nothing_given = attempt.params.token.is_none() && attempt.params.device_token.is_none() && !cookie;
    if nothing_given && attempt.params.device.is_none() {
        return Err(not_paired("device identity required", json!({"code": "DEVICE_IDENTITY_REQUIRED"})));
    }
    let shared = attempt.shared_credential(cookie).await?;
    let mut accepted = attempt.accepted(&shared);
    let Some(proof) = &attempt.params.device else {
        // OpenClaw's CLI sends no device on a loopback URL with the shared token.
        if peer.direct_loopback && !matches!(shared, Shared::DeviceToken(..)) {
            gateway.auth_limiter.record_success(peer.address);
            return Ok(Decision::Accept(accepted));
        }
        return Err(not_paired("device identity required", json!({"code": "DEVICE_IDENTITY_REQUIRED"})));
    };
    let verified = attempt.verify(proof, &shared, nonce)?;
    accepted.device = Some(verified.clone());
    let approved = attempt.approved_scopes(&verified, &shared, &mut accepted).await?;
    gateway.auth_limiter.record_success(peer.address);
    let within = approved.as_ref().is_some_and(|approved| {
        Grants::from_requested(approved.iter().map(String::as_str))
            .missing(attempt.params.scopes.iter().map(String::as_str))
            .is_none()
    });
    if within {
        if !matches!(shared, Shared::DeviceToken(..)) {
            let token = core.pairing.reissue(verified.id.as_str()).await.map_err(unavailable)?;
            accepted.issued_token = Some(token);
        }
        return Ok(Decision::Accept(accepted));
    }
    attempt.request_pairing(&verified, approved, accepted).await
}

fn check_protocol(params: &ConnectParams) -> Result<(), Refusal> {
    if params.min_protocol > PROTOCOL_VERSION
        || params.max_protocol < MIN_PROTOCOL_VERSION
        || params.min_protocol > params.max_protocol
    {
        let error = ErrorShape::invalid("protocol mismatch").with_details(json!({
            "code": "PROTOCOL_MISMATCH",
            "clientMinProtocol": params.min_protocol,
            "clientMaxProtocol": params.max_protocol,
            "expectedProtocol": PROTOCOL_VERSION,
            "minimumProbeProtocol": MIN_PROTOCOL_VERSION,
        }));
        return Err(Refusal { error, close_code: CLOSE_PROTOCOL });
    }
    if params.role != "operator" {
        return Err(Refusal::policy(ErrorShape::invalid(format!("unsupported role: {}", params.role))));
    }
    Ok(())
}

fn unavailable(error: PairingError) -> Refusal {
    Refusal { error: ErrorShape::unavailable(format!("pairing unavailable: {error}")), close_code: 1013 }
}

/// One connect being decided.
struct Attempt<'a> {
    gateway: &'a Gateway,
    core: &'a Core,
    peer: Peer,
    params: ConnectParams,
}

impl Attempt<'_> {
    /// A refusal that counts toward the address's failed sign-ins.
    fn fail(&self, error: ErrorShape) -> Refusal {
        self.gateway.auth_limiter.record_failure(self.peer.address);
        Refusal::policy(error)
    }

    /// The shared credential: the gateway token, a device token, or the page's cookie.
    async fn shared_credential(&self, cookie: bool) -> Result<Shared, Refusal> {
        match (&self.params.token, &self.params.device_token) {
            (Some(token), _) if self.gateway.token.matches(token) => Ok(Shared::GatewayToken(token.clone())),
            (Some(_), _) => Err(self.fail(auth_error(
                "unauthorized: gateway token mismatch (open the URL `molt gateway` printed, or use the token it keeps in its data directory)",
                "AUTH_TOKEN_MISMATCH",
            ))),
            (None, Some(token)) => match self.core.store.check_device_token(token).await {
                Ok(Some(grant)) => Ok(Shared::DeviceToken(grant, token.clone())),
                Ok(None) => Err(self.fail(auth_error(
                    "unauthorized: device token mismatch (it expired or was revoked; connect with the gateway token to pair again)",
                    "AUTH_DEVICE_TOKEN_MISMATCH",
                ))),
                Err(error) => Err(Refusal {
                    error: ErrorShape::unavailable(format!("store unavailable: {error}")),
                    close_code: 1013,
                }),
            },
            (None, None) if cookie => Ok(Shared::Cookie),
            (None, None) => Err(Refusal::policy(auth_error(
                "unauthorized: gateway token missing (open the URL `molt gateway` printed)",
                "AUTH_TOKEN_MISSING",
            ))),
        }
    }

    /// The connection as it will be accepted, before the device is checked.
    fn accepted(&self, shared: &Shared) -> Authorized {
        let params = &self.params;
        Authorized {
            protocol: params.max_protocol.min(PROTOCOL_VERSION),
            role: params.role.clone(),
            grants: Grants::from_requested(params.scopes.iter().map(String::as_str)),
            auth_method: shared.method(),
            device: None,
            client: params.client.clone(),
            issued_token: None,
            caps: params.caps.clone(),
            device_token: None,
        }
    }

    /// The device's signature over the connect's fields and the challenge's nonce.
    fn verify(&self, proof: &DeviceProof, shared: &Shared, nonce: &str) -> Result<VerifiedDevice, Refusal> {
        let params = &self.params;
        let fields = SignedFields {
            client_id: &params.client.id,
            client_mode: &params.client.mode,
            role: &params.role,
            scopes: &params.scopes,
            token: shared.signed_token(),
            platform: &params.client.platform,
            device_family: &params.client.device_family,
        };
        device::verify(proof, &fields, nonce, now_ms()).map_err(|error| {
            let refusal = ErrorShape::invalid(error.to_string())
                .with_details(json!({"code": error.code(), "reason": error.reason()}));
            if error == device::DeviceAuthError::SignatureInvalid {
                self.fail(refusal)
            } else {
                Refusal::policy(refusal)
            }
        })
    }

    /// What the operator approved for this device bounds what it gets: a device token carries
    /// the scopes it was issued with, a paired device its approved ones; `None` for a device
    /// never paired.
    async fn approved_scopes(
        &self,
        verified: &VerifiedDevice,
        shared: &Shared,
        accepted: &mut Authorized,
    ) -> Result<Option<Vec<String>>, Refusal> {
        match shared {
            Shared::DeviceToken(grant, token) => {
                if grant.device_id != verified.id.as_str() {
                    return Err(self.fail(auth_error(
                        "unauthorized: device token mismatch (it belongs to another device)",
                        "AUTH_DEVICE_TOKEN_MISMATCH",
                    )));
                }
                accepted.device_token = Some((Secret::new(token.as_str()), grant.expires_ms));
                Ok(Some(grant.scopes.clone()))
            }
            _ => {
                let stored = self.core.store.device(verified.id.as_str()).await;
                Ok(stored.map_err(|error| unavailable(error.into()))?.map(|device| device.scopes))
            }
        }
    }

    /// An unknown device, or a paired one asking for more than it was approved for: either way
    /// a pairing request an operator (holding those scopes) must approve, unless this gateway
    /// approves it silently (`DEV_MODE`, or loopback auto-approval on a direct loopback
    /// connection). An upgrade asks for what was approved plus what is new, so approving it
    /// takes nothing away.
    async fn request_pairing(
        &self,
        verified: &VerifiedDevice,
        approved: Option<Vec<String>>,
        mut accepted: Authorized,
    ) -> Result<Decision, Refusal> {
        let params = &self.params;
        let upgrade = approved.is_some();
        let mut scopes = approved.unwrap_or_default();
        for scope in &params.scopes {
            if !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
        let request = PendingDevice {
            request_id: String::new(),
            device_id: verified.id.as_str().to_owned(),
            public_key: verified.public_key.clone(),
            display_name: params.client.display_name.clone(),
            client_id: params.client.id.clone(),
            client_mode: params.client.mode.clone(),
            platform: params.client.platform.trim().to_ascii_lowercase(),
            device_family: params.client.device_family.clone(),
            role: params.role.clone(),
            scopes,
            address: self.peer.address.to_string(),
            created_at_ms: 0,
            last_attempt_at_ms: 0,
            expires_at_ms: 0,
        };
        let settings = &self.gateway.settings;
        let silent = if settings.auth.dev_mode {
            Some("dev-mode")
        } else if self.peer.direct_loopback && settings.loopback_auto_approve {
            Some("loopback")
        } else {
            None
        };
        let pairing = &self.core.pairing;
        if let Some(via) = silent {
            let (device, token) = pairing.approve_silently(request.into_paired(via)).await.map_err(unavailable)?;
            accepted.issue(token, device.token_expires_at_ms.unwrap_or_default());
            return Ok(Decision::Accept(accepted));
        }
        let (request, resolution) = pairing.request(request);
        if params.caps.iter().any(|cap| cap == PAIRING_WAIT) {
            return Ok(Decision::Wait { accepted: Box::new(accepted), request, resolution });
        }
        let mut details =
            json!({"code": "PAIRING_REQUIRED", "requestId": request.request_id, "deviceId": request.device_id});
        let message = if upgrade {
            details["reason"] = json!("scope-upgrade");
            "pairing required: this device asks for scopes beyond those approved; an operator must approve them (`molt pair approve` or the admin page)"
        } else {
            "pairing required: an operator must approve this device (`molt pair approve` or the admin page)"
        };
        Err(not_paired(message, details))
    }
}
