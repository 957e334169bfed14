//! `gen-corpus OUT TOTAL STEP...`: writes a seeded corpus of report-shaped HTML pages for
//! `scripts/bench-scale.sh`, one folder per step (`OUT/step-NN/outlet-K/NUMBER.html`), and
//! for each step the earlier pages it updates in place (`OUT/step-NN.list`). Reads its prose from `../shared` (or `$SHARED`).
//!
//! Steps are cumulative sizes: `gen-corpus out 100000 10000 50000 100000`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use threatdesk_testkit::corpus::{DocKind, Generator, Pool};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, total, steps @ ..] = args.as_slice() else {
        return Err("usage: gen-corpus OUT TOTAL STEP... (cumulative sizes)".into());
    };
    let out = PathBuf::from(out);
    let total: u64 = total.parse()?;
    let steps: Vec<u64> = steps.iter().map(|s| s.parse()).collect::<Result<_, _>>()?;
    let shared = PathBuf::from(std::env::var("SHARED").unwrap_or_else(|_| "../shared".to_owned()));
    let pool = Pool::from_shared(&shared).ok_or("no prose in ../shared (set SHARED)")?;
    let outlets = 4;
    // A year of reporting that ends today.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let mut generator = Generator::new(pool, 16, outlets, total, now - 365 * 86_400, 365);
    // Where each article was written, so that an update rewrites the same file.
    let mut written: std::collections::HashMap<u64, PathBuf> = std::collections::HashMap::new();
    let mut produced = 0u64;
    for (number, &until) in steps.iter().enumerate() {
        let step = out.join(format!("step-{:02}", number + 1));
        let mut list = String::new();
        for outlet in 0..outlets {
            std::fs::create_dir_all(step.join(format!("outlet-{outlet}")))?;
        }
        while produced < until.min(total) {
            let doc = generator.next_doc();
            produced += 1;
            let path = match (doc.kind, written.get(&doc.number)) {
                (DocKind::Update, Some(path)) => path.clone(),
                _ => step
                    .join(format!("outlet-{}", doc.outlet))
                    .join(format!("{:07}.html", doc.number)),
            };
            std::fs::write(&path, doc.html())?;
            if !path.starts_with(&step) {
                writeln!(list, "{}", path.display())?;
            }
            written.insert(doc.number, path);
        }
        let mut file = std::fs::File::create(out.join(format!("step-{:02}.list", number + 1)))?;
        file.write_all(list.as_bytes())?;
        eprintln!("gen-corpus: step {} written ({produced} documents)", number + 1);
    }
    Ok(())
}
