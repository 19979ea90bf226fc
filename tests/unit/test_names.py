"""The domain-name rules: normalising, validation, coverage, aggregation."""

from __future__ import annotations

import pytest

from cloudfront_ssl.rules.names import (
    InvalidNameError,
    covers,
    normalize_item,
    normalize_name,
    plan_certificates,
    split_names,
)

LONG_LABEL = "a" * 63


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com", "example.com"),
        ("  WWW.Example.COM  ", "www.example.com"),
        ("example.com.", "example.com"),
        ("*.example.com", "*.example.com"),
        ("*.Example.com.", "*.example.com"),
        ("a-b.example.com", "a-b.example.com"),
        ("123.example.com", "123.example.com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("*.bücher.example", "*.xn--bcher-kva.example"),
        ("ÉCOLE.example.fr", "xn--cole-9oa.example.fr"),
        (f"{LONG_LABEL}.example.com", f"{LONG_LABEL}.example.com"),
        (".".join([LONG_LABEL] * 3) + ".abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghi", None),
    ],
)
def test_valid_names_are_normalised(raw: str, expected: str | None) -> None:
    result = normalize_name(raw)
    assert result == (expected or raw.lower())
    assert len(result) <= 253


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("com", "one label only"),
        ("localhost", "one label only"),
        ("*.com", "two labels"),
        ("*", "wildcard"),
        ("example..com", "empty label"),
        (".example.com", "empty label"),
        ("example.com..", "empty label"),
        ("-example.com", "starts with a hyphen"),
        ("example-.com", "ends with a hyphen"),
        ("exa_mple.com", "'_' in the label 'exa_mple': a label takes letters, digits and hyphens"),
        ("exa mple.com", "a space in the label"),
        ("a.*.example.com", "wildcard"),
        ("*.*.example.com", "wildcard"),
        ("**.example.com", "wildcard"),
        ("w*.example.com", "wildcard"),
        ("*example.com", "wildcard"),
        (f"{'a' * 64}.example.com", "a label of 64 characters"),
        (".".join(["a" * 63] * 4) + ".com", "takes at most 253"),
        ("http://example.com", r"is a URL: give the domain name alone \(example.com\)"),
        ("example.com/path", r"holds a path"),
    ],
)
def test_invalid_names_are_refused(raw: str, reason: str) -> None:
    with pytest.raises(InvalidNameError, match=reason):
        normalize_name(raw)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("a.example.com, b.example.com", ["a.example.com", "b.example.com"]),
        ("a.example.com b.example.com", ["a.example.com", "b.example.com"]),
        ("a.example.com,b.example.com\tc.example.com", ["a.example.com", "b.example.com", "c.example.com"]),
        (" , a.example.com ,, ", ["a.example.com"]),
        (
            ["a.example.com", "b.example.com, c.example.com"],
            ["a.example.com", "b.example.com", "c.example.com"],
        ),
    ],
)
def test_an_item_is_a_list_or_a_separated_string(item: str | list[str], expected: list[str]) -> None:
    assert split_names(item) == expected


def test_duplicates_within_an_item_are_dropped_keeping_order() -> None:
    assert normalize_item(["B.example.com", "a.example.com", "b.example.com."], "certificates[0]") == [
        "b.example.com",
        "a.example.com",
    ]


def test_an_item_holds_at_most_ten_names() -> None:
    names = [f"n{i}.example.com" for i in range(10)]
    assert len(normalize_item(names, "certificates[0]")) == 10
    with pytest.raises(InvalidNameError, match=r"certificates\[4\]: holds 11 names"):
        normalize_item([*names, "n10.example.com"], "certificates[4]")


def test_an_empty_item_is_refused() -> None:
    with pytest.raises(InvalidNameError, match=r"certificates\[1\]: holds no domain name"):
        normalize_item(" , ", "certificates[1]")


def test_the_first_name_that_fits_becomes_the_subject() -> None:
    long_name = "a" * 60 + ".example.com"  # 72 characters: too long for the subject
    assert len(long_name) > 64
    assert normalize_item([long_name, "short.example.com"], "certificates[0]") == [
        "short.example.com",
        long_name,
    ]


def test_an_item_without_a_name_for_the_subject_is_refused() -> None:
    long_names = ["a" * 60 + ".example.com", "b" * 60 + ".example.com"]
    with pytest.raises(InvalidNameError, match=r"certificates\[2\]: no name is at most 64"):
        normalize_item(long_names, "certificates[2]")


def test_an_invalid_name_is_reported_with_its_item() -> None:
    with pytest.raises(InvalidNameError, match=r"certificates\[3\]: 'bad_name.com'"):
        plan_certificates(
            ["a.com", "b.com", "c.com", "bad_name.com"], aggregate=False, create_distributions=False
        )


@pytest.mark.parametrize(
    ("certificate_name", "name", "expected"),
    [
        ("example.com", "example.com", True),
        ("Example.com", "example.COM.", True),
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "A.Example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", "*.example.com", True),
        ("*.example.com", "*.a.example.com", False),
        ("*.example.com", "aexample.com", False),
        ("*.example.com", "a.example.org", False),
        ("a.example.com", "b.example.com", False),
        ("example.com", "a.example.com", False),
    ],
)
def test_a_wildcard_covers_exactly_one_label(certificate_name: str, name: str, expected: bool) -> None:
    assert covers(certificate_name, name) is expected


def test_the_same_name_in_two_items_is_refused() -> None:
    with pytest.raises(
        InvalidNameError, match=r"certificates\[2\] \(line 3\): a.example.com is already in certificates\[0\] \(line 1\)"
    ):
        plan_certificates(
            ["a.example.com", "b.example.com", "c.example.com, A.example.com."],
            aggregate=False,
            create_distributions=True,
        )


def test_without_aggregation_every_item_gets_its_certificate() -> None:
    plan = plan_certificates(["*.example.com", "a.example.com"], aggregate=False, create_distributions=True)
    assert [c.names for c in plan.certificates] == [["*.example.com"], ["a.example.com"]]
    assert [(g.aliases, g.certificate_item) for g in plan.groups] == [
        (["*.example.com"], 0),
        (["a.example.com"], 1),
    ]


def test_aggregation_gives_a_covered_item_the_covering_certificate() -> None:
    plan = plan_certificates(
        [
            "shop.example.com, www.shop.example.com",
            "*.example.org, example.org",
            "a.example.org, b.example.org",
        ],
        aggregate=True,
        create_distributions=True,
    )
    assert [(c.item, c.names) for c in plan.certificates] == [
        (0, ["shop.example.com", "www.shop.example.com"]),
        (1, ["*.example.org", "example.org"]),
    ]
    assert [(g.item, g.aliases, g.certificate_item) for g in plan.groups] == [
        (0, ["shop.example.com", "www.shop.example.com"], 0),
        (1, ["*.example.org", "example.org"], 1),
        (2, ["a.example.org", "b.example.org"], 1),
    ]
    assert any("certificates[2]" in note for note in plan.notes)


def test_aggregation_respects_the_one_label_rule() -> None:
    plan = plan_certificates(
        ["*.example.com", "a.b.example.com", "example.com"], aggregate=True, create_distributions=True
    )
    assert [c.names for c in plan.certificates] == [["*.example.com"], ["a.b.example.com"], ["example.com"]]
    assert [g.certificate_item for g in plan.groups] == [0, 1, 2]


def test_aggregation_drops_names_covered_inside_the_same_item() -> None:
    plan = plan_certificates(
        ["*.example.com, www.example.com, example.com"], aggregate=True, create_distributions=True
    )
    assert plan.certificates[0].names == ["*.example.com", "example.com"]
    assert plan.groups[0].aliases == ["*.example.com", "www.example.com", "example.com"]


def test_a_partly_covered_item_keeps_its_names_when_it_gets_a_distribution() -> None:
    # Its distribution needs one certificate that covers every alias.
    plan = plan_certificates(
        ["*.example.com", "a.example.com, shop.example.org"], aggregate=True, create_distributions=True
    )
    assert plan.certificates[1].names == ["a.example.com", "shop.example.org"]
    assert plan.groups[1].certificate_item == 1


def test_a_partly_covered_item_drops_covered_names_without_distributions() -> None:
    plan = plan_certificates(
        ["*.example.com", "a.example.com, shop.example.org"], aggregate=True, create_distributions=False
    )
    assert [c.names for c in plan.certificates] == [["*.example.com"], ["shop.example.org"]]
    assert plan.groups == []


def test_an_item_covered_by_two_different_items_keeps_its_certificate_for_its_distribution() -> None:
    plan = plan_certificates(
        ["*.example.com", "*.example.org", "a.example.com, a.example.org"],
        aggregate=True,
        create_distributions=True,
    )
    assert [c.item for c in plan.certificates] == [0, 1, 2]
    assert plan.groups[2].certificate_item == 2


def test_an_item_covered_by_two_items_needs_no_certificate_without_distributions() -> None:
    plan = plan_certificates(
        ["*.example.com", "*.example.org", "a.example.com, a.example.org"],
        aggregate=True,
        create_distributions=False,
    )
    assert [c.item for c in plan.certificates] == [0, 1]


def test_a_covering_wildcard_in_a_later_item_counts_too() -> None:
    plan = plan_certificates(["a.example.com", "*.example.com"], aggregate=True, create_distributions=True)
    assert [c.item for c in plan.certificates] == [1]
    assert plan.groups[0].certificate_item == 1


def test_the_subject_rule_applies_after_aggregation() -> None:
    long_name = "x" * 60 + ".example.org"
    plan = plan_certificates(
        ["*.example.com", f"a.example.com, {long_name}, short.example.org"],
        aggregate=True,
        create_distributions=False,
    )
    assert plan.certificates[1].names == ["short.example.org", long_name]


def test_a_plan_is_plain_json() -> None:
    plan = plan_certificates(["*.example.com", "a.example.com"], aggregate=True, create_distributions=True)
    assert plan.to_dict() == {
        "certificates": [{"item": 0, "names": ["*.example.com"]}],
        "groups": [
            {"item": 0, "aliases": ["*.example.com"], "certificate_item": 0},
            {"item": 1, "aliases": ["a.example.com"], "certificate_item": 0},
        ],
        "notes": [
            "certificates[1]: every name is covered by certificates[0], so it gets no certificate of its own"
        ],
    }


@pytest.mark.parametrize("raw", ["例え。テスト", "例え．テスト", "例え｡テスト"])
def test_idna_full_stops_separate_labels(raw: str) -> None:
    assert normalize_name(raw) == normalize_name("例え.テスト")
    assert normalize_name(raw).count(".") == 1


@pytest.mark.parametrize("raw", ["192.0.2.19", "10.0.0.1.", "shop.123"])
def test_a_name_whose_last_label_is_all_digits_is_refused(raw: str) -> None:
    with pytest.raises(InvalidNameError, match="IP address"):
        normalize_name(raw)


def test_a_huge_name_is_quoted_short_in_the_refusal() -> None:
    with pytest.raises(InvalidNameError) as refusal:
        normalize_name("a" * 1_000_000 + ".example.com")
    assert len(str(refusal.value)) < 300


def test_blank_items_are_ignored_and_keep_the_items_numbers() -> None:
    plan = plan_certificates(
        ["", "a.example.com", "  ", "b.example.com"], aggregate=False, create_distributions=True
    )
    assert [(c.item, c.names) for c in plan.certificates] == [(1, ["a.example.com"]), (3, ["b.example.com"])]
    assert [g.item for g in plan.groups] == [1, 3]
