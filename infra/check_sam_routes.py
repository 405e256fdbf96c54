"""Checks, with the SAM CLI's own template parser, that `sam local start-api` reads template.yaml's
REST API: every `Api` event of every function, and nothing else (but the `OPTIONS` of each path,
which it answers itself when the REST API has `Cors`, as API Gateway does).

SAM CLI picks its API parser from the first API-related resource in the template. Its
CloudFormation parser (CfnApiProvider) splits every AWS::ApiGatewayV2::Route key on a space and
crashes on WebSocket keys like `$connect` (aws-sam-cli issues #57, #896, #7975); its SAM parser
ignores them. So template.yaml keeps a SAM resource (RestApi) first, and this check fails if
that ever changes.
"""
import sys

from samcli.lib.providers.api_provider import ApiProvider
from samcli.lib.providers.cfn_api_provider import CfnApiProvider
from samcli.lib.providers.sam_api_provider import SamApiProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samcli.yamlhelper import yaml_parse


def main(path: str) -> None:
    with open(path) as f:
        template = yaml_parse(f.read())
    expected = set()
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event["Type"] == "Api":
                props = event["Properties"]
                expected.add((props["Method"].upper(), props["Path"], logical_id))
    cors = any(
        resource["Type"] == "AWS::Serverless::Api" and "Cors" in resource.get("Properties", {})
        for resource in template["Resources"].values()
    )
    if cors:
        expected |= {("OPTIONS", path, function) for _, path, function in expected}

    stacks, _ = SamLocalStackProvider.get_stacks(path)
    parser = ApiProvider.find_api_provider(stacks)
    assert isinstance(parser, SamApiProvider), (
        f"SAM CLI would parse this template with {type(parser).__name__}, which crashes on WebSocket "
        "route keys: keep an AWS::Serverless resource first in template.yaml"
    )
    routes = {(method, route.path, route.function_name) for route in ApiProvider(stacks).routes for method in route.methods}
    missing, extra = expected - routes, routes - expected
    assert not missing and not extra, f"SAM CLI routes differ: missing {sorted(missing)}, unexpected {sorted(extra)}"

    # The failure the ordering avoids, shown with SAM CLI's own CloudFormation parser.
    try:
        CfnApiProvider._parse_route_key("$connect")
    except ValueError:
        pass
    else:
        print("note: this SAM CLI version parses WebSocket route keys; the ordering rule may be relaxed")
    print(f"SAM CLI's parser reads the {len(routes)} REST routes of {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
