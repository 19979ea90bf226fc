"""iam/cloudfront-ssl-policy.json lists every AWS action the code calls, and nothing else.

The code under include/, dags/ and plugins/ is scanned (AST, not imported) for calls on boto3 clients
(``client.describe_certificate(...)``, ``get_paginator("list_certificates")``, ``get_waiter(...)``,
also awaited aiobotocore calls) and for the provider hook methods that call AWS themselves
(``SnsHook.publish_to_target`` ...). Each call is attributed to a service (acm, cloudfront, sns,
secretsmanager, route53) from, in order: the receiver's name (``acm_client``), the services named in the
enclosing function (``acm_hook(...)``, ``client_type="acm"``), the module's file name, those named
anywhere in the module, and finally the one service whose API has that method. The botocore service model turns the
method into its API operation, which is the IAM action, except for the few operations that need
other actions (a table below, from the AWS service authorization reference).

New code that calls a new AWS action makes this test fail until the policy lists the action; a
policy action that no code calls any more fails it too.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "iam" / "cloudfront-ssl-policy.json"
SCANNED = ("include", "dags", "plugins")
SERVICES = ("acm", "cloudfront", "sns", "secretsmanager", "route53", "resourcegroupstaggingapi")
IAM_PREFIXES = {"resourcegroupstaggingapi": "tag"}
"""Services whose IAM actions are not named after the boto3 client: the Tagging API's are ``tag:``."""

SERVICE_HINTS = {
    "acm": ("acm",),
    "cloudfront": ("cloudfront",),
    "sns": ("sns",),
    "secretsmanager": ("secretsmanager", "secrets_manager"),
    "route53": ("route53", "route_53"),
    "resourcegroupstaggingapi": ("tagging",),
}
"""Lower-cased substrings of identifiers and strings that name a service."""

HOOK_METHODS = {
    "publish_to_target": ("sns", "publish"),
    "get_secret": ("secretsmanager", "get_secret_value"),
    "get_secret_as_dict": ("secretsmanager", "get_secret_value"),
}
"""Amazon provider hook methods that call AWS themselves: hook method -> (service, boto3 method)."""

EXTRA_ACTIONS = {
    # Tags given to RequestCertificate / ImportCertificate are authorized as AddTagsToCertificate.
    "acm:RequestCertificate": {"acm:AddTagsToCertificate"},
    "acm:ImportCertificate": {"acm:AddTagsToCertificate"},
}
ACTION_REPLACEMENTS = {
    # CreateDistributionWithTags has no IAM action of its own: it is authorized as both of these.
    "cloudfront:CreateDistributionWithTags": {"cloudfront:CreateDistribution", "cloudfront:TagResource"},
}


@functools.cache
def service_methods(service: str) -> dict[str, str]:
    """boto3 method name -> API operation name (CloudFront's without its API-version suffix)."""
    import botocore.session

    client = botocore.session.get_session().create_client(
        service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return {
        method: re.sub(r"\d{4}_\d{2}_\d{2}$", "", operation)
        for method, operation in client.meta.method_to_api_mapping.items()
    }


@functools.cache
def service_waiters(service: str) -> dict[str, str]:
    """boto3 waiter name -> boto3 method the waiter polls."""
    import botocore.session
    from botocore import xform_name
    from botocore.exceptions import DataNotFoundError

    try:
        model = botocore.session.get_session().get_waiter_model(service)
    except DataNotFoundError:  # the service has no waiters
        return {}
    return {xform_name(name): xform_name(model.get_waiter(name).operation) for name in model.waiter_names}


def hinted_services(text: str) -> set[str]:
    """The services an identifier or string names."""
    lowered = text.lower()
    return {service for service, hints in SERVICE_HINTS.items() if any(hint in lowered for hint in hints)}


def _names_in(node: ast.AST) -> Iterator[str]:
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            yield child.id
        elif isinstance(child, ast.Attribute):
            yield child.attr
        elif isinstance(child, ast.Constant) and isinstance(child.value, str) and len(child.value) < 60:
            yield child.value
        elif isinstance(child, ast.alias):
            yield child.name
            if child.asname:
                yield child.asname


def _receiver_name(node: ast.expr) -> str:
    """The last identifier of a call's receiver: ``client`` in ``client.x()``, ``conn`` in ``h.conn.x()``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _receiver_name(node.func)
    if isinstance(node, ast.Await):
        return _receiver_name(node.value)
    return ""


def _is_client_expression(node: ast.expr | None) -> bool:
    """Whether an expression yields a boto3 client: ``hook.conn``, ``get_conn()``, ``boto3.client(...)``."""
    if node is None:
        return False
    if isinstance(node, ast.Await):
        return _is_client_expression(node.value)
    name = _receiver_name(node)
    return bool(re.search(r"client|conn", name, re.IGNORECASE))


@dataclass(frozen=True)
class AwsCall:
    """One AWS call found in the code."""

    path: str
    line: int
    service: str
    method: str

    @property
    def actions(self) -> set[str]:
        """The IAM actions this call needs."""
        prefix = IAM_PREFIXES.get(self.service, self.service)
        action = f"{prefix}:{service_methods(self.service)[self.method]}"
        actions = set(ACTION_REPLACEMENTS.get(action, {action}))
        return actions | EXTRA_ACTIONS.get(action, set())


def _client_variables(tree: ast.AST) -> set[str]:
    """Names bound to a client anywhere in a module (``x = hook.conn``, ``async with ... as x``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _is_client_expression(node.value):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and _is_client_expression(node.value):
            if isinstance(node.target, ast.Name):
                names.add(node.target.id)
        elif isinstance(node, ast.withitem) and _is_client_expression(node.context_expr):
            if isinstance(node.optional_vars, ast.Name):
                names.add(node.optional_vars.id)
    return names


def _attribute(method: str, candidates: list[set[str]], path: Path, line: int) -> str:
    """The service of ``method``: the first non-empty candidate set that narrows it to one service."""
    having = {service for service in SERVICES if method in service_methods(service)}
    for hints in candidates:
        narrowed = having & hints
        if len(narrowed) == 1:
            return narrowed.pop()
    if len(having) == 1:
        return having.pop()
    raise AssertionError(
        f"{path}:{line}: cannot tell which service {method}() belongs to ({sorted(having)}); "
        "name the client after its service (acm_client, sns_client, ...)"
    )


def scan_file(path: Path) -> list[AwsCall]:
    """The AWS calls in one Python file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = str(path.relative_to(ROOT))
    file_hints = hinted_services(path.stem)
    module_hints = file_hints | {s for name in _names_in(tree) for s in hinted_services(name)}
    clients = _client_variables(tree)
    known = set().union(*(service_methods(service) for service in SERVICES))

    functions: list[tuple[ast.AST, set[str]]] = [
        (node, {s for name in _names_in(node) for s in hinted_services(name)})
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]

    def function_hints(call: ast.Call) -> set[str]:
        # The innermost function containing the call: the smallest line span that includes it.
        enclosing = [
            (hints, node.end_lineno - node.lineno)  # type: ignore[attr-defined]
            for node, hints in functions
            if node.lineno <= call.lineno <= node.end_lineno  # type: ignore[attr-defined]
        ]
        return min(enclosing, key=lambda item: item[1])[0] if enclosing else set()

    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        method = node.func.attr
        receiver = _receiver_name(node.func.value)
        is_client = receiver in clients or _is_client_expression(node.func.value)
        found: list[tuple[str, set[str] | None]] = []
        if method in ("get_paginator", "can_paginate") and is_client and node.args:
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.append((argument.value, None))
        elif method == "get_waiter" and is_client and node.args:
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                waited = {s for s in SERVICES if argument.value in service_waiters(s)}
                hints = [hinted_services(receiver), function_hints(node), file_hints, module_hints]
                service = next((h & waited for h in hints if len(h & waited) == 1), waited)
                assert len(service) == 1, f"{relative}:{node.lineno}: waiter {argument.value} is ambiguous"
                (one,) = service
                found.append((service_waiters(one)[argument.value], {one}))
        elif method in HOOK_METHODS and "hook" in receiver.lower() + ast.unparse(node.func.value).lower():
            service, boto_method = HOOK_METHODS[method]
            found.append((boto_method, {service}))
        elif is_client and method in known:
            found.append((method, None))
        for boto_method, fixed in found:
            candidates = (
                [fixed]
                if fixed
                else [hinted_services(receiver), function_hints(node), file_hints, module_hints]
            )
            service = _attribute(boto_method, candidates, path, node.lineno)
            calls.append(AwsCall(relative, node.lineno, service, boto_method))
    return calls


def scan_code() -> list[AwsCall]:
    """Every AWS call in include/, dags/ and plugins/."""
    calls = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" not in path.parts:
                calls += scan_file(path)
    return calls


def policy_actions() -> set[str]:
    """The actions the policy allows."""
    policy = json.loads(POLICY.read_text())
    actions: set[str] = set()
    for statement in policy["Statement"]:
        listed = statement["Action"]
        actions |= {listed} if isinstance(listed, str) else set(listed)
    return actions


@pytest.fixture(scope="module")
def calls() -> list[AwsCall]:
    return scan_code()


def test_the_scan_finds_the_calls_the_jobs_are_known_to_make(calls):
    # A guard against a scanner that silently finds nothing.
    found = {action for call in calls for action in call.actions}
    assert {
        "acm:RequestCertificate",
        "acm:DescribeCertificate",
        "acm:ListCertificates",
        "cloudfront:GetDistributionConfig",
        "cloudfront:CreateDistribution",
        "sns:Publish",
        "route53:ListHostedZones",
        "route53:ChangeResourceRecordSets",
        "route53:GetChange",
        "tag:GetResources",
    } <= found


def test_policy_allows_every_action_the_code_calls(calls):
    allowed = policy_actions()
    missing: dict[str, list[str]] = {}
    for call in calls:
        for action in sorted(call.actions - allowed):
            missing.setdefault(action, []).append(f"{call.path}:{call.line} {call.method}()")
    assert not missing, "add to iam/cloudfront-ssl-policy.json:\n" + "\n".join(
        f"  {action}  (used at {', '.join(places[:3])})" for action, places in sorted(missing.items())
    )


def test_policy_allows_nothing_the_code_does_not_call(calls):
    used = {action for call in calls for action in call.actions}
    unused = policy_actions() - used
    assert not unused, f"remove from iam/cloudfront-ssl-policy.json (no code calls them): {sorted(unused)}"


def test_policy_is_well_formed():
    policy = json.loads(POLICY.read_text())
    assert policy["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in policy["Statement"]]
    assert len(sids) == len(set(sids)), "statement ids must be unique"
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        assert all("*" not in action for action in actions), "no wildcard actions"
        prefixes = {IAM_PREFIXES.get(service, service) for service in SERVICES}
        assert all(action.split(":")[0] in prefixes for action in actions), actions
        assert statement["Resource"], statement["Sid"]
        resources = (
            [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        )
        for resource in resources:
            # CloudFront takes certificates from us-east-1 only: no other region's ACM is needed.
            if resource.startswith("arn:aws:acm:"):
                assert resource.startswith("arn:aws:acm:us-east-1:"), resource
        # Route 53 actions are scoped to hosted zones and changes, except listing the zones (AWS
        # authorizes ListHostedZones on "*" only).
        for action in actions:
            if action.startswith("route53:"):
                expected = "*" if action == "route53:ListHostedZones" else "arn:aws:route53:::"
                assert all(resource.startswith(expected) for resource in resources), (action, resources)


def test_secrets_are_read_only_when_tagged_for_the_package(calls):
    """The private keys and bundles the import and rotation jobs read: secrets tagged
    ``cloudfront-ssl:certificate`` only, whatever their name; no other statement reads any secret."""
    policy = json.loads(POLICY.read_text())
    reading = [
        statement
        for statement in policy["Statement"]
        if any(action.startswith("secretsmanager:") for action in statement["Action"])
    ]
    assert len(reading) == 1
    (statement,) = reading
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    assert statement["Condition"] == {
        "Null": {"secretsmanager:ResourceTag/cloudfront-ssl:certificate": "false"}
    }
    used = {action for call in calls for action in call.actions}
    # Live sites: the update's one UpdateDistribution, the rotation's read of what ACM serves now.
    assert {"cloudfront:UpdateDistribution", "acm:GetCertificate", "secretsmanager:GetSecretValue"} <= used


def test_scanner_attributes_calls_by_receiver_function_and_module(tmp_path, monkeypatch):
    """The scanner finds the ways other modules obtain and name clients."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    source = tmp_path / "inventory.py"
    source.write_text(
        "from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook\n"
        "from airflow.providers.amazon.aws.hooks.sns import SnsHook\n"
        "def certificates(conn_id):\n"
        "    acm = AwsBaseHook(aws_conn_id=conn_id, client_type='acm').get_conn()\n"
        "    for page in acm.get_paginator('list_certificates').paginate():\n"
        "        pass\n"
        "    return acm.get_certificate(CertificateArn='x')\n"
        "def distributions(cloudfront_client, sns_client):\n"
        "    cloudfront_client.list_tags_for_resource(Resource='x')\n"
        "    cloudfront_client.get_waiter('distribution_deployed').wait(Id='x')\n"
        "    sns_client.list_tags_for_resource(ResourceArn='x')\n"
        "async def wait(hook):\n"
        "    async with await hook.get_async_conn() as c:\n"
        "        await c.delete_certificate(CertificateArn='x')\n"
        "def tell(conn_id):\n"
        "    SnsHook(aws_conn_id=conn_id).publish_to_target(target_arn='t', message='m')\n"
    )
    found = {(call.service, call.method) for call in scan_file(source)}
    assert found == {
        ("acm", "list_certificates"),
        ("acm", "get_certificate"),
        ("cloudfront", "list_tags_for_resource"),
        ("cloudfront", "get_distribution"),
        ("sns", "list_tags_for_resource"),
        ("acm", "delete_certificate"),
        ("sns", "publish"),
    }
