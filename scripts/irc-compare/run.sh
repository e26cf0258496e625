#!/usr/bin/env bash
# Runs one palaver-bench scenario over IRC against ngIRCd, InspIRCd and Palaver's IRC listener in
# one go and prints them side by side (medians over the runs).
#
#   scripts/irc-compare/run.sh fanout --clients 100 --senders 10 --messages 2000 --runs 3
#   scripts/irc-compare/run.sh latency --clients 1000 --runs 3
#
# Arguments are palaver-bench's (scenario and flags; not --protocol, --addr, --server-pid, --json
# or --spawn-server, which this script sets). --runs N (default 3) runs the servers in turn, N
# rounds, so that a slow minute of the machine does not land on one server only.
#
# Installs nothing. Needs ngircd and inspircd (Debian: apt-get install ngircd inspircd; stop and
# disable the system instances they start: systemctl disable --now ngircd inspircd), python3, and
# release builds of palaver-bench and palaver-server:
#   cargo build --release -p palaver-server -p palaver-bench
# Palaver is left out, with a note, when target/release/palaver-server has no --irc-bind.
#
# Environment: BENCH (palaver-bench binary), SERVER (palaver-server binary), SERVERS (which to run,
# default "ngircd inspircd palaver"), OUT (folder for logs and JSON; default a new one in /tmp).
# Ports: ngIRCd 26667, InspIRCd 26668, Palaver IRC 26669 (native 27878), all on 127.0.0.1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BENCH="${BENCH:-$ROOT/target/release/palaver-bench}"
SERVER="${SERVER:-$ROOT/target/release/palaver-server}"
SERVERS="${SERVERS:-ngircd inspircd palaver}"
OUT="${OUT:-$(mktemp -d /tmp/irc-compare.XXXXXX)}"
mkdir -p "$OUT"

NGIRCD_PORT=26667
INSPIRCD_PORT=26668
PALAVER_IRC_PORT=26669
PALAVER_PORT=27878
# The same per-connection limits palaver-bench --spawn-server lifts (crates/palaver-bench/src/spawn.rs).
PALAVER_FLAGS=(--rate-per-second 0 --max-connections 1000000 --max-connections-per-ip 1000000
    --max-new-connections-per-minute 0
    --outbound-queue 32768 --outbound-queue-bytes 16777216 --join-timeout-secs 120)

die() { echo "run.sh: $*" >&2; exit 1; }

# Split our --runs from the bench's arguments.
RUNS=3
ARGS=()
while (($#)); do
    case "$1" in
        --runs) RUNS="$2"; shift 2 ;;
        --runs=*) RUNS="${1#--runs=}"; shift ;;
        --protocol* | --addr* | --server-pid* | --json | --spawn-server)
            die "$1 is set by this script; pass only the scenario and its flags" ;;
        *) ARGS+=("$1"); shift ;;
    esac
done
((${#ARGS[@]})) || ARGS=(fanout)
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs takes a positive number"

# What is there.
missing=()
for s in $SERVERS; do
    case "$s" in
        ngircd | inspircd) command -v "$s" >/dev/null || missing+=("$s") ;;
        palaver) ;;
        *) die "unknown server '$s' in SERVERS (ngircd, inspircd, palaver)" ;;
    esac
done
if ((${#missing[@]})); then
    die "not installed: ${missing[*]}. On Debian: apt-get install -y ${missing[*]} (then stop the
system instance it starts: systemctl disable --now ${missing[*]})"
fi
command -v python3 >/dev/null || die "python3 is needed for the summary table"
[[ -x "$BENCH" ]] || die "no $BENCH: cargo build --release -p palaver-bench (or set BENCH)"
for port in $NGIRCD_PORT $INSPIRCD_PORT $PALAVER_IRC_PORT $PALAVER_PORT; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "127.0.0.1:$port is already in use (a server left from an earlier run?)"
    fi
done

# The servers get the hard open-file limit, as palaver-bench gives itself.
ulimit -n "$(ulimit -Hn)"

# Where inspircd.conf sends InspIRCd's own log (connections, quits and their reasons).
INSPIRCD_LOG=/tmp/palaver-irc-compare-inspircd.log
PIDS=()
stop_all() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    [[ -n "${DB_DIR:-}" ]] && rm -rf "$DB_DIR"
    [[ -f "$INSPIRCD_LOG" ]] && cp "$INSPIRCD_LOG" "$OUT/inspircd.own.log"
    return 0
}
trap stop_all EXIT
trap 'exit 130' INT TERM

wait_port() { # name port pid
    for _ in $(seq 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
        kill -0 "$3" 2>/dev/null || die "$1 exited at start: see $OUT/$1.log"
        sleep 0.05
    done
    die "$1 did not listen on 127.0.0.1:$2: see $OUT/$1.log"
}

declare -A PORT PID
for s in $SERVERS; do
    case "$s" in
        ngircd)
            # In the foreground; logs to standard error.
            ngircd --nodaemon --config "$HERE/ngircd.conf" >"$OUT/ngircd.log" 2>&1 &
            PID[ngircd]=$!; PORT[ngircd]=$NGIRCD_PORT
            ;;
        inspircd)
            # In the foreground; its own log (INSPIRCD_LOG) is copied to $OUT at the end.
            : >"$INSPIRCD_LOG"
            insp=(inspircd --config "$HERE/inspircd.conf" --nofork)
            [[ "$(id -u)" == 0 ]] && insp+=(--runasroot)
            "${insp[@]}" >"$OUT/inspircd.log" 2>&1 &
            PID[inspircd]=$!; PORT[inspircd]=$INSPIRCD_PORT
            ;;
        palaver)
            if [[ ! -x "$SERVER" ]]; then
                echo "palaver: no $SERVER (cargo build --release -p palaver-server): left out" >&2
                continue
            fi
            if ! "$SERVER" --help | grep -q -- '--irc-bind'; then
                echo "palaver: $SERVER has no --irc-bind (no IRC listener in this build): left out" >&2
                continue
            fi
            DB_DIR="$(mktemp -d /tmp/irc-compare-db.XXXXXX)"
            "$SERVER" --bind "127.0.0.1:$PALAVER_PORT" --irc-bind "127.0.0.1:$PALAVER_IRC_PORT" \
                --database "$DB_DIR/bench.db" --no-stdin --log-level warn "${PALAVER_FLAGS[@]}" \
                >"$OUT/palaver.log" 2>&1 &
            PID[palaver]=$!; PORT[palaver]=$PALAVER_IRC_PORT
            ;;
    esac
    PIDS+=("${PID[$s]}")
    wait_port "$s" "${PORT[$s]}" "${PID[$s]}"
    echo "started $s: pid ${PID[$s]}, 127.0.0.1:${PORT[$s]}" >&2
done
STARTED=()
for s in $SERVERS; do [[ -n "${PID[$s]:-}" ]] && STARTED+=("$s"); done
((${#STARTED[@]})) || die "no server to run against"

echo "palaver-bench ${ARGS[*]} --protocol irc, $RUNS round(s); JSON and logs in $OUT" >&2
# Everything shares two cores with the load generator: say what else was running.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if busy="$(pgrep -a 'cargo|rustc' 2>/dev/null)"; then
    echo "warning: a build is running, the figures will show it:" >&2
    echo "$busy" | cut -c1-120 >&2
fi
for round in $(seq "$RUNS"); do
    for s in "${STARTED[@]}"; do
        echo "round $round/$RUNS: $s" >&2
        # A run that fails (a server that drops everyone, say) is recorded as such and the
        # comparison goes on.
        if ! "$BENCH" "${ARGS[@]}" --protocol irc --addr "127.0.0.1:${PORT[$s]}" \
            --server-pid "${PID[$s]}" --json >>"$OUT/$s.jsonl" 2>>"$OUT/$s.bench.log"; then
            echo "  palaver-bench failed against $s: see $OUT/$s.bench.log" >&2
        fi
        kill -0 "${PID[$s]}" 2>/dev/null || die "$s died during round $round: see $OUT/$s.log"
        # Let the server forget the last round's clients (their nicks) before the next.
        sleep 1
    done
done

python3 - "$OUT" "${STARTED[@]}" <<'EOF'
import json, statistics, sys

out, servers = sys.argv[1], sys.argv[2:]

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

rows = []
for s in servers:
    try:
        runs = [json.loads(l) for l in open(f"{out}/{s}.jsonl") if l.strip()]
    except FileNotFoundError:
        runs = []
    if not runs:
        rows.append((s, None))
        continue
    rows.append((s, runs))

first = next((r[0] for _, r in rows if r), None)
if first:
    sp = first["spec"]
    rate = f"at {sp['rate']}/s each" if sp.get("rate") else "unthrottled"
    print(f"\n{first['scenario']} over IRC: {sp['clients']} clients in {sp['rooms']} channel(s), "
          f"{sp['senders']} senders x {sp['messages']} messages {rate}; medians of the runs")

def fmt(v, f):
    return "-" if v is None else f(v)

NO_IDLE = {"deliveries_per_second", "server_cpu_ns_per_delivery", "latency_us_p50",
           "latency_us_p99"}
head = ["server", "runs", "joined", "deliveries/s", "CPU ns/deliv", "p50 ms", "p99 ms",
        "RSS MiB", "RSS/client B", "lost/dup/ooo", "errors"]
table = [head]
for s, runs in rows:
    if not runs:
        table.append([s, "0"] + ["-"] * (len(head) - 2))
        continue
    idle = runs[0]["spec"].get("idle_hold") is not None
    # An idle run delivers nothing: its figures are the joins and the memory.
    o = lambda k: None if idle and k in NO_IDLE else med([r.get(k) for r in runs])
    total = lambda k: sum(r.get(k) or 0 for r in runs)
    timed_out = sum(1 for r in runs if r.get("timed_out"))
    errors = total("connect_errors")
    table.append([
        s,
        str(len(runs)),
        fmt(o("clients_joined"), lambda v: f"{v:.0f}"),
        fmt(o("deliveries_per_second"), lambda v: f"{v:,.0f}"),
        fmt(o("server_cpu_ns_per_delivery"), lambda v: f"{v:,.0f}"),
        fmt(o("latency_us_p50"), lambda v: f"{v / 1000:.2f}"),
        fmt(o("latency_us_p99"), lambda v: f"{v / 1000:.2f}"),
        fmt(o("server_rss_peak_bytes"), lambda v: f"{v / 1048576:.1f}"),
        fmt(o("server_rss_bytes_per_client"), lambda v: f"{v:,.0f}"),
        f"{total('lost')}/{total('duplicated')}/{total('out_of_order')}",
        f"{errors}" + (f", {timed_out} timed out" if timed_out else ""),
    ])
widths = [max(len(row[i]) for row in table) for i in range(len(head))]
for n, row in enumerate(table):
    print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    if n == 0:
        print("  ".join("-" * w for w in widths))
print("\nCPU ns/deliv: server CPU (user+system, /proc) per message delivered; RSS: the server's peak;"
      "\nlost/dup/ooo and errors (clients that could not join) are totals over the runs.")
EOF
