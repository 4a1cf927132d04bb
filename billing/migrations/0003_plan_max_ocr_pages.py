from django.db import migrations, models

OCR_PAGES = {"free": 50, "team": 2_000, "enterprise": 20_000}


def seed(apps, schema_editor):
    plan_model = apps.get_model("billing", "Plan")
    for code, pages in OCR_PAGES.items():
        plan_model.objects.filter(code=code).update(max_ocr_pages=pages)


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_seed_plans")]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="max_ocr_pages",
            field=models.PositiveIntegerField(default=500, help_text="pages OCR'd per document"),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
