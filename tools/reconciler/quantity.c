/*
 * quantity.c - see quantity.h. Arithmetic is done on 128-bit integers so a
 * quantity like "1.1Gi" is exact (1181116006.4 bytes, rounded up to ...007)
 * and no product overflows before it is range-checked.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "quantity.h"

typedef unsigned __int128 u128;

struct suffix {
	const char *s;
	u128 num, den;
};

static const struct suffix suffixes[] = {
	{"Ki", (u128)1 << 10, 1},
	{"Mi", (u128)1 << 20, 1},
	{"Gi", (u128)1 << 30, 1},
	{"Ti", (u128)1 << 40, 1},
	{"Pi", (u128)1 << 50, 1},
	{"Ei", (u128)1 << 60, 1},
	{"n", 1, 1000000000},
	{"u", 1, 1000000},
	{"m", 1, 1000},
	{"k", 1000, 1},
	{"M", 1000000, 1},
	{"G", 1000000000, 1},
	{"T", (u128)1000000000000ULL, 1},
	{"P", (u128)1000000000000000ULL, 1},
	{"E", (u128)1000000000000000000ULL, 1},
	{"", 1, 1},
};

static u128 ten_to(unsigned int n)
{
	u128 r = 1;

	while (n--)
		r *= 10;
	return r;
}

int aim_quantity_parse(const char *s, uint64_t *bytes)
{
	u128 mant = 0, num = 1, den = 1;
	unsigned int digits = 0, frac = 0;
	const char *p = s;
	int dot = 0;

	if (s == NULL)
		return -EINVAL;
	if (*p == '+')
		p++;
	for (; *p; p++) {
		if (*p == '.' && !dot) {
			dot = 1;
			continue;
		}
		if (*p < '0' || *p > '9')
			break;
		/* 30 significant digits fit a u128 with room to scale */
		if (++digits > 30)
			return -ERANGE;
		mant = mant * 10 + (unsigned int)(*p - '0');
		frac += dot;
	}
	if (digits == 0)
		return -EINVAL;
	if ((*p == 'e' || *p == 'E') && p[1] != '\0' &&
	    strchr("+-0123456789", p[1])) {
		int neg = 0, exp = 0;
		p++;
		if (*p == '+' || *p == '-')
			neg = *p++ == '-';
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			exp = exp * 10 + (*p - '0');
			if (exp > 30)
				return -ERANGE;
		}
		if (*p)
			return -EINVAL;
		if (neg)
			den = ten_to((unsigned int)exp);
		else
			num = ten_to((unsigned int)exp);
	} else {
		size_t i;
		for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
			if (strcmp(p, suffixes[i].s) == 0)
				break;
		if (i == sizeof(suffixes) / sizeof(suffixes[0]))
			return -EINVAL;
		num = suffixes[i].num;
		den = suffixes[i].den;
	}
	den *= ten_to(frac);
	/* mant < 10^30 and num <= 10^30 could overflow: check first */
	if (num != 0 && mant > ~(u128)0 / num)
		return -ERANGE;
	u128 v = (mant * num + den - 1) / den;
	if (v > UINT64_MAX)
		return -ERANGE;
	*bytes = (uint64_t)v;
	return 0;
}

uint64_t aim_pvc_gib(uint64_t bytes, unsigned int headroom)
{
	u128 want = (u128)bytes * (100u + headroom);
	u128 unit = (u128)100 << 30;

	return (uint64_t)((want + unit - 1) / unit);
}

const char *aim_quantity_gib(uint64_t gib, char *buf, size_t len)
{
	snprintf(buf, len, "%lluGi", (unsigned long long)gib);
	return buf;
}
