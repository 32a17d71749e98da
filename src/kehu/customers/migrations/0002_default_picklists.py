from django.db import migrations


def load(apps, schema_editor):
    from kehu.customers.defaults import load_default_picklists

    load_default_picklists(apps.get_model("customers", "PicklistOption"))


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
