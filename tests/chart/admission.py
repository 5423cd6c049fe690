"""Which rendered objects an admission webhook of the same release must answer for.

Helm creates all of a release's objects in one pass (and without ``--wait`` runs the
post-install hooks right after), so a webhook the release registers cannot answer yet for
the objects it creates: its pod is one of them. With ``failurePolicy: Fail`` the API server
then refuses them ("failed calling webhook ... connect: connection refused"), which is how
a real kube-apiserver refused the SparkApplication when it was a release object. An object
served by such a webhook must be created by a program that waits for the webhook (the
streaming subchart's apply hook), never rendered as a release object or install/upgrade
hook. Pod templates count as the pods their controllers create: a webhook that must answer
for its own pods never starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.chart.manifests import WORKLOADS, Doc

WEBHOOK_KINDS = {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
#: Hook events that run long after install (``helm test``): the webhook answers by then.
LATE_HOOKS = {"test", "test-success"}
#: Plural resource names the naive rule gets wrong.
_IRREGULAR = {"Endpoints": "endpoints"}


@dataclass(frozen=True)
class Webhook:
    config: str
    name: str
    failure_policy: str
    rules: list[dict[str, Any]]
    object_selector: dict[str, Any]


def webhooks(docs: list[Doc]) -> list[Webhook]:
    """Every webhook of the rendered webhook configurations."""
    out = []
    for doc in docs:
        if doc.get("kind") not in WEBHOOK_KINDS:
            continue
        for hook in doc.get("webhooks") or []:
            out.append(
                Webhook(
                    config=f"{doc['kind']}/{doc['metadata']['name']}",
                    name=hook["name"],
                    # admissionregistration.k8s.io/v1 defaults failurePolicy to Fail.
                    failure_policy=hook.get("failurePolicy", "Fail"),
                    rules=hook.get("rules") or [],
                    object_selector=hook.get("objectSelector") or {},
                )
            )
    return out


def plural(kind: str, crd_plurals: dict[str, str]) -> str:
    """The resource name of a kind: from the rendered CRDs, else the API's English rule."""
    if kind in crd_plurals:
        return crd_plurals[kind]
    if kind in _IRREGULAR:
        return _IRREGULAR[kind]
    lower = kind.lower()
    if lower.endswith("y") and lower[-2:-1] not in "aeiou":
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    return lower + "s"


def _crd_plurals(docs: list[Doc]) -> dict[str, str]:
    return {
        doc["spec"]["names"]["kind"]: doc["spec"]["names"]["plural"]
        for doc in docs
        if doc.get("kind") == "CustomResourceDefinition"
    }


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels, matchExpressions) against labels."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _matches(rule: dict[str, Any], group: str, version: str, resource: str) -> bool:
    def has(key: str, value: str) -> bool:
        return bool({value, "*"} & set(rule.get(key) or []))

    return (
        has("apiGroups", group)
        and has("apiVersions", version)
        and (has("resources", resource) or "*/*" in (rule.get("resources") or []))
        and has("operations", "CREATE")
    )


def intercepting(
    obj: Doc, hooks: list[Webhook], crd_plurals: dict[str, str] | None = None
) -> list[Webhook]:
    """The webhooks with failurePolicy Fail that must answer before ``obj`` is created."""
    group, _, version = obj["apiVersion"].rpartition("/")
    resource = plural(obj["kind"], crd_plurals or {})
    labels = obj.get("metadata", {}).get("labels") or {}
    return [
        hook
        for hook in hooks
        if hook.failure_policy == "Fail"
        and any(_matches(rule, group, version, resource) for rule in hook.rules)
        and _selects(hook.object_selector, labels)
    ]


def _hook_events(doc: Doc) -> set[str]:
    annotation = (doc.get("metadata", {}).get("annotations") or {}).get("helm.sh/hook", "")
    return {event.strip() for event in annotation.split(",") if event.strip()}


def _created(doc: Doc) -> list[tuple[str, Doc]]:
    """The object itself, and for workloads the pods their controllers create."""
    out = [(f"{doc['kind']}/{doc['metadata']['name']}", doc)]
    template = None
    if doc["kind"] in WORKLOADS:
        template = doc["spec"]["template"]
    elif doc["kind"] == "CronJob":
        template = doc["spec"]["jobTemplate"]["spec"]["template"]
    if template is not None:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": template.get("metadata") or {}}
        out.append((f"{doc['kind']}/{doc['metadata']['name']} (its pods)", pod))
    return out


def waits_for_own_webhook(docs: list[Doc]) -> list[str]:
    """Objects of the render (release objects and install/upgrade/rollback/delete hooks)
    that a webhook of the same render must answer for: each as ``object: webhook``."""
    hooks = webhooks(docs)
    plurals = _crd_plurals(docs)
    problems = []
    for doc in docs:
        if doc.get("kind") in WEBHOOK_KINDS | {"CustomResourceDefinition"}:
            continue
        events = _hook_events(doc)
        if events and events <= LATE_HOOKS:
            continue
        for where, obj in _created(doc):
            for hook in intercepting(obj, hooks, plurals):
                when = f"hook {','.join(sorted(events))}" if events else "release object"
                problems.append(f"{where} ({when}) needs {hook.config} webhook {hook.name}")
    return problems
