/* fuzz-scrape.c - libFuzzer target: request heads sent to metrics= */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/scrape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	int head_only;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	aim_scrape_route(s, &head_only);
	free(s);
	return 0;
}
