"""A Stripe-protocol server for tests: localstripe for what it implements, plus a local handler for what it
lacks, behind one loopback port.

Forwarded to localstripe: customers, products (and anything else not listed below).
Handled here with Stripe's paths, form-encoded bodies, object shapes and error shape: prices (licensed and
metered, per unit or tiered, whose `tiers` come back with `expand[]=tiers` as Stripe's do), subscriptions
with several items in one currency (the first period ending at `billing_cycle_anchor_config`'s next
occurrence when given; a cancellation's `invoice_now` and `prorate` recorded in `cancellations`, and with
`invoice_now` a draft final invoice of the period's metered usage, the subscription's `latest_invoice`),
invoices (retrieved, finalized, and paid with `/v1/invoices/{id}/pay`; while `declining` is set a payment is a 402
`card_declined` and leaves the invoice open), billing
meters, meter events (deduplicated by `identifier`), meter event summaries, invoice previews
(`/v1/invoices/create_preview`: what a subscription's items would bill for the current period, metered items
from their meter's events), Checkout sessions and Billing Portal sessions. `Idempotency-Key` is honoured on
every POST and DELETE: the same key and body replay the first response; the same key with another body is a
400 `idempotency_error`, as Stripe answers.

`unavailable(method, path)` answers such requests 503, Stripe's `api_error`, while it is entered: an outage.

`hold_after(method, path, body_contains=...)` makes the next such request (whose form body holds that text)
wait, once it has been carried out, before its answer goes back: the moment a client can crash between
Stripe's change and its own record of it, or another client can come in.
"""

from __future__ import annotations

import calendar
import contextlib
import dataclasses
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.support import ROOT, LocalServer, free_port, spawn, stop_process, wait_http


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        error_type: str = "invalid_request_error",
    ):
        super().__init__(message)
        self.status, self.param, self.code, self.error_type = status, param, code, error_type

    def body(self) -> dict:
        error = {"type": self.error_type, "message": str(self)}
        if self.param:
            error["param"] = self.param
        if self.code:
            error["code"] = self.code
        return {"error": error}


def parse_form(body: str) -> dict:
    """Stripe's form encoding: `a[b][0][c]=v` nests; objects whose keys are all indexes become lists."""
    root: dict = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+|\[\]", name)
        node = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            key = str(len(node)) if part == "[]" else part
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
    return _listify(root)


def _listify(value):
    if isinstance(value, dict):
        converted = {k: _listify(v) for k, v in value.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return value


def _decimal(value, param: str) -> Decimal:
    """A non-negative amount in minor units, with at most 12 decimal places, as Stripe takes one."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise StripeError(400, f"Invalid decimal: {value}.", param) from None
    if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -12:
        raise StripeError(400, f"Invalid decimal: {value}.", param)
    return amount


def _amount_fields(source: dict, name: str, param: str = "{}") -> tuple[int | None, str | None]:
    """`name` and `name_decimal` of a price or tier (`param` formats a field's name as an error's `param`): at
    most one of them given; (None, None) for neither."""
    if name in source and f"{name}_decimal" in source:
        raise StripeError(
            400, f"You may only specify one of these parameters: {name}, {name}_decimal.", param.format(name)
        )
    if f"{name}_decimal" in source:
        amount = _decimal(source[f"{name}_decimal"], param.format(f"{name}_decimal"))
        whole = int(amount) if amount == amount.to_integral_value() else None
        return whole, source[f"{name}_decimal"]
    if name in source:
        try:
            whole = int(source[name])
        except ValueError:
            raise StripeError(400, f"Invalid integer: {source[name]}.", param.format(name)) from None
        if whole < 0:
            raise StripeError(400, f"Invalid integer: {source[name]}.", param.format(name))
        return whole, str(whole)
    return None, None


def _tiers(raw) -> list[dict]:
    """Stripe's tiers from `tiers[i][up_to]` (a whole number, ascending; `inf` for the last and only the
    last) and `tiers[i][unit_amount]`/`[unit_amount_decimal]`/`[flat_amount]`/`[flat_amount_decimal]` (at least
    one per tier); `up_to` comes back null for `inf`."""
    if not raw:
        raise StripeError(400, "Missing required param: tiers.", "tiers", "parameter_missing")
    if not isinstance(raw, list) or not all(isinstance(tier, dict) for tier in raw):
        raise StripeError(400, "Invalid array", "tiers")
    tiers, previous = [], 0
    for index, tier in enumerate(raw):
        param = f"tiers[{index}]"
        last = index == len(raw) - 1
        up_to = tier.get("up_to")
        if up_to is None:
            raise StripeError(
                400, f"Missing required param: {param}[up_to].", f"{param}[up_to]", "parameter_missing"
            )
        if up_to == "inf":
            if not last:
                raise StripeError(400, "Only the last tier may have `up_to` set to `inf`.", f"{param}[up_to]")
            bound = None
        else:
            try:
                bound = int(up_to)
            except ValueError:
                raise StripeError(400, f"Invalid integer: {up_to}.", f"{param}[up_to]") from None
            if bound <= previous:
                raise StripeError(
                    400, "Tiers must be sorted by `up_to` in ascending order, above 0.", f"{param}[up_to]"
                )
            if last:
                raise StripeError(400, "The last tier must have `up_to` set to `inf`.", f"{param}[up_to]")
            previous = bound
        unit_amount, unit_amount_decimal = _amount_fields(tier, "unit_amount", param + "[{}]")
        flat_amount, flat_amount_decimal = _amount_fields(tier, "flat_amount", param + "[{}]")
        if unit_amount_decimal is None and flat_amount_decimal is None:
            raise StripeError(400, "Each tier needs a unit_amount or a flat_amount.", param)
        tiers.append(
            {
                "flat_amount": flat_amount,
                "flat_amount_decimal": flat_amount_decimal,
                "unit_amount": unit_amount,
                "unit_amount_decimal": unit_amount_decimal,
                "up_to": bound,
            }
        )
    return tiers


def price_amount(price: dict, tiers: list[dict] | None, quantity: Decimal) -> int:
    """What `quantity` units of the price cost, rounded to the minor unit: per unit, or through its tiers
    (graduated: each unit at the tier it falls in, plus the flat amount of every tier reached; volume: every
    unit at the tier the whole quantity falls in)."""
    if price["billing_scheme"] == "tiered":
        total, lower = Decimal(0), 0
        for tier in tiers or []:
            upper = tier["up_to"]
            unit = Decimal(tier["unit_amount_decimal"] or 0)
            flat = Decimal(tier["flat_amount_decimal"] or 0)
            if price["tiers_mode"] == "volume":
                if upper is None or quantity <= upper:
                    total = quantity * unit + flat
                    break
                continue
            if quantity <= lower:
                break
            total += ((quantity if upper is None else min(quantity, upper)) - lower) * unit + flat
            lower = upper if upper is not None else lower
    else:
        total = quantity * Decimal(price["unit_amount_decimal"] or 0)
    return int(total.to_integral_value(ROUND_HALF_UP))


PRORATION_BEHAVIORS = ("always_invoice", "create_prorations", "none")


def _next_anchor(config, now: int) -> int:
    """The first moment after `now` on `config`'s day of the month (the month's last day where it has fewer)
    at its hour, minute and second, UTC, as Stripe sets a billing cycle anchor from
    `billing_cycle_anchor_config`."""
    if not isinstance(config, dict):
        raise StripeError(400, "Invalid billing_cycle_anchor_config.", "billing_cycle_anchor_config")
    bounds = {"day_of_month": (1, 31), "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}
    parts = {}
    for field, (low, high) in bounds.items():
        param = f"billing_cycle_anchor_config[{field}]"
        if field not in config:
            if field == "day_of_month":
                raise StripeError(400, f"Missing required param: {param}.", param, "parameter_missing")
            parts[field] = 0
            continue
        try:
            parts[field] = int(config[field])
        except ValueError:
            raise StripeError(400, f"Invalid integer: {config[field]}.", param) from None
        if not low <= parts[field] <= high:
            raise StripeError(400, f"{param} must be between {low} and {high}.", param)
    moment = datetime.fromtimestamp(now, UTC)
    year, month = moment.year, moment.month
    while True:
        day = min(parts["day_of_month"], calendar.monthrange(year, month)[1])
        anchor = datetime(year, month, day, parts["hour"], parts["minute"], parts["second"], tzinfo=UTC)
        if anchor > moment:
            return int(anchor.timestamp())
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _list(data: list, url: str) -> dict:
    return {"object": "list", "data": data, "has_more": False, "url": url}


@dataclasses.dataclass
class Hold:
    """`reached` is set once the held request has been carried out; its answer waits for `release`."""

    body_contains: str = ""
    reached: threading.Event = dataclasses.field(default_factory=threading.Event)
    release: threading.Event = dataclasses.field(default_factory=threading.Event)


class StripeState:
    """Objects the local handler owns, and the idempotency cache for every POST."""

    def __init__(self, base_url: str, forward):
        self.base_url, self.forward = base_url, forward
        self.lock = threading.Lock()
        self.prices: dict[str, dict] = {}
        self.price_tiers: dict[str, list[dict]] = {}
        self.subscriptions: dict[str, dict] = {}
        self.meters: dict[str, dict] = {}
        self.meter_events: dict[str, dict] = {}
        self.cancellations: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self.declining = False
        self.requests: list[tuple[str, str]] = []
        self.idempotency: dict[tuple[str, str], tuple[str, int, dict]] = {}
        self.holds: dict[tuple[str, str], Hold] = {}
        self.outages: set[tuple[str, str]] = set()

    @contextlib.contextmanager
    def unavailable(self, method: str, path: str) -> Iterator[None]:
        with self.lock:
            self.outages.add((method, path))
        try:
            yield
        finally:
            with self.lock:
                self.outages.discard((method, path))

    def out(self, method: str, path: str) -> bool:
        with self.lock:
            return (method, path) in self.outages

    def hold_after(self, method: str, path: str, body_contains: str = "") -> Hold:
        hold = Hold(body_contains=body_contains)
        with self.lock:
            self.holds[(method, path)] = hold
        return hold

    def _held(self, method: str, path: str, body: str) -> Hold | None:
        with self.lock:
            hold = self.holds.get((method, path))
            if hold is None or hold.body_contains not in body:
                return None
            return self.holds.pop((method, path))

    @staticmethod
    def new_id(prefix: str) -> str:
        return prefix + secrets.token_hex(12)

    def require_customer(self, customer_id: str | None, param: str = "customer") -> None:
        if not customer_id:
            raise StripeError(400, f"Missing required param: {param}.", param, "parameter_missing")
        status, _ = self.forward("GET", f"/v1/customers/{customer_id}", "")
        if status != 200:
            raise StripeError(400, f"No such customer: '{customer_id}'", param, "resource_missing")

    def price(self, price_id: str, param: str) -> dict:
        if price_id not in self.prices:
            raise StripeError(400, f"No such price: '{price_id}'", param, "resource_missing")
        return self.prices[price_id]

    def create_price(self, form: dict) -> dict:
        for field in ("currency", "product"):
            if not form.get(field):
                raise StripeError(400, f"Missing required param: {field}.", field, "parameter_missing")
        status, _ = self.forward("GET", f"/v1/products/{form['product']}", "")
        if status != 200:
            raise StripeError(400, f"No such product: '{form['product']}'", "product", "resource_missing")
        recurring = form.get("recurring")
        if recurring is not None:
            usage_type = recurring.get("usage_type", "licensed")
            if usage_type not in ("licensed", "metered"):
                raise StripeError(400, "Invalid recurring[usage_type].", "recurring[usage_type]")
            if usage_type == "metered" and recurring.get("meter") not in self.meters:
                raise StripeError(
                    400, "Metered prices need an existing recurring[meter].", "recurring[meter]"
                )
            recurring = {
                "interval": recurring.get("interval", "month"),
                "interval_count": int(recurring.get("interval_count", 1)),
                "meter": recurring.get("meter"),
                "usage_type": usage_type,
                "trial_period_days": None,
            }
        billing_scheme = form.get("billing_scheme", "per_unit")
        if billing_scheme not in ("per_unit", "tiered"):
            raise StripeError(400, f"Invalid billing_scheme: {billing_scheme}.", "billing_scheme")
        tiers, tiers_mode = None, None
        if billing_scheme == "tiered":
            for field in ("unit_amount", "unit_amount_decimal"):
                if field in form:
                    raise StripeError(
                        400, f"You may only specify one of these parameters: tiers, {field}.", field
                    )
            tiers_mode = form.get("tiers_mode")
            if tiers_mode is None:
                raise StripeError(
                    400, "Missing required param: tiers_mode.", "tiers_mode", "parameter_missing"
                )
            if tiers_mode not in ("graduated", "volume"):
                raise StripeError(400, f"Invalid tiers_mode: {tiers_mode}.", "tiers_mode")
            tiers = _tiers(form.get("tiers"))
            unit_amount, unit_amount_decimal = None, None
        else:
            for field in ("tiers", "tiers_mode"):
                if field in form:
                    raise StripeError(400, f"{field} can only be set with billing_scheme=tiered.", field)
            unit_amount, unit_amount_decimal = _amount_fields(form, "unit_amount")
            if unit_amount_decimal is None:
                unit_amount, unit_amount_decimal = 0, "0"
        price = {
            "id": self.new_id("price_"),
            "object": "price",
            "active": True,
            "billing_scheme": billing_scheme,
            "created": int(time.time()),
            "currency": form["currency"],
            "livemode": False,
            "lookup_key": form.get("lookup_key"),
            "metadata": form.get("metadata", {}),
            "nickname": form.get("nickname"),
            "product": form["product"],
            "recurring": recurring,
            "tax_behavior": "unspecified",
            "tiers_mode": tiers_mode,
            "transform_quantity": None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": unit_amount_decimal,
        }
        self.prices[price["id"]] = price
        if tiers is not None:
            self.price_tiers[price["id"]] = tiers
        return price

    def expanded_price(self, price: dict, expand: list) -> dict:
        """The price as Stripe answers it: its tiers only when asked for with `expand[]=tiers`."""
        if "tiers" not in expand:
            return price
        return {**price, "tiers": self.price_tiers.get(price["id"])}

    def create_subscription(self, form: dict) -> dict:
        """Its first period ends at the billing cycle anchor: a month from now, or the next occurrence of
        `billing_cycle_anchor_config`'s day of the month (the month's last day where it has fewer) and time,
        in UTC."""
        self.require_customer(form.get("customer"))
        items = form.get("items") or []
        if not items:
            raise StripeError(400, "Missing required param: items.", "items", "parameter_missing")
        if form.get("proration_behavior", "create_prorations") not in PRORATION_BEHAVIORS:
            raise StripeError(400, "Invalid proration_behavior.", "proration_behavior")
        now = int(time.time())
        config = form.get("billing_cycle_anchor_config")
        anchor = now + 30 * 86400 if config is None else _next_anchor(config, now)
        subscription_id = self.new_id("sub_")
        data = []
        for index, item in enumerate(items):
            price = self.price(item.get("price"), f"items[{index}][price]")
            metered = price["recurring"] and price["recurring"]["usage_type"] == "metered"
            if metered and "quantity" in item:
                raise StripeError(
                    400, "Quantity cannot be set on a metered price.", f"items[{index}][quantity]"
                )
            data.append(
                {
                    "id": self.new_id("si_"),
                    "object": "subscription_item",
                    "created": now,
                    "current_period_start": now,
                    "current_period_end": anchor,
                    "metadata": item.get("metadata", {}),
                    "price": price,
                    "quantity": None if metered else int(item.get("quantity", 1)),
                    "subscription": subscription_id,
                }
            )
        if len({i["price"]["currency"] for i in data}) > 1:
            raise StripeError(400, "All prices on a subscription must have the same currency.", "items")
        due_now = sum((i["price"]["unit_amount"] or 0) * (i["quantity"] or 0) for i in data)
        subscription = {
            "id": subscription_id,
            "object": "subscription",
            "billing_cycle_anchor": anchor,
            "billing_cycle_anchor_config": config,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "collection_method": "charge_automatically",
            "created": now,
            "currency": data[0]["price"]["currency"],
            "customer": form["customer"],
            "ended_at": None,
            "items": _list(data, f"/v1/subscription_items?subscription={subscription_id}"),
            "latest_invoice": None,
            "livemode": False,
            "metadata": form.get("metadata", {}),
            "start_date": now,
            "status": "active" if due_now == 0 else "incomplete",
        }
        self.subscriptions[subscription_id] = subscription
        return subscription

    def cancel_subscription(self, subscription_id: str, params: dict) -> dict:
        """Cancels at once; `invoice_now` and `prorate` (booleans) are kept in `cancellations` by subscription."""
        subscription = self.get_object(self.subscriptions, subscription_id, "subscription")
        for flag in ("invoice_now", "prorate"):
            if flag in params and params[flag] not in ("true", "false"):
                raise StripeError(400, f"Invalid boolean: {params[flag]}", flag)
        if subscription["status"] == "canceled":
            raise StripeError(
                400,
                f"The subscription {subscription_id} is canceled and cannot be changed.",
                code="resource_missing",
            )
        now = int(time.time())
        subscription.update(status="canceled", canceled_at=now, ended_at=now)
        self.cancellations[subscription_id] = {
            k: params[k] for k in ("invoice_now", "prorate") if k in params
        }
        if params.get("invoice_now") == "true":
            metered = [line for line in self.period_lines(subscription) if line["metered"]]
            invoice = self.invoice_of(subscription, metered, now)
            invoice.update(id=self.new_id("in_"), billing_reason="subscription_cycle")
            self.invoices[invoice["id"]] = invoice
            subscription["latest_invoice"] = invoice["id"]
        return subscription

    def finalize_invoice(self, invoice_id: str) -> dict:
        """A draft made open, or paid at once when it is for nothing, as Stripe finalizes one."""
        invoice = self.get_object(self.invoices, invoice_id, "invoice")
        if invoice["status"] != "draft":
            raise StripeError(400, "This invoice is already finalized.", code="invoice_not_editable")
        invoice["status"] = "open" if invoice["amount_due"] else "paid"
        return invoice

    def pay_invoice(self, invoice_id: str) -> dict:
        """Finalizes a draft and charges it: paid, or while `declining` a 402 `card_declined` that leaves it
        open."""
        invoice = self.get_object(self.invoices, invoice_id, "invoice")
        if invoice["status"] not in ("draft", "open"):
            raise StripeError(400, "Invoice is already paid.", code="invoice_not_open")
        invoice["status"] = "open"
        if self.declining and invoice["amount_due"] > 0:
            raise StripeError(402, "Your card was declined.", code="card_declined", error_type="card_error")
        invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
        return invoice

    def create_meter(self, form: dict) -> dict:
        for field in ("display_name", "event_name", "default_aggregation"):
            if not form.get(field):
                raise StripeError(400, f"Missing required param: {field}.", field, "parameter_missing")
        if any(
            m["event_name"] == form["event_name"] and m["status"] == "active" for m in self.meters.values()
        ):
            raise StripeError(400, "An active meter with this event_name already exists.", "event_name")
        now = int(time.time())
        meter = {
            "id": self.new_id("mtr_"),
            "object": "billing.meter",
            "created": now,
            "customer_mapping": form.get(
                "customer_mapping", {"event_payload_key": "stripe_customer_id", "type": "by_id"}
            ),
            "default_aggregation": form["default_aggregation"],
            "display_name": form["display_name"],
            "event_name": form["event_name"],
            "event_time_window": form.get("event_time_window"),
            "livemode": False,
            "status": "active",
            "status_transitions": {"deactivated_at": None},
            "updated": now,
            "value_settings": form.get("value_settings", {"event_payload_key": "value"}),
        }
        self.meters[meter["id"]] = meter
        return meter

    def create_meter_event(self, form: dict) -> dict:
        event_name, payload = form.get("event_name"), form.get("payload") or {}
        meter = next((m for m in self.meters.values() if m["event_name"] == event_name), None)
        if meter is None:
            raise StripeError(400, f"No active meter was found for event_name '{event_name}'.", "event_name")
        customer_key = meter["customer_mapping"]["event_payload_key"]
        value_key = meter["value_settings"]["event_payload_key"]
        self.require_customer(payload.get(customer_key), f"payload[{customer_key}]")
        try:
            float(payload.get(value_key, ""))
        except ValueError:
            raise StripeError(
                400, f"payload[{value_key}] must be a number.", f"payload[{value_key}]"
            ) from None
        identifier = form.get("identifier") or self.new_id("")
        if identifier in self.meter_events:
            return self.meter_events[identifier]
        event = {
            "object": "billing.meter_event",
            "created": int(time.time()),
            "event_name": event_name,
            "identifier": identifier,
            "livemode": False,
            "payload": payload,
            "timestamp": int(form.get("timestamp") or time.time()),
        }
        self.meter_events[identifier] = event
        return event

    def meter_summaries(self, meter_id: str, query: dict) -> dict:
        meter = self.meters.get(meter_id)
        if meter is None:
            raise StripeError(404, f"No such billing meter: '{meter_id}'", "id", "resource_missing")
        for field in ("customer", "start_time", "end_time"):
            if field not in query:
                raise StripeError(400, f"Missing required param: {field}.", field, "parameter_missing")
        start, end = int(query["start_time"]), int(query["end_time"])
        total = float(self.meter_total(meter, query["customer"], start, end))
        summary = {
            "id": self.new_id("mtrusg_"),
            "object": "billing.meter_event_summary",
            "aggregated_value": total,
            "end_time": end,
            "livemode": False,
            "meter": meter_id,
            "start_time": start,
        }
        return _list([summary], f"/v1/billing/meters/{meter_id}/event_summaries")

    def meter_total(self, meter: dict, customer_id: str, start: int, end: int) -> Decimal:
        """The sum of the meter's event values for the customer with a timestamp in [start, end)."""
        customer_key = meter["customer_mapping"]["event_payload_key"]
        value_key = meter["value_settings"]["event_payload_key"]
        return sum(
            (
                Decimal(str(e["payload"][value_key]))
                for e in self.meter_events.values()
                if e["event_name"] == meter["event_name"]
                and e["payload"].get(customer_key) == customer_id
                and start <= e["timestamp"] < end
            ),
            Decimal(0),
        )

    def invoice_preview(self, form: dict) -> dict:
        """The invoice a subscription's current period would produce: one line per item, a licensed item at
        its quantity, a metered one at its meter's sum for the customer over the item's current period, each
        priced per unit or through its tiers."""
        self.require_customer(form.get("customer"))
        if not form.get("subscription"):
            raise StripeError(
                400, "Missing required param: subscription.", "subscription", "parameter_missing"
            )
        subscription = self.get_object(self.subscriptions, form["subscription"], "subscription")
        if subscription["customer"] != form["customer"]:
            raise StripeError(
                400, "The subscription does not belong to this customer.", "subscription", "resource_missing"
            )
        return self.invoice_of(subscription, self.period_lines(subscription), int(time.time()))

    def period_lines(self, subscription: dict) -> list[dict]:
        """One line per item for its current period: a licensed item at its quantity, a metered one at its
        meter's sum for the customer over the period, each priced per unit or through its tiers; `metered` is
        the handler's own mark, not Stripe's."""
        lines = []
        for item in subscription["items"]["data"]:
            price = self.prices[item["price"]["id"]]
            start, end = item["current_period_start"], item["current_period_end"]
            recurring = price["recurring"] or {}
            metered = recurring.get("usage_type") == "metered"
            if metered:
                quantity = self.meter_total(
                    self.meters[recurring["meter"]], subscription["customer"], start, end
                )
            else:
                quantity = Decimal(item["quantity"] or 0)
            lines.append(
                {
                    "id": self.new_id("il_tmp_"),
                    "object": "line_item",
                    "amount": price_amount(price, self.price_tiers.get(price["id"]), quantity),
                    "currency": price["currency"],
                    "description": None,
                    "livemode": False,
                    "metadata": {},
                    "metered": metered,
                    "parent": {
                        "type": "subscription_item_details",
                        "subscription_item_details": {
                            "subscription": subscription["id"],
                            "subscription_item": item["id"],
                        },
                    },
                    "period": {"start": start, "end": end},
                    "pricing": {
                        "type": "price_details",
                        "price_details": {"price": price["id"], "product": price["product"]},
                        "unit_amount_decimal": price["unit_amount_decimal"],
                    },
                    "quantity": int(quantity) if quantity == int(quantity) else float(quantity),
                }
            )
        return lines

    def invoice_of(self, subscription: dict, lines: list[dict], created: int) -> dict:
        lines = [{k: v for k, v in line.items() if k != "metered"} for line in lines]
        subtotal = sum(line["amount"] for line in lines)
        items = subscription["items"]["data"]
        return {
            "id": None,
            "object": "invoice",
            "amount_due": subtotal,
            "amount_paid": 0,
            "amount_remaining": subtotal,
            "created": created,
            "currency": subscription["currency"],
            "customer": subscription["customer"],
            "lines": _list(lines, "/v1/invoices/upcoming/lines"),
            "livemode": False,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": subscription["id"], "metadata": {}},
            },
            "period_start": min(i["current_period_start"] for i in items),
            "period_end": max(i["current_period_end"] for i in items),
            "status": "draft",
            "subtotal": subtotal,
            "total": subtotal,
        }

    def checkout_session(self, form: dict) -> dict:
        if form.get("mode") not in ("payment", "setup", "subscription"):
            raise StripeError(400, "Invalid mode.", "mode")
        if form.get("customer"):
            self.require_customer(form["customer"])
        for index, item in enumerate(form.get("line_items") or []):
            self.price(item.get("price"), f"line_items[{index}][price]")
        session_id = self.new_id("cs_test_")
        now = int(time.time())
        return {
            "id": session_id,
            "object": "checkout.session",
            "cancel_url": form.get("cancel_url"),
            "created": now,
            "customer": form.get("customer"),
            "expires_at": now + 86400,
            "livemode": False,
            "metadata": form.get("metadata", {}),
            "mode": form["mode"],
            "payment_status": "unpaid",
            "status": "open",
            "subscription": None,
            "success_url": form.get("success_url"),
            "url": f"{self.base_url}/c/pay/{session_id}",
        }

    def portal_session(self, form: dict) -> dict:
        self.require_customer(form.get("customer"))
        session_id = self.new_id("bps_")
        return {
            "id": session_id,
            "object": "billing_portal.session",
            "configuration": "bpc_default",
            "created": int(time.time()),
            "customer": form["customer"],
            "flow": None,
            "livemode": False,
            "locale": None,
            "on_behalf_of": None,
            "return_url": form.get("return_url"),
            "url": f"{self.base_url}/p/session/{session_id}",
        }

    def get_object(self, store: dict, object_id: str, kind: str) -> dict:
        if object_id not in store:
            raise StripeError(404, f"No such {kind}: '{object_id}'", "id", "resource_missing")
        return store[object_id]

    def route(self, method: str, path: str, query: dict, body: str) -> tuple[int, dict] | None:
        """The local answer, or None to forward to localstripe."""
        form = parse_form(body) if method == "POST" else {}
        expand = (form if method == "POST" else query).get("expand") or []
        with self.lock:
            if method == "POST" and path == "/v1/prices":
                return 200, self.expanded_price(self.create_price(form), expand)
            if method == "GET" and (m := re.fullmatch(r"/v1/prices/([^/]+)", path)):
                return 200, self.expanded_price(self.get_object(self.prices, m[1], "price"), expand)
            if method == "POST" and path == "/v1/subscriptions":
                return 200, self.create_subscription(form)
            if method == "GET" and (m := re.fullmatch(r"/v1/subscriptions/([^/]+)", path)):
                return 200, self.get_object(self.subscriptions, m[1], "subscription")
            if method == "DELETE" and (m := re.fullmatch(r"/v1/subscriptions/([^/]+)", path)):
                return 200, self.cancel_subscription(m[1], query)
            if method == "POST" and path == "/v1/billing/meters":
                return 200, self.create_meter(form)
            if method == "GET" and path == "/v1/billing/meters":
                status = query.get("status")
                meters = [m for m in self.meters.values() if status in (None, m["status"])]
                return 200, _list(meters, "/v1/billing/meters")
            if method == "GET" and (m := re.fullmatch(r"/v1/billing/meters/([^/]+)/event_summaries", path)):
                return 200, self.meter_summaries(m[1], query)
            if method == "GET" and (m := re.fullmatch(r"/v1/billing/meters/([^/]+)", path)):
                return 200, self.get_object(self.meters, m[1], "billing meter")
            if method == "POST" and path == "/v1/billing/meter_events":
                return 200, self.create_meter_event(form)
            if method == "POST" and path == "/v1/invoices/create_preview":
                return 200, self.invoice_preview(form)
            if method == "GET" and (m := re.fullmatch(r"/v1/invoices/(in_[^/]+)", path)):
                return 200, self.get_object(self.invoices, m[1], "invoice")
            if method == "POST" and (m := re.fullmatch(r"/v1/invoices/(in_[^/]+)/finalize", path)):
                return 200, self.finalize_invoice(m[1])
            if method == "POST" and (m := re.fullmatch(r"/v1/invoices/(in_[^/]+)/pay", path)):
                return 200, self.pay_invoice(m[1])
            if method == "POST" and path == "/v1/checkout/sessions":
                return 200, self.checkout_session(form)
            if method == "POST" and path == "/v1/billing_portal/sessions":
                return 200, self.portal_session(form)
        return None


class StripeServer:
    """localstripe on one loopback port, the handler above on another; `url` is what the client talks to."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.localstripe_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.localstripe_url = f"http://127.0.0.1:{self.localstripe_port}"
        self.state = StripeState(self.url, self._forward)
        self.proc: subprocess.Popen | None = None
        self.http: LocalServer | None = None
        self._client = httpx.Client(base_url=self.localstripe_url, timeout=10)

    def _forward(self, method: str, path: str, body: str, headers: dict | None = None) -> tuple[int, dict]:
        response = self._client.request(
            method,
            path,
            content=body.encode() if body else None,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": "Bearer sk_test_local",
                **(headers or {}),
            },
        )
        return response.status_code, response.json() if response.content else {}

    def start(self, timeout: float = 30) -> StripeServer:
        self.proc = spawn(
            [sys.executable, "-m", "localstripe", "--port", str(self.localstripe_port), "--from-scratch"],
            ROOT / ".quire" / f"test-localstripe-{os.getpid()}.log",
        )
        wait_http(
            f"{self.localstripe_url}/v1/customers",
            self.proc,
            timeout,
            headers={"Authorization": "Bearer sk_test_x"},
        )
        self.http = LocalServer(_handler_for(self), port=self.port)
        return self

    def stop(self) -> None:
        if self.http is not None:
            self.http.close()
        if self.proc is not None:
            stop_process(self.proc, timeout=10)
        self._client.close()


def _handler_for(server: StripeServer) -> type[BaseHTTPRequestHandler]:
    state = server.state

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:
            pass

        def _answer(self, status: int, body: dict, replayed: bool = False) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_" + secrets.token_hex(8))
            if replayed:
                self.send_header("Idempotent-Replayed", "true")
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            split = urlsplit(self.path)
            query = parse_form(split.query)
            with state.lock:
                state.requests.append((self.command, split.path))
            if not (self.headers.get("Authorization") or "").startswith("Bearer sk_"):
                error = StripeError(
                    401, "You did not provide an API key.", error_type="invalid_request_error"
                )
                self._answer(401, error.body())
                return
            if state.out(self.command, split.path):
                error = StripeError(503, "Stripe is unavailable; try again later.", error_type="api_error")
                self._answer(503, error.body())
                return
            key = self.headers.get("Idempotency-Key") if self.command in ("POST", "DELETE") else None
            if key is not None:
                with state.lock:
                    cached = state.idempotency.get((self.command, key))
                if cached is not None:
                    cached_body, status, response = cached
                    if cached_body != body:
                        error = StripeError(
                            400,
                            "Keys for idempotent requests can only be used with the same parameters they were "
                            "first used with.",
                            error_type="idempotency_error",
                        )
                        self._answer(400, error.body())
                    else:
                        self._answer(status, response, replayed=True)
                    return
            try:
                local = state.route(self.command, split.path, query, body)
                if local is None:
                    local = server._forward(
                        self.command, self.path, body, {"Authorization": self.headers["Authorization"]}
                    )
            except StripeError as exc:
                local = (exc.status, exc.body())
            status, response = local
            if key is not None and status < 500:
                with state.lock:
                    state.idempotency[(self.command, key)] = (body, status, response)
            hold = state._held(self.command, split.path, body)
            if hold is not None:
                hold.reached.set()
                hold.release.wait(60)
            self._answer(status, response)

        do_GET = do_POST = do_DELETE = _handle

    return Handler


_LOCAL: list[tuple[StripeServer, dict[str, str]]] = []


def local_stripe() -> tuple[StripeServer, dict[str, str]]:
    """The test process's one Stripe-protocol server, started on the first call, and the settings that
    point Quire at it, put in this process's environment (so worker processes started later inherit them)
    and, when Django's settings are already read, in those too. Folders that need Stripe call it when they
    are collected, before any worker starts."""
    if not _LOCAL:
        server = StripeServer().start()
        env = {
            "QUIRE_STRIPE_API_KEY": "sk_test_" + secrets.token_hex(12),
            "QUIRE_STRIPE_API_BASE": server.url,
            "QUIRE_STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(16),
        }
        os.environ.update(env)
        from django.conf import settings

        if settings.configured:
            for name, value in env.items():
                setattr(settings, name, value)
        _LOCAL.append((server, env))
    return _LOCAL[0]


def local_stripe_stop() -> None:
    for server, _ in _LOCAL:
        server.stop()
    _LOCAL.clear()
