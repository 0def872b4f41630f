# scripts/lib.sh: shared by scripts/run, scripts/test and the end-to-end
# tests.  Sourced, not run.  Installs what is missing, builds, and starts
# or stops the pieces (Salesforce stand-in, FastCGI programs, nginx).

FL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FL_PY=/usr/bin/python3

# Debian 12 packages forcelink needs to build, run and test (systemd for
# systemd-analyze, -sysusers and -tmpfiles, which check the install;
# dpkg-dev, debhelper, fakeroot and lintian build and check the Debian
# package, from a copy of the files git lists: tests/e2e/test_debian.py;
# postgresql-15 for the tests' throwaway servers, tests/pg/pgctl, and
# libpq-dev for the PostgreSQL store, issue 14).
FL_PACKAGES="build-essential autoconf automake pkg-config libfcgi-dev
libcurl4-openssl-dev libssl-dev libjson-c-dev libsqlite3-dev libsodium-dev sqlite3
nginx-light check python3-pytest python3-pytest-xdist openssl curl
ca-certificates
clang-14 libclang-rt-14-dev valgrind libasan8 libubsan1 mandoc
chromium chromium-driver systemd jq
dpkg-dev debhelper fakeroot lintian git
postgresql-15 libpq-dev"

fl_log() { printf '%s: %s\n' "${FL_PROG:-forcelink}" "$*" >&2; }

# Installs the missing packages (as root) or prints the exact command.
fl_ensure_packages() {
	local missing="" p
	for p in $FL_PACKAGES; do
		if [ "$p" = nginx-light ]; then
			command -v nginx >/dev/null 2>&1 ||
			    [ -x /usr/sbin/nginx ] || missing="$missing $p"
			continue
		fi
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		fl_log "missing packages; run as root:"
		echo "  apt-get update && apt-get install -y$missing" >&2
		exit 1
	fi
	fl_log "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# policy-rc.d keeps the nginx package from starting a system nginx,
	# and postgresql-15 its cluster "main" (its postinst creates it and
	# asks invoke-rc.d to start it: refused).  The tests never start
	# it: tests/pg/pgctl runs initdb and pg_ctl on a directory of its
	# own.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		apt-get install -y -qq $missing >/dev/null
		rm -f /usr/sbin/policy-rc.d
	else
		apt-get install -y -qq $missing >/dev/null
	fi
}

# The build directories (gitignored), never the source tree itself: an
# administrator may have run ./configure --prefix=/usr in it, and a build
# that configured it again, or in place, would change their next make
# install.  build/src (FL_SRC) is a copy of the source files: the files
# git tracks plus untracked ones not ignored (a new test counts before its
# first commit), or, outside git, make distdir of a configured tree.  Only
# files whose content changed are copied again, so an unchanged tree
# rebuilds nothing, and files deleted since are deleted from the copy.
# autoreconf runs in the copy.  The builds are VPATH builds of that copy
# (automake refuses one beside a configured source directory, which the
# copy never is): build/ (FL_BUILD) with -Werror, build-asan/ with the
# sanitizers (scripts/test), fuzz-build/obj with libFuzzer (scripts/fuzz).
FL_SRC=${FL_SRC:-$FL_ROOT/build/src}
FL_BUILD=${FL_BUILD:-$FL_ROOT/build}
FL_BUILD_ASAN=${FL_BUILD_ASAN:-$FL_ROOT/build-asan}
FL_WERROR="--enable-werror"
FL_SANITIZE="--enable-sanitizers --enable-werror"

# Brings build/src up to date with the source tree (under a lock: two
# scripts of one checkout may start at once).
fl_sync_src() {
	mkdir -p "$FL_SRC" || return 1
	(
	flock 9
	cd "$FL_ROOT" || exit 1
	local list=$FL_SRC/.manifest.new f
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z --cached --others --exclude-standard |
		    while IFS= read -r -d '' f; do
			# Tracked but deleted in the work tree: not a source.
			[ -f "$f" ] && [ ! -L "$f" ] && printf '%s\n' "$f"
		done >"$list"
	elif [ -f config.status ]; then
		# A configured release tree: make distdir lists exactly the
		# distributed files without touching its configuration.
		rm -rf "$FL_SRC.dist"
		make -s distdir distdir="$FL_SRC.dist" >/dev/null || exit 1
		(cd "$FL_SRC.dist" && find . -type f | sed 's|^\./||') >"$list"
		cd "$FL_SRC.dist" || exit 1
	else
		# An unconfigured tree without git: every file but the
		# build directories and what the scripts leave behind.
		find . \( -path ./build -o -path ./build-asan -o \
		    -path ./fuzz-build -o -path ./run -o -path ./var -o \
		    -path ./artifacts -o -path ./.git \) -prune -o \
		    -type f -print | sed 's|^\./||' >"$list"
	fi
	while IFS= read -r f; do
		if ! cmp -s "$f" "$FL_SRC/$f"; then
			mkdir -p "$FL_SRC/$(dirname "$f")" &&
			    cp --preserve=mode "$f" "$FL_SRC/$f" || exit 1
		fi
	done <"$list"
	if [ -f "$FL_SRC/.manifest" ]; then
		sort "$list" >"$list.sorted"
		sort "$FL_SRC/.manifest" | comm -23 - "$list.sorted" |
		    while IFS= read -r f; do rm -f "$FL_SRC/$f"; done
		rm -f "$list.sorted"
	fi
	mv "$list" "$FL_SRC/.manifest"
	rm -rf "$FL_SRC.dist"
	cd "$FL_SRC" || exit 1
	if [ ! -x configure ] || [ configure.ac -nt configure ] ||
	    [ Makefile.am -nt Makefile.in ]; then
		autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; exit 1; }
	fi
	) 9>"$FL_SRC.lock"
}

# Builds build/src in directory $1 (default build/) with configure flags
# $2 (default --enable-werror), make target $3 (default all); configures
# again only when the flags changed.  A failed build prints make's output.
# configure keeps its results in the directory's config.cache (-C), so
# that configuring again with other flags takes a third of the CPU;
# scripts/test hands build/'s results on to its later configures
# (fl_config_site).  Should a kept result no longer hold (a package
# removed since), the configure that fails runs again without any.
fl_build() {
	local dir=${1:-$FL_BUILD} flags=${2-$FL_WERROR} target=${3:-all}
	fl_sync_src || return 1
	mkdir -p "$dir" || return 1
	(
	flock 9
	cd "$dir" || exit 1
	if [ ! -f Makefile ] || [ ! -f config.status ] ||
	    [ "$(cat .configure-flags 2>/dev/null)" != "$flags" ]; then
		if ! "$FL_SRC/configure" -q -C $flags >/dev/null 2>&1; then
			rm -f config.cache
			CONFIG_SITE=/dev/null "$FL_SRC/configure" -q -C \
			    $flags >/dev/null || exit 1
		fi
		echo "$flags" >.configure-flags
	fi
	make -s -j"$(nproc)" "$target" >/dev/null 2>&1 || make "$target"
	) 9>"$dir/.build.lock"
}

# Writes to $2 configure's results of build $1 (its config.cache) as a
# site file (CONFIG_SITE, which configure reads before its checks): a
# configure of the same sources with the same compiler then runs only
# the checks it has no result for (measured: 6.6 CPU-seconds against
# 9.3).  The environment's values (ac_cv_env_*) are left out: a
# configure with other CFLAGS would take them for a changed environment
# and stop.
# Returns 1 when build $1 has no cache.
fl_config_site() {
	[ -s "$1/config.cache" ] || return 1
	grep -v '^ac_cv_env_' "$1/config.cache" >"$2"
}

# Renders the nginx config for rundir $1 and port $2: run.conf.in and the
# snippets of nginx/ it includes, their paths pointed at $1.
fl_nginx_conf() {
	local rundir=$1 port=$2 user=""
	mkdir -p "$rundir/nginx-tmp"
	# As root nginx would drop its workers to "nobody", who cannot reach
	# the sockets in the run directory: run them as ourselves.
	[ "$(id -u)" -eq 0 ] && user="user root root;"
	sed -e "s|/usr/share/forcelink/nginx|$FL_ROOT/nginx|g" \
	    -e "s|/var/log/nginx/forcelink-access.log|$rundir/nginx-access.log|g" \
	    -e "s|/var/log/nginx/forcelink-error.log|$rundir/nginx-error.log|g" \
	    "$FL_ROOT/nginx/forcelink-locations.conf" \
	    >"$rundir/forcelink-locations.conf"
	sed -e "s|unix:/run/forcelink/|unix:$rundir/|g" \
	    "$FL_ROOT/nginx/forcelink-upstreams.conf" \
	    >"$rundir/forcelink-upstreams.conf"
	sed -e "s|{{RUNDIR}}|$rundir|g" -e "s|{{PORT}}|$port|g" \
	    -e "s|{{USER}}|$user|g" "$FL_ROOT/nginx/run.conf.in" \
	    >"$rundir/nginx.conf"
}

# The FastCGI programs: the three of SPEC §1 and slack_oauth (installing
# the Slack app, issue 6).
FL_PROGRAMS="contact oauth_start oauth_callback slack_oauth actions"

# Starts the FastCGI programs with sockets in $1.  PIDs go to $1/pids.
# Environment: the settings of SPEC §2.
fl_start_programs() {
	local rundir=$1 prog
	for prog in $FL_PROGRAMS; do
		# -t and -T as the programs default them (one request
		# thread per core; 4096 requests held) unless FL_THREADS
		# or FL_MAX_REQUESTS say otherwise.
		"$FL_BUILD/cgi/$prog" -s "$rundir/$prog.sock" -m 0660 \
		    -w "${FL_WORKERS:-2}" \
		    ${FL_THREADS:+-t "$FL_THREADS"} \
		    ${FL_MAX_REQUESTS:+-T "$FL_MAX_REQUESTS"} \
		    2>>"$rundir/forcelink.log" &
		echo $! >>"$rundir/pids"
	done
}

fl_start_nginx() {
	local rundir=$1
	nginx -p "$rundir" -c "$rundir/nginx.conf" -e "$rundir/nginx-error.log" &
	echo $! >>"$rundir/pids"
}

# Starts the Salesforce stand-in (SPEC §8) for rundir $1 with redirect
# URI $2.  Sets FL_SF_URL.
fl_start_standin() {
	local rundir=$1 redirect=$2 i
	"$FL_ROOT/tests/standin/mkcerts.sh" "$rundir/tls" || return 1
	rm -f "$rundir/standin.ready"
	$FL_PY "$FL_ROOT/tests/standin/salesforce.py" \
	    --cert "$rundir/tls/server.pem" --key "$rundir/tls/server.key" \
	    --client-id "$SF_CLIENT_ID" --client-secret-file "$SF_CLIENT_SECRET_FILE" \
	    --redirect-uri "$redirect" --ready-file "$rundir/standin.ready" \
	    --log "$rundir/standin.log" &
	echo $! >>"$rundir/pids"
	for i in $(seq 100); do
		[ -s "$rundir/standin.ready" ] && break
		sleep 0.1
	done
	FL_SF_URL=$(sed -n 2p "$rundir/standin.ready")
	[ -n "$FL_SF_URL" ]
}

# Starts the Slack stand-in (tests/standin/slack.py, issue 6) for rundir
# $1 with redirect URI $2, sharing the Salesforce stand-in's certificates
# (fl_start_standin first).  Needs SLACK_CLIENT_ID and
# SLACK_CLIENT_SECRET_FILE.  Sets FL_SLACK_URL.
fl_start_slack_standin() {
	local rundir=$1 redirect=$2 i
	rm -f "$rundir/slack.ready"
	$FL_PY "$FL_ROOT/tests/standin/slack.py" \
	    --cert "$rundir/tls/server.pem" --key "$rundir/tls/server.key" \
	    --client-id "$SLACK_CLIENT_ID" \
	    --client-secret-file "$SLACK_CLIENT_SECRET_FILE" \
	    --redirect-uri "$redirect" --ready-file "$rundir/slack.ready" \
	    --log "$rundir/slack-standin.log" &
	echo $! >>"$rundir/pids"
	for i in $(seq 100); do
		[ -s "$rundir/slack.ready" ] && break
		sleep 0.1
	done
	FL_SLACK_URL=$(sed -n 2p "$rundir/slack.ready")
	[ -n "$FL_SLACK_URL" ]
}

# Waits until every socket exists and nginx answers on port $2.
fl_wait_ready() {
	local rundir=$1 port=$2 i
	for i in $(seq 100); do
		if [ -S "$rundir/contact.sock" ] && [ -S "$rundir/oauth_start.sock" ] &&
		    [ -S "$rundir/oauth_callback.sock" ] &&
		    [ -S "$rundir/slack_oauth.sock" ] &&
		    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# Stops everything listed in $1/pids.
fl_stop_all() {
	local rundir=$1 pid
	[ -f "$rundir/pids" ] || return 0
	local i alive
	while read -r pid; do
		kill "$pid" 2>/dev/null || true
	done <"$rundir/pids"
	# The supervisors stop their workers first; give them time.
	for i in $(seq 50); do
		alive=0
		while read -r pid; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done <"$rundir/pids"
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	while read -r pid; do
		kill -9 "$pid" 2>/dev/null || true
	done <"$rundir/pids"
	rm -f "$rundir/pids"
}

# Builds build-asan/ (or $1) with --enable-sanitizers (ASan, LSan,
# UBSan) and -Werror.
fl_build_sanitized() {
	fl_build "${1:-$FL_BUILD_ASAN}" "$FL_SANITIZE"
}

# Runs "$@" with the sanitizers set so that any report fails: the first
# report aborts the process, and LeakSanitizer checks every normal exit.
fl_sanitized() {
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$@"
}
