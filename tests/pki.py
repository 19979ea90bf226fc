"""The tests' PKI is the development stack's (:mod:`devstack.pki`), shared with the demo."""

from devstack.pki import (
    DAY,
    NOW,
    Issued,
    PrivateKey,
    certificate_bundle,
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

__all__ = [
    "DAY",
    "NOW",
    "Issued",
    "PrivateKey",
    "certificate_bundle",
    "chain_pem",
    "dsa_key",
    "ec_key",
    "ed25519_key",
    "make_intermediate",
    "make_leaf",
    "make_root",
    "rsa_key",
    "window",
]
