#!/usr/bin/env bash
# bench/profile.sh: where a warm /contact's CPU goes, against the relay's,
# in instructions and system calls per request (issue 13 item 4).
#
#   bench/profile.sh [-c CONNECTIONS] [-d SECONDS] [callgrind|strace|perf|pss|none]
#
# Starts what scripts/bench starts for its rounds, reduced to the two
# targets compared: the static Salesforce (bench/sf.conf.in, a second
# nginx over HTTPS), a user linked directly in the store (bench/linkuser),
# cgi/contact and bench/relay with one worker each (-w 1; contact with
# -t 1 unless FL_THREADS says otherwise), and nginx in front.  Then, for
# each target in turn, wrk (bench/wrk.lua: every request a distinct
# signed slash command) runs for SECONDS (default 5) with CONNECTIONS
# (default 8), and the worker is measured over exactly that run:
#
#   callgrind  both programs run under valgrind --tool=callgrind with
#              instrumentation off; it is switched on (callgrind_control)
#              for the run and the profile dumped after it.  Instruction
#              counts repeat from run to run even on a busy machine.
#              Prints Ir per request (every thread of the worker) and
#              keeps the profiles (callgrind_annotate them).
#   strace     strace -c -f is attached to the worker for the run:
#              system calls per request, by name.
#   perf       perf stat's software counters of the worker over the run
#              (task-clock, context switches, migrations, page faults),
#              per request: what a thread hop or a stack costs beyond its
#              instructions.
#   pss        the worker's PSS at rest after the warm-up, the most
#              under the run (sampled every 0.2 s) with the mappings
#              that held it then (/proc/PID/smaps), and at rest after.
#   none       CPU time of the worker per request (/proc/PID/stat), as
#              scripts/bench reports it, but with one worker.
#
# The results and the profiles go to $FL_PROFILE_OUT (default
# /tmp/forcelink-profile); the run directory is removed at the end unless
# FL_BENCH_KEEP=1.
set -euo pipefail
FL_PROG=profile
. "$(dirname "$0")/../scripts/lib.sh"

conns=8
duration=5
while getopts c:d: o; do
	case $o in
	c) conns=$OPTARG ;;
	d) duration=$OPTARG ;;
	*) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	   exit 2 ;;
	esac
done
shift $((OPTIND - 1))
mode=${1:-callgrind}
case $mode in callgrind|strace|perf|pss|none) ;; *) echo "bad mode $mode" >&2; exit 2 ;; esac
out=${FL_PROFILE_OUT:-/tmp/forcelink-profile}
mkdir -p "$out"

make -s -C "$FL_BUILD" bench >/dev/null || { fl_log "make bench failed"; exit 1; }

rundir=$(mktemp -d /tmp/forcelink-profile.XXXXXX)
cleanup() {
	fl_stop_all "$rundir"
	if [ "${FL_BENCH_KEEP:-0}" = 1 ]; then
		fl_log "kept $rundir"
	else
		rm -rf "$rundir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	$FL_PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
sfport=$(free_port)
while [ "$sfport" = "$port" ]; do sfport=$(free_port); done
sfurl=https://127.0.0.1:$sfport
team=T0BENCH001
user=U0BENCH001
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root root;"

umask 077
"$FL_ROOT/tests/standin/mkcerts.sh" "$rundir/tls" >/dev/null
mkdir -p "$rundir/var" "$rundir/sf" "$rundir/sf-tmp"
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$rundir/slack_secret"
head -c 24 /dev/urandom | base64 | tr -d '\n' >"$rundir/sf_secret"
head -c 32 /dev/urandom | base64 >"$rundir/key"
secret=$(cat "$rundir/slack_secret")
umask 022
$FL_PY "$FL_ROOT/bench/sfreply.py" v62.0 >"$rundir/sf/query.json"

export SLACK_SIGNING_SECRET_FILE=$rundir/slack_secret
export SF_CLIENT_ID=forcelink-bench
export SF_CLIENT_SECRET_FILE=$rundir/sf_secret
export SF_LOGIN_URL=$sfurl
export SF_API_VERSION=v62.0
export FORCELINK_PUBLIC_URL=http://127.0.0.1:$port
export FORCELINK_KEY_FILE=$rundir/key
export FORCELINK_DB=$rundir/var/forcelink.db
export FORCELINK_CA_FILE=$rundir/tls/ca.pem
export SLACK_RESPONSE_URL_PREFIX=$sfurl/hooks/
unset SLACK_SIGNING_SECRET SLACK_VERIFICATION_TOKEN SF_CLIENT_SECRET \
    FORCELINK_KEY FORCELINK_DEBUG 2>/dev/null || true

# The static Salesforce; its slow port is not used here (any free one).
sed -e "s|{{RUNDIR}}|$rundir|g" -e "s|{{PORT}}|$sfport|g" \
    -e "s|{{SLOWPORT}}|$(free_port)|g" \
    -e "s|{{USER}}|$user_line|g" "$FL_ROOT/bench/sf.conf.in" \
    >"$rundir/sf-nginx.conf"
nginx -p "$rundir" -c "$rundir/sf-nginx.conf" -e "$rundir/sf-nginx-error.log" &
echo $! >>"$rundir/pids"
sf_query=$sfurl/services/data/v62.0/query
for i in $(seq 100); do
	curl -fs --cacert "$FORCELINK_CA_FILE" "$sf_query" >/dev/null 2>&1 && break
	[ "$i" = 100 ] && { fl_log "the static Salesforce did not start"; exit 1; }
	sleep 0.1
done
"$FL_BUILD/bench/linkuser" "$FORCELINK_DB" "$FORCELINK_KEY_FILE" \
    "$team" "$user" "$sfurl" 2>>"$rundir/forcelink.log" ||
    { fl_log "cannot link the benchmark user"; exit 1; }

wrap=()
case $mode in
callgrind)
	wrap=(valgrind --tool=callgrind --trace-children=yes --instr-atstart=no
	    --callgrind-out-file="$rundir/callgrind.%p" --log-file="$rundir/vg.%p") ;;
esac
# FL_PROFILE_WRAP: a command line to run cgi/contact under instead (for
# another tool, e.g. "valgrind --tool=massif --trace-children=yes").
cwrap=("${wrap[@]}")
[ -n "${FL_PROFILE_WRAP:-}" ] && read -r -a cwrap <<<"$FL_PROFILE_WRAP"
cd "$rundir"
"${cwrap[@]}" "$FL_BUILD/cgi/contact" -s "$rundir/contact.sock" -m 0660 -w 1 \
    -t "${FL_THREADS:-1}" 2>>"$rundir/forcelink.log" &
contact_pid=$!
echo $contact_pid >>"$rundir/pids"
BENCH_SF_URL=$sf_query BENCH_CA_FILE=$FORCELINK_CA_FILE \
    "${wrap[@]}" "$FL_BUILD/bench/relay" -s "$rundir/relay.sock" -w 1 &
relay_pid=$!
echo $relay_pid >>"$rundir/pids"
fl_nginx_conf "$rundir" "$port"
sed -e "s|{{RUNDIR}}|$rundir|g" -e "s|{{NGINXDIR}}|$FL_ROOT/nginx|g" \
    "$FL_ROOT/bench/locations.conf.in" >>"$rundir/forcelink-locations.conf"
fl_start_nginx "$rundir"
for i in $(seq 300); do
	[ -S "$rundir/contact.sock" ] && [ -S "$rundir/relay.sock" ] &&
	    [ -n "$(cat /proc/$contact_pid/task/$contact_pid/children 2>/dev/null)" ] &&
	    [ -n "$(cat /proc/$relay_pid/task/$relay_pid/children 2>/dev/null)" ] &&
	    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	[ "$i" = 300 ] && { tail -n 5 "$rundir/forcelink.log" >&2
		fl_log "the stack did not start"; exit 1; }
	sleep 0.1
done
front=http://127.0.0.1:$port

worker_of() {
	cat "/proc/$1/task/$1/children" | awk '{ print $1 }'
}

# "USER SYSTEM" CPU ticks of process $1 (all its threads).
cpu_ticks() {
	local stat rest
	stat=$(cat "/proc/$1/stat")
	rest=${stat##*) }
	set -- $rest
	echo "${12} ${13}"
}

# load TARGET SECONDS: one wrk run; prints its requests served.
load() {
	local url=$front/$1 expect="Jane Smith" r
	[ "$1" = forcelink ] && url=$front/contact
	r=$(wrk -t1 -c"$conns" -d"${2}s" --timeout 20s -s "$FL_ROOT/bench/wrk.lua" \
	    "$url" -- "$secret" "p$(date +%s%N)$RANDOM" "$team" "$user" smith \
	    "$expect" 2>&1 | grep '^WRK ') || { fl_log "wrk failed for $1"; exit 1; }
	echo "$r" >>"$rundir/wrk.log"
	case $r in
	*" non2xx=0 "*" bad=0"*) ;;
	*) fl_log "failed requests for $1: $r" ;;
	esac
	echo "$r" | tr ' ' '\n' | sed -n 's/^requests=//p'
}

echo "profile: $mode, wrk -t1 -c$conns -d${duration}s per target, contact" \
    "-w 1 -t ${FL_THREADS:-1}, relay -w 1; load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ)"
for t in relay forcelink; do
	pid=$contact_pid
	[ $t = relay ] && pid=$relay_pid
	w=$(worker_of "$pid")
	# Warm: connections to Salesforce, caches, the first handshakes.
	load "$t" 1 >/dev/null
	case $mode in
	callgrind)
		callgrind_control -z "$w" >/dev/null
		callgrind_control --instr=on "$w" >/dev/null
		n=$(load "$t" "$duration")
		callgrind_control --instr=off "$w" >/dev/null
		callgrind_control --dump="$t" "$w" >/dev/null
		sleep 1
		f=$(ls -t "$rundir"/callgrind.$w* | head -n 1)
		cp "$f" "$out/callgrind.$t"
		ir=$(callgrind_annotate "$f" 2>/dev/null |
		    sed -n 's/^\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
		printf '%-10s requests %6d  Ir %12d  Ir/request %9.0f\n' "$t" \
		    "$n" "$ir" "$(echo "$ir / $n" | bc -l)" | tee -a "$out/summary"
		;;
	strace)
		strace -c -f -qq -o "$out/strace.$t" -p "$w" &
		sp=$!
		sleep 0.5
		n=$(load "$t" "$duration")
		sleep 0.2
		kill -INT $sp; wait $sp || true
		calls=$(awk '$NF == "total" { print $4 }' "$out/strace.$t")
		printf '%-10s requests %6d  syscalls %8d  per request %6.2f\n' "$t" \
		    "$n" "$calls" "$(echo "$calls / $n" | bc -l)" | tee -a "$out/summary"
		awk -v n="$n" 'NR > 2 && $NF != "total" && $1 !~ /^-/ {
		    printf "    %-20s %6.2f\n", $NF, $4 / n }' \
		    "$out/strace.$t" | sort -k2 -g -r | head -n 25
		;;
	perf)
		perf stat -x, -e task-clock,context-switches,cpu-migrations,page-faults \
		    -p "$w" -o "$out/perf.$t" &
		sp=$!
		sleep 0.3
		n=$(load "$t" "$duration")
		kill -INT $sp; wait $sp || true
		printf '%-10s requests %6d ' "$t" "$n" | tee -a "$out/summary"
		awk -F, -v n="$n" '$3 != "" && $1 ~ /^[0-9.]+$/ {
		    printf " %s/req %.2f", $3, $1 / n }' "$out/perf.$t" |
		    tee -a "$out/summary"
		echo | tee -a "$out/summary"
		;;
	pss)
		pss_of() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"; }
		rest=$(pss_of "$w")
		load "$t" "$duration" >"$rundir/n.$t" &
		lp=$!
		best=0
		while kill -0 $lp 2>/dev/null; do
			v=$(pss_of "$w")
			if [ "$v" -gt "$best" ]; then
				best=$v
				cp "/proc/$w/smaps" "$out/smaps.$t"
			fi
			sleep 0.2
		done
		wait $lp || true
		sleep 2
		printf '%-10s requests %6d  PSS kB at rest %6d, most under load %6d, at rest after %6d\n' \
		    "$t" "$(cat "$rundir/n.$t")" "$rest" "$best" "$(pss_of "$w")" |
		    tee -a "$out/summary"
		# The mappings that held the most, at the peak.
		awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 != "" ? $6 : "[anon]") }
		    /^Size:/ { size = $2 }
		    /^Pss:/ { pss[name] += $2; n[name]++; if (name == "[anon]") anon[size] += $2 }
		    END { for (k in pss) if (pss[k] >= 64) printf "    %6d kB  %3d maps  %s\n", pss[k], n[k], k
			for (k in anon) if (anon[k] >= 64) printf "    %6d kB  anon maps of %d kB\n", anon[k], k }' \
		    "$out/smaps.$t" | sort -rn | head -n 16
		;;
	none)
		read -r u0 s0 <<<"$(cpu_ticks "$w")"
		n=$(load "$t" "$duration")
		read -r u1 s1 <<<"$(cpu_ticks "$w")"
		hz=$(getconf CLK_TCK)
		printf '%-10s requests %6d  CPU us/request %7.1f (user %.1f, system %.1f)\n' \
		    "$t" "$n" \
		    "$(echo "($u1 + $s1 - $u0 - $s0) * 1000000 / $hz / $n" | bc -l)" \
		    "$(echo "($u1 - $u0) * 1000000 / $hz / $n" | bc -l)" \
		    "$(echo "($s1 - $s0) * 1000000 / $hz / $n" | bc -l)" |
		    tee -a "$out/summary"
		;;
	esac
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
