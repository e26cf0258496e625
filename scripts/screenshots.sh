#!/usr/bin/env bash
# Runs the real desktop app under Xvfb with a scripted conversation and writes PNGs into
# docs/images/. Needs Debian's xvfb and Mesa (apt-get install xvfb libgl1-mesa-dri libegl1).
#
#   scripts/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v Xvfb >/dev/null; then
  echo "Xvfb is missing: apt-get install xvfb libgl1-mesa-dri libegl1" >&2
  exit 1
fi

cargo build -q -p palaver-server -p palaver-gui
BIN=target/debug
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

display=:97
Xvfb "$display" -screen 0 1100x720x24 -nolisten tcp >/dev/null 2>&1 &
sleep 1
export DISPLAY=$display
export LIBGL_ALWAYS_SOFTWARE=1
# Each run of the app gets its own settings folder, so nothing is remembered from the last one.
export XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config

port=47878
"$BIN/palaver-server" --bind 127.0.0.1:$port --database "$work/demo.db" --no-stdin --log-level warn &
sleep 1

# A scripted conversation: bob and carol talk, bob writes to alice privately.
python3 - "$port" <<'PY' &
import json, socket, sys, time
port = int(sys.argv[1])
def join(name):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall((json.dumps({"type": "join", "username": name}) + "\n").encode())
    return s
def send(s, **frame):
    s.sendall((json.dumps(frame) + "\n").encode())
    time.sleep(0.25)
bob, carol = join("bob"), join("carol")
time.sleep(0.5)
send(bob, type="topic", room="general", topic="Palaver demo: say hi!")
send(bob, type="message", content="Morning everyone! Did the build pass?")
send(carol, type="message", content="It did 🎉 all green on the 2-core box")
send(bob, type="message", content="/me does a little dance")
time.sleep(3)
send(carol, type="message", content="alice, can you review the hub changes?")
send(bob, type="private_message", target="alice", content="psst: lunch at 12?")
time.sleep(30)
PY

root=$PWD
shoot() { # name, seconds, extra args... (runs in the scratch folder, so relative paths land there)
  local name=$1 after=$2; shift 2
  (cd "$work" && "$root/$BIN/palaver" --screenshot "$root/docs/images/$name.png" --screenshot-after "$after" "$@")
  echo "docs/images/$name.png"
}

shoot connect 1.5 --host 127.0.0.1 --port $port --user alice
shoot chat 6 --host 127.0.0.1 --port $port --user alice --connect
shoot chat-light 6 --host 127.0.0.1 --port $port --user alice2 --connect --light

# The host dashboard with two people connected to the hosted server.
hport=47879
python3 - "$hport" <<'PY' &
import json, socket, sys, time
port = int(sys.argv[1])
time.sleep(2.5)
people = []
for name in ("dave", "erin"):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall((json.dumps({"type": "join", "username": name}) + "\n").encode())
    people.append(s)
    time.sleep(0.3)
people[0].sendall(b'{"type":"message","content":"hello from the hosted server"}\n')
time.sleep(10)
PY
shoot host 5 --serve $hport --serve-database classroom.db
