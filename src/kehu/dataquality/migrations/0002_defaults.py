from django.db import migrations


def load(apps, schema_editor):
    from kehu.dataquality.defaults import load_defaults

    load_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("dataquality", "0001_initial"),
        ("customers", "0002_default_picklists"),
    ]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
