"""Every CLI command against hostile input: a one-line error or clean output, never a traceback.

The commands are enumerated from the Typer app, so a command added later is swept too. The
store is seeded with text an attacker controls (Rich markup, terminal escape and title
sequences, bidi overrides) in run ids, actor ids, teams, payloads, the actor directory and a
policy; each command then runs with each of its parameters in turn set to hostile values
(markup, escapes, huge text, undecodable text, extreme timestamps, absurd numbers, and
files that are missing, directories, latin-1, UTF-16, NUL-laden, deeply nested or huge).
A run fails on any exception other than a clean exit, on a traceback in the output, and on
any terminal control character that reaches the output.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer.main
import typer.testing
from typer.testing import CliRunner

from raidt.cli.main import app
from raidt.services.demo_data import DemoGenerator

#: markup that crashes Rich ([/]) or makes a live link, a screen clear, a window-title
#: change (OSC), a bidi override and an emoji code
H = "[/][link=http://evil.example/]click[/link]\x1b[2J\x1b]0;owned\x07\u202e:smile:[bold]"
RID = "run-[/]\x1b[31m"
ACTOR = "u-[/]\x1b]0;t\x07"
REVIEWER = "u-[link=x]"
NORMAL = "run-000001"  # a complete run from the demo generator

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

STRINGS = [H, "9" * 5000, "\udcff\udcfe-bad-utf8"]
TIMES = [
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "2026-01-01T00:00:00+99:00",
    "2026-13-45",
]
INTS = ["99999999999999999999999999", "-99999999999999999999", "-1", "0"]
FLOATS = ["1e309", "nan", "-inf", "-1", "99999999999999999999999999"]

#: flags set in every invocation: they keep a command from running until it is stopped
ALWAYS_ON = {"once"}

#: a value for a required parameter that gets the command past its own checks
BASE: dict[str, str] = {
    "run_id": RID,
    "actor": ACTOR,
    "reviewer": REVIEWER,
    "owner": ACTOR,
    "use_case": "meeting-notes",
    "risk_level": "low",
    "disposition": "accepted",
    "result": "met",
    "role": "approver",
    "policy_id": "hostile",
    "template_id": "meeting-notes-summary",
    "rubric_id": "raidt-default",
    "runs_count": "2",
    "seed": "7",
    "workers": "1",
    "limit": "5",
    "since": "2026-01-01",
    "until": "2027-01-01",
}


def _events() -> list[dict[str, Any]]:
    at = "2026-03-02T00:00:00.5Z"
    return [
        {
            "run_id": RID,
            "type": "run.started",
            "at": at,
            "actor": {"id": ACTOR, "role": "initiator"},
            "payload": {"use_case": "meeting-notes", "team": H, "risk_level": "low", "purpose": H},
        },
        {
            "run_id": RID,
            "type": "model.invoked",
            "at": at,
            "actor": {"id": ACTOR, "role": "initiator"},
            "payload": {"provider": H, "model": H, "parameters": {H: H}},
        },
        {
            "run_id": RID,
            "type": "model.responded",
            "at": at,
            "actor": {"id": ACTOR, "role": "initiator"},
            "payload": {"output": H + "\r\x1b[1A"},
        },
        {
            "run_id": RID,
            "type": "review.assigned",
            "at": at,
            "actor": {"id": ACTOR, "role": "admin"},
            "payload": {"reviewer": {"id": REVIEWER, "role": "reviewer"}},
        },
    ]


def _files(root: Path) -> list[Path]:
    root.mkdir()
    out = {
        "latin1.yaml": "id: caf\xe9\nteam: \xe9\n".encode("latin-1"),
        "utf16.jsonl": '{"run_id": "x"}\n'.encode("utf-16"),
        "nul.yaml": b"id: a\x00b\n",
        "deep.jsonl": b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"\n",
        "deep-list.yaml": b"[" * 2000 + b"]" * 2000 + b"\n",
        "huge.yaml": b"a" * 300_000 + b"\n",
        "dupkeys.jsonl": b'{"run_id": "r", "run_id": "s"}\n',
        f"{H}.jsonl": orjson.dumps(_events()[0]) + b"\n",
    }
    paths = []
    for name, data in out.items():
        p = root / name.replace("/", "_")
        p.write_bytes(data)
        paths.append(p)
    (root / "a-directory").mkdir()
    return [*paths, *_outputs(root)]


def _outputs(root: Path) -> list[Path]:
    """Paths to write to that cannot be written, or carry markup and escapes in the name."""
    return [root / "a-directory", root / "missing-[/]\x1b[2J", root / "no-dir" / "x.zip"]


def _commands() -> Iterator[tuple[list[str], Any]]:
    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        subcommands = getattr(cmd, "commands", None)
        if subcommands is None:
            yield path, cmd
            return
        for name in sorted(subcommands):
            yield from walk(subcommands[name], [*path, name])

    yield from walk(typer.main.get_command(app), [])


def _kind(param: Any) -> str:
    ann = param.type_descriptor.annotation
    if ann is bool:
        return "flag"
    if ann is int:
        return "int"
    if ann is float:
        return "float"
    if ann is Path:
        return "path"
    return "str"


def _hostile(param: Any, files: list[Path]) -> list[str]:
    kind = _kind(param)
    if kind == "int":
        return INTS
    if kind == "float":
        return FLOATS
    if kind == "path":
        writes = param.name in ("out", "pdf", "html", "export")
        if param.name == "pdf":  # a PDF takes seconds to render: only the paths refused first
            return [str(files[-3]), str(files[-1])]
        return [str(p) for p in (files[-3:] if writes else files)]
    if kind == "str" and (param.name in ("since", "until") or param.name.endswith("_at")):
        return [*TIMES, *STRINGS]
    return STRINGS


def _argv(
    path: list[str], params: list[Any], override: dict[str, str], files: list[Path]
) -> list[str]:
    args: list[str] = [*path]
    for p in params:
        value = override.get(p.name)
        if value is None and p.required:
            value = BASE.get(p.name) or (str(files[-3]) if _kind(p) == "path" else H)
        if value is None and p.name in BASE and _kind(p) == "int":
            value = BASE[p.name]
        if value is None and p.name in ALWAYS_ON:
            value = "on"
        if value is None:
            continue
        if p.opts[0].startswith("-"):
            if _kind(p) == "flag":
                args.append(p.opts[0])
            else:
                args += [p.opts[0], value]
        else:
            args.append(value)
    return args


def _invocations(files: list[Path], only: str | None = None) -> Iterator[list[str]]:
    for path, cmd in _commands():
        if only is not None and " ".join(path) != only:
            continue
        params = list(cmd.params)
        names = {p.name for p in params}
        yield _argv(path, params, {}, files)
        flags = {p.name: "on" for p in params if _kind(p) == "flag"}
        if flags:
            yield _argv(path, params, flags, files)
        for p in params:
            if _kind(p) == "flag":
                continue
            # a file parameter goes with a complete, ordinary run, so the command gets as
            # far as reading or writing the file
            run = {"run_id": NORMAL} if _kind(p) == "path" and "run_id" in names else {}
            for value in _hostile(p, files):
                yield _argv(path, params, {**run, p.name: value}, files)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Path]]:
    """One hostile store for the module (seeding it takes seconds), and the hostile files."""
    root = tmp_path_factory.mktemp("hostile")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAIDT_HOME", str(root / "home"))
        mp.setenv("RAIDT_DEMO_HOME", str(root / "demo"))
        mp.delenv("RAIDT_DATABASE_URL", raising=False)
        mp.delenv("COLUMNS", raising=False)  # pytest-xdist workers have COLUMNS=80
        _seed(root)
        yield _files(root / "files")


@pytest.fixture
def hostile_home(seeded: list[Path]) -> Path:
    return Path(os.environ["RAIDT_HOME"])


def _seed(tmp_path: Path) -> None:
    """Initialise the store named by RAIDT_HOME and fill it with hostile text."""
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    events = tmp_path / "hostile.jsonl"
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in _events()))
    result = runner.invoke(app, ["import", str(events)])
    assert result.exit_code == 0, result.output
    normal = tmp_path / "normal.jsonl"
    normal.write_bytes(
        b"".join(
            orjson.dumps(e.model_dump(mode="json", exclude_none=True)) + b"\n"
            for run in DemoGenerator(seed=5).runs(2)
            for e in run
        )
    )
    result = runner.invoke(app, ["import", str(normal)])
    assert result.exit_code == 0, result.output
    actors = tmp_path / "actors.yaml"
    actors.write_text(
        "actors:\n"
        f"  - id: {orjson.dumps(ACTOR).decode()}\n    kind: person\n    roles: [initiator]\n"
        f"    team: {orjson.dumps(H).decode()}\n"
        f"  - id: {orjson.dumps(REVIEWER).decode()}\n    kind: person\n    roles: [reviewer]\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["actors", "import", str(actors)])
    assert result.exit_code == 0, result.output
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "id: hostile\nversion: '1'\nsector: public\n"
        f"title: {orjson.dumps(H).decode()}\ndescription: {orjson.dumps(H).decode()}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["policy", "add", str(policy)])
    assert result.exit_code == 0, result.output


def test_seeded_store_shows_hostile_text_as_data(hostile_home: Path) -> None:
    runner = CliRunner()
    for argv in (["runs"], ["show", RID], ["actors", "list"], ["review", "queue"]):
        result = runner.invoke(app, argv)
        assert result.exit_code == 0, (argv, result.output)
        assert "[/]" in result.output, argv  # shown literally, not swallowed as markup
        assert "\\x1b" in result.output, argv  # the escape is visible, not sent
        assert not _CONTROL.search(result.output), argv
    shown = runner.invoke(app, ["show", RID]).output
    assert "[link=http://evil.example/]" in shown  # a link is text, not a live link


#: commands that run until they are stopped: a sweep invocation with valid defaults would
#: serve forever (the server's own inputs are fuzzed in tests/api and tests/capture)
LONG_RUNNING = {"serve"}
COMMANDS = [" ".join(path) for path, _ in _commands() if " ".join(path) not in LONG_RUNNING]


def test_the_sweep_enumerates_every_command() -> None:
    assert {"runs", "show", "review queue", "pack verify", "record", "actors list"} <= set(COMMANDS)
    assert len(COMMANDS) + len(LONG_RUNNING) >= 40


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_survives_hostile_input(
    command: str, seeded: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = seeded
    runner = CliRunner()
    # Typer rebuilds the Click command on every invoke (half a second here); build it once.
    click_command = typer.main.get_command(app)
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: click_command)
    problems: list[str] = []
    count = 0
    for argv in _invocations(files, command):
        count += 1
        result = runner.invoke(app, argv, input="")
        out = result.output
        what = f"{argv!r} -> exit {result.exit_code}"
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            problems.append(f"{what}: {type(result.exception).__name__}: {result.exception}")
        elif "Traceback" in out:
            problems.append(f"{what}: traceback in output")
        elif _CONTROL.search(out):
            found = _CONTROL.search(out)
            assert found is not None
            problems.append(f"{what}: control character {found.group()!r} reached the output")
    assert count >= 1
    assert not problems, f"{len(problems)} of {count} invocations failed:\n" + "\n".join(
        p[:600] for p in problems
    )


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (MemoryError(), "error: out of memory; nothing more was written"),
        (RuntimeError("boom\x1b[2J\nsecond line"), "error: unexpected RuntimeError: boom\\x1b[2J"),
    ],
)
def test_entry_point_turns_the_unexpected_into_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    exc: BaseException,
    line: str,
) -> None:
    import raidt.cli.main as cli_main

    def explode() -> None:
        raise exc

    monkeypatch.delenv("RAIDT_DEBUG", raising=False)
    monkeypatch.setattr(cli_main, "app", explode)
    with pytest.raises(SystemExit) as info:
        cli_main.main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1 and "Traceback" not in err
