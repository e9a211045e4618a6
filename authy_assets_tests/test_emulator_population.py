"""Tests of the emulator's generated population and of population files (pure logic)."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import phonenumbers
import pytest

from authy_assets.emulator import (
    PhoneUser,
    Population,
    PopulationFileError,
    RawResponse,
    generate_user,
    load_population_file,
)
from authy_assets.emulator.population import (
    DOCUMENTED_EXAMPLE_FIELDS,
    FAULT_KINDS,
    PHONE_NUMBER_STYLES,
    UserFaults,
    number_templates,
    typed_phone_number,
    vary_significant_number,
)

SAMPLE_SIZE = 3000
NATIONAL = phonenumbers.PhoneNumberFormat.NATIONAL


def sample_users(seed: int = 7, share: float = 0.05) -> list[PhoneUser]:
    return [generate_user(seed, authy_id, share) for authy_id in range(1, SAMPLE_SIZE + 1)]


def test_user_one_is_documented_example() -> None:
    user = generate_user(7, 1, 1.0)

    assert user.export_fields() == DOCUMENTED_EXAMPLE_FIELDS
    assert user.export_disabled is False


def test_generation_is_deterministic() -> None:
    first = sample_users()
    second = sample_users()

    assert first == second


def test_other_seed_changes_numbers() -> None:
    seed_7 = [user.e164 for user in sample_users(seed=7)[1:]]
    seed_8 = [user.e164 for user in sample_users(seed=8)[1:]]

    changed = sum(a != b for a, b in zip(seed_7, seed_8))
    assert changed > 0.9 * len(seed_7)


def test_disabled_share_keeps_numbers() -> None:
    with_share = sample_users(share=0.05)
    without_share = sample_users(share=0.0)

    assert [u.e164 for u in with_share] == [u.e164 for u in without_share]
    assert [u.phone_number for u in with_share] == [u.phone_number for u in without_share]
    assert not any(user.export_disabled for user in without_share)


def test_disabled_share_is_about_five_percent() -> None:
    disabled = sum(user.export_disabled for user in sample_users(share=0.05))

    assert 0.03 * SAMPLE_SIZE < disabled < 0.07 * SAMPLE_SIZE


def test_e164_matches_country_and_national_number() -> None:
    for user in sample_users():
        parsed = phonenumbers.parse(user.e164)
        national = phonenumbers.national_significant_number(parsed)

        assert user.e164 == "+" + user.country_code + national, user.authy_id
        assert str(parsed.country_code) == user.country_code, user.authy_id


def test_phone_number_is_national_part() -> None:
    for user in sample_users()[1:]:
        parsed = phonenumbers.parse(user.e164)
        national = phonenumbers.national_significant_number(parsed)
        national_format = phonenumbers.format_number(parsed, NATIONAL)
        digits = re.sub(r"\D", "", user.phone_number)

        assert digits == national or user.phone_number == national_format, user.authy_id


def test_all_phone_number_styles_appear() -> None:
    users = sample_users()[1:]

    assert any("-" in user.phone_number for user in users)
    assert any(" " in user.phone_number for user in users)
    assert any(user.phone_number.isdigit() for user in users)
    assert any(user.phone_number.startswith("0") for user in users)


def test_population_covers_many_regions() -> None:
    numbers = [phonenumbers.parse(user.e164) for user in sample_users()]
    regions = Counter(phonenumbers.region_code_for_number(number) for number in numbers)

    assert len(regions) >= 100


def test_most_numbers_are_valid() -> None:
    numbers = [phonenumbers.parse(user.e164) for user in sample_users()[1:]]
    valid = sum(phonenumbers.is_valid_number(number) for number in numbers)

    assert valid >= 0.95 * (SAMPLE_SIZE - 1)


def test_updated_at_is_utc_iso8601() -> None:
    for user in sample_users():
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", user.updated_at), user.authy_id


def test_template_formats_match_phonenumbers() -> None:
    rng = random.Random(3)
    for template in number_templates():
        for _ in range(3):
            significant = vary_significant_number(template, rng)
            parsed = phonenumbers.parse("+" + template.country_code + significant)
            expected_national = phonenumbers.format_number(parsed, NATIONAL)

            assert phonenumbers.national_significant_number(parsed) == significant
            if phonenumbers.is_valid_number(parsed):
                # libphonenumber leaves invalid numbers unformatted.
                assert typed_phone_number(template, significant, "national") == expected_national
            for style in PHONE_NUMBER_STYLES:
                typed = typed_phone_number(template, significant, style)
                assert re.sub(r"\D", "", typed).endswith(significant[-2:]), (template.region, style)


def test_repr_hides_phone_numbers() -> None:
    user = generate_user(7, 1, 0.0)

    assert "444" not in repr(user)
    assert "+1444" not in repr(user)


def test_large_population_lookup() -> None:
    population = Population(seed=7, size=1_000_000, export_disabled_share=0.05)

    user = population.lookup(1_000_000)
    assert isinstance(user, PhoneUser)
    assert user.authy_id == 1_000_000
    assert population.lookup(1_000_001) is None
    assert population.lookup(0) is None


def test_overrides_replace_generated_users() -> None:
    replacement = PhoneUser(5, "555", "1", "+1555", "2020-01-01T00:00:00Z")
    raw = RawResponse(status=502, headers=(), body="bad gateway")
    population = Population(7, 10, 0.0, {5: replacement, 6: None, 50: raw})

    assert population.lookup(5) == replacement
    assert population.lookup(6) is None
    assert population.lookup(50) == raw
    assert population.lookup(7) == generate_user(7, 7, 0.0)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_population_file_entries(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "population.jsonl",
        [
            json.dumps(
                {
                    "authy_id": 2,
                    "phone_number": "(201) 555-0123",
                    "country_code": "1",
                    "e164": "+12015550123",
                    "updated_at": "2020-02-02T02:02:02Z",
                    "export_disabled": True,
                }
            ),
            "",
            json.dumps({"authy_id": 3, "exists": False}),
            json.dumps(
                {
                    "authy_id": 9_000_000,
                    "raw": {
                        "status": 503,
                        "headers": {"Content-Type": "text/html", "Content-Length": "99"},
                        "body": "<h1>down</h1>",
                    },
                }
            ),
            json.dumps({"authy_id": 4, "raw": {"status": 200}}),
        ],
    )

    entries = load_population_file(path).entries

    assert entries[2] == PhoneUser(
        2, "(201) 555-0123", "1", "+12015550123", "2020-02-02T02:02:02Z", export_disabled=True
    )
    assert entries[3] is None
    assert entries[9_000_000] == RawResponse(503, (("Content-Type", "text/html"),), "<h1>down</h1>")
    assert entries[4] == RawResponse(200, (), "")
    assert len(entries) == 4


USER_LINE = {
    "authy_id": 2,
    "phone_number": "1",
    "country_code": "1",
    "e164": "+1",
    "updated_at": "x",
}


def raw_line(**raw: object) -> str:
    return json.dumps({"authy_id": 2, "raw": raw})


BAD_LINES = [
    ("{not json", "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
    (json.dumps({"phone_number": "1"}), "authy_id must be a positive integer"),
    (json.dumps({**USER_LINE, "authy_id": "2"}), "authy_id must be a positive integer"),
    (json.dumps({**USER_LINE, "authy_id": 0}), "authy_id must be a positive integer"),
    (json.dumps({**USER_LINE, "authy_id": True}), "authy_id must be a positive integer"),
    (json.dumps({"authy_id": 2, "phone_number": "1"}), "missing country_code, e164, updated_at"),
    (json.dumps({**USER_LINE, "e164": 12015550123}), "e164 must be a string"),
    (json.dumps({**USER_LINE, "export_disabled": "yes"}), "export_disabled must be true or false"),
    (json.dumps({**USER_LINE, "nickname": "x"}), "unexpected keys for a user entry: nickname"),
    (json.dumps({"authy_id": 2, "exists": True}), "exists may only be false"),
    (json.dumps({"authy_id": 2, "exists": False, "e164": "+1"}), "unexpected keys"),
    (json.dumps({"authy_id": 2, "raw": "text"}), "raw must be an object"),
    (raw_line(status=42), "raw.status must be an integer from 100 to 599"),
    (raw_line(status="200"), "raw.status must be an integer from 100 to 599"),
    (raw_line(status=200, headers=[]), "raw.headers must be an object"),
    (raw_line(status=200, headers={"X": 1}), "must be a string"),
    (raw_line(status=200, headers={"X": "a\r\nb"}), "invalid name or value"),
    (raw_line(status=200, body=5), "raw.body must be a string"),
    (raw_line(status=200, extra=1), "unexpected keys for raw: extra"),
    (json.dumps({"authy_id": 1, "raw": {"status": 200}}), "authy_id 1 already appears"),
    (json.dumps({"authy_id": 1, "fault": "500"}), "authy_id 1 already appears"),
    (json.dumps({"authy_id": 2, "fault": "404"}), "fault must be one of 500, 503_html, drop"),
    (json.dumps({"authy_id": 2, "fault": 500}), "fault must be one of"),
    (json.dumps({"authy_id": 2, "fault": ["500"]}), "fault must be one of"),
    (json.dumps({"authy_id": 2, "faults": "500"}), "faults must be a non-empty list"),
    (json.dumps({"authy_id": 2, "faults": []}), "faults must be a non-empty list"),
    (json.dumps({"authy_id": 2, "faults": ["500", "oops"]}), "faults[1] must be one of"),
    (json.dumps({"authy_id": 2, "faults": [None]}), "faults[0] must be one of"),
    (json.dumps({"authy_id": 2, "faults": [{"status": 42}]}), "faults[0].status must be"),
    (json.dumps({"authy_id": 2, "faults": [{"body": "x"}]}), "faults[0].status must be"),
    (
        json.dumps({"authy_id": 2, "faults": [{"status": 429, "extra": 1}]}),
        "unexpected keys for faults[0]: extra",
    ),
    (
        json.dumps({"authy_id": 2, "fault": "500", "faults": ["500"]}),
        "use either fault (every request) or faults (a list), not both",
    ),
    (json.dumps({"authy_id": 2, "fault": "500", "e164": "+1"}), "missing phone_number"),
    (json.dumps({"authy_id": 2, "fault": "500", "export_disabled": True}), "missing"),
    (
        json.dumps({"authy_id": 2, "fault": "500", "nickname": "x"}),
        "unexpected keys for a user entry: nickname",
    ),
    (json.dumps({**USER_LINE, "fault": "500", "nickname": "x"}), "unexpected keys"),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES)
def test_population_file_bad_line(tmp_path: Path, line: str, message: str) -> None:
    path = write_lines(tmp_path / "bad.jsonl", [json.dumps({"authy_id": 1, "exists": False}), line])

    with pytest.raises(PopulationFileError) as caught:
        load_population_file(path)

    assert str(path) in str(caught.value)
    assert "line 2" in str(caught.value)
    assert message in str(caught.value)


def test_population_file_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"authy_id": 2, "exists": false}\n{"authy_id": 3, "e164": "\xe9"}\n')

    with pytest.raises(PopulationFileError, match=r"line 2: .*utf-8"):
        load_population_file(path)


def test_population_file_with_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "saved-by-notepad.jsonl"
    lines = [json.dumps(USER_LINE), json.dumps({"authy_id": 3, "exists": False})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    entries = load_population_file(path).entries

    assert entries[2] == PhoneUser(2, "1", "1", "+1", "x")
    assert entries[3] is None


def test_population_file_byte_order_mark_later_line(tmp_path: Path) -> None:
    path = tmp_path / "joined.jsonl"
    second = "\ufeff" + json.dumps({"authy_id": 3, "exists": False})
    path.write_text(json.dumps(USER_LINE) + "\n" + second + "\n", encoding="utf-8")

    with pytest.raises(PopulationFileError, match=r"line 2: invalid JSON"):
        load_population_file(path)


def test_population_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "absent.jsonl"

    with pytest.raises(PopulationFileError, match="cannot read population file"):
        load_population_file(path)


def test_population_file_faults(tmp_path: Path) -> None:
    raw_429 = {"status": 429, "headers": {"Retry-After": "1"}, "body": "{}"}
    path = write_lines(
        tmp_path / "faults.jsonl",
        [
            json.dumps({"authy_id": 2, "fault": "drop"}),
            json.dumps({**USER_LINE, "authy_id": 3, "fault": "slow"}),
            json.dumps({"authy_id": 4, "faults": ["500", raw_429, "malformed_json"]}),
            json.dumps({"authy_id": 5, "raw": {"status": 200}, "fault": "503_html"}),
            json.dumps({"authy_id": 6, "exists": False, "faults": ["drop"]}),
            json.dumps({**USER_LINE, "authy_id": 7}),
        ],
    )

    population_file = load_population_file(path)

    assert population_file.faults == {
        2: UserFaults(always="drop"),
        3: UserFaults(always="slow"),
        4: UserFaults(
            sequence=("500", RawResponse(429, (("Retry-After", "1"),), "{}"), "malformed_json")
        ),
        5: UserFaults(always="503_html"),
        6: UserFaults(sequence=("drop",)),
    }
    entries = population_file.entries
    assert 2 not in entries
    assert 4 not in entries
    assert entries[3] == PhoneUser(3, "1", "1", "+1", "x")
    assert entries[5] == RawResponse(200, (), "")
    assert entries[6] is None
    assert entries[7] == PhoneUser(7, "1", "1", "+1", "x")


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_population_file_every_fault_kind(tmp_path: Path, kind: str) -> None:
    path = write_lines(tmp_path / "kind.jsonl", [json.dumps({"authy_id": 2, "fault": kind})])

    assert load_population_file(path).faults == {2: UserFaults(always=kind)}


def test_user_faults_always() -> None:
    faults = UserFaults(always="500")

    assert [faults.fault_for(number) for number in (1, 2, 3, 100)] == ["500"] * 4


def test_user_faults_sequence_then_none() -> None:
    raw = RawResponse(429, (), "")
    faults = UserFaults(sequence=("drop", raw))

    assert faults.fault_for(1) == "drop"
    assert faults.fault_for(2) == raw
    assert faults.fault_for(3) is None
    assert faults.fault_for(0) is None


def test_population_faults_for() -> None:
    faults = UserFaults(always="slow")
    population = Population(7, 10, 0.0, faults={3: faults, 50: faults})

    assert population.faults_for(3) == faults
    assert population.faults_for(50) == faults
    assert population.faults_for(4) is None
    assert population.lookup(3) == generate_user(7, 3, 0.0)
    assert population.lookup(50) is None
