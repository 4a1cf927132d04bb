from django.db import migrations, models

REVIEW_CELL_PRICES = {"free": 0, "team": 100, "enterprise": 50}


def price_review_cells(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for plan in Plan.objects.all():
        plan.review_cell_price = REVIEW_CELL_PRICES.get(plan.code, 0)
        if plan.connectors_allowed:
            plan.connectors_allowed = [*plan.connectors_allowed, "review", "ask"]
        plan.save(update_fields=["review_cell_price", "connectors_allowed"])


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_token_prices")]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="review_cell_price",
            field=models.PositiveIntegerField(
                default=0, help_text="price per 1,000 review cells (document x column), minor units"
            ),
        ),
        migrations.AlterField(
            model_name="usageevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("tokens_in", "Input tokens"),
                    ("tokens_cached_in", "Cached input tokens"),
                    ("tokens_out", "Output tokens"),
                    ("pages", "Pages"),
                    ("job", "Jobs"),
                    ("review_cells", "Review cells (document x column)"),
                ],
                max_length=16,
            ),
        ),
        migrations.RunPython(price_review_cells, migrations.RunPython.noop),
    ]
