//! `banter-local`'s own arguments: help is an answer, a wrong argument a usage error (exit 2),
//! neither an error report with a backtrace.

use std::process::Command;

fn banter_local(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_banter-local"))
        .args(args)
        // As a developer's shell may set it: a usage error still shows no backtrace.
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("banter-local runs")
}

#[test]
fn help_prints_the_usage_and_succeeds() {
    for flag in ["--help", "-h", "help"] {
        let out = banter_local(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with("usage: banter-local [serve]"),
            "{flag}: {stdout}"
        );
    }
}

#[test]
fn an_unknown_argument_is_a_usage_error_without_a_backtrace() {
    for args in [
        &["--serve"][..],
        &["postgres", "start"],
        &["clamd", "restart", "/tmp/x"],
    ] {
        let out = banter_local(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("usage: banter-local"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("backtrace"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// A start that fails part way (here: its port is taken, found after PostgreSQL and `clamd` are
/// up) stops the servers it started, so no PostgreSQL is left holding its port and its files.
#[test]
fn a_start_that_fails_stops_the_servers_it_started() {
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let pg_port = free_port();
    let data_dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_banter-local"))
        .env(
            "BANTER_PORT",
            taken.local_addr().unwrap().port().to_string(),
        )
        .env("BANTER_PG_PORT", pg_port.to_string())
        .env("BANTER_DATA_DIR", data_dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("CLAMD_SOCKET")
        .env("RUST_LOG", "info")
        .output()
        .expect("banter-local runs");
    let (log, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "{stderr}");
    assert!(log.contains("private PostgreSQL is up"), "{log}");
    assert!(
        stderr.contains(&format!(
            "binding 127.0.0.1:{}",
            taken.local_addr().unwrap().port()
        )),
        "{stderr}"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", pg_port)).is_err(),
        "PostgreSQL still listens on {pg_port}"
    );
    let cluster = data_dir.path().join("postgres/cluster");
    assert!(cluster.join("PG_VERSION").exists(), "the cluster was made");
    assert!(
        !cluster.join("postmaster.pid").exists(),
        "its postmaster still runs"
    );
    let clamd_socket = data_dir.path().join("clamd/clamd.sock");
    assert!(
        std::os::unix::net::UnixStream::connect(&clamd_socket).is_err(),
        "clamd still answers on {}",
        clamd_socket.display()
    );
}
