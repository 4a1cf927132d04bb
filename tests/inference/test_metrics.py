import pytest

from inference.metrics import SERVER_METRICS, Metric, MetricsRegistry


def test_every_declared_metric_renders_its_help_and_kind():
    text = MetricsRegistry(SERVER_METRICS).render()
    for metric in SERVER_METRICS:
        assert f"# HELP {metric.name} {metric.help_text}\n# TYPE {metric.name} {metric.kind}\n" in text


def test_values_render_with_sorted_labels_and_undeclared_names_are_refused():
    registry = MetricsRegistry([Metric("requests_total", "counter", "Requests.")])
    registry.inc("requests_total", status="200", route="/a")
    registry.inc("requests_total", 2, route="/a", status="200")
    assert 'requests_total{route="/a",status="200"} 3\n' in registry.render()
    with pytest.raises(KeyError, match="not declared"):
        registry.set("requests_totl", 1)
    with pytest.raises(ValueError, match="counter or gauge"):
        MetricsRegistry([Metric("x", "histogram", "X.")])  # type: ignore[arg-type]


def test_large_counters_render_every_digit():
    registry = MetricsRegistry(SERVER_METRICS)
    registry.set("quire_prompt_tokens_total", 123_456_789)
    registry.set("quire_time_to_first_token_seconds_sum", 1234.56789)
    text = registry.render()
    assert "quire_prompt_tokens_total 123456789\n" in text
    assert "quire_time_to_first_token_seconds_sum 1234.56789\n" in text


def test_label_values_are_escaped():
    registry = MetricsRegistry([Metric("requests_total", "counter", "Requests.")])
    registry.inc("requests_total", route='a"b\\c\nd')
    assert 'requests_total{route="a\\"b\\\\c\\nd"} 1\n' in registry.render()
