//! `molt deploy` wall time for BENCHMARKS.md: the real binary against the fake Cloudflare API
//! (and its Telegram endpoints) on loopback, without wrangler: a first deploy that creates
//! everything, and a re-run that finds everything done.
//! Run: `cargo bench --bench deploy` (prints a Markdown table).

#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "measure/mod.rs"]
mod measure;

use measure::percentile;
use std::time::Instant;

use support::fake_cloudflare::{ACCOUNT, FakeCloudflare, TOKEN};
use support::process::molt;

const RUNS: usize = 20;

fn run(home: &std::path::Path, fake: &FakeCloudflare, args: &[&str]) -> f64 {
    let started = Instant::now();
    let output = molt()
        .current_dir(home)
        .args(args)
        .env("CLOUDFLARE_API_BASE_URL", fake.base_url())
        .env("MOLT_TELEGRAM_API_URL", fake.telegram_url())
        .env("MOLT_CONFIG_DIR", home.join("config"))
        .env("MOLT_SECRET_STORE", "file")
        .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
        .env("CLOUDFLARE_API_TOKEN", TOKEN)
        .env("ANTHROPIC_API_KEY", "sk-ant-bench")
        .env("TELEGRAM_BOT_TOKEN", "123456:bench-token")
        .output()
        .expect("run molt");
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    elapsed
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (mut first, mut again) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let fake = runtime.block_on(FakeCloudflare::start());
        fake.add_script("molt");
        let home = tempfile::tempdir().expect("temp dir");
        let init = [
            "init",
            "--non-interactive",
            "--dir",
            "deploy",
            "--channels",
            "telegram",
            "--access-team-domain",
            "ada.cloudflareaccess.com",
            "--access-emails",
            "ada@example.com",
        ];
        run(home.path(), &fake, &init);
        let deploy = ["deploy", "--skip-wrangler", "--dir", "deploy"];
        first.push(run(home.path(), &fake, &deploy));
        again.push(run(home.path(), &fake, &deploy));
    }
    for samples in [&mut first, &mut again] {
        samples.sort_by(f64::total_cmp);
    }
    println!("| figure | median | p90 |");
    println!("|---|---|---|");
    println!(
        "| `molt deploy`, first run: 20 Cloudflare API calls + 1 Telegram (of {RUNS}) | {:.1} ms | {:.1} ms |",
        percentile(&first, 0.5),
        percentile(&first, 0.9)
    );
    println!(
        "| `molt deploy`, re-run, nothing to change (of {RUNS}) | {:.1} ms | {:.1} ms |",
        percentile(&again, 0.5),
        percentile(&again, 0.9)
    );
}
