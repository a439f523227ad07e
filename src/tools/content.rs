//! What a tool returns: content blocks, as MCP's `CallToolResult` carries them.

use serde::Serialize;

/// One block of a tool's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Content {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, base64-encoded.
    Image {
        /// Base64 data.
        data: String,
        /// E.g. `image/png`.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// Audio, base64-encoded.
    Audio {
        /// Base64 data.
        data: String,
        /// E.g. `audio/wav`.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// A resource embedded in the result.
    Resource {
        /// The resource.
        resource: EmbeddedResource,
    },
}

/// A text resource embedded in a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddedResource {
    /// Its URI.
    pub uri: String,
    /// Its media type.
    #[serde(rename = "mimeType")]
    pub mime_type: String,
    /// Its text.
    pub text: String,
}

/// A call's result: content for the client and whether it describes a failure.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// The blocks of the result.
    pub content: Vec<Content>,
    /// True when the tool ran but failed; the content says why.
    pub is_error: bool,
}

impl ToolOutput {
    /// A successful result of one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::texts([text.into()], false)
    }

    /// A failed run, explained in one text block.
    pub fn failure(text: impl Into<String>) -> Self {
        Self::texts([text.into()], true)
    }

    /// A result of several text blocks.
    pub fn texts(texts: impl IntoIterator<Item = String>, is_error: bool) -> Self {
        Self {
            content: texts
                .into_iter()
                .map(|text| Content::Text { text })
                .collect(),
            is_error,
        }
    }
}
