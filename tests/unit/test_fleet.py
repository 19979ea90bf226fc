"""The fleet file (cloudfront_ssl.rules.fleet): every problem with its line, hostile input refused in
words, and the planner's decisions on many account states. Pure: no AWS, no Airflow run."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from cloudfront_ssl.rules.fleet import (
    MAX_FILE_BYTES,
    AccountSite,
    FleetFileError,
    FleetSite,
    decode_fleet_file,
    needs_approval,
    plan_fleet,
    plan_text,
    read_fleet_text,
)
from cloudfront_ssl.rules.tags import SITE_NAMES_TAG, SITE_TAG, job_tags, site_names_digest

SOURCE = "E2QWRUHEXAMPLE"
GOOD = f"""\
defaults:                      # any create-job key but certificates
  source_distribution_id: {SOURCE}
  route53_validation: true
  route53_aliases: true
sites:
  - site: acme                 # a stable id
    names: [acme.com, www.acme.com]
  - site: globex
    names: "globex.io, *.globex.io"
    hosting: tenant            # per-site overrides of any default
    multi_tenant_distribution_id: E3MULTITENANT1
"""


def problems(text: str) -> list[str]:
    """The refusal's problems as ``line N: message`` (or the message alone)."""
    with pytest.raises(FleetFileError) as refused:
        read_fleet_text(text)
    return [str(problem) for problem in refused.value.problems]


def one_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


# --- reading the file ------------------------------------------------------------------------------


def test_a_good_file_gives_each_site_its_create_job_conf_in_file_order():
    acme, globex = read_fleet_text(GOOD)
    assert acme == FleetSite(
        site="acme",
        names=("acme.com", "www.acme.com"),
        conf={
            "source_distribution_id": SOURCE,
            "route53_validation": True,
            "route53_aliases": True,
            "certificates": ["acme.com, www.acme.com"],
            "site": "acme",
        },
        line=6,
    )
    assert globex.names == ("globex.io", "*.globex.io")
    assert (
        globex.conf["hosting"] == "tenant" and globex.hosting == "tenant" and acme.hosting == "distribution"
    )
    assert globex.line == 8


def test_each_site_conf_is_a_valid_create_job_conf():
    from cloudfront_ssl.rules.config import CreateJobConfig

    for site in read_fleet_text(GOOD):
        config = CreateJobConfig.model_validate(site.conf)
        assert config.site == site.site
        json.dumps(site.conf)  # it goes to a DAG run's conf


def test_names_are_normalised_as_the_create_job_does():
    (site,) = read_fleet_text(
        f"defaults: {{source_distribution_id: {SOURCE}}}\nsites:\n  - {{site: a, names: 'WWW.Example.com. example.com www.example.com'}}\n"
    )
    assert site.names == ("www.example.com", "example.com")


def test_a_site_id_that_yaml_reads_as_a_number_is_taken_as_written():
    (site,) = read_fleet_text(
        f"defaults: {{source_distribution_id: {SOURCE}}}\nsites:\n  - site: 007\n    names: a.com\n"
    )
    assert site.site == "007"


def test_anchors_and_merge_keys_are_read():
    text = f"""\
defaults: &common
  source_distribution_id: {SOURCE}
  route53_validation: true
sites:
  - site: a
    names: a.com
  - site: b
    names: b.com
    <<: *common
    route53_validation: false
"""
    a, b = read_fleet_text(text)
    assert a.conf["route53_validation"] is True
    assert b.conf["source_distribution_id"] == SOURCE
    assert b.conf["route53_validation"] is False  # a key written out wins over a merged one
    assert problems(text.replace("defaults: &common", "x-common: &common")) == [
        "line 1: x-common is not a key of the fleet file (it takes defaults and sites)",
        "line 5: site a: source_distribution_id is required when create_distributions is true",
    ]


def test_every_problem_is_reported_at_once_each_with_its_line():
    text = """\
defaults:
  source_distribution_id: nope
  route53_validaton: true
  certificates: [x.com]
extra: 1
sites:
  - site: acme
    names: [acme.com, www.acme.com]
  - site: Acme!
    names: bad..name
  - site: acme
    names: [other.com]
    poll_interval_seconds: -3
  - names: [x.io]
  - 12
"""
    assert problems(text) == [
        "line 2: defaults: source_distribution_id: 'nope' is not a CloudFront distribution id (like E2ABCDEF123)",
        "line 3: defaults: route53_validaton: is not a key of the create job, nor of a fleet site (check the spelling)",
        "line 4: defaults: certificates is not a fleet key: each site's names make its one certificate",
        "line 5: extra is not a key of the fleet file (it takes defaults and sites)",
        "line 9: sites[1]: site: 'Acme!' is not a site id: 1 to 63 lower-case letters, digits and hyphens",
        "line 10: sites[1]: names: 'bad..name' has an empty label (two dots in a row): a name is labels joined "
        "by dots, at least two (like example.com), optionally after '*.'",
        "line 11: site acme is given twice (lines 7 and 11): a site id is unique in the file",
        "line 13: site acme: poll_interval_seconds: Input should be greater than or equal to 1",
        "line 14: sites[3]: give its site id (site: ...)",
        "line 15: sites[4]: a site is a mapping (site: ..., names: ...), not the value '12'",
    ]
    assert SOURCE not in text  # the bad default is the only source: no site reports it missing


def test_the_error_text_lists_every_problem_one_per_line_and_says_nothing_changed():
    with pytest.raises(FleetFileError) as refused:
        read_fleet_text("sites:\n  - site: a\n    names: a.com\n  - site: a\n    names: a.com\n")
    text = str(refused.value)
    assert text.splitlines()[0] == "the fleet file has 2 problems; nothing was changed:"
    assert (
        "line 4: site a is given twice (lines 2 and 4): a site id is unique in the file" in text.splitlines()
    )
    assert "line 5: site a: a.com is also a name of site a (line 3); a name belongs to one site" not in text
    from cloudfront_ssl.errors import JobInputError

    assert isinstance(refused.value, JobInputError)  # the run fails without retries


def test_a_name_in_two_sites_is_refused_naming_both_lines():
    text = f"defaults: {{source_distribution_id: {SOURCE}}}\nsites:\n  - site: a\n    names: [a.com, shared.com]\n  - site: b\n    names: [b.com, Shared.COM.]\n"
    assert (
        one_problem(text)
        == "line 6: site b: shared.com is also a name of site a (line 4); a name belongs to one site"
    )


def test_a_rule_the_defaults_break_for_every_site_is_said_once():
    text = "sites:\n" + "".join(f"  - site: s{i}\n    names: s{i}.com\n" for i in range(9))
    assert one_problem(text) == (
        "line 2: site s0 and 8 other sites (lines 4, 6, 8, 10, 12, ...): source_distribution_id is required "
        "when create_distributions is true (set it in defaults or in each site)"
    )


def test_a_bad_override_is_named_at_its_own_line():
    text = f"defaults: {{source_distribution_id: {SOURCE}}}\nsites:\n  - site: a\n    names: a.com\n    hosting: cdn\n    tags: {{aws:x: y}}\n"
    assert problems(text) == [
        "line 5: site a: hosting: Input should be 'distribution' or 'tenant'",
        "line 6: site a: tags: tag key 'aws:x': the prefixes aws:, airflow:, cloudfront-ssl: are reserved",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the fleet file is empty: it needs a sites list (and, optionally, defaults)"),
        ("# only a comment\n", "the fleet file is empty: it needs a sites list (and, optionally, defaults)"),
        ("- a\n- b\n", "line 1: the fleet file must be a mapping with defaults and sites, not a list"),
        (
            "just text\n",
            "line 1: the fleet file must be a mapping with defaults and sites, not the value 'just text'",
        ),
        ("defaults: {}\n", "the fleet file has no sites list: give sites, one entry per site"),
        ("sites:\n", "line 1: sites is empty: give at least one site"),
        ("sites: []\n", "line 1: sites is empty: give at least one site"),
        ("sites: 3\n", "line 1: sites must be a list of sites, not the value '3'"),
        ("sites: {a: 1}\n", "line 1: sites must be a list of sites, not a mapping"),
        (
            "defaults: [1]\nsites: [{site: a, names: a.com}]\n",
            "line 1: defaults must be a mapping of create-job keys, not a list",
        ),
        ("sites:\n  - site: a\n", "line 2: site a: give its names (names: [...])"),
        (
            "sites:\n  - site: [a]\n    names: a.com\n",
            "line 2: sites[0]: site must be an id (1 to 63 lower-case letters, digits and hyphens), not a list",
        ),
        (
            "sites:\n  - site: a\n    names: {x: 1}\n",
            "line 3: site a: names must be a list of names or one string of names separated by commas or spaces, not a mapping",
        ),
        (
            "sites:\n  - site: a\n    names: [a.com, 3]\n",
            "line 3: site a: names must be a list of names or one string of names separated by commas or spaces, not a list",
        ),
        (
            "sites:\n  - site: a\n    site: b\n    names: a.com\n",
            "line 3: sites[0]: site is given twice (lines 2 and 3)",
        ),
        (
            "sites:\n  - site: a\n    names: a.com\n    certificates: [a.com]\n",
            "line 4: site a: certificates is not a fleet key: each site's names make its one certificate",
        ),
        (
            "defaults:\n  site: x\nsites: [{site: a, names: a.com}]\n",
            "line 2: defaults: site is given per site, in the sites list",
        ),
        (
            f"sites:\n  - site: {'a' * 64}\n    names: a.com\n",
            f"line 2: sites[0]: site: '{'a' * 64}' is not a site id: 1 to 63 lower-case letters, digits and hyphens",
        ),
        ("sites:\n  - site: a\n    names: ''\n", "line 3: site a: names: holds no domain name"),
        (
            "sites:\n  - site: a\n    names: [" + ", ".join(f"n{i}.a.com" for i in range(11)) + "]\n",
            "line 3: site a: names: holds 11 names; a certificate takes at most 10",
        ),
        (
            "sites:\n  - site: a\n    names: a.com\n    nmes: b.com\n",
            "line 4: site a: nmes: is not a key of the create job, nor of a fleet site (check the spelling)",
        ),
    ],
)
def test_each_kind_of_wrong_file_is_said_with_its_line(text, expected):
    found = problems(text)
    # A site with no source distribution also breaks a rule of the create job: only the asked-for problem counts.
    found = [problem for problem in found if "source_distribution_id is required" not in problem]
    assert found == [expected]


# --- hostile input ---------------------------------------------------------------------------------


def test_a_yaml_syntax_error_gives_its_line():
    assert one_problem("sites:\n  - site: a\n    names: [a.com\n  - site: b\n").startswith(
        "line 4: the file is not valid YAML"
    )


def test_tabs_are_said_to_be_tabs():
    found = one_problem("sites:\n\t- site: a\n")
    assert found.startswith("line 2: the file is not valid YAML")
    assert "YAML indents with spaces, never tabs" in found


def test_a_billion_laughs_is_refused_quickly():
    lines = ["x: &a0 [a.com]"]
    for level in range(1, 10):
        previous = f"*a{level - 1}"
        lines.append(f"x{level}: &a{level} [{', '.join([previous] * 9)}]")
    for key in ("defaults:\n  tags: *a9\nsites: []\n", "sites:\n  - site: a\n    names: *a9\n"):
        text = "\n".join(lines).replace("x:", "x0:") + "\n" + key
        started = time.monotonic()
        found = problems(text)
        assert time.monotonic() - started < 1
        assert found == [
            f"the fleet file's anchors and aliases expand to more than {10 * len(text) + 10_000:,} values (far more "
            "than the file holds), or nest them more than 50 deep; write it out plainly"
        ]


def test_a_block_shared_by_every_site_through_an_anchor_is_read():
    common = "".join(f"      team{i}: web\n" for i in range(45))
    text = (
        f"defaults: {{source_distribution_id: {SOURCE}}}\nsites:\n"
        f"  - site: s0\n    names: s0.com\n    tags: &tags\n{common}"
        + "".join(f"  - site: s{i}\n    names: s{i}.com\n    tags: *tags\n" for i in range(1, 2000))
    )
    sites = read_fleet_text(text)
    assert len(sites) == 2000 and len(sites[-1].conf["tags"]) == 45


def test_merge_bombs_and_recursive_anchors_are_refused_in_words():
    lines = ["x0: &m0 {a: 1, b: 2}"]
    for level in range(1, 12):
        lines.append(f"x{level}: &m{level} {{<<: [{', '.join([f'*m{level - 1}'] * 9)}]}}")
    started = time.monotonic()
    found = problems("\n".join(lines) + "\ndefaults:\n  <<: *m11\nsites: []\n")
    assert time.monotonic() - started < 5
    assert "anchors and aliases expand to more than" in found[0]
    recursive = problems("defaults: &d\n  tags: *d\nsites: [{site: a, names: a.com}]\n")
    assert "anchors and aliases expand to more than" in recursive[0]


def test_deep_nesting_is_refused_in_words():
    found = one_problem("sites: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert "nest" in found or "not valid YAML" in found


def test_a_file_too_large_is_refused_before_parsing():
    found = problems("#" * (MAX_FILE_BYTES + 1))
    assert found == [f"the fleet file holds {MAX_FILE_BYTES + 1:,} characters; at most {MAX_FILE_BYTES:,}"]
    with pytest.raises(FleetFileError, match="may hold at most"):
        decode_fleet_file(b"#" * (MAX_FILE_BYTES + 1))


def test_bytes_that_are_not_utf8_are_refused_with_their_line():
    with pytest.raises(FleetFileError) as refused:
        decode_fleet_file(b"sites:\n  - site: a\n    names: caf\xe9.com\n", "s3://b/fleet.yaml")
    assert [str(problem) for problem in refused.value.problems] == [
        "line 3: s3://b/fleet.yaml is not UTF-8 text (byte 0xe9); save it as UTF-8"
    ]
    assert decode_fleet_file("\ufeffsites: []\n".encode()) == "sites: []\n"  # a BOM is dropped


def test_control_characters_are_refused_with_their_line():
    found = one_problem("sites:\n  - site: a\n    names: a.com\x07\n")
    assert (
        found == "line 3: the file holds a character YAML does not allow (control characters are not allowed)"
    )


def test_a_key_that_is_not_a_word_is_refused():
    assert problems("? [a, b]\n: 1\nsites: []\n")[0] == "line 1: the file: a key must be a word, not a list"


def test_many_problems_are_all_kept_and_the_text_is_bounded():
    text = "sites:\n" + "".join(f"  - site: BAD{i}\n    names: s{i}.com\n" for i in range(300))
    with pytest.raises(FleetFileError) as refused:
        read_fleet_text(text)
    assert len(refused.value.problems) >= 300
    assert "more problems" in str(refused.value).splitlines()[-1]


def test_two_thousand_sites_read_in_well_under_a_second_or_two():
    text = f"defaults:\n  source_distribution_id: {SOURCE}\nsites:\n" + "".join(
        f"  - site: site-{i}\n    names: [s{i}.example.com, www.s{i}.example.com]\n" for i in range(2000)
    )
    started = time.monotonic()
    sites = read_fleet_text(text)
    assert len(sites) == 2000
    assert time.monotonic() - started < 10


# --- the plan --------------------------------------------------------------------------------------


def site(name: str, names: list[str], line: int = 1, **conf) -> FleetSite:
    return FleetSite(
        site=name,
        names=tuple(names),
        conf={"source_distribution_id": SOURCE, **conf, "certificates": [", ".join(names)], "site": name},
        line=line,
    )


def held(name: str, names: list[str], **fields) -> AccountSite:
    values = {
        "site": name,
        "hosting": "distribution",
        "resource_id": f"E{name.upper().replace('-', '')}00000",
        "resource_arn": f"arn:aws:cloudfront::123456789012:distribution/E{name.upper()}",
        "names": tuple(names),
        "certificate_arn": f"arn:aws:acm:us-east-1:123456789012:certificate/{name}",
        "site_certificate": True,
        "job": {"dag_id": "ssl_create_certificates", "run_id": "manual__1"},
        **fields,
    }
    return AccountSite(**values)


def by_site(plan):
    return {entry.site: entry for entry in plan}


def test_a_site_not_in_the_account_is_created_with_its_conf():
    wanted = site("a", ["a.com"], line=7, route53_validation=True)
    (entry,) = plan_fleet([wanted], {}, remove=False)
    assert entry.action == "create" and entry.apply and not entry.drift
    assert entry.job == {"dag_id": "ssl_create_certificates", "conf": wanted.conf}
    assert entry.names_before == () and entry.names_after == ("a.com",) and entry.line == 7


def test_the_same_names_in_another_order_are_kept():
    (entry,) = plan_fleet(
        [site("a", ["a.com", "www.a.com"])], {"a": held("a", ["www.a.com", "a.com"])}, remove=False
    )
    assert entry.action == "keep" and not entry.apply and entry.job is None


def test_names_that_differ_make_an_update_job_with_the_sites_keys():
    wanted = site("a", ["a.com", "new.a.com"], route53_aliases=True, tags={"team": "web"}, aws_conn_id="prod")
    (entry,) = plan_fleet([wanted], {"a": held("a", ["a.com", "old.a.com"])}, remove=False)
    assert entry.action == "change" and entry.apply and not entry.drift
    assert entry.job == {
        "dag_id": "ssl_update_site",
        "conf": {
            "distribution_id": "EA00000",
            "names": ["a.com", "new.a.com"],
            "site": "a",
            "route53_aliases": True,
            "tags": {"team": "web"},
            "aws_conn_id": "prod",
        },
    }
    assert entry.reasons == ("names differ from the file: adds new.a.com; removes old.a.com",)


def test_the_update_conf_is_a_valid_update_job_conf():
    from cloudfront_ssl.rules.config import UpdateSiteConfig

    wanted = read_fleet_text(GOOD)[0]
    (entry,) = plan_fleet([wanted], {"acme": held("acme", ["acme.com"])}, remove=False)
    config = UpdateSiteConfig.model_validate(entry.job["conf"])
    assert config.site == "acme" and config.route53_validation and config.route53_aliases


def test_a_tenant_site_changes_through_its_tenant_id():
    wanted = site("t", ["t.com", "u.com"], hosting="tenant", multi_tenant_distribution_id="E3MULTI")
    account = {"t": held("t", ["t.com"], hosting="tenant", resource_id="dt_123")}
    (entry,) = plan_fleet([wanted], account, remove=False)
    assert entry.job["conf"]["tenant_id"] == "dt_123" and "distribution_id" not in entry.job["conf"]


def test_names_changed_outside_the_file_are_drift():
    (entry,) = plan_fleet(
        [site("a", ["a.com", "www.a.com"])], {"a": held("a", ["a.com"], names_changed=True)}, remove=False
    )
    assert entry.action == "change" and entry.apply and entry.drift
    assert entry.reasons[0].startswith("names changed outside the file (the account serves a.com)")


def test_names_the_file_changed_are_a_change_not_drift():
    # The site serves the names a job gave it (its digest matches): the file changed, not the site.
    (entry,) = plan_fleet(
        [site("a", ["b.com"])], {"a": held("a", ["a.com"], names_changed=False)}, remove=False
    )
    assert not entry.drift


def test_a_certificate_changed_outside_is_drift_and_a_new_certificate_is_requested():
    account = {
        "a": held(
            "a", ["a.com"], site_certificate=False, certificate_arn="arn:aws:acm:us-east-1:1:certificate/x"
        )
    }
    (entry,) = plan_fleet([site("a", ["a.com"])], account, remove=False)
    assert entry.action == "change" and entry.apply and entry.drift
    assert entry.job["conf"]["names"] == ["a.com"] and "certificate_arn" not in entry.job["conf"]
    assert (
        "certificate changed outside the file: arn:aws:acm:us-east-1:1:certificate/x does not carry"
        in entry.reasons[0]
    )


def test_cloudfronts_default_certificate_is_drift_too():
    account = {"a": held("a", ["a.com"], site_certificate=False, certificate_arn=None)}
    (entry,) = plan_fleet([site("a", ["a.com"])], account, remove=False)
    assert entry.drift and "CloudFront's default certificate" in entry.reasons[0]


def test_a_managed_certificate_is_never_certificate_drift():
    account = {
        "t": held(
            "t",
            ["t.com"],
            hosting="tenant",
            site_certificate=False,
            certificate_arn=None,
            managed_certificate=True,
        )
    }
    wanted = site("t", ["t.com"], hosting="tenant", multi_tenant_distribution_id="E3MULTI")
    assert plan_fleet([wanted], account, remove=False)[0].action == "keep"


def test_names_and_certificate_drift_together_give_both_reasons():
    account = {"a": held("a", ["a.com"], site_certificate=False, names_changed=True)}
    (entry,) = plan_fleet([site("a", ["a.com", "b.com"])], account, remove=False)
    assert entry.drift and len(entry.reasons) == 2


def test_a_changed_hosting_is_reported_never_applied():
    wanted = site("a", ["a.com"], hosting="tenant", multi_tenant_distribution_id="E3MULTI")
    (entry,) = plan_fleet([wanted], {"a": held("a", ["a.com"])}, remove=False)
    assert entry.action == "change" and not entry.apply and entry.job is None
    assert "left to a person" in entry.reasons[0]
    assert not needs_approval([entry])


def test_a_site_the_file_no_longer_has_is_removed_only_with_fleet_remove():
    account = {"gone": held("gone", ["gone.com"]), "a": held("a", ["a.com"])}
    reported = by_site(plan_fleet([site("a", ["a.com"])], account, remove=False))["gone"]
    assert reported.action == "remove" and not reported.apply and reported.line is None
    assert reported.names_before == ("gone.com",) and reported.names_after == ()
    assert "[ssl_certificates] fleet_remove is false" in reported.reasons[-1]
    applied = by_site(plan_fleet([site("a", ["a.com"])], account, remove=True, aws_conn_id="prod"))["gone"]
    assert applied.apply and len(applied.reasons) == 1
    assert applied.job == {
        "dag_id": "ssl_cleanup_job",
        "conf": {"distribution_id": "EGONE00000", "dry_run": False, "aws_conn_id": "prod"},
    }


def test_removing_a_tenant_site_names_its_tenant():
    account = {"t": held("t", ["t.com"], hosting="tenant", resource_id="dt_9")}
    (entry,) = plan_fleet([], account, remove=True)
    assert entry.job["conf"] == {"tenant_id": "dt_9", "dry_run": False}


def test_the_plan_keeps_the_files_order_then_removals_by_id():
    account = {"z": held("z", ["z.com"]), "m": held("m", ["m.com"]), "b": held("b", ["b.com"])}
    plan = plan_fleet(
        [site("c", ["c.com"]), site("b", ["b.com"]), site("a", ["a.com"])], account, remove=False
    )
    assert [(entry.site, entry.action) for entry in plan] == [
        ("c", "create"),
        ("b", "keep"),
        ("a", "create"),
        ("m", "remove"),
        ("z", "remove"),
    ]


def test_approval_is_needed_only_when_something_is_applied():
    keep = plan_fleet([site("a", ["a.com"])], {"a": held("a", ["a.com"])}, remove=False)
    assert not needs_approval(keep)
    reported = plan_fleet([], {"a": held("a", ["a.com"])}, remove=False)
    assert not needs_approval(reported)
    assert needs_approval(plan_fleet([site("a", ["a.com"])], {}, remove=False))


def test_plan_items_are_json_for_xcom():
    plan = plan_fleet(
        [site("a", ["a.com"]), site("b", ["b.com"])],
        {"b": held("b", ["x.com"]), "c": held("c", ["c.com"])},
        remove=True,
    )
    again = json.loads(json.dumps([dataclasses.asdict(entry) for entry in plan]))
    assert [entry["action"] for entry in again] == ["create", "change", "remove"]


def test_the_plan_reads_like_a_terraform_plan():
    account = {
        "b": held("b", ["b.com", "old.b.com"]),
        "d": held("d", ["d.com"], site_certificate=False),
        "e": held("e", ["e.com"]),
        "gone": held("gone", ["gone.com"]),
    }
    wanted = [
        site("a", ["a.com", "www.a.com"], line=5),
        site("b", ["b.com", "new.b.com"], line=8),
        site("d", ["d.com"], line=11),
        site("e", ["e.com"], line=14),
    ]
    assert plan_text(plan_fleet(wanted, account, remove=False)) == "\n".join(
        [
            "  + create a (line 5)",
            "      + a.com",
            "      + www.a.com",
            f"      # no distribution in the account carries the tag {SITE_TAG}=a",
            "  ~ change b (line 8)",
            "      + new.b.com",
            "      - old.b.com",
            "        keeps b.com",
            "      # names differ from the file: adds new.b.com; removes old.b.com",
            "  ~ change d (line 11) [drift]",
            "        keeps d.com",
            "      # certificate changed outside the file: arn:aws:acm:us-east-1:123456789012:certificate/d does not "
            f"carry the tag {SITE_TAG}=d; a certificate of the site's own is requested for its names",
            "  - remove gone [reported, not applied]",
            "      - gone.com",
            "      # distribution EGONE00000 carries the site's tag but the file no longer lists the site",
            "      # not removed: [ssl_certificates] fleet_remove is false; set it to true to remove such sites",
            "Plan: 1 to create, 2 to change, 0 to remove, 1 unchanged (1 changed outside the file; 1 reported, not applied).",
        ]
    )


def test_an_empty_plan_says_so():
    text = plan_text(plan_fleet([site("a", ["a.com"])], {"a": held("a", ["a.com"])}, remove=False))
    assert text == (
        "  No changes: the account serves every site as the file says.\n"
        "Plan: 0 to create, 0 to change, 0 to remove, 1 unchanged."
    )


def test_two_thousand_sites_plan_in_a_blink():
    wanted = [site(f"s{i}", [f"s{i}.com"]) for i in range(2000)]
    account = {f"s{i}": held(f"s{i}", [f"s{i}.com"] if i % 10 else [f"x{i}.com"]) for i in range(2000)}
    started = time.monotonic()
    plan = plan_fleet(wanted, account, remove=False)
    plan_text(plan)
    assert time.monotonic() - started < 2
    assert sum(entry.action == "change" for entry in plan) == 200


# --- the site key of the jobs ------------------------------------------------------------------------


def test_the_jobs_tag_a_site_with_its_id_and_names_digest():
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/0b8c2f5e-1111-2222-3333-444455556666"
    tags = job_tags(
        "ssl_create_certificates", "run-1", {"team": "web"}, "acme", ["www.acme.com", "acme.com"], arn
    )
    assert tags[-3:] == [
        {"Key": SITE_TAG, "Value": "acme"},
        {"Key": SITE_NAMES_TAG, "Value": site_names_digest(["acme.com", "www.acme.com", "ACME.com"])},
        {"Key": "cloudfront-ssl:site-certificate", "Value": arn},
    ]
    from cloudfront_ssl.rules.config import aws_tag_text_problem

    assert all(aws_tag_text_problem(tag["Value"]) is None for tag in tags)  # AWS takes every value
    assert job_tags("d", "r", {}) == [
        {"Key": "airflow:dag_id", "Value": "d"},
        {"Key": "airflow:run_id", "Value": "r"},
    ]
    assert site_names_digest(["a.com"]) != site_names_digest(["a.com", "b.com"])


@pytest.mark.parametrize("model_name", ["CreateJobConfig", "UpdateSiteConfig"])
def test_site_is_a_key_of_the_create_and_update_jobs(model_name):
    from cloudfront_ssl.rules import config

    model = getattr(config, model_name)
    base = (
        {"certificates": ["a.com"], "source_distribution_id": SOURCE}
        if model_name == "CreateJobConfig"
        else {"distribution_id": SOURCE, "names": ["a.com"]}
    )
    assert model.model_validate(base).site is None
    assert model.model_validate({**base, "site": " acme-1 "}).site == "acme-1"
    assert model.model_validate({**base, "site": ""}).site is None
    for bad in ("Acme", "a_b", "a" * 64, "a.b"):
        with pytest.raises(
            config.ConfigError, match=r"site: .* is not a site id: 1 to 63 lower-case letters"
        ):
            config.parse_config(model, {**base, "site": bad})
    many = {f"t{i}": "x" for i in range(46)}
    assert model.model_validate({**base, "tags": many}).site is None
    with pytest.raises(config.ConfigError, match="at most 45 tags with a site"):
        config.parse_config(model, {**base, "tags": many, "site": "a"})


def test_a_site_is_one_certificate_line_of_the_create_job():
    from cloudfront_ssl.rules import config

    with pytest.raises(
        config.ConfigError, match="a site is one distribution or tenant: give exactly one certificate line"
    ):
        config.parse_config(
            config.CreateJobConfig,
            {"certificates": ["a.com", "b.com"], "source_distribution_id": SOURCE, "site": "a"},
        )
    assert (
        config.parse_config(
            config.CreateJobConfig,
            {"certificates": ["a.com", ""], "source_distribution_id": SOURCE, "site": "a"},
        ).site
        == "a"
    )


def test_a_name_moved_between_sites_waits_for_the_site_that_frees_it():
    account = {"a": held("a", ["a.com", "moved.com"]), "old": held("old", ["old.com", "gone.com"])}
    wanted = [site("a", ["a.com"]), site("b", ["b.com", "moved.com"]), site("c", ["gone.com"])]
    plan = by_site(plan_fleet(wanted, account, remove=True))
    assert plan["b"].apply and plan["b"].after == ("a",)
    assert plan["c"].apply and plan["c"].after == ("old",)
    assert "  + create b (line 1) [after a]" in plan_text(list(plan.values())).splitlines()
    assert plan["a"].after == () and plan["old"].after == ()
    # Without fleet_remove the old site keeps gone.com: c cannot take it, and says why.
    plan = by_site(plan_fleet(wanted, account, remove=False))
    assert not plan["c"].apply and plan["c"].after == ()
    assert plan["c"].reasons[-1] == (
        "gone.com is served by site old, which is not changed: it frees the name only once that is applied"
    )
    assert plan["b"].apply and plan["b"].after == ("a",)
