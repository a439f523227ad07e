//! What a standard MCP client established for its session, kept with the session.
//!
//! Both the session's actor (which answers with it) and the cluster's record of a session (which
//! stores it for every node) need this type, so it lives below both.

use std::sync::Arc;

/// Protocol facts a standard MCP client established for its session: the revision negotiated at
/// `initialize`, the name and version the client gave there (`clientInfo`), the capabilities it
/// declared there, and the level set by `logging/setLevel`. All absent for Construct sessions
/// until their client says otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionSettings {
    /// The protocol revision negotiated at `initialize`.
    pub protocol_version: Option<Arc<str>>,
    /// The minimum level of log messages the client wants (`debug` … `emergency`).
    pub log_level: Option<Arc<str>>,
    /// The client's name, from `clientInfo` at `initialize` (e.g. `claude-code`).
    pub client_name: Option<Arc<str>>,
    /// The client's version, from `clientInfo` at `initialize`.
    pub client_version: Option<Arc<str>>,
    /// The capabilities the client declared at `initialize`, by name (`elicitation`, `roots`,
    /// `sampling`…), sorted and comma-separated: what the daemon may ask the client.
    pub client_capabilities: Option<Arc<str>>,
}

impl SessionSettings {
    /// `self` with every field `update` sets replaced.
    #[must_use]
    pub fn merged(mut self, update: &SessionSettings) -> Self {
        let fields = [
            (&mut self.protocol_version, &update.protocol_version),
            (&mut self.log_level, &update.log_level),
            (&mut self.client_name, &update.client_name),
            (&mut self.client_version, &update.client_version),
            (&mut self.client_capabilities, &update.client_capabilities),
        ];
        for (field, new) in fields {
            if new.is_some() {
                field.clone_from(new);
            }
        }
        self
    }

    /// Whether the client declared the capability `name` at `initialize`.
    pub fn client_can(&self, name: &str) -> bool {
        self.client_capabilities
            .as_deref()
            .is_some_and(|names| names.split(',').any(|declared| declared == name))
    }
}
