#!/bin/sh
# mkcerts.sh DIR - throwaway TLS material for the Salesforce stand-in.
#
# Makes, with the openssl command-line tool, in DIR:
#   ca.pem, ca.key                   a private CA (trust it with FORCELINK_CA_FILE)
#   server.pem, server.key           DNS:localhost, IP:127.0.0.1, signed by the CA
#   wrong-host.pem, wrong-host.key   DNS:wrong.example, signed by the same CA, for
#                                    tests that expect a host-name mismatch to fail
# Everything is valid for DAYS days only (default 3).  Keys are EC P-256 (fast
# to make) and mode 0600.  When all six files exist and the certificates are
# still good for another hour, nothing is done, so callers can run this on every
# start.  Quiet on success; on failure one line on stderr and a non-zero exit.

set -eu

DAYS=${DAYS:-3}

die()
{
	echo "mkcerts.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: mkcerts.sh DIR"
dir=$1
command -v openssl >/dev/null 2>&1 || die "openssl not found (apt-get install openssl)"
mkdir -p "$dir" || die "cannot create $dir"

files="ca.pem ca.key server.pem server.key wrong-host.pem wrong-host.key"

# Already there and not about to expire: keep it (idempotent).
complete=yes
for f in $files; do
	[ -s "$dir/$f" ] || complete=no
done
if [ "$complete" = yes ] &&
    openssl x509 -checkend 3600 -noout -in "$dir/ca.pem" >/dev/null 2>&1 &&
    openssl x509 -checkend 3600 -noout -in "$dir/server.pem" >/dev/null 2>&1 &&
    openssl x509 -checkend 3600 -noout -in "$dir/wrong-host.pem" >/dev/null 2>&1
then
	exit 0
fi

umask 077
work=$(mktemp -d "$dir/.mkcerts.XXXXXX") || die "cannot make a temporary directory in $dir"
trap 'rm -rf "$work"' EXIT INT TERM
log=$work/openssl.log

run()
{
	"$@" >>"$log" 2>&1 || {
		tail -n 5 "$log" >&2
		die "failed: $*"
	}
}

newkey()
{
	run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1"
}

# The CA: a self-signed certificate allowed to sign only certificates.
newkey "$work/ca.key"
run openssl req -new -x509 -key "$work/ca.key" -out "$work/ca.pem" \
    -days "$DAYS" -sha256 -subj "/O=forcelink tests/CN=forcelink throwaway CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash"

# leaf NAME CN SAN: a server certificate signed by the CA.
leaf()
{
	newkey "$work/$1.key"
	run openssl req -new -key "$work/$1.key" -out "$work/$1.csr" \
	    -subj "/O=forcelink tests/CN=$2"
	cat >"$work/$1.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$3
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
	run openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" \
	    -CAkey "$work/ca.key" -CAcreateserial -out "$work/$1.pem" \
	    -days "$DAYS" -sha256 -extfile "$work/$1.ext"
}

leaf server localhost "DNS:localhost,IP:127.0.0.1"
leaf wrong-host wrong.example "DNS:wrong.example"

run openssl verify -CAfile "$work/ca.pem" "$work/server.pem" "$work/wrong-host.pem"

chmod 600 "$work/ca.key" "$work/server.key" "$work/wrong-host.key"
chmod 644 "$work/ca.pem" "$work/server.pem" "$work/wrong-host.pem"
# Keys first, certificates last: a reader that sees a certificate sees its key.
for f in ca.key server.key wrong-host.key ca.pem server.pem wrong-host.pem; do
	mv -f "$work/$f" "$dir/$f" || die "cannot write $dir/$f"
done
exit 0
