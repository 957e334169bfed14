//! Counting the SQL work a process does, so that tests and benchmarks can see how the cost
//! of an operation grows with the stored corpus without timing anything.
//!
//! When [`enable`]d (the CLI does so when `THREATDESK_SQL_PROFILE` names a file), every
//! connection the store opens from then on reports each finished statement: how many times
//! each SQL text ran, how many virtual-machine steps it took (SQLite's
//! `SQLITE_STMTSTATUS_VM_STEP`, which grows with the rows a statement visits, triggers
//! included) and how many of those steps walked a table or index from end to end
//! (`SQLITE_STMTSTATUS_FULLSCAN_STEP`). A statement that reads a growing part of the
//! database shows up as steps per item that rise with the corpus.
//!
//! Profiling is off by default and costs nothing then: no trace callback is installed.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread::ThreadId;

use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::{Connection, StatementStatus};
use serde::Serialize;

static ENABLED: AtomicBool = AtomicBool::new(false);
static STATE: Mutex<Option<State>> = Mutex::new(None);

/// What one SQL text cost over the profiled span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatementCost {
    /// Times it ran to completion (or was reset).
    pub runs: u64,
    /// Virtual-machine steps over all its runs.
    pub vm_steps: u64,
    /// Steps spent walking a whole table or index.
    pub fullscan_steps: u64,
}

/// The SQL work done since profiling was enabled, by SQL text.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SqlProfile {
    /// Statements run, all texts together.
    pub statements: u64,
    /// Virtual-machine steps, all texts together.
    pub vm_steps: u64,
    /// Full-scan steps, all texts together.
    pub fullscan_steps: u64,
    /// Each SQL text (as prepared, parameters unexpanded) and its cost.
    pub by_sql: BTreeMap<String, StatementCost>,
}

#[derive(Default)]
struct State {
    /// Counter readings at the start of runs still in flight, by the thread running them
    /// and their SQL text. The counters are cumulative over a prepared statement's life
    /// (cached statements run many times), so a run's cost is its reading at the end minus
    /// the one at its start. SQLite reports a run's start and end on the thread that steps
    /// it; keyed by text alone, runs of one text on two connections at once (digests are
    /// computed on every core) would take each other's start readings.
    open: HashMap<(ThreadId, String), Vec<(i32, i32)>>,
    /// The reading at the end of each text's last run on each thread: the start of a run
    /// that reported no start (SQLite's own statements inside the full-text index run
    /// without one).
    last: HashMap<(ThreadId, String), (i32, i32)>,
    profile: SqlProfile,
}

fn state() -> MutexGuard<'static, Option<State>> {
    // A panic while the lock was held leaves counts that are merely incomplete.
    STATE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts counting: connections opened from now on report their statements.
pub fn enable() {
    let mut state = state();
    if state.is_none() {
        *state = Some(State::default());
    }
    ENABLED.store(true, Ordering::SeqCst);
}

/// Whether [`enable`] was called in this process.
pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::SeqCst)
}

/// The counts so far (empty when profiling is off).
pub fn snapshot() -> SqlProfile {
    state().as_ref().map(|s| s.profile.clone()).unwrap_or_default()
}

/// Installs the trace callback on a new connection when profiling is on.
pub(crate) fn attach(conn: &Connection) {
    if is_enabled() {
        conn.trace_v2(
            TraceEventCodes::SQLITE_TRACE_STMT | TraceEventCodes::SQLITE_TRACE_PROFILE,
            Some(on_trace),
        );
    }
}

fn on_trace(event: TraceEvent<'_>) {
    match event {
        // A trigger's subprogram starting reports its own text, as a comment; its steps
        // are counted in the statement that fired it.
        TraceEvent::Stmt(_, text) if text.starts_with("--") => {}
        TraceEvent::Stmt(stmt, _) => {
            let reading = (
                stmt.get_status(StatementStatus::VmStep),
                stmt.get_status(StatementStatus::FullscanStep),
            );
            if let Some(state) = state().as_mut() {
                state
                    .open
                    .entry((std::thread::current().id(), stmt.sql().into_owned()))
                    .or_default()
                    .push(reading);
            }
        }
        TraceEvent::Profile(stmt, _) => {
            let sql = stmt.sql().into_owned();
            let key = (std::thread::current().id(), sql.clone());
            let (steps, scans) = (
                stmt.get_status(StatementStatus::VmStep),
                stmt.get_status(StatementStatus::FullscanStep),
            );
            let mut guard = state();
            let Some(state) = guard.as_mut() else { return };
            let last = state.last.insert(key.clone(), (steps, scans));
            let (steps_at_start, scans_at_start) = state
                .open
                .get_mut(&key)
                .and_then(Vec::pop)
                .or(last)
                // A lower reading than the last one is a new statement with the same text.
                .filter(|&(s, f)| s <= steps && f <= scans)
                .unwrap_or((0, 0));
            let steps = u64::try_from(steps.saturating_sub(steps_at_start)).unwrap_or(0);
            let scans = u64::try_from(scans.saturating_sub(scans_at_start)).unwrap_or(0);
            let profile = &mut state.profile;
            profile.statements += 1;
            profile.vm_steps += steps;
            profile.fullscan_steps += scans;
            let cost = profile.by_sql.entry(sql).or_default();
            cost.runs += 1;
            cost.vm_steps += steps;
            cost.fullscan_steps += scans;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use rusqlite::Connection;

    use super::*;

    /// A text no other test runs, so that its counts are this test's alone.
    const SQL: &str = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 200) \
                       SELECT x FROM n -- two threads at once";

    fn connection() -> Connection {
        let conn = Connection::open_in_memory().expect("in-memory database");
        attach(&conn);
        conn
    }

    fn run_to_end(conn: &Connection) -> i32 {
        let mut stmt = conn.prepare_cached(SQL).expect("prepare");
        let before = stmt.get_status(StatementStatus::VmStep);
        let rows = stmt.query_map([], |row| row.get::<_, i64>(0)).expect("query");
        assert_eq!(rows.count(), 200);
        stmt.get_status(StatementStatus::VmStep) - before
    }

    /// One of two runs on two threads: the first starts, then the second; the first ends,
    /// then the second.
    fn overlapping_run(conn: &Connection, order: &Barrier, starts_first: bool) {
        if !starts_first {
            order.wait();
        }
        let mut stmt = conn.prepare_cached(SQL).expect("prepare");
        let mut rows = stmt.query([]).expect("query");
        rows.next().expect("first row");
        if starts_first {
            order.wait();
        }
        order.wait();
        if !starts_first {
            order.wait();
        }
        while rows.next().expect("row").is_some() {}
        drop(rows);
        if starts_first {
            order.wait();
        }
    }

    #[test]
    fn runs_of_one_text_on_two_threads_at_once_keep_their_own_start_readings() {
        enable();
        let steps_per_run =
            u64::try_from(run_to_end(&Connection::open_in_memory().expect("db"))).expect("positive steps");
        // One connection has run the text before (its statement's counters are high), the
        // other has not; their runs overlap, and the first to start ends first.
        let order = Barrier::new(2);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let conn = connection();
                for _ in 0..5 {
                    run_to_end(&conn);
                }
                overlapping_run(&conn, &order, true);
            });
            scope.spawn(|| overlapping_run(&connection(), &order, false));
        });
        let cost = snapshot()
            .by_sql
            .get(SQL)
            .copied()
            .expect("the text was profiled");
        assert_eq!(cost.runs, 7);
        assert_eq!(
            cost.vm_steps,
            7 * steps_per_run,
            "{cost:?}, {steps_per_run} steps per run"
        );
    }
}
