/*
 * Validation of the text an administrator types: account names, email
 * logins, scopes, expiry and "since" times, labels.  Pure functions;
 * each error message names the bad input and says what is accepted.
 */
#ifndef ACCT_VALIDATE_H
#define ACCT_VALIDATE_H

#include <stddef.h>

#ifndef ACCT_SCOPE_MAIL_SEND
#define ACCT_SCOPE_MAIL_SEND      (1u << 0)
#define ACCT_SCOPE_ACCOUNTS_READ  (1u << 1)
#define ACCT_SCOPE_ACCOUNTS_WRITE (1u << 2)
#define ACCT_SCOPE_KEYS_READ      (1u << 3)
#define ACCT_SCOPE_KEYS_WRITE     (1u << 4)
#define ACCT_SCOPE_SETTINGS_READ  (1u << 5)
#define ACCT_SCOPE_SETTINGS_WRITE (1u << 6)
#define ACCT_SCOPE_ALL            0x7fu
#endif

/* lowercase [a-z0-9][a-z0-9._-]{0,62} */
int validate_account_name(const char *name, char *err, size_t errlen);
/* local@domain; writes the normalised form (domain lowercased) to out */
int validate_email(char *out, size_t outlen, const char *email, char *err, size_t errlen);
/* "mail.send,keys.write" -> bits; unknown, duplicate or empty is an error */
int validate_scopes(unsigned int *out, const char *text, char *err, size_t errlen);
int scopes_format(char *buf, size_t buflen, unsigned int scopes);
const char *scope_name(unsigned int bit);
const char *scope_description(unsigned int bit);
/* "never" -> 0; Nh, Nd, Nw -> now + N; YYYY-MM-DD -> the start of the next day (UTC); YYYY-MM-DDTHH:MM:SSZ */
int validate_expiry(long long *out, const char *text, long long now, char *err, size_t errlen);
/* YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, or Nm, Nh, Nd, Nw ago */
int validate_since(long long *out, const char *text, long long now, char *err, size_t errlen);
/* 1..maxlen bytes of UTF-8 without control characters */
int validate_label(const char *text, size_t maxlen, char *err, size_t errlen);

#endif
