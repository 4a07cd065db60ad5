/* test-block.c - block arithmetic */
#include "config.h"

#include "unit.h"
#include "src/block.h"

static void counts(void)
{
	const uint64_t bs = 4u << 20;

	CHECK(aim_block_count(0, bs) == 0);
	CHECK(aim_block_count(1, bs) == 1);
	CHECK(aim_block_count(bs, bs) == 1);
	CHECK(aim_block_count(bs + 1, bs) == 2);
	CHECK(aim_block_len(bs + 1, bs, 0) == bs);
	CHECK(aim_block_len(bs + 1, bs, 1) == 1);
	CHECK(aim_block_len(bs + 1, bs, 2) == 0);
	CHECK(aim_block_count(5ULL << 40, bs) == 5u << 18);
}

static void spans(void)
{
	const uint64_t bs = 4096;
	uint32_t a = 99, b = 99;

	CHECK(aim_block_span(10000, bs, 0, 8, &a, &b) == 8 && a == 0 && b == 0);
	CHECK(aim_block_span(10000, bs, 4095, 2, &a, &b) == 2 && a == 0 &&
	      b == 1);
	CHECK(aim_block_span(10000, bs, 4096, 4096, &a, &b) == 4096 &&
	      a == 1 && b == 1);
	CHECK(aim_block_span(10000, bs, 9000, 5000, &a, &b) == 1000 &&
	      a == 2 && b == 2);
	CHECK(aim_block_span(10000, bs, 10000, 1, &a, &b) == 0);
	CHECK(aim_block_span(10000, bs, 5, 0, &a, &b) == 0);
}

const struct unit_test block_tests[] = {
	{ "block: counts and lengths", counts },
	{ "block: spans", spans },
	{ NULL, NULL },
};
