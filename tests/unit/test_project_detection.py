"""Project detection reads real `.git` folders and config files on disk, never the git binary."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from memvault.context.projects import DetectedProject, detect_project, normalise_remote_url

SECRET = "ghp_s3cr3tT0ken"


def _repo(root: Path, config: str) -> Path:
    """A repository at `root` whose `.git/config` holds exactly `config`."""
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "config").write_text(config, encoding="utf-8")
    return root


def _remote(name: str, url: str) -> str:
    return f'[remote "{name}"]\n\turl = {url}\n\tfetch = +refs/heads/*:refs/remotes/{name}/*\n'


@pytest.mark.parametrize(
    "url",
    [
        "git@github.com:Acme/API.git",
        "ssh://git@github.com/acme/api",
        "ssh://git@GitHub.com:22/acme/api.git",
        "git+ssh://git@github.com/acme/api.git",
        f"https://user:{SECRET}@github.com/acme/api.git/",
        f"https://{SECRET}@github.com/acme/api",
        "https://github.com/acme/api",
        "https://github.com/Acme/Api.git?ref=main",
        "http://github.com//acme/api//",
        "git://github.com:9418/acme/api.git",
        "github.com:acme/api",
        f"user:{SECRET}@github.com:acme/api.git",
    ],
)
def test_every_spelling_of_a_remote_is_one_id(url: str) -> None:
    assert normalise_remote_url(url) == "github.com/acme/api"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("git@gitlab.example.com:group/sub/project.git", "gitlab.example.com/group/sub/project"),
        ("https://bitbucket.org/team/repo.git", "bitbucket.org/team/repo"),
        ("ssh://git@[::1]:2222/srv/repo.git", "::1/srv/repo"),
        ("ssh://me@host.lan/home/me/proj/.git", "host.lan/home/me/proj"),  # a non-bare repo's .git
    ],
)
def test_other_hosts_keep_their_full_path(url: str, expected: str) -> None:
    assert normalise_remote_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "/srv/git/api.git",
        "../api.git",
        "./api",
        "~/repos/api.git",
        "file:///srv/git/api.git",
        "C:\\repos\\api",
        "C:/repos/api",
        "api",
        "",
        "https://github.com",
        "https://github.com/",
        "https://github.com:notaport/acme/api",
        "svn+weird://github.com/acme/api",
        "ext::ssh -i key github.com %S acme/api",
        "https://github.com/acme/my repo.git",
    ],
)
def test_local_and_unrecognisable_urls_have_no_id(url: str) -> None:
    assert normalise_remote_url(url) is None


def test_a_repository_is_identified_by_its_remote_from_deep_inside(tmp_path: Path) -> None:
    root = _repo(tmp_path / "checkout", _remote("origin", "git@github.com:Acme/API.git"))
    deep = root / "src" / "pkg" / "module"
    deep.mkdir(parents=True)
    (deep / "file.py").write_text("x = 1\n", encoding="utf-8")

    expected = DetectedProject("github.com/acme/api", "api", root.resolve(), "git-remote")
    assert detect_project(deep) == expected
    assert detect_project(deep / "file.py") == expected
    assert detect_project(root / "src" / ".." / "src") == expected


def test_origin_wins_over_a_remote_listed_before_it(tmp_path: Path) -> None:
    config = _remote("upstream", "https://github.com/upstream/api") + _remote(
        "origin", "https://github.com/fork/api"
    )
    assert detect_project(_repo(tmp_path / "api", config)).id == "github.com/fork/api"


def test_without_origin_the_first_remote_with_a_url_wins(tmp_path: Path) -> None:
    config = (
        '[remote "empty"]\n\tfetch = +refs/heads/*:refs/remotes/empty/*\n'
        + _remote("upstream", "https://github.com/upstream/api")
        + _remote("mirror", "https://gitlab.com/mirror/api")
    )
    assert detect_project(_repo(tmp_path / "api", config)).id == "github.com/upstream/api"


@pytest.mark.parametrize(
    "config",
    [
        '[REMOTE "origin"]\n  URL = https://github.com/acme/api.git\n',
        '[remote "origin"] url = https://github.com/acme/api\n',
        "[remote.origin]\nurl = https://github.com/acme/api\n",
        "# a comment\n; another\n[core]\n\tbare = false\n\tfilemode\n"
        '[remote "origin"]\n\turl = "https://github.com/acme/api.git" ; pinned\n',
        '[remote "origin"]\n\turl = https://github.com/acme/api # inline comment\n',
        '[remote "origin"]\n\turl = https://github.com/\\\nacme/api\n',
        '[remote "origin"]\n\turl = https://github.com/acme/api\n\turl = https://gitlab.com/x/y\n',
        '[remote "Origin"]\n\turl = https://gitlab.com/x/y\n'
        '[remote "origin"]\n\turl = https://github.com/acme/api\n',
    ],
    ids=[
        "case-insensitive-names",
        "key-on-header-line",
        "old-dotted-section",
        "comments-quotes-booleans",
        "inline-comment",
        "continuation-line",
        "first-of-several-urls",
        "remote-names-are-case-sensitive",
    ],
)
def test_config_syntax_is_read_like_git_reads_it(tmp_path: Path, config: str) -> None:
    assert detect_project(_repo(tmp_path / "api", config)).id == "github.com/acme/api"


@pytest.mark.parametrize(
    "config",
    [
        '[remote "origin"\n\turl = https://github.com/acme/api\n',
        'url = https://github.com/acme/api\n[remote "origin"]\n',
        '[remote "origin"]\n\turl = "https://github.com/acme/api\n',
        '[remote "origin"]\n\turl = https://github.com/acme/\\q/api\n',
        '[remote "origin"]\n\tnot a key = https://github.com/acme/api\n',
        "\x00\x01 binary junk \xff",
    ],
)
def test_a_malformed_config_means_no_remote(tmp_path: Path, config: str) -> None:
    root = _repo(tmp_path / "my project", config)
    assert detect_project(root) == DetectedProject(
        "my-project", "my-project", root.resolve(), "git-folder"
    )


def test_an_undecodable_config_means_no_remote(tmp_path: Path) -> None:
    root = _repo(tmp_path / "api", "")
    (root / ".git" / "config").write_bytes(b'[remote "origin"]\n\turl = \xff\xfe\n')
    assert detect_project(root).source == "git-folder"


def test_a_repository_without_a_usable_remote_is_named_after_its_root(tmp_path: Path) -> None:
    for name, config in [
        ("no-remote", "[core]\n\tbare = false\n"),
        ("local-remote", _remote("origin", "/srv/git/shared.git")),
        ("no-config", None),
    ]:
        root = tmp_path / name
        if config is None:
            (root / ".git").mkdir(parents=True)
        else:
            _repo(root, config)
        (root / "docs").mkdir()
        assert detect_project(root / "docs") == DetectedProject(
            name, name, root.resolve(), "git-folder"
        )


def test_outside_any_repository_the_folder_names_the_project(tmp_path: Path) -> None:
    folder = tmp_path / "Scratch Notes\tdraft"
    folder.mkdir()
    assert detect_project(folder) == DetectedProject(
        "Scratch-Notes-draft", "Scratch-Notes-draft", folder.resolve(), "folder"
    )


def test_a_file_outside_any_repository_is_named_after_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "todo.md").write_text("- ship\n", encoding="utf-8")
    assert detect_project(folder / "todo.md") == DetectedProject(
        "notes", "notes", folder.resolve(), "folder"
    )


def test_ids_stay_within_the_project_id_length_limit(tmp_path: Path) -> None:
    long_url = "https://github.com/acme/" + "a" * 200
    assert normalise_remote_url(long_url) is None
    root = _repo(tmp_path / ("r" * 250), _remote("origin", long_url))
    assert detect_project(root) == DetectedProject(
        "r" * 200, "r" * 200, root.resolve(), "git-folder"
    )


def test_the_nearest_repository_wins(tmp_path: Path) -> None:
    outer = _repo(tmp_path / "outer", _remote("origin", "https://github.com/acme/outer"))
    inner = _repo(outer / "vendor" / "inner", _remote("origin", "https://github.com/acme/inner"))
    assert detect_project(inner / ".").id == "github.com/acme/inner"
    assert detect_project(outer / "vendor").id == "github.com/acme/outer"


def test_a_worktree_git_file_leads_to_the_main_repository_config(tmp_path: Path) -> None:
    main = _repo(tmp_path / "main", _remote("origin", "git@github.com:acme/api.git"))
    gitdir = main / ".git" / "worktrees" / "feature"
    gitdir.mkdir(parents=True)
    (gitdir / "commondir").write_text("../..\n", encoding="utf-8")
    tree = tmp_path / "api-feature"
    tree.mkdir()
    (tree / ".git").write_text(f"gitdir: {gitdir}\n", encoding="utf-8")
    assert detect_project(tree) == DetectedProject(
        "github.com/acme/api", "api", tree.resolve(), "git-remote"
    )


def test_a_submodule_git_file_is_relative_to_its_folder(tmp_path: Path) -> None:
    main = _repo(tmp_path / "app", _remote("origin", "https://github.com/acme/app"))
    modules = main / ".git" / "modules" / "lib"
    modules.mkdir(parents=True)
    (modules / "config").write_text(_remote("origin", "https://github.com/acme/lib"), "utf-8")
    sub = main / "lib"
    sub.mkdir()
    (sub / ".git").write_text("gitdir: ../.git/modules/lib\n", encoding="utf-8")
    assert detect_project(sub).id == "github.com/acme/lib"


def test_a_broken_git_file_still_marks_the_repository_root(tmp_path: Path) -> None:
    root = tmp_path / "odd"
    root.mkdir()
    (root / ".git").write_text("not a gitdir line\n", encoding="utf-8")
    assert detect_project(root) == DetectedProject("odd", "odd", root.resolve(), "git-folder")


def test_credentials_in_a_remote_never_reach_the_project(tmp_path: Path) -> None:
    url = f"https://deploy:{SECRET}@github.com/acme/api.git"
    project = detect_project(_repo(tmp_path / "api", _remote("origin", url)))
    assert project.id == "github.com/acme/api"
    assert SECRET not in repr(project)
    assert "deploy" not in repr(project)


def _git(cwd: Path, *args: str) -> None:
    git = shutil.which("git")
    assert git is not None
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    identity = ["-c", "user.name=memvault", "-c", "user.email=memvault@example.invalid"]
    subprocess.run([git, *identity, *args], cwd=cwd, env=env, check=True, capture_output=True)


def test_repositories_made_by_git_itself_are_read(tmp_path: Path) -> None:
    main, tree = tmp_path / "api", tmp_path / "api-feature"
    if shutil.which("git"):
        main.mkdir()
        _git(main, "init", "-q")
        _git(main, "remote", "add", "upstream", "https://github.com/upstream/api.git")
        _git(main, "remote", "add", "origin", f"https://bot:{SECRET}@github.com/Acme/API.git")
        _git(main, "commit", "-q", "--allow-empty", "-m", "start")
        _git(main, "worktree", "add", "-q", str(tree))
    else:  # the same files git writes, so the test still proves the reader without git
        config = _remote("upstream", "https://github.com/upstream/api.git")
        _repo(main, config + _remote("origin", f"https://bot:{SECRET}@github.com/Acme/API.git"))
        gitdir = main / ".git" / "worktrees" / "api-feature"
        gitdir.mkdir(parents=True)
        (gitdir / "commondir").write_text("../..\n", encoding="utf-8")
        tree.mkdir()
        (tree / ".git").write_text(f"gitdir: {gitdir}\n", encoding="utf-8")
    assert (tree / ".git").is_file()

    for folder in (main, tree):
        project = detect_project(folder)
        assert project == DetectedProject(
            "github.com/acme/api", "api", folder.resolve(), "git-remote"
        )
        assert SECRET not in repr(project)
