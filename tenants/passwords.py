"""A person's one-time link to set their password: the portal's invitations hand it out, and `create_tenant`
prints it for a new workspace's owner. The portal's password reset confirm page (`portal:password_reset_confirm`)
answers it, on whichever workspace host the link names."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode


def password_set_link(*, user: AbstractBaseUser, base_url: str) -> str:
    """A one-time link to Django's password reset confirm page on `base_url` (scheme and host)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return base_url.rstrip("/") + reverse("portal:password_reset_confirm", args=[uid, token])
