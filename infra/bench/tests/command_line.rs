//! `banter-bench`'s own arguments: help is an answer, a wrong flag or value a usage error
//! (exit 2) that starts nothing, neither an error report with a backtrace.

use std::process::Command;

/// Were a wrong flag to start a run, it would fail at once instead of starting a stack.
const NO_STACK: [&str; 2] = ["--stack-bin", "/nonexistent/banter-local"];

fn banter_bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_banter-bench"))
        .args(args)
        // As a developer's shell may set it: a usage error still shows no backtrace.
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("banter-bench runs")
}

#[test]
fn help_prints_the_usage_and_succeeds() {
    for flag in ["--help", "-h", "help"] {
        let out = banter_bench(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with("usage: banter-bench"),
            "{flag}: {stdout}"
        );
        assert!(stdout.contains("--saturation"), "{flag}: {stdout}");
    }
}

#[test]
fn a_wrong_flag_or_value_is_a_usage_error_without_a_backtrace() {
    for (args, says) in [
        (&["--conections", "10"][..], "unknown flag \"--conections\""),
        (&["--rate"], "--rate needs a value"),
        (
            &["--rate", "fast"],
            "--rate takes a whole number above 0, not \"fast\"",
        ),
        (&["--rate", "0"], "--rate takes a whole number above 0"),
        (
            &["--seconds", "-5"],
            "--seconds takes a whole number above 0",
        ),
        (&["--group", "1"], "--group takes at least 2 members"),
    ] {
        // The flag under test last, so that a flag missing its value has none.
        let out = banter_bench(&[&NO_STACK[..], args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("banter-bench: "), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(stderr.contains("usage: banter-bench"), "{args:?}: {stderr}");
        assert!(!stderr.contains("backtrace"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn good_flags_are_taken_and_the_run_fails_only_on_the_missing_stack() {
    let flags = [
        "--connections",
        "4",
        "--rate",
        "10",
        "--seconds",
        "1",
        "--pairs",
        "1",
    ];
    let out = banter_bench(&[&NO_STACK[..], &flags].concat());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/banter-local"), "{stderr}");
}
