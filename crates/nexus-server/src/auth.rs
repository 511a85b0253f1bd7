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

/// Why the authentication configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("`type: jwt` with HS256 needs a `jwt_secret` of at least 32 bytes")]
    ShortSecret,
    #[error("`jwt_algorithm: {algorithm}` needs `jwt_public_key_file`")]
    MissingKeyFile { algorithm: String },
    #[error("cannot read `{}`: {}", path.display(), nexus_core::io_reason(source))]
    ReadKey {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}`: not an {kind} public key: {source}", path.display())]
    BadKey {
        path: std::path::PathBuf,
        kind: &'static str,
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    #[error("unsupported `jwt_algorithm` `{0}`")]
    UnsupportedAlgorithm(String),
    #[error("`{}`: not a JWKS document: {reason}", path.display())]
    Jwks {
        path: std::path::PathBuf,
        reason: String,
    },
}

/// Which check a bearer token failed. Never carries the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("it is not a JWT (three dot-separated parts)")]
    NotAJwt,
    #[error("its header is not base64url")]
    HeaderEncoding,
    #[error("its header is not a valid JOSE header")]
    Header,
    #[error("its algorithm is not the one this server accepts ({accepted})")]
    Algorithm { accepted: String },
    #[error("critical header extensions (`crit`) are not supported")]
    Critical,
    #[error("its type (`typ`) is not an access token")]
    Type,
    #[error("its signature does not verify with this server's key")]
    Signature,
    #[error("it has expired (`exp`)")]
    Expired,
    #[error("it is not yet valid (`nbf`)")]
    NotYetValid,
    #[error("it was issued in the future (`iat`)")]
    IssuedInTheFuture,
    #[error("its issuer (`iss`) is not the one this server accepts")]
    Issuer,
    #[error("its audience (`aud`) does not name this server")]
    Audience,
    #[error("it has no `{0}` claim")]
    MissingClaim(String),
    #[error("its `{claim}` claim must be {expected}")]
    ClaimType {
        claim: String,
        expected: &'static str,
    },
    #[error("its `{0}` claim has the wrong type")]
    WrongClaimType(String),
    #[error("its claims are not a JSON object")]
    ClaimsNotAnObject,
    #[error("its claims are malformed")]
    Claims,
    #[error("its subject (`sub`) is empty or longer than 256 bytes")]
    Subject,
    #[error("it is malformed")]
    Malformed,
    #[error("it names a signing key its issuer does not publish (`kid`)")]
    UnknownKey,
    #[error("its `email` is not verified (`email_verified`)")]
    UnverifiedEmail,
}

/// A token lifetime that is not `<number><s|m|h|d>` within 30 days.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration `{shown}`: use a number with `s`, `m`, `h` or `d` (e.g. `1h`), at most 30 days"
)]
pub struct InvalidTtl {
    /// The beginning of what was given.
    shown: String,
}

/// Why a token cannot be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("`auth.jwt_secret` must be at least 32 bytes")]
    ShortSecret,
    #[error(
        "tokens for `jwt_algorithm: {0}` are signed by your identity provider's private key, which this server never holds"
    )]
    ForeignAlgorithm(String),
    #[error("the configuration's `auth` is not `type: jwt`")]
    NotJwt,
    #[error("`{0}` is reserved and names no principal")]
    Reserved(String),
    #[error(transparent)]
    Subject(nexus_core::FsError),
    #[error("cannot sign the token: {0}")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

/// Longest credential looked at (anything longer is refused unread).
pub const MAX_CREDENTIAL_BYTES: usize = 8192;

/// Who credentials name: a principal, and for a delegation the user the agent acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub principal: Principal,
    pub on_behalf_of: Option<Principal>,
}

impl Identity {
    /// A principal acting for itself.
    pub fn of(principal: Principal) -> Identity {
        Identity {
            principal,
            on_behalf_of: None,
        }
    }

    /// The call context of this identity (handles resolved to stable ids).
    pub fn context(&self, fs: &Fs) -> nexus_core::CallContext {
        match &self.on_behalf_of {
            Some(user) => fs.delegated_context(self.principal.clone(), user.clone()),
            None => fs.context(self.principal.clone()),
        }
    }
}

/// An identity already authenticated by a front end of this process (the MCP endpoint),
/// carried in a request's extensions to the API it serves in-process. Extensions never come
/// from the network, and only an authenticator made with [`Authenticator::trusting`] reads
/// them.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Identity);

/// Verifies credentials.
pub struct Authenticator {
    kind: AuthKind,
    jwt: Option<JwtVerifier>,
    oidc: Option<OidcVerifier>,
    /// Who requests without credentials act as, in-process (never from configuration).
    acting_as: Option<Principal>,
    /// Requests act as the [`Authenticated`] principal in their extensions (and are refused
    /// without one): the API served in-process to the MCP endpoint.
    trusting: bool,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Authenticator")
            .field("kind", &self.kind)
            .field("jwt", &self.jwt.as_ref().map(|jwt| jwt.algorithm))
            .field("oidc", &self.oidc.as_ref().map(|oidc| &oidc.issuer))
            .field("acting_as", &self.acting_as)
            .field("trusting", &self.trusting)
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
    /// Which key of an OIDC issuer signed it (for this server's own tokens, parsed only
    /// so a duplicate `kid` is refused).
    #[serde(default)]
    kid: Option<serde_json::Value>,
}

/// The claims read; each has its type enforced here (`iss` and `sub` are strings, `aud` a
/// string or an array of strings) before jsonwebtoken checks their values.
#[derive(Deserialize)]
#[expect(
    dead_code,
    reason = "checked by jsonwebtoken; parsed so that their types are enforced"
)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    act: Option<Actor>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default)]
    preferred_username: Option<String>,
}

/// RFC 8693's `act` claim: the acting party.
#[derive(Deserialize)]
struct Actor {
    sub: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
#[expect(dead_code, reason = "parsed only so that its type is enforced")]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// A test of a claim's type.
type Fits<'a> = &'a dyn Fn(&serde_json::Value) -> bool;

/// Which claim of a verified token has the wrong type (for the refusal's message).
fn mistyped_claim(token: &str) -> TokenRefusal {
    let payload = token
        .split('.')
        .nth(1)
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    let Some(serde_json::Value::Object(claims)) = payload else {
        return TokenRefusal::ClaimsNotAnObject;
    };
    let string = |value: &serde_json::Value| value.is_string();
    let checks: [(&str, &str, Fits<'_>); 6] = [
        ("sub", "a string", &string),
        ("iss", "a string", &string),
        ("aud", "a string or an array of strings", &|value| {
            value.is_string()
                || value
                    .as_array()
                    .is_some_and(|items| items.iter().all(serde_json::Value::is_string))
        }),
        ("exp", "a number", &serde_json::Value::is_u64),
        ("nbf", "a number", &serde_json::Value::is_u64),
        ("iat", "a number", &serde_json::Value::is_u64),
    ];
    for (name, kind, fits) in checks {
        if let Some(value) = claims.get(name)
            && !fits(value)
        {
            return TokenRefusal::ClaimType {
                claim: name.to_owned(),
                expected: kind,
            };
        }
    }
    TokenRefusal::Claims
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl Authenticator {
    /// Builds the verifier from configuration (the public key file is read now).
    pub fn new(config: &AuthConfig) -> Result<Authenticator, AuthSetupError> {
        let jwt = match config.kind {
            AuthKind::Jwt => Some(JwtVerifier::new(config)?),
            AuthKind::ApiKey | AuthKind::None => None,
        };
        let oidc = match &config.oidc {
            Some(oidc) => Some(OidcVerifier::new(oidc, config.leeway_secs)?),
            None => None,
        };
        Ok(Authenticator {
            kind: config.kind,
            jwt,
            oidc,
            acting_as: None,
            trusting: false,
        })
    }

    /// For the API served in-process to the MCP endpoint: each request acts as the
    /// [`Authenticated`] principal its extensions carry; without one it is refused.
    pub fn trusting() -> Authenticator {
        Authenticator {
            kind: AuthKind::ApiKey,
            jwt: None,
            oidc: None,
            acting_as: None,
            trusting: true,
        }
    }

    /// The principal of a request: its credentials', or for a trusting authenticator the
    /// one its extensions carry.
    pub fn authenticate_request(
        &self,
        fs: &Fs,
        parts: &axum::http::request::Parts,
    ) -> Result<Identity, ApiError> {
        if self.trusting {
            return parts
                .extensions
                .get::<Authenticated>()
                .map(|found| found.0.clone())
                .ok_or_else(|| ApiError::unauthenticated("missing credentials"));
        }
        self.authenticate(fs, &parts.headers, parts.uri.query())
    }

    /// For an API served in-process (no listener): every request without credentials acts
    /// as `principal`, as the local CLI's `--as` says.
    pub fn acting_as(principal: Principal) -> Authenticator {
        Authenticator {
            kind: AuthKind::None,
            jwt: None,
            oidc: None,
            acting_as: Some(principal),
            trusting: false,
        }
    }

    /// Whether requests without credentials act as the system.
    pub fn is_open(&self) -> bool {
        self.kind == AuthKind::None
    }

    /// Who the request's credentials name.
    pub fn authenticate(
        &self,
        fs: &Fs,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<Identity, ApiError> {
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
            if let Some(principal) = &self.acting_as {
                return Ok(Identity::of(principal.clone()));
            }
            if self.is_open() {
                return Ok(Identity::of(Principal::System));
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
                .registry()
                .authenticate_key(token)
                .map(|holder| Identity {
                    principal: holder.principal,
                    on_behalf_of: holder.on_behalf_of,
                })
                .ok_or_else(|| ApiError::unauthenticated("invalid, revoked or expired API key"));
        }
        // A token of the configured authorization server goes to its verifier; any other to
        // this server's own (when tokens are configured).
        let claimed = claimed_issuer(token);
        let outcome = match (&self.oidc, &self.jwt) {
            (Some(oidc), _) if claimed.as_deref() == Some(oidc.issuer.as_str()) => {
                oidc.verify(token)
            }
            // With an authorization server besides, a token of neither issuer is refused
            // for its issuer.
            (Some(_), Some(jwt))
                if jwt.issuer.is_some() && claimed.as_deref() != jwt.issuer.as_deref() =>
            {
                Err(TokenRefusal::Issuer)
            }
            (_, Some(jwt)) => jwt.verify(token),
            (Some(_), None) => Err(TokenRefusal::Issuer),
            (None, None) => return Err(ApiError::unauthenticated("invalid credentials")),
        };
        let verified = outcome.map_err(|reason| {
            tracing::info!(%reason, "token refused");
            ApiError::unauthenticated(format!("invalid token: {reason}"))
        })?;
        // RFC 8693: `act.sub` is the party acting for `sub` (an agent for a user).
        let Some(actor) = verified.actor else {
            return Ok(Identity::of(token_principal(
                fs,
                &verified.subject,
                verified.issued_at,
                "sub",
            )?));
        };
        let user = token_principal(fs, &verified.subject, verified.issued_at, "sub")?;
        let agent = token_principal(fs, &actor, verified.issued_at, "act.sub")?;
        if !matches!(user, Principal::User(_)) || !matches!(agent, Principal::Agent(_)) {
            return Err(ApiError::unauthenticated(
                "invalid token: a delegated token names a user in `sub` and an agent (`agent:<id>`) in `act.sub`",
            ));
        }
        Ok(Identity {
            principal: agent,
            on_behalf_of: Some(user),
        })
    }
}

/// The principal a token claim names: a known user (handle or stable id) or agent
/// (`agent:<id>`), not locked out since the token was issued.
fn token_principal(
    fs: &Fs,
    subject: &str,
    issued_at: Option<u64>,
    claim: &str,
) -> Result<Principal, ApiError> {
    if nexus_core::accounts::is_reserved_name(subject)
        || subject
            .split_once(':')
            .is_some_and(|(_, id)| nexus_core::accounts::is_reserved_name(id))
    {
        return Err(ApiError::unauthenticated(format!(
            "invalid token: its `{claim}` is a reserved name"
        )));
    }
    let principal = match subject.split_once(':') {
        Some(("agent", id)) => Principal::Agent(id.to_owned()),
        Some(("user", id)) => Principal::User(id.to_owned()),
        _ => Principal::User(subject.to_owned()),
    };
    match &principal {
        Principal::User(id) if fs.registry().user_id(id).is_none() => Err(
            ApiError::unauthenticated(format!("the token's `{claim}` is not a known user")),
        ),
        Principal::Agent(id) if !fs.registry().agent_known(id) => Err(ApiError::unauthenticated(
            format!("the token's `{claim}` is not a known agent"),
        )),
        _ => {
            // An emergency lockout voids every token issued before it (and every token
            // that does not say when it was issued).
            let resolved = fs.resolve_principal(principal.clone());
            if let Some(at) = fs.registry().locked_out_at(&resolved) {
                let issued_micros = issued_at
                    .and_then(|secs| i64::try_from(secs).ok())
                    .map(|secs| secs.saturating_mul(1_000_000));
                if issued_micros.is_none_or(|issued| issued <= at.0) {
                    return Err(ApiError::unauthenticated(
                        "invalid token: it was issued before the account was locked out; sign in again",
                    ));
                }
            }
            // Handles become stable ids when the caller's context is built
            // (`Fs::context`).
            Ok(principal)
        }
    }
}

/// What a verified token says.
#[derive(Debug)]
struct Verified {
    subject: String,
    issued_at: Option<u64>,
    /// `act.sub`: who acts for the subject.
    actor: Option<String>,
}

impl JwtVerifier {
    fn new(config: &AuthConfig) -> Result<JwtVerifier, AuthSetupError> {
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
                    .ok_or(AuthSetupError::ShortSecret)?;
                (
                    Algorithm::HS256,
                    DecodingKey::from_secret(secret.as_bytes()),
                )
            }
            "RS256" | "ES256" => {
                let file = config.jwt_public_key_file.as_ref().ok_or_else(|| {
                    AuthSetupError::MissingKeyFile {
                        algorithm: name.clone(),
                    }
                })?;
                let pem = std::fs::read(file).map_err(|source| AuthSetupError::ReadKey {
                    path: file.clone(),
                    source,
                })?;
                let bad_key = |kind: &'static str| {
                    move |source| AuthSetupError::BadKey {
                        path: file.clone(),
                        kind,
                        source,
                    }
                };
                if name == "RS256" {
                    (
                        Algorithm::RS256,
                        DecodingKey::from_rsa_pem(&pem).map_err(bad_key("RSA"))?,
                    )
                } else {
                    (
                        Algorithm::ES256,
                        DecodingKey::from_ec_pem(&pem).map_err(bad_key("EC"))?,
                    )
                }
            }
            other => return Err(AuthSetupError::UnsupportedAlgorithm(other.to_owned())),
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

    /// What the token says, if it is valid; else which check failed (never the token).
    fn verify(&self, token: &str) -> Result<Verified, TokenRefusal> {
        let header = read_header(token)?;
        if header.alg != self.algorithm_name {
            return Err(self.wrong_algorithm());
        }
        let checks = Checks {
            algorithm: self.algorithm,
            issuer: self.issuer.as_deref(),
            audience: self.audience.as_deref(),
            leeway: self.leeway,
        };
        let claims = checks.decode(token, &self.key)?;
        verified(claims, "sub")
    }

    fn wrong_algorithm(&self) -> TokenRefusal {
        TokenRefusal::Algorithm {
            accepted: self.algorithm_name.clone(),
        }
    }
}

/// A token's header, with the checks every token passes: JOSE, no `crit`, an access
/// token's `typ` when present; and the key id it names.
fn read_header(token: &str) -> Result<Header, TokenRefusal> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenRefusal::NotAJwt);
    };
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenRefusal::HeaderEncoding)?;
    let header: Header = serde_json::from_slice(&header).map_err(|_| TokenRefusal::Header)?;
    if header.crit.is_some() {
        return Err(TokenRefusal::Critical);
    }
    if let Some(typ) = &header.typ
        && !typ.eq_ignore_ascii_case("JWT")
        && !typ.eq_ignore_ascii_case("at+jwt")
    {
        return Err(TokenRefusal::Type);
    }
    Ok(header)
}

/// The issuer a token claims, unverified: which verifier decides it.
fn claimed_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(ToOwned::to_owned)
}

/// What a token's signature and claims are checked against.
struct Checks<'a> {
    algorithm: Algorithm,
    issuer: Option<&'a str>,
    audience: Option<&'a str>,
    leeway: u64,
}

impl Checks<'_> {
    /// The claims of `token` signed by `key`, if they pass: `exp` required, `nbf` and `iat`
    /// not in the future, `iss` and `aud` as configured, each claim of its type.
    fn decode(&self, token: &str, key: &DecodingKey) -> Result<Claims, TokenRefusal> {
        let mut validation = Validation::new(self.algorithm);
        validation.leeway = self.leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        match self.issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|error| {
            use jsonwebtoken::errors::ErrorKind;
            match error.kind() {
                ErrorKind::InvalidSignature => TokenRefusal::Signature,
                ErrorKind::ExpiredSignature => TokenRefusal::Expired,
                ErrorKind::ImmatureSignature => TokenRefusal::NotYetValid,
                ErrorKind::InvalidIssuer => TokenRefusal::Issuer,
                ErrorKind::InvalidAudience => TokenRefusal::Audience,
                ErrorKind::MissingRequiredClaim(claim) => TokenRefusal::MissingClaim(claim.clone()),
                ErrorKind::InvalidClaimFormat(claim) => TokenRefusal::WrongClaimType(claim.clone()),
                ErrorKind::InvalidAlgorithm => TokenRefusal::Algorithm {
                    accepted: format!("{:?}", self.algorithm),
                },
                ErrorKind::Json(_) => mistyped_claim(token),
                _ => TokenRefusal::Malformed,
            }
        })?;
        if data
            .claims
            .iat
            .is_some_and(|iat| iat > now_secs() + self.leeway)
        {
            return Err(TokenRefusal::IssuedInTheFuture);
        }
        Ok(data.claims)
    }
}

/// The subject (from `claim`), issue time and actor of verified claims.
fn verified(claims: Claims, claim: &str) -> Result<Verified, TokenRefusal> {
    let subject = match claim {
        "email" => claims.email,
        "preferred_username" => claims.preferred_username,
        _ => claims.sub,
    }
    .ok_or_else(|| TokenRefusal::MissingClaim(claim.to_owned()))?;
    if subject.is_empty() || subject.len() > 256 {
        return Err(TokenRefusal::Subject);
    }
    let actor = claims.act.map(|actor| actor.sub);
    if actor
        .as_ref()
        .is_some_and(|actor| actor.is_empty() || actor.len() > 256)
    {
        return Err(TokenRefusal::Subject);
    }
    Ok(Verified {
        subject,
        issued_at: claims.iat,
        actor,
    })
}

/// Access tokens of an external authorization server (`auth.oidc`), verified with the keys
/// of its JWKS document.
struct OidcVerifier {
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    subject_claim: String,
    leeway: u64,
    jwks_file: std::path::PathBuf,
    keys: parking_lot::RwLock<OidcKeys>,
}

/// The keys read from the JWKS document, the document's modification time then, and when
/// it was last looked at.
struct OidcKeys {
    keys: Vec<(Option<String>, DecodingKey)>,
    modified: Option<SystemTime>,
    checked_at: std::time::Instant,
}

/// How often the JWKS document is looked at for a change (a key added, or removed).
const JWKS_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
}

fn read_jwks(path: &std::path::Path) -> Result<Vec<(Option<String>, DecodingKey)>, AuthSetupError> {
    let bytes = std::fs::read(path).map_err(|source| AuthSetupError::ReadKey {
        path: path.to_owned(),
        source,
    })?;
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_slice(&bytes).map_err(|error| AuthSetupError::Jwks {
            path: path.to_owned(),
            reason: error.to_string(),
        })?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        if let Ok(key) = DecodingKey::from_jwk(jwk) {
            keys.push((jwk.common.key_id.clone(), key));
        }
    }
    if keys.is_empty() {
        return Err(AuthSetupError::Jwks {
            path: path.to_owned(),
            reason: "it holds no usable RSA or EC key".to_owned(),
        });
    }
    Ok(keys)
}

impl OidcVerifier {
    fn new(
        config: &crate::config::OidcConfig,
        leeway: u64,
    ) -> Result<OidcVerifier, AuthSetupError> {
        let algorithms = config
            .algorithms
            .iter()
            .map(|name| match name.as_str() {
                "RS256" => Ok(Algorithm::RS256),
                "ES256" => Ok(Algorithm::ES256),
                other => Err(AuthSetupError::UnsupportedAlgorithm(other.to_owned())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OidcVerifier {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            algorithms,
            subject_claim: config.subject_claim.clone(),
            leeway,
            keys: parking_lot::RwLock::new(OidcKeys {
                modified: modified(&config.jwks_file),
                keys: read_jwks(&config.jwks_file)?,
                checked_at: std::time::Instant::now(),
            }),
            jwks_file: config.jwks_file.clone(),
        })
    }

    /// The key a token names: by `kid`, or the only key when it names none. The JWKS
    /// document is read again when it changes (looked at every [`JWKS_CHECK`]): a key the
    /// issuer adds is accepted, one it removes refused.
    fn key(&self, kid: Option<&str>) -> Option<DecodingKey> {
        let stale = self.keys.read().checked_at.elapsed() >= JWKS_CHECK;
        if stale {
            let mut keys = self.keys.write();
            if keys.checked_at.elapsed() >= JWKS_CHECK {
                keys.checked_at = std::time::Instant::now();
                let now = modified(&self.jwks_file);
                if now != keys.modified {
                    match read_jwks(&self.jwks_file) {
                        Ok(fresh) => {
                            keys.keys = fresh;
                            keys.modified = now;
                        }
                        Err(error) => {
                            // Keys that cannot be read are trusted no more.
                            tracing::warn!(%error, "the OIDC issuer's keys could not be read; its tokens are refused until they can");
                            keys.keys.clear();
                            keys.modified = now;
                        }
                    }
                }
            }
        }
        let keys = self.keys.read();
        match kid {
            Some(kid) => keys
                .keys
                .iter()
                .find(|(id, _)| id.as_deref() == Some(kid))
                .map(|(_, key)| key.clone()),
            None => match keys.keys.as_slice() {
                [(_, only)] => Some(only.clone()),
                _ => None,
            },
        }
    }

    fn verify(&self, token: &str) -> Result<Verified, TokenRefusal> {
        let header = read_header(token)?;
        let algorithm = self
            .algorithms
            .iter()
            .copied()
            .find(|algorithm| format!("{algorithm:?}") == header.alg)
            .ok_or_else(|| TokenRefusal::Algorithm {
                accepted: self
                    .algorithms
                    .iter()
                    .map(|algorithm| format!("{algorithm:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let kid = header.kid.as_ref().and_then(serde_json::Value::as_str);
        let key = self.key(kid).ok_or(TokenRefusal::UnknownKey)?;
        let checks = Checks {
            algorithm,
            issuer: Some(&self.issuer),
            audience: Some(&self.audience),
            leeway: self.leeway,
        };
        let claims = checks.decode(token, &key)?;
        if self.subject_claim == "email" && claims.email_verified != Some(true) {
            return Err(TokenRefusal::UnverifiedEmail);
        }
        let verified = verified(claims, &self.subject_claim)?;
        // A claim the person may choose at the issuer (`email`, `preferred_username`) names
        // a user by handle only: never a stable id or an agent.
        if self.subject_claim != "sub"
            && (verified.subject.contains(':')
                || nexus_core::accounts::is_stable_user_id(&verified.subject)
                || nexus_core::accounts::is_stable_agent_id(&verified.subject))
        {
            return Err(TokenRefusal::Subject);
        }
        Ok(verified)
    }
}

/// Longest lifetime of a minted token.
pub const MAX_MINTED_TTL_SECS: u64 = 30 * 24 * 3600;

/// Parses a lifetime such as `90s`, `15m`, `1h` or `7d` (at most 30 days).
pub fn parse_ttl(text: &str) -> Result<u64, InvalidTtl> {
    let invalid = || InvalidTtl {
        shown: text.chars().take(40).collect(),
    };
    let split = text.len().saturating_sub(1);
    let (number, unit) = (text.get(..split).ok_or_else(invalid)?, text.get(split..));
    let unit_secs = match unit {
        Some("s") => 1,
        Some("m") => 60,
        Some("h") => 3600,
        Some("d") => 86_400,
        _ => return Err(invalid()),
    };
    let count: u64 = number.parse().map_err(|_| invalid())?;
    let secs = count.checked_mul(unit_secs).ok_or_else(invalid)?;
    if secs == 0 || secs > MAX_MINTED_TTL_SECS {
        return Err(invalid());
    }
    Ok(secs)
}

/// A token for `subject` (a handle, stable id or `agent:<id>`) valid for `ttl_secs`, signed
/// with the configuration's HS256 secret and carrying its `iss` and `aud` when set.
pub fn mint_token(config: &AuthConfig, subject: &str, ttl_secs: u64) -> Result<String, MintError> {
    let secret = match (
        config.kind,
        config.jwt_algorithm.as_deref().unwrap_or("HS256"),
    ) {
        (AuthKind::Jwt, "HS256") => config
            .jwt_secret
            .as_deref()
            .filter(|secret| secret.len() >= 32)
            .ok_or(MintError::ShortSecret)?,
        (AuthKind::Jwt, other) => return Err(MintError::ForeignAlgorithm(other.to_owned())),
        _ => return Err(MintError::NotJwt),
    };
    let (kind, name) = match subject.split_once(':') {
        Some(("agent", id)) => ("agent", id),
        Some(("user", id)) => ("user", id),
        _ => ("user", subject),
    };
    if nexus_core::accounts::is_reserved_name(name) {
        return Err(MintError::Reserved(name.to_owned()));
    }
    if kind == "agent" {
        nexus_core::accounts::validate_agent_ref(name).map_err(MintError::Subject)?;
    } else if !nexus_core::accounts::is_stable_user_id(name) {
        nexus_core::accounts::validate_handle(name).map_err(MintError::Subject)?;
    }
    let now = now_secs();
    let mut claims = serde_json::Map::new();
    claims.insert("sub".to_owned(), serde_json::json!(subject));
    claims.insert("iat".to_owned(), serde_json::json!(now));
    claims.insert("exp".to_owned(), serde_json::json!(now + ttl_secs));
    if let Some(issuer) = &config.issuer {
        claims.insert("iss".to_owned(), serde_json::json!(issuer));
    }
    if let Some(audience) = &config.audience {
        claims.insert("aud".to_owned(), serde_json::json!(audience));
    }
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.typ = Some("JWT".to_owned());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(MintError::Sign)
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
    fn minted_tokens_verify_and_lifetimes_parse() {
        assert_eq!(parse_ttl("90s"), Ok(90));
        assert_eq!(parse_ttl("2h"), Ok(7200));
        assert_eq!(parse_ttl("30d"), Ok(MAX_MINTED_TTL_SECS));
        for bad in ["", "h", "0h", "31d", "1w", "-1h", "1.5h", "forever"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
        let config = AuthConfig {
            kind: AuthKind::Jwt,
            jwt_secret: Some("0123456789abcdef0123456789abcdef".to_owned()),
            issuer: Some("https://idp.example".to_owned()),
            ..AuthConfig::default()
        };
        let token = mint_token(&config, "bob@acme.com", 60).unwrap();
        let verifier = JwtVerifier::new(&config).unwrap();
        assert_eq!(verifier.verify(&token).unwrap().subject, "bob@acme.com");
        for bad in ["system", "agent:UNIV", "a b", "user:*"] {
            assert!(mint_token(&config, bad, 60).is_err(), "{bad}");
        }
        let api_keys = AuthConfig::default();
        assert!(mint_token(&api_keys, "bob@acme.com", 60).is_err());
    }

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
