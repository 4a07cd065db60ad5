/*
 * version.c - the versions of the libraries aimfs runs with, for
 * `aimfsd --version` and `aimfs-ctl --version` (runtime versions where the
 * library can tell, else the version it was built against).
 */
#include "config.h"

#include <stdio.h>

#include <curl/curl.h>
#include <expat.h>
#include <jansson.h>
#include <lz4.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "util.h"

const char *aim_versions(void)
{
	static char buf[512];
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

	snprintf(buf, sizeof(buf),
		 "libcurl %s, SQLite %s, %s, lz4 %s, jansson %s, %s, inih",
		 cv ? cv->version : "?", sqlite3_libversion(),
		 OpenSSL_version(OPENSSL_VERSION), LZ4_versionString(),
		 jansson_version_str(), XML_ExpatVersion());
	return buf;
}
