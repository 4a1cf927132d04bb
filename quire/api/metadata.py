"""`metadata` on documents and jobs: the integrator's own string keys and values, bounded as Stripe bounds them.

`metadata_merged` is the one check both apps' services call, at creation (merged into `{}`) and on update
(merged into what is stored: keys are added or replaced, an empty string deletes a key). `bracketed` reads
the `metadata[key]=value` form that multipart bodies and query strings use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from common.refusals import ErrorCode, Refusal

MAX_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500
FORBIDDEN_KEY_CHARACTERS = "[]"


def _refuse(message: str, param: str) -> Refusal:
    return Refusal(ErrorCode.INVALID_PARAMETER, message, param)


def metadata_key_checked(key: object, name: str) -> str:
    """`key` if it is a usable metadata key (1 to 40 characters, no square brackets), else a refusal that
    names the input `name`."""
    if not isinstance(key, str) or not key:
        raise _refuse("Metadata keys must be non-empty strings.", name)
    if len(key) > MAX_KEY_LENGTH:
        raise _refuse(f"Metadata keys are at most {MAX_KEY_LENGTH} characters; {key!r} is longer.", name)
    if any(c in key for c in FORBIDDEN_KEY_CHARACTERS):
        raise _refuse("Metadata keys cannot contain square brackets.", name)
    if "\x00" in key:
        raise _refuse("Metadata keys cannot contain the NUL character.", name)
    return key


def metadata_merged(current: Mapping[str, str], changes: object, param: str = "metadata") -> dict[str, str]:
    """`current` with `changes` applied: each key set to its string value, or deleted when the value is "".

    Refuses (400, `param` = `metadata.<key>`) anything but an object of string keys and string values, a
    key over 40 characters or with square brackets, a value over 500 characters, a NUL character (PostgreSQL
    stores none), and a result with more than 50 keys (`param` = `metadata`)."""
    if not isinstance(changes, Mapping):
        raise _refuse("metadata must be an object of string keys and string values.", param)
    merged = dict(current)
    for key, value in changes.items():
        metadata_key_checked(key, f"{param}.{key}" if key else param)
        if not isinstance(value, str):
            raise _refuse(f"Metadata values must be strings; {key!r} is not.", f"{param}.{key}")
        if len(value) > MAX_VALUE_LENGTH:
            raise _refuse(
                f"Metadata values are at most {MAX_VALUE_LENGTH} characters; {key!r} has {len(value)}.",
                f"{param}.{key}",
            )
        if "\x00" in value:
            raise _refuse(
                f"Metadata values cannot contain the NUL character; {key!r} does.", f"{param}.{key}"
            )
        if value:
            merged[key] = value
        else:
            merged.pop(key, None)
    if len(merged) > MAX_KEYS:
        raise _refuse(f"metadata holds at most {MAX_KEYS} keys; this would make {len(merged)}.", param)
    return merged


_BRACKETED = re.compile(r"^(?P<name>[a-z_]+)\[(?P<key>[^\[\]]*)\]$")


def bracketed(data: Mapping[str, object], name: str) -> dict[str, object]:
    """The `name[key]=value` members of form or query data, as `{key: value}` (the last value of a
    repeated key)."""
    found = {}
    for raw in data:
        match = _BRACKETED.match(raw)
        if match and match["name"] == name:
            found[match["key"]] = data[raw]
    return found


def metadata_folded(data: object) -> object:
    """Form data (multipart or urlencoded) as a dict in which the `metadata[key]=value` fields are one
    `metadata` object, as a JSON body carries it; anything but a mapping is returned as it is."""
    if not isinstance(data, Mapping):
        return data
    found = bracketed(data, "metadata")
    folded = {name: data[name] for name in data if name not in {f"metadata[{key}]" for key in found}}
    if found:
        folded["metadata"] = found
    return folded
