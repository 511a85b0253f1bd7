//! What every HTTP test shares: a minimal HTTP/1.1 client (raw, so malformed requests can be
//! sent), responses, the seed's configuration and token minting. The CLI's end-to-end tests
//! include this file too.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

pub const SECRET: &str = "test-secret-0123456789abcdef0123456789";

/// The seed's two organizations, with JWT authentication.
pub fn seed_config() -> String {
    r"
data_dir: ./data
backend: local
organizations:
  - id: acme
    name: Acme Corp
    workspaces:
      - id: sales
      - id: engineering
    members:
      - user_id: alice@acme.com
        role: admin
  - id: techcorp
    name: Tech Corp Inc.
    workspaces:
      - id: product
    members:
      - user_id: john@techcorp.com
        role: admin
        permissions:
          - orgs/techcorp:rwx
auth:
  type: jwt
  jwt_secret: ${JWT_SECRET}
  jwt_algorithm: HS256
"
    .to_owned()
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "status {}: body is not JSON ({error}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The error code of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// Requests to a server listening on `address()`.
pub trait Api {
    fn address(&self) -> SocketAddr;

    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        http(self.address(), method, path, headers, body)
    }

    /// A request with `Authorization: Bearer <credential>` and an optional JSON body.
    fn call(&self, method: &str, path: &str, credential: &str, body: Option<&Value>) -> Response {
        let auth = format!("Bearer {credential}");
        let bytes = body.map(|body| serde_json::to_vec(body).unwrap());
        self.request(method, path, &[("Authorization", &auth)], bytes.as_deref())
    }

    fn get(&self, path: &str, credential: &str) -> Response {
        self.call("GET", path, credential, None)
    }
}

/// One HTTP/1.1 exchange over a fresh connection.
pub fn http(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    if let Some(body) = body {
        bytes.extend_from_slice(body);
    }
    stream.write_all(&bytes).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked")
    });
    if chunked {
        let mut decoded = Vec::new();
        let mut rest = &body[..];
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap().trim(), 16)
                    .unwrap();
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            decoded.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body = decoded;
    }
    Response {
        status,
        headers,
        body,
    }
}

pub fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with the given header and payload texts, signed with HMAC-SHA256 and `key`.
pub fn sign_raw(header: &str, payload: &str, key: &[u8]) -> String {
    let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
}

/// A valid HS256 token for `sub`, with extra claims merged in.
pub fn token_with(sub: &str, extra: &Value) -> String {
    let mut claims = serde_json::json!({"sub": sub, "exp": now() + 3600, "iat": now()});
    for (key, value) in extra.as_object().unwrap() {
        claims[key] = value.clone();
    }
    sign_raw(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &claims.to_string(),
        SECRET.as_bytes(),
    )
}

pub fn token(sub: &str) -> String {
    token_with(sub, &serde_json::json!({}))
}
