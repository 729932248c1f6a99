"""`vidgate video` and `scripts/video.py`: the Qwen Cloud client's four patterns, on any dialect."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

from vidgate.catalog import DEFAULT_MODELS
from vidgate.cli.progress import LiveProgress, PlainProgress, Progress, status_line
from vidgate.client import (
    PROVIDERS,
    APIConnectionError,
    Client,
    TaskNotCompleted,
    WaitTimeout,
    client_environ,
    resolve_target,
)
from vidgate.errors import VidgateError
from vidgate.models import Mode, Status, Task, detect_mode

__all__ = ["build_parser", "main", "suggestion"]

EXIT_OK, EXIT_ERROR, EXIT_RUNNING, EXIT_INTERRUPTED = 0, 1, 2, 130
EPILOG = """\
patterns:
  --request JSON                 submit, then poll until it ends (progress on stderr)
  --request JSON --submit-only   submit and print the task_id alone on stdout
  --task-id ID --poll-once       one status check: the full task JSON on stdout
  --task-id ID                   poll an existing task until it ends

exit codes:
  0    completed (with --submit-only: submitted)
  1    failed, cancelled, error, or timed out (the task may still be running)
  2    --poll-once: the task is still running
  130  interrupted (the task keeps running; resume with --task-id)

configuration (flags first, then the environment, then ./.env):
  VIDGATE_BASE_URL, VIDGATE_API_KEY        a vidgate gateway (long-polls: instant detection)
  DASHSCOPE_API_KEY, DASHSCOPE_BASE_URL    DashScope directly, as the original script
"""
SUGGESTIONS = {
    "datainspectionfailed": "The prompt or an input was flagged by content moderation; "
    "rephrase the prompt or use other images.",
    "ipinfringementsuspect": "Remove references to protected characters, brands or people.",
    "invalidparameter": "Check duration, resolution and size against the model "
    "(GET /v1/models on a gateway lists what each model takes).",
    "invalid_request": "Check duration, resolution and size against the model "
    "(GET /v1/models on a gateway lists what each model takes).",
    "invalid_input": "Check that every input is a readable image or video.",
    "input_unreachable": "Make each input URL publicly reachable, or pass a local file path "
    "(it is uploaded first).",
    "timeout": "The task ran past its deadline; resubmit, perhaps shorter or at a lower "
    "resolution.",
    "worker_lost": "The renderer was interrupted repeatedly; resubmit the request.",
    "cancelled": "The task was cancelled; resubmit with --request if that was not intended.",
    "upstream_unavailable": "The upstream service was unavailable; try again later.",
}
DEFAULT_SUGGESTION = "Check the request and resubmit it with --request."


def unreachable_hint(provider: str, base_url: str) -> str:
    """What to check when the server cannot be reached at all."""
    if provider == "vidgate":
        return (
            f"Nothing answers at {base_url}: start the gateway (`make serve`), "
            "or point VIDGATE_BASE_URL at it."
        )
    return f"Nothing answers at {base_url}: check the base URL and the network."


def suggestion(code: str | None) -> str:
    """A fix to try for a task that ended with this error code."""
    return SUGGESTIONS.get((code or "").lower(), DEFAULT_SUGGESTION)


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 1, so that 2 keeps meaning "still running"."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser(prog: str = "vidgate video") -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog,
        description=(
            "Generate a video: submit, poll, resume and download, as the Qwen Cloud video.py "
            "client does."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--request", metavar="JSON", help='the request, e.g. \'{"prompt":"…","duration":5}\'')
    add("--task-id", metavar="ID", help="operate on an existing task (skip submission)")
    add("--poll-interval", type=float, default=15, help="seconds between status checks (15)")
    add("--timeout", type=float, default=600, help="max total wait in seconds (600)")
    add("--submit-only", action="store_true", help="submit, print the task_id on stdout, exit")
    add("--poll-once", action="store_true", help="with --task-id: one status check, JSON out")
    add("-q", "--quiet", action="store_true", help="no progress output (errors still shown)")
    add("--output", metavar="DIR", help="save response.json and the video here")
    add("--print-response", action="store_true", help='print {"video_url", "local_path"}')
    add("--mode", choices=[m.value for m in Mode], help="override mode detection")
    add("--model", help="override request.model and the mode's default model")
    add("--base-url", help="the server (default: from the environment)")
    add("--provider", choices=PROVIDERS, help="the dialect to speak (default: from the env)")
    return parser


class Session:
    """One run of the command: its arguments, client and output streams."""

    def __init__(self, args: argparse.Namespace, client: Client, out: IO[str], err: IO[str]):
        self.args = args
        self.client = client
        self.out = out
        self.err = err
        self.task_id: str | None = args.task_id

    def say(self, message: str) -> None:
        if not self.args.quiet:
            print(message, file=self.err, flush=True)

    def fail(self, message: str) -> int:
        print(f"Error: {message}", file=self.err, flush=True)
        return EXIT_ERROR

    def word(self, task: Task) -> str:
        return self.client.dialect.word(task)

    def submit(self) -> Task:
        try:
            body = json.loads(self.args.request)
        except ValueError as exc:
            raise VidgateError(f"--request is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise VidgateError("--request must be a JSON object.")
        video = self.client.prepare(body)
        mode = Mode(self.args.mode) if self.args.mode else detect_mode(video)
        model = self.args.model or video.model or DEFAULT_MODELS[mode]
        update: dict[str, Any] = {"model": model}
        if self.args.mode:
            update["mode"] = mode
        self.say(f"Mode: {mode.value} | Model: {model}")
        task = self.client.create(video.model_copy(update=update))
        self.task_id = task.task_id
        self.say(f"Task submitted: {task.task_id}")
        return task

    def poll_once(self, task_id: str) -> int:
        body = self.client.get_json(task_id)
        task = self.client.parse_task(body)
        self.say(
            status_line(task, self.word(task), 0, percent=self.client.profile.percent_progress)
        )
        if not task.status.terminal:
            self._json(body)
            return EXIT_RUNNING
        if not (task.result is not None and self.args.print_response):
            self._json(body)
        return self.finish(task, body)

    def follow(self, task: Task) -> int:
        task_id = task.task_id
        self.say(f"Polling every {self.args.poll_interval:g}s (timeout: {self.args.timeout:g}s)...")
        progress = self._progress()
        if progress is not None:
            progress.update(task)
        try:
            done = self.client.wait(
                task,
                timeout=self.args.timeout,
                poll_interval=self.args.poll_interval,
                on_progress=progress.update if progress else None,
            )
        except TaskNotCompleted as exc:
            return self.finish(exc.task, None)
        except WaitTimeout as exc:
            word = self.word(exc.task) if exc.task is not None else "unknown"
            print(
                f"Error: Task {task_id} timed out after {self.args.timeout:g}s "
                f"({exc.polls} polls, last status: {word})\n"
                f"Task may still be running. Resume with: --task-id {task_id}",
                file=self.err,
                flush=True,
            )
            return EXIT_ERROR
        finally:
            if progress is not None:
                progress.close()
        return self.finish(done, None)

    def _progress(self) -> Progress | None:
        if self.args.quiet:
            return None
        percent = self.client.profile.percent_progress
        if self.err.isatty():
            return LiveProgress(self.err, self.word, percent=percent)
        return PlainProgress(self.err, self.word, interval=self.args.poll_interval, percent=percent)

    def finish(self, task: Task, body: Any) -> int:
        """Report a terminal task; on success save and print what the flags ask for."""
        if task.result is None and task.status is Status.COMPLETED:
            return self.fail(f"Task {task.task_id} completed without a video URL.")
        if task.result is None:
            error = task.error
            message = error.message if error else "no message"
            print(
                f"Error: Task failed ({self.word(task)}): {message}\n"
                f"Suggestion: {suggestion(error.code if error else None)}",
                file=self.err,
                flush=True,
            )
            return EXIT_ERROR
        local_path = self._save(task, body) if self.args.output else None
        self.say(f"Video URL: {task.result.video_url}")
        if self.args.print_response:
            self._json({"video_url": task.result.video_url, "local_path": local_path})
        return EXIT_OK

    def _save(self, task: Task, body: Any) -> str | None:
        folder = Path(self.args.output)
        folder.mkdir(parents=True, exist_ok=True)
        saved = folder / "response.json"
        full = body if body is not None else self.client.get_json(task.task_id)
        saved.write_text(json.dumps(full, indent=2, ensure_ascii=False) + "\n")
        self.say(f"Response saved to {saved}")
        try:
            path = self.client.download(task, folder)
        except VidgateError as exc:
            print(f"Warning: the video could not be downloaded: {exc}", file=self.err, flush=True)
            return None
        self.say(f"Video saved to {path}")
        return str(path)

    def _json(self, data: Any) -> None:
        print(json.dumps(data, indent=2, ensure_ascii=False), file=self.out, flush=True)

    def run(self) -> int:
        args = self.args
        if args.task_id:
            if args.poll_once:
                return self.poll_once(args.task_id)
            self.say(f"Resuming task: {args.task_id}")
            return self.follow(self.client.get(args.task_id))
        task = self.submit()
        if args.submit_only:
            print(task.task_id, file=self.out, flush=True)
            return EXIT_OK
        return self.follow(task)


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not args.request and not args.task_id:
        parser.error("give --request JSON to submit, or --task-id ID to resume")
    if args.request and args.task_id:
        parser.error("give either --request or --task-id, not both")
    if args.poll_once and not args.task_id:
        parser.error("--poll-once needs --task-id")
    if args.submit_only and not args.request:
        parser.error("--submit-only needs --request")
    if args.poll_interval <= 0 or args.timeout <= 0:
        parser.error("--poll-interval and --timeout must be positive")


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str = "vidgate video",
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """Run the command; returns its exit code."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    _check(parser, args)
    out, err = out or sys.stdout, err or sys.stderr
    target = resolve_target(client_environ(), provider=args.provider, base_url=args.base_url)
    if not target.api_key:
        if target.provider == "dashscope":
            hint = "set DASHSCOPE_API_KEY (or put it in ./.env)."
        else:
            hint = (
                "set VIDGATE_API_KEY (or put it in ./.env); a gateway makes one with "
                "`vidgate keys create --name me`."
            )
        print(f"Error: no API key: {hint}", file=err)
        return EXIT_ERROR
    with Client(target.base_url, target.api_key, provider=target.provider) as client:
        session = Session(args, client, out, err)
        try:
            return session.run()
        except KeyboardInterrupt:
            hint = f" Resume with: --task-id {session.task_id}" if session.task_id else ""
            print(f"\nInterrupted. The task may still be running.{hint}", file=err)
            return EXIT_INTERRUPTED
        except APIConnectionError as exc:
            return session.fail(f"{exc} {unreachable_hint(target.provider, target.base_url)}")
        except VidgateError as exc:
            return session.fail(str(exc))
