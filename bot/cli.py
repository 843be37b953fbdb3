"""The ``hrbot`` command line: run the bot, check its health, migrate, import outlets,
invite coordinators, see and prune the team."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

import typer

from bot.app import Runtime, SchemaError, build_runtime, prepare_database
from bot.channels.errors import ChannelError
from bot.content import ContentError, load_outlets
from bot.core.words import Words
from bot.db.base import utcnow
from bot.db.migrate import current_revision, head_revision, upgrade
from bot.domain import Channel, Role
from bot.health import STATUS_FILE, StatusError, judge, probe_database, read_status
from bot.instance import InstanceBusy, InstanceLock, instance_lock
from bot.logs import configure_logging
from bot.services import consultations, invites, team
from bot.services.outlets import StockPromised, import_outlets, list_outlets
from bot.settings import Settings, SettingsError, load_settings
from bot.startup import hrbot_version
from bot.web import ListenError

T = TypeVar("T")

app = typer.Typer(
    help="hrbot: anonymous harm-reduction supplies, naloxone and referrals (Telegram, Signal).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: typer's rich panels print a type such as <bool> even for flags like --help.
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
outlets_app = typer.Typer(help="Peer-run outlets.", no_args_is_help=True)
invite_app = typer.Typer(help="One-time enrolment codes.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(outlets_app, name="outlets")
team_app = typer.Typer(help="Staff roles by handle; removing coordinators.", no_args_is_help=True)
app.add_typer(invite_app, name="invite")
app.add_typer(team_app, name="team")
consultation_app = typer.Typer(
    help="Community consultations (anonymous surveys).", no_args_is_help=True
)
app.add_typer(consultation_app, name="consultation")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"hrbot {hrbot_version()}")
        raise typer.Exit


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """hrbot: anonymous harm-reduction supplies, naloxone and referrals (Telegram, Signal)."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"hrbot: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    configure_logging(settings.log_level)
    return settings


def _configured_channels(settings: Settings) -> list[Channel]:
    channels = []
    if settings.telegram_token is not None:
        channels.append(Channel.TELEGRAM)
    if settings.signal_number or settings.signal_service:
        channels.append(Channel.SIGNAL)
    return channels


def _with_runtime(
    work: Callable[[Runtime], Awaitable[T]],
    *,
    prepare: bool = True,
    create: bool = False,
    settings: Settings | None = None,
) -> T:
    """Build the runtime, run ``work`` in an event loop, and turn known errors into one line.

    Only ``create=True`` commands may start a new SQLite database.
    """
    settings = settings or _settings()
    try:
        runtime = build_runtime(settings, create=create)
    except (SettingsError, ContentError, SchemaError) as exc:
        raise _fail(str(exc)) from None

    async def main() -> T:
        try:
            if prepare:
                await prepare_database(runtime)
            return await work(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(main())
    except (SchemaError, ContentError, SettingsError) as exc:
        raise _fail(str(exc)) from None
    except (ChannelError, InstanceBusy) as exc:
        raise _fail(str(exc), 1) from None
    except ListenError as exc:  # an OSError: before the database's
        raise _fail(f"invalid setting {settings.web_setting}: {exc.strerror}") from None
    except OSError as exc:
        raise _fail(f"cannot reach the database: {exc.strerror or exc}") from None
    except KeyboardInterrupt:  # Ctrl+C before the bot listens for it (e.g. while migrating)
        raise _fail("interrupted", 130) from None


@app.command()
def run() -> None:
    """Run the bot on every configured channel until Ctrl+C or SIGTERM.

    SQLite is upgraded automatically, and only one instance may run on an SQLite file
    (:mod:`bot.instance`). A channel whose server cannot be reached is retried with back-off;
    a rejected token stops at once.
    """
    settings = _settings()
    if not _configured_channels(settings):
        # Before anything is created: no key, no database for a bot that cannot run.
        raise _fail(
            "no channel configured: set HRBOT_TELEGRAM_TOKEN (Telegram) or "
            "HRBOT_SIGNAL_NUMBER and HRBOT_SIGNAL_SERVICE (Signal); `hrbot demo` runs "
            "without either"
        )

    async def work(runtime: Runtime) -> None:
        lock = instance_lock(runtime.settings)
        if lock is not None:
            # Before migrating: a second instance on the file changes nothing of the first's.
            lock.acquire()
        try:
            await prepare_database(runtime)
            await _serve(runtime, lock)
        finally:
            if lock is not None:
                lock.release()

    _with_runtime(work, create=True, prepare=False, settings=settings)


async def _serve(runtime: Runtime, lock: InstanceLock | None) -> None:
    """Build the engine and the configured channels, and run them until stopped."""
    from bot.channels.signal import SignalChannel
    from bot.channels.telegram import TelegramChannel
    from bot.runner import (
        BotService,
        ChannelService,
        build_engine,
        fanout_config,
        serve,
        signal_challenge_hook,
    )
    from bot.startup import ChannelFacts, announce
    from handlers.routes import build_routes

    settings = runtime.settings
    engine = build_engine(runtime, build_routes(), clock=utcnow)
    channels: list[ChannelService] = []
    if settings.telegram_token is not None:
        channels.append(TelegramChannel.from_settings(engine, settings))
    if settings.signal_number or settings.signal_service:
        channels.append(
            SignalChannel.from_settings(
                engine, settings, on_rate_limit=signal_challenge_hook(engine)
            )
        )

    async def ready() -> None:
        facts = [ChannelFacts(c.name, c.username) for c in channels]
        await announce(runtime, facts, now=engine.clock())

    service = BotService(
        engine,
        channels,
        fanout=fanout_config(settings),
        status_file=settings.data_dir / STATUS_FILE,
        web=settings.web_address,
        lock=lock,
    )
    await serve(service, ready=ready)


@app.command()
def health() -> None:
    """Check the running bot: exit 0 when its database and channels answer.

    Exits 1 unless the database answers, the bot's clock ticked lately and every configured
    channel is connected (from the status file `hrbot run` keeps in the data directory).
    """
    settings = _settings()

    async def checks() -> list[str]:
        database = await probe_database(settings.effective_database_url)
        try:
            status = read_status(settings.data_dir / STATUS_FILE)
        except StatusError as exc:
            raise _fail(str(exc), 1) from None
        channels = [c.value for c in _configured_channels(settings)]
        found = [database, *judge(status, channels=channels, now=utcnow())]
        for check in found:
            typer.echo(str(check))
        return [c.name for c in found if not c.ok]

    if asyncio.run(checks()):
        raise typer.Exit(1)


@app.command()
def demo(
    keep: Annotated[
        Path | None, typer.Option(help="Keep the demo database in this folder.")
    ] = None,
) -> None:
    """Watch a whole journey against a local Telegram emulator: no token, no set-up."""
    import tempfile

    from bot.demo import run_demo

    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="hrbot-demo-") as tmp:
        folder = keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            result = asyncio.run(run_demo(data_dir=folder, out=typer.echo))
        except (SettingsError, ContentError) as exc:
            raise _fail(str(exc)) from None
    outcome = "handed over" if result.handed_over else "NOT handed over"
    typer.echo(f"\nrequest {result.reference}: {outcome}")
    if not result.handed_over:
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""

    async def work(runtime: Runtime) -> None:
        await upgrade(runtime.engine)
        await prepare_database(runtime, auto_upgrade=False)
        typer.echo(f"database at revision {await current_revision(runtime.engine)}")

    _with_runtime(work, prepare=False, create=True)


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and of this code."""

    async def work(runtime: Runtime) -> None:
        typer.echo(f"database: {await current_revision(runtime.engine) or 'empty'}")
        typer.echo(f"code:     {head_revision()}")

    _with_runtime(work, prepare=False)


@outlets_app.command("import")
def outlets_import(
    file: Annotated[Path, typer.Argument(help="outlets.yaml or outlets.csv")],
    reset_stock: Annotated[
        bool,
        typer.Option(
            "--reset-stock",
            help="Set every stock count the file lists, over the counts peers keep with /stock.",
        ),
    ] = False,
) -> None:
    """Import outlets from YAML or CSV: every row is checked first, then all are applied.

    A re-import keeps the stock counts peers set; a new outlet or item gets the file's count.
    """

    def count(n: int, noun: str) -> str:
        return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

    async def work(runtime: Runtime) -> None:
        content = runtime.content
        specs = load_outlets(file, content.catalogue, content.gazetteer)
        try:
            async with runtime.sessions.begin() as session:
                result = await import_outlets(
                    session,
                    specs=specs,
                    catalogue=content.catalogue,
                    now=utcnow(),
                    reset_stock=reset_stock,
                )
        except StockPromised as exc:
            raise _fail(str(exc)) from None
        summary = (
            f"imported {count(len(specs), 'outlet')}: {result.created} created, "
            f"{result.updated} updated, {result.unchanged} unchanged"
        )
        if reset_stock:
            summary += f"; {count(result.stock_set, 'count')} reset from the file"
        elif result.stock_kept:
            summary += (
                f"; live stock kept for {count(result.stock_kept, 'item')} "
                "(use --reset-stock to set counts from the file)"
            )
        typer.echo(summary)
        for key, code in result.withdrawn:
            typer.echo(f"{key}: no longer offers {code} (not listed in the file)")

    try:
        _with_runtime(work)
    except typer.Exit as exit_:
        if exit_.exit_code:
            typer.echo("nothing was imported", err=True)
        raise


@outlets_app.command("list")
def outlets_list() -> None:
    """List outlets: key, kind, area, active, items in stock."""

    async def work(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            rows = await list_outlets(session)
        if not rows:
            typer.echo("no outlets yet: hrbot outlets import FILE")
            return
        for row in rows:
            state = "active" if row.active else "inactive"
            typer.echo(
                f"{row.key:<28} {row.kind:<10} {row.area_code:<22} {state:<8} "
                f"{row.items_in_stock:>3} items  {row.name}"
            )

    _with_runtime(work)


@invite_app.command("coordinator")
def invite_coordinator() -> None:
    """Print a one-time code that makes whoever sends it to the bot a coordinator."""

    async def work(runtime: Runtime) -> None:
        ttl = runtime.settings.invite_ttl
        async with runtime.sessions.begin() as session:
            code = await invites.create(
                session, codes_key=runtime.keys.codes, role=Role.COORDINATOR, ttl=ttl, now=utcnow()
            )
        hours = int(ttl.total_seconds() // 3600)
        typer.echo(code)
        typer.echo(
            f"Send `/join {code}` to the bot within {hours} hours. It works once; "
            "it is not stored anywhere in readable form.",
            err=True,
        )

    _with_runtime(work)


@team_app.command("list")
def team_list() -> None:
    """List coordinators and peer workers by handle, with the day each last wrote, and the
    invites nobody has used yet."""

    async def work(runtime: Runtime) -> None:
        now = utcnow()
        async with runtime.sessions() as session:
            members = await team.members(session, now=now)
            open_invites = await team.open_invites(session, now=now)
        for member in members:
            day = member.last_seen_on.strftime("%Y-%m-%d") if member.last_seen_on else "-"
            if member.role is Role.COORDINATOR:
                typer.echo(f"coordinator {member.id:<6} {'':<28} last active {day}")
            else:
                shift = "on shift" if member.on_shift else ""
                typer.echo(
                    f"peer        {member.id:<6} {member.outlet_name or '?':<28} "
                    f"last active {day} {shift}".rstrip()
                )
        for invite in open_invites:
            until = invite.expires_hour.strftime("%Y-%m-%d %H:00")
            typer.echo(
                f"invite      {invite.id:<6} {invite.role.value:<12}"
                f"{invite.outlet_name or '':<16} until about {until} UTC"
            )

    _with_runtime(work)


@team_app.command("remove-coordinator")
def team_remove_coordinator(
    coordinator_id: Annotated[int, typer.Argument(help="The number in `hrbot team list`.")],
) -> None:
    """Remove a coordinator at once (a lost or seized phone), with their unused invites.

    The last coordinator stays: run `hrbot invite coordinator` and join from a phone you hold
    first. Peer workers are removed by a coordinator in the chat (/team), where the pickups
    and offers they held are routed on and people are told.
    """

    async def work(runtime: Runtime) -> None:
        async with runtime.sessions.begin() as session:
            result = await team.remove_coordinator(
                session, coordinator_id=coordinator_id, actor="cli", now=utcnow()
            )
        if result is team.CoordinatorRemoval.GONE:
            raise _fail(f"no coordinator {coordinator_id}: see `hrbot team list`")
        if result is team.CoordinatorRemoval.LAST:
            raise _fail(
                f"coordinator {coordinator_id} is the last one: `hrbot invite coordinator`, "
                "join with a phone you hold, then remove this one"
            )
        typer.echo(f"removed coordinator {coordinator_id}")

    _with_runtime(work)


@team_app.command("revoke")
def team_revoke(
    invite_id: Annotated[
        int | None, typer.Argument(help="The invite number in `hrbot team list`; none: all.")
    ] = None,
) -> None:
    """Revoke one unused invite, or every one."""

    async def work(runtime: Runtime) -> None:
        async with runtime.sessions.begin() as session:
            gone = await team.revoke(session, invite_id=invite_id, actor="cli", now=utcnow())
        typer.echo(f"revoked {gone} invite(s)")

    _with_runtime(work)


def main() -> None:
    """Entry point of the ``hrbot`` script."""
    app()


@consultation_app.command("add")
def consultation_add(
    file: Annotated[Path, typer.Argument(help="a consultation YAML file (see docs/)")],
) -> None:
    """Add a consultation as a draft, checked whole first: any problem saves nothing.

    Open it with /consult in the chat or in the console. docs/consultation.example.yaml
    shows every field.
    """

    async def work(runtime: Runtime) -> None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(f"{file}: cannot read it ({type(exc).__name__})") from None
        languages = tuple(Words.from_content(runtime.settings.content_dir).locales)
        gazetteer = runtime.content.gazetteer
        try:
            data = consultations.load_yaml(text)
            async with runtime.sessions.begin() as session:
                added = await consultations.create(
                    session,
                    data=data,
                    languages=languages,
                    area_codes=gazetteer.codes,
                    now=utcnow(),
                    zone=ZoneInfo(gazetteer.city.timezone),
                )
        except consultations.ConsultationError as exc:
            raise _fail(f"{file}: {exc}") from None
        audience = ", ".join(added.areas) if added.areas else "everyone subscribed to any area"
        typer.echo(
            f"added consultation #{added.id} as a draft: {len(added.questions)} questions, "
            f"for {audience}, closes {added.closes_at.isoformat(timespec='minutes')}; "
            "open it with /consult or in the console"
        )

    try:
        _with_runtime(work)
    except typer.Exit as exit_:
        if exit_.exit_code:
            typer.echo("nothing was saved", err=True)
        raise
