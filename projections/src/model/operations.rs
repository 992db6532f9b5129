//! The operations area of the read model: excused windows (recorded, or derived from credentials
//! and communications) and SOP amendments, and folding in their events.

use opsledger_domain::events::{
    ExcuseCause, ExcusedWindowClosed, ExcusedWindowOpened, SopAmendmentPublished,
};
use opsledger_domain::ids::{ClientId, CommunicationId, CredentialId, ExcusedWindowId};
use opsledger_domain::rules::RuleId;
use serde::{Deserialize, Serialize};

use super::{set_first, ReadModel};
use crate::position::EventRef;

/// One excused window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowRecord {
    /// Window.
    pub window_id: ExcusedWindowId,
    /// Client slot.
    pub client: u32,
    /// Cause.
    pub cause: ExcuseCause,
    /// Opening.
    pub opened: EventRef,
    /// Closing.
    pub closed: Option<EventRef>,
    /// The only rules it excuses, for a window awaiting the client's answer (the rules its
    /// communication named); empty for the other causes, which excuse every rule they concern.
    #[serde(default)]
    pub rules: Vec<RuleId>,
    /// The fact that opened it when that was not an excused-window event: the credential set or
    /// the communication, so that the restoration or the answer closes it.
    #[serde(default)]
    pub opened_by: Option<WindowSource>,
}
row!(WindowRecord, ExcusedWindowId, window_id);

/// The fact behind a window opened by an event other than an excused-window event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum WindowSource {
    /// Credentials expired or revoked; restored or provided again, the window closes.
    Credentials(CredentialId),
    /// An agency communication awaiting the client's answer; answered, the window closes.
    Communication(CommunicationId),
}

/// An SOP amendment and its event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SopRecord {
    /// The event.
    pub event: EventRef,
    /// The amendment.
    pub amendment: SopAmendmentPublished,
}

impl ReadModel {
    /// Opens a window for a fact other than an excused-window event, unless one for the same
    /// fact is still open (credentials expired, then revoked, make one window). Its id is
    /// `credentials:<id>:<position>` or `communication:<id>:<position>` (just the prefix and
    /// position when that would be too long); should a recorded window already use that id,
    /// the recorded one is kept, as for any repeated window id.
    pub(super) fn open_derived_window(
        &mut self,
        client_id: &ClientId,
        cause: ExcuseCause,
        source: WindowSource,
        rules: Vec<RuleId>,
        r: EventRef,
    ) {
        let Some(client) = self.clients.slot(client_id) else {
            return;
        };
        if self.open_derived(client, &source).is_some() {
            return;
        }
        let (prefix, key) = match &source {
            WindowSource::Credentials(c) => ("credentials", c.as_str()),
            WindowSource::Communication(c) => ("communication", c.as_str()),
        };
        let id = ExcusedWindowId::new(format!("{prefix}:{key}:{}", r.position))
            .or_else(|_| ExcusedWindowId::new(format!("{prefix}:{}", r.position)));
        let Ok(window_id) = id else {
            return;
        };
        if let Some(slot) = self.excused_windows.insert_new(WindowRecord {
            window_id,
            client,
            cause,
            opened: r,
            closed: None,
            rules,
            opened_by: Some(source),
        }) {
            if let Some(c) = self.clients.get_slot_mut(client) {
                c.excused_windows.push(slot);
            }
        }
    }

    /// The slot of the open window a fact opened for a client, if any.
    fn open_derived(&self, client: u32, source: &WindowSource) -> Option<u32> {
        let record = self.clients.get(client)?;
        record.excused_windows.iter().copied().find(|slot| {
            self.excused_windows
                .get(*slot)
                .is_some_and(|w| w.closed.is_none() && w.opened_by.as_ref() == Some(source))
        })
    }

    /// Closes the open window a fact opened, if there is one.
    pub(super) fn close_derived_window(
        &mut self,
        client_id: &ClientId,
        source: &WindowSource,
        r: EventRef,
    ) {
        let Some(client) = self.clients.slot(client_id) else {
            return;
        };
        if let Some(slot) = self.open_derived(client, source) {
            if let Some(w) = self.excused_windows.get_slot_mut(slot) {
                set_first(&mut w.closed, r);
            }
        }
    }

    /// Closes every open window of a cause for a client.
    pub(super) fn close_windows_of_cause(
        &mut self,
        client_id: &ClientId,
        cause: ExcuseCause,
        r: EventRef,
    ) {
        let Some(client) = self.clients.slot(client_id) else {
            return;
        };
        let slots: Vec<u32> = self
            .clients
            .get(client)
            .map(|c| c.excused_windows.clone())
            .unwrap_or_default();
        for slot in slots {
            if let Some(w) = self.excused_windows.get_slot_mut(slot) {
                if w.cause == cause && w.opened.occurred_at <= r.occurred_at {
                    set_first(&mut w.closed, r);
                }
            }
        }
    }

    /// Folds in a `ExcusedWindowOpened`.
    pub(super) fn apply_excused_window_opened(&mut self, r: EventRef, e: &ExcusedWindowOpened) {
        let Some(client) = self.clients.slot(&e.client_id) else {
            return;
        };
        if let Some(slot) = self.excused_windows.insert_new(WindowRecord {
            window_id: e.window_id.clone(),
            client,
            cause: e.cause,
            opened: r,
            closed: None,
            rules: Vec::new(),
            opened_by: None,
        }) {
            if let Some(c) = self.clients.get_slot_mut(client) {
                c.excused_windows.push(slot);
            }
        }
    }

    /// Folds in a `ExcusedWindowClosed`.
    pub(super) fn apply_excused_window_closed(&mut self, r: EventRef, e: &ExcusedWindowClosed) {
        if let Some(w) = self.excused_windows.get_mut(&e.window_id) {
            set_first(&mut w.closed, r);
        }
    }

    /// Folds in a `SopAmendmentPublished`.
    pub(super) fn apply_sop_amendment_published(&mut self, r: EventRef, e: &SopAmendmentPublished) {
        if !self
            .sop_amendments
            .iter()
            .any(|a| a.amendment.amendment_id == e.amendment_id)
        {
            self.sop_amendments.push(SopRecord {
                event: r,
                amendment: e.clone(),
            });
        }
    }
}
