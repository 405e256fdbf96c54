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
