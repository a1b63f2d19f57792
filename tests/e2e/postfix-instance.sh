#!/bin/sh
# A private Postfix instance for the end-to-end tests: its own config,
# queue and log under DIR, listening on 127.0.0.1 only; /etc/postfix is
# never touched.
#   write  the base configuration: queue, log, TLS certificates, no DNS,
#          Postfix's own services; Postern's part (submission on 587, 465
#          and 2525, SASL and policy via postern-hookd, the TLS-enforcing
#          transports) is then added by `postern postfix-config --apply`,
#          exactly as an administrator would.
#   start, stop
# usage: postfix-instance.sh DIR CERTDIR write|start|stop
#
# The older form  postfix-instance.sh DIR CERTDIR AUTH_ADDR POLICY_ADDR start|stop
# (tests/proto/record-maillog.sh) writes the base configuration plus a
# fixed Postern part (submission on 10587, 10465 and 12525, the
# transports, the status filter) and starts.
set -eu
legacy=""
if [ $# -eq 5 ]; then
	dir=$1 certs=$2 auth=$3 policy=$4 legacy=$5
	action=write
	[ "$legacy" = stop ] && action=stop
else
	dir=$1 certs=$2 action=$3
fi

case "$action" in
stop)
	postfix -c "$dir/etc" stop >/dev/null 2>&1 || true
	exit 0 ;;
start)
	postfix -c "$dir/etc" check
	postfix -c "$dir/etc" start >/dev/null 2>&1 || { tail -20 "$dir/log/maillog" >&2; exit 1; }
	exit 0 ;;
write) ;;
*) echo "usage: $0 DIR CERTDIR write|start|stop" >&2; exit 64 ;;
esac

mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/log"
chown postfix "$dir/data"
chmod 755 "$dir" "$dir/etc" "$dir/log"
# Every parent must be enterable by user postfix, or master cannot take
# its lock; say so rather than change permissions outside DIR.
if ! setpriv --reuid=postfix --regid=postfix --clear-groups test -x "$dir/data"; then
	echo "postfix-instance: user postfix cannot reach $dir/data: put DIR under a world-enterable directory such as /tmp" >&2
	exit 1
fi

cat >"$dir/etc/main.cf" <<EOF2
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
myhostname = mta.postern.test
mydomain = postern.test
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtp_bind_address = 127.0.0.1
mynetworks = 127.0.0.1/32
maillog_file = $dir/log/maillog
maillog_file_prefixes = $dir/log
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
alias_maps =
alias_database =
local_recipient_maps =
biff = no
delay_warning_time = 0
bounce_queue_lifetime = 0
maximal_queue_lifetime = 1h
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
smtp_connect_timeout = 5s
# submission side
smtpd_tls_cert_file = $certs/submit.pem
smtpd_tls_key_file = $certs/submit.key
smtpd_tls_security_level = may
smtpd_sasl_auth_enable = no
# delivery side: opportunistic by default; the test CA is the only trust
smtp_tls_security_level = may
smtp_tls_CAfile = $certs/ca.pem
smtp_tls_loglevel = 1
smtpd_relay_restrictions = reject
EOF2

cat >"$dir/etc/master.cf" <<EOF2
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF2

[ -n "$legacy" ] || exit 0
# ---- the older form: a fixed Postern part, then start ----
cat >>"$dir/etc/main.cf" <<EOF2
smtpd_sasl_type = dovecot
smtpd_sasl_path = $auth
smtpd_tls_received_header = yes
EOF2
cat >"$dir/etc/tls_status_filter" <<'PCRE'
# An enforcing transport never falls back to the clear; make its refusal
# final at once (5.7.x) instead of days of retries, with SendGrid's wording.
/^4(\.7\.[0-9]+) (.*)$/ 5$1 TLS required but not supported: $2
PCRE

# One submission service definition, three listeners.
sub_opts="-o syslog_name=postfix/submission -o smtpd_sasl_auth_enable=yes
 -o smtpd_client_restrictions=permit_sasl_authenticated,reject
 -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
 -o smtpd_recipient_restrictions=check_policy_service,$policy,permit_sasl_authenticated,reject"
sub_opts=$(echo "$sub_opts" | tr '\n' ' ')
cat >>"$dir/etc/master.cf" <<EOF2
127.0.0.1:10587 inet n - n - - smtpd $sub_opts -o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes
127.0.0.1:10465 inet n - n - - smtpd $sub_opts -o smtpd_tls_wrappermode=yes
127.0.0.1:12525 inet n - n - - smtpd $sub_opts -o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes
postern-tls-encrypt   unix - - n - - smtp -o syslog_name=postfix/postern-tls-encrypt -o smtp_tls_security_level=encrypt -o smtp_tls_mandatory_protocols=>=TLSv1.2 -o smtp_delivery_status_filter=pcre:$dir/etc/tls_status_filter
postern-tls13-encrypt unix - - n - - smtp -o syslog_name=postfix/postern-tls13-encrypt -o smtp_tls_security_level=encrypt -o smtp_tls_mandatory_protocols=>=TLSv1.3 -o smtp_delivery_status_filter=pcre:$dir/etc/tls_status_filter
postern-tls-verify    unix - - n - - smtp -o syslog_name=postfix/postern-tls-verify -o smtp_tls_security_level=verify -o smtp_tls_mandatory_protocols=>=TLSv1.2 -o smtp_delivery_status_filter=pcre:$dir/etc/tls_status_filter
postern-tls13-verify  unix - - n - - smtp -o syslog_name=postfix/postern-tls13-verify -o smtp_tls_security_level=verify -o smtp_tls_mandatory_protocols=>=TLSv1.3 -o smtp_delivery_status_filter=pcre:$dir/etc/tls_status_filter
postern-notls         unix - - n - - smtp -o syslog_name=postfix/postern-notls -o smtp_tls_security_level=none
EOF2
postfix -c "$dir/etc" check
postfix -c "$dir/etc" start >/dev/null 2>&1 || { tail -20 "$dir/log/maillog" >&2; exit 1; }
