/*
 * test-reconciler.c - unit tests of the reconciler's pure functions: the
 * Kubernetes quantity parser and the PVC sizing rule (model size plus
 * headroom, rounded up to a whole GiB), across GiB boundaries. A program
 * of its own (it links tools/reconciler/quantity.c only) with the closing
 * line "N passed, N failed".
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "tools/reconciler/quantity.h"

int unit_failed;

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

static uint64_t q(const char *s)
{
	uint64_t v = 0;

	if (aim_quantity_parse(s, &v) != 0)
		return UINT64_MAX;
	return v;
}

static void test_quantity(void)
{
	CHECK(q("0") == 0);
	CHECK(q("123") == 123);
	CHECK(q("+5") == 5);
	CHECK(q("1Ki") == 1024);
	CHECK(q("930Mi") == 930 * MiB);
	CHECK(q("16Gi") == 16 * GiB);
	CHECK(q("2Ti") == 2048 * GiB);
	CHECK(q("1Ei") == 1ULL << 60);
	CHECK(q("1k") == 1000);
	CHECK(q("500M") == 500000000);
	CHECK(q("10G") == 10000000000ULL);
	CHECK(q("1T") == 1000000000000ULL);
	CHECK(q("1.5Gi") == 3 * GiB / 2);
	CHECK(q("1.1Gi") == 1181116007ULL); /* 1181116006.4, rounded up */
	CHECK(q("0.5") == 1);
	CHECK(q("100m") == 1); /* 0.1 byte is a byte */
	CHECK(q("1e9") == 1000000000);
	CHECK(q("5E3") == 5000);
	CHECK(q("1.5e3") == 1500);
	CHECK(q("12e-1") == 2);
	CHECK(q(".5Ki") == 512);
	uint64_t v;
	CHECK(aim_quantity_parse("", &v) == -EINVAL);
	CHECK(aim_quantity_parse("Gi", &v) == -EINVAL);
	CHECK(aim_quantity_parse("-1Gi", &v) == -EINVAL);
	CHECK(aim_quantity_parse("1GB", &v) == -EINVAL);
	CHECK(aim_quantity_parse("1gi", &v) == -EINVAL);
	CHECK(aim_quantity_parse("1 Gi", &v) == -EINVAL);
	CHECK(aim_quantity_parse("1e", &v) == -EINVAL);
	CHECK(aim_quantity_parse("1..2", &v) == -EINVAL);
	CHECK(aim_quantity_parse(NULL, &v) == -EINVAL);
	CHECK(aim_quantity_parse("16Ei", &v) == -ERANGE);
	CHECK(aim_quantity_parse("18446744073709551615", &v) == 0 &&
	      v == UINT64_MAX);
	CHECK(aim_quantity_parse("18446744073709551616", &v) == -ERANGE);
	CHECK(aim_quantity_parse("1e30", &v) == -ERANGE);
}

static void test_pvc_gib(void)
{
	/* 10%: the boundary of 1 GiB is 1 GiB / 1.1 = 976128930.9 bytes */
	CHECK(aim_pvc_gib(0, 10) == 0);
	CHECK(aim_pvc_gib(1, 10) == 1);
	CHECK(aim_pvc_gib(930 * MiB, 10) == 1); /* 1023 MiB */
	CHECK(aim_pvc_gib(931 * MiB, 10) == 2); /* 1024.1 MiB */
	CHECK(aim_pvc_gib(976128930, 10) == 1); /* 1073741823 */
	CHECK(aim_pvc_gib(976128931, 10) == 2); /* 1073741824.1 */
	CHECK(aim_pvc_gib(GiB, 10) == 2);
	CHECK(aim_pvc_gib(1952257861, 10) == 2); /* 2147483647.1 */
	CHECK(aim_pvc_gib(1952257862, 10) == 3); /* 2147483648.2 */
	CHECK(aim_pvc_gib(10 * GiB, 10) == 11);
	CHECK(aim_pvc_gib(10000000000ULL, 10) == 11); /* 10.24 GiB */
	CHECK(aim_pvc_gib(100 * GiB, 10) == 110);
	/* exact multiples need no extra GiB */
	CHECK(aim_pvc_gib(10 * GiB, 0) == 10);
	CHECK(aim_pvc_gib(10 * GiB + 1, 0) == 11);
	CHECK(aim_pvc_gib(4 * GiB, 25) == 5);
	CHECK(aim_pvc_gib(800 * MiB, 25) == 1);
	CHECK(aim_pvc_gib(820 * MiB, 25) == 2);
	CHECK(aim_pvc_gib(GiB, 100) == 2);
	/* no overflow near the top of the range */
	CHECK(aim_pvc_gib(UINT64_MAX, 10) == 18897856103ULL);
	char buf[32];
	CHECK(strcmp(aim_quantity_gib(110, buf, sizeof(buf)), "110Gi") == 0);
}

static const struct unit_test tests[] = {
	{"quantity", test_quantity},
	{"pvc_gib", test_pvc_gib},
};

int main(void)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		unit_failed = 0;
		tests[i].fn();
		printf("%s - reconciler/%s\n", unit_failed ? "FAIL" : "ok",
		       tests[i].name);
		if (unit_failed)
			failed++;
		else
			passed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
