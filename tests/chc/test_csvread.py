"""Reading messy source lists: encodings, headings, day-first dates, every reason kept."""

from __future__ import annotations

import codecs
import io
from datetime import date

import pytest

from app.chc.csvread import ListFileError, ListReader, decode, parse_list
from tests.chc.helpers import CFG, SAMPLES

TODAY = date(2026, 11, 23)
HEAD = "Record ID,NHS Number,Name,DOB,Postcode,Referral Date\n"


def parse(text: str, source: str = "OTHER") -> list[tuple[int, list[str]]]:
    parsed = parse_list(text.encode(), source, CFG.sources, today=TODAY)
    return [(r.row_number, r.problems) for r in parsed.rows]


def test_encodings_are_detected() -> None:
    assert decode("Siobhán".encode()) == ("Siobhán", "utf-8")
    assert decode(codecs.BOM_UTF8 + "Siobhán".encode()) == ("Siobhán", "utf-8-sig")
    assert decode("Siobhán".encode("cp1252")) == ("Siobhán", "cp1252")
    with pytest.raises(ListFileError, match="UTF-16"):
        decode(codecs.BOM_UTF16_LE + "x".encode("utf-16-le"))


def test_other_encodings_are_refused_not_guessed() -> None:
    sjis = "ML-1,山田太郎,鈴木\r\n".encode("shift_jis")
    assert sjis.decode("cp1252") == "ML-1,ŽR“c‘¾˜Y,—é–Ø\r\n"  # all defined in Windows-1252
    with pytest.raises(ListFileError, match="line 1 does not read as Windows-1252") as err:
        decode(sjis)
    assert err.value.extra == {"line": 1}
    assert decode(sjis, "shift_jis") == ("ML-1,山田太郎,鈴木\r\n", "shift_jis")
    western = "Zoë “Jo” O’Brien-Núñez, £5 – 2½ hrs, Škoda, Œuvre, MÜLLER, 1940–1950"
    assert decode(western.encode("cp1252")) == (western, "cp1252")
    with pytest.raises(ListFileError, match="not valid Windows-1252"):
        decode(b"ID\r\nA\x81B\r\n")


def test_the_shipped_lists_are_messy_on_purpose() -> None:
    assert (SAMPLES / "lscft.csv").read_bytes().startswith(codecs.BOM_UTF8)
    sefton = (SAMPLES / "sefton_mbc.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        sefton.decode("utf-8")
    parsed = parse_list(sefton, "SEFTON-MBC", CFG.sources, today=TODAY)
    assert parsed.encoding == "cp1252"
    assert parsed.rows[0].values["person_name"] == "Siobhán Ó Ceallaigh"
    assert parsed.columns["source_record_id"] == "Client ID"
    assert parsed.columns["interim_nhs_funded"] == "COVID Discharge Funding"


def test_missing_required_columns_refuse_the_whole_file() -> None:
    with pytest.raises(ListFileError) as err:
        parse_list(b"Name,Postcode\nA,L20 3AB\n", "OTHER", CFG.sources, today=TODAY)
    assert str(err.value) == (
        "required columns are missing: source_record_id, referral_date, "
        "nhs_number (or person_name, date_of_birth and postcode)"
    )
    with pytest.raises(ListFileError, match="no heading row"):
        parse_list(b"", "OTHER", CFG.sources, today=TODAY)


def test_rows_are_validated_with_every_reason() -> None:
    rows = parse(
        HEAD
        + "A1,9991000003,Ann Example,01/02/1940,L20 3AB,03/04/2020\n"
        + "A2,9991000004,Bob Example,31/02/1940,L20 3AB,2020-04-03\n"
        + "A3,,Cy Example,01/01/1950,,05/05/2020\n"
        + "A4,-,Di Example,01/01/2010,L20 3AB,05/05/2020\n"
        + ",9991158383,Ed Example,01/01/1950,L20 3AB,n/k\n"
    )
    assert rows == [
        (2, []),
        (
            3,
            [
                "NHS number '9991000004' is not valid (10 digits with a Modulus 11 check digit)",
                "date_of_birth '31/02/1940' is not a date (day first, e.g. 31/08/2020)",
            ],
        ),
        (
            4,
            [
                "no NHS number, and name, date of birth and postcode are not all present: the "
                "person cannot be identified",
            ],
        ),
        (
            5,
            [
                "the person was under 18 at referral: children's continuing care is a separate "
                "framework",
            ],
        ),
        (6, ["the source record id is missing", "the referral date is missing"]),
    ]


def test_dates_are_day_first_and_values_normalised() -> None:
    parsed = parse_list(
        (HEAD + "A1,999 100 0003,  Ann   Example ,1/2/1940,l20 3ab,03/04/20\n").encode(),
        "OTHER",
        CFG.sources,
        today=TODAY,
    )
    row = parsed.rows[0]
    assert row.values == {
        "source_record_id": "A1",
        "person_name": "Ann Example",
        "nhs_number": "9991000003",
        "postcode": "L20 3AB",
        "date_of_birth": "1940-02-01",
        "referral_date": "2020-04-03",
    }
    assert row.match_key == "ann example|1940-02-01|L203AB"


def test_unrecognised_values_are_warnings_not_silent() -> None:
    parsed = parse_list(
        b"ID,NHS Number,Referral Date,Setting,Fast Track,Postcode,Extra\n"
        b"A1,9991000003,01/10/2020,Moon base,maybe,XYZ,kept in raw\n\n",
        "OTHER",
        CFG.sources,
        today=TODAY,
    )
    row = parsed.rows[0]
    assert row.problems == []
    assert row.warnings == [
        "postcode 'XYZ' is not a UK postcode; not used",
        "fast_track 'maybe' is not yes or no; not used",
        "setting 'Moon base' is not recognised; not used",
    ]
    assert row.raw["Extra"] == "kept in raw"
    assert parsed.ignored_columns == ["Extra"]
    assert parsed.blank_rows == [3]


def test_reading_a_byte_at_a_time_gives_the_same_records() -> None:
    """Lines are split as the bytes arrive: a CR LF, a multi-byte character or a quoted line
    break split over two reads is still one."""
    data = (
        "Record ID,Name,Referral Date\r\n"
        'A1,Siobhán Ó Ceallaigh,01/10/2020\r\nA2,"two\r\nlines",02/10/2020\rA3,Zoë,03/10/2020\n\n'
    ).encode()

    def records(piece: int) -> list[tuple[int, list[str]]]:
        stream = io.BytesIO(data)
        reader = ListReader(lambda _n: stream.read(piece), "utf-8", declared=True)
        return list(reader)

    whole = records(1 << 20)
    assert whole == [
        (2, ["A1", "Siobhán Ó Ceallaigh", "01/10/2020"]),
        (3, ["A2", "two\r\nlines", "02/10/2020"]),
        (4, ["A3", "Zoë", "03/10/2020"]),
        (5, []),
    ]
    assert records(1) == whole
    assert records(2) == whole
