//! The load's checks, decided while the log is paged through once: each entry is judged
//! against the writers' acknowledged positions (an id says whose event it is and its index),
//! a bit per sent event for duplicates, the onboarding ids and the subscriber's digest, so the
//! checks hold a few bits per event, never the log.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use opsledger_app::store::{EventStore, VerifyReport};
use uuid::Uuid;

use super::followers::{ProjectionReport, SubscriberReport};
use super::writers::{writer_event_id, writer_of, WriterReport};
use super::{minutes, with_retries, READ_PAGE};
use crate::error::ToolResult;

/// A running digest of a (position, event id) sequence: two sequences with the same count and
/// digest hold the same events at the same positions, without anyone keeping the ids.
#[derive(Debug, Clone, Default)]
pub(super) struct LogDigest {
    hasher: blake3::Hasher,
    events: u64,
}

impl LogDigest {
    pub(super) fn push(&mut self, position: u64, id: Uuid) {
        self.hasher.update(&position.to_le_bytes());
        self.hasher.update(id.as_bytes());
        self.events += 1;
    }

    /// How many entries went in.
    pub(super) fn events(&self) -> u64 {
        self.events
    }

    fn hash(&self) -> blake3::Hash {
        self.hasher.finalize()
    }
}

impl PartialEq for LogDigest {
    fn eq(&self, other: &Self) -> bool {
        self.events == other.events && self.hash() == other.hash()
    }
}

/// One bit per index, grown as indexes come.
#[derive(Debug, Default)]
struct Bitset {
    words: Vec<u64>,
}

impl Bitset {
    /// Sets bit `i`; false when it was set already.
    fn insert(&mut self, i: u64) -> bool {
        let word = usize::try_from(i / 64).expect("an index below a writer's event count");
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let bit = 1u64 << (i % 64);
        let fresh = self.words[word] & bit == 0;
        self.words[word] |= bit;
        fresh
    }

    fn contains(&self, i: u64) -> bool {
        usize::try_from(i / 64)
            .ok()
            .and_then(|word| self.words.get(word))
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }
}

/// One check's verdict.
#[derive(Debug)]
pub(super) struct Check {
    pub(super) what: &'static str,
    pub(super) problem: Option<String>,
}

impl Check {
    pub(super) fn new(what: &'static str, problem: Option<String>) -> Self {
        Self { what, problem }
    }
}

/// How many misplaced events a failed check names.
const MISPLACED_NAMED: usize = 3;

/// The log's checks, fed the log entry by entry in the order it is read.
#[derive(Debug)]
pub(super) struct LogChecker<'a> {
    writers: &'a [WriterReport],
    onboarding: &'a HashSet<Uuid>,
    /// Per writer, the indexes of its events seen in the log so far.
    seen: Vec<Bitset>,
    onboarding_seen: HashSet<Uuid>,
    /// Ids no writer sent, kept to count their duplicates too; a passing run has none.
    unexpected_seen: HashSet<Uuid>,
    digest: LogDigest,
    gap: Option<String>,
    doubled: u64,
    unexpected: u64,
    misplaced: Vec<String>,
    misplaced_count: u64,
}

impl<'a> LogChecker<'a> {
    pub(super) fn new(writers: &'a [WriterReport], onboarding: &'a HashSet<Uuid>) -> Self {
        Self {
            writers,
            onboarding,
            seen: writers.iter().map(|_| Bitset::default()).collect(),
            onboarding_seen: HashSet::new(),
            unexpected_seen: HashSet::new(),
            digest: LogDigest::default(),
            gap: None,
            doubled: 0,
            unexpected: 0,
            misplaced: Vec::new(),
            misplaced_count: 0,
        }
    }

    /// Entries taken in so far: the log's next position when it is gap-free.
    pub(super) fn entries(&self) -> u64 {
        self.digest.events()
    }

    fn misplaced(&mut self, id: Uuid, acked: u64, found: Option<u64>) {
        self.misplaced_count += 1;
        if self.misplaced.len() < MISPLACED_NAMED {
            self.misplaced
                .push(format!("{id} acknowledged at {acked}, found at {found:?}"));
        }
    }

    /// Takes in the next entry of the log.
    pub(super) fn observe(&mut self, position: u64, id: Uuid) {
        let expected = self.entries();
        if position != expected && self.gap.is_none() {
            self.gap = Some(format!("position {expected} is followed by {position}"));
        }
        self.digest.push(position, id);
        let writer = writer_of(id, self.writers.len())
            .filter(|&(w, i)| !self.onboarding.contains(&id) && i < self.writers[w].sent());
        if let Some((w, i)) = writer {
            if !self.seen[w].insert(i) {
                self.doubled += 1;
            }
            let acked = usize::try_from(i)
                .ok()
                .and_then(|i| self.writers[w].positions.get(i).copied());
            if let Some(acked) = acked.filter(|&acked| acked != position) {
                self.misplaced(id, acked, Some(position));
            }
        } else if self.onboarding.contains(&id) {
            if !self.onboarding_seen.insert(id) {
                self.doubled += 1;
            }
        } else {
            self.unexpected += 1;
            if !self.unexpected_seen.insert(id) {
                self.doubled += 1;
            }
        }
    }

    /// The verdicts, once the whole log has been taken in.
    pub(super) fn finish(mut self, run: &RunOutcome<'_>) -> Vec<Check> {
        // Acknowledged events the log never showed.
        let writers = self.writers;
        for (w, writer) in writers.iter().enumerate() {
            for (i, &acked) in (0u64..).zip(&writer.positions) {
                if !self.seen[w].contains(i) {
                    let id = writer_event_id(u64::try_from(w).unwrap_or(u64::MAX), i);
                    self.misplaced(id, acked, None);
                }
            }
        }
        let log_next = self.entries();
        let misplaced = (self.misplaced_count > 0).then(|| {
            let named = u64::try_from(self.misplaced.len()).unwrap_or(0);
            let more = match self.misplaced_count - named {
                0 => String::new(),
                more => format!(" (and {more} more)"),
            };
            format!("{}{more}", self.misplaced.join("; "))
        });
        let chain = match run.verify {
            VerifyReport::Intact { events, .. } if *events == log_next => None,
            VerifyReport::Intact { events, .. } => {
                Some(format!("verified {events} events of {log_next}"))
            }
            broken => Some(format!("{broken:?}")),
        };
        let mut seen = run.subscribed.disorder.clone();
        if seen.is_none() && run.subscribed.delivered != self.digest {
            seen = Some(format!(
                "delivered {} events, the log holds {log_next}; the (position, id) sequences differ",
                run.subscribed.delivered.events(),
            ));
        }
        // The rows are what reports read, so the check asks the store, not the follower.
        let reached = run.stored_checkpoint.unwrap_or(0);
        let projection = (reached != log_next).then(|| {
            let why = run
                .projected
                .last_failure
                .as_ref()
                .map(|f| format!(" (last failure: {f})"))
                .unwrap_or_default();
            format!("stored checkpoint {reached} of {log_next}{why}")
        });
        vec![
            Check::new("positions are gap-free from 0", self.gap.take()),
            Check::new(
                "no event id recorded twice",
                (self.doubled > 0).then(|| format!("{} duplicate event ids", self.doubled)),
            ),
            Check::new(
                "every acknowledged event is in the log at its acknowledged position",
                misplaced,
            ),
            Check::new(
                "nothing was recorded that no writer sent",
                (self.unexpected > 0).then(|| format!("{} events no writer sent", self.unexpected)),
            ),
            Check::new("the hash chain verifies", chain),
            Check::new(
                "the subscriber saw every event exactly once, in order",
                seen,
            ),
            Check::new("the projection reached the head", projection),
            Check::new(
                "no event was appended after the run",
                (run.final_next != log_next).then(|| {
                    format!(
                        "head was {} after the run, {log_next} at the checks",
                        run.final_next
                    )
                }),
            ),
        ]
    }
}

/// The long mode's check that the throughput held up.
pub(super) fn steadiness(s: minutes::Steadiness) -> Check {
    Check::new(
        "throughput of the last minutes within 15 % of the first",
        (!s.holds()).then(|| {
            format!(
                "{:.0} events/s in the first {w} minutes, {:.0} in the last {w} ({:+.1} %)",
                s.first_per_sec,
                s.last_per_sec,
                s.change_percent,
                w = minutes::STEADY_WINDOW_MINUTES
            )
        }),
    )
}

/// What the checks need to know of the run besides the log.
#[derive(Debug)]
pub(super) struct RunOutcome<'a> {
    /// The head's next position when the writers were done.
    pub(super) final_next: u64,
    pub(super) verify: &'a VerifyReport,
    pub(super) subscribed: &'a SubscriberReport,
    pub(super) projected: &'a ProjectionReport,
    /// The read model's stored checkpoint (next position) after the followers stopped.
    pub(super) stored_checkpoint: Option<u64>,
}

/// Pages through the whole log once, feeding `checker` every entry.
pub(super) async fn read_log(
    store: &Arc<dyn EventStore>,
    until: Instant,
    checker: &mut LogChecker<'_>,
) -> ToolResult<()> {
    let mut from = 0u64;
    loop {
        let page = with_retries(until, || store.read_all(from, READ_PAGE)).await?;
        let Some(last) = page.last() else { break };
        from = last.global_position.saturating_add(1);
        for event in &page {
            checker.observe(event.global_position, event.event_id);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two onboarding events, then writers 0 and 1 taking turns for three events each.
    struct Fixture {
        onboarding: HashSet<Uuid>,
        writers: Vec<WriterReport>,
        log: Vec<(u64, Uuid)>,
    }

    fn fixture() -> Fixture {
        let onboarding_ids = [
            Uuid::from_u64_pair(u64::MAX, 0),
            Uuid::from_u64_pair(u64::MAX, 1),
        ];
        let mut log: Vec<(u64, Uuid)> = onboarding_ids
            .iter()
            .copied()
            .zip(0u64..)
            .map(|(id, p)| (p, id))
            .collect();
        let mut writers = vec![WriterReport::new(), WriterReport::new()];
        for i in 0..3u64 {
            for (w, writer) in (0u64..).zip(writers.iter_mut()) {
                let position = u64::try_from(log.len()).unwrap();
                writer.positions.push(position);
                log.push((position, writer_event_id(w, i)));
            }
        }
        Fixture {
            onboarding: onboarding_ids.into_iter().collect(),
            writers,
            log,
        }
    }

    fn subscriber_of(log: &[(u64, Uuid)]) -> SubscriberReport {
        let mut report = SubscriberReport::default();
        for &(position, id) in log {
            report.record_delivery(position, id);
        }
        report
    }

    fn intact(events: u64) -> VerifyReport {
        VerifyReport::Intact {
            events,
            first_position: Some(0),
            head: None,
        }
    }

    /// The checks of `log` for a run whose subscriber saw `delivered`, whose head and stored
    /// checkpoint are the log's length.
    fn checks_of(f: &Fixture, log: &[(u64, Uuid)], delivered: &[(u64, Uuid)]) -> Vec<Check> {
        let next = u64::try_from(log.len()).unwrap();
        let mut checker = LogChecker::new(&f.writers, &f.onboarding);
        for &(position, id) in log {
            checker.observe(position, id);
        }
        checker.finish(&RunOutcome {
            final_next: next,
            verify: &intact(next),
            subscribed: &subscriber_of(delivered),
            projected: &ProjectionReport::default(),
            stored_checkpoint: Some(next),
        })
    }

    /// The checks that failed, by name.
    fn failed(checks: &[Check]) -> Vec<&'static str> {
        checks
            .iter()
            .filter(|c| c.problem.is_some())
            .map(|c| c.what)
            .collect()
    }

    fn problem<'c>(checks: &'c [Check], what: &str) -> &'c str {
        checks
            .iter()
            .find(|c| c.what == what)
            .and_then(|c| c.problem.as_deref())
            .unwrap_or_else(|| panic!("{what} should have failed"))
    }

    #[test]
    fn a_faithful_log_passes_every_check() {
        let f = fixture();
        let checks = checks_of(&f, &f.log, &f.log);
        assert_eq!(checks.len(), 8);
        assert_eq!(failed(&checks), Vec::<&str>::new());
    }

    #[test]
    fn a_gap_fails_the_gap_check() {
        let f = fixture();
        let mut log = f.log.clone();
        // Position 4 is missing: every later entry keeps its position.
        log.remove(4);
        let checks = checks_of(&f, &log, &log);
        assert_eq!(
            problem(&checks, "positions are gap-free from 0"),
            "position 4 is followed by 5"
        );
        // The event that was at 4 was acknowledged there and is gone.
        assert!(problem(
            &checks,
            "every acknowledged event is in the log at its acknowledged position"
        )
        .contains("found at None"));
    }

    #[test]
    fn a_duplicate_id_fails_the_duplicate_check() {
        let f = fixture();
        let mut log = f.log.clone();
        let (_, again) = log[3];
        log.push((8, again));
        let checks = checks_of(&f, &log, &log);
        assert_eq!(
            problem(&checks, "no event id recorded twice"),
            "1 duplicate event ids"
        );
    }

    #[test]
    fn a_duplicate_of_an_id_no_writer_sent_counts_as_both() {
        let f = fixture();
        let mut log = f.log.clone();
        let stranger = Uuid::from_u64_pair(7, 7);
        log.push((8, stranger));
        log.push((9, stranger));
        let checks = checks_of(&f, &log, &log);
        assert_eq!(
            problem(&checks, "no event id recorded twice"),
            "1 duplicate event ids"
        );
        assert_eq!(
            problem(&checks, "nothing was recorded that no writer sent"),
            "2 events no writer sent"
        );
    }

    #[test]
    fn an_id_no_writer_sent_fails_the_unexpected_check() {
        let f = fixture();
        for stranger in [
            Uuid::from_u64_pair(42, 0),
            // Writer 0's next index: it neither acknowledged nor gave up on it.
            writer_event_id(0, 3),
            // A writer beyond the run's two.
            writer_event_id(2, 0),
        ] {
            let mut log = f.log.clone();
            log.push((8, stranger));
            let checks = checks_of(&f, &log, &log);
            assert_eq!(
                failed(&checks),
                vec!["nothing was recorded that no writer sent"],
                "{stranger}"
            );
        }
    }

    #[test]
    fn an_abandoned_event_may_be_in_the_log_or_not() {
        let mut f = fixture();
        f.writers[1].abandoned = true;
        let checks = checks_of(&f, &f.log, &f.log);
        assert_eq!(failed(&checks), Vec::<&str>::new());
        let mut log = f.log.clone();
        log.push((8, writer_event_id(1, 3)));
        let checks = checks_of(&f, &log, &log);
        assert_eq!(failed(&checks), Vec::<&str>::new());
    }

    #[test]
    fn a_misplaced_acknowledged_event_fails_the_position_check() {
        let f = fixture();
        let mut log = f.log.clone();
        // Swap the ids at positions 2 and 3: gap-free, no duplicates, but both misplaced.
        let (a, b) = (log[2].1, log[3].1);
        log[2].1 = b;
        log[3].1 = a;
        let checks = checks_of(&f, &log, &log);
        assert_eq!(
            failed(&checks),
            vec!["every acknowledged event is in the log at its acknowledged position"]
        );
        assert_eq!(
            problem(
                &checks,
                "every acknowledged event is in the log at its acknowledged position"
            ),
            format!(
                "{b} acknowledged at 3, found at Some(2); {a} acknowledged at 2, found at Some(3)"
            )
        );
    }

    #[test]
    fn a_subscriber_that_saw_other_events_fails_its_check() {
        let f = fixture();
        // The same positions with one id changed: only the digest can tell.
        let mut other = f.log.clone();
        other[5].1 = Uuid::from_u64_pair(9, 9);
        let checks = checks_of(&f, &f.log, &other);
        assert_eq!(
            failed(&checks),
            vec!["the subscriber saw every event exactly once, in order"]
        );
        // One event short.
        let checks = checks_of(&f, &f.log, &f.log[..7]);
        assert!(problem(
            &checks,
            "the subscriber saw every event exactly once, in order"
        )
        .starts_with("delivered 7 events, the log holds 8"));
        // Out of order: named by the position where it went wrong.
        let mut swapped = f.log.clone();
        swapped.swap(2, 3);
        let checks = checks_of(&f, &f.log, &swapped);
        assert_eq!(
            problem(
                &checks,
                "the subscriber saw every event exactly once, in order"
            ),
            "expected position 2, got 3"
        );
    }

    #[test]
    fn a_short_stored_checkpoint_fails_the_projection_check() {
        let f = fixture();
        let mut checker = LogChecker::new(&f.writers, &f.onboarding);
        for &(position, id) in &f.log {
            checker.observe(position, id);
        }
        let projected = ProjectionReport {
            errors: 1,
            last_failure: Some("connection lost".to_owned()),
        };
        let checks = checker.finish(&RunOutcome {
            final_next: 8,
            verify: &intact(8),
            subscribed: &subscriber_of(&f.log),
            projected: &projected,
            stored_checkpoint: Some(6),
        });
        assert_eq!(failed(&checks), vec!["the projection reached the head"]);
        assert_eq!(
            problem(&checks, "the projection reached the head"),
            "stored checkpoint 6 of 8 (last failure: connection lost)"
        );
    }

    #[test]
    fn a_chain_short_of_the_log_or_a_later_head_fails_their_checks() {
        let f = fixture();
        let mut checker = LogChecker::new(&f.writers, &f.onboarding);
        for &(position, id) in &f.log {
            checker.observe(position, id);
        }
        let checks = checker.finish(&RunOutcome {
            final_next: 7,
            verify: &intact(7),
            subscribed: &subscriber_of(&f.log),
            projected: &ProjectionReport::default(),
            stored_checkpoint: Some(8),
        });
        assert_eq!(
            failed(&checks),
            vec![
                "the hash chain verifies",
                "no event was appended after the run"
            ]
        );
    }

    #[test]
    fn a_digest_depends_on_positions_ids_and_order() {
        let (a, b) = (Uuid::from_u64_pair(1, 1), Uuid::from_u64_pair(1, 2));
        let digest = |entries: &[(u64, Uuid)]| {
            let mut d = LogDigest::default();
            for &(p, id) in entries {
                d.push(p, id);
            }
            d
        };
        assert_eq!(digest(&[(0, a), (1, b)]), digest(&[(0, a), (1, b)]));
        assert_ne!(digest(&[(0, a), (1, b)]), digest(&[(0, b), (1, a)]));
        assert_ne!(digest(&[(0, a), (1, b)]), digest(&[(0, a), (2, b)]));
        assert_ne!(digest(&[(0, a)]), digest(&[(0, a), (1, b)]));
    }

    #[test]
    fn a_bitset_tells_first_sightings_from_repeats() {
        let mut bits = Bitset::default();
        assert!(bits.insert(130));
        assert!(!bits.insert(130));
        assert!(bits.contains(130));
        assert!(!bits.contains(129) && !bits.contains(1_000_000));
        assert!(bits.insert(0) && bits.contains(0));
    }
}
