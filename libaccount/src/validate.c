/*
 * Validation of administrator input (see validate.h).  Numbers are
 * parsed by hand, strictly: ASCII digits only, no sign, no overflow.
 * Dates are checked against the calendar and converted with
 * days-from-civil arithmetic, so the result does not depend on TZ.
 */
#include <stdio.h>
#include <string.h>

#include "utf8.h"
#include "validate.h"

#define ERR(...)                                        \
	do {                                            \
		if (err)                                \
			snprintf(err, errlen, __VA_ARGS__); \
		return -1;                              \
	} while (0)

/* Quote at most this much of bad input in a message. */
#define Q 64

int validate_account_name(const char *name, char *err, size_t errlen)
{
	size_t n;

	if (name == NULL || *name == '\0')
		ERR("an account name is required");
	n = strnlen(name, 64);
	if (n > 63)
		ERR("account name '%.*s…' is too long; at most 63 characters", 20, name);
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		ERR("account name '%.*s' must start with a lowercase letter or digit; names are "
		    "lowercase letters, digits, '.', '_' and '-'", Q, name);
	for (size_t i = 1; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			ERR("account name '%.*s' has an invalid character; names are lowercase letters, digits, "
			    "'.', '_' and '-'", Q, name);
	}
	return 0;
}

static int local_char_ok(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return strchr("\"(),:;<>@[\\]", c) == NULL;
}

int validate_email(char *out, size_t outlen, const char *email, char *err, size_t errlen)
{
	const char *at, *dom, *label;
	size_t n, local_len, dom_len, labels = 0;

	if (email == NULL || *email == '\0')
		ERR("an email address is required");
	n = strnlen(email, 256);
	if (n > 254)
		ERR("email address '%.*s…' is too long; at most 254 characters", 20, email);
	at = strchr(email, '@');
	if (at == NULL || strchr(at + 1, '@') != NULL)
		ERR("'%.*s' is not an email address; expected name@example.com", Q, email);
	local_len = (size_t)(at - email);
	dom = at + 1;
	dom_len = n - local_len - 1;
	if (local_len == 0 || local_len > 64)
		ERR("'%.*s': the part before '@' must be 1 to 64 characters", Q, email);
	if (email[0] == '.' || email[local_len - 1] == '.')
		ERR("'%.*s': the part before '@' cannot start or end with '.'", Q, email);
	for (size_t i = 0; i < local_len; i++) {
		if (!local_char_ok((unsigned char)email[i]))
			ERR("'%.*s' has a character not allowed in an email address", Q, email);
		if (email[i] == '.' && email[i + 1] == '.')
			ERR("'%.*s': '..' is not allowed in an email address", Q, email);
	}
	if (dom_len == 0 || dom_len > 253)
		ERR("'%.*s': the domain must be 1 to 253 characters", Q, email);
	label = dom;
	for (size_t i = 0; i <= dom_len; i++) {
		char c = dom[i];

		if (i == dom_len || c == '.') {
			size_t ll = (size_t)(dom + i - label);

			if (ll == 0 || ll > 63)
				ERR("'%.*s': each part of the domain must be 1 to 63 characters", Q, email);
			if (label[0] == '-' || label[ll - 1] == '-')
				ERR("'%.*s': a domain part cannot start or end with '-'", Q, email);
			labels++;
			label = dom + i + 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			ERR("'%.*s': the domain may hold only letters, digits, '-' and '.'", Q, email);
	}
	if (labels < 2)
		ERR("'%.*s': the domain needs a dot, as in example.com", Q, email);
	if (out == NULL)
		return 0;
	if (n + 1 > outlen)
		ERR("email address too long");
	memcpy(out, email, n + 1);
	for (size_t i = local_len + 1; i < n; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	return 0;
}

static const struct {
	unsigned int bit;
	const char *name;
	const char *description;
} scopes[] = {
	{ACCT_SCOPE_MAIL_SEND, "mail.send", "send mail through SMTP AUTH"},
	{ACCT_SCOPE_ACCOUNTS_READ, "accounts.read", "read the account and its subaccounts"},
	{ACCT_SCOPE_ACCOUNTS_WRITE, "accounts.write", "change the account and its subaccounts"},
	{ACCT_SCOPE_KEYS_READ, "keys.read", "list API keys"},
	{ACCT_SCOPE_KEYS_WRITE, "keys.write", "create and revoke API keys"},
	{ACCT_SCOPE_SETTINGS_READ, "settings.read", "read the IP allowlist and TLS settings"},
	{ACCT_SCOPE_SETTINGS_WRITE, "settings.write", "change the IP allowlist and TLS settings"},
};
#define NSCOPES (sizeof(scopes) / sizeof(scopes[0]))
#define SCOPE_LIST \
	"mail.send, accounts.read, accounts.write, keys.read, keys.write, settings.read, settings.write"

const char *scope_name(unsigned int bit)
{
	for (size_t i = 0; i < NSCOPES; i++)
		if (scopes[i].bit == bit)
			return scopes[i].name;
	return NULL;
}

const char *scope_description(unsigned int bit)
{
	for (size_t i = 0; i < NSCOPES; i++)
		if (scopes[i].bit == bit)
			return scopes[i].description;
	return NULL;
}

int validate_scopes(unsigned int *out, const char *text, char *err, size_t errlen)
{
	unsigned int bits = 0;
	const char *p = text;

	if (text == NULL || *text == '\0')
		ERR("at least one scope is required, from: %s", SCOPE_LIST);
	if (strnlen(text, 512) >= 512)
		ERR("the scope list is too long");
	for (;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		size_t i;

		for (i = 0; i < NSCOPES; i++)
			if (strlen(scopes[i].name) == n && memcmp(scopes[i].name, p, n) == 0)
				break;
		if (i == NSCOPES)
			ERR("unknown scope '%.*s'; scopes are: %s", (int)(n > Q ? Q : n), p, SCOPE_LIST);
		if (bits & scopes[i].bit)
			ERR("scope '%s' is listed twice", scopes[i].name);
		bits |= scopes[i].bit;
		if (end == NULL)
			break;
		p = end + 1;
	}
	*out = bits;
	return 0;
}

int scopes_format(char *buf, size_t buflen, unsigned int bits)
{
	size_t used = 0;

	if (buflen == 0 || (bits & ~ACCT_SCOPE_ALL) != 0)
		return -1;
	buf[0] = '\0';
	for (size_t i = 0; i < NSCOPES; i++) {
		int w;

		if (!(bits & scopes[i].bit))
			continue;
		w = snprintf(buf + used, buflen - used, "%s%s", used ? "," : "", scopes[i].name);
		if (w < 0 || (size_t)w >= buflen - used)
			return -1;
		used += (size_t)w;
	}
	return 0;
}

/* Exactly `n` digits at s into *out. */
static int digits(const char *s, size_t n, long long *out)
{
	long long v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), after H. Hinnant. */
static long long days_from_civil(long long y, long long m, long long d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int leap(long long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ; *date_only tells which. */
static int parse_time(const char *s, long long *out, int *date_only)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	long long y, mo, d, h = 0, mi = 0, se = 0;
	size_t n = strnlen(s, 32);

	if (n != 10 && n != 20)
		return -1;
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d))
		return -1;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return -1;
	if (n == 20) {
		if (s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
		    digits(s + 17, 2, &se) || s[19] != 'Z' || h > 23 || mi > 59 || se > 59)
			return -1;
	}
	*date_only = n == 10;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}

/* N followed by one unit letter from `units`; seconds into *out. */
static int parse_span(const char *s, const char *units, long long *out)
{
	size_t n = strnlen(s, 16);
	long long v, mult;

	if (n < 2 || n > 6 || s[0] == '0' || digits(s, n - 1, &v) != 0 || strchr(units, s[n - 1]) == NULL)
		return -1;
	switch (s[n - 1]) {
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: mult = 7 * 86400; break;
	}
	if (v * mult > 3650LL * 86400)
		return -1;
	*out = v * mult;
	return 0;
}

int validate_expiry(long long *out, const char *text, long long now, char *err, size_t errlen)
{
	long long t, span;
	int date_only;

	if (text == NULL || *text == '\0')
		ERR("an expiry is required: Nd, Nh, Nw (e.g. 90d), a date YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or never");
	if (strcmp(text, "never") == 0) {
		*out = 0;
		return 0;
	}
	if (parse_span(text, "hdw", &span) == 0) {
		*out = now + span;
		return 0;
	}
	if (parse_time(text, &t, &date_only) != 0)
		ERR("'%.*s' is not a valid expiry; use Nd, Nh, Nw (e.g. 90d, at most 10 years), a date YYYY-MM-DD, "
		    "YYYY-MM-DDTHH:MM:SSZ or never", Q, text);
	if (date_only)
		t += 86400; /* valid through the whole named day */
	if (t <= now)
		ERR("expiry '%.*s' is in the past", Q, text);
	*out = t;
	return 0;
}

int validate_since(long long *out, const char *text, long long now, char *err, size_t errlen)
{
	long long t, span;
	int date_only;

	if (text != NULL && parse_span(text, "mhdw", &span) == 0) {
		*out = now - span;
		return 0;
	}
	if (text == NULL || parse_time(text, &t, &date_only) != 0)
		ERR("'%.*s' is not a valid time; use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, or a span ago such as 30m, "
		    "12h, 7d, 2w", Q, text ? text : "");
	*out = t;
	return 0;
}

int validate_label(const char *text, size_t maxlen, char *err, size_t errlen)
{
	size_t n;

	if (text == NULL || *text == '\0')
		ERR("text is required");
	n = strnlen(text, maxlen + 1);
	if (n > maxlen)
		ERR("text is longer than %zu bytes", maxlen);
	if (!utf8_valid_text(text, n))
		ERR("text must be UTF-8 without control characters");
	return 0;
}
