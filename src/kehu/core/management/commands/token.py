"""`kehu token create|revoke|list`: API tokens for scripts and integrations.

The secret is printed once by `create`; only its SHA-256 and a 12-character prefix are stored,
so `revoke` and `list` work with the prefix."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from kehu.accounts.models import User
from kehu.accounts.selectors import api_tokens, api_tokens_with_prefix
from kehu.accounts.services import api_token_create, api_token_revoke
from kehu.core.errors import ValidationFailed


class Command(BaseCommand):
    help = "管理 API 令牌：create USERNAME [--name N] [--scope S] [--expires-days D] | revoke PREFIX | list [USERNAME]"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="为用户创建令牌，密钥只显示一次")
        create.add_argument("username")
        create.add_argument("--name", default="", help="用途说明，例如 'ERP 同步'")
        create.add_argument("--expires-days", type=int, default=None, help="有效天数（默认永不过期）")
        create.add_argument("--scope", default="write",
                            help="read（只读）、write（读写，默认）或逗号分隔的 customers:read,leads:write …")
        revoke = sub.add_parser("revoke", help="按前缀吊销令牌")
        revoke.add_argument("prefix")
        listing = sub.add_parser("list", help="列出令牌（不显示密钥）")
        listing.add_argument("username", nargs="?")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            self._create(options["username"], options["name"], options["expires_days"], options["scope"])
        elif action == "revoke":
            self._revoke(options["prefix"])
        else:
            self._list(options.get("username"))

    def _user(self, username: str) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"用户不存在：{username}")
        return user

    def _create(self, username: str, name: str, expires_days: int | None, scope: str = "write") -> None:
        user = self._user(username)
        if not user.is_active:
            raise CommandError(f"用户已停用：{username}")
        if expires_days is not None and expires_days <= 0:
            raise CommandError("--expires-days 必须是正整数")
        expires_in = dt.timedelta(days=expires_days) if expires_days else None
        try:
            token, secret = api_token_create(user=user, name=name, expires_in=expires_in, scopes=scope)
        except ValidationFailed as exc:
            raise CommandError(exc.message) from exc
        # The secret alone on stdout so `TOKEN=$(kehu token create alice)` works; notes go to stderr.
        self.stdout.write(secret)
        expiry = timezone.localtime(token.expires_at).strftime("%Y-%m-%d %H:%M") if token.expires_at else "永不过期"
        self.stderr.write(f"已为 {user.username} 创建令牌 {token.prefix}…（{expiry}，范围 {','.join(token.scopes)}）。"
                          "密钥只显示这一次，请妥善保存。")

    def _revoke(self, prefix: str) -> None:
        if len(prefix) < 6:
            raise CommandError("前缀太短：至少 6 个字符（例如 kehu_Ab3）")
        matches = list(api_tokens_with_prefix(prefix=prefix)[:2])
        if not matches:
            raise CommandError(f"没有以 {prefix} 开头的有效令牌")
        if len(matches) > 1:
            raise CommandError(f"有多个令牌以 {prefix} 开头，请提供更长的前缀")
        api_token_revoke(token=matches[0])
        self.stdout.write(f"已吊销令牌 {matches[0].prefix}…（{matches[0].user.username}）")

    def _list(self, username: str | None) -> None:
        user = self._user(username) if username else None
        now = timezone.now()
        for token in api_tokens(user=user):
            if token.revoked_at:
                state = "revoked"
            elif token.expires_at and token.expires_at <= now:
                state = "expired"
            else:
                state = "active"
            fmt = "%Y-%m-%d %H:%M"
            expires = timezone.localtime(token.expires_at).strftime(fmt) if token.expires_at else "-"
            used = timezone.localtime(token.last_used_at).strftime(fmt) if token.last_used_at else "-"
            self.stdout.write(
                "\t".join(
                    [
                        token.prefix,
                        token.user.username,
                        state,
                        token.name or "-",
                        f"expires={expires}",
                        f"last_used={used}",
                        f"scopes={','.join(token.scopes)}",
                    ]
                )
            )
