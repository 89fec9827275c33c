"""Programs that carry commands and paths instead of destroying anything themselves: shells and
`eval`, wrappers such as `sudo` and `env`, `xargs`, `cd`, and the ones whose output a pipe or
`$( … )` passes on (`echo`, `cat`, `pwd`, `dirname`, `mktemp`). Also the argument parser every
handler shares.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from memvault.safety.guard import State, Stream, Walker
from memvault.safety.protected import escape, has_glob, unescape

Options = list[tuple[str, str | None]]


def parse_args(args: list[str], takes_value: Iterable[str] = ()) -> tuple[Options, list[str]]:
    """GNU-style options (`-rf`, `--force`, `-t DIR`, `--target=DIR`, anywhere before `--`) and
    operands (kept as patterns)."""
    valued = frozenset(takes_value)
    options: Options = []
    operands: list[str] = []
    i = 0
    while i < len(args):
        arg = unescape(args[i])
        i += 1
        if arg == "--":
            operands.extend(args[i:])
            break
        if arg.startswith("--"):
            key, sep, value = arg.partition("=")
            if sep:
                options.append((key, value))
            elif key in valued and i < len(args):
                options.append((key, args[i]))
                i += 1
            else:
                options.append((key, None))
        elif arg.startswith("-") and len(arg) > 1:
            for j, letter in enumerate(arg[1:]):
                flag = "-" + letter
                if flag in valued:
                    value = arg[j + 2 :]
                    if not value and i < len(args):
                        value = args[i]
                        i += 1
                    options.append((flag, value))
                    break
                options.append((flag, None))
        else:
            operands.append(args[i - 1])
    return options, operands


def has_option(options: Options, *names: str) -> bool:
    return any(key in names for key, _ in options)


def option_value(options: Options, *names: str) -> str | None:
    for key, value in reversed(options):
        if key in names:
            return value
    return None


def echo(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> Stream:
    words = args
    while words and unescape(words[0]) in ("-n", "-e", "-E", "-ne", "-en"):
        words = words[1:]
    return Stream(paths=list(words), text=" ".join(unescape(w) for w in words) + "\n")


def cat(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> Stream:
    _, operands = parse_args(args)
    if not operands and stdin is not None:
        return stdin
    return Stream(paths=operands, unknown=True)


def pwd(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> Stream:
    return Stream(paths=[escape(state.cwd)] if state.cwd else [], text=(state.cwd or "") + "\n")


def dirname(
    walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None
) -> Stream:
    _, operands = parse_args(args)
    parents = [escape(os.path.dirname(unescape(p).rstrip("/")) or ".") for p in operands]
    return Stream(paths=parents, text=" ".join(unescape(p) for p in parents) + "\n")


def mktemp(
    walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None
) -> Stream:
    # A new, empty path: never the store. (Kept apart from unknown output so that
    # `cd "$(mktemp -d)" && rm -rf x` stays allowed.)
    temp = walker.environ.get("TMPDIR") or "/tmp"  # noqa: S108 - a name, never created
    path = os.path.join(temp, "tmp.memvault-guard")
    return Stream(paths=[escape(path)], text=path + "\n")


def cd(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> None:
    if name == "popd":
        state.cwd, state.oldpwd = state.oldpwd, state.cwd
        return
    _, operands = parse_args(args)
    if not operands:
        target: str | None = walker.home(state)
    elif unescape(operands[0]) == "-":
        target = state.oldpwd
    elif has_glob(operands[0]):
        target = None
    else:
        target = walker.absolute(operands[0], state)
    state.oldpwd, state.cwd = state.cwd, target


def eval_(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> Stream:
    text = " ".join(unescape(a) for a in args)
    return walker.shell_text(text, state.copy(deeper=True)) if text else Stream()


def shell(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> None:
    """sh/bash/zsh…: `-c TEXT [$0 $1 …]`, a script file (unseen), or commands on stdin."""
    command = False
    i = 0
    while i < len(args):
        arg = unescape(args[i])
        if arg == "--" or not arg.startswith(("-", "+")) or arg in ("-", "+"):
            i += 1 if arg == "--" else 0
            break
        if arg in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            i += 1
        elif not arg.startswith("--") and "c" in arg[1:]:
            command = True
        i += 1
    operands = args[i:]
    inner = state.copy(deeper=True)
    if command and operands:
        for position, value in enumerate(operands[1:10]):  # `sh -c '… "$1"' _ path`
            inner.vars[str(position)] = [unescape(value)]
        inner.vars["@"] = inner.vars["*"] = [unescape(v) for v in operands[2:]]
        walker.shell_text(unescape(operands[0]), inner)
    elif not command and not operands and stdin is not None and stdin.text is not None:
        walker.shell_text(stdin.text, inner)


def su(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> None:
    options, _ = parse_args(args, ("-c", "--command", "-s", "--shell", "-g", "-G"))
    text = option_value(options, "-c", "--command")
    if text:
        walker.shell_text(unescape(text), state.copy(deeper=True))


def watch(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> None:
    i = 0
    while i < len(args) and unescape(args[i]).startswith("-"):
        i += 2 if unescape(args[i]) in ("-n", "--interval", "-d", "--differences") else 1
    if i < len(args):
        walker.shell_text(" ".join(unescape(a) for a in args[i:]), state.copy(deeper=True))


# Programs that run the rest of their arguments as a command: options that take a value, and how
# many operands come before the command (`timeout 5 rm …`).
WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    name: (frozenset(valued.split()), skip)
    for name, valued, skip in (
        ("sudo", "-u -g -h -p -C -D -r -t -U -T --user --group --host --prompt --chdir", 0),
        ("doas", "-u -C", 0),
        ("command", "", 0),
        ("builtin", "", 0),
        ("exec", "-a", 0),
        ("nohup", "", 0),
        ("setsid", "", 0),
        ("time", "-f -o --format --output", 0),
        ("nice", "-n --adjustment", 0),
        ("ionice", "-c -n -p -t --class --classdata", 0),
        ("stdbuf", "-i -o -e --input --output --error", 0),
        ("timeout", "-s -k --signal --kill-after", 1),
        ("chronic", "", 0),
        ("unbuffer", "", 0),
        ("busybox", "", 0),
        ("flock", "-w -E --timeout --conflict-exit-code", 1),
        ("taskset", "", 1),
        ("caffeinate", "-t -w", 0),
    )
}


def wrapper(
    walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None
) -> Stream | None:
    valued, skip = WRAPPERS[name]
    i = 0
    while i < len(args):
        arg = unescape(args[i])
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        if name == "command" and arg in ("-v", "-V"):
            return None  # looks a program up, runs nothing
        i += 2 if arg in valued else 1
    i += skip
    while name in ("sudo", "doas") and i < len(args) and "=" in unescape(args[i]):
        i += 1  # `sudo VAR=value cmd`
    return walker.run(args[i:], state, stdin) if i < len(args) else None


def env(
    walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None
) -> Stream | None:
    state = state.copy()
    i = 0
    while i < len(args):
        arg = unescape(args[i])
        key, sep, value = arg.partition("=")
        if arg in ("-C", "--chdir") and i + 1 < len(args):
            state.cwd = walker.absolute(args[i + 1], state)
            i += 2
        elif key == "--chdir" and sep:
            state.cwd = walker.absolute(escape(value), state)
            i += 1
        elif arg in ("-S", "--split-string") and i + 1 < len(args):
            text = " ".join(unescape(a) for a in args[i + 1 :])
            return walker.shell_text(text, state.copy(deeper=True))
        elif arg in ("-u", "--unset"):
            i += 2
        elif arg.startswith("-") and arg != "-":
            i += 1
        elif sep and key.isidentifier():
            state.vars[key] = [value]
            i += 1
        else:
            break
    return walker.run(args[i:], state, stdin) if i < len(args) else None


def xargs(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> None:
    valued = "-a -d -E -I -L -n -P -s --arg-file --delimiter --eof --replace --max-lines"
    valued += " --max-args --max-procs --max-chars --process-slot-var"
    i = 0
    replace: str | None = None
    while i < len(args):
        arg = unescape(args[i])
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        if arg in valued.split():
            if arg in ("-I", "--replace") and i + 1 < len(args):
                replace = unescape(args[i + 1])
            i += 2
            continue
        if arg.startswith("-i") or arg.startswith("--replace="):
            replace = arg.partition("=")[2] or arg[2:] or "{}"
        elif arg.startswith("-I"):
            replace = arg[2:]
        i += 1
    command = args[i:] or ["echo"]
    inputs: list[str] = []
    if stdin is not None:
        inputs = stdin.paths or [escape(w) for w in (stdin.text or "").split()]
    if replace is None:
        walker.run(command + inputs, state, None)
        return
    for value in inputs[:16]:
        argv = [
            value
            if unescape(a) == replace
            else escape(unescape(a).replace(replace, unescape(value)))
            for a in command
        ]
        walker.run(argv, state, None)
