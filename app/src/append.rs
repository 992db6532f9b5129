//! Appending envelopes given from outside (`opsledger append`, `import ndjson`): NDJSON lines
//! parsed strictly (a key named twice is refused with its line), then taken through the same
//! step as `record` (issue 12, finding 1, "one way in"): an envelope of a domain type is
//! decoded, its already-sealed personal fields must open under its client's key, the domain
//! decides it against the current state (a call after the client's termination is refused as
//! `record` refuses it) and it is sealed again on the way in. A type the domain does not know
//! is refused unless foreign facts are allowed; those are appended as given and never decided
//! on or projected. The whole input is one atomic append.

use std::io::BufRead;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use opsledger_domain::codec;
use opsledger_domain::command::{
    Command, DocumentCall, GiveTerminationNotice, IssueInvoice, TerminateImmediately,
};
use opsledger_domain::events::DomainEvent;
use opsledger_store::canonical::parse_strict;
use opsledger_store::{EventStore, ExpectedVersion, Metadata, NewEvent, StoreError, StreamId};
use serde::Deserialize;
use uuid::Uuid;

use crate::crypto::Sealer;
use crate::envelopes;
use crate::error::{AppError, AppResult, Origin};
use crate::progress::NoProgress;
use crate::record::{self, Given, Proposal};

/// One NDJSON line of `opsledger append`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputLine {
    stream_id: String,
    #[serde(default)]
    expected_version: Option<InputExpected>,
    event_id: Uuid,
    event_type: String,
    schema_version: u32,
    #[serde(default)]
    client_id: Option<String>,
    occurred_at: DateTime<Utc>,
    data: serde_json::Value,
    #[serde(default)]
    metadata: Metadata,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum InputExpected {
    Exact(u64),
    Named(String),
}

fn expected_from(input: Option<InputExpected>) -> Result<ExpectedVersion, String> {
    Ok(match input {
        None => ExpectedVersion::Any,
        Some(InputExpected::Exact(v)) => ExpectedVersion::Exact(v),
        Some(InputExpected::Named(name)) => match name.as_str() {
            "any" => ExpectedVersion::Any,
            "no_stream" => ExpectedVersion::NoStream,
            "stream_exists" => ExpectedVersion::StreamExists,
            other => {
                return Err(format!(
                "{other:?} is not a version number, \"any\", \"no_stream\" or \"stream_exists\""
            ))
            }
        },
    })
}

/// Envelopes read from one input, in input order.
#[derive(Debug)]
pub struct EnvelopeBatch {
    /// The input's name, for errors.
    pub name: String,
    pub entries: Vec<Entry>,
}

/// One envelope of the input and the line it was read from.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The 1-based input line.
    pub line: usize,
    pub stream_id: StreamId,
    pub expected_version: ExpectedVersion,
    pub event: NewEvent,
}

/// Reads NDJSON envelopes from `reader` (named `name` in errors). Without
/// `allow_foreign_types`, an event type the domain does not know is refused. The first bad
/// line refuses the whole input; an input without events is refused too.
pub fn read_envelopes(
    name: &str,
    reader: impl BufRead,
    allow_foreign_types: bool,
) -> AppResult<EnvelopeBatch> {
    let mut entries: Vec<Entry> = Vec::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let number = i + 1;
        let origin = || Origin {
            file: name.to_owned(),
            line: number,
        };
        let bytes = line.map_err(|source| AppError::Io {
            context: format!("reading {name}"),
            source,
        })?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| AppError::input(origin(), None, format!("not UTF-8 text ({e})")))?;
        if text.trim().is_empty() {
            continue;
        }
        // Strict parsing first: serde_json alone would keep the last of two equal keys, so
        // the line would record a value its author may not have meant (finding 10).
        let value =
            parse_strict(text).map_err(|e| AppError::input(origin(), None, e.to_string()))?;
        let parsed: InputLine = serde_json::from_value(value)
            .map_err(|e| AppError::input(origin(), None, e.to_string()))?;
        let stream = StreamId::parse(&parsed.stream_id)
            .map_err(|e| AppError::input(origin(), Some("stream_id"), e.to_string()))?;
        let expected = expected_from(parsed.expected_version)
            .map_err(|e| AppError::input(origin(), Some("expected_version"), e))?;
        if !allow_foreign_types
            && opsledger_domain::codec::current_schema_version(&parsed.event_type).is_none()
        {
            return Err(AppError::input(
                origin(),
                Some("event_type"),
                format!(
                    "{:?} is not an event type opsledger knows (pass --allow-foreign-types to record facts from other systems)",
                    parsed.event_type
                ),
            ));
        }
        envelopes::check_known_payload(&parsed.event_type, parsed.schema_version, &parsed.data)
            .map_err(|e| AppError::input(origin(), Some("data"), e.to_string()))?;
        let event = NewEvent {
            event_id: parsed.event_id,
            event_type: parsed.event_type,
            schema_version: parsed.schema_version,
            client_id: parsed.client_id,
            occurred_at: parsed.occurred_at,
            data: parsed.data,
            metadata: parsed.metadata,
        };
        entries.push(Entry {
            line: number,
            stream_id: stream,
            expected_version: expected,
            event,
        });
    }
    if entries.is_empty() {
        return Err(AppError::input(
            Origin {
                file: name.to_owned(),
                line: 0,
            },
            None,
            "no events in the input",
        ));
    }
    Ok(EnvelopeBatch {
        name: name.to_owned(),
        entries,
    })
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Events newly recorded.
    pub recorded: usize,
    /// Events that were already recorded (idempotent replays).
    pub already_recorded: usize,
    /// Streams the batch touched.
    pub streams: usize,
}

/// Appends the batch atomically, every domain-typed envelope decided and sealed as `record`
/// does. An envelope the domain or the store refuses is reported at its input line, and then
/// nothing of the input is appended.
pub async fn append(store: &Arc<dyn EventStore>, batch: EnvelopeBatch) -> AppResult<Appended> {
    let EnvelopeBatch { name, entries } = batch;
    let mut sealer = Sealer::new(Arc::clone(store));
    let mut proposals = Vec::with_capacity(entries.len());
    for entry in entries {
        let origin = Origin {
            file: name.clone(),
            line: entry.line,
        };
        if codec::current_schema_version(&entry.event.event_type).is_none() {
            // A foreign fact, admitted by `read_envelopes` only when allowed.
            proposals.push(Proposal::Foreign {
                stream_id: entry.stream_id,
                expected_version: entry.expected_version,
                event: Box::new(entry.event),
                origin,
            });
            continue;
        }
        proposals.push(given_proposal(&mut sealer, entry, origin).await?);
    }
    let recorded = record::decide_and_append(
        store,
        proposals,
        &Metadata::default(),
        false,
        usize::MAX,
        &NoProgress,
    )
    .await
    .map_err(|e| match e {
        AppError::Store(StoreError::InvalidEvent {
            event_id, problem, ..
        }) => AppError::input(
            Origin {
                file: name.clone(),
                line: 0,
            },
            None,
            format!("event {event_id}: {problem}"),
        ),
        other => other,
    })?;
    Ok(Appended {
        recorded: usize::try_from(recorded.appended).unwrap_or(usize::MAX),
        already_recorded: usize::try_from(recorded.already_recorded + recorded.unchanged)
            .unwrap_or(usize::MAX),
        streams: usize::try_from(recorded.streams).unwrap_or(usize::MAX),
    })
}

/// The proposal of one domain-typed envelope: its payload decoded, its stream and client
/// checked against the payload's, its sealed personal fields opened (they must open under the
/// client's key), and the command that records it.
async fn given_proposal(sealer: &mut Sealer, entry: Entry, origin: Origin) -> AppResult<Proposal> {
    let Entry {
        stream_id,
        expected_version,
        event,
        ..
    } = entry;
    let invalid =
        |field: &str, detail: String| AppError::input(origin.clone(), Some(field), detail);
    // Decoded once as given to learn its client: a sealed value is just text to the codec.
    let as_given = codec::decode(&event.event_type, event.schema_version, &event.data)
        .map_err(|e| invalid("data", e.to_string()))?;
    if as_given.stream_id() != stream_id.as_str() {
        return Err(invalid(
            "stream_id",
            format!(
                "a {} belongs to stream {:?}, not {:?}",
                event.event_type,
                as_given.stream_id(),
                stream_id.as_str()
            ),
        ));
    }
    let client = as_given.client_id().to_owned();
    if event.client_id.as_deref() != Some(client.as_str()) {
        return Err(invalid(
            "client_id",
            format!(
                "a {} of client {client:?} must carry client_id {client:?}",
                event.event_type
            ),
        ));
    }
    let data = sealer
        .open_given(event.event_id, &client, &event.event_type, event.data)
        .await
        .map_err(|e| match e {
            AppError::Crypto { error, .. } => invalid("data", error.to_string()),
            other => other,
        })?;
    let decoded = codec::decode(&event.event_type, event.schema_version, &data)
        .map_err(|e| invalid("data", e.to_string()))?;
    Ok(Proposal::Decide {
        event_id: event.event_id,
        command: Box::new(command_of(decoded.clone())),
        origin,
        given: Some(Box::new(Given {
            event: decoded,
            metadata: event.metadata,
            expected_version,
        })),
    })
}

/// The command whose decision records `event` as it is: for the commands that compute part of
/// their fact, the computed part is given, so the decision checks it instead of choosing it.
fn command_of(event: DomainEvent) -> Command {
    use Command as C;
    use DomainEvent as E;
    match event {
        E::CallDocumented(e) => C::DocumentCall(DocumentCall {
            client_id: e.client_id,
            call_id: e.call_id,
            at: e.at,
            agent_id: e.agent_id,
            caller_name: e.caller_name,
            caller_contact: e.caller_contact,
            nature_of_call: e.nature_of_call,
            action_taken: e.action_taken,
        }),
        E::InvoiceIssued(e) => C::IssueInvoice(IssueInvoice {
            client_id: e.client_id,
            invoice_id: e.invoice_id,
            at: e.at,
            invoice_date: e.invoice_date,
            period_start: e.period_start,
            period_end: e.period_end,
            lines: e.lines,
            total: e.total,
            due_date: Some(e.due_date),
            final_invoice: e.final_invoice,
        }),
        E::TerminationNoticeGiven(e) => C::GiveTerminationNotice(GiveTerminationNotice {
            client_id: e.client_id,
            notice_id: e.notice_id,
            at: e.at,
            by: e.by,
            effective_at: Some(e.effective_at),
        }),
        E::ImmediateTermination(e) => C::TerminateImmediately(TerminateImmediately {
            client_id: e.client_id,
            at: e.at,
            cause: e.cause,
        }),
        E::ClientOnboarded(e) => C::Onboard(e),
        E::AgreementAmended(e) => C::AmendAgreement(e),
        E::CredentialsProvided(e) => C::ProvideCredentials(e),
        E::CredentialsExpired(e) => C::ExpireCredentials(e),
        E::CredentialsRevoked(e) => C::RevokeCredentials(e),
        E::CredentialsRestored(e) => C::RestoreCredentials(e),
        E::SignificantChangeNotified(e) => C::NotifySignificantChange(e),
        E::CommunicationSent(e) => C::SendCommunication(e),
        E::CommunicationAnswered(e) => C::AnswerCommunication(e),
        E::CallConnected(e) => C::ConnectCall(e),
        E::CallAnswered(e) => C::AnswerCall(e),
        E::CallRoutedToVoicemail(e) => C::RouteToVoicemail(e),
        E::CallAbandoned(e) => C::AbandonCall(e),
        E::CallCompleted(e) => C::CompleteCall(e),
        E::CallClassified(e) => C::ClassifyCall(e),
        E::DocumentationDelivered(e) => C::DeliverDocumentation(e),
        E::EscalationOpened(e) => C::OpenEscalation(e),
        E::EscalationContactAttempted(e) => C::AttemptContact(e),
        E::EscalationContactUnreachable(e) => C::MarkContactUnreachable(e),
        E::EscalationAcknowledged(e) => C::AcknowledgeEscalation(e),
        E::DigestDelivered(e) => C::DeliverDigest(e),
        E::CallSelectedForReview(e) => C::SelectCallForReview(e),
        E::ClientReviewRequested(e) => C::RequestClientReview(e),
        E::ReviewCompleted(e) => C::CompleteReview(e),
        E::QualityIssueIdentified(e) => C::IdentifyQualityIssue(e),
        E::QualityIssueAddressed(e) => C::AddressQualityIssue(e),
        E::ConductBreachIdentified(e) => C::IdentifyConductBreach(e),
        E::CorrectiveActionTaken(e) => C::TakeCorrectiveAction(e),
        E::ShiftStarted(e) => C::StartShift(e),
        E::ShiftEnded(e) => C::EndShift(e),
        E::AccountIssueIdentified(e) => C::IdentifyAccountIssue(e),
        E::ClientNotifiedOfIssue(e) => C::NotifyClientOfIssue(e),
        E::MonthlyReportDelivered(e) => C::DeliverMonthlyReport(e),
        E::QaSummaryDelivered(e) => C::DeliverQaSummary(e),
        E::QuarterlyReviewConducted(e) => C::ConductQuarterlyReview(e),
        E::ExcusedWindowOpened(e) => C::OpenExcusedWindow(e),
        E::ExcusedWindowClosed(e) => C::CloseExcusedWindow(e),
        E::SopAmendmentPublished(e) => C::PublishSopAmendment(e),
        E::LegalHoldPlaced(e) => C::PlaceLegalHold(e),
        E::LegalHoldReleased(e) => C::ReleaseLegalHold(e),
        E::ClientDataDeleted(e) => C::RecordDataDeletion(e),
        E::PaymentReceived(e) => C::ReceivePayment(e),
        E::CreditNoteIssued(e) => C::IssueCreditNote(e),
        E::PaymentDefaultNoticeSent(e) => C::SendPaymentDefaultNotice(e),
        E::ServiceSuspended(e) => C::SuspendService(e),
        E::ServiceResumed(e) => C::ResumeService(e),
        E::PriceChangeNotified(e) => C::NotifyPriceChange(e),
        E::TerminationTookEffect(e) => C::RecordTerminationEffective(e),
    }
}
