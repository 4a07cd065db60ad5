/* fuzz-path.c - libFuzzer target: the path sanitiser, sizes, URL redaction */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), buf[256];
	const char *why;
	uint64_t v;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (aim_path_check(s, &why) == 0) {
		/* an accepted path is relative, has no empty, "." or ".."
		 * component and no control character: it cannot climb out */
		if (s[0] == '/' || strlen(s) >= PATH_MAX)
			abort();
		for (const char *p = s;;) {
			size_t n = strcspn(p, "/");
			if (n == 0 || (n == 1 && p[0] == '.') ||
			    (n == 2 && p[0] == '.' && p[1] == '.'))
				abort();
			for (size_t i = 0; i < n; i++)
				if ((unsigned char)p[i] < 0x20)
					abort();
			if (p[n] == '\0')
				break;
			p += n + 1;
		}
	}
	aim_parse_size(s, &v);
	aim_parse_bool(s);
	aim_url_redact(s, buf, sizeof(buf));
	if (strlen(buf) >= sizeof(buf))
		abort();
	free(s);
	return 0;
}
