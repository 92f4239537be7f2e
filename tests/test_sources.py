"""The reader registry: each format recognised by its bytes, read, and converted to a HAR by
its own reader; one capture parser for reading and converting; one HAR body decoder."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

from qbtrace.errors import InputError
from qbtrace.export import capture_to_har
from qbtrace.model import InputKind
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources import MODULES, load, read_input, readers, recognise, sniff, to_har
from qbtrace.sources.capture import parse_capture
from qbtrace.sources.har import body_text
from tests.conftest import GOLDEN
from tests.test_capture import make_parts, write_capture

KEY = Redactor(b"test-sources-key")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("refresh_race.har", InputKind.HAR),
        ("code_reused.playwright.har", InputKind.HAR),
        ("refresh_race.mitm", InputKind.MITM),
    ],
)
def test_each_golden_input_is_recognised_read_and_converted_by_its_reader(
    name: str, kind: InputKind
) -> None:
    path = GOLDEN / name
    assert recognise(load(path, name)).kind == kind == sniff(path, name)[0]
    got = read_input(path, name, Profile(), KEY)
    assert got.kind is kind and got.exchanges
    har = to_har(path, name, [])
    assert len(har["log"]["entries"]) == got.entries


def test_a_capture_is_recognised_before_json_and_converted_by_the_same_parser(
    tmp_path: Path,
) -> None:
    path = tmp_path / "oauth.json"  # a capture named like a HAR: the bytes decide
    write_capture(path, KEY, [make_parts(), make_parts(status=200)])
    with path.open("ab") as handle:
        handle.write(b"{broken\n")
    got = read_input(path, path.name, Profile(), KEY)
    assert got.kind is InputKind.CAPTURE and len(got.exchanges) == 2
    parsed = parse_capture(path.read_bytes(), path.name)
    assert [index for index, _ in parsed.records] == [x.ref.index for x in got.exchanges]
    warnings: list[str] = []
    har = capture_to_har(path.read_bytes(), path.name, warnings)
    lines = [e["_qbtrace"]["line"] for e in har["log"]["entries"]]
    assert lines == [x.ref.index for x in got.exchanges]
    assert warnings == list(got.warnings)
    assert len(warnings) == 1 and warnings[0].startswith("1 unreadable lines skipped (line 4")


def test_compressed_and_bom_inputs_reach_the_same_reader(tmp_path: Path) -> None:
    raw = (GOLDEN / "refresh_race.har").read_bytes()
    packed = tmp_path / "a.har.gz"
    packed.write_bytes(gzip.compress(b"\xef\xbb\xbf" + raw))
    assert sniff(packed, packed.name)[0] == InputKind.HAR
    plain = read_input(GOLDEN / "refresh_race.har", "x", Profile(), KEY)
    assert read_input(packed, "x", Profile(), KEY).exchanges == plain.exchanges


def test_what_no_reader_takes_is_refused_naming_every_format(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(InputError) as err:
        read_input(path, path.name, Profile(), KEY)
    assert str(err.value) == (
        "notes.txt: not a HAR, a mitmproxy flow file, a qbtrace capture or an application log"
    )


def test_the_registry_lists_one_reader_per_module_and_kind() -> None:
    found = list(readers())
    assert len(found) == len(MODULES) == len({r.kind for r in found})


def test_one_body_decoder_for_the_reader_and_the_sanitizer() -> None:
    form = "grant_type=refresh_token&refresh_token=RT1-abc"
    encoded = {"text": base64.b64encode(form.encode()).decode(), "encoding": "base64"}
    assert body_text(encoded).text == form and body_text(encoded).base64
    assert body_text({"text": form}).text == form and not body_text({"text": form}).base64
    bad = body_text({"text": "%%%", "encoding": "base64"})
    assert bad.bad and bad.text is None
    latin = {"text": base64.b64encode("caf\xe9".encode("latin-1")).decode(), "encoding": "base64"}
    assert body_text(latin).text == "caf\ufffd"  # the reader reads on
    assert body_text(latin, strict=True).bad  # the sanitizer leaves it alone
    assert body_text({}).text is None


def test_the_json_of_an_input_names_its_kind(tmp_path: Path) -> None:
    from tests.conftest import analyze_json

    doc = analyze_json(GOLDEN / "refresh_race.mitm")
    assert doc["inputs"][0]["kind"] == "mitm"  # type: ignore[index]
    assert json.dumps(InputKind.MITM) == '"mitm"'
