#!/bin/bash
# Runs irctest's server tests against palaver-server.
#
#   scripts/irctest/run.sh core  [SERVER_BIN]   # the core RFC subset
#   scripts/irctest/run.sh ircv3 [SERVER_BIN]   # the IRCv3 subset
#   scripts/irctest/run.sh all   [SERVER_BIN]   # every server test (as one run)
#
# Two modes, the same subsets and markers:
#   MODE=external (default): one server for the whole run (and a second, with a server password,
#     for the PASS tests), irctest's external_server controller.
#   MODE=controller: scripts/irctest/palaver.py starts a fresh server (own database) for each
#     test, registers accounts (registerUser) and the oper account operuser/operpassword, and
#     passes PASS tests' password (--irc-password); $PORT is not used. Non-empty server logs
#     are kept in $OUT/server-logs, one per test.
#
# Needs a checkout of https://github.com/progval/irctest in $IRCTEST (default
# /tmp/irctest, cloned at the commit below if missing) and python3 with pytest (a venv is made
# in $IRCTEST/.venv on first use). SERVER_BIN defaults to target/debug/palaver-server.
# In external mode the server runs on 127.0.0.1:$PORT (default 16667) with a throwaway SQLite file, the name
# irctest expects, and the per-address limits lifted (irctest opens many connections at once).
# Extra pytest arguments go in $PYTEST_ARGS (e.g. PYTEST_ARGS='-k testKick').
set -euo pipefail
SUBSET=${1:-core}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${2:-$HERE/target/debug/palaver-server}
IRCTEST=${IRCTEST:-/tmp/irctest}
IRCTEST_COMMIT=b00c039766f5c497920dd787f7cb0e0005bd5ce0
MODE=${MODE:-external}
PORT=${PORT:-16667}
OUT=${OUT:-$(mktemp -d /tmp/irctest-palaver.XXXX)}
mkdir -p "$OUT"

case $SUBSET in
core)
  MODULES="connection_registration pingpong join part quit messages names topic who whois regressions buffering"
  MARKERS="not IRCv3 and not services and not implementation-specific and not deprecated and not strict" ;;
ircv3)
  MODULES="cap message_tags echo_message labeled_responses sasl chathistory read_marker"
  # "services" stays in: Palaver's accounts are built in, so the SASL and history tests apply.
  MARKERS="not implementation-specific and not deprecated and not strict" ;;
all)
  MODULES=""
  MARKERS="not services and not implementation-specific and not deprecated and not strict" ;;
*) echo "usage: [MODE=external|controller] $0 core|ircv3|all [SERVER_BIN]" >&2; exit 2 ;;
esac
case $MODE in external|controller) ;; *) echo "MODE must be external or controller" >&2; exit 2 ;; esac

if [[ ! -d $IRCTEST ]]; then
  git clone -q https://github.com/progval/irctest "$IRCTEST"
  git -C "$IRCTEST" checkout -q $IRCTEST_COMMIT
fi
if [[ ! -x $IRCTEST/.venv/bin/pytest ]]; then
  python3 -m venv "$IRCTEST/.venv"
  "$IRCTEST/.venv/bin/pip" -q install -r "$IRCTEST/requirements.txt"
fi

FILES=""
for m in $MODULES; do FILES="$FILES irctest/server_tests/$m.py"; done

if [[ $MODE == controller ]]; then
  BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
  # TMPDIR: the servers' directories, and irctest's list of ports in use (irctest_ports.json,
  # unlocked outside pytest-xdist), per run, so that runs side by side do not race on it.
  mkdir -p "$OUT/tmp"
  cd "$IRCTEST"
  TMPDIR=$OUT/tmp PALAVER_SERVER=$BIN PALAVER_IRCTEST_LOGS=$OUT/server-logs \
    PYTHONPATH="$HERE/scripts/irctest${PYTHONPATH:+:$PYTHONPATH}" \
    .venv/bin/python -m pytest --controller palaver \
    -m "$MARKERS" -p no:cacheprovider -rfEs --junitxml="$OUT/junit.xml" $FILES ${PYTEST_ARGS:-} \
    > "$OUT/pytest.txt" 2>&1 || true
  grep -E '^(FAILED|ERROR|SKIPPED) ' "$OUT/pytest.txt" || true
  tail -1 "$OUT/pytest.txt"
  echo "details: $OUT"
  exit 0
fi

# One external server, as irctest's external mode has it: throwaway SQLite, the limits lifted,
# the oper account irctest's OPER tests use (IRC operators are Palaver's admins). irctest's PASS
# tests (PasswordedConnectionRegistrationTestCase) need the server password "testpassword",
# which every other test must not need: that one class runs against a second server started
# with --irc-password testpassword, as irctest's own controllers start one per class.
start_server() { # PORT DIR [extra flags]
  local port=$1 dir=$2; shift 2
  mkdir -p "$dir"
  echo operpassword | "$BIN" --database "$dir/palaver.db" --min-password-length 6 \
    account add operuser > "$dir/account.log" 2>&1
  "$BIN" --bind 127.0.0.1:0 --irc-bind 127.0.0.1:$port --http-bind 127.0.0.1:0 --no-stdin \
    --database "$dir/palaver.db" --server-name My.Little.Server --min-password-length 6 \
    --admin operuser --password-attempts-per-address 0 --password-attempts-per-account 0 \
    --rate-per-second 0 --max-connections-per-ip 100000 --max-new-connections-per-minute 0 \
    --log-level warn "$@" > "$dir/server.log" 2>&1 &
  SERVERS="${SERVERS:-} $!"
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
}
trap 'kill $SERVERS 2>/dev/null; wait $SERVERS 2>/dev/null' EXIT
start_server "$PORT" "$OUT/server"
start_server "$((PORT + 1))" "$OUT/server-with-password" --irc-password testpassword

run_pytest() { # PORT NAME -k-EXPRESSION
  (cd "$IRCTEST" && IRCTEST_SERVER_HOSTNAME=127.0.0.1 IRCTEST_SERVER_PORT=$1 \
    IRCTEST_SERVER_SASL_MECHS=PLAIN .venv/bin/python -m pytest \
    --controller irctest.controllers.external_server -m "$MARKERS" -k "$3" -p no:cacheprovider \
    -rfEs --junitxml="$OUT/junit-$2.xml" $FILES ${PYTEST_ARGS:-} > "$OUT/pytest-$2.txt" 2>&1 || true)
  grep -E '^(FAILED|ERROR|SKIPPED) ' "$OUT/pytest-$2.txt" || true
  echo "$2: $(tail -1 "$OUT/pytest-$2.txt")"
}
run_pytest "$PORT" main "not PasswordedConnectionRegistrationTestCase"
run_pytest "$((PORT + 1))" password "PasswordedConnectionRegistrationTestCase"
echo "details: $OUT"
