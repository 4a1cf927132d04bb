from django.db import migrations, models

REVIEW_CELLS = {"free": 20_000}


def seed(apps, schema_editor):
    plan_model = apps.get_model("billing", "Plan")
    for code, cells in REVIEW_CELLS.items():
        plan_model.objects.filter(code=code).update(max_review_cells=cells)


class Migration(migrations.Migration):
    dependencies = [("billing", "0007_token_meters")]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="max_review_cells",
            field=models.PositiveBigIntegerField(
                default=0, help_text="review cells (document x column) a hard-limit plan allows each period"
            ),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
