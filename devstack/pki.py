"""A small PKI for tests and demos: root CA, intermediate CA and leaf certificates made with ``cryptography``.

Everything is generated in memory; nothing here talks to AWS. Keys are cached per (type, size,
slot) for the whole test session because RSA key generation is the slow part: a test that needs a
*different* key of the same type (a mismatched key, an impostor CA) asks for another ``slot``.

Validity windows are relative to ``NOW``, fixed when this module is imported, so that tests can pass
``now=NOW`` to the code under test and get the same answer on every run.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Second precision: X.509 times carry no fractions, so comparisons with NOW stay exact.
NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
DAY = datetime.timedelta(days=1)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | dsa.DSAPrivateKey | ed25519.Ed25519PrivateKey

_CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
    # Not accepted by ACM; here to test the refusal of "some other curve".
    "secp256k1": ec.SECP256K1(),
}


@functools.cache
def rsa_key(bits: int = 2048, slot: str = "default") -> rsa.RSAPrivateKey:
    """An RSA key of ``bits`` bits, the same object for the same (bits, slot) all session."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def ec_key(curve: str = "P-256", slot: str = "default") -> ec.EllipticCurvePrivateKey:
    """An EC key on ``curve`` ("P-256", "P-384", "P-521" or "secp256k1"), cached like ``rsa_key``."""
    return ec.generate_private_key(_CURVES[curve])


@functools.cache
def dsa_key(slot: str = "default") -> dsa.DSAPrivateKey:
    """A DSA 2048 key: a key type ACM refuses."""
    return dsa.generate_private_key(key_size=2048)


@functools.cache
def ed25519_key(slot: str = "default") -> ed25519.Ed25519PrivateKey:
    """An Ed25519 key: a key type ACM refuses."""
    return ed25519.Ed25519PrivateKey.generate()


def window(start_days: float, end_days: float) -> tuple[datetime.datetime, datetime.datetime]:
    """A validity window (not_before, not_after) in days relative to ``NOW``.

    ``window(-1, 365)`` is valid now; ``window(10, 20)`` is not yet valid; ``window(-20, -10)`` has
    expired; ``window(-300, 10)`` expires within ten days.
    """
    return NOW + start_days * DAY, NOW + end_days * DAY


@dataclass(frozen=True)
class Issued:
    """A certificate and the private key that goes with it."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def name(self) -> x509.Name:
        """The certificate's subject, which is the issuer name of what it signs."""
        return self.cert.subject

    def cert_pem(self) -> str:
        """The certificate as PEM text."""
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def key_pem(
        self, *, fmt: Literal["pkcs8", "traditional"] = "pkcs8", password: bytes | None = None
    ) -> str:
        """The private key as PEM text.

        ``fmt="pkcs8"`` gives "BEGIN PRIVATE KEY" (or "BEGIN ENCRYPTED PRIVATE KEY" with a password);
        ``fmt="traditional"`` gives "BEGIN RSA/EC PRIVATE KEY" (with a password: the legacy
        "Proc-Type: 4,ENCRYPTED" header).
        """
        private_format = serialization.PrivateFormat.PKCS8
        if fmt == "traditional":
            private_format = serialization.PrivateFormat.TraditionalOpenSSL
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self.key.private_bytes(serialization.Encoding.PEM, private_format, encryption).decode("ascii")


def chain_pem(*certs: Issued) -> str:
    """The PEM of several certificates, concatenated in the order given."""
    return "".join(c.cert_pem() for c in certs)


def _name(common_name: str | None, organization: str = "Test PKI") -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)]
    if common_name is not None:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _hash_for(signing_key: PrivateKey) -> hashes.HashAlgorithm | None:
    # Ed25519 signs the message itself: cryptography wants no hash algorithm for it.
    return None if isinstance(signing_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _build(
    *,
    subject: x509.Name,
    key: PrivateKey,
    issuer: Issued | None,
    validity: tuple[datetime.datetime, datetime.datetime],
    ca: bool,
    path_length: int | None,
    dns_names: Sequence[str],
    signing_key: PrivateKey | None,
) -> Issued:
    issuer_name = issuer.name if issuer else subject
    signer = signing_key or (issuer.key if issuer else key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False
        )
    return Issued(cert=builder.sign(signer, _hash_for(signer)), key=key)


def make_root(
    common_name: str = "Test Root CA",
    *,
    key: PrivateKey | None = None,
    validity: tuple[datetime.datetime, datetime.datetime] | None = None,
) -> Issued:
    """A self-signed root CA (RSA 2048 unless ``key`` is given), valid for ten years around ``NOW``."""
    return _build(
        subject=_name(common_name),
        key=key or rsa_key(2048, "root"),
        issuer=None,
        validity=validity or window(-365, 3650),
        ca=True,
        path_length=None,
        dns_names=(),
        signing_key=None,
    )


def make_intermediate(
    issuer: Issued,
    common_name: str = "Test Intermediate CA",
    *,
    key: PrivateKey | None = None,
    validity: tuple[datetime.datetime, datetime.datetime] | None = None,
    signing_key: PrivateKey | None = None,
) -> Issued:
    """An intermediate CA signed by ``issuer`` (RSA 2048 unless ``key`` is given).

    ``signing_key`` signs with a key other than the issuer's while still naming the issuer: a
    certificate whose issuer name is right but whose signature is not.
    """
    return _build(
        subject=_name(common_name),
        key=key or rsa_key(2048, "intermediate"),
        issuer=issuer,
        validity=validity or window(-180, 1800),
        ca=True,
        path_length=0,
        dns_names=(),
        signing_key=signing_key,
    )


def make_leaf(
    issuer: Issued | None,
    dns_names: Sequence[str] = ("example.com", "www.example.com"),
    *,
    common_name: str | None = None,
    key: PrivateKey | None = None,
    validity: tuple[datetime.datetime, datetime.datetime] | None = None,
    signing_key: PrivateKey | None = None,
) -> Issued:
    """A server certificate for ``dns_names`` (SAN), signed by ``issuer``, or self-signed if None.

    The subject CN is ``common_name``, by default the first DNS name (no CN if both are empty).
    The key is RSA 2048 unless ``key`` is given; validity is ``window(-1, 365)`` unless given.
    """
    if common_name is None and dns_names:
        common_name = dns_names[0]
    return _build(
        subject=_name(common_name, organization="Example Site"),
        key=key or rsa_key(2048, "leaf"),
        issuer=issuer,
        validity=validity or window(-1, 365),
        ca=False,
        path_length=None,
        dns_names=dns_names,
        signing_key=signing_key,
    )


def certificate_bundle(dns_names: Sequence[str]) -> dict[str, str]:
    """What an import job takes for ``dns_names``: a leaf's PEM, its key and the chain (intermediate only).

    EC P-256 keys: CloudFront accepts them and they are made instantly. The chain holds no root (a
    chain must not include the self-signed root).
    """
    root = make_root("Cloudfront SSL Demo Root CA", key=ec_key("P-256", "bundle-root"))
    intermediate = make_intermediate(
        root, "Cloudfront SSL Demo Intermediate CA", key=ec_key("P-256", "bundle-intermediate")
    )
    leaf = make_leaf(intermediate, dns_names, key=ec_key("P-256", "bundle-leaf"), validity=window(-1, 90))
    return {
        "certificate_body": leaf.cert_pem(),
        "private_key": leaf.key_pem(),
        "certificate_chain": intermediate.cert_pem(),
    }
