from django.db import migrations


def load(apps, schema_editor):  # type: ignore[no-untyped-def]
    from kehu.sales.defaults import load_defaults

    load_defaults(apps.get_model("sales", "Pipeline"), apps.get_model("sales", "Stage"),
                  apps.get_model("sales", "LostReason"))


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
