//! Resources and prompts of the user's MCP servers, answered in both eras: `resources/list`,
//! `resources/templates/list` and `prompts/list` from the catalog's snapshot (never waiting on a
//! server), `resources/read` and `prompts/get` forwarded to the server that offers them.
//!
//! They are answered only when at least one server is configured (and then declared in the
//! capabilities, whether or not a server is ready yet: a list is simply empty meanwhile); a
//! daemon without servers answers them as unknown methods, as it always did. A prompt is known
//! by its exposed name (prefixed like tools); a resource by the server's own URI. What the
//! server answers is passed on whole; its errors keep their JSON-RPC code, and a server that is
//! down, slow or gone is a `-32603` naming it. Subscriptions are `subscribe`'s; their
//! capability is declared here, with the others.

use rmcp::model::{
    ClientRequest, GetPromptRequest, GetPromptRequestParams, ReadResourceRequest,
    ReadResourceRequestParams, ServerResult,
};
use serde_json::{Map, Value, json};

use crate::mcp::call::admit::invalid_params;
use crate::mcp::jsonrpc::{INTERNAL_ERROR, INVALID_PARAMS, Request, RpcError};
use crate::upstream::{Catalog, Upstream, UpstreamError};

/// A result for the caller, before its era's finishing touches.
pub struct Answered {
    /// The result object.
    pub result: Value,
    /// Whether it is a list (the modern era adds caching hints to those).
    pub list: bool,
}

/// Answers `request` when it is a resources or prompts method and a server is configured;
/// `None` otherwise (the era answers it as an unknown method).
pub async fn answer(catalog: &Catalog, request: &Request) -> Option<Result<Answered, RpcError>> {
    if !catalog.has_servers() {
        return None;
    }
    let list = |key: &str, items: Vec<Value>| {
        Ok(Answered {
            result: json!({ key: items }),
            list: true,
        })
    };
    let resources = catalog.resources();
    let params = request.params.as_ref();
    Some(match request.method.as_str() {
        "resources/list" => list("resources", resources.listings().to_vec()),
        "resources/templates/list" => {
            list("resourceTemplates", resources.template_listings().to_vec())
        }
        "prompts/list" => list("prompts", catalog.prompt_listings().cloned().collect()),
        "resources/read" => read(catalog, params).await,
        "prompts/get" => get(catalog, params).await,
        _ => return None,
    })
}

/// Declares resources and prompts in `capabilities` when a server is `configured` (of either
/// scope: a session-scoped server's are the session's): their lists' changes are told, and
/// subscriptions are taken when a server of `catalog` takes them (as it said when it was last
/// ready).
pub fn declare(configured: bool, catalog: &Catalog, capabilities: &mut Value) {
    if configured && let Value::Object(capabilities) = capabilities {
        let mut resources = json!({"listChanged": true});
        if catalog.resources().subscribable() {
            resources["subscribe"] = json!(true);
        }
        capabilities.insert("resources".into(), resources);
        capabilities.insert("prompts".into(), json!({"listChanged": true}));
    }
}

/// `resources/read`: forwarded to the server the URI leads to.
async fn read(
    catalog: &Catalog,
    params: Option<&Map<String, Value>>,
) -> Result<Answered, RpcError> {
    let uri = text_param(params, "uri")?;
    let Some(upstream) = catalog.resources().server_of(uri) else {
        // SEP-2164: an unknown resource is invalid params.
        return Err(RpcError::new(
            INVALID_PARAMS,
            format!("resource not found: no MCP server lists {uri:?} or has a template for it"),
        ));
    };
    let request = ReadResourceRequest::new(ReadResourceRequestParams::new(uri));
    let answer = forward(upstream, ClientRequest::ReadResourceRequest(request)).await?;
    match answer {
        ServerResult::ReadResourceResult(result) => item(&result),
        _ => Err(unexpected(upstream, "resources/read")),
    }
}

/// `prompts/get`: forwarded to the server that offers the prompt, under its own name.
async fn get(catalog: &Catalog, params: Option<&Map<String, Value>>) -> Result<Answered, RpcError> {
    let name = text_param(params, "name")?;
    let arguments = match params.and_then(|params| params.get("arguments")) {
        None | Some(Value::Null) => None,
        Some(Value::Object(arguments)) => Some(arguments.clone()),
        Some(_) => return Err(invalid_params("params.arguments must be an object")),
    };
    let Some((upstream, own)) = catalog.prompt(name) else {
        return Err(invalid_params(&format!("unknown prompt: {name:?}")));
    };
    let mut params = GetPromptRequestParams::new(own);
    params.arguments = arguments;
    let request = ClientRequest::GetPromptRequest(GetPromptRequest::new(params));
    match forward(upstream, request).await? {
        ServerResult::GetPromptResult(result) => item(&result),
        _ => Err(unexpected(upstream, "prompts/get")),
    }
}

/// Sends `request` to `upstream`; its failure as the caller's error.
async fn forward(upstream: &Upstream, request: ClientRequest) -> Result<ServerResult, RpcError> {
    upstream.forward(request).await.map_err(RpcError::from)
}

/// A server's result as the caller's, without the server's own `resultType` (each era says
/// its own).
fn item(result: &impl serde::Serialize) -> Result<Answered, RpcError> {
    let mut result = serde_json::to_value(result)
        .map_err(|err| RpcError::new(INTERNAL_ERROR, format!("unreadable result: {err}")))?;
    if let Value::Object(fields) = &mut result {
        fields.remove("resultType");
    }
    Ok(Answered {
        result,
        list: false,
    })
}

fn unexpected(upstream: &Upstream, method: &str) -> RpcError {
    let reason = format!("answered {method} with something else than its result");
    RpcError::new(
        INTERNAL_ERROR,
        UpstreamError::new(upstream.name(), reason).to_string(),
    )
}

/// The text parameter `key` of `params`; `-32602` unless there is one.
pub fn text_param<'a>(
    params: Option<&'a Map<String, Value>>,
    key: &str,
) -> Result<&'a str, RpcError> {
    params
        .and_then(|params| params.get(key))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_params(&format!("params.{key} must be a string")))
}
