/* test-util.c - sizes, booleans, hex, path checks, URL redaction */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "src/conf.h"
#include "src/util.h"

static void sizes(void)
{
	uint64_t v;

	CHECK(aim_parse_size("4096", &v) == 0 && v == 4096);
	CHECK(aim_parse_size("4K", &v) == 0 && v == 4096);
	CHECK(aim_parse_size("4M", &v) == 0 && v == 4u << 20);
	CHECK(aim_parse_size("1.5G", &v) == 0 && v == 3ULL << 29);
	CHECK(aim_parse_size("2T", &v) == 0 && v == 2ULL << 40);
	CHECK(aim_parse_size("8MiB", &v) == 0 && v == 8u << 20);
	CHECK(aim_parse_size("", &v) == -EINVAL);
	CHECK(aim_parse_size("-1", &v) == -EINVAL);
	CHECK(aim_parse_size("4X", &v) == -EINVAL);
	CHECK(aim_parse_size("1e30", &v) == -EINVAL);
	CHECK(aim_parse_size("99999999999T", &v) == -EINVAL);
}

static void bools(void)
{
	CHECK(aim_parse_bool("yes") == 1 && aim_parse_bool("ON") == 1);
	CHECK(aim_parse_bool("0") == 0 && aim_parse_bool("false") == 0);
	CHECK(aim_parse_bool("maybe") == -EINVAL);
}

static void paths(void)
{
	const char *why;
	char longname[NAME_MAX + 2];

	CHECK(aim_path_check("config.json", &why) == 0);
	CHECK(aim_path_check("onnx/sub/model.onnx", &why) == 0);
	CHECK(aim_path_check("..", &why) < 0);
	CHECK(aim_path_check("a/../b", &why) < 0);
	CHECK(aim_path_check("/etc/passwd", &why) < 0);
	CHECK(aim_path_check("a//b", &why) < 0);
	CHECK(aim_path_check("a/", &why) < 0);
	CHECK(aim_path_check("./a", &why) < 0);
	CHECK(aim_path_check("a\nb", &why) < 0);
	CHECK(aim_path_check("a\\b", &why) < 0);
	CHECK(aim_path_check("", &why) < 0);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(aim_path_check(longname, &why) < 0);
	longname[NAME_MAX] = '\0';
	CHECK(aim_path_check(longname, &why) == 0);
}

static void redact(void)
{
	char buf[256];

	CHECK(strcmp(aim_url_redact("https://cdn.example/x/y?X-Amz-Signature=s"
				    "ecret&a=b",
				    buf, sizeof(buf)),
		     "https://cdn.example/x/y") == 0);
	CHECK(strcmp(aim_url_redact("http://user:pw@h:80/p#frag", buf,
				    sizeof(buf)),
		     "http://h:80/p") == 0);
	CHECK(strstr(aim_url_redact("https://h/p?token=abc", buf, sizeof(buf)),
		     "abc") == NULL);
}

static void hex_sha(void)
{
	unsigned char md[32];
	char hex[65];

	aim_sha256("abc", 3, md);
	aim_hex(md, 32, hex);
	CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
			  "b410ff61f20015ad") == 0);
	CHECK(aim_is_hex(hex, 64));
	CHECK(!aim_is_hex(hex, 63));
	CHECK(!aim_is_hex("zz", 2));
}

static void conf_options(void)
{
	struct aim_conf c;
	char *cause = NULL;

	aim_conf_init(&c);
	CHECK(aim_conf_set(&c, "block_size", "1M", &cause) == 0);
	CHECK(c.block_size == 1u << 20);
	CHECK(aim_conf_set(&c, "block_size", "3M", &cause) < 0 && cause);
	free(cause);
	CHECK(aim_conf_set(&c, "cache_size", "50%", &cause) == 0);
	CHECK(aim_conf_set(&c, "cache_size", "150%", &cause) < 0);
	free(cause);
	CHECK(aim_conf_set(&c, "store", "relative/dir", &cause) < 0);
	free(cause);
	CHECK(aim_conf_set(&c, "nosuch", "1", &cause) < 0 &&
	      strstr(cause, "unknown option"));
	free(cause);
	CHECK(aim_conf_set(&c, "model", "hf://a/b", &cause) == 0);
	CHECK(aim_conf_set(&c, "model", "hf://a/c", &cause) == 0);
	CHECK(c.nmodels == 2);
	CHECK(aim_conf_set(&c, "hf_endpoint", "http://127.0.0.1:1/", &cause) == 0);
	CHECK(strcmp(c.hf_endpoint, "http://127.0.0.1:1") == 0);
	CHECK(aim_conf_set(&c, "offline", NULL, &cause) == 0 && c.offline == 1);
	CHECK(aim_conf_finish(&c, &cause) == 0 && c.auto_add == 0);
	aim_conf_release(&c);
}

static void conf_file(void)
{
	const char *dir = unit_tmpdir();
	char path[512];
	struct aim_conf c;
	char *cause = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/aimfs.conf", dir);
	f = fopen(path, "w");
	fputs("; comment\nstore = /tmp/x\n[aimfsd]\nmodel = hf://a/b\n"
	      "[other]\nwhatever = 1\n",
	      f);
	fclose(f);
	aim_conf_init(&c);
	CHECK(aim_conf_load(&c, path, 1, &cause) == 0);
	CHECK(c.store && strcmp(c.store, "/tmp/x") == 0 && c.nmodels == 1);
	aim_conf_release(&c);
	f = fopen(path, "w");
	fputs("block_size = banana\n", f);
	fclose(f);
	aim_conf_init(&c);
	CHECK(aim_conf_load(&c, path, 1, &cause) < 0 && cause &&
	      strstr(cause, "block_size"));
	free(cause);
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	CHECK(aim_conf_load(&c, path, 0, &cause) == 0);
	CHECK(aim_conf_load(&c, path, 1, &cause) < 0);
	free(cause);
	aim_conf_release(&c);
}

const struct unit_test util_tests[] = {
	{ "util: sizes", sizes },
	{ "util: booleans", bools },
	{ "util: path checks", paths },
	{ "util: URL redaction", redact },
	{ "util: hex and sha256", hex_sha },
	{ "conf: options", conf_options },
	{ "conf: file", conf_file },
	{ NULL, NULL },
};
