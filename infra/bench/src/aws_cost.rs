//! What a phase's traffic would ask of AWS, from the local stack's counts
//! (`GET /local/aws-calls`, `banter_local::aws_calls`), per delivered message, and what a
//! million such messages would cost at list prices: on paper, since the stack runs on one
//! machine (Lambda time is the in-process handlers' wall time, which on AWS would differ).

use anyhow::Result;
use serde_json::Value;

/// List prices assumed (AWS us-east-1, on-demand, at the time of writing).
const WEBSOCKET_MESSAGE: f64 = 1.00e-6; // API Gateway WebSocket: $1.00 per million messages
const LAMBDA_REQUEST: f64 = 0.20e-6; // $0.20 per million requests
const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4; // arm64
const LAMBDA_MEMORY_GB: f64 = 0.25; // template.yaml's Globals: MemorySize 256
const SQS_REQUEST: f64 = 0.40e-6; // standard queue: $0.40 per million requests
const DYNAMODB_READ: f64 = 0.125e-6; // on-demand: $0.125 per million read request units
const DYNAMODB_WRITE: f64 = 0.625e-6; // $0.625 per million write request units

/// The stack's counts now.
pub async fn counts(base: &str) -> Result<Value> {
    Ok(reqwest::get(format!("{base}/local/aws-calls"))
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// Requests per delivered message between two counts.
#[derive(Debug, Default, Clone, Copy)]
pub struct AwsRequests {
    pub websocket_in: f64,
    pub websocket_out: f64,
    pub lambda_invocations: f64,
    /// Mean duration of an invocation (ms).
    pub lambda_ms_each: f64,
    /// `SendMessage`s, and per batch a `ReceiveMessage` and a `DeleteMessageBatch`.
    pub sqs: f64,
    pub dynamodb_reads: f64,
    pub dynamodb_writes: f64,
}

impl AwsRequests {
    pub fn between(before: &Value, after: &Value, delivered: f64) -> Self {
        let delta = |name: &str| {
            (after[name].as_u64().unwrap_or(0) as f64 - before[name].as_u64().unwrap_or(0) as f64)
                .max(0.0)
        };
        let invocations = delta("lambdaInvocations");
        Self {
            websocket_in: delta("websocketIn") / delivered,
            websocket_out: delta("websocketOut") / delivered,
            lambda_invocations: invocations / delivered,
            lambda_ms_each: delta("lambdaMs") / invocations.max(1.0),
            sqs: (delta("sqsSends") + 2.0 * delta("sqsReceives")) / delivered,
            dynamodb_reads: delta("dynamodbReads") / delivered,
            dynamodb_writes: delta("dynamodbWrites") / delivered,
        }
    }

    /// Dollars per million delivered messages: API Gateway, Lambda, SQS, DynamoDB.
    pub fn per_million(&self) -> [f64; 4] {
        let m = 1e6;
        let lambda_seconds = self.lambda_invocations * self.lambda_ms_each / 1000.0;
        [
            m * (self.websocket_in + self.websocket_out) * WEBSOCKET_MESSAGE,
            m * (self.lambda_invocations * LAMBDA_REQUEST
                + lambda_seconds * LAMBDA_MEMORY_GB * LAMBDA_GB_SECOND),
            m * self.sqs * SQS_REQUEST,
            m * (self.dynamodb_reads * DYNAMODB_READ + self.dynamodb_writes * DYNAMODB_WRITE),
        ]
    }

    pub fn print(&self) {
        println!(
            "  AWS requests per delivered message: WebSocket messages {:.2} in + {:.2} out, \
             Lambda {:.2} invocations ({:.1} ms each), SQS {:.2}, DynamoDB {:.2} reads + {:.2} writes",
            self.websocket_in,
            self.websocket_out,
            self.lambda_invocations,
            self.lambda_ms_each,
            self.sqs,
            self.dynamodb_reads,
            self.dynamodb_writes
        );
        let [api, lambda, sqs, dynamodb] = self.per_million();
        println!(
            "  a million such messages on AWS at list prices, on paper: ${:.2} \
             (API Gateway ${api:.2}, Lambda ${lambda:.2}, SQS ${sqs:.2}, DynamoDB ${dynamodb:.2})",
            api + lambda + sqs + dynamodb
        );
    }
}
