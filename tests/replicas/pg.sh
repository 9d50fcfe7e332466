# Sourced by tests/replicas/run.sh and bench/replicas.sh: a throwaway PostgreSQL on loopback.
# pg_start sets PG_URL (postgres://sniper@127.0.0.1:PORT/postgres) and PSQL (a psql command line);
# pg_stop stops the server and removes its folder. Installs Debian's postgresql when initdb is
# missing; runs the server as an unprivileged user (created when running as root).

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pg_start() {
  local bin; bin=$(pg_bin)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "installing postgresql" >&2
    local SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null \
      || { $SUDO apt-get update -qq; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null; }
    bin=$(pg_bin)
  fi
  PG_DIR=$(mktemp -d /tmp/sniper-pg.XXXXXX)
  chmod 755 "$PG_DIR"
  PG_AS=()
  if [ "$(id -u)" = 0 ]; then
    id sniperpg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin sniperpg
    mkdir -p "$PG_DIR/data" "$PG_DIR/sock"
    chown sniperpg "$PG_DIR/data" "$PG_DIR/sock"
    PG_AS=(runuser -u sniperpg --)
  else
    mkdir -p "$PG_DIR/data" "$PG_DIR/sock"
  fi
  PG_PORT=$(free_port)
  PG_BIN=$bin
  "${PG_AS[@]}" "$bin/initdb" -D "$PG_DIR/data" -U sniper --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  "${PG_AS[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -w -t 30 -l "$PG_DIR/data/server.log" \
    -o "-p $PG_PORT -k $PG_DIR/sock -c listen_addresses=127.0.0.1 -c max_connections=50" start >/dev/null \
    || { cat "$PG_DIR/data/server.log" >&2; return 1; }
  PG_URL="postgres://sniper@127.0.0.1:$PG_PORT/postgres"
  PSQL=("$bin/psql" -X -q -At -v ON_ERROR_STOP=1 "$PG_URL")
}

pg_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
