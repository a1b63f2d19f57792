# shellcheck shell=sh
# Test certificates (EC P-256, valid 2 days, nothing but test names),
# shared by tests/e2e/certs.sh, tests/tlscheck/servers.sh and
# sts-world.sh, tests/sts/https-server.sh and bench/survey_bench.sh and
# sts_bench.sh.  POSIX sh; source it, then:
#   cert_ca DIR "Some test CA"
#   cert_leaf DIR NAME CN "DNS:a.example,DNS:b.example" [X509-OPTION...]
#   cert_self DIR NAME HOST
# openssl says nothing unless it fails (then what it said, and status 1).

cert_q() {
	if ! cert_out=$("$@" 2>&1); then
		printf '%s\n' "$cert_out" >&2
		return 1
	fi
}

# cert_ca DIR CN: DIR/ca.key and DIR/ca.pem, a test CA (basicConstraints
# CA:true, keyUsage keyCertSign and cRLSign).
cert_ca() {
	cert_q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$2" \
		-keyout "$1/ca.key" -out "$1/ca.pem" -addext basicConstraints=critical,CA:true \
		-addext keyUsage=critical,keyCertSign,cRLSign
}

# cert_leaf DIR NAME CN SANS [X509-OPTION...]: DIR/NAME.key and
# DIR/NAME.pem, signed by cert_ca's CA in DIR: subject CN, subjectAltName
# SANS, extendedKeyUsage serverAuth; the X509-OPTIONs go to openssl x509.
cert_leaf() {
	cl_d=$1 cl_n=$2 cl_cn=$3 cl_san=$4
	shift 4
	cert_q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cl_cn" \
		-keyout "$cl_d/$cl_n.key" -out "$cl_d/$cl_n.csr"
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$cl_san" >"$cl_d/$cl_n.ext"
	cert_q openssl x509 -req -in "$cl_d/$cl_n.csr" -CA "$cl_d/ca.pem" -CAkey "$cl_d/ca.key" -CAcreateserial -days 2 \
		-extfile "$cl_d/$cl_n.ext" -out "$cl_d/$cl_n.pem" "$@"
}

# cert_self DIR NAME HOST: DIR/NAME.key and DIR/NAME.pem, self-signed for
# HOST (subject CN and subjectAltName).
cert_self() {
	cert_q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$3" \
		-addext "subjectAltName=DNS:$3" -keyout "$1/$2.key" -out "$1/$2.pem"
}
