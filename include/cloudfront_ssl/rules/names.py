"""Domain-name rules of a job: normalising, validating, wildcard coverage, aggregation.

Pure functions, no AWS and no Airflow: the create job's *check* step and the tests call them directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import idna

from cloudfront_ssl.rules.messages import quote_input

MAX_NAMES_PER_CERTIFICATE = 10
"""ACM's default quota of domain names per requested certificate."""
MAX_NAMES_PER_SITE = 100
"""CloudFront's quota of aliases per distribution: the names one site may serve (with a certificate
that covers them, such as a wildcard, or names a requested certificate's wildcards cover)."""
MAX_SUBJECT_LENGTH = 64
"""ACM puts the first name in the certificate's subject (CN), which is limited to 64 characters."""
MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63

_SEPARATORS = re.compile(r"[\s,]+")
_LABEL_SEPARATORS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
"""IDNA's other full stops (RFC 3490, 3.1): the ideographic, fullwidth and halfwidth ideographic ones."""


class InvalidNameError(ValueError):
    """A domain name or a certificate item breaks a rule of this module.

    The message names the conf field and the item (``certificates[2]``) so that a user can find it.
    """


def split_names(item: str | Sequence[str]) -> list[str]:
    """Return the raw names of one ``certificates`` item.

    An item is either a list of names or one string of names separated by commas and/or whitespace
    (the trigger form's textarea gives one string per line).
    """
    raw = list(item) if isinstance(item, list | tuple) else [item]
    names: list[str] = []
    for part in raw:
        if not isinstance(part, str):
            raise InvalidNameError(f"expected a domain name (text), got {quote_input(part)}")
        names.extend(piece for piece in _SEPARATORS.split(part) if piece)
    return names


LABEL_RULE = "a label takes letters, digits and hyphens (a hyphen not first or last), 1 to 63 of them"
"""The name rule in words, as every refusal of a label says it."""
NAME_RULE = "a name is labels joined by dots, at least two (like example.com), optionally after '*.'"


def _not_a_bare_name(name: str, shown: str) -> str | None:
    """Why ``name`` is something else than a domain name (a URL, an e-mail address, a port), or None."""
    from urllib.parse import urlsplit

    if "://" in name:
        host = urlsplit(name).hostname or ""
        hint = f" ({host})" if host else ""
        return f"{shown} is a URL: give the domain name alone{hint}"
    if "@" in name:
        return f"{shown} is an e-mail address: give the domain name alone ({name.rsplit('@', 1)[1]})"
    host, colon, port = name.rpartition(":")
    if colon and port.isdigit() and host:
        return f"{shown} has a port (:{port}): give the domain name alone ({host})"
    if "/" in name:
        return f"{shown} holds a path ('/'): give the domain name alone ({name.split('/', 1)[0]})"
    return None


def _label_problem(label: str) -> str | None:
    """What is wrong with one ASCII label, in words, or None."""
    if len(label) > MAX_LABEL_LENGTH:
        return f"has a label of {len(label)} characters ({label[:20]}...): {LABEL_RULE}"
    bad = sorted({ch for ch in label if not (ch.isascii() and (ch.isalnum() or ch == "-"))})
    if bad:
        quoted = ["a space" if ch == " " else repr(ch) for ch in bad]
        shown = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
        return f"has {shown} in the label {label!r}: {LABEL_RULE}"
    if label.startswith("-") or label.endswith("-"):
        where = "starts" if label.startswith("-") else "ends"
        return f"has the label {label!r}, which {where} with a hyphen: {LABEL_RULE}"
    return None


def normalize_name(name: str) -> str:
    """Trim, lower-case, drop one trailing dot and convert an internationalised name to punycode.

    Raises :class:`InvalidNameError` with the reason in words when the result is not a valid
    certificate name: labels of 1..63 letters, digits and inner hyphens, at most 253 characters, at
    least two labels after an optional leading ``*.`` (wildcard), and no other ``*``. A URL, an e-mail
    address or a name with a port is named as such, with the name it holds.
    """
    shown = quote_input(name)
    name = name.strip().lower().translate(_LABEL_SEPARATORS)
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise InvalidNameError(f"{shown} is empty: {NAME_RULE}")
    other = _not_a_bare_name(name, shown)
    if other:
        raise InvalidNameError(other)
    wildcard = name.startswith("*.")
    base = name[2:] if wildcard else name
    if "*" in base:
        raise InvalidNameError(
            f"{shown}: a wildcard is allowed only once, as the whole first label ('*.example.com')"
        )
    labels = base.split(".")
    if any(label == "" for label in labels):
        where = "a dot at the start" if base.startswith(".") else "two dots in a row"
        if base.endswith("."):
            where = "two dots at the end"
        raise InvalidNameError(f"{shown} has an empty label ({where}): {NAME_RULE}")
    if not base.isascii():
        try:
            labels = [idna.encode(label, uts46=True).decode("ascii") for label in labels]
        except idna.IDNAError as error:
            raise InvalidNameError(f"{shown} is not a valid internationalised name: {error}") from None
    if len(labels) < 2:
        if wildcard:
            raise InvalidNameError(
                f"{shown}: a wildcard needs a name of at least two labels after '*.' (like *.example.com)"
            )
        raise InvalidNameError(f"{shown} has one label only: {NAME_RULE}")
    for label in labels:
        problem = _label_problem(label)
        if problem:
            raise InvalidNameError(f"{shown} {problem}")
    if labels[-1].isdigit():
        raise InvalidNameError(f"{shown}: the last label is all digits; an IP address is not a domain name")
    result = ("*." if wildcard else "") + ".".join(labels)
    if len(result) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"{shown} is {len(result)} characters long: a name takes at most {MAX_NAME_LENGTH}"
        )
    return result


def covers(certificate_name: str, name: str) -> bool:
    """Whether a certificate for ``certificate_name`` is valid for ``name``.

    Equal names cover each other; a wildcard ``*.example.com`` covers exactly one more label:
    ``a.example.com``, but not ``example.com`` and not ``a.b.example.com``. Case-insensitive.
    """
    certificate_name = certificate_name.strip().lower().rstrip(".")
    name = name.strip().lower().rstrip(".")
    if not certificate_name or not name:
        return False
    if certificate_name == name:
        return True
    if not certificate_name.startswith("*."):
        return False
    first, _, rest = name.partition(".")
    return bool(first) and first != "*" and rest == certificate_name[2:]


def order_for_subject(names: Sequence[str]) -> list[str]:
    """Put a name of at most 64 characters first, as ACM needs for the certificate's subject.

    Keeps the user's order when the first name fits; otherwise moves the first name that fits to the
    front. Raises :class:`InvalidNameError` when no name fits.
    """
    for position, name in enumerate(names):
        if len(name) <= MAX_SUBJECT_LENGTH:
            return [name, *names[:position], *names[position + 1 :]]
    raise InvalidNameError(
        f"no name is at most {MAX_SUBJECT_LENGTH} characters long, so none can be the certificate's subject"
    )


def normalize_item(
    item: str | Sequence[str], where: str, max_names: int = MAX_NAMES_PER_CERTIFICATE
) -> list[str]:
    """Normalise one ``certificates`` item: valid names, duplicates dropped (order kept), 1..10 names.

    ``where`` names the item in error messages, e.g. ``certificates[3]``. ``max_names``: a site's
    names (:data:`MAX_NAMES_PER_SITE`) rather than one certificate's.
    """
    try:
        raw_names = split_names(item)
    except InvalidNameError as error:
        raise InvalidNameError(f"{where}: {error}") from None
    names: list[str] = []
    for raw in raw_names:
        try:
            name = normalize_name(raw)
        except InvalidNameError as error:
            split = _split_by_a_space(item, raw)
            raise InvalidNameError(f"{where}: {split or error}") from None
        if name not in names:
            names.append(name)
    if not names:
        raise InvalidNameError(f"{where}: holds no domain name")
    if len(names) > max_names:
        limit = (
            f"a certificate takes at most {max_names}"
            if max_names == MAX_NAMES_PER_CERTIFICATE
            else f"a distribution serves at most {max_names}"
        )
        raise InvalidNameError(f"{where}: holds {len(names)} names; {limit}")
    try:
        return order_for_subject(names)
    except InvalidNameError as error:
        raise InvalidNameError(f"{where}: {error}") from None


def item_where(index: int, field: str = "certificates") -> str:
    """How a message names a ``certificates`` item: its index and its line as people count lines,
    e.g. ``certificates[1] (line 2)``."""
    return f"{field}[{index}] (line {index + 1})"


_TOKEN = re.compile(r"[^\s,]+")


def _split_by_a_space(item: str | Sequence[str], raw: str) -> str | None:
    """When the refused name ``raw`` is half of a name cut by a space (``www. example.com``), say so."""
    parts = [item] if isinstance(item, str) else [part for part in item if isinstance(part, str)]
    for part in parts:
        tokens = list(_TOKEN.finditer(part))
        for first, second in zip(tokens, tokens[1:], strict=False):
            if raw not in (first.group(), second.group()):
                continue
            if part[first.end() : second.start()].strip():
                continue  # a comma between them: two names meant
            joined = first.group() + second.group()
            try:
                normalize_name(joined)
            except InvalidNameError:
                continue
            return (
                f"{quote_input(part[first.start() : second.end()])} has a space inside a name: names are "
                f"separated by commas or spaces, so it reads as {quote_input(first.group())} and "
                f"{quote_input(second.group())}; remove the space ({joined})"
            )
    return None


@dataclass(frozen=True)
class CertificateRequest:
    """One certificate to request in ACM: ``names[0]`` is the subject, the rest are alternative names."""

    item: int
    """Index of the ``certificates`` item the certificate is for."""
    names: list[str]

    def to_dict(self) -> dict:
        """Plain-JSON form for XCom."""
        return {"item": self.item, "names": list(self.names)}


@dataclass(frozen=True)
class DistributionGroup:
    """One CloudFront distribution to create: every name of a ``certificates`` item, and its certificate."""

    item: int
    aliases: list[str]
    certificate_item: int
    """Index of the item whose certificate the distribution uses (itself, or the covering item)."""

    def to_dict(self) -> dict:
        """Plain-JSON form for XCom."""
        return {"item": self.item, "aliases": list(self.aliases), "certificate_item": self.certificate_item}


@dataclass(frozen=True)
class CertificatePlan:
    """What a create job will request and create, decided before anything reaches AWS."""

    certificates: list[CertificateRequest]
    groups: list[DistributionGroup]
    notes: list[str] = field(default_factory=list)
    """Human-readable decisions of the aggregation, for the job's log."""
    covered: list[dict] = field(default_factory=list)
    """With aggregation, each name not requested again: ``item``, ``name``, ``covered_by`` (the
    wildcard), ``certificate_item`` (the item whose certificate holds that wildcard)."""

    def to_dict(self) -> dict:
        """Plain-JSON form for XCom."""
        return {
            "certificates": [c.to_dict() for c in self.certificates],
            "groups": [g.to_dict() for g in self.groups],
            "notes": list(self.notes),
        }


def is_blank_item(item: object) -> bool:
    """Whether a ``certificates`` item holds no name at all (a blank line): it is ignored."""
    if isinstance(item, str):
        return not item.strip(" \t\r\n,")
    if isinstance(item, list | tuple):
        return all(isinstance(part, str) and not part.strip(" \t\r\n,") for part in item)
    return False


def duplicate_name_errors(normalized: dict[int, list[str]]) -> list[tuple[int, str]]:
    """``(item, message)`` for every name that an earlier item of the job already holds."""
    first_seen: dict[str, int] = {}
    errors = []
    for index, names in normalized.items():
        for name in names:
            if name in first_seen:
                errors.append(
                    (
                        index,
                        f"{item_where(index)}: {name} is already in {item_where(first_seen[name])}; "
                        "a name may appear in one certificate of a job only",
                    )
                )
            else:
                first_seen[name] = index
    return errors


def plan_certificates(
    items: Iterable[str | Sequence[str]], *, aggregate: bool, create_distributions: bool
) -> CertificatePlan:
    """Turn the ``certificates`` conf into the certificates to request and the distributions to create.

    Refuses (with :class:`InvalidNameError`) any invalid name and the same name in two items.

    With ``aggregate``, a name covered by a wildcard name of the job is not requested again:

    - an item all of whose names are covered by the wildcards of one other item gets no certificate;
      its distribution uses that item's certificate;
    - otherwise the item's covered names are dropped from its certificate, except when the job creates
      distributions: a distribution takes one certificate, which must cover every alias, so the
      covered names of a partly covered item stay in its own certificate.

    Aliases always keep every name the user gave.
    """
    normalized = {
        index: normalize_item(item, f"certificates[{index}]")
        for index, item in enumerate(items)
        if not is_blank_item(item)
    }
    if not normalized:
        raise InvalidNameError("certificates: give at least one certificate")
    duplicates = duplicate_name_errors(normalized)
    if duplicates:
        raise InvalidNameError(duplicates[0][1])

    wildcards = [
        (index, name) for index, names in normalized.items() for name in names if name.startswith("*.")
    ]
    certificates: list[CertificateRequest] = []
    groups: list[DistributionGroup] = []
    notes: list[str] = []
    covered: list[dict] = []

    def cover(index: int, name: str, owners: set[int], certificate_item: int) -> None:
        wildcard = next(w for owner, w in wildcards if owner in owners and covers(w, name))
        covered.append(
            {"item": index, "name": name, "covered_by": wildcard, "certificate_item": certificate_item}
        )

    for index, names in normalized.items():
        if not aggregate:
            certificates.append(CertificateRequest(index, names))
            groups.append(DistributionGroup(index, names, index))
            continue

        # covered_by[name]: the items holding a wildcard (other than the name itself) that covers it.
        covered_by = {
            name: {owner for owner, wildcard in wildcards if wildcard != name and covers(wildcard, name)}
            for name in names
        }
        single_covers = sorted(set.intersection(*covered_by.values()) - {index})
        if single_covers:
            owner = single_covers[0]
            notes.append(
                f"certificates[{index}]: every name is covered by certificates[{owner}], "
                "so it gets no certificate of its own"
            )
            for name in names:
                cover(index, name, {owner}, owner)
            groups.append(DistributionGroup(index, names, owner))
            continue

        # A name covered inside its own item can always go. One covered only by other items can go
        # only when no distribution is made: a distribution needs one certificate for all its aliases.
        dropped = [
            name
            for name in names
            if index in covered_by[name] or (covered_by[name] and not create_distributions)
        ]
        kept = [name for name in names if name not in dropped]
        if dropped:
            notes.append(
                f"certificates[{index}]: not requested again, already covered by a wildcard of the job: "
                + ", ".join(dropped)
            )
        for name in dropped:
            cover(
                index, name, covered_by[name], index if index in covered_by[name] else min(covered_by[name])
            )
        if kept:
            certificates.append(CertificateRequest(index, order_for_subject(kept)))
        groups.append(DistributionGroup(index, names, index))

    if not create_distributions:
        groups = []
    return CertificatePlan(certificates, groups, notes, covered)
