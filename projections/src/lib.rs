//! Read models rebuilt from the event log: obligations, SLA reports, retention windows, billing state.
