//! `http_request`: one HTTP GET or POST to an allowed host; returns status, headers and body.
//!
//! Safety model. The tool is off by default and, when enabled, needs
//! `tools.http_request.allow_hosts`. Only `http` and `https` URLs are accepted, and the URL's
//! host must be listed exactly as written there (`localhost` is not `127.0.0.1`; no wildcards),
//! for the request itself and for every redirect, of which at most [`MAX_REDIRECTS`] are
//! followed. The check is on names, not addresses: a listed name is trusted to resolve where its
//! owner says. Each request is bounded by the configured timeout, and at most
//! `max_response_bytes` of the body is read; the rest is never downloaded.
//!
//! A response of any status is a result (a 404 is information for the caller); only a request
//! that gets no response (refused connection, timeout, refused redirect) is a failure.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Response, Url, redirect};
use serde::Deserialize;
use serde_json::{Value, json};

use super::config::HttpRequestConfig;
use super::{CallContext, Tool, ToolError, ToolOutput, parse_args};

/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 5;

/// The `http_request` tool.
pub struct HttpRequest {
    client: Client,
    allow_hosts: Arc<[String]>,
    max_response_bytes: usize,
}

impl HttpRequest {
    /// The tool, under the `[tools.http_request]` configuration, with its one HTTP client.
    ///
    /// # Panics
    /// If the HTTP client cannot be built (its TLS backend fails to start): the daemon cannot
    /// offer the tool at all then.
    pub fn new(config: &HttpRequestConfig) -> Self {
        let allow_hosts: Arc<[String]> = config.allow_hosts.clone().into();
        let allowed = Arc::clone(&allow_hosts);
        let policy = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match check_url(&allowed, attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refusal) => attempt.error(format!("redirect refused: {refusal}")),
            }
        });
        let client = Client::builder()
            .timeout(config.timeout)
            .redirect(policy)
            .build()
            .expect("the HTTP client builds");
        Self {
            client,
            allow_hosts,
            max_response_bytes: config.max_response_bytes,
        }
    }

    /// The result for `response`: status line, headers, blank line, (the start of) the body.
    async fn read(&self, mut response: Response) -> ToolOutput {
        let mut text = format!("{:?} {}\n", response.version(), response.status());
        for (name, value) in response.headers() {
            text.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        text.push('\n');
        let mut body = Vec::new();
        let mut truncated = false;
        let mut failure = None;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.max_response_bytes - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if chunk.len() > room {
                        truncated = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    failure = Some(error_chain(&err));
                    break;
                }
            }
        }
        text.push_str(&String::from_utf8_lossy(&body));
        if truncated {
            text.push_str(&format!(
                "\n\n[body truncated: only its first {} bytes are shown]",
                self.max_response_bytes
            ));
        }
        match failure {
            None => ToolOutput::text(text),
            Some(err) => {
                text.push_str(&format!("\n\n[reading the body failed: {err}]"));
                ToolOutput::failure(text)
            }
        }
    }
}

/// Whether `url` may be requested: an `http(s)` URL whose host is listed.
fn check_url(allow_hosts: &[String], url: &Url) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https URLs are allowed, not {}:",
            url.scheme()
        ));
    }
    let host = url.host_str().unwrap_or_default();
    if allow_hosts.iter().any(|allowed| allowed == host) {
        Ok(())
    } else {
        Err(format!(
            "host {host} is not allowed (allowed: {})",
            allow_hosts.join(", ")
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    url: String,
    #[serde(default)]
    method: Method,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "UPPERCASE")]
enum Method {
    #[default]
    Get,
    Post,
}

impl From<Method> for reqwest::Method {
    fn from(method: Method) -> Self {
        match method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        }
    }
}

#[async_trait]
impl Tool for HttpRequest {
    fn name(&self) -> &'static str {
        "http_request"
    }

    fn description(&self) -> &'static str {
        "Sends one HTTP GET or POST request to an allowed host and returns the status line, the \
         response headers and the body (cut at a configured size). Error statuses are returned \
         like any other; only a request that gets no response fails."
    }

    fn input_schema(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "url": {"type": "string", "description": "An http or https URL on an allowed host."},
                "method": {"type": "string", "enum": ["GET", "POST"], "default": "GET"},
                "headers": {"type": "object", "additionalProperties": {"type": "string"},
                            "description": "Request headers, by name."},
                "body": {"type": "string", "description": "The request body."}
            },
            "required": ["url"],
            "additionalProperties": false
        })
    }

    async fn call(&self, args: Value, _: &CallContext) -> Result<ToolOutput, ToolError> {
        let args: Args = parse_args(args)?;
        let url = match Url::parse(&args.url) {
            Ok(url) => url,
            Err(err) => return Ok(ToolOutput::failure(format!("invalid URL: {err}"))),
        };
        if let Err(refusal) = check_url(&self.allow_hosts, &url) {
            return Ok(ToolOutput::failure(refusal));
        }
        let headers = match header_map(&args.headers) {
            Ok(headers) => headers,
            Err(refusal) => return Ok(ToolOutput::failure(refusal)),
        };
        let mut request = self
            .client
            .request(args.method.into(), url)
            .headers(headers);
        if let Some(body) = args.body {
            request = request.body(body);
        }
        match request.send().await {
            Ok(response) => Ok(self.read(response).await),
            Err(err) => Ok(ToolOutput::failure(format!(
                "request failed: {}",
                error_chain(&err)
            ))),
        }
    }
}

/// The request headers, or which one is invalid and why.
fn header_map(headers: &BTreeMap<String, String>) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|err| format!("invalid header name {name:?}: {err}"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|err| format!("invalid value for header {name}: {err}"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// An error with its causes, which say what actually went wrong (refused, timed out…).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_hosts_over_http_are_allowed() {
        let allow = ["127.0.0.1".to_owned(), "example.com".to_owned()];
        let check = |url: &str| check_url(&allow, &Url::parse(url).unwrap());
        assert!(check("http://127.0.0.1:8080/x").is_ok());
        assert!(check("https://example.com/").is_ok());
        assert!(
            check("http://localhost/")
                .unwrap_err()
                .contains("localhost")
        );
        assert!(check("http://sub.example.com/").is_err());
        assert!(check("ftp://example.com/").unwrap_err().contains("ftp"));
        assert!(check("file:///etc/passwd").is_err());
    }

    #[test]
    fn invalid_headers_are_named() {
        let bad_name = BTreeMap::from([("a b".to_owned(), "v".to_owned())]);
        assert!(header_map(&bad_name).unwrap_err().contains("\"a b\""));
        let bad_value = BTreeMap::from([("x".to_owned(), "a\nb".to_owned())]);
        assert!(header_map(&bad_value).unwrap_err().contains("header x"));
    }
}
