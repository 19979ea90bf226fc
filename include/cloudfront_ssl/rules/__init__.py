"""Decisions that need no AWS call: the conf models (``config``), the domain-name rules and the
aggregation under wildcards (``names``), the local checks of a certificate bundle (``pem_checks``),
the tag contract (``tags``) and the owners' messages (``messages``)."""
