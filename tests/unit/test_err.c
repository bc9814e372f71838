#include <errno.h>

#include "err.h"
#include "harness.h"

TEST(err_strerror_every_code_named)
{
#define CHECK(name, num, msg)                                             \
	ASSERT_STREQ(sevmon_strerror(SEVMON_##name), msg);                \
	ASSERT_STREQ(sevmon_errname(SEVMON_##name), #name);               \
	ASSERT_EQ(SEVMON_##name, -(num));
	SEVMON_ERRORS(CHECK)
#undef CHECK
}

TEST(err_strerror_unknown)
{
	ASSERT_STREQ(sevmon_strerror(-9999), "unknown error");
	ASSERT_STREQ(sevmon_errname(-9999), "E?");
	ASSERT_STREQ(sevmon_errname(0), "OK");
}

TEST(err_from_errno_maps)
{
	ASSERT_EQ(sevmon_from_errno(ETIMEDOUT), SEVMON_ETIMEDOUT);
	ASSERT_EQ(sevmon_from_errno(ECONNREFUSED), SEVMON_ECONNREFUSED);
	ASSERT_EQ(sevmon_from_errno(EPIPE), SEVMON_ECONNRESET);
	ASSERT_EQ(sevmon_from_errno(ENOENT), SEVMON_ENOENT);
	ASSERT_EQ(sevmon_from_errno(EBADF), SEVMON_ESYS);
}

TEST_MAIN()
