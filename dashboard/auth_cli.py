"""The `users` and `walltoken` commands of app.py, and the demo's accounts."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets

from dashboard import auth
from dashboard.config import Settings


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run `users add|list|remove` or `walltoken create|list|revoke`."""
    from dashboard.services import build_services

    svc = build_services(settings)
    if args.cmd == "walltoken":
        return _walltoken(svc, args)
    if args.action == "list":
        for u in auth.users(svc):
            print(f"{u['role']:<11} {u['street'] or u['dept']:<18} {u['name']}")
        return 0
    if not args.name:
        print(f"users {args.action} needs a NAME")
        return 2
    if args.action == "remove":
        print(f"removed {args.name}" if auth.remove_user(svc, args.name) else "no such user")
        return 0
    password = args.password or os.environ.get("GW_PASSWORD") or getpass.getpass("password: ")
    try:
        u = auth.add_user(svc, args.name, password, args.role, args.street, args.dept)
    except auth.AuthError as exc:
        print(f"error: {exc}")
        return 2
    print(f"user {u['name']}: {u['role']} {u['street'] or u['dept']}".rstrip())
    return 0


def _walltoken(svc, args: argparse.Namespace) -> int:  # noqa: ANN001
    if args.action == "list":
        for tok in auth.wall_tokens(svc):
            print(tok["name"])
        return 0
    if not args.name:
        print(f"walltoken {args.action} needs a NAME")
        return 2
    if args.action == "revoke":
        print(f"revoked {auth.revoke_wall_token(svc, args.name)} token(s) of {args.name}")
        return 0
    try:
        token = auth.create_wall_token(svc, args.name)
    except auth.AuthError as exc:
        print(f"error: {exc}")
        return 2
    print(token)
    print(f"kiosk URL: http://{svc.settings.host}:{svc.settings.port}/?wall={token}")
    return 0


def demo_accounts(settings: Settings, redis_url: str) -> list[str]:
    """Create a fresh demo wall token and supervisor login; return the lines to print."""
    import dataclasses

    from dashboard.services import build_services

    svc = build_services(dataclasses.replace(settings, redis_url=redis_url or settings.redis_url))
    base = f"http://{settings.host}:{settings.port}"
    if not settings.auth_required:
        return [f"Gridwall wall: {base}/  (AUTH_REQUIRED=false: no login)"]
    auth.revoke_wall_token(svc, "demo")
    token = auth.create_wall_token(svc, "demo")
    password = os.environ.get("GW_DEMO_PASSWORD") or secrets.token_urlsafe(9)
    auth.add_user(svc, "admin", password, "district")
    return [f"Gridwall wall (kiosk, no login): {base}/?wall={token}",
            f"Supervisor drill-down: {base}/district  user admin  password {password}"]
