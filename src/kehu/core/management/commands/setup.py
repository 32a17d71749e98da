"""`kehu setup`: everything a fresh install needs, safe to run again after every upgrade.

1. migrate  2. collectstatic  3. create the `admin` account if there is no administrator yet
4. optionally load demo data (only into an empty archive, so running setup twice adds nothing).
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Q

from kehu.accounts.models import User
from kehu.accounts.services import roles_ensure_defaults, user_create
from kehu.core.management.commands.demo import write_demo_accounts
from kehu.customers.demo import DEFAULT_SEED, demo_present, load_demo
from kehu.customers.models import Customer

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD_ENV = "KEHU_ADMIN_PASSWORD"  # noqa: S105 — the name of the variable, not a password


class Command(BaseCommand):
    help = "首次安装与升级：迁移数据库、收集静态文件、创建管理员、（可选）加载演示数据；可重复运行"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--demo-customers", type=int, default=0, metavar="N",
            help="客户档案为空时加载 N 个演示客户（默认 0：不加载）",
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="演示数据的随机种子")
        parser.add_argument("--skip-collectstatic", action="store_true", help="不收集静态文件")

    def handle(self, *args: Any, demo_customers: int, seed: int, skip_collectstatic: bool, **options: Any) -> None:
        verbosity = int(options.get("verbosity", 1))
        self.stdout.write("1/4 迁移数据库 …")
        call_command("migrate", interactive=False, verbosity=max(verbosity - 1, 0))
        roles_ensure_defaults()
        if skip_collectstatic:
            self.stdout.write("2/4 跳过静态文件收集")
        else:
            self.stdout.write("2/4 收集静态文件 …")
            call_command("collectstatic", interactive=False, verbosity=max(verbosity - 1, 0))
        self.stdout.write("3/4 管理员账号 …")
        self._ensure_admin()
        self.stdout.write("4/4 演示数据 …")
        self._load_demo(demo_customers, seed)
        self.stdout.write(self.style.SUCCESS("完成。运行 `kehu serve` 启动服务，然后打开 /accounts/login/ 登录。"))

    def _ensure_admin(self) -> None:
        admins = User.objects.filter(Q(is_superuser=True) | Q(role__is_admin=True), is_active=True)
        if admins.exists():
            self.stdout.write(f"  已有管理员账号（{', '.join(admins.values_list('username', flat=True)[:5])}），跳过")
            return
        if User.objects.filter(username=ADMIN_USERNAME).exists():
            self.stderr.write(
                f"  用户名 {ADMIN_USERNAME} 已被非管理员占用；请用 `kehu createsuperuser` 创建管理员"
            )
            return
        from_env = os.environ.get(ADMIN_PASSWORD_ENV, "")
        password = from_env or secrets.token_urlsafe(12)
        roles = roles_ensure_defaults()
        user_create(
            username=ADMIN_USERNAME, password=password, display_name="管理员", role=roles["admin"],
            is_superuser=True,
        )
        self.stdout.write(self.style.SUCCESS(f"  已创建管理员账号：用户名 {ADMIN_USERNAME}"))
        if from_env:
            self.stdout.write(f"  密码：环境变量 {ADMIN_PASSWORD_ENV} 的值")
        else:
            self.stdout.write(self.style.WARNING(
                f"  密码：{password}\n  （只显示这一次，不会保存在任何地方；请登录后在个人设置或 "
                f"`kehu changepassword {ADMIN_USERNAME}` 中修改）"
            ))

    def _load_demo(self, count: int, seed: int) -> None:
        if count <= 0:
            self.stdout.write("  未要求演示数据（--demo-customers N 可加载），跳过")
            return
        if demo_present() or Customer.objects.exists():
            self.stdout.write("  客户档案不为空，跳过演示数据")
            if demo_present():
                write_demo_accounts(self.stdout)
            return
        result = load_demo(customers=count, seed=seed, progress=lambda message: self.stdout.write(f"  {message}"))
        self.stdout.write(self.style.SUCCESS(
            f"  已加载 {result.customers} 个演示客户、{result.contacts} 个联系人、{result.notes} 条备注"
        ))
        write_demo_accounts(self.stdout)
