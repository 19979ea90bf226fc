"""The fleet file and the fleet's plan: which sites the account should hold, and what to do about it.

The fleet file (YAML) lists *sites*, each a stable id and the names it serves, with create-job keys as
``defaults`` and per-site overrides. :func:`read_fleet_text` reads it into :class:`FleetSite` entries,
refusing it with every problem at once, each with its line (:class:`FleetFileError`). The account's
sites (:class:`AccountSite`, read by :mod:`cloudfront_ssl.aws.fleet_sites` through the tag
``cloudfront-ssl:site``) are compared with the file by :func:`plan_fleet`: each site is created,
changed, removed or kept, and drift (a site changed outside the file) is said so. :func:`plan_text`
writes the plan as a person reads it in a log.

Pure: no AWS, no Airflow. The YAML is composed into a node tree (so every value keeps its line) and
walked under a budget, so that a hostile file (huge, an anchors-and-aliases bomb, nested without end,
not UTF-8) is refused in words, never with a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from cloudfront_ssl.errors import JobInputError
from cloudfront_ssl.rules.config import CreateJobConfig, UpdateSiteConfig, site_id_problem
from cloudfront_ssl.rules.messages import quote_input
from cloudfront_ssl.rules.names import InvalidNameError, normalize_item
from cloudfront_ssl.rules.tags import SITE_TAG
from cloudfront_ssl.vocabulary import CLEANUP_DAG_ID, CREATE_DAG_ID, UPDATE_DAG_ID

__all__ = [
    "SITE_TAG",
    "AccountSite",
    "Action",
    "FleetFileError",
    "FleetFileProblem",
    "FleetSite",
    "PlannedSite",
    "decode_fleet_file",
    "needs_approval",
    "plan_counts",
    "plan_fleet",
    "plan_text",
    "read_fleet_text",
]

MAX_FILE_BYTES = 10_000_000
"""A fleet file larger than this is refused before it is parsed (2,000 sites take about 150 kB)."""
MAX_SITES = 10_000
"""At most this many sites in one file (AWS's default quota of distribution tenants per account)."""
VALUES_PER_CHARACTER = 10
EXTRA_VALUES = 10_000
"""A file's values, counting each use of an alias again, may number at most ten per character of the
file, plus this. Written out plainly every value takes at least one character, and anchors that share a
block among sites (``<<: *common``) stay far below; only aliases that multiply the file (a "billion
laughs") go beyond, and they are stopped within that budget, in a moment."""
MAX_DEPTH = 50
"""At most this deep a nesting of lists and mappings (a create-job conf needs three)."""
MAX_SHOWN_PROBLEMS = 200
"""The error's text lists at most this many problems (the exception holds them all)."""

TOP_KEYS = ("defaults", "sites")
SITE_KEYS = ("site", "names")
NOT_IN_DEFAULTS = {
    "certificates": "certificates is not a fleet key: each site's names make its one certificate",
    "site": "site is given per site, in the sites list",
    "names": "names are given per site, in the sites list",
}
SITE_DEFAULT_HOSTING = "distribution"
"""The create job's ``hosting`` when the file does not say."""


# --- the file --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetSite:
    """One site of the fleet file, defaults applied.

    :param site: the site's id, unique in the file.
    :param names: its names, normalised as the create job does (the certificate's subject first).
    :param conf: the create-job conf that makes it: the defaults, its overrides, ``certificates`` (one
        line with every name) and ``site``.
    :param line: the entry's first line in the file (1-based).
    """

    site: str
    names: tuple[str, ...]
    conf: dict[str, Any]
    line: int

    @property
    def hosting(self) -> str:
        """``distribution`` or ``tenant``: what the site is in the account."""
        return str(self.conf.get("hosting") or SITE_DEFAULT_HOSTING)


@dataclass(frozen=True)
class FleetFileProblem:
    """One problem of a fleet file: its line (None when the whole file is meant) and what is wrong,
    naming the site (when known) and the key."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class FleetFileError(JobInputError):
    """The fleet file is refused; ``problems`` holds every problem, the text one per line, by line."""

    def __init__(self, problems: Sequence[FleetFileProblem]) -> None:
        self.problems = sorted(problems, key=lambda problem: (problem.line or 0, problem.message))
        shown = [str(problem) for problem in self.problems[:MAX_SHOWN_PROBLEMS]]
        if len(self.problems) > MAX_SHOWN_PROBLEMS:
            shown.append(f"... and {len(self.problems) - MAX_SHOWN_PROBLEMS} more problems")
        count = len(self.problems)
        header = f"the fleet file has {count} problem{'s' if count != 1 else ''}; nothing was changed:"
        super().__init__("\n".join([header, *shown]))


def decode_fleet_file(data: bytes, where: str = "the fleet file") -> str:
    """The text of a fleet file read as bytes; :class:`FleetFileError` when it is too large or not UTF-8
    (naming the line of the first byte that is not)."""
    if len(data) > MAX_FILE_BYTES:
        raise FleetFileError(
            [
                FleetFileProblem(
                    None,
                    f"{where} is {len(data):,} bytes; a fleet file may hold at most {MAX_FILE_BYTES:,}",
                )
            ]
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise FleetFileError(
            [
                FleetFileProblem(
                    line,
                    f"{where} is not UTF-8 text (byte 0x{data[error.start]:02x}); save it as UTF-8",
                )
            ]
        ) from None


class _Problems:
    """The problems found so far, and the walk's budget of values."""

    def __init__(self, budget: int = EXTRA_VALUES) -> None:
        self.items: list[FleetFileProblem] = []
        self.values = 0
        self.budget = budget
        self.constructor = yaml.constructor.SafeConstructor()

    def add(self, line: int | None, message: str) -> None:
        self.items.append(FleetFileProblem(line, message))


class _TooLarge(Exception):
    """The file's values (aliases counted at each use) or nesting are beyond the walk's budget."""


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == "tag:yaml.org,2002:null":
        return "empty"
    return f"the value {quote_input(node.value)}"


def _pairs(
    node: yaml.MappingNode, problems: _Problems, where: str, depth: int = 0
) -> Iterator[tuple[str, yaml.Node, int]]:
    """The mapping's ``(key, value node, line)``, merge keys (``<<``) applied; a key given twice, or a
    key that is not a plain string, is a problem. Merged mappings count against the walk's budget."""
    seen: dict[str, int] = {}
    merged: list[tuple[str, yaml.Node, int]] = []
    if depth > MAX_DEPTH:
        raise _TooLarge
    for key_node, value_node in node.value:
        problems.values += 1
        if problems.values > problems.budget:
            raise _TooLarge
        if key_node.tag == "tag:yaml.org,2002:merge":
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                if isinstance(source, yaml.MappingNode):
                    merged += list(_pairs(source, problems, where, depth + 1))
                else:
                    problems.add(_line(key_node), f"{where}: << merges a mapping, not {_kind(source)}")
            continue
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
            problems.add(_line(key_node), f"{where}: a key must be a word, not {_kind(key_node)}")
            continue
        key = key_node.value
        if key in seen:
            problems.add(
                _line(key_node), f"{where}: {key} is given twice (lines {seen[key]} and {_line(key_node)})"
            )
            continue
        seen[key] = _line(key_node)
        yield key, value_node, _line(key_node)
    for key, value, line in merged:
        if key not in seen:  # a key written out wins over a merged one, as in YAML
            seen[key] = line
            yield key, value, line


def _value(node: yaml.Node, problems: _Problems, depth: int = 0) -> Any:
    """The Python value of a node (YAML's safe types), counted against the budget.

    An alias is the anchored node itself, so a bomb of aliases is walked, and counted, at each use:
    the budget stops it long before it costs memory or time.
    """
    problems.values += 1
    if problems.values > problems.budget or depth > MAX_DEPTH:
        raise _TooLarge
    if isinstance(node, yaml.SequenceNode):
        return [_value(item, problems, depth + 1) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _value(key_node, problems, depth + 1)
            if key_node.tag == "tag:yaml.org,2002:merge" and isinstance(value_node, yaml.MappingNode):
                for merged_key, merged_value in _value(value_node, problems, depth + 1).items():
                    result.setdefault(merged_key, merged_value)
                continue
            result[key if isinstance(key, str | int | float | bool) or key is None else str(key)] = _value(
                value_node, problems, depth + 1
            )
        return result
    if node.tag == "tag:yaml.org,2002:str":
        return node.value
    # true, 12, null...: as YAML's safe loader reads them.
    return problems.constructor.construct_object(node, deep=True)


def _compose(text: str, problems: _Problems) -> yaml.Node | None:
    """The file's node tree (None when empty), or None with the YAML error as a problem."""
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.compose(text, Loader=loader_class)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = int(mark.line) + 1 if mark is not None else None
        said = " ".join(part for part in (error.context, error.problem) if part)
        lines = text.splitlines()
        if line is not None and 0 < line <= len(lines) and "\t" in lines[line - 1]:
            said += " (the line holds a tab: YAML indents with spaces, never tabs)"
        problems.add(line, f"the file is not valid YAML: {said}")
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1
        problems.add(line, f"the file holds a character YAML does not allow ({error.reason})")
    except yaml.YAMLError as error:
        problems.add(None, f"the file is not valid YAML: {error}")
    except RecursionError:
        problems.add(None, f"the file nests lists or mappings too deeply (at most {MAX_DEPTH} levels)")
    return None


@dataclass
class _Entry:
    """One ``sites`` entry as read: its id, names, overrides (key -> value, line) and line."""

    line: int
    site: str | None = None
    site_line: int = 0
    names: list[str] | None = None
    names_line: int = 0
    overrides: dict[str, tuple[Any, int]] = field(default_factory=dict)


def _field_of(problem: Mapping[str, Any]) -> str | None:
    loc = problem.get("loc") or ()
    return str(loc[0]) if loc else None


def _message(problem: Mapping[str, Any]) -> str:
    """One pydantic problem in the create job's words (as :func:`cloudfront_ssl.rules.config.describe_error`)."""
    where = ""
    for part in problem["loc"]:
        if isinstance(part, int):
            where += f"[{part}]"
        elif part in ("str", "list[str]") or str(part).startswith("function-"):
            continue
        else:
            where += ("." if where else "") + str(part)
    message = str(problem["msg"]).removeprefix("Value error, ")
    if problem["type"] == "extra_forbidden":
        message = "is not a key of the create job, nor of a fleet site (check the spelling)"
    return f"{where}: {message}" if where else message


def _read_defaults(node: yaml.Node, problems: _Problems) -> dict[str, tuple[Any, int]]:
    """The ``defaults`` mapping: key -> (value, line); each bad key or value is a problem."""
    if node.tag == "tag:yaml.org,2002:null":
        return {}
    if not isinstance(node, yaml.MappingNode):
        problems.add(_line(node), f"defaults must be a mapping of create-job keys, not {_kind(node)}")
        return {}
    defaults: dict[str, tuple[Any, int]] = {}
    for key, value_node, line in _pairs(node, problems, "defaults"):
        if key in NOT_IN_DEFAULTS:
            problems.add(line, f"defaults: {NOT_IN_DEFAULTS[key]}")
            continue
        defaults[key] = (_value(value_node, problems), line)
    values = {key: value for key, (value, _) in defaults.items()}
    # Validated on their own with the create job's model (a stand-in certificate, which the model
    # needs): a bad key or value is reported once, at its line in defaults, not once per site. It
    # stays in the defaults, so that each site's validation meets it again and says nothing more.
    try:
        CreateJobConfig.model_validate({"certificates": ["example.com"], **values})
    except ValidationError as error:
        for problem in error.errors():
            name = _field_of(problem)
            if name in defaults:
                problems.add(defaults[name][1], f"defaults: {_message(problem)}")
    return defaults


def _read_entry(index: int, node: yaml.Node, problems: _Problems) -> _Entry | None:
    """One ``sites`` entry; None when it is not a mapping."""
    where = f"sites[{index}]"
    if not isinstance(node, yaml.MappingNode):
        problems.add(_line(node), f"{where}: a site is a mapping (site: ..., names: ...), not {_kind(node)}")
        return None
    entry = _Entry(line=_line(node))
    ids = [
        value.value
        for key, value in node.value
        if isinstance(key, yaml.ScalarNode) and key.value == "site" and isinstance(value, yaml.ScalarNode)
    ]
    if len(ids) == 1 and not site_id_problem(ids[0]):
        where = f"site {ids[0]}"  # the entry's problems name it by its id once it has a good one
    for key, value_node, line in _pairs(node, problems, where):
        if key == "site":
            entry.site_line = line
            if isinstance(value_node, yaml.ScalarNode) and value_node.tag != "tag:yaml.org,2002:null":
                # The text as written, so that `site: 2024` is the site "2024".
                problem = site_id_problem(value_node.value)
                if problem:
                    problems.add(line, f"{where}: site: {problem}")
                entry.site = value_node.value
            else:
                problems.add(
                    line,
                    f"{where}: site must be an id (1 to 63 lower-case letters, digits and hyphens), not {_kind(value_node)}",
                )
        elif key == "names":
            entry.names_line = line
            value = _value(value_node, problems)
            if isinstance(value, str) or (
                isinstance(value, list) and all(isinstance(item, str) for item in value)
            ):
                entry.names = [value] if isinstance(value, str) else value
            else:
                problems.add(
                    line,
                    f"{where}: names must be a list of names or one string of names separated by commas "
                    f"or spaces, not {_kind(value_node)}",
                )
                entry.names = []
        elif key == "certificates":
            problems.add(line, f"{where}: {NOT_IN_DEFAULTS['certificates']}")
        else:
            entry.overrides[key] = (_value(value_node, problems), line)
    return entry


def _site_label(entry: _Entry, index: int) -> str:
    return f"site {entry.site}" if entry.site and not site_id_problem(entry.site) else f"sites[{index}]"


def _site_conf(
    entry: _Entry,
    index: int,
    names: list[str],
    defaults: dict[str, tuple[Any, int]],
    problems: _Problems,
    whole: dict[str, list[tuple[str, int]]],
) -> dict[str, Any] | None:
    """The create-job conf of one site, validated with the create job's model; None when refused."""
    label = _site_label(entry, index)
    conf: dict[str, Any] = {key: value for key, (value, _) in defaults.items()}
    conf.update({key: value for key, (value, _) in entry.overrides.items()})
    conf["certificates"] = [", ".join(names)]
    conf["site"] = entry.site if entry.site and not site_id_problem(entry.site) else None
    try:
        CreateJobConfig.model_validate(conf)
    except ValidationError as error:
        for problem in error.errors():
            name = _field_of(problem)
            if name in entry.overrides:
                problems.add(entry.overrides[name][1], f"{label}: {_message(problem)}")
            elif name in defaults:
                continue  # reported once, at its line in defaults
            else:
                # A rule of the whole conf (a key that needs another): gathered, so that a rule
                # that the defaults break for every site is said once.
                whole.setdefault(_message(problem), []).append((label, entry.line))
        return None
    return conf


def read_fleet_text(text: str) -> list[FleetSite]:
    """Read a fleet file's text into its sites, in the file's order.

    Raises :class:`FleetFileError` with every problem of the file at once, each with its line: YAML
    that does not parse, an empty file or one that is not a mapping, unknown keys, values of the wrong
    type, a bad create-job key or value (in the create job's own words), a site id that is invalid or
    given twice (naming both lines), a name that is invalid or in two sites (naming both).
    """
    problems = _Problems(budget=VALUES_PER_CHARACTER * len(text) + EXTRA_VALUES)
    if len(text) > MAX_FILE_BYTES:
        raise FleetFileError(
            [
                FleetFileProblem(
                    None, f"the fleet file holds {len(text):,} characters; at most {MAX_FILE_BYTES:,}"
                )
            ]
        )
    root = _compose(text, problems)
    if problems.items:
        raise FleetFileError(problems.items)
    try:
        sites = _read_root(root, problems)
    except _TooLarge:
        problems.items = [
            FleetFileProblem(
                None,
                f"the fleet file's anchors and aliases expand to more than {problems.budget:,} values (far "
                f"more than the file holds), or nest them more than {MAX_DEPTH} deep; write it out plainly",
            )
        ]
    except RecursionError:
        problems.items = [
            FleetFileProblem(None, f"the fleet file nests too deeply (at most {MAX_DEPTH} levels)")
        ]
    if problems.items:
        raise FleetFileError(problems.items)
    return sites


def _read_root(root: yaml.Node | None, problems: _Problems) -> list[FleetSite]:
    """The sites of the composed file; problems are added, not raised."""
    if root is None or root.tag == "tag:yaml.org,2002:null":
        problems.add(None, "the fleet file is empty: it needs a sites list (and, optionally, defaults)")
        return []
    if not isinstance(root, yaml.MappingNode):
        problems.add(
            _line(root), f"the fleet file must be a mapping with defaults and sites, not {_kind(root)}"
        )
        return []
    defaults_node: yaml.Node | None = None
    sites_node: yaml.Node | None = None
    for key, value_node, line in _pairs(root, problems, "the file"):
        if key == "defaults":
            defaults_node = value_node
        elif key == "sites":
            sites_node = value_node
        else:
            problems.add(line, f"{key} is not a key of the fleet file (it takes {' and '.join(TOP_KEYS)})")
    defaults = _read_defaults(defaults_node, problems) if defaults_node is not None else {}
    if sites_node is None:
        problems.add(None, "the fleet file has no sites list: give sites, one entry per site")
        return []
    if sites_node.tag == "tag:yaml.org,2002:null":
        problems.add(_line(sites_node), "sites is empty: give at least one site")
        return []
    if not isinstance(sites_node, yaml.SequenceNode):
        problems.add(_line(sites_node), f"sites must be a list of sites, not {_kind(sites_node)}")
        return []
    if len(sites_node.value) > MAX_SITES:
        problems.add(
            _line(sites_node),
            f"sites holds {len(sites_node.value):,} sites; a fleet file takes at most {MAX_SITES:,}",
        )
        return []
    if not sites_node.value:
        problems.add(_line(sites_node), "sites is empty: give at least one site")
        return []

    entries = [(index, _read_entry(index, node, problems)) for index, node in enumerate(sites_node.value)]
    first_of_site: dict[str, int] = {}
    owner_of_name: dict[str, tuple[str, int]] = {}
    whole: dict[str, list[tuple[str, int]]] = {}
    sites: list[FleetSite] = []
    for index, entry in entries:
        if entry is None:
            continue
        label = _site_label(entry, index)
        if entry.site is None and not entry.site_line:
            problems.add(entry.line, f"sites[{index}]: give its site id (site: ...)")
        elif entry.site is not None:
            if entry.site in first_of_site:
                problems.add(
                    entry.site_line,
                    f"site {entry.site} is given twice (lines {first_of_site[entry.site]} and {entry.site_line}): "
                    "a site id is unique in the file",
                )
            else:
                first_of_site[entry.site] = entry.site_line
        if entry.names is None:
            problems.add(entry.line, f"{label}: give its names (names: [...])")
            continue
        try:
            names = normalize_item(entry.names, f"{label}: names")
        except InvalidNameError as refusal:
            if entry.names:
                problems.add(entry.names_line, str(refusal))
            continue
        for name in names:
            if name in owner_of_name and owner_of_name[name][0] != label:
                other, other_line = owner_of_name[name]
                problems.add(
                    entry.names_line,
                    f"{label}: {name} is also a name of {other} (line {other_line}); a name belongs to one site",
                )
            else:
                owner_of_name.setdefault(name, (label, entry.names_line))
        conf = _site_conf(entry, index, names, defaults, problems, whole)
        if conf is not None and entry.site is not None and not site_id_problem(entry.site):
            sites.append(FleetSite(site=entry.site, names=tuple(names), conf=conf, line=entry.line))
    for message, where in whole.items():
        label, line = where[0]
        if len(where) == 1:
            problems.add(line, f"{label}: {message}")
            continue
        lines = ", ".join(str(other) for _, other in where[1:6]) + (", ..." if len(where) > 6 else "")
        problems.add(
            line,
            f"{label} and {len(where) - 1} other site{'s' if len(where) > 2 else ''} "
            f"(line{'s' if len(where) > 2 else ''} {lines}): {message}"
            " (set it in defaults or in each site)",
        )
    return sites


# --- the account and the plan ----------------------------------------------------------------------


@dataclass(frozen=True)
class AccountSite:
    """What the account holds for one site id (found by its tag ``cloudfront-ssl:site``).

    :param site: the site's id.
    :param hosting: ``distribution`` or ``tenant``.
    :param resource_id: the distribution's or the tenant's id.
    :param resource_arn: its ARN.
    :param names: its aliases (a distribution) or domains (a tenant), lower-case.
    :param certificate_arn: the ACM certificate it serves now (None: CloudFront's default certificate,
        or a managed one).
    :param site_certificate: whether that certificate is the site's own: the one a job of the package
        gave it (the site's tag ``cloudfront-ssl:site-certificate`` names it), or one that carries this
        site's tag; False means it was replaced outside the file.
    :param job: ``{"dag_id", "run_id"}`` of the job that made the resource, from its tags.
    :param names_changed: its names are not the ones a job of the package gave it (the digest in its
        tag ``cloudfront-ssl:site-names`` does not match them): they were changed outside the file.
    :param managed_certificate: a tenant whose certificate CloudFront manages (no ACM certificate to check).
    """

    site: str
    hosting: Literal["distribution", "tenant"]
    resource_id: str
    resource_arn: str
    names: tuple[str, ...]
    certificate_arn: str | None
    site_certificate: bool
    job: dict[str, str] | None
    names_changed: bool = False
    managed_certificate: bool = False


Action = Literal["create", "change", "remove", "keep"]


@dataclass(frozen=True)
class PlannedSite:
    """What the plan does with one site.

    :param apply: whether applying the plan starts ``job`` (False: only reported: a remove without
        ``fleet_remove``, a changed hosting; a keep is never applied).
    :param drift: the site was changed outside the file (its names or its certificate).
    :param reasons: why, in words, for the log and the page.
    :param names_before: what the account serves (empty for a create).
    :param names_after: what the file says (empty for a remove).
    :param line: the site's line in the file (None for a remove).
    :param job: ``{"dag_id", "conf"}`` of the job that applies it, or None.
    :param after: the sites whose jobs must end first: they free a name this site takes (CloudFront
        serves a name on one distribution or tenant only). Applying starts this site's job once
        theirs have succeeded.
    """

    site: str
    action: Action
    apply: bool
    drift: bool
    reasons: tuple[str, ...]
    names_before: tuple[str, ...]
    names_after: tuple[str, ...]
    line: int | None
    job: dict[str, Any] | None
    after: tuple[str, ...] = ()


UPDATE_KEYS = tuple(
    name
    for name in UpdateSiteConfig.model_fields
    if name not in ("distribution_id", "names", "certificate_arn", "site")
)
"""The create-job keys a site's conf passes on to ``ssl_update_site`` (same meaning in both jobs)."""
REMOVE_SETTING = "[ssl_certificates] fleet_remove"


def certificate_drift(account: AccountSite) -> bool:
    """Whether the certificate the site serves was replaced outside the file (it does not carry the
    site's tag); a managed certificate is CloudFront's and is never drift."""
    return not account.managed_certificate and not account.site_certificate


def update_conf(wanted: FleetSite, account: AccountSite) -> dict[str, Any]:
    """The ``ssl_update_site`` conf that gives the site the file's names and a certificate of its own
    (requested for them, tagged with the site)."""
    target = "tenant_id" if account.hosting == "tenant" else "distribution_id"
    conf: dict[str, Any] = {target: account.resource_id, "names": list(wanted.names), "site": wanted.site}
    conf.update({key: value for key, value in wanted.conf.items() if key in UPDATE_KEYS})
    return conf


def _plan_one(wanted: FleetSite, account: AccountSite | None) -> PlannedSite:
    names_after = wanted.names
    if account is None:
        return PlannedSite(
            site=wanted.site,
            action="create",
            apply=True,
            drift=False,
            reasons=(f"no {wanted.hosting} in the account carries the tag {SITE_TAG}={wanted.site}",),
            names_before=(),
            names_after=names_after,
            line=wanted.line,
            job={"dag_id": CREATE_DAG_ID, "conf": dict(wanted.conf)},
        )
    before = account.names
    reasons: list[str] = []
    if account.hosting != wanted.hosting:
        reasons.append(
            f"hosting: the file says {wanted.hosting}, the account holds a {account.hosting} "
            f"({account.resource_id}); moving a live site between a distribution and a tenant is left to a "
            "person: not applied"
        )
        return PlannedSite(
            site=wanted.site,
            action="change",
            apply=False,
            drift=False,
            reasons=tuple(reasons),
            names_before=before,
            names_after=names_after,
            line=wanted.line,
            job=None,
        )
    differ = set(before) != set(names_after)
    drift_names = account.names_changed
    drift_certificate = certificate_drift(account)
    if differ:
        added = [name for name in names_after if name not in before]
        removed = [name for name in before if name not in names_after]
        said = "; ".join(
            part
            for part in (
                f"adds {', '.join(added)}" if added else "",
                f"removes {', '.join(removed)}" if removed else "",
            )
            if part
        )
        if drift_names:
            reasons.append(f"names changed outside the file (the account serves {', '.join(before)}): {said}")
        else:
            reasons.append(f"names differ from the file: {said}")
    if drift_certificate:
        served = account.certificate_arn or "CloudFront's default certificate"
        reasons.append(
            f"certificate changed outside the file: {served} does not carry the tag {SITE_TAG}={wanted.site}; "
            "a certificate of the site's own is requested for its names"
        )
    if not reasons:
        return PlannedSite(
            site=wanted.site,
            action="keep",
            apply=False,
            drift=False,
            reasons=("serves the file's names with a certificate of its own",),
            names_before=before,
            names_after=names_after,
            line=wanted.line,
            job=None,
        )
    return PlannedSite(
        site=wanted.site,
        action="change",
        apply=True,
        drift=(differ and drift_names) or drift_certificate,
        reasons=tuple(reasons),
        names_before=before,
        names_after=names_after,
        line=wanted.line,
        job={"dag_id": UPDATE_DAG_ID, "conf": update_conf(wanted, account)},
    )


def plan_fleet(
    sites: list[FleetSite],
    account: Mapping[str, AccountSite],
    *,
    remove: bool,
    aws_conn_id: str | None = None,
) -> list[PlannedSite]:
    """The plan: one entry per site of the file (in its order), then one per site of the account that
    the file no longer has (by id).

    - ``create``: no site of that id in the account (``ssl_create_certificates`` with the site's conf);
    - ``change``: its names differ from the file, or its names or certificate were changed outside
      the file (``drift``): ``ssl_update_site`` with the file's names and the site. A changed
      ``hosting`` is a change that is reported, never applied;
    - ``remove``: in the account, not in the file: ``ssl_cleanup_job`` for the site, applied only
      with ``remove`` (``[ssl_certificates] fleet_remove``), otherwise reported;
    - ``keep``: nothing to do.

    :param aws_conn_id: the connection the remove jobs use (the create and update jobs take it from the
        site's conf); None leaves it to the clean-up job's default.
    """
    plan = [_plan_one(wanted, account.get(wanted.site)) for wanted in sites]
    in_file = {wanted.site for wanted in sites}
    for site_id in sorted(set(account) - in_file):
        held = account[site_id]
        target = "tenant_id" if held.hosting == "tenant" else "distribution_id"
        conf: dict[str, Any] = {target: held.resource_id, "dry_run": False}
        if aws_conn_id:
            conf["aws_conn_id"] = aws_conn_id
        reasons = [
            f"{held.hosting} {held.resource_id} carries the site's tag but the file no longer lists the site"
        ]
        if not remove:
            reasons.append(f"not removed: {REMOVE_SETTING} is false; set it to true to remove such sites")
        plan.append(
            PlannedSite(
                site=site_id,
                action="remove",
                apply=remove,
                drift=False,
                reasons=tuple(reasons),
                names_before=held.names,
                names_after=(),
                line=None,
                job={"dag_id": CLEANUP_DAG_ID, "conf": conf},
            )
        )
    return _order_moved_names(plan)


def _order_moved_names(plan: list[PlannedSite]) -> list[PlannedSite]:
    """Mark each site that takes a name another site of the account serves now: it goes ``after`` that
    site's job, which frees the name; or, when that site keeps the name (a removal not applied), it is
    not applied, and the reason says which site holds the name."""
    by_site = {entry.site: entry for entry in plan}
    holder = {name: entry.site for entry in plan for name in entry.names_before}
    ordered: list[PlannedSite] = []
    for entry in plan:
        if not entry.apply:
            ordered.append(entry)
            continue
        after: list[str] = []
        blocked: list[str] = []
        for name in entry.names_after:
            other = holder.get(name)
            if other is None or other == entry.site:
                continue
            freeing = by_site[other]
            if freeing.apply and name not in freeing.names_after:
                if other not in after:
                    after.append(other)
            else:
                blocked.append(
                    f"{name} is served by site {other}, which is not changed: it frees the name only once that is applied"
                )
        if blocked:
            entry = replace(entry, apply=False, reasons=(*entry.reasons, *blocked), after=())
        elif after:
            entry = replace(entry, after=tuple(after))
        ordered.append(entry)
    return ordered


def needs_approval(plan: list[PlannedSite]) -> bool:
    """Whether applying the plan changes anything (anything with ``apply``): only then may it wait for
    a person's approval."""
    return any(entry.apply for entry in plan)


def plan_counts(plan: list[PlannedSite]) -> dict[str, int]:
    """How many sites the plan creates, changes, removes, keeps; how many are drift; how many are only
    reported (not applied)."""
    counts = {"create": 0, "change": 0, "remove": 0, "keep": 0, "drift": 0, "reported": 0}
    for entry in plan:
        if entry.action == "keep":
            counts["keep"] += 1
        elif entry.apply:
            counts[entry.action] += 1
        else:
            counts["reported"] += 1
        counts["drift"] += entry.drift
    return counts


_SYMBOLS = {"create": "+", "change": "~", "remove": "-"}


def plan_text(plan: list[PlannedSite]) -> str:
    """The plan as a person reads it in a log, like a Terraform plan: ``+`` create, ``~`` change, ``-``
    remove, each with the names it adds and removes and the reasons; unchanged sites are only counted.
    Ends with the count line."""
    lines: list[str] = []
    for entry in plan:
        if entry.action == "keep":
            continue
        where = f" (line {entry.line})" if entry.line else ""
        flags = [
            flag for flag, on in (("drift", entry.drift), ("reported, not applied", not entry.apply)) if on
        ]
        if entry.after:
            flags.append(f"after {', '.join(entry.after)}")
        shown = f" [{', '.join(flags)}]" if flags else ""
        lines.append(f"  {_SYMBOLS[entry.action]} {entry.action} {entry.site}{where}{shown}")
        for name in entry.names_after:
            if name not in entry.names_before:
                lines.append(f"      + {name}")
        for name in entry.names_before:
            if name not in entry.names_after:
                lines.append(f"      - {name}")
        if entry.action == "change":
            kept = [name for name in entry.names_after if name in entry.names_before]
            if kept:
                lines.append(f"        keeps {', '.join(kept)}")
        lines += [f"      # {reason}" for reason in entry.reasons]
    counts = plan_counts(plan)
    summary = (
        f"Plan: {counts['create']} to create, {counts['change']} to change, {counts['remove']} to remove, "
        f"{counts['keep']} unchanged"
    )
    extras = []
    if counts["drift"]:
        extras.append(f"{counts['drift']} changed outside the file")
    if counts["reported"]:
        extras.append(f"{counts['reported']} reported, not applied")
    if extras:
        summary += f" ({'; '.join(extras)})"
    if not lines:
        lines.append("  No changes: the account serves every site as the file says.")
    return "\n".join([*lines, summary + "."])
