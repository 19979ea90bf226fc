"""The package's own deprecations fail the tests; third-party code's are left to their authors."""

from __future__ import annotations

import warnings

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "cloudfront_ssl.steps.plan",
        "cloudfront_ssl.views.page",
        "ssl_certificates.app",
        "unusual_prefix_0123_ssl_create_certificates",  # how Airflow names a DAG file's module
    ],
)
def test_a_deprecated_call_from_the_package_is_an_error(module: str) -> None:
    with pytest.raises(DeprecationWarning):
        warnings.warn_explicit("a deprecated API", DeprecationWarning, "x.py", 1, module=module)


def test_a_deprecation_inside_a_third_party_library_is_not_ours_to_fail_on() -> None:
    warnings.warn_explicit("a deprecated API", DeprecationWarning, "x.py", 1, module="botocore.client")
