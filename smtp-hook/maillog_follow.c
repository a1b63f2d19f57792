/*
 * maillog_follow: the log follower (see maillog_follow.h for the
 * guarantees).  The I/O layer around the pure parser and correlator:
 * it owns the file descriptor, the partial last line, the batch of
 * outputs not yet committed (copied into one string arena, since the
 * correlator's pointers live only during its callback), and the
 * position, which moves in the store only together with that batch.
 */
#include "maillog_follow.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maillog.h"
#include "maillog_track.h"

#define PATH_MAX_LEN 1023
#define READ_CHUNK 65536
#define NONE SIZE_MAX

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
	int64_t dev, ino;
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
	mlf_stats st;
};

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
	if (f->evs.n == 0 && f->opens.n == 0 && f->closes.n == 0 && f->expiries.n == 0 &&
	    f->offset == f->committed && !f->pos_dirty)
		return ACCT_OK;
	acct_event *ev = calloc(f->evs.n + 1, sizeof *ev);
	acct_pending_msg *op = calloc(f->opens.n + 1, sizeof *op);
	acct_pending_msg *cl = calloc(f->closes.n + 1, sizeof *cl);
	acct_event_expiry *ex = calloc(f->expiries.n + 1, sizeof *ex);
	int r = ACCT_ENOMEM;
	if (!ev || !op || !cl || !ex)
		goto out;
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
	acct_log_pos pos = {f->dev, f->ino, f->offset, 0};
	acct_event_batch b = {ev, f->evs.n, ex, f->expiries.n, op, f->opens.n, cl, f->closes.n, f->path, &pos};
	r = acct_event_add(f->db, &b);
	if (r == ACCT_OK) {
		f->committed = f->offset;
		f->pos_dirty = 0;
		f->st.events += f->evs.n;
		f->st.commits++;
		batch_clear(f);
	}
out:
	free(ev);
	free(op);
	free(cl);
	free(ex);
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
		ssize_t n = read(f->fd, f->rbuf, READ_CHUNK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ACCT_EUNAVAIL;
		}
		if (n == 0)
			return ACCT_OK;
		f->rpos = 0;
		f->rlen = (size_t)n;
	}
}

static void close_file(mlf *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->rpos = f->rlen = 0;
	f->llen = 0;
	f->skipping = 0;
	f->skip_len = 0;
}

/* Open `path` at `offset` as the current file (its identity recorded). */
static int open_at(mlf *f, const char *path, int64_t offset)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? ACCT_ENOTFOUND : ACCT_EUNAVAIL;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return ACCT_EUNAVAIL;
	}
	if (offset > (int64_t)sb.st_size) /* truncated since */
		offset = 0;
	if (offset > 0 && lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		close(fd);
		return ACCT_EUNAVAIL;
	}
	close_file(f);
	f->fd = fd;
	f->dev = (int64_t)sb.st_dev;
	f->ino = (int64_t)sb.st_ino;
	f->offset = offset;
	return ACCT_OK;
}

/* At start: the rotated file with the saved identity, among PATH.* and PATH-* */
static int find_rotated(const mlf *f, int64_t dev, int64_t ino, char *out, size_t len)
{
	char dir[PATH_MAX_LEN + 1];
	const char *slash = strrchr(f->path, '/');
	const char *base = slash ? slash + 1 : f->path;
	size_t bl = strlen(base);
	if (slash) {
		size_t dl = slash == f->path ? 1 : (size_t)(slash - f->path);
		memcpy(dir, f->path, dl);
		dir[dl] = '\0';
	} else {
		dir[0] = '.';
		dir[1] = '\0';
	}
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	int found = 0;
	while (!found && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, base, bl) != 0 || (e->d_name[bl] != '.' && e->d_name[bl] != '-'))
			continue;
		struct stat sb;
		int n = snprintf(out, len, "%s/%s", dir, e->d_name);
		if (n < 0 || (size_t)n >= len)
			continue;
		if (stat(out, &sb) == 0 && S_ISREG(sb.st_mode) && (int64_t)sb.st_dev == dev &&
		    (int64_t)sb.st_ino == ino)
			found = 1;
	}
	closedir(d);
	return found;
}

static int restore_one(const acct_pending_msg *m, void *ctx)
{
	mlf *f = ctx;
	(void)mlt_restore(f->t, m); /* a field too long cannot have been written */
	return 0;
}

/* (Re)build the state from the store: messages in flight, position. */
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
	r = acct_logpos_get(f->db, f->path, &pos);
	if (r == ACCT_ENOTFOUND) {
		f->dev = f->ino = 0;
		f->committed = f->offset = 0;
		f->pos_dirty = 1;
		return ACCT_OK;
	}
	if (r != ACCT_OK)
		return r;
	f->dev = pos.device;
	f->ino = pos.inode;
	f->committed = f->offset = pos.offset;
	f->pos_dirty = 0;

	struct stat sb;
	if (stat(f->path, &sb) == 0 && (int64_t)sb.st_dev == pos.device && (int64_t)sb.st_ino == pos.inode)
		return open_at(f, f->path, pos.offset);
	/* rotated while we were away: finish the old file first; the next
	 * poll reads it to its end, sees that the path names another file
	 * and goes on with that one, as for a rotation while running */
	char old[PATH_MAX_LEN + 1];
	if (find_rotated(f, pos.device, pos.inode, old, sizeof old) && open_at(f, old, pos.offset) == ACCT_OK)
		return ACCT_OK;
	/* the old file is gone: the current file (if any) from its start */
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
			/* rotated: the old file's last lines, then the new one */
			if ((r = drain(f)) != ACCT_OK || f->more || (r = commit(f)) != ACCT_OK)
				return r == ACCT_OK ? commit(f) : r;
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
	free(f);
}
