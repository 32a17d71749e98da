"""`kehu reindex`: rebuild the search token index from the customer and contact tables."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from kehu.customers.models import SearchToken
from kehu.customers.search import reindex_all


class Command(BaseCommand):
    help = "重建搜索索引（客户与联系人的名称、拼音、电话、邮箱、信用代码）"

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        with transaction.atomic():
            SearchToken.objects.all().delete()
            customers = reindex_all()
        tokens = SearchToken.objects.count()
        self.stdout.write(self.style.SUCCESS(
            f"搜索索引已重建：{customers} 个客户，{tokens} 个词条（{time.perf_counter() - started:.1f} 秒）"
        ))
