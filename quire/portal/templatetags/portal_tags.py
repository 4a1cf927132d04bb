from django import template

register = template.Library()


@register.filter
def join_if_list(value: object, separator: str = ", ") -> str:
    if isinstance(value, list | tuple):
        return separator.join(str(item) for item in value)
    return str(value)


ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)


@register.filter
def money(minor_units: int, currency: str = "usd") -> str:
    """Integer minor units as an amount with its currency code: 12345, "usd" → "123.45 USD"."""
    if currency.lower() in ZERO_DECIMAL_CURRENCIES:
        return f"{int(minor_units):,} {currency.upper()}"
    return f"{int(minor_units) / 100:,.2f} {currency.upper()}"


@register.filter
def grouped(value: int) -> str:
    return f"{int(value):,}"
