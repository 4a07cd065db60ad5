/* fuzz-uri.c - libFuzzer target: model URIs and cache keys */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *cause = NULL, key[17];
	struct aim_uri u;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	aim_uri_init(&u);
	if (aim_uri_parse(s, &u, &cause) == 0) {
		aim_uri_cache_key(s, key);
		aim_uri_release(&u);
	}
	free(cause);
	free(s);
	return 0;
}
