//! Black-box tests of the `threatdesk` binary: real processes, real files, real databases.

// Test helpers are documented where their use is not obvious.
#![allow(missing_docs)]

mod article;
mod browser;
mod bulletin;
mod channels;
mod collect;
mod config;
mod crash;
mod extract;
mod ingest;
mod kb;
mod newsletter;
mod public_cache;
mod read;
mod serve;
mod slope;
mod stories;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// A scratch folder with a data folder inside, and a way to run the binary against it.
pub struct Workspace {
    pub dir: TempDir,
}

impl Workspace {
    pub fn create() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes a file under the scratch folder, creating parents.
    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, bytes).expect("write");
        path
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_threatdesk"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("THREATDESK_DATA_DIR", self.data_dir())
            .env_remove("THREATDESK_FORMAT")
            .env_remove("THREATDESK_LOG")
            // Collection against the loopback test server: no politeness delay, quick retries.
            .env("THREATDESK_HTTP__PER_HOST_DELAY_SECS", "0")
            .env("THREATDESK_HTTP__RETRY_BASE_SECS", "0.01")
            .env("THREATDESK_HTTP__MAX_RETRIES", "1");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("spawn threatdesk"))
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn threatdesk");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin)
            .expect("feed stdin");
        Run::from(child.wait_with_output().expect("wait"))
    }

    /// Runs with `--format json` and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {run:?}"))
    }
}

/// The result of one run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The yardstick reports shipped in `../shared`, when present (CI has them).
pub fn annoctr_train() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/ner/annoctr/text/train");
    path.is_dir().then_some(path)
}

/// The prose pool of the seeded report generator, from `../shared` when present (CI has it);
/// `None`, with a note, when it is not there and the calling test skips.
pub fn corpus_pool() -> Option<threatdesk_testkit::corpus::Pool> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    let pool = threatdesk_testkit::corpus::Pool::from_shared(&shared);
    if pool.is_none() {
        eprintln!("skipped: ../shared is not beside the checkout");
    }
    pool
}

/// Writes the generator's next `count` documents as pages under `dir`, one folder per outlet,
/// numbered from `offset`.
pub fn write_generated_pages(
    generator: &mut threatdesk_testkit::corpus::Generator,
    dir: &Path,
    count: u64,
    offset: u64,
) {
    for index in 0..count {
        let doc = generator.next_doc();
        let path = dir
            .join(format!("outlet-{}", doc.outlet))
            .join(format!("{:07}.html", offset + index));
        std::fs::create_dir_all(path.parent().expect("page folder")).expect("mkdir");
        std::fs::write(&path, doc.html()).expect("write page");
    }
}

/// The Python of `target/py-tools` (scripts/get-py-tools.sh) when it can import `module`.
/// Without it the calling test skips its outside check, unless `REQUIRE_PY_TOOLS` is set
/// (as in CI), when the absence fails the test.
pub fn py_tools(module: &str) -> Option<PathBuf> {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/py-tools/bin/python");
    let importable = python.exists()
        && Command::new(&python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success());
    if importable {
        return Some(python);
    }
    assert!(
        std::env::var_os("REQUIRE_PY_TOOLS").is_none(),
        "REQUIRE_PY_TOOLS is set but {} cannot import {module} (scripts/get-py-tools.sh)",
        python.display()
    );
    eprintln!("skipped: no {module} in target/py-tools (scripts/get-py-tools.sh)");
    None
}

/// Creates a bulletin with `title`, `tlp` and the further `bulletin create` arguments, and
/// publishes it when asked (through review, as `bulletin publish` does); its id.
pub fn create_bulletin(ws: &Workspace, title: &str, tlp: &str, more: &[&str], publish: bool) -> i64 {
    let mut args = vec!["bulletin", "create", "--title", title, "--tlp", tlp];
    args.extend_from_slice(more);
    let id = ws.json(&args)["id"].as_i64().expect("the new bulletin's id");
    if publish {
        let run = ws.run(&["bulletin", "publish", &id.to_string()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    id
}
