"""irctest controller for palaver-server.

irctest (https://github.com/progval/irctest) starts a fresh palaver-server through this
controller for every test, in a throwaway directory holding its SQLite database and log:

    cd /tmp/irctest && PYTHONPATH=/path/to/palaver/scripts/irctest \
        .venv/bin/python -m pytest --controller palaver irctest/server_tests/join.py

(scripts/irctest/run.sh does this with MODE=controller.)

Environment:
  PALAVER_SERVER       the server binary (default: target/debug/palaver-server of this checkout)
  PALAVER_IRCTEST_LOGS a directory: each server's non-empty log is copied there, named after
                       the test, before the server's directory is removed
  IRCTEST_DEBUG_LOGS   1: the server logs at debug level to irctest's output instead of its file

Accounts are built into Palaver, so there is no services controller: registerUser() registers
over IRC with draft/account-registration (REGISTER) on the running server (a password too long
for an IRC line goes through `palaver-server account add` instead). The oper account
`operuser` (password `operpassword`, what irctest's OPER tests use) is created with
`palaver-server account add` before the server starts, and made an admin with --admin.
"""

import atexit
import os
from pathlib import Path
import shutil
import subprocess
import time
from typing import IO, Optional, Set, Type

from irctest import patma
from irctest.basecontrollers import (
    BaseServerController,
    DirectoryBasedController,
    ProcessStopped,
)
from irctest.cases import BaseServerTestCase
from irctest.exceptions import ConnectionClosed
from irctest.runner import NotImplementedByController
from irctest.specifications import Capabilities

OPER_NAME = "operuser"
OPER_PASSWORD = "operpassword"
SERVER_NAME = "My.Little.Server"
# irctest registers accounts with passwords as short as "bar" (sasl.py's re-authentication
# tests), and no server test checks that a weak password is refused.
MIN_PASSWORD_LENGTH = 1


def server_binary() -> str:
    default = Path(__file__).resolve().parents[2] / "target" / "debug" / "palaver-server"
    return os.environ.get("PALAVER_SERVER") or str(default)


def server_env() -> dict:
    # A PALAVER_* variable of the caller's (PALAVER_CONFIG, PALAVER_REDIS, ...) would change
    # the server under test: every setting the tests depend on is passed as a flag.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALAVER_")}
    # A startup error in one line rather than with anyhow's backtrace (panics keep theirs).
    env["RUST_LIB_BACKTRACE"] = "0"
    return env


# Controllers whose server runs. A test case whose setUp() raises after starting the server
# (bot_mode.py skips there when BOT is not in 005) never gets tearDown(), so its server would
# run until the end: a new test (tests run one at a time in a pytest process) or the end of
# the run stops such leftovers.
_running: Set["PalaverController"] = set()


def _kill_leftovers(keep: Optional["PalaverController"] = None) -> None:
    for controller in list(_running):
        if controller is not keep:
            controller.kill()


atexit.register(_kill_leftovers)


class PalaverController(BaseServerController, DirectoryBasedController):
    software_name = "Palaver"
    _port_wait_interval = 0.02
    supported_sasl_mechanisms: Set[str] = {"PLAIN"}
    supports_sts = False

    # Capabilities Palaver offers that irctest knows: a test asking for one of these that gets
    # NAK fails instead of being skipped.
    capabilities = frozenset(
        (
            Capabilities.AWAY_NOTIFY,
            Capabilities.BATCH,
            Capabilities.ECHO_MESSAGE,
            Capabilities.LABELED_RESPONSE,
            Capabilities.MESSAGE_TAGS,
            Capabilities.MULTI_PREFIX,
            Capabilities.SERVER_TIME,
        )
    )

    # Checked by isupport.py's testValues (kept to the tokens that do not follow settings).
    isupport = {
        "CASEMAPPING": "rfc8265",
        "CHANTYPES": "#",
        "TARGMAX": patma.ANYSTR,
        "UTF8ONLY": None,
    }

    _log: Optional[IO] = None

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: Optional[str],
        ssl: bool,
        run_services: bool,
        faketime: Optional[str],
        websocket_hostname: Optional[str] = None,
        websocket_port: Optional[int] = None,
    ) -> None:
        if websocket_hostname is not None or websocket_port is not None:
            # Palaver serves IRC over WebSocket on /ws of its HTTP listener; irctest connects
            # to ws://host:port/ (where Palaver serves its web client).
            raise NotImplementedByController("Websocket")
        assert self.proc is None
        _kill_leftovers(keep=self)
        self.port = port
        self.hostname = hostname
        self.create_config()
        assert self.directory
        db = self.directory / "palaver.db"

        # The IRC operator: an admin account, created before the server opens the database.
        self._account_add(OPER_NAME, OPER_PASSWORD)

        # Bind to loopback, as the ergo controller does (irctest's clients connect to
        # 0.0.0.0, which Linux routes to 127.0.0.1).
        if ssl:
            # Not gen_ssl(): its certificates are X.509 v1, which rustls refuses.
            cert, key = self.directory / "cert.pem", self.directory / "key.pem"
            subprocess.run(
                [server_binary(), "gen-cert", f"--cert={cert}", f"--key={key}"],
                check=True,
                capture_output=True,
                env=server_env(),
            )
            (_, plain_port) = self.get_hostname_and_port()
            listeners = [
                f"--irc-bind=127.0.0.1:{plain_port}",
                f"--irc-tls-bind=127.0.0.1:{port}",
                "--tls-bind=127.0.0.1:0",
                "--https-bind=127.0.0.1:0",
                f"--tls-cert={cert}",
                f"--tls-key={key}",
            ]
        else:
            listeners = [f"--irc-bind=127.0.0.1:{port}"]

        self._args = [
            server_binary(),
            "--bind=127.0.0.1:0",
            *listeners,
            "--http-bind=127.0.0.1:0",
            "--no-stdin",
            f"--database={db}",
            f"--server-name={SERVER_NAME}",
            f"--min-password-length={MIN_PASSWORD_LENGTH}",
            "--rate-per-second=0",
            "--max-connections-per-ip=100000",
            "--max-new-connections-per-minute=0",
            "--password-attempts-per-address=0",
            "--password-workers=1",
            "--log-level=" + ("debug" if self.debug_mode else "warn"),
            f"--admin={OPER_NAME}",
        ]
        if password is not None:
            self._args.append(f"--irc-password={password}")

        if faketime and shutil.which("faketime"):
            self._args = ["faketime", "-f", faketime, *self._args]
            self.faketime_enabled = True

        self._start()

    def _account_add(self, name: str, password: str) -> None:
        assert self.directory
        add = subprocess.run(
            [
                server_binary(),
                f"--database={self.directory / 'palaver.db'}",
                f"--min-password-length={MIN_PASSWORD_LENGTH}",
                "account",
                "add",
                name,
            ],
            input=f"{password}\n",
            capture_output=True,
            text=True,
            env=server_env(),
        )
        if add.returncode != 0:
            raise RuntimeError(
                f"palaver-server account add {name} failed ({add.returncode}): "
                + add.stderr.strip()[:2000]
            )

    def _start(self) -> None:
        assert self.directory
        _running.add(self)
        if self.debug_mode:
            # execute() streams stdout/stderr into irctest's output
            self.proc = self.execute(self._args, proc_name="palaver", env=server_env())
        else:
            self._log = open(self.directory / "server.log", "ab")
            self.proc = self.execute(
                self._args, stdout=self._log, stderr=self._log, env=server_env()
            )

    def restart(self) -> None:
        self.kill_proc()
        if self._log:
            self._log.close()
        self.port_open = False
        self._start()
        self.wait_for_port()

    def _log_excerpt(self, chars: int = 1500) -> str:
        """The start (a startup error) and the end (a panic) of the server's log."""
        if not self.directory:
            return ""
        try:
            text = (self.directory / "server.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""
        if len(text) <= 2 * chars:
            return text
        return text[:chars] + "\n[...]\n" + text[-chars:]

    def check_is_alive(self) -> None:
        try:
            super().check_is_alive()
        except ProcessStopped as e:
            raise ProcessStopped(f"{e}; palaver-server said:\n{self._log_excerpt()}") from None

    def wait_for_services(self) -> None:
        # Accounts are part of the server: nothing else to wait for.
        pass

    def kill(self) -> None:
        _running.discard(self)
        if self.proc:
            self.kill_proc()
        if self._log:
            self._log.close()
            self._log = None
        keep = os.environ.get("PALAVER_IRCTEST_LOGS")
        log = self.directory / "server.log" if self.directory else None
        if keep and log and log.exists() and log.stat().st_size > 0:
            # PYTEST_CURRENT_TEST: "irctest/server_tests/x.py::Class::test (teardown)"
            test = os.environ.get("PYTEST_CURRENT_TEST", "unknown").split(" ")[0]
            name = test.split("/")[-1].replace("::", ".").replace(".py.", ".")
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(log, Path(keep) / f"{name}.{int(time.time() * 1000)}.log")
        super().kill()

    def registerUser(
        self,
        case: BaseServerTestCase,
        username: str,
        password: Optional[str] = None,
    ) -> None:
        """Registers `username` on the running server with draft/account-registration, or,
        for a password too long for an IRC line, with `palaver-server account add`."""
        assert password
        if len(f"REGISTER * * {password}\r\n".encode()) > 512:
            # e.g. sasl.py's testPlainLarge800 (a 592-byte password): REGISTER would get 417.
            # The CLI writes to the database the server has open (SQLite in WAL mode), and
            # the server reads accounts from it when they log in.
            self._account_add(username, password)
            return
        client = case.addClient(name=f"register-{username}", show_io=False)
        case.sendLine(client, "CAP LS 302")
        case.sendLine(client, "CAP REQ :draft/account-registration")
        case.sendLine(client, f"NICK {username}")
        case.sendLine(client, f"USER {username} 0 * :{username}")
        case.sendLine(client, "CAP END")
        while True:
            msg = case.getRegistrationMessage(client)
            if msg.command == "001":
                break
            if msg.command in ("432", "433", "ERROR") or (
                msg.command == "CAP" and msg.params[1:2] == ["NAK"]
            ):
                raise AssertionError(f"registerUser({username!r}): got {msg}")
        case.getMessages(client)
        case.sendLine(client, f"REGISTER * * {password}")
        deadline = time.time() + 10
        result = None
        while result is None:
            for msg in case.getMessages(client):
                if msg.command in ("REGISTER", "FAIL", "417"):
                    result = msg
                    break
            if result is None and time.time() > deadline:
                raise AssertionError(f"registerUser({username!r}): no answer to REGISTER")
        if result.command != "REGISTER" or result.params[:1] != ["SUCCESS"]:
            raise AssertionError(f"registerUser({username!r}): got {result}")
        case.sendLine(client, "QUIT")
        # Wait for the socket to close, so that the nick is free for the test.
        deadline = time.time() + 10
        while True:
            try:
                case.clients[client].getMessages(synchronize=False)
            except (OSError, ConnectionClosed):
                break
            if time.time() > deadline:
                raise AssertionError(f"registerUser({username!r}): not disconnected")
        case.removeClient(client)


def get_irctest_controller_class() -> Type[PalaverController]:
    return PalaverController
