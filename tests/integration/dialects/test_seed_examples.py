"""The seeds' own example code, run unchanged but for host, key and task id, against the gateway.

Each example is kept verbatim below; `adapt` swaps in the gateway's address, a key and a real
task id, and checks that every text it replaces is really there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import RunningGateway, wait_terminal

SEED_001_CURL = """\
# Replace {task_id} with the actual task ID from the submit response
curl -X GET 'https://dashscope-intl.aliyuncs.com/api/v1/tasks/{task_id}' \\
  -H "Authorization: Bearer $DASHSCOPE_API_KEY"
"""
SEED_002_CANCEL_CURL = """\
curl -X POST https://qingbo.dev/v1/tasks/{task_id}/cancel \\
  -H "Authorization: Bearer YOUR_API_KEY"
"""
SEED_003_CURL = """\
curl https://51kik.com/video/v1/tasks/a1b2c3d4-e5f6-... \\
  -H 'Authorization: Bearer sk-xxxxxxxx'
"""
SEED_004_CURL = """\
curl --request GET \\
  --url https://llm.ai-nebula.com/v1/video/generations/{task_id} \\
  --header 'Authorization: <authorization>'
"""
SEED_004_USAGE_CURL = """\
curl -X GET "https://llm.ai-nebula.com/v1/video/generations/video_69095b4ce0048190893a01510c0c98b0" \\
  -H "Authorization: Bearer sk-xxxxxxxxxx"
"""  # noqa: E501
SEED_002_SUBMIT = """\
import openai

client = openai.OpenAI(
    base_url="https://qingbo.dev/v1",
    api_key="your-api-key"
)

# Submit an async task
response = client.post("/tasks", body={
    "model": "veo3",
    "action": "generate",
    "prompt": "A cat walking on the beach",
    "duration": 5
})

task_id = response["task_id"]
print(f"Task submitted: {task_id}")
"""
SEED_002_WAIT = """\
import time

def wait_for_task(client, task_id, timeout=300):
    start = time.time()
    while time.time() - start < timeout:
        result = client.get(f"/tasks/{task_id}")
        status = result["status"]

        if status == "completed":
            return result["result"]
        elif status == "failed":
            raise Exception(f"Task failed: {result['error']['message']}")

        time.sleep(2)  # Poll every 2 seconds
    raise TimeoutError("Task timed out")
"""
SEED_004_PYTHON = '''\
import requests
import time

def poll_task_status(task_id, api_key, max_wait_time=300):
    """Poll task status until completion"""
    url = f"https://llm.ai-nebula.com/v1/video/generations/{task_id}"
    headers = {"Authorization": f"Bearer {api_key}"}
    
    start_time = time.time()
    while True:
        response = requests.get(url, headers=headers)
        data = response.json()
        status = data.get("status")
        
        print(f"Current status: {status}")
        
        if status == "succeeded":
            video_url = data.get("url")
            print(f"✅ Task completed! Video URL: {video_url}")
            return video_url
        elif status == "failed":
            error_msg = data.get("error", {}).get("message", "Unknown error")
            print(f"❌ Task failed: {error_msg}")
            return None
        
        # Check timeout
        if time.time() - start_time > max_wait_time:
            print("⏰ Timeout")
            return None
        
        # Wait 5 seconds before querying again
        time.sleep(5)
'''  # noqa: W293
SEED_004_JAVASCRIPT = """\
async function pollTaskStatus(taskId, apiKey, maxWaitTime = 300000) {
  const url = `https://llm.ai-nebula.com/v1/video/generations/${taskId}`;
  const headers = { 'Authorization': `Bearer ${apiKey}` };
  
  const startTime = Date.now();
  
  while (true) {
    const response = await fetch(url, { headers });
    const data = await response.json();
    const status = data.status;
    
    console.log(`Current status: ${status}`);
    
    if (status === 'succeeded') {
      const videoUrl = data.url;
      console.log(`✅ Task completed! Video URL: ${videoUrl}`);
      return videoUrl;
    } else if (status === 'failed') {
      const errorMsg = data.error?.message || 'Unknown error';
      console.error(`❌ Task failed: ${errorMsg}`);
      throw new Error(errorMsg);
    }
    
    // Check timeout
    if (Date.now() - startTime > maxWaitTime) {
      throw new Error('Timeout');
    }
    
    // Wait 5 seconds before querying again
    await new Promise(resolve => setTimeout(resolve, 5000));
  }
}
"""  # noqa: W293
SMALL: dict[str, Any] = {"prompt": "a kite", "duration": 2, "resolution": "480P"}
PARAMETERS: dict[str, Any] = {"duration": 2, "resolution": "480P"}


def adapt(code: str, replacements: dict[str, str]) -> str:
    """The seed's code with each placeholder replaced; every one must occur in it."""
    for old, new in replacements.items():
        assert old in code, old
        code = code.replace(old, new)
    return code


def run_curl(tmp_path: Path, script: str, **env: str) -> dict[str, Any]:
    path = tmp_path / "seed.sh"
    path.write_text(script)
    done = subprocess.run(
        ["bash", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
        check=True,
    )
    body: dict[str, Any] = json.loads(done.stdout)
    return body


def finish(run: subprocess.Popen[str]) -> str:
    """The process's stdout once it exits successfully."""
    stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == 0, stderr
    return stdout


def result_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("RESULT "))[7:]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_seeds_curl_commands(
    gateway: RunningGateway, gateway_factory: Any, api: httpx.Client, key: str, tmp_path: Path
) -> None:
    created = api.post(
        "/api/v1/services/aigc/video-generation/video-synthesis",
        json={"model": "wan2.6-t2v", "input": {"prompt": "a kite"}, "parameters": PARAMETERS},
        headers={"X-DashScope-Async": "enable"},
    )
    task_id = created.json()["output"]["task_id"]
    wait_terminal(api, task_id)

    seed_001 = adapt(
        SEED_001_CURL,
        {
            "https://dashscope-intl.aliyuncs.com": gateway.url,
            "/tasks/{task_id}'": f"/tasks/{task_id}'",
        },
    )
    output = run_curl(tmp_path, seed_001, DASHSCOPE_API_KEY=key)["output"]
    assert (output["task_id"], output["task_status"]) == (task_id, "SUCCEEDED")
    assert output["video_url"].startswith(gateway.url)

    seed_003 = adapt(
        SEED_003_CURL,
        {"https://51kik.com": gateway.url, "a1b2c3d4-e5f6-...": task_id, "sk-xxxxxxxx": key},
    )
    kik = run_curl(tmp_path, seed_003)
    assert (kik["task_id"], kik["task_status"]) == (task_id, "success")
    assert kik["data"][0]["url"].split("?")[0] == output["video_url"].split("?")[0]

    seed_004 = adapt(
        SEED_004_CURL,
        {
            "https://llm.ai-nebula.com": gateway.url,
            "{task_id}": task_id,
            "<authorization>": f"Bearer {key}",
        },
    )
    seed_004_usage = adapt(
        SEED_004_USAGE_CURL,
        {
            "https://llm.ai-nebula.com": gateway.url,
            "video_69095b4ce0048190893a01510c0c98b0": task_id,
            "sk-xxxxxxxxxx": key,
        },
    )
    for script in (seed_004, seed_004_usage):
        nebula = run_curl(tmp_path, script)
        assert (nebula["task_id"], nebula["status"], nebula["format"]) == (
            task_id,
            "succeeded",
            "mp4",
        )

    idle = gateway_factory(run_engine=False)
    idle_key = idle.make_key()
    with idle.client(idle_key) as idle_api:
        queued = idle_api.post("/v1/tasks", json=SMALL).json()["task_id"]
    seed_002 = adapt(
        SEED_002_CANCEL_CURL,
        {"https://qingbo.dev": idle.url, "{task_id}": queued, "YOUR_API_KEY": idle_key},
    )
    cancelled = run_curl(tmp_path, seed_002)
    assert (cancelled["task_id"], cancelled["status"]) == (queued, "cancelled")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_seeds_polling_loops(
    gateway: RunningGateway, api: httpx.Client, key: str, tmp_path: Path
) -> None:
    # The openai client's generic post() and get() require cast_to; the seed leaves it out.
    wave_api = tmp_path / "wave.py"
    wave_api.write_text(
        adapt(
            SEED_002_SUBMIT,
            {
                "https://qingbo.dev": gateway.url,
                "your-api-key": key,
                'client.post("/tasks", body=': 'client.post("/tasks", cast_to=dict, body=',
            },
        )
        + adapt(
            SEED_002_WAIT,
            {'client.get(f"/tasks/{task_id}")': 'client.get(f"/tasks/{task_id}", cast_to=dict)'},
        )
        + '\nimport json\nprint("RESULT", json.dumps(wait_for_task(client, task_id)))\n'
    )
    nebula_python = tmp_path / "poll.py"
    nebula_python.write_text(
        adapt(SEED_004_PYTHON, {"https://llm.ai-nebula.com": gateway.url})
        + '\nimport sys\nprint("RESULT", poll_task_status(sys.argv[1], sys.argv[2]))\n'
    )
    nebula_javascript = tmp_path / "poll.mjs"
    nebula_javascript.write_text(
        adapt(SEED_004_JAVASCRIPT, {"https://llm.ai-nebula.com": gateway.url})
        + "\nconsole.log('RESULT ' + await pollTaskStatus(process.argv[2], process.argv[3]));\n"
    )
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}

    def start(*command: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )

    runs = [start(sys.executable, str(wave_api))]
    by_kik = api.post("/video/v1/tasks", json=SMALL).json()["task_id"]
    by_openai = api.post(
        "/v1/videos",
        json={"model": "wan2.6-t2v", "prompt": "a kite", "seconds": "2", "size": "832x480"},
    ).json()["id"]
    runs.append(start(sys.executable, str(nebula_python), by_kik, key))
    runs.append(start("node", str(nebula_javascript), by_openai, key))
    try:
        outputs = [finish(run) for run in runs]
    finally:
        for run in runs:
            if run.returncode is None:
                run.kill()
                run.communicate()

    assert "Task submitted: " in outputs[0]
    result = json.loads(result_line(outputs[0]))
    assert result["duration"] == 5 and result["format"] == "mp4"
    assert httpx.get(result["video_url"]).status_code == 200
    assert "Current status: succeeded" in outputs[1]
    for output in outputs[1:]:
        assert "✅ Task completed! Video URL: " in output
        assert httpx.get(result_line(output)).headers["content-type"] == "video/mp4"
