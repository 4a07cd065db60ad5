/* fuzz-conf.c - libFuzzer target: the INI configuration and -o values */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/conf.h"
#include "src/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *cause = NULL;
	struct aim_conf c;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	aim_log_level = -1; /* quiet */
	aim_conf_init(&c);
	aim_conf_load_string(&c, s, &cause);
	free(cause);
	cause = NULL;
	/* the same bytes as one -o name=value */
	char *eq = strchr(s, '=');
	if (eq) {
		*eq = '\0';
		aim_conf_set(&c, s, eq + 1, &cause);
		free(cause);
	}
	aim_conf_release(&c);
	free(s);
	return 0;
}
