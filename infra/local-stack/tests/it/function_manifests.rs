//! Each function's manifest links the AWS adapters its `USES` names, and no others. `sam build`
//! builds every function on its own, with only the features its own manifest enables: a port
//! used without its feature stops the function at start ("built without banter-lambda's
//! `queue` feature"), which no test that builds the workspace would see, since a workspace
//! build unifies every function's features.

use std::collections::BTreeSet;
use std::path::Path;

use banter_lambda::Uses;

/// Every function, by its directory under `functions/`, with what it uses.
const FUNCTIONS: [(&str, Uses); 13] = [
    ("auth", fn_auth::USES),
    ("chats", fn_chats::USES),
    ("delivery", fn_delivery::USES),
    ("health", fn_health::USES),
    ("media", fn_media::USES),
    ("migrate", fn_migrate::USES),
    ("moderation", fn_moderation::USES),
    ("uploads", fn_uploads::USES),
    ("users", fn_users::USES),
    ("ws-authorizer", fn_ws_authorizer::USES),
    ("ws-connect", fn_ws_connect::USES),
    ("ws-disconnect", fn_ws_disconnect::USES),
    ("ws-message", fn_ws_message::USES),
];

fn functions_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../functions")
}

/// The banter-lambda features a function's manifest enables.
fn enabled_features(function: &str) -> BTreeSet<String> {
    let path = functions_dir().join(function).join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let manifest: toml::Table = text.parse().unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let dependency = &manifest["dependencies"]["banter-lambda"];
    dependency
        .get("features")
        .and_then(|f| f.as_array())
        .map(|features| {
            features
                .iter()
                .map(|f| f.as_str().expect("a feature name").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_function_enables_the_adapter_features_of_the_ports_it_uses_and_no_others() {
    let mut wrong = Vec::new();
    for (function, uses) in FUNCTIONS {
        let needed: BTreeSet<String> = uses.features().into_iter().map(str::to_owned).collect();
        let enabled = enabled_features(function);
        if enabled != needed {
            wrong.push(format!(
                "functions/{function}: missing {:?}, not used {:?}",
                needed.difference(&enabled).collect::<Vec<_>>(),
                enabled.difference(&needed).collect::<Vec<_>>()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_list_above_names_every_function() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(functions_dir())
        .expect("functions/")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let listed: BTreeSet<String> = FUNCTIONS.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(on_disk, listed);
}
