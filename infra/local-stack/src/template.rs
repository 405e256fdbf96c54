//! Reads `template.yaml`, the single source of truth for routes, into what the local stack
//! serves: REST routes, WebSocket routes and their authorizer, and the SQS and S3 event sources
//! with their settings.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{anyhow, bail, Context, Result};
use serde_yaml::Value;

use crate::blob_cors::CorsRule;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestRoute {
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template, e.g. `/api/chats/{chatId}`.
    pub path: String,
    pub function: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsRoute {
    pub function: String,
    /// Does the route send the integration's response back to the client (a route response)?
    pub two_way: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsSource {
    pub function: String,
    pub queue: String,
    pub batch_size: usize,
    pub visibility_timeout_secs: u64,
    /// Receives before a message moves to the dead-letter queue (`None`: no DLQ).
    pub max_receive_count: Option<u32>,
}

/// A `Schedule` (EventBridge) event: the local stack invokes the function on a timer of its
/// own (`StackConfig::schedule_interval`), since a minute is long on one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSource {
    pub function: String,
    /// As the template says it, e.g. `rate(1 minute)`.
    pub expression: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Source {
    pub function: String,
    pub bucket: String,
    pub prefix: String,
}

/// The REST API's `Cors` (SAM): what API Gateway answers a browser's preflight (`OPTIONS`)
/// with (its own refusals carry `GatewayResponses`' headers). Values as the headers carry them
/// (SAM quotes them, `"'*'"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestCors {
    pub allow_origin: String,
    pub allow_headers: Option<String>,
    pub allow_methods: Option<String>,
    pub max_age: Option<String>,
}

impl RestCors {
    /// From the property: a map, or only the origin as a string.
    fn parse(cors: &Value) -> Option<Self> {
        let unquoted = |v: &Value| {
            v.as_str()
                .map(|s| s.trim_matches('\'').to_owned())
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        };
        if cors.is_string() {
            return Some(Self {
                allow_origin: unquoted(cors)?,
                allow_headers: None,
                allow_methods: None,
                max_age: None,
            });
        }
        Some(Self {
            allow_origin: unquoted(cors.get("AllowOrigin")?)?,
            allow_headers: cors.get("AllowHeaders").and_then(unquoted),
            allow_methods: cors.get("AllowMethods").and_then(unquoted),
            max_age: cors.get("MaxAge").and_then(unquoted),
        })
    }
}

/// One of a bucket's `CorsRules`.
fn cors_rule(rule: &Value) -> CorsRule {
    let list = |name: &str| -> Vec<String> {
        rule.get(name)
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    CorsRule {
        allowed_methods: list("AllowedMethods"),
        allowed_origins: list("AllowedOrigins"),
        allowed_headers: list("AllowedHeaders")
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        exposed_headers: list("ExposedHeaders"),
        max_age: rule.get("MaxAge").and_then(Value::as_u64),
    }
}

/// `GatewayResponses`' headers by response type, as the responses carry them (SAM quotes static
/// values: `"'nosniff'"`).
fn gateway_headers(responses: &serde_yaml::Mapping) -> BTreeMap<String, Vec<(String, String)>> {
    responses
        .iter()
        .filter_map(|(kind, response)| {
            let headers = response
                .get("ResponseParameters")?
                .get("Headers")?
                .as_mapping()?
                .iter()
                .filter_map(|(name, value)| {
                    let value = value.as_str()?;
                    let unquoted = value.strip_prefix('\'')?.strip_suffix('\'')?;
                    Some((name.as_str()?.to_owned(), unquoted.to_owned()))
                })
                .collect();
            Some((kind.as_str()?.to_owned(), headers))
        })
        .collect()
}

#[derive(Debug, Clone, Default)]
pub struct StackTemplate {
    /// Every `AWS::Serverless::Function` by logical id.
    pub functions: BTreeSet<String>,
    pub rest: Vec<RestRoute>,
    /// By route key (`$connect`, `$default`, `message:send`...).
    pub websocket: BTreeMap<String, WsRoute>,
    /// The function authorizing `$connect`, if any.
    pub ws_authorizer: Option<String>,
    pub sqs: Vec<SqsSource>,
    pub s3: Vec<S3Source>,
    pub schedules: Vec<ScheduleSource>,
    /// The REST API's `MinimumCompressionSize`: responses of at least this many bytes are
    /// compressed for clients that accept it (`None`: compression is off).
    pub rest_minimum_compression_size: Option<usize>,
    /// The REST API's `Cors` (`None`: browsers on other origins are not answered).
    pub rest_cors: Option<RestCors>,
    /// The `CorsRules` of the bucket the blob store stands for (none: browsers are refused).
    pub blob_cors: Vec<CorsRule>,
    /// The REST API's `GatewayResponses`: the headers API Gateway adds to its own refusals, by
    /// response type (`DEFAULT_4XX`, `DEFAULT_5XX`), values unquoted.
    pub rest_gateway_headers: BTreeMap<String, Vec<(String, String)>>,
}

impl StackTemplate {
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self> {
        let doc: Value = serde_yaml::from_str(text).context("template.yaml is not valid YAML")?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| anyhow!("no Resources"))?;
        let by_id: BTreeMap<String, &Value> = resources
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v)))
            .collect();
        let kind = |id: &str| {
            by_id
                .get(id)
                .and_then(|r| r.get("Type"))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let props = |id: &str| by_id.get(id).and_then(|r| r.get("Properties"));

        let rest_api = by_id
            .keys()
            .find(|id| kind(id) == "AWS::Serverless::Api")
            .and_then(|id| props(id));
        let mut t = StackTemplate {
            rest_minimum_compression_size: rest_api
                .and_then(|p| p.get("MinimumCompressionSize")?.as_u64())
                .map(|n| n as usize),
            rest_cors: rest_api.and_then(|p| RestCors::parse(p.get("Cors")?)),
            rest_gateway_headers: rest_api
                .and_then(|p| p.get("GatewayResponses")?.as_mapping())
                .map(gateway_headers)
                .unwrap_or_default(),
            ..StackTemplate::default()
        };
        for (id, res) in &by_id {
            if kind(id) != "AWS::Serverless::Function" {
                continue;
            }
            t.functions.insert(id.clone());
            let events = res
                .get("Properties")
                .and_then(|p| p.get("Events"))
                .and_then(Value::as_mapping);
            for event in events.into_iter().flat_map(|m| m.values()) {
                let p = event.get("Properties");
                let get = |k: &str| p.and_then(|p| p.get(k));
                match event.get("Type").and_then(Value::as_str) {
                    Some("Api") => t.rest.push(RestRoute {
                        method: str_of(get("Method"))?.to_uppercase(),
                        path: str_of(get("Path"))?,
                        function: id.clone(),
                    }),
                    Some("SQS") => {
                        let queue = first_ref(
                            get("Queue").ok_or_else(|| anyhow!("{id}: SQS event without Queue"))?,
                        )?;
                        let qp = props(&queue);
                        let max_receive_count = qp
                            .and_then(|q| q.get("RedrivePolicy"))
                            .and_then(|r| r.get("maxReceiveCount"))
                            .and_then(Value::as_u64)
                            .map(|n| n as u32);
                        t.sqs.push(SqsSource {
                            function: id.clone(),
                            batch_size: get("BatchSize").and_then(Value::as_u64).unwrap_or(10)
                                as usize,
                            visibility_timeout_secs: qp
                                .and_then(|q| q.get("VisibilityTimeout"))
                                .and_then(Value::as_u64)
                                .unwrap_or(30),
                            max_receive_count,
                            queue,
                        });
                    }
                    Some("Schedule") => t.schedules.push(ScheduleSource {
                        function: id.clone(),
                        expression: str_of(get("Schedule"))?,
                    }),
                    Some("S3") => {
                        let bucket = first_ref(
                            get("Bucket")
                                .ok_or_else(|| anyhow!("{id}: S3 event without Bucket"))?,
                        )?;
                        let rules = get("Filter")
                            .and_then(|f| f.get("S3Key"))
                            .and_then(|k| k.get("Rules"))
                            .and_then(Value::as_sequence);
                        let prefix = rules
                            .into_iter()
                            .flatten()
                            .find(|r| r.get("Name").and_then(Value::as_str) == Some("prefix"))
                            .and_then(|r| r.get("Value"))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned();
                        t.s3.push(S3Source {
                            function: id.clone(),
                            bucket,
                            prefix,
                        });
                    }
                    _ => {}
                }
            }
        }
        // The function an integration or authorizer URI invokes: the `${Fn.Arn}` it names.
        let function_of = |uri: Option<&Value>| -> Result<String> {
            let uri = uri.ok_or_else(|| anyhow!("integration without a URI"))?;
            refs(uri)
                .into_iter()
                .find(|r| t.functions.contains(r))
                .ok_or_else(|| anyhow!("no function in {uri:?}"))
        };
        for id in by_id.keys() {
            if kind(id) != "AWS::ApiGatewayV2::Route" {
                continue;
            }
            let p = props(id).ok_or_else(|| anyhow!("{id}: no Properties"))?;
            let key = str_of(p.get("RouteKey"))?;
            let target = p.get("Target").ok_or_else(|| anyhow!("{id}: no Target"))?;
            let integration = refs(target)
                .into_iter()
                .find(|r| kind(r) == "AWS::ApiGatewayV2::Integration");
            let integration =
                integration.ok_or_else(|| anyhow!("{id}: Target names no integration"))?;
            let function = function_of(props(&integration).and_then(|p| p.get("IntegrationUri")))?;
            let two_way = p.get("RouteResponseSelectionExpression").is_some();
            if let Some(auth) = p.get("AuthorizerId") {
                let authorizer = first_ref(auth)?;
                t.ws_authorizer = Some(function_of(
                    props(&authorizer).and_then(|p| p.get("AuthorizerUri")),
                )?);
            }
            t.websocket.insert(key, WsRoute { function, two_way });
        }
        if t.rest.is_empty() {
            bail!("the template declares no REST routes");
        }
        // The blob store stands for the bucket the S3 triggers watch.
        t.blob_cors =
            t.s3.first()
                .and_then(|source| {
                    props(&source.bucket)?
                        .get("CorsConfiguration")?
                        .get("CorsRules")
                })
                .and_then(Value::as_sequence)
                .map(|rules| rules.iter().map(cors_rule).collect())
                .unwrap_or_default();
        Ok(t)
    }
}

fn str_of(v: Option<&Value>) -> Result<String> {
    v.and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("expected a string, found {v:?}"))
}

fn first_ref(v: &Value) -> Result<String> {
    refs(v)
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("expected a !Ref, !GetAtt or !Sub, found {v:?}"))
}

/// Logical ids a value refers to: `!Ref X`, `!GetAtt X.Attr`, `${X}` / `${X.Attr}` in `!Sub`,
/// and the long forms (`Ref:`, `Fn::GetAtt:`, `Fn::Sub:`).
fn refs(v: &Value) -> Vec<String> {
    fn sub_names(s: &str) -> Vec<String> {
        s.split("${")
            .skip(1)
            .filter_map(|rest| rest.split('}').next())
            .map(|name| name.split('.').next().unwrap_or(name).to_owned())
            .filter(|name| !name.starts_with("AWS::"))
            .collect()
    }
    match v {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            match (tag.trim_start_matches('!'), &tagged.value) {
                ("Ref", Value::String(s)) => vec![s.clone()],
                ("GetAtt", Value::String(s)) => vec![s.split('.').next().unwrap_or(s).to_owned()],
                ("GetAtt", Value::Sequence(parts)) => parts
                    .first()
                    .and_then(Value::as_str)
                    .map(|s| vec![s.to_owned()])
                    .unwrap_or_default(),
                ("Sub", Value::String(s)) => sub_names(s),
                (_, inner) => refs(inner),
            }
        }
        Value::Mapping(m) => {
            if let Some(Value::String(s)) = m.get("Ref") {
                return vec![s.clone()];
            }
            if let Some(Value::String(s)) = m.get("Fn::Sub") {
                return sub_names(s);
            }
            m.values().flat_map(refs).collect()
        }
        Value::Sequence(items) => items.iter().flat_map(refs).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_repository_template() {
        let t = StackTemplate::load(&crate::repo_root().unwrap().join("template.yaml")).unwrap();
        assert!(t.rest.contains(&RestRoute {
            method: "POST".into(),
            path: "/api/auth/register".into(),
            function: "AuthFunction".into()
        }));
        assert_eq!(t.websocket["$connect"].function, "WsConnectFunction");
        assert!(t.websocket["message:send"].two_way);
        assert!(!t.websocket["$disconnect"].two_way);
        assert_eq!(t.ws_authorizer.as_deref(), Some("WsAuthorizerFunction"));
        let sqs = &t.sqs[0];
        assert_eq!(
            (
                sqs.function.as_str(),
                sqs.queue.as_str(),
                sqs.batch_size,
                sqs.max_receive_count
            ),
            ("DeliveryFunction", "DeliveryQueue", 10, Some(5))
        );
        assert_eq!(t.s3[0].prefix, "uploads/");
        assert_eq!(t.rest_minimum_compression_size, Some(1024));
        assert_eq!(
            t.rest_cors,
            Some(RestCors {
                allow_origin: "*".into(),
                allow_headers: Some("authorization,content-type,content-encoding".into()),
                allow_methods: Some("GET,POST,PUT,DELETE,OPTIONS".into()),
                max_age: Some("600".into()),
            })
        );
        let refusals = &t.rest_gateway_headers["DEFAULT_4XX"];
        assert!(refusals.contains(&("Access-Control-Allow-Origin".into(), "*".into())));
        assert!(refusals.contains(&("X-Content-Type-Options".into(), "nosniff".into())));
        assert_eq!(&t.rest_gateway_headers["DEFAULT_5XX"], refusals);
        assert_eq!(
            t.blob_cors,
            vec![CorsRule {
                allowed_methods: vec!["GET".into(), "PUT".into()],
                allowed_origins: vec!["*".into()],
                allowed_headers: vec!["*".into()],
                exposed_headers: vec!["ETag".into()],
                max_age: Some(3000),
            }]
        );
        assert_eq!(
            t.schedules,
            vec![
                ScheduleSource {
                    function: "DeliveryFunction".into(),
                    expression: "rate(1 minute)".into()
                },
                ScheduleSource {
                    function: "SignatureUpdateFunction".into(),
                    expression: "rate(2 hours)".into()
                }
            ]
        );
    }
}
