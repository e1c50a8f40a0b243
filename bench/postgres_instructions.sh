#!/usr/bin/env bash
# PostgreSQL's own work per booking, in instructions (which the machine's speed does not move).
#
#   bench/postgres_instructions.sh [nexhealth|calendar] [FEW] [MANY]
#
# Starts a scratch PostgreSQL cluster (this machine's server binaries, a temporary directory,
# port 5499) under valgrind's callgrind, which counts every backend's instructions, then runs
# bench/inprocess.py against it twice, with FEW and MANY bookings (default 200 and 1200). The
# two runs differ only in the bookings, so the difference of the backends' totals divided by
# MANY - FEW is the database's work for one booking: its INSERT, its constraints and indexes,
# its foreign-key checks and its commit. Needs valgrind and a local PostgreSQL install; run as
# root (the cluster runs as the postgres user). Takes a few minutes.
set -euo pipefail

api=${1:-nexhealth}
few=${2:-200}
many=${3:-1200}
port=5499
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$here/.venv/bin/python}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/carebook-pg-callgrind.XXXXXX)
chown postgres "$work"
mkdir -p "$work/out" && chown postgres "$work/out"

stop() {
    su postgres -c "$bin/pg_ctl -D $work/data -m fast -w stop" >/dev/null 2>&1 || true
    sleep 3  # valgrind writes each process's counts as it exits
    rm -rf "$work"
}
trap stop EXIT

su postgres -c "$bin/initdb -D $work/data -A trust -U postgres" >/dev/null
cat >>"$work/data/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
autovacuum = off  # its workers would count too; bench/inprocess.py runs ANALYZE itself
EOF
su postgres -c "cd $work && valgrind --tool=callgrind --callgrind-out-file=$work/out/cg.%p \
    $bin/postgres -D $work/data >$work/server.log 2>&1 &"
for _ in $(seq 60); do
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
    sleep 1
done

# The summed instructions of every backend that ended during one run of bench/inprocess.py.
backends_total() {
    local before after total=0
    before=$(ls "$work/out")
    "$python" "$here/bench/inprocess.py" --database postgres --api "$api" --bookings "$1" \
        --postgres-url "postgresql://postgres@127.0.0.1:$port/postgres" >&2
    sleep 5  # callgrind writes a backend's counts when it exits
    after=$(ls "$work/out")
    for file in $(comm -13 <(echo "$before" | sort) <(echo "$after" | sort)); do
        total=$((total + $(awk '/^(summary|totals):/ {print $2; exit}' "$work/out/$file")))
    done
    echo "$total"
}

first=$(backends_total "$few")
second=$(backends_total "$many")
echo "PostgreSQL, $api booking: $(((second - first) / (many - few))) instructions a booking" \
    "(backends' totals, $many bookings less $few)"
