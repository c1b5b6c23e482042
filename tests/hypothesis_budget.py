"""How many examples a property test runs, under the loaded Hypothesis profile.

The full counts run in the plain pytest run. tools/asan.sh runs the same differential
tests again under AddressSanitizer (about 10x slower) with ``--hypothesis-profile=asan``,
which runs a quarter of them: enough to walk every path of the C, not a second full
search. Tests that set ``max_examples`` themselves pass it through ``examples()`` so
their count scales with the profile too.
"""

from __future__ import annotations

from hypothesis import settings

ASAN_SHARE = 4  # under the asan profile each property test runs 1/ASAN_SHARE of its examples


def register_profiles() -> None:
    settings.register_profile(
        "asan", max_examples=settings.get_profile("default").max_examples // ASAN_SHARE)


def examples(full: int) -> int:
    """``full`` scaled as the loaded profile scales Hypothesis's default count."""
    loaded = settings().max_examples  # a fresh settings() takes the loaded profile
    default = settings.get_profile("default").max_examples
    return max(1, full * loaded // default)
