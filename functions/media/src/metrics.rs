//! Upload metrics (PRD 7.2, `FileUploadMetrics`) in CloudWatch's embedded metric format: one
//! JSON line in the log for each upload processed to an outcome, from which CloudWatch Logs
//! makes metrics in the namespace `Banter/Media`, by `FileType` and for all (`Pipeline`:
//! `uploads`): `Uploads` (per type, the distribution), `UploadBytes`, `ProcessingTime` and
//! `Failures` (the error rate is Failures / Uploads; `MediaFailuresAlarm` watches it). The log
//! is the transport: no AWS call, no permission. Outside Lambda the record goes to the log as
//! an event of its own.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::pipeline::Outcome;

pub const NAMESPACE: &str = "Banter/Media";

/// The embedded-metric document of one processed upload, as at `at`.
pub fn record(outcome: &Outcome, at: DateTime<Utc>) -> Value {
    json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["FileType"], ["Pipeline"]],
                "Metrics": [
                    { "Name": "Uploads", "Unit": "Count" },
                    { "Name": "UploadBytes", "Unit": "Bytes" },
                    { "Name": "ProcessingTime", "Unit": "Milliseconds" },
                    { "Name": "Failures", "Unit": "Count" },
                ],
            }],
        },
        "FileType": outcome.file_type,
        "Pipeline": "uploads",
        "Uploads": 1,
        "UploadBytes": outcome.file_size,
        "ProcessingTime": outcome.processing_ms,
        "Failures": u8::from(outcome.status != "completed"),
        "FileId": outcome.file_id,
        "Status": outcome.status,
    })
}

/// Write the record of `outcome`: in Lambda a line of its own on stdout (CloudWatch Logs reads
/// embedded metrics only from a log event that is the document itself); elsewhere a log event.
pub fn emit(outcome: &Outcome) {
    let record = record(outcome, Utc::now());
    if banter_lambda::logging::in_lambda() {
        println!("{record}");
    } else {
        tracing::info!(target: "banter_media::metrics", %record, "upload processed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: &str) -> Outcome {
        Outcome {
            file_id: "01a247c3-8c15-7625-960d-47c24b86ce03".parse().unwrap(),
            status: status.into(),
            error: (status == "failed").then(|| "INFECTED".into()),
            file_type: "video".into(),
            file_size: 5_242_880,
            processing_ms: 1_234,
        }
    }

    /// What CloudWatch asks of a document: `_aws` with a timestamp in milliseconds, and every
    /// metric and dimension it names present at the root (numbers and strings).
    #[test]
    fn a_record_is_a_valid_embedded_metric_document() {
        let at = DateTime::from_timestamp(1_767_290_400, 0).unwrap();
        let doc = record(&outcome("completed"), at);
        assert_eq!(doc["_aws"]["Timestamp"], 1_767_290_400_000i64);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        for dimensions in directive["Dimensions"].as_array().unwrap() {
            for name in dimensions.as_array().unwrap() {
                assert!(doc[name.as_str().unwrap()].is_string(), "{name}");
            }
        }
        let metrics: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            metrics,
            ["Uploads", "UploadBytes", "ProcessingTime", "Failures"]
        );
        for name in metrics {
            assert!(doc[name].is_number(), "{name}");
        }
        assert_eq!(
            (
                &doc["FileType"],
                &doc["UploadBytes"],
                &doc["ProcessingTime"],
                &doc["Failures"]
            ),
            (&json!("video"), &json!(5_242_880), &json!(1_234), &json!(0))
        );
        assert_eq!(record(&outcome("failed"), at)["Failures"], 1);
        // The set MediaFailuresAlarm (template.yaml) reads: all uploads, whatever their type.
        assert!(directive["Dimensions"]
            .as_array()
            .unwrap()
            .contains(&json!(["Pipeline"])));
        assert_eq!(doc["Pipeline"], "uploads");
    }
}
