//! The agency's Terms and SOP as typed events, commands, rules in force and business calendars.
