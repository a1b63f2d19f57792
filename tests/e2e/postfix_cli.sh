#!/bin/sh
# postern postfix-config and postfix-check against real Postfix
# configurations, read and written by Postfix's own postconf -c DIR (no
# running Postfix needed; e2e.py runs one configured this way).
# usage: postfix_cli.sh POSTERN_BINARY
set -eu
P=$1
command -v postconf >/dev/null 2>&1 || { echo "postconf is missing: run scripts/install-deps.sh --test" >&2; exit 1; }
# shellcheck source=tests/lib/check.sh
. "$(dirname "$0")/../lib/check.sh"
check_begin postfix-cli
fresh() { # a configuration as Debian installs it
	rm -rf "$T/etc"
	mkdir -p "$T/etc"
	printf 'compatibility_level = 3.6\nsmtpd_tls_cert_file = /etc/ssl/certs/mta.pem\n' >"$T/etc/main.cf"
	if [ -f /usr/share/postfix/master.cf.dist ]; then
		cp /usr/share/postfix/master.cf.dist "$T/etc/master.cf"
	else
		printf 'smtp inet n - y - - smtpd\npickup unix n - y 60 1 pickup\nsmtp unix - - y - - smtp\n' >"$T/etc/master.cf"
	fi
}
D=$T/etc

fresh
expect 1 "no smtpd service in master.cf offers AUTH" "$P" postfix-check --config-dir "$D"
expect 1 "postern-tls-verify/unix: missing from master.cf" "$P" postfix-check --config-dir "$D"
expect 1 "smtpd_tls_received_header = no" "$P" postfix-check --config-dir "$D"
expect 1 "error: smtp/unix: no smtp_tls_policy_maps: .*MTA-STS and DANE" "$P" postfix-check --config-dir "$D"
expect 1 "error: smtp_dns_support_level = \(default\): DANE needs dnssec" "$P" postfix-check --config-dir "$D"

# The printed lines name the daemon's addresses.
expect 0 "^smtpd_sasl_path = inet:127.0.0.1:10035$" "$P" postfix-config
expect 0 "smtpd_recipient_restrictions=check_policy_service,inet:127.0.0.1:10036,permit_sasl_authenticated,reject" "$P" postfix-config
expect 0 "^smtpd_sasl_path = /run/postern/auth$" "$P" postfix-config --hookd unix:/run/postern
expect 0 "check_policy_service,unix:/run/postern/policy," "$P" postfix-config --hookd unix:/run/postern
expect 0 "TLS required but not supported" "$P" postfix-config
# The TLS policy maps: the default transport's and one name per enforcing transport, on PORT+2.
expect 0 "^smtp_tls_policy_maps = socketmap:inet:127.0.0.1:10037:tls-policy$" "$P" postfix-config
expect 0 "^smtp_dns_support_level = dnssec$" "$P" postfix-config
expect 0 "^smtp_tls_security_level = dane$" "$P" postfix-config
expect 0 '"smtp_tls_security_level": "dane"' "$P" --json postfix-config
expect 0 "^smtp_tls_loglevel = 1$" "$P" postfix-config
for m in tls-encrypt:tls-policy-encrypt tls13-encrypt:tls-policy-encrypt13 tls-verify:tls-policy-verify \
	tls13-verify:tls-policy-verify13 notls:tls-policy-none; do
	out=$("$P" postfix-config --hookd inet:127.0.0.1:20001 | sed -n "/^postern-${m%%:*} /,/^[^ ]/p")
	printf '%s\n' "$out" | grep -qx "  -o smtp_tls_policy_maps=socketmap:inet:127.0.0.1:20003:${m#*:}" &&
		ok "postern-${m%%:*} asks map ${m#*:}" || bad "postern-${m%%:*}: no map ${m#*:} in: $out"
done
expect 0 "^smtp_tls_policy_maps = socketmap:unix:/run/postern/tlspolicy:tls-policy$" "$P" postfix-config --hookd unix:/run/postern
expect 0 '"smtp_tls_policy_maps": "socketmap:inet:127.0.0.1:10037:tls-policy"' "$P" --json postfix-config
expect 64 "is not inet:HOST:PORT" "$P" postfix-config --hookd inet:127.0.0.1:65534
expect 0 '"smtpd_sasl_type": "dovecot"' "$P" --json postfix-config
expect 64 "is not inet:HOST:PORT" "$P" postfix-config --hookd inet:127.0.0.1
expect 64 "is not inet:HOST:PORT or unix" "$P" postfix-config --hookd 127.0.0.1:10035

# Apply, then the check passes; applying again changes nothing.
# Debian's main.cf has no smtp_tls_security_level: it becomes dane, and the message says so.
expect 0 "^smtp_tls_security_level: \(unset\) -> dane \(opportunistic DANE by Postfix itself" \
	"$P" postfix-config --hookd inet:127.0.0.1:20001 --apply "$D"
[ "$(postconf -c "$D" -h smtp_tls_security_level)" = dane ] && ok "postconf reads smtp_tls_security_level = dane" ||
	bad "smtp_tls_security_level after apply: $(postconf -c "$D" -h smtp_tls_security_level)"
[ "$(postconf -c "$D" -h smtpd_tls_cert_file)" = /etc/ssl/certs/mta.pem ] && ok "apply keeps the other main.cf settings" ||
	bad "smtpd_tls_cert_file lost"
expect 0 "next: in postern-hookd's configuration tlspolicy_listen = inet:127.0.0.1:20003" "$P" postfix-config --hookd inet:127.0.0.1:20001 --apply "$D"
expect 0 "0 error\(s\), 0 warning\(s\)" "$P" postfix-check --config-dir "$D"
expect 0 "policy service inet:127.0.0.1:20002 asked at RCPT" "$P" postfix-check --config-dir "$D"
[ "$(postconf -c "$D" -h smtpd_sasl_path)" = inet:127.0.0.1:20001 ] && ok "postconf reads the SASL path" || bad "smtpd_sasl_path"
[ "$(postconf -c "$D" -P postern-tls13-verify/unix/smtp_tls_mandatory_protocols)" = "postern-tls13-verify/unix/smtp_tls_mandatory_protocols = >=TLSv1.3" ] &&
	ok "postconf reads the TLS 1.3 transport" || bad "tls13 transport"
grep -q "TLS required but not supported" "$D/postern_tls_status.pcre" && ok "status filter written" || bad "status filter"
[ "$(postconf -c "$D" -h smtp_tls_policy_maps)" = socketmap:inet:127.0.0.1:20003:tls-policy ] &&
	ok "postconf reads the default TLS policy map" || bad "smtp_tls_policy_maps"
[ "$(postconf -c "$D" -P postern-tls-verify/unix/smtp_tls_policy_maps)" = \
	"postern-tls-verify/unix/smtp_tls_policy_maps = socketmap:inet:127.0.0.1:20003:tls-policy-verify" ] &&
	ok "postconf reads the verify transport's map" || bad "verify transport's map"
cp "$D/main.cf" "$T/main.1"
cp "$D/master.cf" "$T/master.1"
out=$("$P" postfix-config --hookd inet:127.0.0.1:20001 --apply "$D")
printf '%s\n' "$out" | grep -q "smtp_tls_security_level" && bad "a second apply still talks of the level: $out" ||
	ok "a second apply: nothing said of the level (already dane)"
cmp -s "$D/main.cf" "$T/main.1" && cmp -s "$D/master.cf" "$T/master.1" && ok "apply is idempotent" || bad "apply twice differs"
expect 0 '"errors": 0' "$P" --json postfix-check --config-dir "$D"

# The TLS policy maps: a wrong name, none, somebody else's, extra maps; DNS and log levels.
postconf -c "$D" -P "postern-tls13-verify/unix/smtp_tls_policy_maps=socketmap:inet:127.0.0.1:20003:tls-policy-verify"
expect 1 "error: postern-tls13-verify/unix: smtp_tls_policy_maps asks postern-hookd's map 'tls-policy-verify', must be tls-policy-verify13" \
	"$P" postfix-check --config-dir "$D"
postconf -c "$D" -P "postern-tls13-verify/unix/smtp_tls_policy_maps=socketmap:inet:127.0.0.1:20003:tls-policy-verify13"
postconf -c "$D" -PX "postern-notls/unix/smtp_tls_policy_maps"
postconf -c "$D" -X smtp_tls_policy_maps
expect 1 "error: postern-notls/unix: no smtp_tls_policy_maps" "$P" postfix-check --config-dir "$D"
expect 1 "error: smtp/unix: no smtp_tls_policy_maps" "$P" postfix-check --config-dir "$D"
postconf -c "$D" -e "smtp_tls_policy_maps=hash:/etc/postfix/tls_policy"
expect 0 "warning: smtp/unix: smtp_tls_policy_maps is hash:/etc/postfix/tls_policy, not postern-hookd's" \
	"$P" postfix-check --config-dir "$D"
postconf -c "$D" -e "smtp_tls_policy_maps=socketmap:inet:127.0.0.1:20003:tls-policy, hash:/etc/postfix/tls_policy"
expect 0 "warning: smtp/unix: smtp_tls_policy_maps .* has other maps besides postern-hookd's" \
	"$P" postfix-check --config-dir "$D"
postconf -c "$D" -e "smtp_tls_policy_maps=socketmap:inet:127.0.0.1:20003:tls-policy"
# postern-notls on the plain map (as postfix-config wrote it before tls-policy-none): an error that says why.
postconf -c "$D" -P "postern-notls/unix/smtp_tls_policy_maps=socketmap:inet:127.0.0.1:20003:tls-policy"
expect 1 "error: postern-notls/unix: smtp_tls_policy_maps asks postern-hookd's map 'tls-policy', must be tls-policy-none: this transport \(level none\) does no DANE itself.*in the clear" \
	"$P" postfix-check --config-dir "$D"
postconf -c "$D" -P "postern-notls/unix/smtp_tls_policy_maps=socketmap:inet:127.0.0.1:20003:tls-policy-none"
expect 0 "0 error\(s\), 0 warning\(s\)" "$P" postfix-check --config-dir "$D"
# The default transport below the dane level while postern-hookd leaves DANE to it.
postconf -c "$D" -e smtp_tls_security_level=may
expect 0 "warning: smtp/unix: smtp_tls_security_level is 'may', not dane, while postern-hookd's tlspolicy_postfix_dane is yes \(the default; no --hookd-config\): .*without DANE authentication; set smtp_tls_security_level = dane .*or tlspolicy_postfix_dane = no" \
	"$P" postfix-check --config-dir "$D"
expect 0 "0 error\(s\), 1 warning\(s\)" "$P" postfix-check --config-dir "$D"
printf 'tlspolicy_listen = inet:127.0.0.1:20003\ntlspolicy_postfix_dane = yes\n' >"$T/hookd.conf"
expect 0 "tlspolicy_postfix_dane is yes \(in $T/hookd.conf\)" "$P" postfix-check --config-dir "$D" --hookd-config "$T/hookd.conf"
printf 'tlspolicy_listen = inet:127.0.0.1:20003\ntlspolicy_postfix_dane = no\n' >"$T/hookd.conf"
expect 0 "0 error\(s\), 0 warning\(s\)" "$P" postfix-check --config-dir "$D" --hookd-config "$T/hookd.conf"
# An override on the smtp service counts too.
postconf -c "$D" -e smtp_tls_security_level=dane
postconf -c "$D" -P "smtp/unix/smtp_tls_security_level=encrypt"
expect 0 "warning: smtp/unix: smtp_tls_security_level is 'encrypt', not dane" "$P" postfix-check --config-dir "$D"
postconf -c "$D" -PX "smtp/unix/smtp_tls_security_level"
# A stronger level already in main.cf is kept, and the message says what to do instead.
postconf -c "$D" -n >"$T/main.2"
postconf -c "$D" -e smtp_tls_security_level=encrypt
expect 0 "^kept smtp_tls_security_level = encrypt .*set tlspolicy_postfix_dane = no" \
	"$P" postfix-config --hookd inet:127.0.0.1:20001 --apply "$D"
[ "$(postconf -c "$D" -h smtp_tls_security_level)" = encrypt ] && ok "a stronger level is kept" || bad "encrypt replaced"
expect 0 '"smtp_tls_security_level": "encrypt"' "$P" --json postfix-config --hookd inet:127.0.0.1:20001 --apply "$D"
expect 0 '"tlspolicy_postfix_dane": false' "$P" --json postfix-config --hookd inet:127.0.0.1:20001 --apply "$D"
# The obsolete smtp_enforce_tls = yes (no level) means encrypt: kept too.
postconf -c "$D" -X smtp_tls_security_level
postconf -c "$D" -e smtp_enforce_tls=yes
expect 0 "^kept smtp_tls_security_level = encrypt" "$P" postfix-config --hookd inet:127.0.0.1:20001 --apply "$D"
[ -z "$(postconf -c "$D" -n smtp_tls_security_level)" ] && ok "smtp_enforce_tls: no level written" || bad "a level was written"
postconf -c "$D" -X smtp_enforce_tls
# A level through a parameter is read as Postfix reads it: $my_level = verify is kept.
postconf -c "$D" -e my_level=verify 'smtp_tls_security_level=$my_level'
expect 0 "^kept smtp_tls_security_level = verify" "$P" postfix-config --hookd inet:127.0.0.1:20001 --apply "$D"
postconf -c "$D" -X my_level
# none (or may) is replaced, and said.
postconf -c "$D" -e smtp_tls_security_level=none
expect 0 "^smtp_tls_security_level: none -> dane" "$P" postfix-config --hookd inet:127.0.0.1:20001 --apply "$D"
postconf -c "$D" -n | cmp -s - "$T/main.2" && ok "back to the settings of the first apply" ||
	{ bad "main.cf differs from the first apply"; postconf -c "$D" -n | diff "$T/main.2" -; }
expect 0 "0 error\(s\), 0 warning\(s\)" "$P" postfix-check --config-dir "$D"
postconf -c "$D" -e smtp_dns_support_level=enabled
expect 1 "error: smtp_dns_support_level = enabled: DANE needs dnssec" "$P" postfix-check --config-dir "$D"
postconf -c "$D" -e smtp_dns_support_level=dnssec
postconf -c "$D" -P "postern-tls-encrypt/unix/smtp_dns_support_level=disabled"
expect 1 "error: postern-tls-encrypt/unix: smtp_dns_support_level=disabled: DANE needs dnssec" "$P" postfix-check --config-dir "$D"
postconf -c "$D" -PX "postern-tls-encrypt/unix/smtp_dns_support_level"
postconf -c "$D" -e smtp_tls_loglevel=0
expect 0 "warning: smtp_tls_loglevel = 0: delivery events lose" "$P" postfix-check --config-dir "$D"
postconf -c "$D" -e smtp_tls_loglevel=1
expect 0 "0 error\(s\), 0 warning\(s\)" "$P" postfix-check --config-dir "$D"
# Against postern-hookd's configuration: the maps' address must be its tlspolicy_listen.
printf 'tlspolicy_listen = inet:127.0.0.1:20003\n' >"$T/hookd.conf"
expect 0 "0 error\(s\), 0 warning\(s\)" "$P" postfix-check --config-dir "$D" --hookd-config "$T/hookd.conf"
printf 'tlspolicy_listen = inet:127.0.0.1:10037\n' >"$T/hookd.conf"
expect 1 "error: smtp/unix: smtp_tls_policy_maps asks inet:127.0.0.1:20003, but postern-hookd's tlspolicy_listen is inet:127.0.0.1:10037" \
	"$P" postfix-check --config-dir "$D" --hookd-config "$T/hookd.conf"
printf '# tlspolicy_listen off (the default)\n' >"$T/hookd.conf"
expect 1 "error: tlspolicy_listen is off in $T/hookd.conf: .*Postfix defers every delivery \(set tlspolicy_listen = inet:127.0.0.1:20003\)" \
	"$P" postfix-check --config-dir "$D" --hookd-config "$T/hookd.conf"
expect 66 "postern-hookd's configuration: $T/none.conf" "$P" postfix-check --config-dir "$D" --hookd-config "$T/none.conf"

# The most common mistake: permit_sasl_authenticated before the policy service.
postconf -c "$D" -P "submission/inet/smtpd_recipient_restrictions=permit_sasl_authenticated,check_policy_service,inet:127.0.0.1:20002,reject"
expect 1 "submission/inet: check_policy_service comes after permit_sasl_authenticated .* never asked" \
	"$P" postfix-check --config-dir "$D"
expect 1 '"level": "error"' "$P" --json postfix-check --config-dir "$D"
# The same through a parameter of main.cf.
postconf -c "$D" -e "postern_rcpt = permit, check_policy_service inet:127.0.0.1:20002"
postconf -c "$D" -P 'submission/inet/smtpd_recipient_restrictions=$postern_rcpt'
expect 1 "submission/inet: check_policy_service comes after permit " "$P" postfix-check --config-dir "$D"
# In the relay restrictions after the permit: unreachable too.
postconf -c "$D" -P "submission/inet/smtpd_relay_restrictions=permit_sasl_authenticated,check_policy_service,inet:127.0.0.1:20002,reject"
expect 1 "check_policy_service in smtpd_relay_restrictions comes after permit_sasl_authenticated" "$P" postfix-check --config-dir "$D"
postconf -c "$D" -P "submission/inet/smtpd_relay_restrictions=permit_sasl_authenticated,reject"
# Absent altogether.
postconf -c "$D" -P "submission/inet/smtpd_recipient_restrictions=permit_sasl_authenticated,reject"
expect 1 "submission/inet: no check_policy_service" "$P" postfix-check --config-dir "$D"
# permit_mynetworks first: a warning, not an error.
postconf -c "$D" -P "submission/inet/smtpd_recipient_restrictions=permit_mynetworks,check_policy_service,inet:127.0.0.1:20002,permit_sasl_authenticated,reject"
expect 0 "warning: submission/inet: permit_mynetworks comes before" "$P" postfix-check --config-dir "$D"
# A weakened enforcing transport, a missing status filter, AUTH without TLS.
postconf -c "$D" -P "postern-tls-verify/unix/smtp_tls_security_level=may"
expect 1 "postern-tls-verify/unix: smtp_tls_security_level is 'may', must be verify" "$P" postfix-check --config-dir "$D"
postconf -c "$D" -PX "postern-tls-encrypt/unix/smtp_delivery_status_filter"
expect 1 "postern-tls-encrypt/unix: no smtp_delivery_status_filter" "$P" postfix-check --config-dir "$D"
postconf -c "$D" -PX "2525/inet/smtpd_tls_auth_only"
expect 1 "warning: 2525/inet: AUTH is offered without TLS" "$P" postfix-check --config-dir "$D"
postconf -c "$D" -e smtpd_sasl_type=cyrus
expect 1 "smtpd_sasl_type is 'cyrus', not dovecot" "$P" postfix-check --config-dir "$D"

# --apply refuses a directory that is not a Postfix configuration, writing nothing.
mkdir -p "$T/empty"
expect 66 "needs a readable main.cf and master.cf" "$P" postfix-config --apply "$T/empty"
[ -z "$(ls "$T/empty")" ] && ok "nothing written to a non-configuration" || bad "files appeared in $T/empty"
expect 66 "postconf cannot read the configuration" "$P" postfix-check --config-dir "$T/missing"

check_end "postfix-config / postfix-check checks"
