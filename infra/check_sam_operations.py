"""Checks that what template.yaml deploys can be operated: every function logs to a log group of
its own that keeps its logs for LogRetentionDays (a group Lambda creates itself keeps them for
ever, and they name users and addresses), and every place a failed job or event is kept (an
SQS queue that is a dead-letter queue or an on-failure destination) has an alarm on its depth
that notifies AlarmTopic, so nothing waits there unseen.

A function, queue or destination added later without these fails this check.
"""
import sys

from samcli.yamlhelper import yaml_parse


def ref(value):
    """The logical id a `!Ref` or `!GetAtt X.Arn` names, or None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return (target.split(".")[0] if isinstance(target, str) else target[0])
    return None


def main(path: str) -> None:
    with open(path) as f:
        template = yaml_parse(f.read())
    resources = template["Resources"]
    wrong = []

    functions = [k for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"]
    for name in functions:
        group = ref(resources[name]["Properties"].get("LoggingConfig", {}).get("LogGroup"))
        log_group = resources.get(group or "", {})
        if log_group.get("Type") != "AWS::Logs::LogGroup":
            wrong.append(f"{name}: LoggingConfig.LogGroup is not a !Ref to a log group of the template")
        elif ref(log_group["Properties"].get("RetentionInDays")) != "LogRetentionDays":
            wrong.append(f"{group}: RetentionInDays is not !Ref LogRetentionDays")
    groups = [ref(resources[n]["Properties"]["LoggingConfig"]["LogGroup"]) for n in functions
              if "LoggingConfig" in resources[n]["Properties"]]
    shared = {g for g in groups if groups.count(g) > 1}
    if shared:
        wrong.append(f"log groups shared by functions: {sorted(shared)}")

    # Where failures are kept: dead-letter queues and on-failure destinations.
    kept = set()
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in props:
            kept.add(ref(props["RedrivePolicy"]["deadLetterTargetArn"]))
        on_failure = (props.get("EventInvokeConfig", {}).get("DestinationConfig", {})
                      .get("OnFailure", {}))
        if on_failure.get("Type") == "SQS":
            kept.add(ref(on_failure["Destination"]))
    watched = set()
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        if props.get("Namespace") != "AWS/SQS" or props.get(
                "MetricName") != "ApproximateNumberOfMessagesVisible":
            continue
        if {"Ref": "AlarmTopic"} not in props.get("AlarmActions", []):
            wrong.append(f"{name}: does not notify AlarmTopic")
            continue
        for dimension in props.get("Dimensions", []):
            if dimension["Name"] == "QueueName":
                watched.add(ref(dimension["Value"]))
    for queue in sorted(q for q in kept if q):
        if queue not in watched:
            wrong.append(f"{queue}: keeps failed jobs, but no alarm watches its depth")

    if wrong:
        print("template.yaml cannot be operated as it is:\n  " + "\n  ".join(wrong))
        sys.exit(1)
    print(f"{len(functions)} functions, each logging to its own group with a retention; "
          f"{len(kept)} queues of failed jobs, each watched by an alarm")


if __name__ == "__main__":
    main(sys.argv[1])
