"""LiteLLM's video calls (`video_generation`, `video_status`, `video_content`, `video_remix`,
`video_list`) against a gateway, through its OpenAI provider pointed at the gateway's base URL."""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import pytest

from conftest import RunningGateway

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of the price list

# LiteLLM's own models raise pydantic and deprecation warnings that the suite makes errors.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
SMALL = {"model": "wan2.6-t2v", "seconds": "4", "size": "832x480"}


@pytest.fixture
def litellm() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import litellm as module
    return module


def test_litellm_creates_polls_downloads_remixes_and_lists(
    litellm: Any, gateway: RunningGateway, key: str
) -> None:
    openai_at_gateway = {
        "api_base": f"{gateway.url}/v1",
        "api_key": key,
        "custom_llm_provider": "openai",
    }
    created = litellm.video_generation(prompt="a kite", **SMALL, **openai_at_gateway)
    assert created.status == "queued"
    deadline = time.monotonic() + 90
    status = created
    while status.status not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        status = litellm.video_status(video_id=created.id, **openai_at_gateway)
    assert status.status == "completed"

    content = litellm.video_content(video_id=created.id, **openai_at_gateway)
    assert content[4:8] == b"ftyp", "the content is not an MP4"

    remix = litellm.video_remix(video_id=created.id, prompt="a kite at night", **openai_at_gateway)
    source_id = litellm.decode_video_id_with_provider(created.id)["video_id"]
    assert remix.remixed_from_video_id == source_id
    remixed = remix
    while remixed.status not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        remixed = litellm.video_status(video_id=remix.id, **openai_at_gateway)
    assert remixed.status == "completed"

    listed = litellm.video_list(**openai_at_gateway)
    ids = {
        litellm.decode_video_id_with_provider(video["id"])["video_id"] for video in listed["data"]
    }
    assert {source_id, litellm.decode_video_id_with_provider(remix.id)["video_id"]} <= ids
