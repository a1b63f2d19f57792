/* The public header compiles alone, first, under -pedantic -Werror. */
#include <postern/account.h>

int acct_headertest_dummy(void);
int acct_headertest_dummy(void)
{
	return ACCT_OK;
}
