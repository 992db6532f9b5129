//! Who is acting: a value the front end supplies (the CLI from `$USER`), recorded in the
//! metadata of what a use case appends.

/// The person or system on whose behalf events are recorded; `None` when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor(Option<String>);

impl Actor {
    /// A named actor.
    pub fn named(name: impl Into<String>) -> Self {
        Actor(Some(name.into()))
    }

    /// An actor nobody named: metadata then records no actor.
    pub fn unknown() -> Self {
        Actor(None)
    }

    /// The name as metadata records it.
    pub fn name(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The name, owned, for metadata.
    pub fn to_metadata(&self) -> Option<String> {
        self.0.clone()
    }
}
