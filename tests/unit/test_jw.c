/*
 * test_jw.c — the JSON writer every check encodes with (ids-svc/checks/jw.h): commas and
 * nesting, bytes from a guest escaped into valid JSON, the bound, misuse refused. Output
 * is checked by parsing it back with jansson.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "harness.h"
#include "jw.h"

static char *done(struct jw *w)
{
	char *t = NULL;
	ASSERT_EQ(jw_finish(w, &t, NULL), 0);
	return t;
}

TEST(jw_object_array_commas_and_scalars)
{
	struct jw w;
	jw_init(&w, SIZE_MAX);
	jw_obj(&w);
	jw_key(&w, "a");
	jw_arr(&w);
	jw_int(&w, -1);
	jw_uint(&w, UINT32_MAX);
	jw_bool(&w, 1);
	jw_null(&w);
	jw_hex(&w, 0xffffffff81000000ull);
	jw_fixed(&w, 1.23456, 3);
	jw_arr_end(&w);
	jw_key(&w, "b");
	jw_obj(&w);
	jw_obj_end(&w);
	jw_key(&w, "c");
	jw_raw(&w, "{\"x\":[1,2]}");
	jw_obj_end(&w);
	char *t = done(&w);
	ASSERT_STREQ(t, "{\"a\":[-1,4294967295,true,null,\"0xffffffff81000000\",1.235],"
			"\"b\":{},\"c\":{\"x\":[1,2]}}");
	json_error_t e;
	json_t *j = json_loads(t, 0, &e);
	ASSERT(j != NULL);
	json_decref(j);
	free(t);
	jw_init(&w, SIZE_MAX);
	jw_uint(&w, UINT64_MAX); /* all 64 bits (jansson itself stops at INT64_MAX) */
	t = done(&w);
	ASSERT_STREQ(t, "18446744073709551615");
	free(t);
}

/* Every byte value in a string, as a comm or module name a guest chose: the text is valid
 * JSON and reads back as the bytes taken as Latin-1. */
TEST(jw_strings_every_byte_escaped_roundtrip)
{
	char s[256];
	for (int i = 1; i < 256; i++)
		s[i - 1] = (char)i;
	s[255] = '\0';
	struct jw w;
	jw_init(&w, SIZE_MAX);
	jw_arr(&w);
	jw_str(&w, s);
	jw_strn(&w, "abc\0def", 7); /* a fixed field stops at its NUL */
	jw_arr_end(&w);
	char *t = done(&w);
	for (const char *p = t; *p; p++)
		ASSERT((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
	json_error_t e;
	json_t *j = json_loads(t, 0, &e);
	ASSERT(j != NULL);
	const char *back = json_string_value(json_array_get(j, 0));
	ASSERT(back != NULL);
	/* U+0001..U+00FF in UTF-8: one byte below 0x80, two above */
	size_t k = 0;
	for (int i = 1; i < 256; i++) {
		unsigned char c0 = (unsigned char)back[k];
		if (i < 0x80) {
			ASSERT_EQ(c0, i);
			k += 1;
		} else {
			ASSERT_EQ(c0, 0xc0 | (i >> 6));
			ASSERT_EQ((unsigned char)back[k + 1], 0x80 | (i & 0x3f));
			k += 2;
		}
	}
	ASSERT_EQ(back[k], '\0');
	ASSERT_STREQ(json_string_value(json_array_get(j, 1)), "abc");
	json_decref(j);
	free(t);
}

TEST(jw_bound_is_etoobig_and_sticky)
{
	struct jw w;
	jw_init(&w, 16);
	jw_arr(&w);
	for (int i = 0; i < 100; i++)
		jw_str(&w, "0123456789");
	jw_arr_end(&w);
	char *t = (char *)1;
	ASSERT_EQ(jw_finish(&w, &t, NULL), SEVMON_ETOOBIG);
}

TEST(jw_misuse_is_einval)
{
	struct jw w;
	char *t;
	jw_init(&w, SIZE_MAX); /* a value in an object without its key */
	jw_obj(&w);
	jw_int(&w, 1);
	ASSERT_EQ(jw_finish(&w, &t, NULL), SEVMON_EINVAL);
	jw_init(&w, SIZE_MAX); /* unclosed */
	jw_arr(&w);
	ASSERT_EQ(jw_finish(&w, &t, NULL), SEVMON_EINVAL);
	jw_init(&w, SIZE_MAX); /* a key in an array */
	jw_arr(&w);
	jw_key(&w, "k");
	ASSERT_EQ(jw_finish(&w, &t, NULL), SEVMON_EINVAL);
	jw_init(&w, SIZE_MAX); /* two documents */
	jw_int(&w, 1);
	jw_int(&w, 2);
	ASSERT_EQ(jw_finish(&w, &t, NULL), SEVMON_EINVAL);
	jw_init(&w, SIZE_MAX); /* nothing */
	ASSERT_EQ(jw_finish(&w, &t, NULL), SEVMON_EINVAL);
	jw_init(&w, SIZE_MAX); /* nested past the limit */
	for (int i = 0; i < JW_MAX_DEPTH + 1; i++)
		jw_arr(&w);
	ASSERT_EQ(jw_finish(&w, &t, NULL), SEVMON_EINVAL);
	jw_init(&w, SIZE_MAX); /* a key left without its value */
	jw_obj(&w);
	jw_key(&w, "k");
	jw_obj_end(&w);
	ASSERT_EQ(jw_finish(&w, &t, NULL), SEVMON_EINVAL);
}

TEST_MAIN()
