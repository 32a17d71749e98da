from django.db import migrations


def load(apps, schema_editor):
    from kehu.accounts.services import DEFAULT_ROLES

    Role = apps.get_model("accounts", "Role")
    for code, zh, en, scope, is_admin in DEFAULT_ROLES:
        Role.objects.get_or_create(
            code=code, defaults={"name_zh": zh, "name_en": en, "data_scope": str(scope), "is_admin": is_admin}
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
