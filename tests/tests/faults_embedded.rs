//! Surviving faults with nothing lost, on the embedded SQLite backend: a ledger file that
//! cannot be written (appends refused with a typed error, reads and verify unaffected, nothing
//! changed) and a disk that fills up under appends (a typed error, every acknowledged append
//! still there after a remount, and appends succeeding again once space is freed).

use std::path::{Path, PathBuf};
use std::process::Command;

use opsledger_store::{
    Direction, EventStore, ExpectedVersion, FactCheckpoint, NewEvent, PositionRange, RecordedEvent,
    SqliteStore, StoreError, VerifyReport,
};
use opsledger_tests::conformance::{events, new_event, read_everything, sid};
use serde_json::json;

/// Size of the small filesystem the disk-full test fills.
const SMALL_FS_BYTES: u64 = 8 * 1024 * 1024;
/// Size of the tmpfs used when loop devices are unavailable.
const SMALL_TMPFS: &str = "size=2m";
/// A file written before the ledger fills the disk, deleted afterwards to free space again.
const BALLAST_BYTES: usize = 512 * 1024;
/// Events per append while filling the disk.
const FILL_BATCH_EVENTS: u64 = 20;
/// Padding per event, so the disk fills in a few hundred appends.
const FILL_PADDING_BYTES: usize = 1024;
/// Appends after which a disk that never fills fails the test.
const FILL_MAX_APPENDS: u64 = 10_000;

/// Makes a file read-only for as long as it lives: `chmod` for ordinary users and, since root
/// ignores permission bits, the immutable attribute for root. The same approach as the read-only
/// case of `conformance_sqlite.rs`, repeated here because test files cannot share code.
struct ReadOnly {
    path: PathBuf,
    immutable: bool,
}

impl ReadOnly {
    fn apply(path: &Path) -> Self {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let mut guard = Self {
            path: path.to_owned(),
            immutable: false,
        };
        if guard.writable() {
            let status = Command::new("chattr").arg("+i").arg(path).status();
            guard.immutable = status.is_ok_and(|s| s.success());
        }
        assert!(
            !guard.writable(),
            "cannot make {} read-only here: neither permission bits nor `chattr +i` stop this user",
            path.display()
        );
        guard
    }

    fn writable(&self) -> bool {
        std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .is_ok()
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.immutable {
            let _ = Command::new("chattr").arg("-i").arg(&self.path).status();
        }
        let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o644));
    }
}

/// The bytes of the ledger file and of its write-ahead log (committed events may live only
/// there until a checkpoint), the log being empty when absent.
fn ledger_bytes(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    (
        std::fs::read(path).unwrap(),
        std::fs::read(PathBuf::from(wal)).unwrap_or_default(),
    )
}

fn intact_events(report: &VerifyReport) -> u64 {
    match report {
        VerifyReport::Intact { events, .. } => *events,
        broken => panic!("the chain does not verify: {broken:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_ledger_refuses_writes_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    for n in 0..6u64 {
        store
            .append(
                &sid(&format!("call-{}", n % 2)),
                ExpectedVersion::Any,
                events(2),
            )
            .await
            .unwrap();
    }
    let before = read_everything(&store).await;
    let head_before = store.head().await.unwrap();
    drop(store);
    let bytes_before = ledger_bytes(&path);

    {
        let _read_only = ReadOnly::apply(&path);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(read_everything(&store).await, before);
        assert_eq!(store.head().await.unwrap(), head_before);
        assert_eq!(
            intact_events(&store.verify(PositionRange::default()).await.unwrap()),
            12
        );
        assert_eq!(
            store
                .read_stream(&sid("call-1"), 5, Direction::Backward, 100)
                .await
                .unwrap()
                .len(),
            6
        );
        // Every kind of write is refused with the typed file error, not a driver error.
        let single = store
            .append(&sid("call-0"), ExpectedVersion::Any, events(1))
            .await;
        assert!(
            matches!(single, Err(StoreError::File { .. })),
            "append: {single:?}"
        );
        let fresh_stream = store
            .append(&sid("new-1"), ExpectedVersion::NoStream, events(3))
            .await;
        assert!(
            matches!(fresh_stream, Err(StoreError::File { .. })),
            "append to a new stream: {fresh_stream:?}"
        );
        let saved = store
            .write_facts(
                0,
                FactCheckpoint {
                    next_position: 12,
                    version: 1,
                },
                Vec::new(),
            )
            .await;
        assert!(
            matches!(saved, Err(StoreError::File { .. })),
            "write_facts: {saved:?}"
        );
        assert_eq!(read_everything(&store).await, before);
        assert_eq!(store.head().await.unwrap(), head_before);
    }

    // Writable again: the file and its write-ahead log hold exactly what they held (no refused
    // event slipped into the log, which stays writable beside an immutable file), and the
    // chain continues from the same head.
    assert!(
        ledger_bytes(&path) == bytes_before,
        "the read-only ledger changed"
    );
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(read_everything(&store).await, before);
    let next = store
        .append(&sid("call-0"), ExpectedVersion::Any, events(1))
        .await
        .unwrap();
    assert_eq!(next.positions, vec![12]);
    assert_eq!(
        intact_events(&store.verify(PositionRange::default()).await.unwrap()),
        13
    );
}

// ---------------------------------------------------------------------------------------------
// Disk full

/// A small filesystem mounted on a temporary directory for as long as it lives: an ext4 image
/// on a loop device where loop devices work, else a tmpfs with a size limit. Neither working
/// fails the test: a disk-full test that cannot fill a disk must not pass.
struct SmallFs {
    mount_point: PathBuf,
    image: Option<PathBuf>,
    _dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mount_point = dir.path().join("mnt");
        std::fs::create_dir(&mount_point).unwrap();
        let image = dir.path().join("fs.img");
        let mut failures = Vec::new();
        let made = std::fs::File::create(&image)
            .and_then(|f| f.set_len(SMALL_FS_BYTES))
            .map_err(|e| e.to_string())
            .and_then(|()| {
                // `-m 0`: no blocks reserved for root, so the disk is full for root as well.
                run(Command::new("mkfs.ext4")
                    .args(["-q", "-m", "0"])
                    .arg(&image))
            });
        let loop_mounted = made.and_then(|()| {
            run(Command::new("mount")
                .args(["-o", "loop"])
                .arg(&image)
                .arg(&mount_point))
        });
        match loop_mounted {
            Ok(()) => {
                return Self {
                    mount_point,
                    image: Some(image),
                    _dir: dir,
                }
            }
            Err(e) => failures.push(format!("loop-mounted ext4: {e}")),
        }
        match run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", SMALL_TMPFS, "tmpfs"])
            .arg(&mount_point))
        {
            Ok(()) => Self {
                mount_point,
                image: None,
                _dir: dir,
            },
            Err(e) => {
                failures.push(format!("tmpfs: {e}"));
                panic!(
                    "the disk-full test needs a small filesystem (root and loop devices, or tmpfs \
                     mounts) and could mount none: {failures:?}"
                );
            }
        }
    }

    fn path(&self) -> &Path {
        &self.mount_point
    }

    /// Unmounts and mounts the filesystem again, as after a reboot. A tmpfs would lose its
    /// content when unmounted, so it is remounted in place instead.
    fn remount(&self) {
        match &self.image {
            Some(image) => {
                run(Command::new("umount").arg(&self.mount_point)).unwrap();
                run(Command::new("mount")
                    .args(["-o", "loop"])
                    .arg(image)
                    .arg(&self.mount_point))
                .unwrap();
            }
            None => run(Command::new("mount")
                .args(["-o", &format!("remount,{SMALL_TMPFS}")])
                .arg(&self.mount_point))
            .unwrap(),
        }
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        // Lazily, so that a failed test holding files open still leaves nothing mounted.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mount_point)
            .status();
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// An event with a kilobyte of padding.
fn padded_event(n: u64) -> NewEvent {
    let mut e = new_event("fault.filled", n);
    e.data = json!({"n": n, "padding": "x".repeat(FILL_PADDING_BYTES)});
    e
}

/// Every acknowledged append is in `log` at its acknowledged positions, and nothing else is.
fn assert_exactly(log: &[RecordedEvent], acked: &[(Vec<NewEvent>, Vec<u64>)]) {
    let expected: usize = acked.iter().map(|(e, _)| e.len()).sum();
    assert_eq!(
        log.len(),
        expected,
        "the log holds more or less than was acknowledged"
    );
    for (events, positions) in acked {
        for (e, p) in events.iter().zip(positions) {
            let recorded = &log[usize::try_from(*p).unwrap()];
            assert_eq!(
                recorded.event_id, e.event_id,
                "acknowledged event lost at {p}"
            );
            assert_eq!(recorded.global_position, *p);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_appends_and_loses_nothing_acknowledged() {
    let fs = SmallFs::mount();
    let path = fs.path().join("ledger.sqlite");
    let ballast = fs.path().join("ballast");
    std::fs::write(&ballast, vec![0u8; BALLAST_BYTES]).unwrap();
    let store = SqliteStore::open(&path).unwrap();
    let stream = sid("fill-1");

    let mut acked: Vec<(Vec<NewEvent>, Vec<u64>)> = Vec::new();
    let mut n = 0u64;
    let refusal = loop {
        assert!(
            u64::try_from(acked.len()).unwrap() < FILL_MAX_APPENDS,
            "the disk never filled"
        );
        let batch: Vec<NewEvent> = (0..FILL_BATCH_EVENTS)
            .map(|k| padded_event(n + k))
            .collect();
        n += FILL_BATCH_EVENTS;
        match store
            .append(&stream, ExpectedVersion::Any, batch.clone())
            .await
        {
            Ok(outcome) => acked.push((batch, outcome.positions)),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(refusal, StoreError::File { .. }),
        "a full disk must be a File error, got {refusal:?}"
    );
    assert!(
        acked.len() > 10,
        "the disk filled too early to prove anything"
    );
    eprintln!(
        "disk full after {} acknowledged appends: {refusal}",
        acked.len()
    );

    // The handle that hit the full disk still reads, verifies and holds exactly what it said.
    let log = read_everything(&store).await;
    assert_exactly(&log, &acked);
    assert_eq!(
        intact_events(&store.verify(PositionRange::default()).await.unwrap()),
        u64::try_from(log.len()).unwrap()
    );
    // Smaller appends may still fit in what the refused one left, but each is acknowledged
    // whole or refused whole, and the disk fills again within a few of them.
    let mut after = 0u64;
    loop {
        after += 1;
        assert!(
            after <= 100,
            "single-event appends never filled the disk again"
        );
        let single = vec![padded_event(n)];
        n += 1;
        match store
            .append(&stream, ExpectedVersion::Any, single.clone())
            .await
        {
            Ok(outcome) => acked.push((single, outcome.positions)),
            Err(StoreError::File { .. }) => break,
            Err(other) => panic!("a full disk must be a File error, got {other:?}"),
        }
    }
    let log = read_everything(&store).await;
    assert_exactly(&log, &acked);
    drop(store);

    // After a remount (as after a reboot with the disk still full), the ledger opens, reads
    // and verifies, with every acknowledged append in place.
    fs.remount();
    let store = SqliteStore::open(&path).unwrap_or_else(|e| {
        panic!("the ledger of a full disk cannot be reopened after a remount: {e:?}")
    });
    let log = read_everything(&store).await;
    assert_exactly(&log, &acked);
    assert!(store
        .verify(PositionRange::default())
        .await
        .unwrap()
        .is_intact());

    // Space freed: appends succeed again and extend the same chain.
    std::fs::remove_file(&ballast).unwrap();
    let resumed = store
        .append(&stream, ExpectedVersion::Any, vec![padded_event(n)])
        .await
        .unwrap_or_else(|e| panic!("appends do not resume once space is freed: {e:?}"));
    assert_eq!(resumed.positions, vec![u64::try_from(log.len()).unwrap()]);
    assert_eq!(
        intact_events(&store.verify(PositionRange::default()).await.unwrap()),
        u64::try_from(log.len() + 1).unwrap()
    );
}
