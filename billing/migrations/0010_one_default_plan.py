from django.db import migrations, models


def keep_the_first_default(apps, schema_editor) -> None:
    """Where several plans were marked default, the oldest stays the default."""
    Plan = apps.get_model("billing", "Plan")
    defaults = Plan.objects.filter(is_default=True).order_by("pk").values_list("pk", flat=True)
    Plan.objects.filter(pk__in=list(defaults[1:])).update(is_default=False)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_meter_batch_refusal"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="plan",
            options={"ordering": ["monthly_price", "pk"]},
        ),
        migrations.RunPython(keep_the_first_default, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="plan",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_default", True)),
                fields=("is_default",),
                name="billing_one_default_plan",
                violation_error_message="Another plan is already the default; unmark it first.",
            ),
        ),
    ]
