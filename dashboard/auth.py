"""Who may see what: users, sessions, wall tokens, login throttling and the per-request Scope.

Users live in Redis (keys.users(): name -> JSON with an argon2id hash and the role's street or
department); a login creates a server-side session (keys.session(sha256(sid)), a TTL that each
request slides, capped by SESSION_MAX_S) and the browser holds only the opaque random sid.
Wall tokens (kiosks) are stored as SHA-256 like API keys and open a read-only wall session.
Whether a Scope may open a page, call an API or export is decided in dashboard.auth_policy.
Failed logins are counted per user and address, per address and per user (keys.login_failures,
each counter expiring with its window), so neither one address trying many names nor one name
tried from many addresses guesses without limit.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("district", "street", "department", "wall")
ROLE_NAMES = {"district": ("区级监督员", "District supervisor"),
              "street": ("街道监督员", "Street supervisor"),
              "department": ("部门操作员", "Department operator"),
              "wall": ("大屏", "Wall kiosk")}
NAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
TOKEN_PREFIX = "gww_"
_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters


@dataclass(frozen=True)
class Scope:
    """The principal of one request: role, and the street or department it is limited to."""

    role: str
    user: str = ""
    street: str = ""
    dept: str = ""
    csrf: str = ""  # the session's CSRF token ("" for requests not made with a session)
    sid: str = ""  # sha256 of the session id, "" without a session

    @property
    def reveal(self) -> bool:
        """Tell whether residents' and workers' personal data may be shown in full."""
        return self.role in ("district", "street")

    @property
    def live(self) -> bool:
        """Tell whether the scope may watch the district-wide live wall."""
        return self.role in ("district", "wall")

    def home(self) -> str:
        """Return the first page of this scope."""
        if self.role == "street":
            return f"/street/{self.street}"
        if self.role == "department":
            return f"/department/{self.dept}"
        return "/"


OPEN = Scope("district", "(auth off)")  # every request when AUTH_REQUIRED=false


class AuthError(ValueError):
    """A user or token operation was refused; the message says why."""


class LockedOut(AuthError):
    """Too many failed logins for this user from this address, from this address, or for this
    user; retry_after is the seconds until the (longest) lockout that applies expires."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins, retry in {retry_after} s")
        self.retry_after = retry_after


def digest(secret: str) -> str:
    """Return the stored form of a session id or token."""
    return hashlib.sha256(secret.encode()).hexdigest()


# ---- users ------------------------------------------------------------------------------
def add_user(svc, name: str, password: str, role: str, street: str = "",  # noqa: ANN001
             dept: str = "") -> dict:
    """Create or replace a user; the street or department must exist for those roles."""
    if not NAME.fullmatch(name or ""):
        raise AuthError("a user name is 2–64 letters, digits or _.@-")
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    if len(password or "") < 8:
        raise AuthError("a password has at least 8 characters")
    if role == "street" and svc.district.street(street) is None:
        raise AuthError(f"unknown street {street!r} (--street CODE)")
    if role == "department" and svc.district.department(dept) is None:
        raise AuthError(f"unknown department {dept!r} (--dept CODE)")
    doc = {"hash": _hasher.hash(password), "role": role,
           "street": street if role == "street" else "",
           "dept": dept if role == "department" else "", "created": int(time.time())}
    svc.r.hset(svc.keys.users(), name, json.dumps(doc))
    return {k: v for k, v in doc.items() if k != "hash"} | {"name": name}


def remove_user(svc, name: str) -> bool:  # noqa: ANN001
    """Delete a user and end their sessions at their next request; return whether it existed."""
    return bool(svc.r.hdel(svc.keys.users(), name))


def users(svc) -> list[dict]:  # noqa: ANN001
    """Return every user's name, role, street and department (never the hash)."""
    out = []
    for name, raw in svc.r.hgetall(svc.keys.users()).items():
        doc = json.loads(raw)
        out.append({"name": name.decode(), "role": doc["role"], "street": doc.get("street", ""),
                    "dept": doc.get("dept", "")})
    return sorted(out, key=lambda u: (ROLES.index(u["role"]), u["name"]))


def _user(svc, name: str) -> dict | None:  # noqa: ANN001
    raw = svc.r.hget(svc.keys.users(), name) if name else None
    return json.loads(raw) if raw else None


def _failure_counters(svc, name: str, ip: str) -> list[tuple[str, int, int]]:  # noqa: ANN001
    """Return (key, failures allowed, window s) of each counter a failed login adds to.

    The user-and-address key is 'name|ip'; the address and user keys start with '#', which no
    user's name can (NAME), so no user shares a count with an address (a login typed as '#ip'
    only counts its own address twice). Names that cannot be a user's are not counted per
    user (nobody to protect), unknown valid ones are: a lockout does not tell who exists.
    """
    s = svc.settings
    k = svc.keys.login_failures
    out = [(k(f"{(name or '')[:64]}|{ip}"), s.login_max_failures, s.login_lockout_s),
           (k(f"#ip|{ip}"), s.login_ip_max_failures, s.login_ip_lockout_s)]
    if NAME.fullmatch(name or ""):
        out.append((k(f"#user|{name}"), s.login_user_max_failures, s.login_user_lockout_s))
    return out


def _check_lockout(svc, counters: list[tuple[str, int, int]]) -> None:  # noqa: ANN001
    """Raise LockedOut if any counter reached its limit (one round trip)."""
    pipe = svc.r.pipeline(transaction=True)
    for key, _limit, _window in counters:
        pipe.get(key)
        pipe.ttl(key)
    got = pipe.execute()
    waits = []
    for i, (key, limit, window) in enumerate(counters):
        failures, ttl = int(got[2 * i] or 0), int(got[2 * i + 1])
        if failures >= limit:
            if ttl < 0:  # a counter without an expiry (an older version's crash): give it one
                svc.r.expire(key, window)
                ttl = window
            waits.append(ttl)
    if waits:
        raise LockedOut(max(1, *waits))


def _count_failure(svc, counters: list[tuple[str, int, int]]) -> None:  # noqa: ANN001
    """Add a failed login to every counter; a counter's window starts at its first failure.

    SET NX EX then INCR in one MULTI (all {auth} keys, one slot): never a counter without its
    expiry, and INCR keeps the TTL (Redis 6.2 has no EXPIRE NX).
    """
    pipe = svc.r.pipeline(transaction=True)
    for key, _limit, window in counters:
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
    pipe.execute()


def authenticate(svc, name: str, password: str, ip: str) -> Scope | None:  # noqa: ANN001
    """Return the user's Scope if the password is right; count failures per user and address,
    per address and per user.

    Raises LockedOut while LOGIN_MAX_FAILURES failures of this user from this address were
    counted within LOGIN_LOCKOUT_S, LOGIN_IP_MAX_FAILURES from this address (any name) within
    LOGIN_IP_LOCKOUT_S, or LOGIN_USER_MAX_FAILURES of this user (any address) within
    LOGIN_USER_LOCKOUT_S; no hash is computed meanwhile, the right password does not help.
    A success clears only the user-and-address count: the address and user counts run out
    with their windows (else one valid account would reset its address's count).
    """
    counters = _failure_counters(svc, name, ip)
    _check_lockout(svc, counters)
    doc = _user(svc, name)
    ok = False
    if doc is not None:
        try:
            ok = _hasher.verify(doc["hash"], password or "")
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher.hash("timing")  # an unknown name costs as much as a wrong password
    if not ok:
        _count_failure(svc, counters)
        return None
    svc.r.delete(counters[0][0])
    if _hasher.check_needs_rehash(doc["hash"]):
        doc["hash"] = _hasher.hash(password)
        svc.r.hset(svc.keys.users(), name, json.dumps(doc))
    return Scope(doc["role"], name, doc.get("street", ""), doc.get("dept", ""))


# ---- sessions -----------------------------------------------------------------------------
def create_session(svc, scope: Scope) -> str:  # noqa: ANN001
    """Store a session for a Scope and return its id (the cookie's value)."""
    sid = secrets.token_urlsafe(32)
    ttl = svc.settings.wall_session_ttl_s if scope.role == "wall" else svc.settings.session_ttl_s
    key = svc.keys.session(digest(sid))
    doc = {"role": scope.role, "user": scope.user, "street": scope.street, "dept": scope.dept,
           "csrf": secrets.token_urlsafe(24), "created": int(time.time())}
    pipe = svc.r.pipeline(transaction=True)  # never a session without its expiry
    pipe.hset(key, mapping=doc)
    pipe.expire(key, ttl)
    pipe.execute()
    return sid


def load_session(svc, sid: str | None) -> Scope | None:  # noqa: ANN001
    """Return the Scope of a live session and slide its expiry; None if gone or expired.

    A user's session ends when the user was removed or their role changed since login.
    """
    if not sid or len(sid) > 100:
        return None
    key = svc.keys.session(digest(sid))
    raw = svc.r.hgetall(key)
    if not raw:
        return None
    doc = {k.decode(): v.decode() for k, v in raw.items()}
    s = svc.settings
    if doc["role"] != "wall":
        user = _user(svc, doc["user"])
        age = time.time() - int(doc.get("created", 0))
        if (user is None or user["role"] != doc["role"] or user.get("street", "") != doc["street"]
                or user.get("dept", "") != doc["dept"] or age > s.session_max_s):
            svc.r.delete(key)
            return None
    elif not svc.r.hexists(svc.keys.wall_tokens(), doc.get("token", "")):
        svc.r.delete(key)  # the token this kiosk session came from was revoked
        return None
    svc.r.expire(key, s.wall_session_ttl_s if doc["role"] == "wall" else s.session_ttl_s)
    return Scope(doc["role"], doc["user"], doc["street"], doc["dept"], doc["csrf"], digest(sid))


def end_session(svc, sid: str | None) -> None:  # noqa: ANN001
    """Delete a session (logout)."""
    if sid:
        svc.r.delete(svc.keys.session(digest(sid)))


# ---- wall tokens -----------------------------------------------------------------------------
def create_wall_token(svc, name: str) -> str:  # noqa: ANN001
    """Issue a long-lived kiosk token and return it (the only time it is visible)."""
    if not NAME.fullmatch(name or ""):
        raise AuthError("a wall token name is 2–64 letters, digits or _.@-")
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    svc.r.hset(svc.keys.wall_tokens(), digest(token),
               json.dumps({"name": name, "created": int(time.time())}))
    return token


def revoke_wall_token(svc, name: str) -> int:  # noqa: ANN001
    """Revoke every wall token of a name (their kiosk sessions end); return how many."""
    gone = [h for h, raw in svc.r.hgetall(svc.keys.wall_tokens()).items()
            if json.loads(raw)["name"] == name]
    if gone:
        svc.r.hdel(svc.keys.wall_tokens(), *gone)
    return len(gone)


def wall_tokens(svc) -> list[dict]:  # noqa: ANN001
    """Return the name and creation time of every wall token."""
    return sorted((json.loads(raw) for raw in svc.r.hgetall(svc.keys.wall_tokens()).values()),
                  key=lambda d: d["name"])


def wall_session(svc, token: str) -> str | None:  # noqa: ANN001
    """Open a kiosk session for a valid wall token; return its id, None for a bad token."""
    if not token or len(token) > 100:
        return None
    h = digest(token)
    raw = svc.r.hget(svc.keys.wall_tokens(), h)
    if raw is None:
        return None
    sid = create_session(svc, Scope("wall", "wall:" + json.loads(raw)["name"]))
    svc.r.hset(svc.keys.session(digest(sid)), "token", h)
    return sid
