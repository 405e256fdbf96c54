"""Checks that `sam build` builds each Rust function with only its own crate's features, and
that the function may use the AWS services those features link.

SAM's rust-cargolambda builder runs `cargo lambda build --release --bin <Binary>` in the
function's CodeUri. From the workspace root (`CodeUri: .`) cargo selects every workspace member
and unifies their features, so every function would link every AWS client any function uses
(fn-health: 9.7 MB instead of 7.1). From the function's own directory it selects that package
alone. So each such function's CodeUri must be the directory of the package its Binary is.

A function's banter-lambda features are the ports it uses (`tests/it/function_manifests.rs`
checks them against its `USES`); each port's AWS adapter needs a permission in the function's
Policies, or its first call is refused in production (never in the tests, which run on moto).
A function that links the blob store also reads the media CDN's signing key at init, when the
stack has a media CDN: it must be allowed to.
"""
import json
import os
import sys
import tomllib

# What in a function's Policies grants each port's adapter its calls: a SAM policy template's
# name or an IAM action, any of them.
PERMISSIONS = {
    "registry": ["DynamoDBCrudPolicy", "DynamoDBReadPolicy", "dynamodb:"],
    "queue": ["SQSSendMessagePolicy", "sqs:SendMessage"],
    "push": ["execute-api:ManageConnections"],
    "blobs": ["S3CrudPolicy", "S3ReadPolicy", "S3WritePolicy", "s3:"],
    "notify": ["SESCrudPolicy", "ses:SendEmail"],
    "mobile-push": ["sns:CreatePlatformEndpoint", "sns:Publish"],
}

from samcli.yamlhelper import yaml_parse


def features_of(manifest: str) -> list:
    """The banter-lambda features a function's manifest enables."""
    with open(manifest, "rb") as m:
        dependency = tomllib.load(m).get("dependencies", {}).get("banter-lambda", {})
    return dependency.get("features", []) if isinstance(dependency, dict) else []


def cdn_key_unread(template: dict, logical_id: str, features: list) -> list:
    """A function that links the blob store hands out media URLs, which it signs with the media
    CDN's key when the stack has one: it reads that key at init, or fails to start."""
    if "blobs" not in features or "MediaCdnKeyReadPolicy" not in template["Resources"]:
        return []
    policies = json.dumps(template["Resources"][logical_id]["Properties"].get("Policies", []))
    if "MediaCdnKeyReadPolicy" in policies:
        return []
    return [f"{logical_id}: links the 'blobs' adapter, but may not read the media CDN's key (MediaCdnKeyReadPolicy)"]


def main(path: str) -> None:
    root = os.path.dirname(os.path.abspath(path))
    with open(path) as f:
        template = yaml_parse(f.read())
    wrong = []
    checked = 0
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        metadata = resource.get("Metadata", {})
        if metadata.get("BuildMethod") != "rust-cargolambda":
            continue
        checked += 1
        binary = metadata.get("BuildProperties", {}).get("Binary")
        code_uri = resource["Properties"].get("CodeUri", ".")
        manifest = os.path.join(root, code_uri, "Cargo.toml")
        package = None
        if os.path.isfile(manifest):
            with open(manifest, "rb") as m:
                package = tomllib.load(m).get("package", {}).get("name")
        if package is None or package != binary:
            wrong.append(f"{logical_id}: CodeUri {code_uri!r} is not the package of Binary {binary!r} (its package: {package!r})")
            continue
        policies = json.dumps(resource["Properties"].get("Policies", []), default=str)
        for feature in features_of(manifest):
            if not any(grant in policies for grant in PERMISSIONS[feature]):
                wrong.append(f"{logical_id}: links the {feature!r} adapter, but its Policies grant none of {PERMISSIONS[feature]}")
        wrong.extend(cdn_key_unread(template, logical_id, features_of(manifest)))
    # The media image is no cargo-lambda build, but links the blob store too.
    wrong.extend(cdn_key_unread(template, "MediaFunction", ["blobs"]))
    assert checked > 0, "no rust-cargolambda function in the template"
    assert not wrong, "\n".join(wrong)
    print(f"{checked} Rust functions, each built from its own package, each allowed the AWS calls its adapters make")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
