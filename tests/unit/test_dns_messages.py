"""The owners' messages when Route 53 does the DNS work: what the job wrote, what is still theirs."""

from __future__ import annotations

from cloudfront_ssl.rules import messages

RECORD = "_x.example.com."
CERTIFICATES = [
    {
        "names": ["example.com", "*.example.com"],
        "validation_records": [{"name": RECORD, "type": "CNAME", "value": "_v1.acm-validations.aws."}],
    },
    {
        "names": ["www.elsewhere.io"],
        "validation_records": [
            {"name": "_y.www.elsewhere.io.", "type": "CNAME", "value": "_v2.acm-validations.aws."}
        ],
    },
]
WRITTEN = {"zone_id": "ZCOM", "name": "_x.example.com", "type": "CNAME", "value": "_v1.acm-validations.aws."}


def test_everything_in_route53_says_nothing_is_left_to_do():
    subject, body = messages.dns_validation_message(
        "job-1", CERTIFICATES[:1], {"records": [WRITTEN], "in_place": [], "not_automated": []}
    )
    assert subject == "DNS validation done in Route 53 for 1 certificate (job-1)"
    assert "_x.example.com  CNAME  _v1.acm-validations.aws.  (hosted zone ZCOM)" in body
    assert "Nothing is left for you to do" in body
    assert "Name:" not in body


def test_names_in_no_zone_are_listed_for_their_owners_only():
    left = [{"name": "_y.www.elsewhere.io", "names": ["www.elsewhere.io"], "reason": "no public zone"}]
    subject, body = messages.dns_validation_message(
        "job-1", CERTIFICATES, {"records": [WRITTEN], "in_place": [], "not_automated": left}
    )
    assert subject.startswith("Add DNS records to validate")
    added, todo = body.split("add the records below")
    assert "This job added these DNS validation records to Route 53" in added
    assert "Certificate 2: www.elsewhere.io" in todo
    assert "Name:  _y.www.elsewhere.io." in todo
    assert RECORD not in todo and "Certificate 1" not in todo


def test_alias_message_says_what_was_pointed_and_replaced_and_what_is_left():
    distributions = [
        {"id": "E1", "domain_name": "d1.cloudfront.net", "aliases": ["www.example.com", "www.elsewhere.io"]}
    ]
    pointed = [
        {
            "records": [
                {
                    "zone_id": "ZCOM",
                    "name": "www.example.com",
                    "type": "A",
                    "alias_target": {"dns_name": "d1.cloudfront.net", "hosted_zone_id": "Z2FDTNDATAQYW2"},
                    "replaced": ["www.example.com CNAME old.example.net"],
                }
            ],
            "not_automated": [{"name": "www.elsewhere.io", "reason": "no public zone"}],
        }
    ]
    subject, body = messages.dns_cname_message("job-1", distributions, pointed)
    assert subject == "Point 1 name at CloudFront (job-1)"
    assert (
        "www.example.com  A  alias d1.cloudfront.net  (hosted zone ZCOM) (replacing www.example.com CNAME old.example.net)"
        in body
    )
    assert "www.elsewhere.io  CNAME  d1.cloudfront.net" in body
    assert "www.example.com  CNAME" not in body

    pointed[0]["not_automated"] = []
    subject, body = messages.dns_cname_message("job-1", distributions[:1], pointed)
    assert "Nothing is left for you to do" in body
