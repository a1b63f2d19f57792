/*
 * The protocol servers of postern-hookd: each glues a pure parser
 * (proto_*.c) to a decision (libaccount, policy.c) behind the I/O
 * layer's callbacks.
 */
#ifndef HOOKD_SRV_H
#define HOOKD_SRV_H

#include "io.h"

extern const proto dovecot_proto; /* srv_dovecot.c: SASL for smtpd_sasl_type = dovecot */
extern const proto policy_proto;  /* srv_policy.c: check_policy_service */

#endif
