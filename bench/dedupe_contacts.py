"""`kehu bench dedupe_contacts`: duplicate contacts within one customer, at N customers.

On the shared bench database (`bench.common.bench_database`, N customers with one contact each),
extra contacts are added for this run and removed at the end, so the shared data is unchanged:
each customer gets 0-6 more people (2.5 on average; a few big accounts get 40-150, so the
blocked path for customers above `ALL_PAIRS_MAX` contacts runs too). A share of them are the same
person entered again the way it happens: "张先生" for 张伟 with the mobile written differently, the
e-mail in another case, the name in pinyin, the landline instead of the mobile. Hard negatives
are colleagues sharing the switchboard number and colleagues with one surname.

Phases, all in this run:
1. the contact pass of the archive scan (`contact_duplicates.contact_duplicates_scan()`): every
   customer with two or more contacts read, compared and its pairs stored: wall time, contacts/s;
2. the baseline a simple CRM runs: exact GROUP BY (customer, mobile E.164) and (customer,
   lower(e-mail)) in SQL: wall time and the pairs it finds;
3. precision, recall and F1 of both against the planted duplicates (a pair counts as found when
   stored with any verdict: every stored pair is shown to a person for review).
"""

from __future__ import annotations

import random
import time
from typing import Any

from django.db import connection, transaction

from bench.common import (
    GIVEN,
    SURNAMES,
    Log,
    Readings,
    _e164,
    _mobile,
    bench_database,
    calibration,
    machine,
    stderr_log,
)

EXTRA_CONTACTS = (0, 1, 1, 2, 2, 3, 3, 4, 5, 6)  # per customer, picked uniformly: 2.7 on average
BIG_ACCOUNT_SHARE = 0.0005
DUPLICATE_SHARE = 0.08  # of the extra contacts: the same person as another contact of the customer
SWITCHBOARD_SHARE = 0.1  # of customers: their extra contacts share one landline
VARIANTS = ("honorific_same_mobile", "mobile_format", "email_case_pinyin", "landline_for_mobile",
            "same_name_email")


def _name(rng: random.Random) -> tuple[str, str, str]:
    surname = SURNAMES[min(int(rng.paretovariate(1.2)) - 1, len(SURNAMES) - 1)]
    # Most people born since the 1980s have two-character given names; with the bench's peaked
    # surnames, a 50/50 mix would make two different 王伟 in one company far likelier than in life.
    given = GIVEN[rng.randrange(len(GIVEN))] + (GIVEN[rng.randrange(len(GIVEN))] if rng.random() < 0.85 else "")
    return surname, given, surname + given


def _pinyin(readings: Readings, surname: str, given: str) -> str:
    return " ".join(("".join(readings(surname, True)).capitalize(), "".join(readings.chars(given)).capitalize()))


def _duplicate(rng: random.Random, readings: Readings, original: dict[str, Any]) -> tuple[dict[str, Any], str]:
    variant = rng.choice(VARIANTS)
    surname, given = original["_surname"], original["_given"]
    mobile = original["mobile"]
    copy: dict[str, Any] = {"name": original["name"], "mobile": "", "phone": "", "email": ""}
    if variant == "honorific_same_mobile":
        copy.update(name=surname + rng.choice(("先生", "女士", "总", "经理")), mobile=mobile)
    elif variant == "mobile_format":
        copy.update(mobile=f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}")
    elif variant == "email_case_pinyin":
        copy.update(name=_pinyin(readings, surname, given), email=original["email"].upper())
    elif variant == "landline_for_mobile":
        copy.update(phone=f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}")
    else:
        copy.update(email=original["email"])
    return copy, variant


def _contacts_for(rng: random.Random, readings: Readings, customer_id: int, next_id: int
                  ) -> tuple[list[dict[str, Any]], list[tuple[int, int]]]:
    count = rng.randrange(40, 150) if rng.random() < BIG_ACCOUNT_SHARE else rng.choice(EXTRA_CONTACTS)
    switchboard = f"010-{rng.randrange(60000000, 69999999)}" if rng.random() < SWITCHBOARD_SHARE else ""
    rows: list[dict[str, Any]] = []
    truth: list[tuple[int, int]] = []
    for _ in range(count):
        if rows and rng.random() < DUPLICATE_SHARE:
            original = rng.choice([r for r in rows if r["_original"]])
            row, _variant = _duplicate(rng, readings, original)
            row.update(_surname=original["_surname"], _given=original["_given"], _original=False)
            # Every record of one person pairs with every other (two copies of 张伟 are a pair too).
            truth += [(other["id"], next_id) for other in rows if other["_person"] == original["_person"]]
            row["_person"] = original["_person"]
        else:
            surname, given, name = _name(rng)
            mobile = _mobile(rng)
            row = {"name": name, "mobile": mobile, "phone": switchboard,
                   "email": f"{''.join(readings.chars(given))}.{''.join(readings(surname, True))}"
                            f"{rng.randrange(100)}@corp{customer_id}.cn",
                   "_surname": surname, "_given": given, "_original": True, "_person": next_id}
        row.update(id=next_id, customer_id=customer_id)
        rows.append(row)
        next_id += 1
    return rows, truth


def _insert(rows: list[dict[str, Any]]) -> None:
    from django.utils import timezone

    from kehu.customers.models import Contact

    now = timezone.now()
    objects = [Contact(id=r["id"], customer_id=r["customer_id"], name=r["name"], mobile=r["mobile"],
                       mobile_e164=_e164(r["mobile"]) if r["mobile"] else "", phone=r["phone"],
                       phone_e164=_e164(r["phone"]) if r["phone"] else "", email=r["email"],
                       created_at=now, updated_at=now)
               for r in rows]
    with transaction.atomic():
        Contact.objects.bulk_create(objects, batch_size=2000)


def _baseline() -> tuple[float, set[tuple[int, int]]]:
    """What a simple CRM's duplicate report does: contacts of one customer with the same stored
    mobile, or the same e-mail ignoring case, as pairs (a self-join on the customer)."""
    from kehu.customers.models import Contact

    table = connection.ops.quote_name(Contact._meta.db_table)
    found: set[tuple[int, int]] = set()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for condition in ("a.mobile_e164 <> '' AND a.mobile_e164 = b.mobile_e164",
                          "a.email <> '' AND LOWER(a.email) = LOWER(b.email)"):
            cursor.execute(f"SELECT a.id, b.id FROM {table} a JOIN {table} b "
                           f"ON b.customer_id = a.customer_id AND b.id > a.id WHERE {condition}")
            found.update(cursor.fetchall())
    return time.perf_counter() - started, found


def _remove_contacts_from(first_id: int) -> None:
    """Remove the contacts this run added (plain SQL: they have no search postings, match keys or
    quality issues, and the ORM's cascade would look for them contact by contact)."""
    from kehu.customers.models import Contact

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(Contact._meta.db_table)} WHERE id >= %s", [first_id])


def _score(found: set[tuple[int, int]], truth: set[tuple[int, int]]) -> dict[str, Any]:
    hits = len(found & truth)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pairs": len(found), "true_pairs": len(truth), "hits": hits, "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(f1, 4)}


def run(*, customers: int = 10000, seed: int = 1, data_dir: Any = None, log: Log = stderr_log,
        **_: Any) -> dict[str, Any]:
    from kehu.customers.models import Contact, Customer
    from kehu.dataquality.contact_duplicates import ALL_PAIRS_MAX, contact_duplicates_scan
    from kehu.dataquality.models import ContactDuplicatePair

    with bench_database(customers=customers, seed=seed, data_dir=data_dir, log=log) as data:
        host = machine()
        rng = random.Random(seed * 7919)
        readings = Readings()
        # The generated archive's contacts carry their customer's id; anything above is left over
        # from a run that was killed before its clean-up.
        first_id = (Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        _remove_contacts_from(first_id)
        next_id = first_id
        truth: set[tuple[int, int]] = set()
        batch: list[dict[str, Any]] = []
        added = 0
        log(f"bench: adding contacts to {customers:,} customers")
        ContactDuplicatePair.objects.all().delete()
        customer_ids = list(data_ids(customers))
        try:
            for customer_id in customer_ids:
                rows, planted = _contacts_for(rng, readings, customer_id, next_id)
                next_id += len(rows)
                truth.update(planted)
                batch += rows
                if len(batch) >= 20000:
                    _insert(batch)
                    added += len(batch)
                    batch = []
            if batch:
                _insert(batch)
                added += len(batch)
            total_contacts = Contact.objects.count()
            log(f"bench: {added:,} contacts added ({len(truth):,} planted duplicate pairs); contact pass")
            started, cpu = time.perf_counter(), time.process_time()
            figures = contact_duplicates_scan()
            wall = time.perf_counter() - started
            cpu_s = time.process_time() - cpu
            ours = set(ContactDuplicatePair.objects.values_list("low_id", "high_id"))
            certain = ContactDuplicatePair.objects.filter(verdict="certain").count()
            log(f"bench: contact pass {wall:.1f} s; baseline GROUP BY")
            baseline_s, baseline_pairs = _baseline()
        finally:
            ContactDuplicatePair.objects.all().delete()
            _remove_contacts_from(first_id)
    return {
        "benchmark": "dedupe_contacts",
        **data.describe(),
        "machine": {**host, "calibration_end": calibration()},
        "contacts": total_contacts,
        "contacts_added": added,
        "all_pairs_max": ALL_PAIRS_MAX,
        "contact_pass": {
            "wall_s": round(wall, 2), "cpu_s_main_process": round(cpu_s, 2),
            "customers_with_several_contacts": figures["customers"],
            "contacts_per_s": round(total_contacts / wall) if wall > 0 else None,
            "stored_pairs": len(ours), "certain": certain,
            "accuracy": _score(ours, truth),
        },
        "baseline_exact_group_by": {
            "wall_s": round(baseline_s, 2),
            "accuracy": _score(baseline_pairs, truth),
            "ratio_pass_to_baseline": round(wall / baseline_s, 1) if baseline_s > 0 else None,
        },
    }


def data_ids(customers: int) -> list[int]:
    from kehu.customers.models import Customer

    return list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:customers])


def format_table(result: dict[str, Any]) -> str:
    ours, base = result["contact_pass"], result["baseline_exact_group_by"]
    a, b = ours["accuracy"], base["accuracy"]
    return "\n".join([
        f"dedupe_contacts benchmark: {result['customers']:,} customers, {result['contacts']:,} contacts "
        f"({result['contacts_added']:,} added for this run), {result['vendor']} ({result['database']})",
        f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; python speed "
        f"{result['machine']['calibration_start']['python_sum_range_1e6_ms']} ms (idle ~20), "
        f"load {result['machine']['calibration_start']['load_average_1m']}",
        "",
        f"{'phase':28} {'seconds':>8} {'contacts/s':>10} {'pairs':>7} {'P':>7} {'R':>7} {'F1':>7}",
        f"{'contact pass (engine)':28} {ours['wall_s']:8.2f} {ours['contacts_per_s'] or 0:10,} {a['pairs']:7,} "
        f"{a['precision']:7.4f} {a['recall']:7.4f} {a['f1']:7.4f}",
        f"{'baseline exact GROUP BY':28} {base['wall_s']:8.2f} {'':>10} {b['pairs']:7,} "
        f"{b['precision']:7.4f} {b['recall']:7.4f} {b['f1']:7.4f}",
        f"planted duplicate pairs: {a['true_pairs']:,}; customers compared: "
        f"{ours['customers_with_several_contacts']:,}; certain: {ours['certain']:,}; "
        f"pass/baseline time: {base['ratio_pass_to_baseline']}x",
    ])
