"""Settings for `benchmarks/api_overhead.py`'s server: Quire's, plus the bare document view's route."""

from quire.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.api_overhead_urls"
