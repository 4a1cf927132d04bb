from django.db import migrations, models


def price(help_text: str) -> models.DecimalField:
    return models.DecimalField(blank=True, decimal_places=4, help_text=help_text, max_digits=10, null=True)


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_secrets_encrypted")]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="input_token_price",
            field=price("per million uncached input tokens, major units; blank: QUIRE_TOKEN_PRICES"),
        ),
        migrations.AddField(
            model_name="plan",
            name="cached_input_token_price",
            field=price("per million input tokens served from the prefix cache; blank: QUIRE_TOKEN_PRICES"),
        ),
        migrations.AddField(
            model_name="plan",
            name="output_token_price",
            field=price("per million output tokens; blank: QUIRE_TOKEN_PRICES"),
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
                ],
                max_length=16,
            ),
        ),
    ]
