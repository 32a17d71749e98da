"""Shared plumbing of the benchmarks: a dedicated bench database, fast realistic data, timing.

The bench never touches the development database. On SQLite it uses its own file
(`data/bench/bench-<customers>-s<seed>.sqlite3`); on PostgreSQL (DATABASE_URL) its own database
(`kehu_bench_<customers>_s<seed>`), created when missing. Data is generated once per size and
seed and reused by later runs: rows go in with executemany (SQLite) or COPY (PostgreSQL) while
the secondary indexes are dropped, then the indexes are rebuilt. Search tokens come from the
same builders the services use (`kehu.customers.search.customer_token_set`), fed with pinyin
readings cached per name part, so the index is exactly what production would hold.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections, transaction

from kehu.customers import search

Log = Callable[[str], None]
CHUNK = 5000
SALES_REPS = 100
META_TABLE = "kehu_bench_meta"
# Bumped when generate() writes different tables or rows: a database of an older generation is rebuilt.
# 2: match keys (mobile/landline E.164, e-mail, credit code of customers and contacts), as the services keep them.
GENERATION = 2


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# Timing ---------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of `values` (milliseconds in, milliseconds out)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(round(pct / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def summarise(samples_ms: Sequence[float]) -> dict[str, float | int]:
    return {
        "n": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 50), 3),
        "p95_ms": round(percentile(samples_ms, 95), 3),
        "mean_ms": round(statistics.fmean(samples_ms), 3) if samples_ms else 0.0,
        "max_ms": round(max(samples_ms), 3) if samples_ms else 0.0,
    }


def calibration() -> dict[str, float]:
    """How fast this Python runs right now (a shared or busy machine inflates every latency):
    best of 5 of `sum(range(10**6))`, ~15-25 ms on an idle modern core."""
    runs = [timed_cpu(lambda: sum(range(10**6))) for _ in range(5)]
    return {
        "python_sum_range_1e6_ms": round(min(r[0] for r in runs), 1),
        "python_sum_range_1e6_cpu_ms": round(min(r[1] for r in runs), 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def timed_cpu(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall ms, this process's CPU ms, result). On a busy machine wall time includes waiting
    for a core; CPU time does not (but excludes work done by a database server process)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000, result


def cpu_summary(samples_ms: Sequence[float]) -> dict[str, float]:
    return {"cpu_p50_ms": round(percentile(samples_ms, 50), 3), "cpu_p95_ms": round(percentile(samples_ms, 95), 3)}


def ratio(baseline_ms: float, ours_ms: float) -> float | None:
    return round(baseline_ms / ours_ms, 1) if ours_ms > 0 else None


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "calibration_start": calibration(),
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": memory_gb, "python": platform.python_version(),
        "os": platform.platform(), "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


# The bench database ---------------------------------------------------------------------------


@dataclass
class BenchData:
    vendor: str
    database: str
    customers: int
    seed: int
    reused: bool
    generation_seconds: float
    token_rows: int
    admin_id: int
    rep_ids: list[int]
    stage_ids: list[int]

    def describe(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor, "database": self.database, "customers": self.customers,
            "contacts": self.customers, "search_tokens": self.token_rows, "seed": self.seed,
            "generation": {"reused": self.reused, "seconds": round(self.generation_seconds, 1)},
        }


def _vendor() -> str:
    return "postgresql" if "postgresql" in settings.DATABASES["default"]["ENGINE"] else "sqlite"


def _bench_name(customers: int, seed: int, data_dir: Path | None) -> str:
    if _vendor() == "sqlite":
        folder = (data_dir or Path(settings.DATA_DIR)) / "bench"
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / f"bench-{customers}-s{seed}.sqlite3")
    return f"kehu_bench_{customers}_s{seed}"


def _pg_admin(sql: str, *, dbname: str) -> list[tuple]:
    import psycopg

    params = settings.DATABASES["default"]
    with psycopg.connect(
        dbname="postgres", user=params.get("USER") or None, password=params.get("PASSWORD") or None,
        host=params.get("HOST") or None, port=params.get("PORT") or None, autocommit=True,
    ) as conn:
        cur = conn.execute(sql, (dbname,)) if "%s" in sql else conn.execute(sql)
        return cur.fetchall() if cur.description else []


def _reset_database(name: str) -> None:
    if _vendor() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(name + suffix).unlink()
        return
    from psycopg import sql as pgsql

    exists = _pg_admin("SELECT 1 FROM pg_database WHERE datname = %s", dbname=name)
    if exists:
        _pg_admin(f"DROP DATABASE {pgsql.Identifier(name).as_string(None)} WITH (FORCE)", dbname=name)
    _pg_admin(f"CREATE DATABASE {pgsql.Identifier(name).as_string(None)}", dbname=name)


def _database_exists(name: str) -> bool:
    if _vendor() == "sqlite":
        return Path(name).exists()
    return bool(_pg_admin("SELECT 1 FROM pg_database WHERE datname = %s", dbname=name))


@contextlib.contextmanager
def _pointed_at(name: str) -> Iterator[None]:
    """Swap the `default` connection for one to the bench database, and put the original back
    untouched afterwards (under pytest it may be an in-memory test database)."""
    from django.db.utils import load_backend

    config = {**connections.settings["default"], "NAME": name}
    original = connections["default"]
    bench = load_backend(config["ENGINE"]).DatabaseWrapper(config, "default")
    connections["default"] = bench
    try:
        yield
    finally:
        bench.close()
        connections["default"] = original


def _read_meta() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key varchar(50) PRIMARY KEY, value text)")
        cursor.execute(f"SELECT key, value FROM {META_TABLE}")
        return dict(cursor.fetchall())


def _write_meta(values: dict[str, Any]) -> None:
    _read_meta()  # creates the table
    with connection.cursor() as cursor:
        for key, value in values.items():
            cursor.execute(f"DELETE FROM {META_TABLE} WHERE key = %s", [key])
            cursor.execute(f"INSERT INTO {META_TABLE} (key, value) VALUES (%s, %s)", [key, str(value)])


def _migrate_if_pending(log: Log) -> None:
    """Bring a reused bench database up to the code's migrations (new apps, new columns), so
    the bench measures the schema the code expects. Only the plan is computed when nothing is
    pending (a fraction of a second); `migrate` itself runs only when there is work."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return
    names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan)
    log(f"bench: applying {len(plan)} pending migration(s): {names}")
    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0, stdout=io.StringIO())
    log(f"bench: migrated in {time.perf_counter() - started:.0f} s")


@contextlib.contextmanager
def bench_database(
    *, customers: int, seed: int = 1, data_dir: Path | None = None, log: Log = stderr_log
) -> Iterator[BenchData]:
    """Yield a bench database holding `customers` generated customers (reused when present)."""
    name = _bench_name(customers, seed, data_dir)
    reused = False
    if _database_exists(name):
        with _pointed_at(name):
            meta = _read_meta()
            reused = meta.get("complete") == "1" and meta.get("generation") == str(GENERATION)
    if not reused:
        _reset_database(name)
    with _pointed_at(name):
        if reused:
            log(f"bench: reusing {name}")
            _migrate_if_pending(log)
        else:
            log(f"bench: generating {customers:,} customers into {name}")
            started = time.perf_counter()
            call_command("migrate", interactive=False, verbosity=0, stdout=io.StringIO())
            token_rows = generate(customers=customers, seed=seed, log=log)
            seconds = time.perf_counter() - started
            _write_meta({"complete": 1, "generation": GENERATION, "customers": customers, "seed": seed,
                         "generation_seconds": round(seconds, 1), "token_rows": token_rows})
            log(f"bench: generated in {seconds:.0f} s ({token_rows:,} search tokens)")
        meta = _read_meta()
        from kehu.accounts.models import User
        from kehu.customers.models import PicklistKind, PicklistOption

        admin = User.objects.get(username="bench-admin")
        reps = list(
            User.objects.filter(username__startswith="bench-rep-").order_by("pk").values_list("pk", flat=True)
        )
        stages = list(
            PicklistOption.objects.filter(kind=PicklistKind.STAGE)
            .order_by("position", "pk")
            .values_list("pk", flat=True)
        )
        yield BenchData(
            vendor=_vendor(), database=name, customers=customers, seed=seed, reused=reused,
            generation_seconds=float(meta.get("generation_seconds", 0)), token_rows=int(meta.get("token_rows", 0)),
            admin_id=admin.pk, rep_ids=reps, stage_ids=stages,
        )


# Data -----------------------------------------------------------------------------------------

PLACES = ["北京", "上海", "深圳", "广州", "杭州", "南京", "苏州", "成都", "武汉", "西安", "长沙", "郑州", "青岛",
          "厦门", "宁波", "天津", "重庆", "合肥", "福州", "济南", "无锡", "东莞", "佛山", "昆明", "大连", "沈阳"]
PROVINCE_OF = {"深圳": "广东", "广州": "广东", "东莞": "广东", "佛山": "广东", "杭州": "浙江", "宁波": "浙江",
               "南京": "江苏", "苏州": "江苏", "无锡": "江苏", "成都": "四川", "武汉": "湖北", "西安": "陕西",
               "长沙": "湖南", "郑州": "河南", "青岛": "山东", "济南": "山东", "厦门": "福建", "福州": "福建",
               "合肥": "安徽", "昆明": "云南", "大连": "辽宁", "沈阳": "辽宁"}
BRAND_CHARS = (
    "华为腾讯阿里百度京东美团网易小米联想海尔格力方正紫光同方浪潮中兴大唐金蝶用友东软神州数码恒生万科碧桂"
    "龙湖保利招商平安太保人寿新华光明伊利蒙牛双汇青岛雪花燕京汇源娃哈哈农夫山泉康师傅统一达利盼盼旺旺"
    "分扬启明星辰奇安信深信服绿盟天融安恒亚信东方国信拓尔思科大讯飞海康威视大华宇视天地伟业云从旷视商汤"
    "依图寒武纪地平线比特大陆嘉楠智谱月之暗面百川零一万物快手字节跳动拼多多唯品会携程去哪儿同程艺龙途牛"
    "瑞泰丰和源盛达通宏兴隆昌鑫德利安信诚嘉禾福佳泰康辉煌锦绣鸿运博远创新卓越精诚睿智云帆海纳天成"
)
INDUSTRIES = ["科技", "信息技术", "贸易", "电子", "机械", "网络科技", "医药", "食品", "建筑工程", "文化传媒",
              "物流", "咨询", "环保科技", "新能源", "教育科技", "软件", "电气", "汽车服务", "生物科技", "实业"]
SUFFIXES = ["有限公司"] * 7 + ["股份有限公司", "有限责任公司", "集团有限公司"]
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕"
            "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃"
            "武戴莫孔向汤单")
GIVEN = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建华志强文斌辉宇浩鹏飞凯丹琳婷"
         "雪梅晨阳欣怡子涵梓轩浩然一诺思远佳琪博文天佑雨桐俊杰嘉怡晓东国庆海燕永红春梅建国立新")
TITLES = ["总经理", "采购经理", "技术总监", "财务", "销售总监", "行政主管", "CEO", "项目经理", ""]
DOMAINS = ["com", "cn", "com.cn", "net"]
LANDLINE_AREAS = ["010", "021", "0755", "020", "0571", "025", "0512", "028", "027", "029"]
CC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


class Readings:
    """`search.char_readings` cached per name part: pypinyin costs ~0.25 ms a name, too slow
    for a million. Places, industries, suffixes and surnames are read as whole words (so 长沙 is
    changsha); brands and given names character by character (they are random characters)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, bool], list[str]] = {}

    def __call__(self, part: str, is_person: bool = False) -> list[str]:
        key = (part, is_person)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = search.char_readings(part, is_person)
        return found

    def chars(self, text: str) -> list[str]:
        return [syllable for ch in text for syllable in self(ch)]


def _brand(rng: random.Random) -> str:
    first = rng.randrange(len(BRAND_CHARS))
    size = 2 if rng.random() < 0.8 else 3
    return "".join(BRAND_CHARS[(first + rng.randrange(len(BRAND_CHARS))) % len(BRAND_CHARS)] if i else
                   BRAND_CHARS[first] for i in range(size))


def _person(rng: random.Random, readings: Readings) -> tuple[str, list[str]]:
    surname = SURNAMES[min(int(rng.paretovariate(1.2)) - 1, len(SURNAMES) - 1)] if rng.random() < 0.7 else \
        SURNAMES[rng.randrange(len(SURNAMES))]
    given = GIVEN[rng.randrange(len(GIVEN))]
    if rng.random() < 0.5:
        given += GIVEN[rng.randrange(len(GIVEN))]
    return surname + given, readings(surname, True) + readings.chars(given)


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def _e164(phone: str) -> str:
    """E.164 of the generator's numbers (mobiles, and landlines written 010-12345678), as the
    services store them in match keys; phonenumbers would cost more than the rest of a row."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"+86{digits.removeprefix('0')}"


def _credit_code(rng: random.Random) -> str:
    return "91" + f"{rng.randrange(110000, 660000):06d}" + "".join(rng.choice(CC_CHARS) for _ in range(10))


@dataclass
class _Columns:
    """Column order and DB-ready defaults for a model, so new fields added by others still get
    their default value instead of breaking the bulk insert."""

    table: str
    names: list[str]
    defaults: dict[str, Any]


def _columns(model: Any, *, skip: Sequence[str] = ()) -> _Columns:
    names, defaults = [], {}
    for field in model._meta.concrete_fields:
        if field.column in skip:
            continue
        names.append(field.column)
        if field.has_default() or field.null or not field.primary_key:
            default = field.get_default()
            defaults[field.column] = None if default is None else field.get_db_prep_save(default, connection)
    return _Columns(table=model._meta.db_table, names=names, defaults=defaults)


def _db_time(moment: dt.datetime) -> Any:
    # Django keeps naive UTC text in SQLite; isoformat is much cheaper than strftime.
    return moment.replace(tzinfo=None).isoformat(" ") if connection.vendor == "sqlite" else moment


class _Writer:
    """executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, columns: _Columns) -> None:
        self.columns = columns

    def write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        names, defaults = self.columns.names, self.columns.defaults
        values = [tuple(row[n] if n in row else defaults.get(n) for n in names) for row in rows]
        self.write_tuples(values)

    def write_tuples(self, values: list[tuple]) -> None:
        names, table = self.columns.names, self.columns.table
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                marks = ", ".join(["%s"] * len(names))
                cursor.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", values)
            else:
                raw = cursor.cursor
                with raw.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                    for row in values:
                        copy.write_row(row)


@contextlib.contextmanager
def _secondary_indexes_dropped(tables: Sequence[str], log: Log) -> Iterator[None]:
    """Load into bare tables, then build each index once (much faster than row-by-row upkeep)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            marks = ", ".join(["%s"] * len(tables))
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({marks})",
                list(tables),
            )
            indexes = cursor.fetchall()
            for index_name, _ in indexes:
                cursor.execute(f'DROP INDEX "{index_name}"')
        else:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = ANY(%s) AND indexdef NOT LIKE 'CREATE UNIQUE%%'",
                [list(tables)],
            )
            indexes = cursor.fetchall()
            for index_name, _ in indexes:
                cursor.execute(f'DROP INDEX "{index_name}"')
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET maintenance_work_mem = '512MB'")
        for index_name, sql in indexes:
            started = time.perf_counter()
            cursor.execute(sql)
            log(f"bench:   index {index_name} in {time.perf_counter() - started:.0f} s")


def generate(*, customers: int, seed: int, log: Log = stderr_log) -> int:
    """Fill the (freshly migrated) bench database; returns the number of search-token rows."""
    from kehu.accounts.models import Department, Role, User
    from kehu.customers.models import Contact, Customer, PicklistKind, PicklistOption, SearchToken
    from kehu.dataquality.models import MatchKey

    rng = random.Random(seed)
    readings = Readings()
    sales = Role.objects.get(code="sales")
    root = Department.objects.create(name="销售部")
    teams = [Department.objects.create(name=f"销售{i + 1}组", parent=root) for i in range(10)]
    admin = User(username="bench-admin", display_name="管理员", is_superuser=True, is_staff=True)
    admin.set_unusable_password()
    admin.save()
    reps = []
    for i in range(SALES_REPS):
        rep = User(username=f"bench-rep-{i:03d}", display_name=f"销售{i}", role=sales, department=teams[i % 10])
        rep.set_unusable_password()
        reps.append(rep)
    User.objects.bulk_create(reps)
    reps = list(
        User.objects.filter(username__startswith="bench-rep-").order_by("pk").values_list("pk", "department_id")
    )
    picks = {
        kind: list(PicklistOption.objects.filter(kind=kind).values_list("pk", flat=True))
        for kind in (PicklistKind.INDUSTRY, PicklistKind.LEVEL, PicklistKind.STAGE, PicklistKind.SOURCE)
    }
    customer_cols = _columns(Customer)
    contact_cols = _columns(Contact)
    token_cols = _Columns(
        table=SearchToken._meta.db_table, names=["token", "customer_id", "contact_id", "owner_id", "rank"], defaults={}
    )
    key_cols = _Columns(table=MatchKey._meta.db_table, names=["kind", "value", "customer_id", "contact_id"],
                        defaults={})
    writers = (_Writer(customer_cols), _Writer(contact_cols), _Writer(token_cols), _Writer(key_cols))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    three_years = 3 * 365 * 86400
    token_rows = 0
    started = time.perf_counter()
    tables = [customer_cols.table, contact_cols.table, token_cols.table, key_cols.table]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA synchronous = OFF")
            cursor.execute("PRAGMA foreign_keys = OFF")
        else:
            cursor.execute("SET session_replication_role = replica")  # no FK triggers while loading
    with _secondary_indexes_dropped(tables, log):
        for chunk_start in range(1, customers + 1, CHUNK):
            customer_rows, contact_rows, tokens, keys = [], [], [], []
            for pk in range(chunk_start, min(chunk_start + CHUNK, customers + 1)):
                owner_id, department_id = reps[rng.randrange(len(reps))]
                updated = now - dt.timedelta(seconds=rng.randrange(three_years))
                created = updated - dt.timedelta(seconds=rng.randrange(three_years))
                place = rng.choice(PLACES)
                is_person = rng.random() < 0.1
                if is_person:
                    name, name_readings = _person(rng, readings)
                    short_name, credit_code = "", ""
                    phones = [_mobile(rng)]
                    brand = name
                    brand_readings = name_readings
                else:
                    brand = _brand(rng)
                    industry, suffix = rng.choice(INDUSTRIES), rng.choice(SUFFIXES)
                    name = place + brand + industry + suffix
                    brand_readings = readings.chars(brand)
                    name_readings = readings(place) + brand_readings + readings(industry) + readings(suffix)
                    short_name = brand if rng.random() < 0.3 else ""
                    credit_code = _credit_code(rng)
                    phones = [_mobile(rng)] if rng.random() < 0.6 else [
                        f"{rng.choice(LANDLINE_AREAS)}-{rng.randrange(10**7, 10**8)}"
                    ]
                brand_py = "".join(brand_readings) or "co"
                domain = f"{brand_py}{rng.randrange(100)}.{rng.choice(DOMAINS)}"
                emails = [f"info@{domain}"] if rng.random() < 0.5 else []
                full_py = "".join(s for s in name_readings if s)
                initials = "".join(s[0] for s in name_readings if s)
                customer_rows.append({
                    "id": pk, "kind": "person" if is_person else "company", "name": name, "short_name": short_name,
                    "name_pinyin": full_py[:400], "name_initials": initials[:100],
                    "industry_id": rng.choice(picks[PicklistKind.INDUSTRY]) if picks[PicklistKind.INDUSTRY] else None,
                    "level_id": rng.choice(picks[PicklistKind.LEVEL]) if picks[PicklistKind.LEVEL] else None,
                    "stage_id": rng.choice(picks[PicklistKind.STAGE]) if picks[PicklistKind.STAGE] else None,
                    "source_id": rng.choice(picks[PicklistKind.SOURCE]) if picks[PicklistKind.SOURCE] else None,
                    "owner_id": owner_id, "department_id": department_id,
                    "phones": json.dumps(phones), "emails": json.dumps(emails),
                    "province": PROVINCE_OF.get(place, place), "city": place, "credit_code": credit_code,
                    "created_at": _db_time(created), "updated_at": _db_time(updated),
                    "created_by_id": owner_id, "updated_by_id": owner_id, "version": 1,
                })
                keys += [("phone", _e164(phone), pk, None) for phone in phones]
                keys += [("email", email, pk, None) for email in emails]
                if credit_code:
                    keys.append(("credit_code", credit_code, pk, None))
                rank = int(updated.timestamp())
                for token in search.customer_token_set(
                    name=name, kind="person" if is_person else "company", short_name=short_name, phones=phones,
                    emails=emails, credit_code=credit_code, readings=name_readings,
                ):
                    tokens.append((token, pk, None, owner_id, rank))
                contact_name, contact_readings = _person(rng, readings)
                contact_py = "".join(contact_readings)
                mobile = _mobile(rng)
                email = f"{contact_py}{'.' if rng.random() < 0.3 else ''}{rng.randrange(1000)}@{domain}"
                contact_rows.append({
                    "id": pk, "customer_id": pk, "name": contact_name, "name_pinyin": contact_py,
                    "name_initials": "".join(s[0] for s in contact_readings), "title": rng.choice(TITLES),
                    "mobile": mobile, "email": email, "is_primary": True,
                    "created_at": _db_time(created), "updated_at": _db_time(updated),
                    "created_by_id": owner_id, "updated_by_id": owner_id, "version": 1,
                })
                for token in search.contact_token_set(
                    name=contact_name, mobile=mobile, email=email, readings=contact_readings
                ):
                    tokens.append((token, pk, pk, owner_id, rank))
                keys += [("phone", _e164(mobile), pk, pk), ("email", email.lower(), pk, pk)]
            with transaction.atomic():
                writers[0].write(customer_rows)
                writers[1].write(contact_rows)
                writers[2].write_tuples(tokens)
                writers[3].write_tuples(keys)
            token_rows += len(tokens)
            done = min(chunk_start + CHUNK - 1, customers)
            if done % 100_000 < CHUNK or done == customers:
                log(f"bench:   {done:,} customers, {token_rows:,} tokens, {time.perf_counter() - started:.0f} s")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for table in tables[:2]:
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")
            # What autovacuum does on a live server: statistics for the planner, and the
            # visibility map so capped counts and index scans need not visit the heap.
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("PRAGMA foreign_keys = ON")
    return token_rows
