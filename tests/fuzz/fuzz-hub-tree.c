/* fuzz-hub-tree.c - libFuzzer target: one page of the Hub's tree API */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/hub.h"
#include "src/util.h"

static int entry(void *arg, const struct aim_hub_entry *e)
{
	const char *why;

	/* whatever the parser hands on must already be a safe path */
	if (aim_path_check(e->path, &why) != 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *cause = NULL;
	size_t count = 0;

	aim_hub_parse_tree("fuzz", (const char *)data, size, entry, NULL,
			   &count, &cause);
	free(cause);
	return 0;
}
