//! WAL checkpoints on a thread of their own.
//!
//! SQLite's writer copies the write-ahead log back into the database itself every 1,000
//! pages, and waits for two `fsync`s each time: a fifth of a bulk ingest's time on this
//! project's machines. Here a second connection does it after commits instead (a
//! `PASSIVE` checkpoint never blocks the writer, which keeps appending meanwhile), and the
//! writer's own threshold stays as the fallback should this thread fall behind.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

/// At most one checkpoint per this interval: each costs two `fsync`s, whatever it copies.
const MIN_INTERVAL: Duration = Duration::from_millis(250);

/// The writer's own checkpoint threshold (pages), used only if this thread lags behind.
pub(crate) const WRITER_FALLBACK_PAGES: u32 = 16_384;

#[derive(Default)]
struct State {
    /// Commits not yet followed by a checkpoint.
    pending: bool,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// The checkpointing thread of one database; stops when dropped, leaving what is still in
/// the log to the last connection to close (SQLite checkpoints then).
pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread; `None` if its connection cannot be opened or the thread cannot
    /// start (the writer then checkpoints as SQLite does by default).
    pub(crate) fn start(path: &Path) -> Option<Self> {
        let flags =
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = match Connection::open_with_flags(path, flags) {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "No background checkpoints; the writer checkpoints itself");
                return None;
            }
        };
        let shared = Arc::new(Shared::default());
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".to_owned())
            .spawn({
                let shared = Arc::clone(&shared);
                move || run(&conn, &shared)
            })
            .map_err(
                |error| tracing::warn!(%error, "No background checkpoints; the writer checkpoints itself"),
            )
            .ok()?;
        Some(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Tells the thread that a transaction committed.
    pub(crate) fn committed(&self) {
        let mut state = self
            .shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !state.pending {
            state.pending = true;
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(conn: &Connection, shared: &Shared) {
    let mut last = Instant::now() - MIN_INTERVAL;
    loop {
        {
            let mut state = shared
                .state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            while !state.pending && !state.stop {
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if state.stop {
                return;
            }
            state.pending = false;
        }
        let since = last.elapsed();
        if since < MIN_INTERVAL {
            std::thread::sleep(MIN_INTERVAL - since);
        }
        // (busy, log frames, frames copied); a busy or failed checkpoint is retried after
        // the next commit, and the writer's fallback threshold bounds the log meanwhile.
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get::<_, i64>(0)) {
            tracing::debug!(%error, "background checkpoint failed");
        }
        last = Instant::now();
    }
}
