#!/bin/sh
# The world of the TLS probe tests, on loopback: a test CA and
# certificates, an authoritative nsd (127.0.8.1) for tlscheck.example.,
# and tests/tlscheck/smtp-servers.py with one SMTP server per address
# 127.0.8.2-.14 (.12 listens on nothing: refused).  Then a command, then
# everything is stopped.
#   servers.sh COMMAND ARGS...
# Environment for COMMAND:
#   TLSCHECK_DNS     127.0.8.1@PORT      TLSCHECK_PORT  the SMTP port
#   TLSCHECK_CA      the test CA         TLSCHECK_DIR   the work directory
#   TLSCHECK_SURVEY  the survey domains, one a line ("DOMAIN HOST..." in
#                    TLSCHECK_DIR/survey.map: the MX hosts given to each)
#   POSTERN_DB       TLSCHECK_DIR/postern.db (postern without --db)
# Hosts (mx-MODE.tlscheck.example, except the wildcard one):
#   plain .2   no STARTTLS            valid .3   test CA, TLSv1.3
#   other .4   certificate for other.example (valid chain)
#   a.b.wild .5  certificate *.wild.tlscheck.example: one label only
#   expired .6   expired (test CA)    selfsigned .7  self-signed
#   tls10 .8   TLSv1.0/1.1 only (security level 0)
#   tls12 .9   TLSv1.2 at most        stall .10  accepts, never speaks
#   weak .11   RSA-1024, SHA-1, negative serial (test CA)
#   refused .12  nothing listens    garbage .13  text instead of TLS after 220
#   refuse .14   STARTTLS offered, answered 454
#   v6 ::1       test CA, TLSv1.3, IPv6 only (AAAA, no A record)
#   dual         A 127.0.8.12 (refused) and AAAA ::1: IPv6 after IPv4
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v nsd >/dev/null || { echo "servers.sh: needs nsd (scripts/install-deps.sh --test)" >&2; exit 1; }
# shellcheck source=tests/lib/servers.sh
. "$here/../lib/servers.sh"
# shellcheck source=tests/lib/certs.sh
. "$here/../lib/certs.sh"
srv_begin servers.sh tlscheck
dir=$srv_dir
chmod 755 "$dir"
dns_port=$(free_port 20000 10000)
smtp_port=$(free_port 10000 10000)
z=tlscheck.example

# ---- certificates ----
(
	cd "$dir"
	q() { "$@" >/dev/null 2>&1; }
	cert_ca . "Postern TLS check test CA"
	cert_leaf . valid "mx-valid.$z" "DNS:mx-valid.$z,DNS:implicit.$z,DNS:mx-tls10.$z,DNS:mx-tls12.$z"
	cert_leaf . v6 "mx-v6.$z" "DNS:mx-v6.$z,DNS:mx-dual.$z"
	cert_leaf . other other.example "DNS:other.example,DNS:www.other.example"
	cert_leaf . wild "*.wild.$z" "DNS:*.wild.$z"
	# expired: signed with dates in the past (openssl ca takes them)
	q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=mx-expired.$z" -keyout expired.key -out expired.csr
	mkdir -p ca.db && : >ca.db/index && echo 01 >ca.db/serial
	cat >ca.cnf <<CNF
[ca]
default_ca = t
[t]
dir = $dir/ca.db
database = \$dir/index
serial = \$dir/serial
new_certs_dir = \$dir
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = p
copy_extensions = none
[p]
commonName = supplied
[ext]
subjectAltName = DNS:mx-expired.$z
extendedKeyUsage = serverAuth
CNF
	q openssl ca -batch -config ca.cnf -extensions ext -startdate 20200101000000Z -enddate 20200201000000Z \
		-in expired.csr -out expired.pem -notext
	cert_self . selfsigned "mx-selfsigned.$z"
	q openssl req -newkey rsa:1024 -nodes -subj "/CN=mx-weak.$z" -keyout weak.key -out weak.csr
	printf 'subjectAltName=DNS:mx-weak.%s\n' "$z" >weak.ext
	q openssl x509 -req -in weak.csr -CA ca.pem -CAkey ca.key -set_serial -4242 -sha1 -days 2 -extfile weak.ext -out weak.pem
	for f in valid v6 other wild expired selfsigned weak; do [ -s "$f.pem" ] || { echo "servers.sh: no $f.pem" >&2; exit 1; }; done
	chmod 644 ./*.pem ./*.key
)

# ---- the zone ----
survey_zone() {
# the survey: 300 domains over the hosts above, one, two or three each
hosts="mx-plain mx-valid mx-other a.b.wild mx-expired mx-selfsigned mx-tls10 mx-tls12 mx-stall mx-weak mx-refused mx-garbage mx-refuse"
set -- $hosts
nh=$#
: >"$dir/survey.map"
i=0
while [ $i -lt 300 ]; do
	k=$((i % 3 + 1)) j=0 line="d$i.survey.$z"
	case $((i % 50)) in
	7) echo "d$i.survey MX 0 ."; line="$line NULLMX" ;;
	13) line="$line NXDOMAIN" ;;
	21) echo "d$i.survey A 127.0.8.3"; line="$line IMPLICIT" ;;
	*)
		while [ $j -lt $k ]; do
			n=$(((i * 7 + j * 5) % nh + 1))
			eval h=\${$n}
			echo "d$i.survey MX $((10 * (j + 1))) $h.$z."
			line="$line $h.$z"
			j=$((j + 1))
		done
		;;
	esac
	echo "$line" >>"$dir/survey.map"
	i=$((i + 1))
done
}
{
	cat <<ZONE
\$ORIGIN $z.
\$TTL 300
@ SOA ns.$z. admin.$z. 1 3600 600 86400 300
@ NS ns.$z.
ns A 127.0.8.1
mx-plain A 127.0.8.2
mx-valid A 127.0.8.3
mx-other A 127.0.8.4
a.b.wild A 127.0.8.5
mx-expired A 127.0.8.6
mx-selfsigned A 127.0.8.7
mx-tls10 A 127.0.8.8
mx-tls12 A 127.0.8.9
mx-stall A 127.0.8.10
mx-weak A 127.0.8.11
mx-refused A 127.0.8.12
mx-garbage A 127.0.8.13
mx-refuse A 127.0.8.14
mx-v6 AAAA ::1
mx-dual A 127.0.8.12
mx-dual AAAA ::1
mx-noaddr TXT "no address"
ZONE
	for m in plain valid other expired selfsigned tls10 tls12 stall weak refused noaddr garbage refuse; do
		echo "$m MX 10 mx-$m.$z."
	done
	echo "wild MX 10 a.b.wild.$z."
	echo "v6 MX 10 mx-v6.$z."
	echo "dual MX 10 mx-dual.$z."
	echo "implicit A 127.0.8.3"
	echo "nullmx MX 0 ."
	echo "backup MX 10 mx-stall.$z."
	echo "backup MX 20 mx-valid.$z."
	echo "plainfirst MX 10 mx-plain.$z."
	echo "plainfirst MX 20 mx-valid.$z."
	echo "othernamefirst MX 5 mx-other.$z."
	echo "othernamefirst MX 7 mx-tls12.$z."
	survey_zone
} >"$dir/$z.zone"
cut -d' ' -f1 "$dir/survey.map" >"$dir/survey.txt"

/usr/bin/python3 "$here/smtp-servers.py" "$smtp_port" "$dir" 127.0.8.2=plain 127.0.8.3=tls:valid 127.0.8.4=tls:other \
	127.0.8.5=tls:wild 127.0.8.6=tls:expired 127.0.8.7=tls:selfsigned 127.0.8.8=tls:valid:10 \
	127.0.8.9=tls:valid:12 127.0.8.10=stall 127.0.8.11=tls:weak 127.0.8.13=garbage 127.0.8.14=refuse ::1=tls:v6 >"$dir/smtp.out" 2>"$dir/smtp.log" &
smtp_pid=$!
srv_track $smtp_pid
nsd_options="rrl-ratelimit: 0" nsd_start "$dir" 127.0.8.1 "$dns_port" "$z=$z.zone"
srv_wait "the SMTP servers" "$dir/smtp.log" 'grep -q ready "$dir/smtp.out"' $smtp_pid
# POSTERN_DB: a postern run without --db uses a database of its own here,
# never the machine's /var/lib/postern/postern.db
TLSCHECK_DNS="127.0.8.1@$dns_port" TLSCHECK_PORT=$smtp_port TLSCHECK_CA="$dir/ca.pem" TLSCHECK_DIR="$dir" \
	TLSCHECK_SURVEY="$dir/survey.txt" POSTERN_DB="$dir/postern.db" "$@"
