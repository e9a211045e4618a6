"""Emulated Authy users, generated on demand from (seed, authy_id).

Each generated user starts from one of libphonenumber's example numbers (phonenumbers
9.0.43 has 1,133 for 245 regions and the seven template types below) and replaces
two to four trailing digits. A candidate is kept once it matches the national number
pattern of the example's type. After six misses the last candidate is kept anyway: it has
the example's length, so it is possible but may be invalid, as some real data is.

Nothing is generated up front, so a population of millions starts as fast as one of ten.
Generating a user takes microseconds because every regular expression and format is
prepared once per example number. Calling libphonenumber for each user measured about
0.3 ms per user (5,000 users, phonenumbers 9.0.43, a 2-core machine), mostly spent
recompiling patterns that overflow the cache of the re module.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberFormat, PhoneNumberType

# Twilio's documented example response for user 1.
DOCUMENTED_EXAMPLE_FIELDS = {
    "phone_number": "444-555-6666",
    "country_code": "1",
    "e164": "+14445556666",
    "updated_at": "2021-12-09T15:41:20Z",
}

PHONE_NUMBER_STYLES = ("dashes", "spaces", "national", "digits")
# Template types, each with the metadata fields that contain its national number pattern.
TYPE_DESCRIPTIONS = {
    PhoneNumberType.FIXED_LINE: ("fixed_line",),
    PhoneNumberType.MOBILE: ("mobile",),
    PhoneNumberType.FIXED_LINE_OR_MOBILE: ("fixed_line", "mobile"),
    PhoneNumberType.TOLL_FREE: ("toll_free",),
    PhoneNumberType.VOIP: ("voip",),
    PhoneNumberType.PERSONAL_NUMBER: ("personal_number",),
    PhoneNumberType.UAN: ("uan",),
}
VARIATION_ATTEMPTS = 6
# updated_at lies between 2015-01-01T00:00:00Z and 2024-06-30T23:59:59Z.
UPDATED_AT_FIRST = 1420070400
UPDATED_AT_LAST = 1719791999


@dataclass(frozen=True, slots=True)
class PhoneUser:
    """One user of the export endpoint. The repr leaves out the phone number fields."""

    authy_id: int
    phone_number: str = field(repr=False)
    country_code: str
    e164: str = field(repr=False)
    updated_at: str
    export_disabled: bool = False

    def export_fields(self) -> dict[str, str]:
        """Return the four fields of a 200 response, in the documented order."""
        return {
            "phone_number": self.phone_number,
            "country_code": self.country_code,
            "e164": self.e164,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A response replayed verbatim for one user, read from a population file."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: str


# Population file entry for one id: a user, a raw response, or None to delete the id.
PopulationEntry = PhoneUser | RawResponse | None

# Faults that a population file can give one user, in the order of the random fault shares.
FAULT_KINDS = ("500", "503_html", "drop", "slow", "malformed_json")
# One fault: the name of a kind in FAULT_KINDS, or a raw response sent in place of the normal one.
UserFault = str | RawResponse


@dataclass(frozen=True, slots=True)
class UserFaults:
    """Faults of one user: ``always`` for every request, or ``sequence`` for the first ones.

    Request numbers count the user's requests that pass the key check and both limits, from
    1, over the emulator's lifetime.
    """

    always: str | None = None
    sequence: tuple[UserFault, ...] = ()

    def fault_for(self, request_number: int) -> UserFault | None:
        """Return the fault of the user's request ``request_number``, or None for no fault."""
        if self.always is not None:
            return self.always
        if 1 <= request_number <= len(self.sequence):
            return self.sequence[request_number - 1]
        return None


class Population:
    """Users 1..size generated from the seed, with per-id entries that replace them.

    ``faults`` gives some ids faults of their own, whether their user is generated or replaced.
    """

    def __init__(
        self,
        seed: int,
        size: int,
        export_disabled_share: float,
        overrides: dict[int, PopulationEntry] | None = None,
        faults: dict[int, UserFaults] | None = None,
    ) -> None:
        self._seed = seed
        self._size = size
        self._export_disabled_share = export_disabled_share
        self._overrides = dict(overrides or {})
        self._faults = dict(faults or {})

    def lookup(self, authy_id: int) -> PhoneUser | RawResponse | None:
        """Return the user or raw response for ``authy_id``, or None if no such user exists."""
        if authy_id in self._overrides:
            return self._overrides[authy_id]
        if 1 <= authy_id <= self._size:
            return generate_user(self._seed, authy_id, self._export_disabled_share)
        return None

    def faults_for(self, authy_id: int) -> UserFaults | None:
        """Return the faults of ``authy_id`` from the population file, or None if it has none."""
        return self._faults.get(authy_id)


@dataclass(frozen=True, slots=True)
class NumberTemplate:
    """An example number prepared for cheap variation of its trailing digits.

    ``national`` is libphonenumber's national format of the example and
    ``international_groups`` the digit group lengths of its international format. Replacing
    trailing digits keeps the leading digits and the length that select the format, so a
    variant formats like the template with the same digits replaced.
    """

    region: str
    country_code: str
    significant: str
    national: str
    international_groups: tuple[int, ...]
    pattern: re.Pattern[str]


def generate_user(seed: int, authy_id: int, export_disabled_share: float) -> PhoneUser:
    """Generate user ``authy_id`` of the population with ``seed``, the same for the same inputs.

    User 1 is always Twilio's documented example and never has export disabled. The first
    random draw decides whether export is disabled, so changing the share never changes
    anybody's phone number.
    """
    if authy_id == 1:
        return PhoneUser(authy_id=1, **DOCUMENTED_EXAMPLE_FIELDS)

    # A string seed is hashed with SHA-512, so the sequence does not depend on PYTHONHASHSEED.
    rng = random.Random(f"authy-emulator:{seed}:{authy_id}")
    export_disabled = rng.random() < export_disabled_share
    templates = number_templates()
    template = templates[rng.randrange(len(templates))]
    significant = vary_significant_number(template, rng)
    updated = rng.randint(UPDATED_AT_FIRST, UPDATED_AT_LAST)
    return PhoneUser(
        authy_id=authy_id,
        phone_number=typed_phone_number(template, significant, rng.choice(PHONE_NUMBER_STYLES)),
        country_code=template.country_code,
        e164="+" + template.country_code + significant,
        updated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(updated)),
        export_disabled=export_disabled,
    )


@cache
def number_templates() -> tuple[NumberTemplate, ...]:
    """Return a template for every supported region and template type that has an example."""
    templates = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        metadata = PhoneMetadata.metadata_for_region(region)
        for number_type, description_names in TYPE_DESCRIPTIONS.items():
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is None or metadata is None:
                continue
            templates.append(_template(region, example, _type_pattern(metadata, description_names)))
    return tuple(templates)


def vary_significant_number(template: NumberTemplate, rng: random.Random) -> str:
    """Replace trailing digits of the template's national significant number."""
    significant = template.significant
    candidate = significant
    for _ in range(VARIATION_ATTEMPTS):
        changed = rng.randint(2, 4) if len(significant) > 4 else 1
        digits = "".join(rng.choice("0123456789") for _ in range(changed))
        candidate = significant[:-changed] + digits
        if template.pattern.fullmatch(candidate):
            return candidate
    return candidate


def typed_phone_number(template: NumberTemplate, significant: str, style: str) -> str:
    """Write a national significant number the way a person may have typed it.

    "dashes" and "spaces" join the digit groups of the international format, "national" is
    the national format (with the trunk prefix where the country has one), and "digits" is
    the bare national significant number.
    """
    if style == "digits":
        return significant
    if style == "national":
        return _replace_trailing_digits(template.national, template.significant, significant)
    groups = []
    position = 0
    for length in template.international_groups:
        groups.append(significant[position : position + length])
        position += length
    return ("-" if style == "dashes" else " ").join(groups)


def _template(
    region: str, example: phonenumbers.PhoneNumber, pattern: re.Pattern[str]
) -> NumberTemplate:
    significant = phonenumbers.national_significant_number(example)
    international = phonenumbers.format_number(example, PhoneNumberFormat.INTERNATIONAL)
    groups = re.findall(r"\d+", international)[1:]
    if "".join(groups) != significant:
        groups = [significant]
    return NumberTemplate(
        region=region,
        country_code=str(example.country_code),
        significant=significant,
        national=phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL),
        international_groups=tuple(len(group) for group in groups),
        pattern=pattern,
    )


def _type_pattern(metadata: Any, description_names: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = []
    for name in description_names:
        description = getattr(metadata, name)
        if description is not None and description.national_number_pattern:
            alternatives.append(f"(?:{description.national_number_pattern})")
    return re.compile("|".join(alternatives) or r"\d+")


def _replace_trailing_digits(formatted: str, template_significant: str, significant: str) -> str:
    """Apply to ``formatted`` the change of trailing digits from the template to ``significant``.

    Only the changed digits are replaced, so a format that rewrites leading digits (Argentine
    mobile numbers put 15 in place of the leading 9) keeps that rewrite.
    """
    unchanged = 0
    for template_digit, digit in zip(template_significant, significant):
        if template_digit != digit:
            break
        unchanged += 1
    suffix = significant[unchanged:]
    characters = list(formatted)
    remaining = len(suffix)
    for index in range(len(characters) - 1, -1, -1):
        if remaining == 0:
            break
        if characters[index].isdigit():
            remaining -= 1
            characters[index] = suffix[remaining]
    return "".join(characters)
