//! Authentication: API keys and JWTs. Identity comes only from the `Authorization` header.
//!
//! JWTs: the algorithm is pinned by configuration (a token naming any other, `none`
//! included, is refused before any key is used), `exp` is required, `nbf` and `iat` may not
//! be in the future, `iss` and `aud` are checked when configured, `crit` is refused, `typ`
//! must be `JWT` or `at+jwt` when present, duplicate members are refused, and key hints
//! (`kid`, `jku`, `x5u`, `jwk`) are never followed. `sub` is a stable user id, a handle, or
//! `agent:<id>`.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use nexus_core::{Fs, Principal};
use serde::Deserialize;

use crate::config::{AuthConfig, AuthKind};
use crate::error::ApiError;

/// Longest credential looked at (anything longer is refused unread).
pub const MAX_CREDENTIAL_BYTES: usize = 8192;

/// Verifies credentials.
pub struct Authenticator {
    kind: AuthKind,
    jwt: Option<JwtVerifier>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Authenticator")
            .field("kind", &self.kind)
            .field("jwt", &self.jwt.as_ref().map(|jwt| jwt.algorithm))
            .finish()
    }
}

struct JwtVerifier {
    algorithm: Algorithm,
    algorithm_name: String,
    key: DecodingKey,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "parsed only so a duplicate `kid` is refused; never used"
    )]
    kid: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[expect(
        dead_code,
        reason = "checked by jsonwebtoken; parsed so its type is enforced"
    )]
    exp: u64,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "checked by jsonwebtoken; parsed so its type is enforced"
    )]
    nbf: Option<u64>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl Authenticator {
    /// Builds the verifier from configuration (the public key file is read now).
    pub fn new(config: &AuthConfig) -> Result<Authenticator, String> {
        let jwt = match config.kind {
            AuthKind::Jwt => Some(JwtVerifier::new(config)?),
            AuthKind::ApiKey | AuthKind::None => None,
        };
        Ok(Authenticator {
            kind: config.kind,
            jwt,
        })
    }

    /// Whether requests without credentials act as the system.
    pub fn is_open(&self) -> bool {
        self.kind == AuthKind::None
    }

    /// The principal the request's credentials name.
    pub fn authenticate(
        &self,
        fs: &Fs,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<Principal, ApiError> {
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::invalid("more than one `Authorization` header"));
        }
        if query.is_some_and(|query| {
            query.split('&').any(|pair| {
                let name = pair.split('=').next().unwrap_or_default();
                matches!(
                    name,
                    "access_token" | "token" | "api_key" | "apikey" | "key"
                )
            })
        }) {
            return Err(ApiError::unauthenticated(
                "credentials in the query string are not accepted: send `Authorization: Bearer ...`",
            ));
        }
        let Some(value) = first else {
            if self.is_open() {
                return Ok(Principal::System);
            }
            return Err(ApiError::unauthenticated(
                "missing credentials: send `Authorization: Bearer <API key or token>`",
            ));
        };
        if value.len() > MAX_CREDENTIAL_BYTES {
            return Err(ApiError::unauthenticated("invalid credentials"));
        }
        let text = value
            .to_str()
            .map_err(|_| ApiError::unauthenticated("invalid credentials"))?;
        let token = match text.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return Err(ApiError::unauthenticated(
                    "unsupported authorization scheme: use `Bearer`",
                ));
            }
        };
        if token.starts_with(nexus_core::accounts::API_KEY_PREFIX) {
            return fs
                .accounts()
                .authenticate_key(token)
                .ok_or_else(|| ApiError::unauthenticated("invalid or revoked API key"));
        }
        let Some(jwt) = &self.jwt else {
            return Err(ApiError::unauthenticated("invalid credentials"));
        };
        let subject = jwt.verify(token).map_err(|reason| {
            tracing::debug!(reason, "token refused");
            ApiError::unauthenticated("invalid token")
        })?;
        let principal = match subject.split_once(':') {
            Some(("agent", id)) => Principal::Agent(id.to_owned()),
            Some(("user", id)) => Principal::User(id.to_owned()),
            _ => Principal::User(subject),
        };
        match &principal {
            Principal::User(id) if fs.accounts().user_id(id).is_none() => Err(
                ApiError::unauthenticated("the token's subject is not a known user"),
            ),
            Principal::Agent(id) if !fs.accounts().agent_known(id) => Err(
                ApiError::unauthenticated("the token's subject is not a known agent"),
            ),
            // Handles become stable ids when the caller's context is built (`Fs::context`).
            _ => Ok(principal),
        }
    }
}

impl JwtVerifier {
    fn new(config: &AuthConfig) -> Result<JwtVerifier, String> {
        let name = config
            .jwt_algorithm
            .clone()
            .unwrap_or_else(|| "HS256".to_owned());
        let (algorithm, key) = match name.as_str() {
            "HS256" => {
                let secret = config
                    .jwt_secret
                    .as_deref()
                    .filter(|secret| secret.len() >= 32)
                    .ok_or("`type: jwt` with HS256 needs a `jwt_secret` of at least 32 bytes")?;
                (
                    Algorithm::HS256,
                    DecodingKey::from_secret(secret.as_bytes()),
                )
            }
            "RS256" | "ES256" => {
                let file = config.jwt_public_key_file.as_ref().ok_or_else(|| {
                    format!("`jwt_algorithm: {name}` needs `jwt_public_key_file`")
                })?;
                let pem = std::fs::read(file)
                    .map_err(|error| format!("cannot read `{}`: {error}", file.display()))?;
                if name == "RS256" {
                    (
                        Algorithm::RS256,
                        DecodingKey::from_rsa_pem(&pem).map_err(|error| {
                            format!("`{}`: not an RSA public key: {error}", file.display())
                        })?,
                    )
                } else {
                    (
                        Algorithm::ES256,
                        DecodingKey::from_ec_pem(&pem).map_err(|error| {
                            format!("`{}`: not an EC public key: {error}", file.display())
                        })?,
                    )
                }
            }
            other => return Err(format!("unsupported `jwt_algorithm` `{other}`")),
        };
        Ok(JwtVerifier {
            algorithm,
            algorithm_name: name,
            key,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway_secs,
        })
    }

    /// The token's `sub`, if the token is valid.
    fn verify(&self, token: &str) -> Result<String, &'static str> {
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not three parts");
        };
        let header = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| "header is not base64url")?;
        let header: Header = serde_json::from_slice(&header).map_err(|_| "bad header")?;
        if header.alg != self.algorithm_name {
            return Err("algorithm not allowed");
        }
        if header.crit.is_some() {
            return Err("critical extensions are not supported");
        }
        if let Some(typ) = &header.typ
            && !typ.eq_ignore_ascii_case("JWT")
            && !typ.eq_ignore_ascii_case("at+jwt")
        {
            return Err("not an access token");
        }
        let mut validation = Validation::new(self.algorithm);
        validation.leeway = self.leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        match &self.issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &validation)
            .map_err(|_| "signature or claims invalid")?;
        if data
            .claims
            .iat
            .is_some_and(|iat| iat > now_secs() + self.leeway)
        {
            return Err("issued in the future");
        }
        if data.claims.sub.is_empty() || data.claims.sub.len() > 256 {
            return Err("bad subject");
        }
        Ok(data.claims.sub)
    }
}

/// Counts failed authentications per client address in fixed 10-second windows.
#[derive(Debug)]
pub struct FailureLimiter {
    limit: u32,
    window: std::time::Duration,
    seen:
        parking_lot::Mutex<std::collections::HashMap<std::net::IpAddr, (std::time::Instant, u32)>>,
}

/// Most client addresses remembered at once (older windows are forgotten first).
const MAX_TRACKED_CLIENTS: usize = 65_536;

impl FailureLimiter {
    pub fn new(limit: u32) -> FailureLimiter {
        FailureLimiter {
            limit,
            window: std::time::Duration::from_secs(10),
            seen: parking_lot::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Records a failure from `client`; whether it is over the limit.
    pub fn fail(&self, client: std::net::IpAddr) -> bool {
        let now = std::time::Instant::now();
        let mut seen = self.seen.lock();
        if seen.len() >= MAX_TRACKED_CLIENTS {
            let window = self.window;
            seen.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = seen.entry(client).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 > self.limit
    }

    /// Seconds until `client`'s window ends (for `Retry-After`).
    pub fn window_secs(&self) -> u64 {
        self.window.as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_limited_per_client_and_window() {
        let limiter = FailureLimiter::new(3);
        let one: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let two: std::net::IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(
            (0..5).map(|_| limiter.fail(one)).collect::<Vec<_>>(),
            [false, false, false, true, true]
        );
        assert!(!limiter.fail(two));
    }
}
