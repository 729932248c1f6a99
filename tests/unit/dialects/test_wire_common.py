"""What every dialect shares: status tables, time formats, body checks and push fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from vidgate.dialects.common import (
    StatusWords,
    from_millis,
    from_unix,
    millis,
    parse_time,
    push_fields,
    require_object,
    unix,
    validate_request,
    validation_error,
)
from vidgate.errors import InvalidRequest
from vidgate.models import Status, VideoRequest

WORDS = StatusWords(
    {
        Status.QUEUED: "waiting",
        Status.PROCESSING: "busy",
        Status.COMPLETED: "done",
        Status.FAILED: "broken",
        Status.CANCELLED: "stopped",
    },
    extra={"halted": Status.CANCELLED},
)


def test_status_words_go_both_ways() -> None:
    for status in Status:
        assert WORDS.canonical(WORDS.wire(status)) is status
    assert WORDS.canonical("halted") is Status.CANCELLED


@pytest.mark.parametrize("word", ["unheard-of", "", "DONE", None, 3, ["done"]])
def test_an_unknown_or_non_text_word_has_no_status(word: object) -> None:
    assert WORDS.canonical(word) is None


def test_millis_and_unix_are_epoch_counts() -> None:
    moment = datetime(2024, 6, 21, 20, 0, 0, 123_456, tzinfo=UTC)
    assert millis(moment) == 1_719_000_000_123
    assert unix(moment) == 1_719_000_000
    assert millis(None) is None and unix(None) is None
    # The same instant written in another zone counts the same.
    assert millis(moment.astimezone(timezone(timedelta(hours=-7)))) == 1_719_000_000_123


def test_millis_of_a_whole_millisecond_is_exact() -> None:
    moment = datetime(2038, 12, 30, 0, 18, 47, 55_000, tzinfo=UTC)
    # moment.timestamp() * 1000 == 2177281127054.9998, truncated to ...054.
    assert millis(moment) == 2_177_281_127_055


def test_from_millis_and_from_unix_read_numbers_as_utc() -> None:
    assert from_millis(1_719_000_000_000) == datetime(2024, 6, 21, 20, 0, tzinfo=UTC)
    assert from_millis(1_719_000_005_250.0) == datetime(2024, 6, 21, 20, 0, 5, 250_000, tzinfo=UTC)
    assert from_unix(1_719_000_000) == datetime(2024, 6, 21, 20, 0, tzinfo=UTC)
    assert from_millis(0) == datetime(1970, 1, 1, tzinfo=UTC)
    moment = from_millis(1_719_000_000_000)
    assert moment is not None and moment.tzinfo is UTC


@pytest.mark.parametrize("value", [None, "1719000000000", True, False, [1]])
def test_from_millis_and_from_unix_ignore_what_is_not_a_number(value: object) -> None:
    assert from_millis(value) is None
    assert from_unix(value) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-09-29 14:18:52.331", datetime(2025, 9, 29, 14, 18, 52, 331_000, tzinfo=UTC)),
        ("2025-09-29T14:18:52Z", datetime(2025, 9, 29, 14, 18, 52, tzinfo=UTC)),
        ("2025-09-29T22:18:52+08:00", datetime(2025, 9, 29, 14, 18, 52, tzinfo=UTC)),
        ("2025-09-29T14:18:52.123456", datetime(2025, 9, 29, 14, 18, 52, 123_456, tzinfo=UTC)),
    ],
)
def test_parse_time_reads_iso_and_dashscope_times(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is not None


@pytest.mark.parametrize("value", [None, "", "yesterday", "2025-13-01 00:00:00", 1719000000])
def test_parse_time_ignores_what_is_not_a_time(value: object) -> None:
    assert parse_time(value) is None


def test_push_fields_take_a_list_or_a_comma_separated_string() -> None:
    assert push_fields({}) == {}
    assert push_fields({"callback_url": None, "webhook_events": None}) == {}
    assert push_fields(
        {
            "callback_url": "https://hook.example/x",
            "webhook_events": " task.completed, ,task.failed",
        }
    ) == {
        "callback_url": "https://hook.example/x",
        "webhook_events": ["task.completed", "task.failed"],
    }
    assert push_fields({"webhook_events": ["task.completed"], "prompt": "p"}) == {
        "webhook_events": ["task.completed"]
    }


def test_require_object_names_what_is_not_an_object() -> None:
    assert require_object({"a": 1}) == {"a": 1}
    with pytest.raises(InvalidRequest, match=r"^The request body must be a JSON object\."):
        require_object([1, 2])
    with pytest.raises(InvalidRequest, match=r"^input must be a JSON object\."):
        require_object("text", "input")


def test_validation_errors_name_the_field_with_its_prefix() -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_request({"duration": "long"}, prefix="parameters.")
    assert caught.value.param == "parameters.duration"
    assert caught.value.message.startswith("parameters.duration: ")
    with pytest.raises(InvalidRequest) as caught:
        validate_request({"colour": "red"})
    assert caught.value.param == "colour"
    assert caught.value.message == "colour: unknown field."


def test_validation_error_of_a_model_error() -> None:
    with pytest.raises(ValidationError) as caught:
        VideoRequest.model_validate({"seed": "x"})
    error = validation_error(caught.value)
    assert isinstance(error, InvalidRequest)
    assert error.param == "seed"
    assert error.code == "invalid_request"
