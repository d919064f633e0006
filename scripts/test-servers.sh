#!/usr/bin/env bash
# test-servers.sh: install (if missing), start and stop the real servers the
# tests run against, on loopback ports chosen at run time.
#
#   scripts/test-servers.sh start DIR   # starts PostgreSQL, Redis, kubo and geth
#                                       # under DIR, writes DIR/env (export lines)
#   scripts/test-servers.sh stop DIR    # stops them and removes DIR
#
# PostgreSQL refuses to run as root, so when run as root the server runs as
# the "postgres" user that Debian's package creates.
#
# kubo (the IPFS daemon) is built from the Go module proxy at KUBO_VERSION and
# cached by version under ~/.cache/alephql/bin, so only a new machine pays the
# build (about 4 minutes on 2 cores; it runs while the other servers start).
# It runs online but isolated (no bootstrap peers, no routing, loopback swarm)
# so that pubsub works and nothing leaves the machine.
#
# geth (a --dev chain for the chain indexer's tests) is built the same way,
# at GETH_VERSION, cached beside kubo (about 5.5 minutes cold; in parallel
# with kubo's build). It runs without a data directory, on loopback, with no
# peers; its "finalized" block is floor(head/32)*32.
set -euo pipefail

log() { printf 'test-servers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }

apt_install() {
	log "installing $* from Debian packages"
	if [ -z "${_apt_updated:-}" ]; then
		as_root apt-get update -qq >/dev/null || die "apt-get update failed"
		_apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
}

pg_bindir() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/initdb" ] && { echo "$d"; return 0; }
	done
	return 1
}

KUBO_VERSION=v0.43.0

# kubo_bin prints the path of the cached kubo binary, building it first if
# this machine has none.
kubo_bin() {
	local cache=${XDG_CACHE_HOME:-$HOME/.cache}/alephql/bin
	local bin=$cache/ipfs-$KUBO_VERSION
	if [ ! -x "$bin" ]; then
		mkdir -p "$cache"
		local moddir
		moddir=$(cd / && go mod download -json "github.com/ipfs/kubo@$KUBO_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
		[ -n "$moddir" ] || die "go mod download github.com/ipfs/kubo@$KUBO_VERSION failed"
		(cd "$moddir" && GOFLAGS=-buildvcs=false go build -trimpath -ldflags='-s -w' -o "$bin.tmp.$$" ./cmd/ipfs) \
			|| { rm -f "$bin.tmp.$$"; die "building kubo $KUBO_VERSION failed"; }
		mv "$bin.tmp.$$" "$bin"
	fi
	echo "$bin"
}

GETH_VERSION=v1.17.8

# geth_bin prints the path of the cached geth binary, building it first if
# this machine has none (cmd/geth at v1.17.9+ needs a module the proxy
# refuses: keep v1.17.8 for the binary; the library may be newer).
geth_bin() {
	local cache=${XDG_CACHE_HOME:-$HOME/.cache}/alephql/bin
	local bin=$cache/geth-$GETH_VERSION
	if [ ! -x "$bin" ]; then
		mkdir -p "$cache"
		local tmp
		tmp=$(mktemp -d "$cache/geth-build.XXXXXX")
		(cd / && GOFLAGS=-buildvcs=false GOBIN=$tmp go install -trimpath -ldflags='-s -w' \
			"github.com/ethereum/go-ethereum/cmd/geth@$GETH_VERSION") \
			|| { rm -rf "$tmp"; die "building geth $GETH_VERSION failed"; }
		mv "$tmp/geth" "$bin"
		rm -rf "$tmp"
	fi
	echo "$bin"
}

# free_port prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$(( (RANDOM * 32768 + RANDOM) % 30000 + 20000 ))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"; return 0
		fi
	done
	die "no free port found"
}

start() {
	local dir=$1
	mkdir -p "$dir"
	# Build (or find) kubo in the background while the other servers start.
	kubo_bin >"$dir/kubo-bin" 2>"$dir/kubo-build.log" &
	local kubo_build=$!
	geth_bin >"$dir/geth-bin" 2>"$dir/geth-build.log" &
	local geth_build=$!
	local bindir
	bindir=$(pg_bindir) || { apt_install postgresql; bindir=$(pg_bindir) || die "initdb not found after installing postgresql"; }
	command -v redis-server >/dev/null || apt_install redis-server
	command -v redis-server >/dev/null || die "redis-server not found after install"

	# PostgreSQL.
	local pgdir=$dir/pg run=()
	mkdir -p "$pgdir"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "user postgres missing (install the postgresql package)"
		chown postgres "$dir" "$pgdir"
		chmod 755 "$dir"
		run=(runuser -u postgres --)
	fi
	"${run[@]}" "$bindir/initdb" -D "$pgdir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
		|| { cat "$dir/initdb.log" >&2; die "initdb failed"; }
	local pgport tries=0
	# Tests run without fsync (fast, and a crash of the test server loses
	# nothing that matters); ALEPHQL_PG_DURABLE=1 keeps PostgreSQL's
	# durable defaults, for benchmarks whose figures must include them.
	# ALEPHQL_PG_SETTINGS adds server settings ("-c name=value ...").
	local pgfast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	[ "${ALEPHQL_PG_DURABLE:-}" = 1 ] && pgfast=""
	pgfast="-c shared_buffers=128MB $pgfast ${ALEPHQL_PG_SETTINGS:-}"
	while :; do
		pgport=$(free_port)
		if "${run[@]}" "$bindir/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 30 \
			-o "-c listen_addresses=127.0.0.1 -p $pgport -k $pgdir -c max_connections=300 $pgfast" start >/dev/null 2>&1; then
			break
		fi
		tries=$((tries + 1))
		[ $tries -lt 5 ] || { cat "$pgdir/server.log" >&2; die "PostgreSQL did not start"; }
	done
	log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$pgport"

	# Redis.
	local rport
	rport=$(free_port)
	redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --daemonize yes \
		--pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" >/dev/null \
		|| die "redis-server did not start"
	for _ in $(seq 1 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break
		sleep 0.1
	done
	(exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null || { cat "$dir/redis.log" >&2; die "Redis is not answering"; }
	log "Redis $(redis-server --version | awk '{print $3}' | tr -d 'v=') on 127.0.0.1:$rport"

	# kubo.
	wait "$kubo_build" || { cat "$dir/kubo-build.log" >&2; die "kubo is not available"; }
	local ipfs apiport gwport swport
	ipfs=$(cat "$dir/kubo-bin")
	export IPFS_PATH=$dir/ipfs IPFS_TELEMETRY=off
	"$ipfs" init --profile=test >"$dir/ipfs-init.log" 2>&1 || { cat "$dir/ipfs-init.log" >&2; die "ipfs init failed"; }
	apiport=$(free_port); gwport=$(free_port); swport=$(free_port)
	"$ipfs" config Addresses.API "/ip4/127.0.0.1/tcp/$apiport"
	"$ipfs" config Addresses.Gateway "/ip4/127.0.0.1/tcp/$gwport"
	"$ipfs" config --json Addresses.Swarm "[\"/ip4/127.0.0.1/tcp/$swport\"]"
	"$ipfs" config --json Bootstrap '[]'
	"$ipfs" config Routing.Type none
	"$ipfs" config --json AutoTLS.Enabled false
	"$ipfs" config --json AutoConf.Enabled false
	"$ipfs" config --json Pubsub.Enabled true
	"$ipfs" daemon --migrate=false >"$dir/ipfs.log" 2>&1 &
	echo $! >"$dir/ipfs.pid"
	for _ in $(seq 1 300); do
		grep -q 'Daemon is ready' "$dir/ipfs.log" && break
		kill -0 "$(cat "$dir/ipfs.pid")" 2>/dev/null || break
		sleep 0.1
	done
	grep -q 'Daemon is ready' "$dir/ipfs.log" || { cat "$dir/ipfs.log" >&2; die "kubo did not start"; }
	log "kubo $KUBO_VERSION API on 127.0.0.1:$apiport, gateway on 127.0.0.1:$gwport"

	# geth --dev: one funded, unlocked dev account; a block per transaction.
	wait "$geth_build" || { cat "$dir/geth-build.log" >&2; die "geth is not available"; }
	local geth httpport wsport authport
	geth=$(cat "$dir/geth-bin")
	httpport=$(free_port); wsport=$(free_port); authport=$(free_port)
	"$geth" --dev --http --http.addr 127.0.0.1 --http.port "$httpport" --http.api eth,net,web3,txpool \
		--ws --ws.addr 127.0.0.1 --ws.port "$wsport" --nodiscover --maxpeers 0 --port 0 --ipcdisable \
		--authrpc.addr 127.0.0.1 --authrpc.port "$authport" >"$dir/geth.log" 2>&1 &
	echo $! >"$dir/geth.pid"
	for _ in $(seq 1 300); do
		(exec 3<>"/dev/tcp/127.0.0.1/$httpport") 2>/dev/null && break
		kill -0 "$(cat "$dir/geth.pid")" 2>/dev/null || break
		sleep 0.1
	done
	(exec 3<>"/dev/tcp/127.0.0.1/$httpport") 2>/dev/null || { cat "$dir/geth.log" >&2; die "geth did not start"; }
	log "geth $GETH_VERSION --dev RPC on 127.0.0.1:$httpport, websocket on 127.0.0.1:$wsport"

	cat >"$dir/env" <<ENV
export ALEPHQL_TEST_POSTGRES='postgres://postgres@127.0.0.1:$pgport/postgres?sslmode=disable'
export ALEPHQL_TEST_REDIS='redis://127.0.0.1:$rport/0'
export ALEPHQL_TEST_IPFS='http://127.0.0.1:$apiport'
export ALEPHQL_TEST_IPFS_GATEWAY='http://127.0.0.1:$gwport'
export ALEPHQL_TEST_IPFS_BIN='$ipfs'
export ALEPHQL_TEST_ETH_RPC='http://127.0.0.1:$httpport'
export ALEPHQL_TEST_ETH_WS='ws://127.0.0.1:$wsport'
export ALEPHQL_TEST_GETH_BIN='$geth'
export ALEPHQL_TEST_SERVERS_DIR='$dir'
ENV
	echo "$bindir" >"$dir/pg_bindir"
}

stop() {
	local dir=$1
	[ -d "$dir" ] || return 0
	if [ -f "$dir/pg_bindir" ] && [ -d "$dir/pg/data" ]; then
		local run=()
		[ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
		"${run[@]}" "$(cat "$dir/pg_bindir")/pg_ctl" -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if [ -f "$dir/redis.pid" ]; then
		kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
	fi
	if [ -f "$dir/ipfs.pid" ]; then
		local ipid
		ipid=$(cat "$dir/ipfs.pid")
		kill "$ipid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$ipid" 2>/dev/null || break; sleep 0.1; done
	fi
	local pidf pid
	for pidf in "$dir/geth.pid"; do
		[ -f "$pidf" ] || continue
		pid=$(cat "$pidf")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	done
	rm -rf "$dir"
}

case "${1:-}" in
start) start "${2:?directory required}" ;;
stop) stop "${2:?directory required}" ;;
*) die "usage: $0 start|stop DIR" ;;
esac
