/*
 * The MTA-STS/DANE TLS policy socketmap of postern-hookd (issue 7,
 * docs/mta-sts.md): Postfix's smtp_tls_policy_maps = socketmap:...:NAME
 * lookups, answered from an in-memory cache of each domain's evaluated
 * facts, or, on a miss, by one evaluation job per domain (sts_eval.h)
 * driven from the event loop while the asking connection is held.
 */
#ifndef HOOKD_SRV_TLSPOLICY_H
#define HOOKD_SRV_TLSPOLICY_H

#include <stddef.h>

#include "hookd.h"
#include "io.h"

typedef struct tlspolicy tlspolicy;

/* The protocol for loop_listen(), whose ctx must be the tlspolicy. */
extern const proto tlspolicy_proto;

/* Set up with h->conf: the DNS context (libunbound, trust anchor) and
 * the TLS client context (CA file), watched by loop l.  Call before
 * dropping privileges.  0, or -1 with a message in err. */
int tlspolicy_new(tlspolicy **out, loop *l, hookd *h, char *err, size_t errlen);

/* Once a second (the loop's tick): background refresh, expiry, stats. */
void tlspolicy_tick(tlspolicy *tp);

/* h->conf was reloaded: reopen DNS and TLS if their settings changed
 * (failing the evaluations in flight with TEMP), empty the in-memory
 * cache.  A failure keeps the old contexts and is logged. */
void tlspolicy_reload(tlspolicy *tp);

/* Log the statistics line now (also at stop). */
void tlspolicy_stats(tlspolicy *tp);

void tlspolicy_free(tlspolicy *tp);

#endif
