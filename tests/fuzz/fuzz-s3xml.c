/* fuzz-s3xml.c - libFuzzer target: S3 ListObjectsV2 pages and errors */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/s3xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aim_s3_list l;
	char *cause = NULL, *code = NULL, *msg = NULL;

	if (aim_s3_parse_list((const char *)data, size, &l, &cause) == 0) {
		for (size_t i = 0; i < l.n; i++)
			if (l.objs[i].key == NULL || l.objs[i].key[0] == '\0')
				abort();
		aim_s3_list_release(&l);
	}
	free(cause);
	char *region;
	if (aim_s3_parse_error((const char *)data, size, &code, &msg,
			       &region) == 0) {
		free(code);
		free(msg);
		free(region);
	}
	return 0;
}
