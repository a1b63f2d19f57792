/*
 * maillog_follow: the log follower (see maillog_follow.h for the
 * guarantees).  The I/O layer around the pure parser and correlator:
 * it owns the file descriptor, the partial last line, the batch of
 * outputs not yet committed (copied into one string arena, since the
 * correlator's pointers live only during its callback), and the
 * position, which moves in the store only together with that batch.
 * The smtp processes' TLS state changes are coalesced per slot of the
 * correlator's table (the last change of a slot in the batch is what the
 * store gets), and the follower mirrors which pid the store holds for
 * each slot, so that a process taking a slot replaces the row of the one
 * it displaced.
 * The file read is the log itself or a rotated one, plain or gzip
 * compressed (read through zlib's gz* functions, fixed buffers); the
 * first FP_MAX bytes read are kept for the position's fingerprint.
 */
#include "maillog_follow.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "maillog.h"
#include "maillog_track.h"

#define PATH_MAX_LEN 1023
#define READ_CHUNK 65536
#define NONE SIZE_MAX
#define FP_MAX 4096   /* the fingerprint covers the first min(offset, FP_MAX) bytes */
#define FP_LEN 32     /* SHA-256 */
#define CHAIN_MAX 64  /* rotated files one poll moves through at most */

enum { OPEN_OK, OPEN_NOENT, OPEN_OTHER, OPEN_ERR }; /* OPEN_OTHER: not the file asked for */

enum { S_QID, S_ACCOUNT, S_SENDER, S_RCPT, S_MSGID, S_CLIENT, S_DSN, S_REASON, S_RELAY, S_TRANSPORT,
       S_PROTO, S_CIPHER, S_COUNT };

typedef struct ev_ref {
	int64_t time, submitted_at;
	acct_event_type type;
	acct_tls_trust trust;
	int refused;
	size_t s[S_COUNT];
} ev_ref;

typedef struct pend_ref {
	int64_t submitted_at, time;
	size_t s[5]; /* qid account sender msgid client */
} pend_ref;

/* a slot's TLS state as of the last change in this batch */
typedef struct tls_ref {
	int64_t pid, time; /* pid 0 = the slot is empty now */
	int established;
	acct_tls_trust trust;
	size_t s[4]; /* host protocol cipher verify_error */
} tls_ref;

typedef struct vec {
	void *v;
	size_t n, cap, size;
} vec;

struct mlf {
	acct_db *db;
	char path[PATH_MAX_LEN + 1];
	mlf_options o;
	mlt *t;
	int fd;
	gzFile gz;         /* the file being read is a gzip-compressed rotated one */
	int src_end;       /* it is damaged: read no more of it */
	char src[PATH_MAX_LEN + 1]; /* its name, for messages */
	int64_t dev, ino;
	int64_t rd;        /* content bytes before what the next read returns */
	unsigned char head[FP_MAX]; /* the file's first bytes, for its fingerprint */
	size_t head_len;
	int stored;        /* the store holds a position (of stored_dev, stored_ino) */
	int64_t stored_dev, stored_ino;
	int64_t offset;    /* after the last complete line taken */
	int64_t committed; /* the offset in the store */
	int pos_dirty;     /* file identity changed since the last commit */
	char line[ML_LINE_MAX + 2];
	size_t llen;
	int skipping;      /* inside an over-long line */
	size_t skip_len;
	char *rbuf;
	size_t rpos, rlen; /* bytes of rbuf read from the file but not yet taken */
	size_t taken;      /* lines taken in this poll (the budget, max_lines) */
	int more;          /* the budget ran out with more to read */
	size_t since_commit;
	int64_t now;
	int oom;
	int need_resync;   /* the last resync failed: do it before reading */
	int64_t pruned_at; /* when events were last pruned (0 = never) */
	/* the batch */
	char *arena;
	size_t alen, acap;
	vec evs, opens, closes, expiries;
	tls_ref tls[MLT_PIDS];         /* the batch's changes of the TLS slots */
	unsigned char tls_dirty[MLT_PIDS];
	uint16_t tls_list[MLT_PIDS];   /* the slots changed, in order */
	size_t n_tls;
	int64_t tls_stored[MLT_PIDS];  /* the pid the store holds per slot (0 = none) */
	vec tls_forget;                /* pids of stored rows no slot holds (read at start) */
	mlf_stats st;
};

static void notice(const mlf *f, int warning, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void notice(const mlf *f, int warning, const char *fmt, ...)
{
	char msg[2 * PATH_MAX_LEN + 256];
	va_list ap;
	if (!f->o.notice)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	f->o.notice(warning, msg, f->o.notice_ctx);
}

static void fingerprint(const unsigned char *p, size_t n, unsigned char out[FP_LEN])
{
	unsigned int len = FP_LEN;
	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1)
		memset(out, 0, FP_LEN); /* cannot happen; then it matches nothing real */
}

static void *vec_push(vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		void *p = realloc(v->v, cap * v->size);
		if (!p)
			return NULL;
		v->v = p;
		v->cap = cap;
	}
	return (char *)v->v + v->size * v->n++;
}

static size_t put(mlf *f, const char *s)
{
	if (!s)
		return NONE;
	size_t n = strlen(s) + 1;
	if (f->alen + n > f->acap) {
		size_t cap = f->acap ? f->acap : 65536;
		while (cap < f->alen + n)
			cap *= 2;
		char *p = realloc(f->arena, cap);
		if (!p) {
			f->oom = 1;
			return NONE;
		}
		f->arena = p;
		f->acap = cap;
	}
	memcpy(f->arena + f->alen, s, n);
	f->alen += n;
	return f->alen - n;
}

static const char *get(const mlf *f, size_t off)
{
	return off == NONE ? NULL : f->arena + off;
}

static void pend_put(mlf *f, pend_ref *p, const acct_pending_msg *m)
{
	p->submitted_at = m->submitted_at;
	p->time = 0;
	p->s[0] = put(f, m->queue_id);
	p->s[1] = put(f, m->account);
	p->s[2] = put(f, m->sender);
	p->s[3] = put(f, m->message_id);
	p->s[4] = put(f, m->client);
}

/* the correlator's outputs, copied into the batch */
static int on_output(const mlt_output *o, void *ctx)
{
	mlf *f = ctx;
	if (o->kind == MLT_EVENT) {
		ev_ref *r = vec_push(&f->evs);
		if (!r)
			return -1;
		const acct_event *e = o->event;
		r->time = e->time;
		r->submitted_at = e->submitted_at;
		r->type = e->type;
		r->trust = e->tls_trust;
		r->refused = e->tls_refused;
		const char *s[S_COUNT] = {e->queue_id, e->account, e->sender, e->recipient, e->message_id,
		                          e->client, e->dsn, e->reason, e->relay, e->transport,
		                          e->tls_protocol, e->tls_cipher};
		for (int i = 0; i < S_COUNT; i++)
			r->s[i] = put(f, s[i]);
	} else if (o->kind == MLT_EXPIRED) {
		pend_ref *p = vec_push(&f->expiries);
		if (!p)
			return -1;
		memset(p, 0, sizeof *p);
		p->s[0] = put(f, o->expiry->queue_id);
		p->submitted_at = o->expiry->submitted_at;
		p->time = o->expiry->time;
		for (int i = 1; i < 5; i++)
			p->s[i] = NONE;
	} else if (o->kind == MLT_TLS) {
		if (o->slot >= MLT_PIDS)
			return -1;
		tls_ref *x = &f->tls[o->slot];
		if (!f->tls_dirty[o->slot]) {
			f->tls_dirty[o->slot] = 1;
			f->tls_list[f->n_tls++] = (uint16_t)o->slot;
		}
		memset(x, 0, sizeof *x);
		if (o->tls) {
			x->pid = o->tls->pid;
			x->time = o->tls->time;
			x->established = o->tls->established;
			x->trust = o->tls->tls_trust;
			x->s[0] = put(f, o->tls->host);
			x->s[1] = put(f, o->tls->protocol);
			x->s[2] = put(f, o->tls->cipher);
			x->s[3] = put(f, o->tls->verify_error);
		}
	} else {
		pend_ref *p = vec_push(o->kind == MLT_OPEN ? &f->opens : &f->closes);
		if (!p)
			return -1;
		pend_put(f, p, o->msg);
	}
	return f->oom ? -1 : 0;
}

static void batch_clear(mlf *f)
{
	f->alen = 0;
	f->evs.n = f->opens.n = f->closes.n = f->expiries.n = 0;
	for (size_t i = 0; i < f->n_tls; i++)
		f->tls_dirty[f->tls_list[i]] = 0;
	f->n_tls = 0;
	f->since_commit = 0;
	f->oom = 0;
}

static void fill_pending(const mlf *f, const pend_ref *p, acct_pending_msg *m)
{
	m->queue_id = get(f, p->s[0]);
	m->account = get(f, p->s[1]);
	m->sender = get(f, p->s[2]);
	m->message_id = get(f, p->s[3]);
	m->client = get(f, p->s[4]);
	m->submitted_at = p->submitted_at;
}

static int commit(mlf *f)
{
	int empty = f->evs.n == 0 && f->opens.n == 0 && f->closes.n == 0 && f->expiries.n == 0 && f->n_tls == 0 &&
	            f->tls_forget.n == 0;
	if (empty && f->offset == f->committed && !f->pos_dirty)
		return ACCT_OK;
	if (empty && f->offset == 0 && f->stored && (f->dev != f->stored_dev || f->ino != f->stored_ino))
		return ACCT_OK; /* nothing to write (the position stays, see below) */
	acct_event *ev = calloc(f->evs.n + 1, sizeof *ev);
	acct_pending_msg *op = calloc(f->opens.n + 1, sizeof *op);
	acct_pending_msg *cl = calloc(f->closes.n + 1, sizeof *cl);
	acct_event_expiry *ex = calloc(f->expiries.n + 1, sizeof *ex);
	acct_smtp_tls *ts = calloc(f->n_tls + 1, sizeof *ts);
	int64_t *td = calloc(f->n_tls + f->tls_forget.n + 1, sizeof *td);
	size_t n_ts = 0, n_td = 0;
	int r = ACCT_ENOMEM;
	if (!ev || !op || !cl || !ex || !ts || !td)
		goto out;
	/* per slot changed: the row of the pid the store held goes unless the
	 * slot still holds that pid; the slot's state now, if any, is written */
	for (size_t i = 0; i < f->tls_forget.n; i++)
		td[n_td++] = ((const int64_t *)f->tls_forget.v)[i];
	for (size_t i = 0; i < f->n_tls; i++) {
		const tls_ref *x = &f->tls[f->tls_list[i]];
		int64_t had = f->tls_stored[f->tls_list[i]];
		if (had != 0 && had != x->pid)
			td[n_td++] = had;
		if (x->pid == 0)
			continue;
		acct_smtp_tls *t = &ts[n_ts++];
		t->pid = x->pid;
		t->time = x->time;
		t->established = x->established;
		t->tls_trust = x->trust;
		t->host = get(f, x->s[0]);
		t->protocol = get(f, x->s[1]);
		t->cipher = get(f, x->s[2]);
		t->verify_error = get(f, x->s[3]);
	}
	for (size_t i = 0; i < f->evs.n; i++) {
		const ev_ref *x = (const ev_ref *)f->evs.v + i;
		acct_event *e = &ev[i];
		e->time = x->time;
		e->submitted_at = x->submitted_at;
		e->type = x->type;
		e->tls_trust = x->trust;
		e->tls_refused = x->refused;
		e->queue_id = get(f, x->s[S_QID]);
		e->account = get(f, x->s[S_ACCOUNT]);
		e->sender = get(f, x->s[S_SENDER]);
		e->recipient = get(f, x->s[S_RCPT]);
		e->message_id = get(f, x->s[S_MSGID]);
		e->client = get(f, x->s[S_CLIENT]);
		e->dsn = get(f, x->s[S_DSN]);
		e->reason = get(f, x->s[S_REASON]);
		e->relay = get(f, x->s[S_RELAY]);
		e->transport = get(f, x->s[S_TRANSPORT]);
		e->tls_protocol = get(f, x->s[S_PROTO]);
		e->tls_cipher = get(f, x->s[S_CIPHER]);
	}
	for (size_t i = 0; i < f->opens.n; i++)
		fill_pending(f, (const pend_ref *)f->opens.v + i, &op[i]);
	for (size_t i = 0; i < f->closes.n; i++)
		fill_pending(f, (const pend_ref *)f->closes.v + i, &cl[i]);
	for (size_t i = 0; i < f->expiries.n; i++) {
		const pend_ref *p = (const pend_ref *)f->expiries.v + i;
		ex[i].queue_id = get(f, p->s[0]);
		ex[i].submitted_at = p->submitted_at;
		ex[i].time = p->time;
	}
	acct_log_pos pos = {.device = f->dev, .inode = f->ino, .offset = f->offset};
	size_t cover = f->offset < FP_MAX ? (size_t)f->offset : FP_MAX;
	if (cover > 0 && cover <= f->head_len) {
		fingerprint(f->head, cover, pos.fingerprint);
		pos.fingerprint_len = FP_LEN;
	}
	/* A new file nothing was taken from yet keeps the position at the end
	 * of the previous one: should this file be renamed and compressed
	 * before anything is read from it, the follower finds the previous
	 * file again (by its fingerprint) and comes to this one as the next
	 * in the chain, whereas a position at 0 has nothing to recognise it by. */
	int keep = f->offset == 0 && f->stored && (f->dev != f->stored_dev || f->ino != f->stored_ino);
	acct_event_batch b = {ev, f->evs.n, ex, f->expiries.n, op, f->opens.n, cl, f->closes.n, f->path,
	                      keep ? NULL : &pos, td, n_td, ts, n_ts};
	r = acct_event_add(f->db, &b);
	if (r == ACCT_OK) {
		for (size_t i = 0; i < f->n_tls; i++)
			f->tls_stored[f->tls_list[i]] = f->tls[f->tls_list[i]].pid;
		f->tls_forget.n = 0;
		if (!keep) {
			f->stored = 1;
			f->stored_dev = f->dev;
			f->stored_ino = f->ino;
			f->pos_dirty = 0;
		}
		f->committed = f->offset;
		f->st.events += f->evs.n;
		f->st.commits++;
		batch_clear(f);
	}
out:
	free(ev);
	free(op);
	free(cl);
	free(ex);
	free(ts);
	free(td);
	return r;
}

static int take_line(mlf *f, const char *p, size_t n, size_t consumed)
{
	maillog_rec r;
	f->offset += (int64_t)consumed;
	f->st.lines++;
	f->taken++;
	int rc = maillog_parse(&r, p, n);
	if (rc == ML_REC) {
		f->st.records++;
		if (mlt_feed(f->t, &r) != 0)
			return ACCT_ENOMEM;
	} else if (rc < 0) {
		f->st.malformed++;
	}
	if (++f->since_commit >= f->o.batch_lines)
		return commit(f);
	return ACCT_OK;
}

/* Consume the bytes of one read, line by line, until they are all taken
 * or this poll's budget of lines is spent (then f->more is set and
 * *used says how far it got; the rest waits in rbuf). */
static int take_bytes(mlf *f, const char *p, size_t n, size_t *used)
{
	const char *start = p;

	*used = 0;
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n;
		int r;
		if (nl && f->o.max_lines && f->taken >= f->o.max_lines) {
			f->more = 1;
			break;
		}
		if (!nl) { /* a partial line: keep it, or skip it when too long */
			if (!f->skipping && f->llen + seg <= ML_LINE_MAX + 1) {
				memcpy(f->line + f->llen, p, seg);
				f->llen += seg;
			} else {
				if (!f->skipping)
					f->skip_len = f->llen;
				f->skipping = 1;
				f->skip_len += seg;
				f->llen = 0;
			}
			p += seg;
			n = 0;
			break;
		}
		if (f->skipping) {
			size_t total = f->skip_len + seg + 1;
			f->skipping = 0;
			f->skip_len = 0;
			f->offset += (int64_t)total;
			f->st.lines++;
			f->taken++;
			f->st.malformed++;
			r = ++f->since_commit >= f->o.batch_lines ? commit(f) : ACCT_OK;
		} else if (f->llen) {
			if (f->llen + seg <= ML_LINE_MAX + 1) {
				memcpy(f->line + f->llen, p, seg);
				size_t len = f->llen + seg;
				f->llen = 0;
				r = take_line(f, f->line, len, len + 1);
			} else {
				size_t total = f->llen + seg + 1;
				f->llen = 0;
				f->offset += (int64_t)total;
				f->st.lines++;
				f->taken++;
				f->st.malformed++;
				r = ++f->since_commit >= f->o.batch_lines ? commit(f) : ACCT_OK;
			}
		} else {
			r = take_line(f, p, seg, seg + 1);
		}
		p += seg + 1;
		n -= seg + 1;
		if (r != ACCT_OK) {
			*used = (size_t)(p - start);
			return r;
		}
	}
	*used = (size_t)(p - start);
	return ACCT_OK;
}

/* Keep the file's first bytes (for its fingerprint) as they are read. */
static void saw(mlf *f, const char *p, size_t n)
{
	if (f->rd < FP_MAX) {
		size_t at = (size_t)f->rd, k = FP_MAX - at < n ? FP_MAX - at : n;
		memcpy(f->head + at, p, k);
		if (at + k > f->head_len)
			f->head_len = at + k;
	}
	f->rd += (int64_t)n;
}

/* One read of the current file: plain, or decompressed.  0 at its end;
 * a damaged compressed file is at its end where the damage is. */
static ssize_t src_read(mlf *f, char *buf, size_t n)
{
	if (f->src_end)
		return 0;
	if (!f->gz) {
		ssize_t k;
		do
			k = read(f->fd, buf, n);
		while (k < 0 && errno == EINTR);
		return k;
	}
	int k = gzread(f->gz, buf, (unsigned)n);
	int zerr = Z_OK;
	const char *msg = k <= 0 ? gzerror(f->gz, &zerr) : NULL;
	if (k < 0 || (k == 0 && zerr != Z_OK)) {
		notice(f, 1,
		       "%s: damaged compressed log (%s) after %lld bytes of its content: the rest of it is lost, "
		       "going on with the next file",
		       f->src, msg ? msg : "read error", (long long)f->rd);
		f->src_end = 1;
		return 0;
	}
	return k;
}

/* Read the open file to its end, or until the budget is spent. */
static int drain(mlf *f)
{
	for (;;) {
		if (f->rpos < f->rlen) {
			size_t used;
			int r = take_bytes(f, f->rbuf + f->rpos, f->rlen - f->rpos, &used);
			f->rpos += used;
			if (r != ACCT_OK || f->more)
				return r;
			continue;
		}
		ssize_t n = src_read(f, f->rbuf, READ_CHUNK);
		if (n < 0)
			return ACCT_EUNAVAIL;
		if (n == 0)
			return ACCT_OK;
		saw(f, f->rbuf, (size_t)n);
		f->rpos = 0;
		f->rlen = (size_t)n;
	}
}

static void close_file(mlf *f)
{
	if (f->gz)
		gzclose_r(f->gz); /* closes f->fd */
	else if (f->fd >= 0)
		close(f->fd);
	f->gz = NULL;
	f->fd = -1;
	f->src_end = 0;
	f->rpos = f->rlen = 0;
	f->llen = 0;
	f->skipping = 0;
	f->skip_len = 0;
	f->head_len = 0;
	f->rd = 0;
}

static int is_gzip(int fd)
{
	unsigned char m[2];
	return pread(fd, m, 2, 0) == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

/* Exactly n bytes of a gzip stream (fewer only at its end or damage). */
static size_t gz_get(gzFile gz, unsigned char *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		int k = gzread(gz, p + got, (unsigned)(n - got > READ_CHUNK ? READ_CHUNK : n - got));
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	return got;
}

/* Does `head` (the file's first `have` bytes) match the saved position's
 * fingerprint?  A position without one (saved before schema 5) matches
 * by identity alone; a position at 0 has nothing to match. */
static int head_matches(const acct_log_pos *want, const unsigned char *head, size_t have)
{
	size_t cover = want->offset < FP_MAX ? (size_t)want->offset : FP_MAX;
	unsigned char fp[FP_LEN];
	if (want->fingerprint_len == 0)
		return 1;
	if (want->fingerprint_len != FP_LEN || cover == 0 || have < cover)
		return 0;
	fingerprint(head, cover, fp);
	return memcmp(fp, want->fingerprint, FP_LEN) == 0;
}

/* Open `path` at `offset` as the current file (its identity recorded).
 * With `want`, only if it is the file of that saved position: the same
 * device, inode and fingerprint, or, with `rotated` and compressed, the
 * same fingerprint (a compressed file has a new inode).  `rotated`
 * allows a gzip file, read decompressed, `offset` counting its content. */
static int open_file(mlf *f, const char *path, int64_t offset, const acct_log_pos *want, int rotated)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? OPEN_NOENT : OPEN_ERR;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return OPEN_ERR;
	}
	int gz = rotated && is_gzip(fd);
	int same = (int64_t)sb.st_dev == (want ? want->device : 0) && (int64_t)sb.st_ino == (want ? want->inode : 0);
	if (want && !same && !(gz && want->fingerprint_len > 0)) {
		close(fd);
		return OPEN_OTHER;
	}
	if (!gz) {
		unsigned char head[FP_MAX];
		size_t cover = offset < FP_MAX ? (size_t)offset : FP_MAX;
		ssize_t k = cover ? pread(fd, head, cover, 0) : 0;
		if (want && !head_matches(want, head, k > 0 ? (size_t)k : 0)) {
			close(fd);
			return OPEN_OTHER; /* a reused inode number, or rewritten in place */
		}
		if (offset > (int64_t)sb.st_size) /* truncated since */
			offset = 0, k = 0;
		if (offset > 0 && lseek(fd, (off_t)offset, SEEK_SET) < 0) {
			close(fd);
			return OPEN_ERR;
		}
		close_file(f);
		f->fd = fd;
		if (k > 0)
			memcpy(f->head, head, (size_t)k);
		f->head_len = k > 0 ? (size_t)k : 0;
	} else {
		int dfd = dup(fd);
		gzFile z = dfd >= 0 ? gzdopen(dfd, "rb") : NULL;
		close(fd);
		if (!z) {
			if (dfd >= 0)
				close(dfd);
			return OPEN_ERR;
		}
		unsigned char head[FP_MAX];
		size_t cover = offset < FP_MAX ? (size_t)offset : FP_MAX;
		size_t k = gz_get(z, head, cover);
		int zerr = Z_OK;
		const char *zmsg = k < cover ? gzerror(z, &zerr) : NULL;
		if (want && k < cover && zerr != Z_OK) {
			notice(f, 1,
			       "%s: damaged compressed log (%s): cannot tell whether it continues the saved position "
			       "(its lines are not read)",
			       path, zmsg ? zmsg : "read error");
			gzclose_r(z);
			return OPEN_OTHER;
		}
		if (want && !head_matches(want, head, k)) {
			gzclose_r(z);
			return OPEN_OTHER;
		}
		close_file(f);
		f->gz = z;
		f->fd = dfd;
		memcpy(f->head, head, k);
		f->head_len = k;
		/* on to the offset: decompress and drop what was taken already */
		int64_t at = (int64_t)k;
		char last = k ? (char)head[k - 1] : '\n';
		while (at < offset) {
			size_t want_n = offset - at > READ_CHUNK ? READ_CHUNK : (size_t)(offset - at);
			int n = gzread(z, f->rbuf, (unsigned)want_n);
			if (n <= 0)
				break;
			at += n;
			last = f->rbuf[n - 1];
		}
		if (at < offset || last != '\n') {
			notice(f, 1,
			       "%s: the compressed log %s the saved position (byte %lld): the lines after it are "
			       "lost, going on with the next file",
			       path, at < offset ? "ends before" : "does not continue at", (long long)offset);
			f->src_end = 1;
		}
	}
	f->dev = (int64_t)sb.st_dev;
	f->ino = (int64_t)sb.st_ino;
	f->offset = offset;
	f->rd = offset;
	snprintf(f->src, sizeof f->src, "%s", path);
	return OPEN_OK;
}

static int open_at(mlf *f, const char *path, int64_t offset)
{
	int r = open_file(f, path, offset, NULL, 0);
	return r == OPEN_OK ? ACCT_OK : r == OPEN_NOENT ? ACCT_ENOTFOUND : ACCT_EUNAVAIL;
}

static void dir_of(const char *path, char *dir, const char **base)
{
	const char *slash = strrchr(path, '/');
	*base = slash ? slash + 1 : path;
	if (slash) {
		size_t dl = slash == path ? 1 : (size_t)(slash - path);
		memcpy(dir, path, dl);
		dir[dl] = '\0';
	} else {
		dir[0] = '.';
		dir[1] = '\0';
	}
}

/* PATH.SUFFIX or PATH-SUFFIX; `strict`: a suffix of digits, '.', '-' and
 * '_' only (Postfix's YYYYMMDD-HHMMSS, logrotate's N or YYYYMMDD), then
 * ".gz" or nothing, so that an administrator's copy is never taken for
 * a rotation. */
static int rotated_name(const char *name, const char *base, size_t bl, int strict)
{
	if (strncmp(name, base, bl) != 0 || (name[bl] != '.' && name[bl] != '-') || !name[bl + 1])
		return 0;
	if (!strict)
		return 1;
	const char *sfx = name + bl + 1;
	size_t n = strlen(sfx);
	if (n > 3 && strcmp(sfx + n - 3, ".gz") == 0)
		n -= 3;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789.-_", sfx[i]))
			return 0;
	return 1;
}

/* At start: open the rotated file of the saved position, among PATH.*
 * and PATH-*: the plain file with its inode, else (strict names only)
 * the gzip file whose content starts with its fingerprint. */
static int open_rotated(mlf *f, const acct_log_pos *pos)
{
	char dir[PATH_MAX_LEN + 1], cand[2 * PATH_MAX_LEN + 2];
	const char *base;
	dir_of(f->path, dir, &base);
	size_t bl = strlen(base);
	for (int pass = 0; pass < 2; pass++) {
		DIR *d = opendir(dir);
		if (!d)
			return 0;
		struct dirent *e;
		int found = 0;
		while (!found && (e = readdir(d)) != NULL) {
			if (!rotated_name(e->d_name, base, bl, pass == 1))
				continue;
			int n = snprintf(cand, sizeof cand, "%s/%s", dir, e->d_name);
			if (n < 0 || (size_t)n > PATH_MAX_LEN)
				continue;
			struct stat sb;
			if (pass == 0 && (stat(cand, &sb) != 0 || (int64_t)sb.st_ino != pos->inode))
				continue;
			if (pass == 1 && (pos->fingerprint_len == 0 || pos->offset == 0))
				break;
			found = open_file(f, cand, pos->offset, pos, 1) == OPEN_OK;
		}
		closedir(d);
		if (found) {
			if (f->gz)
				notice(f, 0, "%s: resuming in %s (compressed since) at byte %lld of its content", f->path,
				       f->src, (long long)pos->offset);
			return 1;
		}
	}
	return 0;
}

static int ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec : a->tv_nsec > b->tv_nsec;
}

/* The rotated file that comes after the current one: among PATH.* and
 * PATH-* (strict names), the oldest last modification after the current
 * file's (gzip keeps it; on a tie, the name that sorts after it), not the
 * current file nor its compressed twin (the same first bytes), not the
 * file at the path.  Rotated files are written in turn, so their
 * modification times give their order whatever their names. */
static int next_rotated(mlf *f, char *out)
{
	char dir[PATH_MAX_LEN + 1], cand[2 * PATH_MAX_LEN + 2];
	const char *base;
	struct stat cur, at, sb;
	struct timespec best = {0, 0};
	int have = 0;

	if (fstat(f->fd, &cur) != 0)
		return 0;
	int path_ok = stat(f->path, &at) == 0;
	dir_of(f->path, dir, &base);
	size_t bl = strlen(base);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!rotated_name(e->d_name, base, bl, 1))
			continue;
		int n = snprintf(cand, sizeof cand, "%s/%s", dir, e->d_name);
		if (n < 0 || (size_t)n > PATH_MAX_LEN || stat(cand, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if ((sb.st_dev == cur.st_dev && sb.st_ino == cur.st_ino) ||
		    (path_ok && sb.st_dev == at.st_dev && sb.st_ino == at.st_ino))
			continue;
		if (!ts_after(&sb.st_mtim, &cur.st_mtim) &&
		    !(sb.st_mtim.tv_sec == cur.st_mtim.tv_sec && sb.st_mtim.tv_nsec == cur.st_mtim.tv_nsec &&
		      strcmp(cand, f->src) > 0))
			continue; /* older (on a tie, by name: Postfix's suffix is the time) */
		int tie = have && best.tv_sec == sb.st_mtim.tv_sec && best.tv_nsec == sb.st_mtim.tv_nsec;
		if (have && !ts_after(&best, &sb.st_mtim) && !(tie && strcmp(cand, out) < 0))
			continue; /* not older than the best so far (on a tie: plain X before X.gz) */
		int fd = open(cand, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			continue;
		int same = 0;
		if (is_gzip(fd) && f->head_len > 0) { /* the current file, compressed? */
			int dfd = dup(fd);
			gzFile z = dfd >= 0 ? gzdopen(dfd, "rb") : NULL;
			if (z) {
				unsigned char h[FP_MAX];
				size_t k = gz_get(z, h, f->head_len);
				same = k == f->head_len && memcmp(h, f->head, k) == 0;
				gzclose_r(z);
			} else if (dfd >= 0) {
				close(dfd);
			}
		}
		close(fd);
		if (same)
			continue;
		memcpy(out, cand, (size_t)n + 1);
		best = sb.st_mtim;
		have = 1;
	}
	closedir(d);
	return have;
}

static int restore_one(const acct_pending_msg *m, void *ctx)
{
	mlf *f = ctx;
	(void)mlt_restore(f->t, m); /* a field too long cannot have been written */
	return 0;
}

static int restore_tls(const acct_smtp_tls *x, void *ctx)
{
	mlf *f = ctx;
	int64_t gone = 0;
	(void)mlt_restore_tls(f->t, x, &gone);
	if (gone != x->pid)
		f->tls_stored[(uint64_t)x->pid % MLT_PIDS] = x->pid;
	if (gone != 0) { /* a row no slot holds: deleted with the next commit */
		int64_t *p = vec_push(&f->tls_forget);
		if (!p)
			return ACCT_ENOMEM;
		*p = gone;
	}
	return 0;
}

/* (Re)build the state from the store: messages in flight, smtp
 * processes' TLS state, position. */
static int resync(mlf *f)
{
	acct_log_pos pos;
	int r;

	batch_clear(f);
	close_file(f);
	mlt_free(f->t);
	if (!(f->t = mlt_new(f->o.max_messages, on_output, f)))
		return ACCT_ENOMEM;
	mlt_set_clock(f->t, f->now, f->o.local_offset_min);
	if ((r = acct_pending_foreach(f->db, restore_one, f)) != ACCT_OK)
		return r;
	memset(f->tls_stored, 0, sizeof f->tls_stored);
	f->tls_forget.n = 0;
	if ((r = acct_smtp_tls_foreach(f->db, restore_tls, f)) != ACCT_OK)
		return r;
	r = acct_logpos_get(f->db, f->path, &pos);
	if (r == ACCT_ENOTFOUND) {
		f->stored = 0;
		f->dev = f->ino = 0;
		f->committed = f->offset = 0;
		f->pos_dirty = 1;
		return ACCT_OK;
	}
	if (r != ACCT_OK)
		return r;
	f->stored = 1;
	f->stored_dev = f->dev = pos.device;
	f->stored_ino = f->ino = pos.inode;
	f->committed = f->offset = pos.offset;
	f->pos_dirty = 0;

	if (open_file(f, f->path, pos.offset, &pos, 0) == OPEN_OK)
		return ACCT_OK;
	/* rotated while we were away: finish the old file first (it may have
	 * been compressed since); the next poll reads it to its end, sees that
	 * the path names another file and goes on with the next rotated one,
	 * or that one, as for a rotation while running */
	if (open_rotated(f, &pos))
		return ACCT_OK;
	/* the old file is gone: the current file (if any) from its start */
	if (pos.offset > 0)
		notice(f, 1,
		       "%s: the file of the saved position (inode %lld, byte %lld) is neither at the path nor "
		       "among its rotated files: reading %s from its start, lines not read before the stop may "
		       "be lost",
		       f->path, (long long)pos.inode, (long long)pos.offset, f->path);
	r = open_at(f, f->path, 0);
	if (r == ACCT_OK) {
		f->pos_dirty = 1;
		f->st.rotations++;
	}
	return r == ACCT_ENOTFOUND ? ACCT_OK : r;
}

int mlf_open(mlf **out, acct_db *db, const char *path, const mlf_options *opts, char *err, size_t errlen)
{
	mlf_options def = MLF_OPTIONS_INIT;
	*out = NULL;
	if (!opts)
		opts = &def;
	if (!db || !path || !*path || strlen(path) > PATH_MAX_LEN || opts->version != MLF_OPTIONS_VERSION ||
	    opts->retention < 0) {
		snprintf(err, errlen,
		         "the log follower needs a store, a path of 1 to %d bytes, options version %d and a "
		         "retention of 0 (forever) or more seconds",
		         PATH_MAX_LEN, MLF_OPTIONS_VERSION);
		return ACCT_EINVAL;
	}
	mlf *f = calloc(1, sizeof *f);
	if (!f || !(f->rbuf = malloc(READ_CHUNK))) {
		free(f);
		snprintf(err, errlen, "out of memory");
		return ACCT_ENOMEM;
	}
	f->db = db;
	f->fd = -1;
	f->o = *opts;
	if (!f->o.batch_lines)
		f->o.batch_lines = 2000;
	memcpy(f->path, path, strlen(path) + 1);
	f->evs.size = sizeof(ev_ref);
	f->opens.size = f->closes.size = f->expiries.size = sizeof(pend_ref);
	f->tls_forget.size = sizeof(int64_t);
	int r = resync(f);
	if (r != ACCT_OK) {
		snprintf(err, errlen, "%s: %s", path, acct_errmsg(db)[0] ? acct_errmsg(db) : acct_strerror(r));
		mlf_close(f);
		return r;
	}
	*out = f;
	return ACCT_OK;
}

static int poll_once(mlf *f)
{
	int r;
	struct stat sb;

	if (f->fd < 0) {
		r = open_at(f, f->path, 0);
		if (r == ACCT_ENOTFOUND)
			return ACCT_OK; /* not there yet */
		if (r != ACCT_OK)
			return r;
		f->pos_dirty = 1;
	}
	/* Whenever the budget runs out, what was taken is committed and the
	 * rest waits for the next poll (which goes on from here). */
	if ((r = drain(f)) != ACCT_OK || f->more)
		return r == ACCT_OK ? commit(f) : r;
	if (stat(f->path, &sb) == 0) {
		if ((int64_t)sb.st_dev != f->dev || (int64_t)sb.st_ino != f->ino) {
			/* rotated: the old file's last lines, then the rotated files
			 * that came after it if any (several rotations while the
			 * follower was down or behind), then the new one */
			for (int i = 0;; i++) {
				char next[PATH_MAX_LEN + 1];
				if ((r = drain(f)) != ACCT_OK || f->more || (r = commit(f)) != ACCT_OK)
					return r == ACCT_OK ? commit(f) : r;
				if (i >= CHAIN_MAX || !next_rotated(f, next))
					break;
				if (open_file(f, next, 0, NULL, 1) != OPEN_OK)
					break;
				notice(f, 0, "%s: reading the rotated %s%s", f->path, f->src,
				       f->gz ? " (compressed)" : "");
				f->pos_dirty = 1;
				f->st.rotations++;
			}
			if ((r = open_at(f, f->path, 0)) != ACCT_OK)
				return r == ACCT_ENOTFOUND ? ACCT_OK : r;
			f->pos_dirty = 1;
			f->st.rotations++;
			if ((r = drain(f)) != ACCT_OK)
				return r;
		} else if ((int64_t)sb.st_size < f->offset) {
			/* truncated in place (copytruncate) */
			if ((r = commit(f)) != ACCT_OK || (r = open_at(f, f->path, 0)) != ACCT_OK)
				return r;
			f->pos_dirty = 1;
			if ((r = drain(f)) != ACCT_OK)
				return r;
		}
	}
	return commit(f);
}

int mlf_poll(mlf *f, int64_t now)
{
	f->now = now;
	f->taken = 0;
	f->more = 0;
	mlt_set_clock(f->t, now, f->o.local_offset_min);
	int r;
	if (f->need_resync && (r = resync(f)) != ACCT_OK)
		return r;
	f->need_resync = 0;
	r = poll_once(f);
	if (r == ACCT_OK && f->o.retention > 0 && (f->pruned_at == 0 || now - f->pruned_at >= 3600)) {
		int64_t n = 0;
		if ((r = acct_event_del_before(f->db, now - f->o.retention, &n)) == ACCT_OK) {
			f->pruned_at = now;
			f->st.pruned += (uint64_t)n;
		}
		return r;
	}
	if (r != ACCT_OK) {
		/* start again from what the store holds, now or at the next poll */
		f->need_resync = resync(f) != ACCT_OK;
	}
	return r;
}

int mlf_more(const mlf *f)
{
	return f != NULL && f->more;
}

void mlf_get_stats(const mlf *f, mlf_stats *out)
{
	*out = f->st;
	if (f->t) {
		mlt_stats ts;
		mlt_get_stats(f->t, &ts);
		out->lost = ts.lost;
	}
}

void mlf_close(mlf *f)
{
	if (!f)
		return;
	close_file(f);
	mlt_free(f->t);
	free(f->rbuf);
	free(f->arena);
	free(f->evs.v);
	free(f->opens.v);
	free(f->closes.v);
	free(f->expiries.v);
	free(f->tls_forget.v);
	free(f);
}
