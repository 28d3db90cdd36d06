"""Registry commands: pull, push, login, logout, search — Podman's names, flags and output.

Progress goes to stderr (a live display on a terminal, plain lines in a pipe),
the result to stdout: ``pull`` prints the image id, ``push`` nothing unless
``--digestfile``. Each command imports the registry client (httpx) only when
it runs, so ``podium ps`` never pays for it.
"""

from __future__ import annotations

import argparse
import sys

from .command import Command, Parser, flag, parse_bool as _bool

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _common(p: Parser) -> None:
    p.add_argument("--authfile", help="auth file (default $REGISTRY_AUTH_FILE or "
                   "$XDG_RUNTIME_DIR/containers/auth.json)")
    p.add_argument("--tls-verify", type=_bool, default=None, metavar="BOOL",
                   help="require HTTPS with a verified certificate (default: registries.conf)")
    p.add_argument("--creds", help="USER[:PASSWORD] for the registry")
    flag(p, "-q", "--quiet", help="no progress output")


def _creds(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep:
        import getpass
        password = getpass.getpass(f"Password for {user}: ")
    return user, password


def _progress(quiet: bool) -> Any:
    from podium.engine.registry.progress import Progress
    return Progress() if quiet else Progress(sys.stderr)


# ---- pull -------------------------------------------------------------------------

def _pull_args(p: Parser) -> None:
    _common(p)
    p.add_argument("--platform", help="OS/ARCH[/VARIANT] to pick from a manifest list")
    p.add_argument("--arch", help="architecture to pick (amd64, arm64, ...)")
    p.add_argument("--os", help="operating system to pick (linux)")
    p.add_argument("--variant", help="architecture variant to pick (v7, v8)")
    flag(p, "-a", "--all-tags", help="pull every tag of the repository")
    p.add_argument("reference", nargs="+", help="image to pull (registry/name[:tag|@digest])")


def pull_options(a: argparse.Namespace, *, quiet: bool = False) -> Any:
    """PullOptions from pull's (and run/create's) flags."""
    from podium.engine.registry import manifest
    from podium.engine.registry.pull import PullOptions
    plat = None
    if any(getattr(a, k, None) for k in ("platform", "arch", "os", "variant")):
        plat = manifest.platform(getattr(a, "platform", None), os=getattr(a, "os", None),
                                 arch=getattr(a, "arch", None), variant=getattr(a, "variant", None))
    return PullOptions(platform=plat, tls_verify=getattr(a, "tls_verify", None),
                       authfile=getattr(a, "authfile", None), credentials=_creds(getattr(a, "creds", None)),
                       progress=_progress(quiet or getattr(a, "quiet", False)))


def do_pull(a: argparse.Namespace, g: Any) -> int:
    refs = list(a.reference)
    if a.all_tags:
        from podium.engine.registry.pull import client_for, conf_of
        from podium.engine.registry.reference import parse
        opts = pull_options(a)
        expanded = []
        for r in refs:
            ref = parse(r)
            with client_for(ref, insecure=conf_of(opts).insecure(ref.domain), opts=opts) as c:
                expanded += [f"{ref.repo}:{t}" for t in c.tags(ref.path)]
        refs = expanded
    for r in refs:
        img = g.engine.images.pull(r, pull_options(a))
        print(img["id"])
    return 0


# ---- push -------------------------------------------------------------------------

def _push_args(p: Parser) -> None:
    _common(p)
    p.add_argument("--digestfile", help="write the pushed manifest's digest to this file")
    p.add_argument("--compression-format", default="gzip", choices=["gzip", "none"],
                   help="layer compression (default gzip)")
    p.add_argument("image", help="local image")
    p.add_argument("destination", nargs="?", help="registry/name[:tag] (default: the image's name)")


def do_push(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.registry.push import PushOptions
    opts = PushOptions(tls_verify=a.tls_verify, authfile=a.authfile, credentials=_creds(a.creds),
                       progress=_progress(a.quiet), compression=a.compression_format)
    digest = g.engine.images.push(a.image, a.destination, opts)
    if a.digestfile:
        with open(a.digestfile, "w") as f:
            f.write(digest)
    return 0


# ---- login / logout ---------------------------------------------------------------

def _login_args(p: Parser) -> None:
    p.add_argument("--authfile", help="auth file to write")
    p.add_argument("--tls-verify", type=_bool, default=None, metavar="BOOL",
                   help="require HTTPS with a verified certificate (default: registries.conf)")
    p.add_argument("-u", "--username", help="user name")
    p.add_argument("-p", "--password", help="password (prefer --password-stdin)")
    flag(p, "--password-stdin", help="read the password from stdin")
    flag(p, "--get-login", help="print the user name stored for the registry")
    p.add_argument("registry", help="registry host[:port] (or host/namespace)")


def do_login(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import ConfigError
    from podium.engine.registry import login
    if a.get_login:
        print(login.stored_user(a.registry, authfile=a.authfile))
        return 0
    user = a.username
    if user is None:
        if not sys.stdin.isatty():
            raise ConfigError("no user name: use --username")
        user = input("Username: ").strip()
    if a.password_stdin:
        if a.password is not None:
            raise ConfigError("--password and --password-stdin cannot be used together")
        password = sys.stdin.readline().rstrip("\n")
    elif a.password is not None:
        password = a.password
    else:
        import getpass
        if not sys.stdin.isatty():
            raise ConfigError("no password: use --password-stdin")
        password = getpass.getpass("Password: ")
    login.login(a.registry, user, password, authfile=a.authfile, tls_verify=a.tls_verify)
    print("Login Succeeded!")
    return 0


def _logout_args(p: Parser) -> None:
    p.add_argument("--authfile", help="auth file to edit")
    flag(p, "-a", "--all", help="remove every stored credential")
    p.add_argument("registry", nargs="?", help="registry host[:port]")


def do_logout(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import ConfigError
    from podium.engine.registry import auth
    if a.all:
        auth.remove(None, authfile=a.authfile)
        print("Removed login credentials for all registries")
        return 0
    if not a.registry:
        raise ConfigError("missing argument: registry (or --all)")
    if not auth.remove(a.registry, authfile=a.authfile):
        raise ConfigError(f"not logged into {a.registry}")
    print(f"Removed login credentials for {a.registry}")
    return 0


# ---- search -----------------------------------------------------------------------

def _search_args(p: Parser) -> None:
    p.add_argument("--authfile", help="auth file")
    p.add_argument("--tls-verify", type=_bool, default=None, metavar="BOOL",
                   help="require HTTPS with a verified certificate (default: registries.conf)")
    p.add_argument("--limit", type=int, default=25, help="at most this many results")
    flag(p, "--list-tags", help="list the tags of the repository named")
    p.add_argument("--format", help="json, or a Go template such as '{{.Name}}'")
    p.add_argument("term", help="REGISTRY/TERM (repositories whose name contains TERM)")


def do_search(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.registry import login
    from .format import emit, table
    rows = login.search(a.term, list_tags=a.list_tags, limit=a.limit, authfile=a.authfile,
                        tls_verify=a.tls_verify)
    cols = ["NAME", "TAG"] if a.list_tags else ["NAME"]

    def human(rs: list[dict[str, Any]]) -> None:
        table(cols, [[r[c.title()] for c in cols] for r in rs])
    emit(rows, a.format, table=human)
    return 0


COMMANDS = {
    "pull": Command(do_pull, _pull_args, "Pull an image from a registry."),
    "push": Command(do_push, _push_args, "Push an image to a registry."),
    "login": Command(do_login, _login_args, "Log in to a registry (stores credentials in the auth file)."),
    "logout": Command(do_logout, _logout_args, "Remove stored credentials for a registry."),
    "search": Command(do_search, _search_args, "Search a registry's repositories (or list tags)."),
}
