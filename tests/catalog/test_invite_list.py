"""Pasted and uploaded invite lists: every entry is valid once, invalid with a reason, or a
counted duplicate."""

import pytest

from catalog.invite_list import (
    MAX_ENTRIES,
    NO_EMAIL,
    Invitee,
    InviteList,
    Rejected,
    TooManyEntries,
    parse_csv,
    parse_text,
)


def pairs(result: InviteList) -> list[tuple[str, str | None]]:
    return [(person.email, person.name) for person in result.valid]


# --- entry forms -------------------------------------------------------------------------


def test_bare_address():
    result = parse_text("ada@example.com")
    assert result.valid == [Invitee("ada@example.com", None, "ada@example.com")]
    assert result.invalid == []
    assert result.duplicates == 0
    assert result.total == 1


def test_name_and_angle_brackets():
    assert pairs(parse_text("Ada Lovelace <ada@example.com>")) == [
        ("ada@example.com", "Ada Lovelace")
    ]


def test_quoted_name_with_comma_stays_one_person():
    result = parse_text('"Lovelace, Ada" <ada@example.com>')
    assert pairs(result) == [("ada@example.com", "Lovelace, Ada")]
    assert result.invalid == []
    assert result.total == 1


def test_quoted_name_with_comma_among_others():
    result = parse_text('"Lovelace, Ada" <ada@example.com>, bob@example.com; "Doe; J" <j@x.org>')
    assert pairs(result) == [
        ("ada@example.com", "Lovelace, Ada"),
        ("bob@example.com", None),
        ("j@x.org", "Doe; J"),
    ]
    assert result.total == 3


def test_address_then_name():
    assert pairs(parse_text("ada@example.com Ada Lovelace")) == [
        ("ada@example.com", "Ada Lovelace")
    ]


def test_name_then_address_without_brackets():
    assert pairs(parse_text("Ada Lovelace ada@example.com")) == [
        ("ada@example.com", "Ada Lovelace")
    ]


def test_domain_is_normalized_and_key_is_identity():
    [person] = parse_text("Jane.Doe+vip@GMAIL.com").valid
    assert person.email == "Jane.Doe+vip@gmail.com"
    assert person.key == "janedoe@gmail.com"


# --- separators --------------------------------------------------------------------------


def test_comma_semicolon_newline_and_blank_lines():
    text = "a@example.com, b@example.com; c@example.com\n\n   \nd@example.com\r\ne@example.com,,"
    result = parse_text(text)
    assert [p.email for p in result.valid] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "d@example.com",
        "e@example.com",
    ]
    assert result.invalid == []
    assert result.total == 5


def test_space_separated_addresses_are_separate_entries():
    result = parse_text("a@example.com b@example.com Bob")
    assert pairs(result) == [("a@example.com", None), ("b@example.com", "Bob")]


def test_empty_text():
    result = parse_text("  \n\n")
    assert result == InviteList([], [], 0)
    assert result.total == 0


# --- duplicates --------------------------------------------------------------------------


def test_duplicates_by_case_keep_first_spelling():
    result = parse_text("Ada@Example.com\nada@EXAMPLE.COM\nADA@example.com")
    assert [p.email for p in result.valid] == ["Ada@example.com"]
    assert result.duplicates == 2
    assert result.total == 3


def test_duplicates_by_gmail_dots_plus_tags_and_googlemail():
    result = parse_text(
        "jane.doe@gmail.com, janedoe+events@gmail.com, Jane.Doe@googlemail.com, jd@gmail.com"
    )
    assert [p.email for p in result.valid] == ["jane.doe@gmail.com", "jd@gmail.com"]
    assert result.duplicates == 2


def test_plus_tag_folds_on_any_domain_but_dots_only_on_gmail():
    result = parse_text("ada+x@example.com, ada@example.com, a.da@example.com")
    assert [p.email for p in result.valid] == ["ada+x@example.com", "a.da@example.com"]
    assert result.duplicates == 1


def test_duplicate_fills_in_missing_name_but_never_overrides():
    result = parse_text("ada@example.com\nAda <ADA@example.com>\nAugusta <ada@example.com>")
    assert pairs(result) == [("ada@example.com", "Ada")]
    assert result.duplicates == 2


# --- invalid -----------------------------------------------------------------------------


def test_invalid_entries_listed_with_reasons():
    result = parse_text("Ada Lovelace\nfoo@@example.com\nBob <bob@localhost>\nok@example.com")
    assert pairs(result) == [("ok@example.com", None)]
    assert [r.raw for r in result.invalid] == [
        "Ada Lovelace",
        "foo@@example.com",
        "Bob <bob@localhost>",
    ]
    assert result.invalid[0] == Rejected("Ada Lovelace", NO_EMAIL)
    assert "not a valid email address" in result.invalid[1].reason
    assert "foo@@example.com" in result.invalid[1].reason
    assert "bob@localhost" in result.invalid[2].reason
    assert result.total == 4


def test_rejected_raw_is_clipped():
    [rejected] = parse_text("x" * 500).invalid
    assert len(rejected.raw) <= 200
    assert rejected.reason == NO_EMAIL


def test_total_adds_up_to_entries_read():
    text = "a@example.com, A@example.com, nope, b@example.com\nbad@@x.com; b@example.com"
    result = parse_text(text)
    assert len(result.valid) == 2
    assert len(result.invalid) == 2
    assert result.duplicates == 2
    assert result.total == 6


def test_500_addresses_20_invalid_30_duplicates():
    lines = [f"person{i}@example.com" for i in range(450)]
    lines += [f"broken{i}@@example.com" for i in range(10)]
    lines += [f"no address {i}" for i in range(10)]
    lines += [f"PERSON{i}@example.com" for i in range(30)]
    result = parse_text("\n".join(lines))
    assert len(result.valid) == 450
    assert len(result.invalid) == 20
    assert result.duplicates == 30
    assert result.total == 500
    assert result.valid[0].email == "person0@example.com"


def test_too_many_entries_text():
    ok = parse_text(", ".join(f"p{i}@example.com" for i in range(MAX_ENTRIES)))
    assert ok.total == MAX_ENTRIES
    with pytest.raises(TooManyEntries, match=str(MAX_ENTRIES)):
        parse_text(", ".join(f"p{i}@example.com" for i in range(MAX_ENTRIES + 1)))


def test_too_many_entries_is_a_value_error():
    assert issubclass(TooManyEntries, ValueError)


# --- CSV ---------------------------------------------------------------------------------


def test_csv_with_email_and_name_header():
    data = "Name,Email Address,Company\nAda Lovelace,ada@example.com,Engines\nBob,bob@x.org,\n"
    result = parse_csv(data)
    assert pairs(result) == [("ada@example.com", "Ada Lovelace"), ("bob@x.org", "Bob")]
    assert result.total == 2


def test_csv_header_variants_case_and_hyphen():
    result = parse_csv("FULL NAME,E-Mail\nAda,ada@example.com\n")
    assert pairs(result) == [("ada@example.com", "Ada")]


def test_csv_with_first_and_last_name():
    data = (
        "first_name,last_name,email\nAda,Lovelace,ada@example.com\n,Hopper,grace@x.org\n,,c@x.org\n"
    )
    assert pairs(parse_csv(data)) == [
        ("ada@example.com", "Ada Lovelace"),
        ("grace@x.org", "Hopper"),
        ("c@x.org", None),
    ]


def test_csv_header_row_without_email_rejected_with_row():
    result = parse_csv("name,email\nAda,\nBob,bob@x.org\n")
    assert pairs(result) == [("bob@x.org", "Bob")]
    assert result.invalid == [Rejected("Ada, ", NO_EMAIL)]
    assert result.total == 2


def test_csv_without_header():
    data = "Ada Lovelace,ada@example.com\nbob@x.org,Bob,Builder\ncarol@x.org\n"
    assert pairs(parse_csv(data)) == [
        ("ada@example.com", "Ada Lovelace"),
        ("bob@x.org", "Bob"),
        ("carol@x.org", None),
    ]


def test_csv_without_header_row_without_email_rejected():
    result = parse_csv("ada@example.com,Ada\nJust,A,Name\n")
    assert pairs(result) == [("ada@example.com", "Ada")]
    assert result.invalid == [Rejected("Just, A, Name", NO_EMAIL)]
    assert result.total == 2


def test_csv_semicolon_delimited():
    data = 'Name;Email\n"Lovelace, Ada";ada@example.com\nBob;bob@x.org\n'
    result = parse_csv(data)
    assert pairs(result) == [("ada@example.com", "Lovelace, Ada"), ("bob@x.org", "Bob")]


def test_csv_tab_delimited_without_header():
    result = parse_csv("Ada\tada@example.com\nBob\tbob@x.org\n")
    assert pairs(result) == [("ada@example.com", "Ada"), ("bob@x.org", "Bob")]


def test_csv_bom_bytes():
    data = "\ufeffemail,name\nada@example.com,Ada\n".encode()
    assert pairs(parse_csv(data)) == [("ada@example.com", "Ada")]


def test_csv_bom_in_str():
    assert pairs(parse_csv("\ufeffEmail\nada@example.com\n")) == [("ada@example.com", None)]


def test_csv_utf8_bytes_keep_accents():
    data = "email,name\nzoe@example.com,Zoë Ångström\n".encode()
    assert pairs(parse_csv(data)) == [("zoe@example.com", "Zoë Ångström")]


def test_csv_latin1_bytes():
    data = "email;name\nrene@example.fr;René Müller\n".encode("latin-1")
    assert pairs(parse_csv(data)) == [("rene@example.fr", "René Müller")]


def test_csv_invalid_address_rejected_with_reason_and_duplicates_counted():
    data = "email,name\nada@example.com,Ada\nnot-an-email,X\nADA@example.com,Augusta\n"
    result = parse_csv(data)
    assert pairs(result) == [("ada@example.com", "Ada")]
    assert len(result.invalid) == 1
    assert result.invalid[0].raw == "not-an-email, X"
    assert "not-an-email" in result.invalid[0].reason
    assert result.duplicates == 1
    assert result.total == 3


def test_csv_cell_with_name_and_angle_brackets():
    assert pairs(parse_csv("Ada <ada@example.com>\n")) == [("ada@example.com", "Ada")]


def test_csv_blank_rows_and_empty_input():
    assert parse_csv(b"").total == 0
    result = parse_csv("email\n\nada@example.com\n,\n")
    assert pairs(result) == [("ada@example.com", None)]
    assert result.total == 1


def test_csv_too_many_entries():
    header = "email\n"
    ok = parse_csv(header + "\n".join(f"p{i}@example.com" for i in range(MAX_ENTRIES)))
    assert ok.total == MAX_ENTRIES
    with pytest.raises(TooManyEntries, match="5000"):
        parse_csv(header + "\n".join(f"p{i}@example.com" for i in range(MAX_ENTRIES + 1)))


def test_csv_500_rows_20_invalid_30_duplicates():
    rows = [f"person{i}@example.com,Person {i}" for i in range(450)]
    rows += [f"broken{i}@@example.com,B" for i in range(10)]
    rows += [f"Nobody {i},here" for i in range(10)]
    rows += [f"person{i}+dup@example.com,Dup" for i in range(30)]
    result = parse_csv("\n".join(rows).encode())
    assert (len(result.valid), len(result.invalid), result.duplicates) == (450, 20, 30)
    assert result.total == 500
    assert result.valid[5] == Invitee("person5@example.com", "Person 5", "person5@example.com")
