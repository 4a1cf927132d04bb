from django import template

register = template.Library()


@register.filter
def join_if_list(value: object, separator: str = ", ") -> str:
    if isinstance(value, list | tuple):
        return separator.join(str(item) for item in value)
    return str(value)
