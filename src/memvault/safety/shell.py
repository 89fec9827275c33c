"""A parser for the shell that agents write: enough structure for the command guard to see which
programs run, with which words, redirections and nested commands.

It keeps what `shlex` throws away: which parts of a word were quoted (quoted `*` does not glob and
single-quoted `$D` does not expand), `$( … )` and backquote substitutions as parsed commands,
`( … )` subshells, pipelines, redirections and here-documents. It accepts more than bash does
(an unmatched `)` separates commands, keywords are ordinary words) but raises ShellSyntaxError
where bash would refuse to run the line at all: unbalanced quotes, an unclosed `$(`, `(` or
backquote. Stdlib only: it runs inside `memvault guard`, on every command an agent issues.
"""

from __future__ import annotations

_METACHARS = frozenset(" \t\n;&|()<>")
_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
_SPECIAL_PARAMS = frozenset("@*#?$!-0123456789")
_C_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"'}
_REDIRECT_OPS = ("<<<", "<<-", "<<", "<>", "<&", ">>", ">|", ">&", "<", ">")  # longest first
MAX_NESTING = 40  # deeper nesting than any real command; bounds the recursion


class ShellSyntaxError(ValueError):
    """The text is not a command bash would run (unbalanced quotes or parentheses)."""


class Lit:
    """Literal text; `quoted` text neither globs nor splits."""

    __slots__ = ("quoted", "text")

    def __init__(self, text: str, quoted: bool) -> None:
        self.text = text
        self.quoted = quoted


class Var:
    """`$NAME` or `${NAME…}`; `default` is the word of `${NAME:-default}`."""

    __slots__ = ("default", "name", "quoted")

    def __init__(self, name: str, quoted: bool, default: Word | None = None) -> None:
        self.name = name
        self.quoted = quoted
        self.default = default


class Sub:
    """`$( … )`, backquotes, or `<( … )`: a nested script whose output becomes (part of) a word."""

    __slots__ = ("quoted", "script")

    def __init__(self, script: Script, quoted: bool) -> None:
        self.script = script
        self.quoted = quoted


Part = Lit | Var | Sub
Word = list[Part]


class Redirect:
    """`op` is the operator without its fd (`>`, `>>`, `>|`, `&>`, `&>>`, `<`, `<<`, `<<<`, `<>`,
    `>&`, `<&`); `target` the word after it; `body` the text of a here-document."""

    __slots__ = ("body", "op", "target")

    def __init__(self, op: str, target: Word) -> None:
        self.op = op
        self.target = target
        self.body: str | None = None


class Simple:
    """One simple command: its words (assignments included) and redirections."""

    __slots__ = ("redirects", "words")

    def __init__(self) -> None:
        self.words: list[Word] = []
        self.redirects: list[Redirect] = []


class Group:
    """`( … )` (a subshell: `cd` and variables do not leak out) with its redirections."""

    __slots__ = ("redirects", "script")

    def __init__(self, script: Script) -> None:
        self.script = script
        self.redirects: list[Redirect] = []


Command = Simple | Group
Pipeline = list[Command]
Script = list[Pipeline]


def parse(text: str) -> Script:
    """Parse a command line (or a whole script) into pipelines of commands."""
    return _Parser(text, 0).script(closing=None)


def word_text(word: Word) -> str:
    """The literal text of a word with quotes removed, expansions written as they were."""
    out = []
    for part in word:
        if isinstance(part, Lit):
            out.append(part.text)
        elif isinstance(part, Var):
            out.append("${" + part.name + "}")
        else:
            out.append("$(…)")
    return "".join(out)


class _Parser:
    def __init__(self, text: str, depth: int) -> None:
        if depth > MAX_NESTING:
            raise ShellSyntaxError("commands nested too deeply")
        self.s = text
        self.i = 0
        self.depth = depth
        self.heredocs: list[tuple[Redirect, str, bool]] = []  # (redirect, delimiter, strip tabs)

    # -- structure ------------------------------------------------------------------------------

    def script(self, closing: str | None) -> Script:
        """Commands up to `closing` (`)`), or to the end of the text when closing is None."""
        s = self.s
        script: Script = []
        pipeline: Pipeline = []
        current: Command | None = None

        def end_command() -> None:
            nonlocal current
            if current is not None and (
                not isinstance(current, Simple) or current.words or current.redirects
            ):
                pipeline.append(current)
            current = None

        def end_pipeline() -> None:
            nonlocal pipeline
            end_command()
            if pipeline:
                script.append(pipeline)
            pipeline = []

        while True:
            self._blanks()
            if self.i >= len(s):
                if closing is not None:
                    raise ShellSyntaxError(f"missing `{closing}`")
                end_pipeline()
                return script
            c = s[self.i]
            two = s[self.i : self.i + 2]
            if c == "#":  # only ever reached at the start of a word: a comment
                while self.i < len(s) and s[self.i] != "\n":
                    self.i += 1
            elif c == "\n":
                self.i += 1
                self._read_heredoc_bodies()
                end_pipeline()
            elif two in ("&&", "||", ";;") or (c in ";&" and two != "&>"):
                self.i += 2 if two in ("&&", "||", ";;") else 1
                end_pipeline()
            elif c == "|":
                self.i += 2 if two == "|&" else 1
                end_command()
            elif c == ")":
                self.i += 1
                if closing == ")":
                    end_pipeline()
                    return script
                end_pipeline()  # a `case` pattern: `a|b) cmd ;;`
            elif c == "(" and (
                current is None or (isinstance(current, Simple) and not current.words)
            ):
                self.i += 1
                group = Group(_Parser.nested(self, ")"))
                if isinstance(current, Simple):
                    group.redirects.extend(current.redirects)
                end_command()
                current = group
            elif c == "(":  # `name() { …; }` defines a function: its body is parsed as usual
                self.i += 1
                self._blanks()
                if s.startswith(")", self.i):
                    self.i += 1
                end_pipeline()
            else:
                if current is None:
                    current = Simple()
                redirect = self._redirect()
                if redirect is not None:
                    current.redirects.append(redirect)
                elif isinstance(current, Simple):
                    current.words.append(self._word())
                else:  # a word after `( … )`: bash refuses it; keep it as its own command
                    end_command()
                    current = Simple()
                    current.words.append(self._word())

    @staticmethod
    def nested(parent: _Parser, closing: str) -> Script:
        """Parse from the parent's position to `closing`, sharing its text and position."""
        child = _Parser(parent.s, parent.depth + 1)
        child.i = parent.i
        script = child.script(closing)
        parent.i = child.i
        return script

    def _blanks(self) -> None:
        s = self.s
        while self.i < len(s):
            if s[self.i] in " \t":
                self.i += 1
            elif s.startswith("\\\n", self.i):
                self.i += 2
            else:
                return

    # -- redirections and here-documents ---------------------------------------------------------

    def _redirect(self) -> Redirect | None:
        s, start = self.s, self.i
        j = start
        while j < len(s) and s[j].isdigit():
            j += 1
        if s.startswith("&>>", j) or s.startswith("&>", j):
            if j != start:
                return None
            op = "&>>" if s.startswith("&>>", j) else "&>"
        elif j < len(s) and s[j] in "<>":
            if s.startswith(("<(", ">("), j) and j == start:
                return None  # process substitution: a word
            op = next(o for o in _REDIRECT_OPS if s.startswith(o, j))
        else:
            return None
        self.i = j + len(op)
        self._blanks()
        at_process_substitution = s.startswith(("<(", ">("), self.i)  # `> >(tee log)`
        if self.i >= len(s) or (s[self.i] in "\n;&|()<>" and not at_process_substitution):
            raise ShellSyntaxError(f"`{op}` without a target")
        target = self._word()
        redirect = Redirect("<<" if op == "<<-" else op, target)
        if op in ("<<", "<<-"):  # the body is kept raw, expanded or not: the guard reads it as text
            self.heredocs.append((redirect, word_text(target), op == "<<-"))
        return redirect

    def _read_heredoc_bodies(self) -> None:
        s = self.s
        for redirect, delimiter, strip_tabs in self.heredocs:
            lines = []
            while self.i < len(s):
                end = s.find("\n", self.i)
                end = len(s) if end < 0 else end
                line = s[self.i : end]
                self.i = end + 1
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
                lines.append(line)
            redirect.body = "\n".join(lines) + "\n"
        self.heredocs = []

    # -- words ------------------------------------------------------------------------------------

    def _word(self) -> Word:
        s = self.s
        parts: Word = []
        buf: list[str] = []

        def flush() -> None:
            if buf:
                parts.append(Lit("".join(buf), quoted=False))
                buf.clear()

        if s.startswith(("<(", ">("), self.i):
            self.i += 2
            return [Sub(_Parser.nested(self, ")"), quoted=False)]
        while self.i < len(s):
            c = s[self.i]
            if c in _METACHARS:
                break
            if c == "\\":
                nxt = s[self.i + 1 : self.i + 2]
                self.i += 2
                if nxt and nxt != "\n":
                    flush()
                    parts.append(Lit(nxt, quoted=True))
            elif c == "'":
                end = s.find("'", self.i + 1)
                if end < 0:
                    raise ShellSyntaxError("unbalanced single quote")
                flush()
                parts.append(Lit(s[self.i + 1 : end], quoted=True))
                self.i = end + 1
            elif c == '"':
                flush()
                self.i += 1
                parts.extend(self._double_quoted())
            elif c == "$":
                flush()
                parts.append(self._dollar(quoted=False))
            elif c == "`":
                flush()
                parts.append(self._backquote(quoted=False))
            else:
                buf.append(c)
                self.i += 1
        flush()
        return parts

    def _double_quoted(self) -> Word:
        s = self.s
        parts: Word = []
        buf: list[str] = []
        while True:
            if self.i >= len(s):
                raise ShellSyntaxError("unbalanced double quote")
            c = s[self.i]
            if c == '"':
                self.i += 1
                break
            if c == "\\" and s[self.i + 1 : self.i + 2] in ('"', "\\", "$", "`", "\n"):
                if s[self.i + 1] != "\n":
                    buf.append(s[self.i + 1])
                self.i += 2
            elif c in "$`":
                if buf:
                    parts.append(Lit("".join(buf), quoted=True))
                    buf = []
                parts.append(self._dollar(quoted=True) if c == "$" else self._backquote(True))
            else:
                buf.append(c)
                self.i += 1
        if buf or not parts:
            parts.append(Lit("".join(buf), quoted=True))
        return parts

    def _dollar(self, quoted: bool) -> Part:
        s = self.s
        i = self.i + 1
        nxt = s[i : i + 1]
        if s.startswith("((", i):  # arithmetic: a number, never a path
            end = self._matching(i, "(", ")")
            self.i = end + 1
            return Lit("0", quoted=True)
        if nxt == "(":
            self.i = i + 1
            return Sub(_Parser.nested(self, ")"), quoted)
        if nxt == "{":
            end = self._matching(i, "{", "}")
            self.i = end + 1
            return self._braced_parameter(s[i + 1 : end], quoted)
        if nxt == "'" and not quoted:
            return Lit(self._ansi_c(i + 1), quoted=True)
        if nxt == '"' and not quoted:
            self.i = i + 1
            parts = self._double_quoted()
            return parts[0] if len(parts) == 1 else Lit(word_text(parts), quoted=True)
        if nxt and nxt in _NAME_START:
            j = i
            while j < len(s) and s[j] in _NAME_CHARS:
                j += 1
            self.i = j
            return Var(s[i:j], quoted)
        if nxt and nxt in _SPECIAL_PARAMS:
            self.i = i + 1
            return Var(nxt, quoted)
        self.i = i
        return Lit("$", quoted=True)

    def _ansi_c(self, start: int) -> str:
        s = self.s
        out = []
        i = start
        while i < len(s) and s[i] != "'":
            if s[i] == "\\" and i + 1 < len(s):
                out.append(_C_ESCAPES.get(s[i + 1], s[i + 1]))
                i += 2
            else:
                out.append(s[i])
                i += 1
        if i >= len(s):
            raise ShellSyntaxError("unbalanced $'…' quote")
        self.i = i + 1
        return "".join(out)

    def _backquote(self, quoted: bool) -> Part:
        s = self.s
        i = self.i + 1
        inner = []
        while i < len(s) and s[i] != "`":
            if s[i] == "\\" and s[i + 1 : i + 2] in ("`", "\\", "$"):
                inner.append(s[i + 1])
                i += 2
            else:
                inner.append(s[i])
                i += 1
        if i >= len(s):
            raise ShellSyntaxError("unbalanced backquote")
        self.i = i + 1
        return Sub(_Parser("".join(inner), self.depth + 1).script(closing=None), quoted)

    def _braced_parameter(self, body: str, quoted: bool) -> Part:
        """`${NAME}`, `${NAME:-default}` and friends; lengths and counts become a number."""
        if body.startswith("#") and len(body) > 1:
            return Lit("0", quoted=True)
        name_end = 0
        if body[:1] and body[0] in _SPECIAL_PARAMS:
            name_end = 1
        else:
            while name_end < len(body) and body[name_end] in _NAME_CHARS:
                name_end += 1
        name, rest = body[:name_end], body[name_end:]
        if not name:
            return Lit("", quoted=True)
        for op in (":-", "-", ":=", "="):
            if rest.startswith(op):
                # The default is read like double-quoted text: `${D:-$HOME/x}` expands $HOME.
                inner = _Parser(rest[len(op) :].replace('"', '\\"') + '"', self.depth + 1)
                return Var(name, quoted, default=inner._double_quoted())
        return Var(name, quoted)

    def _matching(self, start: int, opening: str, closing: str) -> int:
        """Index of the `closing` that balances the `opening` at `start`, skipping quotes."""
        s = self.s
        depth = 0
        i = start
        while i < len(s):
            c = s[i]
            if c == "\\":
                i += 2
                continue
            if c == "'" and opening == "(":
                end = s.find("'", i + 1)
                if end < 0:
                    break
                i = end
            elif c == opening:
                depth += 1
            elif c == closing:
                depth -= 1
                if depth == 0:
                    return i
            i += 1
        raise ShellSyntaxError(f"missing `{closing}`")
