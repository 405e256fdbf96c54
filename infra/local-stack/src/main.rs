//! `banter-local`: run the local stack (`banter-local`, Ctrl-C or SIGTERM stops it and its private
//! PostgreSQL), or manage a private PostgreSQL for tests
//! (`banter-local postgres start|stop <data-dir> <port>`) or a private ClamAV daemon with test
//! signatures (`banter-local clamd start|stop <dir>`; `start` prints its socket).

use anyhow::Result;
use banter_local::postgres::PrivatePostgres;
use banter_local::StackConfig;

/// jemalloc, not glibc's malloc: malloc and free were a sixth of the stack's CPU profile. In
/// `banter-bench`'s 1:1 run at 1,000 msg/s the stack spent 0.245-0.256 ms of CPU per delivered
/// message instead of 0.287-0.299; an idle WebSocket connection took 14 KB instead of 19 (1,000
/// connections), and 5 s after the burst of 1,000 logins the stack held 46 MiB instead of 54.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, which it reads when it starts (before `main`): a background thread gives
/// freed pages back to the OS within a second, so memory returns to its baseline after a burst.
/// (mimalloc saved as much CPU, but set from `main` its options came too late: it held what a
/// burst took.)
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

#[tokio::main]
async fn main() -> Result<()> {
    banter_lambda::logging::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => serve().await,
        ["postgres", action @ ("start" | "stop"), dir, port] => {
            let pg = PrivatePostgres::new(std::path::Path::new(dir), port.parse()?).await?;
            if *action == "start" {
                pg.start().await?;
                println!("{}", pg.admin_url());
            } else {
                pg.stop().await?;
            }
            Ok(())
        }
        ["clamd", "start", dir] => {
            let (socket, _) = banter_local::clamd::start(std::path::Path::new(dir), false).await?;
            println!("{}", socket.display());
            Ok(())
        }
        ["clamd", "stop", dir] => banter_local::clamd::stop(std::path::Path::new(dir)),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            // A usage error is the caller's, not a failure to report with a backtrace.
            eprintln!("{USAGE}");
            std::process::exit(2)
        }
    }
}

const USAGE: &str =
    "usage: banter-local [serve] | banter-local postgres start|stop <data-dir> <port> \
                     | banter-local clamd start|stop <dir>";

async fn serve() -> Result<()> {
    // Each WebSocket connection is a file: the soft limit (often 1,024) would refuse
    // connections long before the hard one.
    let open_files = rlimit::increase_nofile_limit(u64::MAX)?;
    tracing::info!(open_files, "open-file limit");
    banter_local::debian::ensure_media_tools().await;
    let stack = banter_local::start(StackConfig::from_env()?).await?;
    let base = stack.base_url();
    tracing::info!("Banter local stack ready");
    tracing::info!("  REST        {base}/api   (try {base}/api/health)");
    tracing::info!("  WebSocket   ws://{}/ws?token=<accessToken>", stack.addr);
    tracing::info!("  @connections {base}/@connections/{{id}}");
    tracing::info!("  outbox      {base}/local/outbox");
    // Ctrl-C, or a SIGTERM from a process manager: either way the private PostgreSQL stops too.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    tracing::info!("stopping");
    stack.stop().await?;
    tracing::info!("stopped");
    Ok(())
}
