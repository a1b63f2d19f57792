/*
 * Delivery events in the store (libaccount/src/events.c, db/0003):
 * batches with the follower's position in one transaction, deferrals
 * replaced by final outcomes and never the other way, idempotent
 * replays, expiry, messages in flight, queries, the TLS report, pruning.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "testutil.h"

static acct_event ev(const char *qid, const char *rcpt, acct_event_type type, int64_t time)
{
	acct_event e;
	memset(&e, 0, sizeof e);
	e.time = time;
	e.submitted_at = 1000;
	e.queue_id = qid;
	e.account = "acme";
	e.sender = "news@acme.example";
	e.recipient = rcpt;
	e.type = type;
	e.relay = "mx.example.org[192.0.2.25]:25";
	e.transport = "postfix/smtp";
	e.dsn = type == ACCT_EVENT_DELIVERED ? "2.0.0" : "4.4.1";
	e.reason = type == ACCT_EVENT_DELIVERED ? "250 ok" : "connect to mx: Connection refused";
	return e;
}

static acct_event tls(acct_event e, const char *proto, acct_tls_trust trust)
{
	e.tls_protocol = proto;
	e.tls_cipher = "TLS_AES_256_GCM_SHA384";
	e.tls_trust = trust;
	return e;
}

static int add(acct_db *db, const acct_event *e, size_t n)
{
	acct_event_batch b = {0};
	b.events = e;
	b.n_events = n;
	return acct_event_add(db, &b);
}

typedef struct collect {
	int n;
	char rcpt[16][64];
	acct_event_type type[16];
	char reason[16][600];
	char proto[16][32];
	acct_tls_trust trust[16];
	char account[16][64];
	int64_t time[16];
} collect;

static int on_event(const acct_event *e, void *ctx)
{
	collect *c = ctx;
	if (c->n >= 16)
		return 1;
	snprintf(c->rcpt[c->n], sizeof c->rcpt[0], "%s", e->recipient);
	snprintf(c->reason[c->n], sizeof c->reason[0], "%s", e->reason ? e->reason : "");
	snprintf(c->proto[c->n], sizeof c->proto[0], "%s", e->tls_protocol ? e->tls_protocol : "");
	snprintf(c->account[c->n], sizeof c->account[0], "%s", e->account);
	c->type[c->n] = e->type;
	c->trust[c->n] = e->tls_trust;
	c->time[c->n] = e->time;
	c->n++;
	return 0;
}

static collect *list(acct_db *db, const char *account, int64_t since, acct_event_type type, int limit)
{
	static collect c;
	acct_event_query q = {account, since, 0, type, limit};
	memset(&c, 0, sizeof c);
	assert_int_equal(acct_event_foreach(db, &q, on_event, &c), ACCT_OK);
	return &c;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *h;
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

static void test_batch_with_position(void **state)
{
	fixture *fx = FX(state);
	acct_log_pos pos = {.device = 2049, .inode = 777, .offset = 12345}, got;
	acct_event e[2] = {ev("AAAA11111", "a@example.org", ACCT_EVENT_DELIVERED, 1001),
	                   tls(ev("AAAA11111", "b@example.org", ACCT_EVENT_DELIVERED, 1002), "TLSv1.3",
	                       ACCT_TRUST_VERIFIED)};
	acct_pending_msg open = {"AAAA11111", "acme", "news@acme.example", "id@x", "c[192.0.2.1]", 1000};
	acct_event_batch b = {0};

	assert_int_equal(acct_logpos_get(fx->db, "/var/log/mail.log", &got), ACCT_ENOTFOUND);
	b.events = e;
	b.n_events = 2;
	b.opened = &open;
	b.n_opened = 1;
	b.log_name = "/var/log/mail.log";
	b.pos = &pos;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK);
	assert_int_equal(acct_logpos_get(fx->db, "/var/log/mail.log", &got), ACCT_OK);
	assert_int_equal(got.device, 2049);
	assert_int_equal(got.inode, 777);
	assert_int_equal(got.offset, 12345);
	assert_int_equal(got.updated_at, fx->now);
	assert_int_equal(got.fingerprint_len, 0); /* none given: none kept */

	collect *c = list(fx->db, "acme", 0, ACCT_EVENT_ANY, 0);
	assert_int_equal(c->n, 2);
	assert_string_equal(c->rcpt[0], "a@example.org");
	assert_string_equal(c->proto[0], "");
	assert_int_equal(c->trust[0], ACCT_TRUST_NONE);
	assert_string_equal(c->proto[1], "TLSv1.3");
	assert_int_equal(c->trust[1], ACCT_TRUST_VERIFIED);

	/* the position moves on */
	pos.offset = 20000;
	memset(&b, 0, sizeof b);
	b.log_name = "/var/log/mail.log";
	b.pos = &pos;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK);
	assert_int_equal(acct_logpos_get(fx->db, "/var/log/mail.log", &got), ACCT_OK);
	assert_int_equal(got.offset, 20000);

	/* with the follower's fingerprint (schema 5), kept byte for byte */
	pos.fingerprint_len = 32;
	for (int i = 0; i < 32; i++)
		pos.fingerprint[i] = (unsigned char)(i * 7 + 1);
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK);
	assert_int_equal(acct_logpos_get(fx->db, "/var/log/mail.log", &got), ACCT_OK);
	assert_int_equal(got.fingerprint_len, 32);
	assert_memory_equal(got.fingerprint, pos.fingerprint, 32);
	pos.fingerprint_len = ACCT_LOG_FINGERPRINT_MAX + 1;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "fingerprint"));
	pos.fingerprint_len = 0; /* and taken away again */
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK);
	assert_int_equal(acct_logpos_get(fx->db, "/var/log/mail.log", &got), ACCT_OK);
	assert_int_equal(got.fingerprint_len, 0);
}

/* A failure anywhere in a batch leaves neither its events nor its
 * position: the store refuses the position write here. */
static void test_batch_is_one_transaction(void **state)
{
	fixture *fx = FX(state);
	acct_log_pos pos = {.device = 1, .inode = 2, .offset = 300}, got;
	acct_event e = ev("BBBB22222", "a@example.org", ACCT_EVENT_DELIVERED, 1001);
	acct_event_batch b = {0};

	raw_exec(fx->path, "CREATE TRIGGER no_pos BEFORE INSERT ON log_position BEGIN SELECT RAISE(ABORT, 'no'); END");
	b.events = &e;
	b.n_events = 1;
	b.log_name = "maillog";
	b.pos = &pos;
	assert_int_not_equal(acct_event_add(fx->db, &b), ACCT_OK);
	assert_int_equal(list(fx->db, NULL, 0, ACCT_EVENT_ANY, 0)->n, 0);
	assert_int_equal(acct_logpos_get(fx->db, "maillog", &got), ACCT_ENOTFOUND);

	/* bad input: nothing written, and the message says what is wrong */
	raw_exec(fx->path, "DROP TRIGGER no_pos");
	acct_event bad[2] = {ev("BBBB22222", "a@example.org", ACCT_EVENT_DELIVERED, 1001),
	                     ev("BBBB22222", "", ACCT_EVENT_DELIVERED, 1001)};
	b.events = bad;
	b.n_events = 2;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "recipient"));
	assert_int_equal(list(fx->db, NULL, 0, ACCT_EVENT_ANY, 0)->n, 0);
	assert_int_equal(acct_logpos_get(fx->db, "maillog", &got), ACCT_ENOTFOUND);
	bad[1] = ev("BBBB22222", "b@example.org", (acct_event_type)9, 1001);
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "delivered, deferred, bounced or blocked"));
	char longq[40];
	memset(longq, 'A', sizeof longq - 1);
	longq[sizeof longq - 1] = '\0';
	bad[1] = ev(longq, "b@example.org", ACCT_EVENT_DELIVERED, 1001);
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "queue id is longer than 31"));
	bad[1] = ev("BBBB22222", "b@exa\nmple.org", ACCT_EVENT_DELIVERED, 1001);
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "control character"));
	pos.offset = -1;
	b.n_events = 0;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	assert_int_equal(acct_logpos_get(fx->db, "maillog", &got), ACCT_ENOTFOUND);
}

static void test_deferred_replaced_by_final(void **state)
{
	fixture *fx = FX(state);
	acct_event d1 = ev("CCCC33333", "r@example.org", ACCT_EVENT_DEFERRED, 1001);
	acct_event d2 = ev("CCCC33333", "r@example.org", ACCT_EVENT_DEFERRED, 1100);
	acct_event ok = ev("CCCC33333", "r@example.org", ACCT_EVENT_DELIVERED, 1200);

	assert_int_equal(add(fx->db, &d1, 1), ACCT_OK);
	assert_int_equal(add(fx->db, &d2, 1), ACCT_OK);
	collect *c = list(fx->db, "acme", 0, ACCT_EVENT_ANY, 0);
	assert_int_equal(c->n, 1);
	assert_int_equal(c->type[0], ACCT_EVENT_DEFERRED);
	assert_int_equal(c->time[0], 1100);
	/* an older deferral read again does not move it back */
	assert_int_equal(add(fx->db, &d1, 1), ACCT_OK);
	assert_int_equal(list(fx->db, "acme", 0, ACCT_EVENT_ANY, 0)->time[0], 1100);

	assert_int_equal(add(fx->db, &ok, 1), ACCT_OK);
	/* the deferrals read again (a replay after a restart) change nothing */
	assert_int_equal(add(fx->db, &d1, 1), ACCT_OK);
	assert_int_equal(add(fx->db, &d2, 1), ACCT_OK);
	assert_int_equal(add(fx->db, &ok, 1), ACCT_OK);
	c = list(fx->db, "acme", 0, ACCT_EVENT_ANY, 0);
	assert_int_equal(c->n, 1);
	assert_int_equal(c->type[0], ACCT_EVENT_DELIVERED);
	assert_int_equal(c->time[0], 1200);

	/* the same queue id and recipient of another submission is another event */
	acct_event again = ok;
	again.submitted_at = 5000;
	again.time = 5001;
	assert_int_equal(add(fx->db, &again, 1), ACCT_OK);
	assert_int_equal(list(fx->db, "acme", 0, ACCT_EVENT_ANY, 0)->n, 2);
}

static void test_expiry_and_pending(void **state)
{
	fixture *fx = FX(state);
	acct_event d[2] = {ev("DDDD44444", "p@plain.example", ACCT_EVENT_DEFERRED, 1001),
	                   ev("DDDD44444", "q@down.example", ACCT_EVENT_DEFERRED, 1001)};
	d[0].tls_refused = 1;
	d[0].reason = "TLS is required, but was not offered by host plain.example[192.0.2.50]";
	acct_pending_msg open = {"DDDD44444", "acme", NULL, NULL, NULL, 1000};
	acct_event_batch b = {0};
	b.events = d;
	b.n_events = 2;
	b.opened = &open;
	b.n_opened = 1;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK);

	int n = 0;
	assert_int_equal(acct_pending_foreach(fx->db, NULL, &n), ACCT_EINVAL);

	acct_event_expiry x = {"DDDD44444", 1000, 90000};
	acct_pending_msg closed = {"DDDD44444", NULL, NULL, NULL, NULL, 1000};
	memset(&b, 0, sizeof b);
	b.expired = &x;
	b.n_expired = 1;
	b.closed = &closed;
	b.n_closed = 1;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK);
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK); /* replay: no change */
	collect *c = list(fx->db, "acme", 0, ACCT_EVENT_ANY, 0);
	assert_int_equal(c->n, 2);
	assert_int_equal(c->type[0], ACCT_EVENT_BLOCKED);
	assert_string_equal(c->reason[0],
	                    "expired in the queue: TLS is required, but was not offered by host plain.example[192.0.2.50]");
	assert_int_equal(c->type[1], ACCT_EVENT_BOUNCED);
	assert_int_equal(c->time[1], 90000);
}

static int count_pending(const acct_pending_msg *m, void *ctx)
{
	int *n = ctx;
	assert_non_null(m->queue_id);
	assert_string_equal(m->account, "acme");
	(*n)++;
	return 0;
}

static void test_pending_roundtrip(void **state)
{
	fixture *fx = FX(state);
	acct_pending_msg m[2] = {{"EEEE55551", "acme", "s@acme.example", "mid@acme", "c[192.0.2.1]", 1000},
	                         {"EEEE55552", "acme", NULL, NULL, NULL, 1001}};
	acct_event_batch b = {0};
	int n = 0;

	b.opened = m;
	b.n_opened = 2;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK);
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK); /* replaced, not doubled */
	assert_int_equal(acct_pending_foreach(fx->db, count_pending, &n), ACCT_OK);
	assert_int_equal(n, 2);
	memset(&b, 0, sizeof b);
	b.closed = &m[0];
	b.n_closed = 1;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK);
	n = 0;
	assert_int_equal(acct_pending_foreach(fx->db, count_pending, &n), ACCT_OK);
	assert_int_equal(n, 1);
}

static void test_query_filters(void **state)
{
	fixture *fx = FX(state);
	acct_event e[5] = {ev("FFFF00001", "a@x.example", ACCT_EVENT_DELIVERED, 100),
	                   ev("FFFF00002", "b@x.example", ACCT_EVENT_BOUNCED, 200),
	                   ev("FFFF00003", "c@x.example", ACCT_EVENT_BLOCKED, 300),
	                   ev("FFFF00004", "d@x.example", ACCT_EVENT_DELIVERED, 400),
	                   ev("FFFF00005", "e@x.example", ACCT_EVENT_DELIVERED, 500)};
	e[4].account = "other";
	assert_int_equal(add(fx->db, e, 5), ACCT_OK);

	assert_int_equal(list(fx->db, NULL, 0, ACCT_EVENT_ANY, 0)->n, 5);
	assert_int_equal(list(fx->db, "acme", 0, ACCT_EVENT_ANY, 0)->n, 4);
	collect *c = list(fx->db, "acme", 250, ACCT_EVENT_ANY, 0);
	assert_int_equal(c->n, 2);
	assert_string_equal(c->rcpt[0], "c@x.example");
	c = list(fx->db, "acme", 0, ACCT_EVENT_DELIVERED, 0);
	assert_int_equal(c->n, 2);
	c = list(fx->db, "acme", 0, ACCT_EVENT_BLOCKED, 0);
	assert_int_equal(c->n, 1);
	assert_string_equal(c->rcpt[0], "c@x.example");
	c = list(fx->db, "acme", 0, ACCT_EVENT_ANY, 2); /* the newest two, oldest first */
	assert_int_equal(c->n, 2);
	assert_string_equal(c->rcpt[0], "c@x.example");
	assert_string_equal(c->rcpt[1], "d@x.example");
	acct_event_query q = {"acme", 0, 250, ACCT_EVENT_ANY, 0};
	collect cc;
	memset(&cc, 0, sizeof cc);
	assert_int_equal(acct_event_foreach(fx->db, &q, on_event, &cc), ACCT_OK);
	assert_int_equal(cc.n, 2);
	q.limit = -1;
	assert_int_equal(acct_event_foreach(fx->db, &q, on_event, &cc), ACCT_EINVAL);
	q.limit = 0;
	q.type = (acct_event_type)7;
	assert_int_equal(acct_event_foreach(fx->db, &q, on_event, &cc), ACCT_EINVAL);
}

typedef struct domains {
	int n;
	char name[8][64];
	int64_t count[8];
} domains;

static int on_domain(const char *d, int64_t count, void *ctx)
{
	domains *ds = ctx;
	if (ds->n >= 8)
		return 1;
	snprintf(ds->name[ds->n], sizeof ds->name[0], "%s", d);
	ds->count[ds->n++] = count;
	return 0;
}

static void test_tls_report(void **state)
{
	fixture *fx = FX(state);
	acct_event e[10] = {
	    tls(ev("GGGG00001", "a@tls13.example", ACCT_EVENT_DELIVERED, 100), "TLSv1.3", ACCT_TRUST_VERIFIED),
	    tls(ev("GGGG00001", "b@tls13.example", ACCT_EVENT_DELIVERED, 100), "TLSv1.3", ACCT_TRUST_TRUSTED),
	    tls(ev("GGGG00002", "c@tls12.example", ACCT_EVENT_DELIVERED, 100), "TLSv1.2", ACCT_TRUST_UNTRUSTED),
	    ev("GGGG00003", "d@Clear.Example", ACCT_EVENT_DELIVERED, 100),
	    ev("GGGG00003", "e@clear.example", ACCT_EVENT_DELIVERED, 100),
	    ev("GGGG00004", "f@plain.example", ACCT_EVENT_DELIVERED, 100),
	    ev("GGGG00005", "g@plain.example", ACCT_EVENT_BLOCKED, 100),
	    ev("GGGG00006", "h@gone.example", ACCT_EVENT_BOUNCED, 100),
	    ev("GGGG00007", "i@slow.example", ACCT_EVENT_DEFERRED, 100),
	    ev("GGGG00008", "j@discard.example", ACCT_EVENT_DELIVERED, 100)};
	e[9].relay = "none"; /* discarded: not a delivery over the network */
	e[9].transport = "postfix/discard";
	acct_event old = tls(ev("GGGG00000", "z@old.example", ACCT_EVENT_DELIVERED, 10), "TLSv1", ACCT_TRUST_UNKNOWN);
	acct_event other = ev("GGGG00009", "k@else.example", ACCT_EVENT_DELIVERED, 100);
	other.account = "other";
	assert_int_equal(add(fx->db, e, 10), ACCT_OK);
	assert_int_equal(add(fx->db, &old, 1), ACCT_OK);
	assert_int_equal(add(fx->db, &other, 1), ACCT_OK);

	acct_tls_report r;
	assert_int_equal(acct_tls_report_get(&r, fx->db, "acme", 50), ACCT_OK);
	assert_int_equal(r.delivered, 6);
	assert_int_equal(r.delivered_tls, 3);
	assert_int_equal(r.delivered_clear, 3);
	assert_int_equal(r.verified, 1);
	assert_int_equal(r.unverified, 2);
	assert_int_equal(r.blocked, 1);
	assert_int_equal(r.bounced, 1);
	assert_int_equal(r.deferred, 1);
	assert_int_equal(r.n_protocols, 2);
	assert_string_equal(r.protocols[0].protocol, "TLSv1.3");
	assert_int_equal(r.protocols[0].count, 2);
	assert_string_equal(r.protocols[1].protocol, "TLSv1.2");
	assert_int_equal(r.protocols[1].count, 1);

	/* the figures match the events */
	assert_int_equal(r.delivered_tls + r.delivered_clear, r.delivered);
	assert_int_equal(r.verified + r.unverified, r.delivered_tls);

	domains ds;
	memset(&ds, 0, sizeof ds);
	assert_int_equal(acct_tls_cleardomain_foreach(fx->db, "acme", 50, on_domain, &ds), ACCT_OK);
	assert_int_equal(ds.n, 2);
	assert_string_equal(ds.name[0], "clear.example"); /* lowercased, two recipients */
	assert_int_equal(ds.count[0], 2);
	assert_string_equal(ds.name[1], "plain.example");
	assert_int_equal(ds.count[1], 1);

	/* since 0 takes the old TLSv1 delivery too; NULL = every account */
	assert_int_equal(acct_tls_report_get(&r, fx->db, "acme", 0), ACCT_OK);
	assert_int_equal(r.delivered, 7);
	assert_int_equal(r.n_protocols, 3);
	assert_int_equal(acct_tls_report_get(&r, fx->db, NULL, 0), ACCT_OK);
	assert_int_equal(r.delivered, 8);
	assert_int_equal(acct_tls_report_get(&r, fx->db, "nobody", 0), ACCT_OK);
	assert_int_equal(r.delivered, 0);
	assert_int_equal(r.n_protocols, 0);
	assert_int_equal(acct_tls_report_get(&r, fx->db, "acme", -1), ACCT_EINVAL);
}

static void test_login_resolved_to_account(void **state)
{
	fixture *fx = FX(state);
	assert_int_equal(acct_account_add(fx->db, "acme", NULL), ACCT_OK);
	assert_int_equal(acct_user_add(fx->db, "acme", "Bob@Acme.Example", NULL), ACCT_OK);
	acct_event e[2] = {ev("HHHH00001", "a@x.example", ACCT_EVENT_DELIVERED, 100),
	                   ev("HHHH00002", "b@x.example", ACCT_EVENT_DELIVERED, 100)};
	e[0].account = "bob@acme.example";
	e[1].account = "stranger@elsewhere.example";
	assert_int_equal(add(fx->db, e, 2), ACCT_OK);
	collect *c = list(fx->db, "acme", 0, ACCT_EVENT_ANY, 0);
	assert_int_equal(c->n, 1);
	assert_string_equal(c->rcpt[0], "a@x.example");
	assert_int_equal(list(fx->db, "stranger@elsewhere.example", 0, ACCT_EVENT_ANY, 0)->n, 1);
}

static void test_prune(void **state)
{
	fixture *fx = FX(state);
	acct_event e[3] = {ev("JJJJ00001", "a@x.example", ACCT_EVENT_DELIVERED, 100),
	                   ev("JJJJ00002", "b@x.example", ACCT_EVENT_DEFERRED, 100),
	                   ev("JJJJ00003", "c@x.example", ACCT_EVENT_DELIVERED, 900)};
	acct_pending_msg open = {"JJJJ00002", "acme", NULL, NULL, NULL, 1000};
	acct_event_batch b = {0};
	int64_t n = -1;
	b.events = e;
	b.n_events = 3;
	b.opened = &open;
	b.n_opened = 1;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK);
	int before = audit_count(fx->db, "event.prune", NULL);
	assert_int_equal(acct_event_del_before(fx->db, 500, &n), ACCT_OK);
	assert_int_equal(n, 1); /* the deferral of the message in flight stays */
	collect *c = list(fx->db, NULL, 0, ACCT_EVENT_ANY, 0);
	assert_int_equal(c->n, 2);
	assert_string_equal(c->rcpt[0], "b@x.example");
	assert_string_equal(c->rcpt[1], "c@x.example");
	assert_int_equal(audit_count(fx->db, "event.prune", NULL), before + 1);
	assert_int_equal(acct_event_del_before(fx->db, -5, &n), ACCT_EINVAL);
	assert_int_equal(n, 0);
	/* once the message has left the queue, its deferral goes too */
	memset(&b, 0, sizeof b);
	b.closed = &open;
	b.n_closed = 1;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK);
	assert_int_equal(acct_event_del_before(fx->db, 500, &n), ACCT_OK);
	assert_int_equal(n, 1);
	/* the audit log is kept; a prune with nothing to delete is not audited */
	assert_int_equal(audit_count(fx->db, "event.prune", NULL), before + 2);
	assert_int_equal(acct_event_del_before(fx->db, 500, &n), ACCT_OK);
	assert_int_equal(n, 0);
	assert_int_equal(audit_count(fx->db, "event.prune", NULL), before + 2);
}

typedef struct tls_rows {
	int n;
	int64_t pid[8], time[8];
	char host[8][64], proto[8][32], cipher[8][64], verr[8][64];
	int established[8];
	acct_tls_trust trust[8];
} tls_rows;

static int on_tls_row(const acct_smtp_tls *t, void *ctx)
{
	tls_rows *c = ctx;
	if (c->n >= 8)
		return 1;
	c->pid[c->n] = t->pid;
	c->time[c->n] = t->time;
	snprintf(c->host[c->n], sizeof c->host[0], "%s", t->host);
	snprintf(c->proto[c->n], sizeof c->proto[0], "%s", t->protocol ? t->protocol : "-");
	snprintf(c->cipher[c->n], sizeof c->cipher[0], "%s", t->cipher ? t->cipher : "-");
	snprintf(c->verr[c->n], sizeof c->verr[0], "%s", t->verify_error ? t->verify_error : "-");
	c->established[c->n] = t->established;
	c->trust[c->n] = t->tls_trust;
	c->n++;
	return 0;
}

static tls_rows *tls_list(acct_db *db)
{
	static tls_rows c;
	memset(&c, 0, sizeof c);
	assert_int_equal(acct_smtp_tls_foreach(db, on_tls_row, &c), ACCT_OK);
	return &c;
}

/* Schema 6: the smtp processes' TLS state, written with the position in
 * one batch: dropped pids deleted first, then each state inserted or
 * replaced by pid; read back oldest first; bad input refused whole. */
static void test_smtp_tls_state(void **state)
{
	fixture *fx = FX(state);
	acct_log_pos pos = {.device = 1, .inode = 2, .offset = 100}, got;
	acct_smtp_tls set[3] = {
	    {.pid = 9555, .time = 2000, .host = "mx.a.example[192.0.2.1]:25", .established = 1, .protocol = "TLSv1.3",
	     .cipher = "TLS_AES_256_GCM_SHA384", .tls_trust = ACCT_TRUST_VERIFIED},
	    {.pid = 9558, .time = 1990, .host = "mx.b.example[192.0.2.2]:25", .verify_error = "self-signed certificate"},
	    {.pid = 40, .time = 1995, .host = "mx.c.example[192.0.2.3]:25", .established = 1, .protocol = "TLSv1.2",
	     .tls_trust = ACCT_TRUST_ANONYMOUS}};
	acct_event_batch b = {0};
	b.tls_set = set;
	b.n_tls_set = 3;
	b.log_name = "maillog";
	b.pos = &pos;
	assert_int_equal(tls_list(fx->db)->n, 0);
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK);
	tls_rows *r = tls_list(fx->db);
	assert_int_equal(r->n, 3);
	assert_int_equal(r->pid[0], 9558); /* by time */
	assert_int_equal(r->established[0], 0);
	assert_string_equal(r->proto[0], "-");
	assert_string_equal(r->verr[0], "self-signed certificate");
	assert_int_equal(r->trust[0], ACCT_TRUST_NONE);
	assert_int_equal(r->pid[1], 40);
	assert_string_equal(r->cipher[1], "-");
	assert_int_equal(r->trust[1], ACCT_TRUST_ANONYMOUS);
	assert_int_equal(r->pid[2], 9555);
	assert_int_equal(r->time[2], 2000);
	assert_string_equal(r->host[2], "mx.a.example[192.0.2.1]:25");
	assert_string_equal(r->proto[2], "TLSv1.3");
	assert_string_equal(r->cipher[2], "TLS_AES_256_GCM_SHA384");
	assert_int_equal(r->trust[2], ACCT_TRUST_VERIFIED);
	assert_int_equal(r->established[2], 1);
	assert_int_equal(acct_logpos_get(fx->db, "maillog", &got), ACCT_OK);
	assert_int_equal(got.offset, 100);

	/* 9558 established now (replaced), 40 dropped, in one batch */
	int64_t drop[1] = {40};
	acct_smtp_tls again = {.pid = 9558, .time = 2001, .host = "mx.b.example[192.0.2.2]:25", .established = 1,
	                       .protocol = "TLSv1.2", .cipher = "ECDHE-RSA-AES128-GCM-SHA256",
	                       .tls_trust = ACCT_TRUST_UNTRUSTED, .verify_error = "self-signed certificate"};
	b.tls_set = &again;
	b.n_tls_set = 1;
	b.tls_dropped = drop;
	b.n_tls_dropped = 1;
	pos.offset = 200;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK);
	r = tls_list(fx->db);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->pid[0], 9555);
	assert_int_equal(r->pid[1], 9558);
	assert_int_equal(r->established[1], 1);
	assert_int_equal(r->trust[1], ACCT_TRUST_UNTRUSTED);
	/* dropping a pid the store does not hold is fine */
	drop[0] = 12345;
	b.n_tls_set = 0;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_OK);
	assert_int_equal(tls_list(fx->db)->n, 2);

	/* bad input: refused whole, with what is wrong; the drop in the same
	 * batch is not done either */
	drop[0] = 9555;
	acct_smtp_tls bad = again;
	b.tls_set = &bad;
	b.n_tls_set = 1;
	bad.pid = 0;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "process id"));
	bad = again;
	bad.host = NULL;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "TLS host"));
	bad = again;
	bad.tls_trust = (acct_tls_trust)9;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	bad = again;
	bad.protocol = "TLSv1.3-with-a-protocol-name-far-too-long";
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "TLS protocol"));
	bad = again;
	bad.verify_error = "bad\ncertificate";
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "control character"));
	b.n_tls_set = 0;
	b.tls_set = NULL;
	b.n_tls_set = 1;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	b.n_tls_set = 0;
	b.tls_dropped = NULL;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	assert_int_equal(tls_list(fx->db)->n, 2);
	assert_int_equal(acct_logpos_get(fx->db, "maillog", &got), ACCT_OK);
	assert_int_equal(got.offset, 200);
	assert_int_equal(acct_smtp_tls_foreach(NULL, on_tls_row, NULL), ACCT_EINVAL);
	assert_int_equal(acct_smtp_tls_foreach(fx->db, NULL, NULL), ACCT_EINVAL);
}

static void test_null_arguments(void **state)
{
	fixture *fx = FX(state);
	acct_log_pos p;
	acct_tls_report r;
	assert_int_equal(acct_event_add(NULL, NULL), ACCT_EINVAL);
	assert_int_equal(acct_event_add(fx->db, NULL), ACCT_EINVAL);
	assert_int_equal(acct_logpos_get(fx->db, NULL, &p), ACCT_EINVAL);
	assert_int_equal(acct_logpos_get(fx->db, "x", NULL), ACCT_EINVAL);
	assert_int_equal(acct_event_foreach(fx->db, NULL, NULL, NULL), ACCT_EINVAL);
	assert_int_equal(acct_tls_report_get(NULL, fx->db, NULL, 0), ACCT_EINVAL);
	assert_int_equal(acct_tls_report_get(&r, NULL, NULL, 0), ACCT_EINVAL);
	assert_int_equal(acct_tls_cleardomain_foreach(fx->db, NULL, 0, NULL, NULL), ACCT_EINVAL);
	acct_event_batch b = {0};
	b.n_events = 1;
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	b.n_events = 0;
	acct_log_pos pos = {.device = 1, .inode = 2, .offset = 3};
	b.pos = &pos; /* a position needs the log's name */
	assert_int_equal(acct_event_add(fx->db, &b), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "log name"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_batch_with_position, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_batch_is_one_transaction, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_deferred_replaced_by_final, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_expiry_and_pending, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_pending_roundtrip, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_query_filters, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_tls_report, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_login_resolved_to_account, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_prune, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_null_arguments, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_smtp_tls_state, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
