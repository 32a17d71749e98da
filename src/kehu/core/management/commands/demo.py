"""`kehu demo --customers N --seed S`: load the demo organisation and customer archive."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kehu.customers.demo import DEFAULT_SEED, DEMO_PASSWORD, build_dataset, demo_present, load_dataset
from kehu.customers.models import Customer


class Command(BaseCommand):
    help = "加载演示数据：部门、演示账号与中文客户档案（同一 seed 生成相同数据）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=2000, help="客户数量（默认 2000）")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"随机种子（默认 {DEFAULT_SEED}）")
        parser.add_argument(
            "--force", action="store_true", help="数据库里已有客户时仍然追加演示客户",
        )

    def handle(self, *args: Any, customers: int, seed: int, force: bool, **options: Any) -> None:
        if customers < 0:
            raise CommandError("--customers must be >= 0")
        if not force and (demo_present() or Customer.objects.exists()):
            raise CommandError("数据库里已有客户或演示数据；如仍要追加演示客户，请加 --force")
        started = time.perf_counter()
        dataset = build_dataset(customers=customers, seed=seed)
        result = load_dataset(dataset, progress=lambda message: self.stdout.write(f"  {message}"))
        elapsed = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS(
            f"演示数据已加载：{result.customers} 个客户，{result.contacts} 个联系人，{result.notes} 条备注，"
            f"{result.users} 个演示账号（{elapsed:.1f} 秒）"
        ))
        write_demo_accounts(self.stdout)


def write_demo_accounts(out: Any) -> None:
    out.write(
        "演示账号（仅供体验，勿用于生产）：sales01…sales24（销售，只看自己的客户）、"
        "manager1…manager4（大区经理，看本大区）、service1/service2（客服）、marketing1（市场，看全部）；"
        f"密码均为 {DEMO_PASSWORD}"
    )
