"""Nothing expires from `raw/` before its failure can be replayed: every path by which a raw object's event
can wait to be replayed (EventBridge's retries then its dead-letter queue; Lambda's async queue and retries,
then the failures queue) ends before the bucket's lifecycle deletes the object, for any RawRetentionDays the
template accepts. Read from template.yaml, so a queue's retention or a retry window that grows fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lakegate_local import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
DAY = 86400
# EventBridge's and Lambda's defaults when a template does not say (AWS documentation).
EVENTBRIDGE_DEFAULT_AGE = DAY
LAMBDA_DEFAULT_AGE = 6 * 3600
SQS_DEFAULT_RETENTION = 4 * DAY


def _template() -> dict[str, Any]:
    return cfn_yaml.load(ROOT / "template.yaml")


def _ref(value: Any) -> str:
    """The logical id a `!GetAtt X.Arn`, `!Ref X` or `!GetAtt [X, Arn]` names."""
    if "Fn::GetAtt" in value:
        att = value["Fn::GetAtt"]
        return str(att[0] if isinstance(att, list) else att.split(".")[0])
    return str(value["Ref"])


def _retention(resources: dict[str, Any], queue: str) -> int:
    assert resources[queue]["Type"] == "AWS::SQS::Queue"
    return int(resources[queue]["Properties"].get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION))


def replay_horizons(template: dict[str, Any]) -> dict[str, int]:
    """Seconds after a raw object is created until each path's last chance to replay it."""
    resources = template["Resources"]
    horizons: dict[str, int] = {}
    invoke = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    compactor = [p for p in invoke if _ref(p["FunctionName"]) == "CompactorFunction"]
    assert len(compactor) == 1, "the compactor's async settings (retries, failure destination) are declared"
    lambda_age = int(compactor[0].get("MaximumEventAgeInSeconds", LAMBDA_DEFAULT_AGE))
    failures = _ref(compactor[0]["DestinationConfig"]["OnFailure"]["Destination"])
    for rule_id, rule in resources.items():
        props = rule.get("Properties", {})
        if rule["Type"] != "AWS::Events::Rule" or "EventPattern" not in props:
            continue
        keys = props["EventPattern"]["detail"]["object"]["key"]
        if {"prefix": "raw/"} not in keys:
            continue
        for target in props["Targets"]:
            if _ref(target["Arn"]) != "CompactorFunction":
                continue
            age = int(target.get("RetryPolicy", {}).get("MaximumEventAgeInSeconds", EVENTBRIDGE_DEFAULT_AGE))
            assert "DeadLetterConfig" in target, f"{rule_id}: events it cannot deliver must be kept"
            horizons[f"{rule_id} dead-letter queue"] = age + _retention(
                resources, _ref(target["DeadLetterConfig"]["Arn"])
            )
            horizons[f"{rule_id} then {failures}"] = age + lambda_age + _retention(resources, failures)
    assert horizons, "no rule starts the compactor on raw/ objects"
    return horizons


def _raw_expiry_days(template: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    bucket = template["Resources"]["LakeBucket"]["Properties"]
    (rule,) = [r for r in bucket["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == "raw/"]
    return rule["ExpirationInDays"], template["Parameters"][_ref(rule["ExpirationInDays"])]


def test_raw_objects_outlive_every_replay_path_for_any_accepted_retention() -> None:
    template = _template()
    horizons = replay_horizons(template)
    _, parameter = _raw_expiry_days(template)
    smallest = int(parameter["MinValue"])
    assert int(parameter["Default"]) >= smallest
    # S3's lifecycle never deletes before N days (it rounds up to the next midnight UTC).
    late = {path: s / DAY for path, s in horizons.items() if s > smallest * DAY}
    assert not late, f"RawRetentionDays may be {smallest} days, but these replay paths last longer: {late}"


def test_both_queues_keep_a_failed_object_14_days() -> None:
    resources = _template()["Resources"]
    assert _retention(resources, "CompactorFailuresQueue") == 14 * DAY
    assert _retention(resources, "CompactorEventsDeadLetterQueue") == 14 * DAY


def test_the_compactor_is_told_the_retention_its_record_claims_must_outlive() -> None:
    env = _template()["Resources"]["CompactorFunction"]["Properties"]["Environment"]["Variables"]
    expiry, _ = _raw_expiry_days(_template())
    assert env["RAW_RETENTION_DAYS"] == expiry


def test_a_shorter_retention_or_a_longer_queue_is_caught() -> None:
    template = _template()
    template["Resources"]["CompactorFailuresQueue"]["Properties"]["MessageRetentionPeriod"] = 16 * DAY
    assert max(replay_horizons(template).values()) > 16 * DAY
    template = _template()
    del template["Resources"]["CompactorEventsDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"]
    assert max(replay_horizons(template).values()) == DAY + LAMBDA_DEFAULT_AGE + 14 * DAY
