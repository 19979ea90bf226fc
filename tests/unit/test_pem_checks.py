"""The local import checks of a certificate bundle (spec section 6), against a test PKI.

Each refusal case names the check it expects; since the checks run in a fixed order and every case
is otherwise a bundle that passes, removing a check makes its cases pass or fail later, with another
check id, so the test fails.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hashes

from cloudfront_ssl.rules.pem_checks import (
    MAX_KEY_BYTES,
    BundleError,
    CheckedBundle,
    check_bundle,
    covers,
    mask_pem_blocks,
)
from tests.pki import (
    DAY,
    NOW,
    Issued,
    chain_pem,
    dsa_key,
    ec_key,
    ed25519_key,
    make_intermediate,
    make_leaf,
    make_root,
    rsa_key,
    window,
)


@dataclass(frozen=True)
class World:
    """The certificates the cases are built from."""

    root: Issued  # RSA root
    inter: Issued  # RSA intermediate, signed by root
    leaf: Issued  # RSA 2048 leaf for example.com, www.example.com, signed by inter
    other_root: Issued  # an unrelated root and its intermediate
    other_inter: Issued
    impostor: Issued  # same name as inter, another key, signed by root
    inter2: Issued  # a second level: root -> inter -> inter2 -> leaf2
    leaf2: Issued
    ec_root: Issued  # an EC chain: ECDSA signatures throughout
    ec_inter: Issued
    ec_leaf: Issued


@pytest.fixture(scope="module")
def world() -> World:
    root = make_root()
    inter = make_intermediate(root)
    other_root = make_root("Other Root CA", key=rsa_key(2048, "other-root"))
    inter2 = make_intermediate(inter, "Test Second-Level CA", key=ec_key("P-256", "inter2"))
    ec_root = make_root("EC Root CA", key=ec_key("P-384", "ec-root"))
    ec_inter = make_intermediate(ec_root, "EC Intermediate CA", key=ec_key("P-256", "ec-inter"))
    return World(
        root=root,
        inter=inter,
        leaf=make_leaf(inter),
        other_root=other_root,
        other_inter=make_intermediate(other_root, "Other Intermediate CA", key=rsa_key(2048, "other-inter")),
        impostor=make_intermediate(root, key=rsa_key(2048, "impostor")),
        inter2=inter2,
        leaf2=make_leaf(inter2, ["deep.example.com"]),
        ec_root=ec_root,
        ec_inter=ec_inter,
        ec_leaf=make_leaf(ec_inter, ["ec.example.com"], key=ec_key("P-256", "ec-leaf")),
    )


@dataclass(frozen=True)
class Bundle:
    """The arguments of one check_bundle call."""

    body: str
    key: str
    chain: str | None = None
    for_cloudfront: bool = True
    aliases: list[str] | None = None
    now: datetime.datetime | None = NOW

    def check(self) -> CheckedBundle:
        return check_bundle(
            self.body,
            self.key,
            self.chain,
            for_cloudfront=self.for_cloudfront,
            aliases=self.aliases,
            now=self.now,
        )


def good(w: World, **changes: object) -> Bundle:
    """The reference bundle that passes (RSA 2048 leaf with its intermediate), with some fields changed."""
    return dataclasses.replace(Bundle(w.leaf.cert_pem(), w.leaf.key_pem(), chain_pem(w.inter)), **changes)


def alone(issued: Issued, **changes: object) -> Bundle:
    """A bundle of one certificate and its own key, no chain."""
    return dataclasses.replace(Bundle(issued.cert_pem(), issued.key_pem()), **changes)


def leaf_with_key(w: World, key: object, **changes: object) -> Bundle:
    """A leaf with the given key, signed by the RSA intermediate, so that only the key type differs."""
    return alone(make_leaf(w.inter, key=key), chain=chain_pem(w.inter), **changes)


def secret_lines(key_pem: str) -> list[str]:
    """The lines of a PEM key that carry key material (the base64 lines)."""
    return [line.strip() for line in key_pem.splitlines() if len(line.strip()) > 16 and "-----" not in line]


def assert_no_key_material(text: str, key_pem: str) -> None:
    for line in secret_lines(key_pem):
        assert line not in text
        # Also no shorter fragment: the first 16 characters of every line are already unique enough.
        assert line[:16] not in text


# ---- refusals --------------------------------------------------------------------------------

Build = Callable[[World], Bundle]


def _refusal(build: Build, check: str, field: str, fragment: str, id: str) -> object:
    return pytest.param(build, check, field, fragment, id=id)


# One case a line or two, laid out by hand so the table reads as a table.
# fmt: off
REFUSALS = [
    # size: ACM's limits, in bytes; the padding is text outside PEM blocks, which would otherwise pass.
    _refusal(
        lambda w: good(w, body="x" * 33_000 + "\n" + w.leaf.cert_pem()),
        "size", "certificate_body", "32,768 bytes", id="size-body-over-32KB",
    ),
    _refusal(
        lambda w: good(w, key="# padding\n" * 520 + w.leaf.key_pem()),
        "size", "private_key", "5,120 bytes", id="size-key-over-5KB",
    ),
    _refusal(
        lambda w: good(w, chain="x" * (2 * 1024 * 1024) + "\n" + w.inter.cert_pem()),
        "size", "certificate_chain", "2,097,152 bytes", id="size-chain-over-2MB",
    ),
    # pem: certificate_body
    _refusal(lambda w: good(w, body="hello"), "pem", "certificate_body", "not a PEM certificate", id="pem-body-text"),
    _refusal(lambda w: good(w, body=""), "pem", "certificate_body", "not a PEM certificate", id="pem-body-empty"),
    _refusal(
        lambda w: good(w, body=chain_pem(w.leaf, w.inter)),
        "pem", "certificate_body", "holds 2 certificates", id="pem-body-two-certificates",
    ),
    _refusal(
        lambda w: good(w, body=w.leaf.key_pem()),
        "pem", "certificate_body", "holds a private key", id="pem-body-is-the-key",
    ),
    _refusal(
        lambda w: good(w, body=w.leaf.cert_pem() + w.leaf.key_pem()),
        "pem", "certificate_body", "holds a private key", id="pem-body-cert-and-key",
    ),
    _refusal(
        lambda w: good(w, body=w.leaf.cert_pem()[:700]),
        "pem", "certificate_body", "incomplete PEM block", id="pem-body-truncated",
    ),
    _refusal(
        lambda w: good(w, body="-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"),
        "pem", "certificate_body", "does not decode", id="pem-body-not-x509",
    ),
    _refusal(
        lambda w: good(w, body="-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"),
        "pem", "certificate_body", "CERTIFICATE REQUEST", id="pem-body-is-a-csr",
    ),
    # pem: private_key
    _refusal(lambda w: good(w, key="not a key"), "pem", "private_key", "not a PEM private key", id="pem-key-text"),
    _refusal(
        lambda w: good(w, key=w.leaf.cert_pem()),
        "pem", "private_key", "it holds CERTIFICATE instead", id="pem-key-is-the-certificate",
    ),
    _refusal(
        lambda w: good(w, key=w.leaf.key_pem() + w.leaf.cert_pem()),
        "pem", "private_key", "also holds CERTIFICATE", id="pem-key-and-certificate",
    ),
    _refusal(
        lambda w: good(w, key=w.leaf.key_pem() + w.inter.key_pem()),
        "pem", "private_key", "holds 2 private keys", id="pem-key-two-keys",
    ),
    _refusal(
        lambda w: good(w, key="-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----\n"),
        "pem", "private_key", "OpenSSH format", id="pem-key-openssh",
    ),
    _refusal(
        lambda w: good(w, key="-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"),
        "pem", "private_key", "does not decode to a private key", id="pem-key-not-a-key",
    ),
    _refusal(
        lambda w: good(w, key=w.leaf.key_pem()[:400]),
        "pem", "private_key", "incomplete PEM block", id="pem-key-truncated",
    ),
    # pem: certificate_chain
    _refusal(
        lambda w: good(w, chain="intermediate goes here"),
        "pem", "certificate_chain", "not PEM certificates", id="pem-chain-text",
    ),
    _refusal(
        lambda w: good(w, chain=w.inter.cert_pem() + w.leaf.key_pem()),
        "pem", "certificate_chain", "holds a private key", id="pem-chain-holds-key",
    ),
    _refusal(
        lambda w: good(w, chain=w.inter.cert_pem() + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        "pem", "certificate_chain", "certificate 2 of certificate_chain does not decode", id="pem-chain-bad-second",
    ),
    # encrypted_key: by PKCS#8 label, by legacy header, and by what loading says.
    _refusal(
        lambda w: good(w, key=w.leaf.key_pem(password=b"secret")),
        "encrypted_key", "private_key", "is encrypted", id="encrypted-pkcs8",
    ),
    _refusal(
        lambda w: good(w, key=w.leaf.key_pem(fmt="traditional", password=b"secret")),
        "encrypted_key", "private_key", "is encrypted", id="encrypted-proc-type",
    ),
    _refusal(
        # An odd spelling of the legacy header that only the loader recognises.
        lambda w: good(
            w,
            key=w.leaf.key_pem(fmt="traditional", password=b"secret").replace(
                "Proc-Type: 4,ENCRYPTED", "Proc-Type:4,ENCRYPTED"
            ),
        ),
        "encrypted_key", "private_key", "is encrypted", id="encrypted-said-by-loader",
    ),
    # key_type: each leaf carries the key, so without the check the bundle would pass.
    _refusal(
        lambda w: leaf_with_key(w, rsa_key(1536)), "key_type", "private_key", "RSA 1536-bit", id="key-type-rsa-1536",
    ),
    _refusal(
        lambda w: leaf_with_key(w, rsa_key(5120), for_cloudfront=False),
        "key_type", "private_key", "RSA 5120-bit", id="key-type-rsa-5120",
    ),
    _refusal(
        lambda w: leaf_with_key(w, ec_key("secp256k1"), for_cloudfront=False),
        "key_type", "private_key", "secp256k1", id="key-type-ec-secp256k1",
    ),
    _refusal(
        lambda w: leaf_with_key(w, dsa_key(), for_cloudfront=False),
        "key_type", "private_key", "DSA key", id="key-type-dsa",
    ),
    _refusal(
        lambda w: leaf_with_key(w, ed25519_key(), for_cloudfront=False),
        "key_type", "private_key", "an Ed25519 key", id="key-type-ed25519",
    ),
    _refusal(
        lambda w: leaf_with_key(w, ec_key("P-384")), "key_type", "private_key", "EC_secp384r1", id="key-type-p384-cf",
    ),
    _refusal(
        lambda w: leaf_with_key(w, ec_key("P-521")), "key_type", "private_key", "EC_secp521r1", id="key-type-p521-cf",
    ),
    # key_mismatch
    _refusal(
        lambda w: good(w, key=Issued(w.leaf.cert, rsa_key(2048, "stranger")).key_pem()),
        "key_mismatch", "private_key", "does not belong", id="key-mismatch-rsa",
    ),
    _refusal(
        lambda w: good(w, key=w.ec_leaf.key_pem()),
        "key_mismatch", "private_key", "does not belong", id="key-mismatch-ec-key-rsa-cert",
    ),
    # validity
    _refusal(
        lambda w: alone(make_leaf(w.inter, validity=window(10, 400)), chain=chain_pem(w.inter)),
        "validity", "certificate_body", "not yet valid until", id="validity-not-yet",
    ),
    _refusal(
        lambda w: alone(make_leaf(w.inter, validity=window(-400, -10)), chain=chain_pem(w.inter)),
        "validity", "certificate_body", "expired on", id="validity-expired",
    ),
    _refusal(
        lambda w: good(w, now=NOW + 400 * DAY), "validity", "certificate_body", "expired on", id="validity-now-later",
    ),
    # chain_order
    _refusal(
        lambda w: good(w, chain=chain_pem(w.other_inter)),
        "chain_order", "certificate_chain", "certificate 1 of the chain did not sign the certificate in "
        "certificate_body", id="chain-order-wrong-issuer",
    ),
    _refusal(
        lambda w: good(w, chain=chain_pem(w.impostor)),
        "chain_order", "certificate_chain", "signature does not verify", id="chain-order-same-name-other-key",
    ),
    _refusal(
        lambda w: alone(w.leaf2, chain=chain_pem(w.inter2, w.other_inter)),
        "chain_order", "certificate_chain", "certificate 2 of the chain did not sign certificate 1",
        id="chain-order-second-link",
    ),
    _refusal(
        lambda w: alone(w.leaf2, chain=chain_pem(w.inter, w.inter2)),
        "chain_order", "certificate_chain", "looks reversed", id="chain-order-reversed",
    ),
    _refusal(
        lambda w: good(w, chain=chain_pem(w.leaf, w.inter)),
        "chain_order", "certificate_chain", "is the certificate in certificate_body itself", id="chain-order-leaf-again",
    ),
    _refusal(
        lambda w: alone(w.ec_leaf, chain=chain_pem(make_intermediate(
            w.ec_root, "EC Intermediate CA", key=ec_key("P-256", "ec-impostor")))),
        "chain_order", "certificate_chain", "signature does not verify", id="chain-order-ecdsa-impostor",
    ),
    # chain_root
    _refusal(
        lambda w: good(w, chain=chain_pem(w.inter, w.root)),
        "chain_root", "certificate_chain", "certificate 2 of the chain", id="chain-root-after-intermediate",
    ),
    _refusal(
        lambda w: alone(make_leaf(w.root), chain=chain_pem(w.root)),
        "chain_root", "certificate_chain", "leave the root out", id="chain-root-only",
    ),
    # aliases
    _refusal(
        lambda w: good(w, aliases=["example.com", "shop.example.com", "www.example.com", "other.org"]),
        "aliases", "aliases", "shop.example.com, other.org", id="aliases-not-covered",
    ),
    _refusal(
        lambda w: alone(make_leaf(w.inter, ["*.example.com"]), aliases=["example.com"]),
        "aliases", "aliases", "not covered by the certificate: example.com", id="aliases-wildcard-not-apex",
    ),
    _refusal(
        lambda w: alone(make_leaf(w.inter, ["*.example.com"]), aliases=["a.b.example.com"]),
        "aliases", "aliases", "a.b.example.com", id="aliases-wildcard-one-label-only",
    ),
]
# fmt: on


@pytest.mark.parametrize(("build", "check", "field", "fragment"), REFUSALS)
def test_refusal_names_check_field_and_problem(world, build, check, field, fragment):
    bundle = build(world)

    with pytest.raises(BundleError) as caught:
        bundle.check()

    error = caught.value
    assert (error.check, error.field) == (check, field), error.message
    assert fragment in error.message
    # The message names the field it concerns, so the owner knows what to fix.
    assert field in error.message
    assert str(error) == error.message
    assert isinstance(error, ValueError)
    for text in (str(error), repr(error), *map(str, error.args)):
        assert_no_key_material(text, bundle.key)


def test_key_of_exactly_5KB_is_accepted(world):
    key = world.leaf.key_pem()
    padded = "#" * (MAX_KEY_BYTES - len(key) - 1) + "\n" + key
    assert len(padded.encode()) == MAX_KEY_BYTES

    assert good(world, key=padded).check().key_type == "RSA_2048"


def test_checks_run_in_order(world):
    # Encrypted key, foreign chain and uncovered alias at once: the earliest check is reported.
    bundle = good(
        world, key=world.leaf.key_pem(password=b"pw"), chain=chain_pem(world.other_inter), aliases=["x.org"]
    )
    with pytest.raises(BundleError) as caught:
        bundle.check()
    assert caught.value.check == "encrypted_key"

    expired_and_mismatched = alone(
        make_leaf(world.inter, validity=window(-400, -10)), key=world.ec_leaf.key_pem()
    )
    with pytest.raises(BundleError) as caught:
        expired_and_mismatched.check()
    assert caught.value.check == "key_mismatch"


# ---- bundles that pass -----------------------------------------------------------------------


def test_rsa_2048_with_chain_is_described(world):
    result = good(world, aliases=["WWW.Example.com."]).check()

    leaf = world.leaf.cert
    assert result.certificate_pem == world.leaf.cert_pem()
    assert result.certificate_pem.endswith("\n")
    assert result.chain_pem == world.inter.cert_pem()
    assert result.dns_names == ["example.com", "www.example.com"]
    assert result.subject == "CN=example.com,O=Example Site"
    assert result.not_before == leaf.not_valid_before_utc
    assert result.not_after == leaf.not_valid_after_utc
    assert result.not_before.tzinfo is not None and result.not_before.utcoffset() == datetime.timedelta(0)
    assert result.key_type == "RSA_2048"
    assert int(result.serial_hex, 16) == leaf.serial_number
    assert len(result.serial_hex) % 2 == 0
    assert result.fingerprint_sha256 == leaf.fingerprint(hashes.SHA256()).hex()
    assert result.warnings == []


def test_ec_p256_without_chain(world):
    result = alone(world.ec_leaf).check()

    assert result.key_type == "EC_prime256v1"
    assert result.chain_pem is None
    assert result.dns_names == ["ec.example.com"]
    assert result.warnings == []


def test_two_level_chain_in_order_with_ecdsa_signatures(world):
    result = alone(world.leaf2, chain=chain_pem(world.inter2, world.inter)).check()
    assert result.chain_pem == chain_pem(world.inter2, world.inter)

    assert (
        alone(world.ec_leaf, chain=chain_pem(world.ec_inter)).check().chain_pem == world.ec_inter.cert_pem()
    )


@pytest.mark.parametrize(
    ("make_key", "key_type"),
    [
        (lambda: rsa_key(1024), "RSA_1024"),
        (lambda: rsa_key(3072), "RSA_3072"),
        (lambda: rsa_key(4096), "RSA_4096"),
        (lambda: ec_key("P-256"), "EC_prime256v1"),
    ],
    ids=["rsa-1024", "rsa-3072", "rsa-4096", "ec-p256"],
)
def test_key_types_cloudfront_takes(world, make_key, key_type):
    assert leaf_with_key(world, make_key()).check().key_type == key_type


@pytest.mark.parametrize(("curve", "key_type"), [("P-384", "EC_secp384r1"), ("P-521", "EC_secp521r1")])
def test_ec_curves_only_acm_takes_pass_with_a_warning_when_no_distribution(world, curve, key_type):
    result = leaf_with_key(world, ec_key(curve), for_cloudfront=False).check()

    assert result.key_type == key_type
    assert len(result.warnings) == 1
    assert "CloudFront" in result.warnings[0]


@pytest.mark.parametrize("blank", ["", "  \n\t\n"])
def test_blank_chain_counts_as_no_chain(world, blank):
    assert good(world, chain=blank).check().chain_pem is None


@pytest.mark.parametrize(
    "key_pem",
    [
        lambda w: w.leaf.key_pem(fmt="traditional"),  # BEGIN RSA PRIVATE KEY
        lambda w: w.leaf.key_pem().replace("\n", "\r\n"),
        lambda w: "Bag Attributes\n    localKeyID: 01 02\n" + w.leaf.key_pem(),
    ],
    ids=["rsa-traditional", "crlf", "openssl-bag-attributes"],
)
def test_key_spellings_accepted(world, key_pem):
    assert good(world, key=key_pem(world)).check().key_type == "RSA_2048"


def test_ec_key_after_ec_parameters_block_accepted(world):
    # What `openssl ecparam -genkey` writes.
    parameters = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    bundle = alone(world.ec_leaf, key=parameters + world.ec_leaf.key_pem(fmt="traditional"))
    assert bundle.check().key_type == "EC_prime256v1"


def test_pem_is_normalised(world):
    messy_body = "subject=CN=example.com\r\n\r\n" + world.leaf.cert_pem().replace("\n", "\r\n") + "\r\n\r\n"
    messy_chain = "issuer=...\n" + world.inter.cert_pem().replace("\n", "\r\n")

    result = good(world, body=messy_body, chain=messy_chain).check()

    assert result.certificate_pem == world.leaf.cert_pem()
    assert result.chain_pem == world.inter.cert_pem()


def test_expiring_within_30_days_passes_with_a_warning(world):
    result = alone(make_leaf(world.inter, validity=window(-300, 10)), chain=chain_pem(world.inter)).check()

    assert [w for w in result.warnings if "expires on" in w and "in 10 days" in w]


def test_validity_bounds_are_inclusive(world):
    leaf = world.leaf.cert
    assert good(world, now=leaf.not_valid_before_utc).check()
    assert good(world, now=leaf.not_valid_after_utc).check().warnings  # and it expires very soon
    with pytest.raises(BundleError, match="not yet valid"):
        good(world, now=leaf.not_valid_before_utc - datetime.timedelta(seconds=1)).check()


def test_now_defaults_to_the_current_time_and_naive_means_utc(world):
    assert good(world, now=None).check().key_type == "RSA_2048"
    assert good(world, now=NOW.replace(tzinfo=None)).check().key_type == "RSA_2048"
    with pytest.raises(BundleError, match="expired"):
        good(world, now=(NOW + 400 * DAY).replace(tzinfo=None)).check()


def test_self_signed_leaf_passes_with_a_warning(world):
    self_signed = make_leaf(None, ["self.example.com"])

    result = alone(self_signed).check()

    assert result.chain_pem is None
    assert [w for w in result.warnings if "self-signed" in w]


def test_common_name_outside_the_san_comes_first(world):
    leaf = make_leaf(world.inter, ["www.example.com"], common_name="Legacy.Example.com")
    assert alone(leaf).check().dns_names == ["legacy.example.com", "www.example.com"]

    assert alone(make_leaf(world.inter, [], common_name="nosan.example.com")).check().dns_names == [
        "nosan.example.com"
    ]
    # A CN that is not a host name is no DNS name.
    assert alone(make_leaf(world.inter, ["a.example.com"], common_name="Example Corp")).check().dns_names == [
        "a.example.com"
    ]


@pytest.mark.parametrize(
    "aliases",
    [[], ["example.com"], ["WWW.EXAMPLE.COM.", "example.com"], [" www.example.com "]],
)
def test_aliases_covered(world, aliases):
    assert good(world, aliases=aliases).check()


def test_wildcard_certificate_covers_one_label_and_a_wildcard_alias(world):
    leaf = make_leaf(world.inter, ["example.com", "*.example.com"])
    assert alone(leaf, aliases=["example.com", "a.example.com", "*.example.com"]).check()


def test_checked_bundle_holds_no_key(world):
    bundle = good(world)
    result = bundle.check()

    assert "key" not in {f.name for f in dataclasses.fields(CheckedBundle)} - {"key_type"}
    assert "PRIVATE KEY" not in repr(result)
    # The certificates hold the public key, which may share base64 runs with the key's PEM by chance:
    # they are compared whole elsewhere, so look at everything else.
    assert_no_key_material(repr(dataclasses.replace(result, certificate_pem="", chain_pem=None)), bundle.key)


# ---- covers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("certificate_name", "name", "expected"),
    [
        ("example.com", "example.com", True),
        ("Example.COM", "example.com.", True),
        ("example.com", "www.example.com", False),
        ("www.example.com", "example.com", False),
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "A.Example.Com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", ".example.com", False),
        ("*.example.com", "aexample.com", False),
        ("*.example.com", "a.example.org", False),
        ("*.example.com", "*.example.com", True),
        ("a.example.com", "*.example.com", False),
        ("", "", False),
    ],
)
def test_covers(certificate_name, name, expected):
    assert covers(certificate_name, name) is expected


# ---- mask_pem_blocks -------------------------------------------------------------------------


def test_mask_pem_blocks_removes_every_key_block_and_keeps_the_rest(world):
    keys = [
        world.leaf.key_pem(),
        world.leaf.key_pem(fmt="traditional"),
        world.ec_leaf.key_pem(fmt="traditional"),
        world.leaf.key_pem(password=b"pw"),
        world.leaf.key_pem(fmt="traditional", password=b"pw"),
    ]
    certificate = world.leaf.cert_pem()
    text = "Import failed for " + "and ".join(keys) + " with certificate " + certificate + " (end)"

    masked = mask_pem_blocks(text)

    assert masked.count("[private key removed]") == len(keys)
    assert masked.startswith("Import failed for [private key removed]")
    assert masked.endswith(" (end)")
    assert certificate in masked
    for key in keys:
        # Without the certificate: it holds the public key, which may share base64 runs with a key.
        assert_no_key_material(masked.replace(certificate, ""), key)


@pytest.mark.parametrize(
    "cut",
    [
        lambda key: "error: " + key[: len(key) // 2],  # END line cut off
        lambda key: key[len(key) // 2 :] + " was refused",  # BEGIN line cut off
        lambda key: repr(key),  # escaped newlines, as in a logged dict
        lambda key: key.replace("PRIVATE KEY", "private key"),
    ],
    ids=["no-end", "no-begin", "repr", "lower-case"],
)
def test_mask_pem_blocks_removes_cut_off_blocks(world, cut):
    key = world.leaf.key_pem()
    masked = mask_pem_blocks(cut(key))
    assert "[private key removed]" in masked
    assert_no_key_material(masked, key)


def test_mask_pem_blocks_leaves_text_without_keys_alone(world):
    text = "AccessDenied for " + world.leaf.cert_pem()
    assert mask_pem_blocks(text) == text
