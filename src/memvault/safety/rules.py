"""What each program does to the paths it is given: the command guard's table of programs.

A handler receives the expanded arguments (as patterns, see `protected.py`), raises BlockedError
through `walker.check` when the program would delete, move, truncate or overwrite a protected
path, and returns what the program writes to stdout when that matters to a pipe (`echo path |
xargs rm`, `find … | xargs rm`). Programs missing from the table are harmless to the store.
"""

from __future__ import annotations

import os
import re

from memvault.safety import plumbing
from memvault.safety.guard import BlockedError, Handler, State, Stream, Walker
from memvault.safety.plumbing import has_option, option_value, parse_args
from memvault.safety.protected import escape, has_glob, unescape

# -- programs that delete, move or overwrite files --------------------------------------------


def _delete(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> None:
    _, operands = parse_args(args, ("-n", "-s", "--iterations", "--size", "--random-source"))
    for operand in operands:
        walker.check(operand, state, f"`{name}` would delete")


def _destinations(walker: Walker, sources: list[str], dest: str, state: State) -> list[str]:
    # `cp a.db dir/` writes dir/a.db: into an existing directory, each source keeps its name.
    absolute = walker.absolute(dest, state)
    if absolute is None or has_glob(dest) or not os.path.isdir(absolute):
        return [dest]
    return [
        escape(os.path.join(absolute, os.path.basename(unescape(s).rstrip("/")))) for s in sources
    ]


def _copy_or_move(
    walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None
) -> None:
    valued = ["-t", "--target-directory", "-S", "--suffix"]
    if name == "install":
        valued += ["-m", "--mode", "-o", "--owner", "-g", "--group"]
    options, operands = parse_args(args, valued)
    if name == "ln" and not has_option(options, "-f", "--force"):
        return  # without -f, ln refuses to replace an existing file
    if name == "mv":
        sources = operands if option_value(options, "-t", "--target-directory") else operands[:-1]
        for source in sources:
            walker.check(source, state, "`mv` would move away")
    target = option_value(options, "-t", "--target-directory")
    if target is not None:
        targets = _destinations(walker, operands, target, state)
    elif len(operands) >= 2:
        if has_option(options, "-T", "--no-target-directory"):
            targets = [operands[-1]]
        else:
            targets = _destinations(walker, operands[:-1], operands[-1], state)
    else:
        return
    for dest in targets:
        walker.check(dest, state, f"`{name}` would overwrite")


def _rsync(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> None:
    valued = "-e --rsh -f --filter --exclude --include --files-from --exclude-from --include-from"
    valued += " --log-file --partial-dir -T --temp-dir --backup-dir --suffix --chmod --chown"
    valued += " --password-file --port --bwlimit --timeout --max-size --min-size -M"
    options, operands = parse_args(args, valued.split())
    if len(operands) < 2 or re.match(r"^[^/]*:", unescape(operands[-1])):
        return  # no destination, or a remote one
    dest = operands[-1]
    if any(key.startswith("--delete") or key == "--remove-source-files" for key, _ in options):
        walker.check(dest, state, "`rsync --delete` would delete files in")
        if has_option(options, "--remove-source-files"):
            for source in operands[:-1]:
                walker.check(source, state, "`rsync --remove-source-files` would delete")
    sources = [s for s in operands[:-1] if not unescape(s).endswith("/")]
    for target in _destinations(walker, sources, dest, state) if sources else [dest]:
        walker.check(target, state, "`rsync` would overwrite")


def _dd(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> None:
    for arg in args:
        if unescape(arg).startswith("of="):
            walker.check(arg[3:], state, "`dd` would overwrite")


def _tee(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> Stream:
    options, operands = parse_args(args)
    if not has_option(options, "-a", "--append"):
        for operand in operands:
            walker.check(operand, state, "`tee` would truncate")
    return stdin or Stream()


def _truncate(
    walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None
) -> None:
    _, operands = parse_args(args, ("-s", "--size", "-r", "--reference"))
    for operand in operands:
        walker.check(operand, state, "`truncate` would cut")


def _sed(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> None:
    options, operands = parse_args(args, ("-e", "--expression", "-f", "--file", "-l"))
    if not any(key == "-i" or key.startswith("--in-place") for key, _ in options):
        return
    if not has_option(options, "-e", "--expression", "-f", "--file"):
        operands = operands[1:]  # the first operand is the script
    for operand in operands:
        walker.check(operand, state, "`sed -i` would rewrite")


# -- find and git -------------------------------------------------------------------------------

# Expressions whose -name filters no longer bound what is deleted: assume everything is.
_FIND_UNRELIABLE = frozenset(
    ("-o", "-or", "!", "-not", ",", "-path", "-ipath", "-wholename", "-regex", "-iregex")
)


def _find(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> Stream:
    i = 0
    while i < len(args) and unescape(args[i]) in ("-H", "-L", "-P", "-D", "-O"):
        i += 2 if unescape(args[i]) == "-D" else 1
    roots = []
    while i < len(args) and not unescape(args[i]).startswith(("-", "(", "!", ")")):
        roots.append(args[i])
        i += 1
    expr = args[i:]
    words = [unescape(w) for w in expr]
    filters = [
        (words[k + 1], words[k] == "-iname")
        for k in range(len(words) - 1)
        if words[k] in ("-name", "-iname")
    ]
    unreliable = any(w in _FIND_UNRELIABLE for w in words)
    matched: list[str] = []
    for root in roots or ["."]:
        for candidate in walker.protected.under(root, state.cwd):
            base = os.path.basename(candidate) or "/"
            if unreliable or all(_name_matches(pattern, base, fold) for pattern, fold in filters):
                matched.append(candidate)
    if not matched:
        return Stream()
    if "-delete" in words:
        found = walker.protected.classify(matched[0])
        raise BlockedError(f"`find -delete` would delete {found}")
    for k, word in enumerate(words):
        if word in ("-exec", "-execdir", "-ok", "-okdir"):
            end = next((j for j in range(k + 1, len(words)) if words[j] in (";", "+")), len(words))
            command = expr[k + 1 : end]
            for candidate in matched if command else []:
                argv = [
                    escape(candidate)
                    if unescape(a) == "{}"
                    else escape(unescape(a).replace("{}", candidate))
                    for a in command
                ]
                walker.run(argv, state.copy(deeper=True), None)
    return Stream(paths=[escape(m) for m in matched])


def _name_matches(pattern: str, name: str, fold: bool) -> bool:
    from fnmatch import fnmatchcase

    return fnmatchcase(name.lower(), pattern.lower()) if fold else fnmatchcase(name, pattern)


def _repository_root(start: str | None) -> str | None:
    path = start
    while path:
        if os.path.exists(os.path.join(path, ".git")):
            return path
        parent = os.path.dirname(path)
        path = None if parent == path else parent
    return None


def _git(
    walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None
) -> Stream | None:
    state = state.copy()
    i = 0
    while i < len(args) and unescape(args[i]).startswith("-"):
        arg = unescape(args[i])
        if arg == "-C" and i + 1 < len(args):
            state.cwd = walker.absolute(args[i + 1], state)
        if arg in ("-C", "-c", "--git-dir", "--work-tree", "--namespace"):
            i += 1
        i += 1
    if i >= len(args):
        return None
    command, rest = unescape(args[i]), args[i + 1 :]
    if command == "clean":
        options, operands = parse_args(rest, ("-e", "--exclude"))
        if has_option(options, "-n", "--dry-run") or not has_option(options, "-x", "-X", "-d"):
            return None  # a dry run, or one that leaves ignored files and untracked folders alone
        for scope in operands or ["."]:
            walker.check(scope, state, "`git clean` would delete")
    elif command == "stash":
        options, _ = parse_args(rest, ("-m", "--message"))
        if has_option(options, "-u", "--include-untracked", "-a", "--all"):
            root = _repository_root(state.cwd)
            if root is not None:
                walker.check(escape(root), state, "`git stash -u` would remove untracked files in")
    elif command == "rev-parse" and "--show-toplevel" in [unescape(r) for r in rest]:
        root = _repository_root(state.cwd)
        return Stream(paths=[escape(root)], text=root + "\n") if root else None
    elif command == "rm":
        options, operands = parse_args(rest, ("--pathspec-from-file",))
        if not has_option(options, "--cached"):
            for operand in operands:
                walker.check(operand, state, "`git rm` would delete")
    return None


_INTERPRETERS = ("python", "pypy", "perl", "ruby", "php", "node", "nodejs", "bun", "deno")


def _inline(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> None:
    # Loaded on first use: most commands never need its regular expressions compiled.
    from memvault.safety import inline_code

    inline_code.handle(walker, name, args, state, stdin)


def handler_for(name: str) -> Handler | None:
    """The handler of a program missing from the table: versioned interpreters (`python3.12`)."""
    return _inline if name.rstrip("0123456789.") in _INTERPRETERS else None


def _table() -> dict[str, Handler]:
    table: dict[str, Handler] = dict.fromkeys(plumbing.WRAPPERS, plumbing.wrapper)
    groups: list[tuple[Handler, str]] = [
        (plumbing.echo, "echo printf realpath readlink ls"),
        (plumbing.cat, "cat"),
        (plumbing.pwd, "pwd"),
        (plumbing.mktemp, "mktemp"),
        (plumbing.dirname, "dirname"),
        (plumbing.cd, "cd pushd popd"),
        (plumbing.eval_, "eval"),
        (plumbing.shell, "sh bash zsh dash ksh mksh ash fish"),
        (plumbing.su, "su runuser"),
        (plumbing.watch, "watch"),
        (plumbing.env, "env"),
        (plumbing.xargs, "xargs parallel"),
        (_delete, "rm unlink rmdir shred srm trash trash-put wipe"),
        (_copy_or_move, "mv cp install ln"),
        (_rsync, "rsync"),
        (_dd, "dd"),
        (_tee, "tee"),
        (_truncate, "truncate"),
        (_sed, "sed gsed"),
        (_find, "find"),
        (_git, "git"),
        (_inline, " ".join(_INTERPRETERS) + " sqlite3 sqlite"),
    ]
    for handler, names in groups:
        for name in names.split():
            table[name] = handler
    return table


HANDLERS = _table()
