/*
 * What every pure protocol parser of postern-hookd returns.  A parser
 * gets the bytes buffered so far and says: not a whole request yet
 * (NEED_MORE), one request of N bytes (REQUEST, *consumed = N), or a
 * request that can never become valid (ERROR, with a static message and
 * *consumed set to how much to skip; the server closes the connection).
 * Parsers make no system calls and keep no state between calls, so the
 * fuzz targets and golden tests drive them exactly as the daemon does.
 */
#ifndef HOOKD_PROTO_H
#define HOOKD_PROTO_H

typedef enum proto_status {
	PROTO_ERROR = -1,
	PROTO_NEED_MORE = 0,
	PROTO_REQUEST = 1
} proto_status;

#endif
