"""`kehu bench normalize`: the full cleaning pipeline over generated messy customer rows.

Rows are generated in memory (seeded, no file) the way Chinese CRM exports look: 客户名称,
联系人, 手机, 座机, 邮箱, 地址, 备注. Most phones, e-mails and street addresses are unique;
cities and companies repeat (a company has several contacts, cities follow a skewed
distribution). Messiness: full-width digits, +86/0086/86 prefixes, spaces and dashes, brackets
around area codes, extensions, honorifics, spaces inside names, 有限公司/有限责任公司/(北京)
variants, BJ/京/沪 city aliases, upper-case and mistyped e-mail domains, and 5-10% invalid values.

Measured, in the same run:
- pipeline, all cores: `kehu.dataquality.pipeline.clean_rows` with a process pool (one worker per
  core), rows/s on wall time including sending rows to the workers and results back. Workers are
  started and warmed (modules imported) before the clock starts.
- pipeline, one process: the same engine in this process on a slice of the rows.
- baseline: the underlying libraries called once per value, single process, on a sample:
  phonenumbers.parse + is_valid_number + format_number (E.164) per phone, email_validator.
  validate_email(check_deliverability=False) per e-mail, cpca.transform([address]) per address
  (slow: a smaller sample, scaled), pypinyin.lazy_pinyin per name. Per-row cost = sum of the
  per-value costs; ratio = pipeline rows/s (all cores) / baseline rows/s (one process) — and the
  like-for-like single-process ratio alongside.
- peak memory: ru_maxrss of this process and of the largest worker (RUSAGE_CHILDREN).
"""

from __future__ import annotations

import os
import random
import resource
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import Log, calibration, machine, stderr_log

HEADERS = ["客户名称", "联系人", "手机", "座机", "邮箱", "地址", "备注"]
TARGET_ROWS_PER_S = 50_000
SINGLE_SAMPLE = 50_000
BASELINE_SAMPLE = 20_000
BASELINE_ADDRESS_SAMPLE = 500

# Pools ------------------------------------------------------------------------------------------

# (province, city, districts, aliases written instead of the city)
CITIES: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    ("北京市", "北京市", ("朝阳区", "海淀区", "东城区", "西城区", "丰台区", "昌平区", "大兴区", "通州区"),
     ("BJ", "京", "Beijing", "北京")),
    ("上海市", "上海市", ("浦东新区", "徐汇区", "静安区", "长宁区", "闵行区", "杨浦区", "黄浦区"),
     ("SH", "沪", "上海")),
    ("广东省", "深圳市", ("南山区", "福田区", "罗湖区", "宝安区", "龙岗区", "龙华区"), ("深圳",)),
    ("广东省", "广州市", ("天河区", "越秀区", "海珠区", "白云区", "番禺区"), ("广州",)),
    ("浙江省", "杭州市", ("西湖区", "滨江区", "余杭区", "拱墅区", "上城区"), ("杭州",)),
    ("江苏省", "南京市", ("玄武区", "鼓楼区", "建邺区", "江宁区", "秦淮区"), ("南京",)),
    ("江苏省", "苏州市", ("姑苏区", "吴中区", "相城区", "虎丘区", "吴江区"), ("苏州",)),
    ("四川省", "成都市", ("武侯区", "锦江区", "青羊区", "金牛区", "成华区"), ("成都",)),
    ("湖北省", "武汉市", ("江汉区", "武昌区", "洪山区", "江岸区", "汉阳区"), ("武汉",)),
    ("陕西省", "西安市", ("雁塔区", "碑林区", "新城区", "未央区", "莲湖区"), ("西安",)),
    ("天津市", "天津市", ("和平区", "河西区", "南开区", "滨海新区"), ("津", "天津")),
    ("重庆市", "重庆市", ("渝中区", "江北区", "南岸区", "九龙坡区", "渝北区"), ("渝", "重庆")),
    ("山东省", "青岛市", ("市南区", "市北区", "崂山区", "黄岛区"), ("青岛",)),
    ("福建省", "厦门市", ("思明区", "湖里区", "集美区", "海沧区"), ("厦门",)),
    ("湖南省", "长沙市", ("岳麓区", "芙蓉区", "天心区", "开福区", "雨花区"), ("长沙",)),
    ("河南省", "郑州市", ("金水区", "二七区", "中原区", "管城回族区"), ("郑州",)),
    ("安徽省", "合肥市", ("蜀山区", "包河区", "庐阳区", "瑶海区"), ("合肥",)),
    ("辽宁省", "大连市", ("中山区", "西岗区", "沙河口区", "甘井子区"), ("大连",)),
]
STREETS = [a + b for a in ("建国", "人民", "中山", "解放", "科技", "长江", "黄河", "东风", "文化", "新华", "和平",
                           "学院", "创业", "软件园", "高新", "滨江", "光明", "青年", "胜利", "朝阳")
           for b in ("路", "大道", "街", "北路", "南路", "东路", "西路")]
BUILDINGS = ["", "", "", "", "大厦", "中心", "广场", "科技园", "写字楼"]
BRAND_CHARS = ("华为腾讯阿里百度京东美团网易小米联想海尔格力方正紫光同方浪潮中兴大唐金蝶用友东软神州恒生万科"
               "分扬启明星辰奇安深信服绿盟天融安恒亚信东方国信拓尔科大讯飞海康威视宇视天地伟业云从旷视商汤"
               "瑞泰丰和源盛达通宏兴隆昌鑫德利安信诚嘉禾福佳康辉煌锦绣鸿运博远创新卓越精诚睿智云帆海纳天成")
INDUSTRIES = ["科技", "信息技术", "贸易", "电子", "机械", "网络科技", "医药", "食品", "建筑工程", "文化传媒",
              "物流", "咨询", "环保科技", "新能源", "教育科技", "软件", "电气", "汽车服务", "生物科技", "实业"]
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕"
            "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃"
            "武戴莫孔向汤单解仇区朴查")
GIVEN = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华玉萍红志文斌辉宇浩鹏飞凯丹琳婷雪梅晨阳欣怡子涵"
         "梓轩然诺思远佳琪博天佑雨桐俊嘉晓东国庆海燕永春建立新")
HONORIFICS = ["先生", "女士", "总", "经理", "老师", "小姐"]
ENGLISH_NAMES = ["David Wang", "Lily Zhang", "Kevin Li", "Amy Chen", "Tony Liu", "Grace Zhou"]
SYLLABLES = ["zhang", "wang", "li", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun", "ma", "zhu",
             "hu", "guo", "lin", "wei", "fang", "jing", "hao", "min", "xiao", "ming", "hua", "jun", "lei", "tao"]
PROVIDERS = ["qq.com"] * 5 + ["163.com"] * 3 + ["126.com", "sina.com", "gmail.com", "foxmail.com", "139.com"]
TYPOS = {"qq.com": "qq.con", "163.com": "163.cm", "126.com": "126.co", "gmail.com": "gmial.com",
         "sina.com": "sina.cmo", "foxmail.com": "foxmial.com", "139.com": "139.con"}
LANDLINE_AREAS = [("010", 8), ("021", 8), ("0755", 8), ("020", 8), ("0571", 8), ("025", 8), ("0512", 8),
                  ("028", 8), ("027", 8), ("029", 8), ("022", 8), ("023", 8), ("0532", 8), ("0592", 7)]
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _companies(rng: random.Random, count: int) -> list[tuple[str, str, str, str]]:
    """(region short, brand, industry, legal form) of `count` distinct-ish companies."""
    out = []
    for _ in range(count):
        region = CITIES[min(int(rng.paretovariate(1.0)) - 1, len(CITIES) - 1)][1].removesuffix("市")
        brand = "".join(rng.choice(BRAND_CHARS) for _ in range(2 if rng.random() < 0.8 else 3))
        form = "有限公司" if rng.random() < 0.7 else rng.choice(["股份有限公司", "有限责任公司", "集团有限公司"])
        out.append((region, brand, rng.choice(INDUSTRIES), form))
    return out


def _company_text(rng: random.Random, company: tuple[str, str, str, str]) -> str:
    region, brand, industry, form = company
    r = rng.random()
    if r < 0.60:
        return f"{region}{brand}{industry}{form}"
    if r < 0.70:
        return f"{brand}{industry}（{region}）{form}"
    if r < 0.78:
        return f"{brand}{industry}({region}){form}"
    if r < 0.84:
        return f" {region}{brand}{industry}{form.replace('有限', '有限 ')} "
    if r < 0.90:
        return f"{region}市{brand}{industry}{form}"
    if r < 0.95:
        return f"{brand}{industry}"
    return f"{region}{brand}{industry}{'有限公司' if form != '有限公司' else '有限责任公司'}"


def _mobile(rng: random.Random) -> str:
    digits = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
    r = rng.random()
    if r < 0.45:
        return digits
    if r < 0.55:
        return f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"
    if r < 0.62:
        return f"0086-{digits}"
    if r < 0.70:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if r < 0.76:
        return digits.translate(FULLWIDTH)
    if r < 0.82:
        return f"86{digits}"
    if r < 0.87:
        return f"(+86){digits}"
    if r < 0.90:
        return f"{digits} / 1{rng.choice('3589')}{rng.randrange(10**9):09d}"
    if r < 0.94:
        return f"手机：{digits}"
    if r < 0.97:
        return digits[: rng.randrange(5, 10)]  # cut short: invalid
    return digits[:6] + "abc" + digits[6:9]  # invalid


def _landline(rng: random.Random) -> str:
    if rng.random() < 0.55:
        return ""
    area, size = rng.choice(LANDLINE_AREAS)
    number = str(rng.randrange(2 * 10 ** (size - 1), 10**size))
    r = rng.random()
    if r < 0.40:
        return f"{area}-{number}"
    if r < 0.55:
        return f"({area}){number}"
    if r < 0.65:
        return f"{area} {number[:4]} {number[4:]}"
    if r < 0.75:
        return f"{area}-{number} 转 {rng.randrange(100, 9999)}"
    if r < 0.82:
        return f"+86 {area[1:]} {number}"
    if r < 0.88:
        return f"400-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}"
    if r < 0.94:
        return number  # no area code: flagged
    return f"{area}-{number[:3]}"  # too short: invalid


def _email(rng: random.Random) -> str:
    if rng.random() < 0.12:
        return ""
    local = f"{rng.choice(SYLLABLES)}{rng.choice(SYLLABLES) if rng.random() < 0.5 else '.'}{rng.randrange(10**6)}"
    domain = rng.choice(PROVIDERS) if rng.random() < 0.7 else \
        f"{rng.choice(SYLLABLES)}{rng.choice(SYLLABLES)}{rng.randrange(1000)}.com.cn"
    r = rng.random()
    if r < 0.04:
        domain = TYPOS.get(domain, domain)
    elif r < 0.14:
        domain = domain.upper()
    elif r < 0.18:
        return f" {local}@{domain} "
    elif r < 0.20:
        return f"{local}＠{domain}"
    elif r < 0.23:
        return f"{local}@"  # invalid
    elif r < 0.25:
        return f"{local} {domain}"  # invalid
    elif r < 0.27:
        return f"mailto:{local}@{domain}"
    return f"{local}@{domain}"


def _name(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.03:
        return rng.choice(ENGLISH_NAMES)
    surname = SURNAMES[min(int(rng.paretovariate(1.1)) - 1, len(SURNAMES) - 1)] if rng.random() < 0.7 else \
        rng.choice(SURNAMES)
    if r < 0.15:
        return surname + rng.choice(HONORIFICS)
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
    if r < 0.20:
        return f"{surname} {given}"
    if r < 0.22:
        return f"{surname}\u3000{given}"
    if r < 0.30:
        return surname + given + rng.choice(HONORIFICS)
    return surname + given


def _address(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.04:
        return ""
    province, city, districts, aliases = CITIES[min(int(rng.paretovariate(0.9)) - 1, len(CITIES) - 1)]
    district = rng.choice(districts)
    street = f"{rng.choice(STREETS)}{rng.randrange(1, 999)}号{rng.choice(BUILDINGS)}"
    if rng.random() < 0.3:
        street += f"{rng.randrange(1, 30)}层"
    municipality = province == city
    if r < 0.35:
        text = f"{'' if municipality else province}{city}{district}{street}"
    elif r < 0.55:
        text = f"{city}{district}{street}"
    elif r < 0.65:
        text = f"{city.removesuffix('市')}{district}{street}"
    elif r < 0.72:
        text = f"{rng.choice(aliases)}{district}{street}"
    elif r < 0.78:
        text = f"{province.removesuffix('省')} {city} {district} {street}"
    elif r < 0.85:
        text = f"{district}{street}"
    elif r < 0.90:
        text = f"{city}{district}{street}".translate(FULLWIDTH)
    elif r < 0.95:
        text = f"{province}{city}{district}{street}"
    else:
        text = f"{street}"  # no region at all: flagged
    return text


def generate_rows(rows: int, seed: int = 1) -> list[list[str]]:
    """`rows` messy customer rows (HEADERS order), the same for the same seed."""
    rng = random.Random(seed)
    companies = _companies(rng, max(50, rows // 8))
    notes = ["", "", "", "老客户", "展会认识", "需要回访", "VIP"]
    out = []
    count = len(companies)
    for _ in range(rows):
        # Skewed: a few companies have many contacts, most have one to a handful.
        company = companies[min(int(count * rng.random() ** 1.6), count - 1)]
        out.append([
            _company_text(rng, company), _name(rng), _mobile(rng), _landline(rng), _email(rng), _address(rng),
            rng.choice(notes),
        ])
    return out


# Measurement ------------------------------------------------------------------------------------


def _maxrss_mb(who: int) -> float:
    # ru_maxrss is in kilobytes on Linux.
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def _start_pool(workers: int) -> Any:
    """A fork pool whose workers have the normalisers loaded (inherited from this process) and
    their Cleaner built, started before the rows are generated so they do not inherit the rows
    (their peak memory is then the engine's own: dictionaries and caches)."""
    import multiprocessing

    from kehu.dataquality.pipeline import Cleaner, _clean_chunk, _init_worker, recognise_columns

    columns = recognise_columns(HEADERS)
    Cleaner(HEADERS, columns).clean_many(generate_rows(200, seed=999))  # imports, dictionaries, lazy tables
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_init_worker, initargs=(HEADERS, columns))
    pool.map(_clean_chunk, [generate_rows(10, seed=998)] * workers, chunksize=1)
    return pool


def _pipeline_parallel(pool: Any, rows: list[list[str]], workers: int) -> tuple[float, Any, int, float]:
    """What `kehu clean --workers N` does between reading and writing: chunks of 2,000 rows to the
    pool, results back in order (canonical cells only: no file is written)."""
    from kehu.dataquality.pipeline import WINDOW_PER_WORKER, CleanSummary, _clean_chunk, chunked, parallel_ordered

    summary = CleanSummary()
    started, cpu = time.perf_counter(), time.process_time()
    produced = 0
    for _chunk, out in parallel_ordered(pool, _clean_chunk, chunked(rows), window=workers * WINDOW_PER_WORKER,
                                          summary=summary):
        produced += len(out)
    return time.perf_counter() - started, summary, produced, time.process_time() - cpu


def _pipeline_single(rows: Sequence[list[str]]) -> tuple[float, Any]:
    """The same engine in this process, in the same chunks, GC tuned as in a worker."""
    from kehu.dataquality.pipeline import Cleaner, chunked, recognise_columns, tune_gc

    cleaner = Cleaner(HEADERS, recognise_columns(HEADERS))
    tune_gc()
    started = time.perf_counter()
    for chunk in chunked(rows):
        cleaner.clean_many(chunk)
    return time.perf_counter() - started, cleaner.summary


def _per_value_us(values: Sequence[str], function: Callable[[str], Any]) -> float:
    values = [v for v in values if v.strip()]
    if not values:
        return 0.0
    started = time.perf_counter()
    for value in values:
        function(value)
    return (time.perf_counter() - started) / len(values) * 1e6


def _ours_per_value(rows: Sequence[list[str]]) -> dict[str, float]:
    """Kehu's normalisers alone, once per value (no pipeline cache; their own internal caches as
    they come): where a row's time goes."""
    from kehu.dataquality.normalize.addresses import normalize_address
    from kehu.dataquality.normalize.companies import normalize_company
    from kehu.dataquality.normalize.emails import normalize_emails
    from kehu.dataquality.normalize.names import normalize_person_name
    from kehu.dataquality.normalize.phones import normalize_phones

    return {
        "phone_us": round(_per_value_us([r[2] for r in rows] + [r[3] for r in rows], normalize_phones), 2),
        "email_us": round(_per_value_us([r[4] for r in rows], normalize_emails), 2),
        "address_us": round(_per_value_us([r[5] for r in rows], normalize_address), 2),
        "company_us": round(_per_value_us([r[0] for r in rows], normalize_company), 2),
        "name_us": round(_per_value_us([r[1] for r in rows], normalize_person_name), 2),
    }


def _baseline(rows: Sequence[list[str]]) -> dict[str, Any]:
    """The libraries once per value, no caching, no fast paths: what a straightforward cleaner does."""
    import cpca
    import email_validator
    import phonenumbers
    import pypinyin

    def phone(value: str) -> str:
        try:
            number = phonenumbers.parse(value, "CN")
        except phonenumbers.NumberParseException:
            return ""
        if not phonenumbers.is_valid_number(number):
            return ""
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def email(value: str) -> str:
        try:
            return email_validator.validate_email(value, check_deliverability=False).normalized
        except email_validator.EmailNotValidError:
            return ""

    def address(value: str) -> Any:
        return cpca.transform([value])

    def name(value: str) -> str:
        return "".join(pypinyin.lazy_pinyin(value))

    address_rows = rows[:BASELINE_ADDRESS_SAMPLE]
    address(address_rows[0][5])  # cpca loads its tables on first use: not a per-value cost
    per_value = {
        "phone_us": _per_value_us([r[2] for r in rows] + [r[3] for r in rows], phone),
        "email_us": _per_value_us([r[4] for r in rows], email),
        "address_us": _per_value_us([r[5] for r in address_rows], address),
        "pinyin_us": _per_value_us([r[1] for r in rows], name),
    }
    # Per row: each value kind weighted by how many non-empty values a row has of it.
    weights = {
        "phone_us": sum(bool(r[2].strip()) + bool(r[3].strip()) for r in rows) / len(rows),
        "email_us": sum(bool(r[4].strip()) for r in rows) / len(rows),
        "address_us": sum(bool(r[5].strip()) for r in address_rows) / len(address_rows),
        "pinyin_us": sum(bool(r[1].strip()) for r in rows) / len(rows),
    }
    row_us = sum(per_value[k] * weights[k] for k in per_value)
    return {
        "rows_sampled": len(rows), "address_rows_sampled": len(address_rows),
        **{k: round(v, 2) for k, v in per_value.items()},
        "row_us": round(row_us, 2), "rows_per_s": round(1e6 / row_us) if row_us else None,
    }


def run(*, rows: int = 100_000, seed: int = 1, workers: int | None = None, log: Log = stderr_log,
        **_: Any) -> dict[str, Any]:
    from kehu.dataquality.pipeline import OUTPUT_COLUMNS

    if rows < 1:
        raise ValueError("rows must be at least 1")
    workers = workers or os.cpu_count() or 1
    host = machine()
    log(f"bench: starting {workers} worker processes")
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    pool = _start_pool(workers)
    try:
        log(f"bench: generating {rows:,} messy rows in memory (seed {seed})")
        started = time.perf_counter()
        data = generate_rows(rows, seed)
        generation_s = time.perf_counter() - started
        rss_after_generation = _maxrss_mb(resource.RUSAGE_SELF)
        log(f"bench: generated in {generation_s:.1f} s; pipeline over {rows:,} rows with {workers} processes")
        seconds, summary, produced, parent_cpu = _pipeline_parallel(pool, data, workers)
    finally:
        pool.close()
        pool.join()  # reaped children report their peak memory and CPU in RUSAGE_CHILDREN
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU the workers used (their warm-up included: a few hundred rows): on a shared machine the wall
    # clock includes waiting for a core, this does not.
    workers_cpu = (children.ru_utime + children.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    parallel_rps = rows / seconds if seconds else 0.0
    log(f"bench: {parallel_rps:,.0f} rows/s with {workers} processes; now one process")

    single_rows = data[: min(SINGLE_SAMPLE, rows)]
    single_s, _single_summary = _pipeline_single(single_rows)
    single_rps = len(single_rows) / single_s if single_s else 0.0
    log(f"bench: {single_rps:,.0f} rows/s in one process; now the per-value library baseline")

    baseline = _baseline(data[: min(BASELINE_SAMPLE, rows)])
    # A slice the pipeline runs above did not see in this process, so nothing is cached yet.
    ours = _ours_per_value(data[-min(BASELINE_SAMPLE, rows):])
    base_rps = baseline["rows_per_s"] or 0
    return {
        "benchmark": "normalize",
        "rows": rows,
        "seed": seed,
        "columns": HEADERS,
        "output_columns": list(OUTPUT_COLUMNS),
        "generation_seconds": round(generation_s, 1),
        "machine": {**host, "calibration_end": calibration()},
        "workers": workers,
        "pipeline": {
            "rows": produced,
            "seconds": round(seconds, 2),
            # CPU the dispatching process spent (pickling chunks out, results in): it shares the cores.
            "dispatcher_cpu_seconds": round(parent_cpu, 2),
            "workers_cpu_seconds": round(workers_cpu, 2),
            "worker_cpu_us_per_row": round(workers_cpu / rows * 1e6, 2),
            # What the workers' CPU time allows when each has a core to itself (and the dispatcher's
            # share fits beside them): the figure a quiet machine would show.
            "rows_per_s_cpu_bound": round(rows / (workers_cpu / workers)) if workers_cpu > 0 else None,
            "rows_per_s": round(parallel_rps),
            "single_process_rows": len(single_rows),
            "single_process_rows_per_s": round(single_rps),
            "single_process_us_per_row": round(single_s / len(single_rows) * 1e6, 2) if single_rows else None,
            "summary": summary.as_dict(),
        },
        "baseline": baseline,
        "normalisers_per_value": ours,
        "ratio": round(parallel_rps / base_rps, 1) if base_rps else None,
        "ratio_single_process": round(single_rps / base_rps, 1) if base_rps else None,
        "memory": {
            "peak_rss_main_mb": _maxrss_mb(resource.RUSAGE_SELF),
            "rss_main_after_generation_mb": rss_after_generation,
            "peak_rss_largest_worker_mb": _maxrss_mb(resource.RUSAGE_CHILDREN),
        },
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "within_target": parallel_rps >= TARGET_ROWS_PER_S,
    }


def format_table(result: dict[str, Any]) -> str:
    p, b, m = result["pipeline"], result["baseline"], result["memory"]
    host = result["machine"]
    summary = p["summary"]
    many = f"pipeline, {result['workers']} processes"
    lines = [
        f"normalize benchmark: {result['rows']:,} generated rows ({', '.join(result['columns'])}), "
        f"seed {result['seed']}, generated in {result['generation_seconds']} s",
        f"machine: {host['cpu']}, {host['cores']} cores; python speed "
        f"{host['calibration_start']['python_sum_range_1e6_ms']} ms (idle ~20), "
        f"load {host['calibration_start']['load_average_1m']}",
        "",
        f"{'':34} {'rows/s':>10} {'µs/row':>8}",
        f"{many:34} {p['rows_per_s']:>10,} "
        f"{1e6 / p['rows_per_s'] if p['rows_per_s'] else 0:>8.1f}",
        f"{'pipeline, CPU-bound (worker CPU)':34} {p['rows_per_s_cpu_bound'] or 0:>10,} "
        f"{p['worker_cpu_us_per_row']:>8.1f}",
        f"{'pipeline, 1 process':34} {p['single_process_rows_per_s']:>10,} {p['single_process_us_per_row']:>8.1f}",
        f"{'baseline (libraries per value)':34} {b['rows_per_s'] or 0:>10,} {b['row_us']:>8.1f}",
        "",
        f"baseline per value: phone {b['phone_us']} µs, e-mail {b['email_us']} µs, address (cpca) "
        f"{b['address_us']} µs, pinyin {b['pinyin_us']} µs",
        "Kehu per value (uncached): " + ", ".join(f"{k.removesuffix('_us')} {v} µs"
                                                 for k, v in result["normalisers_per_value"].items()),
        f"ratio: {result['ratio']}x all processes vs baseline, {result['ratio_single_process']}x one process vs "
        f"baseline",
        f"peak memory: main {m['peak_rss_main_mb']} MB (after generating the rows: "
        f"{m['rss_main_after_generation_mb']} MB), largest worker {m['peak_rss_largest_worker_mb']} MB",
        f"rows changed {summary['rows_changed']:,} of {summary['rows']:,}; with problems "
        f"{summary['rows_with_problems']:,}; fixed by kind {summary['fixed']}",
        f"problems: {summary['problems']}",
        f"target ≥ {result['target_rows_per_s']:,} rows/s: {'met' if result['within_target'] else '**not met**'}",
    ]
    return "\n".join(lines)
