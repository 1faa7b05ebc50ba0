//! One MCP server's tool as the registry holds it: its name offered as `mcp__<server>__<tool>`
//! within the providers' rule, its schema as the server listed it, and a call that goes to the
//! server within the server's timeout and comes back as text and images.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock, ResourceContents};
use rmcp::service::{Peer, ServiceError};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::daemon::agent::tools::{Access, OutputFuture, Tool, ToolContext, ToolError, ToolFuture, ToolOutput};
use crate::daemon::providers::{ToolImage, ToolSpec};

/// The providers' limit on a tool's name (Anthropic and OpenAI: `^[a-zA-Z0-9_-]{1,64}$`).
const MAX_NAME: usize = 64;
/// The image types every provider takes in a tool result.
const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// `mcp__<server>__<tool>` with every other character made `_`; a name past 64 characters, or
/// one already taken by another of the server's tools, keeps its start and ends with a digest.
pub fn offered_name(server: &str, tool: &str, taken: &BTreeSet<String>) -> String {
    let clean = |text: &str| -> String {
        text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
    };
    let name = format!("mcp__{}__{}", clean(server), clean(tool));
    if name.len() <= MAX_NAME && !taken.contains(&name) {
        return name;
    }
    let digest = hex::encode(&Sha256::digest(format!("{server}\0{tool}").as_bytes())[..4]);
    format!("{}_{digest}", &name[..name.len().min(MAX_NAME - digest.len() - 1)])
}

pub struct McpTool {
    spec: ToolSpec,
    server: Arc<str>,
    /// The tool's name on its server.
    remote: String,
    peer: Peer<RoleClient>,
    timeout: Duration,
    access: Access,
    /// Tells the server's supervisor that a call failed on the transport.
    suspect: Arc<Notify>,
}

impl McpTool {
    pub fn new(
        spec: ToolSpec,
        server: Arc<str>,
        remote: String,
        peer: Peer<RoleClient>,
        timeout: Duration,
        access: Access,
        suspect: Arc<Notify>,
    ) -> Self {
        Self { spec, server, remote, peer, timeout, access, suspect }
    }

    async fn run(&self, input: Value) -> Result<ToolOutput, ToolError> {
        let arguments = match input {
            Value::Object(map) => Some(map),
            Value::Null => None,
            _ => return Err(ToolError::new("invalid arguments: expected a JSON object")),
        };
        let mut params = CallToolRequestParams::new(self.remote.clone());
        params.arguments = arguments;
        // Dropping the call (its timeout, the round's, an abort) tells the server it is cancelled.
        let result = match tokio::time::timeout(self.timeout, self.peer.call_tool(params)).await {
            Err(_) => {
                // A server that stopped answering is found out by the ping this asks for.
                self.suspect.notify_one();
                return Err(ToolError::new(format!(
                    "the MCP server `{}` did not answer within {} s",
                    self.server,
                    self.timeout.as_secs()
                )));
            }
            Ok(Err(error)) => {
                if !matches!(error, ServiceError::McpError(_)) {
                    self.suspect.notify_one();
                }
                return Err(ToolError::new(format!("the MCP server `{}` failed: {error}", self.server)));
            }
            Ok(Ok(result)) => result,
        };
        output(result)
    }
}

impl Tool for McpTool {
    fn spec(&self) -> ToolSpec {
        self.spec.clone()
    }

    fn access(&self) -> Access {
        self.access
    }

    fn call<'a>(&'a self, input: Value, _context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move { self.run(input).await.map(|output| output.text) })
    }

    fn call_output<'a>(&'a self, input: Value, _context: &'a ToolContext) -> OutputFuture<'a> {
        Box::pin(self.run(input))
    }
}

/// A result as the model reads it: text blocks and text resources as text, images as images
/// (of the types providers take), everything else as a note; `isError` makes it an error.
pub fn output(result: CallToolResult) -> Result<ToolOutput, ToolError> {
    let mut parts: Vec<String> = Vec::new();
    let mut images = Vec::new();
    for block in result.content {
        match block {
            ContentBlock::Text(text) => parts.push(text.text),
            ContentBlock::Image(image) if IMAGE_TYPES.contains(&image.mime_type.as_str()) => {
                images.push(ToolImage { media_type: image.mime_type, data: image.data });
            }
            ContentBlock::Image(image) => parts.push(format!("[an image of type `{}` left out]", image.mime_type)),
            ContentBlock::Audio(audio) => parts.push(format!("[audio of type `{}` left out]", audio.mime_type)),
            ContentBlock::Resource(embedded) => parts.push(match embedded.resource {
                ResourceContents::TextResourceContents { uri, text, .. } => format!("[resource {uri}]\n{text}"),
                ResourceContents::BlobResourceContents { uri, mime_type, blob, .. } => format!(
                    "[binary resource {uri} ({}, {} bytes base64) left out]",
                    mime_type.as_deref().unwrap_or("unknown type"),
                    blob.len()
                ),
                _ => "[a resource of an unknown kind left out]".to_owned(),
            }),
            ContentBlock::ResourceLink(link) => parts.push(format!("[resource link {} `{}`]", link.uri, link.name)),
            _ => parts.push("[content of an unknown kind left out]".to_owned()),
        }
    }
    if parts.is_empty()
        && let Some(structured) = result.structured_content
    {
        parts.push(structured.to_string());
    }
    let text = parts.join("\n");
    if result.is_error == Some(true) {
        return Err(ToolError::new(if text.is_empty() { "the tool failed".to_owned() } else { text }));
    }
    Ok(ToolOutput { text, images })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_keep_to_the_providers_rule() {
        let none = BTreeSet::new();
        assert_eq!(offered_name("everything", "get-sum", &none), "mcp__everything__get-sum");
        assert_eq!(offered_name("my server", "read.file", &none), "mcp__my_server__read_file");
        let long = offered_name("a-very-long-server-name", &"t".repeat(80), &none);
        assert_eq!(long.len(), MAX_NAME);
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'), "{long}");
        let other_long = offered_name("a-very-long-server-name", &format!("{}x", "t".repeat(80)), &none);
        assert_ne!(long, other_long, "the digest keeps long names apart");
        let taken: BTreeSet<String> = ["mcp__s__a_b".to_owned()].into();
        let second = offered_name("s", "a.b", &taken);
        assert!(second.starts_with("mcp__s__a_b_") && second != "mcp__s__a_b", "{second}");
    }

    fn result(value: Value) -> CallToolResult {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn text_images_and_resources_reach_the_model() {
        let out = output(result(json!({"content": [
            {"type": "text", "text": "one"},
            {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
            {"type": "image", "data": "AAAA", "mimeType": "image/tiff"},
            {"type": "resource", "resource": {"uri": "file:///a.txt", "text": "inside"}},
            {"type": "resource", "resource": {"uri": "file:///a.bin", "blob": "AAAA", "mimeType": "application/gzip"}},
        ]})))
        .unwrap();
        assert_eq!(out.images, [ToolImage { media_type: "image/png".into(), data: "iVBORw0KGgo=".into() }]);
        assert_eq!(
            out.text,
            "one\n[an image of type `image/tiff` left out]\n[resource file:///a.txt]\ninside\n\
             [binary resource file:///a.bin (application/gzip, 4 bytes base64) left out]"
        );
    }

    #[test]
    fn is_error_is_a_tool_error_and_structured_content_stands_in_for_none() {
        let failed = output(result(json!({"content": [{"type": "text", "text": "no such file"}], "isError": true})));
        assert_eq!(failed.unwrap_err().to_string(), "no such file");
        let structured = output(result(json!({"content": [], "structuredContent": {"sum": 3}}))).unwrap();
        assert_eq!(structured.text, r#"{"sum":3}"#);
    }
}
