"""Property tests of `qbtrace sanitize` on generated valid and near-valid HARs (the same
strategies as tests/test_fuzz.py): nothing but `InputError` escapes, an error is one line
without a secret, no planted secret survives in the copy, every readable entry is kept, and
the copy analyzes to the same findings. `benchmarks/fuzz_long.py` runs it for minutes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbtrace.errors import InputError
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sanitize import sanitize_file, sanitize_har
from tests import reviewer
from tests.strategies import PLANT, Built, hars
from tests.test_fuzz import WRAPS, wrap
from tests.test_report import analyze
from tests.test_sanitize import essence


def check_sanitize(data: bytes, built: Built, folder: Path) -> str:
    """Sanitize `data` and check the copy; 'ok' or 'refused'. Raises on a broken property."""
    src, out = folder / "fuzz.har", folder / "out" / "fuzz.har"
    out.parent.mkdir(exist_ok=True)
    src.write_bytes(data)
    warnings: list[str] = []
    try:
        summary = sanitize_file(src, out, Redactor(b"qbtrace-fuzz"), warnings)
    except InputError as exc:
        assert PLANT not in str(exc) and "\n" not in str(exc), str(exc)
        return "refused"
    assert not [w for w in warnings if PLANT in w], warnings
    copy = json.loads(out.read_bytes())
    text = reviewer.readable_text(copy)
    assert PLANT not in text, text[text.index(PLANT) - 80 : text.index(PLANT) + 40]
    assert summary.entries == len(copy["log"]["entries"])
    before, _ = analyze(src)
    after, _ = analyze(out)
    assert [essence(f) for f in after.findings] == [essence(f) for f in before.findings]
    return "ok"


@settings(
    max_examples=int(os.environ.get("QBTRACE_FUZZ_SANITIZE_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(hars(), WRAPS)
def test_sanitize_properties(case: tuple[bytes, Built], how: str) -> None:
    data, built = case
    with tempfile.TemporaryDirectory() as folder:
        check_sanitize(wrap(data, how), built, Path(folder))


PROFILE = Profile()
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    [
        "url",
        "headers",
        "cookies",
        "queryString",
        "postData",
        "content",
        "_webSocketMessages",
        "name",
        "value",
        "text",
        "encoding",
        "redirectURL",
        "params",
        "mimeType",
    ]
)


@settings(max_examples=int(os.environ.get("QBTRACE_FUZZ_SANITIZE_EXAMPLES", "60")), deadline=None)
@given(st.lists(st.dictionaries(FIELDS, JSON | st.text()), max_size=4), st.data())
def test_any_shape_of_entry_is_sanitized_without_an_exception(
    parts: list[dict[str, object]], data: st.DataObject
) -> None:
    """Exporters leave out, rename and mistype every field: no shape may raise."""
    entries: list[object] = []
    for part in parts:
        where = data.draw(st.sampled_from(["request", "response", "entry"]))
        entries.append(part if where == "entry" else {where: part})
    har = {"log": {"entries": entries}}
    summary = sanitize_har(
        har, Redactor(b"qbtrace-fuzz"), data.draw(st.sampled_from([None, PROFILE]))
    )
    assert summary.entries == len(entries)
