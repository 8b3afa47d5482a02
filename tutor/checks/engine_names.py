"""What a container's or a pod's name may be, as Docker, Podman and Kubernetes take it: one rule
for the checks' fields (base.v_engine_name), the process selectors (select.py) and a lesson's
cleanup (lessons/parse.py)."""
from __future__ import annotations

import re
from typing import Any

ENGINE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")          # Docker's and Podman's rule
K8S_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")      # an RFC 1123 label
K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")          # an RFC 1123 subdomain

_CONTAINER = "must be a container's name like web (letters, digits, '_', '.' or '-', a letter or digit first)"
_POD = ("must be a pod's name like podweb (letters, digits, '_', '.' or '-', a letter or digit first), "
        "or a Kubernetes pod as NAMESPACE/NAME like default/myweb2")


def engine_name_problem(value: Any, what: str = "container") -> str | None:
    """None when *value* can name a container (what="container"), or a pod (what="pod": a Podman
    pod's name, or a Kubernetes pod as NAMESPACE/NAME, e.g. default/myweb2); else what it must be."""
    message = _CONTAINER if what == "container" else _POD
    if not isinstance(value, str):
        return message
    if ENGINE_NAME.fullmatch(value):
        return None
    namespace, slash, name = value.partition("/")
    if (what == "pod" and slash and K8S_NAMESPACE.fullmatch(namespace) and len(namespace) <= 63
            and K8S_NAME.fullmatch(name) and len(name) <= 253):
        return None
    return message
