"""Programs inside a command line: `python -c`, `node -e`, `perl -e`, `ruby -e`, `php -r`, code on
stdin (`python3 - <<EOF`), and SQL given to `sqlite3`.

The guard does not run or fully parse this code. It looks for calls that delete, rename or
overwrite files (`shutil.rmtree`, `os.remove`, `fs.rmSync`, `unlink`, `open(…, "w")`…) or that
change a database (`DROP TABLE`, `DELETE FROM`…), and for the paths the code names: its string
literals, joined the way `os.path.join` / `Path(…) / …` would join them, the user's home where the
code asks for it, MEMVAULT_HOME where it reads that variable, and the program's own arguments.
String literals given to `os.system`, `subprocess` and the like are checked as shell commands.
"""

from __future__ import annotations

import os
import re

from memvault.safety.guard import BlockedError, State, Stream, Walker, as_pattern
from memvault.safety.plumbing import parse_args
from memvault.safety.protected import escape, unescape

_FILE_DESTROYERS = re.compile(
    r"\b(?:os\.(?:remove|unlink|rmdir|removedirs|rename|replace|truncate)|shutil\.(?:rmtree|move)"
    r"|send2trash|rmtree|remove_tree|rm_r|rm_rf|rm_f|FileUtils\.\w+|File\.(?:delete|unlink|rename"
    r"|write|truncate)|fs(?:\.promises)?\.(?:rm|rmSync|rmdir|rmdirSync|unlink|unlinkSync|rename"
    r"|renameSync|writeFile|writeFileSync|truncate|truncateSync)|unlink|rename|truncate)\b"
    r"|\.(?:unlink|rmdir|rename|write_text|write_bytes|truncate|rm|rmSync|unlinkSync|rmdirSync"
    r"|renameSync|writeFile|writeFileSync|truncateSync)\s*\("
    r"""|\bopen\s*\([^)]*['"](?:w|wb|w\+|wb\+|x|>|\+>)"""
)
_SHELL_RUNNERS = re.compile(
    r"\b(?:os\.system|os\.popen|os\.exec\w*|os\.spawn\w*|subprocess|Popen|check_call"
    r"|check_output|execSync|execFileSync|spawnSync|child_process|system|exec|qx|Open3"
    r"|IO\.popen|shell_exec|passthru|proc_open)\b|`"
)
_HOME = re.compile(
    r"Path\.home\(\)|expanduser\(|homedir\(\)|\$ENV\{HOME\}|ENV\[['\"]HOME|\[['\"]HOME['\"]\]"
    r"|getenv\(['\"]HOME|Dir\.home|process\.env\.HOME|environ\.get\(['\"]HOME"
)
# The user's home spelled inside a string: "$ENV{HOME}/x" (perl), `${process.env.HOME}/x` (node),
# "#{Dir.home}/x" (ruby), f"{Path.home()}/x" (python).
_HOME_IN_LITERAL = re.compile(
    r"\$ENV\{HOME\}|\$HOME\b|\$\{HOME\}|\$\{process\.env\.HOME\}|\$\{os\.homedir\(\)\}|#\{Dir\.home\}"
    r"|#\{ENV\[['\"]HOME['\"]\]\}|\{Path\.home\(\)\}|\{os\.environ\[['\"]HOME['\"]\]\}"
)
_LITERAL = re.compile(r"""'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"|`((?:[^`\\]|\\.)*)`""")
_SQL_DESTRUCTIVE = re.compile(
    r"\bdrop\s+(?:table|index|trigger|view)\b|\bdelete\s+from\b|\balter\s+table\b"
    r"|\bupdate\s+(?:or\s+\w+\s+)?[\w.\"`\[\]]+\s+set\b|\bpragma\s+(?:\w+\.)?writable_schema\b"
    r"|(?:^|[;\n])\s*\.(?:read|restore|shell|system)\b",
    re.IGNORECASE,
)
MAX_LITERALS = 40
MAX_JOINED = 6  # literals joined into one path: Path.home() / ".local" / "share" / "memvault"


def _literals(code: str) -> list[str]:
    found = []
    for match in _LITERAL.finditer(code):
        text = next(g for g in match.groups() if g is not None)
        text = re.sub(r"\\(.)", r"\1", text).lstrip("+<>").strip()
        if text and len(text) < 4096:
            found.append(text)
    return found[:MAX_LITERALS]


def _path_candidates(walker: Walker, code: str, literals: list[str], state: State) -> list[str]:
    home = walker.home(state)
    parts = [_HOME_IN_LITERAL.sub(lambda _: home, text) for text in literals]
    parts = [home + text[1:] if text == "~" or text.startswith("~/") else text for text in parts]
    bases = [""]
    if _HOME.search(code):
        bases.append(home)
    if "MEMVAULT_HOME" in code:
        bases.extend(walker.protected.homes)
    candidates = []
    for base in bases:
        for i in range(len(parts)):
            joined = base
            for part in parts[i : i + MAX_JOINED]:
                # `home + "/x"` (concatenation) and `os.path.join(home, "x")` alike
                joined = joined + part if part.startswith("/") else os.path.join(joined, part)
                candidates.append(joined)
    candidates.sort(key=len, reverse=True)  # the most specific path names what is at stake
    candidates += [b for b in bases if b]
    return [as_pattern(text) for text in candidates]


def check_code(walker: Walker, label: str, code: str, argv: list[str], state: State) -> None:
    """Raise BlockedError when `code` (of any of the languages above) would destroy the store;
    `argv` are the program's arguments (`python -c CODE path` passes `path` to the code)."""
    literals = _literals(code)
    if _SHELL_RUNNERS.search(code):
        for literal in literals:
            walker.shell_text(literal, state.copy(deeper=True), lenient=True)
        names = [os.path.basename(text) for text in literals]
        for k, name in enumerate(names):  # subprocess.run(["rm", "-rf", path])
            if name in walker.handlers or walker.handler_for(name) is not None:
                argv_literal = [escape(text) for text in literals[k : k + 16]]
                walker.run(argv_literal, state.copy(deeper=True), None)
    sql = _SQL_DESTRUCTIVE.search(code) is not None and re.search(r"sqlite|connect", code)
    if not sql and not _FILE_DESTROYERS.search(code):
        return
    for candidate in [*argv, *_path_candidates(walker, code, literals, state)]:
        found = walker.protected.touched(candidate, state.cwd)
        if found is not None:
            what = "changes the tables of" if sql else "deletes or rewrites files and names"
            raise BlockedError(f"`{label}` code {what} {found}")


# -- interpreters ---------------------------------------------------------------------------------

# Per interpreter: the options whose value is code, the other options that take a value, and
# whether `-i` means editing files in place (perl).
_INTERPRETERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "python": (frozenset({"-c"}), frozenset({"-m", "-W", "-X", "-Q"})),
    "node": (frozenset({"-e", "--eval", "-p", "--print"}), frozenset({"-r", "--require"})),
    "perl": (frozenset({"-e", "-E"}), frozenset({"-I", "-M", "-m", "-x", "-0", "-l"})),
    "ruby": (frozenset({"-e"}), frozenset({"-I", "-r", "-C", "-E"})),
    "php": (frozenset({"-r"}), frozenset({"-c", "-d", "-f", "-z"})),
}
_ALIASES = {"nodejs": "node", "bun": "node", "deno": "node", "pypy": "python"}


def _interpreter(
    walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None
) -> None:
    family = name.rstrip("0123456789.")  # python3.12, perl5.36
    family = _ALIASES.get(family, family)
    code_flags, valued = _INTERPRETERS[family]
    options, operands = parse_args(args, code_flags | valued)
    codes = [unescape(v) for key, v in options if key in code_flags and v is not None]
    if name == "deno" and operands and unescape(operands[0]) == "eval":
        codes.append(unescape(operands[1]) if len(operands) > 1 else "")
        operands = operands[2:]
    if family == "perl" and _has_flag(options, "-i"):
        for operand in operands:
            walker.check(operand, state, "`perl -i` would rewrite")
    if codes:
        for code in codes:
            check_code(walker, f"{name} {_flag_of(options, code_flags)}", code, operands, state)
    elif (not operands or unescape(operands[0]) == "-") and stdin and stdin.text is not None:
        check_code(walker, f"{name} reading stdin", stdin.text, operands[1:], state)


def _has_flag(options: list[tuple[str, str | None]], flag: str) -> bool:
    return any(key == flag for key, _ in options)


def _flag_of(options: list[tuple[str, str | None]], flags: frozenset[str]) -> str:
    return next((key for key, _ in options if key in flags), "-c")


# -- sqlite3 ---------------------------------------------------------------------------------------

_SQLITE_VALUED = frozenset(
    ("cmd", "init", "separator", "newline", "nullvalue", "vfs", "mmap", "heap", "maxsize")
)


def _sqlite(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> None:
    commands: list[str] = []
    operands: list[str] = []
    unseen = False  # SQL the guard cannot read: -init FILE, or stdin from a file or a program
    i = 0
    while i < len(args):
        arg = unescape(args[i])
        option = arg.lstrip("-")
        if arg.startswith("-") and not operands:
            if option in _SQLITE_VALUED and i + 1 < len(args):
                if option == "cmd":
                    commands.append(unescape(args[i + 1]))
                unseen = unseen or option == "init"
                i += 1
            i += 1
            continue
        operands.append(args[i])
        i += 1
    sql = " ; ".join(commands + [unescape(o) for o in operands[1:]])
    if not operands[1:] and stdin is not None:
        if stdin.text is not None:
            sql += "\n" + stdin.text
        else:
            unseen = unseen or stdin.unknown
    destructive = _SQL_DESTRUCTIVE.search(sql) is not None
    if operands and (destructive or unseen):
        found = walker.protected.touched(operands[0], state.cwd)
        if found is not None:
            change = "would change the tables of" if destructive else "would run unseen SQL on"
            raise BlockedError(f"`{name}` {change} {found}")
    if destructive:  # ATTACH '…/memvault.db' AS m; DROP TABLE m.memories
        for literal in _literals(sql):
            found = walker.protected.touched(escape(literal), state.cwd)
            if found is not None:
                raise BlockedError(f"`{name}` would change the tables of {found}")


def handle(walker: Walker, name: str, args: list[str], state: State, stdin: Stream | None) -> None:
    """Check an interpreter's inline code, or sqlite3's SQL."""
    if name.startswith("sqlite"):
        _sqlite(walker, name, args, state, stdin)
    else:
        _interpreter(walker, name, args, state, stdin)
