/* postern-hookd's configuration: defaults, the file, overrides, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "testutil.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_defaults(void **state)
{
	hookd_conf c;
	char err[256];

	(void)state;
	conf_defaults(&c);
	assert_string_equal(c.database, "/var/lib/postern/postern.db");
	assert_string_equal(c.auth_listen, "inet:127.0.0.1:10035");
	assert_string_equal(c.policy_listen, "inet:127.0.0.1:10036");
	assert_string_equal(c.transport_verify13, "postern-tls13-verify");
	assert_int_equal(c.max_connections, 1024);
	assert_int_equal(c.debug, 0);
	assert_int_equal(conf_check(&c, err, sizeof(err)), 0);
}

static void test_file(void **state)
{
	char dir[256], path[300], err[512];
	hookd_conf c;

	(void)state;
	tmpdir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/hookd.conf", dir);
	write_file(path, "# test\n\n  database = /srv/p.db  \nauth_listen = inet:127.0.0.1:12345\n"
	                 "policy_listen =\nidle_timeout=60\ndebug = yes\n");
	conf_defaults(&c);
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.database, "/srv/p.db");
	assert_string_equal(c.auth_listen, "inet:127.0.0.1:12345");
	assert_string_equal(c.policy_listen, "");
	assert_int_equal(c.idle_timeout, 60);
	assert_int_equal(c.debug, 1);
	assert_int_equal(conf_check(&c, err, sizeof(err)), 0);

	write_file(path, "database = /a\ndatabase = /b\n");
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "hookd.conf:2: 'database' is set twice"));
	write_file(path, "databse = /a\n");
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "hookd.conf:1: unknown setting 'databse'"));
	write_file(path, "idle_timeout = 3\n");
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "idle_timeout: '3' is not a number from 5 to 86400"));
	write_file(path, "auth_listen = 127.0.0.1:99\n");
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is not a listen address"));
	write_file(path, "auth_listen = unix:relative\n");
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	write_file(path, "debug = maybe\n");
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	write_file(path, "just words\n");
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "expected 'name = value'"));
	write_file(path, "socket_mode = 777\n");
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	write_file(path, "transport_clear = Bad Name\n");
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	{
		char big[CONF_LINE_MAX + 100];

		memset(big, 'x', sizeof(big) - 2);
		big[sizeof(big) - 2] = '\n';
		big[sizeof(big) - 1] = '\0';
		write_file(path, big);
		assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "line longer than"));
	}
	unlink(path);
	assert_int_equal(conf_load(&c, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	tmpdir_remove(dir);
}

static void test_checks_and_print(void **state)
{
	hookd_conf c;
	char err[256], *buf = NULL;
	size_t len = 0;
	FILE *out;

	(void)state;
	conf_defaults(&c);
	assert_int_equal(conf_set(&c, "auth_listen", "", err, sizeof(err)), 0);
	assert_int_equal(conf_set(&c, "policy_listen", "", err, sizeof(err)), 0);
	assert_int_equal(conf_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nothing to serve"));
	assert_int_equal(conf_set(&c, "auth_listen", "inet:127.0.0.1:1", err, sizeof(err)), 0);
	assert_int_equal(conf_set(&c, "policy_listen", "inet:127.0.0.1:1", err, sizeof(err)), 0);
	assert_int_equal(conf_check(&c, err, sizeof(err)), -1);
	assert_int_equal(conf_set(&c, "nope", "1", err, sizeof(err)), -1);

	conf_defaults(&c);
	out = open_memstream(&buf, &len);
	assert_non_null(out);
	conf_print(&c, out, 1);
	fclose(out);
	assert_non_null(strstr(buf, "database = /var/lib/postern/postern.db\n"));
	assert_non_null(strstr(buf, "debug = no\n"));
	assert_non_null(strstr(buf, "# most simultaneous connections from Postfix (default: 1024)\nmax_connections = 1024\n"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_checks_and_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
