"""The default follow-up kinds; admins rename, reorder, disable or add more afterwards."""

from django.db import migrations

KINDS = [
    ("call", "电话", "Call", "☎", False),
    ("visit", "拜访", "Visit", "📍", True),
    ("meeting", "会议", "Meeting", "👥", False),
    ("wechat", "微信", "WeChat", "💬", False),
    ("email", "邮件", "Email", "✉", False),
    ("note", "备注", "Note", "📝", False),
]


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    kind = apps.get_model("activities", "FollowUpKind")
    for position, (code, zh, en, icon, check_in) in enumerate(KINDS):
        kind.objects.get_or_create(code=code, defaults={"name_zh": zh, "name_en": en, "icon": icon,
                                                        "position": position * 10, "allows_check_in": check_in})


class Migration(migrations.Migration):
    dependencies = [("activities", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
