"""API keys of machine clients: Open311 apps, department systems, supervisors.

A key is ``gw_`` + 32 URL-safe random characters, shown once when issued; Redis keeps only
its SHA-256 (hash keys.apikeys(): sha256 hex -> JSON {name, role, dept, created}).  Roles:
``open311`` (report and verify through Open311 / the worker endpoints), ``dept`` (act on
the cases of one department), ``supervisor`` (every case; redispatch, unlink, close).
Keys listed in OPEN311_API_KEYS are accepted as ``open311`` keys without being stored.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass

ROLES = ("open311", "dept", "supervisor")
PREFIX = "gw_"


@dataclass(frozen=True)
class Principal:
    """Who a key belongs to."""

    name: str
    role: str
    dept: str = ""


def digest(key: str) -> str:
    """Return the stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def create(svc, name: str, role: str = "open311", dept: str = "") -> str:  # noqa: ANN001
    """Issue a key and return it (the only time it is visible)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "dept" and svc.district.department(dept) is None:
        raise ValueError(f"unknown department {dept!r}")
    if not name.strip():
        raise ValueError("a key needs a name")
    key = PREFIX + secrets.token_urlsafe(24)
    doc = {"name": name.strip(), "role": role, "dept": dept if role == "dept" else "",
           "created": int(time.time())}
    svc.r.hset(svc.keys.apikeys(), digest(key), json.dumps(doc, ensure_ascii=False))
    return key


def revoke(svc, name: str) -> int:  # noqa: ANN001
    """Revoke every key issued under a name; return how many."""
    gone = [h for h, doc in svc.r.hgetall(svc.keys.apikeys()).items()
            if json.loads(doc).get("name") == name]
    if gone:
        svc.r.hdel(svc.keys.apikeys(), *gone)
    return len(gone)


def listing(svc) -> list[dict]:  # noqa: ANN001
    """Return the name, role and department of every issued key (never the key)."""
    return sorted((json.loads(doc) for doc in svc.r.hgetall(svc.keys.apikeys()).values()),
                  key=lambda d: (d["role"], d["name"]))


def lookup(svc, key: str | None) -> Principal | None:  # noqa: ANN001
    """Return the owner of a key, None if it is missing or unknown."""
    if not key or len(key) > 200:
        return None
    env = [k.strip() for k in svc.settings.open311_api_keys.split(",") if k.strip()]
    if any(secrets.compare_digest(key.encode(), k.encode()) for k in env):  # str: ASCII only
        return Principal("OPEN311_API_KEYS", "open311")
    raw = svc.r.hget(svc.keys.apikeys(), digest(key))
    if raw is None:
        return None
    doc = json.loads(raw)
    return Principal(doc["name"], doc["role"], doc.get("dept", ""))


def from_request(request) -> str | None:  # noqa: ANN001 - flask.Request
    """Return the key of a request: Authorization: Bearer, X-API-Key, or api_key."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    body = request.get_json(silent=True) if request.is_json else None
    return (request.headers.get("X-API-Key") or request.form.get("api_key")
            or request.args.get("api_key")
            or (str(body.get("api_key")) if isinstance(body, dict) and body.get("api_key")
                else None))
