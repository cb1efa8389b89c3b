"""The README's command lines are the CLI's: every synopsis names options that exist (and every option
is in its command's synopsis, with the default it shows), every example command parses, and the
table of exit statuses is the one the code has."""

from __future__ import annotations

import ast
import re
import shlex
import signal
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: words of a synopsis that stand for a value, not a value to check against a default
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_.]*(\[.*)?$|^FILE\.|^\(")


def _code_lines(text: str) -> list[str]:
    """The lines of the fenced code blocks of ``text``, continuation lines (indented) joined on."""
    lines: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
            continue
        if inside:
            if line.startswith(" ") and lines and lines[-1].startswith("trtbench ") and line.strip().startswith("["):
                lines[-1] += " " + line.strip()
            else:
                lines.append(line)
    return lines


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def _without_comment(line: str) -> str:
    return line.split("  #", 1)[0].strip()


def _command(name: str) -> click.Command:
    from trtbench.cli import main

    return main.get_command(None, name)


def _flags(command: click.Command) -> dict[str, click.Option]:
    return {flag: param for param in command.params if isinstance(param, click.Option)
            for flag in (*param.opts, *param.secondary_opts)}


def _backend_flags() -> set[str]:
    """The flags the backends declare (shown as BACKEND OPTIONS): not --backend, --calib, --progress."""
    from trtbench.cli.options import backend_options

    declared = backend_options(click.command()(lambda **kw: None))
    shared = {"--backend", "--calib", "--progress"}
    flags = {flag for param in declared.params for flag in (*param.opts, *param.secondary_opts)} - shared
    assert "--threads" in flags
    return flags


SYNOPSES = [_without_comment(line) for line in _code_lines(_section("The command line"))
            if line.startswith("trtbench ")]
OTHER_SYNOPSES = [_without_comment(line) for line in _code_lines(README)
                  if line.startswith("trtbench ") and ("[" in line or "..." in line)]
EXAMPLES = [_without_comment(line.removeprefix("$ ")) for line in _code_lines(README)
            if line.startswith("$ trtbench ") or (line.startswith("trtbench ") and "[" not in line
                                                  and "..." not in line)]


def test_the_readme_shows_every_command_and_the_examples_it_is_checked_by():
    from trtbench.cli import main

    assert {line.split()[1] for line in SYNOPSES} == set(main.list_commands(None))
    assert len(EXAMPLES) >= 8 and len(OTHER_SYNOPSES) > len(SYNOPSES)


@pytest.mark.parametrize("line", OTHER_SYNOPSES, ids=lambda line: line[:60])
def test_each_option_a_synopsis_names_exists(line):
    command = _command(line.split()[1])
    flags = _flags(command)
    for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", line):
        assert flag in flags, f"{flag} is not an option of `trtbench {line.split()[1]}`"
    if "BACKEND OPTIONS" in line:
        assert _backend_flags() <= set(flags)


@pytest.mark.parametrize("name", sorted({line.split()[1] for line in SYNOPSES}))
def test_each_option_is_in_its_commands_synopsis_with_its_default(name):
    lines = [line for line in SYNOPSES if line.split()[1] == name]
    shown = " ".join(lines)
    command = _command(name)
    backend = _backend_flags() if "BACKEND OPTIONS" in shown else set()
    for param in command.params:
        if not isinstance(param, click.Option) or "--help" in param.opts:
            continue
        if set(param.opts) & backend:
            continue
        assert any(re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", shown) for flag in param.opts), \
            f"`trtbench {name}` has {param.opts[0]}, its synopsis does not show it"
    for flag, value in re.findall(r"\[(--[a-z][a-z0-9-]*)(?:\|--[a-z-]+)? ([^\]\s|]+)", shown):
        param = _flags(command)[flag]
        default = param.default
        # (click 8.3 and later mark an option without a default with a sentinel of its own)
        if PLACEHOLDER.match(value) or default in (None, False, getattr(click.core, "UNSET", None)) or param.is_flag:
            continue
        if isinstance(default, (list, tuple)):
            default = ",".join(map(str, default))
        if isinstance(default, float) and default.is_integer():
            default = int(default)
        assert str(default) == value, f"`trtbench {name} {flag}`: the README shows {value}, the default is {default}"


@pytest.mark.parametrize("line", EXAMPLES, ids=lambda line: line[:60])
def test_each_command_the_readme_shows_parses(line):
    """Parsed as the CLI parses it (option names, values, model and backend names), without running it."""
    words = []
    for word in shlex.split(line)[1:]:
        if word in ("|", ">", "2>", ";", "&&") or word.startswith((">", "2>")):
            break
        words.append(word)
    command = _command(words[0])
    with command.make_context(f"trtbench {words[0]}", words[1:]) as ctx:
        assert ctx.params is not None


# --- one table of exit statuses, the code's own --------------------------------------------------


def _codes_in_the_code() -> dict[int, str]:
    """Every exit status trtbench can end with, and where it comes from."""
    import trtbench.cli
    from trtbench.cli.app import OutputLost
    from trtbench.errors import MissingDependency, TrtbenchError
    from trtbench.measure.devicelock import DeviceBusy

    codes = {0: "success", TrtbenchError.exit_code: "TrtbenchError", MissingDependency.exit_code: "MissingDependency",
             DeviceBusy.exit_code: "DeviceBusy", click.UsageError.exit_code: "click.UsageError",
             128 + signal.SIGINT: "Ctrl-C", 128 + signal.SIGTERM: "SIGTERM",
             OutputLost.READER_LEFT: "a closed pipe"}
    # the codes commands give `app.abort`, as numbers or as module constants
    for path in Path(trtbench.cli.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {target.id: node.value.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                     and isinstance(node.value, ast.Constant) and isinstance(node.value.value, int)
                     for target in node.targets if isinstance(target, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "abort":
                given = [keyword.value for keyword in node.keywords if keyword.arg == "code"] + node.args[1:2]
                for value in given:
                    code = value.value if isinstance(value, ast.Constant) else constants.get(getattr(value, "id", ""))
                    assert isinstance(code, int), f"{path.name}: an exit status that is not a number"
                    codes.setdefault(code, f"{path.name}")
    return codes


def _codes_in_the_readme() -> dict[int, str]:
    section = _section("What happens when")
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section, flags=re.MULTILINE)
    assert rows, "the README has no table of exit statuses"
    return {int(code): meaning for code, meaning in rows}


def test_the_readmes_exit_statuses_are_the_codes_and_only_those():
    from trtbench.cli.app import OutputLost

    readme, code = _codes_in_the_readme(), _codes_in_the_code()
    assert sorted(readme) == sorted(code), (readme, code)
    assert OutputLost.exit_code == 1  # a full disk is an error; only a reader that left is quiet
    assert "Ctrl-C" in readme[130] and "SIGTERM" in readme[143] and "--no-wait" in readme[6]
    assert "--precision fp8" in readme[2] and "regressed" in readme[1]
