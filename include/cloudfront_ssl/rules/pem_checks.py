"""Local checks of a certificate bundle before it is imported into ACM.

Pure functions over the PEM text the user gave: no AWS call, no Airflow import. ACM would refuse
most of these problems too, but only after the job has started, with a terse message, and a
CloudFront distribution would refuse the rest (key type, aliases) later still. Checking here lets
the trigger form and the API say exactly what is wrong before anything is made.

The private key is read but never kept: no message, repr or result of this module holds any part
of it. ``mask_pem_blocks`` scrubs private keys out of any other text (AWS error messages, logs)
before it is published.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

# Re-exported: the one wildcard rule of the project, and the one key scrubber (both in light modules
# that the DAG files import, so that they do not pull in cryptography).
from cloudfront_ssl.rules.messages import KEY_REMOVED
from cloudfront_ssl.rules.messages import scrub_secrets as mask_pem_blocks
from cloudfront_ssl.rules.names import InvalidNameError, covers, normalize_name

__all__ = ["KEY_REMOVED", "BundleError", "CheckedBundle", "check_bundle", "covers", "mask_pem_blocks"]

# ACM's ImportCertificate limits, in bytes.
MAX_BODY_BYTES = 32 * 1024
MAX_KEY_BYTES = 5 * 1024
MAX_CHAIN_BYTES = 2 * 1024 * 1024

# ACM's spelling of the key types it imports; CloudFront takes only the subset below.
_RSA_KEY_TYPES = {1024: "RSA_1024", 2048: "RSA_2048", 3072: "RSA_3072", 4096: "RSA_4096"}
_EC_KEY_TYPES = {"secp256r1": "EC_prime256v1", "secp384r1": "EC_secp384r1", "secp521r1": "EC_secp521r1"}
CLOUDFRONT_KEY_TYPES = frozenset({"RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1"})

EXPIRY_WARNING = datetime.timedelta(days=30)

# A complete PEM block: the END label must repeat the BEGIN label.
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]+-----")


# What a name in dns_names may look like; a subject CN such as "Example Corp" is not a host name.
_DNS_NAME = re.compile(r"^(\*\.)?([a-z0-9_]([a-z0-9_-]*[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$")

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


class BundleError(ValueError):
    """A refusal. `check` is a short stable id of the failed check, `field` the conf field it concerns
    (certificate_body, private_key, certificate_chain, aliases), message says exactly what is wrong."""

    def __init__(self, check: str, field: str, message: str) -> None:
        super().__init__(message)
        self.check = check
        self.field = field
        self.message = message

    def __repr__(self) -> str:
        return f"BundleError(check={self.check!r}, field={self.field!r}, message={self.message!r})"


@dataclass(frozen=True)
class CheckedBundle:
    """What the checks learnt about a bundle that passed them; never holds the private key."""

    certificate_pem: str
    chain_pem: str | None
    dns_names: list[str]
    subject: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    key_type: str
    serial_hex: str
    fingerprint_sha256: str
    warnings: list[str]


@dataclass(frozen=True)
class _Block:
    label: str
    text: str  # the whole block, BEGIN to END line


def check_bundle(
    certificate_body: str,
    private_key: str,
    certificate_chain: str | None,
    *,
    for_cloudfront: bool,
    aliases: list[str] | None = None,
    now: datetime.datetime | None = None,
) -> CheckedBundle:
    """Check a certificate bundle as ACM's ImportCertificate (and CloudFront) would, and describe it.

    Runs the checks in a fixed order (size, pem, encrypted_key, key_type, key_mismatch, validity,
    chain_order, chain_root, aliases) and raises a ``BundleError`` at the first that fails.

    :param certificate_body: PEM of the leaf certificate, exactly one certificate.
    :param private_key: PEM of the leaf's private key, unencrypted.
    :param certificate_chain: PEM of the intermediates, the leaf's issuer first, without the root;
        None or blank for none.
    :param for_cloudfront: the certificate is to be attached to a CloudFront distribution, so the
        key must be one CloudFront takes (RSA 1024-4096 or EC P-256), not only one ACM takes.
    :param aliases: domain names that the certificate must cover (CloudFront alternate domain names).
    :param now: the time to check validity against, default the current time; naive means UTC.
    :returns: the normalised PEM and facts about the certificate, with non-fatal warnings.
    :raises BundleError: the first check that fails.
    """
    if certificate_chain is not None and not certificate_chain.strip():
        certificate_chain = None
    if now is None:
        now = datetime.datetime.now(datetime.UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=datetime.UTC)
    warnings: list[str] = []

    _check_sizes(certificate_body, private_key, certificate_chain)

    # pem: read all three fields before looking at what they hold.
    leaf = _read_certificate_body(certificate_body)
    dns_names = _dns_names(leaf)
    key_block = _read_key_block(private_key)
    chain = _read_chain(certificate_chain) if certificate_chain is not None else []

    key = _load_key(key_block)  # encrypted_key, and pem for a key that does not decode

    key_type = _key_type(key, for_cloudfront, warnings)

    _check_key_matches(key, leaf)

    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    _check_validity(not_before, not_after, now, warnings)

    _check_chain_order(leaf, chain)
    _check_chain_root(chain)
    if _is_self_signed(leaf):
        warnings.append(
            "certificate_body is self-signed: ACM imports it, but browsers will not trust it "
            "(use a certificate issued by a public certificate authority for a public site)"
        )

    if aliases is not None:
        _check_aliases(aliases, dns_names)

    return CheckedBundle(
        certificate_pem=_pem(leaf),
        chain_pem="".join(_pem(c) for c in chain) if chain else None,
        dns_names=dns_names,
        subject=leaf.subject.rfc4514_string(),
        not_before=not_before,
        not_after=not_after,
        key_type=key_type,
        serial_hex=_serial_hex(leaf.serial_number),
        fingerprint_sha256=leaf.fingerprint(hashes.SHA256()).hex(),
        warnings=warnings,
    )


# --- size ------------------------------------------------------------------------------------


def _check_sizes(body: str, key: str, chain: str | None) -> None:
    limits = [
        ("certificate_body", body, MAX_BODY_BYTES, "32 KB"),
        ("private_key", key, MAX_KEY_BYTES, "5 KB"),
    ]
    if chain is not None:
        limits.append(("certificate_chain", chain, MAX_CHAIN_BYTES, "2 MB"))
    for field, text, limit, shown in limits:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise BundleError(
                "size", field, f"{field} is {size:,} bytes; ACM imports at most {limit:,} bytes ({shown})"
            )


# --- pem -------------------------------------------------------------------------------------


def _blocks(text: str, field: str) -> list[_Block]:
    """The complete PEM blocks of ``text``; text around them (openssl's "Bag Attributes", notes) is
    ignored, but a BEGIN line without its END line is refused: it is what a truncated paste looks like."""
    blocks = [_Block(m.group(1), m.group(0)) for m in _PEM_BLOCK.finditer(text)]
    if len(_PEM_BEGIN.findall(text)) != len(blocks):
        raise BundleError(
            "pem",
            field,
            f"{field} holds an incomplete PEM block (a BEGIN line without its matching END line)",
        )
    return blocks


def _load_certificate(block: _Block) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(block.text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None


def _read_certificate_body(body: str) -> x509.Certificate:
    blocks = _blocks(body, "certificate_body")
    if any(b.label.endswith("PRIVATE KEY") for b in blocks):
        raise BundleError(
            "pem",
            "certificate_body",
            "certificate_body holds a private key; it must hold only the certificate "
            "(the key goes in private_key)",
        )
    certificates = [b for b in blocks if b.label == "CERTIFICATE"]
    others = sorted({b.label for b in blocks if b.label != "CERTIFICATE"})
    if others:
        raise BundleError(
            "pem",
            "certificate_body",
            f"certificate_body must hold only a PEM certificate; it also holds {', '.join(others)}",
        )
    if not certificates:
        raise BundleError(
            "pem",
            "certificate_body",
            "certificate_body is not a PEM certificate (no -----BEGIN CERTIFICATE----- block)",
        )
    if len(certificates) > 1:
        raise BundleError(
            "pem",
            "certificate_body",
            f"certificate_body holds {len(certificates)} certificates; put only the site's certificate "
            "there and its intermediates in certificate_chain",
        )
    certificate = _load_certificate(certificates[0])
    if certificate is None:
        raise BundleError(
            "pem", "certificate_body", "certificate_body's PEM block does not decode to an X.509 certificate"
        )
    return certificate


def _read_key_block(text: str) -> _Block:
    blocks = _blocks(text, "private_key")
    keys = [b for b in blocks if b.label.endswith("PRIVATE KEY")]
    # `openssl ecparam -genkey` writes an EC PARAMETERS block before the key: harmless.
    others = sorted({b.label for b in blocks if b not in keys and b.label != "EC PARAMETERS"})
    if not keys:
        found = f"; it holds {', '.join(others)} instead" if others else ""
        raise BundleError(
            "pem",
            "private_key",
            f"private_key is not a PEM private key (no -----BEGIN ... PRIVATE KEY----- block){found}",
        )
    if len(keys) > 1:
        raise BundleError(
            "pem", "private_key", f"private_key holds {len(keys)} private keys; give exactly one"
        )
    if others:
        raise BundleError(
            "pem",
            "private_key",
            f"private_key must hold only the private key; it also holds {', '.join(others)}",
        )
    if keys[0].label == "OPENSSH PRIVATE KEY":
        raise BundleError(
            "pem",
            "private_key",
            "private_key is in OpenSSH format; ACM needs a PEM key (-----BEGIN PRIVATE KEY-----), "
            "e.g. from `openssl pkey`",
        )
    return keys[0]


def _read_chain(text: str) -> list[x509.Certificate]:
    blocks = _blocks(text, "certificate_chain")
    if any(b.label.endswith("PRIVATE KEY") for b in blocks):
        raise BundleError(
            "pem",
            "certificate_chain",
            "certificate_chain holds a private key; it must hold only the intermediate certificates",
        )
    others = sorted({b.label for b in blocks if b.label != "CERTIFICATE"})
    if others:
        raise BundleError(
            "pem",
            "certificate_chain",
            f"certificate_chain must hold only PEM certificates; it also holds {', '.join(others)}",
        )
    if not blocks:
        raise BundleError(
            "pem",
            "certificate_chain",
            "certificate_chain is not PEM certificates (no -----BEGIN CERTIFICATE----- block); "
            "leave it empty if there is no chain",
        )
    chain = []
    for position, block in enumerate(blocks, start=1):
        certificate = _load_certificate(block)
        if certificate is None:
            raise BundleError(
                "pem",
                "certificate_chain",
                f"certificate {position} of certificate_chain does not decode to an X.509 certificate",
            )
        chain.append(certificate)
    return chain


def _dns_names(certificate: x509.Certificate) -> list[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [n.lower() for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    except ValueError:
        # cryptography parses extensions lazily and refuses duplicated or malformed ones here.
        raise BundleError(
            "pem", "certificate_body", "certificate_body has malformed extensions and cannot be read"
        ) from None
    names = list(dict.fromkeys(names))  # drop repeats, keep the certificate's order
    common_names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if common_names:
        common_name = str(common_names[0].value).lower().rstrip(".")
        # Browsers ignore the CN when there are SANs, but CloudFront accepts a name in either.
        if common_name not in names and _DNS_NAME.match(common_name):
            names.insert(0, common_name)
    return names


# --- encrypted_key (and pem for a key that does not decode) ----------------------------------


def _load_key(block: _Block) -> PrivateKeyTypes:
    encrypted = block.label == "ENCRYPTED PRIVATE KEY" or "Proc-Type: 4,ENCRYPTED" in block.text
    if not encrypted:
        try:
            return serialization.load_pem_private_key(block.text.encode("ascii"), password=None)
        except TypeError:
            # cryptography's way of saying "this key needs a password".
            encrypted = True
        except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError):
            # No detail from the exception: keep everything about the key's content out of messages.
            raise BundleError(
                "pem", "private_key", "private_key's PEM block does not decode to a private key"
            ) from None
    raise BundleError(
        "encrypted_key",
        "private_key",
        "private_key is encrypted (protected by a passphrase); ACM needs it unencrypted: "
        "decrypt it first, e.g. `openssl pkey -in key.pem -out key-unencrypted.pem`",
    )


# --- key_type --------------------------------------------------------------------------------

_KEY_TYPES_TAKEN = "ACM takes RSA 1024, 2048, 3072 or 4096-bit keys and EC P-256, P-384 or P-521 keys"
_CLOUDFRONT_TAKES = "CloudFront takes only RSA 1024 to 4096-bit keys and EC P-256 (prime256v1) keys"


def _key_type(key: PrivateKeyTypes, for_cloudfront: bool, warnings: list[str]) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        key_type = _RSA_KEY_TYPES.get(key.key_size)
        description = f"an RSA {key.key_size}-bit key"
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        key_type = _EC_KEY_TYPES.get(key.curve.name)
        description = f"an EC key on curve {key.curve.name}"
    else:
        key_type = None
        name = _algorithm_name(key)
        description = f"{'an' if name[0] in 'AEIOU' else 'a'} {name} key"
    if key_type is None:
        raise BundleError("key_type", "private_key", f"private_key is {description}; {_KEY_TYPES_TAKEN}")
    if key_type not in CLOUDFRONT_KEY_TYPES:
        if for_cloudfront:
            raise BundleError(
                "key_type",
                "private_key",
                f"private_key is {description} ({key_type}); {_CLOUDFRONT_TAKES}, "
                "so this certificate could not be attached to the distribution",
            )
        warnings.append(
            f"private_key is {description} ({key_type}): ACM imports it, but {_CLOUDFRONT_TAKES}, "
            "so this certificate cannot be attached to a CloudFront distribution"
        )
    return key_type


def _algorithm_name(key: PrivateKeyTypes) -> str:
    # "DSAPrivateKey" -> "DSA", "Ed25519PrivateKey" -> "Ed25519": the class names are stable API.
    for base in type(key).__mro__:
        if base.__name__.endswith("PrivateKey") and base.__module__.startswith("cryptography"):
            return base.__name__.removesuffix("PrivateKey")
    return type(key).__name__


# --- key_mismatch ----------------------------------------------------------------------------


def _check_key_matches(key: PrivateKeyTypes, leaf: x509.Certificate) -> None:
    try:
        matches = leaf.public_key() == key.public_key()
    except (ValueError, UnsupportedAlgorithm):
        matches = False
    if not matches:
        raise BundleError(
            "key_mismatch",
            "private_key",
            "private_key does not belong to the certificate in certificate_body "
            "(its public key differs from the certificate's)",
        )


# --- validity --------------------------------------------------------------------------------


def _check_validity(
    not_before: datetime.datetime, not_after: datetime.datetime, now: datetime.datetime, warnings: list[str]
) -> None:
    if now < not_before:
        raise BundleError(
            "validity",
            "certificate_body",
            f"certificate_body is not yet valid until {not_before:{_TIME_FORMAT}}; ACM imports only a "
            "certificate within its validity period",
        )
    if now > not_after:
        raise BundleError(
            "validity",
            "certificate_body",
            f"certificate_body expired on {not_after:{_TIME_FORMAT}}; ACM imports only a certificate "
            "within its validity period",
        )
    left = not_after - now
    if left <= EXPIRY_WARNING:
        warnings.append(
            f"certificate_body expires on {not_after:{_TIME_FORMAT}}, in {left.days} days; ACM never renews "
            "an imported certificate: import a renewed one before then"
        )


# --- chain_order and chain_root --------------------------------------------------------------


def _signed(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``issuer`` issued ``child``: names match and the signature verifies with its key."""
    try:
        # Compares child.issuer with issuer.subject, then verifies RSA PKCS#1 v1.5/PSS, ECDSA,
        # DSA or EdDSA signatures with the issuer's public key.
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _is_self_signed(certificate: x509.Certificate) -> bool:
    return _signed(certificate, certificate)


def _check_chain_order(leaf: x509.Certificate, chain: list[x509.Certificate]) -> None:
    for position, parent in enumerate(chain, start=1):
        if parent == leaf:
            raise BundleError(
                "chain_order",
                "certificate_chain",
                f"certificate {position} of the chain is the certificate in certificate_body itself; "
                "certificate_chain should hold only the intermediates",
            )
        child = leaf if position == 1 else chain[position - 2]
        if _signed(child, parent):
            continue
        signed_what = f"certificate {position - 1}" if position > 1 else "the certificate in certificate_body"
        if child.issuer == parent.subject:
            # Same name, other key: a re-issued or look-alike CA, easy to miss by reading names.
            why = f"its name matches the issuer of {signed_what}, but the signature does not verify with its key"
        else:
            why = (
                f"{signed_what} was issued by {child.issuer.rfc4514_string()}, "
                f"certificate {position} is {parent.subject.rfc4514_string()}"
            )
        if len(chain) > 1 and all(_signed(c, p) for c, p in zip(chain[1:], chain, strict=False)):
            why += "; the chain looks reversed"
        raise BundleError(
            "chain_order",
            "certificate_chain",
            f"certificate {position} of the chain did not sign {signed_what} ({why}); certificate_chain must "
            "start with the issuer of the certificate in certificate_body, each certificate followed by its issuer",
        )


def _check_chain_root(chain: list[x509.Certificate]) -> None:
    for position, certificate in enumerate(chain, start=1):
        if _is_self_signed(certificate):
            raise BundleError(
                "chain_root",
                "certificate_chain",
                f"certificate {position} of the chain ({certificate.subject.rfc4514_string()}) is a "
                "self-signed root certificate; leave the root out of certificate_chain",
            )


# --- aliases ---------------------------------------------------------------------------------


def _check_aliases(aliases: list[str], dns_names: list[str]) -> None:
    wanted: list[str] = []
    for alias in aliases:
        try:
            name = normalize_name(alias)
        except InvalidNameError as error:
            raise BundleError("aliases", "aliases", f"aliases: {error}") from None
        if name not in wanted:
            wanted.append(name)
    uncovered = [a for a in wanted if not any(covers(n, a) for n in dns_names)]
    if uncovered:
        names = ", ".join(dns_names) if dns_names else "no DNS names"
        raise BundleError(
            "aliases",
            "aliases",
            f"aliases not covered by the certificate: {', '.join(uncovered)} "
            f"(the certificate covers {names})",
        )


# --- output ----------------------------------------------------------------------------------


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _serial_hex(serial: int) -> str:
    digits = format(serial, "x")
    # Whole bytes, as ACM and openssl show serials.
    return digits.zfill(len(digits) + len(digits) % 2)


# --- rotation ----------------------------------------------------------------------------------


def check_rotation(
    bundle: CheckedBundle,
    *,
    served: dict[str, list[str]],
    current_not_after: datetime.datetime | None,
    allow_earlier_expiry: bool,
) -> None:
    """Check that a new bundle can replace an imported certificate in place (the same ARN).

    Every distribution that uses the certificate serves the new one at once, unchanged: so the new
    certificate must cover every alias of each of them (``served``: distribution id -> aliases), and
    it must not expire before the one it replaces (``current_not_after``) unless
    ``allow_earlier_expiry``. Raises a :class:`BundleError` (``served_aliases`` or ``earlier_expiry``).
    """
    for distribution_id, aliases in sorted(served.items()):
        missing = [alias for alias in aliases if not any(covers(name, alias) for name in bundle.dns_names)]
        if missing:
            names = ", ".join(bundle.dns_names) if bundle.dns_names else "no DNS names"
            raise BundleError(
                "served_aliases",
                "certificate_body",
                f"the new certificate does not cover {', '.join(missing)}, served by distribution "
                f"{distribution_id} with the certificate it would replace (it covers {names})",
            )
    if current_not_after is not None and not allow_earlier_expiry:
        if current_not_after.tzinfo is None:
            current_not_after = current_not_after.replace(tzinfo=datetime.UTC)
        if bundle.not_after < current_not_after:
            raise BundleError(
                "earlier_expiry",
                "certificate_body",
                f"the new certificate expires {bundle.not_after.isoformat()}, before the one in ACM "
                f"({current_not_after.isoformat()}); set allow_earlier_expiry to accept it",
            )
