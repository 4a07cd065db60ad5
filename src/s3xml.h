/*
 * s3xml.h - the two XML answers of S3 the S3 source reads: one page of
 * ListObjectsV2 (ListBucketResult) and an error body (<Error>).
 *
 * This module owns turning untrusted XML into checked values. The document
 * comes from the network, so the parser (expat) refuses any DOCTYPE before
 * an entity can be declared, caps the text of every element at 4096 bytes,
 * keys at 1024 bytes (S3's own limit) and a page at 100000 objects, and
 * accepts only sizes S3 can have. What it returns is still a key from a
 * server: callers check it as a path (aim_path_check) before using it so.
 *
 * Keys: S3 XML-escapes them (&amp; &lt; ...) and expat unescapes. When a page
 * says <EncodingType>url</EncodingType> (the request had encoding-type=url)
 * Key and CommonPrefixes/Prefix are percent-decoded too, '+' meaning a space
 * as botocore reads them; NextContinuationToken is never encoded and is
 * returned as is. A decoded key holding a NUL byte is refused.
 */
#ifndef AIM_S3XML_H
#define AIM_S3XML_H

#include <stddef.h>
#include <stdint.h>

struct aim_s3_object {
	char *key;    /* 1 to 1024 bytes, unescaped (and url-decoded) */
	uint64_t size; /* < 2^50 */
	char *etag;   /* without the quotes; NULL when absent */
};

struct aim_s3_list {
	struct aim_s3_object *objs; /* in document order */
	size_t n;
	char **prefixes; /* CommonPrefixes/Prefix (listing with a delimiter) */
	size_t nprefixes;
	int truncated;	  /* IsTruncated was "true" */
	char *next_token; /* NextContinuationToken or NULL; set if truncated */
};

/*
 * Parse one ListObjectsV2 page of len bytes into out (no initialisation
 * needed; release with aim_s3_list_release() after success). Returns 0,
 * -EPROTO with an allocated one-line *cause (the caller frees it) on
 * malformed or hostile input, or -ENOMEM. On error out holds nothing.
 *
 * Refused: no ListBucketResult root, a DOCTYPE, an element text over 4096
 * bytes, a Contents without Key or Size, an empty key or one over 1024
 * bytes, a Size that is not a decimal integer below 2^50, more than 100000
 * objects or common prefixes, an IsTruncated other than true/false, a
 * truncated page without NextContinuationToken, a Key, Size, ETag or token
 * given twice, an EncodingType other than url. Unknown elements are ignored.
 */
int aim_s3_parse_list(const char *xml, size_t len, struct aim_s3_list *out,
		      char **cause);

/* free l's contents and zero it; safe on a zeroed or released list */
void aim_s3_list_release(struct aim_s3_list *l);

/*
 * Parse an S3 error body <Error><Code>..</Code><Message>..</Message>
 * [<Region>..</Region>]</Error> (Region: where the bucket is, sent with
 * AuthorizationHeaderMalformed). *code, *message and *region (region may
 * be NULL: not wanted) are allocated (the caller frees them) or NULL when
 * the element is absent. Returns 0, -EPROTO (not an Error document,
 * malformed, DOCTYPE, text over 4096 bytes; all set to NULL) or -ENOMEM.
 */
int aim_s3_parse_error(const char *xml, size_t len, char **code,
		       char **message, char **region);

#endif
