/*
 * sigv4.h - AWS Signature Version 4, S3 flavour, for requests signed in the
 * Authorization header with a single-chunk (or unsigned) payload.
 *
 * This module owns the canonical forms S3 checks a signature against: the
 * URI-encoded path (each byte but '/' encoded once, never normalised, as S3
 * wants it), the sorted query string, the lower-cased sorted header list,
 * the credential scope and the HMAC-SHA256 key chain. It builds strings and
 * nothing else: no clock, no I/O, no logging, so it can be tested against
 * AWS's published examples byte for byte.
 *
 * The secret key only ever lives in the caller's struct and in the derived
 * keys on this module's stack, which are wiped before returning. No output
 * string contains it; canonical_request and string_to_sign may be logged at
 * debug level, the authorization and token lines may not.
 *
 * Reference: "Signature Calculations for the Authorization Header:
 * Transferring Payload in a Single Chunk" in the Amazon S3 API Reference.
 */
#ifndef AIM_SIGV4_H
#define AIM_SIGV4_H

#include <stddef.h>
#include <time.h>

/* all strings borrowed for the duration of aim_sigv4_sign() */
struct aim_sigv4_creds {
	const char *access_key;
	const char *secret_key;
	const char *session_token; /* NULL unless temporary credentials */
};

/* a query parameter, raw (not encoded); value "" (or NULL) for "?name" */
struct aim_sigv4_param {
	const char *name;
	const char *value;
};

/*
 * An extra header to sign and send as given, e.g. range or if-match. The
 * name is matched case-insensitively; it may not be host, authorization or
 * one of the x-amz-* headers this module makes, nor appear twice.
 */
struct aim_sigv4_header {
	const char *name;
	const char *value;
};

struct aim_sigv4_req {
	const char *method; /* "GET", "HEAD" */
	/* Host header value as sent: "b.s3.amazonaws.com", "127.0.0.1:9000" */
	const char *host;
	/* raw path, NOT encoded, starting with '/': "/bucket/dir/key with +" */
	const char *path;
	const struct aim_sigv4_param *params;
	size_t nparams;
	const struct aim_sigv4_header *headers;
	size_t nheaders;
	const char *region;  /* "us-east-1" */
	const char *service; /* "s3" */
	/* lower-case hex SHA-256 of the body, or "UNSIGNED-PAYLOAD";
	 * NULL: SHA-256 of the empty string */
	const char *payload_hash;
	time_t now; /* signing time, seconds since the epoch */
};

/*
 * Everything the caller needs to send the request. All strings are
 * allocated and released with aim_sigv4_out_release(). The *_line fields are
 * whole "Name: value" lines ready for struct aim_http_req's header list.
 */
struct aim_sigv4_out {
	/* the encoded path for the URL (the canonical URI) */
	char *path;
	/* the canonical query string, also the one to send ("" if none): the
	 * URL is the path, then '?' and the query when it is not empty */
	char *query;
	/* "Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
	 * Signature=..." */
	char *authorization;
	char *amz_date;	   /* "x-amz-date: 20130524T000000Z" */
	char *content_sha; /* "x-amz-content-sha256: ..." */
	char *token;	   /* "x-amz-security-token: ..." or NULL */
	/* for tests and debug logs; never hold the secret */
	char *canonical_request;
	char *string_to_sign;
	char signature[65]; /* lower-case hex */
};

/*
 * Sign req with creds into out, which needs no initialisation and is fully
 * set on success. Returns 0, -EINVAL for a request that cannot be signed
 * safely (path not starting with '/', control characters in a header value,
 * a header given twice or clashing with one made here, a bad payload hash,
 * a time outside years 0-9999, '/', ',', ';', '=' or spaces in region,
 * service or access key, an empty secret, an empty parameter name) or
 * -ENOMEM; on error out holds nothing to
 * release (releasing it again is harmless).
 */
int aim_sigv4_sign(const struct aim_sigv4_req *req,
		   const struct aim_sigv4_creds *creds,
		   struct aim_sigv4_out *out);

/* free out's strings and zero it; safe on a zeroed or released out */
void aim_sigv4_out_release(struct aim_sigv4_out *out);

/*
 * S3 URI encoding: every byte except A-Za-z0-9 - _ . ~ becomes %XX (upper-case
 * hex), '/' is kept when keep_slash. Returns an allocated string the caller
 * frees, or NULL when out of memory.
 */
char *aim_sigv4_encode(const char *s, int keep_slash);

#endif
