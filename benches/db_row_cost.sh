#!/usr/bin/env bash
# The databases' OWN cost per keyed row written, without chatseal.
#
# Why: a line of the high-cardinality burst makes the flush write about four keyed rows (its
# message id in `seen_ids`, its `participation` row, its `signals` row, its user's row), so what
# SQLite and PostgreSQL take per keyed row is the floor under the flush's cost per line
# (docs/performance.md, "What limits the flush"). This script measures that floor on its own.
#
# What: for each engine, the four tables in the shapes of schema/src/layout.rs (binary keys, the
# conflict key of the flush's upserts as PRIMARY KEY, WITHOUT ROWID on SQLite, `seen_ids` with
# its (epoch, channel_id) index), each pre-filled with random rows; then, per case, BATCH new
# random rows written in ONE transaction, COMMIT included, by the flush's statement (the
# ON CONFLICT clauses copied from schema/src/queries/flush.rs) taking its rows from a staging
# table filled beforehand (untimed). To show where the cost goes, `participation`'s rows also
# go into a table without a key, into the keyed table without ON CONFLICT, and with
# ON CONFLICT DO NOTHING (these two after the upsert case, into the table grown by its batches).
# The keys are random, so every row is new (the insert path of an upsert); the flush sorts
# participation, signals and users by key, so their staging rows are in key order,
# and message ids come in arrival (random) order. Before each timed batch one batch of other new
# rows goes the same way untimed (CHATSEAL_ROWCOST_WARMUP): the flush before it, so the timed one
# sees the tables as in a steady burst (on PostgreSQL: pages already logged in full since the
# CHECKPOINT taken after the pre-fill, not a full-page image for each).
#
# Timing, inside the client: SQLite: one `sqlite3` process per case, `.timer on` after its
# PRAGMAs, the "real" time of BEGIN IMMEDIATE, the INSERT ... SELECT and COMMIT summed (the
# COMMIT's WAL write, fsync and any automatic checkpoint included; process start and open not).
# Each process starts with an empty page cache of 64 MiB (the file is in the OS's cache), as the
# daemon's writer, whose 64 MiB cannot hold all its tables. PostgreSQL: one `psql` per case,
# `\timing on`, the "Time:" of BEGIN, the INSERT ... SELECT and COMMIT summed (client round trips
# on loopback included, connection start not).
# Printed per case: stmt_ms (the INSERT), commit_ms, total_ms (BEGIN + both), µs/row of total, stmt.
#
# Run: bash benches/db_row_cost.sh   (about a minute; one core busy). Nothing is asserted: the
# numbers are printed, with the date, nproc and /proc/loadavg at the start and the end.
# Knobs (environment):
#   CHATSEAL_ROWCOST_PREFILL  rows pre-filled in every table (default 450000 seen_ids, 700000 others)
#   CHATSEAL_ROWCOST_BATCH    rows per timed batch (default 50000)
#   CHATSEAL_ROWCOST_WARMUP   untimed batches before each timed one (default 1)
#   CHATSEAL_ROWCOST_ENGINES  "sqlite pg" (default), or one of them
#   CHATSEAL_ROWCOST_PG       a URL naming an existing database, used to create and drop the
#                             database chatseal_rowcost_<pid> (default
#                             postgres://root@127.0.0.1:5432/postgres; a superuser: the
#                             script runs CHECKPOINT after the pre-fill)
# The SQLite file lives in a temp dir; both are removed at exit, as is the PostgreSQL database.
set -euo pipefail

SEEN_PREFILL=${CHATSEAL_ROWCOST_PREFILL:-450000}
ROW_PREFILL=${CHATSEAL_ROWCOST_PREFILL:-700000}
BATCH=${CHATSEAL_ROWCOST_BATCH:-50000}
WARMUP=${CHATSEAL_ROWCOST_WARMUP:-1}
PG_URL=${CHATSEAL_ROWCOST_PG:-postgres://root@127.0.0.1:5432/postgres}
read -r -a ENGINES <<<"${CHATSEAL_ROWCOST_ENGINES:-sqlite pg}"

die() { echo "db_row_cost: $*" >&2; exit 2; }
for n in "$SEEN_PREFILL" "$ROW_PREFILL" "$BATCH" "$WARMUP"; do
  [[ $n =~ ^[0-9]+$ ]] || die "sizes must be whole numbers, got '$n'"
done
((BATCH > 0 && SEEN_PREFILL > 0 && ROW_PREFILL > 0)) || die "the batch and pre-fill must be > 0"
((${#ENGINES[@]} > 0)) || die "CHATSEAL_ROWCOST_ENGINES is empty"
for e in "${ENGINES[@]}"; do [[ $e == sqlite || $e == pg ]] || die "unknown engine '$e' (sqlite, pg)"; done

WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/chatseal_rowcost.XXXXXX")
PG_DB=chatseal_rowcost_$$
PG_CREATED=0
cleanup() {
  if ((PG_CREATED)); then
    psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null ||
      echo "db_row_cost: could not drop database $PG_DB" >&2
  fi
  rm -rf -- "$WORK_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The flush's conflict clauses, as in schema/src/queries/flush.rs.
UPSERT_PARTICIPATION=" ON CONFLICT (epoch, channel_id, user_hash) DO UPDATE SET \
first_seen = CASE WHEN excluded.first_seen < participation.first_seen THEN excluded.first_seen ELSE participation.first_seen END, \
last_seen = CASE WHEN excluded.last_seen > participation.last_seen THEN excluded.last_seen ELSE participation.last_seen END"
UPSERT_SIGNALS=" ON CONFLICT (epoch, channel_id, user_hash, kind) DO UPDATE SET value = signals.value + excluded.value"
UPSERT_USERS=" ON CONFLICT (user_hash) DO UPDATE SET \
login = CASE WHEN excluded.last_seen >= users.last_seen THEN excluded.login ELSE users.login END, \
user_id = CASE WHEN excluded.last_seen >= users.last_seen THEN COALESCE(excluded.user_id, users.user_id) ELSE COALESCE(users.user_id, excluded.user_id) END, \
display_name = CASE WHEN excluded.last_seen >= users.last_seen THEN COALESCE(excluded.display_name, users.display_name) ELSE COALESCE(users.display_name, excluded.display_name) END, \
first_seen = CASE WHEN excluded.first_seen < users.first_seen THEN excluded.first_seen ELSE users.first_seen END, \
last_seen = CASE WHEN excluded.last_seen > users.last_seen THEN excluded.last_seen ELSE users.last_seen END"

CASES=(seen_ids participation signals users participation_nokey participation_pk_plain participation_do_nothing)

# Engine words: the binary type, the table tail, a message id (tag byte 1 + a UUID's 16 bytes,
# as crate::message_keys) and a 32-byte user hash.
set_engine() {
  if [[ $1 == sqlite ]]; then
    BLOB=BLOB TAIL=" WITHOUT ROWID" ID17="CAST(x'01' || randomblob(16) AS BLOB)" HASH32="randomblob(32)"
  else
    BLOB=bytea TAIL="" ID17="'\\x01'::bytea || uuid_send(gen_random_uuid())" HASH32="sha256(uuid_send(gen_random_uuid()))"
  fi
}
SQLITE_PRAGMAS="PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536;"
run_sql() { # engine; SQL on stdin
  if [[ $1 == sqlite ]]; then
    sqlite3 -bail -batch "$WORK_DIR/rowcost.db"
  else
    psql "$PG_DB_URL" -X -q -A -t -v ON_ERROR_STOP=1
  fi
}

# `SELECT ...` of n rows of a table's shape (one epoch, 10 channels, like the burst).
rows_of() { # shape n
  local cols
  case $1 in
    ids) cols="$ID17 AS id, 490000 AS epoch, 1 + i % 10 AS channel_id" ;;
    part) cols="490000 AS epoch, 1 + i % 10 AS channel_id, $HASH32 AS user_hash, 1765000000000 + i AS first_seen, 1765000000000 + i AS last_seen" ;;
    sig) cols="490000 AS epoch, 1 + i % 10 AS channel_id, $HASH32 AS user_hash, 1 AS kind, 1 AS value" ;;
    users) cols="$HASH32 AS user_hash, 'user' || i AS login, CAST(100000000 + i AS TEXT) AS user_id, 'User' || i AS display_name, 1765000000000 + i AS first_seen, 1765000000000 + i AS last_seen" ;;
    *) die "unknown shape $1" ;;
  esac
  echo "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $2) SELECT $cols FROM s"
}
case_shape() { case $1 in seen_ids) echo ids ;; signals) echo sig ;; users) echo users ;; *) echo part ;; esac; }
case_order() { case $1 in seen_ids) echo "" ;; signals) echo " ORDER BY 1, 2, 3, 4" ;; users) echo " ORDER BY 1" ;; *) echo " ORDER BY 1, 2, 3" ;; esac; }
# The timed statement of a case, from staging table $2. `WHERE true`: SQLite's parser needs a
# WHERE before the ON CONFLICT of an INSERT ... SELECT.
case_sql() { # case staging
  local sel="SELECT * FROM $2 WHERE true" part="INSERT INTO participation (epoch, channel_id, user_hash, first_seen, last_seen)"
  case $1 in
    seen_ids) echo "INSERT INTO seen_ids (id, epoch, channel_id) $sel ON CONFLICT (id) DO NOTHING" ;;
    participation) echo "$part $sel$UPSERT_PARTICIPATION" ;;
    signals) echo "INSERT INTO signals (epoch, channel_id, user_hash, kind, value) $sel$UPSERT_SIGNALS" ;;
    users) echo "INSERT INTO users (user_hash, login, user_id, display_name, first_seen, last_seen) $sel$UPSERT_USERS" ;;
    participation_nokey) echo "INSERT INTO participation_nokey $sel" ;;
    participation_pk_plain) echo "$part $sel" ;;
    participation_do_nothing) echo "$part $sel ON CONFLICT (epoch, channel_id, user_hash) DO NOTHING" ;;
    *) die "unknown case $1" ;;
  esac
}

setup_sql() { # engine: tables, pre-fill, staging (all untimed)
  local c w
  if [[ $1 == sqlite ]]; then echo "$SQLITE_PRAGMAS"; fi
  cat <<SQL
CREATE TABLE seen_ids (id $BLOB NOT NULL, epoch BIGINT NOT NULL, channel_id INTEGER NOT NULL, PRIMARY KEY (id))$TAIL;
CREATE INDEX idx_seen_ids_epoch_channel ON seen_ids (epoch, channel_id);
CREATE TABLE participation (epoch BIGINT NOT NULL, channel_id INTEGER NOT NULL, user_hash $BLOB NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, PRIMARY KEY (epoch, channel_id, user_hash))$TAIL;
CREATE TABLE signals (epoch BIGINT NOT NULL, channel_id INTEGER NOT NULL, user_hash $BLOB NOT NULL, kind INTEGER NOT NULL, value BIGINT NOT NULL, PRIMARY KEY (epoch, channel_id, user_hash, kind))$TAIL;
CREATE TABLE users (user_hash $BLOB NOT NULL, login TEXT NOT NULL, user_id TEXT NULL, display_name TEXT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, PRIMARY KEY (user_hash))$TAIL;
CREATE TABLE participation_nokey (epoch BIGINT NOT NULL, channel_id INTEGER NOT NULL, user_hash $BLOB NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL);
INSERT INTO seen_ids $(rows_of ids "$SEEN_PREFILL");
INSERT INTO participation $(rows_of part "$ROW_PREFILL");
INSERT INTO signals $(rows_of sig "$ROW_PREFILL");
INSERT INTO users $(rows_of users "$ROW_PREFILL");
SQL
  for c in "${CASES[@]}"; do
    for ((w = 0; w <= WARMUP; w++)); do
      echo "CREATE TABLE stage_${c}_$w AS $(rows_of "$(case_shape "$c")" "$BATCH")$(case_order "$c");"
    done
  done
  if [[ $1 == pg ]]; then echo "CHECKPOINT;"; fi
}

# awk's END for the three timings t[1..3] in ms (BEGIN, the statement, COMMIT); other counts fail.
SPLIT_MS=' END { if (n != 3) { print "db_row_cost: expected 3 timings, got " n > "/dev/stderr"; exit 1 }
  printf "%.3f %.3f %.3f", t[2], t[3], t[1] + t[2] + t[3] }'
timed_ms() { # engine sql: prints the ms of the statement, of COMMIT, and of BEGIN + both
  if [[ $1 == sqlite ]]; then
    printf '%s\n' "$SQLITE_PRAGMAS" ".timer on" "BEGIN IMMEDIATE;" "$2;" "COMMIT;" | run_sql sqlite |
      awk '/^Run Time: real / { t[++n] = $4 * 1000 }'"$SPLIT_MS"
  else
    printf '%s\n' '\timing on' "BEGIN;" "$2;" "COMMIT;" | run_sql pg | awk '/^Time: / { t[++n] = $2 }'"$SPLIT_MS"
  fi
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
echo "# db_row_cost  $(date -Iseconds)  nproc $(nproc)  loadavg $(loadavg)"
echo "# pre-fill: seen_ids $SEEN_PREFILL, participation/signals/users $ROW_PREFILL; batch $BATCH rows; warm-up batches $WARMUP"

for engine in "${ENGINES[@]}"; do
  set_engine "$engine"
  if [[ $engine == sqlite ]]; then
    echo "# sqlite: $(sqlite3 --version | cut -d' ' -f1), $WORK_DIR/rowcost.db, $SQLITE_PRAGMAS"
  else
    base=${PG_URL%%\?*} query=""
    if [[ $PG_URL == *\?* ]]; then query="?${PG_URL#*\?}"; fi
    [[ $base =~ ^postgres(ql)?://[^/]*/[^/]*$ ]] || die "CHATSEAL_ROWCOST_PG must name a database: $PG_URL"
    PG_DB_URL="${base%/*}/$PG_DB$query"
    psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $PG_DB" >/dev/null
    PG_CREATED=1
    echo "# pg: $(run_sql pg <<<"SELECT 'PostgreSQL ' || current_setting('server_version') || ', database $PG_DB, shared_buffers ' || current_setting('shared_buffers') || ', synchronous_commit ' || current_setting('synchronous_commit') || ', fsync ' || current_setting('fsync')")"
  fi
  start=$SECONDS
  setup_sql "$engine" | run_sql "$engine" >/dev/null
  echo "# $engine: tables pre-filled and staged in $((SECONDS - start)) s (untimed)"
  printf '%-6s  %-26s  %8s  %10s  %10s  %10s  %13s  %11s\n' engine case rows stmt_ms commit_ms total_ms 'us/row(total)' stmt_us/row
  for c in "${CASES[@]}"; do
    for ((w = 1; w <= WARMUP; w++)); do timed_ms "$engine" "$(case_sql "$c" "stage_${c}_$w")" >/dev/null; done
    times=$(timed_ms "$engine" "$(case_sql "$c" "stage_${c}_0")")
    read -r stmt_ms commit_ms total_ms <<<"$times"
    printf '%-6s  %-26s  %8d  %10.1f  %10.1f  %10.1f  %13.2f  %11.2f\n' "$engine" "$c" "$BATCH" "$stmt_ms" "$commit_ms" "$total_ms" \
      "$(awk -v ms="$total_ms" -v n="$BATCH" 'BEGIN { print ms * 1000 / n }')" "$(awk -v ms="$stmt_ms" -v n="$BATCH" 'BEGIN { print ms * 1000 / n }')"
  done
  echo "# $engine rows after: $(run_sql "$engine" <<<"SELECT 'seen_ids ' || (SELECT count(*) FROM seen_ids) || ', participation ' || (SELECT count(*) FROM participation) || ', signals ' || (SELECT count(*) FROM signals) || ', users ' || (SELECT count(*) FROM users) || ', participation_nokey ' || (SELECT count(*) FROM participation_nokey);")"
done
echo "# end  $(date -Iseconds)  loadavg $(loadavg)"
